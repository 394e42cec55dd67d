"""The in-memory graph the lookalike search runs on, read from the store and cached.

Reading the tie graph and the attributes of 100k customers takes seconds, so the service
keeps one copy: the ``INTERACTS_WITH`` projection as an ``igraph.Graph``, each customer's
circles, groups and interests, and the FastRP embeddings. The copy is marked stale when an
ingest, merge, split or analysis finishes through the API, when the store's count of such
changes (which every process making one adds to: other workers, the CLI, a notebook; see
``GraphStore.note_graph_change``) has moved, looked at every :data:`CHECK_S` seconds, and
after :data:`MAX_AGE_S` seconds in any case (for writes made around those paths); a stale
copy keeps being served while a background read replaces it (stale-while-revalidate). An
erasure, here or in another process, drops the copy.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

from quanzi.algorithms.lookalike import LookalikeIndex
from quanzi.errors import QuanziError
from quanzi.graph import queries as q
from quanzi.graph.store import GraphStore
from quanzi.model import Node, Rel

T = TypeVar("T")

if TYPE_CHECKING:
    import igraph as ig

__all__ = ["CHECK_S", "MAX_AGE_S", "CachedGraph", "GraphCache"]

#: Seconds after which the cached graph is read again even without a known change: a safety
#: net for writes made around the paths that count their changes (a user's own Cypher). Each
#: read costs a worker seconds of CPU at 100k customers, so not often (600 s until session 11,
#: when changes made by other processes were only seen this way).
MAX_AGE_S = 3600.0

#: Seconds between two looks at the store's count of graph changes (one key look-up, made by
#: the request that asks for the graph after this long).
CHECK_S = 5.0

log = logging.getLogger(__name__)

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
    merged : frozenset of str
        Vertices that were merged-away customers when it was read (they stand for another).
    """

    graph: ig.Graph
    index: dict[str, int]
    attributes: dict[str, dict[str, list[str]]]
    read_at: float
    merged: frozenset[str] = frozenset()
    _lookalike: LookalikeIndex | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def lookalike_index(self) -> LookalikeIndex:
        """The lookalike index of this snapshot (transition matrices, attribute tables and
        FastRP embeddings), built on first use."""
        with self._lock:
            if self._lookalike is None:
                # The embeddings are computed here, once, rather than in a request.
                self._lookalike = LookalikeIndex(self.graph, attributes=self.attributes).prepare()
            return self._lookalike


