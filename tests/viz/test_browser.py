"""End-to-end: headless Chromium drives the pages of a running Quanzi on a real bundled store.

Every test signs in through the form, records every request the browser makes and fails if
one goes anywhere but the server (such requests are also blocked, so nothing can leak).
Screenshots go to ``QUANZI_SCREENSHOT_DIR`` (``docs/img`` refreshes the README's picture) or a
temporary folder.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

_READY = "body[data-ready=true]"


@dataclass
class Visit:
    """A signed-in browser tab and what it asked for."""

    page: Any
    base_url: str
    outside: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def goto(self, path: str) -> None:
        response = self.page.goto(self.base_url + path)
        assert response is not None, (path, response and response.status)
        assert response.ok, (path, response and response.status)

    def view(self) -> Any:
        """The graph view's frame, once the view has drawn itself."""
        self.page.wait_for_selector("iframe.qz-view")
        frame = self.page.locator("iframe.qz-view").element_handle().content_frame()
        frame.wait_for_selector(_READY, state="attached", timeout=30_000)
        return frame


def _sign_in(browser: Any, site: Any, key: str) -> Iterator[Visit]:
    context = browser.new_context(viewport={"width": 1360, "height": 1000}, accept_downloads=True)
    visit = Visit(context.new_page(), site.base_url)

    def guard(route: Any) -> None:
        url = route.request.url
        if url.startswith(site.base_url + "/") or url.startswith(("data:", "about:", "blob:")):
            route.continue_()
        else:
            visit.outside.append(url)
            route.abort()

    context.route("**/*", guard)
    visit.page.on("pageerror", lambda e: visit.errors.append(str(e)))
    visit.page.on("console", lambda m: visit.errors.append(m.text) if m.type == "error" else None)
    visit.page.goto(site.base_url + "/ui/")
    visit.page.fill("#key", key)
    visit.page.click("button[type=submit]")
    visit.page.wait_for_url(site.base_url + "/ui/")
    yield visit
    context.close()
    assert visit.outside == [], "requests left the server"
    assert visit.errors == [], "the page reported errors"


@pytest.fixture
def admin(browser: Any, site: Any) -> Iterator[Visit]:
    yield from _sign_in(browser, site, site.admin_key)


@pytest.fixture
def viewer(browser: Any, site: Any) -> Iterator[Visit]:
    yield from _sign_in(browser, site, site.viewer_key)


def _drawn_pixels(frame: Any) -> int:
    return int(
        frame.evaluate(
            """() => {
                const c = document.querySelector('#qz-graph canvas');
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                let n = 0;
                for (let i = 3; i < d.length; i += 4) { if (d[i] > 0) { n++; } }
                return n;
            }"""
        )
    )


def _click_node(frame: Any, shape: str | None = None) -> str:
    """Click a node (the first of ``shape``, e.g. a leader's star) and return its id."""
    target = frame.evaluate(
        """(shape) => {
            const nodes = window.quanziNodes, net = window.quanziNetwork;
            const ids = nodes.getIds();
            const id = ids.find((i) => !shape || nodes.get(i).shape === shape) ?? ids[0];
            const p = net.canvasToDOM(net.getPositions([id])[id]);
            return {id: String(id), x: p.x, y: p.y};
        }""",
        shape,
    )
    frame.locator("#qz-graph canvas").click(position={"x": target["x"], "y": target["y"]})
    frame.wait_for_selector("#qz-card:not([hidden])", timeout=10_000)
    return str(target["id"])


def test_home_page_shows_numbers_and_charts(admin: Visit, site: Any, screenshots: Path) -> None:
    page = admin.page
    assert page.title().startswith("Home")
    customers = page.locator('[data-stat="Customers"]').inner_text()
    assert int(customers.replace(",", "")) > 100
    assert page.locator("svg.qz-chart").count() == 4
    page.screenshot(path=str(screenshots / "home.png"), full_page=True)


