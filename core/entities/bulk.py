"""Creating many records at once: how an import writes its new rows, and what ``Entity.bulk_apply`` receives.

A :class:`BulkWriter` inserts the new records of one import (one transaction) with one multi-row statement per
batch, knowing their ids, and remembers which ids each entity received, so that the import's job indexes them for
search after the commit and its audit entry counts them. Rows inserted this way bypass the session's flush
listeners (audit per record, search index, custom-field value index); the writer keeps the custom-field value index
itself and leaves the rest to the import's announcement.

An entity whose ``apply`` writes more than its own columns (a contact's e-mail addresses, phone numbers and
companies) supplies ``bulk_apply(batch)`` too: it receives a :class:`BulkBatch` of new records, adjusts their
column values, calls :meth:`BulkBatch.insert` once, and writes for the whole batch what ``apply`` would write for
one record (child rows with one bulk insert, referenced records looked up with one query and created with
:meth:`BulkBatch.create`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain
from operator import itemgetter
from typing import Any

from sqlalchemy import Column, Connection, Table, event, func, inspect, select
from sqlalchemy.exc import DBAPIError

from core import db
from core.db import TenantOwned
from core.entities.bulk_references import INFO_KEY as REFERENCES
from core.entities.bulk_references import ReferenceCheck
from core.entities.definition import Entity
from core.entities.schemas import CUSTOM
from core.permissions import cached_grants
from core.tenancy import TenantRequired, current_tenant_id
from core.write_behind import submit, write_behind

# SQLite's page cache (KiB) while an import writes: see BulkWriter.writing.
SQLITE_CACHE_KIB = 32768
# Parameters one SQLite statement may have (SQLITE_MAX_VARIABLE_NUMBER: 32766 since SQLite 3.32, 999 before).
SQLITE_MAX_PARAMETERS = 32766 if sqlite3.sqlite_version_info >= (3, 32) else 999
# Rows per multi-row INSERT on SQLite, largest first (see _insert_rows); the last few rows go one by one.
SQLITE_ROWS_PER_STATEMENT = (256, 32)
# Columns the kernel fills (or the database does): never copied from imported data.
KERNEL_COLUMNS = frozenset({"id", "tenant_id", "version", "created_at", "updated_at", "deleted_at", CUSTOM})


@dataclass
class BulkBatch:
    """New records of one entity, written together: what ``Entity.bulk_apply(batch)`` receives.

    ``data`` holds each record's validated data (what ``apply`` would receive), ``rows`` the column values the
    kernel will insert for it (defaults, owner and creator filled in, columns of ``data`` copied), in the same
    order. The hook may change ``rows``, must call :meth:`insert` exactly once, and afterwards finds the new ids in
    ``ids`` (in the order of ``rows``).
    """

    entity: Entity
    data: list[dict[str, Any]]
    rows: list[dict[str, Any]]
    user: Any
    writer: BulkWriter = field(repr=False)
    ids: list[int] | None = None

    def insert(self) -> list[int]:
        """Insert ``rows``; returns their ids in order."""
        if self.ids is not None:
            raise RuntimeError(f"bulk_apply of {self.entity.plural} inserted its batch twice")
        self.ids = self.writer.insert(self.entity, self.rows)
        return self.ids

    def add(self, model: type, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert rows of a tenant-owned ``model`` that no other row of the batch refers to (child rows such as a
        contact's e-mail addresses), with one bulk insert (``insert_many``); column defaults apply, the tenant is
        stamped."""
        self.writer.add(model, rows)

    def read_committed(self, statement: Any) -> list[Any]:
        """The rows of a query of data the import does not write, without waiting for its inserts (see
        :meth:`BulkWriter.read_committed`)."""
        return self.writer.read_committed(statement)

    def remembered(self, name: str) -> dict[Any, Any]:
        """A dictionary kept for the whole import (see :meth:`BulkWriter.remembered`)."""
        return self.writer.remembered(name)

    def create(self, plural: str, data: Sequence[Mapping[str, Any]]) -> list[int]:
        """Create records of another entity (``"companies"``) from validated ``data``, in bulk, owned by the user;
        returns their ids in order. They are indexed for search after the commit like the batch's own records."""
        from core.entities.registry import all_entities

        return self.writer.create(all_entities()[plural], data)


