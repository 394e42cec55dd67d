"""Benchmark Quanzi's algorithms against named peers on LFR graphs, in one run.

    python benchmarks/algorithms.py                    # 10k nodes, mixing 0.3 and 0.5
    python benchmarks/algorithms.py --nodes 100000 --average-degree 24   # the 1.2M-edge case
    python benchmarks/algorithms.py --json out.json    # also save every figure

For each mixing parameter it generates an LFR graph (``networkx.LFR_benchmark_graph``) and
measures, on that same graph:

- circles: Quanzi's ``detect_circles`` (top level) and ``detect_circle_hierarchy`` (finest
  level) against networkx Louvain and networkit's ParallelLeiden and PLM: NMI and ARI
  against the planted communities, seconds, and time ratios;
- PageRank: Quanzi's ``pagerank`` (from the igraph graph and from a CSR matrix) against a
  plain scipy sparse power iteration, igraph's PRPACK and (small graphs) networkx;
- brokerage: Quanzi's sampled betweenness against networkit's EstimateBetweenness and
  ApproxBetweenness (seconds), and Spearman rank correlation with exact betweenness on a
  small LFR graph with the same mixing;
- lookalike: held-out members of planted communities, seeded with 20 (and 5) of the
  others: precision@k and recall@k of ``lookalikes`` (ordinary and thorough, i.e.
  ``block_model=True``) against the Jaccard and degree baselines, on that graph and on a
  sparser LFR graph (``--sparse-degree``);
- churn: ROC AUC of graph + RFM features against RFM only, on a churn contagion simulated
  over the same graph (a synthetic check that the graph features carry the signal when
  churn spreads through ties; not a claim about real customers).

Timings are wall-clock seconds, the best of ``--repeat`` runs for the fast calls. Peers
get ``--threads`` threads (networkit); Quanzi's circles run on every core (its default
engine, ``cluster_libreville``; the igraph engine runs on one), the rest of its code on one.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import igraph as ig
import networkit as nk
import networkx as nx
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.stats import spearmanr
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, roc_auc_score

from quanzi.algorithms import influence as influence_module
from quanzi.algorithms._matrix import adjacency
from quanzi.algorithms.churn import ChurnModel, churn_graph_features
from quanzi.algorithms.circles import (
    ONE_ITERATION_EDGES,
    detect_circle_hierarchy,
    detect_circles,
)
from quanzi.algorithms.influence import brokerage, core_depth, influence, pagerank
from quanzi.algorithms.lookalike import LookalikeIndex, degree_baseline, jaccard_baseline
from quanzi.ingest.synthetic import GeneratorConfig, generate

T = TypeVar("T")
RESULTS: dict[str, Any] = {}


# --------------------------------------------------------------------------- helpers


def timed(fn: Callable[[], T], repeat: int = 1) -> tuple[T, float]:
    """Run ``fn`` ``repeat`` times; return the last result and the best wall time."""
    best = float("inf")
    result: T
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return result, best


def table(title: str, headers: list[str], rows: list[list[Any]]) -> None:
    """Print a plain-text table."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.3f}" if abs(value) < 1000 else f"{value:.0f}"
        return str(value)

    cells = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


def lfr(
    n: int,
    mu: float,
    average_degree: float,
    args: argparse.Namespace,
    seed: int,
    max_degree: int | None = None,
) -> tuple[nx.Graph, ig.Graph, np.ndarray, float]:
    """An LFR graph as networkx and igraph (ids "0".."n-1", weight 1) and its truth.

    With ``--lfr-cache DIR`` the edges and the truth are kept in DIR and read back on the
    next run with the same parameters (generating 100k nodes takes minutes).
    """
    max_degree = max_degree or args.max_degree
    cached = None
    if getattr(args, "lfr_cache", None):
        cached = Path(args.lfr_cache) / (
            f"lfr-n{n}-mu{mu}-deg{average_degree}-max{max_degree}-"
            f"c{args.min_community}-{args.max_community}-seed{seed}.npz"
        )
        if cached.exists():
            with np.load(cached) as saved:
                return _lfr_graphs(n, saved["edges"], saved["truth"], 0.0)
    start = time.perf_counter()
    for attempt in range(10):
        try:
            graph = nx.LFR_benchmark_graph(
                n,
                tau1=2.5,
                tau2=1.5,
                mu=mu,
                average_degree=average_degree,
                max_degree=max_degree,
                min_community=args.min_community,
                max_community=args.max_community,
                seed=seed + attempt,
            )
            break
        except nx.ExceededMaxIterations:
            continue
    else:
        raise SystemExit(f"LFR generation failed for n={n}, mu={mu}; change the parameters")
    seconds = time.perf_counter() - start
    graph.remove_edges_from(list(nx.selfloop_edges(graph)))
    truth = np.zeros(n, dtype=np.int64)
    labels: dict[frozenset[int], int] = {}
    for v, data in graph.nodes(data=True):
        truth[v] = labels.setdefault(frozenset(data["community"]), len(labels))
    edges = np.asarray(graph.edges(), dtype=np.int64)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cached, edges=edges, truth=truth)
    return _lfr_graphs(n, edges, truth, seconds)


