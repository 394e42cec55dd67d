"""The ingest pipeline: read, normalise, resolve, load; then events.

Examples
--------
Load the generator's files into a store (not run here: it needs a running store)::

    from quanzi.graph.connect import open_store
    from quanzi.ingest import ingest_files
    from quanzi.settings import Settings

    settings = Settings()
    store = open_store(settings)
    report = ingest_files(store, [Path("data/")], settings)
    print(report.summary())
"""

from __future__ import annotations

import gc
import hashlib
import multiprocessing
import time
from array import array
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Any

from quanzi.graph import queries as q
from quanzi.graph.store import GraphStore
from quanzi.ingest.events import PERSON_FIELDS, EventAggregate, EventError, heavier_interest
from quanzi.ingest.linker import link_records
from quanzi.ingest.load import fetch_known, merge_into, now_iso, write_customers
from quanzi.ingest.lock import writer_lock
from quanzi.ingest.normalise import normalise_text
from quanzi.ingest.readers import ColumnMapping, Table, expand_paths, open_table
from quanzi.ingest.records import normalise_contact, normalise_contacts, record_identity_id
from quanzi.ingest.report import IngestProgress, IngestReport, Reject
from quanzi.ingest.resolve import resolve
from quanzi.ingest.suppression import erased_records, reject_erased
from quanzi.model import Node, Rel
from quanzi.settings import Settings, usable_cpus

__all__ = ["gc_paused", "ingest_contacts", "ingest_files", "ingest_records", "normalise_all"]

_KIND_ORDER = {"employees": 0, "groups": 1, "campaigns": 2, "contacts": 3, "events": 4, "truth": 5}
_REFERENCE_FIELDS: dict[str, tuple[Node, str, tuple[str, ...]]] = {
    "employees": (Node.EMPLOYEE, "employee_id", ("name", "team", "email")),
    "groups": (Node.GROUP, "group_id", ("name", "kind", "owner_employee_id", "interest")),
    "campaigns": (Node.CAMPAIGN, "campaign_id", ("name", "start", "end")),
}


