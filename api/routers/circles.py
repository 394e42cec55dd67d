"""``/circles``: detected communities with statistics, leaders and members; renaming."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from quanzi.api.deps import SalesDep, SettingsDep, StoreDep, ViewerDep
from quanzi.api.errors import PROBLEM_RESPONSES
from quanzi.api.observability import note
from quanzi.api.schemas import (
    CirclePage,
    CirclePublic,
    CircleUpdate,
    CircleWithMembers,
    CustomerPage,
    CustomerSort,
)
from quanzi.api.services import circles as service

router = APIRouter(prefix="/circles", tags=["circles"], responses=PROBLEM_RESPONSES)

CircleId = Annotated[str, Path(min_length=1, max_length=200, description="Circle id.")]


@router.get("", response_model=CirclePage)
def list_circles(
    store: StoreDep,
    _: ViewerDep,
    level: Annotated[
        int | None, Query(ge=0, le=10, description="Hierarchy level (0 = top).")
    ] = None,
    kind: Annotated[str | None, Query(max_length=50, examples=["colleague"])] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
    live: Annotated[
        bool,
        Query(
            description="Count members, churn risk and tiers over the members now (about 2 ms "
            "per circle at 100k customers); false: the figures the last analysis recorded, for "
            "long lists."
        ),
    ] = True,
) -> CirclePage:
    """Circles, largest first, with member count, mean churn risk and tier mix."""
    return service.list_circles(
        store, level=level, kind=kind, limit=limit, cursor=cursor, live=live
    )


@router.get("/{circle_id}", response_model=CircleWithMembers)
def get_circle(
    store: StoreDep,
    settings: SettingsDep,
    principal: ViewerDep,
    circle_id: CircleId,
    members_limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> CircleWithMembers:
    """One circle: statistics, leaders and the first page of members."""
    return service.get_circle(store, settings, principal, circle_id, members_limit=members_limit)


@router.patch("/{circle_id}", response_model=CirclePublic)
def update_circle(
    request: Request, body: CircleUpdate, store: StoreDep, principal: SalesDep, circle_id: CircleId
) -> CirclePublic:
    """Rename and/or annotate a circle. Names and notes survive later analysis runs."""
    note(request.state, "circle_updated", fields=sorted(body.model_dump(exclude_none=True)))
    return service.update_circle(store, circle_id, body, actor=principal.actor)


@router.get("/{circle_id}/members", response_model=CustomerPage)
def circle_members(
    store: StoreDep,
    settings: SettingsDep,
    principal: ViewerDep,
    circle_id: CircleId,
    sort: CustomerSort = CustomerSort.INFLUENCE_DESC,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> CustomerPage:
    """The circle's members, one page at a time (`total` on the first page)."""
    return service.circle_members(
        store, settings, principal, circle_id, sort=sort.value, limit=limit, cursor=cursor
    )
