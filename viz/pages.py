"""The marketer's web pages, served under ``/ui`` by the same service as the API.

How the pages get their data
----------------------------
Every page calls the **JSON API in-process** (``httpx`` over ASGI, on the same app, no
network) with the signed-in person's own API key, so a page shows exactly what that key may
see: the same roles, phones and e-mails masked for viewers, the same audit trail. The one
thing the API does not list -- the ties *between* customers, which the circle, ego and
lookalike views draw -- comes from the service's cached tie graph
(:mod:`quanzi.api.services.graph_cache`, the graph the lookalike search runs on): customer
ids and tie weights only, read after the API has admitted the caller for the same page.
Pages never query the store themselves.

Signing in: ``/ui/login`` checks an API key and opens a server-side session; the browser only
holds a random session token in an HttpOnly, ``SameSite=Strict`` cookie scoped to ``/ui``, never
the key (a request may also send ``X-API-Key`` itself). Sessions live in the service's memory:
signing out, a restart or eight hours end them. Forms that change
something check that they were posted from this site.

All scripts and styles come from ``/ui/static`` (Quanzi's own files and the vis-network file
inside the installed ``pyvis`` package); charts are server-side SVG. No page loads anything
from another host.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote, urlencode

import httpx
import numpy as np
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from quanzi.exports import csv_cell
from quanzi.viz.assets import asset_text, templates
from quanzi.viz.charts import bar_chart, funnel_chart, histogram
from quanzi.viz.views import (
    DEFAULT_MAX_NODES,
    TIER_COLOURS,
    GraphView,
    circle_view,
    circles_map,
    ego_view,
    lookalike_view,
    referral_tree_view,
)

if TYPE_CHECKING:
    from quanzi.api.services.access import Principal
    from quanzi.api.services.graph_cache import CachedGraph

__all__ = ["COOKIE", "PREFIX", "UiSessions", "router"]

#: Where the pages live.
PREFIX = "/ui"
#: The cookie that carries the signed-in person's session token (not their key).
COOKIE = "quanzi_session"
STATIC = f"{PREFIX}/static"
_SESSION_S = 8 * 3600
_MAX_SESSIONS = 10_000


class UiSessions:
    """Page sessions: random token -> (API key, expiry), in memory, oldest dropped first."""

    def __init__(self) -> None:
        self._by_token: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def open(self, key: str) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            while len(self._by_token) >= _MAX_SESSIONS:
                self._by_token.pop(next(iter(self._by_token)))
            self._by_token[token] = (key, time.monotonic() + _SESSION_S)
        return token

    def key(self, token: str) -> str | None:
        with self._lock:
            found = self._by_token.get(token)
            if found is None:
                return None
            if found[1] < time.monotonic():
                del self._by_token[token]
                return None
            return found[0]

    def close(self, token: str) -> None:
        with self._lock:
            self._by_token.pop(token, None)


def _sessions(request: Request) -> UiSessions:
    state = request.app.state
    if not hasattr(state, "ui_sessions"):
        state.ui_sessions = UiSessions()
    sessions: UiSessions = state.ui_sessions
    return sessions


_TIERS = tuple(TIER_COLOURS)
_FUNNEL = ("first_contact", "intention", "meeting", "order")
_RISK_BINS = ((0.0, 0.2), (0.2, 0.4), (0.4, 0.6), (0.6, 0.8), (0.8, 1.0))
_AT_RISK = 0.5
_SIZE_BINS = ((1, 5), (6, 10), (11, 20), (21, 50), (51, 100), (101, 10**9))
_MAX_LOOKUPS = 60  # names fetched one by one for a view (mutual contacts, contacts of contacts)
_STATIC_FILES = {
    "quanzi.css": "text/css; charset=utf-8",
    "vis-network.min.js": "text/javascript; charset=utf-8",
}

router = APIRouter(prefix=PREFIX, include_in_schema=False)


# -- the API, called in-process ---------------------------------------------------------------
class ApiError(Exception):
    """The API answered with an error (a problem document)."""

    def __init__(self, status: int, title: str, detail: str, body: Mapping[str, Any]) -> None:
        super().__init__(f"{status} {title}: {detail}")
        self.status = status
        self.title = title
        self.detail = detail
        self.body = body

    @property
    def missing_endpoint(self) -> bool:
        """Whether the API has no such route (as opposed to no such record)."""
        return self.status in (404, 405) and self.title != "Not found"


class Api:
    """The JSON API of the same app, called with one person's key (no network involved)."""

    def __init__(self, request: Request, key: str) -> None:
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=request.app),
            base_url="http://quanzi.internal",
            headers={
                "X-API-Key": key,
                "Accept": "application/json",
                # Counted once, as the page request; see quanzi.api.limits.
                "X-Quanzi-Internal": getattr(request.app.state, "internal_token", ""),
            },
            timeout=120.0,
        )

    async def close(self) -> None:
        """Release the client."""
        await self._client.aclose()

    async def get(self, path: str, **params: Any) -> Any:
        """``GET path`` with query parameters (``None`` values left out, lists repeated)."""
        query: list[tuple[str, str | int | float | bool | None]] = [
            (k, _param(x))
            for k, v in params.items()
            if v is not None
            for x in (v if isinstance(v, list | tuple) else [v])
        ]
        return self._answer(await self._client.get(path, params=query))

    async def post(self, path: str, body: Mapping[str, Any]) -> Any:
        """``POST path`` with a JSON body."""
        return self._answer(await self._client.post(path, json=dict(body)))

    @staticmethod
    def _answer(response: httpx.Response) -> Any:
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code >= 300:
            if not isinstance(body, dict):
                body = {}
            raise ApiError(
                response.status_code,
                str(body.get("title") or response.reason_phrase),
                str(body.get("detail") or response.text[:300]),
                body,
            )
        return body


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# -- sign-in, rendering, errors ---------------------------------------------------------------
def _key(request: Request) -> str | None:
    if key := request.headers.get("x-api-key"):
        return key
    token = request.cookies.get(COOKIE)
    return _sessions(request).key(token) if token else None


def _principal(request: Request, key: str) -> Principal | None:
    keys = getattr(request.app.state, "keys", None)
    if keys is None:
        return None
    principal: Principal | None = keys.authenticate(key)
    return principal


def _local_next(target: str | None) -> str:
    """``target`` if it is a page of this site, else the home page (no open redirects)."""
    if target and target.startswith(PREFIX) and not target.startswith("//") and "\\" not in target:
        return target
    return f"{PREFIX}/"


