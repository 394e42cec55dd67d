"""Where the views and pages find their templates, styles and scripts.

Everything a page needs ships inside Quanzi or the installed ``pyvis`` package (which carries
vis-network); nothing is fetched from another host.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

import jinja2
import pyvis

__all__ = ["VisFile", "asset_text", "score_text", "templates", "vis_asset"]

VisFile = Literal["vis-network.min.js", "vis-network.css"]


def vis_asset(name: VisFile) -> Path:
    """The path of a vis-network file shipped inside the installed ``pyvis`` package."""
    return Path(pyvis.__file__).parent / "templates" / "lib" / "vis-9.1.2" / name


@cache
def asset_text(name: str) -> str:
    """The text of ``viz/static/<name>``, or of a vis-network file from ``pyvis``."""
    if name in ("vis-network.min.js", "vis-network.css"):
        return vis_asset(name).read_text(encoding="utf-8")  # type: ignore[arg-type]
    return resources.files("quanzi.viz").joinpath("static", name).read_text(encoding="utf-8")


@cache
def templates() -> jinja2.Environment:
    """The Jinja2 templates of ``viz/templates`` (HTML-escaped by default)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("quanzi.viz", "templates"),
        autoescape=True,
        undefined=jinja2.ChainableUndefined,  # API records leave optional keys out
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["score"] = score_text
    return env


def score_text(value: object) -> object:
    """A score as a person reads it: counts stored as floats without decimals, small values
    with two significant digits (not ``0.00``), others with two decimals.

    >>> [score_text(v) for v in (49.0, 0.000123, 0.98, 0.0, "loyal", 3)]
    ['49', '0.00012', '0.98', '0.00', 'loyal', 3]
    """
    if not isinstance(value, float):
        return value
    if value.is_integer() and abs(value) >= 1:
        return f"{int(value):,}"
    if value and abs(value) < 0.01:
        return f"{value:.2g}"
    return f"{value:.2f}"
