"""Interactive graph views: self-contained HTML documents built with pyvis.

Each function takes in-memory data -- records shaped like the JSON API's (mappings), or a
:class:`~quanzi.graph.store.Neighbourhood` -- and returns a :class:`GraphView` whose ``html`` is
one HTML document. The vis-network JavaScript comes from the installed ``pyvis`` package: inlined
(``assets="inline"``, the default: the file works offline and anywhere) or loaded from a path on
the Quanzi server (``assets="/ui/static"``). No view ever loads anything from another host.

Clicking a node opens its card (a customer's tier, funnel stage, churn risk, tags, employees;
a circle's size and leaders); double-clicking follows the card's link, when a URL template
such as ``customer_url="/ui/customers/{id}"`` was given. With ``card_url``, a click also
fetches the rest of the customer's card from the server (same origin only).

Views of large graphs stay usable: above ``max_nodes`` a view keeps the most important nodes
(leaders and the most influential members, the largest circles, the nearest neighbours, the
top of a referral tree), folds the rest into summary nodes where that helps, and says so on the
page (:attr:`GraphView.note`).

Examples
--------
>>> members = [{"id": "c1", "name": "Li Na", "influence": 0.9, "tier": "member"},
...            {"id": "c2", "name": "Wang Fang", "influence": 0.2, "tier": "general"}]
>>> ties = [{"start": "c1", "end": "c2", "kind": "INTERACTS_WITH", "weight": 3.0}]
>>> view = circle_view(members, ties, title="Tea lovers", leaders=["c1"])
>>> view.nodes, view.edges, view.note is None, "Li Na" in view.html
(2, 1, True, True)
"""

from __future__ import annotations

import html
import json
import math
import re
from collections import Counter, defaultdict, deque
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from urllib.parse import quote

from pyvis.network import Network

from quanzi.errors import InputError
from quanzi.viz.assets import asset_text, templates, vis_asset

__all__ = [
    "DEFAULT_MAX_NODES",
    "TIER_COLOURS",
    "GraphView",
    "NeighbourhoodLike",
    "circle_view",
    "circles_map",
    "ego_view",
    "lookalike_view",
    "referral_tree_view",
    "vis_asset",
]

#: Nodes a view draws before it samples or aggregates (``QUANZI_VIZ_MAX_NODES`` in the service).
DEFAULT_MAX_NODES = 300

#: Loyalty tiers, lowest first, and their colours.
TIER_COLOURS: dict[str, str] = {
    "potential": "#b0bec5",
    "general": "#4fc3f7",
    "loyal": "#1e88e5",
    "member": "#f9a825",
}
_UNKNOWN = "#cfd8dc"
#: A colour-blind-safe categorical palette (Okabe-Ito, then Tableau) for circles and kinds.
_PALETTE = (
    "#0072b2",
    "#e69f00",
    "#009e73",
    "#cc79a7",
    "#56b4e9",
    "#d55e00",
    "#f0e442",
    "#4e79a7",
    "#59a14f",
    "#b07aa1",
    "#9c755f",
    "#76b7b2",
)
_CIRCLE_KIND_COLOURS = {
    "colleague": "#0072b2",
    "friend": "#e69f00",
    "interest": "#009e73",
    "group": "#cc79a7",
    "family": "#d55e00",
}

# Tie kinds: how each is drawn, and the names the store and the algorithms use for them.
_TIE_STYLES: dict[str, dict[str, Any]] = {
    "interaction": {"color": "#78909c", "dashes": False},
    "referral": {"color": "#ef6c00", "dashes": False, "arrows": "to"},
    "group": {"color": "#8e24aa", "dashes": [6, 4]},
    "interest": {"color": "#43a047", "dashes": [2, 4]},
    "employee": {"color": "#6d4c41", "dashes": [12, 4]},
}
_TIE_LABELS = {
    "interaction": "interacts with",
    "referral": "referred",
    "group": "same group",
    "interest": "shared interest",
    "employee": "same employee",
}
_TIE_ALIASES = {
    "interacts_with": "interaction",
    "interacts": "interaction",
    "knows": "interaction",
    "tie": "interaction",
    "referred": "referral",
    "member_of": "group",
    "shared_group": "group",
    "interested_in": "interest",
    "shared_interest": "interest",
    "served_by": "employee",
    "shared_employee": "employee",
}

# Node kinds of the domain graph in the ego network.
_LABEL_STYLES: dict[str, tuple[str, str]] = {
    "Customer": ("dot", "#1e88e5"),
    "Identity": ("diamond", "#90a4ae"),
    "Employee": ("square", "#6d4c41"),
    "Group": ("triangle", "#8e24aa"),
    "Interest": ("star", "#43a047"),
    "Tag": ("box", "#fbc02d"),
    "Campaign": ("hexagon", "#ef6c00"),
    "Circle": ("ellipse", "#00897b"),
    "Order": ("square", "#bdbdbd"),
}
_LABEL_ORDER = (
    "Customer",
    "Employee",
    "Group",
    "Circle",
    "Interest",
    "Tag",
    "Campaign",
    "Identity",
)
_HIDDEN_PROPS = frozenset({"_label", "id", "content_hash", "updated_at", "attributes"})

#: A path on this server: one leading slash (``//host`` would leave it), then no scheme.
_LOCAL_PATH = re.compile(r"/(?![/\\])[A-Za-z0-9_./{}%?=&-]*")
#: Physics for views of few, large nodes (the circles map): strong repulsion, no overlaps.
_SPREAD = {
    "solver": "barnesHut",
    "barnesHut": {
        "gravitationalConstant": -9000,
        "centralGravity": 0.2,
        "springLength": 220,
        "springConstant": 0.01,
        "avoidOverlap": 1,
    },
    "stabilization": {"iterations": 300, "fit": True},
}
_SIZE = re.compile(r"\d{2,4}(px|vh|%)")
_MAX_LABEL = 28
_MAX_EDGES_PER_NODE = 4


