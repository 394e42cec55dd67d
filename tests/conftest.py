"""Shared fixtures: one real bundled store per test session, emptied between tests."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from quanzi.graph.bundled import BundledStore
from quanzi.graph.connect import bundled_store, open_store
from quanzi.graph.store import GraphStore
from quanzi.settings import Settings


@pytest.fixture(scope="session")
def store_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings whose data directory holds a bundled store started for this session."""
    settings = Settings(store="bundled", data_dir=tmp_path_factory.mktemp("quanzi-data"))
    manager = bundled_store(settings)
    manager.start()
    yield settings
    manager.stop()


@pytest.fixture(scope="session")
def bundled(store_settings: Settings) -> BundledStore:
    """The session's bundled store manager."""
    return bundled_store(store_settings)


@pytest.fixture(scope="session")
def session_store(store_settings: Settings) -> Iterator[GraphStore]:
    """One open GraphStore for the whole session."""
    store = open_store(store_settings)
    yield store
    store.close()


@pytest.fixture
def store(session_store: GraphStore) -> GraphStore:
    """The session's store, emptied before the test (the schema stays)."""
    session_store.delete_everything()
    return session_store


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """An empty data directory for tests that manage their own store."""
    return tmp_path / "data"


@pytest.fixture(scope="session", autouse=True)
def _unfreeze_at_exit() -> Iterator[None]:
    """Apps' graph caches freeze their graphs out of GC passes (``gc.freeze``); undo it at the
    end so the interpreter frees everything, native objects included, at exit."""
    yield
    gc.unfreeze()
    gc.collect()
