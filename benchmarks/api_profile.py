"""CPU per customer 360 request, in process: the ASGI app against the service call alone.

Where :mod:`benchmarks.api_latency` measures latency over loopback HTTP under concurrent
clients (and so depends on how loaded the machine is), this drives the FastAPI app's ASGI
interface directly, one request at a time, and reports the CPU time of this process per
request (``time.process_time``: every thread, so the thread pool's work is in it) and of the
store's Java process. The peer, in the same run on the same customers, is the service
function called directly: the difference is what the app (routing, dependencies, key check,
rate limits, metrics, audit, response validation and serialisation) adds to a request.

Run (on an existing analysed data directory, e.g. one made by ``api_latency.py``)::

    python benchmarks/api_profile.py --data-dir /tmp/lat3-100k --requests 500
    python benchmarks/api_profile.py --data-dir /tmp/lat3-100k --profile app  # cProfile

``--profile app`` profiles the event loop's thread (the endpoint hands the service call to
the thread pool, which cProfile does not see); ``--profile service`` profiles the service
call alone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import os
import pstats
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
from pydantic import SecretStr

from quanzi.api.app import create_app
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
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
    ids = [r["id"] for r in store.read(q.api_customer_ids(set()), "sampling", limit=200_000)]
    rng = random.Random(args.seed)
    sample = [rng.choice(ids) for _ in range(args.requests)]
    app = create_app(settings, store=store)

    async def run() -> dict[str, Any]:
        async with app.router.lifespan_context(app):
            for customer in sample[:20]:  # warm up: caches of the store, app and driver
                await _asgi_get(app, f"/customers/{customer}/360")
                customer_360(store, ADMIN, customer)
            out: dict[str, Any] = {}
            for name in ("app", "service"):
                profiler = cProfile.Profile() if args.profile == name else None
                cpu, java = time.process_time(), store_cpu()
                walls: list[float] = []
                for customer in sample:
                    started = time.perf_counter()
                    if profiler:
                        profiler.enable()
                    if name == "app":
                        status, _ = await _asgi_get(app, f"/customers/{customer}/360")
                        assert status == 200, status
                    else:
                        customer_360(store, ADMIN, customer)
                    if profiler:
                        profiler.disable()
                    walls.append((time.perf_counter() - started) * 1000)
                n = len(sample)
                out[name] = {
                    "cpu_ms": round((time.process_time() - cpu) * 1000 / n, 3),
                    "store_cpu_ms": round((store_cpu() - java) * 1000 / n, 3),
                    "wall_p50_ms": round(statistics.median(walls), 2),
                }
                if profiler:
                    pstats.Stats(profiler).sort_stats("tottime").print_stats(args.top)
                    pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.top)
            return out

    try:
        out = asyncio.run(run())
    finally:
        store.close()
    app_cpu, service_cpu = out["app"]["cpu_ms"], out["service"]["cpu_ms"]
    print(json.dumps(out))
    print(
        f"customer 360, {args.requests} requests one at a time | app (ASGI, in process) "
        f"{app_cpu:.2f} ms CPU/request, store {out['app']['store_cpu_ms']:.2f} ms | service "
        f"call {service_cpu:.2f} ms, store {out['service']['store_cpu_ms']:.2f} ms | app/service "
        f"x{app_cpu / service_cpu:.2f}, app layer {app_cpu - service_cpu:.2f} ms "
        f"| load {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
