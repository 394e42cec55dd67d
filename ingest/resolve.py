"""Identity resolution: from pairwise links to customers, with stable ids and evidence.

Links come from two places: deterministic rules on strong keys (:func:`deterministic_links`)
and the probabilistic linker (:mod:`quanzi.ingest.linker`). :func:`resolve` joins records
along the links, strongest first, into clusters, and gives each cluster a customer id:

- a cluster holding records of one existing customer keeps that customer's id;
- a cluster holding records of several existing customers merges them: the oldest customer
  (earliest ``first_seen``, then smallest id) survives, the others are recorded as merged;
- a new cluster gets an id derived from its oldest record, so loading the same data into an
  empty store twice gives the same ids.

A link is refused when it would put two different WeChat unionids in one cluster, join
customers that a person split apart (see :func:`quanzi.ingest.manual.split_identity`), or -
unless it rests on something personal (unionid, openid, id number, birth date) - join
clusters whose names are all clearly different (:func:`names_compatible`): family members
who share a phone or an e-mail address stay apart.

Examples
--------
>>> a = {"record_id": "crm:1", "wechat_unionid": "u1", "created_at": "2024-01-01T00:00:00Z"}
>>> b = {"record_id": "wx:7", "wechat_unionid": "u1", "created_at": "2023-01-01T00:00:00Z"}
>>> res = resolve([a, b], deterministic_links([a, b]))
>>> res.assignment["crm:1"] == res.assignment["wx:7"], res.evidence["crm:1"]["rule"]
(True, 'same wechat_unionid')
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from quanzi.ingest.normalise import city_key

__all__ = [
    "EXCLUSIVE_KEYS",
    "PERSONAL_FIELDS",
    "PERSONAL_KEY_RULES",
    "STRONG_RULES",
    "UNIQUE_FIELDS",
    "ExistingCustomer",
    "Link",
    "Resolution",
    "customer_id_for",
    "deterministic_links",
    "edit_distance",
    "names_compatible",
    "resolve",
]

#: Keys one person has exactly one of: a cluster never holds two different values.
EXCLUSIVE_KEYS = ("wechat_unionid",)

#: Rules on keys that belong to one person whatever name a record gives (a name typo, a
#: married name): their links are not refused for a name conflict.
PERSONAL_KEY_RULES = frozenset({"same wechat_unionid", "same wechat_openid", "same id_number"})

#: Fields whose values, when held by exactly two clusters, join them (see :func:`resolve`).
#: Not names: two records that share nothing but a name are not one person to any system
#: (common Chinese names collide; measured on the generator's 100k-record data, joining the
#: two holders of a name was wrong four times in five).
UNIQUE_FIELDS = ("email", "phone")

#: Attributes two clusters must not disagree on to be joined by a shared rare value alone.
_ATTRIBUTES = ("wechat_unionid", "id_number", "birth_date", "gender", "phone", "city")

#: Compared fields that one person has and a household does not share.
PERSONAL_FIELDS = frozenset({"birth_date", "id_number", "wechat_unionid"})

#: Deterministic rules: (name, fields that must all be present and equal).
STRONG_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("same wechat_unionid", ("wechat_unionid",)),
    ("same wechat_openid", ("wechat_openid",)),
    ("same id_number", ("id_number",)),
    ("same phone and name", ("phone", "name_norm")),
    ("same email and name", ("email", "name_norm")),
)


@dataclass(frozen=True)
class Link:
    """Evidence that two records belong to one person.

    Attributes
    ----------
    left, right : str
        Record ids (``"<source>:<source_record_id>"``).
    rule : str
        The deterministic rule, or ``"probabilistic"``.
    match_weight : float or None
        Fellegi–Sunter match weight (log2 Bayes factor) of a probabilistic link.
    match_probability : float
        1.0 for a deterministic link.
    agreed : tuple of str
        The fields that agreed.
    """

    left: str
    right: str
    rule: str
    match_weight: float | None = None
    match_probability: float = 1.0
    agreed: tuple[str, ...] = ()

    @property
    def personal(self) -> bool:
        """Whether the link rests on something only one person has (not a shared phone)."""
        return self.rule in PERSONAL_KEY_RULES or bool(PERSONAL_FIELDS & set(self.agreed))

    @property
    def strength(self) -> float:
        """Order in which links are applied: deterministic first, then by match weight."""
        return float("inf") if self.match_weight is None else self.match_weight


@dataclass(frozen=True)
class ExistingCustomer:
    """A customer already in the graph, as far as resolution needs to know it."""

    id: str
    first_seen: str | None = None
    split_from: frozenset[str] = frozenset()


@dataclass
class Resolution:
    """What :func:`resolve` decided.

    Attributes
    ----------
    assignment : dict of str to str
        Record id -> customer id, for every record given (new and existing).
    evidence : dict of str to dict
        For each new record: how it joined its customer (``rule``, ``match_weight``,
        ``match_probability``, ``agreed``, ``matched`` = the record it matched, or
        ``rule="first record"``).
    merged : dict of str to str
        Existing customer id -> the id of the customer it was merged into.
    new_customers : set of str
        Customer ids created by this resolution.
    links_used, links_refused : list of Link
        Links that joined clusters, and links refused by a constraint.
    """

    assignment: dict[str, str] = field(default_factory=dict)
    evidence: dict[str, dict[str, Any]] = field(default_factory=dict)
    merged: dict[str, str] = field(default_factory=dict)
    new_customers: set[str] = field(default_factory=set)
    links_used: list[Link] = field(default_factory=list)
    links_refused: list[Link] = field(default_factory=list)

    def clusters(self) -> dict[str, list[str]]:
        """Customer id -> its record ids."""
        out: dict[str, list[str]] = defaultdict(list)
        for record, customer in self.assignment.items():
            out[customer].append(record)
        return dict(out)


def deterministic_links(
    records: Sequence[Mapping[str, Any]],
    *,
    existing: Sequence[Mapping[str, Any]] = (),
    rules: Sequence[tuple[str, tuple[str, ...]]] = STRONG_RULES,
) -> list[Link]:
    """Links between records that share every field of a rule.

    Only pairs with at least one record from ``records`` are returned, each record chained to
    the first record seen with the same key (enough to connect them), so the output is linear
    in the input.
    """
    links: list[Link] = []
    new_ids = {str(r["record_id"]) for r in records}
    for rule, fields in rules:
        first: dict[tuple[Any, ...], str] = {}
        for r in (*existing, *records):
            values = tuple(r.get(f) for f in fields)
            if any(v is None or v == "" for v in values):
                continue
            rid = str(r["record_id"])
            anchor = first.setdefault(values, rid)
            if anchor != rid and (rid in new_ids or anchor in new_ids):
                links.append(Link(anchor, rid, rule, agreed=fields))
    return links


def customer_id_for(record_id: str) -> str:
    """The id of a customer first seen as ``record_id`` (stable across runs).

    >>> customer_id_for("crm:1")
    'cus_a649809e7ec98a1f'
    """
    return "cus_" + hashlib.blake2b(record_id.encode(), digest_size=8).hexdigest()


def edit_distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance in characters, or ``limit + 1`` when it exceeds ``limit``.

    >>> edit_distance("李天荣", "李一荣", 2), edit_distance("kitten", "sitting", 1)
    (1, 2)
    """
    if a is None or b is None:
        return limit + 1
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


