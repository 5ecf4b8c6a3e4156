"""The custom-fields administration pages: who may use them, add/edit/archive/restore/delete, errors next to the
field, the key never changes, only enabled entities, and tenant isolation."""

import pytest
from sqlalchemy import func, select

from core import db
from core.entities import custom_fields as cf
from core.entities.registry import all_entities
from core.models.custom_fields import CustomField, CustomValue
from core.tenant_plugins import disable_plugin
from tests.items_plugin.models import Item


@pytest.fixture
def acme(items_app, make_tenant):
    return make_tenant("acme", use_app=items_app)


@pytest.fixture
def admin(items_app, acme, make_user, client_as):
    return client_as(make_user(acme, groups=["administrators"], use_app=items_app), use_app=items_app)


def fields_of(items_app, in_tenant, tenant):
    with in_tenant(tenant, use_app=items_app):
        rows = db.session.scalars(select(CustomField).order_by(CustomField.position, CustomField.id)).all()
        return [(f.key, f.label, f.type, f.required, f.active, f.choices) for f in rows]


NEW = {"key": "grade", "label": "Grade", "type": "choice", "choices": "A | A customer\nB", "help": "", "position": ""}


def test_an_administrator_adds_edits_archives_restores_and_deletes_a_field(items_app, acme, admin, in_tenant):
    index = admin.get("/admin/custom-fields")
    assert index.status_code == 200 and "Items" in index.get_data(as_text=True)
    assert 'href="/admin/custom-fields"' in admin.get("/").get_data(as_text=True)  # in the administration menu

    assert admin.get("/admin/custom-fields/items/new").status_code == 200
    created = admin.post("/admin/custom-fields/items/new", data={**NEW, "required": "y"})
    assert created.status_code == 302 and created.location.endswith("/admin/custom-fields/items")
    assert fields_of(items_app, in_tenant, acme) == [
        ("grade", "Grade", "choice", True, True, [["A", "A customer"], ["B", "B"]])
    ]
    listing = admin.get("/admin/custom-fields/items").get_data(as_text=True)
    assert "Grade" in listing and "grade" in listing and "Single choice" in listing and "Required" in listing

    with in_tenant(acme, use_app=items_app):
        field_id = db.session.scalar(select(CustomField.id))
        record = Item(name="graded", custom={"grade": "A"})
        db.session.add(record)
        db.session.commit()

    edit_url = f"/admin/custom-fields/items/{field_id}"
    form = admin.get(edit_url).get_data(as_text=True)
    assert 'name="choices">\r\nA | A customer\nB</textarea>' in form and "<code>grade</code>" in form
    saved = admin.post(
        edit_url,
        data={
            "key": "renamed",
            "label": "Customer grade",
            "type": "choice",
            "choices": "A | Top\nB\nC",
            "position": "5",
        },
    )
    assert saved.status_code == 302
    assert fields_of(items_app, in_tenant, acme) == [
        ("grade", "Customer grade", "choice", False, True, [["A", "Top"], ["B", "B"], ["C", "C"]])
    ]  # the key did not change

    refused = admin.post(edit_url, data={"label": "Customer grade", "type": "choice", "choices": "B\nC"})
    assert refused.status_code == 400
    assert "1 record uses a choice that would no longer exist" in refused.get_data(as_text=True)

    # deleting needs the field archived first, then the key typed in
    assert admin.get(f"{edit_url}/delete").status_code == 302
    assert admin.post(f"{edit_url}/archive").status_code == 302
    assert fields_of(items_app, in_tenant, acme)[0][4] is False
    assert admin.post(f"{edit_url}/restore").status_code == 302
    assert fields_of(items_app, in_tenant, acme)[0][4] is True
    admin.post(f"{edit_url}/archive")
    confirm = admin.get(f"{edit_url}/delete").get_data(as_text=True)
    assert "1 record has a value in this field" in confirm
    wrong = admin.post(f"{edit_url}/delete", data={"confirm": "nope"})
    assert wrong.status_code == 400 and "Type grade exactly to confirm." in wrong.get_data(as_text=True)
    assert admin.post(f"{edit_url}/delete", data={"confirm": "grade"}).status_code == 302
    assert fields_of(items_app, in_tenant, acme) == []
    with in_tenant(acme, use_app=items_app):
        assert db.session.scalar(select(Item.custom)) == {}
        assert db.session.scalar(select(func.count(CustomValue.id))) == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"key": "Grade!"}, "Use lower-case letters, digits and _"),
        ({"type": "choice", "choices": ""}, "Give at least one choice"),
        ({"type": "choice", "choices": "a\nA"}, "Line 2 repeats the value A."),
        ({"label": ""}, "This field is required."),
        ({"type": "nonsense"}, "Not a valid choice"),
    ],
)
def test_mistakes_are_shown_next_to_the_field(items_app, acme, admin, change, message):
    response = admin.post("/admin/custom-fields/items/new", data={**NEW, **change})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_a_key_is_unique_per_entity(items_app, acme, admin):
    assert admin.post("/admin/custom-fields/items/new", data=NEW).status_code == 302
    again = admin.post("/admin/custom-fields/items/new", data={**NEW, "label": "Other"})
    assert again.status_code == 400 and "This key is already used" in again.get_data(as_text=True)


def test_only_administrators_of_settings_reach_the_pages(items_app, acme, make_user, client_as, in_tenant):
    clerk = client_as(make_user(acme, grants={"items.item.view": "all"}, use_app=items_app), use_app=items_app)
    with in_tenant(acme, use_app=items_app):
        field = cf.create_field(all_entities()["items"], key="size", label="Size", type="number")
        db.session.commit()
        field_id = field.id
    for url in ("/admin/custom-fields", "/admin/custom-fields/items", "/admin/custom-fields/items/new"):
        assert clerk.get(url).status_code == 403
    assert clerk.post(f"/admin/custom-fields/items/{field_id}/archive").status_code == 403
    assert clerk.post("/admin/custom-fields/items/new", data=NEW).status_code == 403
    assert 'href="/admin/custom-fields"' not in clerk.get("/").get_data(as_text=True)
    settings = client_as(make_user(acme, grants={"admin.settings.manage": "all"}, use_app=items_app), use_app=items_app)
    assert settings.get("/admin/custom-fields/items").status_code == 200


def test_other_tenants_fields_and_disabled_entities_answer_404(items_app, acme, admin, make_tenant, in_tenant):
    globex = make_tenant("globex", use_app=items_app)
    with in_tenant(globex, use_app=items_app):
        theirs = cf.create_field(all_entities()["items"], key="secret", label="Secret", type="text")
        db.session.commit()
        their_id = theirs.id
    assert admin.get(f"/admin/custom-fields/items/{their_id}").status_code == 404
    assert admin.post(f"/admin/custom-fields/items/{their_id}/archive").status_code == 404
    assert "Secret" not in admin.get("/admin/custom-fields/items").get_data(as_text=True)
    assert admin.get("/admin/custom-fields/contacts-that-do-not-exist").status_code == 404

    with in_tenant(acme, use_app=items_app):
        from core.models import Tenant

        disable_plugin(db.session.get(Tenant, acme.id), "items")
        db.session.commit()
    assert admin.get("/admin/custom-fields/items").status_code == 404
    assert "Items" not in admin.get("/admin/custom-fields").get_data(as_text=True)
    with in_tenant(globex, use_app=items_app):
        assert db.session.scalar(select(CustomField.active).where(CustomField.id == their_id)) is True
