"""Reading what the graph already knows about a batch, and writing resolved customers.

Writes go through :class:`~quanzi.graph.store.GraphStore`; the Cypher is in
:mod:`quanzi.graph.queries`. A customer is written whole or not at all: its node, its
identities and their ``HAS_IDENTITY`` relations travel in one transaction.
"""

from __future__ import annotations

import json
import queue
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from quanzi.graph import queries as q
from quanzi.graph.store import GraphStore
from quanzi.ingest.normalise import has_cjk
from quanzi.ingest.records import KEY_FIELDS, PROFILE_FIELDS, identity_id, record_identity_id
from quanzi.ingest.report import IngestProgress
from quanzi.ingest.resolve import ExistingCustomer, Resolution
from quanzi.model import Node, Rel

__all__ = [
    "CUSTOMER_RELATIONS",
    "DERIVED_PROPERTIES",
    "Known",
    "customer_properties",
    "fetch_known",
    "merge_into",
    "now_iso",
    "write_customers",
]

#: Relations that hang off a customer and move with it when it is merged: (type, outgoing).
CUSTOMER_RELATIONS: tuple[tuple[Rel, bool], ...] = (
    (Rel.HAS_IDENTITY, True),
    (Rel.SERVED_BY, True),
    (Rel.MEMBER_OF, True),
    (Rel.INTERESTED_IN, True),
    (Rel.TAGGED, True),
    (Rel.INTERACTS_WITH, True),
    (Rel.INTERACTS_WITH, False),
    (Rel.REFERRED, True),
    (Rel.REFERRED, False),
    (Rel.IN_CAMPAIGN, True),
    (Rel.IN_CIRCLE, True),
    (Rel.PLACED, True),
)

#: Customer properties owned by ingest (recomputed from the records by
#: :func:`customer_properties`); all others (notes, stages, tiers) are the users' and are left
#: alone.
DERIVED_PROPERTIES = (
    "name",
    "name_latin",
    "gender",
    "birth_date",
    "city",
    "company",
    "channels",
    "record_count",
    "first_seen",
)
_LOOKUP_CHUNK = 5000


def now_iso() -> str:
    """The current time as ISO 8601 UTC."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


@dataclass
class Known:
    """What the graph already holds for one batch.

    Attributes
    ----------
    customer_of : dict of str to str
        Record id -> customer id, for the batch's records already loaded.
    content_hash : dict of str to str
        Record id -> the content hash stored with it (to skip unchanged records).
    existing : list of dict
        Profiles (with ``customer_id``) of every record of every candidate customer.
    customers : dict of str to ExistingCustomer
        The candidate customers.
    empty : bool
        The graph held no identity at all (a first load).
    """

    customer_of: dict[str, str] = field(default_factory=dict)
    content_hash: dict[str, str] = field(default_factory=dict)
    existing: list[dict[str, Any]] = field(default_factory=list)
    customers: dict[str, ExistingCustomer] = field(default_factory=dict)
    empty: bool = False


def fetch_known(store: GraphStore, profiles: Sequence[Mapping[str, Any]]) -> Known:
    """Look up the batch's records, keys and names in the graph.

    Candidates are the customers that already hold one of the batch's records, share a key
    identity (phone, e-mail, WeChat id, id number) with it, or hold a record with the same
    Latin-letter name; all of their records are read, so the linker can compare against them.
    """
    known = Known()
    if not store.read(q.ANY_IDENTITY, "looking for loaded records"):
        known.empty = True
        return known  # a first load into an empty graph: nothing to look up
    record_ids = [record_identity_id(str(p["record_id"])) for p in profiles]
    candidates: set[str] = set()
    for chunk in _chunks(record_ids, _LOOKUP_CHUNK):
        for row in store.read_collected(
            q.CUSTOMERS_OF_IDENTITIES, "looking up records", retry=True, ids=list(chunk)
        ):
            rid = str(row["identity"]).removeprefix("record:")
            known.customer_of[rid] = row["customer"]
            known.content_hash[rid] = row["content_hash"]
            candidates.add(row["customer"])
    fresh = [
        p for p in profiles if known.content_hash.get(str(p["record_id"])) != p["content_hash"]
    ]
    keys = sorted({identity_id(k, str(p[k])) for p in fresh for k in KEY_FIELDS if p.get(k)})
    for chunk in _chunks(keys, _LOOKUP_CHUNK):
        rows = store.read_collected(
            q.CUSTOMERS_OF_IDENTITIES, "looking up identities", retry=True, ids=list(chunk)
        )
        candidates.update(r["customer"] for r in rows)
    names = sorted({str(p["name_latin"]) for p in fresh if p.get("name_latin")})
    for chunk in _chunks(names, _LOOKUP_CHUNK):
        candidates.update(
            store.read_collected(
                q.CUSTOMERS_BY_LATIN_NAME, "looking up names", retry=True, names=list(chunk)
            )
        )
    for chunk in _chunks(sorted(candidates), _LOOKUP_CHUNK):
        for row in store.read_collected(
            q.CUSTOMER_RECORDS, "reading candidate customers", retry=True, ids=list(chunk)
        ):
            props = {f: row["props"].get(f) for f in PROFILE_FIELDS}
            props["tags"] = list(props["tags"] or [])
            props["customer_id"] = row["customer"]
            known.existing.append(props)
            known.customers.setdefault(
                row["customer"],
                ExistingCustomer(
                    row["customer"], row["first_seen"], frozenset(row["split_from"] or ())
                ),
            )
    return known


def _most_common(values: Iterable[str | None]) -> str | None:
    present = [v for v in values if v]
    if len(present) <= 1:  # most customers: one record, or one record with the field
        return present[0] if present else None
    counted = Counter(present)
    return max(counted.items(), key=lambda kv: (kv[1], has_cjk(kv[0]), kv[0]))[0]


def customer_properties(customer_id: str, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The properties ingest keeps on a customer, computed from all of its records.

    >>> a = {"name": "张伟", "source": "wechat", "created_at": "2024-01-02T00:00:00Z"}
    >>> b = {"name": "Zhang Wei", "source": "crm"}
    >>> props = customer_properties("cus_1", [a, b])
    >>> props["channels"], props["name"], props["first_seen"]
    (['crm', 'wechat'], '张伟', '2024-01-02T00:00:00Z')
    """
    ordered = sorted(records, key=lambda r: str(r.get("created_at") or "9999"))
    created = [str(r["created_at"]) for r in ordered if r.get("created_at")]
    props: dict[str, Any] = {
        "id": customer_id,
        "name": _most_common(r.get("name") for r in ordered),
        "name_latin": _most_common(r.get("name_latin") for r in ordered),
        "gender": _most_common(r.get("gender") for r in ordered),
        "birth_date": _most_common(r.get("birth_date") for r in ordered),
        "city": _most_common(r.get("city") for r in ordered),
        "company": _most_common(r.get("company") for r in ordered),
        "channels": sorted({str(r["source"]) for r in ordered if r.get("source")}),
        "record_count": len(ordered),
        "first_seen": created[0] if created else None,
    }
    return {k: v for k, v in props.items() if v is not None}


