"""Circles, influencers, lookalikes, churn, tiers and funnel: reading what the analysis wrote."""

from __future__ import annotations

import pytest

from quanzi.graph.store import GraphStore
from quanzi.model import Node
from tests.api.conftest import Api

pytestmark = pytest.mark.store


def test_circles_list_with_stats(shared: Api) -> None:
    body = shared.get("/circles", role="viewer").json()
    assert [c["id"] for c in body["items"]] == ["K1", "K2"]
    k1 = body["items"][0]
    assert k1["members"] == 3
    assert k1["leaders"] == ["c1"]
    assert k1["leader_names"] == {"c1": "张伟"}  # for lists that show people, not ids
    assert k1["tier_mix"] == {"general": 1, "loyal": 1, "potential": 1}
    assert k1["churn_risk_mean"] == pytest.approx((0.82 + 0.2 + 0.65) / 3)
    assert k1["other"] == {"modularity": 0.4}
    assert body["next_cursor"] is None


def test_circles_page_by_cursor(shared: Api) -> None:
    first = shared.get("/circles?limit=1").json()
    assert [c["id"] for c in first["items"]] == ["K1"]
    second = shared.get(f"/circles?limit=1&cursor={first['next_cursor']}").json()
    assert [c["id"] for c in second["items"]] == ["K2"]
    assert second["next_cursor"] is None
    assert [c["id"] for c in shared.get("/circles?kind=colleague").json()["items"]] == ["K2"]


def test_circle_with_leaders_and_members(shared: Api) -> None:
    body = shared.get("/circles/K1?members_limit=2", role="viewer").json()
    assert [c["id"] for c in body["leaders"]] == ["c1"]
    assert [c["id"] for c in body["members"]["items"]] == ["c1", "c2"]
    assert body["members"]["total"] == 3
    rest = shared.get(f"/circles/K1/members?cursor={body['members']['next_cursor']}&limit=2")
    assert [c["id"] for c in rest.json()["items"]] == ["c3"]
    # Without recorded leaders, the most influential members lead.
    assert [c["id"] for c in shared.get("/circles/K2").json()["leaders"]] == ["c4", "c5"]


def test_unknown_circle_is_404(shared: Api) -> None:
    assert shared.get("/circles/K9").status_code == 404
    assert shared.get("/circles/K9/members").status_code == 404


def test_rename_and_annotate_a_circle(shared: Api) -> None:
    response = shared.client.patch(
        "/circles/K2", headers=shared.sales, json={"name": "品酒圈", "note": "wine tasting"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "品酒圈"
    assert response.json()["other"]["named_by"] == "E1"
    assert shared.get("/circles/K2").json()["circle"]["note"] == "wine tasting"
    assert shared.client.patch("/circles/K2", headers=shared.sales, json={}).status_code == 422
    forbidden = shared.client.patch("/circles/K2", headers=shared.viewer, json={"name": "x"})
    assert forbidden.status_code == 403


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["c1", "c4", "c2", "c3", "c5"]),
        ("k=2", ["c1", "c4"]),
        ("circle=K2", ["c4", "c5"]),
        ("group=G1", ["c1", "c2"]),
        ("employee=E2", ["c4", "c5"]),
        ("by=pagerank&k=3", ["c4", "c1", "c2"]),
    ],
)
def test_top_influencers(shared: Api, query: str, expected: list[str]) -> None:
    body = shared.get(f"/influencers?{query}", role="viewer").json()
    assert [i["customer"]["id"] for i in body["items"]] == expected
    assert [i["rank"] for i in body["items"]] == list(range(1, len(expected) + 1))
    scores = [i["score"] for i in body["items"]]
    assert scores == sorted(scores, reverse=True)


def test_influencers_bad_input(shared: Api) -> None:
    assert shared.get("/influencers?k=0").status_code == 422
    assert shared.get("/influencers?by=fame").status_code == 422


