"""Background jobs: long operations (ingest, analysis) with status, progress and results.

Jobs run one at a time on one worker thread (they all write to the graph, and running them
side by side would only make them contend for it). Each job's record is a JSON file under
``<data_dir>/api/jobs/`` so any API worker can report on it and it survives a restart; a
job found ``queued`` or ``running`` when the service starts is marked ``interrupted``.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from quanzi.errors import NotFoundError, QuanziError

__all__ = ["Job", "JobContext", "JobManager", "JobWork"]

log = logging.getLogger("quanzi.api.jobs")

_PROGRESS_EVERY_S = 0.5


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Job:
    """A job's record (see :class:`quanzi.api.schemas.JobPublic` for the fields)."""

    id: str
    kind: str
    owner: str
    created_at: str
    status: str = "queued"
    step: str | None = None
    done: int | None = None
    total: int | None = None
    started_at: str | None = None
    finished_at: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)
    rejects: int = 0
    error: str | None = None
    pid: int | None = None


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class JobContext:
    """What a running job's work function gets: a progress callback and a folder."""

    def __init__(self, manager: JobManager, job: Job) -> None:
        self._manager = manager
        self.job = job
        self.folder = manager.folder / job.id
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._last_saved = 0.0

    def progress(self, step: str, done: int, total: int | None) -> None:
        """Report progress (saved at most twice a second)."""
        self.job.step, self.job.done, self.job.total = step, done, total
        now = time.monotonic()
        if now - self._last_saved >= _PROGRESS_EVERY_S:
            self._last_saved = now
            self._manager.save(self.job)

    @property
    def rejects_path(self) -> Path:
        """Where the job writes its rejects report (CSV)."""
        return self.folder / "rejects.csv"


#: A job's work: gets its context, returns ``(result, rejected row count)``.
JobWork = Callable[[JobContext], tuple[dict[str, Any], int]]


class JobManager:
    """Runs jobs on one background thread and keeps their records.

    Parameters
    ----------
    folder : Path
        Where job records (``<id>.json``) and job files (``<id>/``) live.
    on_finish : callable, optional
        Called with the job after each job ends (e.g. to invalidate caches).
    """

    def __init__(self, folder: Path, *, on_finish: Callable[[Job], None] | None = None) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="quanzi-job")
        self._lock = threading.Lock()
        self._on_finish = on_finish
        for path in folder.glob("job_*.json"):
            job = self._read(path)
            # Another worker process on this machine may be running it: only a job whose
            # process is gone was interrupted.
            if job is not None and job.status in ("queued", "running") and not _alive(job.pid):
                job.status, job.finished_at = "interrupted", _now()
                job.error = "the service stopped while the job was running; start it again"
                self.save(job)

    def _read(self, path: Path) -> Job | None:
        try:
            return Job(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            log.warning("unreadable job record %s", path.name)
            return None

    def save(self, job: Job) -> None:
        """Write a job's record atomically."""
        with self._lock:
            tmp = self.folder / f".{job.id}.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(asdict(job), f, ensure_ascii=False, default=str)
            os.replace(tmp, self.folder / f"{job.id}.json")

    def submit(self, kind: str, work: JobWork, *, owner: str, params: dict[str, Any]) -> Job:
        """Queue ``work`` as a new job; return its record."""
        job = Job(
            f"job_{secrets.token_hex(6)}", kind, owner, _now(), params=params, pid=os.getpid()
        )
        self.save(job)
        self._executor.submit(self._run, job, work)
        return job

    def _run(self, job: Job, work: JobWork) -> None:
        job.status, job.started_at = "running", _now()
        self.save(job)
        context = JobContext(self, job)
        try:
            job.result, job.rejects = work(context)
            job.status = "succeeded"
        except QuanziError as e:
            job.status, job.error = "failed", str(e)
        except Exception as e:
            log.exception("job %s failed", job.id)
            job.status, job.error = "failed", f"unexpected {type(e).__name__}; see the server log"
        job.finished_at = _now()
        self.save(job)
        if self._on_finish is not None:
            self._on_finish(job)

    def get(self, job_id: str) -> Job:
        """One job's record."""
        path = self.folder / f"{job_id}.json"
        job = self._read(path) if path.name == f"{job_id}.json" and path.is_file() else None
        if job is None:
            raise NotFoundError(f"No job with id {job_id!r}; list jobs with GET /jobs")
        return job

    def list(self, *, limit: int = 50, kind: str | None = None) -> list[Job]:
        """The newest jobs first."""
        jobs = [j for p in self.folder.glob("job_*.json") if (j := self._read(p)) is not None]
        if kind is not None:
            jobs = [j for j in jobs if j.kind == kind]
        jobs.sort(key=lambda j: (j.created_at, j.id), reverse=True)
        return jobs[:limit]

    def rejects_file(self, job_id: str) -> Path:
        """The job's rejects report; :class:`NotFoundError` when it has none."""
        job = self.get(job_id)
        path = self.folder / job.id / "rejects.csv"
        if not path.is_file():
            raise NotFoundError(f"Job {job_id} has no rejects report (status {job.status})")
        return path

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop taking jobs; with ``wait``, let the running one finish."""
        self._executor.shutdown(wait=wait, cancel_futures=True)
