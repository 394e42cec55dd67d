"""The API's fast read paths give the same answers as the general ones.

- score tops read through ArcadeDB SQL (its range index) against the Cypher query;
- one-round-trip auto-commit reads against managed-transaction reads;
- the ``Server-Timing`` header of every answer.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from quanzi.api.schemas import CustomerFilter
from quanzi.api.services.access import Principal
from quanzi.api.services.customers import search_customers
from quanzi.api.services.name_table import NameTable
from quanzi.graph import queries as q
from quanzi.graph.store import GraphStore
from quanzi.model import Node
from quanzi.settings import Settings
from tests.api.conftest import Api

ADMIN = Principal("test", "admin", "test")

pytestmark = pytest.mark.store

TIERS = ["potential", "general", "loyal", None]
STAGES = ["first_contact", "intention", "order", None]


def _customers(n: int, seed: int = 3) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        props: dict[str, Any] = {
            "id": f"c{i:03d}",
            "name": f"name {i}",
            "channels": rng.sample(["wechat", "phone", "email", "web"], rng.randint(0, 3)),
            "first_seen": f"2025-0{rng.randint(1, 9)}-01T00:00:00Z",
            "last_active_at": f"2026-0{rng.randint(1, 9)}-01T00:00:00Z",
        }
        # Scores with ties (two decimals), some missing; a few merged customers.
        for score in ("influence", "pagerank", "churn_risk"):
            if rng.random() < 0.85:
                props[score] = round(rng.random(), 2)
        if (tier := rng.choice(TIERS)) is not None:
            props["tier"] = tier
        if (stage := rng.choice(STAGES)) is not None:
            props["funnel_stage"] = stage
        if rng.random() < 0.05:
            props["merged_into"] = "c000"
        rows.append(props)
    return rows


FILTER_CASES: list[tuple[str, dict[str, Any]]] = [
    ("influence", {"influence_min": 0.0}),
    ("influence", {"influence_min": -1.0}),
    ("pagerank", {"pagerank_min": 0.3}),
    ("churn_risk", {"churn_risk_min": 0.5, "channel": "wechat"}),
    ("influence", {"influence_min": 0.0, "tier": "loyal", "funnel_stage": "intention"}),
    ("churn_risk", {"churn_risk_min": 0.0, "churn_risk_max": 0.6, "pagerank_min": 0.2}),
    ("influence", {"influence_min": 0.0, "active_from": "2026-03-01T00:00:00Z"}),
]


@pytest.mark.parametrize(("sort", "params"), FILTER_CASES)
def test_sql_top_gives_the_cypher_answer(
    store: GraphStore, sort: str, params: dict[str, Any]
) -> None:
    store.upsert_nodes(Node.CUSTOMER, _customers(120))
    names = set(params)
    assert store.bulk is not None
    assert q.sql_customer_top(names, sort=sort) is not None
    limit = 40
    cypher = store.read(q.api_customer_top(names, sort=sort), "cypher top", **params, limit=limit)
    fast = store.read_customer_top(names, sort=sort, what="sql top", **params, limit=limit)
    # Ties come back in no fixed order from either: compare scores in order, the customers
    # above the last score (those tied with it may differ), and each one's properties.
    assert [r["sort_key"] for r in fast] == [r["sort_key"] for r in cypher]
    last = cypher[-1]["sort_key"]
    by_id = {r["props"]["id"]: dict(r["props"]) for r in cypher}
    above = {r["props"]["id"] for r in cypher if r["sort_key"] > last}
    assert above <= {r["props"]["id"] for r in fast}
    for row in fast:
        if row["props"]["id"] in by_id:
            assert row["props"] == by_id[row["props"]["id"]]
    assert all(not r["props"].get("merged_into") for r in fast)
    assert len(fast) == min(limit, len(cypher))


@pytest.mark.parametrize(("bound", "extra"), [("below", {"below": 0.5}), ("tie", {"tie": 0.5})])
def test_sql_bounded_tops_give_the_cypher_answer(
    store: GraphStore, bound: q.TopBound, extra: dict[str, Any]
) -> None:
    rows = _customers(120)
    for i, row in enumerate(rows[:40]):  # many ties at 0.5
        row["influence"] = 0.5 if i % 2 else row.get("influence", 0.5)
    store.upsert_nodes(Node.CUSTOMER, rows)
    params = (
        {"influence_min": 0.0, **extra, "after_id": "c010"}
        if bound == "tie"
        else {
            "influence_min": 0.0,
            **extra,
        }
    )
    names = {"influence_min"}
    cypher = store.read(
        q.api_customer_top(names, sort="influence", bound=bound), "cypher", **params, limit=200
    )
    fast = store.read_customer_top(
        names, sort="influence", what="sql", bound=bound, **params, limit=200
    )
    if bound == "tie":
        assert [r["props"]["id"] for r in fast] == [r["props"]["id"] for r in cypher]
        assert len(fast) > 5
        assert all(r["sort_key"] == 0.5 and r["props"]["id"] > "c010" for r in fast)
        assert [r["props"]["id"] for r in fast] == sorted(r["props"]["id"] for r in fast)
    else:  # equal scores come back in no fixed order: every score below 0.5, in order
        assert [r["sort_key"] for r in fast] == [r["sort_key"] for r in cypher]
        assert {r["props"]["id"] for r in fast} == {r["props"]["id"] for r in cypher}
        assert fast
        assert all(r["sort_key"] < 0.5 for r in fast)


@pytest.mark.parametrize(
    "url",
    [
        "/customers?sort=-churn_risk&limit=7",
        "/customers?sort=-churn_risk&churn_risk_min=0.0&limit=5",
        "/customers?sort=-churn_risk&channel=wechat&limit=6",
    ],
)
def test_score_pages_with_many_ties_follow_the_general_order(
    api: Api, store: GraphStore, url: str
) -> None:
    # Most scored customers share one of three values, as a churn model's "already lost"
    # customers share 1.0: pages must still run by score, then id, without gaps or repeats.
    # More customers share 1.0 than one read of the score index returns (page + 26).
    rows = _customers(200)
    for i, row in enumerate(rows):
        if "churn_risk" in row:
            row["churn_risk"] = (1.0, 1.0, 0.5, 0.25, row["churn_risk"])[i % 5]
    # Stored out of id order, so the index's order among equal scores is not the id order.
    store.upsert_nodes(Node.CUSTOMER, random.Random(5).sample(rows, len(rows)))
    live = [r for r in rows if "merged_into" not in r]
    if "channel=wechat" in url:
        live = [r for r in live if "wechat" in r["channels"]]
    if "churn_risk_min" in url:
        live = [r for r in live if "churn_risk" in r]
    expected = [r["id"] for r in sorted(live, key=lambda r: (-r.get("churn_risk", -1.0), r["id"]))]
    pages = api.pages(url)
    assert [cid for page in pages for cid in page] == expected
    assert len(pages) > 3


def test_filters_sql_cannot_take_stay_with_cypher() -> None:
    for names in ({"influence_min", "name"}, {"influence_min", "circle"}, {"influence_min", "ids"}):
        assert q.sql_customer_top(names, sort="influence") is None
    with pytest.raises(ValueError, match="influence_min"):
        q.sql_customer_top({"tier"}, sort="influence")


def test_autocommit_read_matches_managed_read(store: GraphStore) -> None:
    store.upsert_nodes(Node.CUSTOMER, _customers(30))
    query = q.api_customer_page({"tier"}, sort="name", descending=False, after=False)
    managed = store.read(query, "managed", tier="loyal", limit=10)
    single = store.read_autocommit(query, "auto-commit", tier="loyal", limit=10)
    assert single == managed
    assert managed, "the data set has loyal customers"


def test_top_influencers_and_score_search_agree_with_the_general_order(
    api: Api, store: GraphStore
) -> None:
    rows = _customers(120)
    store.upsert_nodes(Node.CUSTOMER, rows)
    live = [r for r in rows if "merged_into" not in r and "influence" in r]
    expected = [r["id"] for r in sorted(live, key=lambda r: (-r["influence"], r["id"]))]
    top = api.get("/influencers?k=25").json()["items"]
    assert [i["customer"]["id"] for i in top] == expected[:25]
    page = api.get("/customers?sort=-influence&tier=loyal&limit=10").json()["items"]
    loyal = [
        cid for cid in expected if next(r for r in rows if r["id"] == cid).get("tier") == "loyal"
    ]
    assert [c["id"] for c in page] == loyal[:10]


def test_every_answer_says_its_time_in_the_service(api: Api) -> None:
    for response in (api.get("/customers?limit=1"), api.get("/customers/nobody/360")):
        timing = response.headers["server-timing"]
        assert timing.startswith("app;dur=")
        assert float(timing.removeprefix("app;dur=")) >= 0.0


def test_equality_filters_in_the_node_pattern_select_the_same_page(
    api: Api, store: GraphStore
) -> None:
    rows = _customers(120)
    store.upsert_nodes(Node.CUSTOMER, rows)
    query = q.api_customer_page(
        {"tier", "funnel_stage"}, sort="name", descending=False, after=False
    )
    assert query.startswith("MATCH (c:Customer {tier: $tier, funnel_stage: $funnel_stage})")
    live = [r for r in rows if "merged_into" not in r]
    expected = [
        r["id"]
        for r in sorted(live, key=lambda r: (r.get("last_active_at", ""), r["id"]))
        if r.get("tier") == "general" and r.get("funnel_stage") == "intention"
    ]
    assert expected, "the data set has such customers"
    url = "/customers?tier=general&funnel_stage=intention&sort=last_active_at&limit=3"
    seen = [cid for page in api.pages(url) for cid in page]
    assert seen == expected


NAME_CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("1", "name", {}),
    ("name 1", "-influence", {}),
    ("2", "-churn_risk", {"tier": "loyal"}),
    ("7", "last_active_at", {"channel": "wechat", "churn_risk_min": 0.2}),
    (" ", "id", {}),
    ("no such name", "name", {}),
    ("名", "name", {}),
    ("MingZi c0", "name", {}),
]


@pytest.mark.parametrize(("needle", "sort", "extra"), NAME_CASES)
def test_name_search_from_the_name_table_gives_the_scan_answer(
    store: GraphStore, store_settings: Settings, needle: str, sort: str, extra: dict[str, Any]
) -> None:
    rows = _customers(150)
    for row in rows[::7]:
        row["name"] = f"名字 {row['name']}"
        row["name_latin"] = f"mingzi {row['id']}"
    store.upsert_nodes(Node.CUSTOMER, rows)
    filters = CustomerFilter.model_validate({"name": needle.upper(), **extra})
    table = NameTable()

    def pages(names: NameTable | None) -> list[tuple[list[str], int | None]]:
        out, cursor = [], None
        while True:
            page = search_customers(
                store,
                store_settings,
                ADMIN,
                filters,
                sort=sort,
                limit=7,
                cursor=cursor,
                include_total=True,
                names=names,
            )
            out.append(([c.id for c in page.items], page.total))
            cursor = page.next_cursor
            if cursor is None:
                return out

    assert pages(table) == pages(None)
    if needle.strip() and needle != "no such name":
        assert sum(len(ids) for ids, _ in pages(table)) > 0, "the case finds customers"


def test_the_name_table_is_read_again_after_a_counted_change(store: GraphStore) -> None:
    store.upsert_nodes(Node.CUSTOMER, [{"id": "a", "name": "Alpha"}])
    table = NameTable()
    assert table.matching(store, "alpha") == ["a"]
    store.upsert_nodes(Node.CUSTOMER, [{"id": "b", "name": "Alphabet"}])
    assert table.matching(store, "alpha") == ["a"], "kept until a change is counted"
    store.note_graph_change("ingest")
    assert sorted(table.matching(store, "alpha") or []) == ["a", "b"]
    assert NameTable(max_ids=1).matching(store, "alpha") is None, "too many: the store scans"
