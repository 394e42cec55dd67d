"""``/tags``: tags, tag groups, statistics; tagging customers one by one or in bulk."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, status

from quanzi.api.deps import AdminDep, SalesDep, SettingsDep, StoreDep, ViewerDep
from quanzi.api.errors import CONFLICT_RESPONSE, MOVED_RESPONSE, PROBLEM_RESPONSES
from quanzi.api.observability import note
from quanzi.api.schemas import (
    TagAssignment,
    TagAssignmentResult,
    TagCreate,
    TagGroupCreate,
    TagGroupPublic,
    TagPublic,
    TagStats,
)
from quanzi.api.services import tags as service

router = APIRouter(tags=["tags"], responses=PROBLEM_RESPONSES)

TagName = Annotated[
    str, Path(min_length=1, max_length=64, description="Tag id (its name).", examples=["VIP"])
]
CustomerId = Annotated[str, Path(min_length=1, max_length=200)]


@router.get("/tags", response_model=TagStats)
def tag_stats(
    store: StoreDep,
    _: ViewerDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    after: Annotated[str | None, Query(max_length=64, description="Last tag id seen.")] = None,
) -> TagStats:
    """Tags by id with the number of customers carrying each, and the tag groups; for the
    next page of tags pass the last id as `after`."""
    return service.tag_stats(store, limit=limit, after=after)


@router.post(
    "/tags",
    response_model=TagPublic,
    status_code=status.HTTP_201_CREATED,
    responses=CONFLICT_RESPONSE,
)
def create_tag(body: TagCreate, store: StoreDep, principal: SalesDep) -> TagPublic:
    """Create a tag, optionally in a tag group."""
    return service.create_tag(store, body, actor=principal.actor)


@router.post(
    "/tags/groups",
    response_model=TagGroupPublic,
    status_code=status.HTTP_201_CREATED,
    responses=CONFLICT_RESPONSE,
)
def create_tag_group(body: TagGroupCreate, store: StoreDep, principal: AdminDep) -> TagGroupPublic:
    """Create a tag group. In an exclusive group a customer carries at most one tag."""
    return service.create_group(store, body, actor=principal.actor)


@router.post("/tags/{tag}/apply", response_model=TagAssignmentResult)
def apply_tag(
    request: Request,
    body: TagAssignment,
    store: StoreDep,
    settings: SettingsDep,
    principal: SalesDep,
    tag: TagName,
) -> TagAssignmentResult:
    """Tag many customers: by ids, or every customer matching a filter."""
    result = service.apply_tag(store, settings, principal, tag, body)
    note(request.state, "tag_applied", tag=tag, matched=result.matched, changed=result.changed)
    return result


@router.post("/tags/{tag}/remove", response_model=TagAssignmentResult)
def remove_tag(
    request: Request,
    body: TagAssignment,
    store: StoreDep,
    settings: SettingsDep,
    principal: SalesDep,
    tag: TagName,
) -> TagAssignmentResult:
    """Untag many customers: by ids, or every customer matching a filter."""
    result = service.apply_tag(store, settings, principal, tag, body, remove=True)
    note(request.state, "tag_removed", tag=tag, matched=result.matched, changed=result.changed)
    return result


@router.put(
    "/customers/{customer_id}/tags/{tag}",
    response_model=TagAssignmentResult,
    responses=MOVED_RESPONSE,
)
def tag_customer(
    store: StoreDep,
    settings: SettingsDep,
    principal: SalesDep,
    customer_id: CustomerId,
    tag: TagName,
) -> TagAssignmentResult:
    """Tag one customer (idempotent)."""
    return service.apply_tag(store, settings, principal, tag, customer_id)


@router.delete(
    "/customers/{customer_id}/tags/{tag}",
    response_model=TagAssignmentResult,
    responses=MOVED_RESPONSE,
)
def untag_customer(
    store: StoreDep,
    settings: SettingsDep,
    principal: SalesDep,
    customer_id: CustomerId,
    tag: TagName,
) -> TagAssignmentResult:
    """Remove a tag from one customer (idempotent)."""
    return service.apply_tag(store, settings, principal, tag, customer_id, remove=True)
