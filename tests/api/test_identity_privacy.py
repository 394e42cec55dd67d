"""Ingest through the API (body and file upload jobs), and erasure of a person."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from quanzi.api.services import identity as identity_service
from quanzi.graph.store import GraphStore
from quanzi.ingest.lock import writer_lock
from quanzi.settings import Settings
from tests.api.conftest import Api, _client, build_graph

pytestmark = pytest.mark.store

ANNA = [
    {
        "source": "crm",
        "source_record_id": "A-1",
        "full_name": "林安娜",
        "phone": "138 0013 8000",
        "email": "anna.lin@example.com",
        "birth_date": "1990-02-03",
        "created_at": "2024-01-01T00:00:00Z",
    },
    {
        "source": "wechat",
        "source_record_id": "WX-1",
        "full_name": "林安娜",
        "phone": "+86 138 0013 8000",
        "wechat_unionid": "oAnnaUnionid0000000000000001",
        "wechat_openid": "oA1b2AnnaOpenid0000000000001",
        "created_at": "2024-02-01T00:00:00Z",
    },
]
# Anna's husband shares her phone: a different person.
BO = {
    "source": "crm",
    "source_record_id": "B-1",
    "full_name": "周博",
    "phone": "13800138000",
    "email": "bo.zhou@example.com",
    "birth_date": "1985-07-08",
    "gender": "M",
    "created_at": "2024-01-05T00:00:00Z",
}
EVENTS = [
    {
        "type": "employee_added",
        "time": "2024-02-02T00:00:00Z",
        "customer": "crm:A-1",
        "employee_id": "E1",
    },
    {
        "type": "interaction",
        "time": "2024-02-03T00:00:00Z",
        "kind": "call",
        "from": "crm:A-1",
        "to": "crm:B-1",
        "count": 2,
    },
    {
        "type": "order",
        "time": "2024-02-04T00:00:00Z",
        "customer": "wechat:WX-1",
        "order_id": "O000000001",
        "amount": 99.5,
        "product": "Tea Set",
    },
    {
        "type": "tag_applied",
        "time": "2024-02-05T00:00:00Z",
        "customer": "crm:A-1",
        "tag": "VIP",
        "employee_id": "E1",
    },
    {
        "type": "interest",
        "time": "2024-02-06T00:00:00Z",
        "customer": "crm:A-1",
        "interest": "tea",
        "weight": 0.8,
    },
    {
        "type": "referral",
        "time": "2024-02-07T00:00:00Z",
        "inviter": "crm:A-1",
        "invitee": "crm:B-1",
        "campaign_id": "C1",
        "invite_code": "ANNA2345",
    },
]


def _wait(api: Api, job: dict[str, Any], timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while job["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
        job = api.get(f"/jobs/{job['id']}").json()
    return job


def _customer_of(api: Api, record: str) -> str:
    body = api.get(f"/customers?name={record}").json()
    return str(body["items"][0]["id"])


def test_ingest_contacts_in_the_body(api: Api) -> None:
    response = api.post("/identity/contacts", role="sales", json={"records": [*ANNA, BO]})
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["ok"] is True
    assert report["counts"]["contacts_read"] == 3
    people = api.get("/customers?phone=13800138000&sort=name").json()["items"]
    assert sorted(p["name"] for p in people) == ["周博", "林安娜"]
    anna = next(p for p in people if p["name"] == "林安娜")
    assert sorted(anna["channels"]) == ["crm", "wechat"]
    # Sending the same records again changes nothing.
    again = api.post("/identity/contacts", role="sales", json={"records": ANNA}).json()
    assert again["counts"]["contacts_unchanged"] == 2


def test_unknown_columns_of_a_record_are_masked_for_masked_callers(api: Api) -> None:
    # Unknown columns are kept in the record's `attributes`; nobody said what they hold.
    extra = {"mobile": "+8613987654321", "home_address": "朝阳区建国路88号3栋1202室"}
    record = dict(ANNA[0], **extra)
    assert api.post("/identity/contacts", json={"records": [record]}).json()["ok"]
    customer = _customer_of(api, "林安娜")
    for role, shown in (("viewer", False), ("admin", True)):
        body = api.get(f"/customers/{customer}/360", role=role).json()
        properties = body["identities"]["crm"][0]["properties"]
        attributes = json.loads(properties["attributes"])
        assert sorted(attributes) == ["home_address", "mobile"]
        for value in extra.values():
            assert (value in json.dumps(body, ensure_ascii=False)) is shown, role


def test_ingest_rejects_name_the_row_and_field(api: Api) -> None:
    bad = dict(BO, source_record_id="B-2", phone="12", email="nope")
    report = api.post("/identity/contacts", role="sales", json={"records": [bad]}).json()
    assert report["ok"] is False
    assert report["rejects_total"] >= 1
    assert report["rejects"][0]["row"] == 1
    assert report["rejects"][0]["field"] in ("phone", "email")
    missing = api.post("/identity/contacts", role="sales", json={"records": [{"source": "crm"}]})
    assert missing.status_code == 422
    assert "body.records.0.source_record_id" in [e["field"] for e in missing.json()["errors"]]
    assert api.post("/identity/contacts", role="sales", json={"records": []}).status_code == 422


def test_upload_files_as_a_job_with_rejects_report(api: Api) -> None:
    contacts = (
        "source,source_record_id,full_name,phone,email,created_at\n"
        "crm,F-1,孙丽,139 0013 9000,sun.li@example.com,2024-03-01T00:00:00Z\n"
        "crm,F-2,钱坤,not-a-phone,qian.kun@example.com,2024-03-02T00:00:00Z\n"
    )
    employees = "employee_id,name,team,email\nE1,王芳,Sales-East,fang.wang@staff.example.cn\n"
    files = [
        ("files", ("contacts.csv", contacts.encode(), "text/csv")),
        ("files", ("employees.csv", employees.encode(), "text/csv")),
    ]
    response = api.client.post("/identity/uploads", headers=api.admin, files=files)
    assert response.status_code == 202, response.text
    job = _wait(api, response.json())
    assert job["status"] == "succeeded", job
    assert job["kind"] == "ingest"
    assert job["result"]["counts"]["contacts_read"] == 2
    assert job["rejects"] == 1
    rejects = api.get(job["rejects_url"])
    assert rejects.status_code == 200
    assert rejects.text.splitlines()[0] == "file,row,field,reason"
    assert "contacts.csv,3,phone" in rejects.text
    assert "/jobs/" not in rejects.text  # no server paths
    assert api.get("/customers?name=孙丽").json()["items"]
    # The uploaded files are gone once the job ended.
    uploads = api.settings.data_dir / "api" / "jobs" / "uploads"
    assert not any(uploads.rglob("*.csv"))
    # Other keys do not see the admin's job.
    assert api.get(f"/jobs/{job['id']}", role="viewer").status_code == 404
    assert [j["id"] for j in api.get("/jobs").json()] == [job["id"]]


def test_an_upload_with_an_upper_case_suffix_is_loaded(api: Api) -> None:
    # The upload check accepted contacts.CSV, and the staged folder's expansion left it out:
    # the job "succeeded" with the contacts never read.
    contacts = "source,source_record_id,full_name,phone\ncrm,U-1,周敏,139 0013 9111\n"
    files = [("files", ("CONTACTS.CSV", contacts.encode(), "text/csv"))]
    response = api.client.post("/identity/uploads", headers=api.admin, files=files)
    assert response.status_code == 202, response.text
    job = _wait(api, response.json())
    assert job["status"] == "succeeded", job
    assert job["result"]["counts"]["contacts_read"] == 1
    assert api.get("/customers?name=周敏").json()["items"]


def test_a_failed_upload_job_names_the_file_not_the_server_folder(api: Api) -> None:
    # A Parquet file whose footer reads (so the upload check passes) but whose third row
    # group is damaged: the job fails, and its error is shown to the caller.
    rows = [
        {"source": "crm", "source_record_id": str(i), "phone": "13900130000"} for i in range(40)
    ]
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), sink, row_group_size=10, compression="NONE")
    data = bytearray(sink.getvalue())
    at = pq.ParquetFile(io.BytesIO(bytes(data))).metadata.row_group(2).column(1).data_page_offset
    data[at : at + 40] = b"\xff" * 40
    files = [("files", ("contacts.parquet", bytes(data), "application/octet-stream"))]
    response = api.client.post("/identity/uploads", headers=api.admin, files=files)
    assert response.status_code == 202, response.text
    job = _wait(api, response.json())
    assert job["status"] == "failed", job
    assert job["error"].startswith("contacts.parquet: not a readable Parquet file"), job["error"]
    assert str(api.settings.data_dir) not in job["error"]


def test_uploads_keep_names_in_any_script(api: Api) -> None:
    # Both names became "_.csv" and the second was refused as "uploaded twice".
    header = "source,source_record_id,full_name,phone\n"
    files = [
        ("files", ("客户.csv", (header + "crm,U-1,孙丽,139 0013 9000\n").encode(), "text/csv")),
        ("files", ("联系人.csv", (header + "crm,U-2,钱坤,12\n").encode(), "text/csv")),
        ("files", ("a b.csv", (header + "crm,U-3,赵六,139 0013 9001\n").encode(), "text/csv")),
        ("files", ("a_b.csv", (header + "crm,U-4,孙七,139 0013 9002\n").encode(), "text/csv")),
    ]
    response = api.client.post("/identity/uploads", headers=api.admin, files=files)
    assert response.status_code == 202, response.text
    job = _wait(api, response.json())
    assert job["status"] == "succeeded", job
    assert job["result"]["counts"]["contacts_read"] == 4
    assert "联系人.csv,2,phone" in api.get(job["rejects_url"]).text


def test_upload_refuses_unreadable_files(api: Api) -> None:
    bad_type = [("files", ("notes.txt", b"hello", "text/plain"))]
    response = api.client.post("/identity/uploads", headers=api.admin, files=bad_type)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "files"
    unknown = [("files", ("x.csv", b"a,b\n1,2\n", "text/csv"))]
    response = api.client.post("/identity/uploads", headers=api.admin, files=unknown)
    assert response.status_code == 422
    assert "cannot tell" in response.json()["detail"]
    assert api.get("/jobs").json() == []
    assert api.get("/jobs/job_000000000000").status_code == 404


def test_analysis_runs_as_a_job(graph: Api) -> None:
    response = graph.post("/jobs/analysis")
    assert response.status_code == 202, response.text
    job = _wait(graph, response.json())
    assert job["status"] == "succeeded", job
    assert job["kind"] == "analysis"
    assert job["result"]["customers"] >= 6
    circles = graph.get("/circles").json()["items"]
    assert circles
    assert sum(c["members"] for c in circles if c["level"] == 0) >= 6
    assert graph.get("/influencers?k=3").json()["items"]


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"type": "nope", "time": "2024-01-01T00:00:00Z"}, "body.events.0.type"),
        ({"type": "interaction"}, "body.events.0.time"),
        ({"time": "2024-01-01T00:00:00Z"}, "body.events.0.type"),
    ],
)
def test_events_without_a_known_type_or_a_time_are_refused_before_a_job(
    api: Api, event: dict[str, str], field: str
) -> None:
    # Else the job starts and fails on "cannot tell what this file holds from its columns".
    refused = api.post("/identity/events", json={"events": [event]})
    assert refused.status_code == 422, refused.text
    assert field in [e["field"] for e in refused.json()["errors"]]
    assert api.get("/jobs").json() == []


def _everything(store: GraphStore) -> str:
    nodes = store.read("MATCH (n) RETURN labels(n)[0] AS label, properties(n) AS p", "test")
    rels = store.read("MATCH ()-[r]->() RETURN type(r) AS type, properties(r) AS p", "test")
    return json.dumps([nodes, rels], ensure_ascii=False)


def test_erasure_leaves_nothing_of_the_person(api: Api, store: GraphStore) -> None:
    assert api.post("/identity/contacts", json={"records": [*ANNA, BO]}).json()["ok"]
    job = _wait(api, api.post("/identity/events", json={"events": EVENTS}).json())
    assert job["status"] == "succeeded", job
    anna = _customer_of(api, "林安娜")
    bo = _customer_of(api, "周博")
    assert anna != bo
    # What the analysis would write: a circle led by Anna, scores.
    store.upsert_nodes("Circle", [{"id": "K1", "size": 2, "leaders": [anna, bo]}])
    store.upsert_relations(
        "IN_CIRCLE",
        "Customer",
        "Circle",
        [{"start": anna, "end": "K1"}, {"start": bo, "end": "K1"}],
    )
    store.set_node_properties("Customer", [{"id": anna, "churn_risk": 0.4, "influence": 0.8}])
    before = _everything(store)
    for value in (anna, "anna.lin@example.com", "oAnnaUnionid0000000000000001", "A-1", "林安娜"):
        assert value in before

    forbidden = api.post(
        "/privacy/erasures", role="sales", json={"customer_id": anna, "reason": "x"}
    )
    assert forbidden.status_code == 403
    response = api.post("/privacy/erasures", json={"customer_id": anna, "reason": "request #1"})
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["verified"] is True
    assert report["remaining"] == []
    assert report["erased"]["customers"] >= 1
    assert report["erased"]["orders"] == 1
    assert report["erased"]["shared_identity_links"] == 1  # the household phone stays for Bo

    after = _everything(store)
    for value in (
        anna,
        "anna.lin@example.com",
        "oAnnaUnionid0000000000000001",
        "oA1b2AnnaOpenid",
        "A-1",
        "WX-1",
        "林安娜",
        "1990-02-03",
        "O000000001",
        "ANNA2345",
    ):
        assert value not in after, value
    # Bo is untouched, keeps the shared phone, and the circle lost Anna.
    bo_view = api.get(f"/customers/{bo}/360").json()
    assert bo_view["customer"]["phones"] == ["+8613800138000"]
    assert bo_view["referrals"]["referred_by"] == []
    assert api.get("/circles/K1").json()["circle"]["leaders"] == [bo]
    assert api.get(f"/customers/{anna}").status_code == 404
    assert api.get("/customers?phone=13800138000").json()["items"][0]["id"] == bo
    audit = api.get(f"/audit?customer_id={anna}").json()["items"]
    erasure = next(e for e in audit if e["action"] == "erasure")
    assert erasure["detail"]["reason"] == "request #1"
    assert "林安娜" not in json.dumps(audit, ensure_ascii=False)
    assert (
        api.post("/privacy/erasures", json={"customer_id": anna, "reason": "again"}).status_code
        == 404
    )


def test_explain_merge_and_split(api: Api) -> None:
    other = {
        "source": "store",
        "source_record_id": "S-9",
        "full_name": "Lin Anna",
        "phone": "+852 9123 4567",
        "created_at": "2024-04-01T00:00:00Z",
    }
    assert api.post("/identity/contacts", json={"records": [*ANNA, other]}).json()["ok"]
    explained = api.get("/identity/explain?a=crm:A-1&b=wechat:WX-1", role="sales")
    assert explained.status_code == 200, explained.text
    body = explained.json()
    assert body["same_customer"] is True
    assert body["path"]
    assert body["path"][0]["rule"]
    anna = body["customers"][0]
    store_customer = api.get("/customers?phone=%2B85291234567").json()["items"][0]["id"]
    assert store_customer != anna
    separate = api.get("/identity/explain?a=crm:A-1&b=store:S-9").json()
    assert separate["same_customer"] is False
    assert separate["path"] == []
    # Phone keys in an explanation are masked for a viewer-level view of the customer.
    masked = api.get("/identity/explain?a=phone:%2B8613800138000&b=crm:A-1", role="sales").json()
    assert "+8613800138000" not in json.dumps(masked)

    merged = api.post(
        "/identity/merge", json={"customer_ids": [anna, store_customer], "reason": "called"}
    )
    assert merged.status_code == 200, merged.text
    result = merged.json()
    assert result["survivor_id"] == anna  # seen first
    moved = api.get(f"/customers/{store_customer}", follow_redirects=False)
    assert moved.status_code == 307
    assert moved.headers["location"] == f"/customers/{anna}"
    assert api.post("/identity/merge", json={"customer_ids": [anna, anna]}).status_code == 409
    assert api.post("/identity/merge", json={"customer_ids": [anna]}).status_code == 422
    assert (
        api.post("/identity/merge", role="sales", json={"customer_ids": [anna, "x"]}).status_code
        == 403
    )

    split = api.post("/identity/split", json={"identity": "wechat:WX-1", "reason": "wrong link"})
    assert split.status_code == 200, split.text
    new = split.json()["new_customer_id"]
    assert split.json()["customer_id"] == anna
    assert new != anna
    assert api.get(f"/customers/{new}").json()["channels"] == ["wechat"]
    assert "wechat" not in api.get(f"/customers/{anna}").json()["channels"]
    assert api.post("/identity/split", json={"identity": "phone:+8613800138000"}).status_code == 422
    assert api.post("/identity/split", json={"identity": "crm:none"}).status_code == 404
    audit = [e["action"] for e in api.get("/audit?limit=20").json()["items"]]
    assert "merge" in audit
    assert "split" in audit


def test_split_after_merge_gives_a_reachable_customer(api: Api) -> None:
    other = dict(BO, source_record_id="S-1", full_name="Lin Anna", phone="+852 9123 4567")
    other.pop("email")
    api.post("/identity/contacts", json={"records": [ANNA[0], other]})
    a = api.get("/customers?phone=13800138000").json()["items"][0]["id"]
    b = api.get("/customers?phone=%2B85291234567").json()["items"][0]["id"]
    api.post("/identity/merge", json={"customer_ids": [a, b]})
    new = api.post("/identity/split", json={"identity": "crm:S-1"}).json()["new_customer_id"]
    assert new not in (a, b)
    assert api.get(f"/customers/{new}", follow_redirects=False).status_code == 200
    split_off = api.get(f"/customers/{new}").json()
    assert split_off["name_latin"] == "anna lin"
    assert split_off["first_seen"] == BO["created_at"]
    assert api.get(f"/customers/{a}").json()["first_seen"] == ANNA[0]["created_at"]
    # The merged-away id still leads to the customer it was merged into.
    moved = api.get(f"/customers/{b}", follow_redirects=False)
    assert moved.status_code == 307
    assert moved.headers["location"] == f"/customers/{a}"


def test_merge_and_split_wait_for_a_running_ingest_then_answer_409(
    api: Api, api_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A merge while an ingest resolves against the graph would change customers the ingest
    # is deciding on: the two take turns through the data directory's writer lock.
    other = dict(BO, source_record_id="S-1", full_name="Lin Anna", phone="+852 9123 4567")
    other.pop("email")
    api.post("/identity/contacts", json={"records": [ANNA[0], other]})
    a = api.get("/customers?phone=13800138000").json()["items"][0]["id"]
    b = api.get("/customers?phone=%2B85291234567").json()["items"][0]["id"]
    monkeypatch.setattr(identity_service, "MANUAL_WRITE_WAIT_S", 0.3)
    with writer_lock(api_settings.data_dir):  # an ingest holds the lock
        started = time.monotonic()
        busy = api.post("/identity/merge", json={"customer_ids": [a, b]})
        assert busy.status_code == 409, busy.text
        assert time.monotonic() - started >= 0.3
        assert "ingest" in busy.json()["detail"]
        assert api.post("/identity/split", json={"identity": "crm:S-1"}).status_code == 409
    # Nothing was merged while refused; once the ingest is done the same request works.
    assert api.get(f"/customers/{b}", follow_redirects=False).status_code == 200
    merged = api.post("/identity/merge", json={"customer_ids": [a, b]})
    assert merged.status_code == 200, merged.text


def test_an_erasure_in_one_worker_drops_the_person_from_the_others_graph(
    store: GraphStore, api_settings: Settings
) -> None:
    # Two server processes (uvicorn workers) on one store, each with its own cached graph:
    # an erasure answered by one must not leave the person in the other's lookalike answers.
    build_graph(store)
    with _client(store, api_settings) as first, _client(store, api_settings) as other:
        # Look at the store's change count at every request (by default every 5 s).
        other.client.app.state.graph_cache.check_s = 0.0
        before = other.post("/lookalikes", json={"seeds": ["c3"], "k": 10})
        assert before.status_code == 200
        assert '"c2"' in before.text  # c2 is a prospect or evidence here
        assert "c2" in other.client.app.state.graph_cache.get(store).index
        erased = first.post("/privacy/erasures", json={"customer_id": "c2", "reason": "request"})
        assert erased.status_code == 200
        after = other.post("/lookalikes", json={"seeds": ["c3"], "k": 10})
        assert after.status_code == 200
        assert '"c2"' not in after.text
        assert "c2" not in other.client.app.state.graph_cache.get(store).index
