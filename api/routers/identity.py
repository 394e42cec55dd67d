"""``/identity``: ingest contact records and events; explain, merge and split customers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, Request, UploadFile, status

from quanzi.api.deps import AdminDep, GraphCacheDep, JobsDep, SalesDep, SettingsDep, StoreDep
from quanzi.api.errors import CONFLICT_RESPONSE, PROBLEM_RESPONSES
from quanzi.api.observability import note
from quanzi.api.routers.jobs import job_public
from quanzi.api.schemas import (
    ContactsIngest,
    EventsIngest,
    IngestReportPublic,
    JobPublic,
    LinkExplanationPublic,
    MergeRequest,
    MergeResult,
    SplitRequest,
    SplitResult,
)
from quanzi.api.services import identity as service

router = APIRouter(prefix="/identity", tags=["identity"], responses=PROBLEM_RESPONSES)


@router.post("/contacts", response_model=IngestReportPublic)
def ingest_contacts(
    request: Request,
    body: ContactsIngest,
    store: StoreDep,
    settings: SettingsDep,
    cache: GraphCacheDep,
    _: SalesDep,
) -> IngestReportPublic:
    """Resolve contact records into customers and load them now.

    Records are normalised, linked to existing customers where they match (the evidence is
    kept on each link) and loaded; rows that cannot be read are listed in `rejects` with the
    field and the reason. Sending the same records again changes nothing.
    """
    report = service.ingest_contact_records(store, settings, cache, body.records)
    note(request.state, "ingest_contacts", counts=report.counts)
    return report


@router.post("/events", response_model=JobPublic, status_code=status.HTTP_202_ACCEPTED)
def ingest_events(
    body: EventsIngest, store: StoreDep, settings: SettingsDep, jobs: JobsDep, principal: AdminDep
) -> JobPublic:
    """Load events (interactions, group joins, orders, referrals, ...) as a background job.

    Events name people by contact record (`"<source>:<source_record_id>"`), so load the
    contacts first. Follow the job at `/jobs/{id}`.
    """
    events = [e.model_dump() for e in body.events]
    job = service.start_events_job(jobs, store, settings, events, owner=principal.key_id)
    return job_public(job)


@router.post("/uploads", response_model=JobPublic, status_code=status.HTTP_202_ACCEPTED)
def upload_files(
    files: Annotated[
        list[UploadFile],
        File(
            description="Contacts, events, employees, groups or campaigns files "
            "(.csv, .tsv, .jsonl, .parquet)."
        ),
    ],
    store: StoreDep,
    settings: SettingsDep,
    jobs: JobsDep,
    principal: AdminDep,
) -> JobPublic:
    """Upload input files and ingest them as a background job.

    Each file is checked (type and columns) before the job is queued; a file Quanzi cannot
    read is a 422 and nothing is loaded. The job reports progress and, at the end, counts
    and a rejects report (`/jobs/{id}/rejects`). Uploaded files are deleted when the job ends.
    """
    job = service.start_upload_job(
        jobs,
        store,
        settings,
        ((f.filename or "upload", f.file) for f in files),
        owner=principal.key_id,
    )
    return job_public(job)


_Identity = Annotated[
    str,
    Query(
        min_length=3,
        max_length=300,
        description="An identity: `<source>:<source_record_id>`, `phone:+86...`, `email:...`, "
        "`wechat_unionid:...`.",
        examples=["wechat:WX00000116"],
    ),
]


@router.get("/explain", response_model=LinkExplanationPublic)
def explain_link(
    store: StoreDep, principal: SalesDep, a: _Identity, b: _Identity
) -> LinkExplanationPublic:
    """Why two identities belong to one customer: the chain of links between them, each with
    the rule or match probability and the fields that agreed."""
    return service.explain(store, principal, a, b)


@router.post("/merge", response_model=MergeResult, responses=CONFLICT_RESPONSE)
def merge_customers(
    request: Request,
    body: MergeRequest,
    store: StoreDep,
    settings: SettingsDep,
    cache: GraphCacheDep,
    _: AdminDep,
) -> MergeResult:
    """Merge two customers. The one seen first survives; the other's id answers 307 with the
    survivor from then on. The evidence is kept so it can be explained (and split again)."""
    result = service.merge(
        store,
        cache,
        settings.data_dir,
        body.customer_ids[0],
        body.customer_ids[1],
        reason=body.reason,
    )
    note(
        request.state,
        "merge",
        customer_ids=body.customer_ids,
        survivor_id=result.survivor_id,
        reason=body.reason,
    )
    return result


@router.post("/split", response_model=SplitResult, responses=CONFLICT_RESPONSE)
def split_identity(
    request: Request,
    body: SplitRequest,
    store: StoreDep,
    settings: SettingsDep,
    cache: GraphCacheDep,
    _: AdminDep,
) -> SplitResult:
    """Split one source record (with its phone, e-mail ... keys) off into a customer of its
    own; later loads do not join the two again."""
    result = service.split(store, cache, settings.data_dir, body.identity)
    note(
        request.state,
        "split",
        customer_ids=[result.customer_id, result.new_customer_id],
        reason=body.reason,
    )
    return result
