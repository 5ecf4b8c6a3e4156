"""Custom fields at the service, schema and query level: every type round trips through ``schema_for`` and
``service.create``, values are validated, filters run over the value index, archived fields keep their values,
tenants never see each other's fields, type changes never lose a value, deletion cleans records and index."""

import datetime as dt
from decimal import Decimal

import pytest
from marshmallow import ValidationError
from sqlalchemy import func, insert, select
from werkzeug.datastructures import MultiDict

from core import db
from core.entities import custom_fields as cf
from core.entities import query as query_module
from core.entities import service
from core.entities.query import ListQuery, QueryError, count, counted, fetch_page, parse, statement
from core.entities.registry import all_entities
from core.entities.schemas import describe, schema_for
from core.models import JobRecord, User
from core.models.custom_fields import CustomField, CustomValue
from tests.items_plugin.models import Item


@pytest.fixture
def acme(items_app, make_tenant):
    return make_tenant("acme", use_app=items_app)


@pytest.fixture
def globex(items_app, make_tenant):
    return make_tenant("globex", use_app=items_app)


@pytest.fixture
def boss(items_app, acme, make_user):
    return make_user(
        acme, email="boss@acme.example.com", name="Boss Wang", groups=["administrators"], use_app=items_app
    )


@pytest.fixture
def ctx(items_app, in_tenant):
    """``with ctx(tenant) as entity:`` the items entity in an app context of ``tenant``."""
    import contextlib

    @contextlib.contextmanager
    def enter(tenant):
        with in_tenant(tenant, use_app=items_app):
            yield all_entities()["items"]

    return enter


EVERY_TYPE = [
    ("nickname", "text", {}),
    ("story", "longtext", {}),
    ("size", "number", {}),
    ("budget", "money", {}),
    ("founded", "date", {}),
    ("met_at", "datetime", {}),
    ("vip", "bool", {}),
    ("grade", "choice", {"choices": "A | A customer\nB | B customer\nC"}),
    ("langs", "multichoice", {"choices": "en | English\nzh | 中文\nja | 日本語"}),
    ("billing", "email", {}),
    ("fax", "phone", {}),
    ("site", "url", {}),
    ("rep", "user", {}),
]


def add_fields(entity, specs=EVERY_TYPE, **overrides):
    for key, kind, extra in specs:
        cf.create_field(entity, key=key, label=key.replace("_", " ").title(), type=kind, **{**extra, **overrides})
    db.session.commit()


def create(entity, user_id, custom, name="Item"):
    data = schema_for(entity).load({"name": name, "custom": custom})
    record = service.create(entity, data, db.session.get(User, user_id))
    db.session.commit()
    return record


def errors_of(entity, payload, partial=False):
    with pytest.raises(ValidationError) as caught:
        schema_for(entity, partial=partial).load(payload)
    return caught.value.messages


def names(entity, user_id, args):
    pairs = [(key, v) for key, value in args.items() for v in (value if isinstance(value, list) else [value])]
    query = parse(entity, MultiDict(pairs))
    query.sort, query.limit = "name", 200
    return [item.name for item in fetch_page(entity, query, user=db.session.get(User, user_id)).items]


# ------------------------------------------------------------------------------------------- round trip


def test_every_type_round_trips_through_the_schema_and_the_service(ctx, acme, boss):
    with ctx(acme) as entity:
        add_fields(entity)
        record = create(
            entity,
            boss.id,
            {
                "nickname": "  小明  ",
                "story": "Line one\nLine two",
                "size": "1,234",
                "budget": "1234.5",
                "founded": "1999-12-31",
                "met_at": "2024-05-01T08:30",  # no zone: the workspace's (Asia/Taipei)
                "vip": "yes",
                "grade": "b customer",  # a label, in any case, is stored as its value
                "langs": "zh, en, zh",
                "billing": "ap@acme.example.com",
                "fax": "+886 (2) 2345-6789",
                "site": "www.acme.example.com",
                "rep": "BOSS@acme.example.com",
            },
        )
        record_id = record.id
    with ctx(acme) as entity:
        stored = db.session.get(Item, record_id).custom
        assert stored == {
            "nickname": "小明",
            "story": "Line one\nLine two",
            "size": 1234,
            "budget": "1234.50",
            "founded": "1999-12-31",
            "met_at": "2024-05-01T00:30:00+00:00",
            "vip": True,
            "grade": "B",
            "langs": ["zh", "en"],
            "billing": "ap@acme.example.com",
            "fax": "+886 (2) 2345-6789",
            "site": "https://www.acme.example.com",
            "rep": boss.id,
        }
        dumped = schema_for(entity).dump(db.session.get(Item, record_id))["custom"]
        assert dumped["budget"] == "1234.50" and dumped["size"] == 1234 and dumped["langs"] == ["zh", "en"]
        assert dumped["founded"] == "1999-12-31" and dumped["met_at"] == "2024-05-01T00:30:00+00:00"
        # loading what was dumped gives the same values back (the API's GET then PUT)
        assert schema_for(entity).load({"name": "Item", "custom": dumped})["custom"] == stored

        shown = {field.key: cf.display(field, stored[field.key]) for field in cf.fields_for(entity)}
        assert shown["grade"] == "B customer" and shown["langs"] == "中文, English"
        assert shown["vip"] == "Yes" and shown["rep"] == "Boss Wang"
        assert shown["size"] == "1,234" and "1,234.50" in shown["budget"]
        assert shown["founded"] == "Dec 31, 1999"
        assert "May 1, 2024" in shown["met_at"] and "8:30" in shown["met_at"]  # back in Taipei time
        assert cf.display(cf.field_by_key(entity, "vip"), False) == "No"
        assert cf.display(cf.field_by_key(entity, "nickname"), None) == ""