@contextmanager
def _timed(report: IngestReport, step: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        report.time(step, time.perf_counter() - started)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the duration (and restore its state after).

    A batch keeps every profile, link and cluster alive until it is loaded: millions of small
    dicts, sets and tuples that hold no reference cycles, and each full collection walks all of
    them again. Measured (CPU time, 100,248 records): clustering 6.6-8.2 s with the collector
    on, 3.5-3.8 s paused. Objects are still freed by reference counting; cycles made meanwhile
    are collected once it is on again.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def ingest_files(
    store: GraphStore,
    paths: Sequence[Path],
    settings: Settings,
    *,
    mappings: Mapping[Path, ColumnMapping] | None = None,
    progress: IngestProgress | None = None,
) -> IngestReport:
    """Load contact, event and reference files (or folders of them) into the graph.

    Files are recognised by their columns (or by a mapping) and loaded in dependency order:
    employees, groups and campaigns, then contacts (normalised and resolved into customers),
    then events. Ground-truth files of the synthetic generator are recognised and skipped.

    Parameters
    ----------
    store : GraphStore
        An open store.
    paths : sequence of Path
        Files (``.csv``, ``.tsv``, ``.jsonl``, ``.parquet``) or folders of them.
    settings : Settings
        Phone region, linker threshold, field size limit, write batch size.
    mappings : mapping of Path to ColumnMapping, optional
        Column mappings for files that are not in Quanzi's own format.
    progress : callable, optional
        ``progress(step, done, total)``.

    Returns
    -------
    IngestReport
        Counts, rejected rows and timings.

    Raises
    ------
    InputError
        A path does not exist, a file is empty, of an unknown format, or holds columns that
        match no kind of file. Nothing has been written then.
    """
    mappings = {Path(p).resolve(): m for p, m in (mappings or {}).items()}
    files = expand_paths([Path(p) for p in paths])
    tables = [open_table(f, mappings.get(f.resolve())) for f in files]
    tables.sort(key=lambda t: _KIND_ORDER[t.kind])
    report = IngestReport()
    with writer_lock(settings.data_dir, on_wait=_waiting(progress)), gc_paused():
        if not _load_tables(store, tables, settings, report, progress):
            store.note_graph_change("ingest")
    return report


def _waiting(progress: IngestProgress | None) -> Callable[[str], None]:
    def note(holder: str) -> None:
        if progress is not None:
            progress(f"waiting for {holder}", 0, None)

    return note


def _load_tables(
    store: GraphStore,
    tables: Sequence[Table],
    settings: Settings,
    report: IngestReport,
    progress: IngestProgress | None,
) -> bool:
    """Load the tables; whether the change was counted already (by an events file, whose
    mark is then the last write: see :func:`_load_events`)."""
    _ensure_ingest_indexes(store)
    contacts: list[tuple[int, dict[str, Any], str]] = []
    for table in tables:
        if table.kind == "truth":
            report.skipped_files.append(str(table.path))
        elif table.kind in _REFERENCE_FIELDS:
            with _timed(report, "reference"):
                _load_reference(store, table, report)
    contact_tables = [t for t in tables if t.kind == "contacts"]
    if contact_tables:
        with _timed(report, "read"):
            for table in contact_tables:
                for row_no, row in table.rows():
                    contacts.append((row_no, row, str(table.path)))
                    if progress is not None and len(contacts) % 50_000 == 0:
                        progress("read contacts", len(contacts), None)
        if progress is not None:
            progress("read contacts", len(contacts), len(contacts))
        ingest_records(store, contacts, settings, report=report, progress=progress)
    counted = False
    for table in tables:
        if table.kind == "events":
            counted = _load_events(store, table, settings, report, progress) or counted
    return counted


def ingest_contacts(
    store: GraphStore,
    rows: Sequence[Mapping[str, Any]],
    settings: Settings,
    *,
    origin: str = "<api>",
    progress: IngestProgress | None = None,
) -> IngestReport:
    """Load contact records given as dicts (an API body), numbered from 1.

    Examples
    --------
    Not run here (needs a store)::

        report = ingest_contacts(store, [{"source": "crm", "source_record_id": "1",
                                          "full_name": "张伟", "phone": "13800138000"}], settings)
    """
    report = IngestReport()
    numbered = [(i, dict(r), origin) for i, r in enumerate(rows, start=1)]
    with writer_lock(settings.data_dir, on_wait=_waiting(progress)), gc_paused():
        _ensure_ingest_indexes(store)
        ingest_records(store, numbered, settings, report=report, progress=progress)
        store.note_graph_change("ingest")
    return report


def ingest_records(
    store: GraphStore,
    rows: Sequence[tuple[int, dict[str, Any], str]],
    settings: Settings,
    *,
    report: IngestReport,
    progress: IngestProgress | None = None,
) -> None:
    """Normalise, resolve and load ``(row, record, file)`` triples, adding to ``report``."""
    with _timed(report, "normalise"):
        profiles: dict[str, dict[str, Any]] = {}
        first_row: dict[str, tuple[str, int]] = {}
        normalised = normalise_all(rows, settings)
        for i, ((row_no, row, origin), (profile, problems)) in enumerate(
            zip(rows, normalised, strict=True), start=1
        ):
            report.counts["contacts_read"] += 1
            if "__error__" in row:
                report.reject(origin, row_no, "*", f"the row {row['__error__']}")
                continue
            for field_name, reason in problems:
                if profile is None:
                    report.reject(origin, row_no, field_name, reason)
                else:
                    report.dropped_fields.append(Reject(origin, row_no, field_name, reason))
            if profile is None:
                continue
            rid = str(profile["record_id"])
            if rid in first_row:
                if profiles[rid]["content_hash"] != profile["content_hash"]:
                    where = first_row[rid]
                    report.reject(
                        origin,
                        row_no,
                        "source_record_id",
                        f"duplicate record {rid!r}, first seen in {where[0]} row {where[1]}; "
                        "the first one was loaded",
                    )
                continue
            first_row[rid] = (origin, row_no)
            profiles[rid] = profile
            if progress is not None and i % 50_000 == 0:
                progress("normalise", i, len(rows))
        if progress is not None:
            progress("normalise", len(rows), len(rows))
    # People who asked to be erased are not loaded again (quanzi.ingest.suppression).
    reject_erased(store, settings, profiles, first_row, report)
    report.counts["contacts_valid"] += len(profiles)
    if not profiles:
        return

    with _timed(report, "lookup"):
        known = fetch_known(store, list(profiles.values()))
    fresh = [p for rid, p in profiles.items() if known.content_hash.get(rid) != p["content_hash"]]
    report.counts["contacts_unchanged"] += len(profiles) - len(fresh)
    if not fresh:
        return
    fresh_ids = {str(p["record_id"]) for p in fresh}
    existing = [p for p in known.existing if str(p["record_id"]) not in fresh_ids]
    # A changed record stays with its customer: it takes part as a member of that customer.
    for p in fresh:
        rid = str(p["record_id"])
        if rid in known.customer_of:
            existing.append(dict(p, customer_id=known.customer_of[rid]))

    with _timed(report, "link"):
        links, link_counts = link_records(fresh, existing, settings, progress=progress)
        report.counts.update(link_counts)
        resolution = resolve(fresh, links, existing=existing, customers=known.customers)
    report.counts["links_used"] += len(resolution.links_used)
    report.counts["links_refused"] += len(resolution.links_refused)

    with _timed(report, "load"):
        for loser, survivor in sorted(resolution.merged.items()):
            reason = next(
                (
                    lk.rule
                    for lk in resolution.links_used
                    if {resolution.assignment.get(lk.left), resolution.assignment.get(lk.right)}
                    == {survivor}
                ),
                "linked records",
            )
            merge_into(store, loser, survivor, reason=reason)
        all_profiles: dict[str, dict[str, Any]] = {str(p["record_id"]): p for p in existing}
        all_profiles.update({str(p["record_id"]): p for p in fresh})
        written = write_customers(
            store,
            resolution,
            all_profiles,
            fresh_ids,
            stored=set(known.customer_of),
            batch_size=settings.write_batch_size,
            progress=progress,
            empty_store=known.empty,
        )
    report.counts["customers_created"] += len(resolution.new_customers)
    report.counts["customers_merged"] += len(resolution.merged)
    report.counts["records_loaded"] += len(fresh)
    for key, value in written.items():
        report.counts[f"written_{key}"] += value


#: Rows a normalising process is given at a time.
_NORMALISE_CHUNK = 2000


def normalise_all(
    rows: Sequence[tuple[int, dict[str, Any], str]], settings: Settings
) -> Iterator[tuple[dict[str, Any] | None, list[tuple[str, str]]]]:
    """``normalise_contact`` of every row, in order; in parallel processes for large batches.

    Normalising is pure Python and the batch's largest step before linking; on a machine with
    several cores, processes forked from this one (so nothing is imported again and the rows
    are not copied until they are sent) each normalise chunks of rows. At most a few chunks per
    process are in flight, so the rows are not all copied at once.
    """
    options: dict[str, Any] = {
        "region": settings.default_phone_region,
        "max_chars": settings.ingest_max_field_chars,
        "drop_invalid": settings.ingest_invalid_fields == "drop_field",
    }
    processes = settings.ingest_processes or usable_cpus()
    if (
        processes < 2
        or len(rows) < settings.ingest_parallel_min_records
        or "fork" not in multiprocessing.get_all_start_methods()
    ):
        for _, row, _ in rows:
            yield (None, []) if "__error__" in row else normalise_contact(row, **options)
        return
    chunks = (
        [row for _, row, _ in rows[start : start + _NORMALISE_CHUNK]]
        for start in range(0, len(rows), _NORMALISE_CHUNK)
    )
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(processes, mp_context=context) as pool:
        pending: deque[Future[list[tuple[dict[str, Any] | None, list[tuple[str, str]]]]]] = deque(
            pool.submit(normalise_contacts, chunk, **options)
            for chunk in islice(chunks, 3 * processes)
        )
        while pending:
            done = pending.popleft().result()
            for chunk in islice(chunks, 1):
                pending.append(pool.submit(normalise_contacts, chunk, **options))
            yield from done


def _ensure_ingest_indexes(store: GraphStore) -> None:
    for prop in ("kind", "name_latin"):
        store.write(q.create_index(Node.IDENTITY, prop), f"creating the Identity.{prop} index")


def _load_reference(store: GraphStore, table: Table, report: IngestReport) -> None:
    label, key, fields = _REFERENCE_FIELDS[table.kind]
    rows: dict[str, dict[str, Any]] = {}
    for row_no, row in table.rows():
        if "__error__" in row:
            report.reject(str(table.path), row_no, "*", f"the row {row['__error__']}")
            continue
        # Normalised as the events that name them are (NFKC, whitespace, control characters):
        # a full-width or spaced id here and its plain form in an event are one group.
        node_id = row.get(key)
        text_id = normalise_text(str(node_id)) if isinstance(node_id, str | int) else None
        if text_id is None:
            report.reject(str(table.path), row_no, key, "missing")
            continue
        props: dict[str, Any] = {"id": text_id}
        for name in fields:
            value = row.get(name)
            text = normalise_text(str(value)) if value is not None else None
            if text is not None:
                props[name] = text
        rows[props["id"]] = props
    report.counts[table.kind] += store.upsert_nodes(label, rows.values())


def _fingerprint(path: Path) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return "events:" + digest.hexdigest()


def _load_events(
    store: GraphStore,
    table: Table,
    settings: Settings,
    report: IngestReport,
    progress: IngestProgress | None,
) -> bool:
    """Load one events file unless it was loaded before; whether it was loaded now.

    The file's mark (``IngestBatch``, keyed by a hash of its bytes) is its load's last write.
    An event that names a person who is no loaded contact record yet is rejected and waits:
    the mark lists those people (``pending``), and the file run again (after their records
    were loaded) folds in only the events that name one of them, the others being written
    already. Every interaction is written under a key of its own (``Interactions``), so an
    interaction loaded before, by a run cut short or from another file that holds it too, is
    not counted again.
    """
    fingerprint = _fingerprint(table.path)
    mark = store.get_node(Node.INGEST_BATCH, fingerprint)
    waited: frozenset[str] | None = None
    if mark is not None:
        if not mark.get("pending"):
            report.skipped_files.append(str(table.path))
            report.counts["event_files_already_loaded"] += 1
            return False
        waited = frozenset(str(p) for p in mark["pending"])
    agg = EventAggregate(max_chars=settings.ingest_max_field_chars, only=waited)
    origin = str(table.path)
    named_in = _References()
    with _timed(report, "events read"):
        for row_no, event in table.rows():
            report.counts["events_read"] += 1
            if "__error__" in event:
                report.reject(origin, row_no, "*", f"the row {event['__error__']}")
                continue
            try:
                named = agg.add(event, row_no)
            except EventError as e:
                report.reject(origin, row_no, e.field, str(e))
                continue
            if named is None:
                report.counts["events_loaded_before"] += 1
                continue
            named_in.add(row_no, named)
            if progress is not None and report.counts["events_read"] % 100_000 == 0:
                progress("read events", report.counts["events_read"], None)
    with _timed(report, "events load"):
        people = sorted(agg.people())
        customer_of = {
            str(r["identity"]).removeprefix("record:"): r["customer"]
            for r in _read_by_ids(
                store,
                q.CUSTOMERS_OF_IDENTITIES,
                "resolving event references",
                [record_identity_id(p) for p in people],
            )
        }
        unknown = [p for p in people if p not in customer_of]
        erased = erased_records(store, settings, unknown)
        for row_no, missing in named_in.rows_naming(set(unknown)):
            gone = [(f, p) for f, p in missing if p in erased]
            if gone:
                field_name, person = gone[0]
                report.reject(
                    origin,
                    row_no,
                    field_name,
                    f"{person!r} is a record of a person erased on {erased[person]} (subject "
                    "requested erasure); the event is not loaded",
                )
                report.counts["events_erased"] += 1
            else:
                report.reject(origin, row_no, missing[0][0], _waiting_reason(missing))
                report.counts["events_waiting"] += 1
        unknown = [p for p in unknown if p not in erased]
        counts = _write_events(
            store, agg, customer_of, settings, reject=partial(report.reject, origin)
        )
        report.counts.update(counts)
        # Counted before the mark that ends the load, not after it: the data is all written
        # here, and the load's last write stays its mark (a load killed in between is run
        # again and counts again).
        store.note_graph_change("ingest")
        done: dict[str, Any] = {
            "id": fingerprint,
            "file": table.path.name,
            "kind": "events",
            "loaded_at": now_iso(),
        }
        if unknown or mark is not None:
            done["pending"] = unknown
        if unknown:
            report.waiting_files.append(str(table.path))
        store.upsert_nodes(Node.INGEST_BATCH, [done])
    if progress is not None:
        progress("load events", report.counts["events_read"], report.counts["events_read"])
    return True


class _References:
    """Which rows of an events file name which people, kept compactly (a file can hold
    millions of events): one entry per person named, in arrays of row, person and field."""

    def __init__(self) -> None:
        self._index: dict[str, int] = {}
        self._people: list[str] = []
        self._rows = array("q")
        self._refs = array("q")
        self._fields = array("b")

    def add(self, row: int, named: Sequence[tuple[str, str]]) -> None:
        for field_name, person in named:
            ref = self._index.get(person)
            if ref is None:
                ref = self._index[person] = len(self._people)
                self._people.append(person)
            self._rows.append(row)
            self._refs.append(ref)
            self._fields.append(PERSON_FIELDS.index(field_name))

    def rows_naming(self, people: set[str]) -> Iterator[tuple[int, list[tuple[str, str]]]]:
        """Each row that names one of ``people``, in file order, with those ``(field,
        person)``."""
        if not people:
            return
        wanted = {self._index[p] for p in people if p in self._index}
        current, found = -1, list[tuple[str, str]]()
        for row, ref, field_code in zip(self._rows, self._refs, self._fields, strict=True):
            if row != current:
                if found:
                    yield current, found
                current, found = row, []
            if ref in wanted:
                found.append((PERSON_FIELDS[field_code], self._people[ref]))
        if found:
            yield current, found


def _waiting_reason(missing: Sequence[tuple[str, str]]) -> str:
    if len(missing) == 1:
        what = f"{missing[0][1]!r} is no loaded contact record"
    else:
        what = (
            " and ".join(f"{person!r} ({field_name})" for field_name, person in missing)
            + " are no loaded contact records"
        )
    whose = "its" if len(missing) == 1 else "their"
    return (
        f"{what}; load {whose} contact file first, then this events file again (the events "
        "loaded now are not added twice)"
    )


def _write_events(
    store: GraphStore,
    agg: EventAggregate,
    customer_of: Mapping[str, str],
    settings: Settings,
    *,
    reject: Callable[[int, str, str], None],
) -> Counter[str]:
    """Write the aggregated events; ``reject(row, field, reason)`` reports an event refused
    here, once its people are customers (an order id another customer placed)."""
    counts: Counter[str] = Counter()
    c = customer_of.get

    store.upsert_nodes(Node.EMPLOYEE, ({"id": e} for e in sorted(agg.employees)))
    store.upsert_nodes(Node.GROUP, ({"id": g} for g in sorted(agg.groups)))
    store.upsert_nodes(Node.CAMPAIGN, ({"id": x} for x in sorted(agg.campaigns)))

    pairs: dict[tuple[str, str], dict[str, Any]] = {}
    for (a, b), pair in agg.interactions.items():
        ca, cb = c(a), c(b)
        if ca is None or cb is None or ca == cb:
            counts["interactions_dropped"] += 1
            continue
        row = pairs.get((ca, cb))
        if row is None:
            row = pairs[(ca, cb)] = {
                "start": ca, "end": cb, "keys": [], "counts": [], "weights": [],
                "last_at": pair.last_at, "kinds": set(),
            }  # fmt: skip
        row["keys"] += pair.keys
        row["counts"] += pair.counts
        row["weights"] += pair.weights
        row["last_at"] = max(row["last_at"], pair.last_at)
        row["kinds"] |= pair.kinds
    rows = [row | {"kinds": sorted(row["kinds"])} for _, row in sorted(pairs.items())]
    for start in range(0, len(rows), settings.write_batch_size):
        chunk = rows[start : start + settings.write_batch_size]
        result = store.write(q.ADD_INTERACTIONS, "writing interactions", rows=chunk)
        added = int(result[0]["added"] or 0) if result else 0
        counts["interactions_added"] += added
        # Held by their relation already: loaded before, from this file or another.
        counts["interactions_loaded_before"] += sum(len(row["keys"]) for row in chunk) - added
    counts["INTERACTS_WITH"] += len(rows)

    counts["MEMBER_OF"] += store.upsert_relations(
        Rel.MEMBER_OF,
        Node.CUSTOMER,
        Node.GROUP,
        _stateful(agg.memberships, c, "joined_at", "left_at"),
        spans=("joined_at", "left_at"),
    )
    counts["SERVED_BY"] += store.upsert_relations(
        Rel.SERVED_BY,
        Node.CUSTOMER,
        Node.EMPLOYEE,
        _stateful(agg.served, c, "added_at", "deleted_at"),
        spans=("added_at", "deleted_at"),
    )
    first_referral: dict[tuple[str, str], dict[str, Any]] = {}
    for (a, b), props in sorted(agg.referrals.items()):
        ca, cb = c(a), c(b)
        if ca is None or cb is None or ca == cb:
            continue
        kept = first_referral.get((ca, cb))
        if kept is None or props["at"] < kept["at"]:  # the first, of any of their records
            first_referral[(ca, cb)] = {"start": ca, "end": cb, **props}
    referred = list(first_referral.values())
    counts["REFERRED"] += store.upsert_relations(
        Rel.REFERRED, Node.CUSTOMER, Node.CUSTOMER, referred, smallest="at"
    )
    in_campaign: dict[tuple[str, str], dict[str, Any]] = {}
    for row in referred:
        if "campaign_id" in row:
            in_campaign.setdefault((row["start"], row["campaign_id"]), {"role": "inviter"})
            in_campaign[(row["end"], row["campaign_id"])] = {"role": "invitee", "at": row["at"]}
    counts["IN_CAMPAIGN"] += store.upsert_relations(
        Rel.IN_CAMPAIGN,
        Node.CUSTOMER,
        Node.CAMPAIGN,
        ({"start": a, "end": b, **p} for (a, b), p in sorted(in_campaign.items())),
        smallest="at",
    )

    orders = _order_rows(store, agg, c, reject)
    counts["Order"] += store.upsert_nodes(Node.ORDER, orders)
    counts["PLACED"] += store.upsert_relations(
        Rel.PLACED,
        Node.CUSTOMER,
        Node.ORDER,
        ({"start": o["customer_id"], "end": o["id"], "at": o["placed_at"]} for o in orders),
    )

    tags: dict[tuple[str, str], dict[str, Any]] = {}
    for (p, t), v in sorted(agg.tags.items()):
        cp = c(p)
        if cp and ((cp, t) not in tags or v["at"] >= tags[(cp, t)]["at"]):
            tags[(cp, t)] = v  # the latest, of any of the customer's records
    store.upsert_nodes(Node.TAG, ({"id": t, "name": t} for t in sorted({t for _, t in tags})))
    counts["TAGGED"] += store.upsert_relations(
        Rel.TAGGED,
        Node.CUSTOMER,
        Node.TAG,
        ({"start": a, "end": b, **v} for (a, b), v in tags.items()),
        largest="at",
    )
    interests: dict[tuple[str, str], dict[str, Any]] = {}
    for (p, i), v in sorted(agg.interests.items()):
        cp = c(p)
        if cp and heavier_interest(v, interests.get((cp, i))):
            interests[(cp, i)] = v
    store.upsert_nodes(
        Node.INTEREST, ({"id": i, "name": i} for i in sorted({i for _, i in interests}))
    )
    counts["INTERESTED_IN"] += store.upsert_relations(
        Rel.INTERESTED_IN,
        Node.CUSTOMER,
        Node.INTEREST,
        ({"start": a, "end": b, **v} for (a, b), v in interests.items()),
        largest="weight",
        tie_smallest="at",
    )
    counts["customers_updated"] += _update_customer_activity(store, agg, customer_of)
    return counts


def _order_rows(
    store: GraphStore,
    agg: EventAggregate,
    c: Callable[[str], str | None],
    reject: Callable[[int, str, str], None],
) -> list[dict[str, Any]]:
    """The ``Order`` rows to write: one per order id, owned by one customer.

    An order belongs to the customer that placed it first (in the graph, through ``PLACED``,
    else the first event of this file naming it); an event of the same customer updates it (the
    latest event stands, the last in the file on a tie), an event of another customer is
    rejected. Written as it was, the
    order kept its old ``PLACED`` and got a new one: placed by two customers, counted in both
    their ``order_count`` and ``total_spent``. An order whose stored event is later than this
    file's is left as it is: an older export loaded again does not set it back.
    """
    ids = sorted(agg.orders)
    owner: dict[str, str] = {}
    stored_at: dict[str, str] = {}
    for r in _read_by_ids(store, q.ORDER_OWNERS, "reading who placed the orders", ids):
        owner[r["order"]] = r["customer"]
        if r.get("placed_at"):
            stored_at[r["order"]] = str(r["placed_at"])
    rows: list[dict[str, Any]] = []
    for oid in ids:
        claimed = f"in the graph by customer {owner[oid]}" if oid in owner else ""
        kept: dict[str, Any] | None = None
        for row_no, order in agg.orders[oid]:
            cid = c(order["person"])
            if cid is None:  # not a loaded record: rejected as such by the caller
                continue
            if oid not in owner:
                owner[oid] = cid
                claimed = f"in row {row_no} by {order['person']} (customer {cid})"
            if cid != owner[oid]:
                reject(
                    row_no,
                    "order_id",
                    f"order {oid!r} is already placed by another customer ({claimed}); "
                    "use a new order id",
                )
                continue
            if kept is not None and order["placed_at"] < kept["placed_at"]:
                continue  # the latest event stands, wherever it lies in the file
            kept = {"id": oid, "customer_id": cid, **order}
            kept["record"] = kept.pop("person")  # a split of that record takes the order along
        if kept is not None and kept["placed_at"] >= stored_at.get(oid, ""):
            rows.append(kept)
    return rows


def _read_by_ids(
    store: GraphStore, query: str, what: str, ids: Sequence[str]
) -> Iterator[dict[str, Any]]:
    """The rows of ``query`` (with ``$ids``) for ``ids``, read 5,000 ids at a time."""
    for start in range(0, len(ids), 5000):
        yield from store.read_collected(query, what, retry=True, ids=ids[start : start + 5000])


def _stateful(
    states: Mapping[tuple[str, str], Mapping[str, str]],
    c: Any,
    start: str,
    end: str,
) -> list[dict[str, Any]]:
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for (p, other), state in sorted(states.items()):
        cp = c(p)
        if cp is None:
            continue
        row = merged.setdefault((cp, other), {"start": cp, "end": other})
        for key in (start, end):
            if key in state and (key not in row or state[key] > row[key]):
                row[key] = state[key]
    for row in merged.values():
        row["active"] = end not in row or (start in row and row[start] > row[end])
    return list(merged.values())


def _update_customer_activity(
    store: GraphStore, agg: EventAggregate, customer_of: Mapping[str, str]
) -> int:
    last: dict[str, str] = {}
    for person, at in agg.last_active.items():
        cid = customer_of.get(person)
        if cid is not None and (cid not in last or at > last[cid]):
            last[cid] = at
    histories: dict[str, dict[str, set[tuple[str, str]]]] = {}
    for name, per_person in (("funnel", agg.funnel), ("tier", agg.tiers)):
        per_customer: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for person, values in per_person.items():
            cid = customer_of.get(person)
            if cid is not None:
                per_customer[cid] |= values
        histories[name] = per_customer
    ids = sorted(last)
    rows: list[dict[str, Any]] = []
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        current = {
            r["id"]: r["props"]
            for r in store.read_collected(
                q.CUSTOMER_PROPERTIES, "reading customer activity", retry=True, ids=chunk
            )
        }
        totals = {
            r["id"]: r
            for r in store.read_collected(
                q.ORDER_TOTALS, "reading order totals", retry=True, ids=chunk
            )
        }
        for cid in chunk:
            props = current.get(cid, {})
            row: dict[str, Any] = {"id": cid}
            previous = props.get("last_active_at")
            row["last_active_at"] = max(last[cid], previous) if previous else last[cid]
            for name, current_name in (("funnel", "funnel_stage"), ("tier", "recorded_tier")):
                if cid not in histories[name]:
                    continue
                stored = props.get(f"{name}_history") or []
                history = {(h.split(" ", 1)[0], h.split(" ", 1)[-1]) for h in stored}
                ordered = sorted(history | histories[name][cid])
                row[f"{name}_history"] = [f"{t} {s}" for t, s in ordered]
                row[current_name] = ordered[-1][1]
                row[f"{current_name}_at"] = ordered[-1][0]
            if cid in totals:
                row["order_count"] = int(totals[cid]["order_count"])
                row["total_spent"] = round(
                    float(totals[cid]["total_spent"]), 2
                )  # cents: no 0.1 + 0.2
                row["last_order_at"] = totals[cid]["last_order_at"]
            rows.append(row)
    return store.set_node_properties(Node.CUSTOMER, rows)
