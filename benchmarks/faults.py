"""Fault injection beyond the default test run: many SIGKILLs of ``quanzi ingest`` and of the
bundled store at purely random moments, and concurrent ingests of overlapping files.

The default test run (``tests/reliability``) kills at points it aims at and for one seed; this
script kills at uniformly random moments of whole runs, for many seeds, with the same checks
(``tests/reliability/harness.py``). The reference, measured first in the same run, is one
uninterrupted ``quanzi ingest`` of the same files into the same emptied store.

For each seed:

1. **ingest killed**: ``--kills`` runs of the real CLI are SIGKILLed at uniform random moments
   in ``[W, T)`` (``W``: when the uninterrupted run wrote first, ``T``: when it ended; before
   ``W`` it is still importing and reading), then the same ingest runs to its end. The graph
   must equal the uninterrupted one: the same customers (as sets of source records) with the
   same ids, the same nodes and relations with the same properties (write times aside), no
   duplicates.
2. **store killed**: the store's Java process is SIGKILLed at a random moment in ``[W, T)`` of
   a CLI ingest. The CLI must exit with 1 and one ``Error: The bundled store cannot be reached``
   line; ``quanzi store start`` restarts the store; every customer seen committed just before
   the kill must still be there, whole; the ingest run again must give the uninterrupted graph.
3. **two ingests at once**: the contacts cut in two at random, both halves ingested by two
   CLI processes started together; the graph must equal the halves loaded one after the other
   in the order the two finished.

Run::

    python benchmarks/faults.py --seeds 10                  # ~200 people, 3 kills a seed
    python benchmarks/faults.py --seeds 3 --customers 2000 --kills 5

It prints each seed's outcome and where each kill landed (read from what the store held
afterwards), then the totals: runs whose graph matched, seconds from a store kill to the
CLI's error, and the wall time of a killed-and-resumed load over the uninterrupted one.
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from quanzi.graph.connect import bundled_store, open_store  # noqa: E402
from quanzi.ingest.readers import CONTACT_FIELDS  # noqa: E402
from quanzi.ingest.synthetic import GeneratorConfig, generate  # noqa: E402
from quanzi.model import Node, Rel  # noqa: E402
from quanzi.settings import Settings  # noqa: E402
from tests.reliability.harness import (  # noqa: E402
    FAULT_BATCH,
    FaultStore,
    GraphDump,
    dump_graph,
    run_cli,
    start_cli,
)


def phase(store_counts: dict[str, int], customers: int) -> str:
    """Where a load was when it was killed, from what the store holds."""
    if store_counts.get("IngestBatch"):
        return "finished"
    if store_counts.get("INTERACTS_WITH") or store_counts.get("MEMBER_OF"):
        return "events"
    n = store_counts.get("Customer", 0)
    if n == 0:
        return "before writes"
    return "customers" if n < customers else "after customers"


def committed_customers(fs: FaultStore) -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    for a, b in fs.store.read_pairs(Rel.HAS_IDENTITY, Node.CUSTOMER, Node.IDENTITY):
        out.setdefault(a, set())
        if b.startswith("record:"):
            out[a].add(b)
    return {c: frozenset(r) for c, r in out.items()}


def same(a: GraphDump, b: GraphDump) -> bool:
    return not a.differences(b) and a.customer_ids == b.customer_ids and not a.duplicates()


def split_contacts(data: Path, folder: Path, seed: int) -> list[Path]:
    with (data / "contacts.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    random.Random(seed).shuffle(rows)
    paths = [folder / f"half-{seed}-a.csv", folder / f"half-{seed}-b.csv"]
    for path, half in zip(paths, (rows[: len(rows) // 2], rows[len(rows) // 2 :]), strict=True):
        with path.open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=[c for c in CONTACT_FIELDS if c in rows[0]])
            writer.writeheader()
            writer.writerows(half)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--kills", type=int, default=3, help="SIGKILLs of the CLI per seed")
    parser.add_argument("--customers", type=int, default=200, help="people to generate")
    parser.add_argument("--batch", type=int, default=FAULT_BATCH, help="write batch size")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop the store on the way out

    work = Path(tempfile.mkdtemp(prefix="quanzi-faults-"))
    data = work / "input"
    generate(data, GeneratorConfig(customers=args.customers, seed=11))
    settings = Settings(store="bundled", data_dir=work / "data", write_batch_size=args.batch)
    manager = bundled_store(settings)
    manager.start()
    fs = FaultStore(settings, manager, open_store(settings, start=False))
    try:
        run(fs, data, work, args)
    finally:
        fs.store.close()
        manager.stop()


def timed_load(fs: FaultStore, data: Path, work: Path) -> tuple[float, float]:
    """Run one uninterrupted CLI ingest into the emptied store; return (seconds until its
    first write, seconds in all)."""
    fs.store.delete_everything()
    started = time.monotonic()
    proc = start_cli(fs.settings, ["ingest", str(data)], work)
    first_write = 0.0
    # Poll only until the first write: counting scans the graph, and polling all along would
    # slow the load it measures.
    while proc.poll() is None and not set(fs.store.counts()) - {"SchemaMeta"}:
        time.sleep(0.05)
    first_write = time.monotonic() - started
    _, err = proc.communicate()
    total = time.monotonic() - started
    assert proc.returncode == 0, err
    return first_write, total


def run(fs: FaultStore, data: Path, work: Path, args: argparse.Namespace) -> None:
    timed_load(fs, data, work)  # warm the store and the file cache
    # The shortest of two runs: on a shared machine a slow run would put most kills after
    # the end of the faster runs that follow.
    runs = [timed_load(fs, data, work) for _ in range(2)]
    first_write_s, uninterrupted_s = min(r[0] for r in runs), min(r[1] for r in runs)
    uninterrupted = dump_graph(fs.store)
    customers = len(uninterrupted.customers)
    print(
        f"uninterrupted CLI ingest (reference, shortest of 2): {uninterrupted_s:.1f} s, the "
        f"first write after {first_write_s:.1f} s; {customers} customers, "
        f"{sum(uninterrupted.relations.values())} relations"
    )
    landed: Counter[str] = Counter()
    matched = Counter[str]()
    resumed_ratio: list[float] = []
    report_s: list[float] = []
    for seed in range(args.seeds):
        rng = random.Random(seed)
        # 1. the CLI killed at random moments, then run to its end
        fs.store.delete_everything()
        spent = 0.0
        where = []
        for _ in range(args.kills):
            delay = rng.uniform(first_write_s, uninterrupted_s)
            t0 = time.monotonic()
            proc = start_cli(fs.settings, ["ingest", str(data)], work)
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            proc.communicate()
            spent += time.monotonic() - t0
            where.append(phase(fs.store.counts(), customers))
        landed.update(where)
        t0 = time.monotonic()
        final = run_cli(fs.settings, ["ingest", str(data)], work, timeout=3600)
        spent += time.monotonic() - t0
        ok = final.returncode == 0 and same(dump_graph(fs.store), uninterrupted)
        matched["ingest killed"] += ok
        resumed_ratio.append(spent / uninterrupted_s)
        print(f"seed {seed}: ingest killed in {where}: {'same graph' if ok else 'DIFFERENT'}")

        # 2. the store killed during a CLI ingest
        fs.store.delete_everything()
        proc = start_cli(fs.settings, ["ingest", str(data)], work)
        time.sleep(rng.uniform(first_write_s, uninterrupted_s))
        seen = committed_customers(fs)
        where_store = phase(fs.store.counts(), customers)
        fs.kill_server()
        t0 = time.monotonic()
        _, err = proc.communicate()
        took = time.monotonic() - t0
        last = err.strip().splitlines()[-1] if err.strip() else ""
        # A kill before the CLI has connected is no failure: it finds the store stale and
        # starts it itself.
        reported = proc.returncode == 0 or (
            proc.returncode == 1
            and re.match(r"Error: The (graph|bundled) store cannot be reached", last) is not None
        )
        restarted = run_cli(fs.settings, ["store", "start"], work).returncode == 0
        fs.reopen()
        after = committed_customers(fs)
        kept = all(after.get(c) == r for c, r in seen.items())
        rerun = run_cli(fs.settings, ["ingest", str(data)], work, timeout=3600)
        same_after = rerun.returncode == 0 and same(dump_graph(fs.store), uninterrupted)
        ok = reported and restarted and kept and same_after
        if proc.returncode == 0:
            outcome = (
                "the CLI restarted the store itself"
                if where_store == "before writes"
                else "the load had finished before the kill"
            )
        else:
            report_s.append(took)
            outcome = f"reported in {took:.1f} s" if reported else f"NOT REPORTED: {last[:200]}"
        matched["store killed"] += ok
        print(
            f"seed {seed}: store killed during {where_store} ({len(seen)} customers committed): "
            f"{outcome}; {'all kept' if kept else 'LOST'}; "
            f"{'same graph after rerun' if same_after else 'DIFFERENT'}"
            + ("" if restarted else "; the store did not restart")
            + (f"; the rerun failed: {_last_line(rerun.stderr)}" if rerun.returncode else "")
        )

        # 3. two ingests at once
        halves = split_contacts(data, work, seed)
        fs.store.delete_everything()
        procs = [start_cli(fs.settings, ["ingest", str(p)], work) for p in halves]
        finished: list[int] = []
        while len(finished) < 2:
            done = [i for i, p in enumerate(procs) if p.poll() is not None]
            finished += [i for i in done if i not in finished]
            time.sleep(0.05)
        codes = [p.returncode for p in procs]
        errors = [_last_line(p.communicate()[1]) for p in procs if p.returncode]
        together = dump_graph(fs.store)
        fs.store.delete_everything()
        for i in finished:
            run_cli(fs.settings, ["ingest", str(halves[i])], work, timeout=3600)
        ok = codes == [0, 0] and same(together, dump_graph(fs.store))
        matched["two ingests at once"] += ok
        print(
            f"seed {seed}: two ingests at once (exit {codes}): {'serial' if ok else 'DIFFERENT'}"
            + "".join(f"; error: {e}" for e in errors)
        )

    print()
    print(f"kills of the CLI landed: {dict(landed)}")
    for name in ("ingest killed", "store killed", "two ingests at once"):
        print(f"{name:>20}: {matched[name]}/{args.seeds} runs gave the uninterrupted graph")
    if report_s:
        print(
            f"store down reported by the CLI after {statistics.median(report_s):.1f} s "
            f"(median; max {max(report_s):.1f} s)"
        )
    print(
        f"killed {args.kills}x and resumed / uninterrupted wall time: "
        f"{statistics.median(resumed_ratio):.2f}x (median)"
    )


def _last_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[-1][:300] if lines else "(no output)"


if __name__ == "__main__":
    main()
