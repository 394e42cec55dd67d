"""The pages of a store without customers say how to fill it."""

from __future__ import annotations

import html

import pytest

from tests.api.conftest import Api

pytestmark = pytest.mark.store


def test_home_page_of_an_empty_store_says_how_to_fill_it(api: Api) -> None:
    page = api.client.get("/ui/", headers=api.admin)
    assert page.status_code == 200
    assert "No customers here yet" in page.text
    assert html.escape("quanzi serve --data-dir ~/.local/share/quanzi/demo") in page.text


def test_home_page_with_customers_has_no_such_note(graph: Api) -> None:
    page = graph.client.get("/ui/", headers=graph.admin)
    assert page.status_code == 200
    assert "No customers here yet" not in page.text