def _identity_row(profile: Mapping[str, Any]) -> dict[str, Any]:
    """A record's ``Identity`` row as ``{id, props}`` (the form the write statements take)."""
    props: dict[str, Any] = {
        "kind": "record",
        "channel": profile["source"],
        "key": profile["source_record_id"],
    }
    for f in PROFILE_FIELDS:
        value = profile.get(f)
        if value is not None and value != []:
            props[f] = value
    return {"id": record_identity_id(str(profile["record_id"])), "props": props}


def write_customers(
    store: GraphStore,
    resolution: Resolution,
    profiles: Mapping[str, Mapping[str, Any]],
    fresh: set[str],
    *,
    stored: set[str] | frozenset[str] = frozenset(),
    batch_size: int,
    progress: IngestProgress | None = None,
    empty_store: bool = False,
) -> Counter[str]:
    """Write every customer the resolution touched, with its identities and evidence.

    Each batch of customers is one transaction. While the store writes one batch, the next is
    built in this thread (a second thread sends the batches, one at a time and in order), so
    the client's work and the store's overlap; a batch that fails stops the load with its
    error, and the batches after it are not written.

    Parameters
    ----------
    store : GraphStore
    resolution : Resolution
    profiles : mapping of str to dict
        Every record the resolution saw (new and existing), by record id.
    fresh : set of str
        Record ids whose ``Identity`` node must be (re)written.
    stored : set of str
        Record ids already in the graph (the others are created, not merged: cheaper).
    batch_size : int
        About how many identities go into one transaction.
    progress : callable, optional
    empty_store : bool
        The graph held no identity before this load (a first load): channel keys are not
        looked up, only remembered as they are written.

    Returns
    -------
    collections.Counter
        Nodes and relations written, by label or type.
    """
    at = now_iso()
    members: dict[str, list[str]] = {}
    for rid, cid in resolution.assignment.items():
        members.setdefault(cid, []).append(rid)
    touched = {resolution.assignment[r] for r in fresh} | set(resolution.merged.values())
    order = sorted(touched)
    counts: Counter[str] = Counter()
    # Channel keys (phones ...) known to be in the graph: found there, or written by an
    # earlier batch of this load (which may still be in flight when the next one is built).
    written_keys: set[str] = set()
    chunk: list[str] = []
    size = 0
    done = 0
    with _BatchWriter(store, "writing customers and their identities") as writer:
        for i, cid in enumerate(order, start=1):
            chunk.append(cid)
            size += len(members[cid])
            if size < batch_size and i < len(order):
                continue
            statements, written = _chunk_statements(
                store,
                chunk,
                members,
                resolution,
                profiles,
                fresh,
                stored,
                at,
                written_keys,
                lookup=not empty_store,
            )
            writer.submit(statements)
            counts += written
            done += len(chunk)
            if progress is not None:
                progress("load customers", done, len(order))
            chunk, size = [], 0
    if progress is not None and not order:
        progress("load customers", 0, 0)
    return counts


