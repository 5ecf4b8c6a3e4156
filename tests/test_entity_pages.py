"""The generic entity pages, through tests/items_plugin: create, detail, edit, delete, trash, restore, history,
validation, optimistic locking, tenants, disabled plugins and overrides."""

import re
import sys
import types
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core import db
from core.entities import ACTIONS
from core.hooks import hookimpl
from tests.items_plugin import plugin as items_plugin
from tests.items_plugin.models import Item

ALL = {f"items.item.{action}": "all" for action in ACTIONS}


@pytest.fixture
def acme(items_app, make_tenant):
    return make_tenant("acme", use_app=items_app)


@pytest.fixture
def person(items_app, make_user):
    def factory(tenant, grants=None, **kwargs):
        return make_user(tenant, grants=grants, use_app=items_app, **kwargs)

    return factory


@pytest.fixture
def browser(items_app, client_as):
    def factory(user):
        return client_as(user, use_app=items_app)

    return factory


@pytest.fixture
def stored(items_app, in_tenant):
    """``stored(tenant)``: the tenant's items (trash included) as dicts, read straight from the database."""

    def read(tenant):
        with in_tenant(tenant, use_app=items_app):
            rows = db.session.scalars(select(Item).order_by(Item.id).execution_options(include_deleted=True))
            return [
                {
                    "id": r.id,
                    "name": r.name,
                    "email": r.email,
                    "amount": r.amount,
                    "status": r.status,
                    "owner_id": r.owner_id,
                    "version": r.version,
                    "deleted": r.deleted_at is not None,
                }
                for r in rows
            ]

    return read


def text(response):
    return response.get_data(as_text=True)


def new_item(client, **fields):
    data = {"name": "Widget", "status": "open", **fields}
    response = client.post("/items/items/new", data=data)
    assert response.status_code == 302, text(response)
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])


# ------------------------------------------------------------------------------------------------- CRUD


def test_create_show_edit_and_delete_through_the_pages(acme, person, browser, stored):
    user = person(acme, ALL)
    client = browser(user)

    form = text(client.get("/items/items/new"))
    assert 'name="name"' in form and 'type="email"' in form and 'type="tel"' in form and 'type="date"' in form
    assert "<textarea" in form and 'name="tags"' in form and 'name="status"' in form
    assert f'<option value="{user.id}" selected>' in form  # the owner defaults to the creator

    item_id = new_item(
        client,
        name="Pump 台北",
        email="buyer@example.com",
        phone="+886 2 1234-5678",
        amount="1,234.50",
        due="2025-03-01",
        notes="Line one",
        tags="vip, 台北",
        owner_id=str(user.id),
    )
    [row] = stored(acme)
    assert row["name"] == "Pump 台北" and row["amount"] == Decimal("1234.50") and row["owner_id"] == user.id

    page = text(client.get(f"/items/items/{item_id}"))
    assert "<h1>Pump 台北</h1>" in page
    assert 'href="mailto:buyer@example.com"' in page
    assert 'href="tel:+886212345678"' in page
    assert "NT$1,234.50" in page  # money in the tenant's currency
    assert "Mar 1, 2025" in page
    assert '<span class="badge">vip</span>' in page and '<span class="badge">台北</span>' in page
    assert ">Open<" in page  # the choice's label, not its value
    assert f'href="/items/items/{item_id}/edit"' in page

    edit = text(client.get(f"/items/items/{item_id}/edit"))
    assert 'value="Pump 台北"' in edit and 'name="version" value="1"' in edit and 'value="vip, 台北"' in edit
    response = client.post(
        f"/items/items/{item_id}/edit",
        data={"name": "Pump 2", "status": "won", "amount": "99", "version": "1", "owner_id": str(user.id)},
    )
    assert response.status_code == 302
    [row] = stored(acme)
    assert (row["name"], row["status"], row["amount"], row["email"], row["version"]) == (
        "Pump 2",
        "won",
        Decimal("99.00"),
        None,
        2,
    )
    assert ">Pump 2</a>" in text(client.get("/items/items/"))

    assert client.post(f"/items/items/{item_id}/delete").status_code == 302
    assert stored(acme)[0]["deleted"] is True
    assert ">Pump 2</a>" not in text(client.get("/items/items/"))
    assert client.get(f"/items/items/{item_id}").status_code == 404
    assert "Pump 2" in text(client.get("/items/items/trash"))

    assert client.post(f"/items/items/{item_id}/restore").status_code == 302
    assert stored(acme)[0]["deleted"] is False
    assert client.get(f"/items/items/{item_id}").status_code == 200


