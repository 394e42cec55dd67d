"""Identity resolution quality and speed, side by side with Splink on default settings.

For each data set (the synthetic generator's multi-channel contacts, FEBRL3, FEBRL4) it prints
pairwise precision, recall and F1 of

* **quanzi**: Quanzi's resolver (normalisation, deterministic rules, the Splink model of
  :mod:`quanzi.ingest.linker`, constrained clustering), and
* **splink-default**: Splink 5 (DuckDB) run as its documentation shows, on the raw columns:
  library comparisons (``NameComparison``, ``ExactMatch``, ``EmailComparison``,
  ``LevenshteinAtThresholds``), one ``block_on`` rule per column, u by random sampling, m by
  EM, connected components at match probability 0.9,

and records per second for normalisation and linking. With ``--load`` it also loads the
generator's files into a fresh bundled store and prints records per second for loading and
end to end.

Usage::

    python benchmarks/identity.py                       # generator 10,000 people + FEBRL3/4
    python benchmarks/identity.py --customers 50000 --seed 7 --load
    python benchmarks/identity.py --only generator --customers 450000 --load-only  # ~1M records
    python benchmarks/identity.py --only generator --customers 450000 --no-peer  # ~1M, no store

FEBRL comes from ``benchmarks/febrl_convert.py`` (run here when ``--febrl-dir`` is empty).
Not part of the test run.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import resource
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from febrl_convert import convert

from quanzi.ingest.evaluate import PairwiseScores, pairwise_scores
from quanzi.ingest.linker import probabilistic_links
from quanzi.ingest.pipeline import gc_paused, normalise_all
from quanzi.ingest.resolve import deterministic_links, resolve
from quanzi.settings import Settings

Row = dict[str, Any]


def read_rows(folder: Path) -> tuple[list[Row], dict[str, str]]:
    """Contact rows (empty values as ``None``) and the truth ``record_id -> person``."""
    with (folder / "contacts.csv").open(encoding="utf-8") as f:
        rows = [{k: (v or None) for k, v in r.items()} for r in csv.DictReader(f)]
    with (folder / "truth_records.csv").open(encoding="utf-8") as f:
        truth = {
            f"{r['source']}:{r['source_record_id']}": r["person_id"] for r in csv.DictReader(f)
        }
    return rows, truth


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the normalising processes)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def server_cpu_seconds(pid: int | None) -> float:
    """CPU time of the bundled store's server process so far (0 when unknown)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_quanzi(
    rows: list[Row], settings: Settings
) -> tuple[dict[str, str], dict[str, float], dict[str, float]]:
    """Resolve as ingest does; return the assignment, and wall and CPU seconds per step."""
    numbered = [(i, row, "benchmark") for i, row in enumerate(rows, start=1)]
    with gc_paused():
        started, cpu0 = time.perf_counter(), cpu_seconds()
        profiles = [p for p, _ in normalise_all(numbered, settings) if p is not None]
        normalised, cpu1 = time.perf_counter(), cpu_seconds()
        links = deterministic_links(profiles) + probabilistic_links(profiles, [], settings)
        assignment = resolve(profiles, links).assignment
        linked, cpu2 = time.perf_counter(), cpu_seconds()
    return (
        assignment,
        {"normalise": normalised - started, "link": linked - normalised},
        {"normalise": cpu1 - cpu0, "link": cpu2 - cpu1},
    )


def run_splink_default(rows: list[Row]) -> tuple[dict[str, str], float]:
    """Splink on the raw columns, configured as in its documentation."""
    import duckdb
    import pandas as pd
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    started = time.perf_counter()
    frame = pd.DataFrame(rows)
    frame["unique_id"] = frame["source"] + ":" + frame["source_record_id"]
    if "full_name" not in frame:
        frame["full_name"] = frame["given_name"].fillna("") + " " + frame["surname"].fillna("")
    present = [c for c in frame.columns if frame[c].notna().any()]
    comparisons: list[Any] = [cl.NameComparison("full_name")]
    library = {
        "given_name": lambda c: cl.NameComparison(c),
        "surname": lambda c: cl.NameComparison(c),
        "phone": lambda c: cl.ExactMatch(c),
        "email": lambda c: cl.EmailComparison(c),
        "wechat_unionid": lambda c: cl.ExactMatch(c),
        "id_number": lambda c: cl.LevenshteinAtThresholds(c, 2),
        "birth_date": lambda c: cl.LevenshteinAtThresholds(c, [1, 2]),
        "postcode": lambda c: cl.LevenshteinAtThresholds(c, 1),
        "city": lambda c: cl.ExactMatch(c),
        "street": lambda c: cl.LevenshteinAtThresholds(c, [1, 3]),
        "gender": lambda c: cl.ExactMatch(c),
    }
    comparisons += [make(c) for c, make in library.items() if c in present]
    keys = ["full_name", "phone", "email", "wechat_unionid", "id_number", "birth_date", "postcode"]
    blocking = [block_on(c) for c in keys if c in present]
    con = duckdb.connect()
    con.execute("SET threads TO 2")
    db = DuckDBAPI(connection=con)
    table = db.register(
        frame[["unique_id", *[c for c in present if c in library or c == "full_name"]]]
    )
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=blocking,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        linker = Linker(table, settings, log_level=logging.ERROR)
        linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
        for key in blocking[:3]:
            try:
                linker.training.estimate_parameters_using_expectation_maximisation(key)
            except Exception as e:
                print(f"  splink-default: EM session skipped ({str(e)[:60]})")
        pairs = linker.inference.predict(threshold_match_probability=0.9)
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(pairs, 0.9)
        out = clusters.as_pandas_dataframe()
    con.close()
    return dict(zip(out["unique_id"], out["cluster_id"].astype(str), strict=True)), (
        time.perf_counter() - started
    )


