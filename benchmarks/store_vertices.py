"""Where the bundled store's vertex writes go: the same vertices written several ways.

Each variant starts a fresh bundled ArcadeDB server, creates Quanzi's schema, and writes the
same ``--vertices`` ``Customer`` vertices and then as many ``Identity`` vertices (shaped like
the ingest's: names, cities, channels; record ids and phones). It prints, per label, vertices
per second and the **server's CPU per vertex** (from ``/proc/<pid>/stat``: on a shared machine
it moves much less with the load than wall time), and the ratios against ``endpoint``:

- ``endpoint``: Quanzi's path, ArcadeDB's bulk endpoint, 10,000 vertices per request;
- ``endpoint-2500``: the same, 2,500 vertices per request;
- ``no-indexes``: the same as ``endpoint`` with ``Customer``'s secondary indexes dropped
  first (what the indexes cost per vertex);
- ``no-name-index``: the same with only a ``Customer.name`` index dropped, if the schema has
  one (schema version 5 had; version 6 dropped it, so this equals ``endpoint`` now);
- ``cypher-create``: ``UNWIND $rows CREATE ... SET n += r.props`` through the HTTP command
  endpoint, 5,000 rows per statement (the atomic statement path);
- ``merge``: the naive path of ``store_load.py``, ``UNWIND $rows MERGE ... SET n += r.props``
  through Bolt, 5,000 rows per statement;
- ``sql-import``: ArcadeDB's own importer, ``IMPORT DATABASE ... WITH vertices = 'file://...'``
  (SQL, through the HTTP command endpoint) of a CSV file written first (not timed) into the
  work folder; CSV holds no lists, so ``channels`` is left out of these vertices.

The first label a fresh server writes pays for the JIT's warm-up: compare labels across
variants, not ``Customer`` with ``Identity`` (``--identity-first`` swaps the order).

Run::

    python benchmarks/store_vertices.py --vertices 30000
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from quanzi.graph import queries as q
from quanzi.graph.bulk import ArcadeHttpChannel
from quanzi.graph.bundled import BundledStore
from quanzi.graph.connect import connect_bundled
from quanzi.graph.schema import INDEXES, ensure_schema
from quanzi.graph.store import GraphStore
from quanzi.model import Node

Rows = list[dict[str, Any]]
VARIANTS = (
    "endpoint",
    "endpoint-2500",
    "no-indexes",
    "no-name-index",
    "cypher-create",
    "merge",
    "sql-import",
)


def rows(n: int, seed: int) -> dict[Node, Rows]:
    """``n`` customers and ``n`` identities as ``{"id", "props"}`` rows."""
    rng = random.Random(seed)
    cities = ["上海", "北京", "深圳", "杭州", "成都", "Shanghai", "Beijing"]
    customers = [
        {
            "id": f"cus_{rng.getrandbits(48):012x}",
            "props": {
                "name": f"客户{rng.randrange(10**6)}",
                "name_latin": f"kehu {i}",
                "gender": rng.choice("MF"),
                "city": rng.choice(cities),
                "channels": sorted(rng.sample(["crm", "wechat", "shop", "web"], 2)),
                "record_count": 2,
                "first_seen": "2024-01-02T00:00:00Z",
                "updated_at": "2026-01-01T00:00:00Z",
            },
        }
        for i in range(n)
    ]
    identities = [
        {
            "id": f"record:crm:{i:09d}",
            "props": {
                "kind": "record",
                "channel": "crm",
                "key": f"{i:09d}",
                "name": f"客户{i}",
                "phone": f"+86138{rng.randrange(10**8):08d}",
                "content_hash": f"{rng.getrandbits(64):016x}",
            },
        }
        for i in range(n)
    ]
    return {Node.CUSTOMER: customers, Node.IDENTITY: identities}


def server_cpu(pid: int) -> float:
    """User + system CPU seconds of a process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def import_file(work: Path, label: Node, data: Rows) -> Path:
    """``data`` as a CSV file for ArcadeDB's importer (scalar properties only)."""
    path = work / f"{label}.csv"
    (work / "empty.csv").touch()
    columns = [k for k, v in data[0]["props"].items() if not isinstance(v, list)]
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["id", *columns])
        out.writerows([r["id"], *(r["props"][c] for c in columns)] for r in data)
    return path


