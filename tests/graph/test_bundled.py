"""The bundled store manager: one server per data directory, crash recovery, clear errors."""

from __future__ import annotations

import os
import signal
import socket
import stat
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from quanzi.errors import ConfigError
from quanzi.graph.bundled import BundledStore
from quanzi.graph.connect import open_store
from quanzi.model import Node
from quanzi.settings import Settings


def test_lifecycle_single_server_and_crash_recovery(data_dir: Path) -> None:
    manager = BundledStore(data_dir, page_cache_mb=64)
    assert manager.status().state == "stopped"
    first = manager.start()
    try:
        assert first.state == "running"
        cmdline = Path(f"/proc/{first.pid}/cmdline").read_bytes().split(b"\0")
        assert b"-Darcadedb.maxPageRAM=64" in cmdline
        assert manager.start().pid == first.pid, "a second start must reuse the running server"
        assert BundledStore(data_dir).status().pid == first.pid
        mode = stat.S_IMODE(os.stat(manager.root / "credentials").st_mode)
        assert mode == 0o600
        assert manager.password() not in (manager.root / "server.log").read_text()

        store = open_store(Settings(data_dir=data_dir))
        store.upsert_nodes(Node.CUSTOMER, [{"id": "kept", "name": "survives a crash"}])
        store.close()

        assert first.pid is not None
        os.kill(first.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while manager.status().state != "stale" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert manager.status().state == "stale"

        second = manager.start()
        assert second.pid != first.pid
        store = open_store(Settings(data_dir=data_dir))
        assert store.get_node(Node.CUSTOMER, "kept") == {"id": "kept", "name": "survives a crash"}
        store.close()
    finally:
        manager.stop()
    assert manager.status().state == "stopped"
    assert not manager.stop()


def test_taken_port_is_a_clear_error(data_dir: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(ConfigError, match=f"Port {port} .* QUANZI_BUNDLED_BOLT_PORT"):
            BundledStore(data_dir, bolt_port=port).start()


def test_unwritable_data_dir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match=r"not writable.*QUANZI_DATA_DIR"):
        BundledStore(blocker / "data").start()


def test_processes_starting_together_share_the_data_dir(tmp_path: Path) -> None:
    # Service workers start at the same moment and each checks the data directory: one's
    # check must not trip over another's (two uvicorn workers failed to start on it).
    def check(_: int) -> str:
        return BundledStore(tmp_path / "data").password()

    with ThreadPoolExecutor(8) as pool:
        passwords = set(pool.map(check, range(400)))
    assert len(passwords) == 1
    root = tmp_path / "data" / "store"
    assert [p.name for p in root.iterdir()] == ["credentials"], "no probe or draft left behind"
