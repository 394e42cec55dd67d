"""``/jobs``: status, progress, results and rejects reports of background jobs."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from fastapi.responses import FileResponse

from quanzi.api.deps import AdminDep, JobsDep, SettingsDep, StoreDep, ViewerDep
from quanzi.api.errors import PROBLEM_RESPONSES
from quanzi.api.schemas import JobPublic
from quanzi.api.services.access import Principal
from quanzi.api.services.analysis_jobs import start_analysis_job
from quanzi.api.services.jobs import Job, JobManager
from quanzi.errors import NotFoundError

router = APIRouter(prefix="/jobs", tags=["jobs"], responses=PROBLEM_RESPONSES)

JobId = Annotated[str, Path(pattern=r"^job_[0-9a-f]{12}$", examples=["job_5f2c1a9e7b3d"])]


def job_public(job: Job) -> JobPublic:
    """A job record as the API returns it."""
    url = f"/jobs/{job.id}/rejects" if job.rejects else None
    return JobPublic(**asdict(job), rejects_url=url)


def _visible(jobs: JobManager, job_id: str, principal: Principal) -> Job:
    job = jobs.get(job_id)
    if principal.role != "admin" and job.owner != principal.key_id:
        raise NotFoundError(f"No job with id {job_id!r} started with your key")
    return job


@router.get("", response_model=list[JobPublic])
def list_jobs(
    jobs: JobsDep,
    principal: ViewerDep,
    kind: Annotated[str | None, Query(max_length=50)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[JobPublic]:
    """The newest jobs first: all of them for admins, your own for other keys."""
    found = jobs.list(limit=10_000 if principal.role != "admin" else limit, kind=kind)
    if principal.role != "admin":
        found = [j for j in found if j.owner == principal.key_id][:limit]
    return [job_public(j) for j in found]


@router.get("/{job_id}", response_model=JobPublic)
def get_job(jobs: JobsDep, principal: ViewerDep, job_id: JobId) -> JobPublic:
    """One job: status, progress (`step`, `done` of `total`), result or error."""
    return job_public(_visible(jobs, job_id, principal))


@router.get(
    "/{job_id}/rejects",
    response_class=FileResponse,
    responses={200: {"content": {"text/csv": {"example": "file,row,field,reason\n"}}}},
)
def job_rejects(jobs: JobsDep, principal: ViewerDep, job_id: JobId) -> FileResponse:
    """The rows a job rejected, as CSV: file, row, field, reason."""
    _visible(jobs, job_id, principal)
    path = jobs.rejects_file(job_id)
    return FileResponse(path, media_type="text/csv", filename=f"{job_id}-rejects.csv")


@router.post(
    "/analysis",
    response_model=JobPublic,
    status_code=status.HTTP_202_ACCEPTED,
    responses={503: {"description": "The analysis is not installed."}},
)
def start_analysis(
    jobs: JobsDep, store: StoreDep, settings: SettingsDep, principal: AdminDep
) -> JobPublic:
    """Run the analysis (circles, influence, churn, tiers) in the background."""
    return job_public(start_analysis_job(jobs, store, settings, owner=principal.key_id))
