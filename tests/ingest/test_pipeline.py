"""End to end against the real bundled store: load, reload, incremental, merges, bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from quanzi.errors import InputError, StoreError
from quanzi.graph import queries as q
from quanzi.graph.store import GraphStore
from quanzi.ingest import ingest_contacts, ingest_files
from quanzi.ingest.synthetic import GeneratorConfig, generate
from quanzi.model import Node, Rel
from quanzi.settings import Settings

from .conftest import WriteContacts, WriteEvents

pytestmark = pytest.mark.store

ZHANG = {
    "source": "crm",
    "source_record_id": "1",
    "full_name": "张伟",
    "phone": "13800138000",
    "created_at": "2023-01-01T00:00:00Z",
    "tags": "vip;early",
}
ZHANG_WX = {
    "source": "wechat",
    "source_record_id": "2",
    "full_name": "張偉",
    "phone": "+86 138 0013 8000",
    "wechat_unionid": "u-zw",
    "created_at": "2023-05-01T00:00:00Z",
}
LI_FAMILY = {
    "source": "shop",
    "source_record_id": "3",
    "full_name": "李娜",
    "phone": "0086-138-0013-8000",
    "created_at": "2023-02-01T00:00:00Z",
}


def _customer_of(store: GraphStore, record: str) -> str:
    rows = store.read_collected(q.CUSTOMERS_OF_IDENTITIES, "test", ids=[f"record:{record}"])
    assert len(rows) == 1, rows
    return str(rows[0]["customer"])


def test_generator_files_load_end_to_end(
    store: GraphStore, tmp_path: Path, ingest_settings: Settings
) -> None:
    generated = generate(tmp_path / "gen", GeneratorConfig(customers=60, seed=3))
    steps: list[str] = []
    report = ingest_files(
        store, [tmp_path / "gen"], ingest_settings, progress=lambda s, d, t: steps.append(s)
    )
    counts = store.counts()
    assert report.counts["contacts_read"] == generated.counts["contacts"]
    assert counts[Node.CUSTOMER] == report.counts["customers_created"] > 0
    for rel in (Rel.HAS_IDENTITY, Rel.INTERACTS_WITH, Rel.SERVED_BY, Rel.PLACED, Rel.TAGGED):
        assert counts.get(rel, 0) > 0, rel
    assert {"normalise", "link", "load customers"} <= set(steps)
    assert len(report.skipped_files) == 2  # the ground-truth files
    assert not [r for r in report.rejects if r.field != "customer"], report.rejects[:3]
    customer = store.get_node(Node.CUSTOMER, _customer_of(store, next(iter(_records(tmp_path)))))
    assert customer is not None
    assert {"name", "channels", "first_seen", "record_count"} <= set(customer)

    # Reloading the same files changes nothing.
    before = store.counts()
    again = ingest_files(store, [tmp_path / "gen"], ingest_settings)
    assert store.counts() == before
    assert again.counts["contacts_unchanged"] == report.counts["contacts_valid"]
    assert again.counts["event_files_already_loaded"] == 1


def _records(tmp_path: Path) -> list[str]:
    lines = (tmp_path / "gen" / "contacts.csv").read_text(encoding="utf-8").splitlines()[1:]
    return [":".join(line.split(",")[:2]) for line in lines]


def test_evidence_is_stored_on_every_link(
    store: GraphStore, write_contacts: WriteContacts, ingest_settings: Settings
) -> None:
    ingest_files(store, [write_contacts("c.csv", [ZHANG, ZHANG_WX, LI_FAMILY])], ingest_settings)
    zhang = _customer_of(store, "crm:1")
    assert _customer_of(store, "wechat:2") == zhang
    assert _customer_of(store, "shop:3") != zhang  # the family phone
    links = store.read(q.IDENTITY_LINKS, "test", id="record:wechat:2")
    evidence = links[0]["evidence"]
    assert evidence["rule"] in {"same phone and name", "probabilistic"}
    assert evidence["matched"] == "record:crm:1"
    assert evidence["agreed"]
    phone = store.read(q.IDENTITY_LINKS, "test", id="phone:+8613800138000")
    assert {r["customer"] for r in phone} == {zhang, _customer_of(store, "shop:3")}
    tags = store.read(
        "MATCH (c:Customer {id: $id})-[:TAGGED]->(t:Tag) RETURN t.id AS tag", "test", id=zhang
    )
    assert {t["tag"] for t in tags} == {"vip", "early"}


def test_incremental_batch_joins_the_existing_customer(
    store: GraphStore, write_contacts: WriteContacts, ingest_settings: Settings
) -> None:
    ingest_files(store, [write_contacts("a.csv", [ZHANG])], ingest_settings)
    zhang = _customer_of(store, "crm:1")
    report = ingest_files(store, [write_contacts("b.csv", [ZHANG_WX])], ingest_settings)
    assert report.counts["customers_created"] == 0
    assert _customer_of(store, "wechat:2") == zhang
    assert store.counts()[Node.CUSTOMER] == 1


def test_a_bridging_record_merges_customers_and_keeps_user_data(
    store: GraphStore, write_contacts: WriteContacts, ingest_settings: Settings
) -> None:
    old = {
        "source": "crm",
        "source_record_id": "10",
        "full_name": "王芳",
        "phone": "13911112222",
        "created_at": "2022-01-01T00:00:00Z",
    }
    young = {
        "source": "mail",
        "source_record_id": "11",
        "full_name": "王芳",
        "email": "wf@163.com",
        "created_at": "2024-01-01T00:00:00Z",
    }
    other = {
        "source": "crm",
        "source_record_id": "12",
        "full_name": "王芳",
        "email": "wang.fang@sina.com",
        "created_at": "2024-02-01T00:00:00Z",
    }
    ingest_files(store, [write_contacts("a.csv", [old, young, other])], ingest_settings)
    c_old, c_young = _customer_of(store, "crm:10"), _customer_of(store, "mail:11")
    assert c_old != c_young
    # What a user attached to the younger customer: a note and a funnel stage.
    store.set_node_properties(Node.CUSTOMER, [{"id": c_young, "note": "call back", "stage": "won"}])
    bridge = {
        "source": "shop",
        "source_record_id": "13",
        "full_name": "王芳",
        "phone": "139-1111-2222",
        "email": "WF@163.com",
    }
    report = ingest_files(store, [write_contacts("b.csv", [bridge])], ingest_settings)
    assert report.counts["customers_merged"] == 1
    assert _customer_of(store, "mail:11") == _customer_of(store, "shop:13") == c_old
    survivor = store.get_node(Node.CUSTOMER, c_old)
    loser = store.get_node(Node.CUSTOMER, c_young)
    assert survivor is not None
    assert loser is not None
    assert survivor["note"] == "call back"
    assert survivor["stage"] == "won"
    assert c_young in survivor["merged_ids"]
    assert loser["merged_into"] == c_old


def test_events_aggregate_and_reload_idempotently(
    store: GraphStore,
    write_contacts: WriteContacts,
    write_events: WriteEvents,
    ingest_settings: Settings,
) -> None:
    contacts = write_contacts("c.csv", [ZHANG, ZHANG_WX, LI_FAMILY])
    t = "2024-01-0{}T10:00:00Z"
    events = write_events(
        "e.jsonl",
        [
            {
                "type": "interaction",
                "time": t.format(1),
                "kind": "call",
                "from": "crm:1",
                "to": "shop:3",
                "count": 2,
            },
            {
                "type": "interaction",
                "time": t.format(2),
                "kind": "message",
                "from": "wechat:2",
                "to": "shop:3",
            },
            {
                "type": "order",
                "time": t.format(3),
                "customer": "wechat:2",
                "order_id": "o1",
                "amount": 99.5,
                "product": "tea",
            },
            {"type": "funnel_stage", "time": t.format(4), "customer": "crm:1", "stage": "lead"},
            {"type": "funnel_stage", "time": t.format(5), "customer": "crm:1", "stage": "won"},
            {
                "type": "referral",
                "time": t.format(6),
                "inviter": "crm:1",
                "invitee": "shop:3",
                "campaign_id": "C1",
                "invite_code": "X9",
            },
            {
                "type": "interaction",
                "time": t.format(7),
                "kind": "visit",
                "from": "nobody:1",
                "to": "crm:1",
            },
            {"type": "teleport", "time": t.format(8), "customer": "crm:1"},
        ],
    )
    report = ingest_files(store, [contacts, events], ingest_settings)
    zhang, li = _customer_of(store, "crm:1"), _customer_of(store, "shop:3")
    rows = store.read(
        "MATCH (a:Customer {id: $a})-[e:INTERACTS_WITH]->(b:Customer {id: $b}) "
        "RETURN properties(e) AS p",
        "test",
        a=zhang,
        b=li,
    )
    assert rows[0]["p"]["count"] == 3
    assert rows[0]["p"]["weight"] == 2 * 2.0 + 1.0
    assert sorted(rows[0]["p"]["kinds"]) == ["call", "message"]
    customer = store.get_node(Node.CUSTOMER, zhang)
    assert customer is not None
    assert customer["funnel_stage"] == "won"
    assert customer["order_count"] == 1
    assert customer["total_spent"] == 99.5
    assert {(r.field, r.row) for r in report.rejects} == {("from", 7), ("type", 8)}
    before = store.counts()
    ingest_files(store, [contacts, events], ingest_settings)
    assert store.counts() == before
    rows = store.read(
        "MATCH (:Customer {id: $a})-[e:INTERACTS_WITH]->(:Customer {id: $b}) RETURN e.count AS n",
        "test",
        a=zhang,
        b=li,
    )
    assert rows[0]["n"] == 3


def _interaction_count(store: GraphStore, a: str, b: str) -> int | None:
    rows = store.read(
        "MATCH (:Customer {id: $a})-[e:INTERACTS_WITH]->(:Customer {id: $b}) RETURN e.count AS n",
        "test",
        a=a,
        b=b,
    )
    return int(rows[0]["n"]) if rows else None


def _membership(store: GraphStore, customer: str, group: str) -> dict[str, Any] | None:
    rows = store.read(
        "MATCH (:Customer {id: $c})-[e:MEMBER_OF]->(:Group {id: $g}) RETURN properties(e) AS p",
        "test",
        c=customer,
        g=group,
    )
    return dict(rows[0]["p"]) if rows else None


def test_events_loaded_before_their_contacts_load_when_the_file_is_run_again(
    store: GraphStore,
    write_contacts: WriteContacts,
    write_events: WriteEvents,
    ingest_settings: Settings,
) -> None:
    # The reject tells the user to load the contact file first; the events file was marked
    # loaded all the same, so running it again after the contacts skipped it for good.
    t = "2024-03-0{}T10:00:00Z"
    events = write_events(
        "e.jsonl",
        [
            {"type": "interaction", "time": t.format(1), "kind": "call", "from": "crm:1",
             "to": "shop:3", "count": 2},
            {"type": "group_join", "time": t.format(2), "customer": "shop:3", "group_id": "G1"},
            {"type": "order", "time": t.format(3), "customer": "crm:1", "order_id": "o1",
             "amount": 10},
        ],
    )  # fmt: skip
    first = ingest_files(store, [events], ingest_settings)
    assert len(first.rejects) == first.counts["events_waiting"] > 0
    assert first.waiting_files == [str(events)]
    assert "wait for contact records not yet loaded" in first.summary()
    assert not store.counts().get(Rel.INTERACTS_WITH)

    ingest_files(store, [write_contacts("c.csv", [ZHANG, LI_FAMILY])], ingest_settings)
    second = ingest_files(store, [events], ingest_settings)
    assert not second.rejects
    assert not second.skipped_files
    assert not second.waiting_files
    zhang, li = _customer_of(store, "crm:1"), _customer_of(store, "shop:3")
    assert _interaction_count(store, zhang, li) == 2
    membership = _membership(store, li, "G1")
    assert membership is not None
    assert membership["active"] is True
    customer = store.get_node(Node.CUSTOMER, zhang)
    assert customer is not None
    assert (customer["order_count"], customer["total_spent"]) == (1, 10.0)

    # Complete now: the same file again adds nothing.
    before = store.counts()
    third = ingest_files(store, [events], ingest_settings)
    assert third.counts["event_files_already_loaded"] == 1
    assert third.skipped_files == [str(events)]
    assert store.counts() == before
    assert _interaction_count(store, zhang, li) == 2


def test_a_file_run_again_adds_only_the_events_that_waited(
    store: GraphStore,
    write_contacts: WriteContacts,
    write_events: WriteEvents,
    ingest_settings: Settings,
) -> None:
    t = "2024-04-0{}T10:00:00Z"
    ingest_files(store, [write_contacts("a.csv", [ZHANG, LI_FAMILY])], ingest_settings)
    events = write_events(
        "e.jsonl",
        [
            {"type": "interaction", "time": t.format(1), "kind": "call", "from": "crm:1",
             "to": "shop:3", "count": 2},
            {"type": "group_join", "time": t.format(2), "customer": "crm:1", "group_id": "G1"},
            # wechat:2 is Zhang's WeChat record, not loaded yet.
            {"type": "interaction", "time": t.format(3), "kind": "message", "from": "wechat:2",
             "to": "shop:3"},
            {"type": "order", "time": t.format(4), "customer": "wechat:2", "order_id": "o2",
             "amount": 5},
        ],
    )  # fmt: skip
    first = ingest_files(store, [events], ingest_settings)
    assert {(r.row, r.field) for r in first.rejects} == {(3, "from"), (4, "customer")}
    zhang, li = _customer_of(store, "crm:1"), _customer_of(store, "shop:3")
    assert _interaction_count(store, zhang, li) == 2
    # A later file says Zhang left the group.
    leave = {"type": "group_leave", "time": t.format(5), "customer": "crm:1", "group_id": "G1"}
    ingest_files(store, [write_events("later.jsonl", [leave])], ingest_settings)
    assert _membership(store, zhang, "G1") == {
        "joined_at": t.format(2), "left_at": t.format(5), "active": False
    }  # fmt: skip

    ingest_files(store, [write_contacts("b.csv", [ZHANG_WX])], ingest_settings)
    assert _customer_of(store, "wechat:2") == zhang
    again = ingest_files(store, [events], ingest_settings)
    assert not again.rejects
    assert again.counts["events_loaded_before"] == 2
    # The message now joins the pair the first run wrote: added, and the call not again.
    assert _interaction_count(store, zhang, li) == 3
    # Rows written before are not written again: the later leave stands.
    membership = _membership(store, zhang, "G1")
    assert membership is not None
    assert membership["active"] is False
    customer = store.get_node(Node.CUSTOMER, zhang)
    assert customer is not None
    assert (customer["order_count"], customer["total_spent"]) == (1, 5.0)
    before = store.counts()
    assert ingest_files(store, [events], ingest_settings).counts["event_files_already_loaded"]
    assert store.counts() == before
    assert _interaction_count(store, zhang, li) == 3


def test_an_interaction_in_two_files_is_counted_once(
    store: GraphStore,
    write_contacts: WriteContacts,
    write_events: WriteEvents,
    ingest_settings: Settings,
    tmp_path: Path,
) -> None:
    # Event files were recognised by their bytes: a copy saved with CRLF line endings doubled
    # every interaction count, a copy with one line appended tripled them.
    ingest_files(store, [write_contacts("c.csv", [ZHANG, ZHANG_WX, LI_FAMILY])], ingest_settings)
    t = "2024-05-0{}T10:00:00Z"
    call = {
        "type": "interaction",
        "time": t.format(1),
        "kind": "call",
        "from": "crm:1",
        "to": "shop:3",
        "count": 2,
    }
    message = {
        "type": "interaction",
        "time": t.format(2),
        "kind": "message",
        "from": "wechat:2",
        "to": "shop:3",
    }
    visit = {"type": "interaction", "time": t.format(3), "kind": "visit", "from": "crm:1",
             "to": "shop:3"}  # fmt: skip
    events = write_events("e.jsonl", [call, message, message])  # one message twice: counted twice
    ingest_files(store, [events], ingest_settings)
    zhang, li = _customer_of(store, "crm:1"), _customer_of(store, "shop:3")
    assert _interaction_count(store, zhang, li) == 4

    crlf = tmp_path / "e-crlf.jsonl"
    crlf.write_bytes(events.read_bytes().replace(b"\n", b"\r\n"))
    reordered = write_events(  # keys in another order, the time in another zone
        "e-reordered.jsonl",
        [{k: call[k] for k in reversed(list(call))} | {"time": "2024-05-01T18:00:00+08:00"}],
    )
    again = ingest_files(store, [crlf, reordered], ingest_settings)
    assert not again.rejects
    assert _interaction_count(store, zhang, li) == 4
    assert (again.counts["interactions_added"], again.counts["interactions_loaded_before"]) == (
        0,
        4,
    )
    assert "4 interactions were loaded before" in again.summary()

    appended = write_events("e-appended.jsonl", [call, message, message, message, visit])
    third = ingest_files(store, [appended], ingest_settings)
    assert (third.counts["interactions_added"], third.counts["interactions_loaded_before"]) == (
        2,
        3,
    )
    # The third message and the visit are new; the rest were counted.
    assert _interaction_count(store, zhang, li) == 6
    rows = store.read(
        "MATCH (:Customer {id: $a})-[e:INTERACTS_WITH]->(:Customer {id: $b}) RETURN e.weight AS w",
        "test",
        a=zhang,
        b=li,
    )
    assert rows[0]["w"] == 2 * 2.0 + 3 * 1.0 + 3.0
    # The keys are the loads' business, not the API's or a notebook's.
    (tie,) = store.relation_table(Rel.INTERACTS_WITH, Node.CUSTOMER, Node.CUSTOMER)
    assert "event_keys" not in tie
    assert tie["count"] == 6
    around = store.neighbourhood(Node.CUSTOMER, zhang, rels=[Rel.INTERACTS_WITH])
    assert all("event_keys" not in r["props"] for r in around.relations)


def test_an_older_file_loaded_again_does_not_move_a_membership_or_an_interest_back(
    store: GraphStore,
    write_contacts: WriteContacts,
    write_events: WriteEvents,
    ingest_settings: Settings,
    tmp_path: Path,
) -> None:
    # A membership took the times of the last file loaded: a copy of an older export, loaded
    # after a newer one, set a re-joined member's join back and made them inactive.
    ingest_files(store, [write_contacts("c.csv", [ZHANG])], ingest_settings)
    t = "2024-07-0{}T10:00:00Z"
    older = write_events(
        "older.jsonl",
        [
            {"type": "group_join", "time": t.format(1), "customer": "crm:1", "group_id": "G1"},
            {"type": "employee_added", "time": t.format(1), "customer": "crm:1",
             "employee_id": "E1"},
        ],
    )  # fmt: skip
    newer = write_events(
        "newer.jsonl",
        [
            {"type": "group_leave", "time": t.format(2), "customer": "crm:1", "group_id": "G1"},
            {"type": "group_join", "time": t.format(3), "customer": "crm:1", "group_id": "G1"},
            {"type": "employee_deleted", "time": t.format(2), "customer": "crm:1",
             "employee_id": "E1"},
        ],
    )  # fmt: skip
    ingest_files(store, [older], ingest_settings)
    ingest_files(store, [newer], ingest_settings)
    copy = tmp_path / "older-again.jsonl"
    copy.write_bytes(older.read_bytes().replace(b"\n", b"\r\n"))
    ingest_files(store, [copy], ingest_settings)
    zhang = _customer_of(store, "crm:1")
    assert _membership(store, zhang, "G1") == {
        "joined_at": t.format(3), "left_at": t.format(2), "active": True
    }  # fmt: skip
    # An interest keeps the largest weight seen, as within one file (the last file won).
    tea = {"type": "interest", "customer": "crm:1", "interest": "tea"}
    strong = write_events("strong.jsonl", [tea | {"time": t.format(1), "weight": 0.9}])
    weak = write_events("weak.jsonl", [tea | {"time": t.format(2), "weight": 0.4}])
    ingest_files(store, [strong], ingest_settings)
    ingest_files(store, [weak], ingest_settings)
    (interest,) = store.relation_table(Rel.INTERESTED_IN, Node.CUSTOMER, Node.INTEREST)
    assert (interest["weight"], interest["at"]) == (0.9, t.format(1))
    (served,) = store.relation_table(Rel.SERVED_BY, Node.CUSTOMER, Node.EMPLOYEE)
    assert (served["added_at"], served["deleted_at"], served["active"]) == (
        t.format(1),
        t.format(2),
        False,
    )


def test_referrals_keep_their_first_time_and_tags_their_latest_across_files(
    store: GraphStore,
    write_contacts: WriteContacts,
    write_events: WriteEvents,
    ingest_settings: Settings,
) -> None:
    ingest_files(store, [write_contacts("c.csv", [ZHANG, LI_FAMILY])], ingest_settings)
    t = "2024-08-0{}T10:00:00Z"
    invite = {
        "type": "referral",
        "inviter": "crm:1",
        "invitee": "shop:3",
        "campaign_id": "C1",
        "invite_code": "X",
    }
    tag = {"type": "tag_applied", "customer": "crm:1", "tag": "gold"}  # fmt: skip
    later = write_events(
        "later.jsonl",
        [invite | {"time": t.format(5)}, tag | {"time": t.format(5), "employee_id": "E5"}],
    )
    earlier = write_events(
        "earlier.jsonl",
        [invite | {"time": t.format(2)}, tag | {"time": t.format(2), "employee_id": "E2"}],
    )
    ingest_files(store, [earlier], ingest_settings)
    ingest_files(store, [later], ingest_settings)  # the file loaded last set both
    (referral,) = store.relation_table(Rel.REFERRED, Node.CUSTOMER, Node.CUSTOMER)
    assert referral["at"] == t.format(2)
    roles = {
        r["role"]: r.get("at")
        for r in store.relation_table(Rel.IN_CAMPAIGN, Node.CUSTOMER, Node.CAMPAIGN)
    }
    assert roles == {"inviter": None, "invitee": t.format(2)}
    again = earlier.with_name("earlier-again.jsonl")
    again.write_bytes(earlier.read_bytes().replace(b"\n", b"\r\n"))
    ingest_files(store, [again], ingest_settings)
    (tagged,) = [
        r for r in store.relation_table(Rel.TAGGED, Node.CUSTOMER, Node.TAG) if r["end"] == "gold"
    ]
    assert (tagged["at"], tagged["by"]) == (t.format(5), "E5")


#: Relations that events write, compared by the test below.
_EVENT_RELATIONS = [
    (Rel.INTERACTS_WITH, Node.CUSTOMER, Node.CUSTOMER),
    (Rel.MEMBER_OF, Node.CUSTOMER, Node.GROUP),
    (Rel.SERVED_BY, Node.CUSTOMER, Node.EMPLOYEE),
    (Rel.REFERRED, Node.CUSTOMER, Node.CUSTOMER),
    (Rel.IN_CAMPAIGN, Node.CUSTOMER, Node.CAMPAIGN),
    (Rel.PLACED, Node.CUSTOMER, Node.ORDER),
    (Rel.TAGGED, Node.CUSTOMER, Node.TAG),
    (Rel.INTERESTED_IN, Node.CUSTOMER, Node.INTEREST),
]
_ACTIVITY = ("last_active_at", "funnel_stage", "funnel_history", "recorded_tier",
             "tier_history", "order_count", "total_spent", "last_order_at")  # fmt: skip


def _event_graph(store: GraphStore) -> dict[str, Any]:
    """What the events wrote, lists as sets (``kinds`` grows in the order of the loads)."""

    def plain(row: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
        return tuple(
            sorted((k, tuple(sorted(v)) if isinstance(v, list) else v) for k, v in row.items())
        )

    graph: dict[str, Any] = {
        str(rel): sorted((plain(r) for r in store.relation_table(rel, a, b)), key=repr)
        for rel, a, b in _EVENT_RELATIONS
    }
    graph["customers"] = sorted(
        (plain({k: c.get(k) for k in ("id", *_ACTIVITY)}) for c in store.node_table(Node.CUSTOMER)),
        key=repr,
    )
    graph["orders"] = sorted((plain(o) for o in store.node_table(Node.ORDER)), key=repr)
    return graph


def test_events_in_overlapping_files_in_any_order_give_the_graph_of_one_load(
    store: GraphStore, tmp_path: Path, ingest_settings: Settings
) -> None:
    # The generator's events loaded once, against the same events cut into two overlapping
    # exports loaded newest first, then the whole file again saved with CRLF line endings.
    generate(tmp_path / "gen", GeneratorConfig(customers=300, seed=1))
    folder = tmp_path / "gen"
    references = [folder / f for f in ("contacts.csv", "employees.csv", "groups.csv",
                                       "campaigns.csv")]  # fmt: skip
    events = folder / "events.jsonl"
    ingest_files(store, [*references, events], ingest_settings)
    once = _event_graph(store)
    assert once["INTERACTS_WITH"]
    assert once["MEMBER_OF"]

    store.delete_everything()
    lines = events.read_bytes().splitlines(keepends=True)
    cut = tmp_path / "cut"
    cut.mkdir()
    (cut / "newer.jsonl").write_bytes(b"".join(lines[len(lines) // 3 :]))
    (cut / "older.jsonl").write_bytes(b"".join(lines[: 2 * len(lines) // 3]))
    (cut / "all-crlf.jsonl").write_bytes(events.read_bytes().replace(b"\n", b"\r\n"))
    ingest_files(store, references, Settings(data_dir=tmp_path / "other"))
    for name in ("newer.jsonl", "older.jsonl", "all-crlf.jsonl"):
        report = ingest_files(store, [cut / name], Settings(data_dir=tmp_path / "other"))
        assert not report.rejects, report.rejects[:3]
    # Totals are rounded to the cent: summed in another order, 2810.45 came back as
    # 2810.4500000000003 (seed 1).
    assert _event_graph(store) == once


def test_every_event_naming_an_unknown_record_is_rejected_naming_its_field(
    store: GraphStore,
    write_contacts: WriteContacts,
    write_events: WriteEvents,
    ingest_settings: Settings,
) -> None:
    # Each unknown reference was reported once, at its first row, always as 'customer'.
    ingest_files(store, [write_contacts("c.csv", [ZHANG, LI_FAMILY])], ingest_settings)
    t = "2024-05-01T10:00:00Z"
    events = write_events(
        "e.jsonl",
        [
            {"type": "interaction", "time": t, "kind": "call", "from": "ghost:1", "to": "crm:1"},
            {"type": "interaction", "time": t, "kind": "call", "from": "ghost:1", "to": "shop:3"},
            {"type": "interaction", "time": t, "kind": "call", "from": "crm:1", "to": "ghost:2"},
            {"type": "referral", "time": t, "inviter": "crm:1", "invitee": "ghost:1"},
            {"type": "order", "time": t, "customer": "ghost:2", "order_id": "o9", "amount": 1},
            {"type": "interaction", "time": t, "kind": "visit", "from": "ghost:1",
             "to": "ghost:2"},
            {"type": "interaction", "time": t, "kind": "call", "from": "crm:1", "to": "shop:3"},
        ],
    )  # fmt: skip
    report = ingest_files(store, [events], ingest_settings)
    got = {(r.row, r.field): r.reason for r in report.rejects}
    assert set(got) == {(1, "from"), (2, "from"), (3, "to"), (4, "invitee"), (5, "customer"),
                        (6, "from")}  # fmt: skip
    assert all(r.file == str(events) for r in report.rejects)
    assert got[(3, "to")].startswith("'ghost:2' is no loaded contact record")
    assert "'ghost:1' (from) and 'ghost:2' (to) are no loaded contact records" in got[(6, "from")]
    assert report.counts["events_waiting"] == 6
    assert "6 events wait for contact records" in report.summary()
    zhang, li = _customer_of(store, "crm:1"), _customer_of(store, "shop:3")
    assert _interaction_count(store, zhang, li) == 1


def test_bad_rows_are_rejected_and_the_others_load(
    store: GraphStore, write_contacts: WriteContacts, ingest_settings: Settings
) -> None:
    rows = [
        ZHANG,
        {"source": "crm", "source_record_id": "", "full_name": "无编号"},
        {"source": "crm", "source_record_id": "8", "full_name": "x", "birth_date": "1990-13-40"},
        {"source": "crm", "source_record_id": "9", "full_name": "y", "phone": "12"},
        {"source": "crm", "source_record_id": "10", "full_name": "z" * 5000},
    ]
    path = write_contacts("c.csv", rows)
    report = ingest_files(store, [path], ingest_settings)
    got = {(r.row, r.field) for r in report.rejects}
    assert got == {(3, "source_record_id"), (4, "birth_date"), (5, "phone"), (6, "full_name")}
    assert all(r.file == str(path) and r.reason for r in report.rejects)
    assert store.counts()[Node.CUSTOMER] == 1
    out = report.write_rejects(path.parent / "rejects.csv")
    assert out.read_text(encoding="utf-8").startswith("file,row,field,reason")


def test_records_from_an_api_body(store: GraphStore, ingest_settings: Settings) -> None:
    report = ingest_contacts(store, [ZHANG, {"source": "crm"}], ingest_settings)
    assert report.counts["records_loaded"] == 1
    assert report.rejects[0].file == "<api>"
    assert report.rejects[0].row == 2


def test_unreadable_files_raise_before_anything_is_written(
    store: GraphStore, tmp_path: Path, ingest_settings: Settings
) -> None:
    (tmp_path / "empty.csv").write_text("", encoding="utf-8")
    with pytest.raises(InputError, match="empty"):
        ingest_files(store, [tmp_path / "empty.csv"], ingest_settings)
    assert store.counts().get(Node.CUSTOMER, 0) == 0


def test_a_failing_batch_leaves_no_half_written_customer(
    store: GraphStore,
    write_contacts: WriteContacts,
    ingest_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Break the last statement of the customer transaction (HAS_IDENTITY) on the real store:
    # the Customer and Identity rows written before it in the same batch must roll back.
    from quanzi.ingest import load

    for name in ("merge_relations", "create_relations"):
        real = getattr(load.q, name)

        def broken(rel: Rel, start: Node, end: Node, real: Any = real) -> str:
            text: str = real(rel, start, end)
            return text + " RETURN nonsense(" if rel is Rel.HAS_IDENTITY else text

        monkeypatch.setattr(load.q, name, broken)
    with pytest.raises(StoreError):
        ingest_files(store, [write_contacts("c.csv", [ZHANG, LI_FAMILY])], ingest_settings)
    counts = store.counts()
    assert counts.get(Node.CUSTOMER, 0) == 0
    assert counts.get(Node.IDENTITY, 0) == 0


def test_a_changed_record_is_updated_in_place(
    store: GraphStore, write_contacts: WriteContacts, ingest_settings: Settings
) -> None:
    ingest_files(store, [write_contacts("a.csv", [ZHANG, ZHANG_WX])], ingest_settings)
    zhang = _customer_of(store, "wechat:2")
    before = store.read(q.IDENTITY_LINKS, "test", id="record:wechat:2")[0]["evidence"]
    changed = ZHANG_WX | {"email": "zw@qq.com"}
    report = ingest_files(store, [write_contacts("b.csv", [ZHANG, changed])], ingest_settings)
    assert report.counts["contacts_unchanged"] == 1
    assert _customer_of(store, "wechat:2") == zhang
    identity = store.get_node(Node.IDENTITY, "record:wechat:2")
    assert identity is not None
    assert identity["email"] == "zw@qq.com"
    after = store.read(q.IDENTITY_LINKS, "test", id="record:wechat:2")[0]["evidence"]
    assert after["rule"] == before["rule"]


def test_parallel_normalisation_loads_what_one_process_loads(
    store: GraphStore,
    tmp_path: Path,
    write_contacts: WriteContacts,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Chunks of rows are normalised in forked processes; rows, rejects and customers must come
    # out as from one process, in the file's order.
    from quanzi.ingest import pipeline

    monkeypatch.setattr(pipeline, "_NORMALISE_CHUNK", 40)  # several chunks per process
    generate(tmp_path / "gen", GeneratorConfig(customers=150, seed=5))
    bad = [
        {"source": "crm", "source_record_id": "b1", "full_name": "x", "birth_date": "1990-13-40"},
        {"source": "crm", "source_record_id": "b2", "full_name": "y", "phone": "12"},
    ]
    extra = write_contacts("bad.csv", bad)
    results = []
    for processes in (1, 2):
        store.delete_everything()
        settings = Settings(
            data_dir=tmp_path / f"p{processes}",
            ingest_processes=processes,
            ingest_parallel_min_records=1,
        )
        report = ingest_files(store, [tmp_path / "gen" / "contacts.csv", extra], settings)
        rows = store.read_collected(q.CUSTOMERS_OF_IDENTITIES, "test", ids=_record_ids(tmp_path))
        results.append(
            (
                sorted((r.file, r.row, r.field, r.reason) for r in report.rejects),
                {k: v for k, v in report.counts.items() if not k.startswith("written")},
                sorted((r["identity"], r["customer"]) for r in rows),
            )
        )
    assert len(results[0][0]) == 2
    assert results[0][2]
    assert results[0] == results[1]


def _record_ids(tmp_path: Path) -> list[str]:
    return [f"record:{r}" for r in _records(tmp_path)]


def test_a_failing_later_batch_stops_the_load_and_keeps_the_batches_before(
    store: GraphStore,
    write_contacts: WriteContacts,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Batches are sent from a second thread while the next one is built: a failure in the
    # second batch must reach the caller, the first stays written, none after it is.
    people = [
        {"source": "crm", "source_record_id": str(i), "full_name": f"客户{i}", "phone": phone}
        for i, phone in enumerate(["13800000001", "13800000002", "13800000003"], start=1)
    ]
    settings = Settings(data_dir=tmp_path / "quanzi", write_batch_size=1)
    real = store.write_many
    calls: list[int] = []

    def second_fails(statements: Any, what: str, *, bulk: bool = False) -> None:
        if what.startswith("writing customers"):
            calls.append(len(statements))
            if len(calls) == 2:  # a statement the real store refuses, inside the batch
                statements = [*statements, ("RETURN nonsense(", {})]
        real(statements, what, bulk=bulk)

    monkeypatch.setattr(store, "write_many", second_fails)
    with pytest.raises(StoreError):
        ingest_files(store, [write_contacts("c.csv", people)], settings)
    monkeypatch.undo()
    assert len(calls) == 2
    assert store.counts().get(Node.CUSTOMER, 0) == 1
    ids = [f"record:crm:{i}" for i in (1, 2, 3)]
    assert len(store.read_collected(q.CUSTOMERS_OF_IDENTITIES, "test", ids=ids)) == 1


def test_every_link_is_dated_with_the_load_not_a_record(
    store: GraphStore, write_contacts: WriteContacts, ingest_settings: Settings
) -> None:
    ingest_files(store, [write_contacts("c.csv", [ZHANG, ZHANG_WX])], ingest_settings)
    dates = {
        store.read(q.IDENTITY_LINKS, "test", id=f"record:{r}")[0]["evidence"]["linked_at"]
        for r in ("crm:1", "wechat:2")
    }
    assert len(dates) == 1
    assert not dates & {ZHANG["created_at"], ZHANG_WX["created_at"]}


def test_the_garbage_collector_is_paused_only_while_an_ingest_runs() -> None:
    import gc

    from quanzi.ingest.pipeline import gc_paused

    def failing_ingest() -> None:
        with gc_paused():
            assert not gc.isenabled()
            raise RuntimeError("a failing ingest")

    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        failing_ingest()
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # a caller's own choice is kept
    finally:
        gc.enable()
