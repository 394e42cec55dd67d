"""Lookalike prospecting: known answers, reasons, and the candidate-filter invariants."""

from __future__ import annotations

import igraph as ig
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quanzi.algorithms.lookalike import (
    EXPANSION_POOL,
    LookalikeIndex,
    LookalikeWeights,
    _best_of,
    degree_baseline,
    fastrp_embeddings,
    jaccard_baseline,
    lookalikes,
)
from quanzi.errors import InputError


def random_graph(n: int, m: int, seed: int) -> ig.Graph:
    rng = np.random.default_rng(seed)
    edges = rng.integers(0, n, size=(m, 2))
    g = ig.Graph(n=n, edges=edges[edges[:, 0] != edges[:, 1]].tolist())
    g.vs["id"] = [f"c{i}" for i in range(n)]
    g.es["weight"] = rng.uniform(0.5, 2.0, size=g.ecount()).tolist()
    return g


def test_seeds_in_one_clique_find_the_rest_of_it(cliques: ig.Graph) -> None:
    found = lookalikes(cliques, ["a0", "a1", "a2"], k=2)
    assert {c.id for c in found} == {"a3", "a4"}
    assert found[0].score >= found[1].score


def test_reasons_name_seeds_contacts_and_shared_values(cliques: ig.Graph) -> None:
    attributes = {"interest": {"a0": ["golf"], "a1": ["golf"], "b0": ["golf", "wine"]}}
    found = lookalikes(cliques, ["a0", "a1"], k=10, attributes=attributes)
    by_id = {c.id: c for c in found}
    kinds = {r.kind for r in by_id["a2"].reasons}
    assert {"knows_seeds", "mutual_contacts"} <= kinds
    knows = next(r for r in by_id["a2"].reasons if r.kind == "knows_seeds")
    assert knows.evidence == ("a0", "a1")
    shared = next(r for r in by_id["b0"].reasons if r.kind == "shared_interest")
    assert shared.evidence == ("golf",)
    assert shared.text == "shares interest golf with 2 of the 2 seeds"
    assert all(0.0 <= p <= 1.0 for c in found for p in c.parts.values())


def test_candidate_filter_by_ids_and_by_mask(cliques: ig.Graph) -> None:
    found = lookalikes(cliques, ["a0"], candidates=["b1", "b2", "unknown"], k=5)
    assert {c.id for c in found} == {"b1", "b2"}
    mask = np.zeros(10, dtype=bool)
    mask[[0, 3]] = True  # a0 is a seed: never returned
    assert [c.id for c in lookalikes(cliques, ["a0"], candidates=mask)] == ["a3"]


def test_unknown_seed_is_refused(cliques: ig.Graph) -> None:
    with pytest.raises(InputError, match="seed"):
        lookalikes(cliques, ["a0", "zz"])
    with pytest.raises(InputError):
        lookalikes(cliques, [])
    with pytest.raises(InputError, match="mask"):
        lookalikes(cliques, ["a0"], candidates=np.ones(3, dtype=bool))


def test_profile_and_precomputed_embeddings(cliques: ig.Graph) -> None:
    profile = np.zeros((10, 2))
    profile[:, 0] = 1.0
    profile[7] = [0.0, 1.0]  # b2 resembles the seed on profile
    profile[0] = [0.0, 1.0]
    emb = fastrp_embeddings(cliques, dim=8)
    only_profile = LookalikeWeights(0, 0, 0, 0, profile=1.0)
    found = lookalikes(cliques, ["a0"], k=1, profile=profile, embeddings=emb, weights=only_profile)
    assert found[0].id == "b2"
    assert found[0].reasons[-1].kind == "similar_profile"
    with pytest.raises(InputError, match="profile"):
        lookalikes(cliques, ["a0"], profile=np.ones(3))


