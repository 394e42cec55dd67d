"""Customers: search, filters, cursor pagination, sorting, masking, merges, the 360 view."""

from __future__ import annotations

import pytest

from quanzi.api.services.access import Principal, Visibility
from quanzi.graph.store import GraphStore
from quanzi.model import Node, Rel
from tests.api.conftest import C1_EMAIL, C1_PHONE, Api

pytestmark = pytest.mark.store


def _ids(response: object) -> list[str]:
    return [c["id"] for c in response.json()["items"]]  # type: ignore[attr-defined]


def test_pages_cover_every_customer_once_in_order(shared: Api) -> None:
    pages = shared.pages("/customers?limit=2&sort=-churn_risk")
    seen = [cid for page in pages for cid in page]
    assert len(pages) == 3
    # c0 was merged into c1: not listed. c6 has no risk: last (missing values sort lowest).
    assert seen == ["c5", "c1", "c3", "c2", "c4", "c6"]


def test_total_and_sorting_by_name(shared: Api) -> None:
    body = shared.get("/customers?sort=name&include_total=true&limit=3").json()
    assert body["total"] == 6
    names = [c["name"] for c in body["items"]]
    assert names == sorted(names)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("tag=VIP", ["c1"]),
        ("tier=loyal", ["c1", "c4"]),
        ("channel=email", ["c2", "c6"]),
        ("circle=K2", ["c4", "c5"]),
        ("employee=E1", ["c1", "c2"]),  # c3 deleted E1
        ("group=G1", ["c1", "c2"]),
        ("interest=hiking&churn_risk_max=0.5", ["c2"]),
        ("churn_risk_min=0.8", ["c1", "c5"]),
        ("name=ZHANG", ["c1"]),
        ("name=王", ["c3"]),
        ("phone=138-0013-8000", ["c1"]),
        ("phone=%2B86 138 0013 8000", ["c1"]),
        ("email=Zhang.Wei@EXAMPLE.com", ["c1"]),
        ("created_from=2024-01-01&created_to=2024-06-01", ["c3", "c5"]),
        ("active_from=2024-12-01", ["c1", "c4"]),
        ("tag=VIP&tier=general", []),
        ("circle=K1&employee=E1&tier=loyal", ["c1"]),
    ],
)
def test_filters(shared: Api, query: str, expected: list[str]) -> None:
    response = shared.get(f"/customers?sort=id&{query}", role="viewer")
    assert response.status_code == 200, response.text
    assert _ids(response) == expected


def test_mine_needs_an_employee_bound_key(shared: Api) -> None:
    assert _ids(shared.get("/customers?mine=true&sort=id", role="sales")) == ["c1", "c2"]
    response = shared.get("/customers?mine=true", role="viewer")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "mine"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "query.limit"),
        ("limit=201", "query.limit"),
        ("sort=age", "query.sort"),
        ("churn_risk_min=2", "query.churn_risk_min"),
        ("created_from=yesterday", "query.created_from"),
        ("phone=abcdef", "phone"),
        ("email=not-an-address", "email"),
        ("cursor=%%%", "cursor"),
        ("colour=red", "query.colour"),
    ],
)
def test_bad_input_is_422_naming_the_field(shared: Api, query: str, field: str) -> None:
    response = shared.get(f"/customers?{query}", role="viewer")
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in response.json()["errors"]]


def test_cursor_of_another_sort_is_refused(shared: Api) -> None:
    cursor = shared.get("/customers?limit=1&sort=name").json()["next_cursor"]
    response = shared.get(f"/customers?limit=1&sort=-influence&cursor={cursor}")
    assert response.status_code == 422
    assert "sort" in response.json()["detail"]


def test_viewer_sees_masked_identifiers(shared: Api) -> None:
    c1 = shared.get("/customers/c1", role="viewer").json()
    assert c1["masked"] is True
    assert c1["phones"] == ["+86 138****8000"]
    assert c1["emails"] == ["z***@example.com"]


def test_sales_sees_own_customers_unmasked(shared: Api) -> None:
    items = {c["id"]: c for c in shared.get("/customers?sort=id", role="sales").json()["items"]}
    assert items["c1"]["phones"] == [C1_PHONE]
    assert items["c1"]["masked"] is False
    assert items["c2"]["emails"] == ["li.na@example.com"]
    # c3 deleted the employee; c4 belongs to another employee.
    assert items["c3"]["phones"] == ["+86 139****9000"]
    assert items["c4"]["phones"] == ["+852 9123****"]


def test_admin_sees_everything(shared: Api) -> None:
    items = {c["id"]: c for c in shared.get("/customers?sort=id").json()["items"]}
    assert items["c4"]["phones"] == ["+85291234567"]
    assert all(not c["masked"] for c in items.values())


def test_get_unknown_customer_is_404_problem(shared: Api) -> None:
    for url in ("/customers/nobody", "/customers/nobody/360"):
        response = shared.get(url)
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        assert "nobody" in response.json()["detail"]


