"""Steps the browser tests share: sign in, open the menu, list its links, measure sideways overflow, check a page."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

MIN_TARGET = 44  # CSS pixels: the smallest height of anything a finger has to hit
# The visible elements matching a selector, each with a short description and its height.
MEASURE = """(selector) => Array.from(document.querySelectorAll(selector))
  .filter(el => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && getComputedStyle(el).visibility !== "hidden"
      && !el.closest(".visually-hidden");
  })
  .map(el => ({
    what: el.tagName.toLowerCase() + " " + (el.innerText || el.value || el.name || el.getAttribute("href") || "")
      .trim().replace(/\\s+/g, " ").slice(0, 60),
    height: el.getBoundingClientRect().height,
  }))"""


@dataclass
class LiveServer:
    url: str
    email: str
    password: str

    def path(self, url: str) -> str:
        parts = urlsplit(url)
        return parts.path + (f"?{parts.query}" if parts.query else "")


def sign_in(page: Any, server: LiveServer) -> None:
    """Sign in through /login with the real form: e-mail, password, CSRF token, submit button."""
    response = page.goto(f"{server.url}/login")
    assert response is not None and response.status == 200, "the sign-in page did not load"
    form = page.locator("main form").filter(has=page.locator("input[name=password]"))
    form.locator("input[name=email]").fill(server.email)
    form.locator("input[name=password]").fill(server.password)
    with page.expect_navigation():
        form.locator("button[type=submit]").first.click()
    assert server.path(page.url) == "/", f"sign-in did not land on the dashboard but on {page.url}"
    assert page.locator("#main-menu").count() == 1, "signed in, yet the page shows no menu"


def open_menu(page: Any) -> None:
    menu = page.locator("#main-menu")
    if menu.get_attribute("open") is None:
        menu.locator("summary").click()
    page.locator("nav.menu").wait_for(state="visible")


def menu_links(page: Any, server: LiveServer) -> list[str]:
    """The menu's link targets as paths, in menu order, without duplicates."""
    open_menu(page)
    hrefs = page.locator("nav.menu a[href]").evaluate_all("links => links.map(a => a.href)")
    paths: list[str] = []
    for href in hrefs:
        assert urlsplit(href).hostname == "127.0.0.1", f"the menu links off the site: {href}"
        path = server.path(href)
        if path not in paths:
            paths.append(path)
    return paths


def horizontal_overflow(page: Any) -> int:
    """How many CSS pixels the page is wider than the screen (0: no sideways scrolling).

    ``document.documentElement.scrollWidth <= window.innerWidth`` alone is not enough in a mobile context:
    there Chromium widens the layout viewport (and ``innerWidth``) to fit wide content, so the page is also
    measured against ``clientWidth`` and the width the context was opened with.
    """
    width = page.viewport_size["width"]
    return page.evaluate(
        """(width) => {
            const root = document.documentElement;
            return Math.max(0, root.scrollWidth - Math.min(window.innerWidth, root.clientWidth, width));
        }""",
        width,
    )


def off_screen_menu_entries(page: Any) -> list[str]:
    """Entries of the open menu that are not wholly on screen (sideways overflow to the left never scrolls)."""
    return page.locator("nav.menu a, nav.menu button").evaluate_all(
        """(entries) => entries.filter(el => {
            const box = el.getBoundingClientRect();
            return box.width === 0 || box.left < 0 || box.right > document.documentElement.clientWidth + 0.5;
        }).map(el => el.textContent.trim())"""
    )


def page_kind(path: str) -> str:
    """Pages of one kind share a template: ``/items/12`` and ``/items/7`` are both ``/items/N``."""
    return re.sub(r"/\d+(?=/|$)", "/N", urlsplit(path).path)


def links_in_main(page: Any, server: LiveServer) -> list[str]:
    """Same-site links of the page's <main>, as paths, in page order, without downloads or in-page anchors."""
    hrefs = page.locator("main a[href]:not([download])").evaluate_all("links => links.map(a => a.href)")
    paths: list[str] = []
    for href in hrefs:
        parts = urlsplit(href)
        if parts.hostname != "127.0.0.1" or parts.path.startswith("/api/"):
            continue
        path = server.path(href)
        if path not in paths:
            paths.append(path)
    return paths


def page_problems(page: Any, label: str, targets: str, axe: bool = True) -> list[str]:
    """What is wrong with the page on a phone: no visible <h1>, sideways scrolling, touch targets (matching the
    ``targets`` selector) under 44px, and (with ``axe``) accessibility violations. Each problem names ``label``."""
    problems = []
    if not page.locator("h1").first.is_visible():
        problems.append(f"{label}: no visible <h1>")
    overflow = horizontal_overflow(page)
    if overflow:
        problems.append(f"{label}: {overflow}px wider than the screen")
    for target in page.evaluate(MEASURE, targets):
        if target["height"] < MIN_TARGET - 0.01:
            problems.append(f"{label}: {target['what']!r} is {target['height']:.1f}px high")
    if axe:
        from axe_playwright_python.sync_playwright import Axe

        results = Axe().run(page)
        if results.violations_count:
            problems.append(f"{label}: {results.violations_count} axe violation(s)\n{results.generate_report()}")
    return problems
