"""Phones and e-mails sent in requests never reach the logs unmasked."""

from __future__ import annotations

import logging
import time

import pytest
from fastapi.testclient import TestClient

from quanzi.api.logs import mask_text
from quanzi.api.services import customers as customer_service
from quanzi.api.services import identity as identity_service
from tests.api.conftest import Api

pytestmark = pytest.mark.store

PHONE = "13912345678"
PHONE_E164 = "+8613912345678"
EMAIL = "wang.fang.private@example.org"


def _assert_masked(caplog: pytest.LogCaptureFixture) -> None:
    text = caplog.text + "".join(str(r.msg) + str(r.args) for r in caplog.records)
    assert caplog.records, "nothing was logged: the test did not reach the logging"
    for raw in (PHONE, PHONE_E164, EMAIL, "wang.fang.private%40example.org"):
        assert raw not in text, raw


def test_an_unexpected_error_quoting_the_request_is_logged_masked(
    api: Api, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug whose message quotes what the caller sent: the 500 says nothing, the log says
    what happened with the phone and e-mail masked."""

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError(f"cannot search for phone {PHONE_E164} / {EMAIL}")

    monkeypatch.setattr(customer_service, "search_customers", broken)
    caplog.set_level(logging.INFO)
    client = TestClient(api.client.app, raise_server_exceptions=False)
    response = client.get("/customers", params={"phone": PHONE, "email": EMAIL}, headers=api.viewer)
    assert response.status_code == 500
    assert PHONE not in response.text
    assert "Traceback" not in response.text
    _assert_masked(caplog)
    assert "+86 139****5678" in caplog.text
    assert "w***@example.org" in caplog.text
    assert "RuntimeError" in caplog.text  # the traceback is kept, masked


def test_a_failed_job_is_logged_masked(
    api: Api, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> object:
        raise ValueError(f"row 2: {EMAIL} conflicts with {PHONE}")

    monkeypatch.setattr(identity_service, "ingest_files", broken)
    caplog.set_level(logging.INFO)
    contacts = f"source,source_record_id,full_name,phone,email\ncrm,1,王芳,{PHONE},{EMAIL}\n"
    files = [("files", ("contacts.csv", contacts.encode(), "text/csv"))]
    job = api.client.post("/identity/uploads", headers=api.admin, files=files).json()
    deadline = time.monotonic() + 30
    while job["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.1)
        job = api.get(f"/jobs/{job['id']}").json()
    assert job["status"] == "failed"
    _assert_masked(caplog)
    assert "job " in caplog.text


def test_ordinary_requests_log_no_personal_data(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    record = {"source": "crm", "source_record_id": "L-1", "full_name": "王芳", "phone": PHONE}
    api.post("/identity/contacts", json={"records": [record | {"email": EMAIL}]})
    api.post("/identity/contacts", json={"records": [record | {"email": "not-an-email"}]})
    api.get("/customers", params={"phone": PHONE, "email": EMAIL}, role="viewer")
    api.get(f"/identity/explain?a=phone:{PHONE_E164}&b=email:{EMAIL}", role="sales")
    text = caplog.text
    for raw in (PHONE, PHONE_E164, EMAIL):
        assert raw not in text, raw


def test_web_server_access_lines_are_masked(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    """uvicorn's access log (when an operator turns it on) writes the query string."""
    caplog.set_level(logging.INFO, logger="uvicorn.access")
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d',
        "127.0.0.1:50000",
        "GET",
        f"/customers?phone=%2B86{PHONE}&email=wang.fang.private%40example.org&tier=loyal",
        "1.1",
        200,
    )
    _assert_masked(caplog)
    assert "phone=<redacted>" in caplog.text
    assert "tier=loyal" in caplog.text
    assert caplog.records[-1].args[2].startswith("/customers?")  # type: ignore[index]


def test_mask_text_leaves_dates_counts_and_ids_alone() -> None:
    text = "job_5f2c1a9e7b3d read 100000 rows at 2024-01-01T00:00:00Z in 12.5 s (cus_00861380013)"
    assert mask_text(text) == text
    assert mask_text(f"call {PHONE} or +852 9123 4567") == "call +86 139****5678 or +852 9123****"