def test_fields_carry_the_metadata_forms_import_and_the_api_docs_use(ctx, acme):
    with ctx(acme) as entity:
        add_fields(entity)
        cf.create_field(entity, key="code", label="Code", type="text", required=True, help="Internal code")
        db.session.commit()
        fields = cf.marshmallow_fields(entity)
        assert [f.key for f in cf.fields_for(entity)] == [key for key, _k, _e in EVERY_TYPE] + ["code"]
        assert {key: f.metadata["widget"] for key, f in fields.items()} == {
            **{key: kind for key, kind, _e in EVERY_TYPE},
            "code": "text",
        }
        assert fields["grade"].metadata["choices"] == [("A", "A customer"), ("B", "B customer"), ("C", "C")]
        assert fields["code"].required and fields["code"].metadata["help"] == "Internal code"
        assert fields["code"].metadata["label"] == "Code" and "Code" in fields["code"].metadata["synonyms"]
        custom_rows = [row for row in describe(entity) if row["custom"]]
        assert {"name": "custom.code", "label": "Code", "widget": "text", "required": True, "custom": True} in (
            custom_rows
        )


def test_field_definitions_are_read_once_per_request(ctx, acme, items_app):
    with ctx(acme) as entity:
        add_fields(entity)
    statements = []

    def count_statements(conn, cursor, sql, *args):
        if "custom_fields" in sql:
            statements.append(sql)

    from sqlalchemy import event

    engine = items_app.extensions["crm.db"].engine
    event.listen(engine, "before_cursor_execute", count_statements)
    try:
        with ctx(acme) as entity:
            for _ in range(5):
                schema_for(entity)
                cf.fields_for(entity)
                cf.criterion(entity, "size", "gte", ["1"])
    finally:
        event.remove(engine, "before_cursor_execute", count_statements)
    assert len(statements) == 1


# ------------------------------------------------------------------------------------------- validation


def test_wrong_values_are_refused_with_the_custom_fields_name(ctx, acme, globex, make_user, items_app, boss):
    stranger = make_user(globex, use_app=items_app)
    gone = make_user(acme, use_app=items_app)
    with ctx(acme) as entity:
        db.session.get(User, gone.id).active = False
        add_fields(entity)
        custom = {
            "nickname": "x" * 256,
            "size": "twelve",
            "budget": "12,3x",
            "founded": "31/12/1999",
            "met_at": "yesterday",
            "vip": "maybe",
            "grade": "Z",
            "langs": ["en", "fr"],
            "billing": "not-an-address",
            "fax": "12-34",
            "site": "http://",
            "rep": stranger.id,
        }
        messages = errors_of(entity, {"name": "Item", "custom": custom})
        assert set(messages) == {"custom"}
        assert set(messages["custom"]) == set(custom)
        assert messages["custom"]["size"] == ["Enter a number."]
        assert messages["custom"]["founded"] == ["Enter a date as YYYY-MM-DD."]
        assert messages["custom"]["grade"] == ["Not one of the choices: A, B, C."]
        assert messages["custom"]["langs"] == {1: ["Not one of the choices: en, zh, ja."]}
        assert messages["custom"]["rep"] == ["Not an active user of this workspace."]
        assert "digits" in messages["custom"]["fax"][0]
        assert errors_of(entity, {"name": "Item", "custom": {"rep": gone.id}})["custom"]["rep"]
        assert errors_of(entity, {"name": "Item", "custom": {"size": "1e20"}})["custom"]["size"]
        # a blank value clears an optional field
        assert schema_for(entity).load({"name": "Item", "custom": {"size": "", "langs": [], "vip": " "}})["custom"] == {
            "size": None,
            "langs": [],
            "vip": None,
        }


