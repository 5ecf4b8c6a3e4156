"""Free-text search inside one entity's list (the global search index builds on the same entry point)."""

from __future__ import annotations

from sqlalchemy import or_
from sqlalchemy.sql.elements import ColumnElement

from core.entities.definition import Entity


def criterion(entity: Entity, text: str) -> ColumnElement:
    """Rows whose searchable fields contain every word of ``text``."""
    words = text.split()
    conditions = []
    for word in words:
        conditions.append(
            # icontains: the same case-insensitive match on PostgreSQL as on SQLite and MariaDB.
            or_(*[getattr(entity.model, name).icontains(word, autoescape=True) for name in entity.search_fields])
        )
    from sqlalchemy import and_

    return and_(*conditions)
