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

In the same transaction the identities they held alone are remembered as keyed hashes
(:mod:`quanzi.ingest.suppression`), so that loading the same records, or new ones with the
same phone, e-mail, WeChat id or id number, does not bring the person back: ingest rejects
them as erased.

Afterwards the store is searched again for every erased id and reference; the report lists
anything found (``verified`` is true when nothing is). The cached graph is dropped.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from quanzi.api.schemas import AccessExport, AuditEntryPublic, ErasureReport, Score
from quanzi.api.services.audit import AuditLog
from quanzi.api.services.customers import SCORE_FIELDS, explanation, survivor_of
from quanzi.api.services.graph_cache import GraphCache
from quanzi.graph import queries as q
from quanzi.graph.store import GraphStore, visible_properties
from quanzi.ingest.suppression import erased_key_rows, erasure_hasher
from quanzi.model import Node
from quanzi.settings import Settings

__all__ = ["erase_person", "erasure_leftovers", "export_person"]


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


def erase_person(
    store: GraphStore, settings: Settings, cache: GraphCache, customer_id: str
) -> ErasureReport:
    """Erase the person behind ``customer_id`` (a merged id erases its survivor too).

    Raises :class:`~quanzi.errors.NotFoundError` for an unknown id, and
    :class:`~quanzi.errors.ConfigError` when the store's erasure list was made with another
    erasure secret (then nothing is erased).
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
    erased_keys = erased_key_rows(erasure_hasher(store, settings), own)
    params = {
        "ids": ids,
        "identities": own,
        "shared": shared,
        "records": records,
        "orders": orders,
        "erased_keys": erased_keys,
    }
    store.write_many(
        [(statement, params) for statement in q.api_erase()], f"erasing customer {survivor}"
    )
    cache.invalidate(drop=True)  # nothing of the person stays in the lookalike graph
    store.note_graph_change("erasure", erasure=True)  # ... nor in other processes' graphs
    remaining = erasure_leftovers(store, ids, own, records, orders)
    return ErasureReport(
        customer_id=survivor,
        customer_ids=ids,
        erased={
            "customers": len(ids),
            "identities": len(own),
            "shared_identity_links": len(shared),
            "orders": len(orders),
            "suppressed_keys": len(erased_keys),
        },
        remaining=remaining,
        verified=not remaining,
        at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


#: Audit entries read per id for an access request (the newest first).
MAX_AUDIT_EXPORTED = 10_000


def export_person(store: GraphStore, audit: AuditLog, customer_id: str) -> AccessExport:
    """Everything held about the person behind ``customer_id`` (an access request).

    The customer and every id merged into it: all their properties (scores included), their
    source records and channel keys with link evidence, orders, every relation with the
    node at the other end -- other people by id only, so one person's export does not
    disclose another's data -- and the audit entries that name them.

    Raises :class:`~quanzi.errors.NotFoundError` for an unknown (or erased) id.
    """
    survivor, props = survivor_of(store, customer_id)
    ids = _merged_ids(store, survivor, props)
    rows = store.read(q.API_ACCESS_EXPORT, "reading everything held about a person", ids=ids)
    customers = sorted((dict(r["props"]) for r in rows), key=lambda p: p["id"] != survivor)
    identities: dict[str, dict[str, Any]] = {}
    orders: dict[str, dict[str, Any]] = {}
    relations: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        for rel in row["relations"]:
            if rel["type"] is None:
                continue
            node = dict(rel["node"] or {})
            if rel["label"] == Node.IDENTITY:
                identities[str(node["id"])] = node | {"link": dict(rel["rel"] or {})}
            elif rel["label"] == Node.ORDER:
                orders[str(node["id"])] = node
            else:
                other = {"label": rel["label"], "id": node.get("id")}
                if rel["label"] != Node.CUSTOMER and node.get("name") is not None:
                    other["name"] = node["name"]
                relations[str(rel["type"])].append(
                    {
                        "customer_id": row["id"],
                        "direction": "outgoing" if rel["outgoing"] else "incoming",
                        "other": other,
                        "properties": visible_properties(rel["rel"] or {}),
                    }
                )
    for row in store.read(q.API_ACCESS_ORDERS, "reading a person's orders", ids=ids):
        orders.setdefault(str(row["props"]["id"]), dict(row["props"]))
    entries = {
        (e.at, e.key_id, e.route): e
        for i in ids
        for e in audit.search(customer_id=i, limit=MAX_AUDIT_EXPORTED)
    }
    return AccessExport(
        customer_id=survivor,
        customer_ids=ids,
        generated_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        customers=customers,
        scores=[
            Score(name=name, value=props[name], explanation=explanation(props, name))
            for name in SCORE_FIELDS
            if props.get(name) is not None
        ],
        identities=sorted(identities.values(), key=lambda i: str(i["id"])),
        orders=sorted(orders.values(), key=lambda o: str(o.get("placed_at") or "")),
        relations=dict(sorted(relations.items())),
        audit=[
            AuditEntryPublic(**asdict(e))
            for e in sorted(entries.values(), key=lambda e: e.at, reverse=True)
        ],
    )
