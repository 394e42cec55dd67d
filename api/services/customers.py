"""Customers: look-up (following merges), search with cursor pagination, the 360 view."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from quanzi.api.errors import CustomerMovedError
from quanzi.api.schemas import (
    Customer360,
    CustomerFilter,
    CustomerPage,
    CustomerProfile,
    CustomerSummary,
    IdentityPublic,
    Score,
    SegmentFilter,
    TimelineEvent,
    iso,
)
from quanzi.api.services.access import (
    Principal,
    Visibility,
    mask_field,
    mask_identity_id,
    mask_properties,
)
from quanzi.api.services.cursor import decode_cursor, encode_cursor
from quanzi.api.services.name_table import NameTable
from quanzi.errors import InputError, NotFoundError
from quanzi.graph import queries as q
from quanzi.graph.store import GraphStore
from quanzi.ingest.normalise import normalise_email, normalise_phone
from quanzi.model import Node, Rel
from quanzi.settings import Settings

__all__ = [
    "MAX_MERGE_HOPS",
    "SCORE_FIELDS",
    "count_customers",
    "customer_360",
    "customer_ids",
    "explanation",
    "filter_params",
    "find_customer",
    "parse_sort",
    "search_customers",
    "search_rows",
    "summarise",
    "summary_rows",
    "survivor_of",
    "survivors",
]

#: Longest chain of merges followed from an old id to the surviving customer.
MAX_MERGE_HOPS = 20

#: Customer properties shown as scores, with their explanation in ``<name>_reasons`` (a list
#: of text, or JSON text of a list) or ``<name>explanation`` when the analysis wrote one.
SCORE_FIELDS = (
    "influence",
    "pagerank",
    "referral_reach",
    "brokerage",
    "core",
    "reach",
    "core_depth",
    "churn_risk",
    "tier",
    "recorded_tier",
    "funnel_stage",
    "rfm_segment",
    "rfm_score",
    "circle_id",
    "subcircle_id",
)

_SUMMARY_FIELDS = (
    "name",
    "name_latin",
    "channels",
    "tier",
    "recorded_tier",
    "funnel_stage",
    "churn_risk",
    "influence",
    "pagerank",
    "circle_id",
    "first_seen",
    "last_active_at",
    "order_count",
    "total_spent",
)
_PROFILE_FIELDS = ("gender", "birth_date", "city", "company", "record_count", "merged_ids")
_HIDDEN = frozenset(
    {"id", "funnel_history", "tier_history", "merge_reason", "updated_at", "merged_into"}
)
_CONTACT_KINDS = ["phone", "email"]
_DATE_FILTERS = ("created_from", "created_to", "active_from", "active_to")


# -- filters and sorting -------------------------------------------------------------------------
def parse_sort(sort: str) -> tuple[str, bool]:
    """``"-churn_risk"`` -> ``("churn_risk", True)``; unknown keys raise :class:`InputError`."""
    key, descending = (sort[1:], True) if sort.startswith("-") else (sort, False)
    if key not in q.CUSTOMER_SORT_KEYS:
        raise InputError(
            f"sort: {sort!r} is not a sort order; use one of {sorted(q.CUSTOMER_SORT_KEYS)}"
        )
    return key, descending


def filter_params(
    filters: SegmentFilter, principal: Principal, settings: Settings
) -> dict[str, Any]:
    """The store parameters of a filter: one per condition given, normalised.

    Phones and e-mails become identity ids (normalised as ingest does), names lower-case,
    times ISO text in UTC; ``mine`` becomes the employee of the caller's key.
    """
    params: dict[str, Any] = {}
    for name, value in filters.model_dump(exclude_none=True).items():
        if name == "mine":
            continue
        if name in _DATE_FILTERS:
            params[name] = iso(value)
        else:
            params[name] = value
    if isinstance(filters, CustomerFilter):
        if filters.name is not None:
            params["name"] = filters.name.strip().lower()
        if filters.phone is not None:
            try:
                phone = normalise_phone(filters.phone, settings.default_phone_region)
            except ValueError as e:
                raise InputError(f"phone: {e}") from None
            params["phone"] = f"phone:{phone}"
        if filters.email is not None:
            try:
                email = normalise_email(filters.email)
            except ValueError as e:
                raise InputError(f"email: {e}") from None
            params["email"] = f"email:{email}"
    if filters.mine:
        if principal.employee_id is None:
            raise InputError(
                "mine: your API key is not bound to an employee; ask an admin for a sales key "
                "with employee_id, or filter by employee instead"
            )
        if filters.employee not in (None, principal.employee_id):
            raise InputError("employee: conflicts with mine=true; give one of them")
        params["employee"] = principal.employee_id
    return params


# -- look-up -------------------------------------------------------------------------------------
def _read_customer(store: GraphStore, customer_id: str) -> dict[str, Any] | None:
    return store.get_node(Node.CUSTOMER, customer_id)


def survivor_of(store: GraphStore, customer_id: str) -> tuple[str, dict[str, Any]]:
    """The customer an id now stands for, following merges: ``(id, properties)``."""
    props = _read_customer(store, customer_id)
    hops = 0
    while props is not None and props.get("merged_into") and hops < MAX_MERGE_HOPS:
        props = _read_customer(store, str(props["merged_into"]))
        hops += 1
    if props is None:
        raise NotFoundError(f"No customer with id {customer_id!r}")
    return str(props["id"]), props


def survivors(store: GraphStore, customer_ids: Sequence[str]) -> dict[str, str]:
    """For each known id, the customer it now stands for (following merges); unknown ids
    are left out. One query for ids that were never merged."""
    rows = store.read_collected(
        q.CUSTOMER_MERGED_INTO, "reading customers", ids=list(dict.fromkeys(customer_ids))
    )
    out: dict[str, str] = {}
    for cid, merged_into in rows:
        if merged_into:
            try:
                out[str(cid)] = survivor_of(store, str(cid))[0]
            except NotFoundError:
                continue
        else:
            out[str(cid)] = str(cid)
    return out


def find_customer(store: GraphStore, customer_id: str) -> dict[str, Any]:
    """A customer's properties; :class:`CustomerMovedError` for a merged id."""
    survivor, props = survivor_of(store, customer_id)
    if survivor != customer_id:
        raise CustomerMovedError(customer_id, survivor)
    return props