def test_merged_id_redirects_to_the_survivor(shared: Api) -> None:
    for suffix in ("", "/360"):
        response = shared.get(f"/customers/c0{suffix}?timeline_limit=5", follow_redirects=False)
        assert response.status_code == 307
        assert response.headers["location"].startswith(f"/customers/c1{suffix}")
        assert response.json()["survivor_id"] == "c1"
    followed = shared.get("/customers/c0/360", role="viewer")
    assert followed.status_code == 200
    assert followed.json()["customer"]["id"] == "c1"


def test_360_view(shared: Api) -> None:
    body = shared.get("/customers/c1/360").json()
    customer = body["customer"]
    assert customer["name"] == "张伟"
    assert customer["merged_ids"] == ["c0"]
    assert customer["birth_date"] == "1988-04-02"
    identities = body["identities"]
    assert {i["key"] for i in identities["phone"]} == {C1_PHONE}
    assert identities["email"][0]["key"] == C1_EMAIL
    assert identities["crm"][0]["properties"]["street"] == "朝阳区建国路88号"
    assert [e["id"] for e in body["employees"]] == ["E1"]
    assert body["groups"][0]["name"] == "VIP客户1群"
    assert body["circles"][0]["id"] == "K1"
    assert [t["id"] for t in body["tags"]] == ["VIP"]
    assert body["interests"][0]["id"] == "hiking"
    scores = {s["name"]: s for s in body["scores"]}
    assert scores["churn_risk"]["value"] == 0.82
    assert scores["churn_risk"]["explanation"] == [
        "deleted no employee",
        "engagement fell 60% in 90 days",
    ]
    assert scores["influence"]["value"] == 0.9
    assert [r["id"] for r in body["referrals"]["referred"]] == ["c2"]
    assert body["referrals"]["campaigns"][0]["id"] == "C1"
    assert body["orders"]["count"] == 2
    assert [o["id"] for o in body["orders"]["latest"]] == ["O2", "O1"]
    assert body["contacts"]["total"] == 2
    assert body["contacts"]["strongest"][0]["id"] == "c2"
    timeline = body["timeline"]
    assert [e["at"] for e in timeline] == sorted((e["at"] for e in timeline), reverse=True)
    kinds = {e["kind"] for e in timeline}
    assert {"order", "funnel_stage", "tier", "employee_added", "referral", "tagged"} <= kinds


def test_a_score_explanation_written_by_a_notebook_shows_in_the_360(
    graph: Api, store: GraphStore
) -> None:
    # what the 360 documents: `<score>_reasons`, else `<score>_explanation` (a list or JSON)
    store.set_node_properties(
        Node.CUSTOMER,
        [{"id": "c2", "pagerank": 0.4, "pagerank_explanation": '["ties to 3 hubs"]'}],
    )
    body = graph.get("/customers/c2/360").json()
    scores = {s["name"]: s for s in body["scores"]}
    assert scores["pagerank"]["explanation"] == ["ties to 3 hubs"]
    assert "pagerank_explanation" not in body["customer"]["other"]


def test_360_is_masked_for_viewers(shared: Api) -> None:
    body = shared.get("/customers/c1/360", role="viewer").json()
    assert body["customer"]["birth_date"] == "1988-**-**"
    phone = body["identities"]["phone"][0]
    assert phone["key"] == "+86 138****8000"
    assert C1_PHONE not in phone["id"]
    record = body["identities"]["crm"][0]["properties"]
    assert record["phone"] == "+86 138****8000"
    assert record["email"] == "z***@example.com"
    assert record["street"] == "****"
    assert C1_PHONE not in str(body)
    assert C1_EMAIL not in str(body)


def test_360_masks_for_sales_as_the_visibility_query_does(
    shared: Api, session_store: GraphStore
) -> None:
    # The 360 tells a sales key's own customers from the SERVED_BY relations it has read;
    # lists ask the store (Visibility.shows). Both must agree for every customer.
    sales = Visibility(session_store, Principal("k", "sales", "test", employee_id="E1"))
    for customer in ["c1", "c2", "c3", "c4", "c5", "c6"]:
        body = shared.get(f"/customers/{customer}/360", role="sales").json()
        assert body["customer"]["masked"] is not sales.shows(customer), customer


def test_360_shows_a_customer_served_without_an_active_flag(graph: Api, store: GraphStore) -> None:
    # A SERVED_BY relation with no `active` property counts as active (as in the store query).
    store.upsert_relations(
        Rel.SERVED_BY,
        Node.CUSTOMER,
        Node.EMPLOYEE,
        [{"start": "c6", "end": "E1", "added_at": "2024-01-01T00:00:00Z"}],
    )
    body = graph.get("/customers/c6/360", role="sales").json()
    assert body["customer"]["masked"] is False
    assert graph.get("/customers/c6/360", role="viewer").json()["customer"]["masked"] is True


def test_360_of_an_own_customer_for_sales(shared: Api) -> None:
    body = shared.get("/customers/c1/360", role="sales").json()
    assert body["customer"]["masked"] is False
    assert body["identities"]["phone"][0]["key"] == C1_PHONE
    c3 = shared.get("/customers/c3/360", role="sales").json()
    assert c3["customer"]["masked"] is True
    # c3 deleted employee E1: a churn signal on the timeline.
    assert any(e["kind"] == "employee_deleted" for e in c3["timeline"])
