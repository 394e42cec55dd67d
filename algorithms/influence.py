"""Influence: who matters in the network, and why.

Four measures, each a plain function, and one composite that reports every part:

- :func:`pagerank` — weighted PageRank: reached by many, or by well-reached people.
- :func:`referral_reach` — direct and multi-level invitees in referral (fission) campaigns.
- :func:`brokerage` — approximate betweenness: sits between circles, bridges them.
- :func:`core_depth` — k-core number: how deep in a dense, tightly knit core.
- :func:`influence` — a weighted mix of the four, as rank percentiles, with each part kept
  so a score can be explained; :func:`top_influencers` lists the best, overall or within a
  set of customers (a circle, a group, one employee's book).

Engines, measured (see ``docs/algorithms.md``): PageRank is a scipy sparse power iteration
(faster than igraph's PRPACK on these graphs); brokerage is exact betweenness (igraph's C
code) when the graph is small enough for the work budget, and otherwise a linearly scaled
estimate from a sample of sources that stops once its ranking settles.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import NamedTuple

import igraph as ig
import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from quanzi.algorithms._matrix import (
    adjacency,
    edge_array,
    edge_weights,
    percentile_scores,
    vertex_ids,
)
from quanzi.errors import InputError

__all__ = [
    "InfluenceScores",
    "InfluenceWeights",
    "Influencer",
    "ReferralReach",
    "brokerage",
    "brokerage_sample_size",
    "core_depth",
    "influence",
    "pagerank",
    "referral_reach",
    "top_influencers",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Default work budget of :func:`brokerage`, in edge visits (sampled sources x edges):
#: a few seconds on one core. Exact up to ~2,000 customers with ~25k ties.
BROKERAGE_WORK_BUDGET = 50_000_000

#: :func:`brokerage` never samples fewer sources than this (unless the graph is smaller).
MIN_BROKERAGE_SOURCES = 32

#: Sampled brokerage stops early once its split-half reliability reaches this.
BROKERAGE_RELIABILITY = 0.95

_BROKERAGE_BATCH = 32


def pagerank(
    g: ig.Graph | sp.sparray | sp.spmatrix,
    *,
    weight: str | None = "weight",
    damping: float = 0.85,
    personalization: npt.ArrayLike | None = None,
    directed: bool | None = None,
    tol: float = 1e-10,
    max_iter: int = 200,
) -> FloatArray:
    """Weighted PageRank by sparse power iteration.

    Parameters
    ----------
    g : igraph.Graph or scipy sparse matrix
        Directed or undirected; parallel edges add up. A square sparse matrix (row =
        from, column = to, value = strength, e.g. a projection's ``to_scipy()``) is used
        as is and skips converting the graph (about 0.7 s per million edges).
    weight : str or None, default "weight"
        Edge attribute with the tie strength; None weighs every edge alike. Ignored for
        a matrix.
    damping : float, default 0.85
        Probability of following a tie rather than jumping.
    personalization : array_like, optional
        Non-negative jump (restart) weights per vertex, e.g. ones on seed customers for a
        personalised PageRank. Uniform when omitted. Dangling vertices jump the same way.
    directed : bool, optional
        Follow edge direction; defaults to the graph's own. False on a directed graph
        treats every edge as going both ways.
    tol : float, default 1e-10
        Stop when the L1 change of one iteration falls below this.
    max_iter : int, default 200
        At most this many iterations (0.85**200 ~ 1e-14, so it has converged by then).

    Returns
    -------
    ndarray of float64
        Stationary probability of each vertex; sums to 1.

    Examples
    --------
    The centre of a star ranks first:

    >>> import igraph as ig
    >>> scores = pagerank(ig.Graph.Star(5), weight=None)
    >>> int(scores.argmax()), round(float(scores.sum()), 6)
    (0, 1.0)
    """
    if isinstance(g, ig.Graph):
        matrix = adjacency(g, weight, directed=directed)
    else:
        matrix = sp.csr_array(g, dtype=np.float64)
        if matrix.shape[0] != matrix.shape[1]:
            raise InputError(f"an adjacency matrix must be square, not {matrix.shape}")
    n = matrix.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.float64)
    if not 0 <= damping < 1:
        raise InputError("damping must be in [0, 1)")
    if personalization is None:
        jump = np.full(n, 1.0 / n)
    else:
        jump = np.asarray(personalization, dtype=np.float64)
        if jump.shape != (n,) or np.any(jump < 0) or not np.isfinite(jump).all():
            raise InputError(f"personalization must be {n} finite non-negative numbers")
        if jump.sum() <= 0:
            raise InputError("personalization must put weight on at least one vertex")
        jump = jump / jump.sum()
    strength = np.asarray(matrix.sum(axis=1)).ravel()
    dangling = strength <= 0
    inverse = np.divide(1.0, strength, out=np.zeros(n), where=~dangling)
    backward = matrix.T.tocsr()
    x = jump.copy()
    for _ in range(max_iter):
        following = backward @ (x * inverse)
        updated = damping * following + (damping * x[dangling].sum() + 1.0 - damping) * jump
        change = float(np.abs(updated - x).sum())
        x = updated
        if change < tol:
            break
    return np.asarray(x / x.sum(), dtype=np.float64)


class ReferralReach(NamedTuple):
    """Invitees of each customer in a referral graph.

    Attributes
    ----------
    ids : tuple of str
        Customer id of each vertex of the referral graph.
    direct : ndarray of int64
        Distinct customers each one invited.
    total : ndarray of int64
        Distinct customers reached through invitation chains (invitees, their invitees,
        ...), up to the depth limit; the customer itself is never counted.
    depth : ndarray of int64
        Generations below each customer: 0 for none, 1 for invitees only, and so on.

    Examples
    --------
    >>> import igraph as ig
    >>> chain = ig.Graph([(0, 1), (1, 2)], directed=True)
    >>> chain.vs["id"] = ["a", "b", "c"]
    >>> reach = referral_reach(chain)
    >>> reach.direct.tolist(), reach.total.tolist(), reach.depth.tolist()
    ([1, 1, 0], [2, 1, 0], [2, 1, 0])
    """

    ids: tuple[str, ...]
    direct: IntArray
    total: IntArray
    depth: IntArray


def referral_reach(referrals: ig.Graph, *, max_depth: int | None = None) -> ReferralReach:
    """Count direct and multi-level invitees of every customer.

    Parameters
    ----------
    referrals : igraph.Graph
        Directed, an edge from referrer to referee. Usually a forest (each customer came
        through at most one invitation), which is counted in linear time; other shapes
        (several referrers, even cycles from dirty data) are counted exactly by a
        breadth-first search from each referrer.
    max_depth : int, optional
        Count invitees up to this many generations down; no limit when omitted.

    Returns
    -------
    ReferralReach
        Per vertex of ``referrals``.

    Examples
    --------
    >>> import igraph as ig
    >>> tree = ig.Graph([(0, 1), (0, 2), (1, 3)], directed=True)
    >>> tree.vs["id"] = ["ann", "bob", "cat", "dan"]
    >>> reach = referral_reach(tree)
    >>> reach.direct.tolist(), reach.total.tolist(), reach.depth.tolist()
    ([2, 1, 0, 0], [3, 1, 0, 0], [2, 1, 0, 0])
    """
    if not referrals.is_directed():
        raise InputError("referrals must be directed, from referrer to referee")
    if max_depth is not None and max_depth < 1:
        raise InputError("max_depth must be at least 1")
    n = referrals.vcount()
    h = referrals.copy()
    h.simplify(multiple=True, loops=True)
    direct = np.asarray(h.outdegree(), dtype=np.int64)
    total = np.zeros(n, dtype=np.int64)
    depth = np.zeros(n, dtype=np.int64)
    indegree = np.asarray(h.indegree(), dtype=np.int64)
    if n and h.is_dag() and indegree.max(initial=0) <= 1:
        parent = np.full(n, -1, dtype=np.int64)
        edges = edge_array(h)
        parent[edges[:, 1]] = edges[:, 0]
        order = h.topological_sorting(mode="out")
        limit = n if max_depth is None else max_depth
        if limit >= n:
            for v in reversed(order):
                p = parent[v]
                if p >= 0:
                    total[p] += 1 + total[v]
                    depth[p] = max(depth[p], 1 + depth[v])
        else:
            # level[v]: descendants of v exactly d generations down (a forest has no
            # two paths to one descendant, so counting paths counts customers).
            level = np.ones(n, dtype=np.int64)
            for d in range(1, limit + 1):
                level = np.bincount(edges[:, 0], weights=level[edges[:, 1]], minlength=n).astype(
                    np.int64
                )
                if not level.any():
                    break
                total += level
                depth[level > 0] = d
    else:
        for v in np.flatnonzero(direct > 0).tolist():
            _, layers, _ = h.bfs(v, mode="out")
            generations = len(layers) - 2
            if max_depth is not None:
                generations = min(generations, max_depth)
            total[v] = layers[generations + 1] - 1
            depth[v] = generations
    return ReferralReach(vertex_ids(referrals), direct, total, depth)


def _brokerage_sources(n: int, m: int, n_samples: int | None, work_budget: int) -> int:
    if n_samples is not None:
        return max(1, min(n, n_samples))
    affordable = work_budget // max(m, 1)
    return int(min(n, max(MIN_BROKERAGE_SOURCES, affordable)))


def brokerage_sample_size(n: int, m: int) -> int:
    """How many sources :func:`brokerage` samples by default on ``n`` vertices and ``m``
    edges (all of them up to its work budget), for engines that take a sample size (Neo4j
    GDS's betweenness, :mod:`quanzi.graph.gds`).

    >>> brokerage_sample_size(1_000, 5_000), brokerage_sample_size(100_000, 1_500_000)
    (1000, 33)
    """
    return _brokerage_sources(n, m, None, BROKERAGE_WORK_BUDGET)


def _batch_size(n: int) -> int:
    # n x batch float64 arrays, a handful of them: keep each under ~160 MB.
    return max(1, min(_BROKERAGE_BATCH, 20_000_000 // max(n, 1)))


def _spread(
    matrix: sp.csr_array, x: npt.NDArray[np.float32], rows: IntArray
) -> npt.NDArray[np.float32]:
    """``matrix @ x`` for a symmetric ``matrix`` when only ``rows`` of ``x`` are non-zero.

    Only those rows of the matrix are read (a breadth-first frontier is a small part of the
    graph at most levels), and their transpose's product was measured about twice as fast
    per non-zero as scipy's CSR product on these shapes.
    """
    return np.asarray(matrix[rows].T @ x[rows], dtype=np.float32)


def _linear_scaled_dependencies(matrix: sp.csr_array, sources: IntArray) -> FloatArray:
    """Sum over ``sources`` of ``d(s, v) * delta'_s(v)``: Brandes' dependencies with
    Geisberger, Sanders and Schultes' linear scaling, for an undirected graph.

    All sources of the batch run together as the columns of dense matrices: breadth-first
    levels by sparse products, then the dependencies back up level by level, each path
    ``s -> t`` crediting ``v`` with ``d(s, v) / d(s, t)``. Over a pair's two directions
    the credits sum to 1, so the sum estimates betweenness without the large bias plain
    source sampling gives to the sources' neighbours. Each product reads only the rows of
    the current level, so a batch costs about two passes over the edges instead of two per
    level; path counts and credits are float32 (rank-level accuracy, half the memory
    traffic; measured within 3e-7 of float64 on a 1.5M-edge graph).
    """
    n, b = matrix.shape[0], len(sources)
    columns = np.arange(b)
    sigma = np.zeros((n, b), dtype=np.float32)
    distance = np.full((n, b), -1, dtype=np.int32)
    sigma[sources, columns] = 1.0
    distance[sources, columns] = 0
    frontier = sigma.copy()
    rows: IntArray = np.unique(sources)
    levels: list[IntArray] = [rows]
    while True:
        reach = _spread(matrix, frontier, rows)
        new = (reach > 0) & (distance < 0)
        if not new.any():
            break
        reach[~new] = 0.0
        distance[new] = len(levels)
        sigma += reach
        rows = np.flatnonzero(new.any(axis=1))
        levels.append(rows)
        frontier = reach
    inverse_sigma = np.divide(1.0, sigma, out=np.zeros_like(sigma), where=sigma > 0)
    delta = np.zeros((n, b), dtype=np.float32)
    for depth in range(len(levels) - 1, 0, -1):
        rows, above = levels[depth], levels[depth - 1]
        coefficient = np.zeros((n, b), dtype=np.float32)
        coefficient[rows] = np.where(
            distance[rows] == depth, (1.0 / depth + delta[rows]) * inverse_sigma[rows], 0.0
        )
        back = _spread(matrix, coefficient, rows)
        delta[above] += np.where(distance[above] == depth - 1, sigma[above] * back[above], 0.0)
    delta *= np.maximum(distance, 0)
    return np.asarray(delta.sum(axis=1, dtype=np.float64), dtype=np.float64)


def _split_half_reliability(halves: tuple[FloatArray, FloatArray]) -> float:
    """Spearman-Brown corrected rank correlation of two independent half estimates."""
    a, b = (percentile_scores(h) for h in halves)
    if a.std() == 0 or b.std() == 0:
        return 1.0 if np.array_equal(a, b) else 0.0
    r = float(np.corrcoef(a, b)[0, 1])
    return 2 * r / (1 + r) if r > -1 else 0.0


def brokerage(
    g: ig.Graph,
    *,
    weight: str | None = None,
    n_samples: int | None = None,
    work_budget: int = BROKERAGE_WORK_BUDGET,
    seed: int = 0,
    normalized: bool = True,
    reliability: float = BROKERAGE_RELIABILITY,
) -> FloatArray:
    """Approximate betweenness: how often a customer lies on shortest paths between others.

    Source sampling (Brandes–Pich): shortest paths are counted exactly from ``k`` sources
    drawn at random and scaled up by ``n / k``; when ``k`` reaches the number of vertices
    the result is exact betweenness (igraph's C code). On undirected graphs without
    weights the sampled estimate uses linear scaling (Geisberger, Sanders & Schultes
    2008): a path ``s -> t`` credits each vertex on it by its distance from ``s`` over
    ``d(s, t)``, which removes the inflated scores plain sampling gives the sources'
    neighbours (measured: Spearman with exact betweenness on 10k-node LFR graphs 0.70-0.78
    at 32 sources, against 0.67-0.74 for plain sampling). Sources run in batches of 32;
    after each batch from the second on, sampling stops once two independent halves of
    the sample rank the customers alike (split-half rank correlation, Spearman–Brown
    corrected, at least ``reliability``).

    Directed graphs and weighted brokerage use plain sampling on igraph's C betweenness.

    Parameters
    ----------
    g : igraph.Graph
        Directed or undirected.
    weight : str or None, default None
        Hop counts by default. A name turns tie strength into path length ``1 / weight``
        (strong ties are short); edges of weight 0 are left out.
    n_samples : int, optional
        Number of source vertices, all of them used. By default as many as
        ``work_budget`` affords (at least 32), fewer when the ranking settles first: exact
        on graphs up to a few thousand customers, sampled beyond.
    work_budget : int, default 50_000_000
        Edge visits allowed when ``n_samples`` is not given (sources x edges).
    seed : int, default 0
        Seed of the source sample.
    normalized : bool, default True
        Divide by the number of vertex pairs, giving values in [0, 1].
    reliability : float, default 0.95
        Split-half reliability at which default sampling stops early (1 never stops).

    Returns
    -------
    ndarray of float64
        Estimated betweenness of each vertex.

    Examples
    --------
    >>> import igraph as ig
    >>> scores = brokerage(ig.Graph.Star(5))
    >>> scores.round(3).tolist()
    [1.0, 0.0, 0.0, 0.0, 0.0]
    """
    return _brokerage(
        g,
        weight=weight,
        n_samples=n_samples,
        work_budget=work_budget,
        seed=seed,
        normalized=normalized,
        reliability=reliability,
        ties=None,
    )


def _brokerage(
    g: ig.Graph,
    *,
    weight: str | None,
    n_samples: int | None,
    work_budget: int,
    seed: int,
    normalized: bool,
    reliability: float,
    ties: sp.csr_array | None,
) -> FloatArray:
    """:func:`brokerage`; ``ties`` is ``g``'s undirected adjacency matrix when the caller has
    it (any values: only which entries are stored counts, explicit zeros included)."""
    n = g.vcount()
    if n < 3 or g.ecount() == 0:
        return np.zeros(n, dtype=np.float64)
    lengths = None
    graph = g
    if weight is not None:
        w = edge_weights(g, weight)
        keep = np.flatnonzero(w > 0)
        graph = g.subgraph_edges(keep.tolist(), delete_vertices=False)
        lengths = (1.0 / w[keep]).tolist()
    k = _brokerage_sources(n, graph.ecount(), n_samples, work_budget)
    order = np.random.default_rng(seed).permutation(n)
    if k >= n:
        scores = np.asarray(graph.betweenness(directed=True, weights=lengths), dtype=np.float64)
    elif lengths is not None or g.is_directed():
        sources = np.sort(order[:k])
        raw = graph.betweenness(directed=True, weights=lengths, sources=sources.tolist())
        scores = np.asarray(raw, dtype=np.float64) * (n / k)
    else:
        matrix = (ties if ties is not None else adjacency(graph, None, directed=False)).astype(
            np.float32
        )
        matrix.data[:] = 1.0
        matrix.setdiag(0)
        matrix.eliminate_zeros()
        batch = _batch_size(n)
        if n_samples is None:
            k = max(batch, k - k % batch)  # whole batches
        halves = (np.zeros(n), np.zeros(n))
        used = 0
        for start in range(0, k, batch):
            part = _linear_scaled_dependencies(matrix, order[start : min(start + batch, k)])
            halves[(start // batch) % 2][:] += part
            used = min(start + batch, k)
            if (
                n_samples is None
                and start // batch >= 1
                and (start // batch) % 2 == 1
                and _split_half_reliability(halves) >= reliability
            ):
                break
        scores = (halves[0] + halves[1]) * (n / used)
    if normalized:
        pairs = (n - 1) * (n - 2) / (1.0 if g.is_directed() else 2.0)
        scores = scores / pairs
    return scores


def core_depth(g: ig.Graph) -> IntArray:
    """Return the k-core number of every vertex: the largest k with it in the k-core.

    The k-core is what remains after repeatedly removing vertices with fewer than k ties;
    a high number means a place deep inside a tightly knit group. Parallel edges and
    self-loops are ignored; direction is ignored.

    Examples
    --------
    >>> import igraph as ig
    >>> g = ig.Graph.Full(4) + ig.Graph(1)
    >>> g.add_edges([(3, 4)])
    >>> core_depth(g).tolist()
    [3, 3, 3, 3, 1]
    """
    h = g
    if g.is_directed() or not g.is_simple():
        h = g.copy()
        h.to_undirected(mode="collapse")
        h.simplify(multiple=True, loops=True)
    return np.asarray(h.coreness(mode="all"), dtype=np.int64)


@dataclass(frozen=True)
class InfluenceWeights:
    """Weights of the parts of the composite influence score.

    The score uses the weights of the parts it could compute, rescaled to sum to 1 (no
    referral graph: no reach part). A weight of 0 skips computing that part.

    Attributes
    ----------
    pagerank : float
        Weighted PageRank on the tie graph.
    brokerage : float
        Approximate betweenness.
    core : float
        k-core depth.
    reach : float
        Multi-level referral reach.

    Examples
    --------
    >>> InfluenceWeights(brokerage=0.0)  # skip the costliest part
    InfluenceWeights(pagerank=0.4, brokerage=0.0, core=0.2, reach=0.2)
    """

    pagerank: float = 0.4
    brokerage: float = 0.2
    core: float = 0.2
    reach: float = 0.2

    def __post_init__(self) -> None:
        values = (self.pagerank, self.brokerage, self.core, self.reach)
        if min(values) < 0 or sum(values) <= 0:
            raise InputError("influence weights must be >= 0 and not all 0")


@dataclass(frozen=True)
class InfluenceScores:
    """Composite influence of every customer, with each part kept for explanation.

    Attributes
    ----------
    ids : tuple of str
        Customer id of each vertex.
    score : ndarray of float64
        Composite score in [0, 1]: the weighted mean of the parts' percentiles.
    raw : dict of str to ndarray
        Part name -> the measure itself: ``pagerank`` (probability), ``brokerage``
        (normalised betweenness), ``core`` (k-core number), ``reach`` (invitees).
    percentile : dict of str to ndarray
        Part name -> share of customers scoring strictly lower on that part, in [0, 1].
    weights : dict of str to float
        Part name -> weight used, summing to 1 over the parts computed.

    Examples
    --------
    >>> import igraph as ig
    >>> g = ig.Graph.Star(5)
    >>> g.vs["id"] = ["hub", "a", "b", "c", "d"]
    >>> scores = influence(g, weight=None)
    >>> scores.ids[int(scores.score.argmax())], sorted(scores.weights)
    ('hub', ['brokerage', 'core', 'pagerank'])
    """

    ids: tuple[str, ...]
    score: FloatArray
    raw: dict[str, FloatArray]
    percentile: dict[str, FloatArray]
    weights: dict[str, float]


class Influencer(NamedTuple):
    """One customer's influence, explained.

    Attributes
    ----------
    id : str
        Customer id.
    score : float
        Composite score in [0, 1].
    contributions : dict of str to float
        Part -> weight x percentile; they sum to ``score``.
    raw : dict of str to float
        Part -> the measure itself (see :class:`InfluenceScores`).

    Examples
    --------
    >>> import igraph as ig
    >>> g = ig.Graph.Star(5)
    >>> g.vs["id"] = ["hub", "a", "b", "c", "d"]
    >>> best = top_influencers(influence(g, weight=None), k=1)[0]
    >>> best.id, round(sum(best.contributions.values()), 6) == round(best.score, 6)
    ('hub', True)
    """

    id: str
    score: float
    contributions: dict[str, float]
    raw: dict[str, float]


def influence(
    g: ig.Graph,
    *,
    weight: str | None = "weight",
    referrals: ig.Graph | None = None,
    weights: InfluenceWeights | None = None,
    damping: float = 0.85,
    n_samples: int | None = None,
    seed: int = 0,
    computed: Mapping[str, npt.ArrayLike] | None = None,
) -> InfluenceScores:
    """Score every customer's influence from PageRank, brokerage, core depth and reach.

    Each part becomes a percentile (the share of customers it beats), so parts with very
    different scales and tails mix fairly and every number can be read out as "beats 97 %
    of customers on PageRank".

    Parameters
    ----------
    g : igraph.Graph
        The customer tie graph, vertices carrying ``"id"``.
    weight : str or None, default "weight"
        Tie strength for PageRank (brokerage and core depth count hops and ties).
    referrals : igraph.Graph, optional
        Directed referral graph (see :func:`referral_reach`), matched to ``g`` by ``"id"``;
        customers absent from it have no reach.
    weights : InfluenceWeights, optional
        Part weights; :class:`InfluenceWeights()` by default.
    damping : float, default 0.85
        PageRank damping.
    n_samples : int, optional
        Brokerage sources (see :func:`brokerage`).
    seed : int, default 0
        Seed for the brokerage sample.
    computed : mapping of str to array, optional
        Parts already computed elsewhere (``"pagerank"``, ``"brokerage"``, ``"core"``: one
        value per vertex in ``g``'s order), e.g. by Neo4j GDS on the server
        (:mod:`quanzi.graph.gds`); they are used as given and not computed here.

    Returns
    -------
    InfluenceScores

    Examples
    --------
    >>> import igraph as ig
    >>> g = ig.Graph.Star(6)
    >>> g.vs["id"] = list("abcdef")
    >>> scores = influence(g, weight=None)
    >>> top_influencers(scores, 1)[0].id
    'a'
    """
    chosen = weights or InfluenceWeights()
    n = g.vcount()
    raw: dict[str, FloatArray] = {}
    for name, values in (computed or {}).items():
        if name not in {"pagerank", "brokerage", "core"}:
            raise InputError(f"computed part {name!r}: give pagerank, brokerage or core")
        part = np.asarray(values, dtype=np.float64)
        if part.shape != (n,):
            raise InputError(
                f"computed part {name!r} has {part.size} values for {n} vertices: give one "
                "per vertex, in the graph's vertex order"
            )
        if float(getattr(chosen, name)) > 0:
            raw[name] = part
    # Converting igraph's edge list is a large share of the time on big graphs: one matrix
    # serves PageRank and, by its pattern, brokerage.
    wanted = {
        name for name in ("pagerank", "brokerage") if getattr(chosen, name) > 0 and name not in raw
    }
    ties = adjacency(g, weight) if wanted else None
    if "pagerank" in wanted:
        raw["pagerank"] = pagerank(ties, damping=damping)
    if "brokerage" in wanted:
        raw["brokerage"] = _brokerage(
            g,
            weight=None,
            n_samples=n_samples,
            work_budget=BROKERAGE_WORK_BUDGET,
            seed=seed,
            normalized=True,
            reliability=BROKERAGE_RELIABILITY,
            ties=None if g.is_directed() else ties,
        )
    if chosen.core > 0 and "core" not in raw:
        raw["core"] = core_depth(g).astype(np.float64)
    if chosen.reach > 0 and referrals is not None:
        reach = referral_reach(referrals)
        by_id = dict(zip(reach.ids, reach.total.tolist(), strict=True))
        raw["reach"] = np.array([by_id.get(v, 0) for v in vertex_ids(g)], dtype=np.float64)
    total_weight = sum(float(getattr(chosen, name)) for name in raw)
    used = {name: float(getattr(chosen, name)) / total_weight for name in raw}
    percentile = {name: percentile_scores(values) for name, values in raw.items()}
    score = np.zeros(n, dtype=np.float64)
    for name, w in used.items():
        score += w * percentile[name]
    return InfluenceScores(vertex_ids(g), score, raw, percentile, used)


def top_influencers(
    scores: InfluenceScores, k: int = 10, *, within: Collection[str] | None = None
) -> list[Influencer]:
    """Return the ``k`` most influential customers, overall or within a set of customers.

    Parameters
    ----------
    scores : InfluenceScores
        From :func:`influence`.
    k : int, default 10
        How many.
    within : collection of str, optional
        Only these customers (a circle's members, a group, one employee's book); ids not
        in the graph are ignored.

    Returns
    -------
    list of Influencer
        Best first; ties break by id.

    Examples
    --------
    >>> import igraph as ig
    >>> g = ig.Graph.Star(6)
    >>> g.vs["id"] = list("abcdef")
    >>> best = top_influencers(influence(g, weight=None), 2, within={"b", "c"})
    >>> [person.id for person in best]
    ['b', 'c']
    """
    if within is None:
        pool = np.arange(len(scores.ids), dtype=np.int64)
    else:
        index = {v: i for i, v in enumerate(scores.ids)}
        pool = np.unique(np.asarray([index[v] for v in within if v in index], dtype=np.int64))
    ids = np.asarray(scores.ids, dtype=object)[pool] if len(pool) else np.zeros(0, dtype=object)
    order = np.lexsort((ids, -scores.score[pool]))[:k]
    return [
        Influencer(
            id=scores.ids[i],
            score=float(scores.score[i]),
            contributions={
                name: w * float(scores.percentile[name][i]) for name, w in scores.weights.items()
            },
            raw={name: float(values[i]) for name, values in scores.raw.items()},
        )
        for i in pool[order].tolist()
    ]
