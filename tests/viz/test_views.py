"""The graph views: what they draw, what they say about sampling, and that they stay offline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from quanzi.errors import InputError
from quanzi.viz.views import (
    GraphView,
    circle_view,
    circles_map,
    ego_view,
    lookalike_view,
    referral_tree_view,
    vis_asset,
)

Data = Callable[[str], dict[str, Any]]
Refs = Callable[[str], list[str]]


def _members(n: int) -> list[dict[str, Any]]:
    tiers = ["potential", "general", "loyal", "member"]
    return [
        {
            "id": f"c{i}",
            "name": f"客户{i}",
            "influence": i / max(1, n - 1),
            "tier": tiers[i % 4],
            "funnel_stage": "order",
            "churn_risk": 0.25,
            "tags": ["vip", "tea"],
            "employees": [{"id": "e1", "name": "王经理"}],
        }
        for i in range(n)
    ]


def _ring(n: int, kind: str = "INTERACTS_WITH") -> list[dict[str, Any]]:
    return [
        {"start": f"c{i}", "end": f"c{(i + 1) % n}", "kind": kind, "weight": 1.0} for i in range(n)
    ]


def _ids(data: dict[str, Any]) -> set[str]:
    return {str(n["id"]) for n in data["nodes"]}


def test_circle_view_draws_members_ties_leaders_and_cards(
    view_data: Data, external_refs: Refs
) -> None:
    members = _members(6)
    ties = [*_ring(6), {"start": "c0", "end": "c3", "kind": "REFERRED"}]
    view = circle_view(
        members, ties, title="Tea lovers", leaders=["c5"], customer_url="/ui/customers/{id}"
    )

    data = view_data(view.html)
    assert _ids(data) == {f"c{i}" for i in range(6)}
    assert (view.nodes, view.edges, view.total_nodes, view.note) == (6, 7, 6, None)
    by_id = {n["id"]: n for n in data["nodes"]}
    leader = by_id["c5"]
    assert leader["label"] == "客户5"
    assert leader["shape"] == "star"
    assert by_id["c1"]["label"].strip() == ""  # only leaders are labelled
    assert leader["size"] > by_id["c0"]["size"]  # size follows influence
    assert by_id["c3"]["color"] == "#f9a825"  # member tier
    card = by_id["c2"]["card"]
    assert card["link"]["href"] == "/ui/customers/c2"
    assert ["Tier", "loyal"] in card["fields"]
    assert ["Churn risk", "25%"] in card["fields"]
    assert ["Employee", "王经理"] in card["fields"]
    assert card["chips"] == ["vip", "tea"]
    referral = next(e for e in data["edges"] if e["from"] == "c0" and e["to"] == "c3")
    assert referral["arrows"] == "to"
    assert referral["color"] == "#ef6c00"
    assert "Tea lovers" in view.html
    assert "interacts with" in view.html
    assert external_refs(view.html) == []
    assert "<script src=" not in view.html  # vis-network is inlined


def test_circle_view_samples_above_the_limit_and_says_so(view_data: Data) -> None:
    members = _members(50)
    view = circle_view(members, _ring(50), leaders=["c0"], max_nodes=10)

    ids = _ids(view_data(view.html))
    assert len(ids) == 10
    assert view.total_nodes == 50
    assert view.sampled
    assert "c0" in ids  # the leader stays although its influence is the lowest
    assert {f"c{i}" for i in range(41, 50)} <= ids  # then the most influential
    assert view.note is not None
    assert "10 leaders and most influential of 50" in view.note
    assert view.note in view.html


def test_circle_view_colours_by_sub_circle() -> None:
    members = [{"id": "a", "sub_circle": "k1"}, {"id": "b", "sub_circle": "k2"}]
    view = circle_view(members, colour_by="sub_circle")
    assert "sub-circle k1" in view.html
    assert "sub-circle k2" in view.html


def test_views_can_load_vis_network_from_the_server(external_refs: Refs) -> None:
    view = circle_view(_members(2), assets="/ui/static")
    assert '<script src="/ui/static/vis-network.min.js"></script>' in view.html
    assert len(view.html) < 50_000
    assert external_refs(view.html) == []
    assert vis_asset("vis-network.min.js").is_file()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"assets": "https://cdn.example.com/vis"},
        {"assets": "//cdn.example.com"},
        {"customer_url": "https://evil.example/{id}"},
        {"customer_url": "/ui/customers"},
        {"max_nodes": 1},
        {"height": "100px;background:url(x)"},
    ],
)
def test_views_refuse_outside_resources_and_bad_options(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InputError):
        circle_view(_members(2), **kwargs)


def test_text_is_escaped_not_executed(view_data: Data) -> None:
    evil = "</script><script>alert(1)</script>"
    view = circle_view([{"id": "x", "name": evil, "tags": [evil]}], title=evil, leaders=["x"])
    assert "<script>alert(1)</script>" not in view.html
    assert view_data(view.html)["nodes"][0]["card"]["title"] == evil


def test_circles_map_sizes_links_and_aggregates(view_data: Data, external_refs: Refs) -> None:
    circles = [
        {
            "id": f"k{i}",
            "name": f"Circle {i}",
            "size": 100 - i,
            "kind": "friend",
            "leaders": [{"id": "c1", "name": "Li"}],
        }
        for i in range(8)
    ]
    links = [{"start": f"k{i}", "end": f"k{i + 1}", "weight": 2} for i in range(7)]

    full = circles_map(circles, links, circle_url="/ui/circles/{id}")
    data = view_data(full.html)
    assert _ids(data) == {f"k{i}" for i in range(8)}
    assert full.edges == 7
    k0 = next(n for n in data["nodes"] if n["id"] == "k0")
    assert k0["card"]["link"]["href"] == "/ui/circles/k0"
    assert ["Leaders", "Li"] in k0["card"]["fields"]

    small = circles_map(circles, links, max_nodes=4)
    ids = _ids(view_data(small.html))
    assert ids == {"k0", "k1", "k2", "__other__"}
    assert small.note is not None
    assert "other 5 are drawn as one node" in small.note
    assert small.edges == 3  # k0-k1, k1-k2, k2-other (other-other links vanish)
    assert external_refs(small.html) == []


def test_ego_view_from_a_neighbourhood(view_data: Data) -> None:
    hood = {
        "centre": {"id": "c1", "name": "李娜", "tier": "loyal", "_label": "Customer"},
        "nodes": {
            "phone:+8613800138000": {
                "id": "phone:+8613800138000",
                "kind": "phone",
                "channel": "phone",
                "key": "+86 138****8000",
                "_label": "Identity",
            },
            "g1": {"id": "g1", "name": "Tea club", "_label": "Group"},
            "e1": {"id": "e1", "name": "王经理", "_label": "Employee"},
            "c2": {"id": "c2", "name": "张伟", "_label": "Customer"},
            "c3": {"id": "c3", "name": "Friend of 张伟", "_label": "Customer"},
        },
        "relations": [
            {"type": "HAS_IDENTITY", "start": "c1", "end": "phone:+8613800138000", "props": {}},
            {"type": "MEMBER_OF", "start": "c1", "end": "g1", "props": {}},
            {"type": "SERVED_BY", "start": "c1", "end": "e1", "props": {}},
            {"type": "INTERACTS_WITH", "start": "c1", "end": "c2", "props": {"weight": 3}},
            {"type": "INTERACTS_WITH", "start": "c2", "end": "c3", "props": {"weight": 1}},
        ],
        "truncated": False,
    }
    view = ego_view(hood, customer_url="/ui/customers/{id}")
    data = view_data(view.html)
    labels = {n["label"] for n in data["nodes"]}
    assert {"李娜", "phone", "Tea club", "王经理", "张伟", "Friend of 张伟"} <= labels
    assert view.nodes == 6
    assert view.edges == 5
    assert view.note is None
    assert "+8613800138000" not in view.html  # identity ids never reach the page
    centre = next(n for n in data["nodes"] if n["id"] == "centre")
    assert centre["card"]["link"] is None
    friend = next(n for n in data["nodes"] if n["label"] == "张伟")
    assert friend["card"]["link"]["href"] == "/ui/customers/c2"

    folded = ego_view(hood, max_nodes=4)
    assert folded.note is not None
    assert "folded into summary nodes" in folded.note
    assert any(n["label"].startswith("+") for n in view_data(folded.html)["nodes"])


def test_ego_view_accepts_the_store_record_and_says_when_truncated() -> None:
    from quanzi.graph.store import Neighbourhood

    hood = Neighbourhood({"id": "c1", "_label": "Customer"}, {}, [], truncated=True)
    view = ego_view(hood)
    assert view.nodes == 1
    assert view.note is not None
    assert "larger than the query limit" in view.note


def test_referral_tree_counts_invites_and_cuts_deep_trees(view_data: Data) -> None:
    referrals = [{"start": "a", "end": "b"}, {"start": "a", "end": "c"}, {"start": "b", "end": "d"}]
    referrals += [{"start": "d", "end": f"x{i}"} for i in range(10)]
    view = referral_tree_view(referrals, {"a": {"name": "Alice", "tier": "member"}})
    data = view_data(view.html)
    a = next(n for n in data["nodes"] if n["id"] == "a")
    assert a["label"] == "Alice\ninvited 2"
    assert a["level"] == 0
    assert ["Reach (all levels)", "13"] in a["card"]["fields"]
    assert data["options"]["layout"]["hierarchical"]["enabled"] is True

    cut = referral_tree_view(referrals, max_nodes=5)
    labels = {n["label"] for n in view_data(cut.html)["nodes"]}
    assert "+9 more" in labels
    assert cut.note is not None
    assert "+ more" in cut.note


def test_referral_tree_survives_cycles_and_long_chains() -> None:
    chain = [{"start": f"p{i}", "end": f"p{i + 1}"} for i in range(5000)]
    view = referral_tree_view([*chain, {"start": "p5000", "end": "p0"}], roots=["p0"], max_nodes=50)
    assert view.nodes == 51
    assert view.sampled


def test_lookalike_view_explains_prospects(view_data: Data, external_refs: Refs) -> None:
    seeds = [
        {"id": "s1", "name": "Seed One", "circle_id": "k1", "interests": ["tea"]},
        {"id": "s2", "name": "Seed Two", "circle_id": "k2"},
    ]
    prospects = [
        {
            "id": "p1",
            "name": "Prospect",
            "score": 0.9,
            "reasons": [
                {
                    "kind": "knows_seeds",
                    "text": "knows 1 of the 2 seeds directly",
                    "evidence": ["s1"],
                    "strength": 1,
                },
                {
                    "kind": "mutual_contacts",
                    "text": "1 mutual contact",
                    "evidence": ["m1"],
                    "strength": 1,
                },
                {
                    "kind": "shared_circle",
                    "text": "shares circle k1",
                    "evidence": ["k1"],
                    "strength": 1,
                },
            ],
        },
        {
            "id": "p2",
            "score": 0.4,
            "reasons": [
                {"kind": "shared_interest", "text": "shares interest tea", "evidence": ["tea"]}
            ],
        },
    ]
    view = lookalike_view(
        seeds,
        prospects,
        ties=[{"start": "m1", "end": "s2"}],
        people={"m1": {"name": "Mutual"}},
        customer_url="/ui/customers/{id}",
    )
    data = view_data(view.html)
    assert {
        "s1",
        "s2",
        "p1",
        "p2",
        "contact:m1",
        "shared_circle:k1",
        "shared_interest:tea",
    } == _ids(data)
    pairs = {(e["from"], e["to"]) for e in data["edges"]}
    assert {
        ("p1", "s1"),
        ("p1", "contact:m1"),
        ("p1", "shared_circle:k1"),
        ("s1", "shared_circle:k1"),
    } <= pairs
    assert ("contact:m1", "s2") in pairs or ("s2", "contact:m1") in pairs
    assert ("s1", "shared_interest:tea") in pairs
    p1 = next(n for n in data["nodes"] if n["id"] == "p1")
    assert p1["label"].startswith("#1")
    assert "knows 1 of the 2 seeds directly" in p1["card"]["reasons"]
    assert external_refs(view.html) == []

    small = lookalike_view(seeds, prospects, max_nodes=6)
    assert small.note is not None
    assert "best 1 of 2 prospects" in small.note


def test_graph_view_shows_in_notebooks() -> None:
    view = GraphView("<p>x</p>", 1, 0, 1)
    assert view._repr_html_().startswith("<iframe srcdoc=")
    assert not view.sampled
