"""Authentication, roles, API keys and the public endpoints."""

from __future__ import annotations

import json

import pytest

from tests.api.conftest import ADMIN_KEY, Api

pytestmark = pytest.mark.store


def test_health_and_metrics_need_no_key(shared: Api) -> None:
    assert shared.client.get("/health").status_code == 200
    shared.get("/customers", role="viewer")
    metrics = shared.client.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    assert (
        'quanzi_http_requests_total{method="GET",route="/customers",status="200"}' in metrics.text
    )
    assert "quanzi_http_request_duration_seconds_bucket" in metrics.text


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": ""}, {"X-API-Key": "wrong"}])
def test_missing_or_wrong_key_is_401_problem(shared: Api, headers: dict[str, str]) -> None:
    response = shared.client.get("/customers", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("ApiKey")
    assert "X-API-Key" in response.json()["detail"] or "unknown" in response.json()["detail"]


@pytest.mark.parametrize(
    ("method", "url", "role"),
    [
        ("get", "/keys", "viewer"),
        ("get", "/keys", "sales"),
        ("get", "/audit", "sales"),
        ("post", "/privacy/erasures", "sales"),
        ("post", "/lookalikes", "viewer"),
        ("put", "/lookalikes/weights", "sales"),
        ("post", "/tags", "viewer"),
        ("post", "/jobs/analysis", "sales"),
        ("post", "/identity/uploads", "sales"),
        ("post", "/identity/contacts", "viewer"),
    ],
)
def test_wrong_role_is_403(shared: Api, method: str, url: str, role: str) -> None:
    response = getattr(shared.client, method)(url, headers=getattr(shared, role))
    assert response.status_code == 403, response.text
    body = response.json()
    assert body["title"] == "Forbidden"
    assert role in body["detail"]


def test_unknown_route_is_404_problem(shared: Api) -> None:
    response = shared.get("/no-such-thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_create_use_and_revoke_a_key(shared: Api) -> None:
    created = shared.post("/keys", json={"name": "Li Na", "role": "viewer"})
    assert created.status_code == 201, created.text
    body = created.json()
    key = body["key"]
    assert key.startswith("qz_")
    assert len(key) > 40
    assert body["active"]
    assert body["source"] == "api"
    assert shared.client.get("/customers", headers={"X-API-Key": key}).status_code == 200

    # Stored hashed: neither the file nor the listing holds the key.
    stored = (shared.settings.data_dir / "api" / "keys.json").read_text()
    assert key not in stored
    listing = shared.get("/keys").json()
    assert key not in json.dumps(listing)
    assert ADMIN_KEY not in json.dumps(listing)
    assert {k["id"] for k in listing} >= {body["id"]}

    revoked = shared.client.delete(f"/keys/{body['id']}", headers=shared.admin)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert shared.client.get("/customers", headers={"X-API-Key": key}).status_code == 401


def test_settings_keys_cannot_be_revoked_here(shared: Api) -> None:
    settings_key = next(k for k in shared.get("/keys").json() if k["source"] == "settings")
    response = shared.client.delete(f"/keys/{settings_key['id']}", headers=shared.admin)
    assert response.status_code == 409
    assert "QUANZI_API_KEYS" in response.json()["detail"]
    assert shared.client.delete("/keys/key_000000000000", headers=shared.admin).status_code == 404


def test_sales_key_needs_an_employee(shared: Api) -> None:
    response = shared.post("/keys", json={"name": "x", "role": "sales"})
    assert response.status_code == 422
    assert "employee_id" in response.json()["detail"] or "employee_id" in response.text
    # ... one in the graph: a mistyped id would make a key that sees no one's customers.
    unknown = shared.post("/keys", json={"name": "x", "role": "sales", "employee_id": "E9999"})
    assert unknown.status_code == 422, unknown.text
    assert "no employee 'E9999'" in unknown.json()["detail"]
    known = shared.post("/keys", json={"name": "x", "role": "sales", "employee_id": "E1"})
    assert known.status_code == 201, known.text


def test_requests_are_audited_without_secrets(shared: Api) -> None:
    shared.get("/customers?phone=13800138000&name=zhang", role="viewer")
    entries = shared.get("/audit?limit=5").json()["items"]
    search = next(e for e in entries if e["route"] == "/customers")
    assert search["role"] == "viewer"
    assert search["query"]["phone"] == "<redacted>"
    assert search["query"]["name"] == "<redacted>"
    # An id in the path may be a phone (an identity id): the trail keeps the request, masked.
    shared.get("/customers/phone:+8613800138000", role="viewer")
    entries = shared.get("/audit?limit=5").json()["items"]
    lookup = next(e for e in entries if e["route"] == "/customers/{customer_id}")
    assert lookup["path_params"]["customer_id"] == "phone:+86 138****8000"
    text = (shared.settings.data_dir / "api" / "audit.jsonl").read_text()
    assert "13800138000" not in text
    assert ADMIN_KEY not in text
