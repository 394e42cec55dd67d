"""Private helpers shared by the algorithm modules: ids, weights and sparse adjacency."""

from __future__ import annotations

import itertools
from collections.abc import Collection

import igraph as ig
import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from quanzi.errors import InputError

__all__ = [
    "adjacency",
    "edge_array",
    "edge_weights",
    "percentile_scores",
    "vertex_ids",
    "vertex_indices",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def vertex_ids(g: ig.Graph) -> tuple[str, ...]:
    """Return the customer id of every vertex, in vertex order.

    A graph without an ``"id"`` vertex attribute gets the vertex indices as ids, so small
    hand-built graphs work without ceremony.
    """
    if "id" in g.vs.attributes():
        return tuple(str(v) for v in g.vs["id"])
    return tuple(str(i) for i in range(g.vcount()))


def vertex_indices(
    g: ig.Graph, ids: Collection[str], *, what: str, strict: bool = True
) -> IntArray:
    """Map customer ids to vertex indices.

    With ``strict`` an unknown id raises :class:`InputError` naming up to five of them;
    otherwise unknown ids are skipped.
    """
    index = {v: i for i, v in enumerate(vertex_ids(g))}
    found = [index[v] for v in ids if v in index]
    if strict and len(found) != len(ids):
        missing = sorted(v for v in ids if v not in index)
        raise InputError(
            f"{len(missing)} {what} id(s) are not vertices of the graph, e.g. {missing[:5]}; "
            "pass ids from the graph's 'id' vertex attribute"
        )
    return np.unique(np.asarray(found, dtype=np.int64))


def edge_weights(g: ig.Graph, weight: str | None) -> FloatArray:
    """Return the edge weights as floats (all ones when ``weight`` is None).

    Raises :class:`InputError` if the attribute is missing or holds a negative or
    non-finite value.
    """
    if weight is None:
        return np.ones(g.ecount(), dtype=np.float64)
    if g.ecount() == 0:
        return np.zeros(0, dtype=np.float64)
    if weight not in g.es.attributes():
        raise InputError(
            f"edge attribute {weight!r} is missing; set it on every edge or pass weight=None "
            f"(edge attributes present: {sorted(g.es.attributes())})"
        )
    w = np.asarray(g.es[weight], dtype=np.float64)
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise InputError(f"edge attribute {weight!r} must be finite and non-negative")
    return w


def edge_array(g: ig.Graph) -> IntArray:
    """Return the edges as an ``(m, 2)`` int64 array of vertex indices.

    igraph hands edges out as Python tuples only (about 0.5 s per million edges);
    flattening them through ``fromiter`` is the fastest way found into numpy.
    """
    m = g.ecount()
    flat = np.fromiter(itertools.chain.from_iterable(g.get_edgelist()), np.int64, count=2 * m)
    return flat.reshape(m, 2)


def adjacency(
    g: ig.Graph,
    weight: str | None,
    *,
    directed: bool | None = None,
    edges: IntArray | None = None,
) -> sp.csr_array:
    """Return the (weighted) adjacency matrix as CSR with parallel edges summed.

    ``directed=None`` follows the graph; an undirected graph always gives a symmetric
    matrix. Self-loops are kept (PageRank treats them as staying put). ``edges`` is the
    graph's :func:`edge_array`, when the caller already has it.
    """
    n = g.vcount()
    w = edge_weights(g, weight)
    if g.ecount() == 0:
        return sp.csr_array((n, n), dtype=np.float64)
    if edges is None:
        edges = edge_array(g)
    src, dst = edges[:, 0], edges[:, 1]
    as_directed = g.is_directed() if directed is None else directed and g.is_directed()
    if not as_directed:
        off = src != dst
        src, dst, w = (
            np.concatenate([src, dst[off]]),
            np.concatenate([dst, src[off]]),
            np.concatenate([w, w[off]]),
        )
    matrix = sp.coo_array((w, (src, dst)), shape=(n, n)).tocsr()
    matrix.sum_duplicates()
    return matrix


def percentile_scores(values: FloatArray) -> FloatArray:
    """Scale values to [0, 1] by rank: the share of the others that score strictly lower.

    Ties share the lowest rank, so every vertex with the minimum (often zero) scores 0 and
    the single best scores 1. Ranks make heavy-tailed parts comparable and explainable
    ("beats 97 % of customers on PageRank").
    """
    n = len(values)
    if n <= 1:
        return np.zeros(n, dtype=np.float64)
    order = np.sort(values)
    below = np.searchsorted(order, values, side="left")
    return np.asarray(below / (n - 1), dtype=np.float64)
