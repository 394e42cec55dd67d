"""Score orders read through the index path keep ties ordered by id across pages."""

from __future__ import annotations

import pytest

from quanzi.graph.store import GraphStore
from quanzi.model import Node
from tests.api.conftest import Api

pytestmark = pytest.mark.store


@pytest.mark.parametrize("customers", [5, 40])
def test_ties_are_broken_by_id(api: Api, store: GraphStore, customers: int) -> None:
    ids = [f"t{i:03d}" for i in range(customers)]
    rows = [{"id": cid, "influence": 0.5 if i % 3 else 0.9} for i, cid in enumerate(ids)]
    store.upsert_nodes(Node.CUSTOMER, rows)
    expected = [r["id"] for r in sorted(rows, key=lambda r: (-r["influence"], r["id"]))]
    top = api.get("/influencers?k=3").json()["items"]
    assert [i["customer"]["id"] for i in top] == expected[:3]
    pages = api.pages("/customers?sort=-influence&influence_min=0&limit=4")
    assert [cid for page in pages for cid in page] == expected
