"""The FastAPI application."""

from __future__ import annotations

import gc
import re
import secrets
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, params
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute

from quanzi import __version__
from quanzi.api.balance import ConnectionBalancer
from quanzi.api.deps import RoleCheck
from quanzi.api.errors import install_error_handlers
from quanzi.api.limits import RateLimiter, RequestLimitsMiddleware
from quanzi.api.logs import install_log_masking
from quanzi.api.observability import Metrics, ObservabilityMiddleware
from quanzi.api.routers import (
    campaigns,
    churn,
    circles,
    customers,
    health,
    identity,
    influencers,
    jobs,
    keys,
    lifecycle,
    lookalikes,
    privacy,
    segments,
    tags,
)
from quanzi.api.schemas import Problem
from quanzi.api.services.audit import AuditLog
from quanzi.api.services.files import api_folder
from quanzi.api.services.graph_cache import GraphCache
from quanzi.api.services.health import CountsCache
from quanzi.api.services.jobs import JobManager
from quanzi.api.services.keys import KeyRing
from quanzi.api.services.name_table import NameTable
from quanzi.api.services.report_cache import ReportCache
from quanzi.api.services.segments import SegmentBook
from quanzi.graph.connect import open_store
from quanzi.graph.store import GraphStore
from quanzi.settings import Role, Settings, load_settings
from quanzi.viz.pages import COOKIE, UiSessions
from quanzi.viz.pages import router as pages_router

__all__ = ["create_app"]

_DESCRIPTION = """
Graph-native Social CRM intelligence: customers resolved across channels, the circles they
belong to, who influences whom, prospects who look like your best customers.

**Authentication**: send an API key in the `X-API-Key` header. Roles:
*viewer* (read; phones and e-mails masked), *sales* (the customers served by the key's
employee unmasked; tagging, lookalikes, segments, campaigns), *admin* (everything: ingest,
merges, erasure, keys, audit). `GET /health` and `GET /metrics` need no key.

**Errors** are `application/problem+json`: 401 no or wrong key, 403 role too low, 404 unknown
id, 307 a merged customer id (follow `Location`), 409 conflict, 422 invalid input (`errors`
names each field).

**Lists** page by cursor: pass the `next_cursor` of one page as `cursor` for the next.
Page sizes are bounded (`limit` above its maximum is a 422).

**Limits**: each key may make a number of requests per second and per minute (by role,
settable per key); callers without a valid key are limited per client address. Over the
limit: 429 with `Retry-After`. Request bodies are limited in size (413): 16 MiB by default,
file uploads 512 MiB.
"""

_TAGS = [
    {"name": "customers", "description": "Search, look up and the 360° view of customers."},
    {"name": "identity", "description": "Ingest contacts and events; explain, merge, split."},
    {"name": "jobs", "description": "Long operations running in the background."},
    {"name": "tags", "description": "Tags, tag groups, tagging one by one or in bulk."},
    {"name": "circles", "description": "Detected communities, their leaders and members."},
    {"name": "influence", "description": "Top influencers overall or in a scope."},
    {"name": "lookalikes", "description": "Prospects who look like seed customers."},
    {"name": "churn", "description": "Customers at risk and employee-deletion alerts."},
    {"name": "lifecycle", "description": "Tiers and funnel: counts and conversion."},
    {"name": "campaigns", "description": "Referral campaigns: codes, invitations, reach."},
    {"name": "segments", "description": "Saved filters and CSV export."},
    {"name": "privacy", "description": "Erasure of a person and the audit trail."},
    {"name": "keys", "description": "API keys (admin)."},
    {"name": "health", "description": "Liveness, store status and Prometheus metrics."},
]


#: First-generation threshold of Python's garbage collector in a served app (default 700).
_GC_YOUNG_THRESHOLD = 50_000


def _role_of(dependant: Dependant) -> Role | None:
    for dependency in dependant.dependencies:
        if isinstance(dependency.call, RoleCheck):
            return dependency.call.role
        found = _role_of(dependency)
        if found is not None:
            return found
    return None


def _required_roles(routers: Sequence[APIRouter]) -> dict[tuple[str, str], Role]:
    """The lowest role each operation admits, by (path, method)."""
    out: dict[tuple[str, str], Role] = {}
    for router in routers:
        for route in router.routes:
            if isinstance(route, APIRoute) and (role := _role_of(route.dependant)) is not None:
                for method in route.methods or ():
                    out[(route.path, method.lower())] = role
    return out


