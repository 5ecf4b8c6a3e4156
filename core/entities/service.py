"""Create, update, delete and restore entity records: the one write path of pages, API and import.

Each write checks the permission and record scope, applies validated data, keeps optimistic locking, moves
deleted rows to the trash, and emits ``<plugin>.<entity>.created|updated|deleted|restored`` after commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import abort
from flask_login import current_user
from sqlalchemy import inspect, select

from core import db
from core.db import utcnow
from core.entities.definition import Entity
from core.entities.schemas import CUSTOM
from core.events import emit
from core.permissions import can, scoped

TAGS = "tags"


class Conflict(Exception):
    """The record changed since the editor loaded it; ``changes`` maps field -> (theirs, yours)."""

    def __init__(self, record: Any, changes: dict[str, tuple[Any, Any]]) -> None:
        super().__init__("the record was changed by someone else")
        self.record = record
        self.changes = changes


def load(entity: Entity, record_id: int, action: str = "view", user: Any = None, trash: bool = False) -> Any:
    """The record if it exists in this tenant and the user's scope for ``action`` reaches it, else 404."""
    stmt = select(entity.model).where(entity.model.id == record_id)
    if trash:
        stmt = stmt.where(entity.model.deleted_at.is_not(None)).execution_options(include_deleted=True)
    record = db.session.scalar(scoped(stmt, entity.permission(action), user, model=entity.model))
    if record is None:
        abort(404)
    return record


def _columns(entity: Entity) -> set[str]:
    return {attr.key for attr in inspect(entity.model).column_attrs}


def default_apply(entity: Entity, record: Any, data: Mapping[str, Any]) -> None:
    """Copy validated values onto model columns, tags through the tag table, custom fields into ``custom``."""
    columns = _columns(entity) - {"id", "tenant_id", "version", "created_at", "updated_at", "deleted_at", CUSTOM}
    for name, value in data.items():
        if name in columns:
            setattr(record, name, value)
    if CUSTOM in data and data[CUSTOM] is not None:
        merged = dict(record.custom or {})
        merged.update(data[CUSTOM])
        record.custom = merged


def _apply(entity: Entity, record: Any, data: Mapping[str, Any]) -> None:
    if entity.apply is not None:
        entity.apply(record, data)
    else:
        default_apply(entity, record, data)
    if TAGS in data and data[TAGS] is not None:
        db.session.flush()
        from core.entities.tags import set_tags

        set_tags(entity.plural, record.id, data[TAGS])


def _event(entity: Entity, what: str) -> str:
    return f"{entity.plugin}.{entity.name}.{what}"


def create(entity: Entity, data: Mapping[str, Any], user: Any = None) -> Any:
    """Insert a record from validated ``data`` (the caller commits). The creator owns it unless data says."""
    user = user or current_user
    record = entity.model()
    if hasattr(record, "owner_id") and data.get("owner_id") is None:
        record.owner_id = user.id  # an empty owner means the creator, not nobody
        data = {key: value for key, value in data.items() if key != "owner_id"}
    if hasattr(record, "created_by_id"):
        record.created_by_id = user.id
    db.session.add(record)
    _apply(entity, record, data)
    db.session.flush()
    emit(_event(entity, "created"), id=record.id)
    return record


def update(entity: Entity, record: Any, data: Mapping[str, Any], version: int | None, user: Any = None) -> Any:
    """Apply validated ``data``; a ``version`` other than the record's raises :class:`Conflict`."""
    if version is not None and int(version) != record.version:
        changes = {}
        for name, mine in data.items():
            theirs = getattr(record, name, None)
            if name in _columns(entity) and theirs != mine:
                changes[name] = (theirs, mine)
        raise Conflict(record, changes)
    if not can(entity.permission("edit"), record, user):
        abort(404)
    _apply(entity, record, data)
    db.session.flush()  # the version column turns a concurrent write into StaleDataError here
    emit(_event(entity, "updated"), id=record.id)
    return record


def delete(entity: Entity, record: Any) -> None:
    """Move the record to the trash (administrators can restore it)."""
    record.deleted_at = utcnow()
    db.session.flush()
    emit(_event(entity, "deleted"), id=record.id)


def restore(entity: Entity, record: Any) -> None:
    record.deleted_at = None
    db.session.flush()
    emit(_event(entity, "restored"), id=record.id)