def sql_import(bulk: ArcadeHttpChannel, label: Node, path: Path, empty: Path) -> None:
    """Import one CSV of vertices with ArcadeDB's importer. Its ``url`` is required even with
    ``vertices`` given, and is read as documents (arcadedb#1552): an empty file, so that the
    vertices are read once."""
    bulk._post(  # the channel has no public SQL command: this is the only one Quanzi would run
        "command",
        f"IMPORT DATABASE file://{empty} WITH vertices = 'file://{path}', "
        f"verticesFileType = 'csv', vertexType = '{label}', typeIdProperty = 'id', "
        "typeIdType = 'String', typeIdUnique = true",
        "importing",
        {},
        language="sql",
    )


def writer(
    variant: str, store: GraphStore, bulk: ArcadeHttpChannel, work: Path
) -> Callable[[Node, Rows], None]:
    """The write path of a variant (``sql-import`` reads the files :func:`import_file` wrote
    into ``work``)."""

    def chunks(label: Node, data: Rows, size: int, send: Callable[[Node, Rows], None]) -> None:
        for i in range(0, len(data), size):
            send(label, data[i : i + size])

    if variant == "sql-import":
        return lambda label, _: sql_import(bulk, label, work / f"{label}.csv", work / "empty.csv")
    if variant == "merge":
        return lambda label, data: chunks(
            label, data, 5000, lambda lb, c: store.write(q.merge_nodes(lb), "bench", rows=c)
        )
    if variant == "cypher-create":
        return lambda label, data: chunks(
            label, data, 5000, lambda lb, c: bulk.run(q.create_nodes(lb), "bench", rows=c)
        )
    size = 2500 if variant == "endpoint-2500" else 10_000
    return lambda label, data: chunks(
        label, data, size, lambda lb, c: bulk.create_vertices(lb, c, "bench")
    )


def drop_customer_indexes(store: GraphStore, props: tuple[str, ...]) -> None:
    """Drop secondary ``Customer`` indexes (the ``id`` constraint stays)."""
    for prop in props:
        store.write(f"DROP INDEX customer_{prop} IF EXISTS", "dropping an index")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--vertices", type=int, default=30_000, help="per label")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--identity-first", action="store_true")
    parser.add_argument("--heap", default="1g", help="the bundled store's default")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    data = rows(args.vertices, args.seed)
    order = [Node.IDENTITY, Node.CUSTOMER] if args.identity_first else list(data)
    work = Path(tempfile.mkdtemp(prefix="quanzi-vertices-"))
    results: dict[str, dict[Node, tuple[float, float]]] = {}
    try:
        for k, variant in enumerate(args.variants.split(",")):
            manager = BundledStore(work / f"{k}-{variant}", heap=args.heap)
            status = manager.start()
            store = connect_bundled(manager, status)
            assert store.bulk is not None
            assert status.pid is not None
            try:
                ensure_schema(store)
                if variant == "no-indexes":
                    drop_customer_indexes(store, (*INDEXES[Node.CUSTOMER], "name"))
                elif variant == "no-name-index":
                    drop_customer_indexes(store, ("name",))
                write = writer(variant, store, store.bulk, work)
                results[variant] = {}
                for label in order:
                    if variant == "sql-import":  # the file is written before the clock starts
                        import_file(work, label, data[label])
                    cpu0, t0 = server_cpu(status.pid), time.perf_counter()
                    write(label, data[label])
                    seconds = time.perf_counter() - t0
                    cpu = server_cpu(status.pid) - cpu0
                    results[variant][label] = (args.vertices / seconds, cpu / args.vertices * 1e6)
                assert store.counts()[Node.CUSTOMER] == args.vertices
            finally:
                store.close()
                manager.stop()
            load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
            print(
                f"{variant:>14}: "
                + ", ".join(
                    f"{label} {rate:,.0f}/s {us:,.0f} us server CPU/vertex"
                    for label, (rate, us) in results[variant].items()
                )
                + f" (load average {load})",
                flush=True,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    base = results.get("endpoint")
    if base is None:
        return
    print("\n| variant | label | vertices/s | server CPU us/vertex | CPU vs endpoint |")
    print("|---|---|---:|---:|---:|")
    for variant, per_label in results.items():
        for label, (rate, us) in per_label.items():
            print(f"| {variant} | {label} | {rate:,.0f} | {us:,.0f} | {us / base[label][1]:.2f}x |")


if __name__ == "__main__":
    main()
