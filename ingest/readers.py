"""Readers for CSV, JSON Lines and Parquet files, with an optional column mapping.

A reader yields ``(row, record)`` pairs: ``row`` is the line of the record in the file (the
header of a CSV file is line 1) or, for Parquet, its 1-based position; ``record`` maps Quanzi's
field names to raw values. Which kind of file it is (contacts, events, employees, groups,
campaigns) is told by a mapping file or recognised from the columns.

Examples
--------
>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "crm.csv"
>>> _ = path.write_text("Mobile,Name,Id\\n138 0013 8000,张伟,7\\n", encoding="utf-8")
>>> mapping = ColumnMapping(
...     columns={"Mobile": "phone", "Name": "full_name", "Id": "source_record_id"}, source="crm"
... )
>>> table = open_table(path, mapping)
>>> table.kind, next(iter(table.rows()))[1]["phone"]
('contacts', '138 0013 8000')
"""

from __future__ import annotations

import csv
import json
import sys
import tomllib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from quanzi.errors import InputError

__all__ = [
    "CONTACT_FIELDS",
    "EVENT_TYPES",
    "ColumnMapping",
    "FileKind",
    "Table",
    "expand_paths",
    "load_mapping",
    "open_table",
]

FileKind = Literal["contacts", "events", "employees", "groups", "campaigns", "truth"]
_KINDS: tuple[FileKind, ...] = ("contacts", "events", "employees", "groups", "campaigns", "truth")

#: The fields of a contact record; any other column is kept in ``attributes``.
CONTACT_FIELDS = (
    "source",
    "source_record_id",
    "full_name",
    "given_name",
    "surname",
    "phone",
    "email",
    "wechat_unionid",
    "wechat_openid",
    "id_number",
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
)

#: Event types and the fields each needs besides ``type`` and ``time``.
EVENT_TYPES: dict[str, tuple[str, ...]] = {
    "interaction": ("kind", "from", "to"),
    "group_join": ("customer", "group_id"),
    "group_leave": ("customer", "group_id"),
    "employee_added": ("customer", "employee_id"),
    "employee_deleted": ("customer", "employee_id"),
    "referral": ("inviter", "invitee"),
    "order": ("customer", "order_id", "amount"),
    "tag_applied": ("customer", "tag"),
    "interest": ("customer", "interest"),
    "funnel_stage": ("customer", "stage"),
    "tier_change": ("customer", "tier"),
}

SUFFIXES = {
    ".csv": "csv",
    ".tsv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
}

# Columns that tell a file's kind when no mapping names it, checked in this order.
_SIGNATURES: tuple[tuple[FileKind, frozenset[str]], ...] = (
    ("events", frozenset({"type", "time"})),
    ("truth", frozenset({"source", "source_record_id", "person_id"})),
    ("truth", frozenset({"person_id", "circle_id"})),
    ("contacts", frozenset({"source_record_id"})),
    ("employees", frozenset({"employee_id", "team"})),
    ("groups", frozenset({"group_id", "owner_employee_id"})),
    ("campaigns", frozenset({"campaign_id", "start"})),
)


@dataclass(frozen=True)
class ColumnMapping:
    """How to read a user's own export without editing it.

    Attributes
    ----------
    columns : dict of str to str
        Their column name -> Quanzi's field name (``{"Mobile": "phone"}``).
    kind : str or None
        What the file holds; recognised from the columns when ``None``.
    source : str or None
        The channel of every record, for contact files without a ``source`` column.
    """

    columns: dict[str, str] = field(default_factory=dict)
    kind: FileKind | None = None
    source: str | None = None


