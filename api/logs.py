"""Personal data never reaches the logs unmasked.

Log messages can carry what a request sent: an unexpected error whose text quotes a field, a
failed job's exception, a web server access line or an httpx request line with the query
string, the store driver's debug lines with query parameters. A filter on those loggers
rewrites every record before any handler sees it:

- e-mail addresses (also URL-encoded, ``%40``) -> ``z***@example.com``;
- phone numbers, found by ``phonenumbers``' matcher (valid numbers only, so dates, counts
  and ids are left alone) -> ``+86 138****8000``;
- values of the query parameters that name a person (``phone``, ``email``, ``name``, ``q``,
  ``a``, ``b`` -- the ones the audit trail redacts) -> ``<redacted>``.

The message is formatted with its arguments first, and an exception's traceback is
formatted and masked too (the record then carries the masked text only).

Examples
--------
>>> mask_text("mail zhang.wei@example.com or call 13800138000", region="CN")
'mail z***@example.com or call +86 138****8000'
>>> mask_text("GET /customers?phone=%2B8613800138000&tier=loyal", region="CN")
'GET /customers?phone=<redacted>&tier=loyal'
"""

from __future__ import annotations

import logging
import re

import phonenumbers

from quanzi.api.services.access import mask_email, mask_phone
from quanzi.api.services.audit import REDACTED_PARAMETERS

__all__ = ["PersonalDataFilter", "install_log_masking", "mask_text"]

_EMAIL = re.compile(r"[\w.+-]+(?:@|%40)[\w-]+(?:\.[\w-]+)+")
_QUERY_VALUE = re.compile(r"(?<=[?&])(" + "|".join(sorted(REDACTED_PARAMETERS)) + r")=[^&\s\"']*")
#: Loggers whose records are masked (with their children): Quanzi's own, the web server's,
#: httpx's (the pages call the API in process through httpx, which logs each URL at INFO),
#: its fork httpx2's (Starlette's test client runs on it when installed, as in the tests)
#: and the Neo4j driver's (at DEBUG it logs every query with its parameters).
MASKED_LOGGERS = (
    "quanzi",
    "uvicorn",
    "uvicorn.access",
    "uvicorn.error",
    "fastapi",
    "httpx",
    "httpx2",
    "neo4j",
    "neo4j.io",
    "neo4j.pool",
)


def mask_text(text: str, *, region: str = "CN") -> str:
    """``text`` with e-mails, phone numbers and personal query values masked."""
    text = _QUERY_VALUE.sub(r"\1=<redacted>", text)
    text = _EMAIL.sub(lambda m: mask_email(m.group(0).replace("%40", "@")), text)
    if not any(ch.isdigit() for ch in text):
        return text
    matches = list(phonenumbers.PhoneNumberMatcher(text, region, phonenumbers.Leniency.VALID))
    for match in reversed(matches):
        number = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
        text = text[: match.start] + mask_phone(number) + text[match.end :]
    return text


class PersonalDataFilter(logging.Filter):
    """Mask personal data in every record of the logger it is attached to."""

    def __init__(self, region: str = "CN") -> None:
        super().__init__("quanzi-personal-data")
        self.region = region

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("uvicorn") and isinstance(record.args, tuple):
            # Its formatters read the arguments (client, method, path, ...): mask each.
            record.args = tuple(
                mask_text(a, region=self.region) if isinstance(a, str) else a for a in record.args
            )
            record.msg = mask_text(str(record.msg), region=self.region)
        else:
            record.msg = mask_text(record.getMessage(), region=self.region)
            record.args = None
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = mask_text(text, region=self.region)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = mask_text(record.exc_text, region=self.region)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info, region=self.region)
        return True


def install_log_masking(region: str = "CN") -> None:
    """Attach the filter to the loggers of :data:`MASKED_LOGGERS` and to every child of
    theirs that exists now. Safe to call more than once."""
    names = set(MASKED_LOGGERS) | {
        name
        for name in logging.Logger.manager.loggerDict
        if name.startswith(tuple(f"{base}." for base in MASKED_LOGGERS))
    }
    for name in sorted(names):
        logger = logging.getLogger(name)
        if not any(isinstance(f, PersonalDataFilter) for f in logger.filters):
            logger.addFilter(PersonalDataFilter(region))
