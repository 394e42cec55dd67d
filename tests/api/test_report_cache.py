"""Population reports are kept until the store's change count moves."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from quanzi.api.services.report_cache import ReportCache
from quanzi.graph.store import GraphStore
from quanzi.model import Node
from tests.api.conftest import Api, build_graph

pytestmark = pytest.mark.store

PERIOD = {"start": "2000-01-01", "end": "2100-01-01"}


def test_a_report_is_computed_again_only_after_a_change(api: Api, store: GraphStore) -> None:
    build_graph(store)
    first = api.get("/tiers", params=PERIOD).json()
    risks = api.get("/churn/distribution").json()
    # Written around the paths that count changes (as a user's own Cypher would be): the
    # kept answers stand ...
    store.set_node_properties(
        Node.CUSTOMER, [{"id": c, "tier": "loyal", "churn_risk": 0.95} for c in ("c1", "c2")]
    )
    assert api.get("/tiers", params=PERIOD).json() == first
    assert api.get("/churn/distribution").json() == risks
    # ... until a change is counted (an ingest, an analysis, a notebook's write_properties).
    store.note_graph_change("analysis")
    after = api.get("/tiers", params=PERIOD).json()
    assert after != first
    assert after["tiers"].get("loyal", 0) >= 2
    assert api.get("/churn/distribution").json() != risks


def test_reports_are_kept_per_key_at_most_max_age(store: GraphStore) -> None:
    calls: list[str] = []

    def compute(name: str) -> str:
        calls.append(name)
        return name.upper()

    kept = ReportCache(size=2)
    assert kept.get(store, "a", lambda: compute("a")) == "A"
    assert kept.get(store, "a", lambda: compute("a")) == "A"
    assert kept.get(store, "b", lambda: compute("b")) == "B"
    assert kept.get(store, "c", lambda: compute("c")) == "C"  # "a" was the least recent
    assert kept.get(store, "a", lambda: compute("a")) == "A"
    assert calls == ["a", "b", "c", "a"]
    fresh = ReportCache(max_age_s=0.0)
    fresh.get(store, "a", lambda: compute("a"))
    fresh.get(store, "a", lambda: compute("a"))
    assert calls[-2:] == ["a", "a"]


def test_concurrent_requests_for_one_missing_report_compute_it_once(store: GraphStore) -> None:
    kept = ReportCache()
    calls: list[str] = []
    started = threading.Event()

    def slow(name: str) -> str:
        calls.append(name)
        started.set()
        time.sleep(0.3)
        return name.upper()

    with ThreadPoolExecutor(8) as pool:
        first = pool.submit(kept.get, store, "tiers", lambda: slow("tiers"))
        started.wait(5)
        # a second key computes beside it; the same key waits for the first answer
        other = pool.submit(kept.get, store, "funnel", lambda: slow("funnel"))
        same = [pool.submit(kept.get, store, "tiers", lambda: slow("tiers")) for _ in range(6)]
        answers = [f.result() for f in [first, *same]]
    assert answers == ["TIERS"] * 7
    assert other.result() == "FUNNEL"
    assert sorted(calls) == ["funnel", "tiers"]