def names_compatible(a: tuple[str, str], b: tuple[str, str]) -> bool:
    """Whether two names ``(name_norm, name_latin)`` could be one person's.

    They are when they are equal in either form, one character apart, or when every token of
    the shorter name is a typo or two away from a token of the other (``zhang wei`` /
    ``zhang wie``; a missing given name). Two clearly different names are two people, even on
    one phone number.

    >>> names_compatible(("张伟", "wei zhang"), ("zhang wei", "wei zhang"))
    True
    >>> names_compatible(("韦一一", "weiyi yi"), ("韦杰睿", "jierui wei"))
    False
    >>> names_compatible(("王大伟", "wang dawei"), ("王王王", "wang wang"))
    False
    """
    if a[0] == b[0] or a[1] == b[1]:
        return True
    if edit_distance(a[0], b[0], 1) <= 1 and min(len(a[0]), len(b[0])) >= 2:
        return True
    ta, tb = a[1].split(), b[1].split()
    # Tokens of the shorter name must each be close to one of the other's; two names of as
    # many tokens must match both ways, so the answer does not depend on the argument order
    # (``wang dawei`` / ``wang wang`` match one way only, and are two people).
    if len(ta) > len(tb):
        ta, tb = tb, ta
    return _tokens_within(ta, tb) and (len(ta) < len(tb) or _tokens_within(tb, ta))