def load_mapping(path: Path) -> ColumnMapping:
    """Read a mapping file (TOML or JSON) with keys ``columns``, ``kind`` and ``source``.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "map.toml"
    >>> _ = p.write_text('kind = "contacts"\\nsource = "shop"\\n[columns]\\nTel = "phone"\\n')
    >>> load_mapping(p)
    ColumnMapping(columns={'Tel': 'phone'}, kind='contacts', source='shop')
    """
    try:
        text = path.read_text(encoding="utf-8")
        data: Any = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: cannot read the mapping file ({e})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: a mapping file holds a table with 'columns', 'kind', 'source'")
    unknown = set(data) - {"columns", "kind", "source"}
    columns = data.get("columns", {})
    kind = data.get("kind")
    source = data.get("source")
    if unknown:
        raise InputError(f"{path}: unknown keys {sorted(unknown)}; use columns, kind, source")
    if not isinstance(columns, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in columns.items()
    ):
        raise InputError(f"{path}: 'columns' maps their column names to Quanzi field names")
    if kind is not None and kind not in _KINDS:
        raise InputError(f"{path}: kind {kind!r} is not one of {list(_KINDS)}")
    if source is not None and not isinstance(source, str):
        raise InputError(f"{path}: 'source' is the channel name, as text")
    return ColumnMapping(columns=dict(columns), kind=kind, source=source)


def expand_paths(paths: Sequence[Path]) -> list[Path]:
    """Files to read: each file as given, each folder's readable files in name order."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and _format(p) is not None)
            if not found:
                raise InputError(f"{path}: no .csv, .jsonl or .parquet files in this folder")
            out += found
        elif path.is_file():
            out.append(path)
        else:
            raise InputError(f"{path}: no such file or folder")
    return out


@dataclass
class Table:
    """One input file, opened: its kind, its columns and a way to iterate its rows."""

    path: Path
    kind: FileKind
    columns: list[str]
    mapping: ColumnMapping

    def rows(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """Yield ``(row, record)`` with mapped field names; CSV empty strings become ``None``."""
        fmt = _format(self.path)
        assert fmt is not None, self.path  # open_table checked it
        rename = self.mapping.columns
        source = self.mapping.source
        raw: Iterator[tuple[int, dict[str, Any]]]
        if fmt == "csv":
            raw = _csv_rows(self.path)
        elif fmt == "jsonl":
            raw = _jsonl_rows(self.path)
        else:
            raw = _parquet_rows(self.path)
        for row, record in raw:
            mapped = {rename.get(k, k): v for k, v in record.items()}
            if source is not None and not mapped.get("source"):
                mapped["source"] = source
            yield row, mapped


def open_table(path: Path, mapping: ColumnMapping | None = None) -> Table:
    """Open ``path``, check its format and tell what it holds.

    Raises :class:`~quanzi.errors.InputError` for an unknown format, an empty file or columns
    that match no kind of file.
    """
    mapping = mapping or ColumnMapping()
    fmt = _format(path)
    if fmt is None:
        raise InputError(
            f"{path}: unknown format {path.suffix!r}; Quanzi reads .csv, .jsonl and .parquet"
        )
    try:
        if path.stat().st_size == 0:
            raise InputError(f"{path}: the file is empty")
        columns = _columns(path, fmt)
    except OSError as e:
        raise InputError(f"{path}: cannot read it ({e.strerror})") from None
    _check_unique(path, columns, "is the name of two columns", "rename or remove one of them")
    mapped = [mapping.columns.get(c, c) for c in columns]
    _check_unique(
        path, mapped, "is the name of two columns after the mapping", "map only one column to it"
    )
    if mapping.source is not None and "source" not in mapped:
        mapped.append("source")
    kind = mapping.kind or _recognise(path, set(mapped))
    return Table(path, kind, mapped, mapping)


def _check_unique(path: Path, names: list[str], problem: str, fix: str) -> None:
    """Refuse a file with a column name twice: each row would keep one of the values and
    drop the other without a word. Columns without a name (the empty ones a spreadsheet
    leaves after the last) are let be."""
    twice = _first_repeat(name for name in names if name)
    if twice is not None:
        raise InputError(f"{path}: column {twice!r} {problem}; {fix}")


def _first_repeat(names: Iterable[str]) -> str | None:
    """The first name met a second time, or ``None``."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return name
        seen.add(name)
    return None