def test_churn_at_risk_with_reasons(shared: Api) -> None:
    body = shared.get("/churn/at-risk?min_risk=0.6", role="viewer").json()
    assert [(i["customer"]["id"], i["churn_risk"]) for i in body["items"]] == [
        ("c5", 0.9),
        ("c1", 0.82),
        ("c3", 0.65),
    ]
    assert body["items"][1]["reasons"] == ["deleted no employee", "engagement fell 60% in 90 days"]
    assert body["items"][2]["reasons"] == ["deleted employee E1"]
    mine = shared.get("/churn/at-risk?min_risk=0.6&mine=true", role="sales").json()
    assert [i["customer"]["id"] for i in mine["items"]] == ["c1"]
    page = shared.get("/churn/at-risk?min_risk=0.6&limit=2").json()
    assert page["next_cursor"] is not None
    rest = shared.get(f"/churn/at-risk?min_risk=0.6&limit=2&cursor={page['next_cursor']}").json()
    assert [i["customer"]["id"] for i in rest["items"]] == ["c3"]


def test_churn_alerts(shared: Api) -> None:
    body = shared.get("/churn/alerts?since=2024-01-01", role="viewer").json()
    assert len(body["items"]) == 1
    alert = body["items"][0]
    assert alert["customer"]["id"] == "c3"
    assert alert["employee_id"] == "E1"
    assert alert["employee_name"] == "王芳"
    assert alert["deleted_at"] == "2024-11-01T00:00:00Z"
    assert shared.get("/churn/alerts?since=2024-12-01").json()["items"] == []
    assert shared.get("/churn/alerts?since=2024-01-01&employee=E2").json()["items"] == []
    assert shared.get("/churn/alerts").status_code == 422


def test_funnel(shared: Api) -> None:
    body = shared.get("/funnel?start=2023-01-01&end=2025-01-01", role="viewer").json()
    assert body["reached"] == {"first_contact": 3, "intention": 2, "meeting": 1, "order": 1}
    steps = {(s["from_stage"], s["to_stage"]): s for s in body["steps"]}
    assert steps[("first_contact", "intention")]["rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert steps[("meeting", "order")]["converted"] == 1
    assert body["current"]["order"] == 1
    only_2024 = shared.get("/funnel?start=2024-01-01&end=2025-01-01").json()
    assert only_2024["reached"] == {"first_contact": 2, "intention": 1, "meeting": 0, "order": 0}


def test_tiers(shared: Api) -> None:
    body = shared.get("/tiers?start=2023-01-01&end=2024-01-01").json()
    assert body["tiers"] == {"loyal": 2, "general": 1, "potential": 2, "unscored": 1}
    assert body["recorded_tiers"] == {"gold": 1, "member": 5}
    assert body["changes"] == {"silver": 1, "gold": 1}
    assert body["steps"][0] == {
        "from_stage": "member",
        "to_stage": "silver",
        "reached": 6,
        "converted": 1,
        "rate": pytest.approx(1 / 6, abs=1e-4),
    }


def test_period_must_be_ordered(shared: Api) -> None:
    response = shared.get("/funnel?start=2025-01-01&end=2024-01-01")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "end"


def test_lookalikes_by_ids(shared: Api) -> None:
    response = shared.post("/lookalikes", role="sales", json={"seeds": ["c1", "c2"], "k": 3})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["seeds"] == ["c1", "c2"]
    ids = [i["customer"]["id"] for i in body["items"]]
    assert "c1" not in ids
    assert "c2" not in ids
    assert ids[0] == "c3"  # knows both seeds
    best = body["items"][0]
    assert 0 < best["score"] <= 1
    assert best["reasons"]
    assert {r["kind"] for r in best["reasons"]} & {"knows_seeds", "mutual_contacts"}


def test_thorough_lookalikes_rank_by_the_block_model(shared: Api) -> None:
    body = {"seeds": ["c1", "c2"], "k": 3, "thorough": True}
    response = shared.post("/lookalikes", role="sales", json=body)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert items
    assert {i["customer"]["id"] for i in items}.isdisjoint({"c1", "c2"})
    for item in items:
        assert item["parts"]["community"] == item["score"]
        assert item["reasons"][0]["kind"] == "community"
    scores = [i["score"] for i in items]
    assert scores == sorted(scores, reverse=True)


def test_lookalike_prospects_carry_contact_points_masked_unless_served(shared: Api) -> None:
    # c3 was served by the sales key's employee E1, no longer (active false): masked.
    def first(role: str) -> dict[str, object]:
        body = shared.post("/lookalikes", role=role, json={"seeds": ["c1", "c2"], "k": 3}).json()
        customer: dict[str, object] = body["items"][0]["customer"]
        assert customer["id"] == "c3"
        return customer

    admin, sales = first("admin"), first("sales")
    assert admin["phones"] == ["+8613900139000"]
    assert admin["masked"] is False
    assert sales["masked"] is True
    assert len(sales["phones"]) == 1
    assert "+8613900139000" not in str(sales["phones"])
    assert sales["emails"] == admin["emails"] == []


def test_lookalikes_merged_seed_and_filters(shared: Api) -> None:
    body = shared.post(
        "/lookalikes",
        role="sales",
        json={"seeds": ["c0"], "candidate_filter": {"channel": "email"}, "k": 5},
    ).json()
    assert body["seeds"] == ["c1"]
    assert {i["customer"]["id"] for i in body["items"]} <= {"c2", "c6"}
    by_filter = shared.post(
        "/lookalikes", role="sales", json={"seed_filter": {"tag": "VIP"}}
    ).json()
    assert by_filter["seeds"] == ["c1"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"k": 3}, "body"),
        ({"seeds": ["c1"], "seed_filter": {"tag": "VIP"}}, "body"),
        ({"seeds": ["c1"], "k": 0}, "body.k"),
        ({"seeds": ["nobody"]}, "seeds.0"),
        ({"seed_filter": {"tag": "nothing"}}, "seed_filter"),
        ({"seed_filter": {"phone": "13800138000"}}, "body.seed_filter.phone"),
    ],
)
def test_lookalikes_bad_input(shared: Api, body: dict[str, object], field: str) -> None:
    response = shared.post("/lookalikes", role="sales", json=body)
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]


