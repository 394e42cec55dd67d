"""The server's worker processes even out their kept-alive connections.

``quanzi serve`` runs several worker processes on one listening socket (one per core by
default). A client's kept-alive connection stays with the worker that accepted it, and
clients that connect together split at random between the workers. One worker computes on
one core at most (its interpreter lock), so the clients of the busier worker wait for one
another while another worker has CPU to spare. Measured at 100k customers with 8 clients
on two workers (docs/api-latency.md, "Session 13"):
- a 4/4 split: lookalike p99 103-130 ms;
- a 6/2 split: 135-158 ms;
- a 7/1 split in a slow hour: 208 ms.

Each worker counts the connections it served in the last :data:`WINDOW_S` seconds and
writes that count to a small file beside the others' (``<data_dir>/api/connections-<pid>``),
first as it starts (0) and then at its looks. A worker writes only when requests come, so a
file older than the window belongs to a worker none of whose connections sent a request
within it: it counts 0 while that process lives, and not at all once it has stopped.
Every :data:`INTERVAL_S` seconds at most it compares its count with the workers' mean. A
worker holding n whole connections more than the mean answers the next n requests, from n
different connections, with ``Connection: close``. Each of those clients opens a new
connection for its next request, as HTTP/1.1 clients do by themselves, and any worker may
accept it. Only the busier workers shed connections, so the split drifts to even within
seconds, and an even split sheds nothing.

(Telling every connection to reconnect after a fixed number of requests, whatever the
load, was measured first and made the tail worse. That is not what this does.)
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["INTERVAL_S", "WINDOW_S", "ConnectionBalancer"]

#: A worker looks at the counts, and decides how many connections to shed, at most this often.
INTERVAL_S = 0.5
#: A connection counts while it sent a request within this many seconds.
WINDOW_S = 2.0
#: A count file older than this, not named by a process id (tests name their workers),
#: belongs to a worker that stopped.
STALE_S = 5.0
_PREFIX = "connections-"


class ConnectionBalancer:
    """ASGI middleware: shed a kept-alive connection while this worker holds more than its
    share (see the module). ``worker`` names this worker's count file (its process id by
    default)."""

    def __init__(self, app: ASGIApp, *, folder: Path, worker: str | None = None) -> None:
        self.app = app
        self.folder = folder
        self._mine = folder / f"{_PREFIX}{worker or os.getpid()}"
        self._seen: dict[tuple[str, int], float] = {}
        self._next_look = 0.0
        self._to_shed = 0
        # Announce this worker (built as it starts): a worker that no connection has reached
        # yet still counts in the others' mean, so they can shed towards it.
        self._publish(0)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] != "http" or not client:
            await self.app(scope, receive, send)
            return
        peer = (str(client[0]), int(client[1]))
        now = time.monotonic()
        self._seen[peer] = now
        if now >= self._next_look:
            self._to_shed = self._excess(now)
        if self._to_shed <= 0:
            await self.app(scope, receive, send)
            return
        self._to_shed -= 1
        del self._seen[peer]

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receive, send_closing)

    def _excess(self, now: float) -> int:
        """Publish this worker's count; how many whole connections it holds above the
        workers' mean (the connections to shed before the next look)."""
        self._next_look = now + INTERVAL_S
        self._seen = {p: t for p, t in self._seen.items() if now - t <= WINDOW_S}
        mine = len(self._seen)
        counts = [mine]
        if self._publish(mine):
            wall = time.time()
            for path in self.folder.glob(f"{_PREFIX}*"):
                if path == self._mine or path.suffix == ".tmp":
                    continue
                with contextlib.suppress(OSError, ValueError):
                    count = _count_of(path, wall)
                    if count is not None:
                        counts.append(count)
        return int(mine - sum(counts) / len(counts)) if len(counts) > 1 else 0

    def _publish(self, count: int) -> bool:
        """Write this worker's count (atomically); whether it could."""
        try:
            temporary = self._mine.with_suffix(".tmp")
            temporary.write_text(str(count))
            temporary.replace(self._mine)
        except OSError:
            return False
        return True


def _count_of(path: Path, wall: float) -> int | None:
    """Another worker's count from its file: as written while the file is younger than
    :data:`WINDOW_S`, else 0 while its process lives; None for a worker that stopped (a
    file not named by a process id: once older than :data:`STALE_S`)."""
    age = wall - path.stat().st_mtime
    name = path.name.removeprefix(_PREFIX)
    if not name.isdigit():
        return int(path.read_text()) if age <= STALE_S else None
    if not _alive(int(name)):
        return None
    return int(path.read_text()) if age <= WINDOW_S else 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
