"""Database: declarative base, engine and session per app, and the central tenant guard.

Every ORM select, update and delete on a :class:`TenantOwned` model gets ``tenant_id = <current>`` added by
one ``do_orm_execute`` listener; every insert is stamped and checked by one ``before_flush`` listener. With no
tenant in context both raise :class:`~core.tenancy.TenantRequired`: isolation fails closed.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask import Flask, current_app, has_app_context
from flask.globals import app_ctx
from sqlalchemy import (
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    ORMExecuteState,
    Session,
    declared_attr,
    mapped_column,
    scoped_session,
    sessionmaker,
    with_loader_criteria,
)
from sqlalchemy.types import TypeDecorator
from werkzeug.local import LocalProxy

from core.tenancy import TenantRequired, current_tenant_id
from core.write_behind import guard as guard_write_behind

# PostgreSQL keeps 63 characters of a name and MariaDB refuses more than 64, so a longer derived name keeps its
# first 51 characters and ends with a hash of the whole (names that fit are exactly the plain convention's).
MAX_NAME = 63


def fit_name(name: str) -> str:
    """``name`` itself, or when longer than ``MAX_NAME`` its start plus a short hash of the whole."""
    if len(name) <= MAX_NAME:
        return name
    import hashlib

    return f"{name[:51]}_{hashlib.sha1(name.encode()).hexdigest()[:8]}"


def _column_names(constraint: Any) -> str:
    return "_".join(column.name for column in constraint.columns)


def _index_name(constraint: Any, table: Any) -> str:
    return fit_name(f"ix_{table.name}_{_column_names(constraint)}")


def _unique_name(constraint: Any, table: Any) -> str:
    return fit_name(f"uq_{table.name}_{_column_names(constraint)}")


def _foreign_key_name(constraint: Any, table: Any) -> str:
    element = constraint.elements[0]
    referred = element.target_fullname.rsplit(".", 1)[0]
    return fit_name(f"fk_{table.name}_{element.parent.name}_{referred}")


NAMING_CONVENTION = {
    "ix_fitted": _index_name,
    "uq_fitted": _unique_name,
    "fk_fitted": _foreign_key_name,
    "ix": "%(ix_fitted)s",
    "uq": "%(uq_fitted)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "%(fk_fitted)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base shared by core and every plugin (one metadata, portable constraint names)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator):
    """Stores naive UTC on every backend and always returns an aware UTC datetime.

    Microseconds are kept everywhere: on MySQL and MariaDB as ``DATETIME(6)`` (plain ``DATETIME`` drops them).
    """

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name in ("mysql", "mariadb"):
            from sqlalchemy.dialects.mysql import DATETIME

            return dialect.type_descriptor(DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware datetime")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class TenantOwned:
    """Mixin for rows that belong to one tenant. Put ``tenant_id`` first in every index of the table."""

    __audit__ = True  # record create/update/delete in the audit log
    __audit_exclude__: frozenset[str] = frozenset()

    @declared_attr
    def tenant_id(cls) -> Mapped[int]:  # noqa: N805
        # The default stamps rows of ORM ``insert()`` statements; flushed objects are stamped in ``before_flush``.
        return mapped_column(
            Integer, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False, default=current_tenant_id
        )


class Versioned:
    """Optimistic locking: a stale ``version`` makes the flush raise ``StaleDataError``."""

    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:  # noqa: N805
        return {"version_id_col": cls.__table__.c.version}


class TenantSession(Session):
    """The session class whose listeners enforce tenant isolation."""

    def get(self, entity: Any, ident: Any, **kwargs: Any) -> Any:
        # A row already in the identity map is returned without SQL, so without the tenant criterion.
        obj = super().get(entity, ident, **kwargs)
        if not isinstance(obj, TenantOwned) or (kwargs.get("execution_options") or {}).get("all_tenants"):
            return obj
        tenant_id = current_tenant_id()
        if tenant_id is None:
            raise TenantRequired("get() of tenant-owned data with no tenant in context")
        return obj if obj.tenant_id == tenant_id else None


def _is_tenant_owned(mapper: Any) -> bool:
    return mapper is not None and issubclass(mapper.class_, TenantOwned)


def _written(state: ORMExecuteState, column: str) -> list[Any]:
    """The values an ORM insert or update statement writes into ``column``, where given as values."""
    if isinstance(state.parameters, list | tuple):  # bulk: one dict per row
        return [row[column] for row in state.parameters if row.get(column) is not None]
    param = re.compile(rf"^{column}(_m\d+)?$")  # .values(...), single or multi-row
    compiled = state.statement.compile().params
    given = [value for key, value in compiled.items() if param.match(key) and value is not None]
    return given + [value for key, value in (state.parameters or {}).items() if key == column]


def _upsert_by_primary_key(state: ORMExecuteState) -> bool:
    """An ON CONFLICT DO UPDATE / ON DUPLICATE KEY UPDATE insert that names primary keys: it could update
    another tenant's row, which no loader criterion reaches."""
    clause = getattr(state.statement, "_post_values_clause", None)
    if clause is None or type(clause).__name__ == "OnConflictDoNothing":
        return False
    return any(_written(state, column.key) for column in state.bind_mapper.primary_key)


