"""Map Quanzi's errors to ``application/problem+json`` responses (RFC 9457)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from quanzi.errors import (
    ConfigError,
    ConflictError,
    InputError,
    NotFoundError,
    QuanziError,
    StoreUnavailableError,
)

__all__ = ["install_error_handlers", "problem"]

log = logging.getLogger("quanzi.api")

_STATUS: list[tuple[type[QuanziError], int, str]] = [
    (NotFoundError, 404, "Not found"),
    (InputError, 422, "Invalid input"),
    (ConflictError, 409, "Conflict"),
    (StoreUnavailableError, 503, "Graph store unavailable"),
    (ConfigError, 500, "Configuration error"),
    (QuanziError, 500, "Quanzi error"),
]


def problem(status: int, title: str, detail: str, **extra: object) -> JSONResponse:
    """A problem+json response."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail} | extra
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def install_error_handlers(app: FastAPI) -> None:
    """Register handlers so no response ever carries a stack trace."""

    async def quanzi_error(_: Request, exc: Exception) -> JSONResponse:
        for cls, status, title in _STATUS:
            if isinstance(exc, cls):
                return problem(status, title, str(exc))
        raise exc  # pragma: no cover - every QuanziError matches the last row

    async def validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        fields = ", ".join(e["field"] for e in errors)
        return problem(422, "Invalid input", f"Check these fields: {fields}", errors=errors)

    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return problem(500, "Internal error", "Something went wrong on the server; it is logged.")

    app.add_exception_handler(QuanziError, quanzi_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, unexpected)