def _publish_problem_schema(app: FastAPI, roles: Mapping[tuple[str, str], Role]) -> None:
    """Add the ``Problem`` schema (the body of every error) to the OpenAPI components, and
    the role each operation needs (``x-required-role``, also said in its description)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            components = spec.setdefault("components", {}).setdefault("schemas", {})
            components.update(schema.pop("$defs", {}))
            components["Problem"] = schema
            for path, operations in spec.get("paths", {}).items():
                for method, operation in operations.items():
                    role = roles.get((path, method))
                    if role is not None:
                        operation["x-required-role"] = role
                        operation["description"] = (
                            f"{operation.get('description', '')}\n\nNeeds the `{role}` role."
                        ).lstrip()
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _upload_routes(routers: Sequence[APIRouter]) -> list[re.Pattern[str]]:
    """Path patterns of the routes that take files (they get the upload size limit)."""
    return [
        route.path_regex
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute)
        and any(isinstance(p.field_info, params.File) for p in route.dependant.body_params)
    ]


def create_app(settings: Settings | None = None, *, store: GraphStore | None = None) -> FastAPI:
    """Build the app. Without ``store``, the lifespan opens (and closes) the configured one.

    API keys from ``settings.api_keys`` are hashed here; the app's own files (managed keys,
    segments, jobs, audit trail) live under ``<data_dir>/api/``.
    """
    settings = settings or load_settings()
    install_log_masking(settings.default_phone_region)
    folder = api_folder(settings.data_dir)
    audit = AuditLog(
        folder / "audit.jsonl",
        max_bytes=settings.api_audit_file_bytes,
        keep_files=settings.api_audit_keep_files,
        keep_days=settings.api_audit_keep_days,
    )
    graph_cache = GraphCache(freeze=True)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        own = store is None
        app.state.store = open_store(settings) if own else store
        thresholds = gc.get_threshold()
        if own:  # a served app
            # Read the lookalike graph now, not in the first request.
            graph_cache.warm(app.state.store)
            # A customer 360 allocates thousands of short-lived objects (the driver's decoded
            # records): at the default first threshold (700) that was a young collection every
            # ~4 requests, 0.16 ms per request spent collecting (5% of its CPU). Measured at
            # 100k customers, 8 concurrent requests in process: no collection in 400 requests
            # at 50,000 (docs/api.md). Memory held by cyclic garbage stays small.
            gc.set_threshold(_GC_YOUNG_THRESHOLD, *thresholds[1:])
        app.state.jobs = JobManager(folder / "jobs", on_finish=lambda _: graph_cache.invalidate())
        try:
            yield
        finally:
            app.state.jobs.shutdown(wait=True)
            graph_cache.close()
            if own:
                app.state.store.close()
            # The graph cache froze its graph out of the garbage collector's passes; give
            # everything back so the interpreter frees it (and native objects) at exit.
            gc.unfreeze()
            gc.set_threshold(*thresholds)

    app = FastAPI(
        title="Quanzi",
        version=__version__,
        description=_DESCRIPTION,
        openapi_tags=_TAGS,
        lifespan=lifespan,
    )
    app.state.keys = KeyRing(settings.api_keys, folder, settings.api_key_employees)
    app.state.audit = audit
    app.state.graph_cache = graph_cache
    app.state.health_counts = CountsCache()
    app.state.reports = ReportCache()
    app.state.names = NameTable()
    app.state.segments = SegmentBook(folder)

    def gauges() -> dict[str, dict[tuple[str, ...], float]]:
        out: dict[str, dict[tuple[str, ...], float]] = {}
        manager: JobManager | None = getattr(app.state, "jobs", None)
        if manager is not None:
            counts = Counter(j.status for j in manager.list(limit=10_000))
            out["quanzi_jobs"] = {(s,): float(n) for s, n in counts.items()}
        age = graph_cache.age_s()
        if age is not None:
            out["quanzi_graph_cache_age_seconds"] = {(): age}
        return out

    routers = [
        module.router
        for module in (
            customers,
            identity,
            jobs,
            tags,
            circles,
            influencers,
            lookalikes,
            churn,
            lifecycle,
            campaigns,
            segments,
            privacy,
            keys,
            health,
        )
    ]
    # The marketer's pages (/ui) call the API above in process, under the caller's key.
    app.state.ui_sessions = UiSessions()
    app.state.internal_token = secrets.token_urlsafe(32)
    for router in [*routers, pages_router]:
        app.include_router(router)

    install_error_handlers(app)
    _publish_problem_schema(app, _required_roles(routers))
    # Middleware added last runs first: metrics see every answer, 413 and 429 included.
    app.add_middleware(
        RequestLimitsMiddleware,
        keys=app.state.keys,
        limiter=RateLimiter(settings.api_rate_limits, settings.api_rate_limit_storage),
        max_body_bytes=settings.api_max_body_bytes,
        max_upload_bytes=settings.api_max_upload_bytes,
        upload_routes=_upload_routes(routers),
        key_cookie=COOKIE,
        session_key=app.state.ui_sessions.key,
        internal_token=app.state.internal_token,
    )
    metrics = Metrics(gauges)
    app.state.metrics = metrics
    app.add_middleware(ObservabilityMiddleware, metrics=metrics, audit=audit)
    if settings.api_balance_connections:
        app.add_middleware(ConnectionBalancer, folder=folder)

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/ui/")

    return app
