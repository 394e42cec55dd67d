"""Map Quanzi's errors to ``application/problem+json`` responses (RFC 9457).

Only this module knows HTTP status codes: services raise :mod:`quanzi.errors` errors (and the
few API-only ones below), and every response that is not a success is a problem document
with a message a person can act on, never a stack trace.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from quanzi.api.services.health import STORE_DOWN_DETAIL
from quanzi.errors import (
    ConfigError,
    ConflictError,
    InputError,
    NotFoundError,
    QuanziError,
    StoreUnavailableError,
)

__all__ = [
    "CONFLICT_RESPONSE",
    "MOVED_RESPONSE",
    "PROBLEM_RESPONSES",
    "AuthenticationError",
    "CustomerMovedError",
    "PermissionDeniedError",
    "RequestTooLargeError",
    "ServiceUnavailableError",
    "install_error_handlers",
    "problem",
]

log = logging.getLogger("quanzi.api")

#: Input errors raised by services start with the field they are about: ``"phone: ..."``.
_FIELD_MESSAGE = re.compile(r"^([A-Za-z_][\w.]*): (.+)$", re.DOTALL)


class AuthenticationError(QuanziError):
    """No API key, or one that is unknown or revoked (401)."""


class PermissionDeniedError(QuanziError):
    """The key's role does not allow the operation (403)."""


class ServiceUnavailableError(QuanziError):
    """A part of the service is not available in this deployment (503)."""


class CustomerMovedError(QuanziError):
    """The customer was merged into another one; the client should follow (307).

    Attributes
    ----------
    merged_id, survivor_id : str
        The id asked for and the id of the customer it was merged into.
    """

    def __init__(self, merged_id: str, survivor_id: str) -> None:
        super().__init__(
            f"Customer {merged_id} was merged into {survivor_id}; follow the Location header "
            "or use the new id"
        )
        self.merged_id = merged_id
        self.survivor_id = survivor_id


def _size(n: int) -> str:
    for unit, factor in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= factor and n % factor == 0:
            return f"{n // factor} {unit}"
    return f"{n:,} bytes"


class RequestTooLargeError(StarletteHTTPException):
    """A request body over the size limit (413), raised while the body is read.

    An ``HTTPException`` so that FastAPI passes it on unchanged from body parsing.

    Attributes
    ----------
    limit_bytes : int
        The limit that was passed.
    """

    def __init__(self, limit_bytes: int, *, upload: bool) -> None:
        if upload:
            detail = (
                f"The upload is over the limit of {_size(limit_bytes)} per request "
                "(QUANZI_API_MAX_UPLOAD_BYTES); send the files in several uploads"
            )
        else:
            detail = (
                f"The request body is over the limit of {_size(limit_bytes)} "
                "(QUANZI_API_MAX_BODY_BYTES); send fewer records per request, or upload a file"
            )
        super().__init__(413, detail)
        self.limit_bytes = limit_bytes

    def response(self) -> JSONResponse:
        """The problem+json answer."""
        return problem(413, "Content too large", self.detail, limit_bytes=self.limit_bytes)


_STATUS: list[tuple[type[QuanziError], int, str]] = [
    (AuthenticationError, 401, "Unauthorized"),
    (PermissionDeniedError, 403, "Forbidden"),
    (NotFoundError, 404, "Not found"),
    (InputError, 422, "Invalid input"),
    (ConflictError, 409, "Conflict"),
    (StoreUnavailableError, 503, "Graph store unavailable"),
    (ServiceUnavailableError, 503, "Service unavailable"),
    (ConfigError, 500, "Configuration error"),
    (QuanziError, 500, "Quanzi error"),
]

_PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}

#: OpenAPI ``responses`` for the errors every authenticated endpoint can return.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing, unknown or revoked API key.", "content": _PROBLEM},
    403: {"description": "The key's role does not allow this.", "content": _PROBLEM},
    404: {"description": "Unknown id.", "content": _PROBLEM},
    422: {"description": "Invalid input; `errors` names the fields.", "content": _PROBLEM},
    413: {"description": "The request body is over the size limit.", "content": _PROBLEM},
    429: {
        "description": "Over the rate limit of the key (or client address); see `Retry-After`.",
        "content": _PROBLEM,
        "headers": {
            "Retry-After": {
                "description": "Seconds to wait before trying again.",
                "schema": {"type": "integer"},
            }
        },
    },
}

#: OpenAPI ``responses`` entry of endpoints that refuse a write breaking a rule.
CONFLICT_RESPONSE: dict[int | str, dict[str, Any]] = {
    409: {"description": "Refused: it would break a rule (see `detail`).", "content": _PROBLEM}
}

#: OpenAPI ``responses`` entry of endpoints that take a customer id that may have been merged.
MOVED_RESPONSE: dict[int | str, dict[str, Any]] = {
    307: {
        "description": "The id was merged into another customer: follow `Location`.",
        "content": _PROBLEM,
    }
}


def problem(
    status: int, title: str, detail: str, headers: dict[str, str] | None = None, **extra: object
) -> JSONResponse:
    """A problem+json response."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail} | extra
    return JSONResponse(
        body, status_code=status, media_type="application/problem+json", headers=headers
    )


def _moved(request: Request, exc: CustomerMovedError) -> JSONResponse:
    parts = request.url.path.split("/")
    if exc.merged_id in parts:
        parts[parts.index(exc.merged_id)] = exc.survivor_id
    location = "/".join(parts) + (f"?{request.url.query}" if request.url.query else "")
    return problem(
        307,
        "Customer merged",
        str(exc),
        headers={"Location": location},
        survivor_id=exc.survivor_id,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register handlers so no response ever carries a stack trace."""

    async def quanzi_error(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, CustomerMovedError):
            return _moved(request, exc)
        for cls, status, title in _STATUS:
            if isinstance(exc, cls):
                headers = (
                    {"WWW-Authenticate": 'ApiKey header="X-API-Key"'} if status == 401 else None
                )
                extra: dict[str, object] = {}
                named = _FIELD_MESSAGE.match(str(exc)) if status == 422 else None
                if named is not None:
                    extra["errors"] = [{"field": named[1], "message": named[2]}]
                detail = str(exc)
                if isinstance(exc, StoreUnavailableError):
                    log.warning("%s %s: %s", request.method, request.url.path, exc)
                    detail = STORE_DOWN_DETAIL
                return problem(status, title, detail, headers=headers, **extra)
        raise exc  # pragma: no cover - every QuanziError matches the last row

    async def validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        broken = next((e for e in exc.errors() if e.get("type") == "json_invalid"), None)
        if broken is not None:
            # FastAPI reports it at ("body", <character offset>): not a field.
            where = broken["loc"][1] if len(broken["loc"]) > 1 else "?"
            reason = (broken.get("ctx") or {}).get("error", "")
            message = f"the body is not valid JSON (at character {where}: {reason})"
            return problem(
                422, "Invalid input", message, errors=[{"field": "body", "message": message}]
            )
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        fields = ", ".join(dict.fromkeys(e["field"] for e in errors))
        return problem(422, "Invalid input", f"Check these fields: {fields}", errors=errors)

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if isinstance(exc, RequestTooLargeError):
            return exc.response()
        detail = exc.detail if isinstance(exc.detail, str) else "Request failed"
        if exc.status_code == 404 and detail == "Not Found":
            detail = "No such endpoint; see /docs for the API"
        headers = dict(exc.headers) if exc.headers else None
        return problem(exc.status_code, detail, detail, headers=headers)

    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return problem(500, "Internal error", "Something went wrong on the server; it is logged.")

    app.add_exception_handler(QuanziError, quanzi_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
