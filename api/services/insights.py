"""Reading what the analysis wrote back: influencers, churn risk, tiers and the funnel.

The analysis stores scores as customer properties (``influence``, ``pagerank``,
``churn_risk`` with ``churn_risk_reasons``, ``tier``, ``funnel_stage``) and the histories it
derives, ``tier_path`` and ``funnel_path``; ingest records ``funnel_history`` and
``tier_history`` (all ``"<ISO time> <label>"`` strings) and ``SERVED_BY.deleted_at``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from quanzi.api.schemas import (
    AtRiskCustomer,
    AtRiskPage,
    ChurnAlert,
    ChurnAlertPage,
    ChurnDistribution,
    ChurnRiskBin,
    FunnelReport,
    FunnelStep,
    Influencer,
    InfluencerList,
    SegmentFilter,
    TierReport,
)
from quanzi.api.services.access import Principal
from quanzi.api.services.cursor import decode_cursor, encode_cursor
from quanzi.api.services.customers import explanation, filter_params, search_rows, summarise
from quanzi.graph import queries as q
from quanzi.graph.store import GraphStore
from quanzi.settings import Settings

__all__ = [
    "FUNNEL_STAGES",
    "RECORDED_TIERS",
    "SCORED_TIERS",
    "at_risk",
    "churn_alerts",
    "churn_distribution",
    "churn_reasons",
    "funnel_report",
    "tier_report",
    "top_influencers",
]

#: Funnel stages in order (as ingest records them and ``quanzi.algorithms.lifecycle.FUNNEL``).
FUNNEL_STAGES = ("first_contact", "intention", "meeting", "order")
#: Tiers the source systems record, in order; every customer starts as ``member``.
RECORDED_TIERS = ("member", "silver", "gold", "platinum")
#: Tiers the analysis scores, in order (``quanzi.algorithms.lifecycle.TIERS``).
SCORED_TIERS = ("potential", "general", "loyal", "member")


def top_influencers(
    store: GraphStore,
    settings: Settings,
    principal: Principal,
    *,
    by: Literal["influence", "pagerank"] = "influence",
    scope: Mapping[str, str] | None = None,
    k: int = 20,
) -> InfluencerList:
    """The ``k`` customers with the highest ``by`` score, overall or within a circle, group
    or employee's customers (``scope`` = ``{"circle": id}`` and so on)."""
    scope = dict(scope or {})
    rows, _ = search_rows(
        store,
        settings,
        principal,
        SegmentFilter.model_validate(scope),
        sort=f"-{by}",
        limit=k,
        extra={f"{by}_min": 0.0},
    )
    items = [
        Influencer(rank=i, score=float(row[by]), customer=summary)
        for i, (row, summary) in enumerate(
            zip(rows, summarise(store, principal, rows), strict=True), 1
        )
    ]
    return InfluencerList(by=by, scope=scope, items=items)


def churn_reasons(props: Mapping[str, Any]) -> list[Any]:
    """The reasons the analysis gave for a customer's churn risk, if any."""
    return explanation(props, "churn_risk") or explanation(props, "churn")


def churn_distribution(store: GraphStore) -> ChurnDistribution:
    """The scored customers by tenth of churn risk (a risk of 1.0 in the last tenth), read
    in one pass over the customers."""
    tenths = [0] * 10
    for row in store.read_autocommit(q.API_CHURN_TENTHS, "reading the churn risk spread"):
        if row["tenth"] is not None:
            tenths[min(max(int(row["tenth"]), 0), 9)] += int(row["n"])
    return ChurnDistribution(
        scored=sum(tenths),
        bins=[
            ChurnRiskBin(low=i / 10, high=(i + 1) / 10, customers=n) for i, n in enumerate(tenths)
        ],
    )


def at_risk(
    store: GraphStore,
    settings: Settings,
    principal: Principal,
    filters: SegmentFilter,
    *,
    min_risk: float = 0.5,
    limit: int = 50,
    cursor: str | None = None,
) -> AtRiskPage:
    """Customers whose churn risk is at least ``min_risk``, riskiest first, with reasons."""
    filters = filters.model_copy(
        update={"churn_risk_min": max(min_risk, filters.churn_risk_min or 0.0)}
    )
    rows, next_cursor = search_rows(
        store, settings, principal, filters, sort="-churn_risk", limit=limit, cursor=cursor
    )
    items = [
        AtRiskCustomer(churn_risk=float(row["churn_risk"]), reasons=churn_reasons(row), customer=s)
        for row, s in zip(rows, summarise(store, principal, rows), strict=True)
    ]
    return AtRiskPage(items=items, next_cursor=next_cursor)


