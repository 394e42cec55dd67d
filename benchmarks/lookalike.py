"""Lookalike prospecting: quality against baselines and per-query latency, in one run.

    python benchmarks/lookalike.py quality                       # LFR + generator graphs
    python benchmarks/lookalike.py latency                       # generator 20k and 100k
    python benchmarks/lookalike.py quality --graphs lfr:10000:0.5:8:7 --seed-counts 20 5

Graphs are named ``lfr:NODES:MIXING:DEGREE:SEED`` (``networkx.LFR_benchmark_graph``,
communities 20-200, unweighted) or ``generator:PEOPLE:SEED`` (the synthetic generator's
people, their interaction ties summed per pair, group memberships and interests as
attributes, planted circles as the truth; ``--circles`` also passes Quanzi's detected
circles as an attribute, as the service does).

**quality**: for each seed count, up to ``--queries`` planted communities are drawn among
those with at least ``seeds + k`` members (so precision@k can reach 1; with
``--allow-small`` smaller ones too, and the ceiling column says how far precision@k can
reach); seeds are drawn at random from the community, the rest of it is held out, the
candidates are everyone but the seeds. Quanzi's lookalike is compared with the Jaccard and
degree baselines on the same queries: precision@k, recall@k, the ceiling and the ratio to
the best baseline.

**latency**: milliseconds per query of a prebuilt :class:`LookalikeIndex` (k=50, 20 seeds
from one community), p50 / p99 over ``--latency-queries`` queries, from 1 and from
``--clients`` threads at once, with the CPU time per query (one client) and queries per
second; beside it, the same queries through the Jaccard baseline and a plain scipy
personalised PageRank (``--ppr-iterations`` sparse mat-vec steps over the whole graph),
with ratios. The machine is shared: state its load average with every figure (printed).

``--previous FILE`` adds an earlier version of ``algorithms/lookalike.py`` as one more peer
(in both modes), e.g. the one before the neighbourhood-restricted queries::

    git show 5ddf34a:algorithms/lookalike.py > /tmp/lookalike_before.py
    python benchmarks/lookalike.py latency --previous /tmp/lookalike_before.py
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from typing import Any

import igraph as ig
import numpy as np
import scipy.sparse as sp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from algorithms import generator_graph, lfr
from quanzi.algorithms._matrix import adjacency
from quanzi.algorithms.circles import detect_circle_hierarchy
from quanzi.algorithms.lookalike import (
    LookalikeIndex,
    LookalikeWeights,
    degree_baseline,
    jaccard_baseline,
)

Ranker = Callable[[list[str], int], list[str]]


@dataclass
class Graph:
    name: str
    g: ig.Graph
    truth: np.ndarray
    attributes: dict[str, dict[str, list[str]]]


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min) / {five:.1f} (5 min) on {os.cpu_count()} CPUs"


def lfr_graph(n: int, mu: float, degree: float, seed: int) -> Graph:
    shape = argparse.Namespace(max_degree=None, min_community=20, max_community=200)
    _, g, truth, _ = lfr(n, mu, degree, shape, seed, max_degree=max(50, int(5 * degree)))
    return Graph(f"LFR n={n} mixing={mu} degree={degree} seed={seed}", g, truth, {})


def load_graph(spec: str, *, circles: bool) -> Graph:
    kind, *params = spec.split(":")
    if kind == "lfr":
        n, mu, degree, seed = params
        graph = lfr_graph(int(n), float(mu), float(degree), int(seed))
    elif kind == "generator":
        people, seed = params
        g, truth, attributes, _ = generator_graph(int(people), int(seed))
        graph = Graph(f"generator n={people} seed={seed}", g, truth, attributes)
    else:
        raise SystemExit(f"unknown graph {spec!r}: use lfr:N:MU:DEG:SEED or generator:N:SEED")
    graph.name += f" ({graph.g.vcount()} people, {graph.g.ecount()} ties)"
    if circles:
        ids = graph.g.vs["id"]
        keys: dict[str, list[str]] = {cid: [] for cid in ids}
        for level in detect_circle_hierarchy(graph.g, seed=0):
            for cid, c in zip(ids, level.membership.tolist(), strict=True):
                keys[cid].append(level.keys[c])
        graph.attributes = {**graph.attributes, "circle": keys}
        graph.name += " + detected circles"
    return graph


def draw_queries(
    graph: Graph, n_seeds: int, k: int, count: int, *, allow_small: bool, seed: int
) -> list[tuple[list[str], set[str]]]:
    """(seeds, held-out) pairs: seeds drawn from one planted community, the rest held out."""
    ids = graph.g.vs["id"]
    sizes = np.bincount(graph.truth)
    smallest = n_seeds + (5 if allow_small else k)
    eligible = np.flatnonzero(sizes >= smallest)
    rng = np.random.default_rng(seed)
    chosen = rng.choice(eligible, size=min(count, len(eligible)), replace=False)
    queries = []
    for community in sorted(chosen.tolist()):
        members = rng.permutation(np.flatnonzero(graph.truth == community))
        queries.append(([ids[i] for i in members[:n_seeds]], {ids[i] for i in members[n_seeds:]}))
    return queries


def previous_index(path: str | None, graph: Graph) -> Any:
    """An index built by an earlier version of the lookalike module (``--previous``)."""
    if not path:
        return None
    spec = importlib.util.spec_from_file_location("lookalike_previous", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"--previous {path}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    index = module.LookalikeIndex(graph.g, attributes=graph.attributes or None, seed=0)
    _ = index.embeddings  # computed before timing (earlier versions have no prepare())
    return index


def variant(spec: str) -> tuple[str, dict[str, Any]]:
    """``LABEL=name=value,...``: query keywords (``expansion_rounds``) and weight fields."""
    label, _, rest = spec.partition("=")
    options: dict[str, Any] = {}
    weights: dict[str, float] = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        if key in {f.name for f in fields(LookalikeWeights)}:
            weights[key] = float(value)
        else:
            numbers = [float(v) for v in value.split("+")]  # "2+3+4": a tuple
            ints = [int(v) for v in numbers if v == int(v)]
            single = ints[0] if len(ints) == len(numbers) else numbers[0]
            options[key] = tuple(ints) if "+" in value else single
    if weights:
        options["weights"] = LookalikeWeights(**weights)
    return label, options


def rankers(graph: Graph, index: LookalikeIndex, variants: Sequence[str]) -> dict[str, Ranker]:
    g = graph.g
    extra = {
        f"quanzi {label}": (lambda s, k, o=options: [c.id for c in index.query(s, k=k, **o)])
        for label, options in map(variant, variants)
    }
    return extra | {
        "quanzi lookalike": lambda s, k: [c.id for c in index.query(s, k=k)],
        "quanzi, no seed expansion": lambda s, k: [
            c.id for c in index.query(s, k=k, expansion_rounds=0)
        ],
        "quanzi, block model": lambda s, k: [c.id for c in index.query(s, k=k, block_model=True)],
        "Jaccard baseline": lambda s, k: [cid for cid, _ in jaccard_baseline(g, s, k=k)],
        "degree baseline": lambda s, k: [cid for cid, _ in degree_baseline(g, s, k=k)],
    }


def quality(graph: Graph, args: argparse.Namespace) -> None:
    start = time.perf_counter()
    index = LookalikeIndex(graph.g, attributes=graph.attributes or None, seed=0)
    index.prepare(block_model=True)
    print(f"\n=== {graph.name}: index built in {time.perf_counter() - start:.1f} s")
    methods = rankers(graph, index, args.variant)
    before = previous_index(args.previous, graph)
    if before is not None:
        methods = {"previous version": lambda s, k: [c.id for c in before.query(s, k=k)]} | methods
    print(
        f"{'seeds / k':<10} {'queries':>7}  {'ceiling':>7}  {'method':<27} "
        f"{'precision@k':>11}  {'recall@k':>8}  {'x best baseline':>15}"
    )
    for n_seeds in args.seed_counts:
        queries = draw_queries(
            graph, n_seeds, args.k, args.queries, allow_small=args.allow_small, seed=args.seed
        )
        if not queries:
            print(f"{n_seeds} / {args.k}: no community has {n_seeds + args.k} members")
            continue
        ceiling = float(np.mean([min(args.k, len(h)) / args.k for _, h in queries]))
        scores: dict[str, tuple[float, float]] = {}
        for method, rank in methods.items():
            hits = [len(set(rank(s, args.k)[: args.k]) & h) for s, h in queries]
            precision = float(np.mean([x / args.k for x in hits]))
            recall = float(np.mean([x / len(h) for x, (_, h) in zip(hits, queries, strict=True)]))
            scores[method] = (precision, recall)
        best = max(scores["Jaccard baseline"][0], scores["degree baseline"][0])
        for method, (precision, recall) in scores.items():
            ratio = f"{precision / best:.2f}x" if best else "-"
            print(
                f"{n_seeds:>5} / {args.k:<3} {len(queries):>7}  {ceiling:7.3f}  {method:<27} "
                f"{precision:11.3f}  {recall:8.3f}  {ratio:>15}"
            )
    print(load_average())


def percentiles(seconds: Sequence[float]) -> tuple[float, float]:
    ms = 1000 * np.asarray(seconds)
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def scipy_ppr(matrix: sp.csr_array, iterations: int) -> Callable[[np.ndarray, int], np.ndarray]:
    """Personalised PageRank by plain power iteration (the peer)."""
    strength = np.asarray(matrix.sum(axis=1)).ravel()
    step = sp.csr_array(
        sp.diags_array(np.divide(1.0, strength, out=np.zeros(len(strength)), where=strength > 0))
        @ matrix
    ).T.tocsr()

    def run(seed_idx: np.ndarray, k: int) -> np.ndarray:
        restart = np.zeros(matrix.shape[0])
        restart[seed_idx] = 1.0 / len(seed_idx)
        x = restart.copy()
        for _ in range(iterations):
            x = 0.15 * restart + 0.85 * (step @ x)
        x[seed_idx] = -1.0
        return np.argpartition(-x, k)[:k]

    return run


def timed_queries(
    fn: Callable[[list[str]], Any], queries: list[list[str]], clients: int
) -> tuple[list[float], list[float], float]:
    """Wall seconds per query, CPU seconds per query (the whole process's, so only
    meaningful with one client) and queries per second."""
    seconds: list[float] = []
    cpu: list[float] = []
    lock = threading.Lock()

    def one(seeds: list[str]) -> None:
        start, start_cpu = time.perf_counter(), time.process_time()
        fn(seeds)
        took, took_cpu = time.perf_counter() - start, time.process_time() - start_cpu
        with lock:
            seconds.append(took)
            cpu.append(took_cpu)

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(one, queries))
    return seconds, cpu, len(queries) / (time.perf_counter() - began)


def latency(graph: Graph, args: argparse.Namespace) -> None:
    start = time.perf_counter()
    index = LookalikeIndex(graph.g, attributes=graph.attributes or None, seed=0)
    index.prepare()
    built = time.perf_counter() - start
    print(f"\n=== {graph.name}: index built in {built:.1f} s; {load_average()}")
    drawn = draw_queries(graph, 20, 10, args.latency_queries, allow_small=True, seed=args.seed)
    queries = [s for s, _ in drawn]
    while len(queries) < args.latency_queries:  # fewer big communities than queries
        queries += queries[: args.latency_queries - len(queries)]
    position = {cid: i for i, cid in enumerate(graph.g.vs["id"])}
    ppr = scipy_ppr(adjacency(graph.g, "weight", directed=False), args.ppr_iterations)
    peers: dict[str, Callable[[list[str]], Any]] = {
        "quanzi lookalike": lambda s: index.query(s, k=50),
        "quanzi, no seed expansion": lambda s: index.query(s, k=50, expansion_rounds=0),
        "Jaccard baseline": lambda s: jaccard_baseline(graph.g, s, k=50),
        f"scipy PPR ({args.ppr_iterations} it.)": lambda s: ppr(
            np.asarray([position[x] for x in s]), 50
        ),
    }
    if args.block_model:
        index.prepare(block_model=True)
        peers["quanzi, block model"] = lambda s: index.query(s, k=50, block_model=True)
    before = previous_index(args.previous, graph)
    if before is not None:
        peers["previous version"] = lambda s: before.query(s, k=50)
    for fn in peers.values():  # warm up
        fn(queries[0])
    print(
        f"{'method':<28} {'clients':>7} {'p50 ms':>8} {'p99 ms':>8} {'CPU p50 ms':>10} "
        f"{'queries/s':>9}  {'p50 / quanzi':>12}"
    )
    for clients in (1, args.clients):
        rows = []
        for method, fn in peers.items():
            wall, cpu, rate = timed_queries(fn, queries, clients)
            p50, p99 = percentiles(wall)
            cpu_p50 = f"{percentiles(cpu)[0]:10.1f}" if clients == 1 else f"{'-':>10}"
            rows.append((method, p50, p99, cpu_p50, rate))
        mine = rows[0][1]
        for method, p50, p99, cpu_p50, rate in rows:
            print(
                f"{method:<28} {clients:>7} {p50:8.1f} {p99:8.1f} {cpu_p50} {rate:9.1f}  "
                f"{p50 / mine:12.2f}"
            )
        print(f"  ({load_average()})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=["quality", "latency"])
    parser.add_argument(
        "--graphs",
        nargs="+",
        help="graphs to run on; quality: LFR seed 7 graphs and the generator's seed 3 by "
        "default (not used for tuning: LFR seed 42 and generator seed 0 were); latency: the "
        "generator's 20k and 100k people",
    )
    parser.add_argument("--circles", action="store_true", help="add detected circles")
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--seed-counts", type=int, nargs="+", default=[20, 5])
    parser.add_argument("--queries", type=int, default=20, help="communities per seed count")
    parser.add_argument("--allow-small", action="store_true", help="see the module docs")
    parser.add_argument("--latency-queries", type=int, default=40)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--ppr-iterations", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0, help="seed of the query draw")
    parser.add_argument("--previous", help="an earlier lookalike.py to compare (see above)")
    parser.add_argument(
        "--block-model",
        action="store_true",
        help="latency: also time block_model=True queries (seconds each at 100k)",
    )
    parser.add_argument(
        "--variant",
        nargs="*",
        default=[],
        help="extra settings to compare, e.g. 'no embedding=embedding=0' or "
        "'one round=expansion_rounds=1' (weights not named keep their defaults)",
    )
    args = parser.parse_args()
    print(f"python {platform.python_version()}, igraph {ig.__version__}; {load_average()}")
    defaults = {
        "quality": [
            "lfr:10000:0.5:8:7",
            "lfr:10000:0.3:8:7",
            "lfr:10000:0.5:20:7",
            "generator:20000:3",
        ],
        "latency": ["generator:20000:0", "generator:100000:0"],
    }
    for spec in args.graphs or defaults[args.mode]:
        graph = load_graph(spec, circles=args.circles)
        (quality if args.mode == "quality" else latency)(graph, args)


if __name__ == "__main__":
    main()