def _same_origin(request: Request) -> bool:
    """Whether a form was posted from this site (``Origin``/``Referer``, when the browser
    sends one; the cookie is ``SameSite=Strict`` besides)."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source:
        return True
    host = request.headers.get("host", "")
    return re.match(rf"^https?://{re.escape(host)}(/|$)", source) is not None


def _html(
    request: Request,
    template: str,
    *,
    status: int = 200,
    who: Principal | None = None,
    **context: Any,
) -> HTMLResponse:
    context.setdefault("error", None)
    context.setdefault("note", None)
    page = (
        templates()
        .get_template(template)
        .render(
            root=PREFIX,
            static=STATIC,
            who=who,
            flashes=context.pop("flashes", []),
            section=context.pop("section", ""),
            **context,
        )
    )
    headers = {
        "Cache-Control": "no-store",
        "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; "
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'self'; "
        "form-action 'self'; base-uri 'none'",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }
    return HTMLResponse(page, status_code=status, headers=headers)


#: Why the sign-in page was shown again, by the code its address carries: the page prints
#: only these texts, so a link cannot put words of its own in the alert box.
_LOGIN_ERRORS = {
    "key": "The API did not accept this key (unknown, revoked or expired): sign in with a "
    "valid one.",
}


def _to_login(request: Request, error: str | None = None) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    query = {"next": target} | ({"error": error} if error else {})
    response = RedirectResponse(f"{PREFIX}/login?{urlencode(query)}", status_code=303)
    if error:
        response.delete_cookie(COOKIE, path=PREFIX)
    return response


Build = Callable[["Api", "Principal | None"], Awaitable[Response]]


async def _page(request: Request, build: Build) -> Response:
    """Run one page: sign-in check, the API client, and API errors shown as pages."""
    key = _key(request)
    if not key:
        return _to_login(request)
    who = _principal(request, key)
    api = Api(request, key)
    try:
        return await build(api, who)
    except ApiError as p:
        if p.status == 401:
            return _to_login(request, "key")
        if p.status == 307 and isinstance(p.body.get("survivor_id"), str):
            survivor = quote(p.body["survivor_id"], safe="")
            path = re.sub(r"/customers/[^/]+", f"/customers/{survivor}", request.url.path, count=1)
            return RedirectResponse(path, status_code=303)
        heading = {403: "Not allowed for your role", 404: "Not found"}.get(p.status, p.title)
        return _html(
            request, "error.html", status=p.status, who=who, heading=heading, detail=p.detail
        )
    finally:
        await api.close()


def _max_nodes(request: Request) -> int:
    settings = getattr(request.app.state, "settings", None)
    value = getattr(settings, "viz_max_nodes", None)
    return int(value) if isinstance(value, int) and value >= 2 else DEFAULT_MAX_NODES


async def _graph(request: Request) -> CachedGraph | None:
    """The service's cached tie graph (ids and weights), or ``None`` where there is none."""
    cache = getattr(request.app.state, "graph_cache", None)
    store = getattr(request.app.state, "store", None)
    if cache is None or store is None:
        return None
    graph: CachedGraph = await run_in_threadpool(cache.get, store)
    return graph


def _ties_among(graph: CachedGraph | None, ids: Iterable[str]) -> list[dict[str, Any]]:
    """The interaction ties between the given customers."""
    if graph is None:
        return []
    index = [graph.index[i] for i in dict.fromkeys(ids) if i in graph.index]
    if len(index) < 2:
        return []
    sub = graph.graph.subgraph(index)
    names = sub.vs["id"]
    weights = sub.es["weight"] if "weight" in sub.es.attributes() else [1.0] * sub.ecount()
    return [
        {"start": names[a], "end": names[b], "kind": "INTERACTS_WITH", "weight": float(w)}
        for (a, b), w in zip(sub.get_edgelist(), weights, strict=True)
    ]


async def _gather(*calls: Awaitable[Any]) -> list[Any]:
    return list(await asyncio.gather(*calls))


