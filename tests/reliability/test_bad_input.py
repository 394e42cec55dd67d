"""Property tests (Hypothesis): bad input never crashes the readers and normalisers, and never
leaves a partial row.

Whatever arrives - arbitrary Unicode, huge fields, values of the wrong type, files of random or
truncated bytes, text in another encoding - either parses, or is rejected with the file, the
row, the field and a reason (or, for a file that cannot be read at all, one ``InputError``).
The last test loads such files into the real store and checks what was written.
"""

from __future__ import annotations

import copy
import csv
import io
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from quanzi.errors import InputError
from quanzi.graph.store import GraphStore
from quanzi.ingest import ingest_files
from quanzi.ingest import normalise as n
from quanzi.ingest.events import EventAggregate, EventError
from quanzi.ingest.readers import CONTACT_FIELDS, EVENT_TYPES, open_table
from quanzi.ingest.records import PROFILE_FIELDS, normalise_contact
from quanzi.model import Node, Rel
from quanzi.settings import Settings

MAX_CHARS = 1000

#: Bounded runs: the whole file takes seconds, not minutes (2 shared cores).
bounded = settings(
    max_examples=60,
    deadline=timedelta(seconds=10),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# -- strategies ---------------------------------------------------------------------------------
#: Any Unicode, including lone surrogates (what undecodable bytes and "\ud800" escapes become).
any_text = st.text(st.characters(codec=None), max_size=40)
huge_text = st.builds(lambda c, k: c * k, st.characters(codec=None), st.integers(1001, 50_000))
digits = st.text(st.characters(categories=["Nd"]), min_size=1, max_size=20)
#: Look like the values they should be, written in unusual ways.
plausible = st.one_of(
    st.from_regex(r"[+0(]?[0-9０-９ ()\-]{5,20}", fullmatch=True),
    st.from_regex(r"[^@\s]{1,10}@[^@\s]{1,10}\.[a-z]{2,4}", fullmatch=True),
    st.from_regex(
        r"-?[0-9]{1,5}-[0-9]{1,2}-[0-9]{1,2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2})?)?"
        r"(Z|[+-][0-9]{2}:[0-9]{2})?",
        fullmatch=True,
    ),
    st.from_regex(r"[0-9]{4}年[0-9]{1,2}月[0-9]{1,2}日", fullmatch=True),
    digits,
)
texts = st.one_of(any_text, plausible, huge_text)
scalars = st.one_of(
    st.none(),
    texts,
    st.integers(),
    st.integers(min_value=10**300, max_value=10**1000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.binary(max_size=20),
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=4),
    st.dictionaries(any_text, scalars, max_size=4),
    st.lists(texts, min_size=1, max_size=3).map(";".join),  # tags as text
    st.builds(lambda k: [f"tag{i}" for i in range(k)], st.integers(0, 400)),
)
FIELDS = (*CONTACT_FIELDS, "vip_level", "备注")
rows = st.fixed_dictionaries(
    {},
    optional={
        "source": st.one_of(st.just("crm"), values),
        "source_record_id": st.one_of(st.integers(0, 999), values),
        **{f: values for f in FIELDS if f not in ("source", "source_record_id")},
    },
)

NORMALISERS: dict[str, Callable[[str], Any]] = {
    "text": n.normalise_text,
    "phone CN": lambda s: n.normalise_phone(s, "CN"),
    "phone US": lambda s: n.normalise_phone(s, "US"),
    "email": n.normalise_email,
    "name": n.normalise_name,
    "latin name": n.latin_name,
    "date": n.normalise_date,
    "datetime": n.normalise_datetime,
    "gender": n.normalise_gender,
    "id number": n.normalise_id_number,
    "postcode": n.normalise_postcode,
    "company": n.normalise_company,
    "city": n.city_key,
}
IDEMPOTENT = ("text", "phone CN", "email", "name", "date", "datetime", "id number")


def _size(value: Any) -> int:
    """How long a value is as text: the measure of the field size limit."""
    if isinstance(value, str):
        return len(value)
    return len(json.dumps(value, ensure_ascii=False, default=str))


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# -- normalisers --------------------------------------------------------------------------------
@bounded
@given(st.sampled_from(sorted(NORMALISERS)), texts)
@example("datetime", "0001-01-01T00:00:00+01:00")  # found: OverflowError out of astimezone
@example("datetime", "9999-12-31T23:59:59-01:00")
@example("phone CN", "0001000000")  # found: +86001000000, which normalised again is +8601000000
def test_a_normaliser_returns_text_or_none_or_says_why_not(name: str, raw: str) -> None:
    normalise = NORMALISERS[name]
    try:
        once = normalise(raw)
    except ValueError as e:
        once, why = None, str(e)
        assert why, "a rejection must say why"
    assert once is None or isinstance(once, str)
    if once is not None and name in IDEMPOTENT:
        assert normalise(once) == once


# -- contact rows -------------------------------------------------------------------------------
@bounded
@given(rows, st.booleans())
@example({"source": "crm", "source_record_id": "1", "full_name": "x\ud800"}, False)
@example({"source": "crm", "source_record_id": "1", "phone": 10**400}, False)
@example({"source": "crm", "source_record_id": "1", "full_name": "x", "tags": "a;" * 999}, False)
@example({"source": "crm", "source_record_id": "1", "full_name": "x", "vip": ["y" * 2000]}, True)
@example(
    {"source": "crm", "source_record_id": "1", "full_name": "x", "created_at": "0001-01-01T00:00"},
    True,
)
def test_a_contact_row_loads_whole_or_is_rejected_naming_field_and_reason(
    row: dict[str, Any], drop_invalid: bool
) -> None:
    profile, problems = normalise_contact(row, max_chars=MAX_CHARS, drop_invalid=drop_invalid)
    for field_name, reason in problems:
        assert field_name in row or field_name in ("*", "source", "source_record_id")
        assert isinstance(reason, str)
        assert reason
    oversize = [k for k, v in row.items() if v is not None and _size(v) > MAX_CHARS]
    if profile is None:
        assert problems, "a rejected row must say why"
        return
    if not drop_invalid:
        assert problems == []
    assert oversize == [], f"{oversize} are over the {MAX_CHARS}-character limit"
    assert set(profile) == set(PROFILE_FIELDS)
    for key, value in profile.items():
        if key == "tags":
            assert isinstance(value, list)
            assert all(isinstance(t, str) and _is_text(t) for t in value)
        else:
            assert value is None or (isinstance(value, str) and _is_text(value)), (key, value)
    assert profile["record_id"] == f"{profile['source']}:{profile['source_record_id']}"


# -- events -------------------------------------------------------------------------------------
events = st.fixed_dictionaries(
    {"type": st.one_of(st.sampled_from(sorted(EVENT_TYPES)), values)},
    optional={
        "time": st.one_of(plausible, values),
        **{
            f: st.one_of(st.just("crm:1"), st.just("crm:2"), values)
            for f in ("from", "to", "customer", "inviter", "invitee")
        },
        **{
            f: values
            for f in ("kind", "group_id", "employee_id", "order_id", "tag", "interest", "stage")
        },
        **{f: st.one_of(scalars, st.just(10**400)) for f in ("count", "amount", "weight")},
    },
)


@bounded
@given(events)
@example({"type": "order", "time": "2024-01-01", "customer": "a:1", "order_id": "1",
          "amount": 10**400})  # fmt: skip
@example({"type": "funnel_stage", "time": "0001-01-01T00:00:00+01:00", "customer": "a:1",
          "stage": "lead"})  # fmt: skip
def test_an_event_is_added_whole_or_rejected_with_its_field(event: dict[str, Any]) -> None:
    agg = EventAggregate(max_chars=MAX_CHARS)
    agg.add(
        {"type": "interaction", "time": "2024-01-01", "kind": "call", "from": "x:1", "to": "x:2"}
    )
    before = copy.deepcopy(agg)
    error: EventError | None = None
    try:
        agg.add(event)
    except EventError as e:
        error = e
    if error is None:
        return
    kind = event["type"]
    required = ("type", "time", *(EVENT_TYPES.get(kind, ()) if isinstance(kind, str) else ()))
    assert error.field in event or error.field in required
    assert str(error)
    assert agg == before, "a rejected event must leave nothing behind"


# -- files --------------------------------------------------------------------------------------
def _read(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """Open and read a file as ingest does; check what every row looks like."""
    try:
        read = list(open_table(path).rows())
    except InputError as e:
        read, refusal = [], str(e)
        assert refusal.startswith(str(path)), "the error names the file"
    last = 0
    for row_no, record in read:
        assert isinstance(row_no, int)
        assert row_no > last
        last = row_no
        assert isinstance(record, dict)
        if "__error__" in record:
            assert isinstance(record["__error__"], str)
            continue
        for key, value in record.items():
            assert isinstance(key, str)
            assert _is_text(key)
            if isinstance(value, str):
                assert _is_text(value), f"row {row_no}, {key!r} is not text: {value!r}"
            else:
                assert _is_text(json.dumps(value, ensure_ascii=False, default=str))
    return read


def _contacts_csv(records: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["source", "source_record_id", "full_name", "phone"])
    writer.writeheader()
    writer.writerows(records)
    return out.getvalue().encode("utf-8")


def _contacts_jsonl(records: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")


def _contacts_parquet(records: list[dict[str, Any]]) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(records), sink, row_group_size=7)
    return sink.getvalue()


WRITERS = {".csv": _contacts_csv, ".jsonl": _contacts_jsonl, ".parquet": _contacts_parquet}
good_records = st.lists(
    st.fixed_dictionaries(
        {
            "source": st.just("crm"),
            "source_record_id": st.integers(0, 10**6).map(str),
            "full_name": st.text(st.characters(codec="utf-8"), max_size=12),
            "phone": st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
        }
    ),
    min_size=1,
    max_size=30,
)


@st.composite
def damaged_files(draw: st.DrawFn) -> tuple[str, bytes]:
    """A readable file, then damaged: truncated, bytes overwritten, text re-encoded, or noise."""
    suffix = draw(st.sampled_from(sorted(WRITERS)))
    data = WRITERS[suffix](draw(good_records))
    how = draw(st.sampled_from(["truncate", "overwrite", "gbk line", "utf-16", "noise", "nul"]))
    if how == "truncate":
        data = data[: draw(st.integers(0, len(data)))]
    elif how == "overwrite":
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + draw(st.binary(min_size=1, max_size=16)) + data[at + 16 :]
    elif how == "gbk line":
        data += "crm,9,张伟,13800138000\n".encode("gbk")
    elif how == "utf-16":
        data = data.decode("utf-8", errors="replace").encode("utf-16")
    elif how == "noise":
        data = draw(st.binary(max_size=200))
    else:
        data = data.replace(b",", b"\x00,", 1)
    return suffix, data


@bounded
@given(damaged_files())
def test_a_damaged_file_is_read_row_by_row_or_refused_whole(
    tmp_path_factory: pytest.TempPathFactory, damaged: tuple[str, bytes]
) -> None:
    suffix, data = damaged
    path = tmp_path_factory.mktemp("damaged") / f"contacts{suffix}"
    path.write_bytes(data)
    for _, record in _read(path):
        if "__error__" not in record:
            normalise_contact(record, max_chars=MAX_CHARS)


# -- into the store -----------------------------------------------------------------------------
def test_bad_rows_of_every_kind_are_rejected_and_nothing_of_them_is_written(
    store: GraphStore, tmp_path: Path
) -> None:
    csv_path = tmp_path / "contacts.csv"
    csv_path.write_bytes(
        b"source,source_record_id,full_name,phone,tags\n"
        + "crm,1,张伟,13800138000,vip\n".encode()
        + "crm,2,李娜,13900139000,\n".encode("gbk")  # a line saved in another encoding
        + f"crm,3,{'王' * 2000},,\n".encode()  # a huge field
        + f"crm,4,赵敏,,{';'.join(f't{i}' for i in range(400))}\n".encode()  # 400 tags
        + "crm,5,陈静,13700137000,new\n".encode()
    )
    jsonl_path = tmp_path / "more.jsonl"
    jsonl_path.write_text(
        '{"source": "shop", "source_record_id": "1", "full_name": "x\\ud800"}\n'  # lone surrogate
        '{"source": "shop", "source_record_id": "2", "full_name": "刘洋", "phone": 1e400}\n'
        '{"source": "shop", "source_record_id": "3", "full_name": "周强", '
        '"created_at": "0001-01-01T00:00:00+01:00"}\n'
        '{"source": "shop", "source_record_id": "4", "full_name": "孙丽"}\n'
        '{"source": "shop", "source_record_id": "5", "full_name": "吴',  # truncated
        encoding="utf-8",
    )
    report = ingest_files(store, [csv_path, jsonl_path], Settings(data_dir=tmp_path / "q"))
    rejected = {(Path(r.file).name, r.row): r for r in reversed(report.rejects)}  # the first
    assert set(rejected) == {
        ("contacts.csv", 3),
        ("contacts.csv", 4),
        ("contacts.csv", 5),
        ("more.jsonl", 1),
        ("more.jsonl", 2),
        ("more.jsonl", 3),
        ("more.jsonl", 5),
    }, report.rejects
    gbk = rejected[("contacts.csv", 3)].reason
    assert "'full_name'" in gbk
    assert "save the file as UTF-8" in gbk
    assert rejected[("contacts.csv", 4)].field == "full_name"
    assert "over 1000" in rejected[("contacts.csv", 4)].reason
    assert rejected[("contacts.csv", 5)].field == "tags"
    assert "escape" in rejected[("more.jsonl", 1)].reason
    assert rejected[("more.jsonl", 2)].field == "phone"
    assert rejected[("more.jsonl", 3)].field == "created_at"
    assert "not JSON" in rejected[("more.jsonl", 5)].reason
    records = {end for _, end in store.read_pairs(Rel.HAS_IDENTITY, Node.CUSTOMER, Node.IDENTITY)}
    assert {r for r in records if r.startswith("record:")} == {
        "record:crm:1",
        "record:crm:5",
        "record:shop:4",
    }
    assert store.counts()["Customer"] == 3
