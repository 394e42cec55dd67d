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

Each operation first runs ``--warmup`` seconds (unreported) at the highest concurrency, over
HTTP and in process, so that no cell measures cold worker processes.

Operations: customer 360, search (a mix of filters and sorts), lookalike (k=50, 20 seeds from
one circle) and top influencers (overall and per circle). Targets from the API issue:
lookalike p99 < 200 ms and customer 360 p99 < 50 ms at 8 clients.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
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
    #: Over HTTP: the service's own time (``Server-Timing``), without the client, the
    #: transport and the wait for the event loop.
    server_p50_ms: float | None = None
    server_p99_ms: float | None = None
    #: CPU time per request of the measuring side (the service's processes over HTTP, this
    #: process direct) and of the store's Java process: unlike latency, little moved by
    #: other work on a shared machine.
    cpu_ms: float | None = None
    store_cpu_ms: float | None = None
    #: Over HTTP: CPU time per request of this process, the clients (httpx).
    client_cpu_ms: float | None = None
    #: The lowest and highest p50 of one client: each client keeps one connection, which
    #: one worker process serves, so an uneven split of the connections between the
    #: workers shows as two groups of clients (session 13: p99 103-130 ms with 8 clients
    #: split 4/4 over two workers, 135-158 ms split 6/2).
    client_p50_range: tuple[float, float] | None = None


def machine() -> str:
    """The CPU model and count, printed with the results: sessions get different machines
    (and one machine's speed moves: session 11 measured 15.8 and 21.0 ms of service CPU per
    lookalike search in two cells of one run), so compare figures of one machine only."""
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{model}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def load(settings: Settings, customers: int, seed: int) -> GraphStore:
    """Open the store; generate, ingest and analyse the data set unless it is there (and
    analyse a loaded one that has no circles yet)."""
    from quanzi.api.services.analysis import run_analysis
    from quanzi.ingest import ingest_files
    from quanzi.ingest.synthetic import GeneratorConfig, generate

    store = open_store(settings)
    counts = store.counts()
    have = counts.get("Customer", 0)
    if have >= customers * 0.8:
        print(f"reusing {have:,} customers in {settings.data_dir}")
        if not counts.get("Circle"):
            # An earlier load stopped before its analysis finished (e.g. out of memory).
            started = time.perf_counter()
            run_analysis(store, settings)
            print(f"analysed in {time.perf_counter() - started:.0f}s")
        return store

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
    """Wait up to 5 minutes for ``/health`` on ``port`` to answer 200; stop on an early exit.

    ``/health`` counts every node and relation on its first call: seconds at 100k customers.
    """
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=60).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if server.poll() is not None:
            raise SystemExit("the service exited before it answered")
        time.sleep(0.5)
    server.terminate()
    raise SystemExit("the service did not start")


def wait_for_graph(port: int, workers: int) -> None:
    """Wait until every worker has read its lookalike graph (``/metrics`` reports its age).

    A served app reads the graph in the background as it starts: seconds of CPU at 100k
    customers, which would otherwise be measured as the first operation's latency.
    """
    deadline = time.monotonic() + 300
    in_a_row = 0
    while time.monotonic() < deadline and in_a_row < 4 * workers:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=60).text
        ready = any(line.startswith("quanzi_graph_cache_age_seconds") for line in text.splitlines())
        in_a_row = in_a_row + 1 if ready else 0
        time.sleep(0.2)
    if in_a_row < 4 * workers:
        print("the service's lookalike graph was not read within 5 minutes; measuring anyway")


