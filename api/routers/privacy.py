"""``/privacy``: erase a person; ``/audit``: who read or changed what."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request

from quanzi.api.deps import AdminDep, AuditDep, GraphCacheDep, StoreDep
from quanzi.api.errors import PROBLEM_RESPONSES
from quanzi.api.observability import note
from quanzi.api.schemas import AuditEntryPublic, AuditPage, ErasureReport, ErasureRequest, iso
from quanzi.api.services.privacy import erase_person

router = APIRouter(tags=["privacy"], responses=PROBLEM_RESPONSES)


@router.post("/privacy/erasures", response_model=ErasureReport)
def erase(
    request: Request, body: ErasureRequest, store: StoreDep, cache: GraphCacheDep, _: AdminDep
) -> ErasureReport:
    """Erase a person: every identity, event and derived record across channels, in one
    transaction; then check that nothing of them is left and say what was erased.

    The audit trail keeps the (pseudonymous) customer id, the reason and the counts.
    """
    report = erase_person(store, cache, body.customer_id)
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
