"""The FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from quanzi import __version__
from quanzi.api.errors import install_error_handlers
from quanzi.api.routers import health
from quanzi.graph.connect import open_store
from quanzi.graph.store import GraphStore
from quanzi.settings import Settings, load_settings

__all__ = ["create_app"]


def create_app(settings: Settings | None = None, *, store: GraphStore | None = None) -> FastAPI:
    """Build the app. Without ``store``, the lifespan opens (and closes) the configured one."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        own = store is None
        app.state.store = open_store(settings) if own else store
        try:
            yield
        finally:
            if own:
                app.state.store.close()

    app = FastAPI(
        title="Quanzi",
        version=__version__,
        description="Graph-native Social CRM intelligence: customers, circles, influence, lookalikes.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(health.router)
    return app
