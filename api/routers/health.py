"""``GET /health`` and ``GET /metrics`` (no key needed: neither holds personal data)."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from quanzi.api.deps import SettingsDep, StoreDep
from quanzi.api.errors import PROBLEM_RESPONSES
from quanzi.api.schemas import HealthPublic
from quanzi.api.services.health import check_health

router = APIRouter(tags=["health"], responses={429: PROBLEM_RESPONSES[429]})


@router.get(
    "/health",
    response_model=HealthPublic,
    responses={503: {"model": HealthPublic, "description": "The graph store is down."}},
)
def health(request: Request, store: StoreDep, settings: SettingsDep) -> JSONResponse:
    """Service and store status, with node and relation counts (reused for up to 5 s)."""
    result = check_health(store, settings.store, counts=request.app.state.health_counts)
    body = HealthPublic(**asdict(result)).model_dump()
    return JSONResponse(body, status_code=200 if result.store == "up" else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {"example": "quanzi_http_requests_total{...} 3.0"}}}
    },
)
def metrics(request: Request) -> Response:
    """Prometheus metrics: request counts and latency by route, jobs by status."""
    body = generate_latest(request.app.state.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