def test_validation_errors_stand_next_to_their_fields_and_nothing_is_stored(acme, person, browser, stored):
    client = browser(person(acme, ALL))
    response = client.post(
        "/items/items/new",
        data={"name": "", "email": "not-an-address", "amount": "lots", "due": "someday", "status": "open"},
    )
    assert response.status_code == 400
    page = text(response)
    for name, message in [
        ("name", "This field is required."),
        ("email", "Enter a valid e-mail address."),
        ("amount", "Enter a number."),
        ("due", "Enter a date."),
    ]:
        field = re.search(rf'<(input|select|textarea)[^>]*id="f-{name}"[^>]*>', page).group(0)
        assert 'aria-invalid="true"' in field and f'aria-describedby="f-{name}-error"' in field
        assert re.search(rf'<p class="error" id="f-{name}-error">{re.escape(message)}</p>', page), name
    assert 'value="not-an-address"' in page and 'value="lots"' in page  # what was typed is kept
    assert stored(acme) == []


def test_an_invalid_edit_changes_nothing(acme, person, browser, stored):
    client = browser(person(acme, ALL))
    item_id = new_item(client, name="Keep me", email="keep@example.com")
    response = client.post(
        f"/items/items/{item_id}/edit", data={"name": "Changed", "email": "broken", "status": "open", "version": "1"}
    )
    assert response.status_code == 400
    assert 'value="Changed"' in text(response)
    [row] = stored(acme)
    assert (row["name"], row["email"], row["version"]) == ("Keep me", "keep@example.com", 1)


def test_an_owner_from_another_tenant_is_refused(acme, person, browser, stored, make_tenant, items_app):
    other = make_tenant("globex", use_app=items_app)
    stranger = person(other, ALL)
    client = browser(person(acme, ALL))
    response = client.post("/items/items/new", data={"name": "X", "status": "open", "owner_id": str(stranger.id)})
    assert response.status_code == 400
    assert "Choose someone from the list." in text(response)
    assert stored(acme) == []


def test_a_stale_save_is_refused_with_both_values_and_the_first_save_kept(acme, person, browser, stored):
    alice = person(acme, ALL, name="Alice")
    bob = person(acme, ALL, name="Bob")
    item_id = new_item(browser(alice), name="Original", amount="10")
    first, second = browser(alice), browser(bob)
    assert 'name="version" value="1"' in text(first.get(f"/items/items/{item_id}/edit"))
    assert 'name="version" value="1"' in text(second.get(f"/items/items/{item_id}/edit"))

    saved = first.post(
        f"/items/items/{item_id}/edit", data={"name": "Alice's name", "amount": "10", "status": "open", "version": "1"}
    )
    assert saved.status_code == 302
    refused = second.post(
        f"/items/items/{item_id}/edit", data={"name": "Bob's name", "amount": "25", "status": "open", "version": "1"}
    )
    assert refused.status_code == 409
    page = text(refused)
    assert "Someone else saved this record" in page
    conflict = page[page.index('id="conflict"') : page.index("</div>", page.index('id="conflict"'))]
    assert "Alice&#39;s name" in conflict and "Bob&#39;s name" in conflict  # stored now, and what Bob typed
    assert "NT$25.00" in conflict and "NT$10.00" in conflict
    assert 'value="Bob&#39;s name"' in page  # nothing Bob typed is lost
    assert 'name="version" value="2"' in page
    assert [(r["name"], r["amount"], r["version"]) for r in stored(acme)] == [("Alice's name", Decimal("10.00"), 2)]

    again = second.post(
        f"/items/items/{item_id}/edit", data={"name": "Bob's name", "amount": "25", "status": "open", "version": "2"}
    )
    assert again.status_code == 302  # having seen the difference, Bob keeps his values knowingly
    assert stored(acme)[0]["name"] == "Bob's name"


