"""Fixtures for the ingest tests: small input files written on the fly."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from quanzi.ingest.readers import CONTACT_FIELDS
from quanzi.settings import Settings

WriteContacts = Callable[[str, Sequence[dict[str, Any]]], Path]
WriteEvents = Callable[[str, Sequence[dict[str, Any]]], Path]


@pytest.fixture
def ingest_settings(tmp_path: Path) -> Settings:
    """Settings for ingest calls: their own data directory, so no saved model leaks in."""
    return Settings(data_dir=tmp_path / "quanzi")


@pytest.fixture
def write_contacts(tmp_path: Path) -> WriteContacts:
    """Write rows as a contacts CSV file with every contact column."""

    def write(name: str, rows: Sequence[dict[str, Any]]) -> Path:
        path = tmp_path / name
        columns = [c for c in CONTACT_FIELDS if c != "attributes"]
        extra = sorted({k for r in rows for k in r} - set(columns))
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=columns + extra)
            writer.writeheader()
            for row in rows:
                writer.writerow(row)
        return path

    return write


@pytest.fixture
def write_events(tmp_path: Path) -> WriteEvents:
    """Write events as a JSON Lines file."""

    def write(name: str, events: Sequence[dict[str, Any]]) -> Path:
        path = tmp_path / name
        path.write_text(
            "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events), encoding="utf-8"
        )
        return path

    return write
