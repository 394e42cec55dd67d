"""The bundled store killed (SIGKILL of its Java process) during a load and during queries.

Quanzi must say the store is down in one clear line (``StoreUnavailableError``; the CLI exits
with 1; the API answers 503 ``application/problem+json``), ``quanzi store start`` must bring it
back (a crashed server is detected as stale and cleared), and everything committed before the
kill must still be there.
"""

from __future__ import annotations

import random
import re
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from quanzi.api.app import create_app
from quanzi.errors import StoreUnavailableError
from quanzi.graph.store import GraphStore
from quanzi.model import Node, Rel

from .harness import FaultStore, run_cli, start_cli, wait_for

KEY = "reliability-admin-key-0123456789"


def _customers(store: GraphStore) -> dict[str, frozenset[str]]:
    """Customer id -> the ids of its source records, for every customer now committed."""
    customers: dict[str, set[str]] = {}
    for a, b in store.read_pairs(Rel.HAS_IDENTITY, Node.CUSTOMER, Node.IDENTITY):
        customers.setdefault(a, set())
        if b.startswith("record:"):
            customers[a].add(b)
    return {c: frozenset(r) for c, r in customers.items()}


def _restart_with_the_cli(fs: FaultStore, cwd: Path) -> None:
    assert fs.manager.status().state == "stale"
    started = run_cli(fs.settings, ["store", "start"], cwd)
    assert started.returncode == 0, started.stderr
    assert fs.manager.status().state == "running"


def test_store_killed_during_an_ingest_is_reported_and_committed_batches_survive(
    fault_store: FaultStore, small_dataset: Path, tmp_path: Path
) -> None:
    fs = fault_store
    proc = start_cli(fs.settings, ["ingest", str(small_dataset)], tmp_path)
    wait_for(fs.store, "Customer", proc=proc)
    time.sleep(random.Random(3).uniform(0, 0.3))
    committed = _customers(fs.store)
    killed_at = time.monotonic()
    fs.kill_server()
    _, err = proc.communicate(timeout=120)
    took = time.monotonic() - killed_at

    assert proc.returncode == 1, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert re.match(r"Error: The (graph|bundled) store cannot be reached while", last), err[-2000:]
    assert "`quanzi store start`" in last
    # Measured 35 s with the driver's default retries; the bundled store now gives up in ~3 s.
    assert took < 20, f"the command needed {took:.0f} s to report the store down"

    _restart_with_the_cli(fs, tmp_path)
    store = fs.reopen()
    after = _customers(store)
    assert committed, "the kill should come after some customers were committed"
    lost = {c: r for c, r in committed.items() if after.get(c) != r}
    assert lost == {}, f"{len(lost)} committed customers lost or changed by the crash"
    # Running the load again completes it: test_kill_ingest.py checks that on the CLI's kill.


def test_store_killed_under_api_and_library_queries_is_a_503_then_recovers(
    fault_store: FaultStore, tmp_path: Path
) -> None:
    fs = fault_store
    fs.store.upsert_nodes(
        Node.CUSTOMER, [{"id": f"c{i:03}", "name": f"客户{i}"} for i in range(300)]
    )
    settings = fs.settings.model_copy(update={"api_keys": {SecretStr(KEY): "admin"}})
    headers = {"X-API-Key": KEY}
    with TestClient(create_app(settings)) as client:
        assert client.get("/customers", headers=headers, params={"limit": 5}).status_code == 200

        # Kill at a random moment while queries run back to back.
        killer = threading.Timer(random.Random(5).uniform(0.1, 0.6), fs.kill_server)
        killer.start()
        statuses: list[int] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (killer.is_alive() or statuses[-1:] != [503]):
            response = client.get("/customers", headers=headers, params={"limit": 50})
            statuses.append(response.status_code)
        killer.join()
        assert set(statuses) <= {200, 503}, statuses
        down = response
        assert down.status_code == 503
        assert down.headers["content-type"].startswith("application/problem+json")
        problem = down.json()
        assert problem["title"] == "Graph store unavailable"
        assert "quanzi store start" in problem["detail"]
        assert "\n" not in problem["detail"]
        health = client.get("/health")
        assert health.status_code == 503
        assert health.json()["store"] == "down"
        # Callers are not told where the store runs (/health answers anyone).
        for answer in (problem["detail"], health.text):
            assert "127.0.0.1" not in answer
            assert "connect" not in answer.lower()
        with pytest.raises(StoreUnavailableError, match="quanzi store start"):
            fs.store.counts()

        _restart_with_the_cli(fs, tmp_path)
        # The same app and the same library connection work again without being reopened:
        # the restarted server took the crashed one's ports.
        up = client.get("/customers", headers=headers, params={"include_total": True})
        assert up.status_code == 200, up.text
        assert up.json()["total"] == 300
        assert client.get("/health").json()["store"] == "up"
        assert fs.store.counts()["Customer"] == 300
