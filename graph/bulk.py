"""The bundled store's bulk channel: ArcadeDB's HTTP command and query endpoints.

Measured on 2 cores (benchmarks/store_load.py and the notes in docs/architecture.md), the same
``UNWIND $rows ... CREATE`` statement runs several times faster sent to ArcadeDB's HTTP
endpoint than through its Bolt plugin, and ``CREATE`` of rows known to be new is cheaper than
``MERGE``. :class:`~quanzi.graph.store.GraphStore` uses this channel to *create* rows it has
checked are new (each command one transaction on the server, so a batch commits whole or not
at all), and for ``write_many(..., bulk=True)``: several statements in one HTTP transaction
session (``begin`` / ``commit``), which ingest uses to write each batch of customers.

This module is ArcadeDB-specific and used only for the bundled store; with Neo4j the store
writes everything through Bolt.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any, NoReturn

import httpx

from quanzi.errors import ConflictError, StoreError, StoreUnavailableError

__all__ = ["ArcadeHttpChannel"]

#: Header naming an open HTTP transaction on the server.
_SESSION_HEADER = "arcadedb-session-id"


class ArcadeHttpChannel:
    """Run write statements through ArcadeDB's ``/api/v1/command/<db>`` endpoint.

    Parameters
    ----------
    base_url : str
        ``http://127.0.0.1:<port>`` of the bundled server.
    database, user, password : str
        As for Bolt.
    """

    def __init__(
        self, base_url: str, database: str, user: str, password: str, *, timeout_s: float = 600
    ) -> None:
        self.database = database
        self._client = httpx.Client(base_url=base_url, auth=(user, password), timeout=timeout_s)

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


def _raise_for(response: httpx.Response, what: str) -> NoReturn:
    """Raise the project's error for a refused request."""
    text = response.text[:500]
    if "Duplicated key" in text or "DuplicatedKey" in text:
        raise ConflictError(f"A uniqueness rule was broken while {what}: {text}")
    raise StoreError(f"The graph store rejected a statement while {what}: {text}")
