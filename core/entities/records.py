"""Model mixins for entity records: identity, timestamps, optimistic locking, trash, custom fields, owner."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, event
from sqlalchemy.orm import Mapped, ORMExecuteState, declared_attr, mapped_column, with_loader_criteria

from core.db import TenantOwned, TenantSession, UTCDateTime, Versioned, utcnow


class Record(TenantOwned, Versioned):
    """Base of every entity model: ``id``, ``created_at``, ``updated_at``, ``created_by_id``, ``deleted_at``
    (rows in the trash are hidden from every query unless ``execution_options(include_deleted=True)``), and
    ``custom`` (the values of the tenant's custom fields, by field key)."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    custom: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    @declared_attr
    def created_by_id(cls) -> Mapped[int | None]:  # noqa: N805
        return mapped_column(Integer, ForeignKey("users.id", ondelete="SET NULL"))


class Owned:
    """Record scopes: the owner and department columns ``scoped()`` filters on."""

    __owner_column__ = "owner_id"
    __department_column__ = "department_id"

    @declared_attr
    def owner_id(cls) -> Mapped[int | None]:  # noqa: N805
        return mapped_column(Integer, ForeignKey("users.id", ondelete="SET NULL"))

    @declared_attr
    def department_id(cls) -> Mapped[int | None]:  # noqa: N805
        return mapped_column(Integer, ForeignKey("departments.id", ondelete="SET NULL"))


@event.listens_for(TenantSession, "do_orm_execute")
def _hide_trash(state: ORMExecuteState) -> None:
    if not state.is_select or state.is_column_load or state.execution_options.get("include_deleted"):
        return
    state.statement = state.statement.options(
        with_loader_criteria(Record, lambda cls: cls.deleted_at.is_(None), include_aliases=True)
    )


def default_department(record: Any, data: Any, user: Any) -> None:
    """A new record without a department gets its creator's (the lowest-numbered when they have several)."""
    from core.permissions import grants_of

    if record.id is not None or data.get("department_id") is not None or record.department_id is not None:
        return
    if user is not None:
        departments = grants_of(user).department_ids
        if departments:
            record.department_id = min(departments)


def acting_user(record: Any = None) -> Any:
    """The user a write is made for: the signed-in user, else (imports run as jobs) the record's creator."""
    from flask import has_request_context
    from flask_login import current_user

    from core import db
    from core.models import User

    if has_request_context() and current_user.is_authenticated:
        return current_user._get_current_object()
    creator = getattr(record, "created_by_id", None)
    return db.session.get(User, creator) if creator else None
