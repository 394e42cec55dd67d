"""Cypher injection through the API: every text field and filter gets strings that would
change the graph if they reached a query as text. Each is stored and returned literally or
refused with a 422 -- never a 5xx, never a changed graph."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

from quanzi.graph.store import GraphStore
from tests.api.conftest import Api

pytestmark = pytest.mark.store

INJECTIONS = [
    "' OR 1=1 //",
    "x'}) MATCH (n) DETACH DELETE n //",
    "\"}) MATCH (n) DETACH DELETE n WITH 1 AS x CREATE (:Pwned {v: 'pwned'}) //",
    "'}) SET c.name = 'pwned' RETURN c //",
    "` MATCH (n) DETACH DELETE n //",
    "$ids}) CREATE (:Pwned) RETURN 1 //",
    "1 UNION MATCH (n) RETURN n",
    "\\' OR true //",
    "VIP\x00'; MATCH (n) DELETE n",
    "名字'}) MATCH (c:Customer) SET c.tier = 'pwned' //",
]

#: Query parameters of the searches and lists that take text.
SEARCH_PARAMETERS = {
    "/customers": [
        "name",
        "phone",
        "email",
        "tag",
        "tier",
        "recorded_tier",
        "funnel_stage",
        "circle",
        "channel",
        "employee",
        "group",
        "interest",
        "sort",
        "cursor",
    ],
    "/churn/at-risk": ["tier", "tag", "circle", "employee", "cursor"],
    "/churn/alerts": ["employee", "cursor"],
    "/circles": ["kind", "cursor"],
    "/influencers": ["circle", "group", "employee"],
    "/campaigns": ["after"],
    "/tags": ["after"],
    "/segments": ["after"],
    "/keys": ["after"],
    "/audit": ["key_id", "customer_id", "before"],
    "/identity/explain": ["a", "b"],
}
#: Paths that take an id.
ID_PATHS = [
    "/customers/{}",
    "/customers/{}/360",
    "/circles/{}",
    "/circles/{}/members",
    "/campaigns/{}",
    "/campaigns/{}/leaderboard",
    "/campaigns/C1/reach/{}",
    "/segments/{}",
    "/jobs/{}",
    "/privacy/access/{}",
]


def _snapshot(store: GraphStore) -> str:
    nodes = store.read(
        "MATCH (n) RETURN labels(n)[0] AS label, n.id AS id, properties(n) AS p ORDER BY label, id",
        "test",
    )
    rels = store.read(
        "MATCH (a)-[r]->(b) RETURN a.id AS a, type(r) AS t, b.id AS b ORDER BY a, t, b", "test"
    )
    return json.dumps([nodes, rels], ensure_ascii=False, sort_keys=True, default=str)


def _check(response: Any, where: str, allowed: tuple[int, ...] = (200, 404, 422)) -> None:
    assert response.status_code < 500, (where, response.status_code, response.text)
    assert response.status_code in allowed, (where, response.status_code, response.text)


def test_injection_in_searches_filters_and_ids_changes_nothing(
    graph: Api, store: GraphStore
) -> None:
    before = _snapshot(store)
    for text in INJECTIONS:
        for path, names in SEARCH_PARAMETERS.items():
            for name in names:
                response = graph.client.get(path, params={name: text}, headers=graph.admin)
                _check(response, f"GET {path}?{name}=")
        for template in ID_PATHS:
            url = template.format(quote(text, safe=""))
            _check(graph.get(url), f"GET {template}", (200, 307, 404, 422))
        lookalike = {"seeds": ["c1", text], "candidate_filter": {"tag": text, "tier": text}}
        _check(graph.post("/lookalikes", json=lookalike), "POST /lookalikes")
        by_filter = {"seed_filter": {"interest": text, "channel": text}, "k": 5}
        _check(graph.post("/lookalikes", json=by_filter), "POST /lookalikes filter")
    assert _snapshot(store) == before


def _printable(text: str) -> bool:
    return not any(ord(ch) < 32 or ord(ch) == 127 for ch in text)


def _tag_name(text: str) -> bool:
    return _printable(text) and ":" not in text and "/" not in text


def _literal(
    write: Callable[[str], Any],
    read: Callable[[str, Any], Any],
    where: str,
    accepted: Callable[[str], bool] = _printable,
) -> None:
    """Write each injection string: those the field's rules admit are stored and read back
    unchanged; the others are a 422."""
    for text in INJECTIONS:
        response = write(text)
        _check(response, where, (200, 201) if accepted(text) else (422,))
        if response.status_code in (200, 201):
            assert read(text, response.json()) == text, where


def test_injection_in_written_text_is_stored_literally(graph: Api, store: GraphStore) -> None:
    customers_before = store.read(
        "MATCH (c:Customer) RETURN c.id AS id, c.name AS name, c.tier AS tier ORDER BY id", "t"
    )
    _literal(
        lambda t: graph.post("/tags", role="sales", json={"name": t, "description": t}),
        lambda t, body: body["name"],
        "POST /tags",
        _tag_name,
    )
    tags = {t["name"] for t in graph.get("/tags?limit=1000").json()["tags"]}
    assert {t for t in INJECTIONS if _tag_name(t)} <= tags
    # Tagging and untagging by an injected tag name, in the path.
    for text in INJECTIONS:
        path = f"/customers/c2/tags/{quote(text, safe='')}"
        _check(graph.client.put(path, headers=graph.sales), "PUT tag", (200, 404, 422))
        _check(graph.client.delete(path, headers=graph.sales), "DELETE tag", (200, 404, 422))
        apply = {"filter": {"tier": text, "tag": text}}
        _check(
            graph.post(f"/tags/{quote(text, safe='')}/apply", role="sales", json=apply),
            "POST /tags/{tag}/apply",
            (200, 404, 422),
        )
    _literal(
        lambda t: graph.client.patch(
            "/circles/K1", headers=graph.sales, json={"name": t, "note": t}
        ),
        lambda t, body: graph.get("/circles/K1").json()["circle"]["note"],
        "PATCH /circles",
    )
    _literal(
        lambda t: graph.post(
            "/segments",
            role="sales",
            json={"name": t, "description": t, "filter": {"tag": t, "interest": t}},
        ),
        lambda t, body: body["name"],
        "POST /segments",
    )
    for segment in graph.get("/segments?limit=500").json():
        _check(graph.get(f"/segments/{segment['id']}/customers"), "segment members")
        _check(graph.get(f"/segments/{segment['id']}/export.csv"), "segment export")
    campaign = {"start": "2024-01-01T00:00:00Z", "end": "2024-12-31T00:00:00Z"}
    _literal(
        lambda t: graph.post("/campaigns", role="sales", json=campaign | {"name": t}),
        lambda t, body: graph.get(f"/campaigns/{body['id']}").json()["name"],
        "POST /campaigns",
    )
    for text in INJECTIONS:
        _check(
            graph.post("/campaigns/C1/codes", role="sales", json={"customer_id": text}),
            "POST codes",
            (404, 422),
        )
        invitation = {"code": "ABCDEFGH", "invitee_id": text}
        _check(
            graph.post("/campaigns/C1/invitations", role="sales", json=invitation),
            "POST invitations",
            (404, 409, 422),
        )
        _check(graph.post("/identity/split", json={"identity": text}), "split", (404, 422))
        _check(
            graph.post("/identity/merge", json={"customer_ids": ["c1", text]}),
            "merge",
            (404, 422),
        )
        _check(
            graph.post("/privacy/erasures", json={"customer_id": text, "reason": text}),
            "erasure",
            (404, 422),
        )
        _check(
            graph.post("/keys", json={"name": text, "role": "viewer"}),
            "POST /keys",
            (201, 422),
        )
    # The customers are as they were: no name, tier or node changed or went.
    customers_after = store.read(
        "MATCH (c:Customer) RETURN c.id AS id, c.name AS name, c.tier AS tier ORDER BY id", "t"
    )
    assert customers_after == customers_before
    assert not store.read("MATCH (n) WHERE 'Pwned' IN labels(n) RETURN n.id AS id", "t")
    counts = store.counts()
    assert counts["Identity"] == 7
    assert counts["Order"] == 2
