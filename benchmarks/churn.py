"""Churn risk on the generator's data, scored against its churn labels, beside an RFM model.

    python benchmarks/churn.py                                  # 5,000 customers, cutoff 0.8
    python benchmarks/churn.py --customers 20000 --cutoffs 0.75 0.85 --json churn.json

What it does, per cutoff:

1. ``quanzi generate`` writes a data set and its truth (``truth_people.csv``: who churned).
   The generator plants churn at a time between 60 % and 95 % of its two-year window.
2. Everything dated after the cutoff (a fraction of the window) is dropped: contact records
   created later and later events. The store never sees the future, so no feature can leak
   a label that was not observable at the cutoff.
3. The truncated files are ingested into a fresh bundled store and ``run_analysis`` runs,
   exactly as ``quanzi analyze`` does: it learns who churned in the last 90 days before the
   cutoff from what the store itself shows (every employee contact deleted, or 90 days of
   silence) and writes ``churn_risk`` for everyone still here.
4. The written risks are scored against the generator's labels (ROC AUC, average precision)
   over the customers still here at the cutoff; each customer takes the label of the person
   most of its source records belong to.

Peers, on the same customers and in the same run:

- the same forecast (same training window, same labels) restricted to RFM features
  (recency, frequency, monetary) -- the RFM-only model;
- the same forecast without the tie features (RFM + activity + tags): what the graph adds;
- both feature sets trained on the generator's labels instead (a 50/50 split of the
  customers, stratified, the same split for both): how far the store's own churn labels are
  from the truth.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import shutil
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import train_test_split

from quanzi.algorithms.churn import (
    RFM_FEATURES,
    TIE_FEATURES,
    TIME_BLIND_FEATURES,
    ChurnModel,
    churn_snapshot,
    forecast_churn,
)
from quanzi.api.services.analysis import read_tie_graph, run_analysis
from quanzi.api.services.timeline import read_facts
from quanzi.graph.connect import bundled_store, open_store
from quanzi.ingest.pipeline import ingest_files
from quanzi.ingest.synthetic import GeneratorConfig, generate
from quanzi.model import Node, Rel
from quanzi.settings import Settings

RESULTS: dict[str, Any] = {}


def truncate(source: Path, target: Path, cutoff: str) -> dict[str, int]:
    """Copy the generator's input files, keeping only what is dated at or before ``cutoff``."""
    target.mkdir(parents=True, exist_ok=True)
    kept = Counter()
    with (
        (source / "contacts.csv").open(encoding="utf-8", newline="") as f,
        (target / "contacts.csv").open("w", encoding="utf-8", newline="") as g,
    ):
        reader = csv.DictReader(f)
        writer = csv.DictWriter(g, reader.fieldnames or [])
        writer.writeheader()
        for row in reader:
            if row["created_at"] <= cutoff:
                writer.writerow(row)
                kept["contacts"] += 1
    with (
        (source / "events.jsonl").open(encoding="utf-8") as f,
        (target / "events.jsonl").open("w", encoding="utf-8") as g,
    ):
        for line in f:
            if json.loads(line)["time"] <= cutoff:
                g.write(line)
                kept["events"] += 1
    for name in ("employees.csv", "groups.csv", "campaigns.csv"):
        shutil.copy(source / name, target / name)
    return dict(kept)


def truth_of_customers(store: Any, folder: Path) -> dict[str, bool]:
    """Customer id -> churn label of the person most of its source records belong to."""
    with (folder / "truth_records.csv").open(encoding="utf-8") as f:
        person = {
            f"{r['source']}:{r['source_record_id']}": r["person_id"] for r in csv.DictReader(f)
        }
    with (folder / "truth_people.csv").open(encoding="utf-8") as f:
        churned = {r["person_id"]: r["churned"] == "1" for r in csv.DictReader(f)}
    votes: dict[str, Counter[str]] = {}
    for customer, identity in store.read_pairs(Rel.HAS_IDENTITY, Node.CUSTOMER, Node.IDENTITY):
        if identity.startswith("record:") and identity[7:] in person:
            votes.setdefault(customer, Counter())[person[identity[7:]]] += 1
    return {c: churned[v.most_common(1)[0][0]] for c, v in votes.items()}


