"""`quanzi demo` keeps its made-up customers away from a user's own: its own directory by
default, and a refusal to load into a store holding customers it did not load."""

from __future__ import annotations

from pathlib import Path

import pytest

from quanzi.cli import _demo_settings, _refuse_to_mix_demo_data
from quanzi.errors import ConflictError
from quanzi.graph.store import GraphStore
from quanzi.model import Node


def test_demo_uses_its_own_directory_unless_one_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QUANZI_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)  # no .env file from the checkout
    assert _demo_settings(None).data_dir == tmp_path / "xdg" / "quanzi" / "demo"
    assert _demo_settings(tmp_path / "mine").data_dir == tmp_path / "mine"
    monkeypatch.setenv("QUANZI_DATA_DIR", str(tmp_path / "env"))
    assert _demo_settings(None).data_dir == tmp_path / "env"


def test_demo_refuses_a_store_with_customers_it_did_not_load(
    store: GraphStore, tmp_path: Path
) -> None:
    demo_dir = tmp_path / "demo-data"
    _refuse_to_mix_demo_data(store, tmp_path, demo_dir)  # an empty store is fine
    store.upsert_nodes(Node.CUSTOMER, [{"id": "c-real-1", "name": "王芳"}])
    with pytest.raises(ConflictError, match=r"already holds 1 customer\(s\).*--data-dir"):
        _refuse_to_mix_demo_data(store, tmp_path, demo_dir)
    demo_dir.mkdir()  # the demo ran here before: its own customers are in the store
    _refuse_to_mix_demo_data(store, tmp_path, demo_dir)
