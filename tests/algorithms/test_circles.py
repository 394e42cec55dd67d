"""Circles: known answers on small graphs, invariants on random ones."""

from __future__ import annotations

import itertools

import cluster_libreville
import igraph as ig
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from quanzi.algorithms import circles
from quanzi.algorithms._matrix import adjacency
from quanzi.algorithms.circles import (
    LayerWeights,
    Partition,
    build_tie_graph,
    circle_kind,
    describe_circles,
    detect_circle_hierarchy,
    detect_circles,
    match_circles,
    partition_from_membership,
    top_attributes,
)
from quanzi.errors import InputError


def random_graph(n: int, p: float, seed: int) -> ig.Graph:
    rng = np.random.default_rng(seed)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n) if rng.random() < p]
    g = ig.Graph(n=n, edges=pairs)
    g.vs["id"] = [f"c{i}" for i in range(n)]
    g.es["weight"] = rng.uniform(0.5, 2.0, size=len(pairs)).tolist()
    return g


def planted(n_blocks: int, size: int, seed: int) -> ig.Graph:
    """Dense blocks (p=0.8) with sparse noise between them (p=0.02)."""
    rng = np.random.default_rng(seed)
    n = n_blocks * size
    pairs = [
        (i, j)
        for i in range(n)
        for j in range(i + 1, n)
        if rng.random() < (0.8 if i // size == j // size else 0.02)
    ]
    g = ig.Graph(n=n, edges=pairs)
    g.vs["id"] = [f"c{i}" for i in range(n)]
    g.es["weight"] = 1.0
    return g


def assert_covers_once(part: Partition, n: int) -> None:
    assert part.membership.shape == (n,)
    assert sorted(set(part.membership.tolist())) == list(range(part.n_circles))
    assert int(part.sizes().sum()) == n
    assert len(set(part.keys)) == part.n_circles
    members = [m for ms in part.circles().values() for m in ms]
    assert sorted(members) == sorted(part.ids)


# ------------------------------------------------------------------ known answers


def test_two_cliques_joined_by_one_edge_are_two_circles(cliques: ig.Graph) -> None:
    circles = detect_circles(cliques).circles()
    assert sorted(map(sorted, circles.values())) == [
        ["a0", "a1", "a2", "a3", "a4"],
        ["b0", "b1", "b2", "b3", "b4"],
    ]


@pytest.mark.parametrize("objective", ["modularity", "cpm"])
def test_both_objectives_find_the_cliques(cliques: ig.Graph, objective: str) -> None:
    resolution = 0.5 if objective == "cpm" else 1.0
    part = detect_circles(cliques, objective=objective, resolution=resolution)  # type: ignore[arg-type]
    assert part.n_circles == 2


def test_multiplex_layers_find_the_cliques(cliques: ig.Graph) -> None:
    g = build_tie_graph(cliques, groups={"g": ["a0", "a1", "a2"]})
    part = detect_circles(g, layers={"tie": 1.0, "group": 0.5})
    assert part.n_circles == 2


def test_circles_are_numbered_from_the_largest() -> None:
    g = ig.Graph.Full(3) + ig.Graph.Full(6)
    g.vs["id"] = [str(i) for i in range(9)]
    part = detect_circles(g, weight=None)
    assert part.sizes().tolist() == [6, 3]
    assert part.membership[0] == 1


def test_edgeless_graph_gives_singletons() -> None:
    g = ig.Graph(3)
    g.vs["id"] = ["x", "y", "z"]
    part = detect_circles(g, weight=None)
    assert part.n_circles == 3
    assert part.modularity == 0.0


@pytest.mark.parametrize("engine", ["libreville", "igraph"])
def test_ties_all_of_weight_zero_give_singletons_and_modularity_zero(
    engine: circles.Engine,
) -> None:
    g = ig.Graph([(0, 1), (1, 2), (0, 2), (2, 3)], n=5)
    g.es["weight"] = 0.0
    part = detect_circles(g, engine=engine)
    assert part.n_circles == 5
    assert part.modularity == 0.0


def test_directed_graph_is_refused() -> None:
    with pytest.raises(InputError, match="undirected"):
        detect_circles(ig.Graph([(0, 1)], directed=True), weight=None)


def test_same_seed_same_circles() -> None:
    g = random_graph(120, 0.05, seed=3)
    first = detect_circles(g, seed=7)
    again = detect_circles(g, seed=7)
    assert np.array_equal(first.membership, again.membership)


def test_large_graphs_get_one_leiden_iteration(monkeypatch: pytest.MonkeyPatch) -> None:
    g = random_graph(200, 0.04, seed=0)
    one = detect_circles(g, n_iterations=1).membership
    two = detect_circles(g, n_iterations=2).membership
    assert not np.array_equal(one, two)  # the graph tells the two counts apart
    assert np.array_equal(detect_circles(g).membership, two)
    monkeypatch.setattr(circles, "ONE_ITERATION_EDGES", g.ecount() - 1)
    assert np.array_equal(detect_circles(g).membership, one)


@pytest.mark.parametrize("seed", range(5))
def test_one_iteration_gives_connected_circles_and_is_repeatable(seed: int) -> None:
    # Leiden's refinement runs in every iteration: even one leaves no circle in pieces
    g = random_graph(150, 0.03, seed=seed)
    part = detect_circles(g, seed=seed, n_iterations=1)
    assert_covers_once(part, g.vcount())
    for c in range(part.n_circles):
        inside = g.induced_subgraph(np.flatnonzero(part.membership == c).tolist())
        assert inside.is_connected()
    again = detect_circles(g, seed=seed, n_iterations=1)
    assert np.array_equal(part.membership, again.membership)


def test_one_iteration_recovers_planted_blocks() -> None:
    g = planted(4, 25, seed=1)
    part = detect_circles(g, n_iterations=1)
    assert part.n_circles == 4
    assert all(len(set(part.membership[b * 25 : (b + 1) * 25].tolist())) == 1 for b in range(4))


def test_planted_blocks_are_recovered() -> None:
    g = planted(4, 25, seed=1)
    part = detect_circles(g)
    assert part.n_circles == 4
    assert all(len(set(part.membership[b * 25 : (b + 1) * 25].tolist())) == 1 for b in range(4))


@pytest.mark.parametrize("engine", ["libreville", "igraph"])
def test_both_engines_recover_planted_blocks(engine: circles.Engine) -> None:
    g = planted(5, 20, seed=4)
    for n_iterations in (1, 2, -1):
        part = detect_circles(g, engine=engine, n_iterations=n_iterations)
        assert part.n_circles == 5
        blocks = part.membership.reshape(5, 20)
        assert all(len(set(row.tolist())) == 1 for row in blocks)


def test_libreville_gives_the_same_circles_at_any_thread_count() -> None:
    # What the default engine is chosen for: every core, and still one answer per seed.
    g = random_graph(400, 0.02, seed=5)
    matrix = adjacency(g, "weight", directed=False)
    one = cluster_libreville.leiden(matrix, seed=3, n_iterations=2, threads=1)
    two = cluster_libreville.leiden(matrix, seed=3, n_iterations=2, threads=2)
    assert np.array_equal(one, two)
    found = detect_circles(g, seed=3).membership
    assert np.array_equal(found, circles._renumber(one))


def test_self_loops_count_as_in_the_reported_modularity() -> None:
    # igraph's modularity (the figure reported) counts a loop twice in its vertex's degree;
    # the engine must optimise that same quantity, or a loop-heavy graph's circles and
    # figure disagree.
    g = random_graph(120, 0.05, seed=6)
    g.add_edges([(i, i) for i in range(0, 120, 2)])
    g.es[g.ecount() - 60 :]["weight"] = 6.0
    part = detect_circles(g, seed=2)
    matrix = adjacency(g, "weight", directed=False)
    labels, info = cluster_libreville.leiden(
        matrix + sp.diags_array(matrix.diagonal()), seed=2, n_iterations=2, return_info=True
    )
    assert np.array_equal(part.membership, circles._renumber(labels))
    assert info["modularity"] == pytest.approx(part.modularity)
    once = cluster_libreville.leiden(matrix, seed=2, n_iterations=2)
    assert not np.array_equal(labels, once)  # the loops do weigh on this graph


def test_hierarchy_splits_a_large_circle_into_its_blocks() -> None:
    # Four blocks; the top level sees two halves because the halves are tightly linked.
    g = planted(4, 20, seed=2)
    g.add_edges([(i, 20 + i) for i in range(20)] + [(40 + i, 60 + i) for i in range(20)])
    g.es["weight"] = 1.0
    levels = detect_circle_hierarchy(g, max_circle_size=30)
    assert levels[-1].n_circles == 4
    for upper, lower in itertools.pairwise(levels):
        # every sub-circle lies inside its parent
        assert np.array_equal(lower.parent[lower.membership], upper.membership)


def test_a_top_level_found_elsewhere_is_split_as_one_found_here() -> None:
    # As the analysis does with circles from Neo4j GDS: the top level given, labelled the
    # server's way (arbitrary community ids), gives the same levels as finding it here.
    g = planted(4, 20, seed=2)
    g.add_edges([(i, 20 + i) for i in range(20)] + [(40 + i, 60 + i) for i in range(20)])
    g.es["weight"] = 1.0
    found = detect_circle_hierarchy(g, max_circle_size=30)
    server_labels = 1000 + 7 * (found[0].n_circles - found[0].membership)  # reversed order
    top = partition_from_membership(g, server_labels)
    assert np.array_equal(top.membership, found[0].membership)
    assert top.modularity == pytest.approx(found[0].modularity)
    given = detect_circle_hierarchy(g, max_circle_size=30, top=top)
    assert [lv.keys for lv in given] == [lv.keys for lv in found]
    assert all(
        np.array_equal(a.membership, b.membership) for a, b in zip(given, found, strict=True)
    )


def test_a_top_level_must_label_every_vertex_of_the_graph() -> None:
    g = planted(2, 5, seed=0)
    with pytest.raises(InputError, match="one label per vertex"):
        partition_from_membership(g, [0] * 9)
    other = planted(2, 5, seed=0)
    other.vs["id"] = [f"x{i}" for i in range(10)]
    with pytest.raises(InputError, match="not a partition of this graph"):
        detect_circle_hierarchy(g, top=partition_from_membership(other, [0] * 10))


# ------------------------------------------------------------------ the tie graph


def test_tie_graph_layers_sum_to_weight() -> None:
    ties = ig.Graph([(0, 1), (1, 2)], vertex_attrs={"id": ["a", "b", "c"]})
    ties.es["weight"] = [2.0, 1.0]
    g = build_tie_graph(
        ties,
        groups={"g": ["a", "b", "d"]},
        interests={"golf": ["a", "b"]},
        layer_weights=LayerWeights(tie=1.0, group=0.5, interest=0.2),
    )
    assert g.vs["id"] == ["a", "b", "c", "d"]
    ab = g.es[g.get_eid(0, 1)]
    # tie 2.0; group of 3 -> 1/(3-1) = 0.5, times 0.5; interest of 2 -> 1, times 0.2
    assert ab["tie"] == pytest.approx(2.0)
    assert ab["group"] == pytest.approx(0.25)
    assert ab["interest"] == pytest.approx(0.2)
    total = sum(ab[name] for name in ("tie", "group", "interest", "employee"))
    assert ab["weight"] == pytest.approx(total)
    assert not g.is_directed()


def test_tie_graph_folds_directed_ties_and_drops_loops() -> None:
    ties = ig.Graph([(0, 1), (1, 0), (0, 0)], directed=True, vertex_attrs={"id": ["a", "b"]})
    g = build_tie_graph(ties, weight=None)
    assert g.ecount() == 1
    assert g.es["weight"] == [2.0]


def test_tie_graph_skips_oversized_affiliations_and_unknown_customers() -> None:
    g = build_tie_graph(
        None,
        groups={"huge": [f"c{i}" for i in range(10)], "small": ["c0", "c1", "stranger"]},
        customers=[f"c{i}" for i in range(10)],
        max_affiliation_size=5,
    )
    assert g.vcount() == 10
    assert g.ecount() == 1
    assert g.es["group"] == [pytest.approx(0.5)]


def test_large_affiliation_only_strengthens_existing_ties() -> None:
    book = [f"c{i}" for i in range(8)]
    ties = ig.Graph([(0, 1), (2, 3)], vertex_attrs={"id": book[:4]})
    small = {"chat": ["c4", "c5", "c6"]}
    common = {"ties": ties, "weight": None, "groups": small, "customers": book}
    g = build_tie_graph(**common, employees={"e1": book}, max_clique_size=5)
    # the book of 8 adds no pair of its own: only the 2 ties and the chat's 3 pairs exist
    assert g.ecount() == 2 + 3
    per_pair = 0.3 / (8 - 1)
    assert g.es["employee"] == pytest.approx([per_pair] * 5)
    for e in g.es:
        parts = sum(e[name] for name in ("tie", "group", "interest", "employee"))
        assert e["weight"] == pytest.approx(parts)
    # the same pairs get the same employee weight as the full projection gives them
    full = build_tie_graph(**common, employees={"e1": book}, max_clique_size=None)
    assert full.ecount() == 8 * 7 // 2
    for e in g.es:
        pair = (g.vs[e.source]["id"], g.vs[e.target]["id"])
        same = full.es[full.get_eid(*(book.index(v) for v in pair))]
        assert e["employee"] == pytest.approx(same["employee"])
        assert e["weight"] == pytest.approx(same["weight"])


def test_negative_layer_weight_is_refused() -> None:
    with pytest.raises(InputError):
        LayerWeights(group=-1.0)


# ------------------------------------------------------------------ stable ids


def test_matching_keeps_names_of_relabelled_circles() -> None:
    previous = {"golfers": ["a", "b", "c"], "wine": ["d", "e"]}
    new = {"0": ["d", "e", "f"], "1": ["a", "b", "c"]}
    match = match_circles(previous, new)
    assert match.mapping == {"0": "wine", "1": "golfers"}
    assert match.similarity["1"] == 1.0
    assert match.unmatched_new == []
    assert match.unmatched_previous == []


def test_matching_prefers_the_best_total_overlap() -> None:
    # greedy would give "0" to "p" (0.5) and leave "1" poorly matched; the optimum swaps
    previous = {"p": ["a", "b", "c", "d"], "q": ["e", "f"]}
    new = {"0": ["a", "b", "e", "f"], "1": ["c", "d"]}
    match = match_circles(previous, new)
    assert match.mapping == {"0": "q", "1": "p"}


def test_matching_accepts_a_partition(cliques: ig.Graph) -> None:
    part = detect_circles(cliques)
    previous = {"left": [f"a{i}" for i in range(5)], "right": [f"b{i}" for i in range(4)]}
    match = match_circles(previous, part)
    assert set(match.mapping.values()) == {"left", "right"}


@settings(max_examples=60, deadline=None)
@given(
    previous=st.lists(st.integers(0, 6), min_size=1, max_size=40),
    new=st.lists(st.integers(0, 6), min_size=1, max_size=40),
    threshold=st.floats(0.0, 1.0),
)
def test_matching_is_a_bijection_on_matched_pairs(
    previous: list[int], new: list[int], threshold: float
) -> None:
    size = min(len(previous), len(new))
    prev_circles: dict[str, list[str]] = {}
    new_circles: dict[str, list[str]] = {}
    for member in range(size):
        prev_circles.setdefault(f"p{previous[member]}", []).append(str(member))
        new_circles.setdefault(str(new[member]), []).append(str(member))
    match = match_circles(prev_circles, new_circles, min_similarity=threshold)
    assert len(set(match.mapping.values())) == len(match.mapping)
    assert set(match.mapping) | set(match.unmatched_new) == set(new_circles)
    assert not set(match.mapping) & set(match.unmatched_new)
    assert set(match.mapping.values()) | set(match.unmatched_previous) == set(prev_circles)
    assert all(s >= threshold for s in match.similarity.values())


# ------------------------------------------------------------------ invariants


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 60),
    p=st.floats(0.0, 0.3),
    seed=st.integers(0, 1000),
    max_size=st.integers(2, 30),
)
def test_every_level_covers_every_customer_exactly_once(
    n: int, p: float, seed: int, max_size: int
) -> None:
    g = random_graph(n, p, seed)
    levels = detect_circle_hierarchy(g, max_circle_size=max_size, seed=seed)
    for level in levels:
        assert_covers_once(level, n)
    for upper, lower in itertools.pairwise(levels):
        assert np.array_equal(lower.parent[lower.membership], upper.membership)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 1000))
