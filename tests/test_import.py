"""Import of CSV and XLSX files into an entity (tests/items_plugin): encodings, mapping suggestions, the pages,
all-or-nothing, duplicates, permissions, tenants and the `crm import` command."""

import codecs
import io
import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from core import db
from core.cli import main as crm
from core.entities import ACTIONS
from core.entities.importing import Plan, import_file, suggest
from core.entities.importing.readers import detect_encoding
from core.entities.tags import Tag, tags_of
from core.models import AuditEntry
from tests.items_plugin.models import Item

ALL = {f"items.item.{action}": "all" for action in ACTIONS}


@pytest.fixture
def acme(items_app, make_tenant):
    return make_tenant("acme", use_app=items_app)


@pytest.fixture
def globex(items_app, make_tenant):
    return make_tenant("globex", use_app=items_app)


@pytest.fixture
def person(items_app, make_user):
    def factory(tenant, grants=None, **kwargs):
        return make_user(tenant, grants=grants if grants is not None else ALL, use_app=items_app, **kwargs)

    return factory


@pytest.fixture
def client_for(items_app, client_as):
    def factory(user):
        return client_as(user, use_app=items_app)

    return factory


@pytest.fixture
def items(items_app, in_tenant):
    """``items(tenant)``: the tenant's items as dicts, straight from the database."""

    def read(tenant):
        with in_tenant(tenant, use_app=items_app):
            rows = db.session.scalars(select(Item).order_by(Item.id))
            return [
                {
                    "id": r.id,
                    "name": r.name,
                    "email": r.email,
                    "phone": r.phone,
                    "amount": r.amount,
                    "due": r.due,
                    "status": r.status,
                    "notes": r.notes,
                    "owner_id": r.owner_id,
                }
                for r in rows
            ]

    return read


@pytest.fixture
def run(items_app, in_tenant, tmp_path):
    """``run(tenant, user, content, name="f.csv", **plan)``: import bytes as the user, commit, return the result."""

    def go(tenant, user, content, name="file.csv", dry_run=False, plan=None, encoding="auto"):
        path = tmp_path / name
        path.write_bytes(content)
        with in_tenant(tenant, use_app=items_app):
            from core.entities.registry import all_entities
            from core.models import User

            entity = all_entities()["items"]
            actor = db.session.get(User, user.id)
            result, importer = import_file(entity, actor, str(path), plan, encoding=encoding, dry_run=dry_run)
            db.session.commit()
            return result, importer

    return go


def csv_bytes(text, encoding="utf-8"):
    return text.encode(encoding)


def entity_of(app):
    with app.app_context():
        from core.entities.registry import all_entities

        return all_entities()["items"]


# ------------------------------------------------------------------------------------------- encodings


TRADITIONAL = (
    "名稱,電子郵件,電話,備註\n"
    "王小明,ming@example.com,0912-345-678,台積電採購部經理\n"
    "陳美玲,mei@example.com,02-2345-6789,鴻海精密工業\n"
)
SIMPLIFIED = (
    "名称,电子邮件,电话,备注\n"
    "王晓明,ming@example.cn,138-0013-8000,华为技术有限公司采购经理\n"
    "李红,hong@example.cn,010-1234-5678,阿里巴巴集团\n"
)


def test_encodings_are_detected():
    assert detect_encoding(TRADITIONAL.encode("cp950")) == "cp950"
    assert detect_encoding(SIMPLIFIED.encode("gb18030")) == "gb18030"
    assert detect_encoding(TRADITIONAL.encode("utf-8")) == "utf-8-sig"
    assert detect_encoding(codecs.BOM_UTF8 + TRADITIONAL.encode("utf-8")) == "utf-8-sig"
    assert detect_encoding("姓名\n林\n".encode("cp950")) == "cp950"
    assert detect_encoding("姓名\n林\n".encode("gb18030")) == "gb18030"


@pytest.mark.parametrize(
    ("text", "encoding", "bom"),
    [(TRADITIONAL, "cp950", b""), (SIMPLIFIED, "gb18030", b""), (TRADITIONAL, "utf-8", codecs.BOM_UTF8)],
    ids=["big5", "gb18030", "utf-8-bom"],
)
def test_chinese_files_in_every_encoding_import_correctly(acme, person, run, items, text, encoding, bom):
    user = person(acme)
    result, importer = run(acme, user, bom + text.encode(encoding))
    assert result.ok, result.errors
    assert importer.plan.mapping == ["name", "email", "phone", "notes"]
    stored = items(acme)
    lines = [line.split(",") for line in text.strip().splitlines()[1:]]
    assert [(i["name"], i["email"], i["phone"], i["notes"]) for i in stored] == [tuple(line) for line in lines]
    assert all(i["owner_id"] == user.id and i["status"] == "open" for i in stored)


def test_the_user_can_choose_the_encoding(acme, person, run, items):
    result, _importer = run(acme, person(acme), SIMPLIFIED.encode("gb18030"), encoding="gb18030")
    assert result.ok and [i["name"] for i in items(acme)] == ["王晓明", "李红"]


