"""Every kind of page one click away from a menu entry (detail pages, forms, trash, ...), on the narrowest phone.

One page of each kind (``/items/N``) is opened: it must answer 200 with a visible <h1>, fit 360 px without sideways
scrolling, have buttons at least 44 px high, and pass the axe scan.
"""

from __future__ import annotations

import pytest

from tests.browser.helpers import (
    MEASURE,
    MIN_TARGET,
    horizontal_overflow,
    links_in_main,
    menu_links,
    page_kind,
    sign_in,
)

pytestmark = pytest.mark.browser

MAX_PAGES = 80
BUTTONS = (
    "main button, main a.button, main select, main input:not([type=hidden]):not([type=checkbox]):not([type=radio])"
)


def test_pages_one_click_from_the_menu_fit_pass_axe_and_have_big_buttons(live_server, phone):
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    page = phone(width=360)
    sign_in(page, live_server)
    menu = menu_links(page, live_server)
    seen = {page_kind(path) for path in menu}
    queue: list[str] = []
    for path in menu:
        page.goto(live_server.url + path)
        for link in links_in_main(page, live_server):
            if page_kind(link) not in seen:
                seen.add(page_kind(link))
                queue.append(link)

    problems: list[str] = []
    checked: list[str] = []
    for path in queue[:MAX_PAGES]:
        answer = page.request.get(live_server.url + path, max_redirects=0)
        kind = answer.headers.get("content-type", "")
        if answer.status in (301, 302, 303, 307, 308) or not kind.startswith("text/html"):
            continue  # a redirect, a download or a JSON answer: not a page of its own
        if answer.status != 200:
            problems.append(f"{path}: status {answer.status}")
            continue
        page.goto(live_server.url + path)
        checked.append(path)
        if page.locator("h1").count() == 0 or not page.locator("h1").first.is_visible():
            problems.append(f"{path}: no visible <h1>")
        overflow = horizontal_overflow(page)
        if overflow:
            problems.append(f"{path}: {overflow}px wider than the 360px screen")
        for target in page.evaluate(MEASURE, BUTTONS):
            if target["height"] < MIN_TARGET - 0.01:
                problems.append(f"{path}: {target['what']!r} is {target['height']:.1f}px high")
        results = axe.run(page)
        if results.violations_count:
            problems.append(f"{path}: {results.violations_count} axe violation(s)\n{results.generate_report()}")

    print(f"checked {len(checked)} linked pages: {', '.join(checked)}")
    page.route_guard.check()
    assert checked or not queue, f"none of the linked pages could be opened: {queue}"
    assert not problems, f"pages checked: {', '.join(checked)}\n" + "\n".join(problems)
