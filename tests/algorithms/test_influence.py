"""Influence: known answers, agreement with reference implementations, explainability."""

from __future__ import annotations

import igraph as ig
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import spearmanr

from quanzi.algorithms.influence import (
    InfluenceWeights,
    brokerage,
    core_depth,
    influence,
    pagerank,
    referral_reach,
    top_influencers,
)
from quanzi.errors import InputError


def referral_tree() -> ig.Graph:
    """ann invited bob and cat; bob invited dan and eve; dan invited fay."""
    g = ig.Graph(
        [(0, 1), (0, 2), (1, 3), (1, 4), (3, 5)],
        directed=True,
        vertex_attrs={"id": ["ann", "bob", "cat", "dan", "eve", "fay"]},
    )
    return g


def weighted_random(n: int, m: int, seed: int) -> ig.Graph:
    rng = np.random.default_rng(seed)
    edges = rng.integers(0, n, size=(m, 2))
    edges = edges[edges[:, 0] != edges[:, 1]]
    g = ig.Graph(n=n, edges=edges.tolist())
    g.vs["id"] = [f"c{i}" for i in range(n)]
    g.es["weight"] = rng.uniform(0.1, 3.0, size=g.ecount()).tolist()
    return g


# ------------------------------------------------------------------ PageRank


def test_star_centre_has_top_pagerank(star: ig.Graph) -> None:
    scores = pagerank(star)
    assert scores.argmax() == 0
    assert scores.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("directed", [False, True])
def test_pagerank_matches_igraph(directed: bool) -> None:
    g = weighted_random(200, 800, seed=1)
    if directed:
        g.to_directed(mode="random")
        g.add_vertices(1)  # a dangling vertex
    ours = pagerank(g, weight="weight") if not directed else pagerank(g, weight=None)
    reference = g.pagerank(weights="weight" if not directed else None)
    assert np.allclose(ours, reference, atol=1e-8)


def test_personalised_pagerank_matches_igraph() -> None:
    g = weighted_random(100, 300, seed=2)
    restart = np.zeros(100)
    restart[[3, 7]] = 1.0
    ours = pagerank(g, personalization=restart)
    reference = g.personalized_pagerank(weights="weight", reset=restart.tolist())
    assert np.allclose(ours, reference, atol=1e-8)


def test_pagerank_rejects_bad_input(star: ig.Graph) -> None:
    with pytest.raises(InputError):
        pagerank(star, personalization=np.zeros(9))
    with pytest.raises(InputError, match="missing"):
        pagerank(star, weight="strength")
    with pytest.raises(InputError):
        pagerank(star, damping=1.0)


# ------------------------------------------------------------------ referral reach


def test_referral_tree_reach() -> None:
    reach = referral_reach(referral_tree())
    assert reach.direct.tolist() == [2, 2, 0, 1, 0, 0]
    assert reach.total.tolist() == [5, 3, 0, 1, 0, 0]
    assert reach.depth.tolist() == [3, 2, 0, 1, 0, 0]


def test_referral_reach_with_depth_limit() -> None:
    reach = referral_reach(referral_tree(), max_depth=2)
    assert reach.total.tolist() == [4, 3, 0, 1, 0, 0]
    assert reach.depth.tolist() == [2, 2, 0, 1, 0, 0]


def test_referral_reach_counts_each_invitee_once_in_a_dag() -> None:
    # dan was invited by both bob and cat: ann reaches him once
    g = ig.Graph([(0, 1), (0, 2), (1, 3), (2, 3)], directed=True)
    g.vs["id"] = ["ann", "bob", "cat", "dan"]
    reach = referral_reach(g)
    assert reach.total.tolist() == [3, 1, 1, 0]
    assert reach.depth.tolist() == [2, 1, 1, 0]
    assert referral_reach(g, max_depth=1).total.tolist() == [2, 1, 1, 0]


def test_referral_reach_survives_cycles() -> None:
    g = ig.Graph([(0, 1), (1, 2), (2, 0)], directed=True)
    assert referral_reach(g).total.tolist() == [2, 2, 2]


def test_referral_reach_needs_direction() -> None:
    with pytest.raises(InputError, match="directed"):
        referral_reach(ig.Graph([(0, 1)]))


@settings(max_examples=40, deadline=None)
@given(parents=st.lists(st.integers(0, 1000), min_size=1, max_size=60))
def test_forest_fast_path_agrees_with_breadth_first_search(parents: list[int]) -> None:
    # vertex i+1 was invited by some earlier vertex: a random forest
    edges = [(p % (i + 1), i + 1) for i, p in enumerate(parents) if p % 3]
    g = ig.Graph(n=len(parents) + 1, edges=edges, directed=True)
    fast = referral_reach(g)
    for v in range(g.vcount()):
        below = g.subcomponent(v, mode="out")
        assert fast.total[v] == len(below) - 1


# ------------------------------------------------------------------ brokerage, core


def test_star_centre_has_top_brokerage(star: ig.Graph) -> None:
    scores = brokerage(star)
    assert scores.argmax() == 0
    assert scores[0] == pytest.approx(1.0)
    assert np.all(scores[1:] == 0)