def test_a_concurrent_write_caught_at_flush_is_a_conflict_too(acme, person, browser, stored, monkeypatch):
    from sqlalchemy.orm.exc import StaleDataError

    from core.entities import service

    client = browser(person(acme, ALL))
    item_id = new_item(client, name="Before")

    def stale(*args, **kwargs):
        raise StaleDataError("UPDATE statement on table 'test_items' expected to update 1 row(s); 0 were matched.")

    monkeypatch.setattr(service, "update", stale)
    response = client.post(f"/items/items/{item_id}/edit", data={"name": "After", "status": "open", "version": "1"})
    assert response.status_code == 409
    assert "Before" in text(response) and 'value="After"' in text(response)
    assert stored(acme)[0]["name"] == "Before"


# ------------------------------------------------------------------------------------------- permissions


def test_each_page_needs_its_permission(acme, person, browser):
    owner = browser(person(acme, ALL))
    item_id = new_item(owner)
    reader = browser(person(acme, {"items.item.view": "all"}))
    assert reader.get("/items/items/").status_code == 200
    assert reader.get(f"/items/items/{item_id}").status_code == 200
    assert 'href="/items/items/new"' not in text(reader.get("/items/items/"))
    assert f"/items/items/{item_id}/edit" not in text(reader.get(f"/items/items/{item_id}"))
    assert reader.get("/items/items/new").status_code == 403
    assert reader.post("/items/items/new", data={"name": "x"}).status_code == 403
    assert reader.get(f"/items/items/{item_id}/edit").status_code == 403
    assert reader.post(f"/items/items/{item_id}/delete").status_code == 403
    assert reader.get("/items/items/trash").status_code == 403
    assert reader.post(f"/items/items/{item_id}/restore").status_code == 403
    nobody = browser(person(acme, {}))
    assert nobody.get("/items/items/").status_code == 403
    assert nobody.get(f"/items/items/{item_id}").status_code == 403


def test_scopes_decide_what_detail_edit_and_delete_reach(acme, person, browser, items_app, in_tenant):
    from core.models import Department

    mine = person(acme, {"items.item.view": "own", "items.item.edit": "own", "items.item.delete": "own"})
    north_member = person(acme, departments=["North"])
    team = person(acme, {"items.item.view": "department", "items.item.edit": "own"}, departments=["North"], name="Team")
    everyone = browser(person(acme, ALL))
    own_id = new_item(everyone, name="Mine", owner_id=str(mine.id))
    with in_tenant(acme, use_app=items_app):
        north = db.session.scalar(select(Department.id).where(Department.name == "North"))
    north_id = new_item(everyone, name="North's", owner_id=str(north_member.id), department_id=str(north))
    far_id = new_item(everyone, name="Far away")

    client = browser(mine)
    assert client.get(f"/items/items/{own_id}").status_code == 200
    assert client.get(f"/items/items/{own_id}/edit").status_code == 200
    for other in (north_id, far_id):
        assert client.get(f"/items/items/{other}").status_code == 404
        assert client.get(f"/items/items/{other}/edit").status_code == 404
        assert client.post(f"/items/items/{other}/delete").status_code == 404

    client = browser(team)
    assert client.get(f"/items/items/{north_id}").status_code == 200
    assert client.get(f"/items/items/{north_id}/edit").status_code == 404  # seen through the department, not editable
    assert client.get(f"/items/items/{far_id}").status_code == 404


def test_another_tenant_gets_404_by_every_route(acme, person, browser, make_tenant, items_app, stored):
    owner = browser(person(acme, ALL))
    item_id = new_item(owner, name="Acme secret")
    binned = new_item(owner, name="Binned")
    assert owner.post(f"/items/items/{binned}/delete").status_code == 302
    globex = make_tenant("globex", use_app=items_app)
    intruder = browser(person(globex, ALL, groups=["administrators"]))

    assert intruder.get(f"/items/items/{item_id}").status_code == 404
    assert intruder.get(f"/items/items/{item_id}/edit").status_code == 404
    assert intruder.post(f"/items/items/{item_id}/edit", data={"name": "x", "version": "1"}).status_code == 404
    assert intruder.post(f"/items/items/{item_id}/delete").status_code == 404
    assert intruder.post(f"/items/items/{binned}/restore").status_code == 404
    for action in ("delete", "add_tag", "assign_owner"):
        response = intruder.post("/items/items/bulk", data={"action": action, "ids": [str(item_id)], "tag": "x"})
        assert response.status_code == 404
    assert "Acme secret" not in text(intruder.get("/items/items/"))
    assert "Binned" not in text(intruder.get("/items/items/trash"))
    assert [(r["name"], r["deleted"]) for r in stored(acme)] == [("Acme secret", False), ("Binned", True)]