@dataclass(frozen=True, repr=False)
class GraphView:
    """One rendered graph view.

    Attributes
    ----------
    html : str
        A whole HTML document (``<!doctype html>`` ...).
    nodes : int
        Nodes drawn (summary nodes included).
    edges : int
        Edges drawn.
    total_nodes : int
        Nodes in the data before sampling or aggregation.
    note : str or None
        What was sampled or aggregated, in plain words (``None`` when everything is drawn).
    """

    html: str
    nodes: int
    edges: int
    total_nodes: int
    note: str | None = None

    @property
    def sampled(self) -> bool:
        """Whether the view shows less than the whole data."""
        return self.note is not None

    def __repr__(self) -> str:
        """A short summary; the document itself is :attr:`html` (notebooks show it drawn)."""
        note = f", note={self.note!r}" if self.note else ""
        return (
            f"GraphView(nodes={self.nodes}, edges={self.edges}, "
            f"total_nodes={self.total_nodes}{note})"
        )

    def _repr_html_(self) -> str:
        """Show the view in a notebook (an ``iframe`` holding the document)."""
        return (
            f'<iframe srcdoc="{html.escape(self.html, quote=True)}" '
            'style="width:100%;height:720px;border:0"></iframe>'
        )


class NeighbourhoodLike(Protocol):
    """What :func:`ego_view` reads (:class:`quanzi.graph.store.Neighbourhood` fits)."""

    @property
    def centre(self) -> Mapping[str, Any]: ...
    @property
    def nodes(self) -> Mapping[str, Mapping[str, Any]]: ...
    @property
    def relations(self) -> Sequence[Mapping[str, Any]]: ...
    @property
    def truncated(self) -> bool: ...


# -- assets and rendering ---------------------------------------------------------------------
def _check_assets(assets: str) -> None:
    if assets != "inline" and not _LOCAL_PATH.fullmatch(assets):
        raise InputError(
            f"assets={assets!r}: use 'inline' or a path on this server such as '/ui/static' "
            "(views never load scripts from another host)"
        )


def _check_url(template: str | None, what: str) -> None:
    if template is not None and (not _LOCAL_PATH.fullmatch(template) or "{id}" not in template):
        raise InputError(f"{what}={template!r}: use a path on this server with '{{id}}' in it")


def _url(template: str | None, node_id: str) -> str | None:
    return None if template is None else template.replace("{id}", quote(str(node_id), safe=""))


def _check_limits(max_nodes: int, height: str) -> None:
    if max_nodes < 2:
        raise InputError(f"max_nodes must be at least 2, got {max_nodes}")
    if not _SIZE.fullmatch(height):
        raise InputError(f"height={height!r}: use a size such as '640px' or '80vh'")


def _network(*, directed: bool, physics: Mapping[str, Any] | None = None) -> Network:
    net = Network(directed=directed, cdn_resources="in_line")
    options: dict[str, Any] = {
        "interaction": {"hover": True, "tooltipDelay": 150, "navigationButtons": False},
        "layout": {"randomSeed": 7},  # the same data always gets the same picture
        "nodes": {"font": {"size": 14, "face": "system-ui, sans-serif"}, "borderWidth": 1},
        "edges": {"smooth": {"type": "continuous"}, "color": {"inherit": False}},
        "physics": dict(physics)
        if physics is not None
        else {
            "solver": "forceAtlas2Based",
            "forceAtlas2Based": {"gravitationalConstant": -60, "springLength": 90},
            "stabilization": {"iterations": 250, "fit": True},
        },
    }
    net.set_options(json.dumps(options))
    return net


def _render(
    net: Network,
    *,
    title: str,
    subtitle: str | None,
    note: str | None,
    legend: Sequence[Mapping[str, str]],
    total_nodes: int,
    assets: str,
    height: str,
) -> GraphView:
    nodes, edges, _, _, _, options = net.get_network_data()
    data = {"nodes": nodes, "edges": edges, "options": json.loads(options)}
    inline = assets == "inline"
    page = (
        templates()
        .get_template("graph.html")
        .render(
            title=title,
            subtitle=subtitle,
            note=note,
            legend=legend,
            height=height,
            data=data,
            inline=inline,
            assets=assets.rstrip("/"),
            vis_js=asset_text("vis-network.min.js") if inline else "",
            view_css=asset_text("view.css"),
            view_js=asset_text("view.js"),
        )
    )
    return GraphView(page, len(nodes), len(edges), total_nodes, note)


# -- formatting -------------------------------------------------------------------------------
def _short(text: Any, limit: int = _MAX_LABEL) -> str:
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _display(value: Any) -> str | None:
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, list | tuple):
        return ", ".join(str(_name_of(v)) for v in value)
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _name_of(value: Any) -> Any:
    """A display name for a nested record (``{"id", "name"}``) or a plain value."""
    if isinstance(value, Mapping):
        return value.get("name") or value.get("id") or ""
    return value


def _percent(value: Any) -> str | None:
    x = _number(value)
    return None if x is None else f"{100 * x:.0f}%"


def _sizes(values: Mapping[str, float | None], *, low: float, high: float) -> dict[str, float]:
    """Map values to node sizes in [low, high] (square root, so area follows the value)."""
    known = [v for v in values.values() if v is not None]
    top = max(known, default=0.0)
    bottom = min(known, default=0.0)
    span = top - bottom
    out = {}
    for key, v in values.items():
        rel = 0.0 if v is None or span <= 0 else (v - bottom) / span
        out[key] = round(low + (high - low) * math.sqrt(rel), 2)
    return out


def _tie_kind(raw: Any) -> str:
    kind = str(raw or "interaction").strip().lower()
    return _TIE_ALIASES.get(kind, kind)


def _tie_style(kind: str) -> dict[str, Any]:
    return _TIE_STYLES.get(kind, {"color": "#b0bec5", "dashes": [1, 3]})


def _legend_tie(kind: str) -> dict[str, str]:
    style = _tie_style(kind)
    dashes = style.get("dashes")
    line = "arrow" if style.get("arrows") else ("dashed" if dashes else "solid")
    return {
        "label": _TIE_LABELS.get(kind, kind.replace("_", " ")),
        "colour": style["color"],
        "shape": line,
    }


def _customer_card(
    person: Mapping[str, Any],
    url: str | None,
    *,
    more: str | None = None,
    extra: Sequence[tuple[str, str | None]] = (),
) -> dict[str, Any]:
    employees = person.get("employees") or person.get("employee")
    circle = person.get("circle_name") or person.get("circle_id") or person.get("circle")
    fields: list[tuple[str, str | None]] = [
        *extra,
        ("Tier", _display(person.get("tier"))),
        ("Funnel stage", _display(person.get("funnel_stage"))),
        ("Churn risk", _percent(person.get("churn_risk"))),
        ("Influence", _display(_number(person.get("influence")))),
        ("Circle", _display(_name_of(circle))),
        ("Employee", _display(employees)),
        ("City", _display(person.get("city"))),
        ("Company", _display(person.get("company"))),
        ("Phone", _display(person.get("phone"))),
        ("E-mail", _display(person.get("email"))),
    ]
    tags = [str(_name_of(t)) for t in person.get("tags") or ()]
    return {
        "title": str(person.get("name") or person.get("id")),
        "subtitle": str(person.get("id")),
        "fields": [[k, v] for k, v in fields if v is not None],
        "chips": tags,
        "link": {"href": url, "text": "Open customer 360"} if url else None,
        "more": more,
    }