def test_brokerage_is_exact_when_affordable() -> None:
    g = ig.Graph.Famous("Zachary")
    n = g.vcount()
    exact = np.asarray(g.betweenness()) / ((n - 1) * (n - 2) / 2)
    assert np.allclose(brokerage(g), exact)


def test_sampled_brokerage_ranks_like_exact_betweenness() -> None:
    rng = np.random.default_rng(5)
    # a preferential-attachment graph built from our own seeded generator
    edges: list[tuple[int, int]] = []
    targets = [0, 1, 2]
    for v in range(3, 1500):
        chosen = {int(x) for x in rng.choice(targets, size=3)}
        edges.extend((v, t) for t in chosen)
        targets.extend([*chosen, v, v, v])
    g = ig.Graph(n=1500, edges=edges)
    exact = np.asarray(g.betweenness())
    sampled = brokerage(g, n_samples=300, seed=1)
    assert spearmanr(exact, sampled).statistic >= 0.9


def test_brokerage_is_deterministic_for_a_seed() -> None:
    g = weighted_random(400, 1600, seed=3)
    assert np.array_equal(brokerage(g, n_samples=50, seed=4), brokerage(g, n_samples=50, seed=4))


def test_weighted_brokerage_prefers_strong_ties() -> None:
    # a square: the strong route a-b-c beats a-d-c
    g = ig.Graph([(0, 1), (1, 2), (2, 3), (3, 0)])
    g.es["weight"] = [5.0, 5.0, 1.0, 1.0]
    scores = brokerage(g, weight="weight")
    assert scores[1] > scores[3]


def test_core_depth_of_clique_with_tail() -> None:
    g = ig.Graph.Full(5) + ig.Graph(2)
    g.add_edges([(4, 5), (5, 6), (4, 5)])
    assert core_depth(g).tolist() == [4, 4, 4, 4, 4, 1, 1]


# ------------------------------------------------------------------ composite


def test_composite_parts_explain_the_score(star: ig.Graph) -> None:
    referrals = ig.Graph([(1, 2), (1, 3)], directed=True)
    referrals.vs["id"] = ["x", "l0", "l1", "l2"]
    scores = influence(star, referrals=referrals)
    assert set(scores.weights) == {"pagerank", "brokerage", "core", "reach"}
    assert sum(scores.weights.values()) == pytest.approx(1.0)
    best = top_influencers(scores, 3)
    assert best[0].id == "hub"
    for person in best:
        assert sum(person.contributions.values()) == pytest.approx(person.score)
    l0 = top_influencers(scores, 1, within=["l0", "l1"])[0]
    assert l0.id == "l0"
    assert l0.raw["reach"] == 2.0


def test_missing_parts_drop_out_of_the_weights(star: ig.Graph) -> None:
    scores = influence(star, weights=InfluenceWeights(pagerank=1.0, brokerage=0.0, core=1.0))
    assert scores.weights == {"pagerank": 0.5, "core": 0.5}
    assert np.all((scores.score >= 0) & (scores.score <= 1))


def test_influence_is_deterministic_for_a_seed() -> None:
    g = weighted_random(500, 2000, seed=6)
    one = influence(g, n_samples=40, seed=9)
    two = influence(g, n_samples=40, seed=9)
    assert np.array_equal(one.score, two.score)


def test_top_influencers_ignores_unknown_ids(star: ig.Graph) -> None:
    scores = influence(star)
    assert top_influencers(scores, 5, within=["nobody"]) == []
    assert [p.id for p in top_influencers(scores, 2, within=["l3", "hub", "zz"])] == ["hub", "l3"]


def test_bad_weights_are_refused() -> None:
    with pytest.raises(InputError):
        InfluenceWeights(pagerank=0, brokerage=0, core=0, reach=0)


def test_parts_computed_elsewhere_are_used_as_given() -> None:
    # As the analysis does with PageRank, brokerage and core depth from Neo4j GDS.
    g = weighted_random(60, 200, seed=3)
    here = influence(g)
    same = influence(g, computed={k: here.raw[k] for k in ("pagerank", "brokerage", "core")})
    assert np.array_equal(same.score, here.score)
    # A PageRank the server puts on one customer alone makes that customer lead it.
    server = np.zeros(60)
    server[17] = 1.0
    scores = influence(g, computed={"pagerank": server})
    assert scores.raw["pagerank"][17] == 1.0
    assert scores.percentile["pagerank"][17] == scores.percentile["pagerank"].max()
    assert np.array_equal(scores.raw["brokerage"], here.raw["brokerage"])


def test_parts_computed_elsewhere_are_checked() -> None:
    g = weighted_random(10, 20, seed=0)
    with pytest.raises(InputError, match="pagerank, brokerage or core"):
        influence(g, computed={"closeness": np.zeros(10)})
    with pytest.raises(InputError, match="3 values for 10 vertices"):
        influence(g, computed={"core": np.zeros(3)})
