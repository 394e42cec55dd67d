"""HTTP API latency and throughput under concurrent clients, against direct store access.

Loads the generator's data set (ingest + analysis) into a bundled store once, serves the API
with uvicorn on loopback, and measures for each operation and each number of concurrent
clients the p50 / p99 latency and the throughput. The peer, measured in the same run on the
same data, is the same work without HTTP: the service function called in-process (Bolt
queries through the driver, and the lookalike algorithm on the cached graph), so the ratio
is what the HTTP layer (FastAPI, JSON, auth, masking, audit) costs.

Run::

    python benchmarks/api_latency.py --customers 100000   # loads once into
    #   $XDG_DATA_HOME/quanzi/bench/api-100000, then reuses it
    python benchmarks/api_latency.py --customers 2000 --seconds 3  # a quick look

Operations: customer 360, search (a mix of filters and sorts), lookalike (k=50, 20 seeds from
one circle) and top influencers (overall and per circle). Targets from the API issue:
lookalike p99 < 200 ms and customer 360 p99 < 50 ms at 8 clients.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from quanzi.api.schemas import CustomerFilter, LookalikeRequest
from quanzi.api.services.access import Principal
from quanzi.api.services.customers import customer_360, search_customers
from quanzi.api.services.graph_cache import GraphCache
from quanzi.api.services.insights import top_influencers
from quanzi.api.services.lookalikes import find_lookalikes
from quanzi.graph import queries as q
from quanzi.graph.connect import open_store
from quanzi.graph.store import GraphStore
from quanzi.settings import Settings, default_data_dir

KEY = "bench-admin-key-not-secret"
ADMIN = Principal("bench", "admin", "benchmark")

Request = tuple[str, str, dict[str, Any] | None]


@dataclass
class Cell:
    """One measurement: an operation at one concurrency, over HTTP or direct."""

    operation: str
    path: str
    clients: int
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    throughput: float


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def load(settings: Settings, customers: int, seed: int) -> GraphStore:
    """Open the store; generate, ingest and analyse the data set unless it is there."""
    store = open_store(settings)
    have = store.counts().get("Customer", 0)
    if have >= customers * 0.8:
        print(f"reusing {have:,} customers in {settings.data_dir}")
        return store
    from quanzi.api.services.analysis import run_analysis
    from quanzi.ingest import ingest_files
    from quanzi.ingest.synthetic import GeneratorConfig, generate

    store.delete_everything()
    folder = settings.data_dir / "input"
    started = time.perf_counter()
    generate(folder, GeneratorConfig(customers=customers, seed=seed))
    print(f"generated {customers:,} people in {time.perf_counter() - started:.0f}s")
    started = time.perf_counter()
    report = ingest_files(store, [folder], settings)
    print(f"ingested in {time.perf_counter() - started:.0f}s: {dict(report.counts)}")
    started = time.perf_counter()
    run_analysis(store, settings)
    print(f"analysed in {time.perf_counter() - started:.0f}s")
    return store


def serve(settings: Settings, port: int, workers: int) -> subprocess.Popen[bytes]:
    """Start the API with uvicorn on loopback and wait until it answers."""
    env = dict(
        os.environ,
        QUANZI_STORE="bundled",
        QUANZI_DATA_DIR=str(settings.data_dir),
        QUANZI_API_KEYS=json.dumps({KEY: "admin"}),
        # Latency under load is measured here, not the rate limits: lift the admin's.
        QUANZI_API_RATE_LIMITS=json.dumps({"admin": "unlimited"}),
    )
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "quanzi.api.app:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
        "--workers",
        str(workers),
    ]
    return wait_until_up(subprocess.Popen(command, env=env), port)


def wait_until_up(server: subprocess.Popen[bytes], port: int) -> subprocess.Popen[bytes]:
    """Wait up to 2 minutes for ``/health`` on ``port`` to answer 200; stop on an early exit."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if server.poll() is not None:
            raise SystemExit("the service exited before it answered")
        time.sleep(0.5)
    server.terminate()
    raise SystemExit("the service did not start")


def workloads(store: GraphStore, rng: random.Random) -> dict[str, Callable[[], Request]]:
    """Request generators per operation, drawing on ids sampled from the store."""
    ids = [r["id"] for r in store.read(q.api_customer_ids(set()), "sampling", limit=200_000)]
    sample = rng.sample(ids, min(5000, len(ids)))
    circles = [
        r["id"]
        for r in store.read(
            "MATCH (k:Circle) WHERE k.level = 0 AND k.size >= 20 RETURN k.id AS id", "circles"
        )
    ]
    seeds_of: dict[str, list[str]] = {}
    for circle in circles[:50]:
        members = store.read(
            q.api_customer_ids({"circle"}), "circle members", circle=circle, limit=20
        )
        seeds_of[circle] = [m["id"] for m in members]
    searches = [
        "/customers?sort=-influence&limit=50",
        "/customers?channel=wechat&churn_risk_min=0.5&sort=-churn_risk&limit=50",
        "/customers?name=zhang&limit=20",
        "/customers?tag=VIP&sort=-total_spent&limit=50",
        "/customers?funnel_stage=intention&sort=last_active_at&limit=50",
    ]
    if circles:
        searches.append(f"/customers?circle={circles[0]}&sort=-influence&limit=50")

    def one_360() -> Request:
        return "GET", f"/customers/{rng.choice(sample)}/360", None

    def search() -> Request:
        return "GET", rng.choice(searches), None

    def lookalike() -> Request:
        circle = rng.choice(list(seeds_of)) if seeds_of else None
        seeds = seeds_of[circle] if circle else rng.sample(sample, 20)
        return "POST", "/lookalikes", {"seeds": seeds, "k": 50}

    def influencers() -> Request:
        if circles and rng.random() < 0.5:
            return "GET", f"/influencers?k=20&circle={rng.choice(circles)}", None
        return "GET", "/influencers?k=20", None

    return {
        "customer 360": one_360,
        "search": search,
        "lookalike k=50": lookalike,
        "top influencers": influencers,
    }