def scores(labels: np.ndarray, risk: np.ndarray) -> dict[str, float]:
    return {
        "roc_auc": float(roc_auc_score(labels, risk)),
        "average_precision": float(average_precision_score(labels, risk)),
    }


def table(title: str, rows: list[list[Any]]) -> None:
    print(f"\n{title}")
    widths = [max(len(f"{r[i]}") for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  " + "  ".join(f"{c!s:<{w}}" for c, w in zip(r, widths, strict=True)))


def bench_cutoff(generated: Path, work: Path, fraction: float, args: argparse.Namespace) -> None:
    config = GeneratorConfig(customers=args.customers, seed=args.seed)
    start = datetime(*config.start.timetuple()[:3], tzinfo=UTC)
    end = datetime(*config.end.timetuple()[:3], tzinfo=UTC)
    cutoff = (start + (end - start) * fraction).strftime("%Y-%m-%dT%H:%M:%SZ")
    name = f"{args.customers} customers, seed {args.seed}, cutoff {fraction:.2f} ({cutoff})"
    print(f"\n=== {name}")
    result: dict[str, Any] = {"cutoff": cutoff}
    folder = work / f"cut-{fraction:.2f}"
    result["kept"] = truncate(generated, folder, cutoff)
    settings = Settings(store="bundled", data_dir=work / f"store-{fraction:.2f}")
    manager = bundled_store(settings)
    manager.start()
    store = open_store(settings)
    try:
        t = time.perf_counter()
        ingest_files(store, [folder], settings)
        result["ingest_seconds"] = time.perf_counter() - t
        t = time.perf_counter()
        summary = run_analysis(store, settings)
        result["analyze_seconds"] = time.perf_counter() - t
        result["analyze_steps"] = summary.seconds
        print(
            f"ingest {result['ingest_seconds']:.0f} s, analyze {result['analyze_seconds']:.0f} s "
            f"({', '.join(f'{k} {v:.1f}' for k, v in summary.seconds.items())})"
        )
        if summary.churn_note:
            print(f"churn not scored: {summary.churn_note}")
            RESULTS[name] = result
            return
        truth = truth_of_customers(store, generated)
        facts = read_facts(store)
        written = store.read_node_columns(
            Node.CUSTOMER, {"churn_risk": "number", "churned_at": "text"}
        )
        stored = {
            c: r
            for c, r, gone in zip(
                written["id"], written["churn_risk"], written["churned_at"], strict=True
            )
            if not gone
        }
        # The graph run_analysis built and the (finest) circles it wrote.
        g = read_tie_graph(store)
        circle_of = store.read_node_columns(
            Node.CUSTOMER, {"circle_id": "text", "subcircle_id": "text"}
        )
        finest = {
            c: sub or top
            for c, top, sub in zip(
                circle_of["id"], circle_of["circle_id"], circle_of["subcircle_id"], strict=True
            )
        }
        codes = {key: i for i, key in enumerate(sorted(set(finest.values())))}
        circles = np.array([codes[finest[v]] for v in g.vs["id"]])
        horizon = settings.churn_horizon_days
        silence = settings.churn_silence_days or None
        full = forecast_churn(
            g, facts.timeline, circles=circles, horizon_days=horizon, silence_days=silence
        )
        same = max(abs(stored[v] - r) for v, r in zip(full.ids, full.risk.tolist(), strict=True))
        print(f"largest difference from the risks run_analysis wrote: {same:.1e}")
        ids = [v for v in full.ids if v in truth]
        labels = np.array([truth[v] for v in ids])
        columns = list(churn_snapshot(g, facts.timeline, full.at, silence_days=silence).columns)
        no_ties = [c for c in columns if c not in TIE_FEATURES]
        rows: list[list[Any]] = [["model", "trained on", "ROC AUC", "avg precision"]]
        found: dict[str, dict[str, float]] = {}

        def add(label: str, trained: str, risk: dict[str, float]) -> None:
            s = scores(labels, np.array([risk[v] for v in ids]))
            found[label] = s
            rows.append([label, trained, f"{s['roc_auc']:.3f}", f"{s['average_precision']:.3f}"])

        add("Quanzi as written by run_analysis", "store's own churn", stored)
        for label, features in (
            ("RFM only", list(RFM_FEATURES)),
            ("RFM + activity + tags (no ties)", no_ties),
        ):
            other = forecast_churn(
                g,
                facts.timeline,
                circles=circles,
                horizon_days=horizon,
                silence_days=silence,
                features=features,
            )
            add(label, "store's own churn", dict(zip(other.ids, other.risk.tolist(), strict=True)))
        boosted = forecast_churn(
            g,
            facts.timeline,
            circles=circles,
            horizon_days=horizon,
            silence_days=silence,
            model="boosting",
        )
        add(
            "Quanzi, boosted trees",
            "store's own churn",
            dict(zip(boosted.ids, boosted.risk.tolist(), strict=True)),
        )
        # Trained on the generator's labels: the snapshot at the cutoff, one split for all.
        snapshot = churn_snapshot(g, facts.timeline, full.at, circles=circles, silence_days=silence)
        snapshot = snapshot.loc[ids]
        train, test = train_test_split(
            np.arange(len(ids)), test_size=0.5, random_state=0, stratify=labels
        )
        supervised_rows: list[list[Any]] = [["features", "ROC AUC (test half)", "avg precision"]]
        for label, features in (
            ("graph + RFM + activity + tags", [c for c in columns if c not in TIME_BLIND_FEATURES]),
            ("RFM + activity + tags (no ties)", no_ties),
            ("RFM only", list(RFM_FEATURES)),
        ):
            model = ChurnModel(n_threads=1).fit(snapshot.iloc[train][features], labels[train])
            s = scores(labels[test], model.risk(snapshot.iloc[test][features]))
            found[f"supervised: {label}"] = s
            supervised_rows.append([label, f"{s['roc_auc']:.3f}", f"{s['average_precision']:.3f}"])
        table(
            f"Churn forecast on {len(ids):,} customers still here at the cutoff "
            f"(generator's churn rate among them {labels.mean():.3f}; trained on "
            f"{full.training['customers']:,} customers, {full.training['churned']:,} churned "
            f"in the {horizon:.0f} days before the cutoff)",
            rows,
        )
        table(
            "Trained on the generator's labels instead (same customers, one 50/50 split)",
            supervised_rows,
        )
        result.update(
            customers=len(ids),
            churn_rate=float(labels.mean()),
            training=dict(full.training, cutoff=str(full.training["cutoff"])),
            scores=found,
        )
    finally:
        store.close()
        manager.stop()
    RESULTS[name] = result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cutoffs", type=float, nargs="+", default=[0.8])
    parser.add_argument("--json", help="also write every figure to this file")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    print(
        f"python {platform.python_version()}, pandas {pd.__version__}, "
        f"scikit-learn {sklearn.__version__}"
    )
    work = Path(tempfile.mkdtemp(prefix="quanzi-churn-"))
    try:
        generated = work / "generated"
        t = time.perf_counter()
        generate(generated, GeneratorConfig(customers=args.customers, seed=args.seed))
        print(f"generated {args.customers:,} customers in {time.perf_counter() - t:.1f} s")
        for fraction in args.cutoffs:
            bench_cutoff(generated, work, fraction, args)
    finally:
        if args.keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(RESULTS, handle, indent=1, default=str)


if __name__ == "__main__":
    main()
