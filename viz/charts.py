"""Small charts as server-side SVG: no JavaScript, nothing loaded from anywhere.

Each function takes plain numbers and returns one ``<svg>`` element as text, with a
``<title>`` and an ``aria-label`` so screen readers can say what it shows.

Examples
--------
>>> svg = bar_chart([("potential", 120), ("general", 80), ("loyal", 30)], title="Tiers")
>>> svg.startswith("<svg") and "potential" in svg and "120" in svg
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

__all__ = ["bar_chart", "funnel_chart", "histogram"]

_FONT = 'font-family="system-ui, sans-serif" font-size="12"'
_DEFAULT_COLOUR = "#1e88e5"


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _open(width: int, height: int, title: str) -> str:
    t = escape(title)
    return (
        f'<svg class="qz-chart" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{t}" {_FONT}><title>{t}</title>'
    )


def bar_chart(
    items: Sequence[tuple[str, float]],
    *,
    title: str,
    colours: Mapping[str, str] | None = None,
    shares: bool = True,
    width: int = 420,
    bar_height: int = 22,
) -> str:
    """Horizontal bars, one per ``(label, value)``, with the value (and, when ``shares``, its
    share of the total) written out.

    Examples
    --------
    >>> "50%" in bar_chart([("a", 1), ("b", 1)], title="Half and half")
    True
    """
    label_w = min(140, 12 + 7 * max((len(k) for k, _ in items), default=4))
    top = max((v for _, v in items), default=0.0)
    total = sum(v for _, v in items)
    height = max(1, len(items)) * (bar_height + 6) + 8
    parts = [_open(width, height, title)]
    if not items:
        parts.append(f'<text x="8" y="20" fill="#78909c">{escape("No data yet")}</text>')
    span = width - label_w - 90
    for i, (label, value) in enumerate(items):
        y = 4 + i * (bar_height + 6)
        w = 0 if top <= 0 else max(1.0, span * value / top)
        colour = (colours or {}).get(label, _DEFAULT_COLOUR)
        share = f" ({100 * value / total:.0f}%)" if shares and total > 0 else ""
        parts.append(
            f'<text x="{label_w - 6}" y="{y + bar_height * 0.7:.1f}" text-anchor="end" '
            f'fill="#37474f">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_height}" rx="3" '
            f'fill="{escape(colour)}"><title>{escape(label)}: {_fmt(value)}</title></rect>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + bar_height * 0.7:.1f}" '
            f'fill="#455a64">{_fmt(value)}{share}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def funnel_chart(
    stages: Sequence[tuple[str, float]],
    *,
    title: str,
    rates: Sequence[float | None] | None = None,
    width: int = 420,
) -> str:
    """A funnel: one centred bar per stage, with the conversion rate from the stage above.

    ``stages`` counts, per stage, the customers who *reached* it (so each count is at most
    the one above); the rate between two stages is ``rates[i]`` when given (e.g. the API's
    conversion rates), else ``reached next / reached this``.

    Examples
    --------
    >>> svg = funnel_chart([("first contact", 100), ("intention", 40), ("order", 10)],
    ...                    title="Funnel")
    >>> "40%" in svg and "25%" in svg
    True
    """
    bar_h, gap = 26, 20
    height = max(1, len(stages)) * (bar_h + gap) + 4
    top = max((v for _, v in stages), default=0.0)
    parts = [_open(width, height, title)]
    if not stages or top <= 0:
        parts.append(f'<text x="8" y="20" fill="#78909c">{escape("No data yet")}</text>')
    span = width - 20
    previous: float | None = None
    for i, (label, value) in enumerate(stages):
        y = 2 + i * (bar_h + gap)
        w = 0 if top <= 0 else max(2.0, span * value / top)
        x = (width - w) / 2
        shade = ("#1565c0", "#1e88e5", "#42a5f5", "#90caf9", "#bbdefb")[min(i, 4)]
        parts.append(
            f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" rx="3" fill="{shade}">'
            f"<title>{escape(label)}: {_fmt(value)}</title></rect>"
            f'<text x="{width / 2:.1f}" y="{y + bar_h * 0.68:.1f}" text-anchor="middle" '
            f'fill="{"#fff" if i < 3 else "#263238"}">{escape(label)} · {_fmt(value)}</text>'
        )
        if previous is not None:
            given = rates[i - 1] if rates is not None and i - 1 < len(rates) else None
            share = given if given is not None else (value / previous if previous > 0 else None)
            rate = "–" if share is None else f"{100 * share:.0f}%"
            parts.append(
                f'<text x="{width / 2:.1f}" y="{y - 5}" text-anchor="middle" fill="#546e7a" '
                f'font-size="11">↓ {rate} converted</text>'
            )
        previous = value
    parts.append("</svg>")
    return "".join(parts)


def histogram(
    bins: Sequence[tuple[str, float]],
    *,
    title: str,
    colour: str = _DEFAULT_COLOUR,
    width: int = 420,
    height: int = 180,
) -> str:
    """Vertical bars for pre-counted bins ``(bin label, count)``, labelled underneath.

    Examples
    --------
    >>> "0–20%" in histogram([("0–20%", 5), ("20–40%", 2)], title="Churn risk")
    True
    """
    plot_h = height - 40
    top = max((v for _, v in bins), default=0.0)
    parts = [_open(width, height, title)]
    if not bins or top <= 0:
        parts.append(f'<text x="8" y="20" fill="#78909c">{escape("No data yet")}</text>')
    n = max(1, len(bins))
    slot = (width - 10) / n
    bar_w = max(2.0, slot * 0.8)
    for i, (label, value) in enumerate(bins):
        h = 0 if top <= 0 else plot_h * value / top
        x = 5 + i * slot + (slot - bar_w) / 2
        y = 16 + plot_h - h
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" rx="2" '
            f'fill="{escape(colour)}"><title>{escape(label)}: {_fmt(value)}</title></rect>'
            f'<text x="{x + bar_w / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle" fill="#455a64" '
            f'font-size="10">{_fmt(value)}</text>'
            f'<text x="{x + bar_w / 2:.1f}" y="{height - 8}" text-anchor="middle" fill="#37474f" '
            f'font-size="10">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
