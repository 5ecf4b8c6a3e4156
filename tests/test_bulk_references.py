"""PostgreSQL: an import's bulk inserts have their foreign keys checked once per referenced row by the import
(core.entities.bulk_references) rather than by a trigger per row, with the same guarantees: a missing row is
refused and nothing is kept, a referenced row stays locked until the import ends, statements other than the bulk
inserts keep their triggers, and so does a table with triggers of its own."""

import datetime as dt

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from core import db
from core.entities.bulk import BulkWriter, insert_many
from core.entities.bulk_references import ReferenceCheck
from tests.items_plugin.models import Item


@pytest.fixture
def acme(items_app, make_tenant):
    if items_app.extensions["crm.db"].engine.dialect.name != "postgresql":
        pytest.skip("foreign keys are checked by the import itself on PostgreSQL only")
    return make_tenant("acme", use_app=items_app)


def _items(tenant_id, owner_id, count=3, name="n"):
    """Rows with every column an import gives (no callable default left): they go in by ``COPY``."""
    now = dt.datetime.now(dt.UTC)
    return [
        {"name": f"{name}{i}", "tenant_id": tenant_id, "owner_id": owner_id, "created_at": now, "updated_at": now}
        for i in range(count)
    ]


def _count():
    return db.session.scalar(select(func.count()).select_from(Item))


@pytest.mark.parametrize("checked_by_import", [True, False], ids=["import-checks", "database-checks"])
def test_a_bulk_insert_naming_a_missing_row_is_refused_and_nothing_is_kept(
    items_app, acme, make_user, in_tenant, monkeypatch, checked_by_import
):
    owner = make_user(acme, email="owner@acme.example.com", use_app=items_app)
    if not checked_by_import:  # a role without the privilege: the database's triggers check every row
        monkeypatch.setattr(ReferenceCheck, "permitted", staticmethod(lambda connection: False))
    with in_tenant(acme, use_app=items_app):
        with pytest.raises(IntegrityError) as refused, BulkWriter(None).writing():
            connection = db.session.connection()
            insert_many(connection, Item.__table__, _items(acme.id, owner.id))
            insert_many(connection, Item.__table__, _items(acme.id, owner.id) + _items(acme.id, 987654, 1))
        assert '(owner_id)=(987654) is not present in table "users"' in str(refused.value.orig)
        db.session.rollback()
        assert _count() == 0


def test_the_rows_are_stored_and_other_statements_keep_their_triggers(items_app, acme, make_user, in_tenant):
    owner = make_user(acme, email="owner@acme.example.com", use_app=items_app)
    with in_tenant(acme, use_app=items_app):
        with BulkWriter(None).writing():
            connection = db.session.connection()
            insert_many(connection, Item.__table__, _items(acme.id, owner.id, 500))
            insert_many(connection, Item.__table__, _items(acme.id, None, 2))
            assert connection.exec_driver_sql("SHOW session_replication_role").scalar() == "origin"
        assert db.session.scalar(select(func.count()).where(Item.owner_id == owner.id)) == 500
        db.session.commit()
        # After the bulk inserts, in the same transaction, an ORM insert is still checked by the database.
        db.session.add(Item(name="orm", owner_id=987654))
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()
        assert _count() == 502


def test_a_referenced_row_cannot_be_deleted_until_the_import_ends(items_app, acme, make_user, in_tenant):
    owner = make_user(acme, email="owner@acme.example.com", use_app=items_app)
    engine = items_app.extensions["crm.db"].engine
    with in_tenant(acme, use_app=items_app):
        with BulkWriter(None).writing():
            insert_many(db.session.connection(), Item.__table__, _items(acme.id, owner.id))
        with engine.connect() as other:
            other.execute(text("SET lock_timeout = '300ms'"))
            with pytest.raises(OperationalError, match="lock"):
                other.execute(text("DELETE FROM users WHERE id = :id"), {"id": owner.id})
            other.rollback()
        db.session.commit()
    with engine.connect() as other:  # the import has ended: the delete goes ahead (owners are set to NULL)
        other.execute(text("DELETE FROM users WHERE id = :id"), {"id": owner.id})
        other.commit()
    with in_tenant(acme, use_app=items_app):
        assert db.session.scalars(select(Item.owner_id)).all() == [None, None, None]


def test_a_table_with_triggers_of_its_own_keeps_them(items_app, acme, in_tenant):
    with in_tenant(acme, use_app=items_app):
        connection = db.session.connection()
        # Created in the test's transaction, which is rolled back: other tests never see the trigger.
        connection.exec_driver_sql(
            "CREATE FUNCTION test_items_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.name = 'refused0' THEN RAISE EXCEPTION 'the trigger refused %%', NEW.name; END IF; "
            "RETURN NEW; END $$"
        )
        connection.exec_driver_sql(
            "CREATE TRIGGER test_items_refuse BEFORE INSERT ON test_items "
            "FOR EACH ROW EXECUTE FUNCTION test_items_refuse()"
        )
        with pytest.raises(Exception, match="the trigger refused"), BulkWriter(None).writing():
            insert_many(db.session.connection(), Item.__table__, _items(acme.id, None, 1, name="refused"))
        db.session.rollback()
        assert "test_items_refuse" not in str(
            db.session.connection().exec_driver_sql("SELECT tgname FROM pg_trigger").scalars().all()
        )
