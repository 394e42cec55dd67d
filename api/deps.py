"""FastAPI dependencies as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from quanzi.graph.store import GraphStore
from quanzi.settings import Settings

__all__ = ["SettingsDep", "StoreDep"]


def get_store(request: Request) -> GraphStore:
    """The store opened by the app's lifespan."""
    store: GraphStore = request.app.state.store
    return store


def get_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


StoreDep = Annotated[GraphStore, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
