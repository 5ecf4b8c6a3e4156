"""Contacts imported from a spreadsheet: Chinese headers, phones and companies become child rows and links,
duplicates are found by e-mail or phone digits."""

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from core import db
from core.cli import main as crm
from plugins.contacts.models import Company, Contact, ContactEmail, ContactPhone


def run_import(app, path, *extra):
    result = app.test_cli_runner().invoke(crm, ["import", "contacts", str(path), "--tenant", "acme", *extra])
    assert result.exit_code == 0, result.output
    return result.output


def test_a_big5_file_with_chinese_headers(app, tenant, admin, tmp_path, in_tenant):
    path = tmp_path / "contacts.csv"
    rows = [
        "姓名,手機,電子郵件,公司名稱,職稱,縣市",
        "王小明,0912-345-678,ming@tsmc.example.com,台積電,採購經理,新竹市",
        "林美玲,0922 111 222,meiling@example.com,台積電,工程師,台北市",
        "陳建宏,+886 933 000 111,,鴻海精密,,",
    ]
    path.write_bytes("\r\n".join(rows).encode("big5"))
    output = run_import(app, path)
    assert "3" in output
    with in_tenant(tenant):
        assert db.session.scalar(select(func.count(Contact.id))) == 3
        assert sorted(db.session.scalars(select(Company.name))) == ["台積電", "鴻海精密"]
        ming = db.session.scalar(select(Contact).where(Contact.name == "王小明"))
        assert (ming.company_name, ming.title, ming.address_city) == ("台積電", "採購經理", "新竹市")
        assert [(p.label, p.digits) for p in ming.phones] == [("mobile", "0912345678")]
        assert ming.owner_id == admin.id


def test_duplicates_are_matched_by_phone_digits_and_updated(app, tenant, admin, create, tmp_path, in_tenant):
    existing = create(tenant, "contacts", {"name": "王小明", "mobile": "0912-345-678"}, admin)
    path = tmp_path / "again.csv"
    path.write_text("Name,Mobile Phone,Job Title\n王小明,+886 912 345 678,總經理\n", encoding="utf-8-sig")
    run_import(app, path, "--on-duplicate", "update", "--match", "mobile")
    with in_tenant(tenant):
        assert db.session.scalar(select(func.count(Contact.id))) == 1
        contact = db.session.get(Contact, existing)
        assert contact.title == "總經理"
        assert db.session.scalar(select(func.count(ContactPhone.id))) == 1  # the same number, not a second one


# -------------------------------------------------------------------------------- bulk (set-based) import

HEADERS = "姓名,電子郵件,手機,電話,公司名稱,職稱"


def child_rows(contact):
    """What a user sees of a contact: the copies on the row, and its addresses, numbers and companies in order."""
    return (
        (contact.email, contact.mobile, contact.phone, contact.company_name, contact.name_key, contact.department_id),
        [(e.label, e.email, e.email_key, e.position) for e in contact.emails],
        [(p.label, p.number, p.digits, p.position) for p in contact.phones],
        [(m.company.name, m.role, m.position) for m in contact.memberships],
    )


def test_an_import_writes_what_the_form_writes_and_links_companies_once(
    app, tenant, make_user, create, tmp_path, in_tenant, monkeypatch
):
    monkeypatch.setattr("core.entities.importing.engine.BATCH", 2)  # companies named again in later batches
    sales = make_user(tenant, email="sales@acme.example.com", groups=["administrators"], departments=["北區"])
    tsmc = create(tenant, "companies", {"name": "台積電 股份有限公司"}, sales)
    rows = [
        "王小明,Ming.Wang@Example.com,0912-345-678,(02) 2345-6789,台積電股份有限公司,經理",
        "林美玲,meiling@example.com,+886 922 111 222,+886 922 111 222,鴻海精密,工程師",  # one number twice
        "陳建宏,,0933 000 111,,鴻海 精密,",
        "張志明,chih@example.com,,03-1234567,,",
        "李小華,hua@example.com,,,鴻海精密,",
    ]
    path = tmp_path / "contacts.csv"
    path.write_text("\n".join([HEADERS, *rows]) + "\n", encoding="utf-8")
    run_import(app, path, "--as", "sales@acme.example.com")
    with in_tenant(tenant):
        companies = db.session.execute(select(Company.name, Company.name_key, Company.department_id)).all()
        department = db.session.get(Contact, db.session.scalar(select(Contact.id).limit(1))).department_id
        assert department is not None  # the importer's department, as for a contact entered in the form
        # The existing company is reused (names compared ignoring spaces); the missing one is created once.
        assert sorted(companies) == [
            ("台積電 股份有限公司", "台積電股份有限公司", department),
            ("鴻海精密", "鴻海精密", department),
        ]
        imported = {c.name: child_rows(c) for c in db.session.scalars(select(Contact))}
        assert imported["王小明"][2] == [
            ("mobile", "0912-345-678", "0912345678", 0),
            ("work", "(02) 2345-6789", "0223456789", 1),
        ]
        assert imported["王小明"][3] == [("台積電 股份有限公司", None, 0)]
        assert imported["王小明"][0][:4] == (
            "Ming.Wang@Example.com",
            "0912-345-678",
            "(02) 2345-6789",
            "台積電 股份有限公司",
        )
        assert imported["王小明"][1] == [("work", "Ming.Wang@Example.com", "ming.wang@example.com", 0)]
        assert imported["林美玲"][2] == [("mobile", "+886 922 111 222", "0922111222", 0)]
        assert imported["張志明"][3] == [] and imported["張志明"][0][3] is None
        assert db.session.get(Company, tsmc).name == "台積電 股份有限公司"
    # The same data entered one contact at a time through the entity service gives the same rows.
    for line in rows:
        name, email, mobile, phone, company, title = line.split(",")
        data = {"name": name + "2", "email": email or None, "mobile": mobile or None, "phone": phone or None}
        create(tenant, "contacts", {**data, "company_name": company or None, "title": title or None}, sales)
    with in_tenant(tenant):
        for contact in db.session.scalars(select(Contact).where(Contact.name.like("%2"))):
            single = child_rows(contact)
            assert (single[0][:4] + single[0][5:], *single[1:]) == (
                imported[contact.name[:-1]][0][:4] + imported[contact.name[:-1]][0][5:],
                *imported[contact.name[:-1]][1:],
            )
        assert db.session.scalar(select(func.count(Company.id))) == 2  # nothing created twice


