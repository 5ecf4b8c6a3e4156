"""Contacts through the kernel's real pages and API, the menu, default grants, and switching the module off."""

from sqlalchemy import select

from core import db
from core.tenant_plugins import disable_plugin, enable_plugin
from plugins.contacts.models import Contact, Interaction


def test_create_a_contact_through_the_form_then_see_it(admin_client, tenant, in_tenant):
    response = admin_client.post(
        "/contacts/contacts/new",
        data={
            "name": "王小明",
            "title": "採購經理",
            "company_name": "台積電",
            "mobile": "0912-345-678",
            "email": "ming@tsmc.example.com",
            "lifecycle_stage": "customer",
            "partner_type": "dealer",
            "customer_grade": "A",
            "address_city": "新竹市",
            "address_district": "東區",
            "address_street": "力行六路8號",
            "tags": "VIP, 展覽名單",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    detail = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "王小明" in detail and "Dealer" in detail and "展覽名單" in detail
    assert 'href="tel:0912345678"' in detail and "https://www.google.com/maps/search/?api=1&amp;query=" in detail
    assert 'name="emails"' not in detail
    form = admin_client.get("/contacts/contacts/new").get_data(as_text=True)
    assert 'name="emails"' not in form and 'name="phones"' not in form and 'name="mobile"' in form
    with in_tenant(tenant):
        contact = db.session.scalar(select(Contact))
        assert [p.digits for p in contact.phones] == ["0912345678"] and contact.company_id is not None


def test_contacts_and_companies_through_the_api(app, tenant, admin, api_as):
    api = api_as(admin)
    company = api.post("/api/v1/companies", json={"name": "台積電", "tax_id": "22099131", "customer_grade": "A"})
    assert company.status_code == 201, company.get_json()
    company_id = company.get_json()["id"]
    bad = api.post("/api/v1/companies", json={"name": "假公司", "tax_id": "12345678"})
    assert bad.status_code == 422 and "tax_id" in str(bad.get_json())
    created = api.post(
        "/api/v1/contacts",
        json={
            "name": "王小明",
            "emails": [
                {"email": "ming@tsmc.example.com", "label": "work"},
                {"email": "ming@home.example.com", "label": "home"},
            ],
            "phones": [{"number": "0912-345-678", "label": "mobile"}, {"number": "(03) 563-6688", "label": "work"}],
            "companies": [{"company_id": company_id, "role": "採購經理"}],
            "tags": ["VIP"],
        },
    )
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["email"] == "ming@tsmc.example.com" and body["mobile"] == "0912-345-678"
    assert body["companies"] == [{"company_id": company_id, "company_name": "台積電", "role": "採購經理"}]
    assert body["company_name"] == "台積電" and body["tags"] == ["VIP"]
    changed = api.patch(
        f"/api/v1/contacts/{body['id']}", json={"version": body["version"], "email": "wang@tsmc.example.com"}
    )
    assert changed.status_code == 200, changed.get_json()
    assert [e["email"] for e in changed.get_json()["emails"]] == ["wang@tsmc.example.com", "ming@home.example.com"]
    listed = api.get("/api/v1/contacts", query_string={"company_id": company_id}).get_json()
    assert [row["name"] for row in listed["data"]] == ["王小明"]
    wrong = api.post("/api/v1/contacts", json={"name": "x", "companies": [{"company_id": 4242}]})
    assert wrong.status_code == 422


def test_global_search_finds_contacts_by_chinese_fragment_and_phone_digits(admin_client, tenant, admin, create):
    create(tenant, "contacts", {"name": "王小明", "mobile": "0912-345-678", "company_name": "台積電"}, admin)
    for query in ("小明", "台積", "0912345678", "912 345"):
        page = admin_client.get("/search", query_string={"q": query}).get_data(as_text=True)
        assert "王小明" in page, query


def test_menu_entries(admin_client):
    page = admin_client.get("/").get_data(as_text=True)
    for href in (
        'href="/contacts/contacts/"',
        'href="/contacts/companies/"',
        'href="/contacts/tasks"',
        'href="/contacts/notifications"',
    ):
        assert href in page
    assert 'data-lazy-url="/contacts/panels/my-tasks"' in page


def test_default_grants_sales_see_their_department_and_edit_their_own(
    app, tenant, make_user, client_as, create, in_tenant
):
    from core.models import Department, DepartmentGroup, Group

    with in_tenant(tenant):
        sales = db.session.scalar(select(Group).where(Group.role == "sales"))
        north, south = Department(name="北區業務部"), Department(name="南區業務部")
        db.session.add_all([north, south])
        db.session.flush()
        db.session.add_all(
            [
                DepartmentGroup(department_id=north.id, group_id=sales.id),
                DepartmentGroup(department_id=south.id, group_id=sales.id),
            ]
        )
        db.session.commit()
    rep = make_user(tenant, departments=["北區業務部"])
    colleague = make_user(tenant, departments=["北區業務部"])
    southern = make_user(tenant, departments=["南區業務部"])
    readonly = make_user(tenant, groups=["readonly"])
    ours = create(tenant, "contacts", {"name": "北區客戶"}, colleague)
    theirs = create(tenant, "contacts", {"name": "南區客戶"}, southern)
    client = client_as(rep)
    listing = client.get("/contacts/contacts/").get_data(as_text=True)
    assert "北區客戶" in listing and "南區客戶" not in listing
    assert client.get(f"/contacts/contacts/{theirs}").status_code == 404
    assert client.get(f"/contacts/contacts/{ours}/edit").status_code == 404  # a colleague's: view, not edit
    assert (
        client.post(
            f"/contacts/log/contact/{ours}/note", data={"body": "x", "occurred_at": "2026-01-05T10:00"}
        ).status_code
        == 302
    )
    watcher = client_as(readonly)
    assert "南區客戶" in watcher.get("/contacts/contacts/").get_data(as_text=True)
    assert watcher.get(f"/contacts/log/contact/{theirs}/call").status_code == 403


def test_disabling_contacts_removes_menu_pages_panels_api_and_search_and_keeps_the_rows(
    app, tenant, admin, admin_client, create, in_tenant
):
    contact = create(tenant, "contacts", {"name": "王小明"}, admin)
    with in_tenant(tenant):
        from plugins.contacts.timeline import add_entry

        task = add_entry("task", contact_id=contact, subject="回電", user_id=admin.id)
        db.session.commit()
        task_id = task.id
        disable_plugin(db.session.merge(tenant), "contacts")
        db.session.commit()
    home = admin_client.get("/").get_data(as_text=True)
    assert "/contacts/" not in home
    for url in (
        "/contacts/contacts/",
        f"/contacts/contacts/{contact}",
        "/contacts/companies/",
        "/contacts/tasks",
        "/contacts/notifications",
        f"/contacts/timeline/contact/{contact}",
        "/api/v1/contacts",
        f"/contacts/log/contact/{contact}/call",
    ):
        assert admin_client.get(url).status_code == 404, url
    assert admin_client.post(f"/contacts/tasks/{task_id}/done").status_code == 404
    assert "王小明" not in admin_client.get("/search", query_string={"q": "小明"}).get_data(as_text=True)
    with in_tenant(tenant):
        enable_plugin(db.session.merge(tenant), "contacts")
        db.session.commit()
        assert db.session.get(Interaction, task_id).done_at is None
    assert admin_client.get(f"/contacts/contacts/{contact}").status_code == 200
    assert "王小明" in admin_client.get("/search", query_string={"q": "小明"}).get_data(as_text=True)


def test_every_email_and_phone_number_of_a_contact_is_searchable(admin_client, tenant, admin, create):
    create(
        tenant,
        "contacts",
        {
            "name": "陳建宏",
            "emails": [{"email": "chen@work.example.com"}, {"email": "jianhong.home@example.net", "label": "home"}],
            "phones": [{"number": "0933-111-222"}, {"number": "(04) 2345-6789 #321", "label": "work"}],
        },
        admin,
    )
    for query in ("jianhong.home", "0423456789", "2345-6789", "0933111222"):
        found = admin_client.get("/api/v1/contacts", query_string={"q": query}).get_json()
        assert [row["name"] for row in found["data"]] == ["陳建宏"], query
