"""API keys: held hashed, looked up by hash, created and revoked by admins.

Two sources of keys:

- ``QUANZI_API_KEYS`` (settings): hashed when the app starts; the plaintext is not kept.
  Their ids are ``env-`` and the first 8 hex digits of the hash. They cannot be revoked
  through the API (remove them from the setting instead). ``QUANZI_API_KEY_EMPLOYEES``
  binds them to employees by id (``{"env-1a2b3c4d": "E001"}``).
- Keys created through ``POST /keys``: ``qz_`` + 43 random URL-safe characters (256 bits),
  shown once, stored as their SHA-256 digest in ``<data_dir>/api/keys.json`` (mode 0600)
  with id, name, role, bound employee, creator and times. Revoking keeps the record with
  ``revoked_at`` so the audit trail can still name the key.

SHA-256 rather than a slow password hash: keys are long random secrets, not passwords, so
there is nothing to guess and the hash costs one microsecond per request instead of the
hundreds of milliseconds PBKDF2 would add to every call.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from quanzi.api.services.access import Principal
from quanzi.api.services.files import JsonDocument
from quanzi.errors import ConfigError, ConflictError, InputError, NotFoundError
from quanzi.graph.store import GraphStore
from quanzi.model import Node
from quanzi.settings import Role

__all__ = ["ApiKeyRecord", "KeyRing", "hash_key"]

_PREFIX = "qz_"


def hash_key(key: str) -> str:
    """The SHA-256 hex digest a key is stored and looked up as."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class ApiKeyRecord:
    """What is known about one key (never the key itself)."""

    id: str
    name: str
    role: Role
    source: str
    employee_id: str | None = None
    created_at: str | None = None
    created_by: str | None = None
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        """Whether the key still opens the API."""
        return self.revoked_at is None


class KeyRing:
    """Every key the API accepts, by hash.

    Parameters
    ----------
    configured : mapping of SecretStr to role
        Keys from settings; hashed here, the plaintext is not kept.
    folder : Path
        Where ``keys.json`` (managed keys) lives.
    employees : mapping of str to str, optional
        The employee each configured key acts for, by key id (``env-…``).

    Raises
    ------
    ConfigError
        ``employees`` names a key id that is not one of the configured keys.
    """

    def __init__(
        self,
        configured: Mapping[SecretStr, Role],
        folder: Path,
        employees: Mapping[str, str] | None = None,
    ) -> None:
        employees = dict(employees or {})
        self._configured: dict[str, ApiKeyRecord] = {}
        for secret, role in configured.items():
            digest = hash_key(secret.get_secret_value())
            key_id = f"env-{digest[:8]}"
            self._configured[digest] = ApiKeyRecord(
                key_id,
                f"QUANZI_API_KEYS ({role})",
                role,
                "settings",
                employee_id=employees.pop(key_id, None),
            )
        if employees:
            raise ConfigError(
                f"QUANZI_API_KEY_EMPLOYEES names {sorted(employees)}, which are no keys of "
                "QUANZI_API_KEYS; a key's id is env- and the first 8 hex digits of its "
                "SHA-256 (GET /keys lists them)"
            )
        self._doc = JsonDocument(folder / "keys.json")

    def _managed(self) -> dict[str, dict[str, Any]]:
        keys: dict[str, dict[str, Any]] = self._doc.read().get("keys", {})
        return keys

    def authenticate(self, key: str) -> Principal | None:
        """The principal of an active key, or ``None``."""
        digest = hash_key(key)
        record = self._configured.get(digest)
        if record is None:
            stored = self._managed().get(digest)
            if stored is None:
                return None
            record = ApiKeyRecord(**stored)
        if not record.active:
            return None
        return Principal(record.id, record.role, record.name, record.employee_id)

    def records(self, *, limit: int | None = None, after: str | None = None) -> list[ApiKeyRecord]:
        """Keys, configured ones first, then managed ones by creation time: at most ``limit``
        of them, those after the key with id ``after``."""
        managed = sorted(
            (ApiKeyRecord(**r) for r in self._managed().values()),
            key=lambda r: (r.created_at or "", r.id),
        )
        records = [*self._configured.values(), *managed]
        ids = [r.id for r in records]
        start = ids.index(after) + 1 if after in ids else 0
        return records[start : None if limit is None else start + limit]

    def create(
        self,
        name: str,
        role: Role,
        *,
        employee_id: str | None,
        created_by: str,
        store: GraphStore | None = None,
    ) -> tuple[str, ApiKeyRecord]:
        """Create a key; return the plaintext (shown once) and its record.

        A sales key must name the employee it acts for; with ``store``, that employee must
        be in the graph (a mistyped id would give a key that sees nobody's customers).
        """
        if role == "sales" and not employee_id:
            raise InputError(
                "a sales key must be bound to an employee: give its employee id "
                "(--employee on the command line, employee_id in the API)"
            )
        if employee_id and store is not None and store.get_node(Node.EMPLOYEE, employee_id) is None:
            raise InputError(
                f"employee_id: no employee {employee_id!r} in the graph; load the employees "
                "file first, or check the id"
            )
        key = _PREFIX + secrets.token_urlsafe(32)
        digest = hash_key(key)
        record = ApiKeyRecord(
            id=f"key_{secrets.token_hex(6)}",
            name=name,
            role=role,
            source="api",
            employee_id=employee_id,
            created_at=_now(),
            created_by=created_by,
        )

        def add(doc: dict[str, Any]) -> None:
            doc.setdefault("keys", {})[digest] = record.__dict__

        self._doc.update(add)
        return key, record

    def revoke(self, key_id: str) -> ApiKeyRecord:
        """Revoke a managed key by id (idempotent); configured keys cannot be revoked here."""
        if any(r.id == key_id for r in self._configured.values()):
            raise ConflictError(
                f"Key {key_id} comes from QUANZI_API_KEYS: remove it from that setting and "
                "restart the service to revoke it"
            )

        def mark(doc: dict[str, Any]) -> dict[str, Any] | None:
            for stored in doc.get("keys", {}).values():
                if stored["id"] == key_id:
                    stored["revoked_at"] = stored.get("revoked_at") or _now()
                    return dict(stored)
            return None

        found = self._doc.update(mark)
        if found is None:
            raise NotFoundError(f"No API key with id {key_id!r}; list them with GET /keys")
        return ApiKeyRecord(**found)
