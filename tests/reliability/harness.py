"""The fault tests' harness, free of pytest so that ``benchmarks/faults.py`` runs the same
checks: a bundled store that may be killed, the real ``quanzi`` command line in subprocesses,
and a canonical dump of the graph to compare loads by.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quanzi.graph import queries as q
from quanzi.graph.bundled import BundledStore
from quanzi.graph.connect import open_store
from quanzi.graph.store import GraphStore
from quanzi.settings import Settings

#: Small write batches: the generator's 400 contacts take ~20 commits, so a kill at a random
#: moment lands between commits and inside them, not only before or after one big one.
FAULT_BATCH = 20

#: Properties that record *when* something was written, not what: left out of comparisons.
VOLATILE = frozenset({"updated_at", "linked_at", "loaded_at", "merged_at"})


# -- the store ----------------------------------------------------------------------------------
@dataclass
class FaultStore:
    """A bundled store that tests may kill: its settings, manager and an open connection."""

    settings: Settings
    manager: BundledStore
    store: GraphStore

    def java_pid(self) -> int:
        pid = self.manager.status().pid
        assert pid is not None, "the fault store is not running"
        return pid

    def kill_server(self) -> int:
        """SIGKILL the store's Java process and wait until it is gone."""
        pid = self.java_pid()
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while self.manager.status().state == "running" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.manager.status().state == "stale"
        return pid

    def reopen(self) -> GraphStore:
        """A fresh connection (after a restart)."""
        self.store.close()
        self.store = open_store(self.settings, start=False)
        return self.store


def wait_for(
    store: GraphStore, label: str, *, at_least: int = 1, proc: subprocess.Popen[str] | None = None
) -> int:
    """Poll the store until it holds ``at_least`` ``label`` nodes or relations; return the count.

    Fails when ``proc`` ends first (the load finished or failed before the point was reached).
    """
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        n = store.counts().get(label, 0)
        if n >= at_least:
            return n
        if proc is not None and proc.poll() is not None:
            _, err = proc.communicate()
            raise AssertionError(f"the command ended ({proc.returncode}) before {label}: {err}")
        time.sleep(0.02)
    raise AssertionError(f"no {label} in the store after 180 s")


# -- the command line ---------------------------------------------------------------------------
def cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a ``quanzi`` subprocess: only this test's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANZI_")}
    env["QUANZI_DATA_DIR"] = str(settings.data_dir)
    env["QUANZI_WRITE_BATCH_SIZE"] = str(settings.write_batch_size)
    env["NO_COLOR"] = "1"
    env["COLUMNS"] = "200"
    env.update(extra)
    return env


def start_cli(
    settings: Settings, args: Sequence[str], cwd: Path, **extra: str
) -> subprocess.Popen[str]:
    """Start ``python -m quanzi ARGS`` (the real command line) without waiting for it."""
    return subprocess.Popen(
        [sys.executable, "-m", "quanzi", *args],
        env=cli_env(settings, **extra),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_cli(
    settings: Settings, args: Sequence[str], cwd: Path, *, timeout: float = 120, **extra: str
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m quanzi ARGS`` to its end."""
    return subprocess.run(
        [sys.executable, "-m", "quanzi", *args],
        env=cli_env(settings, **extra),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# -- comparing graphs ---------------------------------------------------------------------------
Key = Any


def _freeze(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, float):
        return round(value, 9)
    return value


def _props(props: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((k, _freeze(v)) for k, v in props.items() if k not in VOLATILE))


@dataclass(frozen=True)
class GraphDump:
    """A graph in a form that does not depend on write order or on when it was written.

    Attributes
    ----------
    customers : frozenset of frozenset of str
        Each live (not merged-away) customer as the set of its source-record identity ids: the
        partition of records into people.
    customer_ids : dict
        That set -> the customer's id.
    merged_away : frozenset of str
        Ids of customers left behind by a merge (``merged_into`` set).
    nodes : Counter
        ``(label, key, properties)``; a customer's key is its record set, others their id.
    relations : Counter
        ``(type, start key, end key, properties)``; a count above 1 is a duplicate.
    """

    customers: frozenset[frozenset[str]]
    customer_ids: dict[frozenset[str], str]
    merged_away: frozenset[str]
    nodes: Counter[tuple[Any, ...]]
    relations: Counter[tuple[Any, ...]]

    def duplicates(self) -> list[tuple[Any, ...]]:
        """Nodes or relations present more than once."""
        return [k for c in (self.nodes, self.relations) for k, n in c.items() if n > 1]

    def differences(self, other: GraphDump, limit: int = 8) -> list[str]:
        """Readable differences to ``other`` (empty when the graphs are the same)."""
        out: list[str] = []
        for name in ("customers", "nodes", "relations"):
            mine, theirs = getattr(self, name), getattr(other, name)
            a = Counter(mine) if not isinstance(mine, Counter) else mine
            b = Counter(theirs) if not isinstance(theirs, Counter) else theirs
            only_a, only_b = a - b, b - a
            if only_a or only_b:
                here, there = sum(only_a.values()), sum(only_b.values())
                out.append(f"{name}: {here} only here, {there} only there")
                out += [f"  here:  {k}" for k in list(only_a)[:limit]]
                out += [f"  there: {k}" for k in list(only_b)[:limit]]
        return out


def _without_customer_id(node: Mapping[str, Any]) -> Mapping[str, Any]:
    props: Mapping[str, Any] = node["p"]
    if node["label"] == "Customer":
        return {k: v for k, v in props.items() if k != "id"}
    return props


def dump_graph(store: GraphStore) -> GraphDump:
    """Read the whole graph (small test graphs only) into a :class:`GraphDump`."""
    nodes = store.read(
        "MATCH (n) RETURN labels(n)[0] AS label, properties(n) AS p", "dumping nodes"
    )
    rels = store.read(
        "MATCH (a)-[r]->(b) RETURN type(r) AS type, labels(a)[0] AS al, a.id AS a, "
        "labels(b)[0] AS bl, b.id AS b, properties(r) AS p",
        "dumping relations",
    )
    records: dict[str, set[str]] = {}
    for r in rels:
        if r["type"] == "HAS_IDENTITY" and str(r["b"]).startswith("record:"):
            records.setdefault(r["a"], set()).add(r["b"])
    live = {
        n["p"]["id"]
        for n in nodes
        if n["label"] == "Customer" and n["p"].get("merged_into") is None
    }
    merged = frozenset(
        n["p"]["id"] for n in nodes if n["label"] == "Customer" and n["p"].get("merged_into")
    )
    key_of: dict[str, Key] = {c: frozenset(records.get(c, ())) for c in live}

    def key(label: str, node_id: str) -> Key:
        if label == "Customer" and node_id in key_of:
            return key_of[node_id]
        return node_id

    return GraphDump(
        customers=frozenset(key_of.values()),
        customer_ids={v: k for k, v in key_of.items()},
        merged_away=merged,
        nodes=Counter(
            (n["label"], key(n["label"], n["p"]["id"]), _props(_without_customer_id(n)))
            for n in nodes
            # Bookkeeping, not data: the schema version and the count of graph changes (its
            # time stamp differs between any two runs).
            if n["label"] != "SchemaMeta" and n["p"].get("id") != q.GRAPH_CHANGES_ID
        ),
        relations=Counter(
            (r["type"], key(r["al"], r["a"]), key(r["bl"], r["b"]), _props(r["p"])) for r in rels
        ),
    )
