"""Worker processes even out their kept-alive connections (api/balance.py)."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest
from starlette.types import Message, Receive, Scope, Send

from quanzi.api import balance
from quanzi.api.balance import ConnectionBalancer


async def _ok(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x", b"1")]})
    await send({"type": "http.response.body", "body": b"{}"})


def _request(worker: ConnectionBalancer, port: int) -> bool:
    """One request from 127.0.0.1:port; whether the answer asked to close the connection."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "client": ("127.0.0.1", port), "method": "GET", "path": "/"}
    asyncio.run(worker(scope, receive, send))
    headers = dict(sent[0]["headers"])
    assert headers[b"x"] == b"1"  # the app's own headers are kept
    return headers.get(b"connection") == b"close"


def test_only_a_worker_above_its_share_sheds_its_excess(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """7 connections on one worker, 1 on the other. A worker looks (publishes its count and
    reads the others') at its first request of an interval; the clock stands still in
    between, so the looks come only where the test advances it."""
    clock = [1000.0]
    monkeypatch.setattr(balance.time, "monotonic", lambda: clock[0])
    busy = ConnectionBalancer(_ok, folder=tmp_path, worker="a")
    idle = ConnectionBalancer(_ok, folder=tmp_path, worker="b")
    assert not _request(idle, 8)
    assert not any(_request(busy, p) for p in range(1, 8))  # a's look saw only port 1
    clock[0] += balance.INTERVAL_S
    assert not _request(idle, 8)  # b publishes 1
    assert (tmp_path / "connections-b").read_text() == "1"
    # a holds 7 against a mean of 4: its next 3 requests, from 3 connections, are told to
    # reconnect, and no more before its next look.
    assert [_request(busy, p) for p in range(1, 8)] == [True] * 3 + [False] * 4
    assert (tmp_path / "connections-a").read_text() == "7"
    # Two of those clients reconnect to b (ports 9, 10), one to a again (port 11).
    assert not any(_request(idle, p) for p in (9, 10))
    assert not _request(busy, 11)
    clock[0] += balance.INTERVAL_S
    assert not _request(idle, 8)  # b publishes 3, below the mean
    # a holds 5 (4, 5, 6, 7, 11) against a mean of 4: one more is told to reconnect.
    assert [_request(busy, p) for p in (4, 5, 6, 7, 11)] == [True] + [False] * 4
    assert not _request(idle, 12)  # it went to b
    clock[0] += balance.INTERVAL_S
    assert not _request(idle, 8)  # b publishes 4
    # 4 and 4: nobody sheds.
    assert not any(_request(busy, p) for p in (5, 6, 7, 11))
    assert not any(_request(idle, p) for p in (9, 10, 12))
    clock[0] += balance.INTERVAL_S
    assert not any(
        _request(w, p)
        for w, ports in ((busy, (5, 6, 7, 11)), (idle, (8, 9, 10, 12)))
        for p in ports
    )
    assert (tmp_path / "connections-a").read_text() == "4"
    assert (tmp_path / "connections-b").read_text() == "4"


def test_a_worker_alone_or_beside_a_stopped_one_never_sheds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [50.0]
    monkeypatch.setattr(balance.time, "monotonic", lambda: clock[0])
    alone = ConnectionBalancer(_ok, folder=tmp_path, worker="a")
    (tmp_path / "connections-gone").write_text("0")
    old = balance.time.time() - balance.STALE_S - 10
    os.utime(tmp_path / "connections-gone", (old, old))
    for _ in range(3):
        assert not any(_request(alone, p) for p in range(1, 9))
        clock[0] += balance.INTERVAL_S
    # Connections not seen for a while no longer count.
    clock[0] += balance.WINDOW_S + 1
    _request(alone, 1)
    assert (tmp_path / "connections-a").read_text() == "1"


def test_an_idle_worker_counts_as_zero_while_it_lives_and_a_stopped_one_not_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Served workers are named by process id and write only when requests come: an old
    file of a live process is a worker with no recent connection (0), one of a process that
    has exited is ignored."""
    clock = [10.0]
    monkeypatch.setattr(balance.time, "monotonic", lambda: clock[0])
    dead = subprocess.Popen(["true"])  # a process that has exited
    dead.wait()
    old = balance.time.time() - balance.STALE_S - 60
    for pid, count in ((os.getppid(), "3"), (dead.pid, "5")):
        (tmp_path / f"connections-{pid}").write_text(count)
        os.utime(tmp_path / f"connections-{pid}", (old, old))
    busy = ConnectionBalancer(_ok, folder=tmp_path, worker="busy")
    assert (tmp_path / "connections-busy").read_text() == "0"  # announced as it starts
    assert not any(_request(busy, p) for p in range(1, 9))  # its first look saw port 1 only
    clock[0] += balance.INTERVAL_S
    # 8 against the idle live worker's 0 (its stale 3 is not read; the exited one is not
    # counted): a mean of 4, so it sheds 4.
    assert [_request(busy, p) for p in range(1, 9)] == [True] * 4 + [False] * 4
