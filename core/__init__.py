"""Quanzi (圈子): graph-native Social CRM intelligence.

``quanzi.connect()`` opens the graph for notebooks and scripts (see :mod:`quanzi.client`);
it is imported on first use, so ``import quanzi`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quanzi.errors import QuanziError

if TYPE_CHECKING:
    from quanzi.client import Client, connect

__all__ = ["Client", "QuanziError", "__version__", "connect"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in ("Client", "connect"):
        from quanzi import client

        return getattr(client, name)
    raise AttributeError(f"module 'quanzi' has no attribute {name!r}")