def direct(
    store: GraphStore,
    settings: Settings,
    cache: GraphCache,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    """The same work as one request, through the service layer without HTTP."""
    url = httpx.URL(path)
    params = dict(url.params)
    if url.path.endswith("/360"):
        customer_360(store, ADMIN, url.path.split("/")[2])
    elif url.path == "/customers":
        sort = params.pop("sort", "name")
        limit = int(params.pop("limit", "50"))
        name = params.pop("name", None)
        filters = CustomerFilter.model_validate(dict(params, name=name))
        search_customers(store, settings, ADMIN, filters, sort=sort, limit=limit)
    elif url.path == "/lookalikes":
        find_lookalikes(store, settings, ADMIN, cache, LookalikeRequest(**(body or {})))
    elif url.path == "/influencers":
        scope = {"circle": params["circle"]} if "circle" in params else {}
        top_influencers(store, settings, ADMIN, scope=scope, k=int(params.get("k", 20)))
    else:  # pragma: no cover
        raise ValueError(path)


def measure(
    name: str,
    make: Callable[[], Request],
    clients: int,
    seconds: float,
    call: Callable[[Request], bool],
    label: str,
) -> Cell:
    """Run ``clients`` threads issuing requests for ``seconds``; latencies in ms."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def worker() -> None:
        nonlocal errors
        mine: list[float] = []
        bad = 0
        while time.perf_counter() < stop:
            request = make()
            started = time.perf_counter()
            ok = call(request)
            mine.append((time.perf_counter() - started) * 1000)
            bad += not ok
        with lock:
            latencies.extend(mine)
            errors += bad

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(worker) for _ in range(clients)]:
            future.result()
    elapsed = time.perf_counter() - started
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else 0.0
    return Cell(
        name,
        label,
        clients,
        len(latencies),
        errors,
        round(statistics.median(latencies), 2) if latencies else 0.0,
        round(p99, 2),
        round(len(latencies) / elapsed, 1),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--seconds", type=float, default=10.0, help="per measurement")
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    args = parser.parse_args()
    data_dir = args.data_dir or default_data_dir() / "bench" / f"api-{args.customers}"
    settings = Settings(
        store="bundled", data_dir=data_dir.resolve(), api_keys={SecretStr(KEY): "admin"}
    )
    store = load(settings, args.customers, args.seed)
    rng = random.Random(args.seed)
    ops = workloads(store, rng)
    clients = [int(c) for c in args.clients.split(",")]
    port = _free_port()
    server = serve(settings, port, args.workers)
    cache = GraphCache()
    cells: list[Cell] = []
    try:
        local = threading.local()

        def over_http(request: Request) -> bool:
            client = getattr(local, "client", None)
            if client is None:
                client = local.client = httpx.Client(
                    base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": KEY}, timeout=60
                )
            method, path, body = request
            return client.request(method, path, json=body).status_code == 200

        def in_process(request: Request) -> bool:
            direct(store, settings, cache, *request)
            return True

        for name, make in ops.items():
            # Warm up: the server's lookalike graph and embeddings, the store's caches.
            for _ in range(3):
                over_http(make())
                in_process(make())
            for n in clients:
                http_cell = measure(name, make, n, args.seconds, over_http, "HTTP API")
                peer = measure(name, make, n, args.seconds, in_process, "direct (no HTTP)")
                cells += [http_cell, peer]
                ratio = http_cell.p50_ms / peer.p50_ms if peer.p50_ms else float("nan")
                print(
                    f"{name:16} {n:>2} clients | HTTP p50 {http_cell.p50_ms:7.1f} ms "
                    f"p99 {http_cell.p99_ms:7.1f} ms {http_cell.throughput:7.1f}/s "
                    f"(errors {http_cell.errors}) | direct p50 {peer.p50_ms:7.1f} ms "
                    f"p99 {peer.p99_ms:7.1f} ms {peer.throughput:7.1f}/s | "
                    f"HTTP/direct p50 x{ratio:.2f}",
                    flush=True,
                )
    finally:
        server.terminate()
        server.wait(30)
        store.close()
    if args.out:
        args.out.write_text(json.dumps([asdict(c) for c in cells], indent=1))


if __name__ == "__main__":
    main()
