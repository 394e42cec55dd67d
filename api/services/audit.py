"""The audit trail: who read or changed what, through the API.

One JSON line per authenticated request in ``<data_dir>/api/audit.jsonl`` (mode 0600,
appended with ``O_APPEND`` so several worker processes can share it): time, key id, role,
method, route, path parameters, the query with personal identifiers redacted, status, and
for writes a short summary of what changed. Keys and personal identifiers (phones, e-mails,
names searched for) are never written; customers appear by their pseudonymous id.

A busy service writes millions of entries a day, so the file is closed once it passes
``max_bytes`` (``QUANZI_API_AUDIT_FILE_BYTES``): renamed ``audit.jsonl.<UTC time>`` and a new
one started, under a lock file that the workers share. Closed files are kept, or the newest
``keep_files`` of them (``QUANZI_API_AUDIT_KEEP_FILES``), or those closed within
``keep_days`` (``QUANZI_API_AUDIT_KEEP_DAYS``): retention is the operator's decision. With
``keep_days``, the open file is also closed once its first entry is that old, so a quiet
service's entries go too: an entry is deleted between ``keep_days`` and twice that after it
was written (checked at each worker's first entry, then at most hourly).

Searches read the files newest first, each from its end in blocks, and stop at ``limit``
or ``since``: a search for recent entries reads only the end of the newest file, whatever
the history holds.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from quanzi.api.services.access import mask_identity_id

__all__ = ["MAX_BYTES", "REDACTED_PARAMETERS", "AuditEntry", "AuditLog"]

log = logging.getLogger(__name__)

#: Default size at which the file is closed and a new one started.
MAX_BYTES = 64 * 2**20

#: With ``keep_days``: how often a worker checks what has expired.
_EXPIRY_INTERVAL_S = 3600.0

#: Bytes read at a time when a search reads a file from its end.
_BLOCK = 2**20

#: The suffix of a closed file (its UTC time); anything else beside the trail (its lock
#: file, a closed file an operator compressed or renamed) is not read.
_CLOSED = re.compile(r"\d{8}T\d{12}Z")

#: Query parameters whose values are personal identifiers and are never logged.
REDACTED_PARAMETERS = frozenset({"phone", "email", "name", "q", "a", "b"})


@dataclass(frozen=True)
class AuditEntry:
    """One audited request."""

    at: str
    key_id: str
    role: str
    method: str
    route: str
    status: int
    path_params: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    action: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


class AuditLog:
    """Append-only audit trail in JSON-lines files: ``path``, and the closed ones beside it."""

    def __init__(
        self, path: Path, *, max_bytes: int = MAX_BYTES, keep_files: int = 0, keep_days: float = 0
    ) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.keep_files = keep_files
        self.keep_days = keep_days
        self._lock = threading.Lock()
        self._next_expiry = 0.0

    def record(
        self,
        *,
        key_id: str,
        role: str,
        method: str,
        route: str,
        status: int,
        path_params: Mapping[str, Any] | None = None,
        query: Mapping[str, str] | None = None,
        action: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """Append one entry (personal query parameters redacted, phones and e-mails in path
        parameters masked: ``/customers/phone:+86...`` looks a customer up by phone) and
        return it."""
        from quanzi.api.logs import mask_text  # it imports this module

        entry = AuditEntry(
            at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            key_id=key_id,
            role=role,
            method=method,
            route=route,
            status=status,
            path_params={
                k: mask_text(mask_identity_id(str(v))) for k, v in (path_params or {}).items()
            },
            query={
                k: ("<redacted>" if k in REDACTED_PARAMETERS else v)
                for k, v in (query or {}).items()
            },
            action=action,
            detail=dict(detail or {}),
        )
        # vars(), not dataclasses.asdict: the fields are fresh, so asdict's deep copy of
        # every value is not needed (it was half the cost of an entry, on every request).
        line = (json.dumps(vars(entry), ensure_ascii=False, default=str) + "\n").encode()
        with self._lock:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    # a line cut short by a crash: start on a line of its own, so that
                    # only the cut entry is unreadable, not this one too
                    line = b"\n" + line
                os.write(fd, line)
                full = size + len(line) >= self.max_bytes
            finally:
                os.close(fd)
            if full:
                self._close_file()
            elif self.keep_days and time.monotonic() >= self._next_expiry:
                self.expire()
        return entry

    def expire(self, now: datetime | None = None) -> list[Path]:
        """Apply ``keep_days``: close the open file if its first entry is that old, delete
        the closed files closed longer ago than that; return the files deleted."""
        self._next_expiry = time.monotonic() + _EXPIRY_INTERVAL_S
        if not self.keep_days:
            return []
        cutoff = (now or datetime.now(UTC)) - timedelta(days=self.keep_days)
        with self._shared_lock():
            first = _first_time(self.path)
            if first is not None and first < cutoff:
                self._rename_open_file(now)
            gone = [
                p
                for p in self.files()[1:]
                if _closed_at(p.name[len(self.path.name) + 1 :]) < cutoff
            ]
            for old in gone:
                old.unlink(missing_ok=True)
            return gone

    @contextlib.contextmanager
    def _shared_lock(self) -> Iterator[None]:
        """Hold the lock file the workers share while the trail's files are renamed or
        deleted."""
        lock = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield
        finally:
            os.close(lock)  # releases the lock

    def _rename_open_file(self, now: datetime | None = None) -> None:
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
        with contextlib.suppress(FileNotFoundError):
            os.replace(self.path, self.path.with_name(f"{self.path.name}.{stamp}"))

    def _close_file(self) -> None:
        """Rename the full file ``<name>.<UTC time>``; the next entry starts a new one.

        Every worker may find the file full at once: under the shared lock file only the
        first renames it (the others then see a small new file). An entry another worker
        writes into the old file while it is renamed lands in the closed file, not lost.
        """
        with self._shared_lock():
            try:
                if self.path.stat().st_size < self.max_bytes:
                    return
            except FileNotFoundError:
                return
            self._rename_open_file()
            if self.keep_files:
                for old in self.files()[1 + self.keep_files :]:
                    old.unlink(missing_ok=True)

    def files(self) -> list[Path]:
        """The trail's files, newest first: the open one, then the closed ones."""
        closed = sorted(
            (
                p
                for p in self.path.parent.glob(self.path.name + ".*")
                if _CLOSED.fullmatch(p.name[len(self.path.name) + 1 :])
            ),
            key=lambda p: p.name,
            reverse=True,
        )
        return [self.path, *closed]

    def _entries(self) -> Iterator[AuditEntry]:
        """Every entry, newest first."""
        for path in self.files():
            for line in _lines_from_end(path):
                if not line.strip():
                    continue
                try:
                    yield AuditEntry(**json.loads(line))
                except (ValueError, TypeError):
                    # a line cut short by a crash mid-write; the rest of the trail stands
                    log.warning("skipping an unreadable audit line in %s", path.name)

    def search(
        self,
        *,
        key_id: str | None = None,
        customer_id: str | None = None,
        since: str | None = None,
        before: str | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        """Entries matching every given condition, newest first, at most ``limit``.

        ``customer_id`` matches entries whose path parameters or detail name the customer.
        ``before`` is exclusive (pass the ``at`` of the last entry seen to page on).
        """
        out: list[AuditEntry] = []
        for entry in self._entries():
            if before is not None and entry.at >= before:
                continue
            if since is not None and entry.at < since:
                break
            if key_id is not None and entry.key_id != key_id:
                continue
            if customer_id is not None and not _names(entry, customer_id):
                continue
            out.append(entry)
            if len(out) >= limit:
                break
        return out


def _closed_at(stamp: str) -> datetime:
    """The UTC time a closed file's suffix names (``20261124T093612123456Z``)."""
    return datetime.strptime(stamp, "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)


def _first_time(path: Path) -> datetime | None:
    """When the file's first readable entry was written; None for an empty or missing file."""
    try:
        with path.open(encoding="utf-8") as f:
            for line in f:
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    at = str(json.loads(line)["at"]).removesuffix("Z")
                    return datetime.fromisoformat(at).replace(tzinfo=UTC)
    except FileNotFoundError:
        return None
    return None


def _lines_from_end(path: Path) -> Iterator[str]:
    """The lines of a file, last first, read in blocks from its end (a missing file has
    none). Split on newlines only: entries may hold other line separators (U+2028 ...)."""
    try:
        f = path.open("rb")
    except FileNotFoundError:
        return
    with f:
        position = f.seek(0, os.SEEK_END)
        rest = b""
        while position > 0:
            size = min(_BLOCK, position)
            position -= size
            f.seek(position)
            pieces = (f.read(size) + rest).split(b"\n")
            rest = pieces[0]  # may continue in the block before
            for piece in reversed(pieces[1:]):
                yield piece.decode("utf-8", errors="replace")
        if rest:
            yield rest.decode("utf-8", errors="replace")


def _names(entry: AuditEntry, customer_id: str) -> bool:
    if customer_id in entry.path_params.values():
        return True
    ids = entry.detail.get("customer_ids") or []
    return customer_id in ids or entry.detail.get("customer_id") == customer_id
