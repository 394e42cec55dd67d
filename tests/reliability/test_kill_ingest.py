"""SIGKILL of ``quanzi ingest`` at random points, then the same ingest again: the graph equals
the graph of an uninterrupted load.

The kills hit the real command line in a subprocess. Where they land is random but aimed: the
test watches the store and kills at a random moment after the first customer batch has
committed (so inside the customer writes) and, on the second run, after the first interaction
has committed (inside the event writes). ``benchmarks/faults.py`` kills at purely random times
over whole runs, for many seeds.

Customer ids are compared too, not only the partition of records into customers: a new
customer's id is a hash of its oldest record, and a customer that committed before a kill keeps
its id, so a resumed load must give every customer the id the uninterrupted load gives it.
"""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

import pytest

from quanzi.ingest import ingest_files

from .harness import FaultStore, GraphDump, dump_graph, start_cli, wait_for

#: (what to wait for in the store, longest random extra delay in seconds) per killed run.
KILL_POINTS = (("Customer", 0.4), ("INTERACTS_WITH", 0.4))


@pytest.mark.parametrize("seed", [0])
def test_ingest_killed_twice_then_run_again_equals_an_uninterrupted_load(
    fault_store: FaultStore,
    small_dataset: Path,
    uninterrupted: GraphDump,
    tmp_path: Path,
    seed: int,
) -> None:
    fs, rng = fault_store, random.Random(seed)
    fs.store.delete_everything()
    for label, spread in KILL_POINTS:
        proc = start_cli(fs.settings, ["ingest", str(small_dataset)], tmp_path)
        wait_for(fs.store, label, proc=proc)
        time.sleep(rng.uniform(0, spread))
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        assert proc.returncode == -signal.SIGKILL, "the load ended before it was killed"
        partial = fs.store.counts()
        # The events file is marked loaded in its last write: the load was cut short.
        assert "IngestBatch" not in partial, partial

    report = ingest_files(fs.store, [small_dataset], fs.settings)
    assert not report.rejects
    resumed = dump_graph(fs.store)
    assert resumed.differences(uninterrupted) == []
    assert resumed.customer_ids == uninterrupted.customer_ids
    assert resumed.merged_away == frozenset()
    assert resumed.duplicates() == []
