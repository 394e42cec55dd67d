"""Request limits: how often a caller may call, and how much one request may send.

One ASGI middleware, in front of every route, does both:

- **Rate limits** (the ``limits`` library, moving window): a request with a valid API key
  (``X-API-Key``, or the pages' sign-in cookie) counts against that key, at the limit set
  for the key's id or else for its role; a request without one counts against its client
  address (``anonymous``), so key guessing and sign-in attempts are bounded too.
  ``/health`` and ``/metrics`` count per address on a budget of their own (``public``), so
  a monitoring system never competes with clients and a flood of probes still cannot
  hammer the store. Static files of the pages and the OpenAPI documents are not limited
  (no store, no personal data). Over the limit: 429 problem+json with ``Retry-After``.
- **Body size**: a file upload request may send ``api_max_upload_bytes``, anything else
  ``api_max_body_bytes``. A ``Content-Length`` above the limit is refused before the body
  is read; a body without one (chunked) is counted while it is read and refused as soon
  as it passes the limit, so nothing larger is ever buffered or written to disk. Both
  are 413 problem+json naming the limit.

Apart from those, the busiest read endpoints (customer 360, lookalike search) work on at most
:data:`BUSY_SLOTS` requests at once per process (:func:`busy_slots`); the others wait their
turn, first come first served.

Counts live in the storage named by ``api_rate_limit_storage``: ``memory://`` counts per
worker process (with ``--workers N`` a key may make N times its rate), a shared storage
such as Redis counts for all workers.
"""

from __future__ import annotations

import math
import re
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import anyio
from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from quanzi.api.errors import RequestTooLargeError, problem
from quanzi.api.services.keys import KeyRing
from quanzi.errors import ConfigError
from quanzi.settings import DEFAULT_RATE_LIMITS, usable_cpus

__all__ = [
    "BUSY_SLOTS",
    "INTERNAL_HEADER",
    "PUBLIC_PATHS",
    "UNLIMITED_PATHS",
    "RateLimiter",
    "Refusal",
    "RequestLimitsMiddleware",
    "busy_slots",
]

#: Requests of one busy endpoint that a served process works on at once: one per CPU. At
#: 100k customers and 8 concurrent clients, eight lookalike searches at once nearly doubled
#: each one's CPU, and two at a time answered 1.7x as many (one worker); customer 360s two
#: at a time had a lower p99 in every pair of runs (docs/api-latency.md, session 6).
BUSY_SLOTS = usable_cpus()


def busy_slots() -> anyio.CapacityLimiter:
    """A limiter for one busy endpoint's calls into the thread pool (:data:`BUSY_SLOTS` at
    once). anyio's limiter serves waiters in arrival order; a plain semaphore let a thread
    that had just finished take its slot again ahead of those waiting (one lookalike search
    waited 6.9 s in process)."""
    return anyio.CapacityLimiter(BUSY_SLOTS)


#: Header of the pages' in-process API calls (value: the app's internal token).
INTERNAL_HEADER = "x-quanzi-internal"

