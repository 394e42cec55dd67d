"""Lookalike prospecting: customers who resemble a set of seed customers, with reasons.

Given seeds (e.g. a team's 20 best buyers) and a candidate filter (prospects only, a tier,
a region), :func:`lookalikes` ranks candidates by a weighted mix of

- ``proximity`` — the probability that a short random walk (2 and 3 steps by default)
  from the candidate ends on a seed: the seeds' personalised walk scores, normalised by the
  candidate's tie strength so hubs do not win by size alone. Measured on LFR graphs it
  beat personalised PageRank from the seeds (damping 0.85) by a wide margin: PageRank's
  mass piles up on the seeds' direct contacts, half of whom lie outside their circle;
- ``adamic_adar`` — Adamic–Adar over contacts shared with the seeds (rare shared contacts
  count more);
- ``embedding`` — cosine similarity to the seeds' mean FastRP embedding
  (:func:`fastrp_embeddings`): a similar position in the network, even without shared
  contacts;
- ``attributes`` — shared circles, groups, interests (IDF-weighted: a value few people
  have counts more);
- ``profile`` — cosine similarity of profile features, when a feature matrix is given.

Each part is divided by its best value among the candidates, then the parts are mixed by
:class:`LookalikeWeights` (on LFR graphs this beat mixing rank percentiles: percentiles
flatten the large gaps that matter at the top). Each returned candidate is explained
with :class:`Reason` records (mutual contacts, seeds known directly, shared attribute
values, similarity).

A query reads only the seeds' neighbourhood: every product gathers the rows the seeds'
walks reached, and nearest neighbours over embeddings are searched exactly, one
matrix-vector product over the customers reached (all of them when that is most); 26-32
ms of CPU per query at 100k customers with three expansion rounds, measured in
``benchmarks/lookalike.py`` (see docs/algorithms.md). An approximate index would only pay
off far beyond that.

:func:`jaccard_baseline` and :func:`degree_baseline` are the simple rankings the benchmark
compares against.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Self

import igraph as ig
import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from quanzi.algorithms._block_model import community_probability, partitions
from quanzi.algorithms._matrix import adjacency, vertex_ids
from quanzi.errors import InputError

__all__ = [
    "EXPANSION_ROUNDS",
    "Lookalike",
    "LookalikeIndex",
    "LookalikeWeights",
    "Reason",
    "degree_baseline",
    "fastrp_embeddings",
    "jaccard_baseline",
    "lookalikes",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
Positions = npt.NDArray[np.integer[Any]]
Candidates = Collection[str] | npt.NDArray[np.bool_] | None

_EMBEDDING_DIM = 128
_ITERATION_WEIGHTS = (0.0, 1.0, 1.0, 1.0)
#: Rounds of seed expansion a query runs by default (see :meth:`LookalikeIndex.query`).
EXPANSION_ROUNDS = 3
#: Each round, this many best-scoring customers join the seeds, whatever ``k`` is asked, so
#: a ranking does not depend on ``k``: the first 50 of a ``k = 300`` search are a ``k = 50``
#: search. Measured on LFR graphs at k = 50: 100 beat 50 by 2-8 points of precision@50 and 150
#: was no better; at k = 10 and k = 150, 100 did as well as 2k (docs/algorithms.md).
EXPANSION_POOL = 100
#: With ``block_model=True``: how many of the ranking's best start in the seeds' community.
BLOCK_MODEL_START = 50


def fastrp_embeddings(
    g: ig.Graph,
    *,
    weight: str | None = "weight",
    dim: int = _EMBEDDING_DIM,
    iteration_weights: Sequence[float] = _ITERATION_WEIGHTS,
    normalization_strength: float = 0.0,
    seed: int = 0,
) -> FloatArray:
    """FastRP node embeddings: sparse random projection, propagated over the ties.

    Each vertex starts from a very sparse random vector (Achlioptas: ``±sqrt(3)`` with
    probability 1/6 each, else 0); iteration ``i`` averages the previous iteration's vectors
    over each vertex's neighbours (by tie strength) and scales rows to unit length. The
    embedding is the weighted sum of the iterations (Chen et al., 2019; the same scheme as
    Neo4j GDS ``fastRP``).

    Parameters
    ----------
    g : igraph.Graph
        Undirected tie graph.
    weight : str or None, default "weight"
        Tie strength.
    dim : int, default 128
        Embedding dimension.
    iteration_weights : sequence of float, default (0.0, 1.0, 1.0, 1.0)
        Weight of the random start vector, then of each propagation step; its length is
        one more than the number of steps.
    normalization_strength : float, default 0.0
        Scales each start vector by ``degree ** normalization_strength``; negative values
        damp hubs.
    seed : int, default 0
        Seed of the random projection.

    Returns
    -------
    ndarray of float64, shape (n, dim)
        Rows of unit length (zero rows for vertices without ties and no start weight).

    Examples
    --------
    >>> import igraph as ig
    >>> emb = fastrp_embeddings(ig.Graph.Ring(10), weight=None, dim=16)
    >>> emb.shape, bool(abs(float((emb[0] ** 2).sum()) - 1.0) < 1e-6)
    ((10, 16), True)
    """
    return _fastrp(
        adjacency(g, weight, directed=False),
        dim=dim,
        iteration_weights=iteration_weights,
        normalization_strength=normalization_strength,
        seed=seed,
    )


def _fastrp(
    matrix: sp.csr_array,
    *,
    dim: int,
    iteration_weights: Sequence[float],
    normalization_strength: float,
    seed: int,
) -> FloatArray:
    if dim < 1 or len(iteration_weights) < 2:
        raise InputError("dim must be >= 1 and iteration_weights must have at least 2 entries")
    n = matrix.shape[0]
    rng = np.random.default_rng(seed)
    start = rng.choice(
        np.array([-np.sqrt(3.0), 0.0, np.sqrt(3.0)], dtype=np.float32),
        size=(n, dim),
        p=[1 / 6, 2 / 3, 1 / 6],
    )
    matrix = matrix.astype(np.float32)
    degree = np.asarray(matrix.sum(axis=1)).ravel()
    if normalization_strength:
        scale = np.power(degree, normalization_strength, where=degree > 0, out=np.zeros(n))
        start *= scale.astype(np.float32)[:, None]
    inverse = np.divide(1.0, degree, out=np.zeros(n), where=degree > 0).astype(np.float32)
    transition = sp.diags_array(inverse) @ matrix
    embedding = iteration_weights[0] * start
    current = start
    for alpha in iteration_weights[1:]:
        current = _unit_rows(transition @ current)
        embedding = embedding + alpha * current
    return _unit_rows(embedding).astype(np.float64)


def _unit_rows(x: npt.NDArray[np.floating]) -> npt.NDArray[np.floating]:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    unit: npt.NDArray[np.floating] = np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)
    return unit


@dataclass(frozen=True)
class LookalikeWeights:
    """Weights of the parts of the lookalike score (see the module docs for each part).

    Parts whose input is missing (no attributes, no profile) drop out and the rest are
    rescaled to sum to 1. A weight of 0 skips computing that part.

    Examples
    --------
    >>> LookalikeWeights(attributes=0.0)  # rank on the graph alone
    LookalikeWeights(proximity=0.4, adamic_adar=0.2, embedding=0.2, attributes=0.0, profile=0.1)
    """

    proximity: float = 0.4
    adamic_adar: float = 0.2
    embedding: float = 0.2
    attributes: float = 0.2
    profile: float = 0.1

    def __post_init__(self) -> None:
        values = (self.proximity, self.adamic_adar, self.embedding, self.attributes, self.profile)
        if min(values) < 0 or sum(values) <= 0:
            raise InputError("lookalike weights must be >= 0 and not all 0")


@dataclass(frozen=True)
class Reason:
    """One reason a candidate looks like the seeds.

    Attributes
    ----------
    kind : str
        ``"knows_seeds"``, ``"mutual_contacts"``, ``"shared_<attribute>"`` (e.g.
        ``"shared_circle"``, ``"shared_interest"``), ``"similar_position"``,
        ``"similar_profile"`` or, in a thorough search (``block_model=True``), ``"community"``.
    text : str
        The reason in plain words.
    evidence : tuple of str
        The ids or values behind it (seed ids, contact ids, attribute values).
    strength : float
        How strong: a count of people, a cosine similarity, or a probability.

    Examples
    --------
    >>> import igraph as ig
    >>> g = ig.Graph([(0, 1), (1, 2), (0, 2)])
    >>> g.vs["id"] = ["a", "b", "c"]
    >>> reason = lookalikes(g, ["a", "b"], k=1, weight=None)[0].reasons[0]
    >>> reason.kind, reason.text, reason.evidence
    ('knows_seeds', 'knows 2 of the 2 seeds directly', ('a', 'b'))
    """

    kind: str
    text: str
    evidence: tuple[str, ...]
    strength: float


class Lookalike(NamedTuple):
    """One ranked candidate.

    Attributes
    ----------
    id : str
        Customer id.
    score : float
        Combined score in [0, 1]: weighted mean of the parts.
    parts : dict of str to float
        Part -> its value relative to the best candidate on that part, in [0, 1].
    reasons : tuple of Reason
        Strongest first.

    Examples
    --------
    >>> import igraph as ig
    >>> g = ig.Graph([(0, 1), (1, 2), (0, 2), (2, 3)])
    >>> g.vs["id"] = ["a", "b", "c", "d"]
    >>> best = lookalikes(g, ["a", "b"], k=2, weight=None)
    >>> [c.id for c in best], best[0].score >= best[1].score
    (['c', 'd'], True)
    """

    id: str
    score: float
    parts: dict[str, float]
    reasons: tuple[Reason, ...]


def _positions(
    index: Mapping[str, int], ids: Collection[str], *, what: str, strict: bool
) -> IntArray:
    found = [index[v] for v in ids if v in index]
    if strict and len(found) != len(ids):
        missing = sorted(v for v in ids if v not in index)
        raise InputError(
            f"{len(missing)} {what} id(s) are not vertices of the graph, e.g. {missing[:5]}; "
            "pass ids from the graph's 'id' vertex attribute"
        )
    return np.unique(np.asarray(found, dtype=np.int64))


def _seeds_and_mask(
    index: Mapping[str, int], n: int, seeds: Collection[str], candidates: Candidates
) -> tuple[IntArray, BoolArray]:
    if not seeds:
        raise InputError("give at least one seed customer")
    seed_idx = _positions(index, seeds, what="seed", strict=True)
    if candidates is None:
        mask = np.ones(n, dtype=np.bool_)
    elif isinstance(candidates, np.ndarray):
        if candidates.dtype != np.bool_ or candidates.shape != (n,):
            raise InputError(f"a candidate mask must be {n} booleans, one per vertex")
        mask = candidates.copy()
    else:
        mask = np.zeros(n, dtype=np.bool_)
        mask[_positions(index, candidates, what="candidate", strict=False)] = True
    mask[seed_idx] = False
    return seed_idx, mask


def _id_index(g: ig.Graph) -> dict[str, int]:
    return {cid: i for i, cid in enumerate(vertex_ids(g))}


def _pattern(matrix: sp.csr_array) -> sp.csr_array:
    """Unweighted, loop-free 0/1 version of a symmetric adjacency matrix."""
    pattern = sp.csr_array(matrix, copy=True)
    pattern.setdiag(0)
    pattern.eliminate_zeros()
    pattern.data[:] = 1.0
    return pattern


#: Pools larger than this many times ``k`` are pruned by a sampled bar (see :func:`_best_of`).
_PRUNE_ABOVE = 32


def _top(scores: FloatArray, mask: BoolArray, name_order: IntArray, k: int) -> IntArray:
    """The ``k`` best of ``mask`` by score, ties broken by id (``name_order``: each position's
    rank by id); only the contenders are sorted."""
    return _best_of(scores, np.flatnonzero(mask), name_order, k)


def _best_of(scores: FloatArray, pool: Positions, name_order: IntArray, k: int) -> IntArray:
    """The ``k`` best positions of ``pool`` by score, ties broken by id (see :func:`_top`)."""
    if len(pool) > k > 0:
        values = scores[pool]
        if len(values) > _PRUNE_ABOVE * k:
            # Partitioning every score of a large pool was the largest single cost of a
            # query at 100k customers. A bar from every 16th score keeps ~2k contenders;
            # when at least k clear it, the k best are among them, so the answer is exact
            # (and when fewer do, the whole pool is partitioned as before).
            sample = values[::16]
            j = min(len(sample), 2 * (k // 16) + 2)
            keep = values >= np.partition(sample, len(sample) - j)[len(sample) - j]
            if np.count_nonzero(keep) >= k:
                pool, values = pool[keep], values[keep]
        kth = np.partition(values, len(values) - k)[len(values) - k]
        pool = pool[values >= kth]
    return pool[np.lexsort((name_order[pool], -scores[pool]))[:k]].astype(np.int64)


def _name_order(ids: Sequence[str]) -> IntArray:
    """Each position's rank when the ids are sorted."""
    order = np.empty(len(ids), dtype=np.int64)
    order[np.argsort(np.asarray(ids, dtype=np.str_), kind="stable")] = np.arange(len(ids))
    return order