class _BatchWriter:
    """Run each submitted transaction in a second thread, in order, one at a time.

    ``submit`` waits while one transaction is running and another is queued, so at most two
    batches are held in memory. The first failure is raised in the submitting thread (at the
    next ``submit`` or on leaving the ``with`` block); nothing submitted after it is run.
    """

    def __init__(self, store: GraphStore, what: str) -> None:
        self._store = store
        self._what = what
        self._queue: queue.Queue[list[tuple[str, dict[str, Any]]] | None] = queue.Queue(1)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="quanzi-ingest-writer")

    def __enter__(self) -> _BatchWriter:
        self._thread.start()
        return self

    def _run(self) -> None:
        while (statements := self._queue.get()) is not None:
            if self._error is not None:
                continue  # drain what was queued after a failure without running it
            try:
                self._store.write_many(statements, self._what, bulk=True)
            except BaseException as e:  # raised again in the submitting thread
                self._error = e

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def submit(self, statements: list[tuple[str, dict[str, Any]]]) -> None:
        self._raise()
        if statements:
            self._queue.put(statements)

    def __exit__(self, *exc: object) -> None:
        self._queue.put(None)
        self._thread.join()
        if exc[0] is None:
            self._raise()


def _chunk_statements(
    store: GraphStore,
    chunk: Sequence[str],
    members: Mapping[str, list[str]],
    resolution: Resolution,
    profiles: Mapping[str, Mapping[str, Any]],
    fresh: set[str],
    stored: set[str] | frozenset[str],
    at: str,
    written_keys: set[str],
    *,
    lookup: bool,
) -> tuple[list[tuple[str, dict[str, Any]]], Counter[str]]:
    """The statements that write one batch of customers (one transaction), and their counts."""
    new = resolution.new_customers
    evidence_of = resolution.evidence
    customers_new: list[dict[str, Any]] = []
    customers_old: list[dict[str, Any]] = []
    records_new: list[dict[str, Any]] = []
    records_old: list[dict[str, Any]] = []
    keys: dict[str, dict[str, Any]] = {}
    rels_new: list[dict[str, Any]] = []
    rels_old: list[dict[str, Any]] = []
    tagged: dict[tuple[str, str], str] = {}  # (customer, tag) -> earliest record time
    for cid in chunk:
        records = [profiles[r] for r in members[cid]]
        props = customer_properties(cid, records)
        del props["id"]
        props["updated_at"] = at
        is_new = cid in new
        (customers_new if is_new else customers_old).append({"id": cid, "props": props})
        rels = rels_new if is_new else rels_old
        seen_keys: dict[str, list[str]] = {}
        for profile in records:
            rid = str(profile["record_id"])
            for k in KEY_FIELDS:
                value = profile.get(k)
                if value:
                    seen_keys.setdefault(identity_id(k, str(value)), []).append(rid)
            if rid not in fresh:
                continue
            (records_old if rid in stored else records_new).append(_identity_row(profile))
            created = str(profile.get("created_at") or "")
            for tag in profile.get("tags") or ():
                tagged[(cid, tag)] = min(created, tagged.get((cid, tag), created))
            if rid in stored and rid not in evidence_of:
                continue  # a changed record that stays where it was: its evidence stands
            evidence = evidence_of.get(rid, {"rule": "first record"})
            rel_props = {"linked_at": at, **{k: v for k, v in evidence.items() if v is not None}}
            if "matched" in rel_props:
                rel_props["matched"] = record_identity_id(str(rel_props["matched"]))
            rels.append({"start": cid, "end": record_identity_id(rid), "props": rel_props})
        for key_id, rids in seen_keys.items():
            if key_id not in keys:
                kind, _, key = key_id.partition(":")
                keys[key_id] = {"id": key_id, "props": {"kind": kind, "channel": kind, "key": key}}
            rels.append(
                {
                    "start": cid,
                    "end": key_id,
                    "props": {
                        "rule": "observed",
                        "records": sorted(record_identity_id(r) for r in rids),
                        "linked_at": at,
                    },
                }
            )
    # New customers, records and keys are created (cheaper than MERGE); the rest is merged.
    # One writer at a time is assumed, as for every ingest.
    unseen = [k for k in keys if k not in written_keys]
    if lookup and unseen:
        found = store.read(q.existing_ids(Node.IDENTITY), "looking up identities", ids=unseen)
        written_keys.update(found[0]["ids"] if found else ())
    create_keys = [row for k, row in keys.items() if k not in written_keys]
    written_keys.update(keys)
    tags = sorted({t for _, t in tagged})
    statements: list[tuple[str, list[dict[str, Any]]]] = [
        (q.create_nodes(Node.CUSTOMER), customers_new),
        (q.merge_nodes(Node.CUSTOMER), customers_old),
        (q.create_nodes(Node.IDENTITY), records_new + create_keys),
        (q.merge_nodes(Node.IDENTITY), records_old),
        # Tags from the contact files go in the same transaction: written after it, a load
        # killed in between would leave them out for good (the records count as loaded then).
        (q.merge_nodes(Node.TAG), [{"id": t, "props": {"name": t}} for t in tags]),
        (q.create_relations(Rel.HAS_IDENTITY, Node.CUSTOMER, Node.IDENTITY), rels_new),
        (q.merge_relations(Rel.HAS_IDENTITY, Node.CUSTOMER, Node.IDENTITY), rels_old),
        (
            q.merge_relations(Rel.TAGGED, Node.CUSTOMER, Node.TAG),
            [
                {"start": c, "end": t, "props": {"by": "import", **({"at": when} if when else {})}}
                for (c, t), when in sorted(tagged.items())
            ],
        ),
    ]
    counts = Counter(
        {
            "Customer": len(customers_new) + len(customers_old),
            "Identity": len(records_new) + len(records_old) + len(keys),
            "HAS_IDENTITY": len(rels_new) + len(rels_old),
        }
    )
    return [(text, {"rows": rows}) for text, rows in statements if rows], counts


