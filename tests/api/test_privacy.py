"""Privacy: erased people stay erased (suppression list), and the access request export."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from quanzi.errors import ConfigError
from quanzi.graph.store import GraphStore
from quanzi.ingest import ingest_contacts, ingest_files
from tests.api.conftest import Api
from tests.api.test_identity_privacy import ANNA, BO, EVENTS, _customer_of, _everything, _wait

pytestmark = pytest.mark.store


def _erase(api: Api, customer_id: str) -> dict[str, object]:
    response = api.post("/privacy/erasures", json={"customer_id": customer_id, "reason": "test"})
    assert response.status_code == 200, response.text
    report: dict[str, object] = response.json()
    return report


def test_an_erased_person_is_not_loaded_again(api: Api, store: GraphStore, tmp_path: Path) -> None:
    assert api.post("/identity/contacts", json={"records": [*ANNA, BO]}).json()["ok"]
    anna = _customer_of(api, "林安娜")
    report = _erase(api, anna)
    # Two records, e-mail, WeChat unionid and openid; the household phone stays with Bo.
    assert report["erased"] == report["erased"] | {"suppressed_keys": 5}  # type: ignore[operator]
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    reason = f"erased on {today}; subject requested erasure"

    # The same records again, through the API: rejected, row by row, nothing loaded.
    again = api.post("/identity/contacts", json={"records": ANNA}).json()
    assert again["ok"] is False
    assert [(r["row"], r["field"], r["reason"]) for r in again["rejects"]] == [
        (1, "source_record_id", reason),
        (2, "source_record_id", reason),
    ]
    assert again["counts"]["contacts_erased"] == 2
    assert api.get("/customers?name=林安娜").json()["items"] == []

    # A new record from another channel carrying her e-mail: rejected, naming the field.
    shop = {
        "source": "shop",
        "source_record_id": "S-77",
        "full_name": "Anna Lin",
        "email": "Anna.Lin@Example.com",
    }
    # Bo's new record with the shared household phone still loads.
    bo_again = dict(BO, source="shop", source_record_id="S-78")
    mixed = api.post("/identity/contacts", json={"records": [shop, bo_again]}).json()
    assert [(r["row"], r["field"]) for r in mixed["rejects"]] == [(1, "email")]
    assert mixed["counts"]["records_loaded"] == 1

    # The same through a file, as `quanzi ingest` loads it.
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "contacts.jsonl").write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in ANNA) + "\n", encoding="utf-8"
    )
    from_file = ingest_files(store, [folder], api.settings)
    assert [(r.row, r.field) for r in from_file.rejects] == [
        (1, "source_record_id"),
        (2, "source_record_id"),
    ]
    assert from_file.rejects[0].reason == reason

    # Only keyed hashes are kept, under a secret outside the store.
    everything = _everything(store)
    for value in ("anna.lin@example.com", "oAnnaUnionid", "A-1", "WX-1", "林安娜"):
        assert value not in everything, value
    key_file = api.settings.data_dir / "erasure.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text().strip() not in everything


def test_events_of_an_erased_person_are_rejected(api: Api) -> None:
    assert api.post("/identity/contacts", json={"records": [*ANNA, BO]}).json()["ok"]
    _erase(api, _customer_of(api, "林安娜"))
    job = _wait(api, api.post("/identity/events", json={"events": EVENTS}).json())
    assert job["status"] == "succeeded", job
    rejects = api.get(job["rejects_url"]).text
    # Every event row that names one of her records (each is rejected, naming its field).
    hers = {"crm:A-1", "wechat:WX-1"}
    naming_her = [e for e in EVENTS if hers & {str(v) for v in e.values()}]
    assert job["rejects"] == len(naming_her) > 0
    assert "crm:A-1" in rejects
    assert "wechat:WX-1" in rejects
    assert "林安娜" not in rejects
    # Refused for good, not kept waiting for contact records that will never load (they were
    # told to load the contact file first, and their file never counted as loaded).
    assert rejects.count("of a person erased on") == len(naming_her)
    assert "contact file first" not in rejects
    assert job["result"]["counts"]["events_erased"] == len(naming_her)
    assert not job["result"]["counts"].get("events_waiting")
    # Nothing of her came back through the events: Bo's referral and call have no other end.
    bo = api.get(f"/customers/{_customer_of(api, '周博')}/360").json()
    assert bo["referrals"]["referred_by"] == []


def test_another_erasure_secret_is_refused_rather_than_ignored(
    api: Api, store: GraphStore, tmp_path: Path
) -> None:
    assert api.post("/identity/contacts", json={"records": ANNA}).json()["ok"]
    _erase(api, _customer_of(api, "林安娜"))
    elsewhere = api.settings.model_copy(update={"erasure_secret": SecretStr("another secret")})
    with pytest.raises(ConfigError, match="QUANZI_ERASURE_SECRET"):
        ingest_contacts(store, ANNA, elsewhere)
    assert store.counts().get("Customer", 0) == 0
    # The secret of the erasures, given as the setting on another machine, works like the file.
    secret = (api.settings.data_dir / "erasure.key").read_text().strip()
    other_machine = api.settings.model_copy(
        update={"erasure_secret": SecretStr(secret), "data_dir": tmp_path / "other"}
    )
    report = ingest_contacts(store, ANNA, other_machine)
    assert report.counts["contacts_erased"] == 2
    assert not (tmp_path / "other" / "erasure.key").exists()


def test_access_request_exports_everything_held_about_one_person(graph: Api) -> None:
    graph.get("/customers/c1/360", role="viewer")  # an audited read naming c1
    response = graph.get("/privacy/access/c0")  # c0 was merged into c1
    assert response.status_code == 200, response.text
    export = response.json()
    assert export["customer_id"] == "c1"
    assert sorted(export["customer_ids"]) == ["c0", "c1"]
    assert {c["id"] for c in export["customers"]} == {"c0", "c1"}
    assert export["customers"][0]["birth_date"] == "1988-04-02"  # unmasked, all properties
    scores = {s["name"]: s for s in export["scores"]}
    assert scores["churn_risk"]["value"] == 0.82
    assert scores["churn_risk"]["explanation"]
    identities = {i["id"]: i for i in export["identities"]}
    assert set(identities) == {
        "phone:+8613800138000",
        "email:zhang.wei@example.com",
        "record:crm:1",
    }
    assert identities["record:crm:1"]["street"] == "朝阳区建国路88号"
    assert identities["record:crm:1"]["link"]["rule"] == "first record"
    assert [o["id"] for o in export["orders"]] == ["O1", "O2"]
    relations = export["relations"]
    assert {r["other"]["id"] for r in relations["TAGGED"]} == {"VIP"}
    assert {r["other"]["id"] for r in relations["IN_CIRCLE"]} == {"K1"}
    assert relations["SERVED_BY"][0]["other"] == {"label": "Employee", "id": "E1", "name": "王芳"}
    assert relations["SERVED_BY"][0]["properties"]["active"] is True
    assert {r["other"]["id"] for r in relations["INTERACTS_WITH"]} == {"c2", "c3"}
    assert {r["other"]["id"] for r in relations["REFERRED"]} == {"c2"}
    assert {r["other"]["id"] for r in relations["MEMBER_OF"]} == {"G1"}
    assert {r["other"]["id"] for r in relations["INTERESTED_IN"]} == {"hiking"}
    assert {r["other"]["id"] for r in relations["IN_CAMPAIGN"]} == {"C1"}
    # Other people appear by id only: nothing of theirs is disclosed.
    text = json.dumps(export, ensure_ascii=False)
    for other in ("李娜", "王磊", "li.na@example.com", "+8613900139000"):
        assert other not in text
    assert "event_keys" not in text  # the loads' own bookkeeping, not data about the person
    assert any(e["route"] == "/customers/{customer_id}/360" for e in export["audit"])
    # Admins only, audited, and nothing for an unknown or erased person.
    assert graph.get("/privacy/access/c1", role="sales").status_code == 403
    assert graph.get("/privacy/access/nobody").status_code == 404
    actions = [e["action"] for e in graph.get("/audit?customer_id=c1").json()["items"]]
    assert "access_export" in actions
    _erase(graph, "c1")
    assert graph.get("/privacy/access/c1").status_code == 404