def _line(name: str, scores: PairwiseScores, extra: str) -> str:
    return (
        f"  {name:<15} precision {scores.precision:.4f}  recall {scores.recall:.4f}  "
        f"F1 {scores.f1:.4f}  {extra}"
    )


def bench(name: str, folder: Path, work: Path, *, peer: bool = True) -> None:
    """Print quality and speed of both resolvers on one data set (Quanzi's alone without
    ``peer``)."""
    rows, truth = read_rows(folder)
    n = len(rows)
    print(f"\n{name}: {n:,} records, {len(set(truth.values())):,} true people")
    settings = Settings(data_dir=work / name, ingest_invalid_fields="drop_field")
    print(f"  load average {_load()}")
    assignment, t, cpu = run_quanzi(rows, settings)
    scores = pairwise_scores(assignment, truth)
    speed = (
        f"normalise {n / t['normalise']:,.0f} rec/s (CPU {cpu['normalise']:.1f} s), "
        f"link {n / t['link']:,.0f} rec/s (CPU {cpu['link']:.1f} s)"
    )
    print(_line("quanzi", scores, speed))
    if not peer:
        print("  splink-default  not run (--no-peer)")
        return
    try:
        cpu0 = cpu_seconds()
        baseline, seconds = run_splink_default(rows)
        splink_cpu = cpu_seconds() - cpu0
        print(
            _line(
                "splink-default",
                pairwise_scores(baseline, truth),
                f"{n / seconds:,.0f} rec/s (CPU {splink_cpu:.1f} s)",
            )
        )
        quanzi_seconds = t["normalise"] + t["link"]
        print(
            f"  quanzi / splink-default records per second: {seconds / quanzi_seconds:.2f}x "
            f"wall, {splink_cpu / (cpu['normalise'] + cpu['link']):.2f}x CPU"
        )
    except Exception as e:
        print(f"  splink-default  failed: {e}")
    print(f"  load average {_load()}")


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def bench_load(folder: Path, work: Path) -> None:
    """Load the generator's files into a fresh bundled store and time each step."""
    from quanzi.graph.connect import bundled_store, open_store
    from quanzi.ingest import ingest_files

    settings = Settings(data_dir=work / "store")
    progress: Callable[[str, int, int | None], None] = lambda step, done, total: None  # noqa: E731
    try:
        store = open_store(settings)
        server = bundled_store(settings).status().pid
        try:
            load_before = _load()
            server0, cpu0 = server_cpu_seconds(server), cpu_seconds()
            started = time.perf_counter()
            report = ingest_files(store, [folder / "contacts.csv"], settings, progress=progress)
            total = time.perf_counter() - started
            client_cpu, server_cpu = cpu_seconds() - cpu0, server_cpu_seconds(server) - server0
        finally:
            store.close()
    finally:
        bundled_store(settings).stop()
    n = report.counts["contacts_read"]
    print(f"\nend to end into the bundled store: {n:,} contact records in {total:,.0f} s")
    print(f"  load average before {load_before}, after {_load()}")
    for step, seconds in report.timings.items():
        print(f"  {step:<10} {seconds:8.1f} s  {n / seconds if seconds else 0:>10,.0f} rec/s")
    print(f"  total      {total:8.1f} s  {n / total:>10,.0f} rec/s")
    print(
        f"  CPU: ingest {client_cpu:,.1f} s (with its normalising processes), "
        f"store server {server_cpu:,.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--febrl-dir", type=Path, default=None)
    parser.add_argument("--only", choices=["generator", "febrl3", "febrl4"], default=None)
    parser.add_argument("--load", action="store_true", help="also load into a bundled store")
    parser.add_argument(
        "--load-only", action="store_true", help="only load the generator's data (no quality run)"
    )
    parser.add_argument(
        "--generated",
        type=Path,
        default=None,
        help="a folder the generator wrote before (with the same --customers and --seed)",
    )
    parser.add_argument(
        "--no-peer",
        action="store_true",
        help="leave out Splink on default settings (to save time on the largest runs)",
    )
    args = parser.parse_args()
    from quanzi.ingest.synthetic import GeneratorConfig, generate

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.only in (None, "generator"):
            gen = args.generated or work / "generator"
            if args.generated is None:
                generate(gen, GeneratorConfig(customers=args.customers, seed=args.seed))
            if not args.load_only:
                name = f"generator ({args.customers:,} people, seed {args.seed})"
                bench(name, gen, work, peer=not args.no_peer)
            if args.load or args.load_only:
                bench_load(gen, work)
        if args.only in (None, "febrl3", "febrl4"):
            febrl = args.febrl_dir or work / "febrl"
            if not (febrl / "febrl4" / "contacts.csv").exists():
                convert(febrl)
            for name in ("febrl3", "febrl4"):
                if args.only in (None, name):
                    bench(name.upper(), febrl / name, work, peer=not args.no_peer)


if __name__ == "__main__":
    main()