#: Endpoints without a key, limited per client address on the ``public`` budget.
PUBLIC_PATHS = frozenset({"/health", "/metrics"})
#: Endpoints that are not rate limited: documents that never touch the store.
UNLIMITED_PATHS = frozenset({"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})
_UNLIMITED_PREFIXES = ("/ui/static/",)


@dataclass(frozen=True)
class Refusal:
    """Why a request was refused: the limit reached and when to try again."""

    limit: str
    retry_after_s: int


class RateLimiter:
    """Moving-window rate limits by name (a role, a key id, ``anonymous``, ``public``).

    Parameters
    ----------
    rules : mapping of str to str
        Limits over :data:`~quanzi.settings.DEFAULT_RATE_LIMITS`; ``"unlimited"`` lifts one.
    storage : str
        A ``limits`` storage URI.

    Examples
    --------
    >>> limiter = RateLimiter({"viewer": "2/minute"})
    >>> [limiter.hit("viewer", "key_1") is None for _ in range(3)]
    [True, True, False]
    >>> limiter.hit("viewer", "key_2") is None  # each key has its own count
    True
    """

    def __init__(self, rules: Mapping[str, str], storage: str = "memory://") -> None:
        merged = DEFAULT_RATE_LIMITS | dict(rules)
        self.rules: dict[str, list[RateLimitItem]] = {
            name: parse_many(text)
            for name, text in merged.items()
            if text.strip().lower() != "unlimited"
        }
        try:
            self._limiter = MovingWindowRateLimiter(storage_from_string(storage))
        except Exception as e:
            raise ConfigError(
                f"QUANZI_API_RATE_LIMIT_STORAGE {storage!r} cannot be used: {e}"
            ) from None

    def rule_for(self, key_id: str, role: str) -> str:
        """The rule a key counts under: its own when one is set, else its role's."""
        return key_id if key_id in self.rules else role

    def hit(self, rule: str, who: str) -> Refusal | None:
        """Count one request of ``who`` under ``rule``; a :class:`Refusal` when over a limit
        (a refused request is not counted)."""
        items = self.rules.get(rule)
        if not items:
            return None
        for item in items:
            if not self._limiter.test(item, rule, who):
                reset = self._limiter.get_window_stats(item, rule, who).reset_time
                return Refusal(str(item), max(1, math.ceil(reset - time.time())))
        for item in items:
            self._limiter.hit(item, rule, who)
        return None


class RequestLimitsMiddleware:
    """Apply the rate limits and the body size limits to every HTTP request.

    Parameters
    ----------
    app : ASGI app
    keys : KeyRing
        To tell which key (and role) a request comes from.
    limiter : RateLimiter
    max_body_bytes, max_upload_bytes : int
        Body limits for ordinary requests and for the routes in ``upload_routes``.
    upload_routes : sequence of compiled patterns
        Paths of the routes that take file uploads.
    key_cookie : str
        The cookie in which the pages keep the signed-in person's session token.
    session_key : callable, optional
        Session token -> the API key it was opened with (``None`` when unknown or ended).
    internal_token : str, optional
        A per-process secret the pages send on their in-process calls to the API
        (``X-Quanzi-Internal``): those are not counted again, since the page request that
        makes them was counted already. Body size limits still apply.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        keys: KeyRing,
        limiter: RateLimiter,
        max_body_bytes: int,
        max_upload_bytes: int,
        upload_routes: Sequence[re.Pattern[str]],
        key_cookie: str,
        session_key: Callable[[str], str | None] | None = None,
        internal_token: str | None = None,
    ) -> None:
        self.app = app
        self.keys = keys
        self.limiter = limiter
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes
        self.upload_routes = tuple(upload_routes)
        self.key_cookie = key_cookie
        self.session_key = session_key
        self.internal_token = internal_token

    def _rule(self, scope: Scope, headers: Headers) -> tuple[str, str, str] | None:
        """``(rule, who, description)`` a request counts under, or ``None`` (not limited)."""
        path: str = scope["path"]
        if path in UNLIMITED_PATHS or path.startswith(_UNLIMITED_PREFIXES):
            return None
        client = scope.get("client")
        address = str(client[0]) if client else "unknown"
        if path in PUBLIC_PATHS:
            return "public", address, f"client address {address} on /health and /metrics"
        internal = headers.get(INTERNAL_HEADER)
        if (
            self.internal_token
            and internal
            and secrets.compare_digest(internal, self.internal_token)
        ):
            return None
        key = headers.get("x-api-key")
        if not key and self.session_key is not None:
            token = cookie_parser(headers.get("cookie", "")).get(self.key_cookie)
            key = self.session_key(token) if token else None
        principal = self.keys.authenticate(key) if key else None
        if principal is None:
            return "anonymous", address, f"client address {address} without a valid API key"
        rule = self.limiter.rule_for(principal.key_id, principal.role)
        return rule, principal.key_id, f"key {principal.key_id} ({principal.role} role)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        rule = self._rule(scope, headers)
        if rule is not None:
            refusal = self.limiter.hit(rule[0], rule[1])
            if refusal is not None:
                response = problem(
                    429,
                    "Too many requests",
                    f"The rate limit of {refusal.limit} for {rule[2]} is reached; retry after "
                    f"{refusal.retry_after_s} s (limits: QUANZI_API_RATE_LIMITS)",
                    headers={"Retry-After": str(refusal.retry_after_s)},
                    limit=refusal.limit,
                    retry_after=refusal.retry_after_s,
                )
                await response(scope, receive, send)
                return

        upload = any(r.match(scope["path"]) for r in self.upload_routes)
        too_large = RequestTooLargeError(
            self.max_upload_bytes if upload else self.max_body_bytes, upload=upload
        )
        try:
            declared = int(headers.get("content-length", ""))
        except ValueError:
            declared = None
        if declared is not None and declared > too_large.limit_bytes:
            await too_large.response()(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > too_large.limit_bytes:
                    raise too_large
            return message

        await self.app(scope, counted, send)