def workloads(store: GraphStore, rng: random.Random) -> dict[str, Callable[[], Request]]:
    """Request generators per operation, drawing on ids sampled from the store."""
    ids = store.read_collected(q.api_customer_ids(set()), "sampling", limit=200_000)
    sample = rng.sample(ids, min(5000, len(ids)))
    circles = [
        r["id"]
        for r in store.read(
            "MATCH (k:Circle) WHERE k.level = 0 AND k.size >= 20 RETURN k.id AS id", "circles"
        )
    ]
    seeds_of: dict[str, list[str]] = {}
    for circle in circles[:50]:
        seeds_of[circle] = store.read_collected(
            q.api_customer_ids({"circle"}), "circle members", circle=circle, limit=20
        )
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
    call: Callable[[Request], tuple[bool, float | None]],
    label: str,
    meters: Sequence[CpuMeter | None] = (),
) -> Cell:
    """Run ``clients`` threads issuing requests for ``seconds``; latencies in ms.

    ``call`` answers whether the request succeeded and the service's own time, if known.
    """
    latencies: list[float] = []
    server: list[float] = []
    client_p50: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def worker() -> None:
        nonlocal errors
        mine: list[float] = []
        mine_server: list[float] = []
        bad = 0
        while time.perf_counter() < stop:
            request = make()
            started = time.perf_counter()
            ok, server_ms = call(request)
            mine.append((time.perf_counter() - started) * 1000)
            if server_ms is not None:
                mine_server.append(server_ms)
            bad += not ok
        with lock:
            latencies.extend(mine)
            server.extend(mine_server)
            errors += bad
            if mine:
                client_p50.append(statistics.median(mine))

    cpu_before = [m.read() if m else 0.0 for m in meters]
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(worker) for _ in range(clients)]:
            future.result()
    elapsed = time.perf_counter() - started
    cpu = [
        round((m.read() - before) * 1000 / max(1, len(latencies)), 2) if m else None
        for m, before in zip(meters, cpu_before, strict=True)
    ]
    cpu += [None] * (3 - len(cpu))
    return Cell(
        name,
        label,
        clients,
        len(latencies),
        errors,
        _percentile(latencies, 0.5) or 0.0,
        _percentile(latencies, 0.99) or 0.0,
        round(len(latencies) / elapsed, 1),
        _percentile(server, 0.5),
        _percentile(server, 0.99),
        *cpu,
        (round(min(client_p50), 1), round(max(client_p50), 1)) if client_p50 else None,
    )


class CpuMeter:
    """CPU seconds used by some processes (with ``children``, theirs too) so far."""

    def __init__(self, pids: list[int], *, children: bool = True) -> None:
        self.processes = [psutil.Process(pid) for pid in pids]
        self.children = children

    def read(self) -> float:
        total = 0.0
        for process in self.processes:
            family = process.children(recursive=True) if self.children else []
            for p in [process, *family]:
                with contextlib.suppress(psutil.Error):
                    times = p.cpu_times()
                    total += times.user + times.system
        return total


def store_pid(data_dir: Path) -> int | None:
    """The bundled store's Java process serving ``data_dir``, if one is found."""
    for p in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(p.info["cmdline"] or [])
        if "java" in cmdline and str(data_dir) in cmdline:
            return int(p.pid)
    return None


def _percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    if fraction == 0.5:
        return round(statistics.median(ordered), 2)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * fraction))], 2)


