"""Population reports (tiers, funnel, the churn distribution) kept until the data changes.

Each of these reads every customer: 0.25-0.84 s at 100k customers, and the home page asks
for all three. Their answers change only when an ingest, an analysis, a merge, a split or an
erasure writes, and each of those adds to the store's change count
(:meth:`~quanzi.graph.store.GraphStore.note_graph_change`, made by whichever process writes:
another worker, the CLI, a notebook). So a report is kept with the count it was computed at
and served again while the count is the same: one key look-up instead of a scan. Writes made
around those paths (a user's own Cypher) show after :data:`MAX_AGE_S` seconds at most.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar, cast

from quanzi.graph.store import GraphStore

__all__ = ["MAX_AGE_S", "ReportCache"]

#: Seconds a report is served at most, whatever the change count says.
MAX_AGE_S = 60.0

T = TypeVar("T")


class ReportCache:
    """Answers by key (a report and its parameters), each with the store's change count when
    it was computed; at most ``size`` kept, the least recently used dropped.

    One computation per key at a time: requests that find a key missing or outdated while
    another computes it wait for that answer instead of computing it again (eight home pages
    opened after an ingest read the customers once per report, not eight times over).
    """

    def __init__(self, *, max_age_s: float = MAX_AGE_S, size: int = 64) -> None:
        self.max_age_s = max_age_s
        self.size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, tuple[tuple[int, int], float, Any]] = OrderedDict()
        # Striped, so that different keys seldom wait for each other and no lock outlives
        # its key in a table of its own.
        self._computing = [threading.Lock() for _ in range(16)]

    def _kept(self, key: Hashable, changes: tuple[int, int]) -> tuple[bool, Any]:
        with self._lock:
            kept = self._entries.get(key)
            if kept is None or kept[0] != changes or time.monotonic() - kept[1] >= self.max_age_s:
                return False, None
            self._entries.move_to_end(key)
            return True, kept[2]

    def get(self, store: GraphStore, key: Hashable, compute: Callable[[], T]) -> T:
        """The kept answer for ``key`` if the data has not changed since, else ``compute()``'s
        (kept for the next request)."""
        # Read before computing: a change landing meanwhile leaves the answer under the older
        # count, so the next request computes it again.
        changes = store.graph_changes()
        found, value = self._kept(key, changes)
        if found:
            return cast(T, value)
        with self._computing[hash(key) % len(self._computing)]:
            found, value = self._kept(key, changes)  # computed while this request waited
            if found:
                return cast(T, value)
            started = time.monotonic()
            computed = compute()
            with self._lock:
                self._entries[key] = (changes, started, computed)
                self._entries.move_to_end(key)
                while len(self._entries) > self.size:
                    self._entries.popitem(last=False)
        return computed
