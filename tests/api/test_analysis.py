"""The analysis service on the real store: known circles, invariants, stable ids and names."""

from __future__ import annotations

import json
from collections import Counter

from quanzi.api.services.analysis import run_analysis
from quanzi.graph.store import GraphStore
from quanzi.model import Node, Rel
from quanzi.settings import Settings


def _two_cliques(store: GraphStore) -> None:
    left = [f"a{i}" for i in range(8)]
    right = [f"b{i}" for i in range(8)]
    store.upsert_nodes(Node.CUSTOMER, [{"id": c} for c in [*left, *right, "loner"]])
    # Facts the tier rules read: a repeat buyer, a lapsed one, a one-time one, a member.
    store.upsert_nodes(
        Node.CUSTOMER,
        [
            {"id": "a4", "recorded_tier": "gold"},
            {"id": "a5", "last_active_at": "2024-12-31T00:00:00Z"},
        ],
    )
    orders = [
        ("a1", ["2024-02-01", "2024-05-01", "2024-08-01", "2024-11-01"]),
        ("a2", ["2021-06-01", "2021-08-01", "2021-10-01", "2022-01-01"]),
        ("a3", ["2024-06-01"]),
    ]
    _orders(store, orders)
    ties = [
        {"start": x, "end": y, "weight": 3.0}
        for group in (left, right)
        for i, x in enumerate(group)
        for y in group[i + 1 :]
    ]
    ties.append({"start": "a0", "end": "b0", "weight": 1.0})
    store.upsert_relations(Rel.INTERACTS_WITH, Node.CUSTOMER, Node.CUSTOMER, ties)


def _orders(store: GraphStore, orders: list[tuple[str, list[str]]]) -> None:
    rows = [
        {"id": f"o-{c}-{i}", "customer_id": c, "placed_at": f"{day}T00:00:00Z", "amount": 100.0}
        for c, days in orders
        for i, day in enumerate(days)
    ]
    store.upsert_nodes(Node.ORDER, rows)
    store.upsert_relations(
        Rel.PLACED,
        Node.CUSTOMER,
        Node.ORDER,
        [{"start": r["customer_id"], "end": r["id"], "at": r["placed_at"]} for r in rows],
    )


def _circle_of(store: GraphStore) -> dict[str, str]:
    pairs = store.read_pairs(Rel.IN_CIRCLE, Node.CUSTOMER, Node.CIRCLE)
    assert all("." not in c for _, c in pairs), "small circles are not split"
    return dict(pairs)


def test_two_cliques_become_two_circles_and_ids_stay(
    store: GraphStore, store_settings: Settings
) -> None:
    _two_cliques(store)
    summary = run_analysis(store, store_settings)
    assert summary.customers == 17
    circle = _circle_of(store)
    per_customer = Counter(
        c for c, _ in store.read_pairs(Rel.IN_CIRCLE, Node.CUSTOMER, Node.CIRCLE)
    )
    assert set(per_customer) == set(store.node_ids(Node.CUSTOMER))
    assert set(per_customer.values()) == {1}, "every customer in exactly one circle per level"
    assert len({circle[f"a{i}"] for i in range(8)}) == 1
    assert len({circle[f"b{i}"] for i in range(8)}) == 1
    assert circle["a1"] != circle["b1"]

    left_id = circle["a1"]
    left = store.get_node(Node.CIRCLE, left_id)
    assert left is not None
    assert left["size"] == 8
    assert left["level"] == 0
    assert len(left["leaders"]) == 3
    assert set(left["leaders"]) <= {f"a{i}" for i in range(8)}
    a0 = store.get_node(Node.CUSTOMER, "a0")
    assert a0 is not None
    assert a0["circle_id"] == left_id
    assert 0.0 <= a0["influence"] <= 1.0
    tiers = {c: store.get_node(Node.CUSTOMER, c)["tier"] for c in ("a0", "a1", "a2", "a3", "a4")}  # type: ignore[index]
    assert tiers == {
        "a0": "potential",
        "a1": "loyal",
        "a2": "general",
        "a3": "general",
        "a4": "member",
    }
    assert json.loads(left["tier_mix"]) == {"potential": 4, "general": 2, "loyal": 1, "member": 1}

    # A marketer names the circle; a re-run keeps its id and the name.
    store.upsert_nodes(Node.CIRCLE, [{"id": left_id, "name": "Weekend hikers"}])
    again = run_analysis(store, store_settings)
    assert again.kept_circle_ids == summary.circles[0]
    assert _circle_of(store) == circle
    renamed = store.get_node(Node.CIRCLE, left_id)
    assert renamed is not None
    assert renamed["name"] == "Weekend hikers"


def test_rerun_is_deterministic_and_retires_vanished_circles(
    store: GraphStore, store_settings: Settings
) -> None:
    _two_cliques(store)
    run_analysis(store, store_settings)
    first = _circle_of(store)
    circles_before = set(store.node_ids(Node.CIRCLE))
    # The right clique leaves: its circle has no members any more and is retired.
    store.delete_nodes(Node.CUSTOMER, [f"b{i}" for i in range(8)])
    summary = run_analysis(store, store_settings)
    after = _circle_of(store)
    assert after["a1"] == first["a1"]
    assert summary.retired_circles >= 1
    assert first["b1"] not in set(store.node_ids(Node.CIRCLE))
    assert set(store.node_ids(Node.CIRCLE)) < circles_before | set(after.values())
