"""Circles: communities of customers found with the Leiden algorithm.

A circle (圈子) is a group of customers who are more tied to each other than to the rest.
The pieces, in the order a run uses them:

1. :func:`build_tie_graph` merges the tie layers into one weighted customer–customer graph:
   direct ties (knows / interacts) and, with configurable weights, shared groups, shared
   interests and shared employees projected from their memberships.
2. :func:`detect_circles` runs Leiden on it (modularity or CPM, a resolution, a seed).
   :func:`detect_circle_hierarchy` re-runs it inside large circles: circles inside circles.
3. :func:`match_circles` pairs a new run's circles with the previous run's by member
   overlap, so a circle a marketer named keeps its id.
4. :func:`describe_circles` says what each circle is: its kind (from the tie layer that
   holds it together), its leaders, its most common attributes.

Engine choice, measured (see ``docs/algorithms.md``): a single weighted layer under
modularity runs on ``cluster_libreville`` (package ``sc-cluster-libreville``), a Leiden in
Rust that uses every core and gives the same circles for a seed whatever the number of
threads (0.98 s on 100k nodes / 1.5M edges at mixing 0.5 on 2 cores, against 1.98 s for
igraph's built-in C Leiden and 0.86 s for networkit's parallel Leiden, which is not
reproducible). The Constant Potts Model runs on igraph's C Leiden (``engine="igraph"``
runs modularity there too); several layers optimised together as a multiplex run on
``leidenalg``, the only one that offers it.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import cluster_libreville
import igraph as ig
import leidenalg
import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.optimize import linear_sum_assignment
from scipy.sparse.csgraph import connected_components

from quanzi.algorithms._matrix import adjacency, edge_array, edge_weights, vertex_ids
from quanzi.errors import InputError

__all__ = [
    "DEFAULT_CIRCLE_KINDS",
    "ONE_ITERATION_EDGES",
    "CircleDescription",
    "CircleMatch",
    "LayerWeights",
    "Partition",
    "build_tie_graph",
    "circle_kind",
    "circle_leaders",
    "describe_circles",
    "detect_circle_hierarchy",
    "detect_circles",
    "match_circles",
    "partition_from_membership",
    "top_attributes",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
Objective = Literal["modularity", "cpm"]
Engine = Literal["libreville", "igraph"]

#: Above this many edges Leiden runs one iteration by default instead of two. Measured on
#: LFR graphs of 100k nodes / 1.5M edges (``docs/algorithms.md``): the second iteration
#: doubles the time and finds no better circles (NMI 0.887 vs 0.884 at mixing 0.3, 0.796
#: vs 0.785 at 0.5). On the generator's customer graphs it adds 0.01-0.02 NMI at every size
#: measured, for little time on small ones, so those keep it; pass ``n_iterations=2`` to
#: keep it on a large one too.
ONE_ITERATION_EDGES = 1_000_000

#: Tie layer (edge attribute written by :func:`build_tie_graph`) -> circle kind shown to users.
#: Shared employees read as "colleague": customers served by one account manager are, in the
#: business-to-business case, mostly staff of one client company. Pass your own mapping to
#: :func:`describe_circles` where that does not hold.
DEFAULT_CIRCLE_KINDS: Mapping[str, str] = {
    "tie": "friend",
    "employee": "colleague",
    "group": "group",
    "interest": "interest",
}


@dataclass(frozen=True)
class LayerWeights:
    """How much each tie layer counts in the merged customer–customer graph.

    Attributes
    ----------
    tie : float
        Direct ties (knows / interacts), multiplied with the tie graph's edge weight.
    group : float
        Shared customer groups / chat groups.
    interest : float
        Shared interests. Low by default: a shared interest says less about who belongs
        together than a shared group.
    employee : float
        Shared employees (both customers added the same salesperson).

    Examples
    --------
    >>> LayerWeights(interest=0.0)  # shared interests left out
    LayerWeights(tie=1.0, group=0.5, interest=0.0, employee=0.3)
    """

    tie: float = 1.0
    group: float = 0.5
    interest: float = 0.2
    employee: float = 0.3

    def __post_init__(self) -> None:
        for name in ("tie", "group", "interest", "employee"):
            if getattr(self, name) < 0:
                raise InputError(f"layer weight {name!r} must be >= 0")


@dataclass(frozen=True)
class Partition:
    """One level of circles: every vertex belongs to exactly one circle.

    Attributes
    ----------
    ids : tuple of str
        Customer id of each vertex, in vertex order.
    membership : ndarray of int64
        Circle number of each vertex. Circles are numbered 0..k-1 from the largest down.
    keys : tuple of str
        Key of each circle, by circle number: ``"3"`` at the top level, ``"3.1"`` for the
        second sub-circle of circle 3. A circle that was not split keeps its parent's key.
    parent : ndarray of int64
        Circle number, one level up, of each circle (all -1 at the top level).
    modularity : float
        Weighted modularity of this level on the graph it was computed on.

    Examples
    --------
    >>> import igraph as ig
    >>> g = ig.Graph([(0, 1), (1, 2), (0, 2), (3, 4)])
    >>> g.vs["id"] = list("abcde")
    >>> p = detect_circles(g, weight=None)
    >>> p.n_circles, p.sizes().tolist(), p.circles()["1"]
    (2, [3, 2], ['d', 'e'])
    """

    ids: tuple[str, ...]
    membership: IntArray
    keys: tuple[str, ...]
    parent: IntArray
    modularity: float

    @property
    def n_circles(self) -> int:
        """Number of circles."""
        return len(self.keys)

    def sizes(self) -> IntArray:
        """Return the number of members of each circle, by circle number."""
        return np.bincount(self.membership, minlength=self.n_circles).astype(np.int64)

    def circles(self) -> dict[str, list[str]]:
        """Return ``{circle key: [member ids]}``, members in vertex order."""
        members: dict[str, list[str]] = {key: [] for key in self.keys}
        for vid, c in zip(self.ids, self.membership.tolist(), strict=True):
            members[self.keys[c]].append(vid)
        return members


class CircleMatch(NamedTuple):
    """How a new run's circles map onto the previous run's circle ids.

    Attributes
    ----------
    mapping : dict of str to str
        New circle key -> previous circle id, for matched circles only. The matching is
        one-to-one: no previous id appears twice.
    similarity : dict of str to float
        New circle key -> Jaccard overlap with the previous circle it matched.
    unmatched_new : list of str
        New circle keys with no previous circle (give them fresh ids).
    unmatched_previous : list of str
        Previous circle ids no new circle took over (retire them).

    Examples
    --------
    >>> import igraph as ig
    >>> g = ig.Graph([(0, 1), (1, 2), (0, 2), (3, 4)])
    >>> g.vs["id"] = list("abcde")
    >>> match = match_circles({"K7": ["a", "b", "c"]}, detect_circles(g, weight=None))
    >>> match.mapping, match.unmatched_new, match.unmatched_previous
    ({'0': 'K7'}, ['1'], [])
    """

    mapping: dict[str, str]
    similarity: dict[str, float]
    unmatched_new: list[str]
    unmatched_previous: list[str]


@dataclass(frozen=True)
class CircleDescription:
    """What a circle is, in the marketer's words.

    Attributes
    ----------
    key : str
        The circle's key in its :class:`Partition`.
    size : int
        Number of members.
    kind : str
        The kind of the tie layer that carries most of the weight inside the circle
        (``"friend"``, ``"colleague"``, ``"group"``, ``"interest"``); ``"unconnected"``
        when no tie lies inside it.
    layer_shares : dict of str to float
        Share of the circle's internal tie weight held by each layer (sums to 1).
    leaders : list of (str, float)
        Most influential members with their score, best first.
    top_attributes : dict of str to list of (str, int)
        For each attribute passed in (interest, tag, tier, employee, ...), the most common
        values among members with their member counts.
    means : dict of str to float
        For each numeric score passed in (e.g. churn risk), the members' mean.

    Examples
    --------
    >>> import igraph as ig
    >>> g = ig.Graph([(0, 1), (1, 2), (0, 2), (3, 4)])
    >>> g.vs["id"] = list("abcde")
    >>> first = describe_circles(g, detect_circles(g, weight=None), weight=None)[0]
    >>> first.key, first.size, first.kind
    ('0', 3, 'friend')
    """

    key: str
    size: int
    kind: str
    layer_shares: dict[str, float]
    leaders: list[tuple[str, float]]
    top_attributes: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    means: dict[str, float] = field(default_factory=dict)


# --------------------------------------------------------------------------- tie graph


def _incidence(
    memberships: Mapping[str, Iterable[str]],
    index: Mapping[str, int],
    n: int,
    *,
    min_size: int,
    max_size: int,
) -> sp.csr_array:
    """Customer x affiliation matrix of the affiliations with ``min_size`` to ``max_size``
    members, each membership valued ``1/sqrt(size-1)``: the product with its transpose
    gives every pair sharing an affiliation of size s the weight 1/(s-1)."""
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for column, aff in enumerate(sorted(memberships)):
        members = sorted({index[m] for m in memberships[aff] if m in index})
        size = len(members)
        if size < max(2, min_size) or size > max_size:
            continue
        rows.extend(members)
        cols.extend([column] * size)
        vals.extend([1.0 / np.sqrt(size - 1)] * size)
    return sp.csr_array((vals, (rows, cols)), shape=(n, max(len(memberships), 1)))


def _affiliation_pairs(
    memberships: Mapping[str, Iterable[str]],
    index: Mapping[str, int],
    n: int,
    max_size: int,
) -> tuple[IntArray, IntArray, FloatArray]:
    """Project affiliation -> members onto customer pairs, each sharing weighted 1/(size-1).

    The 1/(size-1) weighting (Newman's, for co-authorship) gives every member the same
    total strength from one affiliation whatever its size, so a 200-member chat group
    does not outweigh a 5-member one. Affiliations above ``max_size`` are skipped here.
    """
    incidence = _incidence(memberships, index, n, min_size=2, max_size=max_size)
    shared = sp.triu(incidence @ incidence.T, k=1).tocoo()
    return (
        shared.row.astype(np.int64),
        shared.col.astype(np.int64),
        shared.data.astype(np.float64),
    )


def _shared_on_pairs(
    memberships: Mapping[str, Iterable[str]],
    index: Mapping[str, int],
    n: int,
    pairs: tuple[IntArray, IntArray],
    *,
    min_size: int,
    max_size: int,
) -> FloatArray:
    """For each given pair, the 1/(s-1) weights of the affiliations with ``min_size`` to
    ``max_size`` members that both share (0 where they share none)."""
    incidence = _incidence(memberships, index, n, min_size=min_size, max_size=max_size)
    a, b = pairs
    if len(a) == 0 or incidence.nnz == 0:
        return np.zeros(len(a), dtype=np.float64)
    # A batch of rows at a time keeps the element-wise product's memory bounded.
    out = np.empty(len(a), dtype=np.float64)
    step = 200_000
    for start in range(0, len(a), step):
        stop = start + step
        both = incidence[a[start:stop]].multiply(incidence[b[start:stop]])
        out[start:stop] = np.asarray(both.sum(axis=1)).ravel()
    return out


def build_tie_graph(
    ties: ig.Graph | None = None,
    *,
    weight: str | None = "weight",
    groups: Mapping[str, Iterable[str]] | None = None,
    interests: Mapping[str, Iterable[str]] | None = None,
    employees: Mapping[str, Iterable[str]] | None = None,
    layer_weights: LayerWeights | None = None,
    customers: Iterable[str] | None = None,
    max_affiliation_size: int = 500,
    max_clique_size: int | None = 50,
) -> ig.Graph:
    """Merge the tie layers into one weighted, undirected customer–customer graph.

    Parameters
    ----------
    ties : igraph.Graph, optional
        Direct ties between customers, vertices carrying ``"id"``. A directed graph is
        folded: A->B and B->A add up. Self-loops are dropped.
    weight : str or None, default "weight"
        Edge attribute of ``ties`` holding the tie strength; None counts each tie as 1.
    groups, interests, employees : mapping of str to iterable of str, optional
        Affiliation id -> member customer ids (group members, people interested in a
        topic, customers who added an employee). Two customers sharing an affiliation of
        size s gain 1/(s-1), summed over the affiliations they share.
    layer_weights : LayerWeights, optional
        Multiplier of each layer; defaults to :class:`LayerWeights()`.
    customers : iterable of str, optional
        The vertex set. Defaults to every customer seen in ``ties`` (in its order) followed
        by the remaining affiliation members (sorted). Members outside it are ignored.
    max_affiliation_size : int, default 500
        Affiliations with more members than this are left out.
    max_clique_size : int or None, default 50
        Affiliations up to this size tie every pair of their members. Larger ones (an
        employee's whole book of customers, a popular interest) only add their weight to
        pairs already tied by a direct tie or a smaller shared affiliation: tying all s²/2
        pairs made most of the graph (2M edges for 5,000 customers, from 18k direct ties)
        and blurred the circles (measured in ``docs/algorithms.md``). None ties every pair
        of every affiliation up to ``max_affiliation_size``.

    Returns
    -------
    igraph.Graph
        Undirected; vertices carry ``"id"``; every edge carries ``"weight"`` (the merged
        strength) and one attribute per layer (``"tie"``, ``"group"``, ``"interest"``,
        ``"employee"``) holding that layer's weighted share of it, so that they sum to
        ``"weight"``.

    Examples
    --------
    >>> import igraph as ig
    >>> ties = ig.Graph([(0, 1)], vertex_attrs={"id": ["ann", "bob"]})
    >>> g = build_tie_graph(ties, weight=None, groups={"g1": ["bob", "cat"]})
    >>> g.vs["id"], g.ecount()
    (['ann', 'bob', 'cat'], 2)
    >>> g.es["tie"], g.es["group"]
    ([1.0, 0.0], [0.0, 0.5])

    A large affiliation (here above ``max_clique_size=2``) only strengthens existing ties:

    >>> g = build_tie_graph(ties, weight=None, employees={"e1": ["ann", "bob", "cat"]},
    ...                     max_clique_size=2)
    >>> g.ecount(), [round(w, 3) for w in g.es["employee"]]
    (1, [0.15])
    """
    weights = layer_weights or LayerWeights()
    clique_limit = max_affiliation_size if max_clique_size is None else max_clique_size
    layers = {"group": groups, "interest": interests, "employee": employees}
    if customers is not None:
        order = list(dict.fromkeys(customers))
    else:
        seen = dict.fromkeys(vertex_ids(ties)) if ties is not None else {}
        extra = {m for aff in layers.values() if aff for ms in aff.values() for m in ms}
        order = list(seen) + sorted(extra.difference(seen))
    index = {cid: i for i, cid in enumerate(order)}
    n = len(order)

    sources: list[IntArray] = []
    targets: list[IntArray] = []
    values: list[FloatArray] = []
    layer_of: list[IntArray] = []
    names = ["tie", "group", "interest", "employee"]
    if ties is not None and ties.ecount() > 0:
        local = np.array([index.get(cid, -1) for cid in vertex_ids(ties)] or [-1], dtype=np.int64)
        edges = edge_array(ties)
        a, b = local[edges[:, 0]], local[edges[:, 1]]
        keep = (a >= 0) & (b >= 0) & (a != b)
        sources.append(np.minimum(a, b)[keep])
        targets.append(np.maximum(a, b)[keep])
        values.append(edge_weights(ties, weight)[keep] * weights.tie)
        layer_of.append(np.zeros(int(keep.sum()), dtype=np.int64))
    for layer_no, name in enumerate(names[1:], start=1):
        memberships = layers[name]
        multiplier = float(getattr(weights, name))
        if not memberships or multiplier == 0:
            continue
        a, b, v = _affiliation_pairs(memberships, index, n, min(clique_limit, max_affiliation_size))
        sources.append(a)
        targets.append(b)
        values.append(v * multiplier)
        layer_of.append(np.full(len(a), layer_no, dtype=np.int64))

    g = ig.Graph(n=n, directed=False, vertex_attrs={"id": order})
    if not sources or sum(len(s) for s in sources) == 0:
        for name in ["weight", *names]:
            g.es[name] = []
        return g
    src, dst = np.concatenate(sources), np.concatenate(targets)
    val, lay = np.concatenate(values), np.concatenate(layer_of)
    pair_key, inverse = np.unique(src * n + dst, return_inverse=True)
    pairs = (pair_key // n, pair_key % n)
    g.add_edges(np.column_stack(pairs))
    per_layer = np.zeros((len(names), len(pair_key)), dtype=np.float64)
    np.add.at(per_layer, (lay, inverse), val)
    if clique_limit < max_affiliation_size:
        for layer_no, name in enumerate(names[1:], start=1):
            memberships = layers[name]
            multiplier = float(getattr(weights, name))
            if memberships and multiplier > 0:
                per_layer[layer_no] += multiplier * _shared_on_pairs(
                    memberships,
                    index,
                    n,
                    pairs,
                    min_size=clique_limit + 1,
                    max_size=max_affiliation_size,
                )
    for row, name in enumerate(names):
        g.es[name] = per_layer[row].tolist()
    g.es["weight"] = per_layer.sum(axis=0).tolist()
    return g


# --------------------------------------------------------------------------- detection


@contextmanager
def _igraph_seeded(seed: int) -> Iterator[None]:
    """Run igraph's randomised C code from a seeded generator, then restore the default.

    igraph keeps one process-wide generator; calls from several threads at once are not
    deterministic.
    """
    ig.set_random_number_generator(random.Random(seed))  # noqa: S311 - reproducible, not secret
    try:
        yield
    finally:
        ig.set_random_number_generator(random)


def _renumber(membership: npt.ArrayLike) -> IntArray:
    """Number circles 0..k-1 by decreasing size, ties by their first vertex."""
    labels = np.asarray(membership, dtype=np.int64)
    if labels.size == 0:
        return labels
    _, first, inverse, counts = np.unique(
        labels, return_index=True, return_inverse=True, return_counts=True
    )
    order = np.lexsort((first, -counts))
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[inverse].astype(np.int64)


def _modularity(g: ig.Graph, membership: IntArray, weight: str | None) -> float:
    """Weighted modularity; ``weight`` names an attribute already checked by
    :func:`edge_weights` (igraph reads it directly: no copy through numpy)."""
    if g.ecount() == 0:
        return 0.0
    quality = float(g.modularity(membership.tolist(), weights=weight))
    # every tie of weight 0: igraph divides by the total weight (NaN is not valid JSON)
    return 0.0 if math.isnan(quality) else quality


def _iterations(g: ig.Graph, n_iterations: int | None) -> int:
    """Leiden iterations for ``g``: as given, else 2, or 1 above :data:`ONE_ITERATION_EDGES`."""
    if n_iterations is not None:
        return n_iterations
    return 1 if g.ecount() > ONE_ITERATION_EDGES else 2


def _leiden_membership(
    g: ig.Graph,
    *,
    weight: str | None,
    objective: Objective,
    resolution: float,
    seed: int,
    layers: Mapping[str, float] | None,
    n_iterations: int | None,
    engine: Engine = "libreville",
) -> IntArray:
    if g.ecount() == 0:
        return np.arange(g.vcount(), dtype=np.int64)
    n_iterations = _iterations(g, n_iterations)
    if layers:
        return _multiplex_membership(
            g,
            objective=objective,
            resolution=resolution,
            seed=seed,
            layers=layers,
            n_iterations=n_iterations,
        )
    if objective == "modularity" and engine == "libreville":
        return _libreville_membership(
            g, weight=weight, resolution=resolution, seed=seed, n_iterations=n_iterations
        )
    with _igraph_seeded(seed):
        clustering = g.community_leiden(
            objective_function="CPM" if objective == "cpm" else "modularity",
            weights=weight,
            resolution=resolution,
            n_iterations=n_iterations,
        )
    return np.asarray(clustering.membership, dtype=np.int64)


def _libreville_membership(
    g: ig.Graph, *, weight: str | None, resolution: float, seed: int, n_iterations: int
) -> IntArray:
    """Modularity Leiden on every core, the same circles for a seed at any thread count."""
    matrix = adjacency(g, weight, directed=False)
    loops = matrix.diagonal()
    if loops.any():
        # igraph's modularity (the one reported) counts a self-loop twice in its vertex's
        # degree and in its circle's internal weight: so does a doubled diagonal.
        matrix = sp.csr_array(matrix + sp.diags_array(loops))
    labels = cluster_libreville.leiden(
        matrix,
        resolution=resolution,
        seed=seed % 2**64,
        n_iterations=max(n_iterations, -1),
        check_symmetry=False,  # symmetric by construction
    )
    return np.asarray(labels, dtype=np.int64)


def _multiplex_membership(
    g: ig.Graph,
    *,
    objective: Objective,
    resolution: float,
    seed: int,
    layers: Mapping[str, float],
    n_iterations: int,
) -> IntArray:
    partition_type = (
        leidenalg.CPMVertexPartition
        if objective == "cpm"
        else leidenalg.RBConfigurationVertexPartition
    )
    partitions = []
    layer_weights = []
    for name, multiplier in layers.items():
        if name not in g.es.attributes():
            raise InputError(
                f"layer {name!r} is not an edge attribute; build the graph with "
                "build_tie_graph or name existing attributes"
            )
        values = edge_weights(g, name)
        layer = g.subgraph_edges(np.flatnonzero(values > 0).tolist(), delete_vertices=False)
        partitions.append(partition_type(layer, weights=name, resolution_parameter=resolution))
        layer_weights.append(float(multiplier))
    optimiser = leidenalg.Optimiser()
    optimiser.set_rng_seed(seed)
    optimiser.optimise_partition_multiplex(
        partitions, layer_weights=layer_weights, n_iterations=n_iterations
    )
    return np.asarray(partitions[0].membership, dtype=np.int64)


def detect_circles(
    g: ig.Graph,
    *,
    weight: str | None = "weight",
    objective: Objective = "modularity",
    resolution: float = 1.0,
    seed: int = 0,
    layers: Mapping[str, float] | None = None,
    n_iterations: int | None = None,
    engine: Engine = "libreville",
) -> Partition:
    """Find circles with the Leiden algorithm.

    Parameters
    ----------
    g : igraph.Graph
        Undirected customer–customer graph, vertices carrying ``"id"`` (see
        :func:`build_tie_graph`).
    weight : str or None, default "weight"
        Edge attribute with the tie strength; None treats every edge alike.
    objective : {"modularity", "cpm"}, default "modularity"
        Modularity finds circles relative to a random graph with the same degrees; the
        Constant Potts Model (CPM) asks each circle for internal density above
        ``resolution`` and has no resolution limit.
    resolution : float, default 1.0
        Higher gives more, smaller circles. For CPM it is a density, in weight units.
    seed : int, default 0
        Same seed, same graph, same circles.
    layers : mapping of str to float, optional
        Optimise these edge attributes as a multiplex, each with its own null model,
        weighted by the given layer weights (``leidenalg``; slower). When omitted the
        single ``weight`` layer runs on igraph's faster built-in Leiden.
    n_iterations : int, optional
        Leiden iterations; a negative number iterates until nothing improves. By default 2,
        or 1 on graphs with more than :data:`ONE_ITERATION_EDGES` edges, where a second
        iteration doubles the time for no better circles (measured on LFR graphs); pass
        2 there to spend the time anyway. Every iteration ends with Leiden's refinement,
        so each circle is connected whatever the count. Measured on LFR graphs,
        iterating until stable took 2-3x as long for the same NMI.
    engine : {"libreville", "igraph"}, default "libreville"
        Which Leiden runs a single layer under modularity: ``cluster_libreville`` (on every
        core; the same circles for a seed at any number of threads) or igraph's C Leiden
        (one core; the engine of Quanzi before 0.2, for circles found then). The two find
        different circles of the same quality for one seed. CPM always runs on igraph,
        ``layers`` on ``leidenalg``.

    Returns
    -------
    Partition
        Every vertex in exactly one circle, circles numbered from the largest.

    Examples
    --------
    Two triangles joined by one edge are two circles:

    >>> import igraph as ig
    >>> g = ig.Graph([(0, 1), (1, 2), (0, 2), (3, 4), (4, 5), (3, 5), (2, 3)])
    >>> g.vs["id"] = list("abcdef")
    >>> detect_circles(g, weight=None).circles()
    {'0': ['a', 'b', 'c'], '1': ['d', 'e', 'f']}
    """
    if g.is_directed():
        raise InputError(
            "circles need an undirected graph; fold it with g.as_undirected('collapse')"
        )
    edge_weights(g, weight)  # checked once here; igraph then reads the attribute itself
    found = _leiden_membership(
        g,
        weight=weight,
        objective=objective,
        resolution=resolution,
        seed=seed,
        layers=layers,
        n_iterations=n_iterations,
        engine=engine,
    )
    return partition_from_membership(g, found, weight=weight)


def partition_from_membership(
    g: ig.Graph, membership: npt.ArrayLike, *, weight: str | None = "weight"
) -> Partition:
    """A top-level :class:`Partition` of ``g`` from circle labels found elsewhere.

    For circles computed outside this module, e.g. by Neo4j GDS on the server
    (:mod:`quanzi.graph.gds`): labels of any kind, one per vertex in ``g``'s order, are
    renumbered from the largest circle as :func:`detect_circles` numbers them, and the
    modularity is measured on ``g``.

    Examples
    --------
    >>> import igraph as ig
    >>> g = ig.Graph([(0, 1), (1, 2), (0, 2), (3, 4)])
    >>> g.vs["id"] = list("abcde")
    >>> partition_from_membership(g, [7, 7, 7, 2, 2], weight=None).circles()
    {'0': ['a', 'b', 'c'], '1': ['d', 'e']}
    """
    labels = np.asarray(membership)
    if labels.shape != (g.vcount(),):
        raise InputError(
            f"membership has {labels.size} labels for a graph of {g.vcount()} vertices: "
            "give one label per vertex, in the graph's vertex order"
        )
    renumbered = _renumber(np.unique(labels, return_inverse=True)[1].reshape(-1))
    k = int(renumbered.max()) + 1 if renumbered.size else 0
    return Partition(
        ids=vertex_ids(g),
        membership=renumbered,
        keys=tuple(str(i) for i in range(k)),
        parent=np.full(k, -1, dtype=np.int64),
        modularity=_modularity(g, renumbered, weight),
    )


def _null_model(g: ig.Graph, weight: str | None, seed: int) -> ig.Graph:
    """A random graph with the same degrees (configuration model) and the same weights."""
    degrees = np.asarray(g.degree(), dtype=np.int64)
    rng = np.random.default_rng(seed)
    stubs = rng.permutation(np.repeat(np.arange(g.vcount(), dtype=np.int64), degrees))
    null = ig.Graph(n=g.vcount(), edges=stubs.reshape(-1, 2))
    null.es["weight"] = rng.permutation(edge_weights(g, weight)).tolist()
    return null


def _has_sub_circles(
    sub: ig.Graph,
    membership: IntArray,
    *,
    weight: str | None,
    seed: int,
    significance: float,
    n_iterations: int | None,
    engine: Engine,
) -> bool:
    """Whether a split beats, by ``significance``, what Leiden finds in a random copy.

    The random copy gets the same Leiden engine and as many iterations as the split did, so
    both sides of the comparison search equally hard.
    """
    if membership.max(initial=0) == 0 or sub.ecount() == 0:
        return False
    real = _modularity(sub, membership, weight)
    null = _null_model(sub, weight, seed)
    found = _leiden_membership(
        null,
        weight="weight",
        objective="modularity",
        resolution=1.0,
        seed=seed,
        layers=None,
        n_iterations=_iterations(sub, n_iterations),
        engine=engine,
    )
    return real - _modularity(null, found, "weight") >= significance


def detect_circle_hierarchy(
    g: ig.Graph,
    *,
    weight: str | None = "weight",
    objective: Objective = "modularity",
    resolution: float = 1.0,
    seed: int = 0,
    layers: Mapping[str, float] | None = None,
    n_iterations: int | None = None,
    max_circle_size: int = 30,
    significance: float = 0.1,
    max_levels: int = 3,
    engine: Engine = "libreville",
    top: Partition | None = None,
) -> list[Partition]:
    """Find circles, then circles inside circles where there is real structure inside.

    Each level re-runs Leiden on the subgraph of every circle larger than
    ``max_circle_size``. Modularity measured inside one circle sees structure that
    whole-graph modularity merges away (its resolution limit), so a circle made of two
    groups splits. But Leiden finds some split in any graph, even a random one, so a
    circle splits only when its sub-circles' modularity beats by ``significance`` the
    modularity Leiden finds in a random graph with the same degrees and weights (a
    configuration model of the circle). Measured on LFR graphs (see
    ``docs/algorithms.md``), the finest level recovers the planted communities much better
    than the top level when communities are small relative to the graph.

    Parameters
    ----------
    g, weight, objective, resolution, seed, layers, n_iterations, engine
        As in :func:`detect_circles` (the default iteration count is chosen per graph, so
        the circles' subgraphs get 2). With ``layers`` the split itself is a multiplex
        run; the significance test uses ``weight`` and as many iterations as the split.
    max_circle_size : int, default 30
        Only circles larger than this are searched for sub-circles.
    significance : float, default 0.1
        Modularity a split must gain over the random copy's; 0 splits whenever Leiden
        finds anything, a negative value always splits.
    max_levels : int, default 3
        At most this many levels, the top one included.
    top : Partition, optional
        The top level, already found (e.g. by Neo4j GDS on the server, through
        :func:`partition_from_membership`); only the levels below it are searched here.

    Returns
    -------
    list of Partition
        Level 0 first. Every level covers every vertex exactly once; a circle that did not
        split appears unchanged (same key) on the next level; ``parent`` links levels.
        Stops early when no circle splits.

    Examples
    --------
    A ring of 24 four-cliques, each tied to the next by one edge: whole-graph modularity
    merges neighbouring cliques (its resolution limit); the next level splits them again.

    >>> import igraph as ig
    >>> g = ig.Graph.Full(4) * 24
    >>> g.add_edges([(4 * i, (4 * i + 5) % 96) for i in range(24)])
    >>> levels = detect_circle_hierarchy(g, weight=None, max_circle_size=4)
    >>> [level.n_circles for level in levels], levels[1].keys[:3]
    ([13, 24], ('0.0', '0.1', '1.0'))
    """
    options = {
        "objective": objective,
        "resolution": resolution,
        "seed": seed,
        "layers": layers,
        "n_iterations": n_iterations,
        "engine": engine,
    }
    if top is not None and top.ids != vertex_ids(g):
        raise InputError("the top level given is not a partition of this graph's vertices")
    levels = [top if top is not None else detect_circles(g, weight=weight, **options)]  # type: ignore[arg-type]
    while len(levels) < max_levels:
        upper = levels[-1]
        sizes = upper.sizes()
        by_circle = np.argsort(upper.membership, kind="stable")
        starts = np.concatenate([[0], np.cumsum(sizes)])
        membership = np.empty_like(upper.membership)
        keys: list[str] = []
        parents: list[int] = []
        for circle in range(upper.n_circles):
            members = by_circle[starts[circle] : starts[circle + 1]]
            sub_membership = np.zeros(len(members), dtype=np.int64)
            if sizes[circle] > max_circle_size:
                sub = g.induced_subgraph(members.tolist())
                found = _renumber(_leiden_membership(sub, weight=weight, **options))  # type: ignore[arg-type]
                if _has_sub_circles(
                    sub,
                    found,
                    weight=weight,
                    seed=seed,
                    significance=significance,
                    n_iterations=n_iterations,
                    engine=engine,
                ):
                    sub_membership = found
            n_sub = int(sub_membership.max()) + 1
            membership[members] = len(keys) + sub_membership
            if n_sub == 1:
                keys.append(upper.keys[circle])
            else:
                keys.extend(f"{upper.keys[circle]}.{j}" for j in range(n_sub))
            parents.extend([circle] * n_sub)
        if len(keys) == upper.n_circles:
            break
        levels.append(
            Partition(
                ids=upper.ids,
                membership=membership,
                keys=tuple(keys),
                parent=np.asarray(parents, dtype=np.int64),
                modularity=_modularity(g, membership, weight),
            )
        )
    return levels


# --------------------------------------------------------------------------- stable ids


def match_circles(
    previous: Mapping[str, Collection[str]],
    new: Partition | Mapping[str, Collection[str]],
    *,
    min_similarity: float = 0.2,
) -> CircleMatch:
    """Pair new circles with previous ones by member overlap, so circle ids stay stable.

    The pairing maximises the total Jaccard overlap (Hungarian algorithm), solved per
    connected group of overlapping circles so it stays fast with many thousands of circles.
    Pairs below ``min_similarity`` are never matched.

    Parameters
    ----------
    previous : mapping of str to collection of str
        Previous circle id -> member customer ids.
    new : Partition or mapping of str to collection of str
        The new circles (a :class:`Partition`'s keys, or key -> members).
    min_similarity : float, default 0.2
        Smallest Jaccard overlap that still counts as "the same circle".

    Returns
    -------
    CircleMatch
        One-to-one mapping new key -> previous id, with the overlaps and the leftovers.

    Examples
    --------
    >>> previous = {"vip-golfers": ["a", "b", "c"], "old": ["x", "y"]}
    >>> match = match_circles(previous, {"0": ["a", "b", "c", "d"], "1": ["e", "f"]})
    >>> match.mapping, match.unmatched_new, match.unmatched_previous
    ({'0': 'vip-golfers'}, ['1'], ['old'])
    """
    new_members = new.circles() if isinstance(new, Partition) else new
    prev_ids = sorted(previous)
    new_keys = sorted(new_members)
    owner: dict[str, list[int]] = defaultdict(list)
    for p, pid in enumerate(prev_ids):
        for member in set(previous[pid]):
            owner[member].append(p)
    prev_size = np.array([len(set(previous[pid])) for pid in prev_ids], dtype=np.float64)
    rows: list[int] = []
    cols: list[int] = []
    sims: list[float] = []
    for q, key in enumerate(new_keys):
        members = set(new_members[key])
        overlap = Counter(p for m in members for p in owner.get(m, ()))
        for p, inter in overlap.items():
            jaccard = inter / (prev_size[p] + len(members) - inter)
            if jaccard >= min_similarity and jaccard > 0:
                rows.append(p)
                cols.append(len(prev_ids) + q)
                sims.append(jaccard)

    mapping: dict[str, str] = {}
    similarity: dict[str, float] = {}
    if rows:
        size = len(prev_ids) + len(new_keys)
        bipartite = sp.coo_array((sims, (rows, cols)), shape=(size, size))
        _, component = connected_components(bipartite, directed=False)
        edge_component = component[np.asarray(rows)]
        for comp in np.unique(edge_component):
            picked = np.flatnonzero(edge_component == comp)
            r_nodes = sorted({rows[i] for i in picked})
            c_nodes = sorted({cols[i] for i in picked})
            r_at = {r: i for i, r in enumerate(r_nodes)}
            c_at = {c: i for i, c in enumerate(c_nodes)}
            block = np.zeros((len(r_nodes), len(c_nodes)))
            for i in picked:
                block[r_at[rows[i]], c_at[cols[i]]] = sims[i]
            for r, c in zip(*linear_sum_assignment(block, maximize=True), strict=True):
                if block[r, c] > 0:
                    key = new_keys[c_nodes[c] - len(prev_ids)]
                    mapping[key] = prev_ids[r_nodes[r]]
                    similarity[key] = float(block[r, c])
    taken = set(mapping.values())
    return CircleMatch(
        mapping=dict(sorted(mapping.items())),
        similarity=dict(sorted(similarity.items())),
        unmatched_new=[key for key in new_keys if key not in mapping],
        unmatched_previous=[pid for pid in prev_ids if pid not in taken],
    )


# --------------------------------------------------------------------------- description


def circle_kind(
    layer_weights: Mapping[str, float], *, kinds: Mapping[str, str] = DEFAULT_CIRCLE_KINDS
) -> tuple[str, dict[str, float]]:
    """Name a circle's kind from the tie weight each layer holds inside it.

    Parameters
    ----------
    layer_weights : mapping of str to float
        Layer (edge attribute) -> total weight of that layer on edges inside the circle.
    kinds : mapping of str to str
        Layer -> kind word; layers missing here keep their own name.

    Returns
    -------
    (str, dict of str to float)
        The dominant layer's kind (``"unconnected"`` when all weights are zero) and each
        layer's share of the total.

    Examples
    --------
    >>> circle_kind({"tie": 2.0, "group": 6.0})
    ('group', {'tie': 0.25, 'group': 0.75})
    """
    total = float(sum(layer_weights.values()))
    if total <= 0:
        return "unconnected", {name: 0.0 for name in layer_weights}
    shares = {name: float(w) / total for name, w in layer_weights.items()}
    dominant = max(shares, key=lambda name: (shares[name], name))
    return kinds.get(dominant, dominant), shares


def circle_leaders(
    members: Iterable[str], influence: Mapping[str, float], *, k: int = 3
) -> list[tuple[str, float]]:
    """Return the ``k`` members with the highest influence score, best first.

    Members without a score are left out; ties break by id.

    Examples
    --------
    >>> circle_leaders(["a", "b", "c"], {"a": 0.1, "b": 0.9, "c": 0.5}, k=2)
    [('b', 0.9), ('c', 0.5)]
    """
    scored = [(m, float(influence[m])) for m in members if m in influence]
    scored.sort(key=lambda item: (-item[1], item[0]))
    return scored[:k]


def top_attributes(
    members: Iterable[str], attributes: Mapping[str, Iterable[str]], *, k: int = 5
) -> list[tuple[str, int]]:
    """Return the ``k`` most common attribute values among members, with member counts.

    Parameters
    ----------
    members : iterable of str
        Customer ids.
    attributes : mapping of str to iterable of str
        Customer id -> values (interests, tags, a tier, employees, ...).
    k : int, default 5
        How many values.

    Examples
    --------
    >>> top_attributes(["a", "b"], {"a": ["golf", "wine"], "b": ["golf"]}, k=1)
    [('golf', 2)]
    """
    counts = Counter(v for m in members for v in set(attributes.get(m, ())))
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:k]


def describe_circles(
    g: ig.Graph,
    partition: Partition,
    *,
    weight: str | None = "weight",
    influence: Mapping[str, float] | None = None,
    attributes: Mapping[str, Mapping[str, Iterable[str]]] | None = None,
    scores: Mapping[str, Mapping[str, float]] | None = None,
    kinds: Mapping[str, str] = DEFAULT_CIRCLE_KINDS,
    n_leaders: int = 3,
    n_values: int = 5,
    only: Collection[str] | None = None,
) -> list[CircleDescription]:
    """Describe every circle of a partition: size, kind, leaders, top attributes, means.

    Parameters
    ----------
    g : igraph.Graph
        The graph the partition was computed on. Edge attributes named in ``kinds`` give
        the layer shares; without any, ``weight`` counts as the ``"tie"`` layer.
    partition : Partition
        The circles.
    weight : str or None, default "weight"
        Edge weight used when the graph has no layer attributes.
    influence : mapping of str to float, optional
        Customer id -> influence score, for the leaders.
    attributes : mapping of str to mapping of str to iterable of str, optional
        Attribute name (``"interest"``, ``"tag"``, ``"tier"``, ``"employee"``) -> customer
        id -> values; each gives a top-values list per circle.
    scores : mapping of str to mapping of str to float, optional
        Score name (``"churn_risk"``) -> customer id -> value; each gives a members' mean.
    kinds : mapping of str to str
        Layer -> kind word (see :data:`DEFAULT_CIRCLE_KINDS`).
    n_leaders, n_values : int
        How many leaders and attribute values per circle.
    only : collection of str, optional
        Describe only the circles with these keys (e.g. the sub-circles of a level whose
        other circles are the same as the level above).

    Returns
    -------
    list of CircleDescription
        By circle number.

    Examples
    --------
    >>> import igraph as ig
    >>> ties = ig.Graph([(0, 1), (1, 2), (0, 2)], vertex_attrs={"id": ["a", "b", "c"]})
    >>> g = build_tie_graph(ties, weight=None)
    >>> d = describe_circles(g, detect_circles(g), influence={"a": 0.2, "b": 0.7})[0]
    >>> d.size, d.kind, d.leaders
    (3, 'friend', [('b', 0.7), ('a', 0.2)])
    """
    membership = partition.membership
    k = partition.n_circles
    edges = edge_array(g)
    inside = membership[edges[:, 0]] == membership[edges[:, 1]] if len(edges) else np.zeros(0, bool)
    circle_of_edge = membership[edges[inside, 0]] if len(edges) else np.zeros(0, np.int64)
    layer_names = [name for name in kinds if name in g.es.attributes()]
    layer_values = {name: edge_weights(g, name) for name in layer_names} or {
        "tie": edge_weights(g, weight)
    }
    layer_totals = {
        name: np.bincount(circle_of_edge, weights=values[inside], minlength=k).astype(np.float64)
        for name, values in layer_values.items()
    }

    members = partition.circles()
    sizes = partition.sizes()
    descriptions = []
    for c, key in enumerate(partition.keys):
        if only is not None and key not in only:
            continue
        kind, shares = circle_kind(
            {name: float(total[c]) for name, total in layer_totals.items()}, kinds=kinds
        )
        ids = members[key]
        means = {}
        for name, values_by_id in (scores or {}).items():
            known = [float(values_by_id[m]) for m in ids if m in values_by_id]
            means[name] = float(np.mean(known)) if known else float("nan")
        descriptions.append(
            CircleDescription(
                key=key,
                size=int(sizes[c]),
                kind=kind,
                layer_shares=shares,
                leaders=circle_leaders(ids, influence or {}, k=n_leaders),
                top_attributes={
                    name: top_attributes(ids, values_by_id, k=n_values)
                    for name, values_by_id in (attributes or {}).items()
                },
                means=means,
            )
        )
    return descriptions
