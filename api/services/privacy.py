"""Erasure of a person: every identity, event and derived record, in one transaction.

What goes, for the customer and every customer id merged into it:

- the ``Customer`` nodes (the survivor and its merged-in stubs) with all their relations:
  interactions, referrals, group memberships, employees, tags, interests, circles, campaigns;
- their ``Identity`` nodes: source records (with every field read from the source) and the
  channel keys (phone, e-mail, WeChat ids, id number) that no one else holds; a key shared
  with another person (a household phone) stays for that person, only the link goes;
- their ``Order`` nodes;
- references to them elsewhere: circle leader lists and sizes, other customers' merge and
  split records, link evidence naming their source records.

Afterwards the store is searched again for every erased id and reference; the report lists
anything found (``verified`` is true when nothing is). The cached graph is dropped.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from quanzi.api.schemas import ErasureReport
from quanzi.api.services.customers import survivor_of
from quanzi.api.services.graph_cache import GraphCache
from quanzi.graph import queries as q
from quanzi.graph.store import GraphStore

__all__ = ["erase_person", "erasure_leftovers"]


def _merged_ids(store: GraphStore, survivor: str, props: dict[str, Any]) -> list[str]:
    ids = {survivor, *(str(x) for x in props.get("merged_ids") or [])}
    frontier = set(ids)
    while frontier:
        rows = store.read(
            q.API_ERASURE_MERGED_STUBS, "finding merged customers", ids=sorted(frontier)
        )
        found = set(rows[0]["ids"]) if rows else set()
        frontier = found - ids
        ids |= found
    return sorted(ids)


def erasure_leftovers(
    store: GraphStore, ids: list[str], identities: list[str], records: list[str], orders: list[str]
) -> list[str]:
    """What the store still holds of an erased person: ``"<label> <id>"`` entries."""
    rows = store.read(
        q.API_ERASURE_REMAINING,
        "checking an erasure",
        ids=ids,
        identities=identities,
        orders=orders,
    )
    rows += store.read(
        q.API_ERASURE_CUSTOMER_REFERENCES, "checking references", ids=ids, records=records
    )
    return sorted({f"{r['label']} {r['id']}" for r in rows})


def erase_person(store: GraphStore, cache: GraphCache, customer_id: str) -> ErasureReport:
    """Erase the person behind ``customer_id`` (a merged id erases its survivor too).

    Raises :class:`~quanzi.errors.NotFoundError` for an unknown id.
    """
    survivor, props = survivor_of(store, customer_id)
    ids = _merged_ids(store, survivor, props)
    identity_rows = store.read(q.API_ERASURE_IDENTITIES, "reading identities to erase", ids=ids)
    own = sorted(str(r["id"]) for r in identity_rows if int(r["others"]) == 0)
    shared = sorted(str(r["id"]) for r in identity_rows if int(r["others"]) > 0)
    records = [i for i in own if i.startswith("record:")]
    orders = sorted(
        {str(r["id"]) for r in store.read(q.API_ERASURE_ORDERS, "reading orders to erase", ids=ids)}
    )
    params = {"ids": ids, "identities": own, "shared": shared, "records": records, "orders": orders}
    store.write_many(
        [(statement, params) for statement in q.api_erase()], f"erasing customer {survivor}"
    )
    cache.invalidate()
    remaining = erasure_leftovers(store, ids, own, records, orders)
    return ErasureReport(
        customer_id=survivor,
        customer_ids=ids,
        erased={
            "customers": len(ids),
            "identities": len(own),
            "shared_identity_links": len(shared),
            "orders": len(orders),
        },
        remaining=remaining,
        verified=not remaining,
        at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
