"""Bulk load and projection read into the bundled store: Quanzi's path vs. the naive path.

Both paths write the same generated graph into two fresh databases of the same bundled
ArcadeDB server, in the same run, and both results are checked to be identical:

- naive write: one ``UNWIND $rows AS r MERGE (n:L {id: r.id}) SET n += r.props`` statement per
  5,000-row batch (relations: ``MATCH`` both ends by id, ``MERGE`` the relation);
- naive read: ``MATCH (a)-[e]->(b) RETURN a.id, b.id, e.weight`` iterated row by row;
- Quanzi: ``GraphStore.upsert_nodes`` / ``upsert_relations`` / ``read_projection`` (on the
  bundled store: new rows through ArcadeDB's bulk endpoint, see ``graph/bulk.py``).

The machine's load average is printed before and after each path: on a shared machine, read
the ratios of one run, not absolute rates across runs.

Run::

    python benchmarks/store_load.py --customers 100000

It prints nodes/s, relations/s and relations read/s for both paths and their ratios.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from quanzi.graph.bundled import BundledStore
from quanzi.graph.connect import connect_bundled
from quanzi.graph.schema import ensure_schema
from quanzi.graph.store import GraphStore
from quanzi.ingest.synthetic import GeneratorConfig, generate
from quanzi.model import Node, Rel

BATCH = 5000


def build_rows(data: Path) -> dict[str, list[dict[str, Any]]]:
    """Customers, identities and their relations from the generator's files (truth-resolved)."""
    person_of: dict[str, str] = {}
    with open(data / "truth_records.csv", newline="") as f:
        for r in csv.DictReader(f):
            person_of[f"{r['source']}:{r['source_record_id']}"] = r["person_id"]
    customers: dict[str, dict[str, Any]] = {}
    identities: list[dict[str, Any]] = []
    has_identity: list[dict[str, Any]] = []
    with open(data / "contacts.csv", newline="") as f:
        for r in csv.DictReader(f):
            ref = f"{r['source']}:{r['source_record_id']}"
            pid = person_of[ref]
            c = customers.setdefault(pid, {"id": pid, "channels": []})
            c["channels"].append(r["source"])
            for key in ("full_name", "city", "company", "gender", "birth_date"):
                if r[key] and key not in c:
                    c[key] = r[key]
            identities.append({"id": ref, "channel": r["source"], "key": r["source_record_id"]})
            has_identity.append({"start": pid, "end": ref, "rule": "truth", "score": 1.0})
    ties: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    with open(data / "events.jsonl") as f:
        for line in f:
            e = json.loads(line)
            if e["type"] != "interaction":
                continue
            a, b = person_of[e["from"]], person_of[e["to"]]
            if a == b:
                continue
            t = ties[(a, b) if a < b else (b, a)]
            t[0] += 1.0
            t[1] += e["count"]
    interacts = [
        {"start": a, "end": b, "weight": w, "count": int(c)} for (a, b), (w, c) in ties.items()
    ]
    return {
        "customers": list(customers.values()),
        "identities": identities,
        "has_identity": has_identity,
        "interacts": interacts,
    }


