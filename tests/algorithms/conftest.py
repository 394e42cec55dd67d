"""Small graphs with known answers, shared by the algorithm tests."""

from __future__ import annotations

import igraph as ig
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