def _gather(
    matrix: sp.csr_array | sp.csc_array,
    x: FloatArray,
    support: Positions,
    size: int,
    *,
    unit: bool = False,
) -> tuple[FloatArray, Positions] | None:
    """``sum(x[j] * line j of matrix for j in support)`` from the compressed lines (rows of a
    CSR, columns of a CSC) of ``support`` only, and the positions it touched; ``None`` when
    that would read more than a quarter of the matrix (a plain product is then faster).

    Done with numpy directly: scipy's fancy indexing costs about a millisecond of checks
    per call, more than the work itself for a query's small neighbourhoods. ``unit``: every
    stored value is 1 (a 0/1 pattern), so they are not read.
    """
    indptr = matrix.indptr
    starts = indptr[support]
    counts = indptr[support + 1] - starts
    total = int(counts.sum())
    if 4 * total > matrix.nnz:
        return None
    ends = np.cumsum(counts)
    offsets = np.repeat(starts - (ends - counts), counts) + np.arange(total)
    lines = matrix.indices[offsets]
    values = np.repeat(x[support], counts)
    if not unit:
        values *= matrix.data[offsets]
    summed = np.asarray(np.bincount(lines, weights=values, minlength=size), dtype=np.float64)
    return summed, lines


def _spread(
    matrix: sp.csr_array, x: FloatArray, support: Positions | None = None, *, unit: bool = False
) -> tuple[FloatArray, IntArray | None]:
    """``matrix @ x`` for a symmetric ``matrix``, reading only the rows where ``x`` is not 0,
    and where the result may be non-zero (``None``: anywhere).

    A query's vectors are non-zero on the seeds' neighbourhood only, a small part of a large
    graph: the plain product reads every tie, and scanning a whole vector for its non-zeros
    costs as much as the product itself at 100k customers, so supports are carried along.
    ``support`` holds the positions where ``x`` may be non-zero (``None``: anywhere);
    ``unit``: see :func:`_gather`.
    """
    n = len(x)
    gathered = _gather(matrix, x, np.flatnonzero(x) if support is None else support, n, unit=unit)
    if gathered is None:
        return np.asarray(matrix @ x, dtype=np.float64), None
    result, touched = gathered
    return result, _union(n, touched)