@event.listens_for(TenantSession, "do_orm_execute")
def _add_tenant_criteria(state: ORMExecuteState) -> None:
    if state.execution_options.get("all_tenants"):
        return
    if state.is_column_load:
        return
    if not (state.is_select or state.is_update or state.is_delete or state.is_insert):
        return
    touches_tenant_data = any(_is_tenant_owned(m) for m in state.all_mappers) or _is_tenant_owned(state.bind_mapper)
    tenant_id = current_tenant_id()
    if tenant_id is None:
        if touches_tenant_data:
            raise TenantRequired("query on tenant-owned data with no tenant in context")
        return
    # Rows are written for the current tenant only: no planting rows in, or moving rows to, another one.
    writes = touches_tenant_data and (state.is_insert or state.is_update)
    if writes and any(value != tenant_id for value in _written(state, "tenant_id")):
        raise TenantRequired("rows of tenant-owned data written for another tenant")
    if writes and state.is_insert and _upsert_by_primary_key(state):
        raise TenantRequired("an upsert of tenant-owned rows may not name their primary key")
    if state.is_insert:
        return  # a missing tenant_id is filled in by the column default
    if state.is_update and isinstance(state.parameters, list | tuple) and _is_tenant_owned(state.bind_mapper):
        # Bulk UPDATE by primary key ignores loader criteria: add the tenant to its WHERE clause. Objects
        # already in the session are not synchronised (SQLAlchemy cannot with extra criteria).
        state.statement = state.statement.where(state.bind_mapper.class_.tenant_id == tenant_id)
        state.update_execution_options(synchronize_session=None)
        return
    state.statement = state.statement.options(
        with_loader_criteria(TenantOwned, lambda cls: cls.tenant_id == tenant_id, include_aliases=True)
    )


@event.listens_for(TenantSession, "before_flush")
def _stamp_and_check_tenant(session: Session, flush_context: Any, instances: Any) -> None:
    if session.info.get("all_tenants"):
        return
    for obj in list(session.new) + list(session.dirty):
        if not isinstance(obj, TenantOwned):
            continue
        tenant_id = current_tenant_id()
        if tenant_id is None:
            raise TenantRequired(f"{type(obj).__name__} written with no tenant in context")
        if obj.tenant_id is None:
            obj.tenant_id = tenant_id
        elif obj.tenant_id != tenant_id:
            raise TenantRequired(f"{type(obj).__name__} belongs to another tenant")
    for obj in session.deleted:
        if isinstance(obj, TenantOwned) and obj.tenant_id != current_tenant_id():
            raise TenantRequired(f"{type(obj).__name__} of another tenant cannot be deleted")


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str, echo: bool = False) -> Engine:
    """An engine with the per-backend settings Guanxi relies on (utf8mb4, foreign keys, WAL)."""
    kwargs: dict[str, Any] = {"echo": echo, "future": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False}
    elif url.startswith("mysql") or url.startswith("mariadb"):
        kwargs["pool_recycle"] = 3600
        kwargs["pool_pre_ping"] = True
        if "charset=" not in url:
            url += ("&" if "?" in url else "?") + "charset=utf8mb4"
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    guard_write_behind(engine)
    return engine


def _app_context_id() -> int:
    return id(app_ctx._get_current_object())


class Database:
    """Engine plus a scoped session for one app; removed at the end of every app context."""

    def __init__(self, app: Flask) -> None:
        self.engine = make_engine(app.config["DATABASE_URL"], echo=app.config["SQL_ECHO"])
        self.factory = sessionmaker(bind=self.engine, class_=TenantSession, expire_on_commit=False)
        # One session per app context (not per thread): a nested app context, such as the one a job run
        # inline opens, must not close the session of the request or command around it.
        self.scoped = scoped_session(self.factory, scopefunc=_app_context_id)
        app.extensions["crm.db"] = self
        app.teardown_appcontext(self._remove)

    def _remove(self, exc: BaseException | None = None) -> None:
        self.scoped.remove()

    def new_session(self) -> TenantSession:
        return self.factory()


def get_db() -> Database:
    return current_app.extensions["crm.db"]


def _current_session() -> TenantSession:
    if not has_app_context():
        raise RuntimeError("the database session needs an app context")
    override = current_app.extensions["crm.db"]
    from core.events import session_override

    forced = session_override.get()
    if forced is not None:
        return forced
    return override.scoped()


session: TenantSession = LocalProxy(_current_session)  # type: ignore[assignment]
"""The session of the current app context. Plugins use this; raw SQL is for the kernel only."""
