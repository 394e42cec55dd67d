"""The pages over HTTP (no browser): sign-in, what each page holds, and what it refuses."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

Refs = Callable[[str], list[str]]


@pytest.fixture
def http(site: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site.base_url, timeout=60) as client:
        yield client


@pytest.fixture
def admin(site: Any) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=site.base_url, timeout=60, headers={"X-API-Key": site.admin_key}
    ) as client:
        yield client


def _first(client: httpx.Client, path: str, **params: Any) -> dict[str, Any]:
    items = client.get(path, params=params).json()["items"]
    assert items, f"{path} returned nothing"
    first: dict[str, Any] = items[0]
    return first


def test_pages_need_a_key_and_sign_in_sets_a_strict_cookie(site: Any, http: httpx.Client) -> None:
    to_login = http.get("/ui/circles")
    assert to_login.status_code == 303
    assert to_login.headers["location"] == "/ui/login?next=%2Fui%2Fcircles"

    wrong = http.post("/ui/login", data={"key": "nope", "next": "/ui/"})
    assert wrong.status_code == 401
    assert "unknown or revoked" in wrong.text
    # The alert box shows fixed texts by code, never words a link brings along.
    spoof = http.get("/ui/login", params={"error": "Mail your key to help@evil.example"})
    assert spoof.status_code == 200
    assert "evil.example" not in spoof.text
    assert "did not accept this key" in http.get("/ui/login", params={"error": "key"}).text

    good = http.post("/ui/login", data={"key": site.admin_key, "next": "https://evil.example/"})
    assert good.status_code == 303
    assert good.headers["location"] == "/ui/"
    cookie = good.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "path=/ui" in cookie
    token = good.cookies["quanzi_session"]
    assert site.admin_key not in good.headers["set-cookie"]  # the browser never holds the key
    assert http.get("/ui/circles").status_code == 200  # the cookie now signs the pages in

    assert http.post("/ui/logout").status_code == 303
    assert http.get("/ui/circles").status_code == 303
    replay = httpx.Client(base_url=str(http.base_url), cookies={"quanzi_session": token})
    assert replay.get("/ui/circles").status_code == 303  # a signed-out token is dead


def test_every_page_renders_and_references_nothing_outside(
    admin: httpx.Client, external_refs: Refs
) -> None:
    customer = _first(admin, "/customers", sort="-influence")["id"]
    circle = _first(admin, "/circles")["id"]
    campaign = admin.get("/campaigns").json()[0]["id"]
    pages = [
        "/ui/",
        "/ui/circles?sort=churn",
        "/ui/circles/map",
        f"/ui/circles/{circle}",
        f"/ui/circles/{circle}?colour=sub_circle",
        "/ui/customers?q=a",
        f"/ui/customers/{customer}",
        f"/ui/customers/{customer}/referrals",
        f"/ui/lookalike?seeds={customer}",
        "/ui/campaigns",
        f"/ui/campaigns/{campaign}",
    ]
    for path in pages:
        response = admin.get(path)
        assert response.status_code == 200, (path, response.text[:500])
        assert response.headers["content-security-policy"].startswith("default-src 'self'")
        assert external_refs(response.text) == [], path
        assert "vis-network.min.js" not in response.text or "/ui/static/" in response.text


def test_a_customer_card_is_never_cached(admin: httpx.Client) -> None:
    # An admin's card holds the phone and e-mail in full: nothing may keep it after sign-out.
    customer = _first(admin, "/customers")["id"]
    card = admin.get(f"/ui/customers/{customer}/card")
    assert card.status_code == 200, card.text
    assert card.headers["cache-control"] == "no-store"


def test_static_files_come_from_quanzi_and_pyvis(http: httpx.Client) -> None:
    js = http.get("/ui/static/vis-network.min.js")
    assert js.status_code == 200
    assert "vis-network" in js.text[:2000]
    assert http.get("/ui/static/quanzi.css").headers["content-type"].startswith("text/css")
    assert http.get("/ui/static/view.js").status_code == 404  # only the listed files
    assert http.get("/ui/static/..%2Fpages.py").status_code == 404


def test_home_page_numbers_match_the_api(admin: httpx.Client) -> None:
    counts = admin.get("/health").json()["counts"]
    page = admin.get("/ui/").text
    assert f'data-stat="Customers">{counts["Customer"]:,}<' in page
    assert page.count('<svg class="qz-chart"') == 4
    # The at-risk number (from one pass over the churn risks) is what a search counts.
    at_risk = admin.get(
        "/customers", params={"churn_risk_min": 0.5, "limit": 1, "include_total": True}
    ).json()["total"]
    assert at_risk > 0
    assert f'data-stat="At-risk customers">{at_risk:,}<' in page
    # So is the number of top-level circles of two or more (a customer with no ties is a
    # circle of one, counted apart).
    circles, alone, cursor = 0, 0, None
    while True:
        params = {"level": 0, "limit": 200} | ({"cursor": cursor} if cursor else {})
        listed = admin.get("/circles", params=params).json()
        circles += sum(c["members"] >= 2 for c in listed["items"])
        alone += sum(c["members"] < 2 for c in listed["items"])
        cursor = listed["next_cursor"]
        if not cursor:
            break
    assert f'data-stat="Circles">{circles:,}<' in page
    assert (f"{alone:,} customers with no ties not counted" in page) == (alone > 0)


def test_unknown_circle_is_a_404_page(admin: httpx.Client) -> None:
    response = admin.get("/ui/circles/no-such-circle")
    assert response.status_code == 404
    assert "Not found" in response.text


def test_forms_posted_from_another_site_are_refused(admin: httpx.Client) -> None:
    customer = _first(admin, "/customers", sort="-influence")["id"]
    response = admin.post(
        "/ui/lookalike", data={"seeds": customer}, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403


def test_lookalike_exports_csv(admin: httpx.Client) -> None:
    seeds = [
        c["id"]
        for c in admin.get("/customers", params={"sort": "-influence", "limit": 3}).json()["items"]
    ]
    response = admin.post(
        "/ui/lookalike", data={"seeds": "\n".join(seeds), "k": "10", "export": "csv"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    header, *rows = response.text.lstrip("\ufeff").splitlines()
    assert header.startswith("rank,customer_id,name,score")
    assert 0 < len(rows) <= 10
    assert "attachment" in response.headers["content-disposition"]


def test_circles_list_names_the_circles_and_their_leaders(admin: httpx.Client) -> None:
    circle = _first(admin, "/circles", sort="-size")
    leader = circle["leaders"][0]
    name = circle["leader_names"][leader]
    page = admin.get("/ui/circles").text
    assert f'title="{leader}">{html.escape(name)}</a>' in page
    assert f">{leader}</a>" not in page
    # Unnamed by a person, a circle shows the name the analysis gave it (its id beneath).
    assert circle["name"] is None
    assert f">{html.escape(circle['auto_name'])}</a>" in page
    assert f">{html.escape(circle['auto_name'])}</a>" in admin.get("/ui/").text  # largest circles


def test_campaign_page_draws_the_top_inviters_trees(admin: httpx.Client) -> None:
    campaigns = admin.get("/campaigns").json()
    boards = {
        c["id"]: admin.get(f"/campaigns/{c['id']}/leaderboard", params={"limit": 50}).json()
        for c in campaigns
    }
    campaign, board = max(boards.items(), key=lambda kv: len(kv[1]["items"]))
    entries = board["items"]
    page = admin.get(f"/ui/campaigns/{campaign}").text
    capped = "starts from the 10 top inviters" in page
    assert capped == (len(entries) > 10)
    # The reach chart puts the farthest-reaching of the first ten inviters first.
    chart = page.split("Reach of the top inviters</h2>", 1)[1]
    reach = {
        html.escape(e["customer"].get("name") or e["customer"]["id"]): e["reach"]
        for e in entries[:10]
    }
    assert all(name in chart for name in reach)
    drawn = sorted(reach, key=chart.index)
    assert [reach[n] for n in drawn] == sorted(reach.values(), reverse=True)


def test_lookalike_reasons_name_the_mutual_contacts(admin: httpx.Client) -> None:
    circle = _first(admin, "/circles", sort="-size")
    members = admin.get(f"/circles/{circle['id']}/members", params={"limit": 10}).json()["items"]
    seeds = [m["id"] for m in members]
    api = admin.post("/lookalikes", json={"seeds": seeds, "k": 20}).json()["items"]
    cited = [
        reason for item in api for reason in item["reasons"] if reason["kind"] == "mutual_contacts"
    ]
    assert cited, "no prospect has mutual contacts: pick other seeds"
    reason = cited[0]
    contact = reason["evidence"][0]
    assert contact in reason["text"]  # the API cites customers by id
    name = admin.get(f"/customers/{contact}").json()["name"]
    page = admin.post("/ui/lookalike", data={"seeds": "\n".join(seeds), "k": "20"}).text
    assert f"e.g. {html.escape(name)}" in page
    assert f"e.g. {contact}" not in page


def test_a_thorough_lookalike_from_the_page_shows_the_block_model_reason(
    admin: httpx.Client,
) -> None:
    circle = _first(admin, "/circles", sort="-size")
    members = admin.get(f"/circles/{circle['id']}/members", params={"limit": 10}).json()["items"]
    seeds = "\n".join(m["id"] for m in members)
    page = admin.post("/ui/lookalike", data={"seeds": seeds, "k": "5", "thorough": "true"})
    assert page.status_code == 200
    assert "in the seeds&#39; community with probability" in page.text
    assert 'name="thorough" value="true" checked' in page.text
    plain = admin.post("/ui/lookalike", data={"seeds": seeds, "k": "5"}).text
    assert "community with probability" not in plain


def test_viewers_see_masked_phones_and_cannot_run_lookalikes(
    site: Any, admin: httpx.Client
) -> None:
    listed = admin.get("/customers", params={"sort": "-influence", "limit": 50}).json()["items"]
    customer = next(c for c in listed if c["phones"])
    with httpx.Client(
        base_url=site.base_url, timeout=60, headers={"X-API-Key": site.viewer_key}
    ) as viewer:
        page = viewer.get(f"/ui/customers/{customer['id']}").text
        assert "phones and e-mails masked" in page
        for phone in customer["phones"]:
            assert phone not in page
        refused = viewer.post("/ui/lookalike", data={"seeds": customer["id"]})
        assert refused.status_code == 403
        assert "sales role" in refused.text


def test_circles_of_one_are_listed_only_when_asked_for(admin: httpx.Client) -> None:
    # A customer with no ties at all is a top-level circle of one: the list and the map
    # leave such circles out, say how many, and the list shows them when asked.
    circles, cursor = [], None
    while True:
        params = {"level": 0, "limit": 200} | ({"cursor": cursor} if cursor else {})
        listed = admin.get("/circles", params=params).json()
        circles += listed["items"]
        cursor = listed["next_cursor"]
        if not cursor:
            break
    together = {c["id"] for c in circles if c["members"] >= 2}
    alone = {c["id"] for c in circles} - together
    assert alone, "the test data holds a customer with no ties"
    row = re.compile(r'<td><a href="/ui/circles/([^"?]+)">')
    page = admin.get("/ui/circles").text
    assert set(row.findall(page)) == together
    assert f"{len(alone):,} customers with no ties (circles of one) are not listed" in page
    everyone = admin.get("/ui/circles", params={"alone": "true"}).text
    assert set(row.findall(everyone)) == together | alone
    drawn = admin.get("/ui/circles/map").text
    assert f"{len(alone):,} customers with no ties (circles of one) are not drawn" in drawn