def _lfr_graphs(
    n: int, edges: np.ndarray, truth: np.ndarray, seconds: float
) -> tuple[nx.Graph, ig.Graph, np.ndarray, float]:
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    graph.add_edges_from(edges.tolist())
    g = ig.Graph(n=n, edges=edges.tolist())
    g.vs["id"] = [str(i) for i in range(n)]
    g.es["weight"] = 1.0
    return graph, g, truth, seconds


def to_networkit(g: ig.Graph, weight: str | None = None) -> nk.Graph:
    edges = np.asarray(g.get_edgelist(), dtype=np.uint64)
    values = np.asarray(g.es[weight], dtype=np.float64) if weight else np.ones(len(edges))
    graph = nk.GraphFromCoo(
        (values, (edges[:, 0], edges[:, 1])),
        n=g.vcount(),
        directed=False,
        weighted=weight is not None,
    )
    graph.removeMultiEdges()
    return graph


def scipy_pagerank(matrix: sp.csr_array, damping: float = 0.85, tol: float = 1e-10) -> np.ndarray:
    """The plain reference: power iteration on a CSR matrix, uniform teleport."""
    n = matrix.shape[0]
    out = np.asarray(matrix.sum(axis=1)).ravel()
    inverse = np.divide(1.0, out, out=np.zeros(n), where=out > 0)
    transposed = matrix.T.tocsr()
    dangling = out == 0
    x = np.full(n, 1.0 / n)
    for _ in range(200):
        new = (
            damping * (transposed @ (x * inverse)) + (damping * x[dangling].sum() + 1 - damping) / n
        )
        done = np.abs(new - x).sum() < tol
        x = new
        if done:
            break
    return np.asarray(x / x.sum())


# --------------------------------------------------------------------------- sections


