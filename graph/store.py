"""The store port and its one adapter: Cypher over Bolt through the official ``neo4j`` driver.

The same adapter serves Neo4j (production) and the bundled ArcadeDB; the driver is passed in,
never created here (see :func:`quanzi.graph.connect.open_store`).
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import numpy as np
from neo4j import READ_ACCESS, Driver, ManagedTransaction, Query, Record, RoutingControl
from neo4j.exceptions import (
    AuthError,
    ClientError,
    ConstraintError,
    DriverError,
    Neo4jError,
    ServiceUnavailable,
    SessionExpired,
)

from quanzi.errors import (
    ConflictError,
    InputError,
    NotFoundError,
    QuanziError,
    StoreAuthError,
    StoreError,
    StoreUnavailableError,
)
from quanzi.graph import queries as q
from quanzi.graph.bulk import ArcadeHttpChannel
from quanzi.graph.dialect import Dialect
from quanzi.graph.projection import Projection
from quanzi.model import Node, Rel, check_label, check_rel

__all__ = ["GraphStore", "Neighbourhood", "Progress", "translate_errors", "visible_properties"]

log = logging.getLogger(__name__)

#: ``progress(done, total)`` callback for long writes; ``total`` may be ``None``.
Progress = Callable[[int, int | None], None]

_PROPERTY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_MAX_STRING = 1_000_000
_Scalar = (str, int, float, bool)


@dataclass(frozen=True)
class Neighbourhood:
    """A node and what lies within a few hops of it.

    Attributes
    ----------
    centre : dict
        Properties of the starting node (with ``_label``).
    nodes : dict of str to dict
        Every node reached, keyed by ``id``, with its properties and ``_label``.
    relations : list of dict
        ``{"type", "start", "end", "props"}`` for every relation among them.
    truncated : bool
        Whether the path limit was reached, so more lies beyond.
    """

    centre: dict[str, Any]
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    relations: list[dict[str, Any]] = field(default_factory=list)
    truncated: bool = False


def translate_errors(e: Exception, what: str) -> Exception:
    """Turn a driver error into Quanzi's own, with a message that says what to do."""
    if isinstance(e, AuthError):
        return StoreAuthError(
            f"The graph store refused the credentials while {what}: check "
            "QUANZI_NEO4J_USER / QUANZI_NEO4J_PASSWORD (or delete a stale bundled store "
            "credentials file only if you also delete its data)"
        )
    if isinstance(e, ServiceUnavailable | SessionExpired | OSError) or (
        isinstance(e, DriverError) and not isinstance(e, Neo4jError)
    ):
        detail = " ".join(str(e).split())  # the driver's messages span lines: keep one
        return StoreUnavailableError(
            f"The graph store cannot be reached while {what} ({detail}). Start the bundled store "
            "with `quanzi store start`, or check QUANZI_NEO4J_URI and that Neo4j is running"
        )
    if isinstance(e, ConstraintError):
        return ConflictError(f"A uniqueness rule was broken while {what}: {e.message}")
    if isinstance(e, ClientError | Neo4jError):
        return StoreError(f"The graph store rejected a query while {what}: {e.message}")
    return e


#: Relation properties that only the loads read: the keys of the interactions a relation
#: counts (``queries.ADD_INTERACTIONS``), and the event files that earlier versions listed.
_INTERNAL_RELATION_PROPERTIES = frozenset({"event_keys", "batches"})


def visible_properties(props: Mapping[str, Any]) -> dict[str, Any]:
    """A relation's properties less those only the loads read."""
    return {k: v for k, v in props.items() if k not in _INTERNAL_RELATION_PROPERTIES}