def _scale(x: FloatArray, factors: FloatArray, support: IntArray | None) -> None:
    """``x *= factors`` in place, on ``support`` only (``None``: everywhere) where ``x`` is 0
    elsewhere."""
    if support is None:
        x *= factors
    else:
        x[support] *= factors[support]


def _union(n: int, *positions: npt.NDArray[np.integer]) -> IntArray:
    """The distinct positions, sorted (marking a boolean vector beats sorting them)."""
    mark = np.zeros(n, dtype=np.bool_)
    for p in positions:
        mark[p] = True
    return np.flatnonzero(mark)


@dataclass(frozen=True)
class _AttributeTable:
    """One attribute as a customers x values 0/1 matrix, with each value's IDF weight.

    ``patterns`` holds each distinct set of values once (a row per set) and ``pattern_of``
    each customer's row in it: at 100k customers the 42 interests make 16k distinct sets,
    so scoring every customer is a product over those and one gather, not a pass over every
    customer's values.
    """

    values: tuple[str, ...]
    incidence: sp.csr_array
    patterns: sp.csr_array
    pattern_of: IntArray
    idf: FloatArray

    @classmethod
    def build(cls, index: Mapping[str, int], values_by_id: Mapping[str, Collection[str]]) -> Self:
        labels = sorted({str(v) for values in values_by_id.values() for v in values})
        column = {v: j for j, v in enumerate(labels)}
        rows: list[int] = []
        cols: list[int] = []
        for cid, values in values_by_id.items():
            if cid in index:
                for v in {str(x) for x in values}:
                    rows.append(index[cid])
                    cols.append(column[v])
        incidence = sp.csr_array(
            (np.ones(len(rows)), (rows, cols)), shape=(len(index), len(labels))
        )
        population = np.asarray(incidence.sum(axis=0)).ravel()
        holders = max(len({r for r in rows}), 1)
        idf = np.log1p(
            np.divide(holders, population, out=np.zeros(len(labels)), where=population > 0)
        )
        incidence.sort_indices()
        distinct: dict[bytes, int] = {}
        pattern_of = np.empty(len(index), dtype=np.int64)
        first: list[int] = []
        indptr, indices = incidence.indptr, incidence.indices
        for i in range(len(index)):
            key = indices[indptr[i] : indptr[i + 1]].tobytes()
            slot = distinct.setdefault(key, len(distinct))
            if slot == len(first):
                first.append(i)
            pattern_of[i] = slot
        patterns = sp.csr_array(incidence[np.asarray(first, dtype=np.int64)])
        return cls(tuple(labels), incidence, patterns, pattern_of, idf)

    def seed_counts(self, seeds: FloatArray, support: IntArray) -> FloatArray:
        """Each value's (weighted) number of seeds holding it (``seeds`` is 0 off
        ``support``)."""
        gathered = _gather(self.incidence, seeds, support, len(self.values), unit=True)
        if gathered is None:
            return np.asarray(self.incidence.T @ seeds, dtype=np.float64)
        return gathered[0]

    def holders(self, value_weights: FloatArray) -> FloatArray:
        """Each customer's summed weight of the values it holds (``incidence @ weights``),
        computed once per distinct set of values."""
        by_pattern = np.asarray(self.patterns @ value_weights, dtype=np.float64)
        return np.take(by_pattern, self.pattern_of)


