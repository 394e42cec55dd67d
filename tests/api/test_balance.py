"""Worker processes even out their kept-alive connections (api/balance.py)."""

from __future__ import annotations

import asyncio
import os
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


def test_only_a_worker_above_its_share_sheds_one_connection_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(balance.time, "monotonic", lambda: clock[0])
    busy = ConnectionBalancer(_ok, folder=tmp_path, worker="a")
    idle = ConnectionBalancer(_ok, folder=tmp_path, worker="b")
    # 6 connections on one worker, 2 on the other: the counts are published at the first
    # look of each, and only then compared.
    assert not any(_request(idle, p) for p in (7, 8))
    closed = [_request(busy, p) for p in range(1, 7)]
    assert closed == [False] * 6  # a's first look saw only its first connection
    clock[0] += balance.INTERVAL_S
    assert not _request(idle, 7)  # b publishes 2: below the mean
    assert (tmp_path / "connections-b").read_text() == "2"
    assert _request(busy, 1)  # a holds 6 against a mean of 4: this one is told to reconnect
    assert not any(_request(busy, p) for p in range(2, 7))  # one per interval at most
    clock[0] += balance.INTERVAL_S
    # The client reconnected to b (port 9). Each worker publishes what it had seen at its
    # look, its first request of an interval: b 2, a 5, still above the mean.
    assert not any(_request(idle, p) for p in (7, 8, 9))
    assert _request(busy, 2)
    clock[0] += balance.INTERVAL_S
    assert not any(_request(idle, p) for p in (7, 8, 9, 10))
    # b now publishes 4 and a holds 4: nobody sheds.
    assert not any(_request(busy, p) for p in (3, 4, 5, 6))
    clock[0] += balance.INTERVAL_S
    assert not any(
        _request(w, p) for w, ports in ((busy, (3, 4, 5, 6)), (idle, (7, 8, 9, 10))) for p in ports
    )


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