def _tooltip(card: Mapping[str, Any]) -> str:
    lines = [str(card["title"])] + [f"{k}: {v}" for k, v in card["fields"][:4]]
    return "\n".join(lines)


def _note(parts: Iterable[str | None], max_nodes: int) -> str | None:
    said = [p for p in parts if p]
    if not said:
        return None
    return " ".join(said) + f" (views draw at most {max_nodes:,} nodes)."


# -- circle view ------------------------------------------------------------------------------
def circle_view(
    members: Sequence[Mapping[str, Any]],
    ties: Iterable[Mapping[str, Any]] = (),
    *,
    title: str = "Circle",
    subtitle: str | None = None,
    leaders: Collection[str] = (),
    colour_by: Literal["tier", "sub_circle"] = "tier",
    max_nodes: int = DEFAULT_MAX_NODES,
    customer_url: str | None = None,
    card_url: str | None = None,
    assets: str = "inline",
    height: str = "640px",
) -> GraphView:
    """The members of a circle and the ties between them.

    Node size follows influence, colour the tier (or the sub-circle), edge style the kind of
    tie; leaders are labelled. Clicking a member opens the customer's card.

    Parameters
    ----------
    members : sequence of mapping
        Customers with ``id`` and, where known, ``name``, ``influence``, ``tier``,
        ``funnel_stage``, ``churn_risk``, ``tags``, ``employees``, ``city``, ``company``,
        ``sub_circle`` (or ``circle_id``).
    ties : iterable of mapping
        ``{"start", "end", "kind", "weight"}``; ``kind`` is a relation type such as
        ``"INTERACTS_WITH"``/``"REFERRED"`` or a shared layer such as ``"group"``. Ties to
        non-members are ignored.
    title, subtitle : str
        Shown above the graph.
    leaders : collection of str
        Member ids to label (the circle's leaders).
    colour_by : {"tier", "sub_circle"}
        What the node colour shows.
    max_nodes : int
        Above this many members, the leaders and the most influential members are drawn.
    customer_url : str, optional
        A path with ``{id}``, e.g. ``"/ui/customers/{id}"``: the card links there.
    card_url : str, optional
        A path with ``{id}`` answering a card as JSON (``{"fields", "chips"}``), e.g.
        ``"/ui/customers/{id}/card"``: a click fetches it to complete the card (tags,
        employees, churn reasons) from the server.
    assets : str
        ``"inline"`` or the server path that serves ``vis-network.min.js``.
    height : str
        CSS height of the graph, e.g. ``"640px"``.

    Returns
    -------
    GraphView

    Examples
    --------
    >>> view = circle_view([{"id": "a"}, {"id": "b"}], [{"start": "a", "end": "b"}])
    >>> view.nodes, view.edges
    (2, 1)
    """
    _check_assets(assets)
    _check_url(customer_url, "customer_url")
    _check_url(card_url, "card_url")
    _check_limits(max_nodes, height)
    by_id = {str(m["id"]): m for m in members}
    leader_set = {str(x) for x in leaders} & by_id.keys()
    tie_list = [t for t in ties if str(t.get("start")) in by_id and str(t.get("end")) in by_id]
    degree: Counter[str] = Counter()
    for t in tie_list:
        degree[str(t["start"])] += 1
        degree[str(t["end"])] += 1

    def rank(mid: str) -> tuple[bool, float, int, str]:
        return (
            mid not in leader_set,
            -(_number(by_id[mid].get("influence")) or 0.0),
            -degree[mid],
            mid,
        )

    keep = sorted(by_id, key=rank)[:max_nodes]
    kept = set(keep)
    sized = _sizes({m: _number(by_id[m].get("influence")) for m in keep}, low=8, high=36)
    sub_colours: dict[str, str] = {}
    net = _network(directed=True)
    tiers_seen: list[str] = []
    for mid in keep:
        person = by_id[mid]
        card = _customer_card(person, _url(customer_url, mid), more=_url(card_url, mid))
        if colour_by == "tier":
            tier = str(person.get("tier") or "")
            colour = _tier_colour(tier)
            if tier not in tiers_seen:
                tiers_seen.append(tier)
        else:
            sub = str(person.get("sub_circle") or person.get("circle_id") or "")
            colour = sub_colours.setdefault(sub, _PALETTE[len(sub_colours) % len(_PALETTE)])
        is_leader = mid in leader_set
        net.add_node(
            mid,
            label=_short(person.get("name") or mid) if is_leader else " ",
            shape="star" if is_leader else "dot",
            color=colour,
            size=sized[mid] + (6 if is_leader else 0),
            title=_tooltip(card),
            card=card,
            borderWidth=3 if is_leader else 1,
            font={"size": 20, "strokeWidth": 4, "strokeColor": "#ffffff"},
        )
    _, kinds, dropped_ties = _add_ties(
        net, tie_list, kept, max_edges=_MAX_EDGES_PER_NODE * max_nodes
    )
    legend = (
        _tier_legend(tiers_seen)
        if colour_by == "tier"
        else [
            {"label": f"sub-circle {_short(k, 16) or '?'}", "colour": c, "shape": "dot"}
            for k, c in list(sub_colours.items())[:12]
        ]
    )
    legend += [{"label": "leader", "colour": "#424242", "shape": "star"}]
    legend += [_legend_tie(k) for k in kinds]
    hidden = len(by_id) - len(keep)
    note = _note(
        [
            f"Showing the {len(keep):,} leaders and most influential of {len(by_id):,} members."
            if hidden
            else None,
            f"{dropped_ties:,} weaker ties are hidden." if dropped_ties else None,
        ],
        max_nodes,
    )
    sub = subtitle or f"{len(by_id):,} members · {len(tie_list):,} ties · {len(leader_set)} leaders"
    return _render(
        net,
        title=title,
        subtitle=sub,
        note=note,
        legend=legend,
        total_nodes=len(by_id),
        assets=assets,
        height=height,
    )