# -- summaries -----------------------------------------------------------------------------------
def _contact_points(store: GraphStore, ids: Sequence[str]) -> dict[str, dict[str, list[str]]]:
    if not ids:
        return {}
    rows = store.read_collected(
        q.API_CONTACT_POINTS, "reading phones and e-mails", ids=list(ids), kinds=_CONTACT_KINDS
    )
    return _by_customer(rows)


def _by_customer(points: Iterable[Sequence[Any]]) -> dict[str, dict[str, list[str]]]:
    """``[customer id, kind, key]`` triples as customer id -> kind -> keys."""
    out: dict[str, dict[str, list[str]]] = {}
    for cid, kind, key in points:
        out.setdefault(str(cid), {}).setdefault(kind, []).append(key)
    return out


def _summary_fields(props: Mapping[str, Any]) -> dict[str, Any]:
    out = {f: props.get(f) for f in _SUMMARY_FIELDS}
    out["channels"] = list(out["channels"] or [])
    for number in ("churn_risk", "influence", "pagerank", "total_spent"):
        value = out[number]
        if value is not None:
            out[number] = float(value)
    if out["order_count"] is not None:
        out["order_count"] = int(out["order_count"])
    return out


def _summary(
    props: Mapping[str, Any], contact: Mapping[str, list[str]], shown: bool
) -> CustomerSummary:
    def values(kind: str) -> list[str]:
        return [v if shown else mask_field(kind, v) for v in sorted(contact.get(kind, []))]

    return CustomerSummary(
        id=str(props["id"]),
        **_summary_fields(props),
        phones=values("phone"),
        emails=values("email"),
        masked=not shown,
    )


def summary_rows(store: GraphStore, customer_ids: Sequence[str], what: str) -> list[dict[str, Any]]:
    """Property maps of the given customers with only what :func:`summarise` shows (and
    ``merged_into``), their phones and e-mails included (one round trip for both); unknown
    ids are left out."""
    if not customer_ids:
        return []
    rows = store.read_collected(
        q.customer_fields(_SUMMARY_FIELDS, contact_points=True),
        what,
        ids=list(customer_ids),
        kinds=_CONTACT_KINDS,
    )
    return [{k: v for k, v in dict(r).items() if v is not None} for r in rows]


