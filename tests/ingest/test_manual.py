"""Manual control against the real store: explain, merge, split."""

from __future__ import annotations

import pytest

from quanzi.errors import ConflictError, NotFoundError
from quanzi.graph import queries as q
from quanzi.graph.store import GraphStore
from quanzi.ingest import ingest_files
from quanzi.ingest.manual import explain_link, merge_customers, split_identity
from quanzi.model import Node, Rel
from quanzi.settings import Settings

from .conftest import WriteContacts, WriteEvents

pytestmark = pytest.mark.store

ROWS = [
    {
        "source": "crm",
        "source_record_id": "1",
        "full_name": "张伟",
        "phone": "13800138000",
        "created_at": "2023-01-01T00:00:00Z",
    },
    {
        "source": "wechat",
        "source_record_id": "2",
        "full_name": "張偉",
        "phone": "13800138000",
        "wechat_unionid": "u1",
        "created_at": "2023-02-01T00:00:00Z",
    },
    {
        "source": "wechat",
        "source_record_id": "3",
        "full_name": "张伟",
        "wechat_unionid": "u1",
        "created_at": "2023-03-01T00:00:00Z",
    },
    {
        "source": "shop",
        "source_record_id": "4",
        "full_name": "刘洋",
        "email": "ly@163.com",
        "created_at": "2024-01-01T00:00:00Z",
    },
]


def _customer_of(store: GraphStore, record: str) -> str:
    return str(
        store.read_collected(q.CUSTOMERS_OF_IDENTITIES, "t", ids=[f"record:{record}"])[0][
            "customer"
        ]
    )


@pytest.fixture
def loaded(
    store: GraphStore, write_contacts: WriteContacts, ingest_settings: Settings
) -> GraphStore:
    ingest_files(store, [write_contacts("c.csv", ROWS)], ingest_settings)
    return store


def test_explain_walks_the_chain_of_evidence(loaded: GraphStore) -> None:
    why = explain_link(loaded, "crm:1", "wechat:3")
    assert why.same_customer
    assert [s.rule for s in why.path] == ["same phone and name", "same wechat_unionid"]
    assert why.path[0].left == "record:crm:1" or why.path[0].right == "record:crm:1"
    through_phone = explain_link(loaded, "phone:+8613800138000", "wechat:2")
    assert through_phone.path[0].rule == "observed"
    apart = explain_link(loaded, "crm:1", "shop:4")
    assert not apart.same_customer
    assert apart.path == []
    with pytest.raises(NotFoundError):
        explain_link(loaded, "crm:404", "crm:1")


def test_merge_keeps_the_older_id_and_the_user_data(loaded: GraphStore) -> None:
    zhang, liu = _customer_of(loaded, "crm:1"), _customer_of(loaded, "shop:4")
    loaded.set_node_properties(Node.CUSTOMER, [{"id": liu, "note": "prefers e-mail"}])
    survivor = merge_customers(loaded, liu, zhang)
    assert survivor == zhang
    assert _customer_of(loaded, "shop:4") == zhang
    merged = loaded.get_node(Node.CUSTOMER, zhang)
    assert merged is not None
    assert merged["note"] == "prefers e-mail"
    assert merged["record_count"] == 4
    assert explain_link(loaded, "shop:4", "crm:1").same_customer
    with pytest.raises(ConflictError):
        merge_customers(loaded, liu, zhang)


def test_merged_interactions_keep_their_keys(
    loaded: GraphStore,
    write_contacts: WriteContacts,
    write_events: WriteEvents,
    ingest_settings: Settings,
) -> None:
    wang = {"source": "shop", "source_record_id": "5", "full_name": "王芳", "email": "wf@qq.com"}
    ingest_files(loaded, [write_contacts("more.csv", [wang])], ingest_settings)
    t = "2024-06-01T10:00:00Z"
    events = write_events(
        "e.jsonl",
        [
            {"type": "interaction", "time": t, "kind": "call", "from": "crm:1", "to": "shop:5",
             "count": 1},
            {"type": "interaction", "time": t, "kind": "call", "from": "shop:4", "to": "shop:5",
             "count": 1},
        ],
    )  # fmt: skip
    ingest_files(loaded, [events], ingest_settings)
    zhang, liu = _customer_of(loaded, "crm:1"), _customer_of(loaded, "shop:4")
    survivor = merge_customers(loaded, liu, zhang)

    def count() -> int:
        ties = loaded.relation_table(Rel.INTERACTS_WITH, Node.CUSTOMER, Node.CUSTOMER)
        assert [t["start"] for t in ties] == [survivor]
        return int(ties[0]["count"])

    assert count() == 2
    # The same events in another file (CRLF): the merged relation knows both of them.
    copy = events.with_name("e-crlf.jsonl")
    copy.write_bytes(events.read_bytes().replace(b"\n", b"\r\n"))
    ingest_files(loaded, [copy], ingest_settings)
    assert count() == 2