class _Held(NamedTuple):
    """What one candidate has in common with the seeds (see ``LookalikeIndex._held_by``)."""

    seeds: list[int]
    contacts: list[int]
    shared: dict[str, list[tuple[int, int]]]


def _rows(matrix: sp.csr_array, positions: IntArray) -> tuple[IntArray, IntArray]:
    """The column indices of the given rows of a CSR matrix, concatenated, and for each the
    index into ``positions`` of the row it came from."""
    indptr = matrix.indptr
    starts = indptr[positions]
    counts = indptr[positions + 1] - starts
    ends = np.cumsum(counts)
    offsets = np.repeat(starts - (ends - counts), counts) + np.arange(int(counts.sum()))
    owner = np.repeat(np.arange(len(positions)), counts)
    return matrix.indices[offsets].astype(np.int64), owner


def _split(values: IntArray, owner: IntArray, groups: int) -> list[list[int]]:
    """``values`` (sorted by ``owner``) as one list per owner ``0 .. groups - 1``."""
    starts = np.searchsorted(owner, np.arange(groups + 1)).tolist()
    flat = values.tolist()
    return [flat[starts[r] : starts[r + 1]] for r in range(groups)]


#: The parts read from the ties: non-zero only around the (expanded) seeds.
_TIE_PARTS = ("proximity", "adamic_adar")


def _add_parts(
    score: FloatArray,
    raw: Mapping[str, FloatArray],
    supports: Mapping[str, IntArray | None],
    pool_mask: BoolArray,
    chosen: LookalikeWeights,
    total_weight: float,
) -> dict[str, float]:
    """Add to ``score`` each part divided by its best value in the pool (clipped to be
    >= 0) times its share of ``total_weight``; return each part's best value.

    A part with a support (where it may be non-zero) is read and added there only. Off the
    pool ``score`` receives values the caller zeroes.
    """
    best_values: dict[str, float] = {}
    for name, values in raw.items():
        support = supports.get(name)
        within = values if support is None else values[support]
        best = float(
            np.max(within, where=pool_mask if support is None else pool_mask[support], initial=0.0)
        )
        best_values[name] = best
        if best <= 0:
            continue
        part = np.divide(within, best)
        np.maximum(part, 0.0, out=part)
        part *= float(getattr(chosen, name)) / total_weight
        if support is None:
            score += part
        else:
            score[support] += part
    return best_values


def _relative(value: float, best: float) -> float:
    """A candidate's value of a part relative to the best candidate's, in [0, 1]."""
    return min(max(value / best, 0.0), 1.0) if best > 0 else 0.0