def test_churn_distribution_counts_each_tenth_of_risk(shared: Api) -> None:
    body = shared.get("/churn/distribution", role="viewer").json()
    assert [(b["low"], b["high"]) for b in body["bins"]] == [
        (i / 10, (i + 1) / 10) for i in range(10)
    ]
    customers = shared.get("/customers", params={"limit": 200}).json()["items"]
    risks = [c["churn_risk"] for c in customers if c.get("churn_risk") is not None]
    assert risks, "the shared graph has scored customers"
    expected = [0] * 10
    for r in risks:
        expected[min(int(r * 10), 9)] += 1
    assert [b["customers"] for b in body["bins"]] == expected
    assert body["scored"] == len(risks)


def test_circles_with_recorded_figures_instead_of_live_ones(graph: Api, store: GraphStore) -> None:
    # What the last analysis recorded on K1 differs from its members now (c1, c2, c3).
    store.upsert_nodes(
        Node.CIRCLE,
        [{"id": "K1", "size": 7, "churn_risk": 0.25, "tier_mix": '{"loyal": 4, "general": 3}'}],
    )
    live = graph.get("/circles", role="viewer").json()["items"][0]
    recorded = graph.get("/circles", role="viewer", params={"live": False}).json()["items"][0]
    assert live["id"] == recorded["id"] == "K1"
    assert (live["members"], live["tier_mix"]) == (3, {"general": 1, "loyal": 1, "potential": 1})
    assert recorded["members"] == 7
    assert recorded["churn_risk_mean"] == 0.25
    assert recorded["tier_mix"] == {"general": 3, "loyal": 4}
    assert recorded["leader_names"] == live["leader_names"] == {"c1": "张伟"}


def test_seeds_of_the_cached_graph_are_not_read_again(
    shared: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from quanzi.api.services import lookalikes

    looked_up: list[list[str]] = []
    survivors = lookalikes.survivors

    def counting(store: object, ids: list[str]) -> dict[str, str]:
        looked_up.append(list(ids))
        return survivors(store, ids)  # type: ignore[arg-type]

    monkeypatch.setattr(lookalikes, "survivors", counting)
    known = shared.post("/lookalikes", role="sales", json={"seeds": ["c1", "c2"], "k": 3})
    assert known.status_code == 200, known.text
    assert known.json()["seeds"] == ["c1", "c2"]
    assert looked_up == [], "both are unmerged customers of the snapshot"
    merged = shared.post("/lookalikes", role="sales", json={"seeds": ["c0"], "k": 3})
    assert merged.json()["seeds"] == ["c1"]
    assert looked_up == [["c0"]], "a merged-away seed is resolved by the store"