def _tier_colour(tier: str) -> str:
    """The colour of a tier: fixed for Quanzi's tiers, from the palette for others."""
    if not tier:
        return _UNKNOWN
    return TIER_COLOURS.get(tier) or _PALETTE[sum(map(ord, tier)) % len(_PALETTE)]


def _tier_legend(seen: Sequence[str]) -> list[dict[str, str]]:
    ordered = [t for t in TIER_COLOURS if t in seen] + sorted(
        t for t in seen if t not in TIER_COLOURS
    )
    return [{"label": t or "no tier", "colour": _tier_colour(t), "shape": "dot"} for t in ordered]


def _add_ties(
    net: Network, ties: Sequence[Mapping[str, Any]], kept: set[str], *, max_edges: int
) -> tuple[int, list[str], int]:
    """Add ties among ``kept`` (the strongest first, one per pair and kind)."""
    merged: dict[tuple[str, str, str], float] = defaultdict(float)
    for t in ties:
        a, b, kind = str(t["start"]), str(t["end"]), _tie_kind(t.get("kind") or t.get("type"))
        if a == b or a not in kept or b not in kept:
            continue
        key = (a, b, kind) if kind == "referral" or a < b else (b, a, kind)
        merged[key] += _number(t.get("weight")) or 1.0
    ordered = sorted(merged.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ordered[:max_edges]
    top = max((w for _, w in shown), default=1.0)
    kinds: list[str] = []
    per_pair: Counter[tuple[str, str]] = Counter()
    for (a, b, kind), w in shown:
        if kind not in kinds:
            kinds.append(kind)
        pair = (min(a, b), max(a, b))
        bend = per_pair[pair]
        per_pair[pair] += 1
        style = dict(_tie_style(kind))
        style.setdefault("arrows", {"to": {"enabled": False}})
        net.add_edge(
            a,
            b,
            width=round(1 + 4 * w / top, 2),
            title=f"{_TIE_LABELS.get(kind, kind)} (weight {w:g})",
            smooth={"type": "curvedCW", "roundness": 0.15 * bend}
            if bend
            else {"type": "continuous"},
            **style,
        )
    return len(shown), sorted(kinds), len(ordered) - len(shown)


# -- circles map ------------------------------------------------------------------------------
def circles_map(
    circles: Sequence[Mapping[str, Any]],
    links: Iterable[Mapping[str, Any]] = (),
    *,
    title: str = "Circles",
    subtitle: str | None = None,
    max_nodes: int = DEFAULT_MAX_NODES,
    circle_url: str | None = None,
    assets: str = "inline",
    height: str = "640px",
) -> GraphView:
    """All circles as nodes sized by members, linked by the ties between them.

    Parameters
    ----------
    circles : sequence of mapping
        ``{"id", "name", "size", "kind", "leaders", "churn_risk", "top_interests", ...}``;
        ``leaders`` holds ids or ``{"id", "name"}`` records.
    links : iterable of mapping
        ``{"start", "end", "weight"}``: ties (or shared members) between two circles.
    max_nodes : int
        Above this many circles, the largest are drawn and the rest become one summary node.
    circle_url : str, optional
        A path with ``{id}``, e.g. ``"/ui/circles/{id}"``: the card links there.

    Returns
    -------
    GraphView

    Examples
    --------
    >>> view = circles_map([{"id": "k1", "size": 10, "kind": "friend"},
    ...                     {"id": "k2", "size": 4, "kind": "colleague"}],
    ...                    [{"start": "k1", "end": "k2", "weight": 3}])
    >>> view.nodes, view.edges
    (2, 1)
    """
    _check_assets(assets)
    _check_url(circle_url, "circle_url")
    _check_limits(max_nodes, height)
    by_id = {str(c["id"]): c for c in circles}
    ordered = sorted(by_id, key=lambda cid: (-(_number(by_id[cid].get("size")) or 0.0), cid))
    keep = ordered if len(ordered) <= max_nodes else ordered[: max_nodes - 1]
    rest = ordered[len(keep) :]
    other = "__other__"
    target = {cid: cid for cid in keep} | {cid: other for cid in rest}
    sizes: dict[str, float | None] = {cid: _number(by_id[cid].get("size")) for cid in keep}
    rest_members = sum(_number(by_id[cid].get("size")) or 0.0 for cid in rest)
    if rest:
        sizes[other] = rest_members
    sized = _sizes(sizes, low=12, high=48)
    net = _network(directed=False, physics=_SPREAD)
    kinds: list[str] = []
    for cid in keep:
        c = by_id[cid]
        kind = str(c.get("kind") or "")
        if kind not in kinds:
            kinds.append(kind)
        card = _circle_card(c, _url(circle_url, cid))
        net.add_node(
            cid,
            label=_short(c.get("name") or cid),
            shape="dot",
            color=_kind_colour(kind),
            size=sized[cid],
            title=_tooltip(card),
            card=card,
        )
    if rest:
        net.add_node(
            other,
            label=f"{len(rest):,} smaller circles",
            shape="dot",
            color=_UNKNOWN,
            size=sized[other],
            title=f"{len(rest):,} smaller circles with {rest_members:,.0f} members",
            card={
                "title": f"{len(rest):,} smaller circles",
                "subtitle": "aggregated",
                "fields": [["Members", f"{rest_members:,.0f}"]],
                "chips": [],
                "link": None,
            },
        )
    weights: dict[tuple[str, str], float] = defaultdict(float)
    for link in links:
        a, b = target.get(str(link.get("start"))), target.get(str(link.get("end")))
        if a is None or b is None or a == b:
            continue
        weights[(min(a, b), max(a, b))] += _number(link.get("weight")) or 1.0
    ordered_links = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ordered_links[: _MAX_EDGES_PER_NODE * max_nodes]
    top = max((w for _, w in shown), default=1.0)
    for (a, b), w in shown:
        net.add_edge(a, b, width=round(1 + 7 * w / top, 2), title=f"{w:g} ties", color="#b0bec5")
    legend = [{"label": k or "other", "colour": _kind_colour(k), "shape": "dot"} for k in kinds]
    note = _note(
        [
            f"Showing the {len(keep):,} largest of {len(by_id):,} circles; the other {len(rest):,} "
            "are drawn as one node."
            if rest
            else None,
            f"{len(ordered_links) - len(shown):,} weaker links are hidden."
            if len(ordered_links) > len(shown)
            else None,
        ],
        max_nodes,
    )
    total_members = sum(_number(c.get("size")) or 0.0 for c in circles)
    sub = subtitle or f"{len(by_id):,} circles · {total_members:,.0f} members"
    return _render(
        net,
        title=title,
        subtitle=sub,
        note=note,
        legend=legend,
        total_nodes=len(by_id),
        assets=assets,
        height=height,
    )


def _kind_colour(kind: str) -> str:
    return _CIRCLE_KIND_COLOURS.get(
        kind, _PALETTE[sum(map(ord, kind)) % len(_PALETTE)] if kind else _UNKNOWN
    )


def _circle_card(c: Mapping[str, Any], url: str | None) -> dict[str, Any]:
    leaders = [str(_name_of(x)) for x in c.get("leaders") or ()]
    interests = [str(_name_of(x)) for x in c.get("top_interests") or c.get("interests") or ()]
    fields = [
        ("Members", _display(c.get("size"))),
        ("Kind", _display(c.get("kind"))),
        ("Leaders", ", ".join(leaders[:5]) or None),
        ("Churn risk", _percent(c.get("churn_risk"))),
        ("Tier mix", _mix(c.get("tier_mix"))),
    ]
    return {
        "title": str(c.get("name") or c.get("id")),
        "subtitle": str(c.get("id")),
        "fields": [[k, v] for k, v in fields if v is not None],
        "chips": interests[:8],
        "link": {"href": url, "text": "Open circle"} if url else None,
    }


def _mix(value: Any) -> str | None:
    if not isinstance(value, Mapping) or not value:
        return None
    return ", ".join(f"{k} {v}" for k, v in value.items())


# -- customer ego network ---------------------------------------------------------------------
def ego_view(
    neighbourhood: NeighbourhoodLike | Mapping[str, Any],
    *,
    title: str | None = None,
    max_nodes: int = DEFAULT_MAX_NODES,
    customer_url: str | None = None,
    card_url: str | None = None,
    assets: str = "inline",
    height: str = "640px",
) -> GraphView:
    """A customer and what lies around them: identities, groups, employees, interests, contacts.

    Parameters
    ----------
    neighbourhood : Neighbourhood or mapping
        :class:`quanzi.graph.store.Neighbourhood`, or a mapping with the same keys
        (``centre``, ``nodes``, ``relations``, ``truncated``) as the API returns it. Each node
        carries ``_label`` (or ``label``); relations are ``{"type", "start", "end", "props"}``.
    max_nodes : int
        Above this many nodes, the nearest are drawn and the rest are folded into one
        "N more ..." node per kind.
    customer_url, card_url : str, optional
        Paths with ``{id}``: customer cards link to the first and are completed from the
        second (see :func:`circle_view`).

    Returns
    -------
    GraphView

    Examples
    --------
    >>> hood = {"centre": {"id": "c1", "name": "Li Na", "_label": "Customer"},
    ...         "nodes": {"g1": {"id": "g1", "name": "Tea club", "_label": "Group"}},
    ...         "relations": [{"type": "MEMBER_OF", "start": "c1", "end": "g1", "props": {}}]}
    >>> ego_view(hood).nodes
    2
    """
    _check_assets(assets)
    _check_url(customer_url, "customer_url")
    _check_url(card_url, "card_url")
    _check_limits(max_nodes, height)
    if isinstance(neighbourhood, Mapping):
        centre = dict(neighbourhood["centre"])
        others = {str(k): v for k, v in (neighbourhood.get("nodes") or {}).items()}
        relations = list(neighbourhood.get("relations") or [])
        truncated = bool(neighbourhood.get("truncated"))
    else:
        centre = dict(neighbourhood.centre)
        others = {str(k): v for k, v in neighbourhood.nodes.items()}
        relations = list(neighbourhood.relations)
        truncated = neighbourhood.truncated
    centre_id = str(centre["id"])
    nodes: dict[str, Mapping[str, Any]] = {centre_id: centre} | {
        k: v for k, v in others.items() if k != centre_id
    }
    adjacent: dict[str, set[str]] = defaultdict(set)
    for r in relations:
        a, b = str(r["start"]), str(r["end"])
        if a in nodes and b in nodes:
            adjacent[a].add(b)
            adjacent[b].add(a)
    depth = {centre_id: 0}
    queue = deque([centre_id])
    while queue:
        cur = queue.popleft()
        for nxt in sorted(adjacent[cur]):
            if nxt not in depth:
                depth[nxt] = depth[cur] + 1
                queue.append(nxt)

    def label_of(node: Mapping[str, Any]) -> str:
        return str(node.get("_label") or node.get("label") or "Customer")

    def priority(nid: str) -> tuple[int, int, str]:
        lab = label_of(nodes[nid])
        order = _LABEL_ORDER.index(lab) if lab in _LABEL_ORDER else len(_LABEL_ORDER)
        return (depth.get(nid, 99), order, nid)

    ordered = sorted(nodes, key=priority)
    folded: Counter[str] = Counter()
    if len(ordered) > max_nodes:
        kinds_beyond = {label_of(nodes[n]) for n in ordered[max_nodes:]}
        keep = ordered[: max(1, max_nodes - len(kinds_beyond))]
        for n in ordered[len(keep) :]:
            folded[label_of(nodes[n])] += 1
    else:
        keep = ordered
    # Opaque ids in the page: identity ids hold phone numbers and e-mail addresses.
    vis_id = {nid: ("centre" if nid == centre_id else f"n{i}") for i, nid in enumerate(keep)}
    net = _network(directed=True)
    labels_seen: list[str] = []
    for nid in keep:
        node = nodes[nid]
        lab = label_of(node)
        if lab not in labels_seen:
            labels_seen.append(lab)
        shape, colour = _LABEL_STYLES.get(lab, ("dot", _UNKNOWN))
        is_customer = lab == "Customer"
        if is_customer:
            card = _customer_card(node, _url(customer_url, nid), more=_url(card_url, nid))
            if nid == centre_id:
                card["link"] = None
        else:
            card = _other_card(lab, node)
        is_centre = nid == centre_id
        net.add_node(
            vis_id[nid],
            label=_short(_node_name(lab, node)),
            shape=shape,
            color=TIER_COLOURS.get(str(node.get("tier")), colour) if is_customer else colour,
            size=30 if is_centre else (16 if is_customer else 11),
            title=_tooltip(card),
            card=card,
            borderWidth=4 if is_centre else 1,
            font={"size": 16 if is_centre else 12},
        )
    kept = set(keep)
    seen_edges: set[tuple[str, str, str]] = set()
    kinds: list[str] = []
    for r in relations:
        a, b, rel = str(r["start"]), str(r["end"]), str(r["type"])
        if a not in kept or b not in kept or (a, b, rel) in seen_edges:
            continue
        seen_edges.add((a, b, rel))
        kind = _tie_kind(rel)
        if rel in ("INTERACTS_WITH", "REFERRED") and kind not in kinds:
            kinds.append(kind)
        props = r.get("props") or {}
        style: dict[str, Any] = (
            dict(_tie_style(kind))
            if rel in ("INTERACTS_WITH", "REFERRED")
            else {"color": "#cfd8dc"}
        )
        style.setdefault("arrows", {"to": {"enabled": rel == "REFERRED"}})
        net.add_edge(
            vis_id[a],
            vis_id[b],
            title=rel.lower().replace("_", " ") + _props_text(props),
            **style,
        )
    for lab, count in sorted(folded.items()):
        fid = f"more-{lab}"
        net.add_node(
            fid,
            label=f"+{count:,} more {lab}",
            shape="box",
            color="#eceff1",
            title=f"{count:,} more {lab} nodes not drawn",
            card={
                "title": f"{count:,} more {lab}",
                "subtitle": "not drawn",
                "fields": [],
                "chips": [],
                "link": None,
            },
        )
        net.add_edge("centre", fid, color="#eceff1", dashes=True)
    legend = [
        {
            "label": lab,
            "colour": _LABEL_STYLES.get(lab, ("dot", _UNKNOWN))[1],
            "shape": _LABEL_STYLES.get(lab, ("dot", ""))[0],
        }
        for lab in labels_seen
    ] + [_legend_tie(k) for k in kinds]
    note = _note(
        [
            f"Showing the nearest {len(keep):,} of {len(nodes):,} nodes; "
            + ", ".join(f"{n:,} {lab}" for lab, n in sorted(folded.items()))
            + " are folded into summary nodes."
            if folded
            else None,
            "The neighbourhood is larger than the query limit: more lies beyond what is drawn."
            if truncated
            else None,
        ],
        max_nodes,
    )
    name = _node_name("Customer", centre)
    counts = Counter(label_of(nodes[n]) for n in nodes if n != centre_id)
    sub = " · ".join(f"{n:,} {lab}" for lab, n in sorted(counts.items())) or "no neighbours"
    return _render(
        net,
        title=title or f"{name}'s network",
        subtitle=sub,
        note=note,
        legend=legend,
        total_nodes=len(nodes),
        assets=assets,
        height=height,
    )


def _node_name(label: str, node: Mapping[str, Any]) -> str:
    if label == "Identity":
        kind = node.get("kind")
        channel = node.get("channel") or kind or "identity"
        return f"{channel} record" if kind == "record" else str(channel)
    return str(node.get("name") or node.get("title") or node.get("id") or label)


def _other_card(label: str, node: Mapping[str, Any]) -> dict[str, Any]:
    if label == "Identity":
        fields = [
            ("Channel", _display(node.get("channel"))),
            ("Kind", _display(node.get("kind"))),
            ("Key", _display(node.get("key"))),
            ("Name", _display(node.get("name"))),
            ("Phone", _display(node.get("phone"))),
            ("E-mail", _display(node.get("email"))),
        ]
    else:
        fields = [
            (k.replace("_", " ").capitalize(), _display(v))
            for k, v in sorted(node.items())
            if k not in _HIDDEN_PROPS and k != "name" and not k.startswith("_")
        ][:8]
    return {
        "title": _node_name(label, node),
        "subtitle": label,
        "fields": [[k, v] for k, v in fields if v is not None],
        "chips": [],
        "link": None,
    }


def _props_text(props: Mapping[str, Any]) -> str:
    shown = [
        f"{k} {_display(v)}"
        for k, v in sorted(props.items())
        if k in ("weight", "count", "at", "added_at", "joined_at", "rule", "score")
    ]
    return f" ({', '.join(shown)})" if shown else ""


# -- referral tree ----------------------------------------------------------------------------
def referral_tree_view(
    referrals: Iterable[Mapping[str, Any]],
    customers: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    roots: Sequence[str] | None = None,
    title: str = "Referral tree",
    subtitle: str | None = None,
    max_nodes: int = DEFAULT_MAX_NODES,
    customer_url: str | None = None,
    card_url: str | None = None,
    assets: str = "inline",
    height: str = "640px",
) -> GraphView:
    """Who referred whom, as a tree from the top referrers down, with invite counts.

    Parameters
    ----------
    referrals : iterable of mapping
        ``{"start": referrer id, "end": referee id, ...}`` (``REFERRED`` relations).
    customers : mapping of str to mapping, optional
        Customer records by id, for names and cards.
    roots : sequence of str, optional
        Where the tree starts (a customer); by default every referrer nobody referred.
    max_nodes : int
        Above this many people, the tree is cut level by level and each cut branch says how
        many invitees lie below it.

    Returns
    -------
    GraphView

    Examples
    --------
    >>> view = referral_tree_view([{"start": "a", "end": "b"}, {"start": "a", "end": "c"},
    ...                            {"start": "b", "end": "d"}])
    >>> view.nodes, view.edges, "invited 2" in view.html
    (4, 3, True)
    """
    _check_assets(assets)
    _check_url(customer_url, "customer_url")
    _check_url(card_url, "card_url")
    _check_limits(max_nodes, height)
    people = dict(customers or {})
    children: dict[str, list[str]] = defaultdict(list)
    referred: set[str] = set()
    for r in referrals:
        a, b = str(r["start"]), str(r["end"])
        if a != b and b not in referred:  # a person is referred once; the first referral wins
            children[a].append(b)
            referred.add(b)
    everyone = set(children) | referred
    start = [str(x) for x in roots] if roots else sorted(x for x in children if x not in referred)
    reach = _reach(children)
    start.sort(key=lambda x: (-reach.get(x, 0), x))
    level = {x: 0 for x in start}
    order: list[str] = []
    queue = deque(start)
    seen = set(start)
    while queue:
        cur = queue.popleft()
        order.append(cur)
        for nxt in sorted(children.get(cur, ()), key=lambda x: (-reach.get(x, 0), x)):
            if nxt not in seen:
                seen.add(nxt)
                level[nxt] = level[cur] + 1
                queue.append(nxt)
    keep = order[:max_nodes]
    kept = set(keep)
    net = Network(directed=True, cdn_resources="in_line")
    net.set_options(
        json.dumps(
            {
                "layout": {
                    "hierarchical": {
                        "enabled": True,
                        "direction": "UD",
                        "sortMethod": "directed",
                        "levelSeparation": 110,
                        "nodeSpacing": 130,
                    }
                },
                "physics": {"enabled": False},
                "interaction": {"hover": True, "tooltipDelay": 150},
                "nodes": {"font": {"size": 13, "face": "system-ui, sans-serif"}},
                "edges": {"color": {"color": "#ef6c00"}, "arrows": {"to": {"enabled": True}}},
            }
        )
    )
    sized = _sizes({x: float(reach.get(x, 0)) for x in keep}, low=8, high=30)
    for x in keep:
        person = people.get(x, {"id": x})
        direct = len(children.get(x, ()))
        extra = [("Invited", str(direct)), ("Reach (all levels)", str(reach.get(x, 0)))]
        card = _customer_card(
            {"id": x} | dict(person), _url(customer_url, x), more=_url(card_url, x), extra=extra
        )
        name = _short(person.get("name") or x, 18)
        net.add_node(
            x,
            label=f"{name}\ninvited {direct}" if direct else name,
            shape="dot",
            color=TIER_COLOURS.get(str(person.get("tier")), "#ffb74d"),
            size=sized[x],
            title=_tooltip(card),
            card=card,
            level=level[x],
        )
    edges = 0
    cut_below = 0
    for x in keep:
        hidden = [c for c in children.get(x, ()) if c not in kept]
        for c in children.get(x, ()):
            if c in kept:
                net.add_edge(x, c)
                edges += 1
        if hidden:
            n = len(hidden) + sum(reach.get(c, 0) for c in hidden)
            cut_below += n
            mid = f"more-{x}"
            net.add_node(
                mid,
                label=f"+{n:,} more",
                shape="box",
                color="#eceff1",
                level=level[x] + 1,
                title=f"{n:,} more invitees below this branch",
                card={
                    "title": f"{n:,} more invitees",
                    "subtitle": "not drawn",
                    "fields": [],
                    "chips": [],
                    "link": None,
                },
            )
            net.add_edge(x, mid, dashes=True, color="#bdbdbd")
            edges += 1
    note = _note(
        [
            f"Showing the top {len(keep):,} of {len(everyone):,} people in the tree; "
            f"{cut_below:,} invitees below cut branches are counted in the '+ more' boxes."
            if cut_below
            else None
        ],
        max_nodes,
    )
    levels = max(level.values(), default=-1) + 1
    sub = subtitle or (
        f"{len(start):,} top referrers · {len(referred):,} referred · {levels} level(s)"
    )
    return _render(
        net,
        title=title,
        subtitle=sub,
        note=note,
        legend=[{"label": "referred", "colour": "#ef6c00", "shape": "arrow"}],
        total_nodes=len(everyone),
        assets=assets,
        height=height,
    )


def _reach(children: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """Everyone below each referrer, at any depth (each person counted once)."""
    reach: dict[str, int] = {}
    for top in children:
        if top in reach:
            continue
        # Post-order without recursion: deep referral chains must not hit the recursion limit.
        stack: list[tuple[str, bool]] = [(top, False)]
        on_path: set[str] = set()
        while stack:
            node, done = stack.pop()
            if done:
                on_path.discard(node)
                reach[node] = sum(
                    1 + reach.get(c, 0) for c in children.get(node, ()) if c not in on_path
                )
                continue
            if node in reach or node in on_path:
                continue
            on_path.add(node)
            stack.append((node, True))
            stack.extend((c, False) for c in children.get(node, ()) if c not in reach)
    return reach


# -- lookalike view ---------------------------------------------------------------------------
_SHARED_KEYS = {
    "shared_circle": ("circle_id", "circles"),
    "shared_group": ("groups",),
    "shared_interest": ("interests",),
    "shared_tag": ("tags",),
}


def lookalike_view(
    seeds: Sequence[Mapping[str, Any]],
    prospects: Sequence[Mapping[str, Any]],
    *,
    ties: Iterable[Mapping[str, Any]] = (),
    people: Mapping[str, Mapping[str, Any]] | None = None,
    title: str = "Lookalike prospects",
    subtitle: str | None = None,
    max_nodes: int = DEFAULT_MAX_NODES,
    customer_url: str | None = None,
    card_url: str | None = None,
    assets: str = "inline",
    height: str = "640px",
) -> GraphView:
    """Seeds and the prospects found for them, with what explains each prospect.

    Seeds are gold stars, prospects are sized by score; a prospect is joined to the seeds it
    knows, to its mutual contacts with the seeds, and to the circles, groups and interests it
    shares with them.

    Parameters
    ----------
    seeds : sequence of mapping
        Seed customers (``id``, ``name``, and ``circle_id``/``groups``/``interests`` when known,
        so shared values can be joined to the seeds that hold them).
    prospects : sequence of mapping
        Ranked results: ``{"id", "score", "reasons": [{"kind", "text", "evidence",
        "strength"}], ...customer fields}`` -- :class:`quanzi.algorithms.lookalike.Lookalike`
        as the API returns it.
    ties : iterable of mapping, optional
        ``{"start", "end"}`` ties among the people shown (e.g. mutual contact -> seed).
    people : mapping of str to mapping, optional
        Records of mutual contacts by id, for names and cards.
    max_nodes : int
        The best prospects are drawn up to this many nodes in all.

    Returns
    -------
    GraphView

    Examples
    --------
    >>> seeds = [{"id": "s1", "name": "Seed"}]
    >>> found = [{"id": "p1", "score": 0.8, "reasons": [
    ...     {"kind": "knows_seeds", "text": "knows 1 of the 1 seeds", "evidence": ["s1"]}]}]
    >>> lookalike_view(seeds, found).edges
    1
    """
    _check_assets(assets)
    _check_url(customer_url, "customer_url")
    _check_url(card_url, "card_url")
    _check_limits(max_nodes, height)
    people = dict(people or {})
    seed_ids = [str(s["id"]) for s in seeds]
    seed_set = set(seed_ids)
    net = _network(directed=False)
    for s in seeds:
        sid = str(s["id"])
        card = _customer_card(
            s, _url(customer_url, sid), more=_url(card_url, sid), extra=[("Role", "seed")]
        )
        net.add_node(
            sid,
            label=_short(s.get("name") or sid, 18),
            shape="star",
            color="#f9a825",
            size=22,
            title=_tooltip(card),
            card=card,
        )
    ranked = sorted(prospects, key=lambda p: -(_number(p.get("score")) or 0.0))
    budget = max_nodes - len(seeds)
    shown_prospects: list[Mapping[str, Any]] = []
    extra_nodes: dict[str, tuple[str, str]] = {}  # node id -> (kind, value)
    edges: set[tuple[str, str, str]] = set()
    for p in ranked:
        pid = str(p["id"])
        if pid in seed_set:
            continue
        wanted = [n for n in _reason_nodes(p, seed_set) if n[1] != "knows_seeds"]
        new = {n[0] for n in wanted if n[0] not in extra_nodes}
        if len(shown_prospects) + len(extra_nodes) + 1 + len(new) > budget:
            break
        shown_prospects.append(p)
        for nid, kind, value in wanted:
            extra_nodes.setdefault(nid, (kind, value))
    sizes = _sizes(
        {str(p["id"]): _number(p.get("score")) for p in shown_prospects}, low=10, high=28
    )
    shown_ids = {str(p["id"]) for p in shown_prospects}
    for rank, p in enumerate(shown_prospects, 1):
        pid = str(p["id"])
        reasons = [str(r.get("text")) for r in p.get("reasons") or () if r.get("text")]
        score = _number(p.get("score"))
        extra = [("Rank", str(rank)), ("Score", f"{score:.2f}" if score is not None else None)]
        card = _customer_card(p, _url(customer_url, pid), more=_url(card_url, pid), extra=extra)
        card["reasons"] = reasons
        net.add_node(
            pid,
            label=f"#{rank} {_short(p.get('name') or pid, 16)}",
            shape="dot",
            color="#1e88e5",
            size=sizes[pid],
            title=_tooltip(card) + "\n" + "\n".join(reasons[:3]),
            card=card,
        )
        for nid, kind, _ in _reason_nodes(p, seed_set):
            edges.add((pid, nid, kind))
    for nid, (kind, value) in extra_nodes.items():
        if kind == "mutual_contacts":
            person = people.get(value, {"id": value})
            card = _customer_card(
                {"id": value} | dict(person), _url(customer_url, value), more=_url(card_url, value)
            )
            card["subtitle"] = f"{value} · mutual contact"
            net.add_node(
                nid,
                label=_short(person.get("name") or value, 16),
                shape="dot",
                color="#b0bec5",
                size=8,
                title=_tooltip(card),
                card=card,
            )
        else:
            what = kind.removeprefix("shared_")
            net.add_node(
                nid,
                label=f"{what}: {_short(value, 20)}",
                shape="box",
                color="#e0f2f1",
                title=f"{what} {value}",
                card={"title": value, "subtitle": what, "fields": [], "chips": [], "link": None},
            )
            for s in seeds:
                if _holds(s, kind, value):
                    edges.add((str(s["id"]), nid, kind))
    drawn = seed_set | shown_ids | set(extra_nodes)
    for t in ties:
        a, b = str(t.get("start")), str(t.get("end"))
        a, b = (
            (f"contact:{a}" if f"contact:{a}" in extra_nodes else a),
            (f"contact:{b}" if f"contact:{b}" in extra_nodes else b),
        )
        if a in drawn and b in drawn and a != b:
            edges.add((a, b, "interaction"))
    style: dict[str, dict[str, Any]] = {
        "knows_seeds": {"color": "#ef6c00", "width": 2.5},
        "mutual_contacts": {"color": "#78909c", "dashes": [4, 3]},
        "interaction": {"color": "#78909c", "dashes": [4, 3]},
    }
    kinds: set[str] = set()
    for a, b, kind in sorted(edges):
        kinds.add(kind)
        net.add_edge(
            a,
            b,
            title=kind.replace("_", " "),
            **style.get(kind, {"color": "#80cbc4", "dashes": [2, 4]}),
        )
    legend = [
        {"label": "seed", "colour": "#f9a825", "shape": "star"},
        {"label": "prospect", "colour": "#1e88e5", "shape": "dot"},
        {"label": "mutual contact", "colour": "#b0bec5", "shape": "dot"},
        {"label": "shared circle / group / interest", "colour": "#80cbc4", "shape": "box"},
        {"label": "knows a seed", "colour": "#ef6c00", "shape": "solid"},
    ]
    hidden = len([p for p in ranked if str(p["id"]) not in seed_set]) - len(shown_prospects)
    note = _note(
        [
            f"Showing the best {len(shown_prospects):,} of "
            f"{len(shown_prospects) + hidden:,} prospects."
            if hidden
            else None
        ],
        max_nodes,
    )
    sub = subtitle or f"{len(seeds):,} seeds · {len(shown_prospects) + hidden:,} prospects"
    return _render(
        net,
        title=title,
        subtitle=sub,
        note=note,
        legend=legend,
        total_nodes=len(seeds) + len(ranked) + len(extra_nodes),
        assets=assets,
        height=height,
    )


def _reason_nodes(p: Mapping[str, Any], seed_set: set[str]) -> list[tuple[str, str, str]]:
    """``(node id, kind, value)`` for every seed, contact and shared value a prospect's
    reasons name."""
    out: list[tuple[str, str, str]] = []
    for r in p.get("reasons") or ():
        kind = str(r.get("kind") or "")
        evidence = [str(e) for e in r.get("evidence") or ()]
        if kind == "knows_seeds":
            out += [(e, kind, e) for e in evidence if e in seed_set]
        elif kind == "mutual_contacts":
            out += [(f"contact:{e}", kind, e) for e in evidence[:3]]
        elif kind.startswith("shared_"):
            out += [(f"{kind}:{e}", kind, e) for e in evidence]
    return out


def _holds(person: Mapping[str, Any], kind: str, value: str) -> bool:
    for key in _SHARED_KEYS.get(kind, (kind.removeprefix("shared_") + "s",)):
        held = person.get(key)
        values = held if isinstance(held, list | tuple) else [held]
        if value in {str(_name_of(v)) for v in values if v is not None}:
            return True
    return False
