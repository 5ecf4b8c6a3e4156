"""An import's inserts run by a writer thread (core.write_behind): every other statement on the connection sees
them, the first error reaches the importing thread and nothing of the transaction is kept, a rollback drops what
has not run, and the rows are stored exactly as without the thread."""

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from core import db
from core.entities.bulk import BulkWriter, insert_many
from core.write_behind import WriteBehind, write_behind
from tests.items_plugin.models import Item


@pytest.fixture
def acme(items_app, make_tenant):
    return make_tenant("acme", use_app=items_app)


def _rows(tenant_id, names):
    return [{"name": name, "tenant_id": tenant_id} for name in names]


def _count():
    return db.session.scalar(select(func.count()).select_from(Item))


def test_statements_run_in_the_writer_thread_and_reads_wait_for_them(items_app, acme, in_tenant, monkeypatch):
    threads = set()
    submitted = WriteBehind.submit

    def watch(self, work):
        submitted(self, lambda connection: (threads.add(threading.get_ident()), work(connection)))

    monkeypatch.setattr(WriteBehind, "submit", watch)
    with in_tenant(acme, use_app=items_app):
        connection = db.session.connection()
        with write_behind(connection):
            for start in range(0, 3000, 500):
                insert_many(connection, Item.__table__, _rows(acme.id, [f"n{i}" for i in range(start, start + 500)]))
            # A query on the same connection sees every row submitted before it.
            assert _count() == 3000
            insert_many(connection, Item.__table__, _rows(acme.id, ["last"]))
        assert threads and threading.get_ident() not in threads
        names = db.session.scalars(select(Item.name).order_by(Item.id)).all()
        assert names == [f"n{i}" for i in range(3000)] + ["last"]
        db.session.commit()
    with in_tenant(acme, use_app=items_app):
        assert _count() == 3001


def test_a_refused_insert_is_raised_in_the_importing_thread_and_nothing_is_kept(items_app, acme, in_tenant):
    with in_tenant(acme, use_app=items_app):
        connection = db.session.connection()
        insert_many(connection, Item.__table__, _rows(acme.id, ["before"]))
        taken = db.session.scalar(select(Item.id))
        with pytest.raises(SQLAlchemyError), write_behind(connection):
            insert_many(connection, Item.__table__, _rows(acme.id, ["a", "b"]))
            insert_many(connection, Item.__table__, [{"id": taken, "name": "clash", "tenant_id": acme.id}])
            insert_many(connection, Item.__table__, _rows(acme.id, ["after the error"]))
            db.session.flush()
            _count()  # the error comes back here at the latest
        db.session.rollback()
    with in_tenant(acme, use_app=items_app):
        assert _count() == 0


def test_a_rollback_drops_the_statements_not_yet_run(items_app, acme, in_tenant):
    with in_tenant(acme, use_app=items_app):
        connection = db.session.connection()
        with pytest.raises(RuntimeError, match="stop"), write_behind(connection):
            for start in range(0, 5000, 1000):
                insert_many(connection, Item.__table__, _rows(acme.id, [f"n{i}" for i in range(start, start + 1000)]))
            raise RuntimeError("stop")
        db.session.rollback()
        assert _count() == 0


def test_bulk_writes_within_writing_are_stored_like_direct_ones(items_app, acme, in_tenant):
    from core.entities.registry import all_entities

    data = [{"name": f"王{i}", "custom": {"size": i}} for i in range(1500)]  # multi-row statements and the rest
    with in_tenant(acme, use_app=items_app):
        items = all_entities()["items"]
        direct = BulkWriter(None).create(items, data)
        writer = BulkWriter(None)
        with writer.writing():
            behind = writer.create(items, data)
        columns = [c for c in Item.__table__.columns if c.name not in ("id", "created_at", "updated_at")]
        by_id = {row[0]: tuple(row[1:]) for row in db.session.execute(select(Item.id, *columns))}
        assert [by_id[i] for i in behind] == [by_id[i] for i in direct]
        assert len(set(behind)) == 1500 and not set(behind) & set(direct)
