"""Export of an entity's filtered list (tests/items_plugin) to CSV and XLSX: formatting, streaming, scopes,
tenants, permissions, auditing, and a round trip back through the import."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from sqlalchemy import select

from core import db
from core.entities import ACTIONS
from core.entities.exporting import export_endpoint, safe_cell
from core.entities.importing import import_file
from core.entities.tags import set_tags
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
def add(items_app, in_tenant):
    """``add(tenant, owner, count=1, tags=(), **values)``: store items, return their ids."""

    def make(tenant, owner, count=1, tags=(), **values):
        with in_tenant(tenant, use_app=items_app):
            rows = []
            for n in range(count):
                data = {"name": f"Item {n}", **values}
                rows.append(Item(owner_id=owner.id, **data))
            db.session.add_all(rows)
            db.session.flush()
            for row in rows:
                if tags:
                    set_tags("items", row.id, tags)
            db.session.commit()
            return [r.id for r in rows]

    return make


def read_csv(response):
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")  # Excel needs the byte-order mark to read UTF-8
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_csv_export_formats_values_for_people(acme, person, client_for, add):
    user = person(acme, name="林美玲")
    add(
        acme,
        user,
        name="台積電",
        email="tsmc@example.com",
        phone="+886 3 578 0221",
        amount=Decimal("1234.50"),
        due=dt.date(2024, 3, 1),
        status="won",
        notes='=HYPERLINK("http://evil")',
        tags=("VIP", "新竹"),
    )
    columns = "name,email,phone,amount,due,status,owner_id,tags,notes"
    response = client_for(user).get(f"/items/items/export?columns={columns}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = read_csv(response)
    assert rows == [
        ["Name", "E-mail", "Phone", "Amount", "Due", "Status", "Owner", "Tags", "Notes"],
        [
            "台積電",
            "tsmc@example.com",
            "+886 3 578 0221",
            "1234.50",
            "2024-03-01",
            "Won",
            "林美玲",
            "VIP, 新竹",
            '\'=HYPERLINK("http://evil")',
        ],
    ]


def test_headers_are_translated(acme, person, client_for, add):
    user = person(acme, locale="zh_Hant")
    add(acme, user, name="A")
    add(acme, user, name="B", status="won")
    rows = read_csv(client_for(user).get("/items/items/export?columns=name,status&sort=name"))
    assert rows[0] == ["名稱", "狀態"]
    assert rows[1][0] == "A"


def test_without_columns_every_field_is_exported(acme, person, client_for, add):
    user = person(acme)
    add(acme, user, name="A")
    header = read_csv(client_for(user).get("/items/items/export"))[0]
    assert header[:2] == ["ID", "Name"]
    assert {"E-mail", "Phone", "Amount", "Due", "Status", "Notes", "Owner", "Department", "Tags"} <= set(header)


def test_export_has_the_lists_columns_title_first(acme, person, client_for, add):
    user = person(acme)
    add(acme, user, name="A", email="a@example.com", status="won")
    rows = read_csv(client_for(user).get("/items/items/export?columns=status&columns=email&columns=nonsense"))
    assert rows == [["Name", "Status", "E-mail"], ["A", "Won", "a@example.com"]]


def test_export_follows_the_list_filters(acme, person, client_for, add):
    user = person(acme)
    add(acme, user, 3, status="won")
    add(acme, user, 2, status="lost")
    rows = read_csv(client_for(user).get("/items/items/export?status=won&columns=name,status"))
    assert [r[1] for r in rows[1:]] == ["Won", "Won", "Won"]
    chosen = add(acme, user, name="Chosen")[0]
    rows = read_csv(client_for(user).get(f"/items/items/export?ids={chosen}&columns=name"))  # a bulk selection
    assert rows[1:] == [["Chosen"]]
    assert client_for(user).get("/items/items/export?nonsense=1").status_code == 400
    assert client_for(user).get("/items/items/export?format=pdf").status_code == 400


def test_five_thousand_rows_stream(acme, person, client_for, add, items_app, in_tenant):
    user = person(acme)
    with in_tenant(acme, use_app=items_app):
        db.session.execute(
            Item.__table__.insert(),
            [
                {
                    "tenant_id": acme.id,
                    "name": f"Item {n}",
                    "status": "open",
                    "owner_id": user.id,
                    "version": 1,
                    "created_at": dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
                    "updated_at": dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
                }
                for n in range(5000)
            ],
        )
        db.session.commit()
    response = client_for(user).get("/items/items/export?columns=name", buffered=False)
    assert response.is_streamed
    chunks = list(response.response)
    assert len(chunks) > 5  # one per batch of rows, not one body
    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode("utf-8-sig"))))
    response.close()
    assert len(rows) == 5001
    assert sorted(int(r[0].split()[1]) for r in rows[1:]) == list(range(5000))


def test_a_user_with_own_scope_exports_only_own_rows(acme, person, client_for, add):
    mine = person(acme, grants={"items.item.view": "own", "items.item.export": "own"})
    colleague = person(acme)
    add(acme, mine, 2, name="Mine")
    add(acme, colleague, 3, name="Theirs")
    rows = read_csv(client_for(mine).get("/items/items/export?columns=name"))
    assert [r[0] for r in rows[1:]] == ["Mine", "Mine"]
    assert len(read_csv(client_for(colleague).get("/items/items/export?columns=name"))) == 6


def test_export_needs_its_permission(acme, person, client_for):
    viewer = person(acme, grants={"items.item.view": "all"})
    assert client_for(viewer).get("/items/items/export").status_code == 403


def test_an_export_never_shows_another_tenants_rows(acme, globex, person, client_for, add):
    add(globex, person(globex), 2, name="Globex secret")
    user = person(acme)
    add(acme, user, 1, name="Acme")
    rows = read_csv(client_for(user).get("/items/items/export?columns=name"))
    assert rows[1:] == [["Acme"]]


def test_exports_are_audited(acme, person, client_for, add, items_app, in_tenant):
    user = person(acme)
    add(acme, user, 3)
    client_for(user).get("/items/items/export").get_data()
    client_for(user).get("/items/items/export?format=xlsx").get_data()
    with in_tenant(acme, use_app=items_app):
        entries = db.session.execute(
            select(AuditEntry.user_id, AuditEntry.summary).where(AuditEntry.action == "export").order_by(AuditEntry.id)
        ).all()
    assert [tuple(e) for e in entries] == [(user.id, "items: 3 rows as CSV"), (user.id, "items: 3 rows as XLSX")]


def test_xlsx_export(acme, person, client_for, add):
    from openpyxl import load_workbook

    user = person(acme)
    add(acme, user, name="台積電", amount=Decimal("12.50"), due=dt.date(2024, 3, 1), notes="=1+1", tags=("VIP",))
    response = client_for(user).get("/items/items/export?format=xlsx&columns=name,amount,due,notes,tags,updated_at")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(response.get_data())).worksheets[0]
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert values[0] == ["Name", "Amount", "Due", "Notes", "Tags", "Updated at"]
    name, amount, due, notes, tags, updated = values[1]
    assert (name, amount, due.date(), notes, tags) == ("台積電", 12.5, dt.date(2024, 3, 1), "=1+1", "VIP")
    assert dt.datetime.fromisoformat(updated).tzinfo is not None


def test_the_export_endpoint_is_named_for_the_list_page(items_app):
    with items_app.app_context():
        from core.entities.registry import all_entities

        entity = all_entities()["items"]
        assert export_endpoint(entity) == "items_items_io.export"
        assert export_endpoint(entity) in items_app.view_functions


def test_formula_guard():
    assert safe_cell("=SUM(A1)") == "'=SUM(A1)"
    assert safe_cell("@cmd") == "'@cmd"
    assert safe_cell("-2+3+cmd|' /C calc'!A0") == "'-2+3+cmd|' /C calc'!A0"
    assert safe_cell("+886 912 345 678") == "+886 912 345 678"
    assert safe_cell("-12.50") == "-12.50"


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_round_trip_export_then_import(acme, globex, person, client_for, add, items_app, in_tenant, tmp_path, kind):
    user = person(acme, name="Owner")
    add(
        acme,
        user,
        name="王小明",
        email="ming@example.com",
        phone="0912-345-678",
        amount=Decimal("99.90"),
        due=dt.date(2025, 12, 31),
        status="lost",
        notes="+886 line\nsecond line",
        tags=("VIP", "台北"),
    )
    add(acme, user, name="Plain")
    response = client_for(user).get(f"/items/items/export?format={kind}")
    path = tmp_path / f"export.{kind}"
    path.write_bytes(response.get_data())
    target = person(globex, name="Owner")
    with in_tenant(globex, use_app=items_app):
        from core.entities.registry import all_entities
        from core.models import User

        importer_user = db.session.get(User, target.id)
        result, importer = import_file(all_entities()["items"], importer_user, str(path))
        db.session.commit()
        assert result.ok, result.errors
        assert result.created == 2
        mapped = dict(zip(importer.headers, importer.plan.mapping, strict=True))
        assert mapped["ID"] == "" and mapped["Created at"] == ""
        items = db.session.scalars(select(Item).order_by(Item.name)).all()
        from core.entities.tags import tags_of

        tags = tags_of("items", [i.id for i in items])
        got = [(i.name, i.email, i.phone, i.amount, i.due, i.status, i.notes, i.owner_id, tags[i.id]) for i in items]
    assert got == [
        ("Plain", None, None, None, None, "open", None, target.id, []),
        (
            "王小明",
            "ming@example.com",
            "0912-345-678",
            Decimal("99.90"),
            dt.date(2025, 12, 31),
            "lost",
            "+886 line\nsecond line",
            target.id,
            ["VIP", "台北"],
        ),
    ]


def test_custom_fields_round_trip_through_export_and_import(
    acme, globex, person, client_for, items_app, in_tenant, tmp_path
):
    from core.entities import custom_fields as cf
    from core.entities import service
    from core.entities.query import parse
    from core.entities.registry import all_entities
    from core.entities.schemas import schema_for
    from core.models import User

    specs = [
        ("grade", "choice", {"choices": "A | A customer\nB | B customer"}),
        ("budget", "money", {}),
        ("founded", "date", {}),
        ("vip", "bool", {}),
        ("langs", "multichoice", {"choices": "en | English\nzh | 中文"}),
        ("rep", "user", {}),
        ("fax", "phone", {}),
    ]
    owner = person(acme, name="Rep Lin")
    target = person(globex, name="Rep Lin")
    for tenant in (acme, globex):
        with in_tenant(tenant, use_app=items_app):
            entity = all_entities()["items"]
            for key, kind, extra in specs:
                cf.create_field(entity, key=key, label=key.title(), type=kind, **extra)
            db.session.commit()
    custom = {
        "grade": "B",
        "budget": "1234.50",
        "founded": "2001-02-03",
        "vip": True,
        "langs": ["en", "zh"],
        "rep": owner.id,
        "fax": "02-2345-6789",
    }
    with in_tenant(acme, use_app=items_app):
        entity = all_entities()["items"]
        data = schema_for(entity).load({"name": "台積電", "custom": custom})
        service.create(entity, data, db.session.get(User, owner.id))
        db.session.commit()

    response = client_for(owner).get("/items/items/export?columns=name,cf_grade,cf_budget,cf_vip,cf_langs,cf_rep")
    assert read_csv(response) == [
        ["Name", "Grade", "Budget", "Vip", "Langs", "Rep"],
        ["台積電", "B customer", "1234.50", "Yes", "English, 中文", "Rep Lin"],
    ]
    path = tmp_path / "items.xlsx"
    path.write_bytes(client_for(owner).get("/items/items/export?format=xlsx").get_data())
    with items_app.test_request_context(), in_tenant(globex, use_app=items_app):
        entity = all_entities()["items"]
        importer_user = db.session.get(User, target.id)
        result, importer = import_file(entity, importer_user, str(path))
        db.session.commit()
        assert result.ok, result.errors
        assert {name for name in importer.plan.mapping if name.startswith("custom.")} == {
            f"custom.{key}" for key, _kind, _extra in specs
        }
        item = db.session.scalars(select(Item)).one()
        assert item.custom == {**custom, "rep": target.id}
        # The imported values are in the custom-field index that list filters use.
        from werkzeug.datastructures import MultiDict

        from core.entities.query import fetch_page

        query = parse(entity, MultiDict([("cf_grade", "B"), ("cf_budget__gte", "1000")]))
        assert [i.name for i in fetch_page(entity, query, user=importer_user).items] == ["台積電"]
