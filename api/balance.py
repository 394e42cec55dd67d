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
writes that count to a small file beside the others' (``<data_dir>/api/connections-<pid>``).
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
#: A count file older than this belongs to a worker that stopped.
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
        with contextlib.suppress(OSError):
            temporary = self._mine.with_suffix(".tmp")
            temporary.write_text(str(mine))
            temporary.replace(self._mine)
            wall = time.time()
            for path in self.folder.glob(f"{_PREFIX}*"):
                if path == self._mine or path.suffix == ".tmp":
                    continue
                with contextlib.suppress(OSError, ValueError):
                    if wall - path.stat().st_mtime <= STALE_S:
                        counts.append(int(path.read_text()))
        return int(mine - sum(counts) / len(counts)) if len(counts) > 1 else 0
