"""Time every stage of ``quanzi analyze`` (``run_analysis``) on the generator's data.

    python benchmarks/analyze.py                          # 5,000 customers
    python benchmarks/analyze.py --customers 20000 --work /tmp/q20k --repeat 2

It generates a data set, keeps what is dated before the cutoff (as ``benchmarks/churn.py``
does, so churn has something to learn from), ingests it into a fresh bundled store and runs
``run_analysis`` ``--repeat`` times (the second run also matches circles to the first's and
overwrites its results; with ``--fresh`` every run starts from a store without results).
It prints the seconds of each stage (read, circles + influence, churn + lifecycle,
describe, write) and the size of the tie graph, with the load average, since the machine
may be shared. ``--work`` keeps the folder, and a later run with the same
``--work`` skips generating and ingesting.

``--circle-quality`` also scores the circles against the generator's planted circles (each
customer takes the circle of the person most of its source records belong to), with the
tie graph built as ``run_analysis`` builds it and with every affiliation projected onto all
its pairs (``max_clique_size=None``, the projection before), beside networkx Louvain and
networkit's ParallelLeiden on the same graph. ``--seeds`` repeats it with other seeds.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import igraph as ig
import networkit as nk
import networkx as nx
import numpy as np
from churn import truncate
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from quanzi.algorithms.circles import build_tie_graph, detect_circle_hierarchy
from quanzi.api.services.analysis import MAX_CIRCLE_SIZE, _affiliations, _pairs, run_analysis
from quanzi.graph.connect import bundled_store, open_store
from quanzi.graph.store import GraphStore
from quanzi.ingest.pipeline import ingest_files
from quanzi.ingest.synthetic import GeneratorConfig, generate
from quanzi.model import Node, Rel
from quanzi.settings import Settings


def load() -> str:
    return "load average " + ", ".join(f"{x:.1f}" for x in os.getloadavg())


#: Customer properties ``run_analysis`` writes.
RESULT_PROPERTIES = (
    "circle_id",
    "subcircle_id",
    "influence",
    "pagerank",
    "brokerage",
    "core",
    "reach",
    "tier",
    "tier_path",
    "funnel_stage",
    "funnel_path",
    "rfm_segment",
    "rfm_score",
    "churn_risk",
    "churn_risk_reasons",
    "churned_at",
)


def forget_analysis(store: GraphStore) -> None:
    """Remove what an analysis wrote (circles, their links, customers' results)."""
    store.delete_nodes(Node.CIRCLE, store.node_ids(Node.CIRCLE))
    store.delete_nodes(Node.ANALYSIS, store.node_ids(Node.ANALYSIS))
    store.remove_node_properties(Node.CUSTOMER, RESULT_PROPERTIES)


def planted_circles(store: GraphStore, generated: Path) -> dict[str, str]:
    """Customer id -> planted circle of the person most of its source records belong to."""
    with (generated / "truth_records.csv").open(encoding="utf-8") as f:
        person = {
            f"{r['source']}:{r['source_record_id']}": r["person_id"] for r in csv.DictReader(f)
        }
    with (generated / "truth_people.csv").open(encoding="utf-8") as f:
        circle = {r["person_id"]: r["circle_id"] for r in csv.DictReader(f)}
    votes: dict[str, Counter[str]] = {}
    for customer, identity in store.read_pairs(Rel.HAS_IDENTITY, Node.CUSTOMER, Node.IDENTITY):
        if identity.startswith("record:") and identity[7:] in person:
            votes.setdefault(customer, Counter())[person[identity[7:]]] += 1
    return {c: circle[v.most_common(1)[0][0]] for c, v in votes.items()}


def circle_quality(store: GraphStore, generated: Path, seeds: list[int]) -> list[dict[str, Any]]:
    """NMI / ARI of the circles against the planted ones, for both tie-graph projections."""
    truth = planted_circles(store, generated)
    customers = store.node_ids(Node.CUSTOMER)
    ties = store.read_projection([Rel.INTERACTS_WITH], weight="weight").to_igraph()
    layers = {
        "groups": _affiliations(_pairs(store, Rel.MEMBER_OF, Node.GROUP)),
        "interests": _affiliations(_pairs(store, Rel.INTERESTED_IN, Node.INTEREST)),
        "employees": _affiliations(_pairs(store, Rel.SERVED_BY, Node.EMPLOYEE)),
    }
    rows: list[dict[str, Any]] = []

    def score(label: str, g: ig.Graph, membership: np.ndarray, seconds: float) -> None:
        ids = list(g.vs["id"])
        keep = [i for i, v in enumerate(ids) if v in truth]
        y = np.unique([truth[ids[i]] for i in keep], return_inverse=True)[1]
        m = np.asarray(membership)[keep]
        row = {
            "method": label,
            "edges": g.ecount(),
            "circles": len(set(m.tolist())),
            "nmi": float(normalized_mutual_info_score(y, m)),
            "ari": float(adjusted_rand_score(y, m)),
            "seconds": seconds,
        }
        rows.append(row)
        print(
            f"  {label:<58} {row['edges']:>9,} edges {row['circles']:>5} circles  "
            f"NMI {row['nmi']:.3f}  ARI {row['ari']:.3f}  {seconds:.2f} s",
            flush=True,
        )

    print(f"Circles against the planted circles ({len(set(truth.values()))} planted):")
    for label, clique in (("all pairs (max_clique_size=None)", None), ("run_analysis", 50)):
        t = time.perf_counter()
        g = build_tie_graph(ties, **layers, customers=customers, max_clique_size=clique)
        built = time.perf_counter() - t
        for seed in seeds:
            t = time.perf_counter()
            levels = detect_circle_hierarchy(
                g, seed=seed, max_levels=2, max_circle_size=MAX_CIRCLE_SIZE
            )
            seconds = built + time.perf_counter() - t
            for level, partition in enumerate(levels):
                name = f"quanzi {label}, level {level}, seed {seed}"
                score(name, g, partition.membership, seconds)
        if clique is not None:
            edges = np.asarray(g.get_edgelist(), dtype=np.uint64)
            graph = nk.GraphFromCoo(
                (np.asarray(g.es["weight"]), (edges[:, 0], edges[:, 1])),
                n=g.vcount(),
                directed=False,
                weighted=True,
            )
            algo = nk.community.ParallelLeiden(graph)
            t = time.perf_counter()
            algo.run()
            vector = algo.getPartition().getVector()
            score(f"networkit ParallelLeiden ({label} graph)", g, vector, time.perf_counter() - t)
            nxg = g.to_networkx()
            t = time.perf_counter()
            found = nx.community.louvain_communities(nxg, weight="weight", seed=0)
            louvain = np.zeros(g.vcount(), dtype=np.int64)
            for c, nodes in enumerate(found):
                louvain[list(nodes)] = c
            score(f"networkx Louvain ({label} graph)", g, louvain, time.perf_counter() - t)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cutoff", type=float, default=0.8, help="fraction of the window kept")
    parser.add_argument("--repeat", type=int, default=1, help="analysis runs on the same store")
    parser.add_argument("--work", help="keep (and reuse) the data and the store here")
    parser.add_argument("--json", help="also write every figure to this file")
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="remove every analysis result before each run, so each is a first run",
    )
    parser.add_argument("--circle-quality", action="store_true", help="score circles (see above)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="circle-quality seeds")
    parser.add_argument("--threads", type=int, default=2, help="networkit threads")
    args = parser.parse_args()
    nk.setNumberOfThreads(args.threads)
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
            if args.fresh:
                forget_analysis(store)
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
        if args.circle_quality:
            results["circle_quality"] = circle_quality(store, work / "generated", args.seeds)
    finally:
        store.close()
        manager.stop()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
