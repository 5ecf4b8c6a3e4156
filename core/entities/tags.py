"""Tags on any entity record: one tenant-wide vocabulary, attached through ``taggings``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint, and_, delete, exists, func, select
from sqlalchemy.orm import Mapped, mapped_column

from core import db
from core.db import Base, TenantOwned

MAX_TAG = 50


class Tag(TenantOwned, Base):
    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)
    __audit__ = False

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(MAX_TAG), nullable=False)


class Tagging(TenantOwned, Base):
    __tablename__ = "taggings"
    __table_args__ = (
        UniqueConstraint("tenant_id", "entity", "record_id", "tag_id"),
        Index(None, "tenant_id", "tag_id", "entity", "record_id"),
    )
    __audit__ = False

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity: Mapped[str] = mapped_column(String(63), nullable=False)
    record_id: Mapped[int] = mapped_column(Integer, nullable=False)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), nullable=False)


def clean(names: Iterable[str]) -> list[str]:
    """Trimmed, de-duplicated tag names (case kept, compared case-insensitively), each at most 50 characters."""
    seen: dict[str, str] = {}
    for name in names:
        name = " ".join(str(name).split())[:MAX_TAG]
        if name and name.lower() not in seen:
            seen[name.lower()] = name
    return list(seen.values())


def _tag_ids(names: list[str], create: bool) -> dict[str, int]:
    if not names:
        return {}
    lowered = [n.lower() for n in names]
    found = {
        row.name.lower(): row.id
        for row in db.session.execute(select(Tag.id, Tag.name).where(func.lower(Tag.name).in_(lowered)))
    }
    if create:
        for name in names:
            if name.lower() not in found:
                tag = Tag(name=name)
                db.session.add(tag)
                db.session.flush()
                found[name.lower()] = tag.id
    return found


def tags_of(entity: str, record_ids: Iterable[int]) -> dict[int, list[str]]:
    """Tag names per record, for a page of records (one query)."""
    ids = list(record_ids)
    result: dict[int, list[str]] = {i: [] for i in ids}
    if not ids:
        return result
    rows = db.session.execute(
        select(Tagging.record_id, Tag.name)
        .join(Tag, Tag.id == Tagging.tag_id)
        .where(Tagging.entity == entity, Tagging.record_id.in_(ids))
        .order_by(Tag.name)
    )
    for record_id, name in rows:
        result[record_id].append(name)
    return result


def set_tags(entity: str, record_id: int, names: Iterable[str]) -> None:
    """Make the record's tags exactly ``names``."""
    wanted = _tag_ids(clean(names), create=True)
    current = {
        row.tag_id: row
        for row in db.session.scalars(select(Tagging).where(Tagging.entity == entity, Tagging.record_id == record_id))
    }
    for tag_id, row in current.items():
        if tag_id not in wanted.values():
            db.session.delete(row)
    for tag_id in set(wanted.values()) - set(current):
        db.session.add(Tagging(entity=entity, record_id=record_id, tag_id=tag_id))


def add_tags(entity: str, record_ids: Iterable[int], names: Iterable[str]) -> None:
    """Add ``names`` to every record (bulk action)."""
    ids = list(record_ids)
    wanted = _tag_ids(clean(names), create=True)
    if not ids or not wanted:
        return
    have = set(
        db.session.execute(
            select(Tagging.record_id, Tagging.tag_id).where(
                Tagging.entity == entity, Tagging.record_id.in_(ids), Tagging.tag_id.in_(wanted.values())
            )
        ).tuples()
    )
    for record_id in ids:
        for tag_id in wanted.values():
            if (record_id, tag_id) not in have:
                db.session.add(Tagging(entity=entity, record_id=record_id, tag_id=tag_id))


def remove_tags(entity: str, record_ids: Iterable[int], names: Iterable[str]) -> None:
    """Remove ``names`` from every record (bulk action)."""
    ids = list(record_ids)
    wanted = _tag_ids(clean(names), create=False)
    if ids and wanted:
        db.session.execute(
            delete(Tagging).where(
                Tagging.entity == entity, Tagging.record_id.in_(ids), Tagging.tag_id.in_(wanted.values())
            )
        )


def tag_criterion(entity: str, model: type, names: Iterable[str]) -> Any:
    """Rows carrying every one of ``names`` (one EXISTS per tag, each served by the taggings index)."""
    criteria = []
    for name in clean(names):
        criteria.append(
            exists(
                select(Tagging.id)
                .join(Tag, Tag.id == Tagging.tag_id)
                .where(
                    func.lower(Tag.name) == name.lower(),
                    Tagging.entity == entity,
                    Tagging.record_id == model.id,
                )
            )
        )
    return and_(*criteria)
