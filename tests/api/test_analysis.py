"""The analysis service on the real store: known circles, invariants, stable ids and names."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from typing import Any

import pytest

from quanzi.api.services.analysis import run_analysis
from quanzi.errors import ConflictError
from quanzi.graph.store import GraphStore
from quanzi.ingest.lock import writer_lock
from quanzi.model import Node, Rel
from quanzi.settings import Settings
from tests.api.conftest import Api


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


def test_an_analysis_waits_for_a_running_ingest_and_holds_off_merges(
    store: GraphStore, store_settings: Settings
) -> None:
    # An ingest changing customers between the analysis's read and its write-back would leave
    # circles naming merged-away customers: the two take turns through the writer lock.
    _two_cliques(store)
    steps: list[str] = []
    result: list[Any] = []
    analysis = threading.Thread(
        target=lambda: result.append(
            run_analysis(store, store_settings, progress=lambda s, d, t: steps.append(s))
        )
    )
    with writer_lock(store_settings.data_dir):  # an ingest holds the lock
        analysis.start()
        time.sleep(1.0)
        assert analysis.is_alive()
        assert steps[0].startswith("analyse: waiting for an ingest (process ")
        assert store.node_ids(Node.CIRCLE) == []
    analysis.join(timeout=120)
    assert [r.customers for r in result] == [17]
    assert store.node_ids(Node.CIRCLE)

    # While an analysis holds the lock, a short write that will not wait names it.
    computing, go_on = threading.Event(), threading.Event()

    def pause_at_circles(step: str, done: int, total: int | None) -> None:
        if step == "analyse: circles":
            computing.set()
            go_on.wait(timeout=60)

    holder = threading.Thread(
        target=run_analysis, args=(store, store_settings), kwargs={"progress": pause_at_circles}
    )
    holder.start()
    try:
        assert computing.wait(timeout=60)
        with (
            pytest.raises(ConflictError, match=r"An analysis \(process \d+\) is writing"),
            writer_lock(store_settings.data_dir, timeout=0.05, what="the merge"),
        ):
            pass
    finally:
        go_on.set()
        holder.join(timeout=120)


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


def test_rerun_rewrites_the_circles_of_customers_who_moved_only(
    store: GraphStore, store_settings: Settings
) -> None:
    _two_cliques(store)
    run_analysis(store, store_settings)
    first = _circle_of(store)
    # a7 leaves the left clique for the right one: its ties to the left fade to nothing.
    store.upsert_relations(
        Rel.INTERACTS_WITH,
        Node.CUSTOMER,
        Node.CUSTOMER,
        [{"start": f"a{i}", "end": "a7", "weight": 0.0} for i in range(7)]
        + [{"start": "a7", "end": f"b{i}", "weight": 3.0} for i in range(8)],
    )
    run_analysis(store, store_settings)
    after = _circle_of(store)
    assert after["a7"] == first["b1"] != first["a7"]
    assert after["a1"] == first["a1"]
    # Every customer holds exactly the circles its properties name, moved or not.
    written = store.read_node_columns(Node.CUSTOMER, {"circle_id": "text", "subcircle_id": "text"})
    links: dict[str, set[str]] = {}
    for customer, circle in store.read_pairs(Rel.IN_CIRCLE, Node.CUSTOMER, Node.CIRCLE):
        links.setdefault(customer, set()).add(circle)
    for customer, top, sub in zip(
        written["id"], written["circle_id"], written["subcircle_id"], strict=True
    ):
        assert links[customer] == {top, sub or top}


def test_churn_results_an_analysis_does_not_rewrite_are_cleared(
    store: GraphStore, store_settings: Settings
) -> None:
    _two_cliques(store)
    earlier = {"churn_risk": 0.7, "churn_risk_reasons": ["old"], "churned_at": "2020-01-01"}
    store.set_node_properties(Node.CUSTOMER, [{"id": "a1", **earlier}, {"id": "b2", "x": 1}])
    summary = run_analysis(store, store_settings)
    assert summary.churn_note  # too little history to learn churn from: nothing is rewritten
    a1 = store.get_node(Node.CUSTOMER, "a1") or {}
    assert not set(earlier) & set(a1)
    assert (store.get_node(Node.CUSTOMER, "b2") or {})["x"] == 1


def _day(day: str) -> str:
    return f"{day}T00:00:00Z"


def _three_circles(store: GraphStore) -> dict[str, list[str]]:
    """Three circles of 20; circle a is leaving (its employee contacts deleted), b a little.

    Before the training cutoff (2024-10-02, 90 days before the latest fact on 2024-12-31)
    a0-a5 and b0 have churned; inside the 90 days a6-a13, b1-b3 and c0 churn.
    """
    circles = {name: [f"{name}{i}" for i in range(20)] for name in "abc"}
    everyone = [c for members in circles.values() for c in members]
    early = {*circles["a"][:6], "b0"}
    late = {*circles["a"][6:14], "b1", "b2", "b3", "c0"}
    gone_at = {c: "2024-08-01" for c in early} | {c: "2024-11-15" for c in late}
    store.upsert_nodes(
        Node.CUSTOMER,
        [
            {
                "id": c,
                "first_seen": _day("2024-01-01"),
                "last_active_at": _day(gone_at.get(c, "2024-12-31")),
            }
            for c in everyone
        ],
    )
    store.upsert_nodes(Node.EMPLOYEE, [{"id": "E1"}, {"id": "E2"}])
    store.upsert_relations(
        Rel.SERVED_BY,
        Node.CUSTOMER,
        Node.EMPLOYEE,
        [
            {
                "start": c,
                "end": "E2" if c.startswith("c") else "E1",
                "added_at": _day("2024-01-01"),
                **({"deleted_at": _day(gone_at[c])} if c in gone_at else {}),
            }
            for c in everyone
        ],
    )
    ties = [
        {"start": x, "end": y, "weight": 3.0}
        for members in circles.values()
        for i, x in enumerate(members)
        for y in members[i + 1 :]
    ]
    ties += [{"start": "a19", "end": "b19", "weight": 1.0}, {"start": "b18", "end": "c19"}]
    store.upsert_relations(Rel.INTERACTS_WITH, Node.CUSTOMER, Node.CUSTOMER, ties)
    store.upsert_nodes(Node.INTEREST, [{"id": "golf"}, {"id": "tea"}])
    store.upsert_relations(
        Rel.INTERESTED_IN,
        Node.CUSTOMER,
        Node.INTEREST,
        [{"start": c, "end": "golf" if c.startswith("a") else "tea"} for c in everyone],
    )
    # Lifecycle: b4 went through the recorded funnel and bought three times; c5 bought once.
    store.upsert_nodes(
        Node.CUSTOMER,
        [
            {
                "id": "b4",
                "funnel_history": [
                    "2024-01-01T00:00:00Z first_contact",
                    "2024-02-01T00:00:00Z intention",
                    "2024-03-01T00:00:00Z meeting",
                ],
            }
        ],
    )
    _orders(store, [("b4", ["2024-03-10", "2024-04-10", "2024-05-10"]), ("c5", ["2024-06-01"])])
    return circles


def test_churn_lifecycle_and_circle_descriptions(store: GraphStore, api: Api) -> None:
    circles = _three_circles(store)
    summary = run_analysis(store, api.settings)
    assert summary.churn_note == ""
    assert summary.churned == 19  # 7 before the cutoff, 12 inside the 90 days
    assert summary.churn_scored == 41

    def props(c: str) -> dict[str, Any]:
        node = store.get_node(Node.CUSTOMER, c)
        assert node is not None
        return node

    gone = props("a0")
    assert gone["churn_risk"] == 1.0
    assert gone["churned_at"] == "2024-08-01T00:00:00Z"
    assert gone["churn_risk_reasons"] == ["churned on 2024-08-01: deleted every employee contact"]
    risk = {c: props(c)["churn_risk"] for m in circles.values() for c in m}
    assert all(0.0 <= r <= 1.0 for r in risk.values())
    staying = {name: [risk[c] for c in m if risk[c] < 1.0] for name, m in circles.items()}
    mean = {name: sum(v) / len(v) for name, v in staying.items()}
    # What is left of the leaving circle is most at risk, then b, then c.
    assert mean["a"] > mean["b"] > mean["c"]
    reasons = props("a19")["churn_risk_reasons"]
    assert reasons
    assert all(isinstance(r, str) for r in reasons)
    assert any("circle has left" in r or "customers who left" in r for r in reasons)

    circle_a = store.get_node(Node.CIRCLE, props("a19")["circle_id"])
    circle_c = store.get_node(Node.CIRCLE, props("c19")["circle_id"])
    assert circle_a is not None
    assert circle_c is not None
    assert circle_a["churn_rate"] == 0.7
    assert circle_a["churn_risk"] == pytest.approx(
        sum(risk[c] for c in circles["a"]) / 20, abs=1e-3
    )
    assert circle_a["owners"] == ["E1"]
    assert circle_c["owners"] == ["E2"]
    assert json.loads(circle_a["owner_counts"]) == {"E1": 6}  # active contacts only
    golf = json.loads(circle_a["interest_lift"])[0]
    assert (golf["value"], golf["share"], golf["lift"]) == ("golf", 1.0, 3.0)
    # The circle endpoint's mean reads the same risks.
    listed = api.get("/circles?limit=10").json()["items"]
    by_id = {c["id"]: c for c in listed}
    assert by_id[circle_a["id"]]["churn_risk_mean"] == pytest.approx(circle_a["churn_risk"], 1e-3)

    buyer = props("b4")
    assert buyer["funnel_stage"] == "order"
    assert buyer["funnel_path"] == [
        "2024-01-01T00:00:00Z first_contact",
        "2024-02-01T00:00:00Z intention",
        "2024-03-01T00:00:00Z meeting",
        "2024-03-10T00:00:00Z order",
    ]
    assert buyer["tier"] == "loyal"
    assert buyer["tier_path"] == [
        "2024-01-01T00:00:00Z potential",
        "2024-03-10T00:00:00Z general",
        "2024-05-10T00:00:00Z loyal",
    ]
    assert props("c5")["tier"] == "general"
    assert props("c6")["rfm_segment"] == "prospect"
    assert "rfm_score" not in props("c6")
    # Two buyers: b4 spent more and more often, c5 bought more recently.
    assert (props("b4")["rfm_score"], props("c5")["rfm_score"]) == ("355", "533")

    run = store.get_node(Node.ANALYSIS, "latest")
    assert run is not None
    assert run["reference_at"] == "2024-12-31T00:00:00Z"
    churn = json.loads(run["churn"])
    assert churn["scored"]
    assert churn["training_churned"] == 12
    assert json.loads(run["rfm_segments"])["prospect"] == 58
    tier_steps = {(s["from"], s["to"]): s for s in json.loads(run["tier_conversion"])}
    assert tier_steps[("potential", "general")]["reached"] == 60
    assert tier_steps[("potential", "general")]["converted"] == 2
    assert tier_steps[("general", "loyal")]["median_days"] == 61.0
    prefs = json.loads(run["preferences"])
    assert prefs["rfm_segment"]["interest"]["prospect"][0]["value"] == "tea"

    # The endpoints read the same histories: conversion over the whole period agrees.
    tiers = api.get("/tiers?start=2020-01-01&end=2030-01-01").json()
    steps = {(s["from_stage"], s["to_stage"]): s for s in tiers["scored_steps"]}
    for key, step in tier_steps.items():
        assert (steps[key]["reached"], steps[key]["converted"]) == (
            step["reached"],
            step["converted"],
        )
    assert tiers["tiers"] == {"potential": 58, "general": 1, "loyal": 1}
    funnel = api.get("/funnel?start=2020-01-01&end=2030-01-01").json()
    for step in json.loads(run["funnel_conversion"]):
        mine = next(s for s in funnel["steps"] if s["from_stage"] == step["from"])
        assert (mine["reached"], mine["converted"]) == (step["reached"], step["converted"])
    assert funnel["current"] == {"first_contact": 58, "order": 2}


def test_empty_store_and_no_dates(store: GraphStore, store_settings: Settings) -> None:
    summary = run_analysis(store, store_settings)
    assert summary.customers == 0
    assert "no dated fact" in summary.churn_note
    # Too few dated facts to learn churn from: tiers and stages still come out.
    _two_cliques(store)
    store.delete_nodes(Node.ORDER, [f"o-a1-{i}" for i in range(4)])
    summary = run_analysis(store, store_settings)
    assert "at least 10 churned" in summary.churn_note
    assert sum(summary.tiers.values()) == 17
    assert summary.funnel == {"first_contact": 15, "order": 2}


def test_a_circle_that_did_not_split_stays_one_top_level_circle(
    store: GraphStore, store_settings: Settings, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A ring of 80 six-cliques, one tie between neighbours: the top level merges
    # neighbouring cliques (modularity's resolution limit) and the second level splits
    # those merged circles again. A separate six-clique is too small to be split.
    monkeypatch.setattr("quanzi.api.services.analysis.MAX_CIRCLE_SIZE", 7)
    cliques = [[f"r{c}-{i}" for i in range(6)] for c in range(80)]
    apart = [f"s{i}" for i in range(6)]
    people = [c for group in [*cliques, apart] for c in group]
    store.upsert_nodes(Node.CUSTOMER, [{"id": c} for c in people])
    ties = [
        {"start": x, "end": y, "weight": 1.0}
        for group in [*cliques, apart]
        for i, x in enumerate(group)
        for y in group[i + 1 :]
    ]
    ties += [
        {"start": cliques[c][0], "end": cliques[(c + 1) % 80][1], "weight": 1.0} for c in range(80)
    ]
    store.upsert_relations(Rel.INTERACTS_WITH, Node.CUSTOMER, Node.CUSTOMER, ties)
    summary = run_analysis(store, store_settings)
    assert summary.circles.get(1), "the ring's merged circles split on the second level"
    assert store.graph_changes() == (1, 0), "counted for other processes' cached graphs"

    circles = {c["id"]: c for c in api.get("/circles", params={"limit": 200}).json()["items"]}
    top = {cid: c for cid, c in circles.items() if c["level"] == 0}
    subs = {cid: c for cid, c in circles.items() if c["level"] == 1}
    listed = [
        c["id"] for c in api.get("/circles", params={"level": 0, "limit": 200}).json()["items"]
    ]
    assert sorted(listed) == sorted(top)
    # Every customer is in exactly one top-level circle, the unsplit ones included.
    assert sum(c["size"] for c in top.values()) == len(people)
    alone = (store.get_node(Node.CUSTOMER, "s0") or {})["circle_id"]
    assert top[alone]["parent_id"] is None
    assert top[alone]["sub_circles"] == 0
    for cid, c in subs.items():
        assert c["parent_id"] in top
        assert c["parent_id"] != cid
    split = Counter(c["parent_id"] for c in subs.values())
    assert split, "some top-level circle split"
    assert summary.circles == {0: len(top), 1: len(subs)}, "the summary counts what was written"
    for cid, c in top.items():
        assert c["sub_circles"] == split.get(cid, 0)
    # A store written before session 11 held such a circle as its own level-1 child: the
    # next analysis puts it back at the top.
    store.set_node_properties(Node.CIRCLE, [{"id": alone, "level": 1, "parent_id": alone}])
    run_analysis(store, store_settings)
    again = store.get_node(Node.CIRCLE, alone) or {}
    assert again["level"] == 0
    assert "parent_id" not in again