def test_fastrp_is_deterministic_and_local() -> None:
    ring = ig.Graph.Ring(40)
    one = fastrp_embeddings(ring, weight=None, dim=64, seed=3)
    assert np.array_equal(one, fastrp_embeddings(ring, weight=None, dim=64, seed=3))
    assert np.allclose(np.linalg.norm(one, axis=1), 1.0)
    # neighbours on the ring are more alike than opposite vertices
    assert one[0] @ one[1] > one[0] @ one[20]


def test_lookalike_is_deterministic() -> None:
    g = random_graph(300, 900, seed=1)
    seeds = [f"c{i}" for i in range(10)]
    assert lookalikes(g, seeds, seed=2) == lookalikes(g, seeds, seed=2)


def test_baselines(cliques: ig.Graph) -> None:
    jaccard = jaccard_baseline(cliques, ["a0", "a1"], k=3)
    assert {cid for cid, _ in jaccard} == {"a2", "a3", "a4"}
    assert degree_baseline(cliques, ["a0"], k=2) == [("a4", 5.0), ("b0", 5.0)]


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n_seeds=st.integers(1, 8),
    k=st.integers(1, 40),
    keep=st.floats(0.0, 1.0),
)
def test_lookalike_never_returns_a_seed_or_a_non_candidate(
    seed: int, n_seeds: int, k: int, keep: float
) -> None:
    g = random_graph(60, 150, seed)
    rng = np.random.default_rng(seed)
    ids = g.vs["id"]
    seeds = [str(x) for x in rng.choice(ids, n_seeds, replace=False)]
    candidates = {str(x) for x in ids if rng.random() < keep}
    found = lookalikes(g, seeds, candidates=candidates, k=k, weight="weight")
    returned = [c.id for c in found]
    assert not set(returned) & set(seeds)
    assert set(returned) <= candidates
    assert len(returned) == len(set(returned)) <= min(k, len(candidates - set(seeds)))
    assert all(c.score > 0 for c in found)
    scores = [c.score for c in found]
    assert scores == sorted(scores, reverse=True)
    for baseline in (jaccard_baseline, degree_baseline):
        ranked = [cid for cid, _ in baseline(g, seeds, candidates=candidates, k=k)]
        assert not set(ranked) & set(seeds)
        assert set(ranked) <= candidates


def test_an_index_answers_many_queries_like_single_calls() -> None:
    g = random_graph(200, 600, seed=4)
    attributes = {"group": {f"c{i}": [f"g{i % 7}"] for i in range(0, 200, 2)} | {"zz": ["g1"]}}
    index = LookalikeIndex(g, attributes=attributes, seed=1)
    for seeds in (["c1", "c2", "c3"], ["c10", "c20"]):
        assert index.query(seeds, k=15) == lookalikes(g, seeds, k=15, attributes=attributes, seed=1)


def test_seed_expansion_finds_more_of_a_sparse_circle(
    sparse_lfr: tuple[ig.Graph, list[list[str]]],
) -> None:
    # Mixing 0.5, 8 ties on average: most members of a circle know no seed.
    g, circles = sparse_lfr
    index = LookalikeIndex(g, weight=None)
    rng = np.random.default_rng(0)
    hits = {0: 0, 3: 0}
    for circle in circles[:6]:
        members = [str(m) for m in rng.permutation(circle)]
        for rounds in hits:
            found = {c.id for c in index.query(members[:5], k=30, expansion_rounds=rounds)}
            assert not found & set(members[:5])
            hits[rounds] += len(found & set(members[5:]))
    assert hits[3] > 1.2 * hits[0]


def test_a_ranking_does_not_depend_on_k(sparse_lfr: tuple[ig.Graph, list[list[str]]]) -> None:
    # A client paging by asking for more sees its first page unchanged.
    g, circles = sparse_lfr
    index = LookalikeIndex(g, weight=None)
    for circle in circles[:3]:
        seeds = [str(m) for m in circle[:5]]
        many = index.query(seeds, k=300)
        assert len(many) == 300
        for k in (1, 10, 50, 120):
            assert index.query(seeds, k=k) == many[:k]


