"""CPU per customer 360 request, in process: the ASGI app, its parts, and the service alone.

Where :mod:`benchmarks.api_latency` measures latency over loopback HTTP under concurrent
clients (and so depends on how loaded the machine is), this drives the FastAPI app's ASGI
interface directly and reports the CPU time of this process per request
(``time.process_time``: every thread, so the thread pool's work is in it), the store's Java
process, and the time spent in Python's garbage collections. Measured in the same run on the
same customers, one after the other:

- ``app``: the whole request, as uvicorn would hand it to the app;
- ``app, answer from memory``: the same with the service's answer taken from memory
  (computed beforehand), so what is left is the app's own work plus the hand-over of the
  service call to the thread pool;
- ``app, answer from memory, no thread hop``: the same, the service called inline: the app
  layer alone (routing, dependencies, key check, rate limits, metrics, audit, response
  validation and JSON);
- ``service``: the peer, the service function called directly (store query and shaping).

Run (on an existing analysed data directory, e.g. one made by ``api_latency.py``)::

    python benchmarks/api_profile.py --data-dir /tmp/lat3-100k --requests 500
    python benchmarks/api_profile.py --data-dir /tmp/lat3-100k --concurrency 8 --gc-young 700
    python benchmarks/api_profile.py --data-dir /tmp/lat3-100k --profile app  # cProfile

``--profile app`` profiles the event loop's thread (the endpoint hands the service call to
the thread pool, which cProfile does not see); ``--profile service`` the service call alone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import json
import os
import pstats
import random
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psutil
from pydantic import SecretStr

from quanzi.api.app import create_app
from quanzi.api.routers import customers as customers_router
from quanzi.api.services.access import Principal
from quanzi.api.services.customers import customer_360
from quanzi.graph import queries as q
from quanzi.graph.connect import open_store
from quanzi.settings import Settings

KEY = "bench-admin-key-not-secret"
ADMIN = Principal("bench", "admin", "benchmark")


def _store_cpu(data_dir: Path) -> Callable[[], float]:
    """CPU seconds used so far by the bundled store's Java process serving ``data_dir``."""
    found = [
        p
        for p in psutil.process_iter(["cmdline"])
        if "java" in " ".join(p.info["cmdline"] or [])
        and str(data_dir) in " ".join(p.info["cmdline"] or [])
    ]
    if not found:
        return lambda: 0.0
    process = found[0]

    def read() -> float:
        with contextlib.suppress(psutil.Error):
            t = process.cpu_times()
            return float(t.user + t.system)
        return 0.0

    return read


async def _asgi_get(app: Any, path: str) -> tuple[int, bytes]:
    """One GET through the app's ASGI interface, as uvicorn would call it."""
    status = 0
    body = bytearray()
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    path_only, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path_only,
        "raw_path": path_only.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"x-api-key", KEY.encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    await app(scope, receive, send)
    return status, bytes(body)


