"""``/churn``: customers at risk (with reasons) and employee-deletion alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from quanzi.api.deps import ReportsDep, SettingsDep, StoreDep, ViewerDep
from quanzi.api.errors import PROBLEM_RESPONSES
from quanzi.api.schemas import (
    AtRiskPage,
    ChurnAlertPage,
    ChurnDistribution,
    SegmentFilter,
    iso,
)
from quanzi.api.services import insights as service

router = APIRouter(prefix="/churn", tags=["churn"], responses=PROBLEM_RESPONSES)

_Id = Annotated[str | None, Query(min_length=1, max_length=200)]


@router.get("/at-risk", response_model=AtRiskPage)
def at_risk(
    store: StoreDep,
    settings: SettingsDep,
    principal: ViewerDep,
    min_risk: Annotated[float, Query(ge=0.0, le=1.0)] = 0.5,
    employee: _Id = None,
    circle: _Id = None,
    tier: Annotated[str | None, Query(max_length=50)] = None,
    mine: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> AtRiskPage:
    """Customers whose churn risk is at least `min_risk`, riskiest first, with the reasons
    the churn model gave. `mine=true` keeps the customers of your key's employee."""
    filters = SegmentFilter(employee=employee, circle=circle, tier=tier, mine=mine)
    return service.at_risk(
        store, settings, principal, filters, min_risk=min_risk, limit=limit, cursor=cursor
    )


@router.get("/distribution", response_model=ChurnDistribution)
def distribution(store: StoreDep, reports: ReportsDep, principal: ViewerDep) -> ChurnDistribution:
    """How many customers have a churn risk in each tenth of the scale (0-0.1, ..., 0.9-1):
    one pass over the customers, for charts (a count per range would read them all once per
    range); kept until the data changes."""
    return reports.get(store, ("churn_distribution",), lambda: service.churn_distribution(store))


@router.get("/alerts", response_model=ChurnAlertPage)
def alerts(
    store: StoreDep,
    settings: SettingsDep,
    principal: ViewerDep,
    since: Annotated[datetime, Query(description="Deletions at or after this time.")],
    employee: _Id = None,
    mine: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> ChurnAlertPage:
    """Customers who deleted an employee (a strong churn signal), newest first."""
    return service.churn_alerts(
        store,
        settings,
        principal,
        since=iso(since),
        employee=employee,
        mine=mine,
        limit=limit,
        cursor=cursor,
    )