def test_seed_expansion_keeps_reasons_about_real_seeds(cliques: ig.Graph) -> None:
    found = lookalikes(cliques, ["a0"], k=3, expansion_rounds=3)
    for candidate in found:
        for reason in candidate.reasons:
            if reason.kind == "knows_seeds":
                assert reason.evidence == ("a0",)
    with pytest.raises(InputError, match="expansion"):
        lookalikes(cliques, ["a0"], expansion_rounds=-1)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 80), density=st.floats(0.0, 0.3))
def test_neighbourhood_products_equal_the_full_products(seed: int, n: int, density: float) -> None:
    # A query reads only the rows of its seeds' neighbourhood (or the whole matrix when that
    # is large); either way the result and its support must be those of the full product.
    from quanzi.algorithms.lookalike import _AttributeTable, _spread

    rng = np.random.default_rng(seed)
    g = random_graph(n, int(density * n * n / 2) + 1, seed)
    matrix = LookalikeIndex(g, weight="weight")._matrix
    x = np.where(rng.random(n) < 0.1, rng.uniform(0.1, 2.0, n), 0.0)
    result, support = _spread(matrix, x)
    assert np.allclose(result, matrix @ x)
    if support is not None:
        assert set(np.flatnonzero(result)) <= set(support.tolist())
    ids = g.vs["id"]
    values = {cid: [f"v{j}" for j in range(5) if rng.random() < 0.3] for cid in ids}
    table = _AttributeTable.build({cid: i for i, cid in enumerate(ids)}, values)
    counts = table.seed_counts(x, np.flatnonzero(x))
    assert np.allclose(counts, table.incidence.T @ x)
    weights = counts * table.idf
    assert np.allclose(table.holders(weights), table.incidence @ weights)


def _reference_ranking(
    index: LookalikeIndex, seeds: list[str], k: int, rounds: int
) -> list[tuple[str, float]]:
    """The lookalike ranking computed the plain way: every round mixes every part over every
    customer and sorts them all (what :meth:`LookalikeIndex.query` must equal)."""
    chosen = LookalikeWeights()
    ids = index.ids
    n = len(ids)
    seed_idx = np.array(sorted(index._index[s] for s in seeds), dtype=np.int64)
    seed_vector = np.zeros(n)
    seed_vector[seed_idx] = 1.0
    everyone = np.ones(n, dtype=np.bool_)
    everyone[seed_idx] = False

    def mix(raw: dict[str, np.ndarray]) -> np.ndarray:
        total = sum(getattr(chosen, name) for name in raw)
        score = np.zeros(n)
        for name, values in raw.items():
            best = float(np.max(values, where=everyone, initial=0.0))
            if best > 0:
                score += getattr(chosen, name) / total * np.clip(values / best, 0.0, 1.0)
        return np.where(everyone, score, 0.0)

    def ranked(score: np.ndarray, count: int) -> list[int]:
        pool = [i for i in range(n) if everyone[i] and score[i] > 0]
        return sorted(pool, key=lambda i: (-score[i], ids[i]))[:count]

    raw, _, _ = index._parts(seed_vector, seed_idx, chosen, (2, 3))
    from_seeds = raw
    for round_ in range(rounds):
        score = mix(raw)
        top = np.array(ranked(score, EXPANSION_POOL), dtype=np.int64)
        expanded = seed_vector.copy()
        expanded[top] += score[top] / score[top].max()
        support = np.union1d(seed_idx, top)
        ties_only = round_ < rounds - 1
        parts, _, _ = index._parts(expanded, support, chosen, (2, 3), ties_only=ties_only)
        raw = {**from_seeds, **parts}
    score = mix(raw)
    return [(ids[i], float(score[i])) for i in ranked(score, k)]


