"""Duplicates found on create, and merging two records into one without losing anything."""

import pytest
from flask_login import login_user
from sqlalchemy import func, select

from core import db
from core.entities.tags import tags_of
from core.models import AuditEntry, User
from plugins.contacts import plugin as contacts_plugin
from plugins.contacts.models import Company, Contact, ContactCompany, ContactEmail, ContactPhone, Interaction
from plugins.contacts.records import company_duplicates, contact_duplicates
from plugins.contacts.tests import opportunities_stub
from plugins.contacts.timeline import add_entry


@pytest.fixture
def app(make_app):
    return make_app(plugins=[contacts_plugin, opportunities_stub])


@pytest.fixture
def existing(tenant, admin, create):
    create(tenant, "companies", {"name": "台積電", "tax_id": "22099131", "phone": "(03) 563-6688"}, admin)
    return create(
        tenant,
        "contacts",
        {"name": "王小明", "email": "Ming@TSMC.example.com", "mobile": "0912-345-678", "company_name": "台積電"},
        admin,
    )


def reasons(matches):
    return {row.name: why for row, why in matches.visible}


def test_same_email_same_phone_digits_similar_name_at_the_company(app, tenant, existing, in_tenant):
    with in_tenant(tenant), app.test_request_context():
        login_user(db.session.scalar(select(User)))  # the administrator: every record is in scope
        assert reasons(contact_duplicates(emails=["ming@tsmc.EXAMPLE.com"])) == {"王小明": ["email"]}
        for number in ("+886 912 345 678", "0912345678", "(0912) 345-678"):
            assert reasons(contact_duplicates(phones=[number])) == {"王小明": ["phone"]}
        assert reasons(contact_duplicates(name="王小明 Kevin", company_names=["台積電"])) == {"王小明": ["name"]}
        assert reasons(contact_duplicates(name="王 小明", company_names=["台積電"])) == {"王小明": ["name"]}
        assert not contact_duplicates(name="王小明", company_names=["鴻海"])  # same name elsewhere is not enough
        assert not contact_duplicates(name="王大明", company_names=["台積電"])
        assert not contact_duplicates(emails=["other@example.com"], phones=["0912-000-000"])
        assert not contact_duplicates(emails=["ming@tsmc.example.com"], exclude_id=existing)
        assert reasons(company_duplicates(tax_id="22099131", phone="035636688")) == {"台積電": ["phone", "tax_id"]}
        assert reasons(company_duplicates(name="台積電")) == {"台積電": ["name"]}


def test_duplicates_outside_the_users_scope_are_counted_not_shown(app, tenant, existing, make_user, client_as):
    rep = make_user(tenant, grants={"contacts.contact.view": "own", "contacts.contact.create": "all"})
    answer = client_as(rep).get(
        "/contacts/duplicates/contact",
        query_string={"email": "ming@tsmc.example.com"},
        headers={"Accept": "application/json"},
    )
    assert answer.get_json() == {"duplicates": [], "hidden": 1}


def test_the_new_contact_form_warns_with_links_and_saves_on_the_second_try(
    app, tenant, existing, admin_client, in_tenant
):
    data = {"name": "Kevin Wang", "mobile": "+886 912-345-678", "lifecycle_stage": "prospect"}
    first = admin_client.post("/contacts/contacts/new", data=data)
    page = first.get_data(as_text=True)
    assert first.status_code == 200 and "This contact may already exist." in page
    assert f'href="/contacts/contacts/{existing}"' in page and "same phone number" in page
    with in_tenant(tenant):
        assert db.session.scalar(select(func.count(Contact.id))) == 1
    checked = page.split('name="duplicates_checked" value="')[1].split('"')[0]
    # Changing what identifies the contact checks again; saving the same values again creates it.
    again = admin_client.post(
        "/contacts/contacts/new", data={**data, "email": "kw@example.com", "duplicates_checked": checked}
    )
    assert "This contact may already exist." in again.get_data(as_text=True)
    checked = again.get_data(as_text=True).split('name="duplicates_checked" value="')[1].split('"')[0]
    saved = admin_client.post(
        "/contacts/contacts/new", data={**data, "email": "kw@example.com", "duplicates_checked": checked}
    )
    assert saved.status_code == 302
    with in_tenant(tenant):
        assert db.session.scalar(select(func.count(Contact.id))) == 2


