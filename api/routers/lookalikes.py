"""``/lookalikes``: prospects who look like seed customers, with reasons."""

from __future__ import annotations

from functools import partial

import anyio
from fastapi import APIRouter, Request

from quanzi.api.deps import AdminDep, GraphCacheDep, SalesDep, SettingsDep, StoreDep, ViewerDep
from quanzi.api.errors import PROBLEM_RESPONSES
from quanzi.api.limits import busy_slots
from quanzi.api.observability import note
from quanzi.api.schemas import (
    LookalikeRequest,
    LookalikeResult,
    LookalikeWeightsPublic,
    LookalikeWeightsUpdate,
)
from quanzi.api.services.lookalikes import find_lookalikes, update_weights, weights_setting

router = APIRouter(prefix="/lookalikes", tags=["lookalikes"], responses=PROBLEM_RESPONSES)

_SEARCHES = busy_slots()
#: Thorough searches (seconds each at 100k customers) run one at a time per process, in a
#: slot of their own: ordinary searches do not queue behind them.
_THOROUGH = anyio.CapacityLimiter(1)


@router.post("", response_model=LookalikeResult)
async def lookalikes(
    body: LookalikeRequest,
    store: StoreDep,
    settings: SettingsDep,
    cache: GraphCacheDep,
    principal: SalesDep,
) -> LookalikeResult:
    """Rank prospects by resemblance to the seeds (ids or a filter), among the customers
    matching `candidate_filter` (everyone but the seeds by default).

    Each prospect comes with a score in [0, 1], its parts (network proximity, shared
    contacts, similar position, shared circles / groups / interests) and reasons in words.
    A process runs one search per CPU at a time; more wait their turn. `thorough` searches
    (a block model of the whole graph: seconds at 100k customers) run one at a time, apart
    from the others.
    """
    search = partial(find_lookalikes, store, settings, principal, cache, body)
    return await anyio.to_thread.run_sync(search, limiter=_THOROUGH if body.thorough else _SEARCHES)


@router.get("/weights", response_model=LookalikeWeightsPublic)
def get_weights(store: StoreDep, _: ViewerDep) -> LookalikeWeightsPublic:
    """The weights of the parts of the lookalike score every search uses now (the defaults
    until an admin or a data scientist saves others), with who saved them, when and why."""
    return weights_setting(store)


@router.put("/weights", response_model=LookalikeWeightsPublic)
def put_weights(
    request: Request,
    body: LookalikeWeightsUpdate,
    store: StoreDep,
    cache: GraphCacheDep,
    principal: AdminDep,
) -> LookalikeWeightsPublic:
    """Save the part weights for every later search, in every process using the store (the
    same setting as `quanzi.connect().save_lookalike_weights`): at once in the worker that
    answers, within 5 s in the others. A part left out takes its default; 0 leaves a part
    out."""
    note(
        request.state, "lookalike_weights_saved", fields=sorted(body.model_dump(exclude_none=True))
    )
    return update_weights(store, body, actor=principal.actor, cache=cache)
