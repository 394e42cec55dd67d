"""Values that read as valid but are not: placeholder phones, reused order ids, control
characters. Against the real bundled store: what the graph holds afterwards."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from quanzi.graph import queries as q
from quanzi.graph.store import GraphStore
from quanzi.ingest import ingest_files
from quanzi.model import Node
from quanzi.settings import Settings

from .conftest import WriteContacts, WriteEvents

pytestmark = pytest.mark.store


def _customer_of(store: GraphStore, record: str) -> str:
    rows = store.read_collected(q.CUSTOMERS_OF_IDENTITIES, "test", ids=[f"record:{record}"])
    assert len(rows) == 1, rows
    return str(rows[0]["customer"])


WANG_A = {"source": "z", "source_record_id": "Z1", "full_name": "王伟", "phone": "000000000"}
WANG_B = {"source": "z", "source_record_id": "Z2", "full_name": "王伟", "phone": "000-000-000"}


def test_a_placeholder_phone_is_rejected_naming_the_field(
    store: GraphStore, write_contacts: WriteContacts, ingest_settings: Settings
) -> None:
    path = write_contacts("c.csv", [WANG_A, WANG_B])
    report = ingest_files(store, [path], ingest_settings)
    assert {(r.row, r.field) for r in report.rejects} == {(2, "phone"), (3, "phone")}
    assert all("leave the field empty" in r.reason for r in report.rejects)
    assert store.counts().get(Node.CUSTOMER, 0) == 0


def test_two_people_with_a_placeholder_phone_are_not_merged(
    store: GraphStore, write_contacts: WriteContacts, ingest_settings: Settings
) -> None:
    # Before, both became +8600000000 and "same phone and name" made them one customer.
    settings = ingest_settings.model_copy(update={"ingest_invalid_fields": "drop_field"})
    path = write_contacts("c.csv", [WANG_A, WANG_B])
    report = ingest_files(store, [path], settings)
    assert not report.rejects
    assert {(r.row, r.field) for r in report.dropped_fields} == {(2, "phone"), (3, "phone")}
    assert _customer_of(store, "z:Z1") != _customer_of(store, "z:Z2")
    phones = store.read("MATCH (i:Identity {kind: 'phone'}) RETURN i.id AS id", "test")
    assert phones == []


ZHANG = {"source": "crm", "source_record_id": "1", "full_name": "张伟", "phone": "13800138000"}
ZHANG_WX = {
    "source": "wechat",
    "source_record_id": "2",
    "full_name": "張偉",
    "phone": "13800138000",
}
LI = {"source": "shop", "source_record_id": "3", "full_name": "李娜", "phone": "13900139000"}


def _order(customer: str, order_id: str, amount: float, day: int = 1) -> dict[str, object]:
    return {
        "type": "order",
        "time": f"2024-01-0{day}T10:00:00Z",
        "customer": customer,
        "order_id": order_id,
        "amount": amount,
        "product": "tea",
    }


def _placed(store: GraphStore) -> dict[str, list[str]]:
    rows = store.read(
        "MATCH (c:Customer)-[:PLACED]->(o:Order) RETURN o.id AS o, c.id AS c ORDER BY c", "test"
    )
    placed: dict[str, list[str]] = {}
    for r in rows:
        placed.setdefault(r["o"], []).append(r["c"])
    return placed


def test_an_order_id_reused_by_another_customer_is_rejected(
    store: GraphStore,
    write_contacts: WriteContacts,
    write_events: WriteEvents,
    ingest_settings: Settings,
) -> None:
    contacts = write_contacts("c.csv", [ZHANG, ZHANG_WX, LI])
    first = write_events("e1.jsonl", [_order("crm:1", "O1", 100.0)])
    report = ingest_files(store, [contacts, first], ingest_settings)
    assert not report.rejects
    zhang, li = _customer_of(store, "crm:1"), _customer_of(store, "shop:3")
    assert zhang == _customer_of(store, "wechat:2") != li

    # A later file: O1 again for 李娜 (before: O1 moved to her, but 张伟 kept his PLACED, so
    # both counted it); O1 again for 张伟 through his other record (an update: accepted);
    # O2 twice in the file, first for 李娜, then for 张伟.
    later = write_events(
        "e2.jsonl",
        [
            _order("shop:3", "O1", 5.0, 2),
            _order("wechat:2", "O1", 120.0, 3),
            _order("shop:3", "O2", 30.0, 4),
            _order("crm:1", "O2", 7.0, 5),
        ],
    )
    report = ingest_files(store, [later], ingest_settings)
    got = {(r.row, r.field): r.reason for r in report.rejects}
    assert set(got) == {(1, "order_id"), (4, "order_id")}, got
    assert "'O1' is already placed by another customer" in got[(1, "order_id")]
    assert zhang in got[(1, "order_id")]
    assert "in row 3 by shop:3" in got[(4, "order_id")]
    assert all(why.endswith("use a new order id") for why in got.values())

    assert _placed(store) == {"O1": [zhang], "O2": [li]}
    o1 = store.get_node(Node.ORDER, "O1")
    assert o1 is not None
    assert (o1["customer_id"], o1["amount"]) == (zhang, 120.0)
    z, lc = store.get_node(Node.CUSTOMER, zhang), store.get_node(Node.CUSTOMER, li)
    assert z is not None
    assert lc is not None
    assert (z["order_count"], z["total_spent"]) == (1, 120.0)
    assert (lc["order_count"], lc["total_spent"]) == (1, 30.0)


def test_an_older_file_loaded_again_does_not_set_an_order_back(
    store: GraphStore,
    tmp_path: Path,
    write_contacts: WriteContacts,
    write_events: WriteEvents,
    ingest_settings: Settings,
) -> None:
    # The last file loaded won: a copy of the first export, loaded after the correction,
    # set the order back to its first amount and the customer's total with it.
    first = write_events("e1.jsonl", [_order("crm:1", "O1", 100.0, 1)])
    ingest_files(store, [write_contacts("c.csv", [ZHANG]), first], ingest_settings)
    corrected = write_events("e2.jsonl", [_order("crm:1", "O1", 80.0, 2)])
    ingest_files(store, [corrected], ingest_settings)
    copy = tmp_path / "e1-again.jsonl"
    copy.write_bytes(first.read_bytes().replace(b"\n", b"\r\n"))
    ingest_files(store, [copy], ingest_settings)
    order = store.get_node(Node.ORDER, "O1")
    assert order is not None
    assert (order["amount"], order["placed_at"]) == (80.0, "2024-01-02T10:00:00Z")
    customer = store.get_node(Node.CUSTOMER, _customer_of(store, "crm:1"))
    assert customer is not None
    assert customer["total_spent"] == 80.0


def test_control_characters_are_not_stored(
    store: GraphStore,
    write_contacts: WriteContacts,
    write_events: WriteEvents,
    ingest_settings: Settings,
) -> None:
    rows = [
        {
            "source": "a",
            "source_record_id": "NUL1",
            "full_name": "韩\x00八",
            "phone": "13800138019",
        },
        {
            "source": "a",
            "source_record_id": "CTL1",
            "full_name": "朱\x01\x1b[31m十",
            "phone": "13800138021",
            "city": "上海\x1b[0m",
        },
    ]
    contacts = write_contacts("c.csv", rows)
    events = write_events(
        "e.jsonl",
        [
            {
                "type": "tag_applied",
                "time": "2024-01-01T00:00:00Z",
                "customer": "a:NUL1",
                "tag": "vip\u0000",
            }
        ],
    )
    report = ingest_files(store, [contacts, events], ingest_settings)
    assert not report.rejects
    names = store.read(
        "MATCH (c:Customer)-[:HAS_IDENTITY]->(i:Identity {kind: 'record'}) "
        "RETURN c.name AS customer, i.name AS record, i.city AS city ORDER BY i.id",
        "test",
    )
    assert [(r["customer"], r["record"], r["city"]) for r in names] == [
        ("朱十", "朱十", "上海"),
        ("韩八", "韩八", None),
    ]
    tags = store.read("MATCH (:Customer)-[:TAGGED]->(t:Tag) RETURN t.id AS id", "test")
    assert [t["id"] for t in tags] == ["vip"]


def test_an_event_before_the_year_1000_does_not_become_the_latest_activity(
    store: GraphStore,
    write_contacts: WriteContacts,
    write_events: WriteEvents,
    ingest_settings: Settings,
) -> None:
    contacts = write_contacts("c.csv", [ZHANG, LI])
    stage = {"type": "funnel_stage", "customer": "crm:1"}
    events = write_events(
        "e.jsonl",
        [
            stage | {"time": "2024-03-01T00:00:00Z", "stage": "won"},
            stage | {"time": "0999-05-01T00:00:00Z", "stage": "lead"},
        ],
    )
    ingest_files(store, [contacts, events], ingest_settings)
    customer = store.get_node(Node.CUSTOMER, _customer_of(store, "crm:1"))
    assert customer is not None
    assert customer["last_active_at"] == "2024-03-01T00:00:00Z"
    assert customer["funnel_stage"] == "won"
    assert customer["funnel_history"] == ["0999-05-01T00:00:00Z lead", "2024-03-01T00:00:00Z won"]


def test_dates_in_the_future_are_rejected_naming_the_field(
    store: GraphStore,
    write_contacts: WriteContacts,
    write_events: WriteEvents,
    ingest_settings: Settings,
) -> None:
    # An event dated 9999 became the customer's last activity for good (it only moves
    # forward), and a birth date of 2099 loaded as one.
    unborn = dict(LI, source_record_id="9", birth_date="2099-01-01")
    late = dict(ZHANG, source_record_id="8", created_at="9999-12-31T00:00:00Z")
    contacts = write_contacts("c.csv", [ZHANG, unborn, late])
    stage = {"type": "funnel_stage", "customer": "crm:1"}
    events = write_events(
        "e.jsonl",
        [
            stage | {"time": "2024-03-01T00:00:00Z", "stage": "won"},
            stage | {"time": "9999-05-01T00:00:00Z", "stage": "lead"},
        ],
    )
    report = ingest_files(store, [contacts, events], ingest_settings)
    found = {(Path(r.file).name, r.row, r.field) for r in report.rejects}
    assert found == {("c.csv", 3, "birth_date"), ("c.csv", 4, "created_at"), ("e.jsonl", 2, "time")}
    assert all("in the future" in r.reason for r in report.rejects)
    customer = store.get_node(Node.CUSTOMER, _customer_of(store, "crm:1"))
    assert customer is not None
    assert customer["last_active_at"] == "2024-03-01T00:00:00Z"


def test_parquet_dates_times_and_decimals_load(
    store: GraphStore, tmp_path: Path, ingest_settings: Settings
) -> None:
    # Parquet's own types were rejected on every row: "expected text, got date/datetime"
    # and "expected a finite number, got Decimal('12.50')".
    contacts = pa.table(
        {
            "source": ["pq", "pq"],
            "source_record_id": pa.array([1, 2], pa.int64()),
            "full_name": ["褚一", "褚二"],
            "id_number": pa.array([Decimal("110101199001011234"), None], pa.decimal128(18, 0)),
            "birth_date": pa.array([date(1990, 1, 2), date(1985, 12, 31)], pa.date32()),
            "created_at": pa.array(
                [datetime(2023, 1, 1, 16, 0, tzinfo=UTC), datetime(2023, 2, 1, tzinfo=UTC)],
                pa.timestamp("us", tz="Asia/Shanghai"),
            ),
        }
    )
    events = pa.table(
        {
            "type": ["order", "funnel_stage"],
            "time": pa.array(
                [datetime(2024, 1, 1, 8, 30), datetime(2024, 1, 2)], pa.timestamp("ms")
            ),
            "customer": ["pq:1", "pq:2"],
            "order_id": ["OP1", None],
            "amount": pa.array([Decimal("12.50"), None], pa.decimal128(10, 2)),
            "stage": [None, "lead"],
        }
    )
    pq.write_table(contacts, tmp_path / "contacts.parquet")
    pq.write_table(events, tmp_path / "events.parquet")
    report = ingest_files(
        store, [tmp_path / "contacts.parquet", tmp_path / "events.parquet"], ingest_settings
    )
    assert report.rejects == []
    record = store.get_node(Node.IDENTITY, "record:pq:1")
    assert record is not None
    assert record["birth_date"] == "1990-01-02"
    assert record["created_at"] == "2023-01-01T16:00:00Z"
    assert record["id_number"] == "110101199001011234"
    order = store.get_node(Node.ORDER, "OP1")
    assert order is not None
    assert (order["amount"], order["placed_at"]) == (12.5, "2024-01-01T08:30:00Z")  # naive: UTC
    customer = store.get_node(Node.CUSTOMER, _customer_of(store, "pq:2"))
    assert customer is not None
    assert customer["funnel_stage"] == "lead"


def test_absurd_magnitudes_are_rejected_naming_the_field(
    store: GraphStore,
    write_contacts: WriteContacts,
    write_events: WriteEvents,
    ingest_settings: Settings,
) -> None:
    # An order of 1e300, a tie of 1e15 interactions and an interest weight of 50 loaded as
    # they came, and ranked the customer first by spend, tie and interest for good.
    t = "2024-03-01T00:00:00Z"
    events = write_events(
        "e.jsonl",
        [
            _order("crm:1", "o-big", 1e300),
            {"type": "interaction", "time": t, "kind": "message", "from": "crm:1",
             "to": "shop:3", "count": 1e15},
            {"type": "interest", "time": t, "customer": "crm:1", "interest": "tea",
             "weight": 50},
            {"type": "interest", "time": t, "customer": "crm:1", "interest": "golf",
             "weight": -0.5},
            _order("crm:1", "o-fine", 7996.0),
            {"type": "interaction", "time": t, "kind": "message", "from": "crm:1",
             "to": "shop:3", "count": 41},
            {"type": "interest", "time": t, "customer": "crm:1", "interest": "tea",
             "weight": 0.9},
        ],
    )  # fmt: skip
    report = ingest_files(store, [write_contacts("c.csv", [ZHANG, LI]), events], ingest_settings)
    assert [(r.row, r.field) for r in report.rejects] == [
        (1, "amount"),
        (2, "count"),
        (3, "weight"),
        (4, "weight"),
    ]
    assert "check the unit" in report.rejects[0].reason
    customer = store.get_node(Node.CUSTOMER, _customer_of(store, "crm:1"))
    assert customer is not None
    assert customer["total_spent"] == 7996.0
    assert report.counts["INTERACTS_WITH"] == 1


def test_reference_files_are_normalised_as_the_events_that_name_them(
    store: GraphStore,
    tmp_path: Path,
    write_contacts: WriteContacts,
    write_events: WriteEvents,
    ingest_settings: Settings,
) -> None:
    # groups.csv was read as it came: its full-width id was another group than the plain id
    # of the events that name it, and a terminal escape in a name was stored.
    groups = tmp_path / "groups.csv"
    groups.write_text(
        "group_id,name,owner_employee_id\nＶＩＰ  1,茶\x1b[31m友会,E1\n", encoding="utf-8"
    )
    join = {"type": "group_join", "time": "2024-03-01T00:00:00Z", "customer": "crm:1"}
    events = write_events("e.jsonl", [join | {"group_id": "VIP 1"}])
    ingest_files(store, [write_contacts("c.csv", [ZHANG]), groups, events], ingest_settings)
    assert store.node_table(Node.GROUP) == [
        {"id": "VIP 1", "name": "茶友会", "owner_employee_id": "E1"}
    ]
    assert store.counts()["MEMBER_OF"] == 1
