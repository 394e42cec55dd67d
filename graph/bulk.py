"""The bundled store's bulk channel: ArcadeDB's HTTP command and query endpoints.

Measured on 2 cores (benchmarks/store_load.py and the notes in docs/architecture.md), a Cypher
statement runs several times faster sent to ArcadeDB's HTTP endpoint than through its Bolt
plugin. :class:`~quanzi.graph.store.GraphStore` uses this channel for large reads (SQL over
record ids), for result write-backs, and for ``write_many(..., bulk=True)``: several
statements in one HTTP transaction session (``begin`` / ``commit``), which ingest uses to
write each batch of customers.

Rows checked to be new go through ArcadeDB's **bulk endpoint** (``/api/v1/batch``, its
``GraphBatch`` loader): measured several times faster than any atomic statement, but it
commits in chunks, so a failure mid-request would leave the chunks before it written. Quanzi
makes each request all-or-nothing:

- **vertices**: the endpoint's vertex chunk (``vertexBatchSize``) is set to the whole request,
  so one request is one transaction on the server: a failure (a duplicate id) leaves nothing,
  and readers never see part of it;
- **edges** are linked in several commits (edge records and out-lists, then in-lists), so they
  go through a **write-ahead journal** (:class:`BulkJournal`): before a request is sent, the
  record-id pairs it creates are written to a file under the store's folder, fsynced and
  locked by the writer; once the server confirms every edge, the entry is deleted. On any
  failure the edges with those pairs are deleted before the error is raised; if the writer is
  killed, or the rollback cannot reach the server, the entry stays and the next
  :func:`~quanzi.graph.connect.open_store` (or the next bulk write) rolls it back. Readers
  may see an edge request while it is being written, and after a crash until that rollback.

This module is ArcadeDB-specific and used only for the bundled store; with Neo4j the store
writes everything through Bolt.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

import httpx

from quanzi.errors import ConflictError, StoreError, StoreUnavailableError
from quanzi.graph import queries as q
from quanzi.model import check_label, check_rel

__all__ = ["ArcadeHttpChannel", "BulkJournal"]

log = logging.getLogger(__name__)

#: Keys per rollback statement (``id IN :ids`` / ``@rid IN :rids``).
_ROLLBACK_CHUNK = 5000

#: Header naming an open HTTP transaction on the server.
_SESSION_HEADER = "arcadedb-session-id"


class BulkJournal:
    """Write-ahead journal of bulk requests: one file per request in flight.

    A file ``<token>.json`` names what the request creates: ``{"kind": "edges", "type": rel,
    "pairs": [[out, in], ...]}`` with the record ids of the two ends. The writer holds an
    exclusive ``flock`` on it for as long as it runs; the kernel drops the lock when the
    writer dies, so an entry whose lock can be taken belongs to a writer that is gone and is
    rolled back by :meth:`ArcadeHttpChannel.recover`. The files
    hold only record ids, are created with mode 0600 beside the database, and exist only while
    a request runs.

    Parameters
    ----------
    folder : Path
        Created if missing; ``<data_dir>/store/bulk-journal`` for the bundled store.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    @contextlib.contextmanager
    def entry(self, record: dict[str, Any]) -> Iterator[Path]:
        """Record ``record`` durably as pending, locked by this process, for the ``with`` block.

        The file is written under a temporary name, locked, fsynced and then renamed, so a
        recovery never sees a partial entry. Leaving the block releases the lock but keeps the
        file: call :meth:`done` once the request is confirmed or rolled back.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        token = secrets.token_hex(8)
        tmp = self.folder / f".{token}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, json.dumps(record).encode())
            os.fsync(fd)
            path = self.folder / f"{token}.json"
            os.rename(tmp, path)
            self._sync_folder()
            yield path
        finally:
            os.close(fd)

    def done(self, path: Path) -> None:
        """Forget an entry: its request is confirmed, or rolled back."""
        path.unlink(missing_ok=True)
        self._sync_folder()

    def abandoned(self) -> Iterator[tuple[Path, dict[str, Any]]]:
        """Entries whose writer is gone (their lock can be taken), oldest first.

        The lock is held while the caller rolls the entry back, so two processes opening the
        store at once do not both work on it.
        """
        if not self.folder.is_dir():
            return
        for tmp in self.folder.glob(".*.tmp"):  # killed before its request was sent
            with contextlib.suppress(OSError), _locked(tmp) as got:
                if got:
                    tmp.unlink()
        entries = sorted(self.folder.glob("*.json"), key=lambda p: p.stat().st_mtime)
        for path in entries:
            with _locked(path) as got:
                if not got or not path.exists():
                    continue
                try:
                    record = json.loads(path.read_text())
                except (OSError, ValueError) as e:
                    raise StoreError(
                        f"The bulk journal entry {path} cannot be read ({e}); the writes it "
                        "names may be half done: check the store, then delete the file"
                    ) from e
                yield path, record

    def _sync_folder(self) -> None:
        fd = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[bool]:
    """Try to take ``path``'s lock without waiting; yield whether it was taken."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


