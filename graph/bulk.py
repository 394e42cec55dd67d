"""The bundled store's bulk channel: ArcadeDB's HTTP command and query endpoints.

Measured on 2 cores (benchmarks/store_load.py and the notes in docs/architecture.md), the same
``UNWIND $rows ... CREATE`` statement runs several times faster sent to ArcadeDB's HTTP
endpoint than through its Bolt plugin, and ``CREATE`` of rows known to be new is cheaper than
``MERGE``. :class:`~quanzi.graph.store.GraphStore` uses this channel only to *create* rows it
has checked are new; every update still goes through Bolt with ``MERGE``. Each command is one
transaction on the server, so a batch commits whole or not at all.

This module is ArcadeDB-specific and used only for the bundled store; with Neo4j the store
writes everything through Bolt.
"""

from __future__ import annotations

from typing import Any

import httpx

from quanzi.errors import ConflictError, StoreError, StoreUnavailableError

__all__ = ["ArcadeHttpChannel"]


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

    def read(self, query: str, what: str, **params: Any) -> list[dict[str, Any]]:
        """Run one Cypher read statement; return its rows.

        Large collected results (a projection's edge list) decode faster from JSON here than
        from Bolt's packstream in the pure-Python driver.
        """
        rows: list[dict[str, Any]] = self._post("query", query, what, params)["result"]
        return rows

    def read_sql(self, query: str, what: str) -> list[dict[str, Any]]:
        """Run one ArcadeDB SQL read statement; return its rows (``[]`` if its type is unknown).

        Used for projections: SQL's ``list()`` of edge endpoints as record ids skips the
        vertex lookups a Cypher ``MATCH`` does (measured 2x faster on the projection read).
        A type that has never held a record does not exist yet in ArcadeDB's schema; reading
        it means reading nothing.
        """
        try:
            rows: list[dict[str, Any]] = self._post("query", query, what, {}, "sql")["result"]
        except StoreError as e:
            if "SchemaException" in str(e):
                return []
            raise
        return rows

    def _post(
        self,
        endpoint: str,
        query: str,
        what: str,
        params: dict[str, Any],
        language: str = "cypher",
    ) -> Any:
        """POST a statement (``limit: -1``: never truncate a result) and return the JSON body."""
        body = {"language": language, "command": query, "params": params, "limit": -1}
        try:
            response = self._client.post(f"/api/v1/{endpoint}/{self.database}", json=body)
        except httpx.HTTPError as e:
            raise StoreUnavailableError(
                f"The bundled store cannot be reached while {what} ({e}): "
                "run `quanzi store status`, then `quanzi store start`"
            ) from e
        if response.status_code == 200:
            return response.json()
        text = response.text[:500]
        if "Duplicated key" in text or "DuplicatedKey" in text:
            raise ConflictError(f"A uniqueness rule was broken while {what}: {text}")
        raise StoreError(f"The graph store rejected a statement while {what}: {text}")

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()
