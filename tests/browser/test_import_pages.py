"""On a phone: import a small Big5 CSV into the test entity through the upload, mapping and preview pages."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import page_problems, sign_in

pytestmark = pytest.mark.browser

TARGETS = (
    "main button, main a.button, main select, .field-check label, "
    "main input:not([type=hidden]):not([type=checkbox]):not([type=radio])"
)
FILE = (
    "名稱,電子郵件,手機,備註\n"
    "瀏覽器測試 王小明 {width},ming.{width}@example.com,0912-345-678,第一位\n"
    "瀏覽器測試 陳美玲 {width},mei.{width}@example.com,0933-111-222,第二位\n"
)


def check(page: Any, label: str, problems: list[str]) -> None:
    problems.extend(page_problems(page, label, TARGETS))


@pytest.mark.parametrize("width", [360, 390])
def test_import_a_small_csv_through_the_mapping_screen(live_server, phone, width):
    page = phone(width=width)
    problems: list[str] = []
    sign_in(page, live_server)
    page.goto(live_server.url + "/items/items/import")
    check(page, "upload", problems)

    page.set_input_files(
        "#import-file",
        files=[{"name": "客戶.csv", "mimeType": "text/csv", "buffer": FILE.format(width=width).encode("cp950")}],
    )
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    assert "/items/items/import/" in page.url, page.url
    check(page, "mapping", problems)
    # The suggestions: 名稱 -> Name, 電子郵件 -> E-mail, 手機 -> Phone, 備註 -> Notes; the user drops the notes.
    assert page.locator("#column-0").input_value() == "name"
    assert page.locator("#column-1").input_value() == "email"
    assert page.locator("#column-2").input_value() == "phone"
    page.locator("#column-3").select_option("")
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    assert page.url.endswith("/preview"), page.url
    check(page, "preview", problems)
    assert page.get_by_text(f"瀏覽器測試 王小明 {width}").is_visible()
    assert page.get_by_text("第一位").count() == 0

    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    page.locator("dl.facts").wait_for()
    check(page, "result", problems)
    assert [dd.strip() for dd in page.locator("dl.facts dd").all_inner_texts()] == ["2", "2", "0", "0"]

    page.route_guard.check()
    assert not problems, f"at {width}px:\n" + "\n".join(problems)
