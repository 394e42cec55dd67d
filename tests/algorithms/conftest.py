"""Small graphs with known answers, shared by the algorithm tests."""

from __future__ import annotations

import igraph as ig
import networkx as nx
import pytest


@pytest.fixture
def cliques() -> ig.Graph:
    """Two 5-cliques joined by one edge (a4 - b0); ids ``a0..a4`` and ``b0..b4``."""
    g = ig.Graph.Full(5) + ig.Graph.Full(5)
    g.add_edges([(4, 5)])
    g.vs["id"] = [f"a{i}" for i in range(5)] + [f"b{i}" for i in range(5)]
    g.es["weight"] = 1.0
    return g


@pytest.fixture
def star() -> ig.Graph:
    """A star: centre ``hub`` with eight leaves ``l0..l7``."""
    g = ig.Graph.Star(9)
    g.vs["id"] = ["hub"] + [f"l{i}" for i in range(8)]
    g.es["weight"] = 1.0
    return g


@pytest.fixture(scope="session")
def sparse_lfr() -> tuple[ig.Graph, list[list[str]]]:
    """An LFR graph of 1,500 vertices, mixing 0.5, 8 ties on average (most members of a
    circle know no given member), and its planted circles (member ids, sorted)."""
    lfr = nx.LFR_benchmark_graph(
        1500,
        2.5,
        1.5,
        0.5,
        average_degree=8,
        max_degree=40,
        min_community=60,
        max_community=150,
        seed=3,
    )
    lfr.remove_edges_from(list(nx.selfloop_edges(lfr)))
    g = ig.Graph(n=1500, edges=list(lfr.edges()))
    g.vs["id"] = [f"c{i}" for i in range(1500)]
    circles = sorted({frozenset(lfr.nodes[v]["community"]) for v in lfr}, key=min)
    return g, [[f"c{i}" for i in sorted(c)] for c in circles]