class _GcTimer:
    """Wall time spent in Python's garbage collections (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.collections = 0
        self.seconds = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.collections += 1
            self.seconds += time.perf_counter() - self._started


@contextlib.contextmanager
def _answered_from(answers: dict[str, Any], *, thread_hop: bool) -> Iterator[None]:
    """Make the 360 endpoint answer from ``answers`` instead of the store: what is left is
    the app's own work (with ``thread_hop``, plus the hand-over to the thread pool)."""

    async def inline(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return function(*args, **kwargs)

    def answer(store: Any, principal: Any, customer_id: str, **_: Any) -> Any:
        return answers[customer_id]

    saved = customers_router.service, customers_router.run_in_threadpool
    customers_router.service = SimpleNamespace(customer_360=answer)  # type: ignore[assignment]
    if not thread_hop:
        customers_router.run_in_threadpool = inline  # type: ignore[assignment]
    try:
        yield
    finally:
        customers_router.service, customers_router.run_in_threadpool = saved


#: What each part runs: the whole request; the app answering from memory with and without
#: the thread pool hand-over; the service function alone.
PARTS = ("app", "app, answer from memory", "app, answer from memory, no thread hop", "service")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--concurrency", type=int, default=1, help="requests in flight at once (asyncio tasks)"
    )
    parser.add_argument(
        "--gc-young",
        type=int,
        default=None,
        help="first-generation GC threshold to measure under (a served app uses 50000; "
        "Python's default is 700); default: leave it as the interpreter has it",
    )
    parser.add_argument("--profile", choices=["app", "service"], default=None)
    parser.add_argument("--top", type=int, default=35, help="functions shown by --profile")
    args = parser.parse_args()
    data_dir = args.data_dir.resolve()
    settings = Settings(
        store="bundled",
        data_dir=data_dir,
        api_keys={SecretStr(KEY): "admin"},
        api_rate_limits={"admin": "unlimited"},
    )
    store = open_store(settings)
    store_cpu = _store_cpu(data_dir)
    ids = store.read_collected(q.api_customer_ids(set()), "sampling", limit=200_000)
    rng = random.Random(args.seed)
    sample = [rng.choice(ids) for _ in range(args.requests)]
    app = create_app(settings, store=store)
    if args.gc_young is not None:
        gc.set_threshold(args.gc_young, *gc.get_threshold()[1:])
    timer = _GcTimer()
    gc.callbacks.append(timer)

    async def one(name: str, customer: str) -> None:
        if name == "service":
            customer_360(store, ADMIN, customer)
        else:
            status, _ = await _asgi_get(app, f"/customers/{customer}/360")
            assert status == 200, status

    async def part(name: str, profiler: cProfile.Profile | None) -> dict[str, Any]:
        gate = asyncio.Semaphore(args.concurrency)
        walls: list[float] = []

        async def timed(customer: str) -> None:
            async with gate:
                started = time.perf_counter()
                await one(name, customer)
                walls.append((time.perf_counter() - started) * 1000)

        cpu, java = time.process_time(), store_cpu()
        timer.collections, timer.seconds = 0, 0.0
        if profiler:
            profiler.enable()
        if name == "service" or args.concurrency == 1:
            for customer in sample:
                await timed(customer)
        else:
            await asyncio.gather(*(timed(c) for c in sample))
        if profiler:
            profiler.disable()
        n = len(sample)
        return {
            "cpu_ms": round((time.process_time() - cpu) * 1000 / n, 3),
            "store_cpu_ms": round((store_cpu() - java) * 1000 / n, 3),
            "gc_ms": round(timer.seconds * 1000 / n, 3),
            "gc_collections": timer.collections,
            "wall_p50_ms": round(statistics.median(walls), 2),
        }

    async def run() -> dict[str, Any]:
        async with app.router.lifespan_context(app):
            for customer in sample[:20]:  # warm up: caches of the store, app and driver
                await one("app", customer)
                await one("service", customer)
            answers = {c: customer_360(store, ADMIN, c) for c in dict.fromkeys(sample)}
            out: dict[str, Any] = {}
            for name in PARTS:
                profiler = cProfile.Profile() if args.profile == name else None
                if "memory" in name:
                    with _answered_from(answers, thread_hop="no thread hop" not in name):
                        out[name] = await part(name, profiler)
                else:
                    out[name] = await part(name, profiler)
                if profiler:
                    pstats.Stats(profiler).sort_stats("tottime").print_stats(args.top)
                    pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.top)
            return out

    try:
        out = asyncio.run(run())
    finally:
        store.close()
    print(json.dumps(out))
    print(
        f"customer 360, {args.requests} requests, {args.concurrency} at a time, young GC "
        f"threshold {gc.get_threshold()[0]}, load {os.getloadavg()[0]:.1f}; CPU per request:"
    )
    full, service = out["app"]["cpu_ms"], out["service"]["cpu_ms"]
    for name, cell in out.items():
        print(
            f"  {name:40} {cell['cpu_ms']:6.2f} ms (store {cell['store_cpu_ms']:.2f} ms, GC "
            f"{cell['gc_ms']:.3f} ms in {cell['gc_collections']} collections)"
        )
    alone = out["app, answer from memory, no thread hop"]["cpu_ms"]
    hop = out["app, answer from memory"]["cpu_ms"] - alone
    print(
        f"  -> app layer alone {alone:.2f} ms, thread hop {hop:.2f} ms, service {service:.2f} "
        f"ms, the rest (the service in a worker thread) {full - alone - hop - service:.2f} ms; "
        f"app/service x{full / service:.2f}"
    )


if __name__ == "__main__":
    main()
