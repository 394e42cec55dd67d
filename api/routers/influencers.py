"""``/influencers``: the most influential customers overall or within a scope."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from quanzi.api.deps import SettingsDep, StoreDep, ViewerDep
from quanzi.api.errors import PROBLEM_RESPONSES
from quanzi.api.schemas import InfluencerList
from quanzi.api.services.insights import top_influencers

router = APIRouter(prefix="/influencers", tags=["influence"], responses=PROBLEM_RESPONSES)

_Id = Annotated[str | None, Query(min_length=1, max_length=200)]


@router.get("", response_model=InfluencerList)
async def influencers(
    store: StoreDep,
    settings: SettingsDep,
    principal: ViewerDep,
    circle: _Id = None,
    group: _Id = None,
    employee: _Id = None,
    by: Literal["influence", "pagerank"] = "influence",
    k: Annotated[int, Query(ge=1, le=500)] = 20,
) -> InfluencerList:
    """Top-k customers by influence (or PageRank): overall, or within a circle, a group or
    an employee's customers (give one or more scopes; all must hold)."""
    scope = {
        name: value
        for name, value in (("circle", circle), ("group", group), ("employee", employee))
        if value is not None
    }
    # The store driver blocks: the service runs in the thread pool, the answer is checked on
    # the event loop (one hand-over per request instead of two, see routers/customers.py).
    return await run_in_threadpool(
        top_influencers, store, settings, principal, by=by, scope=scope, k=k
    )