# --------------------------------------------------------------------------------------- trash, restore


def test_trash_lists_deleted_rows_and_only_administrators_restore(acme, person, browser, stored):
    seller = person(acme, {"items.item.view": "own", "items.item.create": "all", "items.item.delete": "own"})
    client = browser(seller)
    item_id = new_item(client, name="Oops")
    other_id = new_item(browser(person(acme, ALL)), name="Someone else's")
    assert client.post(f"/items/items/{item_id}/delete").status_code == 302
    browser(person(acme, ALL)).post(f"/items/items/{other_id}/delete")

    trash = text(client.get("/items/items/trash"))
    assert "Oops" in trash and "Someone else&#39;s" not in trash  # the delete scope applies to the trash
    assert "Only administrators can restore" in trash and "/restore" not in trash
    assert client.post(f"/items/items/{item_id}/restore").status_code == 403
    assert stored(acme)[0]["deleted"] is True

    admin = browser(person(acme, groups=["administrators"]))
    trash = text(admin.get("/items/items/trash"))
    assert "Oops" in trash and "Someone else&#39;s" in trash and f"/items/items/{item_id}/restore" in trash
    assert admin.post(f"/items/items/{item_id}/restore").status_code == 302
    assert stored(acme)[0]["deleted"] is False
    assert admin.post(f"/items/items/{item_id}/restore").status_code == 404  # no longer in the trash

    scope_all = browser(person(acme, {"items.item.view": "all", "items.item.delete": "all"}))
    assert scope_all.post(f"/items/items/{other_id}/restore").status_code == 302


# -------------------------------------------------------------------------------------------- history


def test_history_shows_field_changes_with_names_newest_first_and_pages(acme, person, browser):
    alice = person(acme, ALL, name="Alice")
    bob = person(acme, ALL, name="Bob")
    client = browser(alice)
    item_id = new_item(client, name="v0", owner_id=str(alice.id))
    response = client.post(
        f"/items/items/{item_id}/edit",
        data={"name": "v1", "status": "won", "owner_id": str(bob.id), "amount": "5", "version": "1"},
    )
    assert response.status_code == 302
    page = text(client.get(f"/items/items/{item_id}"))
    history = page[page.index('id="history"') :]
    assert history.index("Changed") < history.index("Created")  # newest first
    changed = history[: history.index("Created")]
    assert re.search(r"Name</span>:\s*<span class=\"before\">v0</span>.*<span class=\"after\">v1</span>", changed)
    assert "Alice" in changed and ">Open<" in changed and ">Won<" in changed
    assert re.search(r"Owner</span>:\s*<span class=\"before\">Alice</span>.*<span class=\"after\">Bob</span>", changed)
    assert "NT$5.00" in changed

    for n in range(2, 24):
        client.post(f"/items/items/{item_id}/edit", data={"name": f"v{n}", "status": "won", "version": str(n)})
    page = text(client.get(f"/items/items/{item_id}"))
    assert "v23" in page and "Created" not in page[page.index('id="history"') :]
    older = re.search(r'href="([^"]*history_before=\d+[^"]*)"', page).group(1).replace("&amp;", "&")
    older_page = text(client.get(older))
    assert "Created" in older_page[older_page.index('id="history"') :]


def test_history_belongs_to_its_record_and_tenant(acme, person, browser, make_tenant, items_app):
    client = browser(person(acme, ALL))
    first = new_item(client, name="First thing")
    second = new_item(client, name="Second thing")
    page = text(client.get(f"/items/items/{second}"))
    history = page[page.index('id="history"') :]
    assert "Second thing" in history and "First thing" not in history
    globex = make_tenant("globex", use_app=items_app)
    other = browser(person(globex, ALL))
    own = new_item(other, name="Globex thing")
    assert own not in (first, second)
    history = text(other.get(f"/items/items/{own}"))
    assert "First thing" not in history and "Second thing" not in history


