"""``quanzi analyze``: read projections, run the algorithms, write the results back.

Reads the customer–customer ties and the customers' groups, interests and employees, finds
circles (with a second level inside large circles) and influence, keeps circle ids stable by
matching the new circles to the stored ones, and writes:

- on each ``Customer``: ``circle_id``, ``subcircle_id``, ``influence`` and its parts
  (``pagerank``, ``brokerage``, ``core``, ``reach``), and the loyalty ``tier`` (potential,
  general, loyal, member) from the rules in :mod:`quanzi.algorithms.lifecycle`;
- one ``Circle`` node per circle: ``level`` (0 top; 1 inside a top-level circle that
  split, whose id is its ``parent_id``; a circle that did not split is one level-0 node),
  ``sub_circles`` (how many it split into), ``size``, ``kind``,
  ``auto_name``, ``leaders``, ``top_interests``, ``top_tags``, ``layer_shares`` (JSON text),
  ``modularity``; a ``name`` a user gave a circle is never overwritten;
- ``IN_CIRCLE`` from each customer to its circle at each level (``level`` property: the
  finest level, so 1 to a top-level circle that did not split when there are two levels);
- churn (:func:`quanzi.algorithms.churn.forecast_churn`, learned from the last
  ``churn_horizon_days``): ``churn_risk`` in [0, 1] and ``churn_risk_reasons`` (text) on
  every customer still here; customers who have churned (every employee contact deleted,
  or silent for ``churn_silence_days``) get ``churn_risk`` 1, ``churned_at`` and the reason;
- lifecycle: ``tier`` and ``tier_path``, ``funnel_stage`` and ``funnel_path`` (every change,
  ``"<ISO time> <label>"``, recomputed from the order and stage history by the rules of
  :mod:`quanzi.algorithms.lifecycle`), ``rfm_segment`` and ``rfm_score``;
- on each circle also ``churn_risk`` (members' mean, churned members counting 1),
  ``churn_rate`` (share churned), ``owners`` (the employees serving most members) with
  ``owner_counts``, and ``interest_lift`` / ``tag_lift`` (JSON: share and lift of each top
  value against everyone);
- one ``Analysis`` node (id ``latest``): when it ran, the data's "now", conversion rates and
  transition counts of tiers and funnel stages, RFM segment sizes, interest and tag
  preferences per RFM segment and per tier, and the churn model's training figures.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import igraph as ig
import numpy as np
import numpy.typing as npt
import pandas as pd

from quanzi.algorithms.churn import ChurnForecast, forecast_churn, reason_text
from quanzi.algorithms.circles import (
    LayerWeights,
    Partition,
    build_tie_graph,
    describe_circles,
    detect_circle_hierarchy,
    match_circles,
    partition_from_membership,
)
from quanzi.algorithms.influence import brokerage_sample_size, influence
from quanzi.algorithms.lifecycle import (
    FUNNEL,
    TIERS,
    conversion_rates,
    label_history,
    preference_distribution,
    rfm_scores,
    transition_matrix,
)
from quanzi.api.services.timeline import StoredFacts, lifecycle_facts, read_facts
from quanzi.errors import InputError, StoreError
from quanzi.graph.gds import ServerResults, server_algorithms
from quanzi.graph.store import GraphStore
from quanzi.ingest.lock import writer_lock
from quanzi.model import Node, Rel
from quanzi.settings import Settings

__all__ = ["AnalysisSummary", "read_tie_graph", "run_analysis"]

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
    churn_scored: int = 0
    churned: int = 0
    churn_note: str = ""
    #: Where the top-level circles, PageRank, brokerage and core depth were computed.
    engine: str = "in process"
    tiers: dict[str, int] = field(default_factory=dict)
    funnel: dict[str, int] = field(default_factory=dict)
    rfm_segments: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """Human-readable summary lines."""
        levels = ", ".join(f"level {lv}: {n:,}" for lv, n in sorted(self.circles.items()))
        steps = ", ".join(f"{k} {v:.1f}s" for k, v in self.seconds.items())

        def counts(values: dict[str, int]) -> str:
            return ", ".join(f"{k} {n:,}" for k, n in values.items()) or "none"

        churn = (
            f"Churn - {self.churn_scored:,} customers scored, {self.churned:,} have churned."
            if not self.churn_note
            else f"Churn - not scored: {self.churn_note}"
        )
        return [
            f"Analysed {self.customers:,} customers and {self.ties:,} ties.",
            f"Circles - {levels} (modularity {self.modularity:.3f}); "
            f"{self.kept_circle_ids:,} kept their id, {self.retired_circles:,} retired.",
            f"Graph algorithms - {self.engine}.",
            churn,
            f"Tiers - {counts(self.tiers)}. Funnel - {counts(self.funnel)}.",
            f"RFM segments - {counts(self.rfm_segments)}.",
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


#: Customer properties the churn step writes (cleared first, so nothing stale survives).
CHURN_PROPERTIES = ("churn_risk", "churn_risk_reasons", "churned_at")


def _iso(value: Any) -> str:
    return pd.Timestamp(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def _reference(facts: StoredFacts) -> pd.Timestamp:
    """The data's "now": its latest fact (an archive gets the state it had at its end)."""
    try:
        return facts.timeline.latest
    except InputError:
        return pd.Timestamp.now(tz="UTC")


