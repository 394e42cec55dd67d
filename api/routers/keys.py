"""``/keys``: create, list and revoke API keys (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, status

from quanzi.api.deps import AdminDep, KeysDep, StoreDep
from quanzi.api.errors import CONFLICT_RESPONSE, PROBLEM_RESPONSES
from quanzi.api.observability import note
from quanzi.api.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic
from quanzi.api.services.keys import ApiKeyRecord

router = APIRouter(prefix="/keys", tags=["keys"], responses=PROBLEM_RESPONSES)


def _public(record: ApiKeyRecord) -> ApiKeyPublic:
    return ApiKeyPublic(**record.__dict__, active=record.active)


@router.get("", response_model=list[ApiKeyPublic])
def list_keys(
    keys: KeysDep,
    _: AdminDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[str | None, Query(max_length=100, description="Last key id seen.")] = None,
) -> list[ApiKeyPublic]:
    """Keys the service knows (configured first, then created ones by creation time),
    without the keys themselves; for the next page pass the last id as `after`."""
    return [_public(r) for r in keys.records(limit=limit, after=after)]


@router.post("", response_model=ApiKeyCreated, status_code=status.HTTP_201_CREATED)
def create_key(
    request: Request, body: ApiKeyCreate, keys: KeysDep, store: StoreDep, principal: AdminDep
) -> ApiKeyCreated:
    """Create a key. The key is in this response only: it is stored hashed. A sales key's
    employee must be in the graph (422 otherwise)."""
    key, record = keys.create(
        body.name,
        body.role,
        employee_id=body.employee_id,
        created_by=principal.key_id,
        store=store,
    )
    note(request.state, "key_created", key_id=record.id, role=record.role)
    return ApiKeyCreated(**_public(record).model_dump(), key=key)


@router.delete("/{key_id}", response_model=ApiKeyPublic, responses=CONFLICT_RESPONSE)
def revoke_key(
    request: Request,
    keys: KeysDep,
    _: AdminDep,
    key_id: Annotated[str, Path(min_length=1, max_length=100)],
) -> ApiKeyPublic:
    """Revoke a key created through the API (keys from QUANZI_API_KEYS: remove them there)."""
    record = keys.revoke(key_id)
    note(request.state, "key_revoked", key_id=record.id)
    return _public(record)