# ---------------------------------------------------------------------------------- plugins, overrides


def test_a_disabled_plugin_hides_its_entity_pages_and_menu(acme, person, browser, items_app, in_tenant, stored):
    from core.tenant_plugins import disable_plugin, enable_plugin

    client = browser(person(acme, ALL))
    item_id = new_item(client, name="Survives")
    assert 'href="/items/items/"' in text(client.get("/"))
    with in_tenant(acme, use_app=items_app):
        disable_plugin(acme, "items")
        db.session.commit()
    for url in ["/items/items/", "/items/items/new", f"/items/items/{item_id}", f"/items/items/{item_id}/edit"]:
        assert client.get(url).status_code == 404, url
    for url in [f"/items/items/{item_id}/delete", "/items/items/bulk", "/items/items/views"]:
        assert client.post(url, data={"action": "delete", "ids": [str(item_id)]}).status_code == 404, url
    assert 'href="/items/items/"' not in text(client.get("/"))
    assert stored(acme)[0]["deleted"] is False
    with in_tenant(acme, use_app=items_app):
        enable_plugin(acme, "items")
        db.session.commit()
    assert "Survives" in text(client.get("/items/items/"))


def test_every_entity_page_belongs_to_the_entity_plugin(items_app):
    owners = items_app.extensions["crm.plugins"].owners.blueprints
    assert owners["items_items"] == "items"
    endpoints = {rule.endpoint for rule in items_app.url_map.iter_rules() if rule.endpoint.startswith("items_items.")}
    assert {"items_items.list", "items_items.detail", "items_items.new", "items_items.edit"} <= endpoints
    assert {"items_items.delete", "items_items.trash", "items_items.restore", "items_items.bulk"} <= endpoints


def override_plugin(tmp_path, templates=None, views=None, panels=False, schema=None):
    """The items plugin again, with template or view overrides, and templates of its own in ``tmp_path``."""
    import dataclasses

    folder = tmp_path / "items_override"
    (folder / "templates" / "items" / "items").mkdir(parents=True)
    (folder / "templates" / "custom").mkdir(parents=True)
    (folder / "templates" / "custom" / "detail.html").write_text(
        '{% extends "core/entity/detail.html" %}{% block detail_actions %}<p id="custom-detail">'
        "Custom detail of {{ title }}</p>{% endblock %}",
        encoding="utf-8",
    )
    (folder / "templates" / "items" / "items" / "form.html").write_text(
        '{% extends "core/entity/form.html" %}{% block form_fields %}<p id="conventional-form">By convention</p>'
        "{{ super() }}{% endblock %}",
        encoding="utf-8",
    )
    (folder / "templates" / "custom" / "panel.html").write_text(
        '<p class="item-panel">Panel for {{ name }}</p>', encoding="utf-8"
    )
    (folder / "plugin.py").write_text("", encoding="utf-8")
    module = types.ModuleType("items_override_plugin")
    module.__file__ = str(folder / "plugin.py")
    module.META = {**items_plugin.META}
    for name in ("register_models", "register_permissions", "register_menu_items"):
        setattr(module, name, getattr(items_plugin, name))

    def register_entities():
        [entity] = items_plugin.register_entities()
        changes = {"templates": templates or {}, "views": views or {}}
        if schema is not None:
            changes["schema"] = schema
        return [dataclasses.replace(entity, **changes)]

    module.register_entities = hookimpl(register_entities)
    if panels:

        def page_panels(slot, context, user, tenant):
            from core.contributions import Panel

            if slot == "item.detail":
                return [Panel("test.panel", "A panel", "custom/panel.html", {"name": context["record"].name})]
            return []

        module.page_panels = hookimpl(page_panels)
    sys.modules["items_override_plugin"] = module
    return module


