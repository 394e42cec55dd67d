"""Cells for CSV files that people open in spreadsheets."""

from __future__ import annotations

from typing import Any

__all__ = ["csv_cell"]

#: A cell starting with one of these is run as a formula by Excel, LibreOffice and Sheets.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    """``value`` as CSV cell text that a spreadsheet will not run as a formula.

    Text starting with ``= + - @``, a tab or a carriage return gets a leading ``'`` (OWASP's
    advice against CSV injection), so ``=HYPERLINK(...)`` from a customer's name stays text.
    Phones in international format (``+86 ...``) get it too, which also keeps a spreadsheet
    from reading them as numbers.

    >>> csv_cell('=HYPERLINK("http://x","y")'), csv_cell(None), csv_cell(3), csv_cell("Li")
    ('\\'=HYPERLINK("http://x","y")', '', '3', 'Li')
    """
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text
