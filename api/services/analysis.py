"""``quanzi analyze``: read projections, run the algorithms, write the results back.

Reads the customer–customer ties and the customers' groups, interests and employees, finds
circles (with a second level inside large circles) and influence, keeps circle ids stable by
matching the new circles to the stored ones, and writes:

- on each ``Customer``: ``circle_id``, ``subcircle_id``, ``influence`` and its parts
  (``pagerank``, ``brokerage``, ``core``, ``reach``), and the loyalty ``tier`` (potential,
  general, loyal, member) from the rules in :mod:`quanzi.algorithms.lifecycle`;
- one ``Circle`` node per circle: ``level``, ``parent_id``, ``size``, ``kind``,
  ``auto_name``, ``leaders``, ``top_interests``, ``top_tags``, ``layer_shares`` (JSON text),
  ``modularity``; a ``name`` a user gave a circle is never overwritten;
- ``IN_CIRCLE`` from each customer to its circle at each level (``level`` property).
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import igraph as ig
import pandas as pd

from quanzi.algorithms.circles import (
    LayerWeights,
    build_tie_graph,
    describe_circles,
    detect_circle_hierarchy,
    match_circles,
)
from quanzi.algorithms.influence import influence
from quanzi.algorithms.lifecycle import assign_tiers
from quanzi.graph import queries as q
from quanzi.graph.store import GraphStore
from quanzi.model import Node, Rel
from quanzi.settings import Settings

__all__ = ["AnalysisSummary", "run_analysis"]

Progress = Callable[[str, int, int | None], None]

#: Circles larger than this are split once more into sub-circles.
MAX_CIRCLE_SIZE = 80
_WRITE_BATCH = 2000


@dataclass
class AnalysisSummary:
    """What one analysis run found and how long each step took."""

    customers: int = 0
    ties: int = 0
    circles: dict[int, int] = field(default_factory=dict)
    modularity: float = 0.0
    kept_circle_ids: int = 0
    retired_circles: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """Human-readable summary lines."""
        levels = ", ".join(f"level {lv}: {n:,}" for lv, n in sorted(self.circles.items()))
        steps = ", ".join(f"{k} {v:.1f}s" for k, v in self.seconds.items())
        return [
            f"Analysed {self.customers:,} customers and {self.ties:,} ties.",
            f"Circles - {levels} (modularity {self.modularity:.3f}); "
            f"{self.kept_circle_ids:,} kept their id, {self.retired_circles:,} retired.",
            f"Time - {steps}.",
        ]


def _affiliations(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    members: dict[str, list[str]] = defaultdict(list)
    for customer, thing in pairs:
        members[thing].append(customer)
    return dict(members)


def _by_customer(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    values: dict[str, list[str]] = defaultdict(list)
    for customer, thing in pairs:
        values[customer].append(thing)
    return dict(values)


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


#: Tiers the source systems record that Quanzi counts as membership (the ``member`` tier).
MEMBER_TIERS = frozenset({"gold", "platinum"})


def _tiers(store: GraphStore) -> dict[str, str]:
    """Loyalty tier of every customer by the rules in :data:`quanzi.algorithms.lifecycle.TIERS`.

    "Days since the last order" count back from the latest activity in the graph (not the
    wall clock), so an archive or a generated data set gets the tiers it had at its end.
    """
    rows = store.read_bulk(q.CUSTOMER_LIFECYCLE_FACTS, "reading lifecycle facts")
    if not rows or not rows[0]["id"]:
        return {}
    cols = rows[0]
    last_order = pd.to_datetime(pd.Series(cols["last_order_at"]).replace("", None), utc=True)
    active = pd.to_datetime(pd.Series(cols["last_active_at"]).replace("", None), utc=True)
    reference = active.max() if active.notna().any() else pd.Timestamp.now(tz="UTC")
    facts = pd.DataFrame(
        {
            "orders": pd.Series(cols["orders"], dtype="int64").to_numpy(),
            "days_since_last_order": (reference - last_order).dt.days.to_numpy(),
            "is_member": [t.lower() in MEMBER_TIERS for t in cols["recorded_tier"]],
        },
        index=cols["id"],
    )
    tiers = assign_tiers(facts)
    return {str(k): str(v) for k, v in tiers.items()}


def run_analysis(
    store: GraphStore,
    settings: Settings,
    *,
    seed: int = 0,
    progress: Progress | None = None,
) -> AnalysisSummary:
    """Run circles and influence on the stored graph and write the results back.

    Safe to re-run: results are overwritten, circle ids and user-given circle names kept.
    """
    report = progress or (lambda step, done, total: None)
    summary = AnalysisSummary()
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        summary.seconds[step] = now - clock
        clock = now

    report("analyse: read graph", 0, 5)
    customers = store.node_ids(Node.CUSTOMER)
    ties = store.read_projection([Rel.INTERACTS_WITH], weight="weight")
    report("analyse: read graph", 1, 5)
    groups = store.read_pairs(Rel.MEMBER_OF, Node.CUSTOMER, Node.GROUP)
    interests = store.read_pairs(Rel.INTERESTED_IN, Node.CUSTOMER, Node.INTEREST)
    employees = store.read_pairs(Rel.SERVED_BY, Node.CUSTOMER, Node.EMPLOYEE)
    report("analyse: read graph", 3, 5)
    tags = store.read_pairs(Rel.TAGGED, Node.CUSTOMER, Node.TAG)
    referred = store.read_pairs(Rel.REFERRED, Node.CUSTOMER, Node.CUSTOMER)
    previous = _affiliations(store.read_pairs(Rel.IN_CIRCLE, Node.CUSTOMER, Node.CIRCLE))
    # Circles whose members have all gone (erased, merged away) have no IN_CIRCLE left but
    # must still be matched - and so retired.
    for stored in store.node_ids(Node.CIRCLE):
        previous.setdefault(stored, [])
    previous_top = {k: v for k, v in previous.items() if "." not in k}
    report("analyse: read graph", 5, 5)
    summary.customers, summary.ties = len(customers), ties.ecount
    lap("read")

    report("analyse: circles", 0, 2)
    g = build_tie_graph(
        ties.to_igraph(),
        groups=_affiliations(groups),
        interests=_affiliations(interests),
        employees=_affiliations(employees),
        layer_weights=LayerWeights(),
        customers=customers,
    )
    levels = detect_circle_hierarchy(g, seed=seed, max_levels=2, max_circle_size=MAX_CIRCLE_SIZE)
    report("analyse: circles", 1, 2)
    referrals = ig.Graph.TupleList(referred, directed=True) if referred else None
    if referrals is not None:
        referrals.vs["id"] = referrals.vs["name"]
    scores = influence(g, referrals=referrals)
    report("analyse: circles", 2, 2)
    lap("compute")

    top = levels[0]
    match = match_circles(previous_top, top)
    summary.kept_circle_ids = len(match.mapping)
    summary.retired_circles = len(match.unmatched_previous)
    used = {int(k[1:]) for k in previous_top if k[1:].isdigit()}
    next_number = max(used, default=0) + 1
    top_ids: dict[str, str] = dict(match.mapping)
    for key in match.unmatched_new:
        top_ids[key] = f"K{next_number}"
        next_number += 1

    def circle_id(level: int, key: str) -> str:
        head, _, rest = key.partition(".")
        return top_ids[head] + (f".{rest}" if level > 0 and rest else "")

    influence_of = dict(zip(scores.ids, scores.score.tolist(), strict=True))
    attributes = {"interest": _by_customer(interests), "tag": _by_customer(tags)}
    circle_rows: list[dict[str, Any]] = []
    memberships: dict[str, list[dict[str, Any]]] = defaultdict(list)
    customer_rows: dict[str, dict[str, Any]] = {v: {"id": v} for v in scores.ids}
    tiers = _tiers(store)
    for cid, tier in tiers.items():
        customer_rows.setdefault(cid, {"id": cid})["tier"] = tier
    attributes["tier"] = {cid: [tier] for cid, tier in tiers.items()}
    for i, v in enumerate(scores.ids):
        row = customer_rows[v]
        row["influence"] = round(float(scores.score[i]), 6)
        for part, values in scores.raw.items():
            row[part] = float(values[i])
    for level, partition in enumerate(levels[:2]):
        if level == 1 and partition.keys == top.keys:
            break
        descriptions = describe_circles(
            g, partition, influence=influence_of, attributes=attributes, n_leaders=3
        )
        summary.circles[level] = partition.n_circles
        if level == 0:
            summary.modularity = partition.modularity
        for d in descriptions:
            cid = circle_id(level, d.key)
            top_interest = d.top_attributes.get("interest", [])
            theme = f" · {top_interest[0][0]}" if top_interest else ""
            circle_rows.append(
                {
                    "id": cid,
                    "level": level,
                    "parent_id": cid.rsplit(".", 1)[0] if level else None,
                    "size": d.size,
                    "kind": d.kind,
                    "auto_name": f"{d.kind.capitalize()} circle {cid}{theme}",
                    "leaders": [m for m, _ in d.leaders],
                    "top_interests": [v for v, _ in top_interest],
                    "top_tags": [v for v, _ in d.top_attributes.get("tag", [])],
                    "layer_shares": json.dumps(d.layer_shares, sort_keys=True),
                    "tier_mix": json.dumps(dict(d.top_attributes.get("tier", []))),
                    "modularity": partition.modularity,
                }
            )
        for v, c in zip(partition.ids, partition.membership.tolist(), strict=True):
            cid = circle_id(level, partition.keys[c])
            customer_rows[v]["circle_id" if level == 0 else "subcircle_id"] = cid
            memberships[v].append({"start": v, "end": cid, "level": level})
    lap("describe")

    total = len(circle_rows) + 2 * len(customer_rows)
    done = 0
    report("analyse: write back", 0, total)
    store.upsert_nodes(Node.CIRCLE, circle_rows)
    done += len(circle_rows)
    if match.unmatched_previous:
        stale = [k for k in previous if k.split(".")[0] in set(match.unmatched_previous)]
        store.delete_nodes(Node.CIRCLE, stale)
    rows = list(customer_rows.values())
    store.set_node_properties(Node.CUSTOMER, rows)
    done += len(rows)
    report("analyse: write back", done, total)
    for chunk in _chunks(rows, _WRITE_BATCH):
        ids = [r["id"] for r in chunk]
        links = [m for v in ids for m in memberships[v]]
        store.replace_relations(Rel.IN_CIRCLE, Node.CUSTOMER, Node.CIRCLE, ids, links)
        done += len(chunk)
        report("analyse: write back", done, total)
    # Sub-circles of a previous run that this run did not produce.
    produced = {r["id"] for r in circle_rows}
    leftovers = [k for k in previous if k not in produced and k.split(".")[0] in produced]
    if leftovers:
        store.delete_nodes(Node.CIRCLE, leftovers)
    lap("write")
    return summary
