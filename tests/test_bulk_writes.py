"""Bulk writes (imports, the list's bulk actions): rows inserted past the ORM are stored as the ORM stores them,
taggings are added once per record and tag, and a user's grants are loaded once per import."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core import db
from core.entities.tags import Tag, Tagging, add_tags, tags_of
from core.models import User
from tests.items_plugin.models import Item


@pytest.fixture
def acme(items_app, make_tenant):
    return make_tenant("acme", use_app=items_app)


def stored(ids):
    """The rows as the database holds them (no type conversion), timestamps reduced to their shape."""
    columns = [c.name for c in Item.__table__.columns if c.name != "id"]
    table = Item.__table__.name
    marks = ", ".join(str(int(i)) for i in ids)
    rows = db.session.connection().exec_driver_sql(
        f"SELECT {', '.join(columns)} FROM {table} WHERE id IN ({marks}) ORDER BY id"
    )
    shape = {"created_at", "updated_at"}
    return [
        {c: re.sub(r"\d", "9", str(v)) if c in shape else v for c, v in zip(columns, row, strict=True)} for row in rows
    ]


def test_rows_written_in_bulk_are_stored_as_the_orm_stores_them(items_app, acme, in_tenant):
    from core.entities.bulk import BulkWriter
    from core.entities.registry import all_entities

    values = {
        "name": "王小明",
        "amount": Decimal("1234.50"),
        "due": dt.date(2024, 2, 29),
        "notes": None,
        "custom": {"colour": "紅", "size": 3, "tags": ["a", "b"]},
    }
    with in_tenant(acme, use_app=items_app):
        orm = Item(**values)
        db.session.add(orm)
        db.session.flush()
        plain = Item(**{**values, "custom": None})
        db.session.add(plain)
        db.session.flush()
        # Two batches: on SQLite the first row of a table goes in with RETURNING, the rest with one executemany.
        writer = BulkWriter(None)
        first = writer.create(all_entities()["items"], [values])
        ids = writer.create(all_entities()["items"], [values, {**values, "custom": None}])
        assert stored(first) == stored([orm.id])
        assert stored(ids) == stored([orm.id, plain.id])
        db.session.expire_all()
        item = db.session.get(Item, ids[0])
        assert (item.amount, item.due, item.custom) == (values["amount"], values["due"], values["custom"])
        assert item.created_at.tzinfo == dt.UTC and item.status == "open" and item.tenant_id == acme.id
        assert abs(item.created_at - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)


def test_rows_without_a_column_get_its_default(items_app, acme, in_tenant):
    from core.entities.bulk import insert_many

    with in_tenant(acme, use_app=items_app):
        connection = db.session.connection()
        rows = [{"name": f"n{i}", "tenant_id": acme.id, "created_at": dt.datetime.now(dt.UTC)} for i in range(3)]
        rows = [{**row, "updated_at": row["created_at"]} for row in rows]
        insert_many(connection, Item.__table__, rows)  # no status or version: scalar defaults
        insert_many(connection, Item.__table__, [{"name": "late", "tenant_id": acme.id}])  # callable defaults
        found = db.session.execute(select(Item.name, Item.status, Item.version).order_by(Item.id)).all()
        assert [tuple(row) for row in found] == [("n0", "open", 1), ("n1", "open", 1), ("n2", "open", 1)] + [
            ("late", "open", 1)
        ]
        assert db.session.scalar(select(Item.created_at).where(Item.name == "late")) is not None


def test_add_tags_adds_each_tag_once_for_the_current_workspace(items_app, acme, make_tenant, in_tenant):
    globex = make_tenant("globex", use_app=items_app)
    with in_tenant(globex, use_app=items_app):
        add_tags("items", [1, 2], ["VIP"])  # the same name and record ids in another workspace
        db.session.commit()
    with in_tenant(acme, use_app=items_app):
        items = [Item(name=f"i{n}") for n in range(4)]
        db.session.add_all(items)
        db.session.flush()
        ids = [item.id for item in items]
        add_tags("items", ids[:2], ["VIP"])
        add_tags("items", [*ids, ids[0]], ["vip", "New", " new "])
        add_tags("items", ids[3:], [])
        db.session.commit()
        assert tags_of("items", ids) == {ident: ["New", "VIP"] for ident in ids}
        assert db.session.scalar(select(func.count()).select_from(Tagging)) == 8
        assert sorted(db.session.scalars(select(Tag.name))) == ["New", "VIP"]
        assert set(db.session.scalars(select(Tagging.tenant_id))) == {acme.id}
    with in_tenant(globex, use_app=items_app):
        assert db.session.scalar(select(func.count()).select_from(Tagging)) == 2


def test_grants_are_loaded_once_while_cached(items_app, acme, make_user, in_tenant, monkeypatch):
    import core.permissions as permissions

    user = make_user(acme, grants={"items.item.view": "own"}, use_app=items_app)
    loads = []
    load = permissions.load_grants
    monkeypatch.setattr(permissions, "load_grants", lambda u: loads.append(u.id) or load(u))
    with in_tenant(acme, use_app=items_app):
        user = db.session.get(User, user.id)
        with permissions.cached_grants():
            assert permissions.has_permission("items.item.view", user)
            assert not permissions.has_permission("items.item.delete", user)
        assert permissions.has_permission("items.item.view", user)
    assert loads == [user.id, user.id]