def test_without_permission_to_create_companies_the_name_stays_text(app, tenant, admin, make_user, tmp_path, in_tenant):
    grants = {"contacts.contact.import": "all", "contacts.contact.create": "all", "contacts.contact.view": "all"}
    grants["contacts.company.view"] = "all"
    make_user(tenant, email="clerk@acme.example.com", grants=grants)
    path = tmp_path / "contacts.csv"
    path.write_text(f"{HEADERS}\n王小明,,0912-345-678,,新公司,\n", encoding="utf-8")
    run_import(app, path, "--as", "clerk@acme.example.com")
    with in_tenant(tenant):
        contact = db.session.scalar(select(Contact))
        assert (contact.company_name, contact.company_id, contact.memberships) == ("新公司", None, [])
        assert db.session.scalar(select(func.count(Company.id))) == 0


def test_duplicates_in_the_file_and_in_the_database_are_skipped(app, tenant, admin, create, tmp_path, in_tenant):
    create(tenant, "contacts", {"name": "王小明", "email": "ming@example.com"}, admin)
    path = tmp_path / "contacts.csv"
    rows = ["王大明,MING@example.com,,,,", "林美玲,meiling@example.com,,,,", "林美玲 2,Meiling@example.com,,,,"]
    path.write_text("\n".join([HEADERS, *rows]) + "\n", encoding="utf-8")
    run_import(app, path, "--on-duplicate", "skip", "--match", "email")
    with in_tenant(tenant):
        assert sorted(db.session.scalars(select(Contact.name))) == ["林美玲", "王小明"]
        assert db.session.scalar(select(func.count(ContactEmail.id))) == 2