async def _summaries(api: Api, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Customer summaries by id, fetched concurrently (at most :data:`_MAX_LOOKUPS`)."""
    wanted = list(dict.fromkeys(ids))[:_MAX_LOOKUPS]

    async def one(cid: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = await api.get(f"/customers/{quote(cid, safe='')}")
        except ApiError as p:
            if p.status in (307, 404):
                return None
            raise
        return found

    found = await _gather(*(one(c) for c in wanted))
    return {c: f for c, f in zip(wanted, found, strict=True) if f is not None}


# -- static files, sign-in --------------------------------------------------------------------
@router.get("/static/{name}")
def static_file(name: str) -> Response:
    """Quanzi's stylesheet and the vis-network script from the installed ``pyvis``."""
    if name not in _STATIC_FILES:
        return Response("Not found", status_code=404, media_type="text/plain")
    return Response(
        asset_text(name),
        media_type=_STATIC_FILES[name],
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/login", response_class=HTMLResponse)
def login_page(
    request: Request,
    target: Annotated[str | None, Query(alias="next", max_length=2000)] = None,
    error: Annotated[str | None, Query(max_length=50)] = None,
) -> HTMLResponse:
    """The sign-in form (``error``: a code of :data:`_LOGIN_ERRORS`; others are ignored)."""
    message = _LOGIN_ERRORS.get(error or "")
    return _html(
        request, "login.html", page_title="Sign in", next=_local_next(target), error=message
    )


@router.post("/login")
def login(
    request: Request,
    key: Annotated[str, Form(max_length=500)],
    target: Annotated[str | None, Form(alias="next", max_length=2000)] = None,
) -> Response:
    """Check the key and open a session for the pages (the cookie holds its token)."""
    target = _local_next(target)
    if not _same_origin(request):
        return _html(
            request,
            "login.html",
            status=403,
            page_title="Sign in",
            next=target,
            error="The form was sent from another site.",
        )
    if _principal(request, key.strip()) is None:
        return _html(
            request,
            "login.html",
            status=401,
            page_title="Sign in",
            next=target,
            error="This key is unknown or revoked.",
        )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        _sessions(request).open(key.strip()),
        max_age=_SESSION_S,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    """End the session."""
    if token := request.cookies.get(COOKIE):
        _sessions(request).close(token)
    response = RedirectResponse(f"{PREFIX}/login", status_code=303)
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


# -- home -------------------------------------------------------------------------------------
def _period() -> dict[str, str]:
    """Everything up to now: to the end of today (UTC), so that the reports the API keeps
    for a period serve every page load of the day."""
    end = datetime.now(UTC) + timedelta(days=1)
    return {"start": "2000-01-01T00:00:00Z", "end": end.strftime("%Y-%m-%dT00:00:00Z")}


async def _all_circles(
    api: Api, *, level: int | None = 0, cap: int = 1000, live: bool = True
) -> list[dict[str, Any]]:
    """Circles of one level, largest first, up to ``cap``; ``live=False``: with the figures
    the last analysis recorded instead of counting every circle's members (about 2 ms per
    circle at 100k customers), for views that only draw or list them."""
    circles: list[dict[str, Any]] = []
    cursor = None
    while len(circles) < cap:
        page = await api.get("/circles", level=level, limit=200, cursor=cursor, live=live)
        circles += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    return circles[:cap]


def _ordered_counts(counts: Mapping[str, int], order: Sequence[str]) -> list[tuple[str, float]]:
    known = [(k, float(counts[k])) for k in order if k in counts]
    return known + [(k, float(v)) for k, v in sorted(counts.items()) if k not in order]


@router.get("", include_in_schema=False)
def home_redirect() -> Response:
    """``/ui`` -> ``/ui/``."""
    return RedirectResponse(f"{PREFIX}/", status_code=307)


#: The home page of a store without customers says how to fill it.
_EMPTY_STORE = (
    "No customers here yet. Load your own with `quanzi ingest FILES...` and `quanzi analyze`. "
    "`quanzi demo` keeps its made-up customers in a store of its own: serve that one with "
    "`quanzi serve --data-dir ~/.local/share/quanzi/demo`."
)


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> Response:
    """Headline numbers and charts: tiers, funnel, churn risk, circle sizes."""

    async def build(api: Api, who: Principal | None) -> Response:
        period = _period()
        health, tiers, funnel, largest, every, influencers, spread = await _gather(
            api.get("/health"),
            api.get("/tiers", **period),
            api.get("/funnel", **period),
            api.get("/circles", level=0, limit=8),
            # The size chart takes the sizes the analysis recorded: counting every circle's
            # members took seconds at 100k customers.
            _all_circles(api, live=False),
            api.get("/influencers", k=10),
            api.get("/churn/distribution"),
        )
        circles: list[dict[str, Any]] = largest.get("items", [])
        sizes = [_members(c) for c in every]
        together = sum(_together(c) for c in every)
        tenths = [int(b["customers"]) for b in spread.get("bins", [])] or [0] * 10
        at_risk = sum(tenths[round(_AT_RISK * 10) :])
        risk_bins = [sum(tenths[round(lo * 10) : round(hi * 10)]) for lo, hi in _RISK_BINS]
        counts: dict[str, int] = health.get("counts") or {}
        customers = int(counts.get("Customer", 0))
        links = int(counts.get("HAS_IDENTITY", 0))
        stages = [s for s in _FUNNEL if s in funnel.get("reached", {})] or list(
            funnel.get("reached", {})
        )
        rates = {(s["from_stage"], s["to_stage"]): s.get("rate") for s in funnel.get("steps", [])}
        size_bins = [
            (f"{lo}–{hi}" if hi < 10**9 else f">{lo - 1}", float(sum(lo <= s <= hi for s in sizes)))
            for lo, hi in _SIZE_BINS
        ]
        charts = {
            "tiers": bar_chart(
                _ordered_counts(tiers.get("tiers", {}), _TIERS),
                title="Customers by tier",
                colours=TIER_COLOURS,
            ),
            "funnel": funnel_chart(
                [(s.replace("_", " "), float(funnel["reached"][s])) for s in stages],
                title="Funnel: customers who reached each stage",
                rates=[rates.get(pair) for pair in pairwise(stages)],
            ),
            "risk": histogram(
                [
                    (f"{lo:.0%}–{hi:.0%}", float(n))
                    for (lo, hi), n in zip(_RISK_BINS, risk_bins, strict=True)
                ],
                title="Customers by churn risk",
                colour="#c62828",
            ),
            "sizes": histogram(size_bins, title="Circles by number of members", colour="#00897b"),
        }
        stats = [
            ("Customers", f"{customers:,}", ""),
            (
                "Identities per customer",
                f"{links / customers:.2f}" if customers else "–",
                "channel keys and source records",
            ),
            (
                "Circles",
                f"{together:,}",
                f"{len(every) - together:,} customers with no ties not counted"
                if together < len(every)
                else "",
            ),
            ("At-risk customers", f"{at_risk:,}", f"churn risk ≥ {_AT_RISK:.0%}"),
        ]
        return _html(
            request,
            "home.html",
            who=who,
            section="home",
            page_title="Home",
            stats=stats,
            charts=charts,
            circles=circles[:8],
            influencers=influencers.get("items", []),
            funnel_steps=funnel.get("steps", []),
            note=None if customers else _EMPTY_STORE,
        )

    return await _page(request, build)


# -- circles ----------------------------------------------------------------------------------
_CIRCLE_SORTS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "members": lambda c: -(c.get("members") or 0),
    "name": lambda c: _circle_name(c),
    "kind": lambda c: (str(c.get("kind") or ""), -(c.get("members") or 0)),
    "churn": lambda c: -(c.get("churn_risk_mean") or 0.0),
    "leaders": lambda c: -len(c.get("leaders") or []),
}


def _circle_name(c: Mapping[str, Any]) -> str:
    """A circle's name: the one a person gave it, else the analysis's (``auto_name``)."""
    return str(c.get("name") or c.get("auto_name") or c.get("id"))


@router.get("/circles", response_class=HTMLResponse)
async def circles_page(
    request: Request,
    sort: Annotated[str, Query(pattern="^(members|name|kind|churn|leaders)$")] = "members",
    kind: Annotated[str | None, Query(max_length=50)] = None,
    alone: Annotated[bool, Query(description="Also list one-person circles.")] = False,
) -> Response:
    """Every top-level circle with its statistics, sortable; customers with no ties (circles
    of one) only when asked for."""

    async def build(api: Api, who: Principal | None) -> Response:
        circles = await _all_circles(api)
        kinds = sorted({str(c.get("kind")) for c in circles if c.get("kind")})
        shown = [c for c in circles if kind is None or c.get("kind") == kind]
        single = sum(not _together(c) for c in shown)
        if not alone:
            shown = [c for c in shown if _together(c)]
        shown.sort(key=_CIRCLE_SORTS[sort])
        return _html(
            request,
            "circles.html",
            who=who,
            section="circles",
            page_title="Circles",
            circles=shown,
            sort=sort,
            kind=kind,
            kinds=kinds,
            alone=alone,
            single=single,
            name_of=_circle_name,
        )

    return await _page(request, build)


def _members(circle: Mapping[str, Any]) -> int:
    """A circle's members now, else the size the analysis recorded."""
    return int(circle.get("members") or circle.get("size") or 0)


def _together(circle: Mapping[str, Any]) -> bool:
    """A circle of two or more: a customer with no ties at all is a circle of one."""
    return _members(circle) >= 2


def _circle_links(graph: CachedGraph | None, circle_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Ties between the members of different circles, counted per pair of circles."""
    if graph is None or not circle_ids:
        return []
    position = {c: i for i, c in enumerate(circle_ids)}
    of_vertex = np.full(graph.graph.vcount(), -1, dtype=np.int64)
    for customer, circles in graph.attributes.get("circle", {}).items():
        vertex = graph.index.get(customer)
        for c in circles:
            if vertex is not None and c in position:
                of_vertex[vertex] = position[c]
    edges = np.asarray(graph.graph.get_edgelist(), dtype=np.int64).reshape(-1, 2)
    a, b = of_vertex[edges[:, 0]], of_vertex[edges[:, 1]]
    keep = (a >= 0) & (b >= 0) & (a != b)
    pairs = np.sort(np.stack([a[keep], b[keep]], axis=1), axis=1)
    if len(pairs) == 0:
        return []
    unique, counts = np.unique(pairs, axis=0, return_counts=True)
    return [
        {"start": circle_ids[i], "end": circle_ids[j], "weight": int(n)}
        for (i, j), n in zip(unique.tolist(), counts.tolist(), strict=True)
    ]


@router.get("/circles/map", response_class=HTMLResponse)
async def circles_map_page(request: Request) -> Response:
    """All circles on one map, linked by the ties between their members."""

    async def build(api: Api, who: Principal | None) -> Response:
        everyone, graph = await _gather(_all_circles(api, live=False), _graph(request))
        # One-person circles have no ties to draw: left off the map, and said so.
        circles = [c for c in everyone if _together(c)]
        single = len(everyone) - len(circles)
        links = _circle_links(graph, [str(c["id"]) for c in circles])
        records = [
            {
                **c,
                "name": _circle_name(c),
                "size": c.get("members") or c.get("size"),
                "churn_risk": c.get("churn_risk_mean"),
                "top_interests": (c.get("other") or {}).get("top_interests") or [],
                "leaders": [
                    {"id": x, "name": (c.get("leader_names") or {}).get(x) or x}
                    for x in c.get("leaders") or []
                ],
            }
            for c in circles
        ]
        view = circles_map(
            records,
            links,
            title="Circles map",
            max_nodes=_max_nodes(request),
            circle_url=f"{PREFIX}/circles/{{id}}",
            assets=STATIC,
        )
        return _html(
            request,
            "view_page.html",
            who=who,
            section="circles",
            page_title="Circles map",
            heading="Circles map",
            lead="Circles sized by members and linked by the ties "
            "between their members. Click a circle for its card; double-click to open it."
            + (
                f" {single:,} customers with no ties (circles of one) are not drawn."
                if single
                else ""
            ),
            view=view.html,
            note=view.note,
        )

    return await _page(request, build)


async def _circle_members(api: Api, circle_id: str, cap: int) -> tuple[list[dict[str, Any]], int]:
    path = f"/circles/{quote(circle_id, safe='')}/members"
    members: list[dict[str, Any]] = []
    total: int | None = None
    cursor = None
    while len(members) < cap:
        page = await api.get(path, limit=min(200, cap - len(members)), cursor=cursor)
        members += page["items"]
        total = page.get("total") if total is None else total
        cursor = page.get("next_cursor")
        if not cursor:
            break
    return members, int(total or len(members))


@router.get("/circles/{circle_id}", response_class=HTMLResponse)
async def circle_page(
    request: Request,
    circle_id: str,
    colour: Annotated[str, Query(pattern="^(tier|sub_circle)$")] = "tier",
) -> Response:
    """One circle: statistics, leaders, the circle view and the most influential members."""

    async def build(api: Api, who: Principal | None) -> Response:
        limit = _max_nodes(request)
        detail = await api.get(f"/circles/{quote(circle_id, safe='')}", members_limit=20)
        (members, total), graph, subs = await _gather(
            _circle_members(api, circle_id, limit), _graph(request), _sub_circles(api, circle_id)
        )
        circle = detail["circle"]
        leaders = [str(x) for x in circle.get("leaders") or []]
        known = {str(m["id"]) for m in members}
        members += [m for m in detail.get("leaders", []) if str(m["id"]) not in known]
        sub_of = _sub_circle_of(graph, subs)
        for m in members:
            m["sub_circle"] = sub_of.get(str(m["id"]))
            if not m.get("tier") and m.get("recorded_tier"):
                m["tier"] = m["recorded_tier"]  # before the analysis scores tiers
        ties = _ties_among(graph, (str(m["id"]) for m in members))
        name = _circle_name(circle)
        view = circle_view(
            members,
            ties,
            title=name,
            leaders=leaders,
            colour_by="sub_circle" if colour == "sub_circle" and subs else "tier",
            max_nodes=limit,
            customer_url=f"{PREFIX}/customers/{{id}}",
            card_url=f"{PREFIX}/customers/{{id}}/card",
            assets=STATIC,
        )
        note = view.note
        if total > len(members):
            note = (
                f"The circle has {total:,} members; the view draws the {len(members):,} most "
                f"influential. " + (note or "")
            ).strip()
        tier_mix = circle.get("tier_mix") or {}
        return _html(
            request,
            "circle.html",
            who=who,
            section="circles",
            page_title=name,
            circle=circle,
            name=name,
            total=total,
            leaders=detail.get("leaders", []),
            members=members[:20],
            view=view.html,
            note=note,
            colour=colour,
            has_subs=bool(subs),
            tier_chart=bar_chart(
                _ordered_counts(tier_mix, _TIERS), title="Tier mix", colours=TIER_COLOURS
            ),
            lookalike_url=f"{PREFIX}/lookalike?" + urlencode([("seeds", x) for x in leaders]),
        )

    return await _page(request, build)


async def _sub_circles(api: Api, circle_id: str) -> list[dict[str, Any]]:
    try:
        level1 = await _all_circles(api, level=1, live=False)
    except ApiError:
        return []
    return [c for c in level1 if c.get("parent_id") == circle_id]


def _sub_circle_of(graph: CachedGraph | None, subs: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    if graph is None or not subs:
        return {}
    names = {str(c["id"]): _circle_name(c) for c in subs}
    out: dict[str, str] = {}
    for customer, circles in graph.attributes.get("circle", {}).items():
        for c in circles:
            if c in names:
                out[customer] = names[c]
    return out


# -- customers --------------------------------------------------------------------------------
def _search_filters(q: str | None) -> dict[str, str]:
    """Read a search box: an e-mail address, a phone number, or part of a name."""
    text = (q or "").strip()
    if not text:
        return {}
    if "@" in text:
        return {"email": text}
    if sum(ch.isdigit() for ch in text) >= 5 and re.fullmatch(r"[\d\s()+.-]+", text):
        return {"phone": text}
    return {"name": text}


@router.get("/customers", response_class=HTMLResponse)
async def customers_page(
    request: Request,
    q: Annotated[str | None, Query(max_length=100)] = None,
    tier: Annotated[str | None, Query(max_length=50)] = None,
    funnel_stage: Annotated[str | None, Query(max_length=50)] = None,
    sort: Annotated[str, Query(max_length=30)] = "-influence",
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> Response:
    """Search customers by name, phone or e-mail; pick seeds for a lookalike search."""

    async def build(api: Api, who: Principal | None) -> Response:
        filters = _search_filters(q) | {
            k: v for k, v in (("tier", tier), ("funnel_stage", funnel_stage)) if v
        }
        page = await api.get(
            "/customers",
            limit=50,
            sort=sort,
            cursor=cursor,
            include_total=cursor is None,
            **filters,
        )
        base = {
            k: v
            for k, v in (("q", q), ("tier", tier), ("funnel_stage", funnel_stage), ("sort", sort))
            if v
        }
        next_url = (
            f"{PREFIX}/customers?" + urlencode(base | {"cursor": page["next_cursor"]})
            if page.get("next_cursor")
            else None
        )
        return _html(
            request,
            "customers.html",
            who=who,
            section="customers",
            page_title="Customers",
            items=page["items"],
            total=page.get("total"),
            q=q or "",
            tier=tier or "",
            funnel_stage=funnel_stage or "",
            sort=sort,
            tiers=_TIERS,
            stages=_FUNNEL,
            next_url=next_url,
        )

    return await _page(request, build)


def _ego_neighbourhood(
    c360: Mapping[str, Any],
    graph: CachedGraph | None,
    names: Mapping[str, Mapping[str, Any]],
    second: Mapping[str, list[tuple[str, float]]],
) -> dict[str, Any]:
    """A customer's 360 as a neighbourhood: the customer, what is linked to them, and the
    contacts of their strongest contacts."""
    me = dict(c360["customer"])
    me_id = str(me["id"])
    nodes: dict[str, dict[str, Any]] = {}
    relations: list[dict[str, Any]] = []

    def link(rel: str, start: str, end: str, props: Mapping[str, Any] | None = None) -> None:
        relations.append({"type": rel, "start": start, "end": end, "props": dict(props or {})})

    for channel, identities in (c360.get("identities") or {}).items():
        for ident in identities:
            nid = f"identity:{ident['id']}"
            nodes[nid] = {
                "_label": "Identity",
                "id": nid,
                "channel": channel,
                "kind": ident.get("kind"),
                "key": ident.get("key"),
                "rule": ident.get("rule"),
            }
            link("HAS_IDENTITY", me_id, nid, {"rule": ident.get("rule")})
    for label, rel, items in (
        ("Employee", "SERVED_BY", c360.get("employees")),
        ("Group", "MEMBER_OF", c360.get("groups")),
        ("Circle", "IN_CIRCLE", c360.get("circles")),
        ("Tag", "TAGGED", c360.get("tags")),
        ("Interest", "INTERESTED_IN", c360.get("interests")),
    ):
        for item in items or []:
            nid = f"{label.lower()}:{item['id']}"
            nodes[nid] = {
                "_label": label,
                **item,
                "id": nid,
                "name": item.get("name") or item["id"],
            }
            link(
                rel,
                me_id,
                nid,
                {k: v for k, v in item.items() if k in ("weight", "added_at", "joined_at")},
            )
    referrals = c360.get("referrals") or {}
    contacts = (c360.get("contacts") or {}).get("strongest") or []
    people: list[tuple[str, Mapping[str, Any]]] = [(str(c["id"]), c) for c in contacts]
    people += [
        (str(r["id"]), r) for r in referrals.get("referred_by", []) + referrals.get("referred", [])
    ]
    for pid, p in people:
        nodes.setdefault(
            pid,
            {"_label": "Customer", "id": pid}
            | dict(names.get(pid, {}))
            | {"name": p.get("name") or names.get(pid, {}).get("name") or pid},
        )
    for c in contacts:
        link(
            "INTERACTS_WITH",
            me_id,
            str(c["id"]),
            {"weight": c.get("weight"), "count": c.get("count")},
        )
    for r in referrals.get("referred_by", []):
        link("REFERRED", str(r["id"]), me_id, {"at": r.get("at")})
    for r in referrals.get("referred", []):
        link("REFERRED", me_id, str(r["id"]), {"at": r.get("at")})
    for contact, theirs in second.items():
        for other, weight in theirs:
            if other == me_id:
                continue
            nodes.setdefault(
                other, {"_label": "Customer", "id": other} | dict(names.get(other, {}))
            )
            link("INTERACTS_WITH", contact, other, {"weight": weight})
    first = [str(c["id"]) for c in contacts]
    for tie in _ties_among(graph, first):
        link("INTERACTS_WITH", tie["start"], tie["end"], {"weight": tie["weight"]})
    return {
        "centre": me | {"_label": "Customer"},
        "nodes": nodes,
        "relations": relations,
        "truncated": int((c360.get("contacts") or {}).get("total") or 0) > len(contacts),
    }


def _contacts_of(
    graph: CachedGraph | None, ids: Sequence[str], per: int
) -> dict[str, list[tuple[str, float]]]:
    """The strongest ``per`` contacts of each customer, from the cached tie graph."""
    if graph is None:
        return {}
    g = graph.graph
    weighted = "weight" in g.es.attributes()
    out: dict[str, list[tuple[str, float]]] = {}
    for cid in ids:
        v = graph.index.get(cid)
        if v is None:
            continue
        found: dict[str, float] = {}
        for e in g.incident(v):
            edge = g.es[e]
            other = edge.target if edge.source == v else edge.source
            name = str(g.vs[other]["id"])
            found[name] = found.get(name, 0.0) + (float(edge["weight"]) if weighted else 1.0)
        out[cid] = sorted(found.items(), key=lambda kv: (-kv[1], kv[0]))[:per]
    return out


@router.get("/customers/{customer_id}", response_class=HTMLResponse)
async def customer_page(request: Request, customer_id: str) -> Response:
    """The customer 360: profile, identities, scores, timeline and the ego network."""

    async def build(api: Api, who: Principal | None) -> Response:
        path = f"/customers/{quote(customer_id, safe='')}/360"
        c360, graph = await _gather(
            api.get(path, contacts_limit=25, timeline_limit=50), _graph(request)
        )
        contacts = [str(c["id"]) for c in (c360.get("contacts") or {}).get("strongest") or []]
        second = _contacts_of(graph, contacts[:10], per=4)
        me = str(c360["customer"]["id"])
        unnamed = {o for theirs in second.values() for o, _ in theirs if o != me}
        names = await _summaries(api, sorted(unnamed | set(contacts)))
        hood = _ego_neighbourhood(c360, graph, names, second)
        profile = c360["customer"]
        view = ego_view(
            hood,
            title=f"{profile.get('name') or me}'s network",
            max_nodes=_max_nodes(request),
            customer_url=f"{PREFIX}/customers/{{id}}",
            card_url=f"{PREFIX}/customers/{{id}}/card",
            assets=STATIC,
        )
        referred = (c360.get("referrals") or {}).get("referred") or []
        return _html(
            request,
            "customer.html",
            who=who,
            section="customers",
            page_title=str(profile.get("name") or me),
            c=c360,
            profile=profile,
            view=view.html,
            note=view.note,
            has_referrals=bool(referred),
            lookalike_url=f"{PREFIX}/lookalike?" + urlencode({"seeds": me}),
        )

    return await _page(request, build)


def _card_fields(c360: Mapping[str, Any]) -> dict[str, Any]:
    """A customer card's fields and chips, from the customer's 360."""
    p = c360["customer"]
    scores = {s["name"]: s for s in c360.get("scores") or []}
    reasons = (scores.get("churn_risk") or {}).get("explanation") or []
    risk = p.get("churn_risk")
    employees = [e for e in c360.get("employees") or [] if not e.get("deleted_at")]
    deleted = [e for e in c360.get("employees") or [] if e.get("deleted_at")]
    circles = c360.get("circles") or []

    def names(items: Iterable[Mapping[str, Any]]) -> str | None:
        return ", ".join(str(i.get("name") or i.get("id")) for i in items) or None

    fields = [
        ("Tier", p.get("tier") or p.get("recorded_tier")),
        ("Funnel stage", (p.get("funnel_stage") or "").replace("_", " ") or None),
        ("Churn risk", None if risk is None else f"{100 * float(risk):.0f}%"),
        ("Why", str(reasons[0]) if reasons else None),
        ("Influence", None if p.get("influence") is None else f"{float(p['influence']):.2f}"),
        ("Circle", names(c for c in circles if not c.get("level"))),
        ("Employee", names(employees)),
        ("Deleted employee", names(deleted)),
        ("Groups", names(c360.get("groups") or [])),
        ("City", p.get("city")),
        ("Phone", ", ".join(p.get("phones") or []) or None),
        ("E-mail", ", ".join(p.get("emails") or []) or None),
        ("Last active", (p.get("last_active_at") or "")[:10] or None),
    ]
    return {
        "fields": [[k, v] for k, v in fields if v],
        "chips": [str(t.get("name") or t.get("id")) for t in c360.get("tags") or []],
    }


@router.get("/customers/{customer_id}/card")
async def customer_card(request: Request, customer_id: str) -> Response:
    """The rest of a customer's card in a graph view (JSON): tags, employees, churn reasons."""
    key = _key(request)
    if not key:
        return JSONResponse({"detail": "sign in first"}, status_code=401)
    api = Api(request, key)
    try:
        path = f"/customers/{quote(customer_id, safe='')}/360"
        c360 = await api.get(path, contacts_limit=0, timeline_limit=0)
    except ApiError as p:
        return JSONResponse({"detail": p.detail}, status_code=p.status if p.status >= 400 else 404)
    finally:
        await api.close()
    # It may hold a phone and an e-mail in full: not kept in any cache after sign-out.
    return JSONResponse(
        _card_fields(c360),
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


async def _referral_tree(
    api: Api, roots: Sequence[str], *, campaign: str | None, cap: int
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]], bool]:
    """Walk ``REFERRED`` down from ``roots`` through the customers' 360s, level by level."""
    referrals: list[dict[str, Any]] = []
    people: dict[str, dict[str, Any]] = {}
    level = list(dict.fromkeys(roots))
    seen = set(level)
    cut = False
    while level:
        batch = level[: max(0, cap - len(people))]
        cut = cut or len(batch) < len(level)
        found = await _gather(
            *(
                api.get(f"/customers/{quote(c, safe='')}/360", contacts_limit=0, timeline_limit=0)
                for c in batch
            )
        )
        level = []
        for cid, c360 in zip(batch, found, strict=True):
            people[cid] = dict(c360["customer"])
            for r in (c360.get("referrals") or {}).get("referred") or []:
                if campaign is not None and r.get("campaign_id") not in (None, campaign):
                    continue
                rid = str(r["id"])
                referrals.append({"start": cid, "end": rid, **r})
                people.setdefault(rid, {"id": rid, "name": r.get("name")})
                if rid not in seen:
                    seen.add(rid)
                    level.append(rid)
        if len(people) >= cap:
            cut = cut or bool(level)
            break
    return referrals, people, cut


@router.get("/customers/{customer_id}/referrals", response_class=HTMLResponse)
async def customer_referrals_page(request: Request, customer_id: str) -> Response:
    """Who a customer invited, and whom they invited in turn."""

    async def build(api: Api, who: Principal | None) -> Response:
        limit = _max_nodes(request)
        referrals, people, cut = await _referral_tree(api, [customer_id], campaign=None, cap=limit)
        me = people.get(customer_id, {"id": customer_id})
        view = referral_tree_view(
            referrals,
            people,
            roots=[customer_id],
            title=f"Referrals of {me.get('name') or customer_id}",
            max_nodes=limit,
            customer_url=f"{PREFIX}/customers/{{id}}",
            card_url=f"{PREFIX}/customers/{{id}}/card",
            assets=STATIC,
        )
        note = " ".join(
            x for x in (view.note, "Deeper levels were not read." if cut else None) if x
        )
        return _html(
            request,
            "view_page.html",
            who=who,
            section="customers",
            page_title="Referral tree",
            heading=f"Referral tree of {me.get('name') or customer_id}",
            lead="Who this customer invited, level by level, with invite counts.",
            view=view.html,
            note=note or None,
        )

    return await _page(request, build)


# -- lookalike --------------------------------------------------------------------------------
def _split_ids(values: Iterable[str]) -> list[str]:
    out: list[str] = []
    for value in values:
        out += [x for x in re.split(r"[\s,;]+", value) if x]
    return list(dict.fromkeys(out))[:1000]


def _lookalike_body(
    seeds: Sequence[str],
    seed_tier: str | None,
    seed_circle: str | None,
    seed_tag: str | None,
    candidate_stage: str | None,
    candidate_tier: str | None,
    k: int,
    thorough: bool,
) -> dict[str, Any]:
    body: dict[str, Any] = {"k": k, "thorough": thorough}
    if seeds:
        body["seeds"] = list(seeds)
    else:
        body["seed_filter"] = {
            key: value
            for key, value in (("tier", seed_tier), ("circle", seed_circle), ("tag", seed_tag))
            if value
        }
    candidates = {
        key: value
        for key, value in (("funnel_stage", candidate_stage), ("tier", candidate_tier))
        if value
    }
    if candidates:
        body["candidate_filter"] = candidates
    return body


@router.get("/lookalike", response_class=HTMLResponse)
async def lookalike_form(
    request: Request, seeds: Annotated[list[str] | None, Query(max_length=1000)] = None
) -> Response:
    """Pick seeds (customers, or a segment) and who may be returned."""

    async def build(api: Api, who: Principal | None) -> Response:
        circles = await _all_circles(api, cap=200, live=False)
        return _html(
            request,
            "lookalike.html",
            who=who,
            section="lookalike",
            page_title="Lookalike",
            form=_form_values(_split_ids(seeds or []), None, None, None, None, None, 50, False),
            circles=circles,
            name_of=_circle_name,
            tiers=_TIERS,
            stages=_FUNNEL,
            result=None,
        )

    return await _page(request, build)


def _form_values(
    seeds: Sequence[str],
    seed_tier: str | None,
    seed_circle: str | None,
    seed_tag: str | None,
    candidate_stage: str | None,
    candidate_tier: str | None,
    k: int,
    thorough: bool,
) -> dict[str, Any]:
    return {
        "thorough": thorough,
        "seeds": "\n".join(seeds),
        "seed_tier": seed_tier or "",
        "seed_circle": seed_circle or "",
        "seed_tag": seed_tag or "",
        "candidate_stage": candidate_stage or "",
        "candidate_tier": candidate_tier or "",
        "k": k,
    }


SeedsField = Annotated[str, Form(max_length=50_000)]
OptionalField = Annotated[str | None, Form(max_length=200)]


@router.post("/lookalike", response_class=HTMLResponse)
async def lookalike_run(
    request: Request,
    seeds: SeedsField = "",
    seed_tier: OptionalField = None,
    seed_circle: OptionalField = None,
    seed_tag: OptionalField = None,
    candidate_stage: OptionalField = None,
    candidate_tier: OptionalField = None,
    k: Annotated[int, Form(ge=1, le=500)] = 50,
    thorough: Annotated[bool, Form()] = False,
    export: Annotated[str | None, Form(max_length=10)] = None,
) -> Response:
    """Run a lookalike search; show the prospects, why, and the view (or export them)."""
    ids = _split_ids([seeds])
    form = _form_values(
        ids, seed_tier, seed_circle, seed_tag, candidate_stage, candidate_tier, k, thorough
    )

    async def build(api: Api, who: Principal | None) -> Response:
        if not _same_origin(request):
            return _html(
                request,
                "error.html",
                status=403,
                who=who,
                heading="Refused",
                detail="The form was sent from another site.",
            )
        circles = await _all_circles(api, cap=200, live=False)
        context: dict[str, Any] = {
            "who": who,
            "section": "lookalike",
            "page_title": "Lookalike",
            "form": form,
            "circles": circles,
            "name_of": _circle_name,
            "tiers": _TIERS,
            "stages": _FUNNEL,
        }
        if not ids and not (seed_tier or seed_circle or seed_tag):
            return _html(
                request,
                "lookalike.html",
                status=422,
                result=None,
                error="Give seed customers, or a segment (tier, circle or tag) to seed from.",
                **context,
            )
        body = _lookalike_body(
            ids, seed_tier, seed_circle, seed_tag, candidate_stage, candidate_tier, k, thorough
        )
        try:
            result = await api.post("/lookalikes", body)
        except ApiError as p:
            if p.status in (401, 307):
                raise
            return _html(
                request, "lookalike.html", status=p.status, result=None, error=p.detail, **context
            )
        items = result.get("items", [])
        if export == "csv":
            return _csv(items)
        seed_ids = [str(s) for s in result.get("seeds", [])]
        view, note, items = await _lookalike_view(request, api, seed_ids, items)
        return _html(
            request,
            "lookalike.html",
            result=result,
            items=items,
            view=view.html,
            note=note,
            seed_count=len(seed_ids),
            **context,
        )

    return await _page(request, build)


async def _lookalike_view(
    request: Request, api: Api, seed_ids: Sequence[str], items: Sequence[Mapping[str, Any]]
) -> tuple[GraphView, str | None, list[dict[str, Any]]]:
    """The prospects' graph view, a note on what it leaves out, and the prospects with their
    reasons naming the seeds and mutual contacts they cite (see :func:`_reasons_by_name`)."""
    limit = _max_nodes(request)
    contacts = [
        str(e)
        for item in items
        for r in item.get("reasons") or []
        if r.get("kind") == "mutual_contacts"
        for e in (r.get("evidence") or [])[:3]
    ]
    graph, seeds, people = await _gather(
        _graph(request), _summaries(api, seed_ids[:40]), _summaries(api, contacts)
    )
    names = {
        cid: str(record["name"])
        for found in (seeds, people)
        for cid, record in found.items()
        if record.get("name")
    }
    items = _reasons_by_name(items, names)
    groups = graph.attributes.get("group", {}) if graph else {}
    interests = graph.attributes.get("interest", {}) if graph else {}
    circles = graph.attributes.get("circle", {}) if graph else {}
    seed_records = [
        seeds.get(s, {"id": s})
        | {
            "groups": groups.get(s, []),
            "interests": interests.get(s, []),
            "circles": circles.get(s, []),
        }
        for s in seed_ids[:40]
    ]
    prospects = [
        dict(item["customer"]) | {"score": item["score"], "reasons": item["reasons"]}
        for item in items
    ]
    drawn = list(seed_ids[:40]) + [str(p["id"]) for p in prospects] + contacts
    view = lookalike_view(
        seed_records,
        prospects,
        ties=_ties_among(graph, drawn),
        people=people,
        max_nodes=limit,
        customer_url=f"{PREFIX}/customers/{{id}}",
        card_url=f"{PREFIX}/customers/{{id}}/card",
        assets=STATIC,
    )
    note = view.note
    if len(seed_ids) > 40:
        note = f"The view draws 40 of the {len(seed_ids):,} seeds. " + (note or "")
    return view, note, items


#: Reasons whose text cites customers by id (their evidence holds the ids).
_REASONS_CITING_CUSTOMERS = frozenset({"knows_seeds", "mutual_contacts"})


def _reasons_by_name(
    items: Sequence[Mapping[str, Any]], names: Mapping[str, str]
) -> list[dict[str, Any]]:
    """The prospects with their reasons' text naming the customers it cites by id: people
    reading the page know them by name. The API and the CSV export keep the ids."""
    named = []
    for item in items:
        reasons = []
        for reason in item.get("reasons") or []:
            text = str(reason.get("text", ""))
            if reason.get("kind") in _REASONS_CITING_CUSTOMERS:
                for cid in reason.get("evidence") or []:
                    if str(cid) in names:
                        text = text.replace(str(cid), names[str(cid)])
            reasons.append(dict(reason, text=text))
        named.append(dict(item, reasons=reasons))
    return named


def _csv(items: Sequence[Mapping[str, Any]]) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "rank",
            "customer_id",
            "name",
            "score",
            "tier",
            "funnel_stage",
            "churn_risk",
            "phones",
            "emails",
            "reasons",
        ]
    )
    for item in items:
        c = item.get("customer") or {}
        writer.writerow(
            [
                item.get("rank"),
                c.get("id"),
                csv_cell(c.get("name")),
                f"{item.get('score', 0):.4f}",
                c.get("tier"),
                c.get("funnel_stage"),
                c.get("churn_risk"),
                "; ".join(c.get("phones") or []),
                "; ".join(c.get("emails") or []),
                csv_cell(" | ".join(str(r.get("text")) for r in item.get("reasons") or [])),
            ]
        )
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return Response(
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="lookalikes-{stamp}.csv"'},
    )


