"""FastAPI dependencies as ``Annotated`` aliases: the store, settings, the caller and roles.

The dependencies are ``async``: none of them blocks (a key is checked with one SHA-256 and a
dict look-up), and FastAPI runs every plain ``def`` dependency in its thread pool, one
hand-over to a worker thread and back per dependency and request (seven per request before,
the main cost of the HTTP layer over the work under concurrency; see docs/api.md).

Authentication: the ``X-API-Key`` header is hashed and looked up in the app's
:class:`~quanzi.api.services.keys.KeyRing`. A missing, unknown or revoked key is a 401; a
key whose role is below the endpoint's is a 403. ``ViewerDep``, ``SalesDep`` and
``AdminDep`` name the lowest role an endpoint accepts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from quanzi.api.errors import AuthenticationError, PermissionDeniedError
from quanzi.api.services.access import Principal
from quanzi.api.services.audit import AuditLog
from quanzi.api.services.graph_cache import GraphCache
from quanzi.api.services.jobs import JobManager
from quanzi.api.services.keys import KeyRing
from quanzi.api.services.name_table import NameTable
from quanzi.api.services.report_cache import ReportCache
from quanzi.graph.store import GraphStore
from quanzi.settings import Role, Settings

__all__ = [
    "AdminDep",
    "AuditDep",
    "GraphCacheDep",
    "JobsDep",
    "KeysDep",
    "NamesDep",
    "ReportsDep",
    "RoleCheck",
    "SalesDep",
    "SettingsDep",
    "StoreDep",
    "ViewerDep",
    "require",
]

api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="An API key. Roles: viewer (read, personal data masked), sales (own "
    "customers unmasked, customer work), admin (everything).",
)


def _app_state(name: str) -> Callable[[Request], Awaitable[Any]]:
    """A dependency that hands out ``app.state.<name>``, one of the objects ``create_app``
    sets up (the store, the settings, the keys, the caches); the alias below names its
    type."""

    async def get(request: Request) -> Any:
        return getattr(request.app.state, name)

    get.__name__ = f"get_{name}"
    return get


StoreDep = Annotated[GraphStore, Depends(_app_state("store"))]
SettingsDep = Annotated[Settings, Depends(_app_state("settings"))]
KeysDep = Annotated[KeyRing, Depends(_app_state("keys"))]
AuditDep = Annotated[AuditLog, Depends(_app_state("audit"))]
JobsDep = Annotated[JobManager, Depends(_app_state("jobs"))]
GraphCacheDep = Annotated[GraphCache, Depends(_app_state("graph_cache"))]
ReportsDep = Annotated[ReportCache, Depends(_app_state("reports"))]
NamesDep = Annotated[NameTable, Depends(_app_state("names"))]


def authenticate(request: Request, api_key: str | None) -> Principal:
    """The caller behind the ``X-API-Key`` header (401 when there is none or it is wrong)."""
    if not api_key:
        raise AuthenticationError(
            "This endpoint needs an API key in the X-API-Key header; ask an admin for one"
        )
    keys: KeyRing = request.app.state.keys
    principal = keys.authenticate(api_key)
    if principal is None:
        raise AuthenticationError("The API key is unknown or revoked; check it or ask an admin")
    request.state.principal = principal
    return principal


class RoleCheck:
    """A dependency that admits callers whose role includes ``role`` (403 otherwise).

    It authenticates the caller itself rather than through sub-dependencies: FastAPI's work
    per dependency (its parameters resolved four ways, its cache key, its call) was about a
    third of the app layer's time on a customer 360 under cProfile (docs/api.md). The app
    reads ``role`` off each route's dependencies to publish it in the OpenAPI description
    (``x-required-role``).
    """

    def __init__(self, role: Role) -> None:
        self.role: Role = role

    async def __call__(
        self, request: Request, api_key: Annotated[str | None, Security(api_key_header)]
    ) -> Principal:
        principal = authenticate(request, api_key)
        if not principal.allows(self.role):
            raise PermissionDeniedError(
                f"This needs the {self.role} role; your key ({principal.key_id}) has the "
                f"{principal.role} role"
            )
        return principal


def require(role: Role) -> RoleCheck:
    """A dependency that admits callers whose role includes ``role`` (403 otherwise)."""
    return RoleCheck(role)


ViewerDep = Annotated[Principal, Depends(require("viewer"))]
SalesDep = Annotated[Principal, Depends(require("sales"))]
AdminDep = Annotated[Principal, Depends(require("admin"))]
