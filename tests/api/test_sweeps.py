"""Rules checked on every operation of the OpenAPI description, so a new route is covered
as soon as it exists: authentication, roles, and bounded page sizes."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.api.conftest import Api

pytestmark = pytest.mark.store

#: Operations that need no key (they hold no personal data); every other one needs one.
PUBLIC = {("get", "/health"), ("get", "/metrics")}
RANK = {"viewer": 0, "sales": 1, "admin": 2}


def _operations(api: Api) -> list[tuple[str, str, dict[str, Any]]]:
    spec = api.client.get("/openapi.json").json()
    return [
        (method, path, operation)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    ]


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


def test_every_operation_needs_a_key_except_health_and_metrics(shared: Api) -> None:
    operations = _operations(shared)
    assert len(operations) > 40
    public = {(m, p) for m, p, op in operations if "x-required-role" not in op}
    assert public == PUBLIC
    for method, path, _ in operations:
        if (method, path) in PUBLIC:
            continue
        for headers in ({}, {"X-API-Key": "not-a-key"}):
            response = shared.client.request(method, _url(path), headers=headers)
            assert response.status_code == 401, (method, path, headers, response.text)
            assert response.headers["content-type"] == "application/problem+json"


def test_every_operation_enforces_its_role(shared: Api) -> None:
    checked = 0
    for method, path, operation in _operations(shared):
        needed = operation.get("x-required-role")
        if needed is None:
            continue
        # Nothing that changes data is open to viewers.
        if method != "get":
            assert RANK[needed] >= RANK["sales"], (method, path)
        for role in ("viewer", "sales"):
            response = shared.client.request(
                method, _url(path), headers=getattr(shared, role), json=None
            )
            if RANK[role] < RANK[needed]:
                assert response.status_code == 403, (method, path, role, response.text)
                assert needed in response.json()["detail"]
                checked += 1
            else:
                assert response.status_code not in (401, 403), (method, path, role)
    assert checked >= 30


def _schema(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def test_every_list_has_a_bounded_page_size(shared: Api) -> None:
    """A GET answering a list (an array, a page of `items`, or the tag list) takes a page
    size with a maximum, and a size above it is a 422 naming the parameter."""
    spec = shared.client.get("/openapi.json").json()
    lists = 0
    for path, operations in spec["paths"].items():
        operation = operations.get("get")
        if operation is None:
            continue
        content = operation["responses"].get("200", {}).get("content", {})
        schema = content.get("application/json", {}).get("schema")
        if schema is None:
            continue
        body = _schema(spec, schema)
        properties = body.get("properties", {})
        if body.get("type") != "array" and "items" not in properties and path != "/tags":
            continue
        lists += 1
        sizes = [
            p
            for p in operation.get("parameters", [])
            if p["in"] == "query" and p["name"] in ("limit", "k") and "maximum" in p["schema"]
        ]
        assert sizes, f"GET {path} lists without a bounded limit"
        name, maximum = sizes[0]["name"], sizes[0]["schema"]["maximum"]
        response = shared.get(f"{_url(path)}?{name}={maximum + 1}")
        assert response.status_code == 422, (path, response.text)
        assert f"query.{name}" in [e["field"] for e in response.json()["errors"]]
    assert lists >= 12
    # The one list asked for with a body.
    too_many = shared.post("/lookalikes", json={"seeds": ["c1"], "k": 501})
    assert too_many.status_code == 422
    assert "body.k" in [e["field"] for e in too_many.json()["errors"]]


def test_short_lists_page_by_after(shared: Api) -> None:
    for name in ("Spring", "Summer", "Autumn"):
        campaign = {
            "name": name,
            "id": name.upper(),
            "start": "2025-01-01T00:00:00Z",
            "end": "2025-12-31T00:00:00Z",
        }
        created = shared.post("/campaigns", role="sales", json=campaign)
        assert created.status_code in (201, 409), created.text
        shared.post("/segments", role="sales", json={"name": name, "filter": {"tier": "loyal"}})
    campaigns = [c["id"] for c in shared.get("/campaigns?limit=2").json()]
    assert campaigns == sorted(campaigns)
    assert len(campaigns) == 2
    rest = [c["id"] for c in shared.get(f"/campaigns?limit=2&after={campaigns[-1]}").json()]
    assert rest
    assert not set(rest) & set(campaigns)
    segments = shared.get("/segments?limit=2").json()
    more = shared.get(f"/segments?limit=2&after={segments[-1]['id']}").json()
    assert len(segments) == 2
    assert more
    assert not {s["id"] for s in more} & {s["id"] for s in segments}
    tags = [t["id"] for t in shared.get("/tags?limit=1").json()["tags"]]
    assert len(tags) == 1
    after = [t["id"] for t in shared.get(f"/tags?limit=1&after={tags[0]}").json()["tags"]]
    assert after
    assert after[0] > tags[0]
    keys = shared.get("/keys?limit=1").json()
    assert len(keys) == 1
    assert shared.get(f"/keys?limit=1&after={keys[0]['id']}").json()[0]["id"] != keys[0]["id"]
