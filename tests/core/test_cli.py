"""CLI smoke tests, run as a user would: a subprocess, its output and exit status."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from quanzi.graph.store import GraphStore
from quanzi.settings import Settings

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


@pytest.mark.store
def test_ingest_shows_and_keeps_the_rejected_rows_and_reads_a_mapped_export(
    store: GraphStore, store_settings: Settings, tmp_path: Path
) -> None:
    # A shop's own export (other column names, no source column) read through a mapping;
    # seven rows, six with a phone that is no phone.
    export = tmp_path / "export.csv"
    lines = ["会员号,姓名,手机", "M1,王芳,139 0013 9000"]
    lines += [f"M{i},李{i},12{i}" for i in range(2, 8)]
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rules = tmp_path / "map.toml"
    rules.write_text(
        'kind = "contacts"\nsource = "shop"\n[columns]\n'
        '"手机" = "phone"\n"姓名" = "full_name"\n"会员号" = "source_record_id"\n',
        encoding="utf-8",
    )
    env = {"QUANZI_DATA_DIR": str(store_settings.data_dir), "NO_COLOR": "1", "COLUMNS": "200"}
    kept = tmp_path / "rejects.csv"
    result = quanzi(
        "ingest", str(export), "--mapping", f"{export}={rules}", "--rejects", str(kept), env=env
    )
    assert result.returncode == 0, result.stderr
    assert "rejected rows: 6" in result.stdout
    assert "export.csv:3 phone:" in result.stdout  # the first rows are shown
    assert f"... and 1 more; all 6 rejected rows are in {kept}" in result.stdout
    with kept.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["row"] for r in rows] == [str(i) for i in range(3, 9)]
    assert {r["field"] for r in rows} == {"phone"}
    assert kept.stat().st_mode & 0o777 == 0o600
    assert store.counts()["Customer"] == 1
    bad = quanzi("ingest", str(export), "--mapping", str(rules), env=env)
    assert bad.returncode == 1
    assert "--mapping takes FILE=MAPPING" in bad.stderr