def test_semicolons_and_tabs_are_sniffed(acme, person, run, items):
    user = person(acme)
    assert run(acme, user, b"Name;E-mail\nAnn;ann@example.com\n")[0].ok
    assert run(acme, user, b"Name\tE-mail\nBob\tbob@example.com\n")[0].ok
    assert [(i["name"], i["email"]) for i in items(acme)] == [("Ann", "ann@example.com"), ("Bob", "bob@example.com")]


def test_excel_unicode_text_is_read(acme, person, run, items):
    """Excel's "Unicode text": UTF-16 with a byte-order mark, tab-separated."""
    assert run(acme, person(acme), "名稱\t電話\n王小明\t0912-345-678\n".encode("utf-16"), name="u.txt")[0].ok
    assert [(i["name"], i["phone"]) for i in items(acme)] == [("王小明", "0912-345-678")]


def test_xlsx_files_import_with_dates_and_numbers(acme, person, run, items, tmp_path):
    import datetime as dt

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["名稱", "E-mail Address", "Amount", "Due", "Phone"])
    sheet.append(["台積電", "tsmc@example.com", 1234.5, dt.datetime(2024, 3, 1), 912345678])
    sheet.append(["Foxconn", None, 12, dt.date(2025, 1, 31), None])
    buffer = io.BytesIO()
    book.save(buffer)
    result, importer = run(acme, person(acme), buffer.getvalue(), name="items.xlsx")
    assert result.ok, result.errors
    stored = items(acme)
    assert [(i["name"], i["email"], i["amount"], i["due"].isoformat(), i["phone"]) for i in stored] == [
        ("台積電", "tsmc@example.com", Decimal("1234.50"), "2024-03-01", "912345678"),
        ("Foxconn", None, Decimal("12.00"), "2025-01-31", None),
    ]


def test_cells_are_converted_for_their_field(acme, person, run, items, make_user, items_app):
    owner = make_user(acme, email="lin@acme.example.com", name="林美玲", use_app=items_app)
    text = (
        "Name,Amount,Due,Status,Owner,Tags\n"
        'A,"NT$1,234.50",113/02/29,Won,林美玲,"VIP, 台北"\n'
        "B,（１２）,2024年3月5日,lost,lin@acme.example.com,\n"
    )
    result, _importer = run(acme, person(acme), text.encode())
    assert result.ok, result.errors
    stored = items(acme)
    assert [(i["amount"], i["due"].isoformat(), i["status"], i["owner_id"]) for i in stored] == [
        (Decimal("1234.50"), "2024-02-29", "won", owner.id),
        (Decimal("-12.00"), "2024-03-05", "lost", owner.id),
    ]


# --------------------------------------------------------------------------------------------- mapping


GOOGLE = [
    "Name", "Given Name", "Additional Name", "Family Name", "Nickname", "Birthday", "Notes", "Group Membership",
    "E-mail 1 - Type", "E-mail 1 - Value", "Phone 1 - Type", "Phone 1 - Value", "Phone 2 - Type", "Phone 2 - Value",
    "Organization 1 - Name", "Organization 1 - Title",
]  # fmt: skip
GOOGLE_NEW = ["First Name", "Middle Name", "Last Name", "File As", "E-mail 1 - Value", "Phone 1 - Value", "Labels"]
OUTLOOK = [
    "Title", "First Name", "Middle Name", "Last Name", "Suffix", "Company", "Department", "Job Title",
    "Business Street", "Business City", "Business Phone", "Mobile Phone", "E-mail Address", "E-mail Display Name",
    "Notes", "Web Page", "Categories",
]  # fmt: skip


def mapping_of(entity, headers):
    return {h: t for h, t in zip(headers, suggest(entity, headers), strict=True) if t}


def test_google_contacts_headers_are_mapped(items_app, acme, in_tenant):
    entity = entity_of(items_app)
    with in_tenant(acme, use_app=items_app):
        assert mapping_of(entity, GOOGLE) == {
            "Name": "name",
            "Notes": "notes",
            "Group Membership": "tags",
            "E-mail 1 - Value": "email",
            "Phone 1 - Value": "phone",
        }
        # The current export has no full name: first, middle and last name together make the name.
        assert mapping_of(entity, GOOGLE_NEW) == {
            "First Name": "name",
            "Middle Name": "name",
            "Last Name": "name",
            "E-mail 1 - Value": "email",
            "Phone 1 - Value": "phone",
            "Labels": "tags",
        }


def test_outlook_headers_are_mapped(items_app, acme, in_tenant):
    entity = entity_of(items_app)
    with in_tenant(acme, use_app=items_app):
        mapped = mapping_of(entity, OUTLOOK)
    assert mapped == {
        "First Name": "name",
        "Middle Name": "name",
        "Last Name": "name",
        "Business Phone": "phone",
        "E-mail Address": "email",
        "Notes": "notes",
        "Categories": "tags",
        "Department": "department_id",
    }