def summarise(
    store: GraphStore, principal: Principal, rows: Sequence[Mapping[str, Any]]
) -> list[CustomerSummary]:
    """List entries for customer property maps, with phones and e-mails masked as needed.

    Phones and e-mails come from the maps' ``contact_points`` where :func:`summary_rows`
    read them, else from one read for all the maps."""
    ids = [str(r["id"]) for r in rows]
    if all("contact_points" in r for r in rows):
        points = _by_customer((r["id"], *p) for r in rows for p in r["contact_points"])
    else:
        points = _contact_points(store, ids)
    unmasked = Visibility(store, principal).unmasked(ids)
    return [_summary(p, points.get(str(p["id"]), {}), str(p["id"]) in unmasked) for p in rows]


# -- search --------------------------------------------------------------------------------------
def search_rows(
    store: GraphStore,
    settings: Settings,
    principal: Principal,
    filters: SegmentFilter,
    *,
    sort: str = "name",
    limit: int = 50,
    cursor: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of customer property maps and the cursor of the next page (``None`` at the end).

    ``extra`` adds store filters by name (see ``CUSTOMER_FILTERS`` in
    :mod:`quanzi.graph.queries`) that the filter schema does not offer, e.g.
    ``{"pagerank_min": 0.0}``.
    """
    key, descending = parse_sort(sort)
    params = filter_params(filters, principal, settings) | dict(extra or {})
    names = set(params)
    after = decode_cursor(cursor, sort) if cursor is not None else None
    if descending and key in q.CUSTOMER_SCORE_SORTS and (after is None or _scored(after[0])):
        # Scores are >= 0 and missing ones sort as -1: without a minimum, a page comes from
        # the scored customers when there are enough of them.
        implied = f"{key}_min" not in names
        top = _score_page(
            store,
            names | {f"{key}_min"},
            params | {f"{key}_min": -1.0} if implied else params,
            key,
            limit,
            after=after,
            needs_full_page=implied,
        )
        if top is not None:
            return top
    if after is not None:
        params["after_key"], params["after_id"] = after
    query = q.api_customer_page(names, sort=key, descending=descending, after=after is not None)
    rows = store.read_collected(query, "searching customers", **params, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = (
        encode_cursor(sort, rows[-1]["sort_key"], str(rows[-1]["props"]["id"])) if more else None
    )
    return [dict(r["props"]) for r in rows], next_cursor


_TOP_SPARE = 25


def _scored(key: Any) -> bool:
    """Whether a cursor's sort value is a score (missing scores sort as -1)."""
    return isinstance(key, int | float) and key >= 0


def _score_page(
    store: GraphStore,
    names: set[str],
    params: dict[str, Any],
    key: str,
    limit: int,
    *,
    after: tuple[Any, str] | None,
    needs_full_page: bool,
) -> tuple[list[dict[str, Any]], str | None] | None:
    """A page of a score order (highest first, ties by id) read through the score's index
    (see :func:`quanzi.graph.queries.api_customer_top`), or ``None`` when the general query
    must answer (``needs_full_page``: the scored customers run out before the page is full,
    so customers without the score would follow).

    The index gives the highest scores in no fixed order among equals: the customers tied
    at the end of what was read are read again by id (``bound="tie"``), and the next read
    starts below their score. Many customers can share a score (18k of 100k had a churn
    risk of exactly 1.0): the tie read takes them by id, a page at a time, where the
    general query would order every customer (0.8 s at 100k).
    """
    want = limit + 1
    rows: list[dict[str, Any]] = []

    def read(bound: q.TopBound, count: int, **extra: Any) -> list[dict[str, Any]]:
        return store.read_customer_top(
            names, sort=key, what="ranking customers", bound=bound, **params, **extra, limit=count
        )

    below: Any = None
    if after is not None:
        below, after_id = after
        rows = read("tie", want, tie=below, after_id=after_id)
    while len(rows) < want:
        ask = want - len(rows) + _TOP_SPARE
        chunk = read(None, ask) if below is None else read("below", ask, below=below)
        chunk.sort(key=lambda r: (-float(r["sort_key"]), str(r["props"]["id"])))
        if len(chunk) < ask:  # every scored customer left
            rows += chunk
            if needs_full_page and len(rows) <= limit:
                return None
            break
        below = chunk[-1]["sort_key"]
        rows += [r for r in chunk if r["sort_key"] != below]
        if len(rows) < want:
            rows += read("tie", want - len(rows), tie=below, after_id="")
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = (
        encode_cursor(f"-{key}", rows[-1]["sort_key"], str(rows[-1]["props"]["id"]))
        if more
        else None
    )
    return [dict(r["props"]) for r in rows], next_cursor


def count_customers(
    store: GraphStore,
    settings: Settings,
    principal: Principal,
    filters: SegmentFilter,
    *,
    extra: Mapping[str, Any] | None = None,
) -> int:
    """How many customers match ``filters``."""
    params = filter_params(filters, principal, settings) | dict(extra or {})
    rows = store.read_autocommit(q.api_customer_count(set(params)), "counting customers", **params)
    return int(rows[0]["n"]) if rows else 0


#: Counts the matches of a search while the page is read: a filter no index serves (a name
#: part) scans every customer twice, once for each (name=zhang at 100k customers: 465 ms
#: with the total one after the other, docs/api-latency.md).
_COUNTS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="quanzi-count")


