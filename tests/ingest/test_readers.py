"""Readers: CSV, JSON Lines, Parquet, mapping files, and the errors for unreadable files."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from quanzi.errors import InputError
from quanzi.ingest.readers import ColumnMapping, expand_paths, load_mapping, open_table
from quanzi.ingest.records import normalise_contact


def test_csv_rows_carry_line_numbers_and_none_for_empty(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text(
        "source,source_record_id,full_name,phone\ncrm,1,张伟,\n\ncrm,2,李娜,13800138000\n",
        encoding="utf-8",
    )
    table = open_table(path)
    rows = list(table.rows())
    assert table.kind == "contacts"
    assert [r for r, _ in rows] == [2, 4]
    assert rows[0][1]["phone"] is None


def test_csv_row_with_wrong_number_of_values_is_marked(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("source,source_record_id,full_name\ncrm,1\ncrm,2,x\n", encoding="utf-8")
    rows = list(open_table(path).rows())
    assert "__error__" in rows[0][1]
    assert rows[1][1]["full_name"] == "x"


def test_an_unclosed_quote_is_rejected_naming_the_lines_it_swallowed(tmp_path: Path) -> None:
    # The stray quote ran to the end of the file: 5 rows, 2 read, 1 rejected as "3 values for
    # 4 columns", and the last three gone without a word.
    path = tmp_path / "c.csv"
    path.write_text(
        "source,source_record_id,full_name,phone\n"
        "q,Q1,陈一,13322220001\n"
        'q,Q2,"陈二,13322220002\n'
        "q,Q3,陈三,13322220003\n"
        "q,Q4,陈四,13322220004\n"
        "q,Q5,陈五,13322220005\n",
        encoding="utf-8",
    )
    rows = list(open_table(path).rows())
    assert [r for r, _ in rows] == [2, 3]
    assert rows[0][1]["source_record_id"] == "Q1"
    error = rows[1][1]["__error__"]
    assert error.startswith("has an unclosed quote at line 3: lines 3..6 were read as one value")
    assert "close or remove the quote" in error


def test_a_quote_closed_rows_later_is_rejected_too(tmp_path: Path) -> None:
    # Two stray quotes: the rows between them were one name of the right width, and loaded.
    path = tmp_path / "c.csv"
    path.write_text(
        "source,source_record_id,full_name,phone\n"
        'q,Q2,"陈二,13322220002\n'
        "q,Q3,陈三,13322220003\n"
        'q,Q4,陈四",13322220004\n'
        "q,Q5,陈五,13322220005\n",
        encoding="utf-8",
    )
    rows = list(open_table(path).rows())
    assert [r for r, _ in rows] == [2, 5]
    assert "unclosed quote at line 2: lines 2..4 were read" in rows[0][1]["__error__"]
    assert rows[1][1]["source_record_id"] == "Q5"


def test_quoted_values_with_line_breaks_and_quotes_still_load(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text(
        "source,source_record_id,full_name,street,phone\r\n"
        'q,Q6,"陈""六",x,13322220006\r\n'
        'q,Q7,"陈\r\n七","Room 5\r\nBuilding 3, Road 2",13322220007\r\n'
        "q,Q8,陈八,,13322220008\r\n",
        encoding="utf-8",
    )
    rows = list(open_table(path).rows())
    assert [r for r, _ in rows] == [2, 3, 6]
    assert [r["full_name"] for _, r in rows] == ['陈"六', "陈\r\n七", "陈八"]
    assert rows[1][1]["street"] == "Room 5\r\nBuilding 3, Road 2"


def test_a_column_named_twice_is_refused_naming_it(tmp_path: Path) -> None:
    # The second phone won and the first was dropped without a word.
    path = tmp_path / "c.csv"
    path.write_text(
        "source,source_record_id,full_name,phone,phone\ncrm,1,张伟,13800138000,13900139000\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError, match=r"c\.csv: column 'phone' is the name of two columns"):
        open_table(path)
    mapped = tmp_path / "m.csv"
    mapped.write_text("source,source_record_id,手机,phone\ncrm,1,139,138\n", encoding="utf-8")
    with pytest.raises(InputError, match="'phone' is the name of two columns after the mapping"):
        open_table(mapped, ColumnMapping(columns={"手机": "phone"}))
    parquet = tmp_path / "p.parquet"
    pq.write_table(
        pa.Table.from_arrays([pa.array(["crm"]), pa.array(["1"]), pa.array(["x"]), pa.array(["y"])],
                             names=["source", "source_record_id", "name", "name"]),
        parquet,
    )  # fmt: skip
    with pytest.raises(InputError, match="column 'name' is the name of two columns"):
        open_table(parquet)
    # The unnamed columns a spreadsheet leaves after the last one are no such thing.
    trailing = tmp_path / "t.csv"
    trailing.write_text("source,source_record_id,full_name,,\ncrm,1,张伟,,\n", encoding="utf-8")
    assert [r["full_name"] for _, r in open_table(trailing).rows()] == ["张伟"]


def test_a_jsonl_line_naming_a_field_twice_is_a_rejected_row(tmp_path: Path) -> None:
    # json.loads kept the second phone and dropped the first without a word.
    path = tmp_path / "c.jsonl"
    lines = [
        '{"source": "crm", "source_record_id": "1", "phone": "13800138000", "phone": "139"}',
        '{"source": "crm", "source_record_id": "2", "attributes": {"a": 1}, "note": "x\\":y"}',
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = list(open_table(path).rows())
    assert rows[0] == (1, {"__error__": "names the field 'phone' twice; keep one"})
    assert rows[1][1]["source_record_id"] == "2"  # a nested object and a '":' in a value


def test_jsonl_and_parquet_read_the_same_records(tmp_path: Path) -> None:
    records = [
        {"source": "crm", "source_record_id": "1", "full_name": "张伟", "phone": 13800138000}
    ]
    jsonl = tmp_path / "c.jsonl"
    jsonl.write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in records), encoding="utf-8"
    )
    parquet = tmp_path / "c.parquet"
    pq.write_table(pa.Table.from_pylist(records), parquet)
    a = [normalise_contact(r)[0] for _, r in open_table(jsonl).rows()]
    b = [normalise_contact(r)[0] for _, r in open_table(parquet).rows()]
    assert a == b
    assert a[0] is not None
    assert a[0]["phone"] == "+8613800138000"


def test_mapping_file_renames_columns_and_sets_the_source(tmp_path: Path) -> None:
    mapping_path = tmp_path / "map.toml"
    mapping_path.write_text(
        'kind = "contacts"\nsource = "shop"\n[columns]\nTel = "phone"\nName = "full_name"\n'
        'Id = "source_record_id"\n',
        encoding="utf-8",
    )
    mapping = load_mapping(mapping_path)
    data = tmp_path / "export.csv"
    data.write_text("Id,Name,Tel,VIP level\n7,王芳,138 0013 8000,gold\n", encoding="utf-8")
    table = open_table(data, mapping)
    ((_, row),) = list(table.rows())
    profile, problems = normalise_contact(row)
    assert problems == []
    assert profile is not None
    assert profile["record_id"] == "shop:7"
    # Unknown columns are kept, not dropped.
    assert json.loads(profile["attributes"]) == {"VIP level": "gold"}


def test_mapping_file_errors_are_clear(tmp_path: Path) -> None:
    bad = tmp_path / "map.json"
    bad.write_text('{"kind": "people"}', encoding="utf-8")
    with pytest.raises(InputError, match="kind 'people'"):
        load_mapping(bad)


def test_empty_file_unknown_format_and_unknown_columns(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(InputError, match="empty"):
        open_table(empty)
    xlsx = tmp_path / "book.xlsx"
    xlsx.write_bytes(b"PK")
    with pytest.raises(InputError, match="unknown format"):
        open_table(xlsx)
    odd = tmp_path / "odd.csv"
    odd.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(InputError, match="cannot tell what this file holds"):
        open_table(odd)
    with pytest.raises(InputError, match="no such file"):
        expand_paths([tmp_path / "missing.csv"])


def test_a_folder_expands_to_its_files(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("source,source_record_id\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    assert expand_paths([tmp_path]) == [tmp_path / "a.csv"]


def test_upper_case_suffixes_are_read(tmp_path: Path) -> None:
    # X.CSV crashed with KeyError '.CSV' in Table.rows, and a folder of only .CSV files was
    # "no .csv, .jsonl or .parquet files in this folder".
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "CONTACTS.CSV").write_text(
        "source,source_record_id,full_name\ncrm,1,张伟\n", encoding="utf-8"
    )
    (folder / "Events.JsonL").write_text(
        '{"type": "funnel_stage", "time": "2024-01-01", "customer": "crm:1", "stage": "x"}\n',
        encoding="utf-8",
    )
    pq.write_table(
        pa.Table.from_pylist([{"source": "shop", "source_record_id": "2", "full_name": "李娜"}]),
        folder / "more.PARQUET",
    )
    (folder / "tabs.TSV").write_text("source\tsource_record_id\nwx\t3\n", encoding="utf-8")
    files = expand_paths([folder])
    assert [f.name for f in files] == ["CONTACTS.CSV", "Events.JsonL", "more.PARQUET", "tabs.TSV"]
    rows = {f.name: [r for _, r in open_table(f).rows()] for f in files}
    assert rows["CONTACTS.CSV"] == [{"source": "crm", "source_record_id": "1", "full_name": "张伟"}]
    assert rows["Events.JsonL"][0]["stage"] == "x"
    assert rows["more.PARQUET"][0]["full_name"] == "李娜"
    assert rows["tabs.TSV"] == [{"source": "wx", "source_record_id": "3"}]
    mapping = tmp_path / "MAP.JSON"
    mapping.write_text('{"columns": {"Tel": "phone"}}', encoding="utf-8")
    assert load_mapping(mapping).columns == {"Tel": "phone"}


@pytest.mark.parametrize(
    ("row", "field", "reason"),
    [
        ({"source_record_id": "1", "full_name": "x"}, "source", "missing"),
        ({"source": "crm", "full_name": "x"}, "source_record_id", "missing"),
        (
            {
                "source": "crm",
                "source_record_id": "1",
                "full_name": "x",
                "birth_date": "1990-02-31",
            },
            "birth_date",
            "not a date",
        ),
        ({"source": "crm", "source_record_id": "1", "phone": "12"}, "phone", "phone"),
        (
            {"source": "crm", "source_record_id": "1", "full_name": ["a"]},
            "full_name",
            "expected text",
        ),
        ({"source": "crm", "source_record_id": "1", "full_name": "x" * 2000}, "full_name", "over"),
        ({"source": "crm", "source_record_id": "1", "city": "x"}, "*", "nothing to identify"),
    ],
)
def test_malformed_rows_are_rejected_with_field_and_reason(
    row: dict[str, object], field: str, reason: str
) -> None:
    profile, problems = normalise_contact(row)
    assert profile is None
    assert any(f == field and reason in why for f, why in problems), problems


def test_drop_field_policy_loads_the_row_without_the_bad_field() -> None:
    row = {"source": "crm", "source_record_id": "1", "full_name": "x", "birth_date": "19900231"}
    profile, problems = normalise_contact(row, drop_invalid=True)
    assert profile is not None
    assert profile["birth_date"] is None
    assert problems
    assert problems[0][0] == "birth_date"