def _measure_server(
    ops: dict[str, Callable[[], Request]],
    clients: list[int],
    seconds: float,
    port: int,
    local: threading.local,
    http_meters: tuple[CpuMeter | None, ...],
    in_process: Callable[[Request], tuple[bool, float | None]],
    direct_meters: tuple[CpuMeter | None, ...],
    peers: dict[tuple[str, int], Cell],
    workers: int,
    warmup: float,
) -> list[Cell]:
    """Every operation at every concurrency against one running service, each beside its
    direct peer (measured once per run, for the first service, and reused after)."""
    cells: list[Cell] = []

    def over_http(request: Request) -> tuple[bool, float | None]:
        # The standard library's client, one kept-alive connection per client thread:
        # httpx cost ~3.6 ms of CPU per request here, more than the service, on the same
        # two cores, and that showed as service latency.
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        method, path, body = request
        headers = {"X-API-Key": KEY}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            client.request(method, path, body=data, headers=headers)
            response = client.getresponse()
        except (http.client.RemoteDisconnected, ConnectionError):
            # The service closed a connection idle past its keep-alive: open a new one.
            client.close()
            client.request(method, path, body=data, headers=headers)
            response = client.getresponse()
        response.read()
        timing = response.getheader("server-timing") or ""
        server_ms = float(timing.split("dur=")[1]) if "dur=" in timing else None
        return response.status == 200, server_ms

    for name, make in ops.items():
        # Warm up, unreported: every worker process (its first requests of an operation
        # pay for lazily built code paths and first-touched memory; session 11 measured
        # the first 8-client lookalike cell of a just-started service at p99 212-251 ms
        # against 127-167 ms in the cells after it), the store's compiled queries and
        # caches, and this process's direct path.
        if warmup > 0:
            measure(name, make, max(clients), warmup, over_http, "warm-up", ())
            measure(name, make, max(clients), warmup, in_process, "warm-up", ())
        for n in clients:
            label = f"HTTP API, {workers} worker{'s' if workers > 1 else ''}"
            http_cell = measure(name, make, n, seconds, over_http, label, http_meters)
            peer = peers.get((name, n))
            if peer is None:
                peer = peers[(name, n)] = measure(
                    name, make, n, seconds, in_process, "direct (no HTTP)", direct_meters
                )
                cells.append(peer)
            cells.append(http_cell)
            ratio = http_cell.p50_ms / peer.p50_ms if peer.p50_ms else float("nan")
            print(
                f"{name:16} {n:>2} clients, {workers} worker(s) | HTTP p50 "
                f"{http_cell.p50_ms:7.1f} ms p99 {http_cell.p99_ms:7.1f} ms "
                f"{http_cell.throughput:7.1f}/s (errors {http_cell.errors}; in service p50 "
                f"{http_cell.server_p50_ms} p99 {http_cell.server_p99_ms}; CPU/request service "
                f"{http_cell.cpu_ms} store {http_cell.store_cpu_ms} clients "
                f"{http_cell.client_cpu_ms} ms; one client's p50 "
                f"{'-'.join(map(str, http_cell.client_p50_range or ()))} ms) "
                f"| direct p50 {peer.p50_ms:7.1f} ms "
                f"p99 {peer.p99_ms:7.1f} ms {peer.throughput:7.1f}/s (CPU/request "
                f"{peer.cpu_ms} store {peer.store_cpu_ms} ms) | HTTP/direct p50 x{ratio:.2f} "
                f"| load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--seconds", type=float, default=10.0, help="per measurement")
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument(
        "--warmup",
        type=float,
        default=5.0,
        help="seconds of each operation, at the highest concurrency, run before it is "
        "measured and not reported (over HTTP and direct)",
    )
    parser.add_argument(
        "--workers",
        default=None,
        help="uvicorn worker processes; several (e.g. 1,2) are measured one after the other "
        "in the same run, each against the same direct peer (default: as many as `quanzi "
        "serve` starts, one per CPU core up to 4)",
    )
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    parser.add_argument(
        "--operations",
        default=None,
        help="comma-separated subset of: 360, search, lookalike, influencers (default all)",
    )
    args = parser.parse_args()
    data_dir = args.data_dir or default_data_dir() / "bench" / f"api-{args.customers}"
    settings = Settings(
        store="bundled", data_dir=data_dir.resolve(), api_keys={SecretStr(KEY): "admin"}
    )
    print(f"machine: {machine()}")
    store = load(settings, args.customers, args.seed)
    rng = random.Random(args.seed)
    ops = workloads(store, rng)
    if args.operations:
        wanted = [w.strip() for w in args.operations.split(",")]
        ops = {name: make for name, make in ops.items() if any(w in name for w in wanted)}
    clients = [int(c) for c in args.clients.split(",")]
    java = store_pid(settings.data_dir)
    store_meter = CpuMeter([java]) if java else None
    # This process only: the service (and maybe the store) are its children.
    own = CpuMeter([os.getpid()], children=False)
    direct_meters = (own, store_meter)
    cache = GraphCache()
    cells: list[Cell] = []
    peers: dict[tuple[str, int], Cell] = {}
    local = threading.local()

    def in_process(request: Request) -> tuple[bool, float | None]:
        direct(store, settings, cache, *request)
        return True, None

    try:
        counts = args.workers.split(",") if args.workers else [settings.served_workers]
        for workers in [int(w) for w in counts]:
            port = _free_port()
            local.__dict__.clear()  # connections of the previous server
            server = serve(settings, port, workers)
            try:
                wait_for_graph(port, workers)
                cells += _measure_server(
                    ops,
                    clients,
                    args.seconds,
                    port,
                    local,
                    (CpuMeter([server.pid]), store_meter, own),
                    in_process,
                    direct_meters,
                    peers,
                    workers,
                    args.warmup,
                )
            finally:
                server.terminate()
                server.wait(30)
    finally:
        store.close()
    if args.out:
        args.out.write_text(json.dumps([asdict(c) for c in cells], indent=1))


if __name__ == "__main__":
    main()
