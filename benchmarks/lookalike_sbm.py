"""A lead for lookalike quality on sparse graphs, measured and not (yet) taken.

    python benchmarks/lookalike_sbm.py --graphs lfr:10000:0.5:8:7 --seed-counts 20 5

Semi-supervised belief propagation on a two-block degree-corrected stochastic block model
(the seeds' community against everyone else; the seeds clamped to the community), with the
community's volume and mixing re-estimated from the marginals (5 EM rounds of 40 damped
iterations) and each iteration's marginals shifted so that their degree-weighted sum equals
the estimated volume (without that shift a large community's messages run away to "every
vertex is in"). Ranked by its marginal, and as a rank-sum hybrid with Quanzi's ranking (the
top 300 of each). Same queries and protocol as ``benchmarks/lookalike.py quality``, Quanzi
and the Jaccard baseline in the same run.

Measured in session 13 (docs/algorithms.md, "Session 13: a block-model lead"): on sparse LFR
graphs (mixing 0.5, degree 8) it beats Quanzi's ranking; on denser or clearer graphs, where
Quanzi is within 0.01 of the ceiling, it loses 0.07-0.09 alone and ~0.005 in the hybrid.
A whole-graph pass costs ~0.6 s per query at 10k vertices, far from the service's budget.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lookalike import draw_queries, load_average, load_graph

from quanzi.algorithms.lookalike import LookalikeIndex, jaccard_baseline

FloatArray = np.ndarray


class BlockModel:
    """Belief propagation for "in the seeds' community or not" on one graph."""

    def __init__(self, edges: np.ndarray, n: int) -> None:
        self.n = n
        self.src = np.concatenate([edges[:, 0], edges[:, 1]])
        self.dst = np.concatenate([edges[:, 1], edges[:, 0]])
        half = len(edges)
        self.rev = np.concatenate([np.arange(half) + half, np.arange(half)])
        self.degree = np.bincount(self.src, minlength=n).astype(np.float64)
        self.volume = self.degree.sum()

    def _propagate(
        self, clamp: np.ndarray, inside: float, mixing: float, msg: FloatArray | None
    ) -> tuple[FloatArray, FloatArray]:
        d, src, dst = self.degree, self.src, self.dst
        outside = self.volume - inside
        w11 = (1 - mixing) / inside
        w10 = mixing / outside
        w00 = max(outside - inside * mixing, 1.0) / outside**2
        prior = np.log(inside / outside)
        if msg is None:
            msg = np.full(len(src), inside / self.volume)
            msg[clamp[src]] = 1.0
        marg = np.zeros(self.n)
        for _ in range(40):
            evidence = np.log(w11 * msg + w10 * (1 - msg)) - np.log(w10 * msg + w00 * (1 - msg))
            base = prior + np.bincount(dst, evidence, self.n)
            lo, hi = -60.0, 60.0  # shift so that the marginals hold the community's volume
            for _ in range(40):
                mid = (lo + hi) / 2
                trial = 1 / (1 + np.exp(-np.clip(base + mid, -50, 50)))
                trial[clamp] = 1.0
                lo, hi = (lo, mid) if (trial * d).sum() > inside else (mid, hi)
            base += (lo + hi) / 2
            marg = 1 / (1 + np.exp(-np.clip(base, -50, 50)))
            marg[clamp] = 1.0
            new = 1 / (1 + np.exp(-np.clip(base[src] - evidence[self.rev], -50, 50)))
            new[clamp[src]] = 1.0
            msg = 0.5 * msg + 0.5 * new
        return marg, msg

    def scores(self, seeds: np.ndarray) -> FloatArray:
        clamp = np.zeros(self.n, dtype=bool)
        clamp[seeds] = True
        inside, mixing, msg = 5 * self.degree[seeds].sum(), 0.5, None
        marg = np.zeros(self.n)
        for _ in range(5):
            marg, msg = self._propagate(clamp, inside, mixing, msg)
            estimated = float((marg * self.degree).sum())
            internal = float((marg[self.src] * marg[self.dst]).sum())
            mixing = float(np.clip(1 - internal / estimated, 0.05, 0.95))
            inside = max(estimated, float(self.degree[seeds].sum()))
        marg[seeds] = -1.0
        return marg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graphs", nargs="+", default=["lfr:10000:0.5:8:7"])
    parser.add_argument("--seed-counts", nargs="+", type=int, default=[20, 5])
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0, help="seed of the query draw")
    args = parser.parse_args()
    print(load_average())
    for spec in args.graphs:
        graph = load_graph(spec, circles=False)
        g = graph.g
        index = LookalikeIndex(g, attributes=graph.attributes or None, seed=0).prepare()
        model = BlockModel(np.asarray(g.get_edgelist(), dtype=np.int64), g.vcount())
        position = {cid: i for i, cid in enumerate(g.vs["id"])}
        ids = g.vs["id"]
        print(f"\n=== {graph.name}")
        for n_seeds in args.seed_counts:
            queries = draw_queries(
                graph, n_seeds, args.k, args.queries, allow_small=False, seed=args.seed
            )
            hits: dict[str, list[float]] = {
                m: [] for m in ("quanzi", "block model", "hybrid", "Jaccard")
            }
            took = 0.0
            for seeds, held in queries:
                ranked = [c.id for c in index.query(seeds, k=args.k)]
                longer = [c.id for c in index.query(seeds, k=300)]
                start = time.perf_counter()
                marg = model.scores(np.asarray([position[s] for s in seeds]))
                took += time.perf_counter() - start
                by_model = [ids[i] for i in np.argsort(-marg)[:300]]
                rank_q = {c: r for r, c in enumerate(longer)}
                rank_m = {c: r for r, c in enumerate(by_model)}
                both = sorted(
                    set(rank_q) | set(rank_m), key=lambda c: rank_q.get(c, 400) + rank_m.get(c, 400)
                )
                jaccard = [c for c, _ in jaccard_baseline(g, seeds, k=args.k)]
                for method, top in (
                    ("quanzi", ranked),
                    ("block model", by_model),
                    ("hybrid", both),
                    ("Jaccard", jaccard),
                ):
                    hits[method].append(len(set(top[: args.k]) & held) / args.k)
            baseline = float(np.mean(hits["Jaccard"]))
            for method, values in hits.items():
                precision = float(np.mean(values))
                print(
                    f"{n_seeds:>3} seeds  {method:<12} precision@{args.k} {precision:.3f}  "
                    f"{precision / baseline:.2f}x Jaccard"
                )
            print(f"    block model: {1000 * took / len(queries):.0f} ms per query")
    print(load_average())


if __name__ == "__main__":
    main()
