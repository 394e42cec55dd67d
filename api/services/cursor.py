"""Opaque cursors for keyset pagination.

A cursor carries the sort key and id of the last item of a page and what it was sorted by,
base64url-encoded JSON. It is not a secret (the values are in the page already) but callers
treat it as opaque; a cursor used with another sort order is refused.

Examples
--------
>>> c = encode_cursor("name", "Li", "cus_1")
>>> decode_cursor(c, "name")
('Li', 'cus_1')
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from quanzi.errors import InputError

__all__ = ["decode_cursor", "encode_cursor"]


def encode_cursor(sort: str, key: Any, last_id: str) -> str:
    """The cursor that continues after the item (``key``, ``last_id``) in order ``sort``."""
    raw = json.dumps({"s": sort, "k": key, "i": last_id}, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[Any, str]:
    """``(key, last_id)`` from a cursor; :class:`InputError` if it is not one for ``sort``."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        key, last_id, made_for = data["k"], data["i"], data["s"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise InputError(
            "cursor: not a cursor from this API; pass the next_cursor of the previous page"
        ) from None
    if not isinstance(last_id, str):
        raise InputError("cursor: damaged; start again without a cursor")
    if made_for != sort:
        raise InputError(
            f"cursor: it was made for sort={made_for!r}, not {sort!r}; "
            "keep the same sort while paging, or start again without a cursor"
        )
    if not isinstance(key, str | int | float) or isinstance(key, bool):
        raise InputError("cursor: damaged; start again without a cursor")
    return key, last_id
