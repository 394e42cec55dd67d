"""Messages for bad input say what is wrong with it: not a generic "not a date" for a date
out of range, and the separator when a CSV is not separated by commas."""

from __future__ import annotations

from pathlib import Path

import pytest

from quanzi.errors import InputError
from quanzi.ingest.normalise import normalise_date
from quanzi.ingest.readers import open_table
from quanzi.ingest.records import normalise_contact


@pytest.mark.parametrize("raw", ["0001-01-01", "1899-12-31", "2300-01-01", "0001年1月1日"])
def test_a_date_out_of_range_says_so(raw: str) -> None:
    with pytest.raises(ValueError, match="out of the range of dates Quanzi reads") as e:
        normalise_date(raw)
    assert "1900 to 2200" in str(e.value)
    assert "write it as YYYY-MM-DD" not in str(e.value)  # it is written so


@pytest.mark.parametrize("raw", ["1990-02-30", "garbage", "1990-13-01"])
def test_a_date_that_is_not_one_is_still_told_the_format(raw: str) -> None:
    with pytest.raises(ValueError, match="is not a date; write it as YYYY-MM-DD"):
        normalise_date(raw)


def test_the_rejected_row_names_the_field_and_the_range() -> None:
    row = {"source": "a", "source_record_id": "1", "full_name": "x", "birth_date": "0001-01-01"}
    profile, problems = normalise_contact(row)
    assert profile is None
    assert [f for f, _ in problems] == ["birth_date"]
    assert "out of the range" in problems[0][1]


@pytest.mark.parametrize(
    ("name", "text", "hint"),
    [
        (
            "semi.csv",
            "source;source_record_id;full_name;phone\na;S1;王芳;13800138003\n",
            "separated by ';', not commas: save it with commas (or with tabs, as .tsv)",
        ),
        ("tabs.csv", "source\tsource_record_id\na\t1\n", "separated by tabs, not commas: name it"),
        ("semi.tsv", "source;source_record_id\na;1\n", "separated by ';', not tabs"),
        ("pipes.csv", "source|source_record_id\na|1\n", "separated by '|', not commas"),
    ],
)
def test_a_csv_with_another_separator_is_told_which(
    tmp_path: Path, name: str, text: str, hint: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match="cannot tell what this file holds") as e:
        open_table(path)
    assert hint in str(e.value)


def test_no_separator_hint_for_columns_that_are_just_unknown(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("foo,bar\n1,2\n", encoding="utf-8")
    with pytest.raises(InputError, match="cannot tell what this file holds") as e:
        open_table(path)
    assert "separated" not in str(e.value)
