"""Tags, segments and referral campaigns (these write, so each test gets a fresh graph)."""

from __future__ import annotations

import csv
import io

import pytest

from quanzi.graph.store import GraphStore
from quanzi.model import Node
from tests.api.conftest import C1_PHONE, Api

pytestmark = pytest.mark.store


def _tags_of(api: Api, customer: str) -> list[str]:
    return [t["id"] for t in api.get(f"/customers/{customer}/360").json()["tags"]]


def test_tag_and_untag_one_customer(graph: Api) -> None:
    put = graph.client.put("/customers/c2/tags/VIP", headers=graph.sales)
    assert put.status_code == 200, put.text
    assert put.json() == {"tag": "VIP", "matched": 1, "changed": 1}
    again = graph.client.put("/customers/c2/tags/VIP", headers=graph.sales)
    assert again.json()["changed"] == 0
    assert _tags_of(graph, "c2") == ["VIP"]
    tagged = next(t for t in graph.get("/customers/c2/360").json()["tags"])
    assert tagged["by"] == "E1"
    removed = graph.client.delete("/customers/c2/tags/VIP", headers=graph.sales)
    assert removed.json()["changed"] == 1
    assert _tags_of(graph, "c2") == []
    assert graph.client.put("/customers/c2/tags/nope", headers=graph.sales).status_code == 404
    assert graph.client.put("/customers/zz/tags/VIP", headers=graph.sales).status_code == 404
    merged = graph.client.put("/customers/c0/tags/VIP", headers=graph.sales, follow_redirects=False)
    assert merged.status_code == 307
    assert merged.headers["location"] == "/customers/c1/tags/VIP"
    assert graph.client.put("/customers/c2/tags/VIP", headers=graph.viewer).status_code == 403


def test_bulk_tagging_by_filter_and_ids(graph: Api) -> None:
    created = graph.post("/tags", role="sales", json={"name": "hikers", "description": "outdoor"})
    assert created.status_code == 201, created.text
    assert graph.post("/tags", role="sales", json={"name": "hikers"}).status_code == 409
    applied = graph.post(
        "/tags/hikers/apply", role="sales", json={"filter": {"interest": "hiking"}}
    )
    assert applied.json() == {"tag": "hikers", "matched": 3, "changed": 3}
    ids = graph.get("/customers?tag=hikers&sort=id").json()["items"]
    assert [c["id"] for c in ids] == ["c1", "c2", "c6"]
    removed = graph.post("/tags/hikers/remove", role="sales", json={"customer_ids": ["c1", "c4"]})
    assert removed.json() == {"tag": "hikers", "matched": 2, "changed": 1}
    missing = graph.post("/tags/hikers/apply", role="sales", json={"customer_ids": ["c1", "zz"]})
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "customer_ids"
    both = graph.post(
        "/tags/hikers/apply", role="sales", json={"customer_ids": ["c1"], "filter": {}}
    )
    assert both.status_code == 422


def test_tag_groups_and_stats(graph: Api) -> None:
    assert graph.post("/tags/groups", role="sales", json={"name": "value"}).status_code == 403
    group = graph.post("/tags/groups", json={"name": "value", "exclusive": True})
    assert group.status_code == 201
    assert graph.post("/tags/groups", json={"name": "value"}).status_code == 409
    for name in ("high-value", "low-value"):
        assert graph.post("/tags", json={"name": name, "group": "value"}).status_code == 201
    no_group = graph.post("/tags", json={"name": "x", "group": "nope"})
    assert no_group.status_code == 422
    assert no_group.json()["errors"][0]["field"] == "group"
    graph.client.put("/customers/c1/tags/high-value", headers=graph.admin)
    graph.client.put("/customers/c1/tags/low-value", headers=graph.admin)
    # Exclusive group: the second tag replaced the first.
    assert _tags_of(graph, "c1") == ["VIP", "low-value"]
    stats = graph.get("/tags", role="viewer").json()
    counts = {t["id"]: t["customers"] for t in stats["tags"]}
    assert counts == {"VIP": 1, "at-risk": 1, "high-value": 0, "low-value": 1}
    value = next(g for g in stats["groups"] if g["name"] == "value")
    assert value["exclusive"] is True
    assert sorted(value["tags"]) == ["high-value", "low-value"]
    assert value["customers"] == 1


def test_segments_save_list_export(graph: Api) -> None:
    bad = graph.post("/segments", role="sales", json={"name": "x", "filter": {"phone": C1_PHONE}})
    assert bad.status_code == 422
    assert "body.filter.phone" in [e["field"] for e in bad.json()["errors"]]
    created = graph.post(
        "/segments",
        role="sales",
        json={"name": "K1 at risk", "filter": {"circle": "K1", "churn_risk_min": 0.5}},
    )
    assert created.status_code == 201, created.text
    segment = created.json()
    assert segment["filter"] == {"circle": "K1", "churn_risk_min": 0.5, "mine": False}
    assert [s["id"] for s in graph.get("/segments", role="viewer").json()] == [segment["id"]]
    assert graph.get(f"/segments/{segment['id']}").json()["customers"] == 2
    members = graph.get(f"/segments/{segment['id']}/customers?sort=id").json()
    assert [c["id"] for c in members["items"]] == ["c1", "c3"]

    exported = graph.get(f"/segments/{segment['id']}/export.csv", role="viewer")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["id"] for r in rows] == ["c1", "c3"]
    assert rows[0]["phones"] == "'+86 138****8000"  # a spreadsheet must not compute it
    assert C1_PHONE not in exported.text
    as_admin = graph.get(f"/segments/{segment['id']}/export.csv").text
    assert C1_PHONE in as_admin

    assert graph.client.delete(f"/segments/{segment['id']}", headers=graph.sales).status_code == 204
    assert graph.get(f"/segments/{segment['id']}").status_code == 404
    assert graph.get("/segments/seg_000000000000").status_code == 404
    assert graph.get("/segments/not-an-id").status_code == 422