def bench_circles(
    name: str, graph: nx.Graph, g: ig.Graph, truth: np.ndarray, args: argparse.Namespace
) -> None:
    """Circles against networkit and networkx on the same graph.

    The fast methods run in turns (one call of each per round, ``--repeat`` rounds, best
    time of each kept), so a change in the machine's load hits them alike. CPU seconds
    count every thread (networkit runs ``--threads``; Quanzi's default engine every core, its
    igraph engine one).
    """
    nkg = to_networkit(g)

    def nk_run(algo: Any) -> np.ndarray:
        algo.run()
        return np.asarray(algo.getPartition().getVector(), dtype=np.int64)

    iterations = 1 if g.ecount() > ONE_ITERATION_EDGES else 2
    fast: list[tuple[str, Callable[[], np.ndarray]]] = [
        (
            f"quanzi circles (top level, default: {iterations} iteration(s))",
            lambda: detect_circles(g, seed=0).membership,
        ),
        ("networkit ParallelLeiden", lambda: nk_run(nk.community.ParallelLeiden(nkg))),
        ("networkit PLM", lambda: nk_run(nk.community.PLM(nkg, refine=True))),
    ]
    if iterations == 1:
        # what the second iteration would cost and give on this graph
        fast.insert(
            1,
            (
                "quanzi circles (top level, 2 iterations)",
                lambda: detect_circles(g, seed=0, n_iterations=2).membership,
            ),
        )
    # the engine before cluster_libreville: igraph's C Leiden on one core
    fast.insert(
        1,
        (
            f"quanzi circles (top level, engine igraph, {iterations} iteration(s))",
            lambda: detect_circles(g, seed=0, engine="igraph").membership,
        ),
    )
    best: dict[str, tuple[float, float]] = {}
    found: dict[str, np.ndarray] = {}
    for _ in range(max(1, args.repeat)):
        for label, fn in fast:
            wall, cpu = time.perf_counter(), time.process_time()
            found[label] = np.asarray(fn())
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            old_wall, old_cpu = best.get(label, (float("inf"), float("inf")))
            best[label] = (min(wall, old_wall), min(cpu, old_cpu))
    cpu = time.process_time()
    levels, t_h = timed(lambda: detect_circle_hierarchy(g, seed=0))
    best["quanzi circles (hierarchy, finest)"] = (t_h, time.process_time() - cpu)
    found["quanzi circles (hierarchy, finest)"] = levels[-1].membership
    if g.vcount() <= args.networkx_max_nodes:
        cpu = time.process_time()
        communities, t = timed(lambda: nx.community.louvain_communities(graph, seed=0))
        member = np.zeros(g.vcount(), dtype=np.int64)
        for c, nodes in enumerate(communities):
            member[list(nodes)] = c
        best["networkx Louvain"] = (t, time.process_time() - cpu)
        found["networkx Louvain"] = member
    rows = [
        {
            "method": label,
            "nmi": float(normalized_mutual_info_score(truth, membership)),
            "ari": float(adjusted_rand_score(truth, membership)),
            "circles": len(set(membership.tolist())),
            "seconds": best[label][0],
            "cpu_seconds": best[label][1],
        }
        for label, membership in found.items()
    ]
    leiden = best["networkit ParallelLeiden"][0]
    table(
        f"Circles on {name} ({len(set(truth.tolist()))} planted communities; {load_average()})",
        ["method", "NMI", "ARI", "circles", "seconds", "x nk Leiden time", "CPU s"],
        [
            [
                r["method"],
                r["nmi"],
                r["ari"],
                r["circles"],
                r["seconds"],
                r["seconds"] / leiden,
                r["cpu_seconds"],
            ]
            for r in rows
        ],
    )
    RESULTS.setdefault(name, {})["circles"] = rows
    RESULTS[name]["hierarchy"] = [
        {
            "circles": level.n_circles,
            "nmi": float(normalized_mutual_info_score(truth, level.membership)),
        }
        for level in levels
    ]


def load_average() -> str:
    """The machine's load average over 1, 5 and 15 minutes (timings depend on it)."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f}, {five:.1f}, {fifteen:.1f}"


def bench_pagerank(name: str, graph: nx.Graph, g: ig.Graph, args: argparse.Namespace) -> None:
    matrix = sp.csr_array(g.get_adjacency_sparse(attribute="weight"))
    reference, t_ref = timed(lambda: scipy_pagerank(matrix), args.repeat)
    rows = []
    ours, t = timed(lambda: pagerank(g), args.repeat)
    rows.append(["quanzi pagerank (igraph graph in)", t, t / t_ref, np.abs(ours - reference).max()])
    ours, t = timed(lambda: pagerank(matrix), args.repeat)
    rows.append(["quanzi pagerank (CSR matrix in)", t, t / t_ref, np.abs(ours - reference).max()])
    rows.append(["plain scipy power iteration (CSR in)", t_ref, 1.0, 0.0])
    other, t = timed(lambda: np.asarray(g.pagerank(weights="weight")), args.repeat)
    rows.append(["igraph PRPACK", t, t / t_ref, np.abs(other - reference).max()])
    if g.vcount() <= args.networkx_max_nodes:
        result, t = timed(lambda: nx.pagerank(graph, tol=1e-10))
        other = np.array([result[v] for v in range(g.vcount())])
        rows.append(["networkx pagerank", t, t / t_ref, np.abs(other - reference).max()])
    table(
        f"PageRank on {name}",
        ["method", "seconds", "x scipy time", "max |diff|"],
        rows,
    )
    RESULTS[name]["pagerank"] = [
        dict(zip(["method", "seconds", "ratio", "diff"], r, strict=True)) for r in rows
    ]


def sources_used(fn: Callable[[], T]) -> tuple[T, int]:
    """Run ``fn`` and count the sources Quanzi's sampled brokerage used (0 when exact)."""
    used: list[int] = []
    original = influence_module._linear_scaled_dependencies

    def counting(matrix: Any, sources: np.ndarray) -> np.ndarray:
        used.append(len(sources))
        return original(matrix, sources)

    influence_module._linear_scaled_dependencies = counting
    try:
        return fn(), sum(used)
    finally:
        influence_module._linear_scaled_dependencies = original