def test_chinese_headers_are_mapped_in_both_scripts(items_app, acme, in_tenant):
    entity = entity_of(items_app)
    with in_tenant(acme, use_app=items_app):
        for headers in (
            ["姓名", "電話", "電子郵件", "備註", "標籤", "金額", "狀態", "負責人"],
            ["姓名", "电话", "电子邮件", "备注", "标签", "金额", "状态", "负责人"],
            ["名稱", "手機", "ｅ－ｍａｉｌ", "附註"],
        ):
            targets = suggest(entity, headers)
            assert targets[:4] == ["name", "phone", "email", "notes"], headers
        assert suggest(entity, ["姓名", "電話", "電子郵件", "備註", "標籤", "金額", "狀態", "負責人"])[4:] == [
            "tags",
            "amount",
            "status",
            "owner_id",
        ]


def test_contact_style_fields_take_the_common_headers(items_app, acme, in_tenant):
    """An entity with company, title, mobile, address and website fields (as a contacts module has)."""
    from flask_babel import lazy_gettext as _l
    from marshmallow import Schema, fields

    from core.entities import Entity

    class ContactSchema(Schema):
        full_name = fields.String(required=True, metadata={"label": _l("Name"), "synonyms": ["name"]})
        first_name = fields.String()
        last_name = fields.String()
        email = fields.Email()
        phone = fields.String(metadata={"widget": "phone"})
        mobile = fields.String(metadata={"widget": "phone"})
        company_name = fields.String()
        title = fields.String(metadata={"label": "Job title"})
        address = fields.String()
        website = fields.URL()
        remarks = fields.String(metadata={"synonyms": ["notes"]})

    entity = Entity("contact", "contacts", Item, ContactSchema, "Contact", "Contacts", "items.contact")
    with in_tenant(acme, use_app=items_app):
        assert mapping_of(entity, OUTLOOK) == {
            "First Name": "first_name",
            "Last Name": "last_name",
            "Company": "company_name",
            "Job Title": "title",
            "Business Street": "address",
            "Business Phone": "phone",
            "Mobile Phone": "mobile",
            "E-mail Address": "email",
            "Notes": "remarks",
            "Web Page": "website",
        }
        assert mapping_of(entity, GOOGLE) == {
            "Name": "full_name",
            "Given Name": "first_name",
            "Family Name": "last_name",
            "Notes": "remarks",
            "E-mail 1 - Value": "email",
            "Phone 1 - Value": "phone",
            "Phone 2 - Value": "mobile",  # the second phone number goes to the other phone field
            "Organization 1 - Name": "company_name",
            "Organization 1 - Title": "title",
        }
        assert mapping_of(entity, ["姓名", "手機", "电话", "公司名稱", "职称", "地址", "电子邮件", "备注", "網站"]) == {
            "姓名": "full_name",
            "手機": "mobile",
            "电话": "phone",
            "公司名稱": "company_name",
            "职称": "title",
            "地址": "address",
            "电子邮件": "email",
            "备注": "remarks",
            "網站": "website",
        }


def test_first_and_last_names_make_one_name(acme, person, run, items):
    text = "First Name,Last Name,E-mail Address\nJohn,Smith,john@example.com\n小明,王,ming@example.com\n"
    assert run(acme, person(acme), text.encode())[0].ok
    assert [i["name"] for i in items(acme)] == ["John Smith", "王小明"]


# ------------------------------------------------------------------------------------ all or nothing


def test_one_bad_row_stores_nothing_and_names_row_and_column(acme, person, run, items):
    text = "Name,E-mail Address,Amount\nAnn,ann@example.com,1\nBob,not-an-address,2\n,carl@example.com,x\n"
    result, _importer = run(acme, person(acme), text.encode())
    assert not result.ok and not result.stored
    assert items(acme) == []
    found = {(e.row, e.column) for e in result.errors}
    assert found == {(3, "E-mail Address"), (4, "Name"), (4, "Amount")}
    assert result.error_count == 3
    assert "email" in next(e.message for e in result.errors if e.row == 3).lower()


def test_a_failing_row_in_a_late_batch_leaves_nothing_stored(acme, person, run, items):
    lines = ["Name,E-mail"] + [f"Item {n},item{n}@example.com" for n in range(2500)]
    lines[2400] = "Item bad,broken"
    result, _importer = run(acme, person(acme), "\n".join(lines).encode())
    assert [(e.row, e.column) for e in result.errors] == [(2401, "E-mail")]
    assert items(acme) == []


def test_a_dry_run_validates_and_stores_nothing(acme, person, run, items):
    text = "Name,E-mail\nAnn,ann@example.com\nBob,bob@example.com\n"
    result, _importer = run(acme, person(acme), text.encode(), dry_run=True)
    assert result.ok and result.dry_run and (result.rows, result.created) == (2, 2)
    assert items(acme) == []