def test_a_segment_export_does_not_hand_a_spreadsheet_a_formula(
    graph: Api, store: GraphStore
) -> None:
    # A name typed into a web form lands in the export that a marketer opens in Excel.
    formula = '=HYPERLINK("http://evil.example/x","Click")'
    store.set_node_properties(Node.CUSTOMER, [{"id": "c3", "name": formula}])
    segment = graph.post("/segments", role="sales", json={"name": "all", "filter": {}}).json()
    exported = graph.get(f"/segments/{segment['id']}/export.csv", role="viewer").text
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(exported))}
    assert rows["c3"]["name"] == "'" + formula


def test_exporting_a_mine_segment_without_an_employee_is_a_422(graph: Api) -> None:
    # `mine` needs a key bound to an employee: the export must say so, not answer 200 and
    # stop after its headers.
    mine = graph.post("/segments", role="sales", json={"name": "mine", "filter": {"mine": True}})
    assert mine.status_code == 201, mine.text
    exported = graph.get(f"/segments/{mine.json()['id']}/export.csv", role="viewer")
    assert exported.status_code == 422, exported.text
    assert "mine" in exported.text


def test_campaign_codes_invitations_and_reach(graph: Api) -> None:
    campaigns = graph.get("/campaigns", role="viewer").json()
    assert campaigns[0]["id"] == "C1"
    assert campaigns[0]["referrals"] == 2
    assert campaigns[0]["inviters"] == 2  # c1 invited c2, who invited c3
    assert campaigns[0]["codes_issued"] == 0  # the loaded referrals' codes came from elsewhere
    # c1 already used a code in loaded referrals: it is reused.
    code = graph.post("/campaigns/C1/codes", role="sales", json={"customer_id": "c1"}).json()
    assert code == {"campaign_id": "C1", "customer_id": "c1", "code": "ABCDEFGH", "new": False}
    issued = graph.post("/campaigns/C1/codes", role="sales", json={"customer_id": "c4"}).json()
    assert issued["new"] is True
    assert len(issued["code"]) == 8
    assert set(issued["code"]) <= set("ABCDEFGHJKLMNPQRSTUVWXYZ23456789")
    same = graph.post("/campaigns/C1/codes", role="sales", json={"customer_id": "c4"}).json()
    assert same["code"] == issued["code"]
    assert same["new"] is False

    invite = {"code": issued["code"], "invitee_id": "c5", "at": "2024-05-01T00:00:00Z"}
    recorded = graph.post("/campaigns/C1/invitations", role="sales", json=invite)
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["inviter_id"] == "c4"
    again = graph.post("/campaigns/C1/invitations", role="sales", json=invite)
    assert again.status_code == 409
    # c3 (invited by c2, invited by c1) inviting c1 would close a loop.
    c3_code = graph.post("/campaigns/C1/codes", role="sales", json={"customer_id": "c3"}).json()
    loop = graph.post(
        "/campaigns/C1/invitations",
        role="sales",
        json={"code": c3_code["code"], "invitee_id": "c1", "at": "2024-06-01T00:00:00Z"},
    )
    assert loop.status_code == 409
    assert "loop" in loop.json()["detail"]
    outside = graph.post(
        "/campaigns/C1/invitations",
        role="sales",
        json={"code": c3_code["code"], "invitee_id": "c6", "at": "2025-06-01T00:00:00Z"},
    )
    assert outside.status_code == 422
    unknown = graph.post(
        "/campaigns/C1/invitations", role="sales", json={"code": "ZZZZZZZZ", "invitee_id": "c6"}
    )
    assert unknown.json()["errors"][0]["field"] == "code"

    after = graph.get("/campaigns/C1", role="viewer").json()
    assert (after["referrals"], after["inviters"]) == (3, 3)  # c4 invited c5 here

    board = graph.get("/campaigns/C1/leaderboard", role="viewer").json()["items"]
    assert [(e["customer"]["id"], e["direct"], e["reach"], e["depth"]) for e in board] == [
        ("c1", 1, 2, 2),
        ("c2", 1, 1, 1),
        ("c4", 1, 1, 1),
    ]
    reach = graph.get("/campaigns/C1/reach/c1").json()
    assert reach["levels"] == [1, 1]
    assert reach["total"] == 2
    assert graph.get("/campaigns/C1/reach/c3").json()["invited_by"] == "c2"
    assert graph.get("/campaigns/C9").status_code == 404


def test_create_campaign(graph: Api) -> None:
    body = {
        "id": "C2",
        "name": "双11老带新 2025",
        "start": "2025-11-01",
        "end": "2025-11-30T23:59:59Z",
    }
    created = graph.post("/campaigns", role="sales", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["start"] == "2025-11-01T00:00:00Z"
    assert graph.post("/campaigns", role="sales", json=body).status_code == 409
    backwards = dict(body, id="C3", end="2025-10-01")
    assert graph.post("/campaigns", role="sales", json=backwards).status_code == 422