@pytest.mark.parametrize(("seed", "near"), [(0, 400), (1, 400), (2, 16), (3, 16)])
def test_a_query_ranks_like_mixing_every_part_over_everyone(seed: int, near: int) -> None:
    # A query mixes the seeds' dense parts once and adds the tie parts only where the walks
    # reached, and picks each round's expanded seeds among few contenders: the ranking must
    # be the one of mixing every part over every customer, every round. With the seeds among
    # 16 customers apart from 600 others (a ring), the walks reach few and customers who share
    # only attributes with the seeds join the expanded seeds.
    rng = np.random.default_rng(seed)
    g = random_graph(near, 2 * near, seed)
    if near < 400:
        far = ig.Graph.Ring(600)
        far.vs["id"] = [f"c{i}" for i in range(near, near + 600)]
        far.es["weight"] = rng.uniform(0.5, 2.0, size=far.ecount()).tolist()
        g = g.disjoint_union(far)
    values = {
        "interest": {cid: [f"i{j}" for j in range(6) if rng.random() < 0.3] for cid in g.vs["id"]},
        "circle": {cid: [f"k{rng.integers(0, 12)}"] for cid in g.vs["id"]},
    }
    seeds = [f"c{i}" for i in rng.choice(near, size=8, replace=False)]
    index = LookalikeIndex(g, attributes=values)
    for rounds in (0, 1, 3):
        got = [(c.id, c.score) for c in index.query(seeds, k=10, expansion_rounds=rounds)]
        expected = _reference_ranking(index, seeds, 10, rounds)
        assert [cid for cid, _ in got] == [cid for cid, _ in expected]
        assert np.allclose([s for _, s in got], [s for _, s in expected], rtol=1e-12)


def test_an_index_keeps_single_precision_embeddings_and_shows_them_as_double() -> None:
    g = random_graph(60, 150, 5)
    index = LookalikeIndex(g)
    assert index.prepare() is index
    shown = index.embeddings
    assert shown.dtype == np.float64
    assert shown.shape == (60, 128)
    assert np.allclose(shown, fastrp_embeddings(g), atol=1e-6)
    # FastRP computes in single precision: the copy shown is exactly what the queries use.
    assert np.array_equal(shown.astype(np.float32), index._embedding_rows())


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=6000),
    k=st.integers(min_value=1, max_value=120),
    levels=st.sampled_from([2, 7, 1000, 0]),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_best_of_is_the_exact_top_k_with_ties_broken_by_id(
    n: int, k: int, levels: int, seed: int
) -> None:
    # Large pools are pruned by a bar drawn from a sample of their scores (few score levels
    # make many ties at the bar, and skewed scores put the best where the sample is not);
    # the answer must still be the k best by score, then by id, as a full sort gives.
    rng = np.random.default_rng(seed)
    scores = (
        rng.integers(0, levels, size=n).astype(np.float64)
        if levels
        else rng.pareto(1.0, size=n) * (rng.random(n) < 0.05)
    )
    pool = np.sort(rng.choice(n, size=rng.integers(1, n + 1), replace=False))
    name_order = rng.permutation(n)
    expected = pool[np.lexsort((name_order[pool], -scores[pool]))[:k]]
    assert _best_of(scores, pool, name_order, k).tolist() == expected.tolist()


def test_best_of_falls_back_when_the_sampled_bar_is_too_high() -> None:
    # Every 16th score is what the bar is drawn from: make the few high ones all sampled,
    # so fewer than k clear the bar and the whole pool must be ranked.
    n, k = 3200, 50
    scores = np.full(n, 0.5)
    scores[: 16 * 8 : 16] = 1.0
    scores[5] = 0.75
    order = np.arange(n)
    best = _best_of(scores, order, order, k)
    assert len(best) == k
    assert best[:9].tolist() == [*range(0, 16 * 8, 16), 5]
    assert best[9:].tolist() == [i for i in range(n) if scores[i] == 0.5][: k - 9]
