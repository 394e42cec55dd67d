"""Contact records: from a raw row to a normalised *profile*, or to reasons for rejecting it.

A profile is a plain dict with the keys in :data:`PROFILE_FIELDS`; it is what the linker
compares and what the graph keeps on the record's ``Identity`` node, so that later batches can
be resolved against it without reading the source files again.

Examples
--------
>>> row = {"source": "wecom", "source_record_id": "9", "full_name": "張 偉"}
>>> profile, problems = normalise_contact(row | {"phone": "0086 138 0013 8000"})
>>> profile["record_id"], profile["name_norm"], profile["phone"], problems
('wecom:9', '张伟', '+8613800138000', [])
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from quanzi.ingest import normalise as n
from quanzi.ingest.readers import CONTACT_FIELDS

__all__ = [
    "KEY_FIELDS",
    "PROFILE_FIELDS",
    "identity_id",
    "normalise_contact",
    "normalise_contacts",
    "record_identity_id",
]

#: Fields that name one channel identity each; each value becomes an ``Identity`` node.
KEY_FIELDS = ("phone", "email", "wechat_unionid", "wechat_openid", "id_number")

#: The keys of a profile (all text or ``None``, except ``tags``: a list of text).
PROFILE_FIELDS = (
    "record_id",
    "source",
    "source_record_id",
    "name",
    "name_norm",
    "name_latin",
    "given_name",
    "surname",
    *KEY_FIELDS,
    "birth_date",
    "street",
    "city",
    "state",
    "postcode",
    "gender",
    "company",
    "created_at",
    "tags",
    "attributes",
    "content_hash",
)

#: The JSON text hashed into ``content_hash`` (as ``json.dumps(..., ensure_ascii=False,
#: default=str)``; one encoder, not one per record).
_HASH_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)
_IDENTIFYING = ("full_name", "given_name", "surname", *KEY_FIELDS)
_TEXT_FIELDS = frozenset(CONTACT_FIELDS) - {"tags", "attributes"}


def record_identity_id(record_id: str) -> str:
    """The ``Identity`` id of one source record (``"<source>:<source_record_id>"``).

    >>> record_identity_id("crm:42")
    'record:crm:42'
    """
    return f"record:{record_id}"


def identity_id(kind: str, key: str) -> str:
    """The ``Identity`` id of a channel key, such as a phone number.

    >>> identity_id("phone", "+8613800138000")
    'phone:+8613800138000'
    """
    return f"{kind}:{key}"


def _phone(region: str) -> Callable[[str], str | None]:
    return lambda raw: n.normalise_phone(raw, region)


def normalise_contact(
    row: Mapping[str, Any],
    *,
    region: str = "CN",
    max_chars: int = 1000,
    drop_invalid: bool = False,
) -> tuple[dict[str, Any] | None, list[tuple[str, str]]]:
    """Normalise one contact row.

    Parameters
    ----------
    row : mapping
        Field name -> raw value (text, number, or for ``tags`` a list, for ``attributes`` a
        mapping). Columns that are not contact fields are kept in ``attributes``.
    region : str
        Region for phone numbers written without a country code.
    max_chars : int
        Longest value accepted for one field.
    drop_invalid : bool
        Load the row without a field that cannot be read (a date, a phone, a gender) instead
        of rejecting the row; the field is still reported in ``problems``.

    Returns
    -------
    profile : dict or None
        The normalised profile, or ``None`` when the row is rejected.
    problems : list of (field, reason)
        Why the row is rejected; empty when it is not.
    """
    problems: list[tuple[str, str]] = []
    text: dict[str, str | None] = {}
    extra: dict[str, Any] = {}
    for key, value in row.items():
        if value is None:
            text[key] = None
            continue
        if type(value) is str:  # what CSV files give: the common case, without _as_text
            if not value.isascii() and not _is_unicode(value):
                problems.append((key, _NOT_UNICODE))
                continue
            if len(value) > max_chars:
                problems.append((key, f"value of {len(value)} characters is over {max_chars}"))
            if key in _TEXT_FIELDS:
                text[key] = value
            elif key not in ("tags", "attributes"):
                extra[key] = value
            continue
        value = n.plain_text(value)  # Parquet's dates, times and decimals
        as_text, why = _as_text(value)
        if why is not None:
            problems.append((key, why))
            continue
        if len(as_text) > max_chars:
            problems.append((key, f"value of {len(as_text)} characters is over {max_chars}"))
        if key in _TEXT_FIELDS:
            if isinstance(value, str | int | float) and not isinstance(value, bool):
                text[key] = as_text
            else:
                problems.append((key, f"expected text, got {type(value).__name__}"))
        elif key not in ("tags", "attributes"):
            extra[key] = value
    refused = {f for f, _ in problems}

    tags = _tags(None if "tags" in refused else row.get("tags"), problems, max_chars)
    attributes = _attributes(None if "attributes" in refused else row.get("attributes"), problems)
    attributes.update(extra)

    source = n.normalise_text(text.get("source"))
    record_key = n.normalise_text(text.get("source_record_id"))
    if source is None:
        problems.append(("source", "missing: the channel the record comes from is required"))
    if record_key is None:
        problems.append(("source_record_id", "missing: the record's id in its channel is required"))
    if not any(n.normalise_text(text.get(f)) for f in _IDENTIFYING if f in text):
        problems.append(
            ("*", "no name, phone, e-mail, WeChat id or id number: nothing to identify the person")
        )

    normalisers: dict[str, Callable[[str], str | None]] = {
        "phone": _phone(region),
        "email": n.normalise_email,
        "id_number": n.normalise_id_number,
        "birth_date": lambda raw: n.not_in_future(n.normalise_date(raw), "a birth date"),
        "postcode": n.normalise_postcode,
        "gender": n.normalise_gender,
        "created_at": lambda raw: n.not_in_future(n.normalise_datetime(raw), "a record's time"),
    }
    out: dict[str, Any] = {}
    unreadable: list[tuple[str, str]] = []
    for field, normaliser in normalisers.items():
        raw = text.get(field)
        if raw is None:
            out[field] = None
            continue
        try:
            out[field] = normaliser(raw)
        except ValueError as e:
            out[field] = None
            unreadable.append((field, f"{e} (field dropped)" if drop_invalid else str(e)))
    if problems or (unreadable and not drop_invalid):
        return None, problems + unreadable

    full = n.normalise_text(text.get("full_name"))
    given = n.normalise_text(text.get("given_name"))
    surname = n.normalise_text(text.get("surname"))
    if full is None and (given or surname):
        both = [p for p in (surname, given) if p]
        cjk = all(n.has_cjk(p) for p in both)
        full = "".join(both) if cjk else " ".join(reversed(both))
    name_norm = n.normalise_name(full) if full else None
    if name_norm and n.has_cjk(name_norm) and " " not in name_norm and not (given or surname):
        surname, given = n.split_chinese_name(name_norm)

    profile: dict[str, Any] = {
        "record_id": f"{source}:{record_key}",
        "source": source,
        "source_record_id": record_key,
        "name": full,
        "name_norm": name_norm,
        "name_latin": n.latin_name(full) if full else None,
        "given_name": n.normalise_name(given) if given else None,
        "surname": n.normalise_name(surname) if surname else None,
        "wechat_unionid": n.normalise_text(text.get("wechat_unionid")),
        "wechat_openid": n.normalise_text(text.get("wechat_openid")),
        "street": n.normalise_name(text["street"]) if text.get("street") else None,
        "city": n.normalise_name(text["city"]) if text.get("city") else None,
        "state": n.normalise_name(text["state"]) if text.get("state") else None,
        "company": n.normalise_company(text["company"]) if text.get("company") else None,
        "tags": tags,
        "attributes": json.dumps(attributes, ensure_ascii=False, sort_keys=True, default=str)
        if attributes
        else None,
        **out,
    }
    digest = _HASH_ENCODER.encode([profile.get(f) for f in PROFILE_FIELDS])
    profile["content_hash"] = hashlib.blake2b(digest.encode(), digest_size=12).hexdigest()
    return profile, unreadable


def normalise_contacts(
    rows: Sequence[Mapping[str, Any]],
    *,
    region: str = "CN",
    max_chars: int = 1000,
    drop_invalid: bool = False,
) -> list[tuple[dict[str, Any] | None, list[tuple[str, str]]]]:
    """:func:`normalise_contact` of each row, in order: the work of one normalising process.

    A row the reader could not read (holding ``"__error__"``) gives ``(None, [])``.

    >>> [p["phone"] for p, _ in normalise_contacts([{"source": "a", "source_record_id": "1",
    ...                                              "phone": "13800138000"}])]
    ['+8613800138000']
    """
    return [
        (None, [])
        if "__error__" in row
        else normalise_contact(row, region=region, max_chars=max_chars, drop_invalid=drop_invalid)
        for row in rows
    ]


_NOT_UNICODE = (
    "holds characters that are not valid Unicode text: save the file as UTF-8 "
    "(it may be in another encoding)"
)


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: bytes that were not UTF-8
        return False
    return True


def _as_text(value: Any) -> tuple[str, str | None]:
    """A raw value as the text that is measured against the size limit and, for text fields,
    normalised; or the reason it cannot be read as text."""
    try:
        if isinstance(value, str):
            as_text = value
        elif isinstance(value, float) and value.is_integer():
            as_text = str(int(value))
        elif isinstance(value, int | float):
            as_text = str(value)
        else:
            as_text = json.dumps(value, ensure_ascii=False, default=str)
        if not as_text.isascii():
            as_text.encode("utf-8")
    except UnicodeEncodeError:
        return "", _NOT_UNICODE
    except (ValueError, TypeError) as e:  # a number of over 4,300 digits; a map with odd keys
        return "", f"cannot be read as text ({e})"
    return as_text, None


def _tags(value: Any, problems: list[tuple[str, str]], max_chars: int) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        items = value.split(";")
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        items = value
    else:
        problems.append(("tags", "expected text separated by ';' or a list of text"))
        return []
    tags = sorted({t for t in (n.normalise_text(i) for i in items) if t})
    if any(len(t) > max_chars for t in tags):
        problems.append(("tags", f"a tag is longer than {max_chars} characters"))
    return tags


def _attributes(value: Any, problems: list[tuple[str, str]]) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
            json.dumps(value, ensure_ascii=False).encode("utf-8")  # "\ud800" escapes
        except ValueError:
            problems.append(("attributes", "expected a JSON object of valid Unicode text"))
            return {}
    if not isinstance(value, dict):
        problems.append(("attributes", "expected a JSON object"))
        return {}
    return dict(value)
