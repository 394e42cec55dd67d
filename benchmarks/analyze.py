"""Time every stage of ``quanzi analyze`` (``run_analysis``) on the generator's data.

    python benchmarks/analyze.py                          # 5,000 customers
    python benchmarks/analyze.py --customers 20000 --work /tmp/q20k --repeat 2

It generates a data set, keeps what is dated before the cutoff (as ``benchmarks/churn.py``
does, so churn has something to learn from), ingests it into a fresh bundled store and runs
``run_analysis`` ``--repeat`` times (the second run also matches circles to the first's and
overwrites its results). It prints the seconds of each stage (read, circles + influence,
churn + lifecycle, describe, write) and the size of the tie graph, with the load average,
since the machine may be shared. ``--work`` keeps the folder, and a later run with the same
``--work`` skips generating and ingesting.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from churn import truncate

from quanzi.api.services.analysis import run_analysis
from quanzi.graph.connect import bundled_store, open_store
from quanzi.ingest.pipeline import ingest_files
from quanzi.ingest.synthetic import GeneratorConfig, generate
from quanzi.settings import Settings


def load() -> str:
    return "load average " + ", ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cutoff", type=float, default=0.8, help="fraction of the window kept")
    parser.add_argument("--repeat", type=int, default=1, help="analysis runs on the same store")
    parser.add_argument("--work", help="keep (and reuse) the data and the store here")
    parser.add_argument("--json", help="also write every figure to this file")
    args = parser.parse_args()
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="quanzi-analyze-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"python {platform.python_version()}, {os.cpu_count()} cores, {load()}")
    results: dict[str, Any] = {"customers": args.customers, "runs": []}
    config = GeneratorConfig(customers=args.customers, seed=args.seed)
    folder = work / f"cut-{args.cutoff:.2f}"
    if not (work / "generated").exists():
        t = time.perf_counter()
        generate(work / "generated", config)
        start = datetime(*config.start.timetuple()[:3], tzinfo=UTC)
        end = datetime(*config.end.timetuple()[:3], tzinfo=UTC)
        cutoff = (start + (end - start) * args.cutoff).strftime("%Y-%m-%dT%H:%M:%SZ")
        truncate(work / "generated", folder, cutoff)
        print(f"generated {args.customers:,} customers in {time.perf_counter() - t:.1f} s")
    settings = Settings(store="bundled", data_dir=work / "store")
    manager = bundled_store(settings)
    manager.start()
    store = open_store(settings)
    try:
        marker = work / "ingested"
        if not marker.exists():
            t = time.perf_counter()
            ingest_files(store, [folder], settings)
            results["ingest_seconds"] = time.perf_counter() - t
            marker.touch()
            print(f"ingested in {results['ingest_seconds']:.1f} s ({load()})")
        for run in range(args.repeat):
            t = time.perf_counter()
            summary = run_analysis(store, settings)
            total = time.perf_counter() - t
            steps = ", ".join(f"{k} {v:.1f} s" for k, v in summary.seconds.items())
            print(
                f"run {run + 1}: {summary.customers:,} customers, {summary.ties:,} direct ties; "
                f"analyze {total:.1f} s ({steps}); {load()}"
            )
            for line in summary.lines()[:-1]:
                print("  " + line)
            results["runs"].append({"seconds": total, "steps": summary.seconds, "load": load()})
    finally:
        store.close()
        manager.stop()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
