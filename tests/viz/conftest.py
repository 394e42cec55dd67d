"""Helpers shared by the viz tests."""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr

from quanzi.api.app import create_app
from quanzi.graph.store import GraphStore
from quanzi.settings import Settings
from quanzi.viz.pages import PREFIX
from quanzi.viz.pages import router as pages_router

_URL_ATTRS = {"src", "href", "action", "formaction", "poster", "data", "srcset"}
_CSS_URL = re.compile(r"(?:url\(\s*['\"]?|@import\s+['\"])\s*((?:https?:)?//[^'\")\s]+)", re.I)


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in_style = tag == "style"
        for name, value in attrs:
            if value is None:
                continue
            if name in _URL_ATTRS and re.match(r"\s*(?:[a-z][a-z0-9+.-]*:)?//", value, re.I):
                self.found.append(f"<{tag} {name}={value}>")
            if name == "style":
                self.found += _CSS_URL.findall(value)

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.found += _CSS_URL.findall(data)


def external_references(html: str) -> list[str]:
    """Every attribute or CSS ``url()`` in ``html`` that points at another host."""
    parser = _References()
    parser.feed(html)
    return parser.found


def graph_data(html: str) -> dict[str, Any]:
    """The nodes, edges and options a view embeds in its ``#qz-graph-data`` block."""
    match = re.search(
        r'<script type="application/json" id="qz-graph-data">(.*?)</script>', html, re.S
    )
    assert match, "the view has no graph data block"
    data: dict[str, Any] = json.loads(match.group(1))
    return data


@pytest.fixture
def external_refs() -> Callable[[str], list[str]]:
    """:func:`external_references`, for tests (conftest modules are not importable)."""
    return external_references


@pytest.fixture
def view_data() -> Callable[[str], dict[str, Any]]:
    """:func:`graph_data`, for tests."""
    return graph_data


# -- a running site on the session's bundled store, with generated, ingested, analysed data ---
ADMIN_KEY = "viz-admin-key-0123456789"
VIEWER_KEY = "viz-viewer-key-0123456789"
CHROMIUM = Path(os.environ.get("QUANZI_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-features=Translate,OptimizationHints,MediaRouter",
]


@dataclass(frozen=True)
class Site:
    """The app serving on a free local port."""

    base_url: str
    app: FastAPI
    admin_key: str = ADMIN_KEY
    viewer_key: str = VIEWER_KEY


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _load_demo_data(store: GraphStore, settings: Settings, folder: Path) -> None:
    """A small synthetic data set, ingested and analysed as ``quanzi demo`` does it."""
    from quanzi.api.services.analysis import run_analysis
    from quanzi.ingest import ingest_contacts, ingest_files
    from quanzi.ingest.synthetic import GeneratorConfig, generate

    store.delete_everything()
    generate(folder, GeneratorConfig(customers=160, seed=11))
    ingest_files(store, [folder], settings)
    # A customer with no ties at all: a top-level circle of one.
    loner = {"source": "crm", "source_record_id": "LONER-1", "full_name": "Solo Loner"}
    ingest_contacts(store, [loner], settings)
    run_analysis(store, settings)


@pytest.fixture(scope="package")
def site(
    session_store: GraphStore, store_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """The API and the pages on a real bundled store holding a small analysed data set.

    Package-scoped: the viz tests run one after another, and nothing else empties the store
    between them.
    """
    _load_demo_data(session_store, store_settings, tmp_path_factory.mktemp("viz-demo"))
    settings = store_settings.model_copy(
        update={
            "data_dir": tmp_path_factory.mktemp("viz-api"),
            "api_keys": {SecretStr(ADMIN_KEY): "admin", SecretStr(VIEWER_KEY): "viewer"},
        }
    )
    app = create_app(settings, store=session_store)
    if not any(str(getattr(r, "path", "")).startswith(PREFIX + "/") for r in app.routes):
        app.include_router(pages_router)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="viz-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield Site(f"http://127.0.0.1:{port}", app)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """Headless Chromium (the Debian ``chromium`` package) driven by Playwright."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (or set QUANZI_CHROMIUM)")
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="package")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: ``QUANZI_SCREENSHOT_DIR`` (e.g. ``docs/img``) or a temp folder."""
    folder = os.environ.get("QUANZI_SCREENSHOT_DIR")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path
