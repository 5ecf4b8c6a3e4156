"""On a phone: create an API token, use it from outside the browser, read the API page, revoke the token.

The generic page tests skip ``/api/`` links, so the API page is opened here: it must fit 360 px, keep its code
samples inside the screen, have 44 px touch targets and pass the axe scan, with every <details> opened.
"""

from __future__ import annotations

import re

import pytest

from tests.browser.helpers import MEASURE, MIN_TARGET, horizontal_overflow, sign_in

pytestmark = pytest.mark.browser

TARGETS = "main button, main a.button, main summary, main input:not([type=hidden])"


def _problems(page, path, axe):
    problems = []
    overflow = horizontal_overflow(page)
    if overflow:
        problems.append(f"{path}: {overflow}px wider than the screen")
    for target in page.evaluate(MEASURE, TARGETS):
        if target["height"] < MIN_TARGET - 0.01:
            problems.append(f"{path}: {target['what']!r} is {target['height']:.1f}px high")
    results = axe.run(page)
    if results.violations_count:
        problems.append(f"{path}: {results.violations_count} axe violation(s)\n{results.generate_report()}")
    return problems


def test_a_token_from_the_phone_works_and_is_revoked(live_server, phone):
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    page = phone(width=360, locale="en-US")
    sign_in(page, live_server)
    page.goto(live_server.url + "/account/tokens")
    page.get_by_label("Name").fill("Phone test")
    with page.expect_navigation():
        page.get_by_role("button", name="Create token").click()
    secret = page.locator(".token-value").inner_text().strip()
    assert re.fullmatch(r"gx_[A-Za-z0-9_-]{40,}", secret)
    problems = _problems(page, "/account/tokens (new token)", axe)

    headers = {"Authorization": f"Bearer {secret}"}
    api = page.context.request  # shares the browser's cookies; the token decides who it is
    created = api.post(live_server.url + "/api/v1/items", data={"name": "From the phone"}, headers=headers)
    assert created.status == 201, created.text()
    assert created.json()["owner_id"] is not None

    page.goto(live_server.url + "/api/docs")
    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
    assert page.locator("h1").first.is_visible()
    assert page.locator("pre.code").count() > 3
    problems += _problems(page, "/api/docs", axe)

    page.goto(live_server.url + "/account/tokens")
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.locator("form[data-confirm] button").first.click()
    assert "Revoked" in page.locator("main").inner_text()
    fresh = page.context.browser.new_context()  # no session cookie: only the revoked token
    try:
        refused = fresh.request.get(live_server.url + "/api/v1/items", headers=headers)
        assert refused.status == 401
    finally:
        fresh.close()
    page.route_guard.check()
    assert not problems, "\n".join(problems)
