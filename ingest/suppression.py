"""Erased people stay erased: their keys are remembered as keyed hashes and refused at ingest.

When a person is erased (:mod:`quanzi.api.services.privacy`), the identities they held alone
-- their source records (``record:crm:A-1``) and channel keys (``phone:+86…``,
``email:…``, ``wechat_unionid:…``, ``wechat_openid:…``, ``id_number:…``) -- are written as
``ErasedKey`` nodes whose id is ``HMAC-SHA256(secret, identity id)``, with the date of the
erasure. Before resolution, ingest hashes the identities of every new record the same way
and rejects the rows that match: ``"erased on <date>; subject requested erasure"``. A key
the person shared with someone else (a household phone) is not remembered, so the other
person's records still load.

The secret is what keeps the list from being read back: without it a hash cannot be
tested against guessed phone numbers. It is ``QUANZI_ERASURE_SECRET``, or else a random
one generated at the first erasure into ``<data_dir>/erasure.key`` (mode 0600; its text is
what ``QUANZI_ERASURE_SECRET`` would hold) -- never in the store. Each ``ErasedKey``
records which secret made it (``secret_id``, an HMAC of a fixed text); an ingest or erasure
whose secret differs from the store's is refused with a :class:`~quanzi.errors.ConfigError`
rather than silently letting erased people back in.

Examples
--------
>>> hasher = ErasureHasher(b"k" * 32)
>>> hasher.hash("phone:+8613800138000") == hasher.hash("phone:+8613800138000")
True
>>> len(hasher.hash("record:crm:1")), hasher.secret_id
(64, '36107083')
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable, Mapping, MutableMapping
from datetime import UTC, datetime
from typing import Any

from quanzi.errors import ConfigError
from quanzi.graph import queries as q
from quanzi.graph.store import GraphStore
from quanzi.ingest.records import KEY_FIELDS, identity_id, record_identity_id
from quanzi.ingest.report import IngestReport
from quanzi.settings import Settings

__all__ = [
    "ErasureHasher",
    "erased_key_rows",
    "erased_records",
    "erasure_hasher",
    "reject_erased",
]

_KEY_FILE = "erasure.key"


class ErasureHasher:
    """Keyed hashes of identity ids under one secret."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        #: Names the secret without revealing it; stored on every ``ErasedKey``.
        self.secret_id = self._mac(b"quanzi erasure secret id")[:8]

    def _mac(self, text: bytes) -> str:
        return hmac.new(self._secret, text, hashlib.sha256).hexdigest()

    def hash(self, identity: str) -> str:
        """The hash an identity id is remembered as."""
        return self._mac(identity.encode("utf-8"))


def _read_secret(settings: Settings) -> bytes | None:
    if settings.erasure_secret is not None:
        return settings.erasure_secret.get_secret_value().encode("utf-8")
    path = settings.data_dir / _KEY_FILE
    return path.read_text(encoding="ascii").strip().encode("ascii") if path.exists() else None


def _new_secret(settings: Settings) -> bytes:
    path = settings.data_dir / _KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker made it first
        return path.read_text(encoding="ascii").strip().encode("ascii")
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secret + "\n")
    return secret.encode("ascii")


def _check(stored: set[str], hasher: ErasureHasher | None) -> None:
    """Raise if the stored erased keys were made with another secret than ``hasher``'s."""
    if stored and (hasher is None or stored != {hasher.secret_id}):
        raise ConfigError(
            "The store's list of erased people was made with another erasure secret than "
            f"this machine's ({'none' if hasher is None else hasher.secret_id}; store: "
            f"{', '.join(sorted(stored))}): set QUANZI_ERASURE_SECRET to the secret used for "
            f"the erasures, or copy its {_KEY_FILE} into the data directory"
        )


def erasure_hasher(store: GraphStore, settings: Settings) -> ErasureHasher:
    """The hasher of this deployment (its secret generated if there is none yet), checked
    against the erased keys already stored.

    Raises
    ------
    ConfigError
        The store holds keys hashed with another secret.
    """
    hasher = ErasureHasher(_read_secret(settings) or _new_secret(settings))
    rows = store.read(q.ERASED_KEY_SECRETS, "reading the erasure list's secret ids")
    _check({str(s) for s in (rows[0]["secret_ids"] if rows else []) if s}, hasher)
    return hasher


def erased_key_rows(hasher: ErasureHasher, identities: Iterable[str]) -> list[dict[str, str]]:
    """``ErasedKey`` rows for the identity ids of an erased person (written by the erasure)."""
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    return [
        {"id": hasher.hash(i), "erased_at": today, "secret_id": hasher.secret_id}
        for i in sorted(set(identities))
    ]


def _identities(record_id: str, profile: Mapping[str, Any]) -> list[tuple[str, str]]:
    out = [(record_identity_id(record_id), "source_record_id")]
    out += [(identity_id(k, str(profile[k])), k) for k in KEY_FIELDS if profile.get(k)]
    return out


def _erasure_list(
    store: GraphStore, settings: Settings
) -> tuple[ErasureHasher, dict[str, str]] | None:
    """This deployment's hasher and the stored list (hash -> date of the erasure); ``None``
    when nobody was erased. One query: a few keys per erased person."""
    rows = store.read(q.ERASED_KEYS, "reading the list of erased people")
    if not rows:
        return None
    secret = _read_secret(settings)
    hasher = ErasureHasher(secret) if secret is not None else None
    _check({str(r["secret_id"]) for r in rows}, hasher)
    assert hasher is not None  # _check refuses a store with erased keys and no secret
    return hasher, {str(r["id"]): str(r["erased_at"]) for r in rows}


def erased_records(store: GraphStore, settings: Settings, records: Iterable[str]) -> dict[str, str]:
    """Which of ``records`` (``"<source>:<source_record_id>"``) belong to erased people, with
    the date of the erasure: events that name them are refused, not kept waiting for a
    contact record that will never load."""
    wanted = list(records)
    listed = _erasure_list(store, settings) if wanted else None
    if listed is None:
        return {}
    hasher, erased_on = listed
    found = {r: erased_on.get(hasher.hash(record_identity_id(r))) for r in wanted}
    return {r: at for r, at in found.items() if at is not None}


def reject_erased(
    store: GraphStore,
    settings: Settings,
    profiles: MutableMapping[str, dict[str, Any]],
    first_row: Mapping[str, tuple[str, int]],
    report: IngestReport,
) -> None:
    """Take out of ``profiles`` the records of erased people, as rejects in ``report``.

    Parameters
    ----------
    profiles : mutable mapping of record id to profile
        Normalised records about to be resolved; erased ones are removed.
    first_row : mapping of record id to (file, row)
        Where each record was read, for the rejects report.

    One query reads the erasure list (a few keys per erased person); the records' keys are
    hashed here and looked up in it.
    """
    if not profiles:
        return
    listed = _erasure_list(store, settings)
    if listed is None:
        return
    hasher, erased_on = listed
    erased: dict[str, tuple[str, str]] = {}
    for rid, profile in profiles.items():
        for identity, field in _identities(rid, profile):
            at = erased_on.get(hasher.hash(identity))
            if at is not None:
                erased[rid] = (field, at)
                break  # the record id comes first: the most telling reason
    for rid, (field, at) in sorted(erased.items(), key=lambda e: first_row[e[0]]):
        origin, row_no = first_row[rid]
        report.reject(origin, row_no, field, f"erased on {at}; subject requested erasure")
        del profiles[rid]
    report.counts["contacts_erased"] += len(erased)