def _batches(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    it = iter(rows)
    while batch := list(islice(it, BATCH)):
        yield batch


def naive_write(
    driver: Any, database: str, rows: dict[str, list[dict[str, Any]]]
) -> tuple[float, float]:
    """The baseline: MERGE per 5,000-row batch. Returns (node seconds, relation seconds)."""

    def nodes(label: str, items: list[dict[str, Any]]) -> None:
        query = f"UNWIND $rows AS r MERGE (n:{label} {{id: r.id}}) SET n += r.props"
        for batch in _batches(items):
            payload = [
                {"id": r["id"], "props": {k: v for k, v in r.items() if k != "id"}} for r in batch
            ]
            driver.execute_query(query, rows=payload, database_=database)

    def rels(rel: str, a: str, b: str, items: list[dict[str, Any]]) -> None:
        query = (
            f"UNWIND $rows AS r MATCH (a:{a} {{id: r.start}}) MATCH (b:{b} {{id: r.end}}) "
            f"MERGE (a)-[e:{rel}]->(b) SET e += r.props"
        )
        for batch in _batches(items):
            payload = [
                {
                    "start": r["start"],
                    "end": r["end"],
                    "props": {k: v for k, v in r.items() if k not in ("start", "end")},
                }
                for r in batch
            ]
            driver.execute_query(query, rows=payload, database_=database)

    t0 = time.perf_counter()
    nodes("Customer", rows["customers"])
    nodes("Identity", rows["identities"])
    t1 = time.perf_counter()
    rels("HAS_IDENTITY", "Customer", "Identity", rows["has_identity"])
    rels("INTERACTS_WITH", "Customer", "Customer", rows["interacts"])
    return t1 - t0, time.perf_counter() - t1


def naive_read(driver: Any, database: str) -> tuple[float, set[tuple[str, str, float]]]:
    """The baseline read: one row per relation."""
    t0 = time.perf_counter()
    edges = set()
    with driver.session(database=database) as s:
        for rec in s.run(
            "MATCH (a:Customer)-[e:INTERACTS_WITH]->(b:Customer) RETURN a.id, b.id, e.weight"
        ):
            edges.add((rec[0], rec[1], float(rec[2])))
    return time.perf_counter() - t0, edges


def project_write(store: GraphStore, rows: dict[str, list[dict[str, Any]]]) -> tuple[float, float]:
    """Quanzi's load path."""
    t0 = time.perf_counter()
    store.upsert_nodes(Node.CUSTOMER, rows["customers"])
    store.upsert_nodes(Node.IDENTITY, rows["identities"])
    t1 = time.perf_counter()
    store.upsert_relations(Rel.HAS_IDENTITY, Node.CUSTOMER, Node.IDENTITY, rows["has_identity"])
    store.upsert_relations(Rel.INTERACTS_WITH, Node.CUSTOMER, Node.CUSTOMER, rows["interacts"])
    return t1 - t0, time.perf_counter() - t1


def project_read(store: GraphStore) -> tuple[float, set[tuple[str, str, float]]]:
    """Quanzi's projection read."""
    t0 = time.perf_counter()
    p = store.read_projection([Rel.INTERACTS_WITH], directed=True)
    seconds = time.perf_counter() - t0
    ids = p.ids
    edges = {
        (ids[a], ids[b], float(w))
        for a, b, w in zip(p.src.tolist(), p.dst.tolist(), p.weight.tolist(), strict=True)
    }
    return seconds, edges


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--heap", default="4g")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary folder.")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="quanzi-bench-"))
    try:
        print(f"generating {args.customers:,} customers ...", flush=True)
        files = generate(work / "data", GeneratorConfig(customers=args.customers, seed=args.seed))
        rows = build_rows(files.contacts.parent)
        n_nodes = len(rows["customers"]) + len(rows["identities"])
        n_rels = len(rows["has_identity"]) + len(rows["interacts"])
        n_read = len(rows["interacts"])
        print(f"graph: {n_nodes:,} nodes, {n_rels:,} relations ({n_read:,} ties to read back)")

        print("load average before: " + ", ".join(f"{x:.1f}" for x in os.getloadavg()))
        results: dict[str, dict[str, float]] = {}
        edges: dict[str, set[tuple[str, str, float]]] = {}
        for path in ("naive", "quanzi"):
            manager = BundledStore(work / path, heap=args.heap)
            status = manager.start()
            store = connect_bundled(manager, status)
            driver = store.driver
            ensure_schema(store)
            try:
                if path == "naive":
                    tn, tr = naive_write(driver, manager.database, rows)
                    tread, edges[path] = naive_read(driver, manager.database)
                else:
                    tn, tr = project_write(store, rows)
                    # Idempotence: loading the same rows again must not change the counts.
                    before = store.counts()
                    project_write(store, {k: v[:BATCH] for k, v in rows.items()})
                    assert store.counts() == before, "re-load changed the graph"
                    tread, edges[path] = project_read(store)
                counts = store.counts()
            finally:
                store.close()
                manager.stop()
            assert counts["Customer"] == len(rows["customers"]), counts
            assert counts["INTERACTS_WITH"] == n_read, counts
            results[path] = {
                "nodes/s": n_nodes / tn,
                "relations/s": n_rels / tr,
                "read relations/s": n_read / tread,
            }
            load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
            print(
                f"{path:>7}: "
                + ", ".join(f"{k} {v:,.0f}" for k, v in results[path].items())
                + f" (load average after: {load})",
                flush=True,
            )
        assert edges["naive"] == edges["quanzi"], "the two paths read different graphs"

        print("\n| measure | naive | quanzi | ratio |\n|---|---:|---:|---:|")
        for key in results["naive"]:
            a, b = results["naive"][key], results["quanzi"][key]
            print(f"| {key} | {a:,.0f} | {b:,.0f} | {b / a:.1f}x |")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
