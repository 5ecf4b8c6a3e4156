"""Companies and contacts written through the kernel's entity service: child rows, copies, links, renames."""

from sqlalchemy import select

from core import db
from core.entities import service
from core.entities.registry import all_entities
from core.entities.schemas import schema_for
from core.models import User
from plugins.contacts.models import Company, Contact, ContactCompany, ContactEmail, ContactPhone


def write(plural, data, user, record=None, partial=False):
    entity = all_entities()[plural]
    loaded = schema_for(entity, partial=partial).load(data)
    acting = db.session.get(User, user.id)
    if record is None:
        record = service.create(entity, loaded, acting)
    else:
        service.update(entity, record, loaded, record.version, acting)
    db.session.commit()
    return record


def test_a_contact_with_nested_emails_phones_and_companies(app, tenant, admin, in_tenant):
    with in_tenant(tenant):
        tsmc = write("companies", {"name": "台積電", "tax_id": "22099131"}, admin)
        foxconn = write("companies", {"name": "鴻海精密", "tax_id": "04541302"}, admin)
        contact = write(
            "contacts",
            {
                "name": "王小明",
                "title": "採購經理",
                "emails": [{"email": "Ming@TSMC.example.com"}, {"email": "ming@home.example.com", "label": "home"}],
                "phones": [{"number": "(03) 563-6688 #12", "label": "work"}, {"number": "0912-345-678"}],
                "companies": [{"company_id": tsmc.id, "role": "採購經理"}, {"company_id": foxconn.id, "role": "顧問"}],
            },
            admin,
        )
        assert [e.email for e in contact.emails] == ["Ming@TSMC.example.com", "ming@home.example.com"]
        assert [p.digits for p in contact.phones] == ["035636688", "0912345678"]
        # The copies on the contact row serve lists, sorting and search.
        assert (contact.email, contact.mobile, contact.phone) == (
            "Ming@TSMC.example.com",
            "0912-345-678",
            "(03) 563-6688 #12",
        )
        assert (contact.company_id, contact.company_name) == (tsmc.id, "台積電")
        dumped = schema_for(all_entities()["contacts"]).dump(contact)
        assert dumped["companies"] == [
            {"company_id": tsmc.id, "company_name": "台積電", "role": "採購經理"},
            {"company_id": foxconn.id, "company_name": "鴻海精密", "role": "顧問"},
        ]
        assert dumped["emails"][0] == {"email": "Ming@TSMC.example.com", "label": "work"}

        # Replacing a list keeps the rows that stay (same ids) and removes the others.
        kept = contact.phones[1].id
        write("contacts", {"phones": [{"number": "+886 912 345 678"}]}, admin, contact, partial=True)
        assert [(p.id, p.number) for p in contact.phones] == [(kept, "+886 912 345 678")]
        assert contact.phone is None and contact.mobile == "+886 912 345 678"
        write("contacts", {"companies": [{"company_id": foxconn.id}]}, admin, contact, partial=True)
        assert (contact.company_id, contact.company_name) == (foxconn.id, "鴻海精密")
        assert db.session.scalar(select(ContactCompany.id).where(ContactCompany.company_id == tsmc.id)) is None


def test_flat_fields_edit_the_first_row_as_a_form_or_a_spreadsheet_would(app, tenant, admin, in_tenant):
    with in_tenant(tenant):
        contact = write("contacts", {"name": "林美玲", "email": "meiling@example.com", "mobile": "0922-111-222"}, admin)
        assert [(e.label, e.email) for e in contact.emails] == [("work", "meiling@example.com")]
        assert [(p.label, p.number) for p in contact.phones] == [("mobile", "0922-111-222")]
        write(
            "contacts",
            {"email": "mei.ling@example.com", "phone": "(02) 2345-6789", "mobile": "0922 111 222"},
            admin,
            contact,
            partial=True,
        )
        assert [e.email for e in contact.emails] == ["mei.ling@example.com"]  # changed, not added
        assert sorted((p.label, p.digits) for p in contact.phones) == [("mobile", "0922111222"), ("work", "0223456789")]
        write("contacts", {"email": None, "phone": None}, admin, contact, partial=True)
        assert contact.emails == [] and contact.email is None
        assert [(p.label, p.number) for p in contact.phones] == [("mobile", "0922 111 222")]
        assert db.session.scalar(select(ContactEmail.id)) is None  # the row is gone, not orphaned