def test_a_unique_contact_is_saved_at_once_and_invalid_input_shows_the_kernels_errors(admin_client, existing):
    assert (
        admin_client.post("/contacts/contacts/new", data={"name": "陳建宏", "lifecycle_stage": "prospect"}).status_code
        == 302
    )
    response = admin_client.post("/contacts/contacts/new", data={"name": "", "email": "ming@tsmc.example.com"})
    assert response.status_code == 400 and "This contact may already exist." not in response.get_data(as_text=True)


def test_the_new_company_form_warns_about_the_same_tax_id(admin_client, existing):
    response = admin_client.post(
        "/contacts/companies/new", data={"name": "TSMC", "tax_id": "22099131", "lifecycle_stage": "prospect"}
    )
    assert "This company may already exist." in response.get_data(as_text=True) and "same tax ID" in response.get_data(
        as_text=True
    )


def test_merge_keeps_every_related_row_and_trashes_the_other(app, tenant, admin, admin_client, create, in_tenant):
    from core.entities.tags import set_tags

    tsmc = create(tenant, "companies", {"name": "台積電"}, admin)
    foxconn = create(tenant, "companies", {"name": "鴻海"}, admin)
    keep = create(
        tenant,
        "contacts",
        {
            "name": "王小明",
            "title": "經理",
            "email": "ming@tsmc.example.com",
            "mobile": "0912-345-678",
            "companies": [{"company_id": tsmc}],
            "customer_grade": "A",
        },
        admin,
    )
    other = create(
        tenant,
        "contacts",
        {
            "name": "王小明 Kevin",
            "title": "採購經理",
            "email": "kevin@home.example.com",
            "mobile": "+886 912 345 678",
            "phone": "(02) 2345-6789",
            "companies": [{"company_id": tsmc, "role": "採購"}, {"company_id": foxconn, "role": "顧問"}],
            "birthday": "1980-05-01",
        },
        admin,
    )
    with in_tenant(tenant):
        for subject in ("call 1", "call 2"):
            add_entry("call", contact_id=other, subject=subject)
        add_entry("note", contact_id=keep, subject="note on the keeper")
        set_tags("contacts", other, ["VIP", "展覽名單"])
        set_tags("contacts", keep, ["VIP"])
        db.session.get(Contact, other).custom = {"vat": "123", "size": "large"}
        db.session.get(Contact, keep).custom = {"size": "small"}
        db.session.add(opportunities_stub.Deal(title="deal of the other", contact_id=other))
        db.session.commit()
        versions = (db.session.get(Contact, keep).version, db.session.get(Contact, other).version)

    screen = admin_client.get(f"/contacts/merge/contact/{keep}", query_string={"with": other}).get_data(as_text=True)
    assert "採購經理" in screen and "2 timeline entries" in screen
    response = admin_client.post(
        f"/contacts/merge/contact/{keep}",
        data={
            "with": other,
            "version_a": versions[0],
            "version_b": versions[1],
            "into": "a",
            "field_title": "b",  # take the other's job title
            "field_name": "a",
            "field_birthday": "b",
            "custom_size": "a",
        },
    )
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/contacts/contacts/{keep}")
    with in_tenant(tenant):
        winner = db.session.get(Contact, keep)
        assert (winner.name, winner.title, str(winner.birthday), winner.customer_grade) == (
            "王小明",
            "採購經理",
            "1980-05-01",
            "A",
        )
        assert sorted(e.email for e in winner.emails) == ["kevin@home.example.com", "ming@tsmc.example.com"]
        assert sorted(p.digits for p in winner.phones) == ["0223456789", "0912345678"]  # the same mobile once
        assert sorted(m.company_id for m in winner.memberships) == sorted([tsmc, foxconn])
        assert winner.custom == {"size": "small", "vat": "123"}
        assert sorted(tags_of("contacts", [keep])[keep]) == ["VIP", "展覽名單"]
        assert db.session.scalar(select(func.count(Interaction.id)).where(Interaction.contact_id == keep)) == 3
        assert db.session.scalar(select(func.count(Interaction.id)).where(Interaction.contact_id == other)) == 0
        assert db.session.scalar(select(opportunities_stub.Deal.contact_id)) == keep  # the other plugin moved it
        assert db.session.get(Contact, other) is None  # in the trash
        trashed = db.session.scalar(select(Contact).where(Contact.id == other).execution_options(include_deleted=True))
        assert trashed.deleted_at is not None
        assert db.session.scalar(select(func.count(ContactEmail.id))) == 2
        assert db.session.scalar(select(func.count(ContactPhone.id))) == 2
        assert db.session.scalar(select(func.count(ContactCompany.id))) == 2
        audit = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "contacts_merge"))
        assert audit.user_id == admin.id and f"#{other}" in audit.summary


