"""What an ingest run did: counts, rejected rows and timings.

Examples
--------
>>> report = IngestReport()
>>> report.reject("contacts.csv", 7, "phone", "'12' is not a phone number")
>>> report.rejects[0].row, report.ok
(7, False)
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from quanzi.exports import csv_cell

__all__ = ["IngestProgress", "IngestReport", "Reject"]

#: ``progress(step, done, total)``: called as each step advances; ``total`` may be ``None``.
IngestProgress = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class Reject:
    """One input row that was not loaded.

    Attributes
    ----------
    file : str
        The file (or ``"<api>"`` for a request body).
    row : int
        The line of the row in the file (the header is line 1 of a CSV file); for Parquet
        and request bodies, the 1-based position of the record.
    field : str
        The field that was wrong, or ``"*"`` for the row as a whole.
    reason : str
        What was wrong and how to fix it.
    """

    file: str
    row: int
    field: str
    reason: str


@dataclass
class IngestReport:
    """The outcome of :func:`quanzi.ingest.ingest_files`.

    Attributes
    ----------
    counts : collections.Counter
        What was read and written, by name (``contacts_read``, ``customers_created``,
        ``customers_merged``, ``Identity``, ``INTERACTS_WITH`` ...).
    rejects : list of Reject
        Rows not loaded, with file, row, field and reason.
    timings : dict of str to float
        Seconds spent per step (``read``, ``normalise``, ``link``, ``load``, ``events``).
    skipped_files : list of str
        Files recognised but not loaded (ground-truth files, event files loaded before).
    dropped_fields : list of Reject
        Fields that could not be read and were left out of rows that did load (only with
        ``QUANZI_INGEST_INVALID_FIELDS=drop_field``).
    waiting_files : list of str
        Event files with events rejected because a person they name is no loaded contact record
        yet (``counts["events_waiting"]`` of them): run the file again once those records are
        loaded, and those events load; the file's other events are not added twice.
    """

    counts: Counter[str] = field(default_factory=Counter)
    rejects: list[Reject] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    skipped_files: list[str] = field(default_factory=list)
    dropped_fields: list[Reject] = field(default_factory=list)
    waiting_files: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every row was loaded."""
        return not self.rejects

    def reject(self, file: str, row: int, field_name: str, reason: str) -> None:
        """Record one rejected row."""
        self.rejects.append(Reject(file, row, field_name, reason))

    def time(self, step: str, seconds: float) -> None:
        """Add ``seconds`` to the time of ``step``."""
        self.timings[step] = self.timings.get(step, 0.0) + seconds

    def write_rejects(self, path: Path) -> Path:
        """Write the rejects as CSV (``file,row,field,reason``) and return the path."""
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["file", "row", "field", "reason"])
            for r in self.rejects:
                writer.writerow([csv_cell(v) for v in (r.file, r.row, r.field, r.reason)])
        return path

    def summary(self) -> str:
        """A few lines for a person to read."""
        counts = ", ".join(f"{k}={v}" for k, v in sorted(self.counts.items()))
        timings = ", ".join(f"{k}={v:.1f}s" for k, v in self.timings.items())
        text = f"counts: {counts}\ntimings: {timings}\nrejected rows: {len(self.rejects)}"
        if self.counts.get("interactions_loaded_before"):
            text += (
                f"\n{self.counts['interactions_loaded_before']} interactions were loaded before "
                "(from this file or another holding the same events) and were not counted again"
            )
        if self.waiting_files:
            text += (
                f"\n{self.counts['events_waiting']} events wait for contact records not yet "
                f"loaded (rejected, field from/to/customer/inviter/invitee): load those "
                f"records, then run {', '.join(self.waiting_files)} again; the events loaded "
                "now are not added twice"
            )
        return text
