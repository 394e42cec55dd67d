"""The in-memory graph the lookalike search runs on, read from the store and cached.

Reading the tie graph and the attributes of 100k customers takes seconds, so the service
keeps one copy: the ``INTERACTS_WITH`` projection as an ``igraph.Graph``, each customer's
circles, groups and interests, and the FastRP embeddings (computed on first use). The copy is
dropped when an ingest, merge, split, erasure or analysis finishes through the API, and after
:data:`MAX_AGE_S` seconds in any case, so changes made by other processes show up too.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from quanzi.algorithms.lookalike import LookalikeIndex
from quanzi.graph.store import GraphStore
from quanzi.model import Node, Rel

if TYPE_CHECKING:
    import igraph as ig

__all__ = ["MAX_AGE_S", "CachedGraph", "GraphCache"]

#: Seconds after which the cached graph is read again even without a known change.
MAX_AGE_S = 600.0

_ATTRIBUTES: dict[str, tuple[Rel, Node]] = {
    "circle": (Rel.IN_CIRCLE, Node.CIRCLE),
    "group": (Rel.MEMBER_OF, Node.GROUP),
    "interest": (Rel.INTERESTED_IN, Node.INTEREST),
}


@dataclass
class CachedGraph:
    """One snapshot of what the lookalike search needs.

    Attributes
    ----------
    graph : igraph.Graph
        Undirected tie graph; vertices carry ``id``, edges ``weight``.
    index : dict of str to int
        Customer id -> vertex.
    attributes : dict
        ``"circle" | "group" | "interest"`` -> customer id -> values.
    read_at : float
        ``time.monotonic()`` when it was read.
    """

    graph: ig.Graph
    index: dict[str, int]
    attributes: dict[str, dict[str, list[str]]]
    read_at: float
    _lookalike: LookalikeIndex | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def lookalike_index(self) -> LookalikeIndex:
        """The lookalike index of this snapshot (transition matrices, attribute tables and
        FastRP embeddings), built on first use."""
        with self._lock:
            if self._lookalike is None:
                index = LookalikeIndex(self.graph, attributes=self.attributes)
                _ = index.embeddings  # computed here, once, rather than in a request
                self._lookalike = index
            return self._lookalike


class GraphCache:
    """Holds at most one :class:`CachedGraph`, refreshed when stale."""

    def __init__(self, *, max_age_s: float = MAX_AGE_S) -> None:
        self.max_age_s = max_age_s
        self._lock = threading.Lock()
        self._reading = threading.Lock()
        self._current: CachedGraph | None = None
        self._generation = 0

    def invalidate(self) -> None:
        """Drop the snapshot; the next :meth:`get` reads the store again."""
        with self._lock:
            self._current = None
            self._generation += 1

    def age_s(self) -> float | None:
        """Seconds since the snapshot was read, or ``None`` when there is none."""
        current = self._current
        return None if current is None else time.monotonic() - current.read_at

    def _fresh(self) -> CachedGraph | None:
        current = self._current
        if current is not None and time.monotonic() - current.read_at < self.max_age_s:
            return current
        return None

    def get(self, store: GraphStore) -> CachedGraph:
        """The snapshot, read from ``store`` when missing or older than ``max_age_s``.

        One thread reads; others asking meanwhile wait for its result instead of reading too.
        """
        current = self._fresh()
        if current is not None:
            return current
        with self._reading:
            current = self._fresh()
            if current is not None:
                return current
            with self._lock:
                generation = self._generation
            fresh = _read(store)
            with self._lock:
                # A change finished while reading: serve this read but do not keep it.
                if generation == self._generation:
                    self._current = fresh
            return fresh


def _read(store: GraphStore) -> CachedGraph:
    started = time.monotonic()
    projection = store.read_projection([Rel.INTERACTS_WITH], label=Node.CUSTOMER)
    graph = projection.to_igraph()
    attributes: dict[str, dict[str, list[str]]] = {}
    for name, (rel, label) in _ATTRIBUTES.items():
        values: dict[str, list[str]] = {}
        for customer, value in store.read_pairs(rel, Node.CUSTOMER, label):
            values.setdefault(customer, []).append(value)
        attributes[name] = values
    return CachedGraph(graph, projection.index(), attributes, started)