def test_templates_and_views_can_be_overridden(make_app, make_tenant, make_user, client_as, tmp_path):
    from core.entities import views
    from core.permissions import requires
    from core.themes import render

    @requires("items.item.view")
    def my_list(entity):
        context, status = views.list_context(entity)
        return render("core/entity/list.html", **context) + '<p id="my-list">mine</p>', status

    def my_trash(entity):
        return f"trash of {entity.plural}"

    module = override_plugin(
        tmp_path, templates={"detail": "custom/detail.html"}, views={"list": my_list, "trash": my_trash}, panels=True
    )
    app = make_app(plugins=[module])
    acme = make_tenant("acme", use_app=app)
    user = make_user(acme, grants=ALL, use_app=app)
    client = client_as(user, use_app=app)
    item_id = new_item(client, name="Overridden")

    detail = text(client.get(f"/items/items/{item_id}"))
    assert '<p id="custom-detail">Custom detail of Overridden</p>' in detail
    assert '<p class="item-panel">Panel for Overridden</p>' in detail  # another plugin's panel in the slot
    form = text(client.get(f"/items/items/{item_id}/edit"))
    assert "By convention" in form and 'name="name"' in form
    listing = text(client.get("/items/items/"))
    assert "Overridden" in listing and '<p id="my-list">mine</p>' in listing
    assert text(client.get("/items/items/trash")) == "trash of items"
    from core.permissions import view_policy

    assert view_policy(app.view_functions["items_items.trash"]) == "items.item.delete"  # default permission kept
    assert view_policy(app.view_functions["items_items.list"]) == "items.item.view"
    nobody = client_as(make_user(acme, use_app=app), use_app=app)
    assert nobody.get("/items/items/trash").status_code == 403


def test_forms_need_the_csrf_token(make_app, make_tenant, make_user, client_as, tmp_path):
    app = make_app(plugins=[items_plugin], WTF_CSRF_ENABLED=True)
    acme = make_tenant("acme", use_app=app)
    user = make_user(acme, grants=ALL, use_app=app)
    client = app.test_client()
    page = client.get("/login", base_url="http://acme.crm.test")
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', text(page)).group(1)
    from core.testing import TEST_PASSWORD

    signed_in = client.post(
        "/login",
        data={"email": user.email, "password": TEST_PASSWORD, "csrf_token": token},
        base_url="http://acme.crm.test",
    )
    assert signed_in.status_code == 302
    refused = client.post("/items/items/new", data={"name": "No token"}, base_url="http://acme.crm.test")
    assert refused.status_code == 400
    form = text(client.get("/items/items/new", base_url="http://acme.crm.test"))
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    accepted = client.post(
        "/items/items/new",
        data={"name": "With token", "status": "open", "csrf_token": token},
        base_url="http://acme.crm.test",
    )
    assert accepted.status_code == 302
    with app.app_context():
        from core.tenancy import tenant_context

        with tenant_context(acme):
            assert db.session.scalar(select(func.count(Item.id))) == 1


def test_nested_and_computed_fields_are_shown_but_left_out_of_forms(
    make_app, make_tenant, make_user, client_as, tmp_path
):
    from marshmallow import Schema, fields

    from tests.items_plugin.schemas import ItemSchema

    class PartSchema(Schema):
        id = fields.Integer()
        label = fields.String()
        quantity = fields.Integer()

    class RichSchema(ItemSchema):
        parts = fields.List(
            fields.Nested(PartSchema), load_default=None, metadata={"label": "Parts", "widget": "parts"}
        )
        lines = fields.Function(
            lambda item: [{"id": 7, "label": "Bolt", "quantity": 3}], dump_only=True, metadata={"label": "Lines"}
        )
        shout = fields.Method("loud", dump_only=True, metadata={"label": "Shout"})

        def loud(self, item):
            return item.name.upper()

    app = make_app(plugins=[override_plugin(tmp_path, schema=RichSchema)])
    acme = make_tenant("acme", use_app=app)
    client = client_as(make_user(acme, grants=ALL, use_app=app), use_app=app)
    item_id = new_item(client, name="Bolts")
    form = text(client.get(f"/items/items/{item_id}/edit"))
    assert 'name="parts"' not in form and 'name="lines"' not in form and 'name="shout"' not in form
    detail = text(client.get(f"/items/items/{item_id}"))
    assert '<ul class="plain-list"><li>Bolt · 3</li></ul>' in detail
    assert ">BOLTS</dd>" in detail
    saved = client.post(f"/items/items/{item_id}/edit", data={"name": "Nuts", "status": "open", "version": "1"})
    assert saved.status_code == 302
    listing = text(client.get("/items/items/?columns=parts&columns=lines"))
    assert 'id="column-parts"' not in listing and '<th scope="col">Parts</th>' not in listing  # not list columns