def _batches(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(rows)
    while batch := list(islice(it, size)):
        yield batch


def _clean_props(props: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Check that every value is something a property can hold; drop ``None``."""
    out: dict[str, Any] = {}
    for key, value in props.items():
        if not isinstance(key, str) or not _PROPERTY_NAME.match(key):
            raise InputError(
                f"{where}: property name {key!r} is not allowed; use letters, digits and _"
            )
        if value is None:
            continue
        if isinstance(value, float) and not math.isfinite(value):
            raise InputError(f"{where}, field {key!r}: {value} is not a finite number")
        if isinstance(value, str) and len(value) > _MAX_STRING:
            raise InputError(
                f"{where}, field {key!r}: text of {len(value)} characters is over the "
                f"{_MAX_STRING} limit; shorten it or store it elsewhere"
            )
        if isinstance(value, list | tuple):
            if not all(isinstance(v, _Scalar) for v in value):
                raise InputError(
                    f"{where}, field {key!r}: lists may hold only text, numbers or booleans"
                )
            value = list(value)
        elif isinstance(value, np.generic):
            value = value.item()
        elif not isinstance(value, _Scalar):
            raise InputError(
                f"{where}, field {key!r}: a {type(value).__name__} cannot be stored as a "
                "property; flatten it or encode it as text"
            )
        out[key] = value
    return out


#: Vertices per request to the bundled store's bulk endpoint (one server transaction each).
#: Measured on 30,000 vertices: ten-thousand-row transactions 1.2-1.6x faster than one.
_BULK_VERTICES = 10_000
#: Edges per request (one journal entry, rolled back whole on a failure).
_BULK_EDGES = 50_000
#: Smallest write that takes the bulk path: it first reads every existing key of the label (or
#: relation type), which only pays for itself on large writes - not on an API's one-row upsert.
_BULK_MIN_ROWS = 2_000


def _node_key(row: dict[str, Any]) -> Any:
    return row["id"]


def _rel_key(row: dict[str, Any]) -> Any:
    return (row["start"], row["end"])


def _split_known(
    rows: Iterable[dict[str, Any]],
    existing: set[Any],
    key: Callable[[dict[str, Any]], Any],
    *,
    combine: bool = True,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Split rows into new ones (one per key, later rows' properties winning, as repeated
    MERGE ... SET += would leave them) and ones whose key exists already. Without
    ``combine``, a repeated key's later rows join the known ones instead, so that the MERGE
    written after the new rows applies its own rule to them (which row's values stand)."""
    new: dict[Any, dict[str, Any]] = {}
    known: list[dict[str, Any]] = []
    for row in rows:
        k = key(row)
        if k in existing or (k in new and not combine):
            known.append(row)
        elif k in new:
            new[k]["props"] = new[k]["props"] | row["props"]
        else:
            new[k] = row
    return list(new.values()), known


def _node_rows(rows: Iterable[Mapping[str, Any]], label: Node) -> Iterator[dict[str, Any]]:
    for i, row in enumerate(rows):
        node_id = row.get("id")
        if not isinstance(node_id, str) or not node_id:
            raise InputError(f"{label} row {i}: field 'id' must be non-empty text, got {node_id!r}")
        props = {k: v for k, v in row.items() if k != "id"}
        yield {"id": node_id, "props": _clean_props(props, f"{label} row {i} (id={node_id})")}


def _rel_rows(rows: Iterable[Mapping[str, Any]], rel: Rel) -> Iterator[dict[str, Any]]:
    for i, row in enumerate(rows):
        start, end = row.get("start"), row.get("end")
        for name, value in (("start", start), ("end", end)):
            if not isinstance(value, str) or not value:
                raise InputError(f"{rel} row {i}: field {name!r} must be a non-empty node id")
        props = {k: v for k, v in row.items() if k not in ("start", "end")}
        yield {"start": start, "end": end, "props": _clean_props(props, f"{rel} row {i}")}


def _append_edges(
    columns: Mapping[str, Any],
    index: Mapping[str, int],
    src: list[int],
    dst: list[int],
    w: list[float],
) -> None:
    """Append the edges of collected ``a``/``b``/``w`` columns whose two ends are in ``index``.

    An end outside it is a vertex of another label, or one committed after the vertex read
    (a load running now): its edges are left out, so the projection is the graph as of that
    first read.
    """
    for a, b, x in zip(columns["a"], columns["b"], columns["w"], strict=True):
        i, j = index.get(a), index.get(b)
        if i is not None and j is not None:
            src.append(i)
            dst.append(j)
            w.append(float(x))


class GraphStore:
    """Quanzi's access to the graph: batched idempotent writes, reads, projections.

    Parameters
    ----------
    driver : neo4j.Driver
        An open driver; the store does not close it unless :meth:`close` is called.
    database : str
        The database name on the server.
    batch_size : int
        Rows per write transaction.

    Notes
    -----
    Every write is ``UNWIND $rows ... MERGE`` on a uniquely constrained ``id`` and runs as one
    transaction per batch: a batch commits whole or not at all, and running the same write
    twice changes nothing.
    """

    def __init__(
        self,
        driver: Driver,
        *,
        database: str,
        batch_size: int = 5000,
        bulk: ArcadeHttpChannel | None = None,
    ) -> None:
        self.driver = driver
        self.database = database
        self.batch_size = batch_size
        self.bulk = bulk
        self._dialect: Dialect | None = None

    # -- plumbing ------------------------------------------------------------------------
    @property
    def dialect(self) -> Dialect:
        """The store's dialect, detected from the server agent on first use."""
        if self._dialect is None:
            try:
                agent = self.driver.get_server_info().agent
            except Exception as e:
                raise translate_errors(e, "connecting") from e
            self._dialect = Dialect.from_agent(agent)
        return self._dialect

    def close(self) -> None:
        """Close the driver (and the bulk channel)."""
        if self.bulk is not None:
            self.bulk.close()
        self.driver.close()

    def read(self, query: str, what: str, **params: Any) -> list[dict[str, Any]]:
        """Run a read query (``routing_=READ``) and return its records as dicts."""
        return [r.data() for r in self._managed_read(query, what, params)]

    def _managed_read(self, query: str, what: str, params: dict[str, Any]) -> list[Record]:
        """A read in a managed transaction, retried on transient failures."""
        try:
            records, _, _ = self.driver.execute_query(
                Query(query),
                params,
                database_=self.database,
                routing_=RoutingControl.READ,
            )
        except Exception as e:
            raise translate_errors(e, what) from e
        return records

    def read_autocommit(self, query: str, what: str, **params: Any) -> list[dict[str, Any]]:
        """Like :meth:`read`, in one round trip: an auto-commit read with no retries.

        :meth:`read` runs a managed transaction (``BEGIN`` + ``RUN`` + ``PULL``, then
        ``COMMIT``: two round trips) and retries transient failures for up to 30 s. The API's
        small per-request reads use this instead: measured on the bundled store, a ping
        2.2 ms instead of 5.2 ms and the customer 360 query 8 ms instead of 14 ms at one
        client (docs/api-latency.md), and a failing store answers the caller at once.

        Values come back as the driver decodes them, without ``Record.data()``'s walk through
        every nested value (a third of the CPU of a top-influencers request): the query must
        return maps and scalars (``properties(n)``), not nodes or relations.
        """
        try:
            with self.driver.session(
                database=self.database, default_access_mode=READ_ACCESS
            ) as session:
                result = session.run(Query(query), params)
                keys = result.keys()
                return [dict(zip(keys, r.values(), strict=True)) for r in result]
        except Exception as e:
            raise translate_errors(e, what) from e

    def read_collected(
        self, query: str, what: str, *, retry: bool = False, **params: Any
    ) -> list[Any]:
        """The list a query returns as its one row's ``rows`` column (``RETURN collect(...)
        AS rows``), read as :meth:`read_autocommit` reads, or with ``retry`` in a managed
        transaction that retries transient failures as :meth:`read` does (batch work such as
        ingest; two round trips).

        The driver handles every record as a message of its own (about 40 µs of Python
        each, more through ``Record.data()``): a list of 50 customers or 75 phones and
        e-mails costs 2-3 ms of CPU as rows and under 1.5 ms as one collected row; the
        properties of 5,000 customers 0.53 s through :meth:`read` and 0.12 s as one row
        (measured on the bundled store at 100k customers, docs/api-latency.md). Values come back as
        the driver decodes them: the query must collect maps and scalars, not nodes.
        """
        if retry:
            records = self._managed_read(query, what, params)
            return list(records[0]["rows"]) if records else []
        rows = self.read_autocommit(query, what, **params)
        return list(rows[0]["rows"]) if rows else []

    def read_bulk(self, query: str, what: str, **params: Any) -> list[dict[str, Any]]:
        """Like :meth:`read`, through the bulk channel when the store has one (large results)."""
        if self.bulk is None:
            return self.read(query, what, **params)
        return self.bulk.read(query, what, **params)

    def write(self, query: str, what: str, **params: Any) -> list[dict[str, Any]]:
        """Run one write query in its own transaction; return its rows (most return none)."""

        def work(tx: ManagedTransaction) -> list[dict[str, Any]]:
            return [record.data() for record in tx.run(query, params)]

        try:
            with self.driver.session(database=self.database) as session:
                return session.execute_write(work)
        except Exception as e:
            raise translate_errors(e, what) from e

    def write_many(
        self, statements: Sequence[tuple[str, dict[str, Any]]], what: str, *, bulk: bool = False
    ) -> None:
        """Run several write statements in **one** transaction: all commit, or none.

        With ``bulk`` on a store that has a bulk channel (the bundled store), the transaction
        runs through it: measured several times faster for statements of thousands of rows.
        """
        if bulk and self.bulk is not None:
            self.bulk.run_many(statements, what)
            return

        def work(tx: ManagedTransaction) -> None:
            for text, params in statements:
                tx.run(text, params).consume()

        try:
            with self.driver.session(database=self.database) as session:
                session.execute_write(work)
        except Exception as e:
            raise translate_errors(e, what) from e

    def delete_everything(self) -> None:
        """Remove every node and relation (demo resets and tests); the schema stays."""
        self.write(q.DELETE_EVERYTHING, "deleting everything")

    def verify(self) -> None:
        """Check once, without the retries of managed transactions, that the store answers."""
        try:
            self.driver.verify_connectivity()
        except Exception as e:
            raise translate_errors(e, "connecting") from e

    def ping(self) -> float:
        """Run a trivial query; return the round trip in seconds."""
        started = time.perf_counter()
        self.read(q.PING, "checking the store")
        return time.perf_counter() - started

    # -- writes --------------------------------------------------------------------------
    def upsert_nodes(
        self,
        label: Node | str,
        rows: Iterable[Mapping[str, Any]],
        *,
        batch_size: int | None = None,
        progress: Progress | None = None,
    ) -> int:
        """Create or update nodes keyed on ``id``; other keys of each row become properties.

        Idempotent, one transaction per batch. Returns the number of rows written.
        ``None`` values are skipped (they never erase a stored property).
        """
        node = check_label(label)
        what = f"writing {node} nodes"
        clean = list(_node_rows(rows, node))
        if self.bulk is None or len(clean) < _BULK_MIN_ROWS:
            return self._write_batches(q.merge_nodes(node), clean, what, batch_size, progress)
        assert self.bulk is not None
        bulk = self.bulk
        new, known = _split_known(clean, set(self.node_ids(node)), _node_key)
        return self._bulk_write(
            lambda chunk: bulk.create_vertices(node, chunk, what),
            _BULK_VERTICES,
            q.merge_nodes(node),
            new,
            known,
            what,
            batch_size,
            progress,
        )

    def upsert_relations(
        self,
        rel: Rel | str,
        start: Node | str,
        end: Node | str,
        rows: Iterable[Mapping[str, Any]],
        *,
        batch_size: int | None = None,
        progress: Progress | None = None,
        spans: tuple[str, str] | None = None,
        largest: str | None = None,
        smallest: str | None = None,
        tie_smallest: str | None = None,
    ) -> int:
        """Create or update one ``rel`` per ``(start, end)`` pair; other keys become properties.

        Both end nodes must exist (rows whose ends are missing write nothing). With ``spans``
        (two time properties, as ``("joined_at", "left_at")``), an existing relation keeps the
        later of its and the row's time for each, and its ``active`` follows them
        (:func:`queries.merge_spans`). With ``largest`` (a property, as ``"weight"``), an
        existing relation takes a row only when the row's value of it is larger; with
        ``smallest``, smaller (:func:`queries.merge_ordered`); with ``tie_smallest`` too, on
        an equal value, when the row's ``tie_smallest`` is smaller.
        """
        r, a, b = check_rel(rel), check_label(start), check_label(end)
        what = f"writing {r} relations"
        clean = list(_rel_rows(rows, r))
        ordered = spans is not None or largest is not None or smallest is not None
        if spans is not None:
            merge = q.merge_spans(r, a, b, *spans)
        elif largest is not None:
            merge = q.merge_ordered(r, a, b, largest, largest=True, tie_smallest=tie_smallest)
        elif smallest is not None:
            merge = q.merge_ordered(r, a, b, smallest, largest=False, tie_smallest=tie_smallest)
        else:
            merge = q.merge_relations(r, a, b)
        if self.bulk is None or len(clean) < _BULK_MIN_ROWS:
            return self._write_batches(merge, clean, what, batch_size, progress)
        assert self.bulk is not None
        bulk = self.bulk
        existing, rid_a, rid_b = self._pairs_and_record_ids(r, a, b)
        new, known = _split_known(clean, existing, _rel_key, combine=not ordered)
        # A row whose end is not a vertex yet (or was created after the ids were read) goes
        # through MERGE, which writes it if the end exists by then, and nothing otherwise.
        linkable = [row for row in new if row["start"] in rid_a and row["end"] in rid_b]
        if len(linkable) < len(new):
            known += [row for row in new if row["start"] not in rid_a or row["end"] not in rid_b]
        linkable.sort(key=lambda row: rid_a[row["start"]])  # the server links them in this order
        return self._bulk_write(
            lambda chunk: bulk.create_edges(
                r, [(rid_a[x["start"]], rid_b[x["end"]], x["props"]) for x in chunk], what
            ),
            _BULK_EDGES,
            merge,
            linkable,
            known,
            what,
            batch_size,
            progress,
        )

    def _bulk_write(
        self,
        create: Callable[[list[dict[str, Any]]], None],
        request_rows: int,
        merge: str,
        new: list[dict[str, Any]],
        known: list[dict[str, Any]],
        what: str,
        batch_size: int | None,
        progress: Progress | None,
    ) -> int:
        """Create rows checked to be new through the bulk endpoint; MERGE the rest.

        Each request is all or nothing (the bulk channel undoes a failed one). One that hits a
        row another writer created meanwhile, or an end node deleted meanwhile, is redone with
        MERGE, so the result is the same as all-MERGE.
        """
        assert self.bulk is not None
        # A load that starts after another writer was killed mid-request undoes that request
        # first (as opening the store does): a listing of an empty folder when there is none.
        self.bulk.recover()
        done = 0
        for batch in _batches(new, max(batch_size or self.batch_size, request_rows)):
            try:
                create(batch)
            except ConflictError:
                self._write_batches(merge, batch, what, batch_size, None)
            done += len(batch)
            if progress is not None:
                progress(done, None)
        return done + self._write_batches(merge, known, what, batch_size, progress)

    def set_node_properties(
        self,
        label: Node | str,
        rows: Iterable[Mapping[str, Any]],
        *,
        progress: Progress | None = None,
    ) -> int:
        """Write algorithm results (``{"id", <property>: value, ...}``) onto existing nodes.

        Large writes go through the bulk channel when the store has one: the same statement,
        one transaction per batch, but JSON instead of the driver's pure-Python packstream
        (measured: writing 5,600 customers' analysis results took 25 s through Bolt, most
        of it packing).
        """
        node = check_label(label)
        # Checked whole before the first batch, so a bad row cannot leave earlier batches
        # written and later ones not.
        what = f"writing {node} results"
        clean = list(_node_rows(rows, node))
        if self.bulk is None or len(clean) < _BULK_MIN_ROWS:
            return self._write_batches(q.set_node_properties(node), clean, what, None, progress)
        done = 0
        for batch in _batches(clean, self.batch_size):
            self.bulk.run(q.set_node_properties(node), what, rows=batch)
            done += len(batch)
            if progress is not None:
                progress(done, None)
        return done

    def remove_node_properties(
        self, label: Node | str, props: Sequence[str], *, ids: Sequence[str] | None = None
    ) -> None:
        """Remove properties (stale results of an earlier run) from every ``label`` node, or
        only from the nodes ``ids`` (one transaction per batch)."""
        node = check_label(label)
        bad = [p for p in props if not _PROPERTY_NAME.match(p)]
        if bad:
            raise InputError(f"property names {bad} are not allowed; use letters, digits and _")
        what = f"clearing {node} results"
        if ids is None:
            self.write(q.remove_node_properties(node, props), what)
            return
        for batch in _batches(list(dict.fromkeys(ids)), self.batch_size):
            self.write(q.remove_properties_of(node, tuple(props)), what, ids=batch)

    def replace_relations(
        self,
        rel: Rel | str,
        start: Node | str,
        end: Node | str,
        start_ids: Sequence[str],
        rows: Iterable[Mapping[str, Any]],
    ) -> int:
        """Replace every ``rel`` leaving ``start_ids`` with ``rows``, in one transaction.

        Used to rewrite results such as circle membership without a window where the old
        and the new coexist or neither exists.
        """
        r, a, b = check_rel(rel), check_label(start), check_label(end)
        clean = list(_rel_rows(rows, r))
        self.write_many(
            [
                (q.delete_relations_from(r, a), {"ids": list(start_ids)}),
                (q.merge_relations(r, a, b), {"rows": clean}),
            ],
            f"replacing {r} relations",
        )
        return len(clean)

    def _write_batches(
        self,
        query: str,
        rows: Iterable[dict[str, Any]],
        what: str,
        batch_size: int | None,
        progress: Progress | None,
    ) -> int:
        done = 0
        for batch in _batches(rows, batch_size or self.batch_size):
            self.write_many([(query, {"rows": batch})], what)
            done += len(batch)
            if progress is not None:
                progress(done, None)
        return done

    # -- reads ---------------------------------------------------------------------------
    def get_node(self, label: Node | str, node_id: str) -> dict[str, Any] | None:
        """The properties of one node, or ``None``."""
        node = check_label(label)
        rows = self.read(q.get_node(node), f"reading {node} {node_id!r}", id=node_id)
        return dict(rows[0]["props"]) if rows else None

    def node_ids(self, label: Node | str) -> list[str]:
        """Every id of one node kind."""
        node = check_label(label)
        if self.bulk is not None:
            return self._record_ids(node)[1]
        rows = self.read(q.projection_nodes(node), f"reading {node} ids")
        return list(rows[0]["ids"]) if rows else []

    def read_pairs(
        self, rel: Rel | str, start: Node | str, end: Node | str
    ) -> list[tuple[str, str]]:
        """Every ``(start id, end id)`` joined by ``rel`` (e.g. customer -> group memberships)."""
        r, a, b = check_rel(rel), check_label(start), check_label(end)
        if self.bulk is None:
            rows = self.read(q.projection_edges(r, a, b, None), f"reading {r} relations")
            return list(zip(rows[0]["a"], rows[0]["b"], strict=True)) if rows else []
        starts = dict(zip(*self._record_ids(a), strict=True))
        ends = starts if b == a else dict(zip(*self._record_ids(b), strict=True))
        rows = self.bulk.read_sql(q.sql_edge_record_ids(r, None), f"reading {r} relations")
        if not rows or rows[0].get("a") is None:
            return []
        return [
            (starts[x], ends[y])
            for x, y in zip(rows[0]["a"], rows[0]["b"], strict=True)
            if x in starts and y in ends
        ]

    def read_customer_top(
        self,
        filters: Collection[str],
        *,
        sort: str,
        what: str,
        bound: q.TopBound = None,
        **params: Any,
    ) -> list[dict[str, Any]]:
        """Rows ``{"props", "sort_key"}`` of :func:`~quanzi.graph.queries.api_customer_top`
        (``params``: one per filter, ``limit``, and those of ``bound``).

        On the bundled store, filters on the customer's own properties run as ArcadeDB SQL,
        which walks the score's range index (its Cypher reads every customer to order
        them); other filters, and Neo4j, run the Cypher query.
        """
        sql = q.sql_customer_top(filters, sort=sort, bound=bound) if self.bulk is not None else None
        if sql is None or self.bulk is None:
            return self.read_autocommit(
                q.api_customer_top(filters, sort=sort, bound=bound), what, **params
            )
        out = []
        for row in self.bulk.read_sql(sql, what, **params):
            props = {k: v for k, v in row.items() if not k.startswith("@")}
            out.append({"props": props, "sort_key": props.get(sort)})
        return out

    def node_table(self, label: Node | str) -> list[dict[str, Any]]:
        """Every node of one kind with all its properties (``id`` included), one dict each."""
        node = check_label(label)
        rows = self.read_bulk(q.node_table(node), f"reading {node} nodes")
        return [dict(p) for p in rows[0]["props"]] if rows else []

    def relation_table(
        self, rel: Rel | str, start: Node | str, end: Node | str
    ) -> list[dict[str, Any]]:
        """Every ``rel`` from ``start`` to ``end`` nodes: ``{"start", "end", <property>...}``."""
        r, a, b = check_rel(rel), check_label(start), check_label(end)
        rows = self.read_bulk(q.relation_table(r, a, b), f"reading {r} relations")
        if not rows:
            return []
        return [
            visible_properties(props) | {"start": x, "end": y}
            for x, y, props in zip(rows[0]["a"], rows[0]["b"], rows[0]["props"], strict=True)
        ]

    def read_node_columns(
        self, label: Node | str, props: Mapping[str, str]
    ) -> dict[str, list[Any]]:
        """Every ``label`` node (less merged-away customers) as parallel columns: ``id`` and
        one per property; ``props`` maps each property to ``text``, ``number`` or ``list``,
        which says what stands in for a missing value (``''``, ``0.0``, ``[]``)."""
        node = check_label(label)
        rows = self.read_bulk(q.node_columns(node, dict(props)), f"reading {node} properties")
        if not rows or rows[0]["id"] is None:
            return {name: [] for name in ("id", *props)}
        return {name: list(rows[0][name] or []) for name in ("id", *props)}

    def read_relation_columns(
        self, rel: Rel | str, start: Node | str, end: Node | str, props: Mapping[str, str]
    ) -> dict[str, list[Any]]:
        """Every ``rel`` as parallel columns: ``a``, ``b`` (the end ids) and one per relation
        property (kinds as in :meth:`read_node_columns`)."""
        r, a, b = check_rel(rel), check_label(start), check_label(end)
        rows = self.read_bulk(q.relation_columns(r, a, b, dict(props)), f"reading {r} relations")
        if not rows or rows[0]["a"] is None:
            return {name: [] for name in ("a", "b", *props)}
        return {name: list(rows[0][name] or []) for name in ("a", "b", *props)}

    def delete_nodes(self, label: Node | str, ids: Sequence[str]) -> None:
        """Delete nodes by id, with their relations, in one transaction."""
        node = check_label(label)
        self.write(q.delete_nodes(node), f"deleting {node} nodes", ids=list(ids))

    def note_graph_change(self, what: str, *, erasure: bool = False) -> None:
        """Count a change of the customers' ties or circles, groups and interests (an
        ingest, an analysis, a merge, a split, an erasure) in the store, where every process
        caching the graph sees it (:meth:`graph_changes`).

        A failure is logged, not raised: the change itself is done, and caches fall back on
        their age limit.
        """
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        try:
            self.write(
                q.NOTE_GRAPH_CHANGE,
                "noting a change of the graph",
                id=q.GRAPH_CHANGES_ID,
                erasure=int(erasure),
                at=at,
                kind=what,
            )
        except QuanziError as e:
            log.warning("could not note the %s for other processes' caches: %s", what, e)

    def graph_changes(self) -> tuple[int, int]:
        """How many changes and how many erasures :meth:`note_graph_change` has counted (one
        key look-up; (0, 0) before the first)."""
        rows = self.read_autocommit(
            q.READ_GRAPH_CHANGES, "reading the graph's change count", id=q.GRAPH_CHANGES_ID
        )
        if not rows:
            return (0, 0)
        return (int(rows[0]["changes"] or 0), int(rows[0]["erasures"] or 0))

    def counts(self) -> dict[str, int]:
        """Number of nodes per label and of relations per type (those with at least one).

        Each label and type is counted on its own, from the store's own counts: at 100k
        customers on the bundled store 20-40 ms, where grouping every node and relation
        by label and type took 3 s (docs/architecture.md)."""
        labels, types = [n.value for n in Node], [r.value for r in Rel]
        what = "counting nodes and relations"
        found: dict[str, Any]
        if self.bulk is not None:
            existing = {r["name"] for r in self.bulk.read_sql(q.SQL_TYPE_NAMES, what)}
            present = [x for x in (*labels, *types) if x in existing]
            rows = self.bulk.read_sql(q.sql_type_counts(present), what) if present else []
            found = dict(rows[0]) if rows else {}
        else:
            rows = self.read(q.count_labels_and_types(labels, types), what)
            found = {r["name"]: r["n"] for r in rows}
        return {name: int(n) for name, n in found.items() if n}

    def neighbourhood(
        self,
        label: Node | str,
        node_id: str,
        *,
        depth: int = 1,
        limit: int = 500,
        rels: Sequence[Rel | str] | None = None,
    ) -> Neighbourhood:
        """Everything within ``depth`` hops of a node, through at most ``limit`` paths."""
        node = check_label(label)
        if not 1 <= depth <= 4:
            raise InputError(f"depth must be between 1 and 4, got {depth}")
        if not 1 <= limit <= 10_000:
            raise InputError(f"limit must be between 1 and 10000, got {limit}")
        types = [check_rel(r) for r in rels] if rels else None
        rows = self.read(
            q.neighbourhood(node, depth, types),
            f"reading the neighbourhood of {node} {node_id!r}",
            id=node_id,
            limit=limit + 1,
        )
        if not rows:
            raise NotFoundError(f"No {node} with id {node_id!r}")
        row = rows[0]
        centre = dict(row["centre"]) | {"_label": node.value}
        nodes: dict[str, dict[str, Any]] = {}
        relations = []
        for r in row["rels"]:
            for end in ("start", "end"):
                n = r[f"{end}_node"]
                nodes.setdefault(n["id"], dict(n) | {"_label": r[f"{end}_label"]})
            relations.append(
                {
                    "type": r["type"],
                    "start": r["start"],
                    "end": r["end"],
                    "props": visible_properties(r["props"]),
                }
            )
        nodes.pop(centre["id"], None)
        return Neighbourhood(centre, nodes, relations, truncated=len(relations) > limit)

    def read_projection(
        self,
        rels: Sequence[Rel | str],
        *,
        label: Node | str = Node.CUSTOMER,
        weight: str | None = "weight",
        directed: bool = False,
    ) -> Projection:
        """Read every ``label`` node and the ``rels`` among them as a :class:`Projection`.

        Parallel relations between the same pair (in either direction when undirected) are
        kept as separate edges; algorithms sum their weights where that matters. Nodes are
        read first: relations to nodes that a concurrent load commits afterwards are left out.
        """
        node = check_label(label)
        types = [check_rel(r) for r in rels]
        if weight is not None and not _PROPERTY_NAME.match(weight):
            raise InputError(f"weight property {weight!r} is not a property name")
        if self.bulk is not None:
            ids, src, dst, w = self._projection_by_record_ids(node, types, weight)
        else:
            ids, src, dst, w = self._projection_by_cypher(node, types, weight)
        return Projection(
            ids,
            np.asarray(src, dtype=np.int64),
            np.asarray(dst, dtype=np.int64),
            np.asarray(w, dtype=np.float64),
            directed,
        )

    def _projection_by_cypher(
        self, node: Node, types: list[Rel], weight: str | None
    ) -> tuple[list[str], list[int], list[int], list[float]]:
        """Projection columns through Cypher: ids, then each relation type's id columns."""
        ids: list[str] = self.read(q.projection_nodes(node), f"reading {node} ids")[0]["ids"]
        index = {v: i for i, v in enumerate(ids)}
        src: list[int] = []
        dst: list[int] = []
        w: list[float] = []
        for r in types:
            rows = self.read(q.projection_edges(r, node, node, weight), f"reading {r} relations")
            if rows:
                _append_edges(rows[0], index, src, dst, w)
        return ids, src, dst, w

    def _projection_by_record_ids(
        self, node: Node, types: list[Rel], weight: str | None
    ) -> tuple[list[str], list[int], list[int], list[float]]:
        """Projection columns through the bulk channel's SQL, joined on record ids here.

        Edges whose ends are not both ``node`` vertices (other labels, or a vertex created
        after the vertex list was read) are left out, as the Cypher ``MATCH`` would.
        """
        assert self.bulk is not None
        rids, ids = self._record_ids(node)
        index = {rid: i for i, rid in enumerate(rids)}
        src: list[int] = []
        dst: list[int] = []
        w: list[float] = []
        for r in types:
            rows = self.bulk.read_sql(q.sql_edge_record_ids(r, weight), f"reading {r} relations")
            if rows and rows[0].get("a") is not None:
                _append_edges(rows[0], index, src, dst, w)
        return ids, src, dst, w

    def _record_ids(self, node: Node) -> tuple[list[str], list[str]]:
        """Record ids and ``id`` values of every ``node`` vertex (bundled store only)."""
        assert self.bulk is not None
        rows = self.bulk.read_sql(q.sql_record_ids(node), f"reading {node} ids")
        if not rows or rows[0].get("rids") is None:
            return [], []
        rids, ids = list(rows[0]["rids"]), list(rows[0]["ids"])
        if len(rids) != len(ids):
            raise StoreError(f"Some {node} nodes have no id; run `quanzi store status` and check")
        return rids, ids

    def _pairs_and_record_ids(
        self, r: Rel, a: Node, b: Node
    ) -> tuple[set[tuple[str, str]], dict[str, str], dict[str, str]]:
        """The ``(start id, end id)`` pairs ``r`` joins, and id -> record id of the start and
        end vertices (bundled store only; the bulk endpoint links edges by record id)."""
        assert self.bulk is not None
        rids_a, ids_a = self._record_ids(a)
        rids_b, ids_b = (rids_a, ids_a) if b == a else self._record_ids(b)
        id_of_a = dict(zip(rids_a, ids_a, strict=True))
        id_of_b = id_of_a if b == a else dict(zip(rids_b, ids_b, strict=True))
        # Edge records, not a MATCH: an edge a failed bulk request left unlinked counts too.
        rows = self.bulk.read_sql(q.sql_edge_record_ids(r, None), f"reading {r} relations")
        pairs: set[tuple[str, str]] = set()
        if rows and rows[0].get("a") is not None:
            pairs = {
                (id_of_a[x], id_of_b[y])
                for x, y in zip(rows[0]["a"], rows[0]["b"], strict=True)
                if x in id_of_a and y in id_of_b
            }
        return pairs, dict(zip(ids_a, rids_a, strict=True)), dict(zip(ids_b, rids_b, strict=True))
