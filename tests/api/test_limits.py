"""Request limits: body and upload sizes (413), rate limits per key and per address (429)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from quanzi.api.app import create_app
from quanzi.api.limits import RateLimiter
from quanzi.errors import ConfigError
from quanzi.graph.store import GraphStore
from quanzi.settings import Settings, load_settings
from tests.api.conftest import (
    ADMIN_KEY,
    NO_RATE_LIMITS,
    SALES_ENV_KEY,
    VIEWER_KEY,
    _settings,
    build_graph,
)

pytestmark = pytest.mark.store

ADMIN = {"X-API-Key": ADMIN_KEY}
VIEWER = {"X-API-Key": VIEWER_KEY}


@contextmanager
def _app(
    store: GraphStore, store_settings: Settings, tmp_path: Path, **update: Any
) -> Iterator[TestClient]:
    settings = _settings(store_settings, tmp_path / "api-data", **update)
    with TestClient(create_app(settings, store=store)) as client:
        yield client


def _contacts(n: int) -> dict[str, Any]:
    return {
        "records": [
            {
                "source": "crm",
                "source_record_id": f"R-{i}",
                "full_name": f"Person {i}",
                "email": f"person.{i}@example.com",
            }
            for i in range(n)
        ]
    }


def _customers(store: GraphStore) -> int:
    return store.counts().get("Customer", 0)


# -- body sizes ---------------------------------------------------------------------------------
def test_json_body_over_the_limit_is_413_and_writes_nothing(
    store: GraphStore, store_settings: Settings, tmp_path: Path
) -> None:
    with _app(store, store_settings, tmp_path, api_max_body_bytes=4096) as client:
        small = client.post("/identity/contacts", headers=ADMIN, json=_contacts(2))
        assert small.status_code == 200, small.text
        before = _customers(store)
        big = client.post("/identity/contacts", headers=ADMIN, json=_contacts(200))
        assert big.status_code == 413
        assert big.headers["content-type"] == "application/problem+json"
        body = big.json()
        assert body["title"] == "Content too large"
        assert body["limit_bytes"] == 4096
        assert "4 KiB" in body["detail"]
        assert "QUANZI_API_MAX_BODY_BYTES" in body["detail"]
        assert _customers(store) == before


def test_a_body_that_is_not_json_is_a_422_saying_so(
    store: GraphStore, store_settings: Settings, tmp_path: Path
) -> None:
    with _app(store, store_settings, tmp_path) as client:
        broken = client.post(
            "/identity/contacts",
            headers={**ADMIN, "content-type": "application/json"},
            content=b'{"records": [,]}',
        )
    assert broken.status_code == 422
    assert broken.json()["detail"].startswith("the body is not valid JSON (at character 13")
    assert broken.json()["errors"][0]["field"] == "body"


def _csv(rows: int) -> bytes:
    lines = ["source,source_record_id,full_name,email"]
    lines += [f"crm,U-{i},Person {i},person.{i}@example.com" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def test_upload_over_the_limit_is_413_and_queues_nothing(
    store: GraphStore, store_settings: Settings, tmp_path: Path
) -> None:
    with _app(
        store, store_settings, tmp_path, api_max_body_bytes=1024, api_max_upload_bytes=8192
    ) as client:
        # An upload may be larger than an ordinary body, up to its own limit.
        files = [("files", ("contacts.csv", _csv(40), "text/csv"))]
        ok = client.post("/identity/uploads", headers=ADMIN, files=files)
        assert ok.status_code == 202, ok.text
        files = [("files", ("contacts.csv", _csv(1000), "text/csv"))]
        big = client.post("/identity/uploads", headers=ADMIN, files=files)
        assert big.status_code == 413
        assert "QUANZI_API_MAX_UPLOAD_BYTES" in big.json()["detail"]
        assert big.json()["limit_bytes"] == 8192
        jobs = client.get("/jobs", headers=ADMIN).json()
        assert len(jobs) == 1  # only the small upload


def test_a_chunked_upload_is_cut_off_while_it_is_read(
    store: GraphStore, store_settings: Settings, tmp_path: Path
) -> None:
    """Without a Content-Length the body is counted as it arrives: reading stops at the
    limit, long before the sender is done, and nothing is staged or queued."""
    chunk = b"x" * 1024
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        boundary = b"--b0undary\r\n"
        yield (
            boundary + b'Content-Disposition: form-data; name="files"; filename="c.csv"\r\n'
            b"Content-Type: text/csv\r\n\r\nsource,source_record_id,full_name\r\n"
        )
        for _ in range(10_000):  # 10 MiB offered
            sent += 1
            yield chunk

    async def post(app: Any) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.post(
                "/identity/uploads",
                headers=ADMIN | {"Content-Type": "multipart/form-data; boundary=b0undary"},
                content=body(),
            )

    with _app(store, store_settings, tmp_path, api_max_upload_bytes=64 * 1024) as client:
        response = asyncio.run(post(client.app))
        assert response.status_code == 413
        assert response.json()["limit_bytes"] == 64 * 1024
        assert sent <= 66  # 64 KiB and a chunk or two, not the 10 MiB offered
        assert client.get("/jobs", headers=ADMIN).json() == []
        staged = tmp_path / "api-data" / "api" / "jobs" / "uploads"
        assert not staged.exists() or not any(staged.rglob("*"))


def test_declared_length_over_the_limit_is_refused_before_reading(
    store: GraphStore, store_settings: Settings, tmp_path: Path
) -> None:
    with _app(store, store_settings, tmp_path, api_max_body_bytes=2048) as client:
        # Any route, even one that reads no body: the declared length alone is enough.
        response = client.request("GET", "/customers", headers=VIEWER, content=b"x" * 9999)
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/problem+json"


# -- rate limits --------------------------------------------------------------------------------
def test_rate_limit_per_key_is_429_with_retry_after(
    store: GraphStore, store_settings: Settings, tmp_path: Path
) -> None:
    limits = NO_RATE_LIMITS | {"viewer": "3/minute"}
    with _app(store, store_settings, tmp_path, api_rate_limits=limits) as client:
        for _ in range(3):
            assert client.get("/customers", headers=VIEWER).status_code == 200
        refused = client.get("/customers", headers=VIEWER)
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        body = refused.json()
        assert body["title"] == "Too many requests"
        assert body["limit"] == "3 per 1 minute"
        viewer_id = "env-" + hashlib.sha256(VIEWER_KEY.encode()).hexdigest()[:8]
        assert viewer_id in body["detail"]
        assert VIEWER_KEY not in refused.text
        # Another key, and another role, have their own counts.
        assert client.get("/customers", headers=ADMIN).status_code == 200
        sales = {"X-API-Key": SALES_ENV_KEY}
        assert client.get("/customers", headers=sales).status_code == 200
        # The 429s are counted in the metrics like any answer.
        assert 'status="429"' in client.get("/metrics").text


def test_a_page_counts_once_and_a_forged_internal_header_counts_as_usual(
    store: GraphStore, store_settings: Settings, tmp_path: Path
) -> None:
    # The home page calls the API several times in process; those calls carry the app's
    # secret internal token and are not counted again. A caller who guesses at the header
    # gains nothing.
    limits = NO_RATE_LIMITS | {"viewer": "3/minute"}
    with _app(store, store_settings, tmp_path, api_rate_limits=limits) as client:
        signed_in = client.post("/ui/login", data={"key": VIEWER_KEY, "next": "/ui/"})
        assert signed_in.status_code in (200, 303)
        assert client.get("/ui/").status_code == 200  # one page, many API calls inside
        forged = VIEWER | {"X-Quanzi-Internal": "guess"}
        assert client.get("/customers", headers=forged).status_code == 200
        assert client.get("/customers", headers=forged).status_code == 429


def test_rate_limit_set_for_one_key_overrides_its_role(
    store: GraphStore, store_settings: Settings, tmp_path: Path
) -> None:
    viewer_id = "env-" + hashlib.sha256(VIEWER_KEY.encode()).hexdigest()[:8]
    limits = NO_RATE_LIMITS | {"viewer": "1/minute", viewer_id: "4/minute"}
    with _app(store, store_settings, tmp_path, api_rate_limits=limits) as client:
        answers = [client.get("/tags", headers=VIEWER).status_code for _ in range(5)]
        assert answers == [200, 200, 200, 200, 429]


def test_requests_without_a_valid_key_are_limited_per_address(
    store: GraphStore, store_settings: Settings, tmp_path: Path
) -> None:
    limits = NO_RATE_LIMITS | {"anonymous": "2/minute", "public": "2/minute"}
    with _app(store, store_settings, tmp_path, api_rate_limits=limits) as client:
        guesses = [
            client.get("/customers", headers={"X-API-Key": f"guess-{i}"}).status_code
            for i in range(4)
        ]
        assert guesses == [401, 401, 429, 429]
        # The sign-in form checks keys too: it shares the address's budget.
        assert client.post("/ui/login", data={"key": "guess"}).status_code == 429
        # A valid key is not held back by the address's guesses.
        assert client.get("/customers", headers=VIEWER).status_code == 200
        # /health and /metrics have a budget of their own, per address.
        health = [client.get("/health").status_code for _ in range(3)]
        assert health == [200, 200, 429]
        # Documents that never touch the store are not limited.
        assert all(client.get("/openapi.json").status_code == 200 for _ in range(5))


def test_rate_limit_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"QUANZI_API_RATE_LIMITS.*'lots' is not a rate"):
        load_settings(api_rate_limits={"viewer": "lots"})
    with pytest.raises(ConfigError, match="'boss' is neither"):
        load_settings(api_rate_limits={"boss": "1/second"})
    with pytest.raises(ConfigError, match="QUANZI_API_RATE_LIMIT_STORAGE"):
        RateLimiter({}, "nosuch://here")
    assert load_settings(api_rate_limits={"key_0123456789ab": "unlimited"}).api_rate_limits


def test_limiter_counts_a_refused_request_against_nothing() -> None:
    limiter = RateLimiter(NO_RATE_LIMITS | {"sales": "2/second;3/minute"})
    answers = [limiter.hit("sales", "k") for _ in range(3)]
    assert answers[:2] == [None, None]
    assert answers[2] is not None
    assert answers[2].limit == "2 per 1 second"
    assert limiter.hit("admin", "k") is None  # unlimited


# -- settings keys bound to an employee ---------------------------------------------------------
def test_settings_sales_key_bound_to_an_employee_sees_its_customers(
    store: GraphStore, store_settings: Settings, tmp_path: Path
) -> None:
    sales_id = "env-" + hashlib.sha256(SALES_ENV_KEY.encode()).hexdigest()[:8]
    build_graph(store)
    sales = {"X-API-Key": SALES_ENV_KEY}
    with _app(store, store_settings, tmp_path, api_key_employees={sales_id: "E1"}) as client:
        own = client.get("/customers/c1", headers=sales).json()
        other = client.get("/customers/c4", headers=sales).json()
        assert own["masked"] is False
        assert own["phones"] == ["+8613800138000"]
        assert other["masked"] is True
        listed = next(k for k in client.get("/keys", headers=ADMIN).json() if k["id"] == sales_id)
        assert listed["employee_id"] == "E1"
    with pytest.raises(ConfigError, match="env-00000000"):
        create_app(
            _settings(store_settings, tmp_path / "x", api_key_employees={"env-00000000": "E1"})
        )


def test_problem_documents_list_413_and_429(
    store: GraphStore, store_settings: Settings, tmp_path: Path
) -> None:
    with _app(store, store_settings, tmp_path) as client:
        spec = client.get("/openapi.json").json()
    responses = spec["paths"]["/customers"]["get"]["responses"]
    assert {"413", "429"} <= responses.keys()
    assert "Retry-After" in json.dumps(responses["429"])
    assert "429" in spec["paths"]["/health"]["get"]["responses"]