def _format(path: Path) -> str | None:
    """The format a file's suffix names, in any case (``X.CSV`` is a CSV file), or ``None``."""
    return SUFFIXES.get(path.suffix.lower())


def _recognise(path: Path, columns: set[str]) -> FileKind:
    for kind, needed in _SIGNATURES:
        if needed <= columns:
            return kind
    raise InputError(
        f"{path}: cannot tell what this file holds from its columns {sorted(columns)[:12]}; "
        "contacts need source_record_id, events need type and time (see docs/ingest.md), "
        "or name the kind and the columns in a mapping file" + _separator_hint(path, columns)
    )


def _separator_hint(path: Path, columns: set[str]) -> str:
    """What to do when a CSV's one column name holds another separator: the file is probably
    separated by it (``;`` from a spreadsheet set to a European locale)."""
    if len(columns) != 1 or path.suffix.lower() not in (".csv", ".tsv"):
        return ""
    (header,) = columns
    expected = "tabs" if path.suffix.lower() == ".tsv" else "commas"
    for sep, name, fix in _OTHER_SEPARATORS:
        if sep in header:
            return f". The file seems to be separated by {name}, not {expected}: {fix}"
    return ""


_OTHER_SEPARATORS = (
    (";", "';'", "save it with commas (or with tabs, as .tsv)"),
    ("\t", "tabs", "name it .tsv, or save it with commas"),
    ("|", "'|'", "save it with commas (or with tabs, as .tsv)"),
)


def _not_text(text: str) -> bool:
    """Whether ``text`` holds bytes that were not UTF-8 (read as lone surrogates) or a JSON
    ``"\ud800"`` escape: neither can be stored."""
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


_NOT_UTF8 = "is not UTF-8 text; save the file as UTF-8"


def _columns(path: Path, fmt: str) -> list[str]:
    if fmt == "csv":
        # Bytes that are not UTF-8 are read as lone surrogates, and their rows rejected one by
        # one (a line saved in another encoding), instead of failing the whole file.
        with path.open(newline="", encoding="utf-8-sig", errors="surrogateescape") as f:
            try:
                header = next(csv.reader(f, delimiter=_delimiter(path)), None)
            except csv.Error as e:
                raise InputError(f"{path}: not a readable CSV file ({e})") from None
        if not header or not any(h.strip() for h in header):
            raise InputError(f"{path}: the file has no header row")
        if _not_text("".join(header)):
            raise InputError(f"{path}: the header row {_NOT_UTF8}")
        return [h.strip() for h in header]
    if fmt == "jsonl":
        with path.open(encoding="utf-8-sig", errors="surrogateescape") as f:
            for line in f:
                if line.strip():
                    try:
                        first = json.loads(line)
                    except ValueError as e:
                        raise InputError(f"{path}: line 1 is not JSON ({e})") from None
                    if not isinstance(first, dict):
                        raise InputError(f"{path}: each line must be one JSON object")
                    if _not_text("".join(first)):
                        raise InputError(f"{path}: the field names of line 1 {_NOT_UTF8}")
                    return list(first)
        raise InputError(f"{path}: the file is empty")
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except Exception as e:
        raise InputError(f"{path}: not a readable Parquet file ({e})") from None
    return list(schema.names)


