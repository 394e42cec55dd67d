"""Quanzi (圈子): graph-native Social CRM intelligence."""

from __future__ import annotations

from quanzi.errors import QuanziError

__all__ = ["QuanziError", "__version__"]
__version__ = "0.1.0"
