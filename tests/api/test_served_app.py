"""An app that opens its own store, as ``quanzi serve`` runs it."""

from __future__ import annotations

import gc

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from quanzi.api.app import create_app
from quanzi.graph.store import GraphStore
from quanzi.settings import Settings

pytestmark = pytest.mark.store


def test_a_served_app_collects_young_objects_less_often_and_restores_it(
    session_store: GraphStore, store_settings: Settings
) -> None:
    # The session's store is running: the app connects to it rather than starting one.
    settings = store_settings.model_copy(update={"api_keys": {SecretStr("k" * 20): "viewer"}})
    before = gc.get_threshold()
    with TestClient(create_app(settings)) as client:
        assert gc.get_threshold() == (50_000, *before[1:])
        assert client.get("/customers", headers={"X-API-Key": "k" * 20}).status_code == 200
    assert gc.get_threshold() == before
    # An app given a store (tests, notebooks) leaves the interpreter's settings alone.
    with TestClient(create_app(settings, store=session_store)):
        assert gc.get_threshold() == before
