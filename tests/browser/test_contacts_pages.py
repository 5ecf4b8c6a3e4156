"""On a phone: create a contact, log a call and add a task one-handed, tick the task off, find the contact with the
global search, and look at the merge screen; every page fits, passes axe and has big enough targets."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import page_problems, sign_in

pytestmark = pytest.mark.browser

TARGETS = (
    "main button, main a.button, main select, main textarea, .chip label, .reach a, .dial a, .kind-switch a, "
    "main input:not([type=hidden]):not([type=checkbox]):not([type=radio])"
)


def check(page: Any, label: str, problems: list[str]) -> None:
    problems.extend(page_problems(page, label, TARGETS))


def wait_for_panels(page: Any) -> None:
    """Lazy panels (the timeline) have replaced their placeholder."""
    page.wait_for_function("() => document.querySelectorAll('.panel-body[aria-busy=\"true\"]').length === 0")


def submit(page: Any, form: Any) -> None:
    with page.expect_navigation():
        form.locator("button[type=submit]").first.click()


@pytest.mark.parametrize("width", [360, 390])
def test_create_a_contact_log_a_call_add_a_task_and_find_it(live_server, phone, width):
    page = phone(width=width)
    problems: list[str] = []
    name = f"龔鵬程 瀏覽器測試 {width}"  # a surname the demo data does not use
    sign_in(page, live_server)

    page.goto(live_server.url + "/contacts/contacts/new")
    check(page, "new contact", problems)
    form = page.locator("form.entity-form")
    form.locator("[name=name]").fill(name)
    form.locator("[name=mobile]").fill(f"0987-654-{width:03d}")
    form.locator("[name=company_name]").fill("瀏覽器測試股份有限公司")
    submit(page, form)
    if page.locator(".duplicates-warning").count():  # a demo contact may share a number: save anyway
        check(page, "duplicate warning", problems)
        submit(page, page.locator("form.entity-form"))
    assert "/contacts/contacts/" in page.url and page.url.rstrip("/").split("/")[-1].isdigit(), page.url
    detail_url = page.url
    wait_for_panels(page)
    check(page, "contact detail", problems)
    assert page.locator(f'.reach a[href="tel:0987654{width:03d}"]').count() == 1

    page.get_by_role("link", name="記錄通話").first.click()
    page.wait_for_url("**/log/contact/**/call**")
    check(page, "log a call", problems)
    page.locator(".chip label", has_text="已接通").click()
    page.locator("[name=subject]").fill("確認報價內容")
    submit(page, page.locator("form.quick-form"))
    assert page.url == detail_url, page.url
    wait_for_panels(page)
    assert page.locator("#panel-contacts\\.timeline").get_by_text("確認報價內容").is_visible()

    page.get_by_role("link", name="新增任務").first.click()
    page.wait_for_url("**/log/contact/**/task**")
    check(page, "add a task", problems)
    page.locator("[name=subject]").fill(f"寄送合約 {width}")
    submit(page, page.locator("form.quick-form"))

    page.goto(live_server.url + "/contacts/tasks")
    check(page, "my tasks", problems)
    task = page.locator(".task-list > li", has_text=f"寄送合約 {width}")
    with page.expect_navigation():
        task.get_by_role("button", name="標為完成").click()
    assert page.locator(".task-list > li", has_text=f"寄送合約 {width}").count() == 0

    page.goto(live_server.url + "/search?q=" + "龔鵬")
    assert page.get_by_role("link", name=name).count() >= 1, "the global search does not find the new contact"

    page.goto(detail_url.rstrip("/").replace("/contacts/contacts/", "/contacts/merge/contact/"))
    check(page, "merge: pick the other contact", problems)
    page.goto(live_server.url + "/contacts/notifications")
    check(page, "notifications", problems)

    page.route_guard.check()
    assert not problems, f"at {width}px:\n" + "\n".join(problems)


def test_a_company_page_with_its_people_and_the_merge_screen(live_server, phone):
    page = phone(width=360)
    problems: list[str] = []
    sign_in(page, live_server)
    page.goto(live_server.url + "/contacts/companies/")
    page.locator("main a[href^='/contacts/companies/']").filter(has_text="股份有限公司").first.click()
    page.wait_for_load_state()
    wait_for_panels(page)
    check(page, "company detail", problems)
    company_id = page.url.rstrip("/").split("/")[-1]
    people = page.locator("#panel-contacts\\.people .reach li")
    assert people.count() >= 1, "the demo company shows nobody"

    page.goto(live_server.url + f"/contacts/merge/company/{company_id}?q=有限")
    check(page, "merge: search", problems)
    compare = page.get_by_role("link", name="比較並合併").first
    if compare.count():
        compare.click()
        page.wait_for_load_state()
        check(page, "merge: compare", problems)

    page.route_guard.check()
    assert not problems, "\n".join(problems)