def search_customers(
    store: GraphStore,
    settings: Settings,
    principal: Principal,
    filters: SegmentFilter,
    *,
    sort: str = "name",
    limit: int = 50,
    cursor: str | None = None,
    include_total: bool = False,
    extra: Mapping[str, Any] | None = None,
    names: NameTable | None = None,
) -> CustomerPage:
    """One page of customers matching ``filters`` in order ``sort`` (ties by id).

    Paging is by keyset: ``next_cursor`` names the last row, so pages stay consistent while
    customers are added, and deep pages cost no more than the first. With ``names``, a name
    filter without an anchoring one (phone, e-mail, tag, circle, employee, group, interest)
    is answered from that table of names and the search starts from the matching ids.
    """
    if names is not None and isinstance(filters, CustomerFilter) and filters.name is not None:
        anchored = set(filter_params(filters, principal, settings)) & q.CUSTOMER_ANCHORS.keys()
        found = None if anchored else names.matching(store, filters.name.strip().lower())
        if found is not None:
            filters = filters.model_copy(update={"name": None})
            extra = {**(extra or {}), q.CUSTOMER_IDS_FILTER: found}
    counting = (
        _COUNTS.submit(count_customers, store, settings, principal, filters, extra=extra)
        if include_total
        else None
    )
    rows, next_cursor = search_rows(
        store, settings, principal, filters, sort=sort, limit=limit, cursor=cursor, extra=extra
    )
    total = counting.result() if counting is not None else None
    return CustomerPage(
        items=summarise(store, principal, rows), next_cursor=next_cursor, total=total
    )


def customer_ids(
    store: GraphStore,
    settings: Settings,
    principal: Principal,
    filters: SegmentFilter,
    *,
    limit: int = 100_000,
    extra: Mapping[str, Any] | None = None,
) -> list[str]:
    """Ids of the customers matching ``filters`` (and ``extra`` store filters), by id."""
    params = filter_params(filters, principal, settings) | dict(extra or {})
    ids = store.read_collected(
        q.api_customer_ids(set(params)), "selecting customers", **params, limit=limit
    )
    return [str(i) for i in ids]


# -- 360 -----------------------------------------------------------------------------------------
def explanation(props: Mapping[str, Any], name: str) -> list[Any]:
    """The explanation stored beside score ``name`` (``<name>_reasons`` or
    ``<name>_explanation``: a list, or JSON text of one), as a list."""
    raw = props.get(f"{name}_reasons", props.get(f"{name}_explanation"))
    if raw is None:
        return []
    if isinstance(raw, str):
        try:
            decoded = json.loads(raw)
        except ValueError:
            return [raw]
        return decoded if isinstance(decoded, list) else [decoded]
    return list(raw) if isinstance(raw, list | tuple) else [raw]