def test_required_fields_must_be_mapped(acme, person, run, items):
    result, _importer = run(acme, person(acme), b"E-mail,Phone\nann@example.com,1\n")
    assert not result.ok and "Name" in result.errors[0].message
    assert items(acme) == []


def test_an_import_is_audited_announced_and_searchable(acme, person, run, items_app, in_tenant, monkeypatch):
    from core.entities.query import ListQuery, fetch_page
    from core.entities.registry import all_entities

    heard = []
    deliver = __import__("core.events", fromlist=["_deliver"])._deliver
    monkeypatch.setattr("core.events._deliver", lambda events: heard.extend(e.name for e in events) or deliver(events))
    user = person(acme)
    text = "\n".join(["Name,Phone"] + [f"客戶 {n} 王小明,0912-000-{n:03d}" for n in range(30)])
    assert run(acme, user, text.encode())[0].ok
    assert heard == ["items.item.imported"]  # one event for the import, not one per row
    with in_tenant(acme, use_app=items_app):
        entries = db.session.execute(
            select(AuditEntry.action, AuditEntry.summary, AuditEntry.user_id).where(
                (AuditEntry.table_name == "test_items") | (AuditEntry.action == "import")
            )
        ).all()
    assert [tuple(e) for e in entries] == [("import", "items: 30 created, 0 updated, 0 skipped", user.id)]
    # The new rows are indexed for search once the import commits.
    with items_app.test_request_context(), in_tenant(acme, use_app=items_app):
        from core.models import User

        viewer = db.session.get(User, user.id)
        entity = all_entities()["items"]
        found = fetch_page(entity, ListQuery(text="小明", sort="name", limit=50), user=viewer).items
        assert len(found) == 30
        found = fetch_page(entity, ListQuery(text="0912000017", sort="name", limit=50), user=viewer).items
        assert [i.name for i in found] == ["客戶 17 王小明"]


# ------------------------------------------------------------------------------------------ duplicates


@pytest.fixture
def existing(items_app, in_tenant):
    def make(tenant, owner, **values):
        with in_tenant(tenant, use_app=items_app):
            item = Item(owner_id=owner.id, **values)
            db.session.add(item)
            db.session.commit()
            return item.id

    return make


FILE = "Name,E-mail,Phone,Amount\nAnn Chen,ANN@example.com,0912345678,5\nNew One,new@example.com,0911000111,6\n"


def test_duplicates_are_skipped_by_e_mail(acme, person, run, items, existing):
    user = person(acme)
    existing(acme, user, name="Ann", email="ann@example.com", amount=Decimal("1"))
    result, _importer = run(acme, user, FILE.encode())
    assert (result.created, result.updated, result.skipped) == (1, 0, 1)
    assert [(i["name"], i["amount"]) for i in items(acme)] == [("Ann", Decimal("1.00")), ("New One", Decimal("6.00"))]


def test_duplicates_are_updated_by_e_mail(acme, person, run, items, existing):
    user = person(acme)
    existing(acme, user, name="Ann", email="ann@example.com", status="won", notes="keep")
    plan = Plan(["name", "email", "phone", "amount"], "update", "email")
    result, _importer = run(acme, user, FILE.encode(), plan=plan)
    assert (result.created, result.updated, result.skipped) == (1, 1, 0)
    first = items(acme)[0]
    # Mapped columns are written; the status (not in the file) keeps its stored value rather than the default.
    assert (first["name"], first["amount"], first["status"], first["notes"]) == (
        "Ann Chen",
        Decimal("5.00"),
        "won",
        "keep",
    )


def test_duplicates_are_created_when_asked(acme, person, run, items, existing):
    user = person(acme)
    existing(acme, user, name="Ann", email="ann@example.com")
    result, _importer = run(acme, user, FILE.encode(), plan=Plan(["name", "email", "phone", "amount"], "create"))
    assert (result.created, result.skipped) == (2, 0)
    assert len(items(acme)) == 3


def test_duplicates_match_on_phone_digits(acme, person, run, items, existing):
    user = person(acme)
    existing(acme, user, name="Ann", phone="0912-345-678")
    existing(acme, user, name="Bob", phone="+886 911 000 111")
    plan = Plan(["name", "email", "phone", "amount"], "update", "phone")
    result, _importer = run(acme, user, FILE.encode(), plan=plan)
    assert (result.created, result.updated) == (0, 2)
    assert [(i["name"], i["email"], i["phone"]) for i in items(acme)] == [
        ("Ann Chen", "ANN@example.com", "0912345678"),
        ("New One", "new@example.com", "0911000111"),
    ]


def test_records_in_the_trash_are_not_matched(acme, person, run, items, existing, items_app, in_tenant):
    from core.db import utcnow

    user = person(acme)
    trashed = existing(acme, user, name="Old Ann", email="ann@example.com")
    with in_tenant(acme, use_app=items_app):
        db.session.get(Item, trashed).deleted_at = utcnow()
        db.session.commit()
    result, _importer = run(acme, user, FILE.encode())
    assert (result.created, result.skipped) == (2, 0)
    assert [i["name"] for i in items(acme)] == ["Ann Chen", "New One"]


