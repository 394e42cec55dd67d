"""Health of the service and the store."""

from __future__ import annotations

from dataclasses import dataclass, field

from quanzi.errors import StoreError
from quanzi.graph.schema import schema_version
from quanzi.graph.store import GraphStore

__all__ = ["Health", "check_health"]


@dataclass(frozen=True)
class Health:
    """What ``GET /health`` reports."""

    status: str
    store: str
    store_kind: str
    latency_ms: float | None = None
    schema_version: int | None = None
    counts: dict[str, int] = field(default_factory=dict)
    detail: str | None = None


def check_health(store: GraphStore, store_kind: str) -> Health:
    """Ping the store and count what it holds; never raises for a store that is down."""
    try:
        latency = store.ping()
        counts = store.counts()
        version = schema_version(store)
    except StoreError as e:
        return Health("degraded", "down", store_kind, detail=str(e))
    return Health("ok", "up", store_kind, round(latency * 1000, 2), version, counts)
