"""The few ways ArcadeDB's Cypher differs from Neo4j's, in one place.

Differences seen with ArcadeDB 26.10 through Bolt:

- ``CALL db.indexes()`` does not exist; ``SHOW INDEXES`` / ``SHOW CONSTRAINTS`` do (both stores).
- No APOC and no GDS: algorithms run in process on a projection (see ``quanzi.algorithms``).
- ``SET n:Label`` on an existing node creates a composite type, so Quanzi never adds labels
  after creation: tags are nodes, states are properties.
- ``id()`` values are huge and not stable across stores; Quanzi keys everything on its own
  ``id`` property and uses ``elementId()`` for display only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Dialect"]


@dataclass(frozen=True)
class Dialect:
    """What Quanzi needs to know about the store on the other end of the Bolt connection.

    Examples
    --------
    >>> Dialect.from_agent("Neo4j/5.26.0 compatible (ArcadeDB 26.10.2)").name
    'arcadedb'
    >>> Dialect.from_agent("Neo4j/5.26.0").name
    'neo4j'
    """

    name: Literal["neo4j", "arcadedb"]

    @classmethod
    def from_agent(cls, agent: str) -> Dialect:
        """Pick the dialect from the server agent string the driver reports."""
        return cls("arcadedb" if "arcadedb" in agent.lower() else "neo4j")

    @property
    def may_have_gds(self) -> bool:
        """Whether server-side Graph Data Science can exist on this store at all."""
        return self.name == "neo4j"
