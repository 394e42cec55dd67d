"""The audit trail: who read or changed what, through the API.

One JSON line per authenticated request in ``<data_dir>/api/audit.jsonl`` (mode 0600,
appended with ``O_APPEND`` so several worker processes can share it): time, key id, role,
method, route, path parameters, the query with personal identifiers redacted, status, and
for writes a short summary of what changed. Keys and personal identifiers (phones, e-mails,
names searched for) are never written; customers appear by their pseudonymous id.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["REDACTED_PARAMETERS", "AuditEntry", "AuditLog"]

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
    """Append-only audit trail in a JSON-lines file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

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
        """Append one entry (personal query parameters redacted) and return it."""
        entry = AuditEntry(
            at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            key_id=key_id,
            role=role,
            method=method,
            route=route,
            status=status,
            path_params={k: str(v) for k, v in (path_params or {}).items()},
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
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
        return entry

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
        try:
            # Split on newlines only: entries may hold other line separators (U+2028 ...).
            lines = self.path.read_text(encoding="utf-8").split("\n")
        except FileNotFoundError:
            return []
        out: list[AuditEntry] = []
        for line in reversed(lines):
            if not line.strip():
                continue
            entry = AuditEntry(**json.loads(line))
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


def _names(entry: AuditEntry, customer_id: str) -> bool:
    if customer_id in entry.path_params.values():
        return True
    ids = entry.detail.get("customer_ids") or []
    return customer_id in ids or entry.detail.get("customer_id") == customer_id
