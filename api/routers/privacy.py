"""``/privacy``: erase a person, export what is held about one; ``/audit``: who read or
changed what."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from quanzi.api.deps import AdminDep, AuditDep, GraphCacheDep, SettingsDep, StoreDep
from quanzi.api.errors import PROBLEM_RESPONSES
from quanzi.api.observability import note
from quanzi.api.schemas import (
    AccessExport,
    AuditEntryPublic,
    AuditPage,
    ErasureReport,
    ErasureRequest,
    iso,
)
from quanzi.api.services.privacy import erase_person, export_person

router = APIRouter(tags=["privacy"], responses=PROBLEM_RESPONSES)


@router.post("/privacy/erasures", response_model=ErasureReport)
def erase(
    request: Request,
    body: ErasureRequest,
    store: StoreDep,
    settings: SettingsDep,
    cache: GraphCacheDep,
    _: AdminDep,
) -> ErasureReport:
    """Erase a person: every identity, event and derived record across channels, in one
    transaction; then check that nothing of them is left and say what was erased.

    The person's records and keys are remembered as keyed hashes: later ingests reject rows
    that carry them ("erased on <date>; subject requested erasure"). The audit trail keeps
    the (pseudonymous) customer id, the reason and the counts.
    """
    report = erase_person(store, settings, cache, body.customer_id)
    note(
        request.state,
        "erasure",
        customer_id=report.customer_id,
        customer_ids=report.customer_ids,
        reason=body.reason,
        erased=report.erased,
        verified=report.verified,
    )
    return report


@router.get("/privacy/access/{customer_id}", response_model=AccessExport)
def access_request(
    request: Request,
    store: StoreDep,
    audit: AuditDep,
    _: AdminDep,
    customer_id: Annotated[str, Path(min_length=1, max_length=200)],
) -> AccessExport:
    """Everything held about one person, as JSON (an access request): profile and scores
    with their reasons, source records and channel keys with link evidence, orders, every
    relation (employees, groups, tags, interests, circles, campaigns, interactions,
    referrals; other people by id only) and the audit entries naming them. A merged id
    exports the customer it was merged into.
    """
    export = export_person(store, audit, customer_id)
    note(request.state, "access_export", customer_id=export.customer_id)
    return export


@router.get("/audit", response_model=AuditPage)
def audit_trail(
    audit: AuditDep,
    _: AdminDep,
    key_id: Annotated[str | None, Query(max_length=100)] = None,
    customer_id: Annotated[str | None, Query(max_length=200)] = None,
    since: datetime | None = None,
    before: Annotated[
        str | None, Query(max_length=40, description="`next_before` of the previous page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPage:
    """Audited requests, newest first: who (key id, role), what (method, route, ids,
    redacted query), when and with what outcome."""
    entries = audit.search(
        key_id=key_id,
        customer_id=customer_id,
        since=iso(since) if since is not None else None,
        before=before,
        limit=limit,
    )
    items = [AuditEntryPublic(**asdict(e)) for e in entries]
    return AuditPage(items=items, next_before=items[-1].at if len(items) == limit else None)