class BulkWriter:
    """Inserts new records in bulk for one import, as ``user``; one writer per transaction."""

    def __init__(self, user: Any) -> None:
        self.user = user
        self.ranges: dict[str, tuple[int, int]] = {}  # plural -> lowest and highest id inserted
        self.created: dict[str, int] = {}  # plural -> how many records were inserted
        self.entities: dict[str, Entity] = {}
        self._next_id: dict[type, int] = {}
        self._sequences: dict[type, str] = {}
        self._reader: Any = None
        self._memo: dict[str, dict[Any, Any]] = {}

    @staticmethod
    def supports(entity: Entity) -> bool:
        """Whether new records of ``entity`` can be inserted in bulk: no ``apply`` unless there is a
        ``bulk_apply``, and no ORM validators or insert listeners that bulk statements would bypass."""
        mapper = inspect(entity.model)
        return (
            (entity.apply is None or entity.bulk_apply is not None)
            and not mapper.validators
            and not mapper.dispatch.before_insert
            and not mapper.dispatch.after_insert
        )

    @contextmanager
    def writing(self, behind: bool = True) -> Iterator[None]:
        """Around the writes of one import: the user's grants loaded once rather than for every batch, on SQLite
        a larger page cache for its connection while they last, on PostgreSQL the foreign keys of the bulk inserts
        checked once per referenced row (``core.entities.bulk_references``), and unless ``behind`` is false, the
        inserts run by a writer thread (``core.write_behind``) while the next batch is prepared, and a session of
        its own for :meth:`read_committed`.

        All rows of an import go in one transaction. With SQLite's default cache (2 MB) the pages of the indexes
        it inserts into are spilled to the write-ahead log and read back over and over: importing a million
        contacts wrote 75 GB to the log and read 112 GB back. 32 MB keeps the indexes' inner pages in memory (64 MB
        was no faster at a million contacts, and the import's memory, with its checker's, stays under 300 MB).
        """
        with cached_grants(), self._sqlite_cache(), self._checking_references(), self._watching_flushes():
            if not behind:
                yield
                return
            with write_behind(db.session.connection()), self._reading_aside():
                yield

    def read_committed(self, statement: Any) -> list[Any]:
        """The rows of a query of data this import does not write (or whose writes the caller remembers itself),
        read without waiting for the import's inserts: within :meth:`writing`, by a session of its own, which sees
        committed rows only. Tenant rules apply as in any session."""
        if self._reader is None:
            return list(db.session.execute(statement))
        try:
            return list(self._reader.execute(statement))
        finally:
            self._reader.rollback()  # the next read sees what has been committed since

    def remembered(self, name: str) -> dict[Any, Any]:
        """A dictionary kept for the whole import under ``name``: what a ``bulk_apply`` learns batch after batch
        (the companies it found or created) rather than reading it again."""
        return self._memo.setdefault(name, {})

    @contextmanager
    def _reading_aside(self) -> Iterator[None]:
        from core.db import get_db

        url = db.session.get_bind().url
        if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
            yield  # every session shares the one connection of an in-memory database: reads wait for the writes
            return
        self._reader = get_db().new_session()
        try:
            yield
        finally:
            self._reader.close()
            self._reader = None

    @contextmanager
    def _watching_flushes(self) -> Iterator[None]:
        """SQLite: the ids this writer gives are known only while nothing else inserts into the table. An import
        that also updates records creates some through the ORM (a company named by an updated contact), which takes
        the next id: after such a flush the next bulk insert into that table learns its ids afresh."""
        session = db.session._get_current_object()  # type: ignore[attr-defined]

        def forget_ids(session: Any, _context: Any) -> None:
            for model in [m for m in self._next_id if any(isinstance(obj, m) for obj in session.new)]:
                del self._next_id[model]

        event.listen(session, "after_flush", forget_ids)
        try:
            yield
        finally:
            event.remove(session, "after_flush", forget_ids)

    @staticmethod
    @contextmanager
    def _checking_references() -> Iterator[None]:
        """On PostgreSQL, where the role may, the foreign keys of the bulk inserts are checked once per referenced
        row by the import rather than per inserted row by the database (``core.entities.bulk_references``)."""
        connection = db.session.connection()
        if not ReferenceCheck.permitted(connection):
            yield
            return
        info = connection.info  # the DBAPI connection's: still there if a rollback has closed ``connection``
        info[REFERENCES] = ReferenceCheck()
        try:
            yield
        finally:
            info.pop(REFERENCES, None)

    @staticmethod
    @contextmanager
    def _sqlite_cache() -> Iterator[None]:
        if db.session.get_bind().dialect.name != "sqlite":
            yield
            return
        raw = db.session.connection().connection.dbapi_connection
        previous = raw.execute("PRAGMA cache_size").fetchone()[0]
        raw.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        try:
            yield
        finally:  # the connection goes back to the pool: other requests keep the usual cache
            raw.execute(f"PRAGMA cache_size={int(previous)}")

    def create(self, entity: Entity, data: Sequence[Mapping[str, Any]]) -> list[int]:
        """New records of ``entity`` from validated ``data`` (tags not included); their ids in order."""
        if not data:
            return []
        if not self.supports(entity):
            raise RuntimeError(f"records of {entity.plural} cannot be created in bulk")
        rows = self.rows(entity, data)
        if entity.bulk_apply is None:
            return self.insert(entity, rows)
        batch = BulkBatch(entity, [dict(d) for d in data], rows, self.user, self)
        entity.bulk_apply(batch)
        if batch.ids is None or len(batch.ids) != len(rows):
            raise RuntimeError(f"bulk_apply of {entity.plural} did not insert its batch")
        return batch.ids

    def rows(self, entity: Entity, data: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The column values to insert for each of ``data``: Python-side defaults (evaluated once, so every row has
        the same keys, which one multi-row statement needs), the data's columns, owner and creator."""
        mapper = inspect(entity.model)
        writable = {attr.key for attr in mapper.column_attrs} - KERNEL_COLUMNS
        base = self._defaults(entity)
        has_owner = "owner_id" in base
        user_id = getattr(self.user, "id", None)
        rows = []
        for item in data:
            row = dict(base)
            for name, value in item.items():
                if name in writable:
                    row[name] = value
            if item.get(CUSTOM):
                row[CUSTOM] = dict(item[CUSTOM])
            if has_owner and row.get("owner_id") is None:
                row["owner_id"] = user_id  # an empty owner means the creator, as in service.create
            if "created_by_id" in base:
                row["created_by_id"] = user_id
            rows.append(row)
        return rows

    @staticmethod
    def _defaults(entity: Entity) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for attr in inspect(entity.model).column_attrs:
            column = attr.columns[0]
            if column.primary_key or column.server_default is not None:
                continue
            default = column.default
            if default is None:
                values[attr.key] = None
            elif default.is_scalar:
                values[attr.key] = default.arg
            elif default.is_callable:
                values[attr.key] = default.arg(None)
        return values

    def insert(self, entity: Entity, rows: list[dict[str, Any]]) -> list[int]:
        """Insert prepared ``rows`` of ``entity``; their ids in order. Keeps the custom-field value index."""
        if not rows:
            return []
        model = entity.model
        _check_tenant(model, rows)
        dialect = db.session.get_bind().dialect.name
        if dialect == "sqlite":
            ids = self._insert_sqlite(model, rows)
        elif dialect == "postgresql":
            ids = self._insert_postgresql(model, rows)
        else:
            table = model.__table__
            statement = table.insert().returning(table.c.id, sort_by_parameter_order=True)
            ids = list(db.session.connection().execute(statement, rows).scalars())
        custom = [{"id": ident, CUSTOM: row[CUSTOM]} for ident, row in zip(ids, rows, strict=True) if row.get(CUSTOM)]
        if custom:  # the custom-field value index (filters) is kept by a flush listener these rows bypass
            from core.entities.custom_fields import index_values

            index_values(entity, custom)
        low, high = min(ids), max(ids)
        known = self.ranges.get(entity.plural)
        self.ranges[entity.plural] = (low, high) if known is None else (min(known[0], low), max(known[1], high))
        self.created[entity.plural] = self.created.get(entity.plural, 0) + len(ids)
        self.entities[entity.plural] = entity
        return ids

    def add(self, model: type, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert rows of a tenant-owned ``model`` with one bulk insert (no ids come back)."""
        add_rows(model, rows)

    def _insert_postgresql(self, model: type, rows: list[dict[str, Any]]) -> list[int]:
        """Insert rows on PostgreSQL with ids drawn from the table's sequence first, in one query.

        A multi-row ``INSERT ... RETURNING`` of a thousand rows of thirty columns is one statement of thirty
        thousand parameters that the driver parses afresh every batch, which costs more than the insert; the rows
        with the ids given, by ``COPY`` (see :func:`insert_many`), are several times cheaper.
        """
        table = model.__table__  # type: ignore[attr-defined]
        connection = db.session.connection()
        sequence = self._sequences.get(model)
        if sequence is None:
            sequence = connection.execute(select(func.pg_get_serial_sequence(table.name, "id"))).scalar_one()
            self._sequences[model] = sequence
        draw = select(func.nextval(sequence)).select_from(func.generate_series(1, len(rows)))
        ids = sorted(row[0] for row in self.read_committed(draw))  # sequences are outside transactions
        for ident, row in zip(ids, rows, strict=True):
            row["id"] = ident
        insert_many(connection, table, rows)
        return ids

    def _insert_sqlite(self, model: type, rows: list[dict[str, Any]]) -> list[int]:
        """Insert rows on SQLite in multi-row statements, knowing their ids.

        SQLite cannot return the ids of a multi-row INSERT in the order of its rows, so SQLAlchemy would insert
        them one statement per row. But SQLite gives a new row the largest rowid plus one, and this transaction
        holds SQLite's single write lock from its first insert until it ends: once one row of a table has been
        inserted the usual way, the ids of all further rows of that table are known and given explicitly, until
        the session flushes a new record of the table itself (see :meth:`_watching_flushes`).
        """
        ids: list[int] = []
        table = model.__table__  # type: ignore[attr-defined]
        connection = db.session.connection()
        next_id = self._next_id.get(model)
        if next_id is None:
            first = connection.execute(table.insert().returning(table.c.id), rows[0]).scalar_one()
            ids.append(first)
            next_id = first + 1
            rows = rows[1:]
        if rows:
            for offset, row in enumerate(rows):
                row["id"] = next_id + offset
            insert_many(connection, table, rows)
            ids.extend(row["id"] for row in rows)
            next_id += len(rows)
        self._next_id[model] = next_id
        return ids


def add_rows(model: type, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert rows of a tenant-owned ``model`` with one bulk insert, stamped with the current tenant (no ids
    come back; column defaults apply). Rows inserted this way pass no flush listener."""
    if rows:
        given = {"tenant_id": _current_tenant(model)}
        insert_many(db.session.connection(), model.__table__, rows, given)  # type: ignore[attr-defined]


def insert_many(
    connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]], given: Mapping[str, Any] | None = None
) -> None:
    """``INSERT`` ``rows`` (all with the keys of the first) into ``table`` in bulk; ``given`` holds values for
    columns of every row (they win over the rows' own).

    SQLAlchemy's executemany builds and converts every row's parameters generically, which costs more per row
    than SQLite's insert. On SQLite the rows go to the driver as tuples instead, in multi-row statements, and on
    PostgreSQL (psycopg) by ``COPY`` (within an import, with the foreign keys checked as
    ``core.entities.bulk_references`` says), converted by each column's bind processor as SQLAlchemy would. Within
    :meth:`BulkWriter.writing` the statement runs in the connection's writer thread (``core.write_behind``) while
    the caller goes on.
    """
    given = given or {}
    dialect = connection.dialect
    sqlite = dialect.name == "sqlite" and dialect.paramstyle == "qmark"
    copy = dialect.name == "postgresql" and dialect.driver == "psycopg"
    plan = _driver_plan(connection, table, rows[0], given) if sqlite or copy else None
    if plan is None:
        parameters = [{**row, **given} for row in rows] if given else list(rows)
        submit(connection, lambda connection: connection.execute(table.insert(), parameters))
        return
    columns, keys, tail, processors = plan
    preparer = dialect.identifier_preparer
    into = f"{preparer.format_table(table)} ({', '.join(preparer.format_column(column) for column in columns)})"
    values = list(_driver_values(rows, keys, tail, processors))
    if sqlite:
        submit(connection, lambda connection: _insert_rows(connection, into, len(columns), values))
        return
    statement = f"COPY {into} FROM STDIN"
    references: ReferenceCheck | None = connection.info.get(REFERENCES)
    if references is None:
        submit(connection, lambda connection: _copy(connection, statement, values))
    else:
        submit(
            connection,
            lambda connection: references.copy(
                connection, table, columns, values, lambda: _copy(connection, statement, values)
            ),
        )


