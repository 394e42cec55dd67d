"""Customers' names in memory, so that a name search need not read every customer.

No index of the store serves a substring (``CONTAINS``): the ``name`` filter read every
customer, 230-320 ms for a page at 100k customers (docs/api-latency.md, session 9). Each
worker keeps every customer's id, lower-cased name and Latin name, exactly as the filter
compares them (lower-cased by the store), finds the matching ids in a few milliseconds, and
the search then starts from those ids (key look-ups). The table is read again when the
store's change count moves (an ingest, a merge, a split, an erasure, a notebook's
``write_properties``, in any process; see ``GraphStore.note_graph_change``) and after
:data:`MAX_AGE_S` seconds in any case (writes made around those paths).
"""

from __future__ import annotations

from quanzi.api.services.report_cache import ReportCache
from quanzi.graph import queries as q
from quanzi.graph.store import GraphStore

__all__ = ["MAX_AGE_S", "MAX_IDS", "NameTable"]

#: Seconds a table is used at most, whatever the change count says (a safety net for writes
#: made around the counted paths; reading the table takes ~0.4 s at 100k customers, paid by
#: the name search that finds it too old).
MAX_AGE_S = 600.0

#: Above this many matches the search reads every customer as before: starting from tens of
#: thousands of ids costs about as much (measured at 100k: 19,668 matches of "li", 180 ms
#: from the ids against 257 ms for the scan; 4,193 of "zhang", 51 against 213 ms).
MAX_IDS = 20_000


class NameTable:
    """Every unmerged customer's id and names, kept with the store's change count (in a
    :class:`~quanzi.api.services.report_cache.ReportCache` of one entry: one read at a time,
    other searches wait for it)."""

    def __init__(self, *, max_age_s: float = MAX_AGE_S, max_ids: int = MAX_IDS) -> None:
        self.max_ids = max_ids
        self._kept = ReportCache(max_age_s=max_age_s, size=1)

    def _current(self, store: GraphStore) -> tuple[list[str], list[str], list[str]]:
        def read() -> tuple[list[str], list[str], list[str]]:
            rows = store.read_bulk(q.CUSTOMER_NAMES, "reading customers' names")
            row = rows[0] if rows else {}
            return (
                [str(x) for x in row.get("ids") or []],
                [str(x) for x in row.get("names") or []],
                [str(x) for x in row.get("latin") or []],
            )

        return self._kept.get(store, "names", read)

    def matching(self, store: GraphStore, needle: str) -> list[str] | None:
        """Ids of the customers whose lower-cased name or Latin name holds ``needle`` (give
        it lower-cased, as the ``name`` filter does), or ``None`` when more than ``max_ids``
        do (the search then reads every customer)."""
        ids, names, latin = self._current(store)
        rows = zip(ids, names, latin, strict=True)
        found = [cid for cid, a, b in rows if needle in a or needle in b]
        return found if len(found) <= self.max_ids else None
