"""Who is in the seeds' community: mean field on a degree-corrected block model.

The slow, thorough re-ranking behind ``LookalikeIndex.query(..., block_model=True)``. The
graph is modelled as a degree-corrected stochastic block model (Karrer and Newman 2011)
whose blocks are one partition's circles plus one more block, "the seeds' community", in
which the seeds are held. Every vertex's membership is a distribution over the blocks,
updated by mean field from its contacts' memberships; the block densities are re-estimated
from the memberships at every step. A vertex whose contacts sit in another circle is
explained by that circle and drops out of the seeds' community, which a walk from the seeds
cannot tell (measured in docs/algorithms.md, "Block-model re-ranking").

Pure numpy / scipy, in single precision on one BLAS thread; cost per iteration about
``ties x blocks + vertices x blocks^2``, i.e. the whole graph at every step (about 0.15 s
at 10k vertices and 1.5 s at 100k, three partitions of 20 steps each).
"""

from __future__ import annotations

import cluster_libreville
import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Partitions the probability is averaged over (Leiden runs with seeds 0, 1, 2).
PARTITIONS = 3
#: Mean-field iterations per query.
ITERATIONS = 20
#: Circles kept as their own block (those with the most ties around the seeds and the
#: start set); the others form one block together.
MAX_BLOCKS = 16

_TINY = 1e-6


def partitions(pattern: sp.csr_array, count: int = PARTITIONS) -> list[IntArray]:
    """``count`` modularity-Leiden partitions of the 0/1 tie pattern, seeds 0..count-1."""
    if pattern.nnz == 0:
        return [np.arange(pattern.shape[0], dtype=np.int64) for _ in range(count)]
    return [
        np.asarray(
            cluster_libreville.leiden(
                pattern, resolution=1.0, seed=seed, n_iterations=2, check_symmetry=False
            ),
            dtype=np.int64,
        )
        for seed in range(count)
    ]


def community_probability(
    pattern: sp.csr_array,
    labels: IntArray,
    seeds: IntArray,
    start: FloatArray,
    *,
    iterations: int = ITERATIONS,
    max_blocks: int = MAX_BLOCKS,
    damping: float = 0.5,
) -> FloatArray:
    """Each vertex's probability of belonging to the seeds' community.

    Parameters
    ----------
    pattern : scipy.sparse.csr_array, shape (n, n)
        Symmetric 0/1 tie pattern.
    labels : ndarray of int, shape (n,)
        A partition of the vertices (circle numbers 0..c-1): the other blocks.
    seeds : ndarray of int
        Positions of the seeds, held in the community.
    start : ndarray of float, shape (n,)
        Starting probability of each vertex (e.g. a first ranking's relative scores); the
        rest of a vertex's membership starts in its own circle.

    Examples
    --------
    >>> import igraph as ig
    >>> from quanzi.algorithms._matrix import adjacency
    >>> g = ig.Graph.Full(5) + ig.Graph.Full(5)
    >>> g.add_edges([(4, 5)])
    >>> pattern = adjacency(g, None, directed=False)
    >>> labels = np.array([0] * 5 + [1] * 5)
    >>> start = np.array([0, 0, 0.5, 0.5, 0.5, 0, 0, 0, 0, 0])
    >>> p = community_probability(pattern, labels, np.array([0, 1]), start)
    >>> p.round(2).tolist()
    [1.0, 1.0, 0.99, 0.99, 0.97, 0.0, 0.0, 0.0, 0.0, 0.0]
    """
    n = pattern.shape[0]
    degree = np.asarray(pattern.sum(axis=1), dtype=np.float64).ravel()
    near = start.astype(np.float64, copy=True)
    near[seeds] = 1.0
    circles = int(labels.max()) + 1 if n else 0
    # Circles by their ties around the seeds and the start set: the kept ones get a block
    # each (columns 1..), the rest share the last column; column 0 is the seeds' community.
    mass = np.bincount(labels, weights=pattern @ near + near * degree, minlength=circles)
    kept = np.argsort(-mass, kind="stable")[: min(max_blocks, int((mass > 0).sum()))]
    column = np.full(circles, len(kept) + 1, dtype=np.int64)
    column[kept] = np.arange(1, len(kept) + 1)
    blocks = len(kept) + 2
    # Single precision: the products stream vertices x blocks arrays; memberships need no
    # more than 7 digits (measured: the same precision@50, in about half the time).
    q = np.zeros((n, blocks), dtype=np.float32)
    q[np.arange(n), column[labels]] = 1.0 - near
    q[:, 0] = near
    # One BLAS thread: the products are thin (vertices x ~18 blocks); OpenBLAS's second
    # thread doubled the CPU time and saved no wall time (measured at 10k vertices).
    with threadpool_limits(limits=1, user_api="blas"):
        single = pattern if pattern.dtype == np.float32 else pattern.astype(np.float32)
        return _mean_field(single, degree.astype(np.float32), q, seeds, iterations, damping)


def _mean_field(
    pattern: sp.csr_array,
    degree: npt.NDArray[np.float32],
    q: npt.NDArray[np.float32],
    seeds: IntArray,
    iterations: int,
    damping: float,
) -> FloatArray:
    n = pattern.shape[0]
    for _ in range(iterations):
        contacts = np.asarray(pattern @ q)
        volume = degree @ q + _TINY
        density = (q.T @ contacts + _TINY) / np.outer(volume, volume)
        prior = np.log(q.sum(axis=0) / max(n, 1) + 1e-12)
        logits = contacts @ np.log(density).T + prior
        logits -= logits.max(axis=1, keepdims=True)
        updated = np.exp(logits)
        updated /= updated.sum(axis=1, keepdims=True)
        q = ((1.0 - damping) * q + damping * updated).astype(np.float32, copy=False)
        q[seeds] = 0.0
        q[seeds, 0] = 1.0
    return np.asarray(q[:, 0], dtype=np.float64)
