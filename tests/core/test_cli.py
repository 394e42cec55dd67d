"""CLI smoke tests, run as a user would: a subprocess, its output and exit status."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

COMMANDS = [[], ["store"], ["store", "start"], ["store", "stop"], ["store", "status"],
            ["generate"], ["ingest"], ["analyze"], ["serve"], ["demo"], ["create-key"]]  # fmt: skip


def quanzi(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("QUANZI_")} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "quanzi", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "quanzi")
def test_every_command_has_help(command: list[str]) -> None:
    result = quanzi(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout


def test_store_status_on_empty_data_dir(tmp_path: Path) -> None:
    result = quanzi("store", "status", "--data-dir", str(tmp_path))
    assert result.returncode == 0
    assert "stopped" in result.stdout


def test_placeholder_password_is_one_clear_message(tmp_path: Path) -> None:
    env = {
        "QUANZI_STORE": "neo4j",
        "QUANZI_NEO4J_URI": "bolt://crm-db.example.com:7687",
        "QUANZI_NEO4J_PASSWORD": "neo4j",
    }
    result = quanzi("analyze", env=env)
    assert result.returncode == 1
    assert "QUANZI_NEO4J_PASSWORD" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_neo4j_is_one_clear_message() -> None:
    env = {"QUANZI_STORE": "neo4j", "QUANZI_NEO4J_URI": "bolt://127.0.0.1:9"}
    result = quanzi("analyze", env=env)
    assert result.returncode == 1
    assert "cannot be reached" in result.stderr
    assert "Traceback" not in result.stderr


def test_unwritable_data_dir_is_one_clear_message(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = quanzi("store", "start", "--data-dir", str(blocker / "data"))
    assert result.returncode == 1
    assert "not writable" in result.stderr
    assert "Traceback" not in result.stderr


def test_create_key_refuses_a_sales_key_without_an_employee(tmp_path: Path) -> None:
    # The API refuses it too: a sales key without an employee sees no one's customers.
    result = quanzi("create-key", "Li", "--role", "sales", "--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert "must be bound to an employee" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "api" / "keys.json").exists()
    made = quanzi(
        "create-key", "Li", "--role", "sales", "--employee", "E1", "--data-dir", str(tmp_path)
    )
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip().startswith("qz_")