def test_duplicates_inside_the_file_are_handled_too(acme, person, run, items):
    text = "Name,E-mail,Amount\nAnn,ann@example.com,1\nAnn again,Ann@Example.com,2\n"
    result, _importer = run(acme, person(acme), text.encode())
    assert (result.created, result.skipped) == (1, 1)
    result, _importer = run(acme, person(acme), text.encode(), plan=Plan(["name", "email", "amount"], "update"))
    assert (result.created, result.updated) == (0, 2)
    assert [(i["name"], i["amount"]) for i in items(acme)] == [("Ann again", Decimal("2.00"))]


def test_rows_matching_records_outside_the_edit_scope_are_errors(acme, person, run, items, existing):
    mine = person(acme, grants={"items.item.import": "all", "items.item.edit": "own", "items.item.view": "all"})
    colleague = person(acme)
    existing(acme, colleague, name="Ann", email="ann@example.com", amount=Decimal("1"))
    plan = Plan(["name", "email", "phone", "amount"], "update", "email")
    result, _importer = run(acme, mine, FILE.encode(), plan=plan)
    assert [(e.row, e.column) for e in result.errors] == [(2, "E-mail")]
    assert "not allowed to update" in result.errors[0].message
    assert [i["name"] for i in items(acme)] == ["Ann"]


def test_tags_are_stored(acme, person, run, items_app, in_tenant, monkeypatch):
    monkeypatch.setattr("core.entities.importing.engine.BATCH", 2)  # tags named again in later batches
    with in_tenant(acme, use_app=items_app):
        db.session.add(Tag(name="vip"))
        db.session.commit()
    text = 'Name,Tags\nAnn,"VIP, 台北"\nBob,VIP\nCarl,\nDan,"台北,新竹"\nEve,新竹\n'
    assert run(acme, person(acme), text.encode())[0].ok
    with in_tenant(acme, use_app=items_app):
        ids = list(db.session.scalars(select(Item.id).order_by(Item.id)))
        tagged = [sorted(names) for names in tags_of("items", ids).values()]
        assert tagged == [["vip", "台北"], ["vip"], [], ["台北", "新竹"], ["新竹"]]  # the existing tag's spelling
        assert sorted(db.session.scalars(select(Tag.name))) == ["vip", "台北", "新竹"]  # each created once


# --------------------------------------------------------------------------------------------- tenants


def test_an_import_never_touches_another_tenant(acme, globex, person, run, items, existing):
    theirs = person(globex)
    existing(globex, theirs, name="Theirs", email="ann@example.com")
    result, _importer = run(
        acme, person(acme), FILE.encode(), plan=Plan(["name", "email", "phone", "amount"], "update")
    )
    assert (result.created, result.updated) == (2, 0)
    assert [i["name"] for i in items(globex)] == ["Theirs"]
    assert [i["name"] for i in items(acme)] == ["Ann Chen", "New One"]


# ------------------------------------------------------------------------------------------------ pages


def upload(client, content, name="items.csv", encoding="auto"):
    return client.post(
        "/items/items/import",
        data={"file": (io.BytesIO(content), name), "encoding": encoding},
        content_type="multipart/form-data",
    )


def test_the_pages_upload_map_preview_and_import(acme, person, client_for, items, items_app):
    client = client_for(person(acme))
    assert client.get("/items/items/import").status_code == 200
    response = upload(client, TRADITIONAL.encode("cp950"))
    assert response.status_code == 302
    mapping_url = response.headers["Location"]
    page = client.get(mapping_url).get_data(as_text=True)
    assert "Big5" in page and "王小明" in page
    assert re.search(r'<option value="email" selected>', page)
    form = {"column-0": "name", "column-1": "email", "column-2": "phone", "column-3": "", "on_duplicate": "skip"}
    response = client.post(mapping_url, data=form)
    assert response.status_code == 302 and response.headers["Location"].endswith("/preview")
    preview = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "王小明" in preview and "0912-345-678" in preview and "台積電" not in preview
    response = client.post(response.headers["Location"].replace("/preview", "/run"))
    assert response.status_code == 302
    result = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The import is complete." in result
    assert [(i["name"], i["notes"]) for i in items(acme)] == [("王小明", None), ("陳美玲", None)]
    # The upload is gone once imported; the file was never served.
    assert client.get(mapping_url).status_code == 404


def test_the_preview_marks_errors_and_the_job_lists_them(acme, person, client_for, items):
    client = client_for(person(acme))
    response = upload(client, b"Name,E-mail\nAnn,ann@example.com\nBob,broken\n")
    mapping_url = response.headers["Location"]
    response = client.post(mapping_url, data={"column-0": "name", "column-1": "email", "on_duplicate": "skip"})
    preview = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "1 error in these rows" in preview and "Not a valid email address." in preview
    response = client.post(response.headers["Location"].replace("/preview", "/run"))
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Nothing was imported: 1 error." in page
    assert re.search(r"<td[^>]*>3</td>\s*<td[^>]*>E-mail</td>", page)
    assert items(acme) == []