def test_circles_do_not_depend_on_the_order_of_affiliations(seed: int) -> None:
    rng = np.random.default_rng(seed)
    groups = {f"g{i}": [f"c{j}" for j in rng.choice(30, 5, replace=False)] for i in range(8)}
    shuffled = dict(reversed(list(groups.items())))
    one = build_tie_graph(None, groups=groups)
    two = build_tie_graph(None, groups=shuffled)
    assert one.vs["id"] == two.vs["id"]
    assert sorted(one.get_edgelist()) == sorted(two.get_edgelist())
    assert np.array_equal(detect_circles(one).membership, detect_circles(two).membership)


# ------------------------------------------------------------------ descriptions


def test_kind_comes_from_the_dominant_layer(cliques: ig.Graph) -> None:
    b_ties = [e.index for e in cliques.es if e.source >= 5]
    ties = cliques.subgraph_edges(b_ties, delete_vertices=False)
    g = build_tie_graph(ties, groups={"chat": [f"a{i}" for i in range(5)]})
    part = detect_circles(g)
    kind_of = {
        members[0][0]: description.kind
        for description, members in zip(
            describe_circles(g, part), part.circles().values(), strict=True
        )
    }
    assert kind_of == {"a": "group", "b": "friend"}


def test_description_fields() -> None:
    ties = ig.Graph.Full(3)
    ties.vs["id"] = ["a", "b", "c"]
    g = build_tie_graph(ties, weight=None)
    part = detect_circles(g)
    (d,) = describe_circles(
        g,
        part,
        influence={"a": 0.9, "b": 0.1},
        attributes={"interest": {"a": ["golf"], "b": ["golf", "wine"]}, "tier": {"a": ["loyal"]}},
        scores={"churn_risk": {"a": 0.2, "b": 0.4}},
        n_leaders=1,
    )
    assert (d.size, d.kind, d.leaders) == (3, "friend", [("a", 0.9)])
    assert d.top_attributes["interest"] == [("golf", 2), ("wine", 1)]
    assert d.top_attributes["tier"] == [("loyal", 1)]
    assert d.means["churn_risk"] == pytest.approx(0.3)
    assert sum(d.layer_shares.values()) == pytest.approx(1.0)


def test_describing_some_circles_describes_them_as_among_all() -> None:
    g = planted(4, 20, seed=2)
    g.add_edges([(i, 20 + i) for i in range(20)] + [(40 + i, 60 + i) for i in range(20)])
    g.es["weight"] = 1.0
    lower = detect_circle_hierarchy(g, max_circle_size=30)[-1]
    influence = {v: i / 80 for i, v in enumerate(g.vs["id"])}
    every = describe_circles(g, lower, influence=influence)
    some = describe_circles(g, lower, influence=influence, only=set(lower.keys[1::2]))
    assert some == every[1::2]


def test_unconnected_circle_kind() -> None:
    assert circle_kind({"tie": 0.0})[0] == "unconnected"
    assert top_attributes(["x"], {}) == []


def test_random_circles_are_not_split_further() -> None:
    # a random graph has no circles inside its circles: Leiden's level-0 split is all there is
    g = random_graph(300, 0.05, seed=11)
    levels = detect_circle_hierarchy(g, max_circle_size=20)
    assert len(levels) == 1
    assert len(detect_circle_hierarchy(g, max_circle_size=20, significance=-1.0)) > 1