def merge_into(store: GraphStore, loser: str, survivor: str, *, reason: str) -> None:
    """Merge customer ``loser`` into ``survivor`` in one transaction.

    Every relation moves to the survivor (interaction counts add up), properties the survivor
    lacks are copied from the loser, and the loser keeps only ``merged_into`` / ``merged_at``
    so that its old id can still be followed. The survivor's order totals are worked out again
    from the orders both placed.
    """
    rows = store.read_collected(
        q.CUSTOMER_PROPERTIES, "reading customers to merge", retry=True, ids=[loser, survivor]
    )
    props = {r["id"]: dict(r["props"]) for r in rows}
    missing = [c for c in (loser, survivor) if c not in props]
    if missing:
        from quanzi.errors import NotFoundError

        raise NotFoundError(f"No customer with id {missing[0]!r}")
    copied = {
        k: v
        for k, v in props[loser].items()
        if k not in props[survivor] and k not in ("id", "merged_into", "merged_at", "merged_ids")
    }
    inherited = sorted(
        set(props[survivor].get("merged_ids") or []) | set(props[loser].get("merged_ids") or [])
    )
    copied["merged_ids"] = inherited
    copied["merge_reason"] = json.dumps({loser: reason}, ensure_ascii=False)
    if props[survivor].get("merge_reason"):
        previous = json.loads(str(props[survivor]["merge_reason"]))
        copied["merge_reason"] = json.dumps(previous | {loser: reason}, ensure_ascii=False)
    statements: list[tuple[str, dict[str, Any]]] = [
        (q.delete_relations_between(rel), {"loser": loser, "survivor": survivor})
        for rel in (Rel.INTERACTS_WITH, Rel.REFERRED)
    ]
    statements += [
        (q.move_relations(rel, outgoing=out), {"loser": loser, "survivor": survivor})
        for rel, out in CUSTOMER_RELATIONS
    ]
    statements += [
        (q.set_node_properties(Node.CUSTOMER), {"rows": [{"id": survivor, "props": copied}]}),
        (q.MARK_MERGED, {"loser": loser, "survivor": survivor, "at": now_iso()}),
        (q.MOVE_ORDER_OWNER, {"loser": loser, "survivor": survivor}),
    ]
    if "order_count" in props[loser] or "order_count" in props[survivor]:
        statements.append((q.REFRESH_ORDER_TOTALS, {"ids": [survivor]}))
    store.write_many(statements, f"merging customer {loser} into {survivor}")