def test_required_custom_fields_are_enforced(ctx, acme, boss):
    with ctx(acme) as entity:
        cf.create_field(entity, key="code", label="Code", type="text", required=True)
        cf.create_field(entity, key="tags2", label="Tags", type="multichoice", choices="a\nb", required=True)
        cf.create_field(entity, key="note", label="Note", type="text")
        db.session.commit()
        required = ["This field is required."]
        assert errors_of(entity, {"name": "Item"}) == {"custom": {"code": required, "tags2": required}}
        assert errors_of(entity, {"name": "Item", "custom": {"code": "  ", "tags2": []}}) == {
            "custom": {"code": required, "tags2": required}
        }
        record = create(entity, boss.id, {"code": "X1", "tags2": ["a"]})
        # a partial update (the API's PATCH) need not repeat them
        data = schema_for(entity, partial=True).load({"custom": {"note": "hello"}})
        service.update(entity, record, data, record.version, db.session.get(User, boss.id))
        db.session.commit()
        assert record.custom == {"code": "X1", "tags2": ["a"], "note": "hello"}
        assert errors_of(entity, {"custom": {"code": None}}, partial=True) == {"custom": {"code": required}}


# ----------------------------------------------------------------------------------------------- filters


@pytest.fixture
def catalogue(ctx, acme, boss, items_app, make_user):
    """Five items with custom values, and their ids by name."""
    rep = make_user(acme, email="rep@acme.example.com", use_app=items_app)
    with ctx(acme) as entity:
        add_fields(entity)
        rows = {
            "alpha": {"nickname": "Golden Dragon", "size": 5, "budget": "10.00", "founded": "2001-01-01",
                      "met_at": "2024-05-01T02:00:00+08:00", "vip": True, "grade": "A", "langs": ["en", "zh"],
                      "fax": "02-2345-6789", "rep": boss.id},
            "beta": {"nickname": "golden gate", "size": 50, "budget": "99.99", "founded": "2010-06-15",
                     "met_at": "2024-05-01T23:30:00+08:00", "vip": False, "grade": "B", "langs": ["zh"],
                     "fax": "+886 2 1111 2222", "rep": rep.id},
            "gamma": {"nickname": "Silver", "size": 500, "budget": "1000.00", "founded": "2020-02-29",
                      "met_at": "2024-05-02T09:00:00+08:00", "grade": "C", "langs": ["ja"]},
            "delta": {"size": -1.5, "vip": False},
            "epsilon": {},
        }  # fmt: skip
        ids = {name: create(entity, boss.id, values, name=name).id for name, values in rows.items()}
    return ids


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"cf_size": "50"}, ["beta"]),
        ({"cf_size": ["5", "500"]}, ["alpha", "gamma"]),
        ({"cf_size__gte": "5", "cf_size__lt": "500"}, ["alpha", "beta"]),
        ({"cf_size__lte": "-1"}, ["delta"]),
        ({"cf_size__ne": "50"}, ["alpha", "delta", "gamma"]),
        ({"cf_budget__gt": "99.99"}, ["gamma"]),
        ({"cf_budget__gte": "99.99"}, ["beta", "gamma"]),
        ({"cf_founded__gte": "2010-06-15", "cf_founded__lte": "2020-02-29"}, ["beta", "gamma"]),
        ({"cf_founded": "2001-01-01"}, ["alpha"]),
        ({"cf_met_at": "2024-05-01"}, ["alpha", "beta"]),  # the whole day in Taipei
        ({"cf_met_at__lt": "2024-05-01T01:00:00+08:00"}, []),
        ({"cf_met_at__gt": "2024-05-01"}, ["gamma"]),
        ({"cf_met_at__lte": "2024-05-01"}, ["alpha", "beta"]),
        ({"cf_vip": "1"}, ["alpha"]),
        ({"cf_vip": "no"}, ["beta", "delta"]),
        ({"cf_vip__empty": "1"}, ["epsilon", "gamma"]),
        ({"cf_nickname": "GOLDEN DRAGON"}, ["alpha"]),
        ({"cf_nickname__contains": "gold"}, ["alpha", "beta"]),
        ({"cf_nickname__contains": ["silv", "gate"]}, ["beta", "gamma"]),
        ({"cf_nickname__empty": "0"}, ["alpha", "beta", "gamma"]),
        ({"cf_nickname__empty": ""}, ["delta", "epsilon"]),
        ({"cf_grade": "b customer"}, ["beta"]),
        ({"cf_grade__ne": "A"}, ["beta", "gamma"]),
        ({"cf_langs": "zh"}, ["alpha", "beta"]),
        ({"cf_langs": ["ja", "en"]}, ["alpha", "gamma"]),
        ({"cf_langs__ne": "zh"}, ["gamma"]),
        ({"cf_langs__empty": "1"}, ["delta", "epsilon"]),
        ({"cf_fax__contains": "23456789"}, ["alpha"]),
        ({"cf_fax": "(02) 2345 6789"}, ["alpha"]),
        ({"cf_size__gte": "5", "status": "open", "cf_grade": "A"}, ["alpha"]),
    ],
)
def test_filters_on_custom_fields(ctx, acme, boss, catalogue, args, expected):
    with ctx(acme) as entity:
        assert names(entity, boss.id, args) == expected


