"""Manual control over identity resolution: merge two customers, split an identity off,
and explain why two identities belong to one customer.

Identities are named by their ``Identity`` id: ``record:<source>:<source_record_id>`` for a
source record (``<source>:<source_record_id>`` is accepted too), ``phone:+86...``,
``email:...``, ``wechat_unionid:...`` for channel keys.

Examples
--------
Not run here (they need a store with data)::

    from quanzi.ingest.manual import explain_link, merge_customers, split_identity

    explain_link(store, "wechat:WX00000001", "phone:CC00000003").path
    survivor = merge_customers(store, "cus_1a...", "cus_9f...")
    new_id = split_identity(store, "store:ST00000042")
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from quanzi.errors import ConflictError, InputError, NotFoundError
from quanzi.graph import queries as q
from quanzi.graph.store import GraphStore
from quanzi.ingest.load import DERIVED_PROPERTIES, customer_properties, merge_into, now_iso
from quanzi.ingest.records import KEY_FIELDS, PROFILE_FIELDS, identity_id
from quanzi.ingest.resolve import customer_id_for
from quanzi.model import Node, Rel

__all__ = ["LinkExplanation", "LinkStep", "explain_link", "merge_customers", "split_identity"]

_KINDS = ("record", *KEY_FIELDS)


@dataclass(frozen=True)
class LinkStep:
    """One link on the way from one identity to the other.

    Attributes
    ----------
    left, right : str
        Identity ids.
    rule : str
        The deterministic rule, ``"probabilistic"``, ``"unique <field>"``, ``"observed"`` (a
        key seen in a record), ``"manual merge"`` ...
    match_weight : float or None
    match_probability : float or None
    agreed : tuple of str
        Fields that agreed.
    """

    left: str
    right: str
    rule: str
    match_weight: float | None = None
    match_probability: float | None = None
    agreed: tuple[str, ...] = ()


@dataclass(frozen=True)
class LinkExplanation:
    """Why two identities are (or are not) one customer.

    Attributes
    ----------
    same_customer : bool
    customers : tuple of str
        The customer of each identity (one id twice when they are the same).
    path : list of LinkStep
        The chain of links that joins them, empty when they are not joined.
    """

    same_customer: bool
    customers: tuple[str, str]
    path: list[LinkStep] = field(default_factory=list)


def _identity(name: str) -> str:
    """Accept ``record:src:id``, ``phone:...`` and the bare ``src:id`` of a source record."""
    name = name.strip()
    kind = name.split(":", 1)[0]
    if kind in _KINDS:
        return name
    if ":" not in name:
        raise InputError(
            f"{name!r} names no identity; use '<source>:<source_record_id>', 'phone:+86...', "
            "'email:...' or 'wechat_unionid:...'"
        )
    return f"record:{name}"


def _holder(store: GraphStore, identity: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    rows = store.read(q.IDENTITY_LINKS, f"reading identity {identity!r}", id=identity)
    if not rows:
        raise NotFoundError(f"No customer holds the identity {identity!r}")
    if len(rows) > 1 and identity.startswith("record:"):
        raise ConflictError(f"The record {identity!r} is held by several customers")
    row = rows[0]
    return str(row["customer"]), dict(row["identity"]), dict(row["evidence"])


def explain_link(store: GraphStore, a: str, b: str) -> LinkExplanation:
    """Explain why identities ``a`` and ``b`` are one customer.

    The path runs through the source records of the customer, each joined to the record it
    matched when it was resolved, with that link's rule, match weight and agreeing fields.
    A channel key (a phone number) enters the path through the first record it was seen in.

    Raises
    ------
    NotFoundError
        When no customer holds one of the identities.
    """
    ida, idb = _identity(a), _identity(b)
    ca, _, ev_a = _holder(store, ida)
    cb, _, ev_b = _holder(store, idb)
    if ca != cb:
        return LinkExplanation(False, (ca, cb))
    rows = store.read_collected(
        q.CUSTOMER_RECORDS, "reading the customer's records", retry=True, ids=[ca]
    )
    neighbours: dict[str, list[tuple[str, LinkStep]]] = {}

    def connect(x: str, y: str, step: LinkStep) -> None:
        neighbours.setdefault(x, []).append((y, step))
        neighbours.setdefault(y, []).append((x, step))

    for row in rows:
        rid = str(row["props"]["id"])
        ev = dict(row["evidence"])
        matched = ev.get("matched")
        if matched:
            connect(rid, str(matched), _step(rid, str(matched), ev))
    for ident, ev in ((ida, ev_a), (idb, ev_b)):
        if not ident.startswith("record:") and ev.get("records"):
            connect(
                ident, str(ev["records"][0]), LinkStep(ident, str(ev["records"][0]), "observed")
            )
    return LinkExplanation(True, (ca, cb), _path(neighbours, ida, idb))


def _step(left: str, right: str, ev: Mapping[str, Any]) -> LinkStep:
    weight = ev.get("match_weight")
    probability = ev.get("match_probability")
    return LinkStep(
        left,
        right,
        str(ev.get("rule", "")),
        float(weight) if weight is not None else None,
        float(probability) if probability is not None else None,
        tuple(ev.get("agreed") or ()),
    )


def _path(
    neighbours: Mapping[str, list[tuple[str, LinkStep]]], start: str, goal: str
) -> list[LinkStep]:
    if start == goal:
        return []
    previous: dict[str, tuple[str, LinkStep]] = {}
    queue = deque([start])
    seen = {start}
    while queue:
        node = queue.popleft()
        for nxt, step in neighbours.get(node, []):
            if nxt in seen:
                continue
            seen.add(nxt)
            previous[nxt] = (node, step)
            if nxt == goal:
                path = []
                while nxt != start:
                    nxt, step = previous[nxt]
                    path.append(step)
                return path[::-1]
            queue.append(nxt)
    # Joined by a merge of whole customers: no record-to-record chain to show.
    return [LinkStep(start, goal, "merged customers")]


def merge_customers(store: GraphStore, a: str, b: str, *, reason: str = "manual merge") -> str:
    """Merge customers ``a`` and ``b``; the older one (earlier ``first_seen``) survives.

    Every relation, identity, tag, note and stage of the other moves to the survivor
    (properties the survivor lacks are copied), and the other keeps ``merged_into``.
    Returns the survivor's id.

    Raises
    ------
    NotFoundError
        When either customer does not exist.
    ConflictError
        When they are one customer already, or one was merged before.
    """
    if a == b:
        raise ConflictError(f"{a!r} and {b!r} are one customer already")
    rows = store.read_collected(
        q.CUSTOMER_PROPERTIES, "reading customers to merge", retry=True, ids=[a, b]
    )
    props = {r["id"]: dict(r["props"]) for r in rows}
    for cid in (a, b):
        if cid not in props:
            raise NotFoundError(f"No customer with id {cid!r}")
        if props[cid].get("merged_into"):
            raise ConflictError(
                f"Customer {cid!r} was merged into {props[cid]['merged_into']!r}; merge that one"
            )
    survivor, loser = sorted((a, b), key=lambda c: (str(props[c].get("first_seen") or "9999"), c))
    merge_into(store, loser, survivor, reason=reason)
    _refresh(store, survivor)
    store.note_graph_change("merge")
    return survivor


def split_identity(store: GraphStore, identity: str) -> str:
    """Split one source record off its customer into a customer of its own.

    The record's channel keys (phone, e-mail ...) follow it; the two customers are marked
    ``split_from`` each other so that later loads do not join them again. The new customer
    gets an id no customer has ever had - not even one merged away earlier, whose id still
    redirects to its survivor - and only the properties computed from its record. The orders
    that came through the record (``Order.record``) move with it, and both customers' order
    totals are worked out again. What a user attached to the old customer (notes, stages,
    tags) and its other relations (interactions) stay with it; its properties computed from
    records are recomputed from the records it keeps. Returns the new customer's id.

    Raises
    ------
    InputError
        When ``identity`` is not a source record.
    NotFoundError
        When no customer holds it.
    ConflictError
        When it is its customer's only record.
    """
    record = _identity(identity)
    if not record.startswith("record:"):
        raise InputError(f"{identity!r} is not a source record; only records can be split off")
    old, props, _ = _holder(store, record)
    rows = store.read_collected(
        q.CUSTOMER_RECORDS, "reading the customer's records", retry=True, ids=[old]
    )
    if len(rows) < 2:
        raise ConflictError(f"{record!r} is the only record of customer {old!r}")
    record_id = record.removeprefix("record:")
    new = _unused_customer_id(store, record_id)
    at = now_iso()
    profile = {f: props.get(f) for f in PROFILE_FIELDS}
    remaining = [dict(r["props"]) for r in rows if r["props"]["id"] != record]
    old_split = sorted(set(rows[0]["split_from"] or []) | {new})
    new_row = customer_properties(new, [profile]) | {"split_from": [old], "updated_at": at}
    old_row = customer_properties(old, remaining) | {"split_from": old_split, "updated_at": at}
    # Values only the split-off record gave (a birth date, a company) leave the old customer.
    stale = tuple(k for k in DERIVED_PROPERTIES if k not in old_row)
    keys = [identity_id(k, str(props[k])) for k in KEY_FIELDS if props.get(k)]
    still_used = {identity_id(k, str(r[k])) for r in remaining for k in KEY_FIELDS if r.get(k)}
    statements: list[tuple[str, dict[str, Any]]] = [
        (q.DETACH_IDENTITY, {"customer": old, "id": record}),
        *[(q.DETACH_IDENTITY, {"customer": old, "id": k}) for k in keys if k not in still_used],
        (q.create_nodes(Node.CUSTOMER), {"rows": [_split_props(new_row)]}),
        (q.set_node_properties(Node.CUSTOMER), {"rows": [_split_props(old_row)]}),
        *([(q.remove_properties_of(Node.CUSTOMER, stale), {"ids": [old]})] if stale else []),
        (
            q.merge_relations(Rel.HAS_IDENTITY, Node.CUSTOMER, Node.IDENTITY),
            {
                "rows": [
                    {
                        "start": new,
                        "end": record,
                        "props": {"rule": "manual split", "linked_at": at, "split_from": old},
                    },
                    *[
                        {
                            "start": new,
                            "end": k,
                            "props": {"rule": "observed", "records": [record], "linked_at": at},
                        }
                        for k in keys
                    ],
                ]
            },
        ),
        (q.MOVE_RECORD_ORDERS, {"old": old, "new": new, "record": record_id}),
        (q.REFRESH_ORDER_TOTALS, {"ids": [old, new]}),
    ]
    store.write_many(statements, f"splitting {record} off customer {old}")
    store.note_graph_change("split")
    return new


def _unused_customer_id(store: GraphStore, record_id: str) -> str:
    """The first id of ``record_id``'s split sequence that no customer node has.

    A customer merged away keeps its node (with ``merged_into``), so a taken id is always
    found; the sequence is deterministic, so splitting the same data the same way gives the
    same ids.
    """
    first = 0
    while True:
        seeds = [record_id if i == 0 else f"split:{i}:{record_id}" for i in range(first, first + 8)]
        candidates = [customer_id_for(s) for s in seeds]
        found = store.read(q.existing_ids(Node.CUSTOMER), "looking up customer ids", ids=candidates)
        taken = set(found[0]["ids"]) if found else set()
        for candidate in candidates:
            if candidate not in taken:
                return candidate
        first += 8


def _split_props(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "props": {k: v for k, v in row.items() if k != "id"}}


def _refresh(store: GraphStore, customer: str) -> None:
    """Recompute the record-derived properties of ``customer``."""
    rows = store.read_collected(
        q.CUSTOMER_RECORDS, "reading the customer's records", retry=True, ids=[customer]
    )
    records = [dict(r["props"]) for r in rows]
    if records:
        props = customer_properties(customer, records) | {"updated_at": now_iso()}
        store.set_node_properties(Node.CUSTOMER, [props])