def _insert_rows(connection: Connection, into: str, width: int, values: list[tuple[Any, ...]]) -> None:
    """SQLite: ``values`` inserted with multi-row ``INSERT`` statements (a few sizes, each prepared once).

    An ``executemany`` hands the interpreter back after every row, and a thread that wants it back waits for the
    thread holding it to give it up (up to five milliseconds): a writer thread running one would store a row
    while the thread preparing the next batch runs for milliseconds. One statement of 256 rows keeps the
    interpreter released while SQLite stores all of them, at a somewhat higher cost per row (about 67 against
    52 µs for a contact row at two million: bench/README.md).
    """
    row = f"({', '.join('?' * width)})"
    start = 0
    for size in SQLITE_ROWS_PER_STATEMENT:
        if size * width > SQLITE_MAX_PARAMETERS:
            continue
        if len(values) - start >= size:
            statement = f"INSERT INTO {into} VALUES {', '.join([row] * size)}"
            while len(values) - start >= size:
                connection.exec_driver_sql(statement, tuple(chain.from_iterable(values[start : start + size])))
                start += size
    if start < len(values):
        connection.exec_driver_sql(f"INSERT INTO {into} VALUES {row}", values[start:])


def _copy(connection: Connection, statement: str, values: list[tuple[Any, ...]]) -> None:
    """``COPY`` ``values`` in; the driver's error as SQLAlchemy's, as for any other statement."""
    dbapi = connection.dialect.loaded_dbapi
    try:
        with connection.connection.cursor() as cursor, cursor.copy(statement) as writer:
            for row in values:
                writer.write_row(row)
    except dbapi.Error as exc:
        raise DBAPIError.instance(statement, None, exc, dbapi.Error) from exc