#: RFM segment of customers who never ordered.
PROSPECT = "prospect"


@dataclass
class _Lifecycle:
    tiers: dict[str, str]
    stages: dict[str, str]
    tier_paths: dict[str, list[str]]
    funnel_paths: dict[str, list[str]]
    rfm: pd.DataFrame
    segments: pd.Series
    summary: dict[str, Any]


def _paths(history: pd.DataFrame) -> tuple[dict[str, str], dict[str, list[str]]]:
    current: dict[str, str] = {}
    paths: dict[str, list[str]] = defaultdict(list)
    times = pd.to_datetime(history["at"], utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    for cid, at, label in zip(history["customer_id"], times, history["to_label"], strict=True):
        paths[cid].append(f"{at} {label}")
        current[cid] = str(label)
    return current, dict(paths)


def _number(value: Any, digits: int) -> float | None:
    return None if pd.isna(value) else round(float(value), digits)


def _steps(table: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {
            "from": r["from_label"],
            "to": r["to_label"],
            "reached": int(r["reached"]),
            "converted": int(r["converted"]),
            "rate": _number(r["rate"], 4),
            "median_days": _number(r["median_days"], 1),
        }
        for r in table.to_dict("records")
    ]


def _shares(table: pd.DataFrame, *, sort: bool) -> dict[str, list[dict[str, Any]]]:
    """Rows of :func:`preference_distribution` as plain records, by segment (sorted, or in
    order of appearance); one pass over the columns, not one table per segment (measured:
    most of the describe step's time with hundreds of circles)."""
    out: dict[str, list[dict[str, Any]]] = {}
    columns = (table[c].tolist() for c in ("segment", "value", "customers", "share", "lift"))
    for segment, value, customers, share, lift in zip(*columns, strict=True):
        out.setdefault(str(segment), []).append(
            {
                "value": str(value),
                "customers": int(customers),
                "share": round(float(share), 4),
                "lift": round(float(lift), 3),
            }
        )
    return dict(sorted(out.items())) if sort else out


def _lifecycle(facts: StoredFacts, reference: pd.Timestamp) -> _Lifecycle:
    """Tiers and funnel stages over time, conversion between them, RFM and preferences."""
    over_time = lifecycle_facts(facts, reference, member_tiers=MEMBER_TIERS)
    summary: dict[str, Any] = {}
    results = []
    for name, ladder in (("tier", TIERS), ("funnel", FUNNEL)):
        history = label_history(over_time, ladder)
        matrix = transition_matrix(history, ladder)
        summary[f"{name}_conversion"] = _steps(conversion_rates(history, ladder))
        counts = matrix.to_numpy()
        summary[f"{name}_transitions"] = {
            f"{a}->{b}": int(counts[i, j])
            for i, a in enumerate(matrix.index)
            for j, b in enumerate(matrix.columns)
            if counts[i, j]
        }
        results.append(_paths(history))
    now = over_time[over_time["at"] == reference].set_index("customer_id")
    # RFM ranks buyers among buyers; someone who never ordered is a prospect, not "lost".
    rfm = rfm_scores(now[now["orders"] > 0])
    segments = pd.Series(PROSPECT, index=now.index, dtype=object)
    segments.loc[rfm.index] = rfm["segment"]
    summary["rfm_segments"] = {str(k): int(v) for k, v in segments.value_counts().items()}
    return _Lifecycle(
        tiers=results[0][0],
        stages=results[1][0],
        tier_paths=results[0][1],
        funnel_paths=results[1][1],
        rfm=rfm,
        segments=segments,
        summary=summary,
    )


def _preferences(
    segments: dict[str, dict[str, str]], values: dict[str, dict[str, list[str]]], top: int = 5
) -> dict[str, Any]:
    """Top interests and tags (share, lift) of each segment of each segmentation."""
    out: dict[str, Any] = {}
    for seg_name, by_customer in segments.items():
        for value_name, held in values.items():
            table = preference_distribution(by_customer, held, top=top)
            out.setdefault(seg_name, {})[value_name] = _shares(table, sort=True)
    return out


def _aligned(partition: Partition, ids: list[str]) -> npt.NDArray[np.int64]:
    position = {v: i for i, v in enumerate(partition.ids)}
    return np.asarray(partition.membership[[position[v] for v in ids]], dtype=np.int64)


def _churn(g: ig.Graph, facts: StoredFacts, finest: Partition, settings: Settings) -> ChurnForecast:
    return forecast_churn(
        g,
        facts.timeline,
        circles=_aligned(finest, list(g.vs["id"])),
        horizon_days=settings.churn_horizon_days,
        silence_days=settings.churn_silence_days or None,
        n_threads=1,
    )


def _pairs(store: GraphStore, rel: Rel, end: Node) -> list[tuple[str, str]]:
    """Every ``(customer id, end id)`` joined by ``rel``, in one bulk read (measured faster
    than :meth:`GraphStore.read_pairs`, which reads both ends' record ids each time)."""
    columns = store.read_relation_columns(rel, Node.CUSTOMER, end, {})
    return list(zip(map(str, columns["a"]), map(str, columns["b"]), strict=True))


def _inverted(values: dict[str, list[str]]) -> dict[str, list[str]]:
    """Customer -> things as thing -> customers."""
    return _affiliations((customer, v) for customer, vs in values.items() for v in vs)


def _tie_graph(store: GraphStore, facts: StoredFacts | None = None) -> tuple[ig.Graph, int, int]:
    """The tie graph; groups, interests and employees come from ``facts`` when given (they
    were read with their dates already), else from the store."""
    customers = store.node_ids(Node.CUSTOMER)
    ties = store.read_projection([Rel.INTERACTS_WITH], weight="weight")
    if facts is not None:
        layers = {
            "groups": _inverted(facts.groups),
            "interests": _inverted(facts.interests),
            "employees": _inverted(facts.served_by),
        }
    else:
        layers = {
            "groups": _affiliations(_pairs(store, Rel.MEMBER_OF, Node.GROUP)),
            "interests": _affiliations(_pairs(store, Rel.INTERESTED_IN, Node.INTEREST)),
            "employees": _affiliations(_pairs(store, Rel.SERVED_BY, Node.EMPLOYEE)),
        }
    g = build_tie_graph(
        ties.to_igraph(),
        groups=layers["groups"],
        interests=layers["interests"],
        employees=layers["employees"],
        layer_weights=LayerWeights(),
        customers=customers,
    )
    return g, len(customers), ties.ecount


def read_tie_graph(store: GraphStore) -> ig.Graph:
    """The customer graph the analysis works on: direct ties plus ties projected from shared
    groups, interests and employees (:class:`~quanzi.algorithms.circles.LayerWeights`
    defaults), every customer a vertex with its ``"id"``."""
    return _tie_graph(store)[0]


def run_analysis(
    store: GraphStore,
    settings: Settings,
    *,
    seed: int = 0,
    progress: Progress | None = None,
) -> AnalysisSummary:
    """Run circles, influence, churn and the lifecycle on the stored graph and write the
    results back.

    Safe to re-run: results are overwritten, circle ids and user-given circle names kept.
    Holds the data directory's writer lock for the whole run: an ingest, merge or split
    meanwhile would change customers between the read and the write-back, so they take turns
    (a running ingest is waited for, with a "waiting for ..." progress step).
    """
    report = progress or (lambda step, done, total: None)
    with writer_lock(
        settings.data_dir,
        on_wait=lambda holder: report(f"analyse: waiting for {holder}", 0, 1),
        doing="an analysis",
    ):
        return _run_analysis(store, settings, seed=seed, report=report)


def _run_analysis(
    store: GraphStore, settings: Settings, *, seed: int, report: Progress
) -> AnalysisSummary:
    summary = AnalysisSummary()
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        summary.seconds[step] = now - clock
        clock = now

    report("analyse: read graph", 0, 6)
    facts = read_facts(store)
    reference = _reference(facts)
    report("analyse: read graph", 2, 6)
    g, summary.customers, summary.ties = _tie_graph(store, facts)
    report("analyse: read graph", 5, 6)
    referred = facts.referrals
    stored_links = _pairs(store, Rel.IN_CIRCLE, Node.CIRCLE)
    previous = _affiliations(stored_links)
    # Circles whose members have all gone (erased, merged away) have no IN_CIRCLE left but
    # must still be matched - and so retired.
    for stored in store.node_ids(Node.CIRCLE):
        previous.setdefault(stored, [])
    previous_top = {k: v for k, v in previous.items() if "." not in k}
    report("analyse: read graph", 6, 6)
    lap("read")

    report("analyse: circles", 0, 2)
    server = _server_results(store, settings, g, seed, summary)
    levels = detect_circle_hierarchy(
        g,
        seed=seed,
        max_levels=2,
        max_circle_size=MAX_CIRCLE_SIZE,
        top=partition_from_membership(g, server.membership) if server else None,
    )
    report("analyse: circles", 1, 2)
    referrals = ig.Graph.TupleList(referred, directed=True) if referred else None
    if referrals is not None:
        referrals.vs["id"] = referrals.vs["name"]
    scores = influence(g, referrals=referrals, seed=seed, computed=server.parts if server else None)
    report("analyse: circles", 2, 2)
    lap("circles")

    report("analyse: churn and lifecycle", 0, 2)
    forecast: ChurnForecast | None = None
    try:
        forecast = _churn(g, facts, levels[min(1, len(levels) - 1)], settings)
    except InputError as e:
        summary.churn_note = str(e)
    report("analyse: churn and lifecycle", 1, 2)
    lifecycle = _lifecycle(facts, reference)
    report("analyse: churn and lifecycle", 2, 2)
    lap("churn+lifecycle")

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

    customer_rows: dict[str, dict[str, Any]] = {v: {"id": v} for v in scores.ids}
    for i, v in enumerate(scores.ids):
        row = customer_rows[v]
        row["influence"] = round(float(scores.score[i]), 6)
        for part, values in scores.raw.items():
            row[part] = float(values[i])
    for cid, tier in lifecycle.tiers.items():
        customer_rows.setdefault(cid, {"id": cid})["tier"] = tier
    for cid, path in lifecycle.tier_paths.items():
        customer_rows.setdefault(cid, {"id": cid})["tier_path"] = path
    for cid, stage in lifecycle.stages.items():
        customer_rows.setdefault(cid, {"id": cid})["funnel_stage"] = stage
    for cid, path in lifecycle.funnel_paths.items():
        customer_rows.setdefault(cid, {"id": cid})["funnel_path"] = path
    for who, segment in lifecycle.segments.items():
        customer_rows.setdefault(str(who), {"id": str(who)})["rfm_segment"] = str(segment)
    for who, score in lifecycle.rfm["rfm"].items():
        customer_rows[str(who)]["rfm_score"] = str(score)
    risk: dict[str, float] = {}
    if forecast is not None:
        for cid, value, reasons in zip(
            forecast.ids, forecast.risk.tolist(), forecast.reasons, strict=True
        ):
            risk[cid] = value
            customer_rows.setdefault(cid, {"id": cid}).update(
                churn_risk=round(value, 4),
                churn_risk_reasons=[
                    reason_text(r, window_days=forecast.horizon_days) for r in reasons
                ],
            )
        deletions = _last_deletions(facts)
        for who, when in forecast.churned.items():
            cid = str(who)
            risk[cid] = 1.0
            customer_rows.setdefault(cid, {"id": cid}).update(
                churn_risk=1.0,
                churned_at=_iso(when),
                churn_risk_reasons=[
                    f"churned on {pd.Timestamp(when).date()}: {_how(facts, cid, when, deletions)}"
                ],
            )
        summary.churn_scored, summary.churned = len(forecast.ids), len(forecast.churned)
    churned_ids = set(forecast.churned.index.astype(str)) if forecast is not None else set()

    influence_of = dict(zip(scores.ids, scores.score.tolist(), strict=True))
    attributes: dict[str, dict[str, list[str]]] = {
        "interest": facts.interests,
        "tag": facts.tags,
        "tier": {cid: [tier] for cid, tier in lifecycle.tiers.items()},
        "employee": facts.employees,
    }
    circle_rows: list[dict[str, Any]] = []
    memberships: dict[str, list[dict[str, Any]]] = defaultdict(list)
    # A circle that did not split is one circle, at the top level: its key is the same on
    # the next level, and it is not described (or written) again there.
    sub_counts = (
        Counter(key.partition(".")[0] for key in levels[1].keys if "." in key)
        if len(levels) > 1
        else Counter()
    )
    for level, partition in enumerate(levels[:2]):
        if level == 1 and partition.keys == top.keys:
            break
        descriptions = describe_circles(
            g,
            partition,
            influence=influence_of,
            attributes=attributes,
            n_leaders=3,
            # level 1 writes only the sub-circles of those that split
            only={key for key in partition.keys if "." in key} if level == 1 else None,
        )
        # Circles written at this level: level 1 holds only the sub-circles of those that split.
        summary.circles[level] = (
            partition.n_circles if level == 0 else sum("." in key for key in partition.keys)
        )
        if level == 0:
            summary.modularity = partition.modularity
        members = partition.circles()
        lifts = _circle_lifts(partition, members, facts)
        for d in descriptions:
            if level == 1 and "." not in d.key:
                continue
            cid = circle_id(level, d.key)
            top_interest = d.top_attributes.get("interest", [])
            theme = f" · {top_interest[0][0]}" if top_interest else ""
            owners = d.top_attributes.get("employee", [])
            circle_rows.append(
                {
                    "id": cid,
                    "level": level,
                    "parent_id": cid.rsplit(".", 1)[0] if level else None,
                    "sub_circles": sub_counts[d.key] if level == 0 else 0,
                    "size": d.size,
                    "kind": d.kind,
                    "auto_name": f"{d.kind.capitalize()} circle {cid}{theme}",
                    "leaders": [m for m, _ in d.leaders],
                    "top_interests": [v for v, _ in top_interest],
                    "top_tags": [v for v, _ in d.top_attributes.get("tag", [])],
                    "layer_shares": json.dumps(d.layer_shares, sort_keys=True),
                    "tier_mix": json.dumps(dict(d.top_attributes.get("tier", []))),
                    "owners": [e for e, _ in owners[:3]],
                    "owner_counts": json.dumps(dict(owners[:3])),
                    "churn_risk": _mean_of(members[d.key], risk),
                    "churn_rate": (
                        round(sum(m in churned_ids for m in members[d.key]) / d.size, 4)
                        if forecast is not None and d.size
                        else None
                    ),
                    "interest_lift": json.dumps(lifts["interest"].get(d.key, [])),
                    "tag_lift": json.dumps(lifts["tag"].get(d.key, [])),
                    "modularity": partition.modularity,
                }
            )
        for v, c in zip(partition.ids, partition.membership.tolist(), strict=True):
            cid = circle_id(level, partition.keys[c])
            customer_rows[v]["circle_id" if level == 0 else "subcircle_id"] = cid
            # A circle that did not split is the same circle on both levels: one link,
            # holding the finest level (as MERGE with SET gave before).
            mine = memberships[v]
            if mine and mine[-1]["end"] == cid:
                mine[-1]["level"] = level
            else:
                mine.append({"start": v, "end": cid, "level": level})
    summary.tiers = dict(Counter(lifecycle.tiers.values()).most_common())
    summary.funnel = dict(Counter(lifecycle.stages.values()).most_common())
    summary.rfm_segments = lifecycle.summary["rfm_segments"]
    run = _run_node(
        reference,
        lifecycle,
        preferences=_preferences(
            {
                "rfm_segment": {str(k): str(v) for k, v in lifecycle.segments.items()},
                "tier": lifecycle.tiers,
            },
            {"interest": facts.interests, "tag": facts.tags},
        ),
        forecast=forecast,
        note=summary.churn_note,
    )
    lap("describe")

    total = len(circle_rows) + 2 * len(customer_rows)
    done = 0
    report("analyse: write back", 0, total)
    store.upsert_nodes(Node.CIRCLE, circle_rows)
    # A top-level circle has no parent; an upsert skips None, so clear what an earlier run
    # recorded (before session 11 a circle that did not split was written as its own
    # level-1 child).
    tops = [r["id"] for r in circle_rows if r["level"] == 0 and r["id"] in previous]
    if tops:
        store.remove_node_properties(Node.CIRCLE, ["parent_id"], ids=tops)
    store.upsert_nodes(Node.ANALYSIS, [run])
    done += len(circle_rows)
    if match.unmatched_previous:
        stale = [k for k in previous if k.split(".")[0] in set(match.unmatched_previous)]
        store.delete_nodes(Node.CIRCLE, stale)
    rows = list(customer_rows.values())
    # Clear churn results this run does not overwrite (none on a first run).
    store.remove_node_properties(
        Node.CUSTOMER, CHURN_PROPERTIES, ids=_stale_churn(store, customer_rows)
    )
    store.set_node_properties(Node.CUSTOMER, rows)
    done += len(rows)
    report("analyse: write back", done, total)
    # Only customers whose circles changed: a re-run mostly keeps every circle id.
    stored_circles = _by_customer(stored_links)
    changed = [
        r
        for r in rows
        if r["id"] in memberships
        and {m["end"] for m in memberships[r["id"]]} != set(stored_circles.get(r["id"], ()))
    ]
    done += len(rows) - len(changed)
    # Customers with no stored circle (every one, on a first run) have nothing to replace:
    # their links take the store's bulk create path (measured ~2x faster than replacing).
    first = [r["id"] for r in changed if r["id"] not in stored_circles]
    if first:
        store.upsert_relations(
            Rel.IN_CIRCLE, Node.CUSTOMER, Node.CIRCLE, [m for v in first for m in memberships[v]]
        )
        done += len(first)
        report("analyse: write back", done, total)
    moved = [r for r in changed if r["id"] in stored_circles]
    for chunk in _chunks(moved, _WRITE_BATCH):
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
    store.note_graph_change("analysis")
    lap("write")
    return summary


def _server_results(
    store: GraphStore, settings: Settings, g: ig.Graph, seed: int, summary: AnalysisSummary
) -> ServerResults | None:
    """Circles and influence parts from Neo4j GDS when the store has it (see
    :mod:`quanzi.graph.gds`); None, and the reason in ``summary.engine``, when the analysis
    computes them in process instead."""
    runner, summary.engine = server_algorithms(store, settings)
    if runner is None:
        return None
    try:
        return runner.run(g, seed=seed, sampling_size=brokerage_sample_size(g.vcount(), g.ecount()))
    except StoreError as e:
        summary.engine = f"in process ({e})"
        return None


def _stale_churn(store: GraphStore, rows: dict[str, dict[str, Any]]) -> list[str]:
    """Customers holding a churn property from an earlier run that ``rows`` do not rewrite."""
    # "text" reads a missing property as '' and a stored number as itself.
    stored = store.read_node_columns(Node.CUSTOMER, {"churn_risk": "text", "churned_at": "text"})
    stale = []
    for cid, risk, churned in zip(
        stored["id"], stored["churn_risk"], stored["churned_at"], strict=True
    ):
        new = rows.get(str(cid), {})
        if (risk != "" and "churn_risk" not in new) or (churned and "churned_at" not in new):
            stale.append(str(cid))
    return stale


def _mean_of(members: list[str], values: dict[str, float]) -> float | None:
    known = [values[m] for m in members if m in values]
    return round(float(np.mean(known)), 4) if known else None


def _last_deletions(facts: StoredFacts) -> dict[str, Any]:
    """Customer id -> when their last employee contact was deleted, for customers who
    deleted every contact they had."""
    links = facts.timeline.employee_links
    if links.empty:
        return {}
    by_customer = links.assign(customer_id=links["customer_id"].astype(str)).groupby("customer_id")[
        "deleted_at"
    ]
    every = by_customer.count() == by_customer.size()
    last = by_customer.max()
    return {str(k): v for k, v in last[every].items()}


def _how(facts: StoredFacts, customer: str, when: Any, deletions: dict[str, Any]) -> str:
    """Why a customer counts as churned: deleted contacts, or silence."""
    if customer in deletions and deletions[customer] == when:
        return "deleted every employee contact"
    last = facts.timeline.last_seen.get(customer)
    return f"silent since {pd.Timestamp(last).date()}" if pd.notna(last) else "silent"


def _circle_lifts(
    partition: Partition, members: dict[str, list[str]], facts: StoredFacts, top: int = 5
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Top interests and tags of each circle, with their share and lift over everyone."""
    circle_of = {v: key for key, vs in members.items() for v in vs}
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for name, held in (("interest", facts.interests), ("tag", facts.tags)):
        table = preference_distribution(circle_of, held, top=top)
        out[name] = _shares(table, sort=False)
    return out


def _run_node(
    reference: pd.Timestamp,
    lifecycle: _Lifecycle,
    *,
    preferences: dict[str, Any],
    forecast: ChurnForecast | None,
    note: str,
) -> dict[str, Any]:
    """The ``Analysis`` node: population-level results, JSON text where nested."""
    churn: dict[str, Any] = {"scored": False, "note": note}
    if forecast is not None:
        churn = {
            "scored": True,
            "horizon_days": forecast.horizon_days,
            "training_cutoff": _iso(forecast.training["cutoff"]),
            "training_customers": forecast.training["customers"],
            "training_churned": forecast.training["churned"],
            "features": list(forecast.features.columns),
            "customers_scored": len(forecast.ids),
            "churned": len(forecast.churned),
            "mean_risk": round(float(forecast.risk.mean()), 4) if len(forecast.ids) else None,
        }
    return {
        "id": "latest",
        "ran_at": _iso(pd.Timestamp.now(tz="UTC")),
        "reference_at": _iso(reference),
        "tier_conversion": json.dumps(lifecycle.summary["tier_conversion"]),
        "tier_transitions": json.dumps(lifecycle.summary["tier_transitions"]),
        "funnel_conversion": json.dumps(lifecycle.summary["funnel_conversion"]),
        "funnel_transitions": json.dumps(lifecycle.summary["funnel_transitions"]),
        "rfm_segments": json.dumps(lifecycle.summary["rfm_segments"]),
        "preferences": json.dumps(preferences),
        "churn": json.dumps(churn),
    }