def _delimiter(path: Path) -> str:
    return "\t" if path.suffix.lower() == ".tsv" else ","


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    csv.field_size_limit(sys.maxsize)  # oversize values are rejected per field, with a reason
    delimiter = _delimiter(path)
    with path.open(newline="", encoding="utf-8-sig", errors="surrogateescape") as f:
        lines: list[str] = []  # the physical lines of the record being read

        def physical_lines() -> Iterator[str]:
            for text in f:
                lines.append(text)
                yield text

        reader = csv.reader(physical_lines(), delimiter=delimiter)
        header = [h.strip() for h in next(reader)]
        width = len(header)
        line = reader.line_num + 1
        lines.clear()
        for values in _csv_records(reader, path):
            span = lines.copy() if len(lines) > 1 else None
            lines.clear()
            if not values or not any(v.strip() for v in values):
                line = reader.line_num + 1
                continue
            if span is not None and _swallowed(span, values, width, delimiter):
                yield line, {"__error__": _unclosed_quote(line, line + len(span) - 1)}
            elif len(values) != width:
                yield line, {"__error__": f"has {len(values)} values for {width} columns"}
            elif _not_text("".join(values)):
                bad = next(h for h, v in zip(header, values, strict=True) if _not_text(v))
                yield line, {"__error__": f"value of column {bad!r} {_NOT_UTF8}"}
            else:
                yield (
                    line,
                    {k: (v if v != "" else None) for k, v in zip(header, values, strict=True)},
                )
            line = reader.line_num + 1


def _swallowed(span: list[str], values: list[str], width: int, delimiter: str) -> bool:
    """Whether a record read from several lines is rows swallowed by a quote left open.

    A quoted value may hold a line break (an address on two lines), but a stray ``"`` at the
    start of a value runs on to the next quote or to the end of the file, taking the rows in
    between as its text. Such a record has the wrong number of values, or one of its later
    lines reads on its own as a whole row of the file's width.
    """
    if len(values) != width:
        return True
    for text in span[1:]:
        alone = next(csv.reader([text], delimiter=delimiter), [])
        if len(alone) == width:
            return True
    return False


def _unclosed_quote(first: int, last: int) -> str:
    return (
        f"has an unclosed quote at line {first}: lines {first}..{last} were read as one value; "
        "close or remove the quote (a value that holds a quote or a line break is written "
        'in quotes, a quote inside it doubled: "say ""hi""")'
    )


def _csv_records(reader: Any, path: Path) -> Iterator[list[str]]:
    try:
        yield from reader
    except csv.Error as e:
        raise InputError(f"{path}: line {reader.line_num} is not readable CSV ({e})") from None


def _jsonl_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8-sig", errors="surrogateescape") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            if _not_text(line):
                yield line_no, {"__error__": _NOT_UTF8}
                continue
            try:
                record = json.loads(line)
            except ValueError as e:
                yield line_no, {"__error__": f"is not JSON ({e})"}
                continue
            if not isinstance(record, dict):
                yield line_no, {"__error__": "is not a JSON object"}
                continue
            if line.count('":') > len(record) and (twice := _key_twice(line)):
                # json.loads keeps the last of two values without a word (a CSV header naming
                # a column twice is refused too). Counting first keeps the hook off most lines.
                yield line_no, {"__error__": f"names the field {twice!r} twice; keep one"}
                continue
            if "\\u" in line and _not_text(json.dumps(record, ensure_ascii=False)):
                yield line_no, {"__error__": "holds a \\u escape that is no Unicode character"}
                continue
            yield line_no, record


def _key_twice(line: str) -> str | None:
    """The first key that one object of a JSON line names twice, if any.

    >>> _key_twice('{"phone": "1", "phone": "2"}'), _key_twice('{"a": {"b": 1}, "b": 2}')
    ('phone', None)
    """
    twice: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        if not twice and (key := _first_repeat(k for k, _ in items)) is not None:
            twice.append(key)
        return dict(items)

    json.loads(line, object_pairs_hook=pairs)
    return twice[0] if twice else None


def _parquet_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    row = 0
    try:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=50_000):
            for record in batch.to_pylist():
                row += 1
                yield row, record
    except (OSError, pa.ArrowException, UnicodeDecodeError) as e:
        # A damaged page: which rows it held is unknown, so the file is refused (before any of
        # its rows is written: files are read whole before their rows are loaded).
        raise InputError(f"{path}: not a readable Parquet file after row {row} ({e})") from None
