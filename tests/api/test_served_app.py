"""An app that opens its own store, as ``quanzi serve`` runs it."""

from __future__ import annotations

import contextlib
import gc
import http.client
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from quanzi.api.app import create_app
from quanzi.graph.store import GraphStore
from quanzi.settings import Settings
from tests.reliability.harness import cli_env

pytestmark = pytest.mark.store


def test_a_served_app_collects_young_objects_less_often_and_restores_it(
    session_store: GraphStore, store_settings: Settings
) -> None:
    # The session's store is running: the app connects to it rather than starting one.
    settings = store_settings.model_copy(update={"api_keys": {SecretStr("k" * 20): "viewer"}})
    before = gc.get_threshold()
    with TestClient(create_app(settings)) as client:
        assert gc.get_threshold() == (50_000, *before[1:])
        assert client.get("/customers", headers={"X-API-Key": "k" * 20}).status_code == 200
    assert gc.get_threshold() == before
    # An app given a store (tests, notebooks) leaves the interpreter's settings alone.
    with TestClient(create_app(settings, store=session_store)):
        assert gc.get_threshold() == before


def test_quanzi_serve_runs_several_worker_processes(
    session_store: GraphStore, store_settings: Settings, tmp_path: Path
) -> None:
    # `quanzi serve --workers 2` as a user runs it: two processes answer on one port, each
    # with its own app over the data directory it was given (here the session's running store).
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = cli_env(store_settings, QUANZI_DATA_DIR="/nonexistent-the-option-wins")
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "quanzi", "serve", "--workers", "2", "--port", str(port)),
            *("--data-dir", str(store_settings.data_dir)),
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        health: dict[str, object] = {}
        while time.monotonic() < deadline and not health:
            assert server.poll() is None, server.communicate()[0]
            with contextlib.suppress(httpx.HTTPError):
                answer = httpx.get(f"http://127.0.0.1:{port}/health", timeout=30)
                if answer.status_code == 200:
                    health = answer.json()
            time.sleep(0.3)
        assert health, "the service never answered"
        assert health["store"] == "up", health
        workers = [
            p for p in psutil.Process(server.pid).children() if "spawn" in " ".join(p.cmdline())
        ]
        assert len(workers) == 2, [p.cmdline() for p in psutil.Process(server.pid).children()]

        # A client cannot pick the address its rate limit counts on with X-Forwarded-For
        # (uvicorn believes it from 127.0.0.1 unless told otherwise; anonymous: 10/s).
        # Sent eight at a time until one is limited (at most 200, each from another claimed
        # address): one after the other, freshly started workers could answer 30 so slowly
        # that no second held more than ten of them (seen once in a full test run).
        def wrong_key(i: int) -> int:
            return httpx.get(
                f"http://127.0.0.1:{port}/customers",
                headers={"X-API-Key": "wrong", "X-Forwarded-For": f"10.0.{i // 250}.{i % 250}"},
                timeout=30,
            ).status_code

        statuses: list[int] = []
        with ThreadPoolExecutor(8) as pool:
            for start in range(0, 200, 40):
                statuses += pool.map(wrong_key, range(start, start + 40))
                if 429 in statuses:
                    break
        assert set(statuses) == {401, 429}, statuses
        # Eight kept-alive clients on two workers: each worker publishes how many
        # connections it serves, and one serving more than its share tells clients to
        # reconnect (api/balance.py). Where a reconnecting client lands is the kernel's
        # choice: with requests this quick the shedding worker is often the one waiting in
        # accept() and takes the client back (a 5/3 split stayed 5/3 for 8 s in one trace),
        # so the test asks for the shedding, not for an even split (measured under load in
        # docs/api-latency.md). The two files are written at different moments, so a
        # reading can also be off by a connection in flight.
        folder = store_settings.data_dir / "api"
        files = [folder / f"connections-{p.pid}" for p in workers]
        clients = [http.client.HTTPConnection("127.0.0.1", port, timeout=30) for _ in range(8)]
        seen: list[list[int]] = []
        reconnects = 0
        until = time.monotonic() + 6
        while time.monotonic() < until or (
            time.monotonic() < until + 6 and not any(sum(c) == 8 for c in seen)
        ):
            for client in clients:
                client.request("GET", "/health")
                answer = client.getresponse()
                assert answer.read()
                reconnects += answer.getheader("connection") == "close"
            with contextlib.suppress(OSError, ValueError):
                seen.append([int(f.read_text()) for f in files])
        first = next((c for c in seen if sum(c) == 8), None)
        assert first is not None, ("the two workers' counts never added up to 8", seen)
        spread = [max(c) - min(c) for c in seen if sum(c) == 8]
        if sum(s >= 2 for s in spread) > len(spread) // 2:  # mostly uneven
            assert reconnects >= 1, seen
    finally:
        server.send_signal(signal.SIGINT)
        output = server.communicate(timeout=60)[0]
    assert "2 worker processes" in output
