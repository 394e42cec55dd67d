"""The graph schema: uniqueness constraints and indexes, created idempotently, versioned."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from quanzi.errors import ConflictError
from quanzi.graph import queries as q
from quanzi.graph.store import GraphStore
from quanzi.model import Node

__all__ = ["DROPPED_INDEXES", "INDEXES", "SCHEMA_VERSION", "ensure_schema", "schema_version"]

#: Bump when constraints or indexes change; recorded on the ``SchemaMeta`` node.
SCHEMA_VERSION = 6

#: Secondary indexes for the filters users run most. Each one costs every write of its
#: label (null values are not indexed, so a property most nodes lack costs little).
INDEXES: dict[Node, tuple[str, ...]] = {
    Node.CUSTOMER: (
        "tier",
        "funnel_stage",
        "merged_into",
        "influence",
        "pagerank",
        "churn_risk",
    ),
    Node.IDENTITY: ("channel", "key"),
    Node.CIRCLE: ("level",),
    Node.ORDER: ("placed_at",),
}

#: Indexes of earlier versions, dropped by :func:`ensure_schema` if a store still has them.
#: ``Customer.name`` (until version 5): no query can use it (name search is
#: ``toLower(...) CONTAINS``, name order is ``coalesce(c.name, '')``), and it was most of the
#: indexes' cost per customer written (benchmarks/store_vertices.py, docs/architecture.md).
DROPPED_INDEXES: tuple[tuple[Node, str], ...] = ((Node.CUSTOMER, "name"),)

_VERSION_WRITE_ATTEMPTS = 5


def ensure_schema(store: GraphStore) -> int:
    """Create every constraint and index if missing and record :data:`SCHEMA_VERSION`.

    Safe to run at every start-up, on Neo4j and on the bundled ArcadeDB alike.
    Returns the schema version now recorded.
    """
    for label in Node:
        store.write(q.create_constraint(label), f"creating the {label} id constraint")
    for label, props in INDEXES.items():
        for prop in props:
            store.write(q.create_index(label, prop), f"creating the {label}.{prop} index")
    for label, prop in DROPPED_INDEXES:
        store.write(q.drop_index(label, prop), f"dropping the unused {label}.{prop} index")
    # Several processes may set up one store at once (`quanzi serve --workers N` on a fresh
    # store): on ArcadeDB two MERGEs of the version node can both miss it and one breaks the
    # uniqueness rule. The node exists then, so the next MERGE finds it.
    for attempt in range(_VERSION_WRITE_ATTEMPTS):
        try:
            store.write(
                q.SCHEMA_VERSION_WRITE,
                "recording the schema version",
                version=SCHEMA_VERSION,
                at=datetime.now(UTC).isoformat(),
            )
            break
        except ConflictError:
            if attempt == _VERSION_WRITE_ATTEMPTS - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    return SCHEMA_VERSION


def schema_version(store: GraphStore) -> int | None:
    """The schema version recorded in the graph, or ``None`` for an empty store."""
    rows = store.read(q.SCHEMA_VERSION_READ, "reading the schema version")
    return int(rows[0]["version"]) if rows and rows[0]["version"] is not None else None
