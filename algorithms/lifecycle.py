"""Lifecycle: loyalty tiers, funnel stages, RFM value segments, preferences per segment.

Tiers (potential -> general -> loyal -> member) and funnel stages (first contact ->
intention -> meeting -> order) are both a :class:`Ladder`: ordered labels, each reached
through a :class:`Rule` over per-customer facts. A customer gets the highest label whose
rule holds, so rules are data a marketer can change (``Rule.parse("loyal: orders >= 3")``)
rather than code.

Snapshots taken over time give transitions (:func:`record_transitions`), a transition
table (:func:`transition_matrix`) and conversion rates between consecutive labels
(:func:`conversion_rates`). :func:`rfm_scores` scores recency, frequency and monetary value
by quantile and names the classic RFM segments; :func:`preference_distribution` tells what
each segment (or circle) is interested in, with lift over the whole population.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from quanzi.errors import InputError

__all__ = [
    "FUNNEL",
    "RFM_SEGMENTS",
    "TIERS",
    "Condition",
    "Ladder",
    "Rule",
    "SegmentRule",
    "assign_funnel_stages",
    "assign_tiers",
    "conversion_rates",
    "label_history",
    "preference_distribution",
    "record_transitions",
    "rfm_scores",
    "transition_matrix",
]

_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
}
_CONDITION = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|==|!=|>|<)\s*(.+?)\s*$")


def _literal(text: str) -> float | bool | str:
    lowered = text.lower()
    if lowered in {"true", "false"}:
        return lowered == "true"
    try:
        return float(text)
    except ValueError:
        return text.strip("'\"")


@dataclass(frozen=True)
class Condition:
    """One comparison of a fact with a value, e.g. ``orders >= 3``.

    Attributes
    ----------
    fact : str
        Column of the facts table.
    op : str
        One of ``>=``, ``<=``, ``==``, ``!=``, ``>``, ``<``.
    value : float, bool or str
        What the fact is compared with.
    """

    fact: str
    op: str
    value: float | bool | str

    def __post_init__(self) -> None:
        if self.op not in _OPERATORS:
            raise InputError(f"unknown operator {self.op!r}; use one of {sorted(_OPERATORS)}")

    @classmethod
    def parse(cls, text: str) -> Condition:
        """Parse ``"fact op value"``, e.g. ``"days_since_last_order <= 180"``.

        Examples
        --------
        >>> Condition.parse("is_member == true")
        Condition(fact='is_member', op='==', value=True)
        """
        match = _CONDITION.match(text)
        if not match:
            raise InputError(f"cannot read condition {text!r}; write it as 'orders >= 3'")
        fact, op, value = match.groups()
        return cls(fact, op, _literal(value))

    def holds(self, facts: pd.DataFrame) -> pd.Series:
        """Return, per row, whether the condition holds (missing values never do)."""
        if self.fact not in facts.columns:
            raise InputError(
                f"fact {self.fact!r} is not a column of the facts table "
                f"(columns: {sorted(map(str, facts.columns))})"
            )
        column = facts[self.fact]
        result = _OPERATORS[self.op](column, self.value)
        return pd.Series(np.asarray(result, dtype=bool) & column.notna().to_numpy(), facts.index)


@dataclass(frozen=True)
class Rule:
    """A label and the conditions (all must hold) under which a customer reaches it.

    Attributes
    ----------
    label : str
        The tier or stage reached.
    conditions : tuple of Condition
        All of them must hold.
    """

    label: str
    conditions: tuple[Condition, ...]

    @classmethod
    def parse(cls, text: str) -> Rule:
        """Parse ``"label: condition and condition ..."``.

        Examples
        --------
        >>> rule = Rule.parse("loyal: orders >= 3 and days_since_last_order <= 365")
        >>> rule.label, len(rule.conditions)
        ('loyal', 2)
        """
        label, sep, body = text.partition(":")
        if not sep or not label.strip() or not body.strip():
            raise InputError(f"cannot read rule {text!r}; write it as 'loyal: orders >= 3'")
        parts = re.split(r"\s+and\s+", body.strip(), flags=re.IGNORECASE)
        return cls(label.strip(), tuple(Condition.parse(part) for part in parts))

    def holds(self, facts: pd.DataFrame) -> pd.Series:
        """Return, per row, whether every condition holds."""
        result = pd.Series(True, index=facts.index)
        for condition in self.conditions:
            result &= condition.holds(facts)
        return result


@dataclass(frozen=True)
class Ladder:
    """Ordered labels, lowest first, and the rules that reach them.

    A customer gets the highest label whose rule holds, or the lowest label when none
    does. Labels without a rule are reached only as the default.

    Attributes
    ----------
    labels : tuple of str
        Lowest first.
    rules : tuple of Rule
        One per label above the first (at most).
    """

    labels: tuple[str, ...]
    rules: tuple[Rule, ...]

    def __post_init__(self) -> None:
        if not self.labels or len(set(self.labels)) != len(self.labels):
            raise InputError("a ladder needs distinct labels")
        unknown = [rule.label for rule in self.rules if rule.label not in self.labels]
        if unknown:
            raise InputError(f"rules for labels not on the ladder: {unknown}")

    @classmethod
    def parse(cls, labels: Sequence[str], rules: Iterable[str]) -> Ladder:
        """Build a ladder from labels and rule texts (see :meth:`Rule.parse`)."""
        return cls(tuple(labels), tuple(Rule.parse(text) for text in rules))

    def assign(self, facts: pd.DataFrame) -> pd.Series:
        """Return each customer's label as an ordered categorical, indexed like ``facts``.

        Examples
        --------
        >>> import pandas as pd
        >>> facts = pd.DataFrame({"orders": [0, 1, 5]}, index=["a", "b", "c"])
        >>> Ladder.parse(["new", "buyer", "regular"],
        ...              ["buyer: orders >= 1", "regular: orders >= 3"]).assign(facts).tolist()
        ['new', 'buyer', 'regular']
        """
        rank = np.zeros(len(facts), dtype=np.int64)
        for rule in self.rules:
            level = self.labels.index(rule.label)
            rank = np.where(rule.holds(facts).to_numpy() & (level > rank), level, rank)
        dtype = pd.CategoricalDtype(list(self.labels), ordered=True)
        return pd.Series(
            pd.Categorical.from_codes(rank, dtype=dtype), index=facts.index, name="label"
        )


#: Loyalty tiers. Facts: ``orders``, ``days_since_last_order``, ``is_member``.
TIERS = Ladder.parse(
    ["potential", "general", "loyal", "member"],
    [
        "general: orders >= 1",
        "loyal: orders >= 3 and days_since_last_order <= 365",
        "member: is_member == true",
    ],
)

#: Funnel stages. Facts: ``intent_signals`` (enquiries, price requests, ...), ``meetings``,
#: ``orders``.
FUNNEL = Ladder.parse(
    ["first_contact", "intention", "meeting", "order"],
    ["intention: intent_signals >= 1", "meeting: meetings >= 1", "order: orders >= 1"],
)


def assign_tiers(facts: pd.DataFrame, ladder: Ladder = TIERS) -> pd.Series:
    """Return each customer's loyalty tier (see :data:`TIERS` for the facts it reads).

    Examples
    --------
    >>> import pandas as pd
    >>> facts = pd.DataFrame(
    ...     {"orders": [0, 1, 4, 0], "days_since_last_order": [None, 30, 30, None],
    ...      "is_member": [False, False, False, True]}, index=["a", "b", "c", "d"])
    >>> assign_tiers(facts).tolist()
    ['potential', 'general', 'loyal', 'member']
    """
    return ladder.assign(facts).rename("tier")


def assign_funnel_stages(facts: pd.DataFrame, ladder: Ladder = FUNNEL) -> pd.Series:
    """Return each customer's funnel stage (see :data:`FUNNEL` for the facts it reads).

    Examples
    --------
    >>> import pandas as pd
    >>> facts = pd.DataFrame({"intent_signals": [0, 2, 1], "meetings": [0, 0, 1],
    ...                       "orders": [0, 0, 0]})
    >>> assign_funnel_stages(facts).tolist()
    ['first_contact', 'intention', 'meeting']
    """
    return ladder.assign(facts).rename("stage")


def record_transitions(previous: pd.Series, current: pd.Series, *, at: Any) -> pd.DataFrame:
    """Compare two label snapshots and list the customers whose label changed.

    Parameters
    ----------
    previous, current : pandas.Series
        Labels indexed by customer id. Customers new in ``current`` appear with
        ``from_label`` missing.
    at : datetime-like
        When ``current`` was taken.

    Returns
    -------
    pandas.DataFrame
        Columns ``customer_id``, ``from_label``, ``to_label``, ``at``.

    Examples
    --------
    >>> import pandas as pd
    >>> before = pd.Series({"a": "potential", "b": "general"})
    >>> after = pd.Series({"a": "general", "b": "general", "c": "potential"})
    >>> changes = record_transitions(before, after, at="2025-01-31")
    >>> changes[["customer_id", "to_label"]].values.tolist()
    [['a', 'general'], ['c', 'potential']]
    """
    old = previous.astype(object).reindex(current.index)
    new = current.astype(object)
    changed = old.isna() | (old != new)
    return pd.DataFrame(
        {
            "customer_id": current.index[changed].astype(str),
            "from_label": old[changed].to_numpy(),
            "to_label": new[changed].to_numpy(),
            "at": pd.to_datetime(at),
        }
    ).reset_index(drop=True)


def label_history(
    facts: pd.DataFrame, ladder: Ladder, *, customer: str = "customer_id", at: str = "at"
) -> pd.DataFrame:
    """Every change of label, from facts observed at several times per customer.

    Parameters
    ----------
    facts : pandas.DataFrame
        One row per (customer, time) with the facts the ladder's rules read, e.g. each
        customer's facts at every order and at every month's start.
    ladder : Ladder
        The labels and their rules.
    customer, at : str
        Columns holding the customer id and the time.

    Returns
    -------
    pandas.DataFrame
        Columns ``customer_id``, ``from_label``, ``to_label``, ``at`` (as from
        :func:`record_transitions`): each customer's first label (``from_label`` missing)
        and every later change, in time order; labels may go down as well as up.

    Examples
    --------
    >>> import pandas as pd
    >>> facts = pd.DataFrame({"customer_id": ["a", "a", "a", "b"],
    ...                       "at": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01",
    ...                                             "2024-01-15"]),
    ...                       "orders": [0, 1, 1, 0]})
    >>> ladder = Ladder.parse(["new", "buyer"], ["buyer: orders >= 1"])
    >>> changes = label_history(facts, ladder).fillna({"from_label": "-"})
    >>> changes[["customer_id", "from_label", "to_label"]].values.tolist()
    [['a', '-', 'new'], ['a', 'new', 'buyer'], ['b', '-', 'new']]
    """
    for column in (customer, at):
        if column not in facts.columns:
            raise InputError(f"the facts table needs a {column!r} column")
    ordered = facts.sort_values([customer, at], kind="stable").reset_index(drop=True)
    labels = ladder.assign(ordered).astype(object).to_numpy()
    ids = ordered[customer].astype(str).to_numpy()
    first = np.ones(len(ids), dtype=bool)
    first[1:] = ids[1:] != ids[:-1]
    previous = np.empty(len(labels), dtype=object)
    previous[0:1] = None
    previous[1:] = labels[:-1]
    changed = first | (labels != previous)
    previous[first] = None
    return pd.DataFrame(
        {
            "customer_id": ids[changed],
            "from_label": previous[changed],
            "to_label": labels[changed],
            "at": ordered[at].array[changed],
        }
    )


def transition_matrix(transitions: pd.DataFrame, ladder: Ladder) -> pd.DataFrame:
    """Count transitions from each label (rows) to each label (columns).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"customer_id": ["a", "b"], "from_label": ["potential", "loyal"],
    ...                   "to_label": ["general", "general"], "at": pd.Timestamp("2025-01-01")})
    >>> int(transition_matrix(t, TIERS).loc["loyal", "general"])
    1
    """
    labels = list(ladder.labels)
    known = transitions.dropna(subset=["from_label"])
    table = pd.crosstab(known["from_label"], known["to_label"])
    return table.reindex(index=labels, columns=labels, fill_value=0).astype(np.int64)


def conversion_rates(transitions: pd.DataFrame, ladder: Ladder) -> pd.DataFrame:
    """Conversion between consecutive labels, from a history of transitions.

    A customer reached a label when a transition took them to it or higher (funnels can
    skip stages). ``rate`` is ``converted / reached``: of those who reached ``from_label``,
    the share who went on to ``to_label`` or beyond.

    Parameters
    ----------
    transitions : pandas.DataFrame
        Columns ``customer_id``, ``to_label``, ``at`` (as from :func:`record_transitions`).
    ladder : Ladder
        Gives the order of the labels.

    Returns
    -------
    pandas.DataFrame
        One row per step: ``from_label``, ``to_label``, ``reached``, ``converted``,
        ``rate``, ``median_days`` (time from first reaching ``from_label`` to first
        reaching ``to_label``, among converted customers seen at both).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({
    ...     "customer_id": ["a", "a", "b", "c"],
    ...     "to_label": ["first_contact", "order", "first_contact", "intention"],
    ...     "at": pd.to_datetime(["2025-01-01", "2025-01-11", "2025-01-01", "2025-01-05"])})
    >>> conversion_rates(t, FUNNEL)[["from_label", "reached", "converted"]].values.tolist()[:2]
    [['first_contact', 3, 2], ['intention', 2, 1]]
    """
    labels = list(ladder.labels)
    unknown = set(transitions["to_label"].dropna()) - set(labels)
    if unknown:
        raise InputError(f"labels not on the ladder: {sorted(map(str, unknown))}")
    level = transitions["to_label"].map({label: i for i, label in enumerate(labels)})
    at = pd.to_datetime(transitions["at"])
    frame = pd.DataFrame({"customer_id": transitions["customer_id"], "level": level, "at": at})
    highest = frame.groupby("customer_id")["level"].max()
    rows = []
    for i in range(len(labels) - 1):
        reached = int((highest >= i).sum())
        converted = int((highest >= i + 1).sum())
        first_i = frame[frame["level"] >= i].groupby("customer_id")["at"].min()
        first_next = frame[frame["level"] >= i + 1].groupby("customer_id")["at"].min()
        both = pd.concat([first_i, first_next], axis=1, join="inner", keys=["a", "b"])
        days = (both["b"] - both["a"]).dt.total_seconds() / 86400.0
        days = days[days > 0]
        rows.append(
            {
                "from_label": labels[i],
                "to_label": labels[i + 1],
                "reached": reached,
                "converted": converted,
                "rate": converted / reached if reached else float("nan"),
                "median_days": float(days.median()) if len(days) else float("nan"),
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class SegmentRule:
    """An RFM segment: a range of the recency score and of the mean of F and M scores.

    Bounds are inclusive; the first matching rule of a list wins.

    Examples
    --------
    >>> RFM_SEGMENTS[0]
    SegmentRule(name='champions', recency=(4, 5), frequency_monetary=(4, 5))
    """

    name: str
    recency: tuple[float, float]
    frequency_monetary: tuple[float, float]


#: Classic RFM segments for 5 quantile bins, checked in order.
RFM_SEGMENTS: tuple[SegmentRule, ...] = (
    SegmentRule("champions", (4, 5), (4, 5)),
    SegmentRule("loyal", (3, 5), (3.5, 5)),
    SegmentRule("potential_loyalist", (4, 5), (2, 3.5)),
    SegmentRule("new", (4, 5), (1, 2)),
    SegmentRule("need_attention", (3, 3), (2, 3.5)),
    SegmentRule("at_risk", (1, 2), (3.5, 5)),
    SegmentRule("hibernating", (1, 3), (2, 3.5)),
    SegmentRule("lost", (1, 3), (1, 2)),
)


def _quantile_score(values: pd.Series, bins: int, *, higher_is_better: bool) -> pd.Series:
    ranked = values.rank(pct=True, method="min", ascending=higher_is_better)
    score = np.ceil(ranked.fillna(0.0).to_numpy(dtype=np.float64) * bins).clip(1, bins)
    score[values.isna().to_numpy()] = 1
    return pd.Series(score.astype(np.int64), index=values.index)


def rfm_scores(
    facts: pd.DataFrame,
    *,
    recency: str = "days_since_last_order",
    frequency: str = "orders",
    monetary: str = "monetary",
    bins: int = 5,
    segments: Sequence[SegmentRule] = RFM_SEGMENTS,
) -> pd.DataFrame:
    """Score recency, frequency and monetary value by quantile and name the segment.

    Parameters
    ----------
    facts : pandas.DataFrame
        One row per customer, with the three columns named below.
    recency, frequency, monetary : str
        Column names: days since the last order (missing for never), number of orders,
        money spent.
    bins : int, default 5
        Quantile bins; scores run from 1 (worst) to ``bins`` (best). Ties share a score.
    segments : sequence of SegmentRule
        Named segments, first match wins; ``"others"`` when none matches.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``facts``: ``r``, ``f``, ``m`` scores, ``rfm`` (e.g. ``"545"``),
        ``segment``.

    Examples
    --------
    >>> import pandas as pd
    >>> facts = pd.DataFrame({"days_since_last_order": [3, 40, 400, None],
    ...                       "orders": [12, 4, 6, 0], "monetary": [900.0, 80, 300, 0]},
    ...                      index=["a", "b", "c", "d"])
    >>> rfm_scores(facts, bins=4)[["rfm"]].to_dict()["rfm"]
    {'a': '444', 'b': '322', 'c': '233', 'd': '111'}
    """
    for column in (recency, frequency, monetary):
        if column not in facts.columns:
            raise InputError(f"RFM needs a {column!r} column in the facts table")
    r = _quantile_score(facts[recency].astype(float), bins, higher_is_better=False)
    f = _quantile_score(facts[frequency].astype(float), bins, higher_is_better=True)
    m = _quantile_score(facts[monetary].astype(float), bins, higher_is_better=True)
    fm = (f + m) / 2.0
    segment = pd.Series("others", index=facts.index, dtype=object)
    assigned = pd.Series(False, index=facts.index)
    for rule in segments:
        hit = r.between(*rule.recency) & fm.between(*rule.frequency_monetary) & ~assigned
        segment[hit] = rule.name
        assigned |= hit
    return pd.DataFrame(
        {
            "r": r,
            "f": f,
            "m": m,
            "rfm": r.astype(str) + f.astype(str) + m.astype(str),
            "segment": segment,
        },
        index=facts.index,
    )


def preference_distribution(
    segments: Mapping[str, str] | pd.Series,
    values: Mapping[str, Iterable[str]],
    *,
    top: int = 10,
    min_customers: int = 1,
) -> pd.DataFrame:
    """What each segment (or circle, or tier) prefers, with lift over everyone.

    Parameters
    ----------
    segments : mapping or pandas.Series
        Customer id -> segment (an RFM segment, a tier, a circle key).
    values : mapping of str to iterable of str
        Customer id -> interests, tags or other preference values.
    top : int, default 10
        At most this many values per segment, most common first.
    min_customers : int, default 1
        Leave out values fewer customers of the segment have.

    Returns
    -------
    pandas.DataFrame
        Columns ``segment``, ``value``, ``customers`` (members with the value),
        ``share`` (of the segment's members), ``lift`` (share / share among everyone).

    Examples
    --------
    >>> prefs = preference_distribution(
    ...     {"a": "vip", "b": "vip", "c": "new", "d": "new"},
    ...     {"a": ["golf"], "b": ["golf", "wine"], "c": ["games"], "d": ["wine"]})
    >>> prefs[prefs.segment == "vip"][["value", "customers", "lift"]].values.tolist()
    [['golf', 2, 2.0], ['wine', 1, 1.0]]
    """
    by_customer = pd.Series(segments, dtype=object)
    rows = [
        (customer, value)
        for customer in by_customer.index
        for value in sorted(set(values.get(customer, ())))
    ]
    columns = ["segment", "value", "customers", "share", "lift"]
    if not rows:
        return pd.DataFrame(columns=columns)
    long = pd.DataFrame(rows, columns=["customer_id", "value"])
    long["segment"] = by_customer.loc[long["customer_id"]].to_numpy()
    sizes = by_customer.value_counts()
    overall = long.groupby("value")["customer_id"].nunique() / len(by_customer)
    counts = long.groupby(["segment", "value"])["customer_id"].nunique().rename("customers")
    table = counts.reset_index()
    table = table[table["customers"] >= min_customers]
    table["share"] = table["customers"] / table["segment"].map(sizes).to_numpy()
    table["lift"] = table["share"] / table["value"].map(overall).to_numpy()
    table = table.sort_values(["segment", "customers", "value"], ascending=[True, False, True])
    return table.groupby("segment", sort=True).head(top).reset_index(drop=True)[columns]
