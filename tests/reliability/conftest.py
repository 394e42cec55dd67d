"""Fixtures for the fault tests: a bundled store of their own (these tests kill it), the
generator's files, and the graph of an uninterrupted load to compare with."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from quanzi.graph.connect import bundled_store, open_store
from quanzi.ingest import ingest_files
from quanzi.ingest.synthetic import GeneratorConfig, generate
from quanzi.settings import Settings

from .harness import FAULT_BATCH, FaultStore, GraphDump, dump_graph


@pytest.fixture(scope="package")
def fault_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultStore]:
    """A bundled store started for the fault tests only, with small write batches."""
    settings = Settings(
        store="bundled",
        data_dir=tmp_path_factory.mktemp("faults-data"),
        write_batch_size=FAULT_BATCH,
    )
    manager = bundled_store(settings)
    manager.start()
    store = open_store(settings, start=False)
    fs = FaultStore(settings, manager, store)
    yield fs
    fs.store.close()
    manager.stop()


@pytest.fixture
def fault_store(fault_root: FaultStore) -> FaultStore:
    """The fault tests' own store, running (restarted if a test left it down) and empty."""
    if fault_root.manager.status().state != "running":
        fault_root.manager.start()
        fault_root.reopen()
    fault_root.store.delete_everything()
    return fault_root


# -- input files --------------------------------------------------------------------------------
@pytest.fixture(scope="package")
def small_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generator's files for 200 people (about 400 contacts and 3,400 events)."""
    folder = tmp_path_factory.mktemp("faults-input")
    generate(folder, GeneratorConfig(customers=200, seed=11))
    return folder


@pytest.fixture(scope="package")
def uninterrupted(fault_root: FaultStore, small_dataset: Path) -> GraphDump:
    """The graph of one uninterrupted load of :func:`small_dataset` into an empty store."""
    fault_root.store.delete_everything()
    ingest_files(fault_root.store, [small_dataset], fault_root.settings)
    dump = dump_graph(fault_root.store)
    assert not dump.duplicates()
    return dump
