"""``GET /health``."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from quanzi.api.deps import SettingsDep, StoreDep
from quanzi.api.schemas import HealthPublic
from quanzi.api.services.health import check_health

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=HealthPublic,
    responses={503: {"model": HealthPublic, "description": "The graph store is down."}},
)
def health(store: StoreDep, settings: SettingsDep) -> JSONResponse:
    """Service and store status, with node and relation counts."""
    result = check_health(store, settings.store)
    body = HealthPublic(**asdict(result)).model_dump()
    return JSONResponse(body, status_code=200 if result.store == "up" else 503)
