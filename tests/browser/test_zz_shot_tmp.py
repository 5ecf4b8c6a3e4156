from tests.browser.helpers import sign_in

def test_shot(live_server, phone):
    page = phone(width=360, locale="zh-TW")
    sign_in(page, live_server)
    page.goto(live_server.url + "/items/items/?columns=name&columns=amount&columns=owner_id&columns=tags")
    page.screenshot(path="/tmp/scratch/list1.png")
    page.evaluate("window.scrollTo(0, 500)")
    page.screenshot(path="/tmp/scratch/list2.png")
    page.goto(live_server.url + "/items/items/1")
    page.screenshot(path="/tmp/scratch/detail1.png")
    page.evaluate("window.scrollTo(0, 700)")
    page.screenshot(path="/tmp/scratch/detail2.png")
    page.goto(live_server.url + "/items/items/1/edit")
    page.screenshot(path="/tmp/scratch/edit.png")
    page.set_viewport_size({"width": 1200, "height": 900})
    page.goto(live_server.url + "/items/items/")
    page.screenshot(path="/tmp/scratch/list_wide.png")