def test_open_a_circle_see_the_graph_and_a_customer_card(admin: Visit, screenshots: Path) -> None:
    page = admin.page
    page.click("nav >> text=Circles")
    page.locator("#circles tbody tr a").first.click()
    frame = admin.view()
    assert _drawn_pixels(frame) > 2_000, "the graph canvas is empty"
    assert frame.evaluate("window.quanziNodes.length") >= 5

    clicked = _click_node(frame, shape="star")
    card = frame.locator("#qz-card")
    assert card.get_attribute("data-node-id") == clicked
    # The card is completed from the server (tags, employees, churn reasons) on click.
    frame.wait_for_selector("#qz-card[data-loaded=true]", timeout=10_000)
    text = card.inner_text()
    assert "Open customer 360" in text
    assert "Funnel stage" in text
    assert "Employee" in text or "Groups" in text or card.locator(".qz-chip").count() > 0
    frame.locator("#qz-graph canvas").hover(position={"x": 4, "y": 4})  # no tooltip in it
    frame.wait_for_selector("div.vis-tooltip", state="hidden")
    page.locator("iframe.qz-view").screenshot(path=str(screenshots / "circle-view.png"))
    page.screenshot(path=str(screenshots / "circle.png"), full_page=True)

    with page.expect_navigation():
        card.locator("a").click()
    assert "/ui/customers/" in page.url
    ego = admin.view()
    assert _drawn_pixels(ego) > 1_000
    page.screenshot(path=str(screenshots / "customer.png"), full_page=True)


def test_run_a_lookalike_from_the_page_tag_and_export(admin: Visit, screenshots: Path) -> None:
    page = admin.page
    page.click("nav >> text=Circles")
    page.locator("#circles tbody tr a").first.click()
    page.click("text=Find prospects who look like its leaders")
    assert page.locator("textarea[name=seeds]").input_value().strip()
    page.fill("input[name=k]", "20")
    page.click("#run-lookalike")
    page.wait_for_selector("#prospects")
    rows = page.locator("#prospects tbody tr")
    assert 0 < rows.count() <= 20
    assert rows.first.locator(".qz-reasons li").count() >= 1
    frame = admin.view()
    assert _drawn_pixels(frame) > 1_000
    page.screenshot(path=str(screenshots / "lookalike.png"), full_page=True)

    with page.expect_download() as download:
        page.click("button[name=export]")
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    exported = list(csv.DictReader(io.StringIO(text)))
    assert 0 < len(exported) <= 20
    assert exported[0]["customer_id"].startswith("cus_")

    page.fill("input[name=tag]", "lookalike-e2e")
    page.click("form[action='/ui/lookalike/tag'] button[type=submit]")
    assert "Tagged" in page.locator(".qz-ok").inner_text()


def test_a_viewer_sees_masked_data_and_no_lookalikes(viewer: Visit) -> None:
    page = viewer.page
    page.click("nav >> text=Customers")
    page.locator("table.qz-table tbody tr a").first.click()
    page.wait_for_url("**/ui/customers/cus_*")
    customer_id = page.url.rsplit("/", 1)[-1]
    assert "phones and e-mails masked" in page.content()
    viewer.view()
    page.click("nav >> text=Lookalike")
    page.fill("textarea[name=seeds]", customer_id)
    page.click("#run-lookalike")
    assert "sales role" in page.locator(".qz-error").inner_text()
    # The browser logs the page's 403 status as a console error: expected here.
    viewer.errors[:] = [e for e in viewer.errors if "status of 403" not in e]


def test_no_page_loads_anything_from_outside(admin: Visit, site: Any) -> None:
    """Every page and every view, drawn in the browser, with outside requests failing the test
    (the fixture's teardown asserts none were made)."""
    page = admin.page
    for link in ("Home", "Circles", "Customers", "Lookalike", "Referral campaigns"):
        page.click(f"nav >> text={link}")
        page.wait_for_load_state("load")
    page.click("nav >> text=Circles")
    page.click("text=See them on a map")
    assert _drawn_pixels(admin.view()) > 1_000
    page.click("nav >> text=Referral campaigns")
    page.locator("table.qz-table tbody tr a").first.click()
    assert _drawn_pixels(admin.view()) > 500
    resources = page.evaluate("performance.getEntriesByType('resource').map((e) => e.name)")
    assert all(url.startswith(site.base_url) for url in resources), resources