def test_filter_on_a_user_field(ctx, acme, boss, catalogue):
    with ctx(acme) as entity:
        assert names(entity, boss.id, {"cf_rep": str(boss.id)}) == ["alpha"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"cf_size": "many"}, "Not a valid value for this field."),
        ({"cf_founded__gte": "01/02/2003"}, "Not a valid value for this field."),
        ({"cf_vip": "perhaps"}, "Not a valid value for this field."),
        ({"cf_grade": "Z"}, "Not one of the choices: A, B, C."),
        ({"cf_size__contains": "5"}, "This filter does not apply to this field."),
        ({"cf_grade__gt": "A"}, "This filter does not apply to this field."),
        ({"cf_nope": "1"}, "Unknown custom field."),
    ],
)
def test_bad_custom_filters_are_reported_on_the_argument(ctx, acme, boss, catalogue, args, message):
    with ctx(acme) as entity:
        with pytest.raises(QueryError) as caught:
            names(entity, boss.id, args)
        (key,) = args
        assert caught.value.errors == {key.split("__")[0]: [message]}


def test_the_index_follows_updates_trash_and_hard_deletes(ctx, acme, boss, catalogue):
    with ctx(acme) as entity:
        user = db.session.get(User, boss.id)
        beta = db.session.get(Item, catalogue["beta"])
        data = schema_for(entity, partial=True).load({"custom": {"size": "7", "langs": ["ja"]}})
        service.update(entity, beta, data, beta.version, user)
        db.session.commit()
    with ctx(acme) as entity:
        assert names(entity, boss.id, {"cf_size": "7"}) == ["beta"]
        assert names(entity, boss.id, {"cf_size": "50"}) == []
        assert names(entity, boss.id, {"cf_langs": "ja"}) == ["beta", "gamma"]
        service.delete(entity, db.session.get(Item, catalogue["beta"]))
        db.session.commit()
    with ctx(acme) as entity:
        assert names(entity, boss.id, {"cf_size": "7"}) == []
        trash = statement(entity, parse(entity, {"cf_size": "7"}), user=db.session.get(User, boss.id), trash=True)
        assert [item.name for item in db.session.scalars(trash)] == ["beta"]  # the trash keeps its values
        db.session.delete(
            db.session.scalar(select(Item).where(Item.id == catalogue["beta"]).execution_options(include_deleted=True))
        )
        db.session.commit()
        rows = db.session.scalar(select(func.count(CustomValue.id)).where(CustomValue.record_id == catalogue["beta"]))
        assert rows == 0


def test_values_of_unknown_keys_and_plain_orm_writes_are_indexed_too(ctx, acme, boss):
    with ctx(acme) as entity:
        cf.create_field(entity, key="budget", label="Budget", type="money")
        cf.create_field(entity, key="founded", label="Founded", type="date")
        db.session.commit()
        # code that skips the schema may set Decimal and date objects: they are stored JSON-ready
        item = Item(name="raw", custom={"budget": Decimal("12.5"), "founded": dt.date(2020, 1, 2), "stray": 1})
        db.session.add(item)
        db.session.commit()
        assert item.custom == {"budget": "12.5", "founded": "2020-01-02", "stray": 1}
        assert names(entity, boss.id, {"cf_budget": "12.50", "cf_founded": "2020-01-02"}) == ["raw"]


# ------------------------------------------------------------------------------------- archived fields


def test_archived_fields_leave_the_schema_and_keep_their_values(ctx, acme, boss):
    with ctx(acme) as entity:
        add_fields(entity, [("size", "number", {}), ("grade", "choice", {"choices": "A\nB"})])
        record = create(entity, boss.id, {"size": 3, "grade": "A"})
        record_id = record.id
        cf.archive_field(db.session.scalar(select(CustomField).where(CustomField.key == "size")))
        db.session.commit()
    with ctx(acme) as entity:
        assert list(cf.marshmallow_fields(entity)) == ["grade"]
        assert [f.key for f in cf.fields_for(entity)] == ["grade"]
        assert "size" not in schema_for(entity).dump(db.session.get(Item, record_id))["custom"]
        with pytest.raises(QueryError):
            names(entity, boss.id, {"cf_size": "3"})
        # a full edit from a form that no longer shows the field keeps its value
        record = db.session.get(Item, record_id)
        data = schema_for(entity).load({"name": "Renamed", "custom": {"grade": "B"}})
        service.update(entity, record, data, record.version, db.session.get(User, boss.id))
        db.session.commit()
        assert record.custom == {"size": 3, "grade": "B"}
        cf.restore_field(db.session.scalar(select(CustomField).where(CustomField.key == "size")))
        db.session.commit()
    with ctx(acme) as entity:
        assert names(entity, boss.id, {"cf_size": "3"}) == ["Renamed"]