def test_the_mapping_page_refuses_a_plan_without_required_fields(acme, person, client_for):
    client = client_for(person(acme))
    mapping_url = upload(client, b"Name,E-mail\nAnn,ann@example.com\n").headers["Location"]
    response = client.post(mapping_url, data={"column-0": "", "column-1": "email", "on_duplicate": "skip"})
    assert response.status_code == 422
    assert "Name is required" in response.get_data(as_text=True)


def test_unreadable_files_are_refused_with_a_reason(acme, person, client_for):
    client = client_for(person(acme))
    response = upload(client, b"\xd0\xcf\x11\xe0 old excel", name="old.xls")
    assert response.status_code == 422 and ".xls" in response.get_data(as_text=True)
    response = upload(client, b"", name="empty.csv")
    assert response.status_code == 422 and "no header row" in response.get_data(as_text=True)


def test_import_pages_need_the_import_permission(acme, person, client_for):
    viewer = client_for(person(acme, grants={"items.item.view": "all", "items.item.create": "all"}))
    assert viewer.get("/items/items/import").status_code == 403
    assert upload(viewer, b"Name\nAnn\n").status_code == 403


def test_an_upload_belongs_to_its_user_and_tenant(acme, globex, person, client_for, make_user, items_app):
    owner = client_for(person(acme))
    mapping_url = upload(owner, b"Name\nAnn\n").headers["Location"]
    assert owner.get(mapping_url).status_code == 200
    assert client_for(person(acme)).get(mapping_url).status_code == 404
    assert client_for(person(globex)).get(mapping_url).status_code == 404


def test_import_pages_are_gone_where_the_plugin_is_disabled(items_app, make_tenant, person, client_for):
    from core.tenancy import tenant_context
    from core.tenant_plugins import disable_plugin

    tenant = make_tenant("initech", use_app=items_app)
    client = client_for(person(tenant))
    with items_app.app_context(), tenant_context(tenant):
        from core.models import Tenant

        disable_plugin(db.session.get(Tenant, tenant.id), "items")
        db.session.commit()
    assert client.get("/items/items/import").status_code == 404
    assert client.get("/items/items/export").status_code == 404


# ---------------------------------------------------------------------------------------------------- CLI


