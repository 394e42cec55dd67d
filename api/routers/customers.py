"""``/customers``: search, look-up (following merges) and the 360° view.

The busiest endpoints are ``async`` and hand the service call (the store driver blocks) to
the thread pool themselves: for a plain ``def`` endpoint FastAPI also checks the answer
against its schema in the thread pool, a second hand-over per request (docs/api.md). The
360 works on one request per CPU at a time (:func:`quanzi.api.limits.busy_slots`).
"""

from __future__ import annotations

from functools import partial
from typing import Annotated

import anyio
from fastapi import APIRouter, Path, Query
from starlette.concurrency import run_in_threadpool

from quanzi.api.deps import NamesDep, SettingsDep, StoreDep, ViewerDep
from quanzi.api.errors import MOVED_RESPONSE, PROBLEM_RESPONSES
from quanzi.api.limits import busy_slots
from quanzi.api.schemas import (
    Customer360,
    CustomerPage,
    CustomerQuery,
    CustomerSummary,
)
from quanzi.api.services import customers as service

router = APIRouter(prefix="/customers", tags=["customers"], responses=PROBLEM_RESPONSES)
_360S = busy_slots()

CustomerId = Annotated[
    str,
    Path(
        min_length=1, max_length=200, description="Customer id.", examples=["cus_0086b59e2e8f35d6"]
    ),
]


@router.get("", response_model=CustomerPage)
async def search_customers(
    store: StoreDep,
    settings: SettingsDep,
    principal: ViewerDep,
    names: NamesDep,
    query: Annotated[CustomerQuery, Query()],
) -> CustomerPage:
    """Search and filter customers, one page at a time.

    Every condition given must hold. `phone` and `email` match exactly after normalisation
    (any common format); `name` matches part of the Chinese or Latin name. Merged customers
    are not listed (their survivors are). An unknown parameter is a 422.
    """
    return await run_in_threadpool(
        service.search_customers,
        store,
        settings,
        principal,
        query.conditions(),
        sort=query.sort.value,
        limit=query.limit,
        cursor=query.cursor,
        include_total=query.include_total,
        names=names,
    )


@router.get("/{customer_id}", response_model=CustomerSummary, responses=MOVED_RESPONSE)
def get_customer(store: StoreDep, principal: ViewerDep, customer_id: CustomerId) -> CustomerSummary:
    """One customer. A merged id answers 307 with the surviving customer in `Location`."""
    props = service.find_customer(store, customer_id)
    return service.summarise(store, principal, [props])[0]


@router.get("/{customer_id}/360", response_model=Customer360, responses=MOVED_RESPONSE)
async def customer_360(
    store: StoreDep,
    principal: ViewerDep,
    customer_id: CustomerId,
    timeline_limit: Annotated[int, Query(ge=0, le=1000)] = 100,
    contacts_limit: Annotated[int, Query(ge=0, le=100)] = 10,
) -> Customer360:
    """Everything about one customer: identities by channel, employees, groups, circles,
    tags, interests, scores with their explanation, referrals, orders, strongest contacts
    and a timeline of what happened, newest first."""
    read = partial(
        service.customer_360,
        store,
        principal,
        customer_id,
        timeline_limit=timeline_limit,
        contacts_limit=contacts_limit,
    )
    return await anyio.to_thread.run_sync(read, limiter=_360S)