def _scores(props: Mapping[str, Any]) -> list[Score]:
    return [
        Score(name=name, value=props[name], explanation=explanation(props, name))
        for name in SCORE_FIELDS
        if props.get(name) is not None
    ]


def _profile(props: Mapping[str, Any], summary: CustomerSummary, shown: bool) -> CustomerProfile:
    extra = {f: props.get(f) for f in _PROFILE_FIELDS}
    extra["merged_ids"] = list(extra["merged_ids"] or [])
    if not shown:
        extra["birth_date"] = mask_field("birth_date", extra["birth_date"])
    known = set(_SUMMARY_FIELDS) | set(_PROFILE_FIELDS) | _HIDDEN
    other = {
        k: v
        for k, v in props.items()
        if k not in known and not k.endswith(("_reasons", "_explanation"))
    }
    if not shown:
        other = mask_properties(other)
    return CustomerProfile.model_validate(summary.model_dump() | extra | {"other": other})


def _history(values: Iterable[str] | None, kind: str, what: str) -> list[TimelineEvent]:
    events = []
    for entry in values or []:
        at, _, label = str(entry).partition(" ")
        events.append(TimelineEvent(at=at, kind=kind, summary=f"{what} {label}"))
    return events


def _identity(rel: Mapping[str, Any], shown: bool) -> IdentityPublic:
    node = dict(rel["node"])
    evidence = {k: v for k, v in rel["rel"].items() if k != "rule"}
    kind = str(node.get("kind") or "record")
    channel = str(node.get("channel") or kind)
    skip = {"id", "kind", "channel", "key", "content_hash"}
    properties = {k: v for k, v in node.items() if k not in skip}
    identity_id, key = str(node["id"]), node.get("key")
    if not shown:
        properties = mask_properties(properties)
        identity_id, key = mask_identity_id(identity_id), mask_field(kind, key)
        if "matched" in evidence:
            evidence["matched"] = mask_identity_id(str(evidence["matched"]))
    return IdentityPublic(
        id=identity_id,
        kind=kind,
        channel=channel,
        key=key,
        rule=rel["rel"].get("rule"),
        evidence=evidence,
        properties=properties,
    )


