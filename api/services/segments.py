"""Segments: saved customer filters, their members, and CSV export.

Segments are kept in ``<data_dir>/api/segments.json``: a segment is a name and a filter,
not a list of people, so it holds no personal data (the filter schema has no name, phone or
e-mail) and erasing a person never has to touch it. A segment with ``mine = true`` selects
the customers of whichever sales key reads it.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from quanzi.api.schemas import CustomerPage, SegmentCreate, SegmentFilter, SegmentPublic
from quanzi.api.services.access import Principal
from quanzi.api.services.customers import count_customers, search_customers, search_rows, summarise
from quanzi.api.services.files import JsonDocument
from quanzi.errors import NotFoundError
from quanzi.exports import csv_cell
from quanzi.graph.store import GraphStore
from quanzi.settings import Settings

__all__ = ["CSV_COLUMNS", "SegmentBook"]

#: Columns of a segment export, in order.
CSV_COLUMNS = (
    "id",
    "name",
    "name_latin",
    "phones",
    "emails",
    "channels",
    "tier",
    "recorded_tier",
    "funnel_stage",
    "churn_risk",
    "influence",
    "circle_id",
    "first_seen",
    "last_active_at",
    "order_count",
    "total_spent",
)
_EXPORT_PAGE = 1000


class SegmentBook:
    """The saved segments of one service."""

    def __init__(self, folder: Path) -> None:
        self._doc = JsonDocument(folder / "segments.json")

    def _record(self, segment_id: str) -> dict[str, Any]:
        record = self._doc.read().get("segments", {}).get(segment_id)
        if record is None:
            raise NotFoundError(f"No segment with id {segment_id!r}; list them with GET /segments")
        return dict(record)

    @staticmethod
    def _public(record: dict[str, Any], customers: int | None = None) -> SegmentPublic:
        return SegmentPublic(**record, customers=customers)

    def create(self, body: SegmentCreate, *, actor: str) -> SegmentPublic:
        """Save a segment."""
        record = {
            "id": f"seg_{secrets.token_hex(6)}",
            "name": body.name,
            "description": body.description,
            "filter": body.filter.model_dump(mode="json", exclude_defaults=True),
            "created_by": actor,
            "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        self._doc.update(
            lambda doc: doc.setdefault("segments", {}).__setitem__(record["id"], record)
        )
        return self._public(record)

    def list(self, *, limit: int = 100, after: str | None = None) -> list[SegmentPublic]:
        """Up to ``limit`` segments, newest first, after segment ``after`` (without counts)."""
        records = self._doc.read().get("segments", {}).values()
        ordered = sorted(records, key=lambda r: (r["created_at"], r["id"]), reverse=True)
        ids = [r["id"] for r in ordered]
        start = ids.index(after) + 1 if after in ids else 0
        return [self._public(dict(r)) for r in ordered[start : start + limit]]

    def get(
        self, store: GraphStore, settings: Settings, principal: Principal, segment_id: str
    ) -> SegmentPublic:
        """One segment with the number of customers matching it now."""
        record = self._record(segment_id)
        filters = SegmentFilter(**record["filter"])
        return self._public(record, count_customers(store, settings, principal, filters))

    def delete(self, segment_id: str) -> None:
        """Delete a segment."""
        self._record(segment_id)
        self._doc.update(lambda doc: doc.get("segments", {}).pop(segment_id, None))

    def filter(self, segment_id: str) -> SegmentFilter:
        """A segment's filter."""
        return SegmentFilter(**self._record(segment_id)["filter"])

    def customers(
        self,
        store: GraphStore,
        settings: Settings,
        principal: Principal,
        segment_id: str,
        *,
        sort: str = "name",
        limit: int = 50,
        cursor: str | None = None,
    ) -> CustomerPage:
        """A page of the segment's customers."""
        return search_customers(
            store,
            settings,
            principal,
            self.filter(segment_id),
            sort=sort,
            limit=limit,
            cursor=cursor,
        )

    def export_csv(
        self, store: GraphStore, settings: Settings, principal: Principal, segment_id: str
    ) -> Iterator[str]:
        """The segment's customers as CSV text, produced page by page (masked as for any list).

        Multi-valued columns (phones, e-mails, channels) are joined with ``;``.
        """
        filters = self.filter(segment_id)

        def read(cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
            return search_rows(
                store, settings, principal, filters, sort="id", limit=_EXPORT_PAGE, cursor=cursor
            )

        # The first page is read before the answer starts, so a filter this caller may not
        # use (``mine`` without an employee) is a 422, not a 200 cut off after its headers.
        first = read(None)

        def rows() -> Iterator[str]:
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(CSV_COLUMNS)
            page, cursor = first
            while True:
                for summary in summarise(store, principal, page):
                    data = summary.model_dump()
                    writer.writerow(
                        [
                            csv_cell(";".join(data[c]) if isinstance(data[c], list) else data[c])
                            for c in CSV_COLUMNS
                        ]
                    )
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
                if cursor is None:
                    return
                page, cursor = read(cursor)

        return rows()
