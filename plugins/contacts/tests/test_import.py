"""Contacts imported from a spreadsheet: Chinese headers, phones and companies become child rows and links,
duplicates are found by e-mail or phone digits."""

from sqlalchemy import func, select

from core import db
from core.cli import main as crm
from plugins.contacts.models import Company, Contact, ContactPhone


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