class ArcadeHttpChannel:
    """Run write statements through ArcadeDB's ``/api/v1/command/<db>`` endpoint.

    Parameters
    ----------
    base_url : str
        ``http://127.0.0.1:<port>`` of the bundled server.
    database, user, password : str
        As for Bolt.
    journal : BulkJournal
        Where edge requests are recorded while they run (see :meth:`create_edges`).
    """

    def __init__(
        self,
        base_url: str,
        database: str,
        user: str,
        password: str,
        *,
        journal: BulkJournal,
        timeout_s: float = 600,
    ) -> None:
        self.database = database
        self.journal = journal
        self._client = httpx.Client(base_url=base_url, auth=(user, password), timeout=timeout_s)
        self._edge_types: set[str] = set()

    # -- the bulk endpoint ---------------------------------------------------------------
    def create_vertices(self, label: str, rows: Sequence[dict[str, Any]], what: str) -> None:
        """Create ``label`` vertices from rows ``{"id", "props"}`` whose ids are new.

        One transaction on the server: the endpoint creates vertices ``vertexBatchSize`` at a
        time, each chunk one commit, so the chunk is set to the whole request. A failure
        leaves nothing (:class:`~quanzi.errors.ConflictError` when an id exists already).
        """
        node = check_label(label)
        head = {"@type": "vertex", "@class": node.value}
        body = _ndjson(head | {"id": r["id"]} | r["props"] for r in rows)
        chunk = {"vertexBatchSize": str(max(len(rows), 1))}
        self._batch(body, len(rows), "verticesCreated", what, chunk)

    def create_edges(
        self, rel: str, rows: Sequence[tuple[str, str, dict[str, Any]]], what: str
    ) -> None:
        """Create ``rel`` edges from rows ``(start record id, end record id, props)``.

        The pairs must be new (no ``rel`` joins them yet). All or nothing through the journal
        (see the module notes); an end that no longer exists raises
        :class:`~quanzi.errors.ConflictError`.
        """
        r = check_rel(rel)
        if r.value not in self._edge_types:
            self._post("command", q.sql_create_edge_type(r), what, {}, language="sql")
            self._edge_types.add(r.value)
        head = {"@type": "edge", "@class": r.value}
        lines = (head | {"@from": a, "@to": b} | p for a, b, p in rows)
        record = {"kind": "edges", "type": r.value, "pairs": [[a, b] for a, b, _ in rows]}
        with self.journal.entry(record) as entry:
            try:
                self._batch(_ndjson(lines), len(rows), "edgesCreated", what, {})
            except BaseException:
                # Undo what the commits before the failure wrote. If that fails too (the
                # server is gone), the entry stays and the next open of the store undoes it.
                try:
                    self._roll_back(record, f"{what} (undoing a failed batch)")
                except StoreError:
                    log.warning("a failed bulk write is left for the next open to roll back")
                else:
                    self.journal.done(entry)
                raise
            self.journal.done(entry)

    def recover(self) -> int:
        """Roll back every journalled request whose writer is gone; return how many."""
        done = 0
        for path, record in self.journal.abandoned():
            self._roll_back(record, "rolling back an unfinished bulk write")
            self.journal.done(path)
            log.warning(
                "rolled back an unfinished bulk write of %s %s (its writer stopped before the "
                "store confirmed it)",
                len(record.get("ids") or record.get("pairs") or ()),
                record.get("type"),
            )
            done += 1
        return done

    def _batch(
        self, body: bytes, expected: int, counter: str, what: str, params: dict[str, str]
    ) -> None:
        """POST one NDJSON payload to the bulk endpoint; check the server created all of it."""
        try:
            response = self._client.post(
                f"/api/v1/batch/{self.database}",
                content=body,
                # The WAL stays on: without it a store killed mid-batch may not recover.
                params={"wal": "true"} | params,
                headers={"Content-Type": "application/x-ndjson"},
            )
        except httpx.HTTPError as e:
            raise StoreUnavailableError(
                f"The bundled store cannot be reached while {what} ({e}): "
                "run `quanzi store status`, then `quanzi store start`"
            ) from e
        if response.status_code != 200:
            _raise_for(response, what)
        created = response.json().get(counter)
        if created != expected:
            raise StoreError(
                f"The bundled store created {created} of {expected} records while {what}"
            )

    def _roll_back(self, record: dict[str, Any], what: str) -> None:
        """Delete the edges a journalled request created, found by their end pairs.

        The pairs were new when the request was planned, so every edge found with one was
        written by it (barring another writer creating the very same relation meanwhile).
        """
        if record.get("kind") == "edges":
            rel = check_rel(str(record["type"]))
            pairs = {(a, b) for a, b in record["pairs"]}
            rows = self.read_sql(q.sql_edge_rids(rel), what)
            if not rows or rows[0].get("r") is None:
                return
            doomed = [
                rid
                for rid, a, b in zip(rows[0]["r"], rows[0]["a"], rows[0]["b"], strict=True)
                if (a, b) in pairs
            ]
            self._delete_in_chunks(q.sql_delete_records(rel), "rids", doomed, what)
        else:
            raise StoreError(f"Unknown bulk journal entry {record.get('kind')!r} while {what}")

    def _delete_in_chunks(self, query: str, name: str, keys: Sequence[Any], what: str) -> None:
        for i in range(0, len(keys), _ROLLBACK_CHUNK):
            params = {name: list(keys[i : i + _ROLLBACK_CHUNK])}
            self._post("command", query, what, params, language="sql")

    def run(self, query: str, what: str, **params: Any) -> None:
        """Run one Cypher write statement as one transaction."""
        self._post("command", query, what, params)

    def run_many(self, statements: Sequence[tuple[str, dict[str, Any]]], what: str) -> None:
        """Run several Cypher write statements in **one** transaction: all commit, or none.

        Uses the server's HTTP transaction session (``begin`` / ``commit``); a statement that
        fails ends the session on the server, which drops everything it had written, and the
        session is rolled back here too in case it is still open.
        """
        session = self._begin(what)
        headers = {_SESSION_HEADER: session}
        try:
            for query, params in statements:
                self._post("command", query, what, params, headers=headers)
            self._call("commit", what, headers=headers)
        except BaseException:
            # The server may have dropped the session already (a failed statement), or be gone.
            with contextlib.suppress(httpx.HTTPError):
                self._client.post(f"/api/v1/rollback/{self.database}", headers=headers)
            raise

    def read(self, query: str, what: str, **params: Any) -> list[dict[str, Any]]:
        """Run one Cypher read statement; return its rows.

        Large collected results (a projection's edge list) decode faster from JSON here than
        from Bolt's packstream in the pure-Python driver.
        """
        rows: list[dict[str, Any]] = self._post("query", query, what, params)["result"]
        return rows

    def read_sql(self, query: str, what: str, **params: Any) -> list[dict[str, Any]]:
        """Run one ArcadeDB SQL read statement; return its rows (``[]`` if its type is unknown).

        Used for projections: SQL's ``list()`` of edge endpoints as record ids skips the
        vertex lookups a Cypher ``MATCH`` does (measured 2x faster on the projection read).
        Also the API's top-of-a-score reads (``params`` as ``:name`` parameters): ArcadeDB's
        SQL walks a range index for ``ORDER BY ... LIMIT``, its Cypher scans every node.
        A type that has never held a record does not exist yet in ArcadeDB's schema; reading
        it means reading nothing.
        """
        try:
            result = self._post("query", query, what, params, language="sql")["result"]
        except StoreError as e:
            if "SchemaException" in str(e):
                return []
            raise
        rows: list[dict[str, Any]] = result
        return rows

    def _begin(self, what: str) -> str:
        response = self._call("begin", what)
        session = response.headers.get(_SESSION_HEADER)
        if not session:
            raise StoreError(f"The bundled store opened no transaction while {what}")
        return str(session)

    def _call(
        self, endpoint: str, what: str, *, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        """POST to a transaction endpoint (``begin``, ``commit``) with no body."""
        response = self._send(endpoint, what, None, headers)
        if response.status_code not in (200, 204):
            _raise_for(response, f"{what} ({endpoint} of the transaction)")
        return response

    def _send(
        self,
        endpoint: str,
        what: str,
        body: dict[str, Any] | None,
        headers: dict[str, str] | None,
    ) -> httpx.Response:
        try:
            return self._client.post(
                f"/api/v1/{endpoint}/{self.database}", json=body, headers=headers
            )
        except httpx.HTTPError as e:
            raise StoreUnavailableError(
                f"The bundled store cannot be reached while {what} ({e}): "
                "run `quanzi store status`, then `quanzi store start`"
            ) from e

    def _post(
        self,
        endpoint: str,
        query: str,
        what: str,
        params: dict[str, Any],
        *,
        headers: dict[str, str] | None = None,
        language: str = "cypher",
    ) -> Any:
        """POST a statement (``limit: -1``: never truncate a result) and return the JSON body."""
        body = {"language": language, "command": query, "params": params, "limit": -1}
        response = self._send(endpoint, what, body, headers)
        if response.status_code == 200:
            return response.json()
        _raise_for(response, what)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()


#: One NDJSON line per record; compact separators keep the payload small.
_ENCODE = json.JSONEncoder(separators=(",", ":")).encode


def _ndjson(lines: Iterable[dict[str, Any]]) -> bytes:
    return "\n".join(map(_ENCODE, lines)).encode()


def _raise_for(response: httpx.Response, what: str) -> NoReturn:
    """Raise the project's error for a refused request."""
    text = response.text[:500]
    if "Duplicated key" in text or "DuplicatedKey" in text or "duplicate key" in text:
        raise ConflictError(f"A uniqueness rule was broken while {what}: {text}")
    if "RecordNotFoundException" in text:
        raise ConflictError(f"A node was deleted by another writer while {what}: {text}")
    raise StoreError(f"The graph store rejected a statement while {what}: {text}")