class GraphCache:
    """Holds at most one :class:`CachedGraph` and refreshes it in the background.

    Stale-while-revalidate: after :meth:`invalidate` (a change through the API) or once the
    snapshot is older than ``max_age_s``, :meth:`get` keeps returning the snapshot it has and
    starts one background read of the store; the new snapshot (its lookalike index built too)
    replaces the old one when it is complete. Lookalike answers may therefore lag a change by
    the time one read takes (seconds at 100k customers). Only the very first read, or one after
    :meth:`invalidate` with ``drop=True``, makes a request wait.

    Parameters
    ----------
    max_age_s : float
        Seconds after which the snapshot is read again even without a known change.
    reader : callable, optional
        Reads a snapshot from a store; the default reads the ``INTERACTS_WITH`` projection
        and the customers' circles, groups and interests.
    """

    def __init__(
        self,
        *,
        max_age_s: float = MAX_AGE_S,
        check_s: float = CHECK_S,
        reader: Callable[[GraphStore], CachedGraph] | None = None,
        freeze: bool = False,
    ) -> None:
        # freeze: keep each graph read out of the garbage collector's full passes (see
        # _settle). A process-wide setting, so only the served app turns it on; a notebook's
        # Client leaves its process's collector alone.
        self.max_age_s = max_age_s
        self.check_s = check_s
        self.freeze = freeze
        self._reader = reader or _read
        self._lock = threading.Lock()
        self._reading = threading.Lock()
        self._current: CachedGraph | None = None
        self._current_generation = -1
        self._generation = 0
        self._floor = 0  # reads begun before the last drop are never kept
        self._refresh: threading.Thread | None = None
        self._closed = False
        # The store's (changes, erasures) counts as last known (read before the snapshot
        # held now, or at a later look), and when they were last looked at.
        self._known_changes: tuple[int, int] | None = None
        self._checked_at = time.monotonic()
        self._kept: dict[str, tuple[float, Any]] = {}

    def kept(self, key: str, read: Callable[[], T]) -> T:
        """``read()``'s answer, read again once it is ``check_s`` seconds old: a setting the
        searches use (the lookalike weights), which then costs one store round trip per
        worker every few seconds instead of one per search. A setting saved elsewhere shows
        within ``check_s``, as a graph change does; :meth:`forget` it where it is saved."""
        now = time.monotonic()
        with self._lock:
            found = self._kept.get(key)
        if found is not None and now - found[0] < self.check_s:
            return cast(T, found[1])
        value = read()
        with self._lock:
            self._kept[key] = (now, value)
        return value

    def forget(self, key: str) -> None:
        """Drop what :meth:`kept` holds for ``key`` (it was just saved)."""
        with self._lock:
            self._kept.pop(key, None)

    def close(self) -> None:
        """The app is stopping and closes its store: a background read still running fails
        quietly instead of warning that the store is gone."""
        self._closed = True

    def invalidate(self, *, drop: bool = False) -> None:
        """Mark the snapshot stale so that the next :meth:`get` refreshes it.

        With ``drop=True`` the snapshot is forgotten at once (an erasure: nothing of the
        person stays in memory) and the next :meth:`get` waits for a new read.
        """
        with self._lock:
            self._generation += 1
            if drop:
                self._current = None
                self._floor = self._generation

    def age_s(self) -> float | None:
        """Seconds since the snapshot was read, or ``None`` when there is none."""
        current = self._current
        return None if current is None else time.monotonic() - current.read_at

    def stale(self) -> bool:
        """Whether a change or the age calls for a new read of the snapshot held now."""
        with self._lock:
            return self._stale()

    def _stale(self) -> bool:
        current = self._current
        return (
            current is None
            or self._current_generation != self._generation
            or time.monotonic() - current.read_at >= self.max_age_s
        )

    def get(self, store: GraphStore) -> CachedGraph:
        """The snapshot; stale ones are served while a background read replaces them.

        With no snapshot at all, one thread reads and others asking meanwhile wait for its
        result instead of reading too.
        """
        self._check_changes(store)
        with self._lock:
            current = self._current
            if current is not None:
                if self._stale():
                    self._start_refresh(store)
                return current
        return self._load(store)

    def _check_changes(self, store: GraphStore) -> None:
        """Every ``check_s`` seconds, look at the store's count of graph changes: another
        process (another worker, the CLI) changed the graph since it was last known ->
        stale; it erased someone -> dropped, as its own erasure would. A change is acted on
        once: looks during the read it started find it known."""
        with self._lock:
            now = time.monotonic()
            if (
                self._current is None
                or self._known_changes is None
                or now - self._checked_at < self.check_s
            ):
                return
            self._checked_at = now
        try:
            changes = store.graph_changes()
        except QuanziError as e:  # the store is down: keep serving what there is
            log.debug("could not read the graph's change count: %s", e)
            return
        with self._lock:
            known, self._known_changes = self._known_changes, changes
        if known is not None and changes != known:
            self.invalidate(drop=changes[1] != known[1])

    def refresh(self, store: GraphStore) -> CachedGraph:
        """Read the store now and wait for the result (a request that cannot use the old one)."""
        return self._load(store, newer_than=time.monotonic())

    def warm(self, store: GraphStore) -> None:
        """Start reading the snapshot in the background if there is none (at start-up), so
        that the first requests find it built instead of building it themselves."""
        with self._lock:
            if self._current is None:
                self._start_refresh(store)

    def newer(self, store: GraphStore, timeout: float) -> CachedGraph | None:
        """A snapshot read after now, for a request whose seeds are newer than the one held.

        The read runs in the background thread, shared by every request that asks meanwhile
        (a burst of such requests costs one read, not one each); this waits at most
        ``timeout`` seconds for it and returns ``None`` if it is not done by then.
        """
        asked = time.monotonic()
        deadline = asked + timeout
        with self._lock:
            self._generation += 1
        while True:
            with self._lock:
                current = self._current
                if current is not None and current.read_at >= asked:
                    return current
                self._start_refresh(store)  # none if one runs (begun earlier: wait, then again)
            left = deadline - time.monotonic()
            if left <= 0 or not self.wait(left):
                return None

    def _load(self, store: GraphStore, *, newer_than: float | None = None) -> CachedGraph:
        with self._lock:
            wanted = self._generation
        with self._reading:
            with self._lock:
                current = self._current
                if (
                    current is not None
                    and self._current_generation >= wanted
                    and (newer_than is None or current.read_at >= newer_than)
                ):
                    return current  # another thread read it while this one waited
                generation = self._generation
            # Read before the snapshot: a change made during the read is seen as one more.
            changes = store.graph_changes()
            fresh = self._reader(store)
            fresh.lookalike_index()  # built here, not in the first request that uses it
            with self._lock:
                if generation >= self._floor:
                    self._current = fresh
                    self._current_generation = generation
                    self._known_changes = changes
                    self._checked_at = time.monotonic()
            if self.freeze:
                _settle()
            return fresh

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a background read to finish; ``False`` if it still runs after ``timeout``."""
        thread = self._refresh
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def _start_refresh(self, store: GraphStore) -> None:
        # Called with self._lock held: at most one background read at a time.
        if self._refresh is not None and self._refresh.is_alive():
            return

        def run() -> None:
            try:
                self.refresh(store)
            except QuanziError as e:  # the store is down: keep serving what there is
                if self._closed:  # ... or closed by a stopping app: nothing to serve any more
                    log.debug("lookalike graph read stopped with the app: %s", e)
                else:
                    log.warning("refreshing the lookalike graph failed, serving the old one: %s", e)

        self._refresh = threading.Thread(target=run, name="quanzi-graph-refresh", daemon=True)
        self._refresh.start()


def _settle() -> None:
    """Take the long-lived graph out of Python's cyclic garbage collector's full passes.

    The cached graph is millions of small objects (ids, attribute lists, index maps) that live
    until the next read replaces them. Every full collection walks all of them: measured on
    100k customers, each took 180-210 ms, during which no request was answered (the customer
    360's p99 at 8 clients was 4x its p50). ``gc.freeze`` moves every object alive now into a
    permanent generation that collections skip; they are still freed by reference counting
    when the next read replaces the graph. Each read first unfreezes and collects once (one
    such pause per read, in the reading thread), so garbage in cycles frozen with an earlier
    graph is freed one read later, never kept for good.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


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
    merged = frozenset(
        str(x) for x in store.read_collected(q.MERGED_CUSTOMER_IDS, "reading merged customers")
    )
    return CachedGraph(graph, projection.index(), attributes, started, merged)
