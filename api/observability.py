"""Prometheus metrics and the audit trail, recorded around every request.

A plain ASGI middleware (no per-request task or body buffering): it times the request,
counts it by method, route template and status, says the time in a ``Server-Timing: app;dur=``
header (milliseconds up to the start of the answer), and, for authenticated requests, appends
an entry to the audit trail. Routes label metrics by their template (``/customers/{id}``), never
by the raw path, so label cardinality stays bounded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from quanzi.api.services.access import Principal
from quanzi.api.services.audit import AuditLog

__all__ = ["Metrics", "ObservabilityMiddleware", "note"]

_UNMATCHED = "<unmatched>"
_NOT_AUDITED = frozenset({"/health", "/metrics"})


class _StateCollector(Collector):
    """Gauges read when scraped: jobs by status, age of the cached graph."""

    def __init__(self, gauges: Callable[[], dict[str, dict[tuple[str, ...], float]]]) -> None:
        self._gauges = gauges

    def collect(self) -> Iterable[Metric]:
        for name, values in self._gauges().items():
            label = "status" if name == "quanzi_jobs" else None
            family = GaugeMetricFamily(
                name, _HELP.get(name, name), labels=[label] if label else None
            )
            for labels, value in values.items():
                family.add_metric(list(labels), value)
            yield family


_HELP = {
    "quanzi_jobs": "Background jobs by status.",
    "quanzi_graph_cache_age_seconds": "Age of the cached lookalike graph (absent when none).",
}


class Metrics:
    """The app's own Prometheus registry (one per app, so tests can build many apps)."""

    def __init__(self, gauges: Callable[[], dict[str, dict[tuple[str, ...], float]]]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "quanzi_http_requests",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "quanzi_http_request_duration_seconds",
            "Time to answer HTTP requests, by method and route template.",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=self.registry,
        )
        self.registry.register(_StateCollector(gauges))


def note(scope_state: Any, action: str, **detail: Any) -> None:
    """Attach an action and its detail to the request's audit entry.

    ``scope_state`` is ``request.state``.
    """
    scope_state.audit_action = action
    scope_state.audit_detail = detail


class ObservabilityMiddleware:
    """Record metrics and the audit trail for each HTTP request."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics, audit: AuditLog) -> None:
        self.app = app
        self.metrics = metrics
        self.audit = audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                # Time in the app up to the answer (queueing before the app is not in it), so
                # a client can tell the service's own time from the network's and its queue.
                took = f"app;dur={(time.perf_counter() - started) * 1000:.1f}".encode()
                message = {
                    **message,
                    "headers": [*message.get("headers", []), (b"server-timing", took)],
                }
            await send(message)

        try:
            await self.app(scope, receive, send_and_watch)
        finally:
            self._record(scope, status, time.perf_counter() - started)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        route = getattr(scope.get("route"), "path", None) or _UNMATCHED
        method = scope["method"]
        self.metrics.requests.labels(method, route, str(status)).inc()
        self.metrics.latency.labels(method, route).observe(seconds)
        state = scope.get("state") or {}
        principal = state.get("principal")
        if not isinstance(principal, Principal) or route in _NOT_AUDITED:
            return
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        self.audit.record(
            key_id=principal.key_id,
            role=principal.role,
            method=method,
            route=route,
            status=status,
            path_params=scope.get("path_params") or {},
            query=query,
            action=state.get("audit_action"),
            detail=state.get("audit_detail"),
        )
