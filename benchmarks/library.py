"""What the notebooks show, at a larger size, through the Python client (``quanzi.connect``).

Starts its own bundled store in a temporary folder, generates and loads a data set, then
measures, side by side with named peers in the same run:

- reading the graph through the client: projection, igraph / networkx conversion, the tie
  graph, the customer table;
- circles on the same projection: Quanzi's Leiden (igraph) vs networkx Louvain - seconds,
  modularity (networkx's formula for both) and NMI against the planted circles;
- lookalikes on held-out members of planted circles: precision@k / recall@k of Quanzi's
  search vs the Jaccard and degree baselines, with the ratio to the best baseline.

    .venv/bin/python benchmarks/library.py --customers 2000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import networkx as nx
import numpy as np
import pandas as pd
from sklearn.metrics import normalized_mutual_info_score as nmi

import quanzi
from quanzi.algorithms.evaluation import ranking_scores
from quanzi.algorithms.lookalike import degree_baseline, jaccard_baseline

T = TypeVar("T")


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def show(title: str, frame: pd.DataFrame) -> None:
    print(f"\n{title}")
    print(frame.to_string(float_format=lambda x: f"{x:.3f}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--mixing", type=float, default=0.3)
    parser.add_argument("--seeds", type=int, default=5, help="seed customers per query")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3, help="queries per planted circle")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="quanzi-bench-") as tmp:
        data_dir = Path(tmp)
        q, t_connect = timed(lambda: quanzi.connect("bundled", data_dir=data_dir))
        try:
            run(q, data_dir, args, t_connect)
        finally:
            q.close()


def run(q: quanzi.Client, data_dir: Path, args: argparse.Namespace, t_connect: float) -> None:
    files, t_gen = timed(
        lambda: q.generate(
            data_dir / "data", customers=args.customers, seed=args.seed, mixing=args.mixing
        )
    )
    folder = files.contacts.parent
    report, t_ingest = timed(lambda: q.ingest(folder))
    summary, t_analyze = timed(q.analyze)
    counts = q.counts()
    print(
        f"{args.customers:,} people -> {counts['Customer']:,} customers, "
        f"{counts['INTERACTS_WITH']:,} ties; rejects {len(report.rejects)}"
    )

    projection, t_proj = timed(q.projection)
    g, t_ig = timed(projection.to_igraph)
    graph_nx, t_nx = timed(projection.to_networkx)
    tie_graph, t_tie = timed(q.tie_graph)
    table, t_nodes = timed(q.nodes)
    show(
        "Setup and reads through the client (seconds)",
        pd.DataFrame(
            {
                "seconds": [
                    t_connect,
                    t_gen,
                    t_ingest,
                    t_analyze,
                    t_proj,
                    t_ig,
                    t_nx,
                    t_tie,
                    t_nodes,
                ],
                "size": [
                    "",
                    f"{files.counts['contacts']:,} records",
                    f"{counts['Customer']:,} customers",
                    f"{summary.circles.get(0, 0)} circles",
                    f"{projection.ecount:,} edges",
                    f"{g.ecount():,} edges",
                    f"{graph_nx.number_of_edges():,} edges",
                    f"{tie_graph.ecount():,} edges",
                    f"{table.shape[0]:,} x {table.shape[1]}",
                ],
            },
            index=[
                "connect (start the store)",
                "generate",
                "ingest",
                "analyze (write back)",
                "projection read",
                "to igraph",
                "to networkx",
                "tie graph (4 layers)",
                "customer table",
            ],
        ),
    )

    truth = q.ground_truth(folder)
    compare_circles(q, g, graph_nx, truth)
    compare_lookalikes(q, g, truth, args)


def compare_circles(q: quanzi.Client, g: Any, graph_nx: Any, truth: pd.DataFrame) -> None:
    g = g.copy()
    g.simplify(combine_edges={"weight": "sum"})  # as networkx holds the projection
    ids = list(graph_nx.nodes)
    planted = truth["circle_id"].reindex(ids).fillna("none").to_numpy()

    def labels(sets: list[set[str]]) -> list[int]:
        of = {v: i for i, members in enumerate(sets) for v in members}
        return [of[v] for v in ids]

    leiden, t_leiden = timed(lambda: q.circles(g, seed=0))
    leiden_sets = [set(m) for m in leiden.circles().values()]
    louvain_sets, t_louvain = timed(
        lambda: nx.community.louvain_communities(graph_nx, weight="weight", seed=0)
    )
    rows = {
        "Quanzi Leiden (igraph)": (t_leiden, leiden_sets),
        "networkx Louvain": (t_louvain, louvain_sets),
    }
    frame = pd.DataFrame(
        {
            name: {
                "seconds": seconds,
                "circles": len(sets),
                "modularity": nx.community.modularity(graph_nx, sets),
                "NMI vs planted": nmi(planted, labels(sets)),
            }
            for name, (seconds, sets) in rows.items()
        }
    ).T
    frame["x Louvain time"] = frame["seconds"] / t_louvain
    show("Circles on the same projection (direct ties)", frame)


def compare_lookalikes(
    q: quanzi.Client, g: Any, truth: pd.DataFrame, args: argparse.Namespace
) -> None:
    rng = np.random.default_rng(0)
    members = {c: sorted(m) for c, m in truth.groupby("circle_id").groups.items()}
    eligible = sorted(c for c, m in members.items() if len(m) >= args.seeds + args.k)
    queries = []
    for circle in eligible:
        for _ in range(args.repeats):
            order = rng.permutation(members[circle]).tolist()
            queries.append((order[: args.seeds], set(order[args.seeds :])))
    _, t_index = timed(q.lookalike_index)
    k = args.k
    current = q.lookalike_weights()
    rankers: dict[str, Callable[[list[str]], list[str]]] = {
        "Quanzi lookalike": lambda s: [c.id for c in q.lookalikes(s, k=k)],
        "Quanzi, graph only": lambda s: [
            c.id for c in q.lookalikes(s, k=k, weights=replace(current, attributes=0.0))
        ],
        "Jaccard baseline": lambda s: [i for i, _ in jaccard_baseline(g, s, k=k)],
        "degree baseline": lambda s: [i for i, _ in degree_baseline(g, s, k=k)],
    }
    rows = {}
    for name, rank in rankers.items():
        scores, seconds = timed(
            lambda rank=rank: pd.concat(
                [ranking_scores(rank(seeds), hidden, ks=[k]) for seeds, hidden in queries]
            )
        )
        rows[name] = {
            f"precision@{k}": scores["precision"].mean(),
            f"recall@{k}": scores["recall"].mean(),
            "ms per query": 1000 * seconds / len(queries),
        }
    frame = pd.DataFrame(rows).T
    best = frame.loc[["Jaccard baseline", "degree baseline"], f"precision@{k}"].max()
    frame["x best baseline"] = frame[f"precision@{k}"] / best
    show(
        f"Lookalikes: {len(queries)} queries on {len(eligible)} planted circles, "
        f"{args.seeds} seeds each, the other members hidden (index built in {t_index:.2f} s)",
        frame,
    )


if __name__ == "__main__":
    main()
