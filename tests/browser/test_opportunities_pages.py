"""On a phone: open the kanban board, move an opportunity to Won with the card's stage picker (no dragging on a
touch screen) and see it counted in the Won column; the board fits the screen and its targets are big enough."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import page_problems, sign_in

pytestmark = pytest.mark.browser

TARGETS = (
    "main button, main a.button, main select, main textarea, .board-card-title, .chip label, .choice label, "
    "main input:not([type=hidden]):not([type=checkbox]):not([type=radio])"
)


def fits(page: Any, label: str, problems: list[str]) -> None:
    problems.extend(page_problems(page, label, TARGETS))


def won_count(page: Any) -> int:
    return int(page.locator(".board-column[data-kind=won] [data-total=count]").first.inner_text().strip())


@pytest.mark.parametrize("width", [360])
def test_move_an_opportunity_to_won_with_the_phone_stage_picker(live_server: Any, phone: Any, width: int) -> None:
    page = phone(width=width)
    problems: list[str] = []
    sign_in(page, live_server)

    name = f"瀏覽器看板測試 {width}"
    page.goto(live_server.url + "/opportunities/opportunities/new")
    form = page.locator("form.entity-form")
    form.locator("[name=name]").fill(name)
    form.locator("[name=amount]").fill("120000")
    # The earliest close date puts the card first in its column, whatever the demo data holds.
    form.locator("[name=expected_close_date]").fill("2000-01-03")
    with page.expect_navigation():
        form.locator("button[type=submit]").first.click()
    deal_id = page.url.rstrip("/").split("/")[-1]
    assert deal_id.isdigit(), page.url

    page.goto(live_server.url + "/opportunities/board/")
    fits(page, "board", problems)
    before = won_count(page)
    card = page.locator(f"#card-{deal_id}")
    assert card.is_visible(), "the new opportunity is not on the board"
    won_stage = page.locator(".board-column[data-kind=won]").first.get_attribute("data-stage-id")
    card.locator("select[name=stage_id]").select_option(won_stage)
    with page.expect_navigation():
        card.locator("button[type=submit]").click()

    assert "/opportunities/board/" in page.url, page.url
    won_column = page.locator(".board-column[data-kind=won]").first
    assert won_column.locator(f"#card-{deal_id}").is_visible(), "the card is not in the Won column"
    assert won_count(page) == before + 1
    fits(page, "board after the move", problems)
    assert not problems, "\n".join(problems)


def test_convert_a_lead_and_move_its_opportunity_to_won(live_server: Any, phone: Any) -> None:
    """The sales flow on a phone: a lead with a logged call is converted; the call is on the new contact's
    timeline; the opportunity is moved to Won on the board and the win appears on the contact's timeline."""
    page = phone(width=360)
    problems: list[str] = []
    sign_in(page, live_server)

    page.goto(live_server.url + "/opportunities/leads/new")
    form = page.locator("form.entity-form")
    form.locator("[name=name]").fill("許雅婷")
    form.locator("[name=company_name]").fill("晴空光電股份有限公司")
    form.locator("[name=email]").fill("yating.hsu@qingkong.example.tw")
    with page.expect_navigation():
        form.locator("button[type=submit]").first.click()
    lead_url = page.url
    lead_id = lead_url.rstrip("/").split("/")[-1]
    assert lead_id.isdigit(), lead_url

    page.goto(f"{live_server.url}/opportunities/leads/{lead_id}/log")
    fits(page, "log on lead", problems)
    page.locator("label[for=kind-0], .chip label").first.click()
    page.locator("[name=subject]").fill("初次電話：對光學檢測有興趣")
    with page.expect_navigation():
        page.locator("form.quick-form button[type=submit]").click()

    page.goto(f"{live_server.url}/opportunities/leads/{lead_id}/convert")
    fits(page, "convert", problems)
    page.locator("[name=opportunity_name]").fill("晴空光電 檢測設備")
    page.locator("[name=amount]").fill("880000")
    page.locator("[name=expected_close_date]").fill("2000-01-02")
    with page.expect_navigation():
        page.locator("form.conversion button[type=submit]").click()
    assert "/opportunities/opportunities/" in page.url, page.url
    deal_id = page.url.rstrip("/").split("/")[-1]
    assert page.locator("h1").first.inner_text().strip() == "晴空光電 檢測設備"

    page.goto(lead_url)
    page.locator("[id='panel-opportunities.lead_converted'] a").first.wait_for()
    contact_path = page.evaluate(
        "() => Array.from(document.querySelectorAll('main a')).map(a => a.getAttribute('href'))"
        ".find(h => /^\\/contacts\\/contacts\\/[0-9]+$/.test(h))"
    )
    assert contact_path, "the converted lead does not link its contact"

    page.goto(live_server.url + "/opportunities/board/")
    card = page.locator(f"#card-{deal_id}")
    assert card.is_visible(), "the converted opportunity is not on the board"
    won_stage = page.locator(".board-column[data-kind=won]").first.get_attribute("data-stage-id")
    card.locator("select[name=stage_id]").select_option(won_stage)
    with page.expect_navigation():
        card.locator("button[type=submit]").click()
    assert page.locator(f".board-column[data-kind=won] #card-{deal_id}").is_visible()

    page.goto(live_server.url + contact_path)
    timeline = page.locator("[id='panel-contacts.timeline']")
    timeline.get_by_text("初次電話：對光學檢測有興趣").first.wait_for()
    timeline.get_by_text("晴空光電 檢測設備").first.wait_for()
    assert not problems, "\n".join(problems)
