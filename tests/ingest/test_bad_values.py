"""Values that read as valid but are not: placeholder phones, reused order ids, control
characters. Against the real bundled store: what the graph holds afterwards."""

from __future__ import annotations

import pytest

from quanzi.graph import queries as q
from quanzi.graph.store import GraphStore
from quanzi.ingest import ingest_files
from quanzi.model import Node
from quanzi.settings import Settings

from .conftest import WriteContacts

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
