"""One error tree for Quanzi.

Every error says what was wrong and what to do about it. Only the API layer maps these to
HTTP status codes; the CLI prints the message without a traceback.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "ConflictError",
    "InputError",
    "NotFoundError",
    "QuanziError",
    "StoreAuthError",
    "StoreError",
    "StoreUnavailableError",
]


class QuanziError(Exception):
    """Root of every error Quanzi raises on purpose."""


class ConfigError(QuanziError):
    """A setting is missing, malformed or unsafe (e.g. a placeholder password)."""


class InputError(QuanziError):
    """Input data is malformed; the message names the record, the field and the fix."""


class NotFoundError(QuanziError):
    """A requested record does not exist."""


class ConflictError(QuanziError):
    """A write would break a uniqueness rule or another invariant."""


class StoreError(QuanziError):
    """The graph store rejected a query or failed while running it."""


class StoreUnavailableError(StoreError):
    """The graph store cannot be reached (not started, crashed, wrong address)."""


class StoreAuthError(StoreError):
    """The graph store refused the credentials."""