# ------------------------------------------------------------------------------------------------ tenants


def test_tenants_never_see_each_others_fields(ctx, acme, globex, boss, make_user, items_app):
    other = make_user(globex, groups=["administrators"], use_app=items_app)
    with ctx(acme) as entity:
        add_fields(entity, [("size", "number", {}), ("secret", "text", {})])
        create(entity, boss.id, {"size": 10, "secret": "acme only"}, name="acme item")
    with ctx(globex) as entity:
        assert cf.fields_for(entity) == []
        assert schema_for(entity).fields.keys() == entity.schema().fields.keys()
        with pytest.raises(QueryError):
            names(entity, other.id, {"cf_secret": "acme only"})
        # the same key means something else here
        add_fields(entity, [("size", "choice", {"choices": "S\nM\nL"})])
        create(entity, other.id, {"size": "M"}, name="globex item")
        assert names(entity, other.id, {"cf_size": "M"}) == ["globex item"]
        assert errors_of(entity, {"name": "x", "custom": {"size": "10"}})["custom"]["size"]
        assert "secret" not in cf.marshmallow_fields(entity)
    with ctx(acme) as entity:
        assert names(entity, boss.id, {"cf_size__gte": "1"}) == ["acme item"]
        assert [f.type for f in cf.fields_for(entity)] == ["number", "text"]


# ----------------------------------------------------------------------------------------- type changes


def test_a_type_change_converts_values_or_is_refused_without_losing_any(ctx, acme, boss):
    with ctx(acme) as entity:
        add_fields(entity, [("code", "text", {}), ("level", "choice", {"choices": "low\nhigh"})])
        ok = create(entity, boss.id, {"code": " 42 ", "level": "high"}, name="ok").id
        bad = create(entity, boss.id, {"code": "forty-two"}, name="bad").id
        field = db.session.scalar(select(CustomField).where(CustomField.key == "code"))
        with pytest.raises(cf.FieldError) as caught:
            cf.update_field(field, label="Code", type="number")
        assert "1 record has a value that is not a valid number" in caught.value.errors["type"][0]
        assert "forty-two" in caught.value.errors["type"][0]
        db.session.rollback()
    with ctx(acme) as entity:
        assert db.session.scalar(select(CustomField.type).where(CustomField.key == "code")) == "text"
        assert db.session.get(Item, bad).custom == {"code": "forty-two"}
        record = db.session.get(Item, bad)
        service.update(entity, record, {"custom": {"code": "7"}}, record.version, db.session.get(User, boss.id))
        db.session.commit()
    with ctx(acme) as entity:
        version = db.session.get(Item, ok).version
        field = db.session.scalar(select(CustomField).where(CustomField.key == "code"))
        cf.update_field(field, label="Code number", type="number")
        db.session.commit()
    with ctx(acme) as entity:
        assert db.session.get(Item, ok).custom["code"] == 42
        assert db.session.get(Item, ok).version == version + 1  # an editor with the old form gets a conflict
        assert names(entity, boss.id, {"cf_code__gte": "10"}) == ["ok"]
        # removing a choice that records use is refused; relabelling is fine
        level = db.session.scalar(select(CustomField).where(CustomField.key == "level"))
        with pytest.raises(cf.FieldError) as caught:
            cf.update_field(level, label="Level", type="choice", choices="low")
        assert "high" in caught.value.errors["choices"][0]
        db.session.rollback()
        level = db.session.scalar(select(CustomField).where(CustomField.key == "level"))
        cf.update_field(level, label="Level", type="choice", choices="low | Low\nhigh | High!\nmid")
        db.session.commit()
        assert cf.display(cf.field_by_key(entity, "level"), "high") == "High!"
        # a single choice becomes a multiple choice: each value becomes a one-item list
        level = db.session.scalar(select(CustomField).where(CustomField.key == "level"))
        cf.update_field(level, label="Level", type="multichoice", choices="low\nhigh\nmid")
        db.session.commit()
        assert db.session.get(Item, ok).custom["level"] == ["high"]
        assert names(entity, boss.id, {"cf_level": "high"}) == ["ok"]
        # a choice whose value changes case carries its records along
        level = db.session.scalar(select(CustomField).where(CustomField.key == "level"))
        cf.update_field(level, label="Level", type="multichoice", choices="low\nHIGH\nmid")
        db.session.commit()
        assert db.session.get(Item, ok).custom["level"] == ["HIGH"]
        assert names(entity, boss.id, {"cf_level": "HIGH"}) == ["ok"]


