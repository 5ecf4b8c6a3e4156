"""On a phone: sign in with the real form, open every menu entry, and check layout, accessibility, touch targets.

The menu is read from the page, so entries that plugins or later work add are covered without editing this file.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import (
    MEASURE,
    MIN_TARGET,
    horizontal_overflow,
    menu_links,
    off_screen_menu_entries,
    open_menu,
    sign_in,
)

pytestmark = pytest.mark.browser

TARGETS = (
    "#main-menu > summary, nav.menu a, nav.menu button, .topbar a, .topbar input, "
    "main button, main a.button, main select, main textarea, .field-check label, "
    "main input:not([type=hidden]):not([type=checkbox]):not([type=radio])"
)


def check_page(page: Any, path: str, problems: list[str]) -> None:
    """The page has a visible <h1>, nothing scrolls sideways (menu closed or open), every menu entry is on screen."""
    width = page.viewport_size["width"]
    if page.locator("h1").count() == 0 or not page.locator("h1").first.is_visible():
        problems.append(f"{path}: no visible <h1>")
    overflow = horizontal_overflow(page)
    if overflow:
        problems.append(f"{path}: {overflow}px wider than the {width}px screen")
    open_menu(page)
    overflow = horizontal_overflow(page)
    if overflow:
        problems.append(f"{path}: {overflow}px wider than the {width}px screen with the menu open")
    hidden = off_screen_menu_entries(page)
    if hidden:
        problems.append(f"{path}: menu entries not wholly on the {width}px screen: {hidden}")


@pytest.mark.parametrize(
    ("width", "locale"),
    [(390, "zh-TW"), (360, "zh-TW"), (360, "en-US")],
    ids=["390px-zh-TW", "360px-zh-TW", "360px-en-US"],
)
def test_sign_in_and_open_every_menu_entry(live_server, phone, width, locale):
    page = phone(width=width, locale=locale)
    sign_in(page, live_server)
    paths = menu_links(page, live_server)
    assert "/" in paths and len(paths) >= 2, f"the menu shows too little: {paths}"
    print(f"menu entries at {width}px: {', '.join(paths)}")

    problems: list[str] = []
    check_page(page, "/ (after sign-in)", problems)
    for path in paths:
        response = page.goto(live_server.url + path)
        status = response.status if response is not None else None
        if status != 200:
            problems.append(f"{path}: status {status}")
            continue
        check_page(page, path, problems)
    page.route_guard.check()
    assert not problems, f"at {width}px ({locale}):\n" + "\n".join(problems)


def test_accessibility_scan_finds_no_violations(live_server, phone):
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    page = phone()
    reports: list[str] = []
    checked: list[str] = []

    def scan(label: str) -> None:
        results = axe.run(page)
        checked.append(label)
        if results.violations_count:
            reports.append(f"--- {label}: {results.violations_count} violation(s)\n{results.generate_report()}")

    for path in ("/login", "/password/forgot"):
        response = page.goto(live_server.url + path)
        assert response is not None and response.status == 200, f"{path} did not load"
        scan(path)

    sign_in(page, live_server)
    open_menu(page)
    scan("/ with the menu open")
    for path in menu_links(page, live_server):
        response = page.goto(live_server.url + path)
        if response is None or response.status != 200:
            reports.append(f"--- {path}: status {response and response.status}, not 200 (not scanned)")
            continue
        scan(path)

    page.route_guard.check()
    assert not reports, f"pages checked: {', '.join(checked)}\n" + "\n".join(reports)


def test_menu_links_and_buttons_are_big_enough_to_touch(live_server, phone):
    page = phone()
    small: list[str] = []

    def measure(label: str) -> None:
        for target in page.evaluate(MEASURE, TARGETS):
            if target["height"] < MIN_TARGET - 0.01:
                small.append(f"{label}: {target['what']!r} is {target['height']:.1f}px high")

    page.goto(live_server.url + "/login")
    measure("/login")
    sign_in(page, live_server)
    paths = menu_links(page, live_server)
    for path in paths:
        page.goto(live_server.url + path)
        open_menu(page)
        measure(path)

    page.route_guard.check()
    assert not small, f"touch targets under {MIN_TARGET}px:\n" + "\n".join(small)