def test_company_name_links_an_existing_company_or_creates_one(app, tenant, admin, make_user, in_tenant):
    with in_tenant(tenant):
        tsmc = write("companies", {"name": "台積電"}, admin)
        linked = write("contacts", {"name": "王小明", "company_name": " 台積電 "}, admin)
        assert linked.company_id == tsmc.id
        created = write("contacts", {"name": "張雅婷", "company_name": "聯發科技"}, admin)
        new_company = db.session.get(Company, created.company_id)
        assert new_company.name == "聯發科技" and new_company.owner_id == admin.id
    # Someone who may not create companies keeps the name as text, unlinked.
    clerk = make_user(tenant, grants={"contacts.contact.create": "all", "contacts.contact.view": "own"})
    with in_tenant(tenant):
        plain = write("contacts", {"name": "陳建宏", "company_name": "不存在的公司"}, clerk)
        assert (plain.company_id, plain.company_name) == (None, "不存在的公司")
        assert db.session.scalar(select(Company.id).where(Company.name == "不存在的公司")) is None


def test_renaming_a_company_renames_it_on_its_people_and_in_search(app, tenant, admin, admin_client, in_tenant):
    with in_tenant(tenant):
        company = write("companies", {"name": "台灣精密"}, admin)
        contact = write("contacts", {"name": "黃志偉", "company_name": "台灣精密"}, admin)
        write("companies", {"name": "台灣精密工業股份有限公司"}, admin, company, partial=True)
        db.session.expire_all()
        assert db.session.get(Contact, contact.id).company_name == "台灣精密工業股份有限公司"
    found = admin_client.get("/api/v1/contacts", query_string={"q": "工業"}).get_json()
    assert [row["name"] for row in found["data"]] == ["黃志偉"]


def test_new_records_get_their_creators_department_and_owner(app, tenant, make_user, in_tenant):
    rep = make_user(tenant, departments=["北區業務部"], groups=["sales"])
    with in_tenant(tenant):
        contact = write("contacts", {"name": "吳宗翰"}, rep)
        assert contact.owner_id == rep.id
        assert contact.department_id is not None


def test_delete_moves_to_the_trash_and_restore_brings_back_the_child_rows(app, tenant, admin, in_tenant):
    entity_name = "contacts"
    with in_tenant(tenant):
        contact = write(entity_name, {"name": "蔡佩珊", "mobile": "0933-000-111"}, admin)
        service.delete(all_entities()[entity_name], contact)
        db.session.commit()
        assert db.session.scalar(select(Contact.id)) is None
        trashed = service.load(
            all_entities()[entity_name], contact.id, "view", db.session.get(User, admin.id), trash=True
        )
        service.restore(all_entities()[entity_name], trashed)
        db.session.commit()
        assert [p.number for p in db.session.get(Contact, contact.id).phones] == ["0933-000-111"]
        assert db.session.scalar(select(ContactPhone.digits)) == "0933000111"


def test_an_imports_flat_rows_get_the_child_rows_of_the_single_record_rules():
    """An import works out a row of flat fields directly; every combination gives what the draft path gives."""
    import itertools
    from types import SimpleNamespace

    from plugins.contacts.records import ContactDraft, _apply_children, _draft_children, _flat_children, sync_contact

    absent = object()
    emails = [absent, None, "", " Ming@Example.com"]
    phones = [absent, None, "", "0912-345-678", "+886 912 345 678", "(02) 2345-6789", "n/a"]
    names = [absent, None, "", "台積電", "Unknown Co."]
    companies = {"台積電": SimpleNamespace(id=7, name="台積電 股份有限公司")}
    for email, mobile, phone, company in itertools.product(emails, phones, phones, names):
        given = {"email": email, "mobile": mobile, "phone": phone, "company_name": company}
        data = {key: value for key, value in given.items() if value is not absent}
        draft = ContactDraft()
        _apply_children(draft, data, companies.get)
        sync_contact(draft)
        assert _flat_children(data, companies.get) == _draft_children(draft), data