def bench_brokerage(name: str, g: ig.Graph, mu: float, args: argparse.Namespace) -> None:
    nkg = to_networkit(g)
    rows = []
    (_, t_ours), k = sources_used(lambda: timed(lambda: brokerage(g, seed=0)))
    k = k or g.vcount()
    rows.append([f"quanzi brokerage (default: {k} sources)", t_ours, 1.0])

    def estimate(samples: int) -> Any:
        algo = nk.centrality.EstimateBetweenness(nkg, samples, True, True)
        algo.run()
        return algo

    _, t = timed(partial(estimate, k))
    rows.append([f"networkit EstimateBetweenness (k={k})", t, t_ours / t])
    if not args.skip_approx:

        def approx() -> Any:
            algo = nk.centrality.ApproxBetweenness(nkg, epsilon=args.approx_epsilon, delta=0.1)
            algo.run()
            return algo

        _, t = timed(approx)
        rows.append([f"networkit ApproxBetweenness (eps={args.approx_epsilon})", t, t_ours / t])
    table(f"Brokerage speed on {name}", ["method", "seconds", "quanzi time / this"], rows)

    # rank agreement with exact betweenness on a small graph of the same kind
    _, small, _, _ = lfr(args.exact_nodes, mu, args.average_degree, args, seed=7)
    exact, t_exact = timed(lambda: np.asarray(small.betweenness(directed=False)))
    small_nk = to_networkit(small)
    quality = [["exact betweenness (igraph)", t_exact, 1.0]]
    default, t = timed(lambda: brokerage(small, seed=0))
    quality.append(["quanzi brokerage (default budget)", t, spearmanr(exact, default).statistic])
    for k in (32, 64, 256):
        sampled, t = timed(partial(brokerage, small, n_samples=k, seed=0))
        quality.append([f"quanzi brokerage (k={k})", t, spearmanr(exact, sampled).statistic])
        algo = nk.centrality.EstimateBetweenness(small_nk, k, True, True)
        _, t = timed(algo.run)
        quality.append(
            [f"networkit Estimate (k={k})", t, spearmanr(exact, algo.scores()).statistic]
        )
    algo = nk.centrality.ApproxBetweenness(small_nk, epsilon=args.approx_epsilon, delta=0.1)
    _, t = timed(algo.run)
    quality.append(
        [
            f"networkit Approx (eps={args.approx_epsilon})",
            t,
            spearmanr(exact, algo.scores()).statistic,
        ]
    )
    table(
        f"Brokerage vs exact betweenness, LFR {args.exact_nodes} nodes, mixing {mu}",
        ["method", "seconds", "Spearman"],
        quality,
    )
    RESULTS[name]["brokerage_speed"] = rows
    RESULTS[name]["brokerage_quality"] = quality
    if args.exact_main:
        bench_brokerage_exact(name, g, args)


