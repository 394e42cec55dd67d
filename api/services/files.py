"""Small JSON documents the API keeps beside the store (API keys, segments, jobs).

They live under ``<data_dir>/api/``. Every write takes an exclusive lock on a sibling
``.lock`` file and replaces the document atomically, so several API worker processes on one
machine share them safely; reads are cached until the file's modification time changes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["JsonDocument", "api_folder"]

T = TypeVar("T")


def api_folder(data_dir: Path) -> Path:
    """The folder of the API's own files, created with owner-only permissions."""
    folder = Path(data_dir) / "api"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


class JsonDocument:
    """One JSON object in a file, read cached and updated under a lock.

    Parameters
    ----------
    path : Path
        The file; it need not exist yet (it reads as ``{}``).

    Examples
    --------
    >>> import tempfile
    >>> doc = JsonDocument(Path(tempfile.mkdtemp()) / "doc.json")
    >>> doc.update(lambda d: d.setdefault("a", 1))
    1
    >>> doc.read()
    {'a': 1}
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._cache: tuple[int, dict[str, Any]] | None = None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock, open(self.path.with_suffix(".lock"), "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _load(self) -> dict[str, Any]:
        try:
            stamp = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return {}
        if self._cache is not None and self._cache[0] == stamp:
            return self._cache[1]
        data: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8") or "{}")
        self._cache = (stamp, data)
        return data

    def read(self) -> dict[str, Any]:
        """The document (do not modify it: use :meth:`update`)."""
        return self._load()

    def update(self, change: Callable[[dict[str, Any]], T]) -> T:
        """Apply ``change`` to a fresh copy of the document and save it; return its result."""
        with self._locked():
            self._cache = None
            data = json.loads(json.dumps(self._load()))
            result = change(data)
            tmp = self.path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, ensure_ascii=False, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
            self._cache = None
            return result
