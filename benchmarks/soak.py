"""Soak: mixed reads and writes at a fixed rate against a real ``quanzi serve``, for minutes.

Loads the generator's data set into a bundled store once (ingest + analysis), starts the
service as an operator would (``quanzi serve``, with viewer, sales and admin keys and the
default rate and size limits), and sends requests from loopback at a fixed rate for
``--minutes``: customer 360, searches, circles, influencers, churn, tags, lookalikes,
``/health`` (reads); tagging and untagging, circle notes, invite codes and small contact
ingests through the API (writes). Requests are scheduled on a fixed timetable; latency is
measured from the scheduled time, so a service that falls behind shows it.

Reported: throughput, p50 / p99 latency overall and per operation, errors (5xx, transport
errors, timeouts and any answer other than the one expected -- 429 included; target 0),
and the resident memory (RSS) of the service process and of the store's Java process,
sampled every 10 s. The peer of each figure is the same figure in the run's first minute:
the ratios last minute / first minute show whether latency or memory drift under load.

Run::

    python benchmarks/soak.py                     # 10 minutes at 20 requests/s
    python benchmarks/soak.py --minutes 1         # the 1-minute smoke run
    python benchmarks/soak.py --minutes 2 --rate 10 --customers 2000 --out soak.json

The data set is kept in ``$XDG_DATA_HOME/quanzi/bench/soak-<customers>`` and reused; the
service is stopped at the end, and so is the store unless ``--keep-store``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

# The same data set, port choice and start-up wait as benchmarks/api_latency.py.
from api_latency import _free_port, load, wait_until_up

from quanzi.graph.connect import bundled_store
from quanzi.graph.store import GraphStore
from quanzi.settings import Settings, default_data_dir

KEYS = {
    "viewer": "soak-viewer-key-not-secret",
    "sales": "soak-sales-key-not-secret",
    "admin": "soak-admin-key-not-secret",
}


@dataclass
class Call:
    """One request of the mix: who sends what, and which answers are right."""

    operation: str
    role: str | None
    method: str
    path: str
    body: dict[str, Any] | None = None
    expect: tuple[int, ...] = (200,)


@dataclass
class Result:
    operation: str
    scheduled: float
    latency_s: float
    status: int | None
    ok: bool
    error: str | None = None


@dataclass
class Sample:
    at_s: float
    service_rss: int
    store_rss: int


@dataclass
class Run:
    results: list[Result] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def mix(store: GraphStore, rng: random.Random) -> Callable[[int], Call]:
    """The request mix: ~80% reads, ~20% writes, drawn by weight."""
    ids = [
        r["id"]
        for r in store.read(
            "MATCH (c:Customer) WHERE c.merged_into IS NULL RETURN c.id AS id", "soak ids"
        )
    ]
    circles = [
        r["id"]
        for r in store.read(
            "MATCH (k:Circle) WHERE k.level = 0 AND k.size >= 5 RETURN k.id AS id", "soak"
        )
    ]
    employees = [
        r["id"] for r in store.read("MATCH (e:Employee) RETURN e.id AS id", "soak employees")
    ]
    campaigns = [
        r["id"] for r in store.read("MATCH (k:Campaign) RETURN k.id AS id", "soak campaigns")
    ]
    if not ids or not circles:
        raise SystemExit("the data set has no customers or circles: run the analysis first")
    tiers = ["loyal", "general", "potential", "churned"]

    def customer() -> str:
        return rng.choice(ids)

    reads: list[tuple[float, Callable[[int], Call]]] = [
        (20, lambda i: Call("customer 360", "viewer", "GET", f"/customers/{customer()}/360")),
        (
            12,
            lambda i: Call(
                "search",
                "viewer",
                "GET",
                rng.choice(
                    [
                        f"/customers?tier={rng.choice(tiers)}&sort=-churn_risk&limit=20",
                        f"/customers?circle={rng.choice(circles)}&limit=50",
                        "/customers?sort=-influence&limit=20",
                        f"/customers?name=li&limit=20&employee={rng.choice(employees)}",
                    ]
                ),
            ),
        ),
        (8, lambda i: Call("circles", "viewer", "GET", f"/circles/{rng.choice(circles)}")),
        (8, lambda i: Call("influencers", "viewer", "GET", "/influencers?k=20")),
        (6, lambda i: Call("churn at risk", "sales", "GET", "/churn/at-risk?limit=20&mine=true")),
        (4, lambda i: Call("tags", "viewer", "GET", "/tags")),
        (
            4,
            lambda i: Call(
                "lookalike",
                "sales",
                "POST",
                "/lookalikes",
                {"seed_filter": {"circle": rng.choice(circles)}, "k": 20},
            ),
        ),
        (4, lambda i: Call("health", None, "GET", "/health")),
    ]
    writes: list[tuple[float, Callable[[int], Call]]] = [
        (8, lambda i: Call("tag", "sales", "PUT", f"/customers/{customer()}/tags/soak")),
        (4, lambda i: Call("untag", "sales", "DELETE", f"/customers/{customer()}/tags/soak")),
        (
            2,
            lambda i: Call(
                "circle note",
                "sales",
                "PATCH",
                f"/circles/{rng.choice(circles)}",
                {"note": f"soak note {i}"},
            ),
        ),
        (
            2,
            lambda i: Call(
                "ingest contact",
                "admin",
                "POST",
                "/identity/contacts",
                {
                    "records": [
                        {
                            "source": "soak",
                            "source_record_id": f"S-{i}",
                            "full_name": f"Soak Person {i}",
                            "email": f"soak.{i}@example.com",
                        }
                    ]
                },
            ),
        ),
    ]
    if campaigns:
        writes.append(
            (
                2,
                lambda i: Call(
                    "invite code",
                    "sales",
                    "POST",
                    f"/campaigns/{rng.choice(campaigns)}/codes",
                    {"customer_id": customer()},
                ),
            )
        )
    table = reads + writes
    weights = [w for w, _ in table]

    def draw(i: int) -> Call:
        return rng.choices(table, weights)[0][1](i)

    return draw


def busiest_employee(store: GraphStore) -> str:
    """The employee serving the most customers (the sales key acts for them)."""
    rows = store.read(
        "MATCH (:Customer)-[:SERVED_BY]->(e:Employee) RETURN e.id AS id, count(*) AS n "
        "ORDER BY n DESC LIMIT 1",
        "soak employee",
    )
    if not rows:
        raise SystemExit("the data set has no employees")
    return str(rows[0]["id"])


def serve(settings: Settings, port: int, employee: str) -> subprocess.Popen[bytes]:
    """Start ``quanzi serve`` with the three keys and wait until it answers."""
    sales_id = "env-" + hashlib.sha256(KEYS["sales"].encode()).hexdigest()[:8]
    env = dict(
        os.environ,
        QUANZI_STORE="bundled",
        QUANZI_API_KEYS=json.dumps({key: role for role, key in KEYS.items()}),
        QUANZI_API_KEY_EMPLOYEES=json.dumps({sales_id: employee}),
    )
    command = [
        sys.executable,
        "-m",
        "quanzi",
        "serve",
        "--data-dir",
        str(settings.data_dir),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    return wait_until_up(subprocess.Popen(command, env=env), port)


def _rss(pid: int | None) -> int:
    if pid is None:
        return 0
    try:
        proc = psutil.Process(pid)
        return int(proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children()))
    except psutil.Error:
        return 0


def soak(
    port: int,
    draw: Callable[[int], Call],
    *,
    seconds: float,
    rate: float,
    service_pid: int,
    store_pid: int | None,
) -> Run:
    """Send requests on a fixed timetable for ``seconds`` and sample memory every 10 s."""
    run = Run()
    clients = {
        role: httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"X-API-Key": key} if key else {},
            timeout=30,
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=32),
        )
        for role, key in [*KEYS.items(), (None, None)]
    }
    started = time.monotonic()

    def send(call: Call, scheduled: float) -> None:
        status = None
        error = None
        try:
            response = clients[call.role].request(call.method, call.path, json=call.body)
            status = response.status_code
            if status not in call.expect:
                error = f"{status}: {response.text[:200]}"
        except httpx.HTTPError as e:
            error = f"{type(e).__name__}: {e}"
        latency = time.monotonic() - scheduled
        result = Result(call.operation, scheduled - started, latency, status, error is None, error)
        with run.lock:
            run.results.append(result)

    done = threading.Event()

    def sampler() -> None:
        while not done.is_set():
            at = time.monotonic() - started
            run.samples.append(Sample(at, _rss(service_pid), _rss(store_pid)))
            done.wait(10)

    sampling = threading.Thread(target=sampler, daemon=True)
    sampling.start()
    with ThreadPoolExecutor(max_workers=32) as pool:
        i = 0
        while True:
            scheduled = started + i / rate
            if scheduled - started >= seconds:
                break
            delay = scheduled - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(send, draw(i), scheduled)
            i += 1
    done.set()
    sampling.join()
    run.samples.append(Sample(time.monotonic() - started, _rss(service_pid), _rss(store_pid)))
    for client in clients.values():
        client.close()
    return run


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def report(run: Run, seconds: float) -> dict[str, Any]:
    """Print the summary and return it as a dict."""
    results = sorted(run.results, key=lambda r: r.scheduled)
    latencies = [r.latency_s for r in results]
    errors = [r for r in results if not r.ok]
    by_op: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        by_op[r.operation].append(r)
    first = [r.latency_s for r in results if r.scheduled < 60]
    last = [r.latency_s for r in results if r.scheduled >= max(seconds - 60, seconds / 2)]
    mib = 1 / 2**20
    s0, s1 = run.samples[0], run.samples[-1]
    summary: dict[str, Any] = {
        "seconds": round(seconds, 1),
        "requests": len(results),
        "throughput_per_s": round(len(results) / seconds, 2),
        "p50_ms": round(_pct(latencies, 0.50), 1),
        "p99_ms": round(_pct(latencies, 0.99), 1),
        "errors": len(errors),
        "error_examples": sorted({e.error or "" for e in errors})[:5],
        "first_minute": {"p50_ms": _pct(first, 0.5), "p99_ms": _pct(first, 0.99)},
        "last_minute": {"p50_ms": _pct(last, 0.5), "p99_ms": _pct(last, 0.99)},
        "service_rss_mib": [round(s.service_rss * mib, 1) for s in run.samples],
        "store_rss_mib": [round(s.store_rss * mib, 1) for s in run.samples],
        "operations": {
            op: {
                "requests": len(rs),
                "errors": sum(not r.ok for r in rs),
                "p50_ms": round(_pct([r.latency_s for r in rs], 0.5), 1),
                "p99_ms": round(_pct([r.latency_s for r in rs], 0.99), 1),
            }
            for op, rs in sorted(by_op.items())
        },
    }
    print(
        f"\n{len(results):,} requests in {seconds:.0f} s: {summary['throughput_per_s']}/s, "
        f"p50 {summary['p50_ms']} ms, p99 {summary['p99_ms']} ms, errors {len(errors)}"
    )
    print(f"{'operation':<16} {'requests':>8} {'errors':>6} {'p50 ms':>8} {'p99 ms':>8}")
    for op, row in summary["operations"].items():
        print(
            f"{op:<16} {row['requests']:>8} {row['errors']:>6} {row['p50_ms']:>8} "
            f"{row['p99_ms']:>8}"
        )
    f, la = summary["first_minute"], summary["last_minute"]
    print(
        f"latency, last minute / first minute: p50 {la['p50_ms']:.1f} / {f['p50_ms']:.1f} ms "
        f"(x{la['p50_ms'] / f['p50_ms']:.2f}), p99 {la['p99_ms']:.1f} / {f['p99_ms']:.1f} ms "
        f"(x{la['p99_ms'] / f['p99_ms']:.2f})"
    )
    # Memory after the first minute (caches filled, JIT warm) tells growth from warm-up.
    warm = next((s for s in run.samples if s.at_s >= 60), s1)
    for name, start, settled, end in (
        ("service", s0.service_rss, warm.service_rss, s1.service_rss),
        ("store (Java)", s0.store_rss, warm.store_rss, s1.store_rss),
    ):
        ratio = end / start if start else float("nan")
        print(
            f"RSS {name:<13} start {start * mib:7.1f} MiB, at 1 min {settled * mib:7.1f} MiB, "
            f"end {end * mib:7.1f} MiB: growth {(end - start) * mib:+.1f} MiB (x{ratio:.2f}), "
            f"after the first minute {(end - settled) * mib:+.1f} MiB"
        )
    if errors:
        print("errors, e.g.:", *summary["error_examples"], sep="\n  ")
    summary["ratios"] = {
        "p50_last_over_first": la["p50_ms"] / f["p50_ms"],
        "p99_last_over_first": la["p99_ms"] / f["p99_ms"],
        "service_rss_end_over_start": s1.service_rss / s0.service_rss if s0.service_rss else None,
        "store_rss_end_over_start": s1.store_rss / s0.store_rss if s0.store_rss else None,
        "service_rss_end_over_1min": s1.service_rss / warm.service_rss
        if warm.service_rss
        else None,
        "store_rss_end_over_1min": s1.store_rss / warm.store_rss if warm.store_rss else None,
    }
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second")
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    parser.add_argument("--keep-store", action="store_true", help="leave the store running")
    args = parser.parse_args()
    data_dir = args.data_dir or default_data_dir() / "bench" / f"soak-{args.customers}"
    settings = Settings(store="bundled", data_dir=data_dir.resolve())
    store = load(settings, args.customers, args.seed)
    draw = mix(store, random.Random(args.seed))
    employee = busiest_employee(store)
    store.close()
    store_pid = bundled_store(settings).status().pid
    port = _free_port()
    server = serve(settings, port, employee)
    created = httpx.post(
        f"http://127.0.0.1:{port}/tags",
        headers={"X-API-Key": KEYS["sales"]},
        json={"name": "soak", "description": "tagged by benchmarks/soak.py"},
        timeout=60,
    )
    if created.status_code not in (201, 409):
        raise SystemExit(f"could not create the soak tag: {created.text}")
    seconds = args.minutes * 60
    print(
        f"soak: {args.minutes:g} min at {args.rate:g} requests/s on 127.0.0.1:{port} "
        f"(service pid {server.pid}, store pid {store_pid}); CPUs: {os.cpu_count()}, "
        f"load average at start: {os.getloadavg()[0]:.1f}"
    )
    try:
        run = soak(
            port,
            draw,
            seconds=seconds,
            rate=args.rate,
            service_pid=server.pid,
            store_pid=store_pid,
        )
    finally:
        server.terminate()
        server.wait(timeout=60)
        if not args.keep_store:
            bundled_store(settings).stop()
    summary = report(run, seconds)
    summary |= {
        "rate_per_s": args.rate,
        "customers": args.customers,
        "load_average_end": os.getloadavg()[0],
    }
    if args.out:
        args.out.write_text(json.dumps(summary, indent=1, default=str), encoding="utf-8")
    if summary["errors"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