_Plan = tuple[list[Column], list[str], list[Any], list[Callable[[Any], Any] | None]]


def _driver_plan(
    connection: Connection, table: Table, first: Mapping[str, Any], given: Mapping[str, Any]
) -> _Plan | None:
    """The columns to insert, the row keys (the first columns), the converted values of the other columns (the
    same for every row) and the row keys' bind processors, for an insert that passes SQLAlchemy by; None where
    SQLAlchemy's own must run (it reports unknown columns, and evaluates callable and SQL defaults and SQL-side
    type expressions per row)."""
    columns = table.c
    keys = [key for key in first if key not in given]
    shared = dict(given)
    if any(key not in columns for key in (*keys, *shared)):
        return None
    for column in columns:
        if column.key in first or column.key in shared or column.default is None:
            continue  # given, or NULL, a server default or the autoincrement id
        if not column.default.is_scalar:
            return None
        shared[column.key] = column.default.arg
    ordered = [columns[key] for key in (*keys, *shared)]
    if any(column.type._has_bind_expression for column in ordered):
        return None
    processors = [column.type._cached_bind_processor(connection.dialect) for column in ordered]
    tail = [
        value if process is None else process(value)
        for value, process in zip(shared.values(), processors[len(keys) :], strict=True)
    ]
    return ordered, keys, tail, processors[: len(keys)]