def test_split_makes_a_customer_and_later_loads_respect_it(
    loaded: GraphStore, write_contacts: WriteContacts, ingest_settings: Settings
) -> None:
    zhang = _customer_of(loaded, "crm:1")
    new = split_identity(loaded, "wechat:3")
    assert new != zhang
    assert _customer_of(loaded, "wechat:3") == new
    assert _customer_of(loaded, "crm:1") == zhang
    # A new record that matches both must not glue them back together.
    ingest_files(
        loaded,
        [
            write_contacts(
                "more.csv",
                [
                    {
                        "source": "web",
                        "source_record_id": "9",
                        "full_name": "张伟",
                        "phone": "13800138000",
                        "wechat_unionid": "u1",
                    }
                ],
            )
        ],
        ingest_settings,
    )
    assert _customer_of(loaded, "wechat:3") != _customer_of(loaded, "crm:1")
    with pytest.raises(ConflictError):
        split_identity(loaded, "shop:4")


def test_a_merge_adds_up_both_customers_orders(
    loaded: GraphStore, write_events: WriteEvents, ingest_settings: Settings
) -> None:
    # The orders' PLACED moved to the survivor, but its order_count and total_spent stayed
    # its own until an events load happened to touch it again.
    order = {"type": "order", "time": "2024-06-01T10:00:00Z"}
    events = write_events(
        "orders.jsonl",
        [
            order | {"customer": "crm:1", "order_id": "o1", "amount": 10.0},
            order
            | {
                "customer": "shop:4",
                "order_id": "o2",
                "amount": 5.5,
                "time": "2024-07-01T00:00:00Z",
            },
        ],
    )
    ingest_files(loaded, [events], ingest_settings)
    zhang, liu = _customer_of(loaded, "crm:1"), _customer_of(loaded, "shop:4")
    survivor = merge_customers(loaded, liu, zhang)
    merged = loaded.get_node(Node.CUSTOMER, survivor)
    assert merged is not None
    assert (merged["order_count"], merged["total_spent"]) == (2, 15.5)
    assert merged["last_order_at"] == "2024-07-01T00:00:00Z"
    o2 = loaded.get_node(Node.ORDER, "o2")
    assert o2 is not None
    assert o2["customer_id"] == survivor


def test_a_split_record_takes_its_orders_along(
    loaded: GraphStore, write_events: WriteEvents, ingest_settings: Settings
) -> None:
    # Orders stayed with the old customer: a wrongly merged record split off left its
    # purchases counted in the other person's total.
    order = {"type": "order", "time": "2024-06-01T10:00:00Z", "product": "tea"}
    events = write_events(
        "orders.jsonl",
        [
            order | {"customer": "crm:1", "order_id": "o1", "amount": 10.0},
            order | {"customer": "wechat:3", "order_id": "o2", "amount": 5.5},
            order | {"customer": "wechat:3", "order_id": "o3", "amount": 2.25},
        ],
    )
    ingest_files(loaded, [events], ingest_settings)
    zhang = _customer_of(loaded, "crm:1")
    before = loaded.get_node(Node.CUSTOMER, zhang)
    assert before is not None
    assert (before["order_count"], before["total_spent"]) == (3, 17.75)

    new = split_identity(loaded, "wechat:3")
    placed = {
        (r["start"], r["end"]) for r in loaded.relation_table(Rel.PLACED, Node.CUSTOMER, Node.ORDER)
    }
    assert placed == {(zhang, "o1"), (new, "o2"), (new, "o3")}
    o2 = loaded.get_node(Node.ORDER, "o2")
    assert o2 is not None
    assert (o2["customer_id"], o2["record"]) == (new, "wechat:3")
    old_customer, new_customer = (loaded.get_node(Node.CUSTOMER, c) for c in (zhang, new))
    assert old_customer is not None
    assert new_customer is not None
    assert (old_customer["order_count"], old_customer["total_spent"]) == (1, 10.0)
    assert (new_customer["order_count"], new_customer["total_spent"]) == (2, 7.75)
    assert new_customer["last_order_at"] == "2024-06-01T10:00:00Z"

    # Splitting a record with no orders leaves the totals as they are, and a customer left
    # with none has none.
    third = split_identity(loaded, "wechat:2")
    emptied = loaded.get_node(Node.CUSTOMER, third)
    assert emptied is not None
    assert (emptied["order_count"], emptied["total_spent"]) == (0, 0.0)
    assert "last_order_at" not in emptied
    still = loaded.get_node(Node.CUSTOMER, zhang)
    assert still is not None
    assert (still["order_count"], still["total_spent"]) == (1, 10.0)