def test_a_bad_row_stores_no_contact_and_no_company(app, tenant, admin, tmp_path, in_tenant, monkeypatch):
    monkeypatch.setattr("core.entities.importing.engine.BATCH", 2)  # the bad row is in the last batch
    path = tmp_path / "contacts.csv"
    rows = ["王小明,ming@example.com,,,台積電,", "林美玲,,,,鴻海,", "陳建宏,not-an-address,,,聯發科,"]
    path.write_text("\n".join([HEADERS, *rows]) + "\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(crm, ["import", "contacts", str(path), "--tenant", "acme"])
    assert result.exit_code != 0
    assert "4" in result.output and "電子郵件" in result.output  # the row as a spreadsheet numbers it, the column
    with in_tenant(tenant):
        assert db.session.scalar(select(func.count(Contact.id))) == 0
        assert db.session.scalar(select(func.count(Company.id))) == 0


def test_imported_contacts_are_found_by_global_search(app, tenant, admin, admin_client, tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_text(f"{HEADERS}\n王小明,wang.xm@example.com,0912-345-678,(02) 2345-6789,台積電,\n", encoding="utf-8")
    run_import(app, path)
    for query in ("wang.xm", "example.com", "0912345678", "345678", "23456789", "小明", "台積"):
        page = admin_client.get("/search", query_string={"q": query}).get_data(as_text=True)
        assert "王小明" in page, query
    assert "台積電" in admin_client.get("/search", query_string={"q": "台積電"}).get_data(as_text=True)


def test_an_import_uses_only_its_own_workspace_companies(app, tenant, admin, make_tenant, make_user, create, tmp_path):
    other = make_tenant("globex")
    create(other, "companies", {"name": "台積電"}, make_user(other, groups=["administrators"]))
    path = tmp_path / "contacts.csv"
    path.write_text(f"{HEADERS}\n王小明,,0912-345-678,,台積電,\n", encoding="utf-8")
    run_import(app, path)
    from core.tenancy import tenant_context

    with app.app_context(), tenant_context(tenant):
        company = db.session.scalar(select(Company))
        contact = db.session.scalar(select(Contact))
        assert company.tenant_id == tenant.id and contact.company_id == company.id
        assert {p.tenant_id for p in contact.phones} == {tenant.id}


def test_a_company_in_the_trash_is_not_linked(app, tenant, admin, create, tmp_path, in_tenant):
    from core.db import utcnow

    trashed = create(tenant, "companies", {"name": "台積電"}, admin)
    with in_tenant(tenant):
        db.session.get(Company, trashed).deleted_at = utcnow()
        db.session.commit()
    path = tmp_path / "contacts.csv"
    path.write_text(f"{HEADERS}\n王小明,,0912-345-678,,台積電,\n", encoding="utf-8")
    run_import(app, path)
    with in_tenant(tenant):
        contact = db.session.scalar(select(Contact))
        assert contact.company_id not in (None, trashed) and contact.company_name == "台積電"


def test_the_import_loads_contacts_exactly_as_their_schema_does(app, tenant, admin, in_tenant):
    """The contact schema's hooks (strings cleaned, grade spelled as the list has it, a name from its parts, a
    country by name, repeated addresses refused) run the same through the import's faster loader."""
    from core.testing import assert_imports_load_like_the_schema

    rows = [
        {"name": "王小明", "email": "ming@example.com", "mobile": "0912-345-678", "customer_grade": "a"},
        {"given_name": "Ann", "family_name": "Lee", "address_country": "Taiwan", "tags": ["VIP"]},
        {"name": "  陳 美玲 ", "phone": "abc", "customer_grade": "Z", "email": "bad@@example"},
        {"name": "Dup", "emails": [{"email": "a@example.com"}, {"email": "A@example.com"}]},
        {"name": "Owner", "owner_id": admin.id, "lifecycle_stage": "customer", "birthday": "1990-02-30"},
        {"company_name": "台積電", "title": "經理"},
    ]
    with in_tenant(tenant):
        assert_imports_load_like_the_schema("contacts", rows)


@pytest.mark.parametrize("missing", ["between", "after"])
def test_bulk_child_rows_may_name_only_contacts_that_exist(app, tenant, admin, in_tenant, missing):
    """On PostgreSQL the import checks the references of its bulk rows itself (core.entities.bulk_references) and
    trusts the ids it inserted: an id between two of its batches, or after them, is still looked up."""
    from core.entities.bulk import BulkWriter
    from core.entities.registry import all_entities

    if app.extensions["crm.db"].engine.dialect.name != "postgresql":
        pytest.skip("the database checks every row of SQLite and MariaDB itself")

    def emails(contact_ids):
        return [{"contact_id": i, "email": "x@example.com", "email_key": "x@example.com"} for i in contact_ids]

    with in_tenant(tenant):
        writer = BulkWriter(admin)
        with pytest.raises(IntegrityError, match="is not present in table"), writer.writing():
            first = writer.create(all_entities()["contacts"], [{"name": f"A{i}"} for i in range(3)])
            removed = Contact(name="created and deleted between two batches")
            db.session.add(removed)
            db.session.flush()
            db.session.delete(removed)
            db.session.flush()
            second = writer.create(all_entities()["contacts"], [{"name": f"B{i}"} for i in range(3)])
            writer.add(ContactEmail, emails(first + second))  # as bulk_apply_contacts writes them
            assert first[-1] < removed.id < second[0]
            writer.add(ContactEmail, emails([second[0], removed.id if missing == "between" else second[-1] + 1]))
        db.session.rollback()
        assert db.session.scalar(select(func.count(Contact.id))) == 0
        assert db.session.scalar(select(func.count(ContactEmail.id))) == 0


def test_updated_contacts_may_name_new_companies_between_batches_of_new_ones(
    app, tenant, admin, create, tmp_path, in_tenant, monkeypatch
):
    """Updates go through the ORM (a new company named by an updated contact is created there), new contacts and
    their companies in bulk: the bulk ids must not collide with the ones the ORM took between two batches."""
    import core.entities.importing.engine as engine

    monkeypatch.setattr(engine, "BATCH", 2)
    create(tenant, "contacts", {"name": "王小明", "email": "ming@example.com"}, admin)
    path = tmp_path / "mixed.csv"
    rows = [
        "Name,E-mail Address,Company",
        "林美玲,meiling@example.com,甲公司",
        "王小明,ming@example.com,乙公司",
        "陳建宏,chen@example.com,丙公司",
        "李大同,li@example.com,丁公司",
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    output = run_import(app, path, "--on-duplicate", "update", "--match", "email")
    assert "error" not in output.lower(), output
    with in_tenant(tenant):
        names = {c.name: c.company_name for c in db.session.scalars(select(Contact))}
        assert names == {"王小明": "乙公司", "林美玲": "甲公司", "陳建宏": "丙公司", "李大同": "丁公司"}
        assert sorted(db.session.scalars(select(Company.name))) == ["丁公司", "丙公司", "乙公司", "甲公司"]
