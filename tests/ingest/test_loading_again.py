"""Events loaded again, in another order or spelled otherwise, give the graph of one load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from quanzi.graph import queries as q
from quanzi.graph.store import GraphStore
from quanzi.ingest import ingest_files
from quanzi.ingest.load import merge_into
from quanzi.settings import Settings

from .conftest import WriteContacts, WriteEvents

pytestmark = pytest.mark.store

A = {"source": "crm", "source_record_id": "1", "full_name": "张伟", "phone": "13800138001"}
B = {"source": "crm", "source_record_id": "2", "full_name": "李娜", "phone": "13900139002"}
C = {"source": "crm", "source_record_id": "3", "full_name": "王芳", "phone": "13700137003"}
T1, T2 = "2024-05-01T10:00:00Z", "2024-05-02T10:00:00Z"


def _customer(store: GraphStore, record: str) -> str:
    rows = store.read_collected(q.CUSTOMERS_OF_IDENTITIES, "test", ids=[f"record:{record}"])
    return str(rows[0]["customer"])


def _rel(store: GraphStore, rel: str, a: str, label: str, b: str) -> dict[str, Any] | None:
    rows = store.read(
        f"MATCH (:Customer {{id: $a}})-[e:{rel}]->(:{label} {{id: $b}}) RETURN properties(e) AS p",
        "test",
        a=a,
        b=b,
    )
    return dict(rows[0]["p"]) if rows else None


def _order(store: GraphStore, oid: str) -> dict[str, Any]:
    rows = store.read("MATCH (o:Order {id: $o}) RETURN properties(o) AS p", "test", o=oid)
    return dict(rows[0]["p"])


def test_an_export_newest_first_keeps_the_latest_tag_and_order_event(
    store: GraphStore,
    write_contacts: WriteContacts,
    write_events: WriteEvents,
    ingest_settings: Settings,
) -> None:
    # The last event in the file stood: an export newest first kept the oldest tag and order
    # amount, and the same events saved oldest first moved them (a second load changed them).
    ingest_files(store, [write_contacts("c.csv", [A])], ingest_settings)
    newest_first = [
        {"type": "tag_applied", "time": T2, "customer": "crm:1", "tag": "vip", "employee_id": "E2"},
        {"type": "order", "time": T2, "customer": "crm:1", "order_id": "o1", "amount": 120},
        {"type": "tag_applied", "time": T1, "customer": "crm:1", "tag": "vip", "employee_id": "E1"},
        {"type": "order", "time": T1, "customer": "crm:1", "order_id": "o1", "amount": 100},
    ]
    ingest_files(store, [write_events("newest-first.jsonl", newest_first)], ingest_settings)
    a = _customer(store, "crm:1")
    tag, order = _rel(store, "TAGGED", a, "Tag", "vip"), _order(store, "o1")
    assert tag == {"at": T2, "by": "E2"}
    assert (order["amount"], order["placed_at"]) == (120, T2)
    ingest_files(store, [write_events("oldest-first.jsonl", newest_first[::-1])], ingest_settings)
    assert _rel(store, "TAGGED", a, "Tag", "vip") == tag
    assert _order(store, "o1") == order


def test_an_interest_of_one_weight_twice_keeps_its_first_time_in_any_order(
    store: GraphStore,
    write_contacts: WriteContacts,
    write_events: WriteEvents,
    ingest_settings: Settings,
) -> None:
    # On a tie the first event in the file (then the file loaded first) set `at`.
    ingest_files(store, [write_contacts("c.csv", [A])], ingest_settings)
    at = {"type": "interest", "customer": "crm:1", "interest": "tea", "weight": 0.5}
    ingest_files(store, [write_events("later.jsonl", [at | {"time": T2}])], ingest_settings)
    ingest_files(
        store, [write_events("both.jsonl", [at | {"time": T2}, at | {"time": T1}])], ingest_settings
    )
    a = _customer(store, "crm:1")
    assert _rel(store, "INTERESTED_IN", a, "Interest", "tea") == {"weight": 0.5, "at": T1}


def test_a_time_spelled_otherwise_is_the_same_time(
    store: GraphStore,
    write_contacts: WriteContacts,
    write_events: WriteEvents,
    ingest_settings: Settings,
) -> None:
    # A time fromisoformat did not read was read as its date's midnight: the same call with
    # its zone written ' UTC' or 'z' was a second call, and two calls of one day in two
    # files were one (the second file's was taken as loaded already).
    ingest_files(store, [write_contacts("c.csv", [A, B])], ingest_settings)
    call = {"type": "interaction", "kind": "call", "from": "crm:1", "to": "crm:2"}
    ingest_files(store, [write_events("e.jsonl", [call | {"time": T1}])], ingest_settings)
    spellings = ["2024-05-01T10:00:00 UTC", "2024-05-01T10:00:00z", "2024/05/01 18:00:00 +08:00",
                 "2024-05-01T18:00:00+08:00[Asia/Shanghai]"]  # fmt: skip
    for i, t in enumerate(spellings):
        report = ingest_files(store, [write_events(f"e{i}.jsonl", [call | {"time": t}])],
                              ingest_settings)  # fmt: skip
        assert not report.rejects
    a, b = _customer(store, "crm:1"), _customer(store, "crm:2")
    assert (_rel(store, "INTERACTS_WITH", a, "Customer", b) or {}).get("count") == 1
    afternoon = write_events("pm.jsonl", [call | {"time": "2024/05/01 15:00:00"}])
    ingest_files(store, [afternoon], ingest_settings)
    assert (_rel(store, "INTERACTS_WITH", a, "Customer", b) or {}).get("count") == 2
    zone_by_name = write_events("cst.jsonl", [call | {"time": "2024-05-01 18:00:00 CST"}])
    report = ingest_files(store, [zone_by_name], ingest_settings)
    assert [(r.row, r.field) for r in report.rejects] == [(1, "time")]


def test_a_merge_between_loads_keeps_the_kinds_of_both_ties(
    store: GraphStore,
    write_contacts: WriteContacts,
    write_events: WriteEvents,
    ingest_settings: Settings,
    tmp_path: Path,
) -> None:
    # Merged, the survivor's tie kept its own kinds only (counts and keys moved).
    ingest_files(store, [write_contacts("c.csv", [A, B, C])], ingest_settings)
    events = write_events(
        "e.jsonl",
        [
            {"type": "interaction", "time": T1, "kind": "message", "from": "crm:1", "to": "crm:3"},
            {"type": "interaction", "time": T1, "kind": "call", "from": "crm:2", "to": "crm:3"},
        ],
    )
    ingest_files(store, [events], ingest_settings)
    a, b, c = _customer(store, "crm:1"), _customer(store, "crm:2"), _customer(store, "crm:3")
    merge_into(store, b, a, reason="test")
    crlf = tmp_path / "e-crlf.jsonl"
    crlf.write_bytes(events.read_bytes().replace(b"\n", b"\r\n"))
    ingest_files(store, [crlf], ingest_settings)
    tie = _rel(store, "INTERACTS_WITH", a, "Customer", c) or {}
    assert (tie.get("count"), sorted(tie.get("kinds") or [])) == (2, ["call", "message"])


def test_an_events_file_saved_with_a_bom_loads(
    store: GraphStore,
    write_contacts: WriteContacts,
    write_events: WriteEvents,
    ingest_settings: Settings,
    tmp_path: Path,
) -> None:
    # A JSON Lines file starting with a byte order mark was refused whole ('line 1 is not JSON').
    ingest_files(store, [write_contacts("c.csv", [A, B])], ingest_settings)
    call = {"type": "interaction", "time": T1, "kind": "call", "from": "crm:1", "to": "crm:2"}
    events = write_events("e.jsonl", [call])
    ingest_files(store, [events], ingest_settings)
    bom = tmp_path / "e-bom.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + events.read_bytes())
    report = ingest_files(store, [bom], ingest_settings)
    assert not report.rejects
    a, b = _customer(store, "crm:1"), _customer(store, "crm:2")
    assert (_rel(store, "INTERACTS_WITH", a, "Customer", b) or {}).get("count") == 1