def test_the_command_imports_with_a_dry_run_first(acme, person, items_app, items, tmp_path):
    person(acme, email="boss@acme.example.com", groups=["administrators"], grants={})
    path = tmp_path / "items.csv"
    path.write_bytes(SIMPLIFIED.encode("gb18030"))
    runner = items_app.test_cli_runner()
    result = runner.invoke(crm, ["import", "items", str(path), "--tenant", "acme", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert '"名称" -> Name (name)' in result.output and '"备注" -> Notes (notes)' in result.output
    assert "Dry run: 2 rows checked, no errors; 2 would be created" in result.output
    assert items(acme) == []
    result = runner.invoke(crm, ["import", "items", str(path), "--tenant", "acme", "--as", "boss@acme.example.com"])
    assert result.exit_code == 0, result.output
    assert "2 rows: 2 created, 0 updated, 0 skipped" in result.output
    assert [i["name"] for i in items(acme)] == ["王晓明", "李红"]
    result = runner.invoke(crm, ["import", "items", str(path), "--tenant", "acme", "--match", "phone"])
    assert "2 rows: 0 created, 0 updated, 2 skipped" in result.output


def test_the_command_prints_errors_and_fails(acme, person, items_app, items, tmp_path):
    person(acme, groups=["administrators"], grants={})
    path = tmp_path / "items.csv"
    path.write_bytes(b"Name,E-mail\nAnn,ann@example.com\nBob,broken\n")
    result = items_app.test_cli_runner().invoke(crm, ["import", "items", str(path), "--tenant", "acme"])
    assert result.exit_code == 1
    assert "row 3, E-mail: Not a valid email address." in result.output
    assert "Nothing was imported: 1 error." in result.output
    assert items(acme) == []


def test_the_command_refuses_unknown_entities_and_users_without_permission(acme, person, items_app, tmp_path):
    reader = person(acme, email="reader@acme.example.com", grants={"items.item.view": "all"})
    path = tmp_path / "items.csv"
    path.write_bytes(b"Name\nAnn\n")
    runner = items_app.test_cli_runner()
    result = runner.invoke(crm, ["import", "gadgets", str(path), "--tenant", "acme"])
    assert result.exit_code != 0 and "gadgets" in result.output
    result = runner.invoke(crm, ["import", "items", str(path), "--tenant", "acme", "--as", reader.email])
    assert result.exit_code != 0 and "items.item.import" in result.output


def test_the_match_index_table_grows_and_keeps_the_first_id():
    from core.entities.importing.engine import HashTable, _hash

    table = HashTable(capacity=8)
    keys = [_hash(f"user{n}@example.com") for n in range(10_000)]
    for n, key in enumerate(keys):
        table.setdefault(key, n + 1)
    table.setdefault(keys[5], 999)
    assert [table.get(key) for key in keys] == list(range(1, 10_001))
    assert table.get(_hash("nobody@example.com")) is None
    assert table.size == 10_000 and table.mask + 1 >= 20_000


def test_an_owner_from_another_workspace_is_refused_and_nothing_is_stored(acme, globex, person, run, items):
    importer_user = person(acme)
    outsider = person(globex)
    content = csv_bytes(f"Name,Owner\nKept apart,{outsider.id}\nFine,{importer_user.id}\n")
    result, _importer = run(acme, importer_user, content, plan=None)
    assert any(error.row == 2 and error.column == "Owner" for error in result.errors)
    assert items(acme) == []  # all or nothing: the good row is not stored either


def test_bulk_writes_keep_to_the_current_tenant(items_app, acme, globex, in_tenant):
    from core.entities.bulk import BulkWriter
    from core.entities.registry import all_entities
    from core.tenancy import TenantRequired

    with in_tenant(acme, use_app=items_app):
        entity = all_entities()["items"]
        with pytest.raises(TenantRequired):  # rows planted in another workspace
            BulkWriter(None).insert(entity, [{"name": "x", "tenant_id": globex.id}])
        ids = BulkWriter(None).create(entity, [{"name": "a"}, {"name": "b"}])
        assert [i.tenant_id for i in db.session.scalars(select(Item).where(Item.id.in_(ids)))] == [acme.id, acme.id]
        db.session.rollback()
    with in_tenant(None, use_app=items_app), pytest.raises(TenantRequired):  # no workspace in context
        BulkWriter(None).add(Item, [{"name": "x"}])


# ------------------------------------------------------------------------------- the forked checker


@pytest.fixture
def forks(items_app, monkeypatch):
    """Imports of any size may be checked by a forked process; the list records each import that was."""
    from core.entities.importing import checker

    items_app.config["IMPORT_CHECKER_MIN_BYTES"] = 0
    started = []
    original = checker.Checker.__enter__

    def enter(self):
        started.append(self.importer.entity.plural)
        return original(self)

    monkeypatch.setattr(checker.Checker, "__enter__", enter)
    return started


@pytest.fixture
def checker_runs(forks, monkeypatch):
    """As ``forks``, and the test process counts as single-threaded: threads that earlier tests left behind (idle
    job runners) would otherwise keep the import from forking."""
    monkeypatch.setattr("core.entities.importing.checker.threading.active_count", lambda: 1)
    return forks


def many_items(count, bad=None):
    lines = ["Name,E-mail,Amount,Tags"] + [
        f"項目 {n},item{n}@example.com,{n},{'VIP' if n % 2 else ''}" for n in range(count)
    ]
    for row, text in (bad or {}).items():
        lines[row - 1] = text  # row as the spreadsheet numbers it (the header is row 1)
    return "\n".join(lines).encode()


def test_a_large_file_is_checked_by_a_second_process_and_stored(
    acme, person, run, items, items_app, in_tenant, checker_runs
):
    result, _importer = run(acme, person(acme), many_items(2500))
    assert checker_runs == ["items"]
    assert result.ok and result.stored and (result.rows, result.created) == (2500, 2500)
    stored = items(acme)
    assert [i["name"] for i in stored[:2]] == ["項目 0", "項目 1"] and stored[-1]["email"] == "item2499@example.com"
    with in_tenant(acme, use_app=items_app):
        tagged = tags_of("items", [i["id"] for i in stored[:4]])
        assert list(tagged.values()) == [[], ["VIP"], [], ["VIP"]]


def test_a_checked_file_with_late_bad_rows_stores_nothing_and_lists_every_error(acme, person, run, items, checker_runs):
    # Batches before the bad rows are written while the checker reads on: they must be rolled back.
    content = many_items(2500, bad={1502: "Bad one,broken,1,", 2490: ",nobody@example.com,x,"})
    result, _importer = run(acme, person(acme), content)
    assert checker_runs == ["items"]
    assert not result.ok and not result.stored and result.created == 0
    assert [(e.row, e.column) for e in result.errors] == [(1502, "E-mail"), (2490, "Name"), (2490, "Amount")]
    assert result.rows == 2500
    assert items(acme) == []


def test_duplicates_across_batches_are_found_with_a_checker(acme, person, run, items, checker_runs):
    content = many_items(2100, bad={2001: "項目 again,ITEM3@example.com,7,"})
    result, _importer = run(acme, person(acme), content)
    assert (result.created, result.skipped) == (2099, 1)
    assert len(items(acme)) == 2099


def test_updates_are_checked_as_updates_with_a_checker(acme, person, run, items, existing, checker_runs):
    # The checker validates a row that matches a stored record as an update (only its columns), so it needs the
    # match index: a row without the required name is then valid.
    user = person(acme)
    existing(acme, user, name="Ann", email="item5@example.com", amount=Decimal("1"))
    content = many_items(1500, bad={7: ",ITEM5@example.com,9,"})
    result, _importer = run(acme, user, content, plan=Plan(["name", "email", "amount", "tags"], "update", "email"))
    assert checker_runs == ["items"]
    assert result.ok and (result.created, result.updated) == (1499, 1), result.errors
    ann = next(i for i in items(acme) if i["email"].lower() == "item5@example.com")
    assert (ann["name"], ann["email"], ann["amount"]) == ("Ann", "ITEM5@example.com", Decimal("9.00"))


def test_a_checker_that_fails_leaves_nothing_stored(acme, person, run, items, checker_runs, monkeypatch):
    from core.entities.importing.engine import Importer

    def broken(self, batch, result, existing=True):
        raise ZeroDivisionError("the checker broke")

    monkeypatch.setattr(Importer, "validate", broken)  # inherited by the forked process
    with pytest.raises(RuntimeError, match="the checker broke"):
        run(acme, person(acme), many_items(1500))
    assert items(acme) == []


def test_a_checked_file_that_cannot_be_read_further_is_reported_as_without_a_checker(
    acme, person, run, items, items_app, checker_runs
):
    content = many_items(2500).replace(b"item2200@", b"item2200\xff@")  # not UTF-8, past the first batches
    checked, _importer = run(acme, person(acme), content, encoding="utf-8")
    assert checker_runs == ["items"]
    items_app.config["IMPORT_CHECKER_MIN_BYTES"] = -1
    alone, _importer = run(acme, person(acme), content, encoding="utf-8")
    assert checker_runs == ["items"]  # the second import ran in one process
    assert not checked.ok and not checked.stored and checked.errors[0].row > 2000
    assert [(e.row, e.message) for e in checked.errors] == [(e.row, e.message) for e in alone.errors]
    assert items(acme) == []


def test_no_process_is_forked_for_small_files_or_beside_other_threads(acme, person, run, items, items_app, forks):
    import threading

    items_app.config["IMPORT_CHECKER_MIN_BYTES"] = 10_000_000
    assert run(acme, person(acme), many_items(300))[0].ok
    items_app.config["IMPORT_CHECKER_MIN_BYTES"] = 0
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert run(acme, person(acme), many_items(300).replace(b"@", b"+2@"))[0].ok
    finally:
        release.set()
        other.join()
    assert forks == []
    assert len(items(acme)) == 600


def test_the_import_schema_loads_exactly_as_marshmallow_does(items_app, acme, in_tenant):
    """The import's faster loader (core.entities.importing.loading) against Schema.load, row by row and in
    batches: the same data, the same errors, for valid rows, bad values, missing and unknown fields."""
    from core.testing import assert_imports_load_like_the_schema

    rows = [
        {"name": "Ann", "email": "ann@example.com", "phone": "0912", "amount": "12.5", "due": "2026-01-02"},
        {"name": "Bob", "status": "won", "tags": ["a", "b"], "notes": None, "unknown": "dropped"},
        {"name": "", "email": "not-an-address", "status": "maybe"},
        {"email": None, "phone": "x" * 60, "amount": "many"},
        {"name": 12, "due": "yesterday", "tags": "not a list", "owner_id": "me"},
        {"name": None, "phone": 912345678, "status": None},
        {"name": "Carl", "notes": "  spaced  ", "department_id": None},
    ]
    with in_tenant(acme, use_app=items_app):
        assert_imports_load_like_the_schema("items", rows)


def test_a_checked_import_job_reports_its_progress_where_it_can_be_read(
    acme, person, items, items_app, in_tenant, checker_runs, tmp_path
):
    """Checked and written at once, the import reports one phase; on SQLite, whose only write lock the job's
    transaction holds, the figures go aside (core.jobs.JobContext.progress)."""
    from core.entities.importing.jobs import run_import
    from core.entities.importing.storage import create

    class Job:
        calls = []

        def progress(self, done, total=None, message="", aside=False):
            self.calls.append((done, total, message, aside))

    user = person(acme)
    path = tmp_path / "many.csv"
    path.write_bytes(many_items(2500))
    with in_tenant(acme, use_app=items_app):
        plan = Plan(["name", "email", "amount", "tags"], "skip", "email")
        meta = {"user_id": user.id, "plan": plan.as_dict(), "encoding": "auto", "kind": "csv", "headers": []}
        with open(path, "rb") as handle:
            upload = create(handle, meta)
        db.session.commit()
        outcome = run_import(upload.id, "items", user.id, job=Job())
        db.session.commit()
    assert outcome["created"] == 2500 and checker_runs == ["items"]
    sqlite = items_app.extensions["crm.db"].engine.dialect.name == "sqlite"
    assert Job.calls and all(total == 1000 and "rows" in message for _done, total, message, _a in Job.calls)
    assert all(aside is sqlite for *_rest, aside in Job.calls), Job.calls
    assert len(items(acme)) == 2500