class LookalikeIndex:
    """Everything lookalike queries share, computed once per graph.

    A service keeps one index per projection: building it converts the graph and
    precomputes the tie matrix, degree vectors and attribute tables (about a second per
    million ties), after which each :meth:`query` reads only the seeds' neighbourhood
    (tens of milliseconds on 100k customers). :func:`lookalikes` builds one for a single
    query.

    Parameters
    ----------
    g : igraph.Graph
        Undirected tie graph, vertices carrying ``"id"``.
    weight : str or None, default "weight"
        Tie strength for the proximity and embedding parts; ties of strength 0 count as
        absent everywhere.
    attributes : mapping of str to mapping of str to collection of str, optional
        Attribute name (``"circle"``, ``"group"``, ``"interest"``) -> customer id -> values.
    profile : array_like, shape (n, f), optional
        Numeric profile features per vertex (scaled as you want them compared).
    embeddings : array_like, shape (n, d), optional
        Precomputed embeddings; computed with :func:`fastrp_embeddings` when first needed
        otherwise.
    seed : int, default 0
        Seed of the embedding's random projection.

    Examples
    --------
    >>> import igraph as ig
    >>> g = ig.Graph.Full(4) + ig.Graph.Full(4)
    >>> g.add_edges([(3, 4)])
    >>> g.vs["id"] = ["a1", "a2", "a3", "a4", "b1", "b2", "b3", "b4"]
    >>> index = LookalikeIndex(g, weight=None)
    >>> sorted(c.id for c in index.query(["b1", "b2"], k=2))
    ['b3', 'b4']
    >>> sorted(c.id for c in index.query(["a1"], candidates=["b1", "b2", "b3"], k=1))
    ['b1']
    """

    def __init__(
        self,
        g: ig.Graph,
        *,
        weight: str | None = "weight",
        attributes: Mapping[str, Mapping[str, Collection[str]]] | None = None,
        profile: npt.ArrayLike | None = None,
        embeddings: npt.ArrayLike | None = None,
        seed: int = 0,
    ) -> None:
        self.ids = vertex_ids(g)
        self._index = {cid: i for i, cid in enumerate(self.ids)}
        n = len(self.ids)
        self._matrix = adjacency(g, weight, directed=False)
        self._pattern = _pattern(self._matrix)
        strength = np.asarray(self._matrix.sum(axis=1)).ravel()
        inverse = np.divide(1.0, strength, out=np.zeros(n), where=strength > 0)
        self._inverse_strength = inverse
        # Each customer's rank by id, to break score ties without comparing strings.
        self._name_order = _name_order(self.ids)
        degree = np.asarray(self._pattern.sum(axis=1)).ravel()
        log_degree = np.log(np.maximum(degree, 1.0))
        self._inverse_log_degree = np.divide(1.0, log_degree, out=np.zeros(n), where=degree > 1)
        self._seed = seed
        self._embeddings32: npt.NDArray[np.float32] | None = None
        if embeddings is not None:
            vectors = np.asarray(embeddings, dtype=np.float64)
            if vectors.ndim != 2 or vectors.shape[0] != n:
                raise InputError(f"embeddings must have one row per vertex ({n})")
            self._embeddings32 = _unit_rows(vectors).astype(np.float32)
        self._profile: FloatArray | None = None
        if profile is not None:
            matrix = np.asarray(profile, dtype=np.float64)
            if matrix.ndim != 2 or matrix.shape[0] != n:
                raise InputError(f"profile must be a matrix with one row per vertex ({n})")
            self._profile = np.asarray(_unit_rows(matrix), dtype=np.float64)
        self._attributes = {
            name: _AttributeTable.build(self._index, values)
            for name, values in (attributes or {}).items()
        }
        self._partitions: list[IntArray] | None = None

    @property
    def embeddings(self) -> FloatArray:
        """Unit-length embeddings of every vertex (FastRP unless given), as a double-precision
        copy of the single-precision vectors the queries use (the index keeps only those)."""
        return self._embedding_rows().astype(np.float64)

    def prepare(self, *, block_model: bool = False) -> Self:
        """Compute now what the first query would otherwise compute (the FastRP embeddings,
        seconds at 100k customers; with ``block_model``, also the partitions a
        ``block_model=True`` query reads); returns the index."""
        self._embedding_rows()
        if block_model:
            self._block_partitions()
        return self

    def _block_partitions(self) -> list[IntArray]:
        if self._partitions is None:
            self._partitions = partitions(self._pattern)
        return self._partitions

    def _embedding_rows(self) -> npt.NDArray[np.float32]:
        # Single precision halves the memory a query streams through (its one pass over many
        # customers' vectors) and the memory each service worker holds (100 MB less at 100k
        # customers); cosines keep 6 significant digits. FastRP computes in single precision.
        if self._embeddings32 is None:
            self._embeddings32 = _fastrp(
                self._matrix,
                dim=_EMBEDDING_DIM,
                iteration_weights=_ITERATION_WEIGHTS,
                normalization_strength=0.0,
                seed=self._seed,
            ).astype(np.float32)
        return self._embeddings32

    def query(
        self,
        seeds: Collection[str],
        *,
        candidates: Candidates = None,
        k: int = 50,
        weights: LookalikeWeights | None = None,
        walk_lengths: Sequence[int] = (2, 3),
        max_reasons: int = 4,
        expansion_rounds: int = EXPANSION_ROUNDS,
        expansion_weight: float = 1.0,
        block_model: bool = False,
    ) -> list[Lookalike]:
        """Rank candidates by likeness to the seeds; see :func:`lookalikes`."""
        chosen = weights or LookalikeWeights()
        if not walk_lengths or min(walk_lengths) < 1:
            raise InputError("walk_lengths must be positive step counts")
        if expansion_rounds < 0 or expansion_weight < 0:
            raise InputError("expansion_rounds and expansion_weight must be >= 0")
        n = len(self.ids)
        seed_idx, mask = _seeds_and_mask(self._index, n, seeds, candidates)
        seed_vector = np.zeros(n, dtype=np.float64)
        seed_vector[seed_idx] = 1.0
        seeds_known, _ = _spread(self._pattern, seed_vector, seed_idx, unit=True)
        raw, seed_counts, supports = self._parts(seed_vector, seed_idx, chosen, walk_lengths)
        from_seeds = raw
        total_weight = sum(float(getattr(chosen, name)) for name in raw)
        # Expansion: the best-scoring customers join the seeds with their (relative) score as
        # weight, and everything is scored again. In a sparse circle most held-out members
        # know no seed, but they know the members who know the seeds.
        everyone = np.ones(n, dtype=np.bool_)
        everyone[seed_idx] = False
        rounds = expansion_rounds if expansion_weight > 0 else 0
        if rounds:
            # The parts not read from the ties (embedding, attributes, profile) stay those of
            # the real seeds until the last round, so their share of every middle round's
            # score is mixed once; a round then adds only the tie parts, on the few customers
            # the walks reached.
            fixed = np.zeros(n, dtype=np.float64)
            _add_parts(
                fixed,
                {name: v for name, v in raw.items() if name not in _TIE_PARTS},
                {},
                everyone,
                chosen,
                total_weight,
            )
            fixed[seed_idx] = 0.0
            # Off the walks' reach a customer's score is its fixed share, so a round's best
            # are among the best by that share and those the walks reached.
            fixed_best = _top(fixed, everyone & (fixed > 0), self._name_order, EXPANSION_POOL)
        for round_ in range(rounds):
            score = fixed.copy()
            ties = {name: raw[name] for name in _TIE_PARTS if name in raw}
            _add_parts(score, ties, supports, everyone, chosen, total_weight)
            score[seed_idx] = 0.0
            reach = [supports.get(name) for name in ties]
            if any(r is None for r in reach):
                top = _top(score, everyone & (score > 0), self._name_order, EXPANSION_POOL)
            else:
                contenders = _union(n, fixed_best, *(r for r in reach if r is not None))
                contenders = contenders[score[contenders] > 0]
                top = _best_of(score, contenders, self._name_order, EXPANSION_POOL)
            if not len(top):
                break
            expanded = seed_vector.copy()
            expanded[top] += expansion_weight * score[top] / score[top].max()
            support = np.union1d(seed_idx, top)
            if round_ < expansion_rounds - 1:
                # Middle rounds only pick the next expanded seeds: they re-walk the ties and
                # reuse the real seeds' embedding and attribute scores, so a query streams
                # every customer's vector and attribute values twice, not once per round
                # (measured: precision@50 within one hit per query of recomputing them
                # every round; see docs/algorithms.md).
                raw, _, supports = self._parts(
                    expanded, support, chosen, walk_lengths, ties_only=True
                )
            else:
                raw, _, supports = self._parts(expanded, support, chosen, walk_lengths)
        if set(raw) != set(from_seeds):  # the loop stopped early, after a middle round
            raw = {**from_seeds, **raw}
            supports = {name: supports[name] for name in _TIE_PARTS if name in supports}
        score = np.zeros(n, dtype=np.float64)
        best_values = _add_parts(score, raw, supports, mask, chosen, total_weight)
        score[~mask] = 0.0
        community: FloatArray | None = None
        if block_model:
            # The block model starts from the ranking over everyone, candidates or not.
            overall = score
            if not np.array_equal(mask, everyone):
                overall = np.zeros(n, dtype=np.float64)
                _add_parts(overall, raw, supports, everyone, chosen, total_weight)
                overall[~everyone] = 0.0
            community = self._community(overall, seed_idx, everyone)
            eligible = np.flatnonzero(mask & (score > 0))
            order = np.lexsort((self._name_order[eligible], -score[eligible], -community[eligible]))
            best = eligible[order[:k]]
        else:
            best = _top(score, mask & (score > 0), self._name_order, k)

        is_seed = ~everyone
        similarity = {
            "similar_position": from_seeds.get("embedding"),
            "similar_profile": from_seeds.get("profile"),
        }
        results = []
        held = self._held_by(best, is_seed=is_seed, seeds_known=seeds_known, counts=seed_counts)
        for row, i in enumerate(best.tolist()):
            reasons = self._reasons(
                held[row],
                n_seeds=len(seed_idx),
                seed_counts=seed_counts,
                similarity={
                    name: None if values is None else float(values[i])
                    for name, values in similarity.items()
                },
            )
            parts = {
                name: _relative(float(values[i]), best_values[name]) for name, values in raw.items()
            }
            value = float(score[i])
            if community is not None:
                value = parts["community"] = float(community[i])
                text = f"in the seeds' community with probability {value:.2f} (thorough search)"
                reasons.insert(0, Reason("community", text, (), value))
            results.append(
                Lookalike(
                    id=self.ids[i], score=value, parts=parts, reasons=tuple(reasons[:max_reasons])
                )
            )
        return results

    def _community(
        self, overall: FloatArray, seed_idx: IntArray, everyone: BoolArray
    ) -> FloatArray:
        """Probability of being in the seeds' community, averaged over the partitions; the
        block model starts from the best :data:`BLOCK_MODEL_START` by ``overall`` (the
        ranking over everyone), each at its score relative to the best."""
        start = np.zeros(len(overall), dtype=np.float64)
        top = _top(overall, everyone & (overall > 0), self._name_order, BLOCK_MODEL_START)
        if len(top):
            start[top] = overall[top] / overall[top].max()
        labels = self._block_partitions()
        return np.asarray(
            sum(community_probability(self._pattern, part, seed_idx, start) for part in labels)
            / len(labels),
            dtype=np.float64,
        )

    @staticmethod
    def _centroid_cosine(
        rows: npt.NDArray[np.floating],
        weights: FloatArray,
        held: IntArray,
        *,
        within: IntArray | None = None,
    ) -> FloatArray:
        """Cosine of every row (or only those ``within``, 0 elsewhere) to the weighted mean
        of the rows ``held`` (where ``weights`` is not 0)."""
        centroid = weights[held].astype(rows.dtype) @ np.take(rows, held, axis=0)
        norm = float(np.linalg.norm(centroid))
        if norm == 0:
            return np.zeros(len(rows), dtype=np.float64)
        centroid = (centroid / norm).astype(rows.dtype)
        # einsum, not BLAS: OpenBLAS spreads a large product over threads that spin for
        # each other, which multiplies its time when concurrent queries share a few cores.
        if within is None or 2 * len(within) > len(rows):
            return np.asarray(np.einsum("ij,j->i", rows, centroid), dtype=np.float64)
        cosine = np.zeros(len(rows), dtype=np.float64)
        # np.take copies the rows about twice as fast as fancy indexing (measured at 100k).
        cosine[within] = np.einsum("ij,j->i", np.take(rows, within, axis=0), centroid)
        return cosine

    def _parts(
        self,
        seeds: FloatArray,
        support: IntArray,
        chosen: LookalikeWeights,
        walk_lengths: Sequence[int],
        *,
        ties_only: bool = False,
    ) -> tuple[dict[str, FloatArray], dict[str, FloatArray], dict[str, IntArray | None]]:
        """Each part's raw score for a weighted seed vector (1 for a seed) non-zero on
        ``support``, the seeds' (weighted) count of every attribute value, and where the tie
        parts may be non-zero (``None``: anywhere). With ``ties_only`` only the parts read
        from the ties (proximity, Adamic–Adar)."""
        n = len(self.ids)
        raw: dict[str, FloatArray] = {}
        supports: dict[str, IntArray | None] = {}
        reached: list[IntArray | None] = [support]
        if chosen.proximity > 0:
            walk: FloatArray = seeds
            walk_support: IntArray | None = support
            proximity = np.zeros(n, dtype=np.float64)
            summed: list[IntArray | None] = []
            for length in range(1, max(walk_lengths) + 1):
                walk, walk_support = _spread(self._matrix, walk, walk_support)
                # A walk is 0 off its support: scale and sum it there only.
                _scale(walk, self._inverse_strength, walk_support)
                reached.append(walk_support)
                if length in walk_lengths:
                    if walk_support is None:
                        proximity += walk
                    else:
                        proximity[walk_support] += walk[walk_support]
                    summed.append(walk_support)
            raw["proximity"] = proximity
            supports["proximity"] = (
                None
                if any(r is None for r in summed)
                else _union(n, *(r for r in summed if r is not None))
            )
        if chosen.adamic_adar > 0:
            contacts, contacts_support = _spread(self._pattern, seeds, support, unit=True)
            _scale(contacts, self._inverse_log_degree, contacts_support)
            adamic_adar, aa_support = _spread(self._pattern, contacts, contacts_support, unit=True)
            raw["adamic_adar"] = adamic_adar
            supports["adamic_adar"] = aa_support
            reached += [contacts_support, aa_support]
        if ties_only:
            return raw, {}, supports
        if chosen.embedding > 0:
            # Scored within the seeds' neighbourhood (what the walks reached) when that is
            # smaller than the graph: the full product streams every customer's vector, the
            # largest cost of a query at 100k customers, and measured on LFR and generator
            # graphs the far customers it adds did not change precision@k.
            within = None
            if len(reached) > 1 and all(r is not None for r in reached):
                within = _union(n, *(r for r in reached if r is not None))
            raw["embedding"] = self._centroid_cosine(
                self._embedding_rows(), seeds, support, within=within
            )
            if within is not None and 2 * len(within) <= n:
                supports["embedding"] = within
        seed_counts: dict[str, FloatArray] = {}
        if chosen.attributes > 0 and self._attributes:
            total = np.zeros(n, dtype=np.float64)
            mass = float(seeds.sum())
            for name, table in self._attributes.items():
                counts = table.seed_counts(seeds, support)
                seed_counts[name] = counts
                total += table.holders(counts / mass * table.idf)
            raw["attributes"] = total
        if chosen.profile > 0 and self._profile is not None:
            raw["profile"] = self._centroid_cosine(self._profile, seeds, support)
        return raw, seed_counts, supports

    def _held_by(
        self,
        best: IntArray,
        *,
        is_seed: BoolArray,
        seeds_known: FloatArray,
        counts: Mapping[str, FloatArray],
    ) -> list[_Held]:
        """What each of the ``best`` customers has in common with the seeds: the seeds it
        knows (by id), its contacts who know seeds (most seeds known first, then by id), and
        per attribute its values held by seeds (column, seed count). Read for all of them
        at once: per customer, numpy's per-call cost would outweigh the work."""
        order = self._name_order
        neighbours, owner = _rows(self._pattern, best)
        direct = is_seed[neighbours]
        seeds = neighbours[direct]
        seeds_owner = owner[direct]
        sort = np.lexsort((order[seeds], seeds_owner))
        by_seeds = _split(seeds[sort], seeds_owner[sort], len(best))
        known = seeds_known[neighbours]
        mutual = ~direct & (known > 0)
        contacts = neighbours[mutual]
        contacts_owner = owner[mutual]
        sort = np.lexsort((order[contacts], -known[mutual], contacts_owner))
        by_contacts = _split(contacts[sort], contacts_owner[sort], len(best))
        shared: dict[str, list[list[tuple[int, int]]]] = {}
        for name, values in counts.items():
            columns, column_owner = _rows(self._attributes[name].incidence, best)
            count = values[columns]
            kept = count > 0
            pairs = list(zip(columns[kept].tolist(), count[kept].tolist(), strict=True))
            starts = np.searchsorted(column_owner[kept], np.arange(len(best) + 1)).tolist()
            shared[name] = [
                [(j, int(c)) for j, c in pairs[starts[r] : starts[r + 1]]] for r in range(len(best))
            ]
        return [
            _Held(by_seeds[r], by_contacts[r], {name: rows[r] for name, rows in shared.items()})
            for r in range(len(best))
        ]

    def _reasons(
        self,
        held: _Held,
        *,
        n_seeds: int,
        seed_counts: Mapping[str, FloatArray],
        similarity: Mapping[str, float | None],
    ) -> list[Reason]:
        ids = self.ids
        reasons: list[tuple[float, Reason]] = []
        direct = [ids[j] for j in held.seeds]
        if direct:
            text = f"knows {len(direct)} of the {n_seeds} seeds directly"
            reasons.append(
                (3.0 + len(direct), Reason("knows_seeds", text, tuple(direct), float(len(direct))))
            )
        mutual = held.contacts
        if mutual:
            shown = ", ".join(ids[j] for j in mutual[:3])
            text = f"{len(mutual)} mutual contact(s) with the seeds, e.g. {shown}"
            evidence = tuple(ids[j] for j in mutual)
            reasons.append(
                (2.0 + len(mutual), Reason("mutual_contacts", text, evidence, float(len(mutual))))
            )
        for name in seed_counts:
            table = self._attributes[name]
            shared = sorted(
                ((table.values[j], count) for j, count in held.shared[name]),
                key=lambda item: (-item[1], item[0]),
            )
            for value, count in shared[:2]:
                text = f"shares {name} {value} with {count} of the {n_seeds} seeds"
                reason = Reason(f"shared_{name}", text, (value,), float(count))
                reasons.append((1.0 + 2.0 * count / n_seeds, reason))
        for kind, cosine in similarity.items():
            if cosine is not None and cosine > 0:
                what = "network position" if kind == "similar_position" else "profile"
                text = f"{what} similar to the seeds' (cosine {cosine:.2f})"
                reasons.append((cosine, Reason(kind, text, (), cosine)))
        reasons.sort(key=lambda item: -item[0])
        return [reason for _, reason in reasons]