def test_split_after_merge_gives_a_fresh_customer_and_keeps_the_history(
    loaded: GraphStore,
) -> None:
    zhang, liu = _customer_of(loaded, "crm:1"), _customer_of(loaded, "shop:4")
    loaded.set_node_properties(Node.CUSTOMER, [{"id": liu, "note": "prefers e-mail"}])
    loaded.set_node_properties(Node.CUSTOMER, [{"id": zhang, "funnel_stage": "lead"}])
    survivor = merge_customers(loaded, liu, zhang)
    assert survivor == zhang

    # shop:4 was the first record of the merged-away customer: its id must not come back.
    new = split_identity(loaded, "shop:4")
    assert new not in (zhang, liu)
    assert _customer_of(loaded, "shop:4") == new
    fresh = loaded.get_node(Node.CUSTOMER, new)
    assert fresh is not None
    assert "merged_into" not in fresh
    assert "note" not in fresh
    assert "funnel_stage" not in fresh
    assert fresh["record_count"] == 1
    assert fresh["split_from"] == [zhang]
    assert fresh["channels"] == ["shop"]

    kept = loaded.get_node(Node.CUSTOMER, zhang)
    assert kept is not None
    assert kept["note"] == "prefers e-mail"
    assert kept["funnel_stage"] == "lead"
    assert kept["merged_ids"] == [liu]  # the merge history stands
    assert new in kept["split_from"]
    assert kept["record_count"] == 3
    assert kept["channels"] == ["crm", "wechat"]
    old = loaded.get_node(Node.CUSTOMER, liu)
    assert old is not None
    assert old["merged_into"] == zhang
    assert "split_from" not in old

    # Merged back and split again: yet another id, never one used before.
    assert merge_customers(loaded, new, zhang) == zhang
    again = split_identity(loaded, "shop:4")
    assert again not in (zhang, liu, new)
    assert _customer_of(loaded, "shop:4") == again


def test_split_removes_values_only_the_split_record_gave(
    store: GraphStore, write_contacts: WriteContacts, ingest_settings: Settings
) -> None:
    rows = [
        dict(ROWS[0], birth_date="1990-05-01", company="华为"),
        dict(ROWS[1], source_record_id="2b"),
    ]
    ingest_files(store, [write_contacts("c.csv", rows)], ingest_settings)
    zhang = _customer_of(store, "crm:1")
    before = store.get_node(Node.CUSTOMER, zhang)
    assert before is not None
    assert before["birth_date"] == "1990-05-01"
    new = split_identity(store, "crm:1")
    after = store.get_node(Node.CUSTOMER, zhang)
    assert after is not None
    assert "birth_date" not in after
    assert "company" not in after
    assert after["channels"] == ["wechat"]
    split_off = store.get_node(Node.CUSTOMER, new)
    assert split_off is not None
    assert split_off["birth_date"] == "1990-05-01"


def test_loads_merges_and_splits_are_counted_for_other_processes_caches(
    loaded: GraphStore,
) -> None:
    # Every process caching the graph (the API's workers) reads this count to know that
    # another one changed it.
    assert loaded.graph_changes() == (1, 0), "the load was counted"
    zhang, liu = _customer_of(loaded, "crm:1"), _customer_of(loaded, "shop:4")
    merge_customers(loaded, liu, zhang)
    assert loaded.graph_changes() == (2, 0)
    split_identity(loaded, "wechat:3")
    assert loaded.graph_changes() == (3, 0)