@router.post("/lookalike/tag", response_class=HTMLResponse)
async def lookalike_tag(
    request: Request,
    tag: Annotated[str, Form(min_length=1, max_length=64)],
    customer_ids: Annotated[list[str], Form(max_length=500)],
) -> Response:
    """Tag the chosen prospects (through the tags API)."""

    async def build(api: Api, who: Principal | None) -> Response:
        if not _same_origin(request):
            return _html(
                request,
                "error.html",
                status=403,
                who=who,
                heading="Refused",
                detail="The form was sent from another site.",
            )
        ids = _split_ids(customer_ids)
        name = tag.strip()
        apply = f"/tags/{quote(name, safe='')}/apply"
        try:
            result = await api.post(apply, {"customer_ids": ids})
        except ApiError as p:
            if p.status != 404 or "tag" not in p.detail.lower():
                raise
            await api.post("/tags", {"name": name})  # a new tag: create it, then tag
            result = await api.post(apply, {"customer_ids": ids})
        message = (
            f"Tagged {result.get('changed', len(ids)):,} of {len(ids):,} prospects with “{name}”."
        )
        return _html(
            request,
            "tagged.html",
            who=who,
            section="lookalike",
            page_title="Tagged",
            flashes=[message],
            tag=name,
            ids=ids,
        )

    return await _page(request, build)


