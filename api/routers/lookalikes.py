"""``/lookalikes``: prospects who look like seed customers, with reasons."""

from __future__ import annotations

from functools import partial

import anyio
from fastapi import APIRouter

from quanzi.api.deps import GraphCacheDep, SalesDep, SettingsDep, StoreDep
from quanzi.api.errors import PROBLEM_RESPONSES
from quanzi.api.limits import busy_slots
from quanzi.api.schemas import LookalikeRequest, LookalikeResult
from quanzi.api.services.lookalikes import find_lookalikes

router = APIRouter(prefix="/lookalikes", tags=["lookalikes"], responses=PROBLEM_RESPONSES)

_SEARCHES = busy_slots()


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
    A process runs one search per CPU at a time; more wait their turn.
    """
    search = partial(find_lookalikes, store, settings, principal, cache, body)
    return await anyio.to_thread.run_sync(search, limiter=_SEARCHES)
