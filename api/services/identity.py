"""Identity: ingest contact records and events (now, or as a background job).

Contact records in a request body are resolved and loaded while the caller waits (they are
few); uploaded files and event batches run as jobs whose progress and rejects report are
read through ``/jobs``. The work itself is :mod:`quanzi.ingest`'s.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from quanzi.api.schemas import (
    ContactRecord,
    IngestReportPublic,
    LinkExplanationPublic,
    LinkStepPublic,
    MergeResult,
    RejectPublic,
    SplitResult,
)
from quanzi.api.services.access import Principal, Visibility, mask_identity_id
from quanzi.api.services.graph_cache import GraphCache
from quanzi.api.services.jobs import Job, JobContext, JobManager, JobWork
from quanzi.errors import InputError, QuanziError
from quanzi.graph.store import GraphStore
from quanzi.ingest import IngestReport, ingest_contacts, ingest_files
from quanzi.ingest.lock import writer_lock
from quanzi.ingest.manual import explain_link, merge_customers, split_identity
from quanzi.ingest.readers import open_table
from quanzi.settings import Settings

__all__ = [
    "MAX_REJECTS_SHOWN",
    "UPLOAD_SUFFIXES",
    "explain",
    "ingest_contact_records",
    "merge",
    "report_public",
    "split",
    "start_events_job",
    "start_upload_job",
]

#: Rejected rows listed in a response; the full list is in the job's rejects report.
MAX_REJECTS_SHOWN = 1000

#: File types an upload may have.
UPLOAD_SUFFIXES = (".csv", ".tsv", ".jsonl", ".parquet")

#: What an uploaded file's name keeps: letters and digits of any script (``客户.csv``), ``.``,
#: ``_`` and ``-``; anything else becomes ``_``.
_SAFE_NAME = re.compile(r"[^\w.-]+")


def report_public(report: IngestReport, *, hide: str | None = None) -> IngestReportPublic:
    """An ingest report as the API returns it (``hide``: a server folder to strip from text)."""

    def clean(text: str) -> str:
        return text.replace(f"{hide}/", "") if hide else text

    def rejects(items: Sequence[Any]) -> list[RejectPublic]:
        return [
            RejectPublic(file=clean(r.file), row=r.row, field=r.field, reason=clean(r.reason))
            for r in items[:MAX_REJECTS_SHOWN]
        ]

    return IngestReportPublic(
        ok=report.ok,
        counts=dict(report.counts),
        rejects=rejects(report.rejects),
        rejects_total=len(report.rejects),
        dropped_fields=rejects(report.dropped_fields),
        timings={k: round(v, 3) for k, v in report.timings.items()},
        skipped_files=[clean(f) for f in report.skipped_files],
    )


def ingest_contact_records(
    store: GraphStore, settings: Settings, cache: GraphCache, records: Sequence[ContactRecord]
) -> IngestReportPublic:
    """Resolve and load contact records now; rows are numbered from 1 in the report."""
    rows = [r.model_dump(exclude_none=True) for r in records]
    report = ingest_contacts(store, rows, settings, origin="<api>")
    cache.invalidate()
    return report_public(report)


def _ingest_job(store: GraphStore, settings: Settings, staged: Path) -> JobWork:
    def work(context: JobContext) -> tuple[dict[str, Any], int]:
        try:
            report = ingest_files(store, [staged], settings, progress=context.progress)
        except QuanziError as e:
            # The job's error is shown to API callers: name the file, not the server's folder.
            e.args = tuple(str(a).replace(f"{staged}/", "") for a in e.args)
            raise
        finally:
            # Uploaded files hold personal data: keep them no longer than the job.
            shutil.rmtree(staged, ignore_errors=True)
        public = report_public(report, hide=str(staged))
        if report.rejects:
            report.write_rejects(context.rejects_path)
            text = context.rejects_path.read_text(encoding="utf-8").replace(f"{staged}/", "")
            context.rejects_path.write_text(text, encoding="utf-8")
        result = public.model_dump(exclude={"rejects", "dropped_fields"})
        return result, len(report.rejects)

    return work


def _stage(jobs: JobManager) -> Path:
    staged = jobs.folder / "uploads" / secrets.token_hex(8)
    staged.mkdir(parents=True, mode=0o700)
    return staged


def start_upload_job(
    jobs: JobManager,
    store: GraphStore,
    settings: Settings,
    files: Iterable[tuple[str, BinaryIO]],
    *,
    owner: str,
) -> Job:
    """Save uploaded files, check that each is a file Quanzi reads, and queue their ingest.

    Raises :class:`InputError` (nothing queued, nothing kept) for a file of an unknown type
    or with columns that match no kind of input.
    """
    staged = _stage(jobs)
    names = []
    try:
        for filename, stream in files:
            name = _SAFE_NAME.sub("_", Path(filename or "upload").name).lstrip(".") or "upload"
            if not name.lower().endswith(UPLOAD_SUFFIXES):
                raise InputError(f"files: {filename!r} is not a {', '.join(UPLOAD_SUFFIXES)} file")
            if name in names:  # two names that clean up alike ("a b.csv", "a_b.csv")
                stem, suffix = Path(name).stem, Path(name).suffix
                name = next(
                    f"{stem}-{n}{suffix}"
                    for n in range(2, 10_000)
                    if f"{stem}-{n}{suffix}" not in names
                )
            target = staged / name
            with target.open("wb") as out:
                shutil.copyfileobj(stream, out, 1 << 20)
            names.append(name)
            try:
                open_table(target)
            except InputError as e:
                raise InputError(f"files: {str(e).replace(f'{staged}/', '')}") from None
        if not names:
            raise InputError("files: upload at least one file")
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    return jobs.submit(
        "ingest", _ingest_job(store, settings, staged), owner=owner, params={"files": names}
    )


def start_events_job(
    jobs: JobManager,
    store: GraphStore,
    settings: Settings,
    events: Sequence[dict[str, Any]],
    *,
    owner: str,
) -> Job:
    """Queue the load of events given in a request body (as one ``events.jsonl`` file).

    Loading the same batch twice changes nothing: event files are recognised by content.
    """
    staged = _stage(jobs)
    with (staged / "events.jsonl").open("w", encoding="utf-8") as f:
        for event in events:
            f.write(json.dumps(event, ensure_ascii=False) + "\n")
    return jobs.submit(
        "ingest",
        _ingest_job(store, settings, staged),
        owner=owner,
        params={"events": len(events)},
    )


def explain(store: GraphStore, principal: Principal, a: str, b: str) -> LinkExplanationPublic:
    """Why identities ``a`` and ``b`` are one customer: the chain of links with their rules.

    Channel keys in the answer (phones, e-mails) are masked unless the caller may see the
    customers in full.
    """
    explanation = explain_link(store, a, b)
    shown = Visibility(store, principal).unmasked(set(explanation.customers))

    def name(identity_id: str) -> str:
        return identity_id if shown >= set(explanation.customers) else mask_identity_id(identity_id)

    return LinkExplanationPublic(
        same_customer=explanation.same_customer,
        customers=list(explanation.customers),
        path=[
            LinkStepPublic(
                left=name(step.left),
                right=name(step.right),
                rule=step.rule,
                match_weight=step.match_weight,
                match_probability=step.match_probability,
                agreed=list(step.agreed),
            )
            for step in explanation.path
        ],
    )


#: Seconds a merge or split waits for a running ingest before answering 409.
MANUAL_WRITE_WAIT_S = 10.0


def merge(
    store: GraphStore,
    cache: GraphCache,
    data_dir: Path,
    a: str,
    b: str,
    *,
    reason: str,
    wait_s: float | None = MANUAL_WRITE_WAIT_S,
) -> MergeResult:
    """Merge two customers; the one seen first survives and the other's id redirects to it.

    Takes the data directory's writer lock (an ingest resolving against the graph meanwhile
    would decide on customers this merge changes); waits ``wait_s`` (default
    :data:`MANUAL_WRITE_WAIT_S`; ``None``: as long as it takes) for a running ingest or
    analysis, then raises :class:`~quanzi.errors.ConflictError`.
    """
    with writer_lock(data_dir, timeout=wait_s, what="the merge", doing="a merge"):
        survivor = merge_customers(store, a, b, reason=reason)
    cache.invalidate()
    return MergeResult(survivor_id=survivor, merged_id=b if survivor == a else a)


def split(
    store: GraphStore,
    cache: GraphCache,
    data_dir: Path,
    identity: str,
    *,
    wait_s: float | None = MANUAL_WRITE_WAIT_S,
) -> SplitResult:
    """Split a source record (and its channel keys) off into a customer of its own.

    Takes the writer lock like :func:`merge`.
    """
    with writer_lock(data_dir, timeout=wait_s, what="the split", doing="a split"):
        old = explain_link(store, identity, identity).customers[0]
        new = split_identity(store, identity)
    cache.invalidate()
    return SplitResult(identity=identity, customer_id=old, new_customer_id=new)