def test_field_definitions_are_checked(ctx, acme):
    with ctx(acme) as entity:
        cf.create_field(entity, key="size", label="Size", type="number")
        db.session.commit()
        cases = [
            ({"key": "Size"}, "key"),
            ({"key": "size"}, "key"),
            ({"key": "1st"}, "key"),
            ({"key": "x" * 41}, "key"),
            ({"label": " "}, "label"),
            ({"type": "blob"}, "type"),
            ({"type": "choice"}, "choices"),
            ({"type": "choice", "choices": "a\nA"}, "choices"),
            ({"type": "choice", "choices": "a,b | Both"}, "choices"),
        ]
        for change, wrong in cases:
            arguments = {"key": "other", "label": "Other", "type": "text", **change}
            with pytest.raises(cf.FieldError) as caught:
                cf.create_field(entity, **arguments)
            assert wrong in caught.value.errors, change
        assert cf.parse_choices("a\n b | Bee \n\n") == [["a", "a"], ["b", "Bee"]]


# ---------------------------------------------------------------------------------------------- deletion


def test_deleting_a_field_removes_its_values_from_records_and_index(ctx, acme, boss):
    with ctx(acme) as entity:
        add_fields(entity, [("size", "number", {}), ("keep", "text", {})])
        ids = [create(entity, boss.id, {"size": n, "keep": "k"}, name=f"i{n}").id for n in range(3)]
        service.delete(entity, db.session.get(Item, ids[0]))  # trashed records are cleaned too
        db.session.commit()
        field = db.session.scalar(select(CustomField).where(CustomField.key == "size"))
        with pytest.raises(cf.FieldError):
            cf.delete_field(field)
        updated = {i: db.session.get(Item, i).updated_at for i in ids[1:]}
        cf.archive_field(field)
        assert cf.usage(field) == 3
        assert cf.delete_field(field) is None
        db.session.commit()
    with ctx(acme):
        customs = db.session.scalars(select(Item.custom).execution_options(include_deleted=True)).all()
        assert customs == [{"keep": "k"}] * 3
        assert db.session.scalar(select(func.count(CustomField.id))) == 1
        assert db.session.scalar(select(func.count(CustomValue.id))) == 3  # the "keep" values
        assert {i: db.session.get(Item, i).updated_at for i in ids[1:]} == updated


def test_deleting_a_field_with_many_values_runs_as_a_job(ctx, acme, boss, monkeypatch):
    monkeypatch.setattr(cf, "PURGE_INLINE", 1)
    with ctx(acme) as entity:
        add_fields(entity, [("size", "number", {})])
        for n in range(3):
            create(entity, boss.id, {"size": n}, name=f"i{n}")
        field = db.session.scalar(select(CustomField).where(CustomField.key == "size"))
        cf.archive_field(field)
        job_id = cf.delete_field(field, user_id=boss.id)
        assert job_id
        db.session.commit()  # the job starts after commit (synchronously in tests)
    with ctx(acme):
        assert db.session.get(JobRecord, job_id).status == "finished"
        assert db.session.scalar(select(func.count(CustomField.id))) == 0
        assert db.session.scalar(select(func.count(CustomValue.id))) == 0
        assert db.session.scalars(select(Item.custom)).all() == [{}] * 3


# ----------------------------------------------------------------------------------------- bulk and scale


def test_bulk_inserts_are_indexed_with_index_values(ctx, acme, boss):
    with ctx(acme) as entity:
        add_fields(entity, [("size", "number", {})])
        db.session.execute(insert(Item), [{"name": f"bulk{n}", "custom": {"size": n}} for n in range(10)])
        assert names(entity, boss.id, {"cf_size__gte": "5"}) == []  # a bulk statement bypasses the session
        rows = db.session.execute(select(Item.id, Item.custom)).mappings().all()
        assert cf.index_values(entity, rows) == 10
        db.session.commit()
        assert names(entity, boss.id, {"cf_size__gte": "8"}) == ["bulk8", "bulk9"]
        cf.remove_values(entity, [row["id"] for row in rows])
        assert names(entity, boss.id, {"cf_size__gte": "8"}) == []


