"""Read the dated facts of every customer from the store, for churn and lifecycle analyses.

Everything here is a read: customers' first contact, stage and tier histories, orders,
employee contacts (added / deleted), group memberships (joined / left), tags, interests and
referrals, as parallel columns (one query each), turned into a
:class:`~quanzi.algorithms.churn.CustomerTimeline` and a table of recorded stages and tiers.

Interactions are stored aggregated per pair with only their last time, which says nothing
about *when else* two customers talked; they are left out of the activity, so a snapshot
taken in the past never sees what came after it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from quanzi.algorithms.churn import CustomerTimeline
from quanzi.graph.store import GraphStore
from quanzi.model import Node, Rel

__all__ = ["StoredFacts", "lifecycle_facts", "read_facts"]

_CUSTOMER = {
    "first_seen": "text",
    "last_active_at": "text",
    "recorded_tier": "text",
    "funnel_history": "list",
    "tier_history": "list",
}


@dataclass(frozen=True)
class StoredFacts:
    """The dated facts of the stored customers.

    Attributes
    ----------
    timeline : CustomerTimeline
        First contact, orders, activity, employee contacts, groups and tags.
    customers : pandas.DataFrame
        Indexed by customer id: ``first_seen``, ``last_active_at`` (UTC), ``recorded_tier``.
    history : pandas.DataFrame
        ``customer_id``, ``at``, ``kind`` (``"stage"`` or ``"tier"``), ``label``: every funnel
        stage and source-system tier change the ingest recorded.
    interests, tags : dict of str to list of str
        Customer id -> interests / tags held now.
    employees : dict of str to list of str
        Customer id -> the employees serving them now (contacts not deleted).
    groups : dict of str to list of str
        Customer id -> every group with a recorded membership (left ones included).
    served_by : dict of str to list of str
        Customer id -> every employee they ever added (deleted contacts included).
    referrals : list of (str, str)
        Every (referrer, referee) customer pair.
    """

    timeline: CustomerTimeline
    customers: pd.DataFrame
    history: pd.DataFrame
    interests: dict[str, list[str]]
    tags: dict[str, list[str]]
    employees: dict[str, list[str]]
    groups: dict[str, list[str]] = field(default_factory=dict)
    served_by: dict[str, list[str]] = field(default_factory=dict)
    referrals: list[tuple[str, str]] = field(default_factory=list)


def _utc(values: list[str]) -> pd.Series:
    series = pd.Series(values, dtype=object).replace("", None)
    return pd.Series(pd.to_datetime(series, utc=True, errors="coerce", format="ISO8601")).astype(
        "datetime64[ns, UTC]"
    )


def _history(ids: list[str], entries: list[list[str]], kind: str) -> pd.DataFrame:
    rows = [
        (cid, text.split(" ", 1)[0], text.split(" ", 1)[-1], kind)
        for cid, items in zip(ids, entries, strict=True)
        for text in items or []
        if " " in text
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "at", "label", "kind"])
    frame["at"] = _utc(frame["at"].tolist()).array
    return frame.dropna(subset=["at"])


def read_facts(store: GraphStore) -> StoredFacts:
    """Read every dated fact the churn and lifecycle analyses use (merged-away customers
    left out)."""
    c = store.read_node_columns(Node.CUSTOMER, _CUSTOMER)
    ids = [str(v) for v in c["id"]]
    customers = pd.DataFrame(
        {
            "first_seen": _utc(c["first_seen"]).array,
            "last_active_at": _utc(c["last_active_at"]).array,
            "recorded_tier": [str(t or "") for t in c["recorded_tier"]],
        },
        index=pd.Index(ids, name="customer_id"),
    )
    history = pd.concat(
        [
            _history(ids, c["funnel_history"], "stage"),
            _history(ids, c["tier_history"], "tier"),
        ],
        ignore_index=True,
    )
    o = store.read_node_columns(
        Node.ORDER, {"customer_id": "text", "placed_at": "text", "amount": "number"}
    )
    orders = pd.DataFrame(
        {"customer_id": o["customer_id"], "at": o["placed_at"], "amount": o["amount"]}
    )
    served = store.read_relation_columns(
        Rel.SERVED_BY, Node.CUSTOMER, Node.EMPLOYEE, {"added_at": "text", "deleted_at": "text"}
    )
    member = store.read_relation_columns(
        Rel.MEMBER_OF, Node.CUSTOMER, Node.GROUP, {"joined_at": "text", "left_at": "text"}
    )
    tagged = store.read_relation_columns(Rel.TAGGED, Node.CUSTOMER, Node.TAG, {"at": "text"})
    liked = store.read_relation_columns(
        Rel.INTERESTED_IN, Node.CUSTOMER, Node.INTEREST, {"at": "text"}
    )
    referred = store.read_relation_columns(
        Rel.REFERRED, Node.CUSTOMER, Node.CUSTOMER, {"at": "text"}
    )
    activity = pd.concat(
        [
            pd.DataFrame({"customer_id": history["customer_id"], "at": history["at"]}),
            pd.DataFrame({"customer_id": member["a"], "at": _utc(member["joined_at"])}),
            pd.DataFrame({"customer_id": served["a"], "at": _utc(served["added_at"])}),
            pd.DataFrame({"customer_id": liked["a"], "at": _utc(liked["at"])}),
            pd.DataFrame({"customer_id": referred["a"], "at": _utc(referred["at"])}),
        ],
        ignore_index=True,
    )
    timeline = CustomerTimeline.build(
        customers["first_seen"],
        orders=orders,
        activity=activity,
        employee_links=pd.DataFrame(
            {
                "customer_id": served["a"],
                "added_at": served["added_at"],
                "deleted_at": served["deleted_at"],
            }
        ),
        group_links=pd.DataFrame(
            {
                "customer_id": member["a"],
                "joined_at": member["joined_at"],
                "left_at": member["left_at"],
            }
        ),
        tags=pd.DataFrame({"customer_id": tagged["a"], "tag": tagged["b"], "at": tagged["at"]}),
        last_seen=customers["last_active_at"],
    )
    by_customer: dict[str, dict[str, list[str]]] = {
        "interest": {},
        "tag": {},
        "employee": {},
        "group": {},
        "served_by": {},
    }
    for kind, cols in (
        ("interest", liked),
        ("tag", tagged),
        ("group", member),
        ("served_by", served),
    ):
        for a, b in zip(cols["a"], cols["b"], strict=True):
            by_customer[kind].setdefault(str(a), []).append(str(b))
    for a, b, added, deleted in zip(
        served["a"], served["b"], served["added_at"], served["deleted_at"], strict=True
    ):
        if not deleted or (added and added > deleted):
            by_customer["employee"].setdefault(str(a), []).append(str(b))
    return StoredFacts(
        timeline=timeline,
        customers=customers,
        history=history,
        interests=by_customer["interest"],
        tags=by_customer["tag"],
        employees=by_customer["employee"],
        groups=by_customer["group"],
        served_by=by_customer["served_by"],
        referrals=list(zip(map(str, referred["a"]), map(str, referred["b"]), strict=True)),
    )


def _instants(values: pd.Series | pd.DatetimeIndex) -> npt.NDArray[np.datetime64]:
    """Zone-aware times as UTC ``datetime64[ns]`` values (no per-value objects)."""
    return np.asarray(pd.DatetimeIndex(values).tz_convert("UTC").tz_localize(None).to_numpy())


def _asof(points: pd.DataFrame, events: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """For every (customer, time) of ``points``, the ``columns`` of that customer's latest
    event at or before the time (missing when there is none)."""
    if events.empty:
        return pd.DataFrame({c: np.nan for c in columns}, index=points.index)
    left = points[["customer_id", "at"]].reset_index()
    right = events[["customer_id", "at", *columns]].copy()
    left["customer_id"] = left["customer_id"].astype(str)
    right["customer_id"] = right["customer_id"].astype(str)
    found = pd.merge_asof(
        left.sort_values("at", kind="stable"),
        right.sort_values("at", kind="stable"),
        on="at",
        by="customer_id",
        direction="backward",
    )
    return found.set_index("index").reindex(points.index)[columns]


def _cumulative(frame: pd.DataFrame, **sums: str) -> pd.DataFrame:
    """Running totals per customer in time order (``count`` counts rows)."""
    ordered = frame.sort_values(["customer_id", "at"], kind="stable").copy()
    grouped = ordered.groupby("customer_id", sort=False)
    for name, source in sums.items():
        ordered[name] = grouped.cumcount() + 1 if source == "count" else grouped[source].cumsum()
    return ordered


def lifecycle_facts(
    facts: StoredFacts,
    reference: pd.Timestamp,
    *,
    member_tiers: Collection[str],
    freq: str = "MS",
) -> pd.DataFrame:
    """The facts the tier and funnel rules read, per customer, at every time they may change.

    Times: the customer's first contact, every order, every recorded stage or tier change,
    the start of every month (``freq``) after first contact, and ``reference`` ("now"), so
    rules on elapsed time (``days_since_last_order <= 365``) are seen to lapse within a month.

    Columns: ``customer_id``, ``at``, ``orders``, ``monetary``, ``days_since_last_order``
    (missing before the first order), ``is_member`` (the recorded tier then is one of
    ``member_tiers``; a customer with a tier but no tier history counts from the start),
    ``intent_signals`` and ``meetings`` (recorded ``intention`` / ``meeting`` stages so far).
    An ``order`` stage recorded without an order counts as one order.
    """
    customers = facts.customers
    timeline = facts.timeline
    history = facts.history
    events = pd.concat(
        [
            timeline.orders[["customer_id", "at"]],
            history[["customer_id", "at"]],
        ],
        ignore_index=True,
    )
    first = customers["first_seen"].copy()
    earliest = events.groupby("customer_id")["at"].min().reindex(first.index)
    first = first.where(first.notna() & ~(earliest < first), earliest)
    first = first.fillna(reference)
    start = first.min().floor("D") if len(first) else reference
    months = pd.date_range(start, reference, freq=freq)
    # Compared and repeated as plain UTC datetime64: a zone-aware .to_numpy() makes one
    # Timestamp object per value (measured: most of this function's time at 5,000 customers).
    month_times = np.tile(_instants(months), len(first))
    later = month_times > np.repeat(_instants(first), len(months))
    grid = pd.DataFrame(
        {
            "customer_id": np.repeat(first.index.to_numpy(), len(months))[later],
            "at": pd.to_datetime(month_times[later], utc=True),
        }
    )
    points = pd.concat(
        [
            pd.DataFrame({"customer_id": first.index, "at": first.array}),
            events[events["at"] <= reference],
            grid,
            pd.DataFrame({"customer_id": first.index, "at": reference}),
        ],
        ignore_index=True,
    )
    points["at"] = pd.to_datetime(points["at"], utc=True).astype("datetime64[ns, UTC]")
    points = points.drop_duplicates().sort_values(["customer_id", "at"], kind="stable")
    points = points.reset_index(drop=True)
    orders = _cumulative(timeline.orders, orders="count", monetary="amount")
    orders["last_order_at"] = orders["at"]
    found = _asof(points, orders, ["orders", "monetary", "last_order_at"])
    stages = history[history["kind"] == "stage"]
    counts: dict[str, pd.Series] = {}
    for label in ("intention", "meeting", "order"):
        mine = _cumulative(stages[stages["label"] == label], n="count")
        counts[label] = _asof(points, mine, ["n"])["n"].fillna(0)
    tiers = history[history["kind"] == "tier"].copy()
    tiers["member"] = tiers["label"].astype(str).str.lower().isin(set(member_tiers))
    held = _asof(points, tiers, ["member"])["member"]
    no_history = ~points["customer_id"].isin(set(tiers["customer_id"]))
    recorded = customers["recorded_tier"].astype(str).str.lower().isin(set(member_tiers))
    timeless = points["customer_id"].map(recorded).fillna(False).astype(bool)
    last_order = pd.to_datetime(found["last_order_at"], utc=True)
    elapsed = (points["at"] - last_order).dt.total_seconds() / 86400.0
    return pd.DataFrame(
        {
            "customer_id": points["customer_id"].to_numpy(),
            "at": points["at"].array,
            "orders": np.maximum(found["orders"].fillna(0).to_numpy(), counts["order"].to_numpy()),
            "monetary": found["monetary"].fillna(0.0).to_numpy(),
            "days_since_last_order": np.floor(elapsed.to_numpy(dtype=np.float64)),
            "is_member": np.where(no_history, timeless, held.eq(True).to_numpy()),
            "intent_signals": counts["intention"].to_numpy(),
            "meetings": counts["meeting"].to_numpy(),
        }
    )
