"""``/funnel`` and ``/tiers``: counts and conversion rates over a period."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from quanzi.api.deps import ReportsDep, StoreDep, ViewerDep
from quanzi.api.errors import PROBLEM_RESPONSES
from quanzi.api.schemas import FunnelReport, TierReport, iso
from quanzi.api.services import insights as service
from quanzi.errors import InputError

router = APIRouter(tags=["lifecycle"], responses=PROBLEM_RESPONSES)

_Start = Annotated[
    datetime, Query(description="Start of the period (inclusive).", examples=["2024-01-01"])
]
_End = Annotated[
    datetime, Query(description="End of the period (exclusive).", examples=["2025-01-01"])
]


def _period(start: datetime, end: datetime) -> tuple[str, str]:
    a, b = iso(start), iso(end)
    if b <= a:
        raise InputError("end: must be after start")
    return a, b


@router.get("/funnel", response_model=FunnelReport)
def funnel(
    store: StoreDep, reports: ReportsDep, _: ViewerDep, start: _Start, end: _End
) -> FunnelReport:
    """Funnel stages reached in the period and the conversion rate between stages (kept
    until the data changes: see the deployment notes)."""
    a, b = _period(start, end)
    return reports.get(
        store, ("funnel", a, b), lambda: service.funnel_report(store, start=a, end=b)
    )


@router.get("/tiers", response_model=TierReport)
def tiers(
    store: StoreDep, reports: ReportsDep, _: ViewerDep, start: _Start, end: _End
) -> TierReport:
    """Customers per tier now, tier changes in the period and conversion between tiers (kept
    until the data changes)."""
    a, b = _period(start, end)
    return reports.get(store, ("tiers", a, b), lambda: service.tier_report(store, start=a, end=b))
