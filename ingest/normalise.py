"""Normalisation of contact fields with maintained libraries, before any comparison.

Every function takes the raw text of one field and returns its normal form, ``None`` for an
empty value, or raises ``ValueError`` with a reason a user can act on. Results are cached, since
the same phone numbers, names and dates repeat across channels.

Examples
--------
>>> normalise_phone("0086 138-0013-8000")
'+8613800138000'
>>> normalise_email(" John.Smith+news@GMail.com ")
'johnsmith@gmail.com'
>>> normalise_name("張 偉") == normalise_name("张伟")
True
>>> latin_name("张小明"), latin_name("Xiaoming ZHANG")
('xiaoming zhang', 'xiaoming zhang')
>>> normalise_date("1990/7/4")
'1990-07-04'
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

import opencc
import phonenumbers
from pypinyin import lazy_pinyin

__all__ = [
    "city_key",
    "has_cjk",
    "latin_name",
    "normalise_company",
    "normalise_date",
    "normalise_datetime",
    "normalise_email",
    "normalise_gender",
    "normalise_id_number",
    "normalise_name",
    "normalise_phone",
    "normalise_postcode",
    "normalise_text",
    "plain_number",
    "plain_text",
    "split_chinese_name",
]

_CACHE = 1 << 18


def plain_text(value: Any) -> Any:
    """A typed file's value (Parquet's dates, times and decimals) as the text a CSV file would
    hold; any other value as it is.

    A date is ``YYYY-MM-DD``, a time ISO 8601 (one without a zone is read as UTC, like the
    same text), a decimal its exact digits (a ``decimal(18, 0)`` id number loses none).

    >>> plain_text(date(1990, 1, 2)), plain_text(datetime(2024, 5, 1, 8, 30))
    ('1990-01-02', '2024-05-01T08:30:00')
    >>> plain_text(Decimal("110101199001011234")), plain_text(Decimal("12.50")), plain_text(7)
    ('110101199001011234', '12.50', 7)
    """
    if isinstance(value, datetime):
        return datetime.isoformat(value)  # a pandas Timestamp too, to the microsecond
    if isinstance(value, date):
        return date.isoformat(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            return str(value)
        return str(int(value)) if value == value.to_integral_value() else format(value, "f")
    return value


def plain_number(value: Any) -> Any:
    """A typed file's number (a Parquet decimal) as a float; any other value as it is.

    >>> plain_number(Decimal("12.50")), plain_number("3")
    (12.5, '3')
    """
    return float(value) if isinstance(value, Decimal) else value


_SPACES = re.compile(r"\s+")
# Name punctuation: the middle dots of transliterated names, hyphens, commas, dots, apostrophes.
_NAME_PUNCT = re.compile(r"[·•・\-‐‑,.'’\"()（）]+")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_NON_ALNUM = re.compile(r"[^0-9A-Za-z]+")

_T2S = opencc.OpenCC("t2s")
_CN_MOBILE = re.compile(r"^(?:\+86|0086|86)?(1[3-9]\d{9})$")
_NOT_DIGIT_OR_PLUS = re.compile(r"[^\d+]")

#: Providers whose mailboxes ignore a ``+tag`` suffix (and, for Gmail, dots) in the local part.
PLUS_ADDRESSING = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "icloud.com",
        "me.com",
        "fastmail.com",
        "proton.me",
        "protonmail.com",
    }
)
_DOTS_IGNORED = frozenset({"gmail.com", "googlemail.com"})

#: Two-character Chinese surnames, so that the given name is what follows them.
COMPOUND_SURNAMES = frozenset(
    [
        "欧阳",
        "司马",
        "上官",
        "诸葛",
        "东方",
        "皇甫",
        "尉迟",
        "公孙",
        "慕容",
        "长孙",
        "宇文",
        "司徒",
        "夏侯",
        "轩辕",
        "令狐",
        "钟离",
        "闾丘",
        "独孤",
        "南宫",
        "西门",
        "端木",
        "百里",
        "呼延",
        "万俟",
        "澹台",
        "公冶",
        "太史",
        "申屠",
        "赫连",
        "拓跋",
        "第五",
    ]
)
#: Surnames read differently from the same character in ordinary words.
_SURNAME_PINYIN = {
    "单": "shan",
    "曾": "zeng",
    "解": "xie",
    "仇": "qiu",
    "朴": "piao",
    "查": "zha",
    "区": "ou",
    "乐": "yue",
    "覃": "qin",
    "翟": "zhai",
    "盖": "ge",
    "缪": "miao",
    "秘": "bi",
    "长孙": "zhangsun",
    "万俟": "moqi",
    "尉迟": "yuchi",
    "重": "chong",
    "种": "chong",
    "任": "ren",
    "华": "hua",
    "沈": "shen",
    "柏": "bai",
    "燕": "yan",
}


def normalise_text(raw: str | None) -> str | None:
    r"""NFKC, trimmed, inner whitespace collapsed, control and invisible format characters
    removed; ``None`` when nothing is left.

    Control characters (Unicode category Cc) have no place in a one-line field: tab, newline
    and the other whitespace ones become a space like any whitespace, the rest are removed, and
    a terminal escape sequence (``ESC [31m``) is removed whole, so that a name does not recolour
    the terminal or log it is printed to.

    >>> normalise_text("  ＡＢＣ   Street ")
    'ABC Street'
    >>> normalise_text("韩\x00八"), normalise_text("朱\x01\x1b[31m十")
    ('韩八', '朱十')
    >>> normalise_text("张\u200b伟") == "张伟", normalise_text("\u202eabc")
    (True, 'abc')
    """
    if raw is None:
        return None
    text = str(raw)
    ascii_only = text.isascii()
    printable = text.isprintable()  # cheap: _CONTROL runs only for text that needs it
    if ascii_only and printable and "  " not in text:  # no tab, newline, double space: as is
        return text.strip() or None
    if not printable:  # before NFKC, which could compose what a removed character held apart
        text = _CONTROL.sub("", text)
    if not ascii_only:
        text = unicodedata.normalize("NFKC", text)
    text = _SPACES.sub(" ", text).strip()
    return text or None


#: Terminal escape sequences (CSI ``ESC [ ... m``, OSC ``ESC ] ... BEL``), a lone ESC, the
#: control characters that are not whitespace (whitespace ones are made spaces by ``_SPACES``),
#: and invisible format characters: the soft hyphen, zero-width spaces and joiners, direction
#: marks and overrides, the byte-order mark (``张\u200b伟`` is ``张伟``, and a right-to-left
#: override cannot reverse how a name reads).
_CONTROL = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\))?"
    r"|[\x00-\x08\x0e-\x1a\x7f-\x84\x86-\x9f\xad\u200b-\u200f\u202a-\u202e\u2060-\u2064"
    r"\u2066-\u2069\ufeff]"
)


@lru_cache(maxsize=_CACHE)
def has_cjk(text: str) -> bool:
    """Whether ``text`` holds a Chinese character.

    >>> has_cjk("Li 李"), has_cjk("Li")
    (True, False)
    """
    return _CJK.search(text) is not None


@lru_cache(maxsize=_CACHE)
def normalise_phone(raw: str, region: str = "CN") -> str | None:
    """A phone number in E.164, read in ``region`` when it has no country code.

    Raises ``ValueError`` when the text is not a possible phone number, or is a placeholder
    rather than a number: text with letters in it (``1334444000X``, ``1-800-FLOWERS``), fewer
    than 7 digits after the country code (``12345``), one digit repeated (``000000000``). A
    placeholder kept would become a channel key shared by everyone who has it, and join
    people with the same name (the "same phone and name" rule). Validity against the
    numbering plan (``phonenumbers.is_valid_number``) is *not* required: its metadata lags
    behind newly allocated ranges (it refused a few Hong Kong mobiles of the generator's).

    >>> normalise_phone("(138) 0013 8000"), normalise_phone("+1 415-555-2671")
    ('+8613800138000', '+14155552671')
    """
    text = normalise_text(raw)
    if text is None:
        return None
    if letter := _LETTER.search(text):
        raise ValueError(
            f"{text!r} holds the letter {letter[0]!r}; a phone number is written in digits "
            "(with +, spaces, dashes or parentheses): correct it, or leave the field empty"
        )
    if region == "CN" or text.startswith(("+86", "0086", "86")):
        # The common case, a mainland mobile number in any of its written forms, without the
        # cost of a full parse (1[3-9] and 9 more digits: never one digit repeated).
        match = _CN_MOBILE.match(_NOT_DIGIT_OR_PLUS.sub("", text))
        if match:
            return "+86" + match[1]
    try:
        number = phonenumbers.parse(text, region, keep_raw_input=True)
    except phonenumbers.NumberParseException as e:
        raise ValueError(f"{text!r} is not a phone number ({e})") from None
    if not phonenumbers.is_possible_number(number):
        # A Chinese mobile written with the bare country code and no "+" (8613800138000).
        if text.startswith("86") and region != "CN":
            return normalise_phone("+" + text, region)
        raise ValueError(_not_possible(text, number, region))
    national = phonenumbers.national_significant_number(number)
    if len(set(national)) == 1:
        raise ValueError(
            f"{text!r} is one digit repeated, a placeholder, not a phone number; "
            "leave the field empty when the number is not known"
        )
    if len(national.lstrip("0")) < 7:
        raise ValueError(
            f"{text!r} has {len(national.lstrip('0'))} digits after the country code, "
            "a phone number has at least 7; write the whole number, or leave the field empty"
        )
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    # Read again, a key must be itself: 0001000000 in CN gave +86001000000, which reads as
    # +8601000000 (zeros a national number does not start with), so one customer's phone
    # would be two keys across loads.
    if (
        phonenumbers.format_number(phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.E164)
        != e164
    ):
        raise ValueError(
            f"{text!r} is not a phone number: its digits after the country code "
            f"(+{number.country_code}) start with zeros no number there has; check its digits"
        )
    return e164


_LETTER = re.compile(r"[^\W\d_]")
_WHY_NOT_POSSIBLE = {
    phonenumbers.ValidationResult.TOO_SHORT: "too short",
    phonenumbers.ValidationResult.TOO_LONG: "too long",
    phonenumbers.ValidationResult.INVALID_LENGTH: "of a length no number there has",
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "of an unknown country code",
}


def _not_possible(text: str, number: phonenumbers.PhoneNumber, region: str) -> str:
    """Why ``number`` (parsed from ``text``) is not a possible number, and what to do."""
    why = _WHY_NOT_POSSIBLE.get(phonenumbers.is_possible_number_with_reason(number), "")
    why = f" ({why})" if why else ""
    if number.country_code_source in (
        phonenumbers.CountryCodeSource.FROM_NUMBER_WITH_PLUS_SIGN,
        phonenumbers.CountryCodeSource.FROM_NUMBER_WITH_IDD,
    ):
        # It has a country code already: saying "write it with its country code" would not help.
        code = number.country_code or 0
        where = phonenumbers.region_code_for_country_code(code)
        return (
            f"{text!r} is not a possible phone number for country code +{code} ({where}){why}; "
            "check its digits"
        )
    return (
        f"{text!r} is not a possible phone number in region {region}{why}; check its digits, "
        "or write it with its country code (+86 ...) if it is from another country"
    )


@lru_cache(maxsize=_CACHE)
def normalise_email(raw: str) -> str | None:
    """A lower-case e-mail address, with ``+tags`` (and Gmail dots) removed where ignored.

    Raises ``ValueError`` when the text is not an e-mail address.

    >>> normalise_email("Li.Na+crm@Outlook.com")
    'li.na@outlook.com'
    """
    text = normalise_text(raw)
    if text is None:
        return None
    text = text.replace(" ", "").lower()
    if not _EMAIL.match(text):
        raise ValueError(f"{text!r} is not an e-mail address (name@domain)")
    local, domain = text.rsplit("@", 1)
    if domain in PLUS_ADDRESSING:
        local = local.split("+", 1)[0]
    if domain in _DOTS_IGNORED:
        local = local.replace(".", "")
        domain = "gmail.com"
    if not local:
        raise ValueError(f"{text!r} has an empty mailbox name")
    return f"{local}@{domain}"


@lru_cache(maxsize=_CACHE)
def normalise_name(raw: str) -> str | None:
    """A comparable form of a person's name: NFKC, simplified Chinese, lower case, one space.

    Chinese names lose their inner spaces, so ``"张 伟"``, ``"張偉"`` and ``"张伟"`` are equal.

    >>> normalise_name("  Mary-Ann   O'Neil "), normalise_name("陳 麗華")
    ('mary ann o neil', '陈丽华')
    """
    text = normalise_text(raw)
    if text is None:
        return None
    text = _NAME_PUNCT.sub(" ", text)
    if has_cjk(text):
        text = _T2S.convert(text)
        text = "".join(text.split()) if all(has_cjk(t) for t in text.split()) else text
    text = _SPACES.sub(" ", text).strip().casefold()
    return text or None


def split_chinese_name(name: str) -> tuple[str, str]:
    """Split a simplified Chinese full name into ``(surname, given name)``.

    >>> split_chinese_name("欧阳娜娜"), split_chinese_name("王芳")
    (('欧阳', '娜娜'), ('王', '芳'))
    """
    if len(name) >= 3 and name[:2] in COMPOUND_SURNAMES:
        return name[:2], name[2:]
    return name[:1], name[1:]


@lru_cache(maxsize=1 << 16)
def _char_pinyin(char: str) -> str:
    return "".join(lazy_pinyin(char))


def _pinyin(text: str) -> str:
    # Character by character (cached): names are read character by character anyway.
    return "".join(_char_pinyin(c) if has_cjk(c) else c for c in text)


@lru_cache(maxsize=_CACHE)
def latin_name(raw: str) -> str | None:
    """The name in Latin letters, tokens sorted, so pinyin and Chinese forms compare equal.

    Chinese names become pinyin written as surname and given name (``张小明`` ->
    ``zhang xiaoming``), using the surname readings (``曾`` is ``zeng``); tokens are sorted so
    that the order of surname and given name does not matter.

    >>> latin_name("曾小凡") == latin_name("Xiaofan Zeng")
    True
    """
    name = normalise_name(raw)
    if name is None:
        return None
    if has_cjk(name):
        parts = []
        for token in name.split():
            if all(has_cjk(c) for c in token):
                surname, given = split_chinese_name(token)
                first = _SURNAME_PINYIN.get(surname) or _pinyin(surname)
                parts += [first, _pinyin(given)] if given else [first]
            else:
                parts.append(_pinyin(token))
        name = " ".join(parts)
    name = unicodedata.normalize("NFKD", name)
    name = "".join(c for c in name if not unicodedata.combining(c))  # ü -> u, é -> e
    tokens = sorted(t for t in _NON_ALNUM.sub(" ", name.lower()).split() if t)
    return " ".join(tokens) or None


_DATE_FORMATS = ("%Y-%m-%d", "%Y%m%d", "%Y/%m/%d", "%Y.%m.%d", "%d/%m/%Y", "%d.%m.%Y")
_CN_DATE = re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?$")


@lru_cache(maxsize=_CACHE)
def normalise_date(raw: str) -> str | None:
    """A calendar date as ``YYYY-MM-DD``.

    Reads ISO dates (with or without a time), ``YYYYMMDD``, ``YYYY/M/D``, ``D/M/YYYY`` and
    ``YYYY年M月D日``; raises ``ValueError`` for anything else or a year before 1900 or after
    2200 (saying which of the two).

    >>> normalise_date("19560409"), normalise_date("2001年2月3日")
    ('1956-04-09', '2001-02-03')
    """
    text = normalise_text(raw)
    if text is None:
        return None
    found: date | None = None
    if m := _CN_DATE.match(text):
        try:
            found = date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            found = None
    else:
        head = text.split("T", 1)[0].split(" ", 1)[0]
        for fmt in _DATE_FORMATS:
            try:
                found = datetime.strptime(head, fmt).date()
                break
            except ValueError:
                continue
    if found is None:
        raise ValueError(f"{text!r} is not a date; write it as YYYY-MM-DD")
    if found.year < 1900 or found.year > 2200:
        raise ValueError(
            f"{text!r} is out of the range of dates Quanzi reads (years 1900 to 2200); "
            "correct the year, or leave the field empty when it is not known"
        )
    return found.isoformat()


#: ``2024-05-01T08:30:00Z`` (years 1000-9999; earlier ones, written with leading zeros, take the
#: slow path).
_UTC_SECONDS = re.compile(r"[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\Z")


@lru_cache(maxsize=_CACHE)
def normalise_datetime(raw: str) -> str | None:
    """A point in time as ISO 8601 in UTC (``2024-05-01T08:30:00Z``); naive times are UTC.

    >>> normalise_datetime("2024-05-01 16:30:00+08:00")
    '2024-05-01T08:30:00Z'
    """
    text = normalise_text(raw)
    if text is None:
        return None
    if _UTC_SECONDS.match(text):
        # Already in the form returned (the common case): only check it is a real time.
        try:
            datetime.fromisoformat(text)
            return text
        except ValueError:
            pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            moment = _other_datetime(text)
        except ValueError:
            raise ValueError(
                f"{text!r} is not a date-time; write it as ISO 8601 (2024-05-01T08:30:00Z)"
            ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before the first representable UTC time
        raise ValueError(f"{text!r} is out of the range of dates Quanzi stores") from None
    return _utc_text(moment)


#: The time of day after a date that ``datetime.fromisoformat`` does not read: a zone written
#: ``z``, ``UTC`` or ``GMT`` or after a space, and an offset followed by the zone's name
#: (``18:00:00+08:00[Asia/Shanghai]``).
_TIME_OF_DAY = re.compile(
    r"(\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)"
    r"\s*(?:(z|utc|gmt|[+-]\d{2}(?::?\d{2})?)(?:\s*\[[\w/+-]+\])?)?",
    re.IGNORECASE,
)


def _other_datetime(text: str) -> datetime:
    """A date-time that ``fromisoformat`` does not read: a date as :func:`normalise_date` reads
    it, then a time of day (:data:`_TIME_OF_DAY`) or nothing (midnight). Raises ``ValueError``
    for any other time: it was read as midnight before, so ``2024-05-01T10:00:00 UTC`` and
    ``2024-05-01T10:00:00Z`` were two events, and two calls of one day one.

    >>> _other_datetime("2024/05/01 18:00:00 UTC"), _other_datetime("1/5/2024 10:00")
    (datetime.datetime(2024, 5, 1, 18, 0, tzinfo=datetime.timezone.utc), \
datetime.datetime(2024, 5, 1, 10, 0))
    >>> _other_datetime("2024-05-01 18:00 CST")
    Traceback (most recent call last):
    ...
    ValueError: '18:00 CST' is not a time of day
    """
    head = text.split("T", 1)[0].split(" ", 1)[0]
    rest = text[len(head) :].lstrip("Tt ").strip()
    if not rest:
        return datetime.fromisoformat(normalise_date(text) or "")
    day = normalise_date(head)
    found = _TIME_OF_DAY.fullmatch(rest)
    if day is None or found is None:
        raise ValueError(f"{rest!r} is not a time of day")
    clock, zone = found[1].replace(",", "."), found[2] or ""
    if len(clock) < 5:  # 9:30
        clock = "0" + clock
    if zone.lower() in ("z", "utc", "gmt"):
        zone = "+00:00"
    return datetime.fromisoformat(f"{day}T{clock}{zone}")


def _utc_text(moment: datetime) -> str:
    """A UTC time as ``2024-05-01T08:30:00Z``. isoformat, not strftime("%Y..."): strftime
    writes the year 999 as "999", and times are compared as text ("999-05-01T..." sorted
    after every "2024-..." time)."""
    return moment.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


_GENDERS = {
    "m": "m",
    "male": "m",
    "man": "m",
    "男": "m",
    "f": "f",
    "female": "f",
    "woman": "f",
    "女": "f",
    "u": None,
    "unknown": None,
    "未知": None,
    "other": "x",
    "x": "x",
}


#: How far after now a recorded time may lie (clocks and time zones differ by less).
FUTURE_SLACK = timedelta(days=1)


def not_in_future(normalised: str | None, what: str) -> str | None:
    """``normalised`` (a date or time from :func:`normalise_date` / :func:`normalise_datetime`)
    unless it lies more than :data:`FUTURE_SLACK` after now: an event dated 9999 would be a
    customer's last activity for good, and a birth date in 2099 is a typing error.

    >>> not_in_future("2024-05-02T09:00:00Z", "time")
    '2024-05-02T09:00:00Z'
    >>> not_in_future("2099-01-01", "a birth date")
    Traceback (most recent call last):
    ...
    ValueError: '2099-01-01' is in the future; a birth date cannot be: check the value
    """
    if normalised is None:
        return None
    # A date compares with the date part of the bound, a time with all of it.
    bound = _utc_text(datetime.now(UTC) + FUTURE_SLACK)[: len(normalised)]
    if normalised > bound:
        raise ValueError(f"{normalised!r} is in the future; {what} cannot be: check the value")
    return normalised


def normalise_gender(raw: str) -> str | None:
    """``"m"``, ``"f"``, ``"x"`` (other) or ``None`` (unknown).

    >>> normalise_gender("Female"), normalise_gender("男"), normalise_gender("")
    ('f', 'm', None)
    """
    text = normalise_text(raw)
    if text is None:
        return None
    key = text.casefold()
    if key not in _GENDERS:
        raise ValueError(f"{text!r} is not a gender; use m, f, other or unknown")
    return _GENDERS[key]


def normalise_id_number(raw: str) -> str | None:
    """A national id or social security number: upper case, letters and digits only.

    >>> normalise_id_number(" 11010519491231002x ")
    '11010519491231002X'
    """
    text = normalise_text(raw)
    if text is None:
        return None
    return _NON_ALNUM.sub("", text).upper() or None


def normalise_postcode(raw: str) -> str | None:
    """A postcode, upper case without spaces.

    >>> normalise_postcode("sw1a 1aa")
    'SW1A1AA'
    """
    return normalise_id_number(raw)


@lru_cache(maxsize=_CACHE)
def normalise_company(raw: str) -> str | None:
    """A company name for comparison: like :func:`normalise_name`, legal suffixes kept.

    >>> normalise_company("  騰訊 科技 ")
    '腾讯科技'
    """
    return normalise_name(raw)


_CITY_SUFFIX = re.compile(r"(市|省|区|县|city)$")


@lru_cache(maxsize=_CACHE)
def city_key(raw: str) -> str:
    """A city name for comparison: Latin letters, without the 市 / 省 / "city" suffix.

    >>> city_key("深圳市") == city_key("Shenzhen") == city_key("深圳")
    True
    """
    text = normalise_name(raw) or ""
    text = _CITY_SUFFIX.sub("", text).strip() or text
    return (latin_name(text) or text).replace(" ", "")
