"""The Neo4j GDS path against the real bundled store, which has no GDS plugin: the probe,
a server run's failure and the analysis's fallback. (No GDS server can run here; see
docs/algorithms.md, "Neo4j Graph Data Science".)"""

from __future__ import annotations

import igraph as ig
import numpy as np
import pytest

from quanzi.algorithms.influence import influence
from quanzi.api.services import analysis
from quanzi.errors import StoreError
from quanzi.graph.gds import ServerAlgorithms, ServerResults, server_algorithms
from quanzi.graph.store import GraphStore
from quanzi.model import Node, Rel
from quanzi.settings import Settings


def test_the_bundled_store_has_no_gds(store: GraphStore, store_settings: Settings) -> None:
    runner, why = server_algorithms(store, store_settings)
    assert runner is None
    assert why == "in process (no Graph Data Science plugin on the store)"
    off, why_off = server_algorithms(store, store_settings.model_copy(update={"gds": "off"}))
    assert off is None
    assert why_off == "in process (QUANZI_GDS=off)"
    store.ping()  # the failed probe left the connection usable


def test_a_server_run_that_fails_is_a_store_error_and_writes_nothing(store: GraphStore) -> None:
    store.upsert_nodes(Node.CUSTOMER, [{"id": "a"}, {"id": "b"}])
    g = ig.Graph([(0, 1)])
    g.vs["id"], g.es["weight"] = ["a", "b"], [1.0]
    with pytest.raises(StoreError, match="QUANZI_GDS=off") as failed:
        ServerAlgorithms(store, "2.x").run(g, sampling_size=2)
    assert "Graph Data Science 2.x failed during the analysis" in str(failed.value)
    assert store.counts()["Customer"] == 2
    store.ping()


def _two_triangles(store: GraphStore) -> None:
    store.upsert_nodes(Node.CUSTOMER, [{"id": c} for c in "abcdef"])
    ties = [("a", "b"), ("b", "c"), ("a", "c"), ("d", "e"), ("e", "f"), ("d", "f"), ("c", "d")]
    store.upsert_relations(
        Rel.INTERACTS_WITH,
        Node.CUSTOMER,
        Node.CUSTOMER,
        [{"start": x, "end": y, "weight": 2.0} for x, y in ties],
    )


def test_the_analysis_falls_back_to_in_process(store: GraphStore, store_settings: Settings) -> None:
    _two_triangles(store)
    summary = analysis.run_analysis(store, store_settings)
    assert summary.engine == "in process (no Graph Data Science plugin on the store)"
    assert "Graph algorithms - in process (no Graph Data Science" in "\n".join(summary.lines())
    assert summary.circles[0] == 2


def test_the_analysis_writes_back_what_the_server_computed(
    store: GraphStore, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wiring from a server's answers to the stored results. The server is stood in for
    by a runner returning fixed answers (labelled GDS's way: arbitrary community ids); the
    store is the real one."""
    _two_triangles(store)

    class Server:
        def run(self, g: ig.Graph, *, sampling_size: int, seed: int) -> ServerResults:
            assert sampling_size == g.vcount()  # small graph: every source
            ids = g.vs["id"]
            here = influence(g)
            pagerank = np.array([0.5 if v == "e" else 0.1 for v in ids])  # e leads on PageRank
            return ServerResults(
                version="2.99.0",
                membership=np.array([41 if v in "abc" else 17 for v in ids], dtype=np.int64),
                parts={
                    "pagerank": pagerank,
                    "brokerage": here.raw["brokerage"],
                    "core": here.raw["core"],
                },
            )

    monkeypatch.setattr(
        analysis,
        "server_algorithms",
        lambda store, settings: (Server(), "Neo4j Graph Data Science 2.99.0 on the server"),
    )
    summary = analysis.run_analysis(store, store_settings)
    assert summary.engine == "Neo4j Graph Data Science 2.99.0 on the server"
    e = store.get_node(Node.CUSTOMER, "e")
    a = store.get_node(Node.CUSTOMER, "a")
    assert e is not None
    assert a is not None
    assert e["pagerank"] == 0.5
    assert a["pagerank"] == pytest.approx(0.1)
    assert e["influence"] > a["influence"]
    circle = dict(store.read_pairs(Rel.IN_CIRCLE, Node.CUSTOMER, Node.CIRCLE))
    assert circle["a"] == circle["b"] == circle["c"] != circle["d"] == circle["e"] == circle["f"]
    assert summary.circles[0] == 2