def _tokens_within(short: list[str], long: list[str]) -> bool:
    """Whether every token of ``short`` is a typo or two away from a token of ``long``."""
    return all(
        any(edit_distance(t, u, max(1, len(t) // 3)) <= max(1, len(t) // 3) for u in long)
        for t in short
    )


class _Clusters:
    """Union-find over records that remembers each cluster's customers, unionids and names."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}
        self.customers: dict[str, set[str]] = {}
        self.forbidden: dict[str, set[str]] = {}
        self.keys: dict[str, dict[str, set[str]]] = {}
        self.names: dict[str, set[tuple[str, str]]] = {}
        self.attrs: dict[str, dict[str, set[str]]] = {}

    def add(
        self,
        record: str,
        customer: str | None,
        forbidden: Iterable[str],
        keys: dict[str, str],
        name: tuple[str, str] | None,
        attrs: dict[str, str],
    ) -> None:
        self.parent[record] = record
        self.customers[record] = {customer} if customer else set()
        self.forbidden[record] = set(forbidden)
        self.keys[record] = {k: {v} for k, v in keys.items()}
        self.names[record] = {name} if name else set()
        self.attrs[record] = {k: {v} for k, v in attrs.items()}

    def find(self, x: str) -> str:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def conflict(self, a: str, b: str, *, check_names: bool = True) -> bool:
        if self.customers[a] & self.forbidden[b] or self.customers[b] & self.forbidden[a]:
            return True
        ka, kb = self.keys[a], self.keys[b]
        if any(k in kb and ka[k] != kb[k] for k in ka):
            return True
        na, nb = self.names[a], self.names[b]
        return (
            check_names
            and bool(na and nb)
            and not any(names_compatible(x, y) for x in na for y in nb)
        )

    def union(self, a: str, b: str) -> None:
        if len(self.customers[a]) < len(self.customers[b]):
            a, b = b, a
        self.parent[b] = a
        self.customers[a] |= self.customers.pop(b)
        self.forbidden[a] |= self.forbidden.pop(b)
        for k, values in self.keys.pop(b).items():
            self.keys[a].setdefault(k, set()).update(values)
        self.names[a] |= self.names.pop(b)
        for k, values in self.attrs.pop(b).items():
            self.attrs[a].setdefault(k, set()).update(values)

    def attributes_differ(self, a: str, b: str) -> bool:
        """Whether the clusters disagree on a personal attribute both of them know."""
        xa, xb = self.attrs[a], self.attrs[b]
        return any(k in xb and not (xa[k] & xb[k]) for k in xa)


def _age(record: Mapping[str, Any]) -> tuple[str, str]:
    return (str(record.get("created_at") or "9999"), str(record["record_id"]))


def resolve(
    records: Sequence[Mapping[str, Any]],
    links: Iterable[Link],
    *,
    existing: Sequence[Mapping[str, Any]] = (),
    customers: Mapping[str, ExistingCustomer] | None = None,
    unique_values: bool = True,
) -> Resolution:
    """Cluster records along links into customers.

    Links are applied strongest first. Then, with ``unique_values``, for each field of
    :data:`UNIQUE_FIELDS` in turn, two clusters that are the only ones to hold a value (an
    e-mail address, a phone number) and that disagree on nothing they both know (unionid, id
    number, birth date, gender, phone, city, name) are joined (rule ``"unique <field>"``): a
    web form and a shop record with the same phone and names written too differently for the
    model are one customer, while a phone held by three clusters (a family's) joins none of
    them. A name alone never joins two clusters.

    Parameters
    ----------
    records : sequence of profile dicts
        The new (or changed) records of this batch.
    links : iterable of Link
        Candidate links; applied strongest first.
    existing : sequence of profile dicts
        Records already in the graph that may take part, each with a ``customer_id`` key.
    customers : mapping of str to ExistingCustomer
        What is known of the existing customers (age, splits); missing ones count as new.
    unique_values : bool
        Whether to join the two clusters that alone hold a value (see above).

    Returns
    -------
    Resolution
    """
    customers = customers or {}
    clusters = _Clusters()
    profiles: dict[str, Mapping[str, Any]] = {}
    for r in existing:
        rid, cid = str(r["record_id"]), str(r["customer_id"])
        profiles[rid] = r
        known = customers.get(cid, ExistingCustomer(cid))
        clusters.add(rid, cid, known.split_from, _exclusive(r), _name(r), _attrs(r))
    new_ids: list[str] = []
    for r in records:
        rid = str(r["record_id"])
        if rid in profiles:
            continue
        profiles[rid] = r
        new_ids.append(rid)
        clusters.add(rid, None, (), _exclusive(r), _name(r), _attrs(r))
    # existing records stay with their customer
    by_customer: dict[str, str] = {}
    for r in existing:
        rid, cid = str(r["record_id"]), str(r["customer_id"])
        anchor = by_customer.setdefault(cid, rid)
        ra, rb = clusters.find(anchor), clusters.find(rid)
        if ra != rb:
            clusters.union(ra, rb)

    result = Resolution()
    fresh = set(new_ids)

    def apply(link: Link) -> None:
        ra, rb = clusters.find(link.left), clusters.find(link.right)
        if ra == rb:
            return
        if clusters.conflict(ra, rb, check_names=not link.personal):
            result.links_refused.append(link)
            return
        clusters.union(ra, rb)
        result.links_used.append(link)
        for mine, other in ((link.left, link.right), (link.right, link.left)):
            if mine in fresh and mine not in result.evidence:
                result.evidence[mine] = _evidence(link, other)

    for link in sorted(links, key=lambda x: (-x.strength, x.left, x.right)):
        if link.left in profiles and link.right in profiles:
            apply(link)
    if unique_values:
        for field_name in UNIQUE_FIELDS:
            for link in _unique_value_links(field_name, profiles, clusters, fresh):
                apply(link)

    members: dict[str, list[str]] = defaultdict(list)
    for rid in profiles:
        members[clusters.find(rid)].append(rid)
    for root, rids in members.items():
        owners = sorted(
            clusters.customers[root],
            key=lambda c: (customers.get(c, ExistingCustomer(c)).first_seen or "9999", c),
        )
        if owners:
            cid = owners[0]
            for loser in owners[1:]:
                result.merged[loser] = cid
        else:
            oldest = min(rids, key=lambda x: _age(profiles[x]))
            cid = customer_id_for(oldest)
            result.new_customers.add(cid)
        for rid in rids:
            result.assignment[rid] = cid
    for rid in new_ids:
        result.evidence.setdefault(
            rid, {"rule": "first record", "match_probability": 1.0, "agreed": []}
        )
    return result


def _name(record: Mapping[str, Any]) -> tuple[str, str] | None:
    norm, latin = record.get("name_norm"), record.get("name_latin")
    return (str(norm), str(latin)) if norm and latin else None


def _unique_value_links(
    field_name: str,
    profiles: Mapping[str, Mapping[str, Any]],
    clusters: _Clusters,
    fresh: set[str],
) -> list[Link]:
    """Links between the two clusters that alone hold a value of ``field_name``."""
    holders: dict[str, dict[str, str]] = defaultdict(dict)
    for rid, p in profiles.items():
        value = p.get(field_name)
        if value:
            holders[str(value)].setdefault(clusters.find(rid), rid)
    links = []
    for _, by_root in sorted(holders.items()):
        if len(by_root) != 2:
            continue
        (ra, a), (rb, b) = sorted(by_root.items())
        if (a in fresh or b in fresh) and not clusters.attributes_differ(ra, rb):
            links.append(
                Link(a, b, f"unique {field_name}", match_probability=1.0, agreed=(field_name,))
            )
    return links


def _attrs(record: Mapping[str, Any]) -> dict[str, str]:
    out = {k: str(record[k]) for k in _ATTRIBUTES if record.get(k)}
    if "city" in out:
        out["city"] = city_key(out["city"])
    return out


def _exclusive(record: Mapping[str, Any]) -> dict[str, str]:
    return {k: str(record[k]) for k in EXCLUSIVE_KEYS if record.get(k)}


def _evidence(link: Link, matched: str) -> dict[str, Any]:
    return {
        "rule": link.rule,
        "match_weight": link.match_weight,
        "match_probability": link.match_probability,
        "agreed": list(link.agreed),
        "matched": matched,
    }
