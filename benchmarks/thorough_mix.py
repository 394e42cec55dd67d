"""Ordinary lookalike searches while thorough ones run, over HTTP, side by side in one run.

    python benchmarks/thorough_mix.py --data-dir /tmp/lat-100k --seconds 20

A thorough search (``"thorough": true``: the block model over the whole graph) costs 1-2 s of
CPU at 100k customers. Each worker runs at most one at a time, in a slot apart from the
ordinary searches (``api/routers/lookalikes.py``), so ordinary searches do not queue behind
it, but they share the CPU with it. This measures what that costs them: ``--clients``
closed-loop clients send ordinary searches (``k = 50``, 20 seeds from one circle, as in
``benchmarks/api_latency.py``) for ``--seconds``, alone and then beside ``--thorough``
clients that send thorough searches without pause; the two conditions alternate
``--rounds`` times against the same served app, after one cell of thorough searches alone.
Prints each cell's p50 / p99 and the thorough searches' own latency.

The store is the one ``benchmarks/api_latency.py`` builds (``--data-dir``; 100k customers
take about 5 minutes to generate, load and analyse when it is missing).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from api_latency import KEY, _free_port, load, machine, serve, wait_for_graph, workloads

from quanzi.settings import Settings


def closed_loop(
    port: int, bodies: list[dict[str, Any]], stop: threading.Event, out: list[float]
) -> None:
    """Send searches one after another on one kept-alive connection until ``stop``."""
    rng = random.Random(len(out))
    with httpx.Client(
        base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": KEY}, timeout=120
    ) as client:
        while not stop.is_set():
            started = time.perf_counter()
            response = client.post("/lookalikes", json=rng.choice(bodies))
            response.raise_for_status()
            out.append(time.perf_counter() - started)


def cell(
    port: int,
    ordinary: list[dict[str, Any]],
    thorough: list[dict[str, Any]],
    clients: int,
    busy: int,
    seconds: float,
) -> tuple[list[float], list[float]]:
    """Ordinary latencies with ``busy`` thorough clients alongside, and theirs."""
    stop = threading.Event()
    times: list[list[float]] = [[] for _ in range(clients + busy)]
    threads = [
        threading.Thread(
            target=closed_loop,
            args=(port, ordinary if i < clients else thorough, stop, times[i]),
        )
        for i in range(clients + busy)
    ]
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return [x for t in times[:clients] for x in t], [x for t in times[clients:] for x in t]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--thorough", type=int, default=1, help="thorough clients beside")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    settings = Settings(
        store="bundled", data_dir=args.data_dir.resolve(), api_keys={SecretStr(KEY): "admin"}
    )
    print(f"machine: {machine()}")
    store = load(settings, args.customers, 1)
    make = workloads(store, random.Random(1))["lookalike k=50"]
    ordinary = [b for _, _, b in (make() for _ in range(200)) if b is not None]
    thorough = [{**b, "thorough": True} for b in ordinary[:20]]
    port = _free_port()
    server = serve(settings, port, args.workers)
    try:
        wait_for_graph(port, args.workers)
        # Each worker builds its partitions at its first thorough search (about 1 s at
        # 100k): fresh connections until every worker has answered one.
        for body in thorough[: 3 * args.workers]:
            httpx.post(
                f"http://127.0.0.1:{port}/lookalikes",
                json=body,
                headers={"X-API-Key": KEY, "Connection": "close"},
                timeout=120,
            ).raise_for_status()
        _, alone = cell(port, ordinary, thorough, 0, args.thorough, args.seconds)
        print(
            f"{args.thorough} thorough alone: {len(alone)} searches, p50 "
            f"{percentile(alone, 0.5):.0f} ms, p99 {percentile(alone, 0.99):.0f} ms"
        )
        print(
            f"{'condition':<34} {'searches':>8} {'p50 ms':>8} {'p99 ms':>8}  thorough p50 / p99 ms"
        )
        for _ in range(args.rounds):
            for busy in (0, args.thorough):
                mine, theirs = cell(port, ordinary, thorough, args.clients, busy, args.seconds)
                label = f"{args.clients} ordinary" + (f" + {busy} thorough" if busy else " alone")
                extra = (
                    f"{percentile(theirs, 0.5):8.0f} / {percentile(theirs, 0.99):.0f} "
                    f"({len(theirs)})"
                    if theirs
                    else ""
                )
                print(
                    f"{label:<34} {len(mine):>8} {percentile(mine, 0.5):8.1f} "
                    f"{percentile(mine, 0.99):8.1f}  {extra}",
                    flush=True,
                )
    finally:
        server.terminate()
        server.wait(30)
        store.close()


if __name__ == "__main__":
    main()
