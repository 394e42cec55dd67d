"""Normalisation: phones, e-mails, names (simplified = traditional, pinyin), dates."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quanzi.ingest.normalise import (
    city_key,
    latin_name,
    normalise_date,
    normalise_datetime,
    normalise_email,
    normalise_gender,
    normalise_name,
    normalise_phone,
    normalise_text,
)


@pytest.mark.parametrize(
    "raw",
    [
        "+86 138 0013 8000",
        "0086-138-0013-8000",
        "0086 13800138000",
        "138-0013-8000",
        "(138) 0013 8000",
        "13800138000",
        "+8613800138000",
        "８６１３８００１３８０００",
    ],
)
def test_chinese_mobile_in_every_form_is_one_e164(raw: str) -> None:
    assert normalise_phone(raw, "CN") == "+8613800138000"


def test_phone_region_is_configurable() -> None:
    assert normalise_phone("(415) 555-2671", "US") == "+14155552671"
    assert normalise_phone("+852 9685 2983", "CN") == "+85296852983"


@pytest.mark.parametrize("raw", ["abc", "12", "+86 1"])
def test_unreadable_phone_raises_with_reason(raw: str) -> None:
    with pytest.raises(ValueError, match="phone"):
        normalise_phone(raw, "CN")


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("000000000", "one digit repeated"),
        ("000-000-000", "one digit repeated"),
        ("+86 0000000000", "one digit repeated"),
        ("11111111111", "one digit repeated"),
        ("12345", "5 digits after the country code"),
        ("1334444000X", "holds the letter 'X'"),
        ("13344440000x", "holds the letter 'x'"),  # cut to a real-looking mobile before
        ("1-800-FLOWERS", "holds the letter 'F'"),
    ],
)
def test_placeholder_phones_are_refused_not_made_keys(raw: str, why: str) -> None:
    # Each was a "possible" number: 000000000 became +8600000000, a key shared by everyone
    # whose export wrote zeros for an unknown phone.
    with pytest.raises(ValueError, match=why) as refused:
        normalise_phone(raw, "CN")
    assert "leave the field empty" in str(refused.value)


def test_an_impossible_number_with_a_country_code_is_not_told_to_add_one() -> None:
    with pytest.raises(ValueError, match=r"for country code \+1 \(US\) \(too short\)") as e:
        normalise_phone("+1 999", "CN")
    assert "write it with its country code" not in str(e.value)
    with pytest.raises(ValueError, match=r"in region CN .*write it with its country code"):
        normalise_phone("12", "CN")


def test_real_numbers_of_other_countries_and_landlines_still_load() -> None:
    assert normalise_phone("010-12345678", "CN") == "+861012345678"
    assert normalise_phone("+852 6788 5399", "CN") == "+85267885399"  # not "valid" to the library
    assert normalise_phone("+65 8123 4567", "CN") == "+6581234567"
    assert normalise_phone("+1 (415) 555-2671", "CN") == "+14155552671"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("韩\x00八", "韩八"),
        ("朱\x01\x1b[31m十", "朱十"),  # a terminal escape goes whole, not leaving "[31m"
        ("\x1b]0;title\x07Bob", "Bob"),
        ("Li\x7fNa\x9b", "LiNa"),
        ("a\tb\r\nc\x85d", "a b c d"),  # whitespace control characters are spaces
        ("\x00\x1b", None),
    ],
)
def test_control_characters_are_removed_from_text(raw: str, clean: str | None) -> None:
    assert normalise_text(raw) == clean


def test_times_before_the_year_1000_keep_four_digit_years() -> None:
    # strftime wrote "999-05-01T00:00:00Z", which sorts after "2024-..." as text.
    assert normalise_datetime("0999-05-01T00:00:00Z") == "0999-05-01T00:00:00Z"
    assert normalise_datetime("0001-01-01") == "0001-01-01T00:00:00Z"


def test_empty_values_are_none() -> None:
    assert normalise_phone("  ", "CN") is None
    assert normalise_email("") is None
    assert normalise_name(" \t") is None


def test_email_case_and_plus_addressing() -> None:
    assert normalise_email(" Li.Na@QQ.com ") == "li.na@qq.com"
    assert normalise_email("li.na+crm@outlook.com") == "li.na@outlook.com"
    assert normalise_email("J.Smith+x@googlemail.com") == "jsmith@gmail.com"
    # Providers that do not ignore "+tags" keep them.
    assert normalise_email("a+b@163.com") == "a+b@163.com"
    with pytest.raises(ValueError, match="e-mail"):
        normalise_email("not-an-address")


@pytest.mark.parametrize(
    ("a", "b"),
    [("張偉", "张伟"), ("陳 麗華", "陈丽华"), ("  Mary-Ann  ", "mary ann"), ("ＬＩ Ｎａ", "li na")],
)
def test_names_compare_equal_across_scripts_and_spacing(a: str, b: str) -> None:
    assert normalise_name(a) == normalise_name(b)


@pytest.mark.parametrize(
    ("chinese", "latin"),
    [
        ("张小明", "Zhang Xiaoming"),
        ("张小明", "Xiaoming ZHANG"),
        ("曾国藩", "Zeng Guofan"),
        ("欧阳娜娜", "Ouyang Nana"),
        ("單雄信", "Shan Xiongxin"),
    ],
)
def test_pinyin_transliterations_meet_the_chinese_name(chinese: str, latin: str) -> None:
    assert latin_name(chinese) == latin_name(latin)


def test_city_key_ignores_script_and_suffix() -> None:
    assert city_key("深圳市") == city_key("Shenzhen") == city_key("深圳") == "shenzhen"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1990-07-04", "1990-07-04"),
        ("19900704", "1990-07-04"),
        ("1990/7/4", "1990-07-04"),
        ("1990年7月4日", "1990-07-04"),
        ("1990-07-04T10:00:00Z", "1990-07-04"),
    ],
)
def test_dates(raw: str, expected: str) -> None:
    assert normalise_date(raw) == expected


@pytest.mark.parametrize("raw", ["19900231", "next tuesday", "1850-01-01"])
def test_unreadable_date_raises(raw: str) -> None:
    with pytest.raises(ValueError, match="date"):
        normalise_date(raw)


def test_datetimes_become_utc() -> None:
    assert normalise_datetime("2024-05-01 16:30:00+08:00") == "2024-05-01T08:30:00Z"
    assert normalise_datetime("2024-05-01") == "2024-05-01T00:00:00Z"


def test_gender_vocabulary() -> None:
    assert [normalise_gender(g) for g in ("女", "M", "male", "unknown")] == ["f", "m", "m", None]
    with pytest.raises(ValueError, match="gender"):
        normalise_gender("banana")


@given(st.integers(min_value=13000000000, max_value=19999999999))
def test_phone_normalisation_is_idempotent(number: int) -> None:
    once = normalise_phone(str(number), "CN")
    assert once is not None
    assert normalise_phone(once, "CN") == once


@given(st.text(max_size=12))
def test_name_normalisation_is_idempotent(text: str) -> None:
    once = normalise_name(text)
    if once is not None:
        assert normalise_name(once) == once
