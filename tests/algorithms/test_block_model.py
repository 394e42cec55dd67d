"""Block-model re-ranking of lookalikes (``block_model=True``): quality on a sparse circle,
invariants, and the probability itself on small graphs with a known answer."""

from __future__ import annotations

import igraph as ig
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quanzi.algorithms._block_model import community_probability, partitions
from quanzi.algorithms._matrix import adjacency
from quanzi.algorithms.lookalike import LookalikeIndex, lookalikes


def test_block_model_finds_more_of_a_sparse_circle(
    sparse_lfr: tuple[ig.Graph, list[list[str]]],
) -> None:
    g, circles = sparse_lfr
    index = LookalikeIndex(g, weight=None)
    rng = np.random.default_rng(0)
    hits = {False: 0, True: 0}
    for circle in circles[:8]:
        members = [str(m) for m in rng.permutation(circle)]
        seeds, held = members[:10], set(members[10:])
        for block_model in hits:
            found = [c.id for c in index.query(seeds, k=30, block_model=block_model)]
            assert not set(found) & set(seeds)
            hits[block_model] += len(set(found) & held)
    assert hits[True] > 1.1 * hits[False]


def test_block_model_results_carry_the_probability_as_score_part_and_reason(
    sparse_lfr: tuple[ig.Graph, list[list[str]]],
) -> None:
    g, circles = sparse_lfr
    found = lookalikes(g, circles[0][:10], k=20, weight=None, block_model=True)
    assert len(found) == 20
    scores = [c.score for c in found]
    assert scores == sorted(scores, reverse=True)
    for c in found:
        assert 0.0 < c.score <= 1.0
        assert c.parts["community"] == c.score
        assert c.reasons[0].kind == "community"
        assert f"{c.score:.2f}" in c.reasons[0].text
    again = lookalikes(g, circles[0][:10], k=20, weight=None, block_model=True)
    assert again == found


def test_block_model_probability_does_not_depend_on_the_candidate_filter(
    sparse_lfr: tuple[ig.Graph, list[list[str]]],
) -> None:
    # Customers outside the candidates still belong to circles: the block model sees all.
    g, circles = sparse_lfr
    index = LookalikeIndex(g, weight=None)
    seeds = circles[1][:10]
    ranked = index.query(seeds, k=200, block_model=True)
    everyone = {c.id: c.score for c in ranked}
    # nor on k: the first 30 of 200 are the 30 of a k = 30 query
    assert index.query(seeds, k=30, block_model=True) == ranked[:30]
    candidates = [cid for cid in g.vs["id"] if int(cid[1:]) % 3 == 0]
    some = index.query(seeds, candidates=candidates, k=40, block_model=True)
    assert some
    assert {c.id for c in some} <= set(candidates)
    for c in some:
        if c.id in everyone:
            assert c.score == pytest.approx(everyone[c.id])


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n_seeds=st.integers(1, 6), keep=st.floats(0.0, 1.0))
def test_block_model_never_returns_a_seed_or_a_non_candidate(
    seed: int, n_seeds: int, keep: float
) -> None:
    rng = np.random.default_rng(seed)
    edges = rng.integers(0, 60, size=(150, 2))
    g = ig.Graph(n=60, edges=edges[edges[:, 0] != edges[:, 1]].tolist())
    g.vs["id"] = [f"c{i}" for i in range(60)]
    ids = g.vs["id"]
    seeds = [str(x) for x in rng.choice(ids, n_seeds, replace=False)]
    candidates = {str(x) for x in ids if rng.random() < keep}
    found = lookalikes(g, seeds, candidates=candidates, k=20, weight=None, block_model=True)
    returned = [c.id for c in found]
    assert not set(returned) & set(seeds)
    assert set(returned) <= candidates
    assert len(returned) == len(set(returned))
    assert all(0.0 <= c.score <= 1.0 for c in found)


def test_a_bridge_vertex_is_explained_by_its_own_circle() -> None:
    # Two cliques of five joined by one tie; the seeds are two members of the first.
    g = ig.Graph.Full(5) + ig.Graph.Full(5)
    g.add_edges([(4, 5)])
    pattern = adjacency(g, None, directed=False)
    labels = np.array([0] * 5 + [1] * 5)
    start = np.zeros(10)
    start[2:5] = 0.5
    p = community_probability(pattern, labels, np.array([0, 1]), start)
    assert p[:2].tolist() == [1.0, 1.0]
    assert p[2:5].min() > 0.9
    assert p[5:].max() < 0.01  # the far clique, the bridge's partner included


def test_partitions_are_seeded_and_deterministic() -> None:
    g = ig.Graph.Full(5) + ig.Graph.Full(5)
    g.add_edges([(4, 5)])
    pattern = adjacency(g, None, directed=False)
    first, again = partitions(pattern), partitions(pattern)
    assert len(first) == 3
    for a, b in zip(first, again, strict=True):
        assert a.tolist() == b.tolist()
        assert len(set(a[:5].tolist())) == 1
        assert a[0] != a[9]
    empty = partitions(adjacency(ig.Graph(n=3), None, directed=False), 2)
    assert [p.tolist() for p in empty] == [[0, 1, 2], [0, 1, 2]]
