"""``/lookalikes``: prospects who look like seed customers, with reasons."""

from __future__ import annotations

from functools import partial

import anyio
from fastapi import APIRouter

from quanzi.api.deps import GraphCacheDep, SalesDep, SettingsDep, StoreDep
from quanzi.api.errors import PROBLEM_RESPONSES
from quanzi.api.schemas import LookalikeRequest, LookalikeResult
from quanzi.api.services.lookalikes import LOOKALIKE_CONCURRENCY, find_lookalikes

router = APIRouter(prefix="/lookalikes", tags=["lookalikes"], responses=PROBLEM_RESPONSES)

# Searches run in the thread pool at most LOOKALIKE_CONCURRENCY at a time, in arrival order
# (anyio's limiter is first come first served; a plain semaphore let a thread that had just
# finished take its slot again ahead of those waiting: a p99 of seconds in process).
_SEARCHES = anyio.CapacityLimiter(LOOKALIKE_CONCURRENCY)


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
