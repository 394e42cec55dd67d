"""Interaction events: validated row by row, aggregated, then written as relations.

People are referenced as ``"<source>:<source_record_id>"``: the records of the contact files.
Events are aggregated per person (source record) while the file streams past, and per customer
once the references are resolved, so a file of millions of events becomes one relation per
pair. What each event type writes is listed in ``docs/ingest.md``.

Examples
--------
>>> agg = EventAggregate()
>>> agg.add({"type": "interaction", "time": "2024-01-01T00:00:00Z", "kind": "call",
...          "from": "crm:1", "to": "wx:2", "count": 3})  # the people it names
[('from', 'crm:1'), ('to', 'wx:2')]
>>> pair = agg.interactions[("crm:1", "wx:2")]
>>> pair.count, pair.weight, pair.last_at, pair.kinds
(3, 6.0, '2024-01-01T00:00:00Z', frozenset({'call'}))
>>> agg.add({"type": "interaction", "time": "2024-01-01T00:00:00Z", "kind": "call",
...          "from": "crm:1", "to": "wx:2", "count": 3})  # the same event once more
[('from', 'crm:1'), ('to', 'wx:2')]
>>> len(set(pair.keys)), pair.count  # a second event, with a key of its own
(2, 6)
"""

from __future__ import annotations

import hashlib
import math
from array import array
from collections import defaultdict
from collections.abc import Container, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from quanzi.ingest.normalise import (
    normalise_datetime,
    normalise_text,
    not_in_future,
    plain_number,
    plain_text,
)
from quanzi.ingest.readers import EVENT_TYPES

__all__ = [
    "INTERACTION_WEIGHTS",
    "MAX_INTERACTION_COUNT",
    "MAX_ORDER_AMOUNT",
    "PERSON_FIELDS",
    "EventAggregate",
    "EventError",
    "Interactions",
    "event_key",
    "heavier_interest",
]

#: The fields of an event that name a person (a contact record), in the order they are checked.
PERSON_FIELDS = ("from", "to", "customer", "inviter", "invitee")

#: Most interactions one event may count (an event is a day's messages, a call or a visit):
#: more is a broken export, and it would outweigh every other tie of the graph.
MAX_INTERACTION_COUNT = 100_000

#: Largest order amount accepted (CNY): larger is a unit or separator mistake, and it would
#: rank the customer first by spend for good.
MAX_ORDER_AMOUNT = 1e10

#: Weight of one interaction of each kind in ``INTERACTS_WITH.weight``.
INTERACTION_WEIGHTS = {"message": 1.0, "call": 2.0, "visit": 3.0}


