"""Custom fields on the generic entity pages: form inputs, validation next to the field, the detail section,
list columns, filters and history."""

import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from core import db
from core.entities import ACTIONS
from core.entities import custom_fields as cf
from tests.items_plugin.models import Item

ALL = {f"items.item.{action}": "all" for action in ACTIONS}

pytestmark = pytest.mark.skipif(not hasattr(cf, "create_field"), reason="custom fields are not defined yet")


@pytest.fixture
def acme(items_app, make_tenant, in_tenant):
    tenant = make_tenant("acme", use_app=items_app)
    with in_tenant(tenant, use_app=items_app):
        cf.create_field("items", key="grade", label="Grade", type="choice", choices=[["a", "A"], ["b", "B"]])
        cf.create_field("items", key="budget", label="Budget", type="money")
        cf.create_field("items", key="since", label="Customer since", type="date")
        cf.create_field("items", key="vip", label="VIP", type="bool")
        cf.create_field("items", key="site", label="Web site", type="url")
        cf.create_field(
            "items", key="regions", label="Regions", type="multichoice", choices=[["n", "North"], ["s", "South"]]
        )
        cf.create_field("items", key="code", label="Code", type="text", required=True)
        db.session.commit()
    return tenant


@pytest.fixture
def client(items_app, acme, make_user, client_as):
    user = make_user(acme, grants=ALL, name="Editor", use_app=items_app)
    return client_as(user, use_app=items_app)


@pytest.fixture
def customs(items_app, in_tenant):
    def read(tenant):
        with in_tenant(tenant, use_app=items_app):
            return [row.custom for row in db.session.scalars(select(Item).order_by(Item.id))]

    return read


def text(response):
    return response.get_data(as_text=True)


VALID = {
    "name": "With extras",
    "status": "open",
    "custom.grade": "b",
    "custom.budget": "1,500.25",
    "custom.since": "2023-04-05",
    "custom.vip": "1",
    "custom.site": "https://example.com/shop",
    "custom.regions": ["n", "s"],
    "custom.code": "X-1",
}


def test_custom_fields_round_trip_through_form_detail_and_list(acme, client, customs):
    form = text(client.get("/items/items/new"))
    section = form[form.index('id="form-section-custom"') :]
    for name in ("grade", "budget", "since", "vip", "site", "regions", "code"):
        assert f'name="custom.{name}"' in section, name
    assert re.search(r'<select id="f-custom-grade" name="custom.grade"', section)
    assert 'type="date"' in section and 'type="url"' in section and 'type="checkbox"' in section

    response = client.post("/items/items/new", data=VALID)
    assert response.status_code == 302, text(response)
    [stored] = customs(acme)
    assert stored["grade"] == "b" and stored["vip"] is True and stored["code"] == "X-1"
    assert Decimal(str(stored["budget"])) == Decimal("1500.25") and sorted(stored["regions"]) == ["n", "s"]

    page = text(client.get(response.headers["Location"]))
    section = page[page.index('id="section-custom"') :]
    assert "Customer since" in section and "Apr 5, 2023" in section and "NT$1,500.25" in section
    assert ">B<" in section and ">Yes<" in section
    assert '<a href="https://example.com/shop" rel="noopener noreferrer nofollow">' in section
    assert '<span class="badge">North</span>' in section and '<span class="badge">South</span>' in section

    listing = text(client.get("/items/items/?columns=cf_grade&columns=cf_budget"))
    assert 'data-label="Grade" data-widget="choice">B</td>' in listing
    assert 'data-label="Budget" data-widget="money">NT$1,500.25</td>' in listing
    assert 'name="cf_grade"' in listing and 'name="cf_budget__gte"' in listing  # custom fields are filters too
    assert "With extras" in text(client.get("/items/items/?cf_grade=b"))
    assert "With extras" not in text(client.get("/items/items/?cf_grade=a"))


def test_custom_field_errors_stand_next_to_the_field_and_nothing_is_stored(acme, client, customs):
    bad = {**VALID, "custom.site": "not a web address", "custom.code": ""}
    response = client.post("/items/items/new", data=bad)
    assert response.status_code == 400
    page = text(response)
    for key in ("site", "code"):
        field = re.search(rf'<input[^>]*id="f-custom-{key}"[^>]*>', page).group(0)
        assert 'aria-invalid="true"' in field and f"f-custom-{key}-error" in field
        assert f'<p class="error" id="f-custom-{key}-error">' in page
    assert 'value="not a web address"' in page
    assert customs(acme) == []


def test_editing_a_custom_field_keeps_the_others_and_shows_in_history(acme, client, customs):
    item = client.post("/items/items/new", data=VALID).headers["Location"]
    edit = text(client.get(item + "/edit"))
    assert 'value="X-1"' in edit and '<option value="b" selected>B</option>' in edit
    changed = {**VALID, "custom.grade": "a", "version": "1"}
    assert client.post(item + "/edit", data=changed).status_code == 302
    [stored] = customs(acme)
    assert stored["grade"] == "a" and stored["code"] == "X-1"
    page = text(client.get(item))
    history = page[page.index('id="history"') :]
    assert re.search(r"Grade</span>:\s*<span class=\"before\">B</span>.*<span class=\"after\">A</span>", history)
