"""One writer at a time: an advisory file lock around every ingest over one data directory.

An ingest reads what the graph holds (the customers its records may join), resolves, and then
writes. Two at once would each resolve against a graph without the other's records: measured
here (``tests/reliability/test_concurrency.py``), two ingests of files that share phones,
e-mails and WeChat ids created two customers for one WeChat unionid, or one of them failed
half-way on a uniqueness rule. Retrying a conflicting write does not help, because the decision
it carries was taken on a stale read; so ingests over one data directory take turns, and a
second one waits for the first instead of failing.

The lock is ``<data_dir>/ingest/writer.lock`` (``flock``): it covers the processes of one
machine that share a data directory (CLI commands, API workers), and the kernel releases it
when its holder dies, even by SIGKILL. Loaders on other machines writing into the same Neo4j
are not covered: run one ingest at a time there.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from quanzi.errors import ConfigError, ConflictError

__all__ = ["writer_lock"]

_LOCK_FILE = "writer.lock"


@contextlib.contextmanager
def writer_lock(
    data_dir: Path,
    *,
    on_wait: Callable[[str], None] | None = None,
    timeout: float | None = None,
    what: str = "this write",
    doing: str = "an ingest",
) -> Iterator[None]:
    """Hold the data directory's writer lock for the ``with`` block, waiting for it if taken.

    ``doing`` says what the holder does ("an ingest", "an analysis", "a merge"); it is written
    into the lock file with the process id so that a waiting writer can name its holder.
    ``on_wait(holder)`` is called once, before waiting, with the holder as text, e.g. "an
    ingest (process 1234)". With ``timeout`` (seconds), a lock still held after it raises
    :class:`~quanzi.errors.ConflictError` naming ``what`` and the holder, instead of waiting
    on: for short writes a person is waiting for (a merge or split through the API) while an
    ingest may run for minutes.

    Examples
    --------
    >>> import tempfile
    >>> with writer_lock(Path(tempfile.mkdtemp())):
    ...     pass
    """
    folder = Path(data_dir) / "ingest"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(folder / _LOCK_FILE, "a+")  # noqa: SIM115 - held across the yield
    except OSError as e:
        raise ConfigError(
            f"Cannot create the ingest lock in {folder} ({e.strerror}): "
            "set QUANZI_DATA_DIR to a folder you can write to"
        ) from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = _holder(handle.read())
            if on_wait is not None:
                on_wait(holder)
            if timeout is None:
                fcntl.flock(handle, fcntl.LOCK_EX)
            else:
                _wait_for(handle, timeout, what, holder)
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()} {doing}")
            handle.flush()
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _holder(text: str) -> str:
    """``"1234 an ingest"`` (an older lock file: bare ``"1234"``) as "an ingest (process 1234)"."""
    pid, _, doing = text.strip().partition(" ")
    return f"{doing or 'an ingest'} (process {pid or '?'})"


def _wait_for(handle: IO[str], timeout: float, what: str, holder: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise ConflictError(
                    f"{holder[0].upper()}{holder[1:]} is writing to this data directory; "
                    f"{what} waited {timeout:g} s for it. Retry when it has finished."
                ) from None
            time.sleep(0.05)