def lookalikes(
    g: ig.Graph,
    seeds: Collection[str],
    *,
    candidates: Candidates = None,
    k: int = 50,
    weight: str | None = "weight",
    weights: LookalikeWeights | None = None,
    attributes: Mapping[str, Mapping[str, Collection[str]]] | None = None,
    profile: npt.ArrayLike | None = None,
    embeddings: npt.ArrayLike | None = None,
    walk_lengths: Sequence[int] = (2, 3),
    seed: int = 0,
    max_reasons: int = 4,
    expansion_rounds: int = EXPANSION_ROUNDS,
    expansion_weight: float = 1.0,
    block_model: bool = False,
) -> list[Lookalike]:
    """Rank candidate customers by how much they look like the seeds, with reasons.

    Builds a :class:`LookalikeIndex` for one query; keep the index to answer many.

    Parameters
    ----------
    g : igraph.Graph
        Undirected tie graph, vertices carrying ``"id"``.
    seeds : collection of str
        Seed customer ids; every one must be a vertex.
    candidates : collection of str or ndarray of bool, optional
        Who may be returned: ids (unknown ones are ignored) or a mask over the vertices.
        All non-seeds when omitted. Seeds are never returned.
    k : int, default 50
        How many to return.
    weight : str or None, default "weight"
        Tie strength for the proximity and embedding parts; ties of strength 0 count as
        absent everywhere.
    weights : LookalikeWeights, optional
        Part weights; :class:`LookalikeWeights()` by default.
    attributes : mapping of str to mapping of str to collection of str, optional
        Attribute name (``"circle"``, ``"group"``, ``"interest"``) -> customer id -> values.
    profile : array_like, shape (n, f), optional
        Numeric profile features per vertex (scaled as you want them compared).
    embeddings : array_like, shape (n, d), optional
        Precomputed embeddings (a service caches them); computed with
        :func:`fastrp_embeddings` otherwise.
    walk_lengths : sequence of int, default (2, 3)
        Random-walk lengths summed in the proximity part. Length 1 (direct contacts) is
        left out by default: alone it favours one-contact customers who happen to know a
        seed.
    seed : int, default 0
        Seed of the embedding's random projection.
    max_reasons : int, default 4
        At most this many reasons per candidate.
    expansion_rounds : int, default 3
        Rounds of seed expansion: after each, the :data:`EXPANSION_POOL` (100) best-scoring
        customers, whatever ``k`` is (anyone but the seeds, candidates or not), join the
        seeds with weight ``expansion_weight`` times their score relative to the best, and
        the parts are computed again (the middle
        rounds re-walk the ties only and keep the seeds' attribute, embedding and profile
        scores; the last round recomputes every part). It helps most
        in sparse graphs, where most members of the seeds' circles know no seed but know
        those who do (measured in ``docs/algorithms.md``). 0 scores from the seeds alone.
        Reasons always cite the real seeds only.
    expansion_weight : float, default 1.0
        Weight of the best expanded customer relative to a seed.
    block_model : bool, default False
        Thorough mode: re-rank by each candidate's probability of being in the seeds'
        community under a degree-corrected block model of the whole graph (mean field over
        three Leiden partitions, started from the best 50 of the ranking above; ties of that
        probability break by the score above). Best on sparse, noisy circles (precision@50
        0.78 -> 0.90 on a held-out LFR graph in docs/algorithms.md), but it reads the whole
        graph: about 0.15 s per query at 10k customers, 1.5-2 s at 100k. ``score`` is
        then that probability, also given as the part ``"community"`` and the first reason.

    Returns
    -------
    list of Lookalike
        Best first, at most ``k``; ties break by id. Candidates with no evidence at all
        (score 0) are never returned.

    Examples
    --------
    >>> import igraph as ig
    >>> g = ig.Graph.Full(4) + ig.Graph.Full(4)
    >>> g.add_edges([(3, 4)])
    >>> g.vs["id"] = ["a1", "a2", "a3", "a4", "b1", "b2", "b3", "b4"]
    >>> best = lookalikes(g, ["a1", "a2"], k=2, weight=None)
    >>> sorted(c.id for c in best)
    ['a3', 'a4']
    >>> best[0].reasons[0].text
    'knows 2 of the 2 seeds directly'
    """
    index = LookalikeIndex(
        g,
        weight=weight,
        attributes=attributes,
        profile=profile,
        embeddings=embeddings,
        seed=seed,
    )
    return index.query(
        seeds,
        candidates=candidates,
        k=k,
        weights=weights,
        walk_lengths=walk_lengths,
        max_reasons=max_reasons,
        expansion_rounds=expansion_rounds,
        expansion_weight=expansion_weight,
        block_model=block_model,
    )