# -- referral campaigns -----------------------------------------------------------------------
@router.get("/campaigns", response_class=HTMLResponse)
async def campaigns_page(request: Request) -> Response:
    """Referral campaigns with their counts."""

    async def build(api: Api, who: Principal | None) -> Response:
        found = await api.get("/campaigns")
        items = found.get("items", found) if isinstance(found, dict) else found
        return _html(
            request,
            "campaigns.html",
            who=who,
            section="campaigns",
            page_title="Referral campaigns",
            campaigns=items,
        )

    return await _page(request, build)


#: Inviters whose referral trees a campaign's page draws (the leaderboard lists more).
_TREE_ROOTS = 10


@router.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
async def campaign_page(request: Request, campaign_id: str) -> Response:
    """One campaign: its counts, the leaderboard and the referral tree from the top inviters."""

    async def build(api: Api, who: Principal | None) -> Response:
        limit = _max_nodes(request)
        path = f"/campaigns/{quote(campaign_id, safe='')}"
        campaign, board = await _gather(api.get(path), api.get(f"{path}/leaderboard", limit=50))
        entries = board.get("items", [])
        # Side by side, more trees than this shrink to an unreadable strip.
        roots = [str(e["customer"]["id"]) for e in entries[:_TREE_ROOTS]]
        referrals, people, cut = await _referral_tree(api, roots, campaign=campaign_id, cap=limit)
        referred = {r["end"] for r in referrals}
        view = referral_tree_view(
            referrals,
            people,
            roots=[r for r in roots if r not in referred] or None,
            title=str(campaign.get("name") or campaign_id),
            max_nodes=limit,
            customer_url=f"{PREFIX}/customers/{{id}}",
            card_url=f"{PREFIX}/customers/{{id}}/card",
            assets=STATIC,
        )
        few = (
            f"The tree starts from the {len(roots)} top inviters of the leaderboard's "
            f"{len(entries)}."
            if len(entries) > len(roots)
            else None
        )
        note = " ".join(
            x for x in (few, view.note, "Deeper levels were not read." if cut else None) if x
        )
        reach = sorted(
            (
                (str(e["customer"].get("name") or e["customer"]["id"]), float(e.get("reach") or 0))
                for e in entries[:10]
            ),
            key=lambda bar: -bar[1],
        )
        chart = bar_chart(
            reach,
            title="Reach of the top inviters",
            shares=False,
        )
        return _html(
            request,
            "campaign.html",
            who=who,
            section="campaigns",
            page_title=str(campaign.get("name") or campaign_id),
            campaign=campaign,
            entries=entries,
            view=view.html,
            note=note or None,
            chart=chart,
        )

    return await _page(request, build)
