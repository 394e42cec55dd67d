"""Tests of the synthetic SCRM data generator (quanzi.ingest.synthetic)."""

from __future__ import annotations

import csv
import doctest
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quanzi.ingest import synthetic
from quanzi.ingest.synthetic import (
    CAMPAIGN_COLUMNS,
    CIRCLE_KINDS,
    CONTACT_COLUMNS,
    EMPLOYEE_COLUMNS,
    EVENT_TYPES,
    GROUP_COLUMNS,
    INTERESTS,
    SOURCES,
    TAGS,
    TRUTH_PEOPLE_COLUMNS,
    TRUTH_RECORD_COLUMNS,
    GeneratedFiles,
    GeneratorConfig,
    generate,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "input-formats.md"
FILES = ("contacts", "events", "employees", "groups", "campaigns", "truth_records", "truth_people")
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


# -- loading helpers ------------------------------------------------------------------------------
def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = [dict(zip(header, row, strict=True)) for row in reader]
    return header, rows


@dataclass
class Data:
    config: GeneratorConfig
    files: GeneratedFiles
    contacts: list[dict[str, str]]
    events: list[dict[str, Any]]
    employees: list[dict[str, str]]
    groups: list[dict[str, str]]
    campaigns: list[dict[str, str]]
    truth_records: list[dict[str, str]]
    people: dict[str, dict[str, str]]
    person_of: dict[str, str]  # record reference -> person id

    def person(self, ref: str) -> dict[str, str]:
        return self.people[self.person_of[ref]]


def load(out: Path, config: GeneratorConfig) -> Data:
    files = generate(out, config)
    contacts = read_csv(files.contacts)[1]
    truth = read_csv(files.truth_records)[1]
    people = {p["person_id"]: p for p in read_csv(files.truth_people)[1]}
    with files.events.open(encoding="utf-8") as f:
        events = [json.loads(line) for line in f]
    person_of = {f"{r['source']}:{r['source_record_id']}": r["person_id"] for r in truth}
    return Data(
        config,
        files,
        contacts,
        events,
        read_csv(files.employees)[1],
        read_csv(files.groups)[1],
        read_csv(files.campaigns)[1],
        truth,
        people,
        person_of,
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Data:
    """A small default-knob data set shared by most tests."""
    return load(tmp_path_factory.mktemp("default"), GeneratorConfig(customers=300, seed=11))


@pytest.fixture(scope="module")
def family(tmp_path_factory: pytest.TempPathFactory) -> Data:
    """Many households, so shared phones / e-mails are frequent."""
    config = GeneratorConfig(customers=200, seed=3, household_rate=0.5, missing_scale=0.5)
    return load(tmp_path_factory.mktemp("family"), config)


def normalise_phone(raw: str) -> str:
    return phonenumbers.format_number(
        phonenumbers.parse(raw, "CN"), phonenumbers.PhoneNumberFormat.E164
    )


def check_invariants(d: Data) -> None:
    """Structural guarantees every data set must meet."""
    keys = [(r["source"], r["source_record_id"]) for r in d.contacts]
    assert keys == [(r["source"], r["source_record_id"]) for r in d.truth_records]
    assert len(set(keys)) == len(keys)
    assert {r["source"] for r in d.contacts} <= set(SOURCES)
    # every person has records and exactly one circle; every record has a known person
    assert set(d.person_of.values()) == set(d.people)
    assert len(d.people) == d.config.customers
    for p in d.people.values():
        assert p["circle_kind"] in CIRCLE_KINDS
        assert re.fullmatch(r"K\d{4,}", p["circle_id"])
        assert p["churned"] in ("0", "1")
    kinds: dict[str, set[str]] = defaultdict(set)
    for p in d.people.values():
        kinds[p["circle_id"]].add(p["circle_kind"])
    assert all(len(k) == 1 for k in kinds.values())
    # every reference in every event resolves, ids exist, events are sorted and in the window
    employees = {e["employee_id"] for e in d.employees}
    groups = {g["group_id"] for g in d.groups}
    campaigns = {c["campaign_id"] for c in d.campaigns}
    start = f"{d.config.start.isoformat()}T00:00:00Z"
    end = f"{d.config.end.isoformat()}T23:59:59Z"
    assert all(start <= r["created_at"] <= end for r in d.contacts)
    times = [e["time"] for e in d.events]
    assert times == sorted(times)
    assert all(ISO.match(t) and start <= t <= end for t in times)
    for e in d.events:
        for field in ("from", "to", "customer", "inviter", "invitee"):
            if field in e:
                assert e[field] in d.person_of, e
        if "employee_id" in e:
            assert e["employee_id"] in employees
        if "group_id" in e:
            assert e["group_id"] in groups
        if "campaign_id" in e:
            assert e["campaign_id"] in campaigns
    check_forest(d)
    check_duplicates_share_evidence(d)


def check_duplicates_share_evidence(d: Data) -> None:
    """A person's records are joined by more than a name: each one shares a phone, an e-mail,
    a unionid, an id number or a birth date with another record of the person, and so on
    until all of them are connected."""
    evidence = {
        "phone": normalise_phone,
        "email": lambda v: v.strip().lower(),
        "wechat_unionid": str.strip,
        "id_number": lambda v: v.strip().upper(),
        "birth_date": lambda v: re.sub(r"\D", "", v),
    }
    records: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in d.contacts:
        records[d.person_of[f"{r['source']}:{r['source_record_id']}"]].append(r)

    def find(parent: list[int], x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    for person, rows in records.items():
        parent = list(range(len(rows)))
        holder: dict[tuple[str, str], int] = {}
        for i, r in enumerate(rows):
            for name, norm in evidence.items():
                if r[name]:
                    j = holder.setdefault((name, norm(r[name])), i)
                    parent[find(parent, i)] = find(parent, j)
        assert len({find(parent, i) for i in range(len(rows))}) == 1, (person, rows)


def check_forest(d: Data) -> None:
    """Referral edges (between true persons) form a forest inside each campaign."""
    parent: dict[str, dict[str, str]] = defaultdict(dict)
    campaign_window = {c["campaign_id"]: (c["start"], c["end"]) for c in d.campaigns}
    for e in d.events:
        if e["type"] != "referral":
            continue
        a, b = d.person_of[e["inviter"]], d.person_of[e["invitee"]]
        assert a != b
        lo, hi = campaign_window[e["campaign_id"]]
        assert lo <= e["time"] <= hi
        tree = parent[e["campaign_id"]]
        assert b not in tree, "invited twice in one campaign"
        tree[b] = a
    for tree in parent.values():
        for node in tree:
            seen = {node}
            while node in tree:
                node = tree[node]
                assert node not in seen, "cycle"
                seen.add(node)


# -- determinism ---------------------------------------------------------------------------------
def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    config = GeneratorConfig(customers=120, seed=5)
    a = generate(tmp_path / "a", config)
    b = generate(tmp_path / "b", config)
    for name in FILES:
        pa, pb = getattr(a, name), getattr(b, name)
        assert pa.read_bytes() == pb.read_bytes(), name
    assert a.counts == b.counts


def test_different_seed_gives_different_data(tmp_path: Path) -> None:
    a = generate(tmp_path / "a", GeneratorConfig(customers=120, seed=5))
    b = generate(tmp_path / "b", GeneratorConfig(customers=120, seed=6))
    assert a.contacts.read_bytes() != b.contacts.read_bytes()
    assert a.events.read_bytes() != b.events.read_bytes()
    assert a.truth_people.read_bytes() != b.truth_people.read_bytes()


# -- file layout ---------------------------------------------------------------------------------
def documented_fields(heading: str) -> list[str]:
    """First-column names of the table under the docs heading naming ``heading``."""
    text = DOCS.read_text(encoding="utf-8")
    match = re.search(rf"^#+ `{re.escape(heading)}`\n(.*?)(?=^#+ |\Z)", text, re.M | re.S)
    assert match, f"{heading} is not documented"
    return re.findall(r"^\| `([^`]+)` \|", match.group(1), re.M)


@pytest.mark.parametrize(
    ("name", "columns"),
    [
        ("contacts", CONTACT_COLUMNS),
        ("employees", EMPLOYEE_COLUMNS),
        ("groups", GROUP_COLUMNS),
        ("campaigns", CAMPAIGN_COLUMNS),
        ("truth_records", TRUTH_RECORD_COLUMNS),
        ("truth_people", TRUTH_PEOPLE_COLUMNS),
    ],
)
def test_csv_columns_exactly_as_documented(data: Data, name: str, columns: tuple[str, ...]) -> None:
    path: Path = getattr(data.files, name)
    header, rows = read_csv(path)
    assert tuple(header) == columns
    assert documented_fields(path.name) == list(columns)
    assert len(rows) == data.files.counts[name]
    raw = path.read_bytes()
    assert b"\r\n" not in raw
    assert not raw.startswith(b"\xef\xbb\xbf")


def test_contacts_brief_columns() -> None:
    brief = "source, source_record_id, full_name, given_name, surname, phone, email, wechat_unionid"
    brief += ", wechat_openid, id_number, birth_date, street, city, state, postcode, gender"
    brief += ", company, created_at, tags"
    assert list(CONTACT_COLUMNS) == [c.strip() for c in brief.split(",")]


def test_event_fields_exactly_as_documented(data: Data) -> None:
    seen: dict[str, list[str]] = {}
    for e in data.events:
        seen.setdefault(e["type"], list(e))
    assert set(seen) == set(EVENT_TYPES)
    for kind, keys in seen.items():
        assert documented_fields(kind) == keys, kind
    for e in data.events:
        assert list(e) == seen[e["type"]]


def test_event_values(data: Data) -> None:
    orders = []
    for e in data.events:
        t = e["type"]
        if t == "interaction":
            assert e["kind"] in ("message", "call", "visit")
            assert isinstance(e["count"], int)
            assert e["count"] >= 1
            assert data.person_of[e["from"]] != data.person_of[e["to"]]
        elif t == "order":
            assert isinstance(e["amount"], float)
            assert e["amount"] > 0
            orders.append(e["order_id"])
        elif t == "interest":
            assert e["interest"] in INTERESTS
            assert 0.0 <= e["weight"] <= 1.0
        elif t == "tag_applied":
            assert e["tag"] in TAGS
        elif t == "funnel_stage":
            assert e["stage"] in ("first_contact", "intention", "meeting", "order")
        elif t == "tier_change":
            assert e["tier"] in ("silver", "gold", "platinum")
        elif t == "referral":
            assert re.fullmatch(r"[A-HJ-NP-Z2-9]{8}", e["invite_code"])
    assert orders == sorted(orders)
    assert len(set(orders)) == len(orders)


def test_funnel_stages_in_order(data: Data) -> None:
    stages: dict[str, list[str]] = defaultdict(list)
    for e in data.events:
        if e["type"] == "funnel_stage":
            stages[data.person_of[e["customer"]]].append(e["stage"])
    full = ["first_contact", "intention", "meeting", "order"]
    assert set(stages) == set(data.people)
    for seq in stages.values():
        assert seq == full[: len(seq)]
    reached = Counter(len(s) for s in stages.values())
    assert reached[1] > 0
    assert reached[4] > 0


def test_sizes_at_default_scale(tmp_path: Path) -> None:
    files = generate(tmp_path, GeneratorConfig())
    assert 2000 <= files.counts["contacts"] <= 2500
    assert 15_000 <= files.counts["events"] <= 30_000
    assert files.counts["truth_people"] == 1000
    assert files.counts["employees"] == 5


# -- people and records --------------------------------------------------------------------------
def test_truth_records_cover_every_record_once(data: Data) -> None:
    check_invariants(data)
    per_person = Counter(data.person_of.values())
    assert max(per_person.values()) <= 5
    assert min(per_person.values()) >= 1
    sources_per_person: dict[str, set[str]] = defaultdict(set)
    for ref, p in data.person_of.items():
        sources_per_person[p].add(ref.split(":")[0])
    assert max(len(s) for s in sources_per_person.values()) == 4


def test_circle_sizes_and_kinds(data: Data) -> None:
    sizes = Counter(p["circle_id"] for p in data.people.values())
    assert min(sizes.values()) >= data.config.min_circle_size
    # the last circle may absorb a remainder below the minimum
    assert sorted(sizes.values())[-2] <= data.config.max_circle_size
    assert len({p["circle_kind"] for p in data.people.values()}) == len(CIRCLE_KINDS)


def test_colleague_circles_share_a_company(data: Data) -> None:
    by_circle: dict[str, Counter[str]] = defaultdict(Counter)
    for r in data.contacts:
        p = data.people[data.person_of[f"{r['source']}:{r['source_record_id']}"]]
        if p["circle_kind"] == "colleague" and r["company"]:
            by_circle[p["circle_id"]][r["company"]] += 1
    assert by_circle
    for counts in by_circle.values():
        # one company written in up to four styles
        assert len(counts) <= 4


def test_wechat_ids(data: Data) -> None:
    unionids: dict[str, set[str]] = defaultdict(set)
    openids = set()
    for r in data.contacts:
        ref = f"{r['source']}:{r['source_record_id']}"
        if r["source"] == "wechat":
            assert len(r["wechat_openid"]) == 28
            assert r["wechat_openid"] not in openids
            openids.add(r["wechat_openid"])
            if r["wechat_unionid"]:
                assert re.fullmatch(r"o[A-Za-z0-9_-]{27}", r["wechat_unionid"])
                unionids[r["wechat_unionid"]].add(data.person_of[ref])
        else:
            assert r["wechat_openid"] == ""
            assert r["wechat_unionid"] == ""
    assert all(len(p) == 1 for p in unionids.values())
    persons = defaultdict(list)
    for r in data.contacts:
        if r["source"] == "wechat":
            persons[data.person_of[f"wechat:{r['source_record_id']}"]].append(r)
    two_apps = [rs for rs in persons.values() if len(rs) == 2]
    assert two_apps, "some people use two WeChat apps"
    for a, b in two_apps:
        assert a["wechat_openid"][:5] != b["wechat_openid"][:5]


def test_id_numbers_are_valid_and_personal(data: Data) -> None:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    owner: dict[str, str] = {}
    found = 0
    for r in data.contacts:
        idn = r["id_number"].upper()
        if not idn:
            continue
        found += 1
        assert re.fullmatch(r"\d{17}[\dX]", idn)
        total = sum(int(c) * w for c, w in zip(idn[:17], weights, strict=True))
        assert idn[17] == "10X98765432"[total % 11]
        if r["birth_date"]:
            assert r["birth_date"].replace("-", "").replace("/", "") == idn[6:14]
        person = data.person_of[f"{r['source']}:{r['source_record_id']}"]
        assert owner.setdefault(idn, person) == person
    assert found > 10


def test_phones_are_valid_mobiles(data: Data) -> None:
    phones = [r["phone"] for r in data.contacts if r["phone"]]
    assert len(phones) > len(data.contacts) / 2
    for raw in phones:
        number = phonenumbers.parse(raw, "CN")
        assert phonenumbers.is_valid_number(number), raw


def test_phone_format_variants_occur(data: Data) -> None:
    patterns = {
        "+86 138 0013 8000": r"\+86 1\d{2} \d{4} \d{4}",
        "0086-138-0013-8000": r"0086-1\d{2}-\d{4}-\d{4}",
        "13800138000": r"1\d{10}",
        "138-0013-8000": r"1\d{2}-\d{4}-\d{4}",
        "(+86)13800138000": r"\(\+86\)1\d{10}",
    }
    phones = [r["phone"] for r in data.contacts if r["phone"]]
    for example, pattern in patterns.items():
        assert re.fullmatch(pattern, example)
        assert any(re.fullmatch(pattern, p) for p in phones), example
    assert any(not p.startswith(("+86", "0086", "(+86)", "1")) for p in phones), "foreign"


def test_name_variants_occur(data: Data) -> None:
    traditional = set(synthetic._TRADITIONAL.values()) - set(synthetic._TRADITIONAL)
    names_by_person: dict[str, set[str]] = defaultdict(set)
    for r in data.contacts:
        names_by_person[data.person_of[f"{r['source']}:{r['source_record_id']}"]].add(
            r["full_name"]
        )
    names = [n for ns in names_by_person.values() for n in ns]
    assert any(set(n) & traditional for n in names), "traditional characters"
    # one person written both in characters and in pinyin
    assert any(
        any(not n.isascii() for n in ns) and any(n.strip() and n.isascii() for n in ns)
        for ns in names_by_person.values()
    )
    assert any(n != n.strip() or "  " in n or "\u3000" in n for n in names), "whitespace noise"
    # a traditional variant simplifies back to a name written elsewhere for the same person
    back = {v: k for k, v in synthetic._TRADITIONAL.items()}
    pairs = 0
    for ns in names_by_person.values():
        for n in ns:
            if set(n) & traditional:
                simple = "".join(back.get(c, c) for c in n)
                pairs += simple in ns
    assert pairs > 0


def test_missing_fields_and_name_phone_only(data: Data) -> None:
    only = [
        r
        for r in data.contacts
        if r["full_name"]
        and r["phone"]
        and not any(
            r[c]
            for c in CONTACT_COLUMNS
            if c not in ("source", "source_record_id", "full_name", "phone", "created_at", "tags")
        )
    ]
    assert len(only) > 0.03 * len(data.contacts)
    for column in ("email", "id_number", "birth_date", "street", "company"):
        empty = sum(not r[column] for r in data.contacts)
        assert 0 < empty < len(data.contacts), column


def test_family_members_share_phones_and_emails_but_are_different_people(family: Data) -> None:
    check_invariants(family)
    by_phone: dict[str, set[str]] = defaultdict(set)
    by_email: dict[str, set[str]] = defaultdict(set)
    for r in family.contacts:
        person = family.person_of[f"{r['source']}:{r['source_record_id']}"]
        if r["phone"]:
            by_phone[normalise_phone(r["phone"])].add(person)
        if r["email"]:
            by_email[r["email"].strip().lower()].add(person)
    shared_phones = [p for p in by_phone.values() if len(p) > 1]
    shared_emails = [p for p in by_email.values() if len(p) > 1]
    assert shared_phones
    assert shared_emails
    for group in shared_phones + shared_emails:
        assert len(group) == 2
        assert len({family.people[p]["household_id"] for p in group}) == 1
    households = Counter(p["household_id"] for p in family.people.values())
    assert max(households.values()) == 2


# -- social structure ----------------------------------------------------------------------------
def within_circle_fraction(d: Data) -> float:
    inside = total = 0
    for e in d.events:
        if e["type"] == "interaction":
            total += 1
            inside += d.person(e["from"])["circle_id"] == d.person(e["to"])["circle_id"]
    return inside / total


def test_within_circle_ties_follow_mixing(data: Data, tmp_path: Path) -> None:
    assert abs(within_circle_fraction(data) - (1 - data.config.mixing)) < 0.06
    mixed = load(tmp_path, GeneratorConfig(customers=300, seed=11, mixing=0.5))
    assert abs(within_circle_fraction(mixed) - 0.5) < 0.07


def test_referrals_are_a_forest_mostly_inside_circles(data: Data) -> None:
    check_forest(data)
    refs = [e for e in data.events if e["type"] == "referral"]
    assert len(refs) > 10
    inside = sum(
        data.person(e["inviter"])["circle_id"] == data.person(e["invitee"])["circle_id"]
        for e in refs
    )
    assert inside / len(refs) > 0.6
    depth_two = {data.person_of[e["invitee"]] for e in refs} & {
        data.person_of[e["inviter"]] for e in refs
    }
    assert depth_two, "multi-level trees"
    codes: dict[tuple[str, str], set[str]] = defaultdict(set)
    for e in refs:
        codes[(e["campaign_id"], data.person_of[e["inviter"]])].add(e["invite_code"])
    assert all(len(c) == 1 for c in codes.values())


def test_groups_and_employees(data: Data) -> None:
    kinds = Counter(g["kind"] for g in data.groups)
    assert set(kinds) == {"wechat_group", "community", "interest_club"}
    for g in data.groups:
        assert (g["interest"] in INTERESTS) == (g["kind"] == "interest_club")
    assert len({e["email"] for e in data.employees}) == len(data.employees)
    added: dict[str, set[str]] = defaultdict(set)
    for e in data.events:
        p = data.person_of.get(e.get("customer", ""), "")
        if e["type"] == "employee_added":
            added[p].add(e["employee_id"])
        elif e["type"] == "employee_deleted":
            assert e["employee_id"] in added[p], "deleted before added"
    assert all(1 <= len(v) <= 2 for v in added.values())


def test_churn_rate_and_planted_signals(data: Data) -> None:
    churned = {p for p, row in data.people.items() if row["churned"] == "1"}
    assert len(churned) == round(data.config.churn_rate * data.config.customers)
    deleted = {
        data.person_of[e["customer"]] for e in data.events if e["type"] == "employee_deleted"
    }
    p_del_churn = len(deleted & churned) / len(churned)
    p_del_stay = len(deleted - churned) / (len(data.people) - len(churned))
    assert p_del_churn > 3 * p_del_stay
    # recent activity: interactions in the last 90 days per person
    cutoff = "2024-10-02"
    recent: Counter[str] = Counter()
    for e in data.events:
        if e["type"] == "interaction" and e["time"] >= cutoff:
            recent[data.person_of[e["from"]]] += 1
            recent[data.person_of[e["to"]]] += 1
    stay = [p for p in data.people if p not in churned]
    mean_churn = sum(recent[p] for p in churned) / len(churned)
    mean_stay = sum(recent[p] for p in stay) / len(stay)
    assert mean_churn < 0.5 * mean_stay
    # churn clusters in circles: churned people have more churned circle-mates than average
    by_circle = Counter(data.people[p]["circle_id"] for p in churned)
    size = Counter(row["circle_id"] for row in data.people.values())
    rate = len(churned) / len(data.people)
    mates = [
        (by_circle[data.people[p]["circle_id"]] - 1) / (size[data.people[p]["circle_id"]] - 1)
        for p in churned
    ]
    assert sum(mates) / len(mates) > 1.2 * rate


@pytest.mark.parametrize("rate", [0.05, 0.3])
def test_churn_rate_follows_config(tmp_path: Path, rate: float) -> None:
    files = generate(tmp_path, GeneratorConfig(customers=100, seed=2, churn_rate=rate))
    rows = read_csv(files.truth_people)[1]
    assert sum(r["churned"] == "1" for r in rows) == round(rate * 100)


# -- properties over random small configs --------------------------------------------------------
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    seed=st.integers(0, 2**32 - 1),
    customers=st.integers(10, 150),
    mixing=st.sampled_from([0.0, 0.2, 1.0]),
    households=st.sampled_from([0.0, 0.3]),
)
def test_invariants_hold_for_any_small_config(
    tmp_path_factory: pytest.TempPathFactory,
    seed: int,
    customers: int,
    mixing: float,
    households: float,
) -> None:
    config = GeneratorConfig(
        customers=customers, seed=seed, mixing=mixing, household_rate=households
    )
    d = load(tmp_path_factory.mktemp("prop"), config)
    check_invariants(d)
    if mixing == 0.0:
        assert within_circle_fraction(d) == 1.0


# -- API behaviour -------------------------------------------------------------------------------
def test_progress_is_reported(tmp_path: Path) -> None:
    calls: list[tuple[str, int, int]] = []
    generate(tmp_path, GeneratorConfig(customers=50, seed=1), progress=lambda *a: calls.append(a))
    steps = {c[0] for c in calls}
    assert len(steps) >= 3
    for step in steps:
        mine = [c for c in calls if c[0] == step]
        assert all(0 <= done <= total for _, done, total in mine)
        assert mine[-1][1] == mine[-1][2]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"customers": 5},
        {"seed": -1},
        {"mixing": 1.5},
        {"churn_rate": -0.1},
        {"employees": 0},
        {"min_circle_size": 10, "max_circle_size": 5},
        {"traditional_rate": 0.6, "pinyin_rate": 0.6},
    ],
)
def test_config_rejects_bad_values(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"must|need"):
        GeneratorConfig(**kwargs)


@pytest.mark.parametrize(
    ("start", "end"), [(date(2021, 3, 1), date(2024, 12, 31)), (date(2024, 1, 1), date(2024, 3, 1))]
)
def test_timestamps_stay_inside_the_configured_window(
    tmp_path: Path, start: date, end: date
) -> None:
    d = load(tmp_path, GeneratorConfig(customers=60, seed=9, start=start, end=end))
    check_invariants(d)  # includes created_at and event times inside the window
    rows = read_csv(d.files.campaigns)[1]
    assert all(f"{start}T00:00:00Z" <= r["start"] <= r["end"] <= f"{end}T23:59:59Z" for r in rows)


def test_docstring_examples_run() -> None:
    result = doctest.testmod(synthetic, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