def churn_alerts(
    store: GraphStore,
    settings: Settings,
    principal: Principal,
    *,
    since: str,
    employee: str | None = None,
    mine: bool = False,
    limit: int = 50,
    cursor: str | None = None,
) -> ChurnAlertPage:
    """Customers who deleted an employee since ``since``, newest first."""
    if mine:
        employee = filter_params(SegmentFilter(mine=True, employee=employee), principal, settings)[
            "employee"
        ]
    before_at, after_id = ("9999", "")
    if cursor is not None:
        key, after_id = decode_cursor(cursor, "alerts")
        before_at = str(key)
    rows = store.read(
        q.API_CHURN_ALERTS,
        "reading churn alerts",
        since=since,
        employee=employee,
        before_at=before_at,
        after_id=after_id,
        limit=limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    summaries = summarise(store, principal, [r["customer"] for r in rows])
    items = [
        ChurnAlert(
            employee_id=r["employee_id"],
            employee_name=r["employee_name"],
            added_at=r["added_at"],
            deleted_at=r["deleted_at"],
            customer=s,
        )
        for r, s in zip(rows, summaries, strict=True)
    ]
    next_cursor = (
        encode_cursor("alerts", rows[-1]["deleted_at"], str(rows[-1]["customer"]["id"]))
        if more
        else None
    )
    return ChurnAlertPage(items=items, next_cursor=next_cursor)


def _ladder(
    paths: Sequence[Mapping[str, Any]], field: str, labels: Sequence[str], base: int | None = None
) -> tuple[dict[str, int], list[FunnelStep]]:
    """Customers reaching each label (or a later one) and the conversion between labels.

    ``base`` counts everyone as having reached the first label (tiers start at ``member``).
    """
    level = {label: i for i, label in enumerate(labels)}
    highest: Counter[int] = Counter()
    for row in paths:
        reached = [level[x] for x in row[field] if x in level]
        if reached:
            highest[max(reached)] += int(row["n"])
    at_least = [sum(n for lvl, n in highest.items() if lvl >= i) for i in range(len(labels))]
    if base is not None:
        at_least[0] = max(at_least[0], base)
    steps = [
        FunnelStep(
            from_stage=labels[i],
            to_stage=labels[i + 1],
            reached=at_least[i],
            converted=at_least[i + 1],
            rate=round(at_least[i + 1] / at_least[i], 4) if at_least[i] else None,
        )
        for i in range(len(labels) - 1)
    ]
    return dict(zip(labels, at_least, strict=True)), steps


def _current(store: GraphStore) -> list[dict[str, Any]]:
    return store.read(q.API_TIER_COUNTS, "counting tiers and stages")


def funnel_report(store: GraphStore, *, start: str, end: str) -> FunnelReport:
    """Stages reached in [``start``, ``end``) and conversion between consecutive stages.

    A customer who reached a later stage in the period counts as having reached the earlier
    ones (funnels may skip stages).
    """
    paths = store.read(q.API_FUNNEL_PATHS, "reading funnel histories", start=start, end=end)
    reached, steps = _ladder(paths, "stages", FUNNEL_STAGES)
    current: Counter[str] = Counter()
    for row in _current(store):
        current[row["funnel_stage"] or "none"] += int(row["n"])
    return FunnelReport(start=start, end=end, reached=reached, steps=steps, current=dict(current))


def tier_report(store: GraphStore, *, start: str, end: str) -> TierReport:
    """Tiers now (scored and recorded) and recorded tier changes in [``start``, ``end``)."""
    tiers: Counter[str] = Counter()
    recorded: Counter[str] = Counter()
    for row in _current(store):
        tiers[row["tier"] or "unscored"] += int(row["n"])
        recorded[row["recorded_tier"] or "member"] += int(row["n"])
    paths = store.read(q.API_TIER_PATHS, "reading tier histories", start=start, end=end)
    changes: Counter[str] = Counter()
    for row in paths:
        for tier in set(row["tiers"]):
            changes[tier] += int(row["n"])
    _, steps = _ladder(paths, "tiers", RECORDED_TIERS, base=sum(recorded.values()))
    scored = store.read(q.API_SCORED_TIER_PATHS, "reading tier paths", start=start, end=end)
    scored_changes: Counter[str] = Counter()
    for row in scored:
        for tier in set(row["tiers"]):
            scored_changes[tier] += int(row["n"])
    _, scored_steps = _ladder(scored, "tiers", SCORED_TIERS)
    return TierReport(
        start=start,
        end=end,
        tiers=dict(tiers),
        recorded_tiers=dict(recorded),
        changes=dict(changes),
        steps=steps,
        scored_changes=dict(scored_changes),
        scored_steps=scored_steps,
    )