def customer_360(
    store: GraphStore,
    principal: Principal,
    customer_id: str,
    *,
    timeline_limit: int = 100,
    contacts_limit: int = 10,
    orders_limit: int = 10,
) -> Customer360:
    """Everything known about one customer, in one query.

    Raises :class:`CustomerMovedError` for a merged id and :class:`NotFoundError` for an
    unknown one.
    """
    rows = store.read_autocommit(
        q.API_CUSTOMER_360, "reading a customer", id=customer_id, skip=[Rel.INTERACTS_WITH.value]
    )
    if not rows:
        find_customer(store, customer_id)  # raises: moved, or not found
        raise NotFoundError(f"No customer with id {customer_id!r}")
    props: dict[str, Any] = dict(rows[0]["customer"])
    if props.get("merged_into"):
        find_customer(store, customer_id)
    relations = [r for r in rows[0]["relations"] if r.get("type")]
    # Whether a sales key's employee serves the customer is in the relations just read.
    shown = Visibility(store, principal).shows_served(
        (str(r["node"].get("id")), r["rel"].get("active"))
        for r in relations
        if r["type"] == Rel.SERVED_BY and r["outgoing"] and r.get("label") == Node.EMPLOYEE
    )

    identities: dict[str, list[IdentityPublic]] = {}
    lists: dict[str, list[dict[str, Any]]] = {
        name: []
        for name in (
            "employees",
            "groups",
            "circles",
            "tags",
            "interests",
            "referred_by",
            "referred",
            "campaigns",
            "orders",
        )
    }
    timeline: list[TimelineEvent] = []

    def happened(at: Any, kind: str, summary: str, ref: str | None = None) -> None:
        if at:
            timeline.append(TimelineEvent(at=str(at), kind=kind, summary=summary, ref=ref))

    happened(props.get("first_seen"), "first_contact", "first seen")
    timeline += _history(props.get("funnel_history"), "funnel_stage", "reached funnel stage")
    timeline += _history(props.get("tier_history"), "tier", "reached tier")

    for rel in relations:
        kind, node, attrs = rel["type"], dict(rel["node"]), dict(rel["rel"])
        nid = str(node.get("id"))
        label = str(node.get("name") or nid)
        if kind == Rel.HAS_IDENTITY:
            identity = _identity(rel, shown)
            identities.setdefault(identity.channel, []).append(identity)
            if identity.kind == "record":
                what = f"record created in {identity.channel}"
                happened(node.get("created_at"), "record", what, identity.id)
        elif kind == Rel.SERVED_BY:
            lists["employees"].append(
                {"id": nid, "name": node.get("name"), "team": node.get("team"), **attrs}
            )
            happened(attrs.get("added_at"), "employee_added", f"added employee {label}", nid)
            happened(attrs.get("deleted_at"), "employee_deleted", f"deleted employee {label}", nid)
        elif kind == Rel.MEMBER_OF:
            lists["groups"].append(
                {"id": nid, "name": node.get("name"), "kind": node.get("kind"), **attrs}
            )
            happened(attrs.get("joined_at"), "group_join", f"joined group {label}", nid)
            happened(attrs.get("left_at"), "group_leave", f"left group {label}", nid)
        elif kind == Rel.IN_CIRCLE:
            fields = {k: node.get(k) for k in ("name", "auto_name", "kind", "level", "size")}
            lists["circles"].append({"id": nid, **fields, **attrs})
        elif kind == Rel.TAGGED:
            lists["tags"].append(
                {"id": nid, "name": node.get("name"), "group": node.get("group"), **attrs}
            )
            happened(attrs.get("at"), "tagged", f"tagged {nid}", nid)
        elif kind == Rel.INTERESTED_IN:
            lists["interests"].append({"id": nid, **attrs})
        elif kind == Rel.PLACED:
            order = {k: v for k, v in node.items() if k != "customer_id"}
            lists["orders"].append(order)
            amount = order.get("amount")
            what = f"order {nid}" + (f": {float(amount):.2f}" if amount is not None else "")
            happened(order.get("placed_at"), "order", what, nid)
        elif kind == Rel.REFERRED:
            lists["referred" if rel["outgoing"] else "referred_by"].append(
                {"id": nid, "name": node.get("name"), **attrs}
            )
            text = f"invited {label}" if rel["outgoing"] else f"invited by {label}"
            happened(attrs.get("at"), "referral", text, nid)
        elif kind == Rel.IN_CAMPAIGN:
            lists["campaigns"].append({"id": nid, "name": node.get("name"), **attrs})

    known = [k for k in rows[0]["contacts"] if k.get("id") is not None]
    strongest = sorted(known, key=lambda k: (-float(k["weight"] or 0.0), str(k["id"])))
    contacts = {"total": len(known), "strongest": strongest[:contacts_limit]}

    orders = sorted(lists["orders"], key=lambda o: str(o.get("placed_at") or ""), reverse=True)
    timeline.sort(key=lambda e: (e.at, e.kind), reverse=True)
    contact: dict[str, list[str]] = {}
    for rel in relations:
        node = rel["node"]
        if rel["type"] == Rel.HAS_IDENTITY and node.get("kind") in _CONTACT_KINDS:
            contact.setdefault(str(node["kind"]), []).append(str(node["key"]))
    summary = _summary(props, contact, shown)
    return Customer360(
        customer=_profile(props, summary, shown),
        identities=identities,
        employees=sorted(lists["employees"], key=lambda e: str(e.get("added_at") or "")),
        groups=sorted(lists["groups"], key=lambda g: str(g["id"])),
        circles=sorted(lists["circles"], key=lambda c: (c.get("level") or 0, str(c["id"]))),
        tags=sorted(lists["tags"], key=lambda t: str(t["id"])),
        interests=sorted(lists["interests"], key=lambda i: -float(i.get("weight") or 0.0)),
        scores=_scores(props),
        referrals={
            "referred_by": lists["referred_by"],
            "referred": sorted(lists["referred"], key=lambda r: str(r.get("at") or "")),
            "campaigns": lists["campaigns"],
        },
        orders={
            "count": props.get("order_count", len(orders)),
            "total_spent": props.get("total_spent"),
            "latest": orders[:orders_limit],
        },
        contacts=contacts,
        timeline=timeline[:timeline_limit],
    )