def test_a_filter_over_20000_records_uses_the_index_and_stays_correct(ctx, acme, boss, items_app):
    total = 20_000
    with ctx(acme) as entity:
        add_fields(entity, [("score", "number", {}), ("langs", "multichoice", {"choices": "en\nzh\nja"})])
        choices = [["en"], ["zh"], ["en", "zh"], []]
        rows = [
            {
                "name": f"item{n:05d}",
                "custom": {"score": n % 1000, "langs": ["en", "ja"] if n % 40 == 32 else choices[n % 4]},
            }
            for n in range(total)
        ]
        db.session.execute(insert(Item), rows)
        stored = db.session.execute(select(Item.id, Item.custom)).mappings().all()
        cf.index_values(entity, stored)
        db.session.commit()
    engine = items_app.extensions["crm.db"].engine
    analyze(engine, "custom_values", "test_items")
    with ctx(acme) as entity:
        user = db.session.get(User, boss.id)
        query = parse(entity, {"cf_score__gte": "990", "cf_langs": "ja"})
        sql = str(statement(entity, query, user=user).compile(engine))
        assert sql.count("custom_values.field_id") == 2
        if engine.dialect.name == "sqlite":  # few matches: the ids come from the value index, read once
            assert sql.count("test_items.id IN (SELECT custom_values.record_id") == 2
        else:
            assert sql.count("EXISTS (SELECT custom_values.id") == 2
        expected = [f"item{n:05d}" for n in range(total) if n % 1000 >= 990 and n % 40 == 32]
        assert count(entity, query, user=user) == len(expected) == 20
        assert pages(entity, query, user) == expected

        # a common value: each listed row is probed (EXISTS), on every database
        common = parse(entity, {"cf_langs": "en", "cf_score__gte": "5"})
        assert str(statement(entity, common, user=user).compile(engine)).count("EXISTS (SELECT custom_values.id") == 2
        expected = [f"item{n:05d}" for n in range(total) if n % 4 in (0, 2) and n % 1000 >= 5]
        assert count(entity, common, user=user) == len(expected) == 9940
        first = fetch_page(entity, ListQuery(**{**common.__dict__, "limit": 20, "sort": "name"}), user=user)
        assert [item.name for item in first.items] == expected[:20]
        assert count(entity, parse(entity, {"cf_langs__empty": "1"}), user=user) == total // 4

        if engine.dialect.name == "sqlite":
            from sqlalchemy import text

            for args in (query, common):
                compiled = statement(entity, args, user=user).compile(engine, compile_kwargs={"literal_binds": True})
                plan = " ".join(str(row) for row in db.session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
                assert "SCAN custom_values" not in plan and "INDEX ix_custom_values_tenant_id" in plan, plan


def analyze(engine, *tables):
    """What autovacuum does shortly after a bulk load: give the planner statistics of the new rows."""
    from sqlalchemy import text

    if engine.dialect.name == "postgresql":
        statements = [f"ANALYZE {table}" for table in tables]
    elif engine.dialect.name in ("mysql", "mariadb"):
        statements = [f"ANALYZE TABLE {', '.join(tables)}"]
    else:
        statements = ["ANALYZE"]
    with engine.begin() as connection:
        for sql in statements:
            connection.execute(text(sql))


def pages(entity, query, user):
    """Every name the keyset pages of ``query`` show, 20 at a time, sorted by name."""
    seen, page_query = [], ListQuery(**{**query.__dict__, "limit": 20, "sort": "name"})
    while True:
        page = fetch_page(entity, page_query, user=user)
        seen += [item.name for item in page.items]
        if not page.next_cursor:
            return seen
        page_query.after = page.next_cursor


# ------------------------------------------------------------------------- tags with custom fields, counted


@pytest.mark.parametrize("few", [0, 10**9], ids=["probe-each-row", "read-the-ids-first"])
def test_tag_and_custom_field_filters_list_and_count_exactly_the_matching_rows(
    ctx, acme, boss, items_app, make_user, monkeypatch, few
):
    """Every combination of tags and custom field tests, for each scope, gives the rows a plain Python filter
    gives: in the count (driven by the intersected id lists; capped or not, in the trash too) and in every
    keyset page, deep pages included. ``few`` forces SQLite's two plans (probe each row, or read the ids of
    the value or tag first) so that both are checked on every database."""
    from core.entities import tags as tags_module
    from core.entities.tags import Tag, Tagging
    from core.models import Department

    monkeypatch.setattr(cf, "FEW", few)
    monkeypatch.setattr(tags_module, "FEW", few)
    own = make_user(acme, grants={"items.item.view": "own"}, use_app=items_app)
    team = make_user(acme, grants={"items.item.view": "department"}, departments=["North"], use_app=items_app)
    with ctx(acme) as entity:
        add_fields(
            entity,
            [
                ("region", "choice", {"choices": "north\nsouth\neast"}),
                ("score", "number", {}),
                ("langs", "multichoice", {"choices": "en\nzh\nja"}),
            ],
        )
        north = db.session.scalar(select(Department.id).where(Department.name == "North"))
        # Two tags whose names differ only in case: a filter on "vip" means both (MariaDB's collation, which
        # compares case-insensitively, allows only one of them).
        case_blind = db.session.get_bind().dialect.name in ("mysql", "mariadb")
        names = ["VIP", "Fair", "Unused"] + ([] if case_blind else ["vip"])
        db.session.add_all([Tag(name=name) for name in names])
        db.session.flush()
        tag_ids = {name: tag_id for name, tag_id in db.session.execute(select(Tag.name, Tag.id))}
        rows, expected_tags = [], {}
        for n in range(120):
            custom = {"score": n % 10}
            if n % 3:
                custom["region"] = ("north", "south")[n % 3 - 1]
            if n % 4:
                custom["langs"] = [["en"], ["zh"], ["en", "zh"]][n % 4 - 1]
            rows.append(
                {
                    "name": f"item{n:03d}",
                    "custom": custom,
                    "owner_id": (own.id, team.id, None)[n % 3] if n % 7 else boss.id,
                    "department_id": north if n % 5 == 0 else None,
                    "deleted_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC) if n % 11 == 0 else None,
                }
            )
        db.session.execute(insert(Item), rows)
        everything = select(Item.id, Item.name, Item.custom).order_by(Item.id).execution_options(include_deleted=True)
        stored = db.session.execute(everything).mappings().all()
        cf.index_values(entity, stored)
        for n, row in enumerate(stored):
            names = [name for name, every in (("VIP", 2), ("vip", 5), ("Fair", 3)) if n % every == 0]
            expected_tags[row["name"]] = {name.lower() for name in names}
            ids = {tag_ids.get(name, tag_ids["VIP"]) for name in names}
            db.session.add_all([Tagging(entity="items", record_id=row["id"], tag_id=tag_id) for tag_id in ids])
        db.session.commit()

    by_name = {row["name"]: (n, row) for n, row in enumerate(rows)}

    def visible(n, row, user, trash):
        if (row["deleted_at"] is not None) != trash:
            return False
        if user is own:
            return row["owner_id"] == own.id
        if user is team:
            return row["owner_id"] == team.id or row["department_id"] == north
        return True

    tests = {
        "tag": lambda name: "vip" in expected_tags[name],
        "cf_region": lambda name: by_name[name][1]["custom"].get("region") == "north",
        "cf_region__ne": lambda name: by_name[name][1]["custom"].get("region") not in (None, "north"),
        "cf_region__empty": lambda name: "region" not in by_name[name][1]["custom"],
        "cf_score__gte": lambda name: by_name[name][1]["custom"]["score"] >= 7,
        "cf_langs": lambda name: "en" in by_name[name][1]["custom"].get("langs", []),
    }
    combinations = [
        {"tag": "vip"},
        {"tag": "vip", "cf_region": "north"},
        {"tag": ["vip", "fair"], "cf_region": "north"},
        {"tag": "vip", "cf_region": "north", "cf_score__gte": "7"},
        {"tag": "VIP", "cf_langs": ["en", "zh"]},
        {"cf_region": "north", "cf_langs": "en"},
        {"tag": "fair", "cf_region__ne": "north"},
        {"tag": "vip", "cf_region__empty": "1"},
        {"tag": "unused", "cf_region": "north"},
        {"tag": "nosuchtag"},
    ]
    for args in combinations:
        tag_names = args.get("tag", [])
        tag_names = [tag_names] if isinstance(tag_names, str) else tag_names

        def matches(name, args=args, tag_names=tag_names):
            if not all(t.lower() in expected_tags[name] for t in tag_names):
                return False
            if "cf_langs" in args:
                langs = by_name[name][1]["custom"].get("langs", [])
                if not {"en", "zh"} & set(langs) if isinstance(args["cf_langs"], list) else "en" not in langs:
                    return False
            return all(tests[key](name) for key in args if key not in ("tag", "cf_langs"))

        for user in (boss, own, team):
            for trash in (False, True):
                expected = sorted(
                    name for name, (n, row) in by_name.items() if visible(n, row, user, trash) and matches(name)
                )
                with ctx(acme) as entity:
                    pairs = [
                        (k, v) for k, value in args.items() for v in (value if isinstance(value, list) else [value])
                    ]
                    query = parse(entity, MultiDict(pairs))
                    current = db.session.get(User, user.id)
                    label = f"{args} as {user.email}, trash={trash}"
                    assert count(entity, query, user=current, trash=trash) == len(expected), label
                    assert count(entity, query, user=current, trash=trash, cap=3) == min(len(expected), 4), label
                    if trash:
                        continue
                    assert pages(entity, query, current) == expected, label
                    # newest first, 3 a page: deep pages after the filter hold the rest, in order, once each
                    seen, page_query = [], ListQuery(**{**query.__dict__, "limit": 3, "sort": "-id"})
                    while True:
                        page = fetch_page(entity, page_query, user=current)
                        seen += [item.name for item in page.items]
                        if not page.next_cursor:
                            break
                        page_query.after = page.next_cursor
                    assert seen == sorted(expected, reverse=True), label
    # a count driven by tag or custom field filters stops at the lower FILTERED_COUNT_CAP, and says so
    monkeypatch.setattr(query_module, "FILTERED_COUNT_CAP", 2)
    with ctx(acme) as entity:
        current = db.session.get(User, boss.id)
        assert counted(entity, parse(entity, {"tag": "fair"}), user=current, cap=10) == (3, 2)
        assert counted(entity, parse(entity, {}), user=current, cap=10) == (11, 10)