def bench_brokerage_exact(name: str, g: ig.Graph, args: argparse.Namespace) -> None:
    """Rank agreement with exact betweenness on the graph itself (slow: every source)."""
    exact, t_exact = timed(lambda: np.asarray(g.betweenness(directed=False)))
    nkg = to_networkit(g)
    n = g.vcount()
    top = set(np.argsort(-exact)[: max(1, n // 100)].tolist())

    def row(label: str, scores: np.ndarray, seconds: float) -> list[Any]:
        found = set(np.argsort(-scores)[: len(top)].tolist())
        return [label, seconds, spearmanr(exact, scores).statistic, len(found & top) / len(top)]

    rows = [row("exact betweenness (igraph)", exact, t_exact)]
    (default, t), k = sources_used(lambda: timed(lambda: brokerage(g, seed=0)))
    rows.append(row(f"quanzi brokerage (default: {k or n} sources)", default, t))
    for samples in (32, 64):
        ours, t = timed(partial(brokerage, g, n_samples=samples, seed=0))
        rows.append(row(f"quanzi brokerage (k={samples}, linear scaling)", ours, t))
        sources = np.sort(np.random.default_rng(0).permutation(n)[:samples]).tolist()
        plain, t = timed(partial(g.betweenness, directed=False, sources=sources))
        rows.append(row(f"plain source sampling, igraph (k={samples})", np.asarray(plain), t))
        algo = nk.centrality.EstimateBetweenness(nkg, samples, True, True)
        _, t = timed(algo.run)
        rows.append(row(f"networkit Estimate (k={samples})", np.asarray(algo.scores()), t))
    table(
        f"Brokerage vs exact betweenness on {name}",
        ["method", "seconds", "Spearman", "top 1% found"],
        rows,
    )
    RESULTS[name]["brokerage_exact"] = rows


def bench_pipeline(name: str, g: ig.Graph, args: argparse.Namespace) -> None:
    """Circles + influence as ``quanzi analyze`` computes them (no store read or write)."""
    nkg = to_networkit(g)
    rows = []
    _top, t_top = timed(lambda: detect_circles(g, seed=0))
    # as quanzi analyze runs it: two levels, circles over 80 members split once more
    _levels, t_levels = timed(
        lambda: detect_circle_hierarchy(g, seed=0, max_levels=2, max_circle_size=80)
    )
    _scores, t_influence = timed(lambda: influence(g))

    def nk_pipeline() -> None:
        nk.community.ParallelLeiden(nkg).run()
        nk.centrality.PageRank(nkg).run()
        nk.centrality.EstimateBetweenness(nkg, 32, True, True).run()
        nk.centrality.CoreDecomposition(nkg).run()

    _, t_nk = timed(nk_pipeline)
    rows.append(["quanzi circles (top level) + influence", t_top + t_influence, t_top, t_influence])
    rows.append(
        ["quanzi circles (2 levels) + influence", t_levels + t_influence, t_levels, t_influence]
    )
    rows.append(["networkit Leiden + PageRank + Estimate(32) + cores", t_nk, "", ""])
    table(
        f"Circles + influence on {name}",
        ["pipeline", "total seconds", "circles", "influence"],
        rows,
    )
    RESULTS[name]["pipeline"] = rows
    # where influence's seconds go (the same steps influence() takes, one by one)
    parts: list[list[Any]] = []
    matrix, t = timed(lambda: adjacency(g, "weight"))
    parts.append(["igraph edges -> CSR matrix", t])
    _, t = timed(lambda: pagerank(matrix))
    parts.append(["PageRank (from the matrix)", t])
    (_, t), k = sources_used(lambda: timed(lambda: brokerage(g, seed=0)))
    parts.append([f"brokerage ({k or g.vcount()} sources, own matrix)", t])
    _, t = timed(lambda: core_depth(g))
    parts.append(["k-core depth", t])
    table(f"Influence parts on {name}", ["step", "seconds"], parts)
    RESULTS[name]["influence_parts"] = parts


def bench_lookalike(
    name: str,
    g: ig.Graph,
    truth: np.ndarray,
    args: argparse.Namespace,
    *,
    plans: list[tuple[int, int]] | None = None,
    attributes: dict[str, dict[str, list[str]]] | None = None,
) -> None:
    """Held-out members of planted communities; ``plans`` are (seeds, k) pairs."""
    ids = g.vs["id"]
    levels = detect_circle_hierarchy(g, seed=0)
    circle_keys: dict[str, list[str]] = {cid: [] for cid in ids}
    for level in levels:
        for cid, c in zip(ids, level.membership.tolist(), strict=True):
            circle_keys[cid].append(level.keys[c])
    graph_only, t_index = timed(lambda: LookalikeIndex(g, attributes=attributes, seed=0))
    _, t_emb = timed(lambda: graph_only.embeddings)
    with_circles = LookalikeIndex(
        g,
        attributes={**(attributes or {}), "circle": circle_keys},
        embeddings=graph_only.embeddings,
        seed=0,
    )
    sizes = np.bincount(truth)
    rng = np.random.default_rng(0)
    rows = []
    for n_seeds, k in plans or [(n, args.k) for n in args.seed_counts]:
        eligible = np.flatnonzero(sizes >= n_seeds + k)
        chosen = rng.choice(eligible, size=min(args.queries, len(eligible)), replace=False)
        scores: dict[str, list[tuple[float, float]]] = {}
        query_seconds: list[float] = []
        thorough_seconds: list[float] = []
        for community in chosen.tolist():
            members = rng.permutation(np.flatnonzero(truth == community))
            seeds = [ids[i] for i in members[:n_seeds]]
            held_out = {ids[i] for i in members[n_seeds:]}
            found, t = timed(partial(graph_only.query, seeds, k=k))
            query_seconds.append(t)
            thorough, t = timed(partial(graph_only.query, seeds, k=k, block_model=True))
            thorough_seconds.append(t)
            ranked = {
                "quanzi lookalike": [c.id for c in found],
                "quanzi lookalike, no seed expansion": [
                    c.id for c in graph_only.query(seeds, k=k, expansion_rounds=0)
                ],
                "quanzi lookalike + circles": [c.id for c in with_circles.query(seeds, k=k)],
                "quanzi lookalike, thorough": [c.id for c in thorough],
                "Jaccard baseline": [cid for cid, _ in jaccard_baseline(g, seeds, k=k)],
                "degree baseline": [cid for cid, _ in degree_baseline(g, seeds, k=k)],
            }
            for method, top in ranked.items():
                hits = len(set(top[:k]) & held_out)
                scores.setdefault(method, []).append((hits / k, hits / len(held_out)))
        if not scores:
            continue
        best_baseline = max(
            np.mean([p for p, _ in scores[m]]) for m in ("Jaccard baseline", "degree baseline")
        )
        for method, values in scores.items():
            precision = float(np.mean([p for p, _ in values]))
            rows.append(
                [
                    f"{n_seeds} / {k}",
                    method,
                    precision,
                    float(np.mean([r for _, r in values])),
                    precision / best_baseline if best_baseline else float("nan"),
                ]
            )
        for label, seconds in (("", query_seconds), (", thorough", thorough_seconds)):
            rows.append(
                [
                    f"{n_seeds} / {k}",
                    f"(seconds per quanzi query{label})",
                    float(np.median(seconds)),
                    "",
                    "",
                ]
            )
    table(
        f"Lookalike on {name}: up to {args.queries} planted communities, precision@k / recall@k "
        f"(index built once: {t_index:.2f} s + FastRP embeddings {t_emb:.2f} s)",
        ["seeds / k", "method", "precision@k", "recall@k", "x best baseline"],
        rows,
    )
    RESULTS.setdefault(name, {})["lookalike"] = rows


def generator_graph(
    customers: int, seed: int
) -> tuple[ig.Graph, np.ndarray, dict[str, dict[str, list[str]]], float]:
    """The generator's people and ties, straight from its files (no identity resolution):
    interaction events summed per pair (message 1, call 2, visit 3), group memberships and
    interests as attributes, planted circles as the truth."""
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        files = generate(folder, GeneratorConfig(customers=customers, seed=seed))
        with files.truth_records.open(encoding="utf-8") as f:
            person = {
                f"{r['source']}:{r['source_record_id']}": r["person_id"] for r in csv.DictReader(f)
            }
        with files.truth_people.open(encoding="utf-8") as f:
            people = list(csv.DictReader(f))
        index = {p["person_id"]: i for i, p in enumerate(people)}
        strength: dict[tuple[int, int], float] = {}
        values: dict[str, dict[str, set[str]]] = {"group": {}, "interest": {}}
        kind_weight = {"message": 1.0, "call": 2.0, "visit": 3.0}
        with files.events.open(encoding="utf-8") as f:
            for line in f:
                event = json.loads(line)
                if event["type"] == "interaction":
                    a, b = person.get(event["from"]), person.get(event["to"])
                    if a and b and a != b:
                        pair = (min(index[a], index[b]), max(index[a], index[b]))
                        step = kind_weight.get(event.get("kind"), 1.0) * float(
                            event.get("count", 1)
                        )
                        strength[pair] = strength.get(pair, 0.0) + step
                elif event["type"] in ("group_join", "interest"):
                    who = person.get(event["customer"])
                    name = "group" if event["type"] == "group_join" else "interest"
                    if who:
                        value = event["group_id" if name == "group" else "interest"]
                        values[name].setdefault(who, set()).add(value)
        seconds = time.perf_counter() - start
    g = ig.Graph(n=len(people), edges=list(strength))
    g.vs["id"] = [p["person_id"] for p in people]
    g.es["weight"] = list(strength.values())
    truth = np.unique([p["circle_id"] for p in people], return_inverse=True)[1].astype(np.int64)
    attributes = {k: {who: sorted(v) for who, v in d.items()} for k, d in values.items()}
    return g, truth, attributes, seconds


def bench_generator(args: argparse.Namespace) -> None:
    g, truth, attributes, seconds = generator_graph(args.generator, args.generator_seed)
    name = f"generator n={g.vcount()} ({g.ecount()} ties, seed {args.generator_seed})"
    print(f"\n=== {name}: generated and read in {seconds:.1f} s")
    RESULTS[name] = {"generation_seconds": seconds}
    rows = []
    for label, fn in (
        ("quanzi circles (top level)", lambda: detect_circles(g, seed=0).membership),
        (
            "quanzi circles (hierarchy, finest)",
            lambda: detect_circle_hierarchy(g, seed=0)[-1].membership,
        ),
        ("networkx Louvain", lambda: louvain_membership(g)),
    ):
        member, t = timed(fn)
        rows.append(
            [
                label,
                float(normalized_mutual_info_score(truth, member)),
                float(adjusted_rand_score(truth, member)),
                len(set(member.tolist())),
                t,
            ]
        )
    nkg = to_networkit(g, weight="weight")
    algo = nk.community.ParallelLeiden(nkg)
    _, t = timed(algo.run)
    member = np.asarray(algo.getPartition().getVector(), dtype=np.int64)
    rows.append(
        [
            "networkit ParallelLeiden",
            float(normalized_mutual_info_score(truth, member)),
            float(adjusted_rand_score(truth, member)),
            len(set(member.tolist())),
            t,
        ]
    )
    table(
        f"Circles on {name} ({len(set(truth.tolist()))} planted circles, ties only)",
        ["method", "NMI", "ARI", "circles", "seconds"],
        rows,
    )
    RESULTS[name]["circles"] = rows
    bench_brokerage_exact(name, g, args)
    plans = [(5, 10), (10, 20)]
    bench_lookalike(name, g, truth, args, plans=plans)
    bench_lookalike(
        f"{name} + groups and interests", g, truth, args, plans=plans, attributes=attributes
    )


def louvain_membership(g: ig.Graph) -> np.ndarray:
    graph = nx.Graph()
    graph.add_nodes_from(range(g.vcount()))
    graph.add_weighted_edges_from(
        (a, b, w) for (a, b), w in zip(g.get_edgelist(), g.es["weight"], strict=True)
    )
    member = np.zeros(g.vcount(), dtype=np.int64)
    for c, nodes in enumerate(nx.community.louvain_communities(graph, seed=0)):
        member[list(nodes)] = c
    return member


def bench_churn(name: str, g: ig.Graph, args: argparse.Namespace) -> None:
    """Simulated churn contagion: some circles dissolve, and churn spreads along ties.

    Wave 1 (observed): a base churn from recency and frequency, plus 30 % churn inside
    one circle in ten. Wave 2 (the label, among wave-1 survivors): the same base risk
    plus a push from the share of churned contacts, the circle's churn rate and fading
    engagement. Features are observed after wave 1.
    """
    n = g.vcount()
    rng = np.random.default_rng(1)
    recency = rng.exponential(60.0, n)
    frequency = rng.poisson(3.0, n) + 1.0
    monetary = frequency * rng.gamma(2.0, 50.0, n)
    previous = rng.poisson(6.0, n).astype(float)
    recent = rng.binomial(previous.astype(int), rng.uniform(0.2, 1.0, n)).astype(float)
    circles = detect_circles(g, seed=0).membership

    def logistic(x: np.ndarray) -> np.ndarray:
        return np.asarray(1.0 / (1.0 + np.exp(-x)))

    base = -3.0 + recency / 60.0 - 0.15 * frequency
    dissolving = rng.random(int(circles.max()) + 1) < 0.1
    first_wave = (rng.random(n) < logistic(base)) | (dissolving[circles] & (rng.random(n) < 0.3))
    features = churn_graph_features(
        g,
        churned=first_wave,
        circles=circles,
        engagement_recent=recent,
        engagement_previous=previous,
    )
    push = (
        4.0 * features["churned_neighbour_share"].to_numpy()
        + 3.0 * features["circle_churn_rate"].to_numpy()
        + features["engagement_decay"].to_numpy()
    )
    label = rng.random(n) < logistic(base + push - 1.0)
    rfm = pd.DataFrame({"recency": recency, "frequency": frequency, "monetary": monetary})
    full = pd.concat([features.reset_index(drop=True), rfm], axis=1)
    survivors = rng.permutation(np.flatnonzero(~first_wave))
    train, test = survivors[: len(survivors) // 2], survivors[len(survivors) // 2 :]
    rows = []
    for label_name, frame in (("graph + RFM features", full), ("RFM only", rfm)):
        model, t = timed(partial(ChurnModel(n_threads=1).fit, frame.iloc[train], label[train]))
        auc = roc_auc_score(label[test], model.risk(frame.iloc[test]))
        rows.append([label_name, auc, t])
    table(
        f"Churn on {name}: simulated contagion, {len(test)} test customers, "
        f"churn rate {label[test].mean():.2f}",
        ["model", "ROC AUC", "fit seconds"],
        rows,
    )
    RESULTS[name]["churn"] = rows


# --------------------------------------------------------------------------- main


#: Sections of the LFR run, for ``--only``.
SECTIONS = ("circles", "pagerank", "brokerage", "pipeline", "lookalike", "churn")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--mixing", type=float, nargs="+", default=[0.3, 0.5])
    parser.add_argument("--average-degree", type=float, default=20.0)
    parser.add_argument("--max-degree", type=int, default=100)
    parser.add_argument("--min-community", type=int, default=20)
    parser.add_argument("--max-community", type=int, default=200)
    parser.add_argument("--exact-nodes", type=int, default=2000)
    parser.add_argument("--approx-epsilon", type=float, default=0.1)
    parser.add_argument("--skip-approx", action="store_true", help="skip ApproxBetweenness")
    parser.add_argument(
        "--exact-main",
        action="store_true",
        help="also compare brokerage with exact betweenness on the main LFR graphs (slow)",
    )
    parser.add_argument("--networkx-max-nodes", type=int, default=20_000)
    parser.add_argument("--k", type=int, default=50, help="lookalike list length")
    parser.add_argument("--seed-counts", type=int, nargs="+", default=[20, 5])
    parser.add_argument("--queries", type=int, default=10, help="lookalike communities")
    parser.add_argument(
        "--sparse-degree",
        type=float,
        default=8.0,
        help="also run lookalike on an LFR graph this sparse (0 to skip)",
    )
    parser.add_argument(
        "--generator",
        type=int,
        default=5000,
        help="also run circles and lookalike on the generator's graph of this many people "
        "(0 to skip)",
    )
    parser.add_argument("--generator-seed", type=int, default=0)
    parser.add_argument(
        "--lfr-seed",
        type=int,
        default=42,
        help="seed of the LFR graphs (42 is what the defaults were tuned on; try others)",
    )
    parser.add_argument(
        "--lfr-cache", help="keep the generated LFR graphs in this folder and reuse them"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="networkit threads")
    parser.add_argument("--json", help="also write every figure to this file")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=sorted(SECTIONS),
        help="run only these sections on the LFR graphs (default: all)",
    )
    args = parser.parse_args()
    run = set(args.only or SECTIONS)
    nk.setNumberOfThreads(args.threads)
    nk.engineering.setSeed(0, False)
    print(
        f"python {platform.python_version()}, igraph {ig.__version__}, "
        f"networkit {nk.__version__}, networkx {nx.__version__}; networkit threads {args.threads}"
    )
    for mu in args.mixing:
        graph, g, truth, seconds = lfr(
            args.nodes, mu, args.average_degree, args, seed=args.lfr_seed
        )
        name = f"LFR n={args.nodes} mixing={mu} ({g.ecount()} edges)"
        print(f"\n=== {name}: generated in {seconds:.1f} s")
        RESULTS[name] = {"generation_seconds": seconds}
        if "circles" in run:
            bench_circles(name, graph, g, truth, args)
        if "pagerank" in run:
            bench_pagerank(name, graph, g, args)
        if "brokerage" in run:
            bench_brokerage(name, g, mu, args)
        if "pipeline" in run:
            bench_pipeline(name, g, args)
        if "lookalike" in run:
            bench_lookalike(name, g, truth, args)
        if "churn" in run:
            bench_churn(name, g, args)
        if args.sparse_degree and "lookalike" in run:
            # CRM tie graphs are sparse; Jaccard leaves more room there
            _, sparse, sparse_truth, _ = lfr(
                args.nodes, mu, args.sparse_degree, args, seed=args.lfr_seed, max_degree=50
            )
            sparse_name = f"sparse LFR n={args.nodes} mixing={mu} ({sparse.ecount()} edges)"
            RESULTS[sparse_name] = {}
            bench_lookalike(sparse_name, sparse, sparse_truth, args)
    if args.generator:
        bench_generator(args)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(RESULTS, handle, indent=1, default=str)


if __name__ == "__main__":
    main()