def jaccard_baseline(
    g: ig.Graph, seeds: Collection[str], *, candidates: Candidates = None, k: int = 50
) -> list[tuple[str, float]]:
    """Baseline: rank candidates by summed Jaccard overlap of contacts with each seed.

    Examples
    --------
    >>> import igraph as ig
    >>> g = ig.Graph([(0, 1), (0, 2), (3, 1), (3, 2), (4, 2)])
    >>> jaccard_baseline(g, ["0"], k=1)
    [('3', 1.0)]
    """
    seed_idx, mask = _seeds_and_mask(_id_index(g), g.vcount(), seeds, candidates)
    pattern = _pattern(adjacency(g, None, directed=False))
    degree = np.asarray(pattern.sum(axis=1)).ravel()
    shared = pattern @ pattern[:, seed_idx].toarray()
    union = degree[:, None] + degree[seed_idx][None, :] - shared
    jaccard = np.divide(shared, union, out=np.zeros_like(shared), where=union > 0).sum(axis=1)
    ids = vertex_ids(g)
    best = _top(jaccard, mask, _name_order(ids), k)
    return [(ids[i], float(jaccard[i])) for i in best.tolist()]


def degree_baseline(
    g: ig.Graph, seeds: Collection[str], *, candidates: Candidates = None, k: int = 50
) -> list[tuple[str, float]]:
    """Baseline: rank candidates by their number of contacts, ignoring the seeds.

    Examples
    --------
    >>> import igraph as ig
    >>> degree_baseline(ig.Graph.Star(4), ["1"], k=1)
    [('0', 3.0)]
    """
    _, mask = _seeds_and_mask(_id_index(g), g.vcount(), seeds, candidates)
    degree = np.asarray(_pattern(adjacency(g, None, directed=False)).sum(axis=1)).ravel()
    ids = vertex_ids(g)
    best = _top(degree, mask, _name_order(ids), k)
    return [(ids[i], float(degree[i])) for i in best.tolist()]
