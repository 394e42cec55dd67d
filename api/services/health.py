"""Health of the service and the store."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from quanzi.errors import StoreError
from quanzi.graph.schema import schema_version
from quanzi.graph.store import GraphStore

__all__ = ["COUNTS_MAX_AGE_S", "STORE_DOWN_DETAIL", "CountsCache", "Health", "check_health"]

log = logging.getLogger(__name__)

#: What callers are told when the store cannot be reached; the driver's own text (the store's
#: host and port) goes to the service's log.
STORE_DOWN_DETAIL = (
    "The graph store cannot be reached: start it (`quanzi store start` for the bundled store) "
    "and try again; the service's log has the details"
)

#: Seconds for which ``/health`` reuses its node and relation counts.
COUNTS_MAX_AGE_S = 5.0


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


class CountsCache:
    """The store's counts and schema version, reused for ``max_age_s`` seconds.

    Counting scans every node and relation, so a monitor probing ``/health`` often would add
    that scan to the store's load; the ping that tells whether the store is up runs each time.
    """

    def __init__(self, *, max_age_s: float = COUNTS_MAX_AGE_S) -> None:
        self.max_age_s = max_age_s
        self._lock = threading.Lock()
        self._value: tuple[float, dict[str, int], int | None] | None = None

    def read(self, store: GraphStore) -> tuple[dict[str, int], int | None]:
        """Counts and schema version, from the store when the cached ones are too old."""
        with self._lock:
            value = self._value
            if value is None or time.monotonic() - value[0] >= self.max_age_s:
                value = (time.monotonic(), store.counts(), schema_version(store))
                self._value = value
            return dict(value[1]), value[2]


def check_health(
    store: GraphStore, store_kind: str, *, counts: CountsCache | None = None
) -> Health:
    """Ping the store and count what it holds; never raises for a store that is down.

    With ``counts``, the counts and schema version come from that cache when recent.
    """
    try:
        latency = store.ping()
        if counts is None:
            numbers, version = store.counts(), schema_version(store)
        else:
            numbers, version = counts.read(store)
    except StoreError as e:
        # /health answers anyone: the driver's text (the store's host and port) goes to the
        # log only.
        log.warning("health check: %s", e)
        return Health("degraded", "down", store_kind, detail=STORE_DOWN_DETAIL)
    return Health("ok", "up", store_kind, round(latency * 1000, 2), version, numbers)