def test_merge_refuses_stale_versions_and_needs_the_permission_on_both(
    app, tenant, admin, admin_client, create, make_user, client_as
):
    a = create(tenant, "contacts", {"name": "A"}, admin)
    b = create(tenant, "contacts", {"name": "B"}, admin)
    response = admin_client.post(f"/contacts/merge/contact/{a}", data={"with": b, "version_a": 0, "version_b": 1})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"with={b}")
    assert admin_client.get(f"/contacts/contacts/{b}").status_code == 200  # nothing merged
    rep = make_user(
        tenant, grants={"contacts.contact.view": "all", "contacts.contact.edit": "own", "contacts.merge": "own"}
    )
    mine = create(tenant, "contacts", {"name": "Mine"}, rep)
    client = client_as(rep)
    assert client.get(f"/contacts/merge/contact/{mine}", query_string={"with": a}).status_code == 404
    reader = make_user(tenant, grants={"contacts.contact.view": "all", "contacts.contact.edit": "all"})
    assert client_as(reader).get(f"/contacts/merge/contact/{a}", query_string={"with": b}).status_code == 403


def test_the_pick_screen_offers_likely_duplicates_and_a_search(admin_client, tenant, admin, create, existing):
    twin = create(tenant, "contacts", {"name": "Ming Wang", "email": "ming@tsmc.example.com"}, admin)
    page = admin_client.get(f"/contacts/merge/contact/{existing}").get_data(as_text=True)
    assert f"with={twin}" in page
    found = admin_client.get(f"/contacts/merge/contact/{existing}", query_string={"q": "Ming"}).get_data(as_text=True)
    assert f"with={twin}" in found
    panel = admin_client.get(f"/contacts/panels/duplicates/contact/{existing}").get_data(as_text=True)
    assert f"with={twin}" in panel and "same e-mail address" in panel


def test_merging_companies_moves_people_timeline_and_tags(app, tenant, admin, admin_client, create, in_tenant):
    keep = create(tenant, "companies", {"name": "台積電"}, admin)
    other = create(tenant, "companies", {"name": "台灣積體電路製造", "tax_id": "22099131"}, admin)
    both = create(
        tenant, "contacts", {"name": "兩邊都有", "companies": [{"company_id": keep}, {"company_id": other}]}, admin
    )
    only = create(tenant, "contacts", {"name": "只在另一家", "company_name": "台灣積體電路製造"}, admin)
    with in_tenant(tenant):
        add_entry("meeting", company_id=other, subject="kick-off")
        db.session.commit()
        versions = (db.session.get(Company, keep).version, db.session.get(Company, other).version)
    response = admin_client.post(
        f"/contacts/merge/company/{keep}",
        data={"with": other, "version_a": versions[0], "version_b": versions[1], "into": "a", "field_tax_id": "b"},
    )
    assert response.status_code == 302
    with in_tenant(tenant):
        assert db.session.get(Company, keep).tax_id == "22099131"
        moved = db.session.get(Contact, only)
        assert (moved.company_id, moved.company_name) == (keep, "台積電")
        assert [m.company_id for m in db.session.get(Contact, both).memberships] == [keep]
        assert db.session.scalar(select(Interaction.company_id)) == keep
        assert db.session.get(Company, other) is None