def _driver_values(
    rows: Sequence[Mapping[str, Any]], keys: list[str], tail: list[Any], processors: list[Callable[[Any], Any] | None]
) -> Iterator[tuple[Any, ...]]:
    """Each row's values of ``keys`` converted by ``processors``, followed by ``tail``."""
    get = itemgetter(*keys) if len(keys) > 1 else lambda row: (row[keys[0]],)
    converters = [(index, _converter(process)) for index, process in enumerate(processors) if process is not None]
    for row in rows:
        values = list(get(row))
        for index, convert in converters:
            values[index] = convert(values[index])
        values.extend(tail)
        yield tuple(values)


_UNSET = object()


def _converter(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``process`` remembering its last value: the rows of a batch share many values (one timestamp, no custom
    fields), which are then converted once."""
    last_value: Any = _UNSET
    last_result: Any = None

    def convert(value: Any) -> Any:
        nonlocal last_value, last_result
        if value is not last_value:
            last_value, last_result = value, process(value)
        return last_result

    return convert


def _current_tenant(model: type) -> int:
    """The tenant whose rows a bulk insert writes: these Core statements pass no ORM listener, so the writer
    applies the tenant guard's rules itself (a tenant in context, rows of no other tenant)."""
    if not issubclass(model, TenantOwned):
        raise TypeError(f"{model.__name__} is not tenant-owned")
    tenant_id = current_tenant_id()
    if tenant_id is None:
        raise TenantRequired(f"{model.__name__} written in bulk with no tenant in context")
    return tenant_id


def _check_tenant(model: type, rows: Sequence[dict[str, Any]]) -> None:
    tenant_id = _current_tenant(model)
    for row in rows:
        if row.setdefault("tenant_id", tenant_id) != tenant_id:
            raise TenantRequired(f"{model.__name__} rows written in bulk for another tenant")
