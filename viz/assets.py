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

__all__ = ["VisFile", "asset_text", "templates", "vis_asset"]

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
    return jinja2.Environment(
        loader=jinja2.PackageLoader("quanzi.viz", "templates"),
        autoescape=True,
        undefined=jinja2.ChainableUndefined,  # API records leave optional keys out
        trim_blocks=True,
        lstrip_blocks=True,
    )