class EventError(ValueError):
    """One event row is malformed; ``field`` names the culprit."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field_name


def _text(event: Mapping[str, Any], name: str, max_chars: int = 1000) -> str:
    value = plain_text(event.get(name))  # Parquet's dates, times and decimals
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise EventError(
            name, "missing" if value is None else f"expected text, got {type(value).__name__}"
        )
    try:
        text = normalise_text(str(value))
        if text is not None:
            text.encode("utf-8")
    except UnicodeEncodeError:
        raise EventError(
            name, "holds characters that are not valid Unicode text: save the file as UTF-8"
        ) from None
    except ValueError as e:  # an integer of over 4,300 digits
        raise EventError(name, f"cannot be read as text ({e})") from None
    if text is None:
        raise EventError(name, "missing")
    if len(text) > max_chars:
        raise EventError(name, f"value of {len(text)} characters is over {max_chars}")
    return text


def _number(event: Mapping[str, Any], name: str, default: float | None = None) -> float:
    value = plain_number(event.get(name))  # a Parquet decimal
    if value is None and default is not None:
        return default
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise EventError(name, f"expected a number, got {type(value).__name__}")
    try:
        number = float(value)
    except ValueError:
        raise EventError(name, f"{str(value)[:40]!r} is not a number") from None
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise EventError(name, f"expected a finite number, got {str(value)[:40]!r}")
    return number


def _latest(a: str | None, b: str) -> str:
    return b if a is None or b > a else a


def heavier_interest(row: Mapping[str, Any], than: Mapping[str, Any] | None) -> bool:
    """Whether an interest ``row`` stands over ``than``: a larger weight, or the same weight
    reached earlier (as ``graph.queries.merge_ordered`` with ``tie_smallest="at"``), so the
    ``at`` kept does not depend on the order of the events.

    >>> heavier_interest({"weight": 0.5, "at": "2024-01-01"}, {"weight": 0.5, "at": "2024-02-01"})
    True
    """
    return (
        than is None
        or row["weight"] > than["weight"]
        or (row["weight"] == than["weight"] and row["at"] < than["at"])
    )


def event_key(*parts: str | int) -> int:
    """A 64-bit key of one event, from its normalised values (signed, as the stores' integers).

    >>> event_key("crm:1", "wx:2", "call", "2024-01-01T00:00:00Z", 3, 0) == event_key(
    ...     "crm:1", "wx:2", "call", "2024-01-01T00:00:00Z", 3, 0)
    True
    >>> event_key("crm:1", "wx:2", "call", "2024-01-01T00:00:00Z", 3, 1) == event_key(
    ...     "crm:1", "wx:2", "call", "2024-01-01T00:00:00Z", 3, 0)
    False
    """
    digest = hashlib.blake2b(digest_size=8)
    for part in parts:
        digest.update(str(part).encode("utf-8", "surrogatepass") + b"\0")
    return int.from_bytes(digest.digest(), "big", signed=True)


#: A pair's events above this many keep a set of their keys, so that finding a repeated
#: event's occurrence stays cheap however many events one pair has.
_KEY_SET_FROM = 32


@cache
def _with_kind(kinds: frozenset[str], kind: str) -> frozenset[str]:
    """``kinds | {kind}``, one shared set per combination (millions of pairs, a few sets)."""
    return kinds | {kind}


@dataclass(slots=True)
class Interactions:
    """The interactions of one (from, to) pair: totals and each event's key, count and weight.

    Each event is written under its key (``INTERACTS_WITH.event_keys``), so an event loaded
    before, from this file or any other, is not counted again (``graph.queries.ADD_INTERACTIONS``).
    Kept in arrays: a file holds millions of pairs, most of them with one or two events.
    """

    last_at: str
    kinds: frozenset[str] = frozenset()
    keys: array[int] = field(default_factory=lambda: array("q"))
    counts: array[int] = field(default_factory=lambda: array("q"))
    weights: array[float] = field(default_factory=lambda: array("d"))
    _key_set: set[int] | None = None

    @property
    def count(self) -> int:
        return sum(self.counts)

    @property
    def weight(self) -> float:
        return sum(self.weights)

    def add(self, values: tuple[str, ...], kind: str, count: int, weight: float) -> None:
        """One event: ``values`` are its normalised fields; the n-th event of a file with the
        same values is keyed with n, so a file that holds an event twice counts it twice, and
        any other file that holds it (once or twice) adds nothing."""
        key_set = self._key_set
        if key_set is None and len(self.keys) >= _KEY_SET_FROM:
            key_set = self._key_set = set(self.keys)
        seen: Container[int] = self.keys if key_set is None else key_set
        occurrence = 0
        key = event_key(*values, count, occurrence)
        while key in seen:
            occurrence += 1
            key = event_key(*values, count, occurrence)
        self.keys.append(key)
        if key_set is not None:
            key_set.add(key)
        self.counts.append(count)
        self.weights.append(weight)
        self.kinds = _with_kind(self.kinds, kind)


@dataclass
class EventAggregate:
    """Events of one or more files, aggregated per source-record reference.

    Each ``add`` validates one event and raises :class:`EventError` when it is malformed.
    """

    max_chars: int = 1000
    #: When set, only the events that name one of these people are folded in; the others are
    #: still checked (and raise when malformed) but written before: a file run again after the
    #: records it was waiting for were loaded (pipeline._load_events).
    only: frozenset[str] | None = None
    #: (from, to) -> its interactions, each event kept with its key
    interactions: dict[tuple[str, str], Interactions] = field(default_factory=dict)
    #: (person, group) -> {"joined_at", "left_at"}
    memberships: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    #: (person, employee) -> {"added_at", "deleted_at"}
    served: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    #: (inviter, invitee) -> {"campaign_id", "invite_code", "at"}
    referrals: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    #: order id -> every event that names it, in file order: (row, {"person", "amount",
    #: "product", "placed_at"}). Which of them stand is decided once the people are customers:
    #: an order id belongs to one customer (pipeline._order_rows).
    orders: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)
    #: (person, tag) -> {"by", "at"}
    tags: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    #: (person, interest) -> {"weight", "at"}
    interests: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    #: person -> {(time, stage)}
    funnel: dict[str, set[tuple[str, str]]] = field(default_factory=lambda: defaultdict(set))
    #: person -> {(time, tier)}: tiers recorded by the source system
    tiers: dict[str, set[tuple[str, str]]] = field(default_factory=lambda: defaultdict(set))
    #: person -> latest event time
    last_active: dict[str, str] = field(default_factory=dict)
    employees: set[str] = field(default_factory=set)
    groups: set[str] = field(default_factory=set)
    campaigns: set[str] = field(default_factory=set)
    _row: int = field(default=0, init=False, repr=False)

    def people(self) -> set[str]:
        """Every person reference seen."""
        return set(self.last_active)

    def add(self, event: Mapping[str, Any], row: int = 0) -> list[tuple[str, str]] | None:
        """Validate one event and fold it into the aggregates; ``row`` is its place in the file
        (kept with orders, which can be refused only when written).

        Returns the people it names, ``(field, reference)`` in :data:`PERSON_FIELDS` order, or
        ``None`` when it names none of ``only`` and was checked but not folded in.
        """
        self._row = row
        kind = _text(event, "type")
        if kind not in EVENT_TYPES:
            raise EventError(
                "type", f"{kind!r} is not an event type; use one of {sorted(EVENT_TYPES)}"
            )
        raw_time = _text(event, "time")
        try:
            at = not_in_future(normalise_datetime(raw_time), "an event's time")
        except ValueError as e:
            raise EventError("time", str(e)) from None
        assert at is not None
        values = {
            name: _text(event, name, self.max_chars)
            for name in EVENT_TYPES[kind]
            if name != "amount"
        }
        people = [(f, values[f]) for f in PERSON_FIELDS if f in values]
        for person_field, person in people:
            if ":" not in person:
                raise EventError(
                    person_field, f"{person!r} is not a '<source>:<source_record_id>' reference"
                )
        if self.only is not None and not any(p in self.only for _, p in people):
            # Checked like any other (a malformed row is reported again), folded into nothing.
            getattr(EventAggregate(self.max_chars), f"_{kind}")(event, values, at)
            return None
        getattr(self, f"_{kind}")(event, values, at)
        for _, person in people:
            self.last_active[person] = _latest(self.last_active.get(person), at)
        return people

    def _interaction(self, event: Mapping[str, Any], v: dict[str, str], at: str) -> None:
        if v["kind"] not in INTERACTION_WEIGHTS:
            raise EventError("kind", f"{v['kind']!r} is not one of {sorted(INTERACTION_WEIGHTS)}")
        count = _number(event, "count", 1.0)
        if count < 1 or not count.is_integer() or count > MAX_INTERACTION_COUNT:
            raise EventError(
                "count",
                f"expected a whole number from 1 to {MAX_INTERACTION_COUNT:,}, got {count:g}",
            )
        if v["from"] == v["to"]:
            raise EventError("to", "a person does not interact with themselves")
        pair = self.interactions.get((v["from"], v["to"]))
        if pair is None:
            pair = self.interactions[(v["from"], v["to"])] = Interactions(at)
        kind = v["kind"]
        pair.add(
            (v["from"], v["to"], kind, at), kind, int(count), count * INTERACTION_WEIGHTS[kind]
        )
        pair.last_at = _latest(pair.last_at, at)

    def _group_join(self, event: Mapping[str, Any], v: dict[str, str], at: str) -> None:
        state = self.memberships.setdefault((v["customer"], v["group_id"]), {})
        state["joined_at"] = _latest(state.get("joined_at"), at)
        self.groups.add(v["group_id"])

    def _group_leave(self, event: Mapping[str, Any], v: dict[str, str], at: str) -> None:
        state = self.memberships.setdefault((v["customer"], v["group_id"]), {})
        state["left_at"] = _latest(state.get("left_at"), at)
        self.groups.add(v["group_id"])

    def _employee_added(self, event: Mapping[str, Any], v: dict[str, str], at: str) -> None:
        state = self.served.setdefault((v["customer"], v["employee_id"]), {})
        state["added_at"] = _latest(state.get("added_at"), at)
        self.employees.add(v["employee_id"])

    def _employee_deleted(self, event: Mapping[str, Any], v: dict[str, str], at: str) -> None:
        state = self.served.setdefault((v["customer"], v["employee_id"]), {})
        state["deleted_at"] = _latest(state.get("deleted_at"), at)
        self.employees.add(v["employee_id"])

    def _referral(self, event: Mapping[str, Any], v: dict[str, str], at: str) -> None:
        if v["inviter"] == v["invitee"]:
            raise EventError("invitee", "a person does not refer themselves")
        row = {"at": at}
        for name in ("campaign_id", "invite_code"):
            if event.get(name) is not None:
                row[name] = _text(event, name, self.max_chars)
        if "campaign_id" in row:
            self.campaigns.add(row["campaign_id"])
        previous = self.referrals.get((v["inviter"], v["invitee"]))
        if previous is None or at < previous["at"]:
            self.referrals[(v["inviter"], v["invitee"])] = row

    def _order(self, event: Mapping[str, Any], v: dict[str, str], at: str) -> None:
        amount = _number(event, "amount")
        if amount < 0:
            raise EventError("amount", f"an order amount cannot be negative, got {amount}")
        if amount > MAX_ORDER_AMOUNT:
            raise EventError(
                "amount",
                f"{amount:g} is over {MAX_ORDER_AMOUNT:,.0f}: check the unit (CNY, not fen) and "
                "the decimal separator",
            )
        row: dict[str, Any] = {"person": v["customer"], "amount": amount, "placed_at": at}
        if event.get("product") is not None:
            row["product"] = _text(event, "product", self.max_chars)
        self.orders.setdefault(v["order_id"], []).append((self._row, row))

    def _tag_applied(self, event: Mapping[str, Any], v: dict[str, str], at: str) -> None:
        row = {"at": at}
        if event.get("employee_id") is not None:
            row["by"] = _text(event, "employee_id", self.max_chars)
        # The latest event stands, wherever it lies in the file (an export newest first set the
        # oldest, and a copy saved oldest first moved it again); on a tie the last in the file.
        previous = self.tags.get((v["customer"], v["tag"]))
        if previous is None or at >= previous["at"]:
            self.tags[(v["customer"], v["tag"])] = row

    def _interest(self, event: Mapping[str, Any], v: dict[str, str], at: str) -> None:
        weight = _number(event, "weight", 1.0)
        if not 0 <= weight <= 1:
            raise EventError("weight", f"an interest's weight is from 0 to 1, got {weight:g}")
        key = (v["customer"], v["interest"])
        row = {"weight": weight, "at": at}
        if heavier_interest(row, self.interests.get(key)):
            self.interests[key] = row

    def _funnel_stage(self, event: Mapping[str, Any], v: dict[str, str], at: str) -> None:
        self.funnel[v["customer"]].add((at, v["stage"]))

    def _tier_change(self, event: Mapping[str, Any], v: dict[str, str], at: str) -> None:
        self.tiers[v["customer"]].add((at, v["tier"]))
