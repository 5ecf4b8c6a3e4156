"""Tags on any entity record: one tenant-wide vocabulary, attached through ``taggings``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    Select,
    String,
    UniqueConstraint,
    and_,
    delete,
    exists,
    false,
    func,
    select,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from core import db
from core.db import Base, TenantOwned
from core.entities.bulk import add_rows

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
        new = {name.lower(): Tag(name=name) for name in names if name.lower() not in found}
        if new:
            db.session.add_all(new.values())
            db.session.flush()
            found.update((key, tag.id) for key, tag in new.items())
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
    """Add ``names`` to every record (bulk action, and an import's new records); taggings a record has are kept."""
    ids = list(dict.fromkeys(record_ids))
    wanted = _tag_ids(clean(names), create=True)
    if not ids or not wanted:
        return
    tag_ids = list(wanted.values())
    have = {
        tuple(row)
        for row in db.session.execute(
            select(Tagging.record_id, Tagging.tag_id).where(
                Tagging.entity == entity, Tagging.record_id.in_(ids), Tagging.tag_id.in_(tag_ids)
            )
        )
    }
    # One executemany rather than an object per tagging (an import tags thousands of records); taggings have no
    # flush listeners to miss.
    add_rows(
        Tagging,
        [
            {"entity": entity, "record_id": record_id, "tag_id": tag_id}
            for record_id in ids
            for tag_id in tag_ids
            if (record_id, tag_id) not in have
        ],
    )


def tag_new_records(entity: str, record_ids: Iterable[int], names: Iterable[str], known: dict[str, int]) -> None:
    """:func:`add_tags` for records created in this transaction (they have no taggings yet), as an import tags
    batch after batch: ``known`` (lower-case name -> tag id) is kept by the caller, so a tag is looked up or
    created once, and the taggings are inserted without reading anything first."""
    ids = list(dict.fromkeys(record_ids))
    wanted = clean(names)
    missing = [name for name in wanted if name.lower() not in known]
    if missing:
        known.update(_tag_ids(missing, create=True))
    tag_ids = list(dict.fromkeys(known[name.lower()] for name in wanted))
    add_rows(Tagging, [{"entity": entity, "record_id": r, "tag_id": t} for r in ids for t in tag_ids])


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


FEW = 5000  # SQLite: below this many taggings of a tag a filter reads the tag's record ids first


def _tag_ids_by_name(names: list[str]) -> list[list[int]]:
    """Per name, the ids of the tags of that name (compared case-insensitively; usually one, or none)."""
    lowered = [n.lower() for n in names]
    ids: dict[str, list[int]] = {name: [] for name in lowered}
    for tag_id, name in db.session.execute(
        select(Tag.id, func.lower(Tag.name)).where(func.lower(Tag.name).in_(lowered))
    ):
        ids.setdefault(name, []).append(tag_id)
    return [sorted(ids[name]) for name in lowered]


def _same_tag(tag_ids: list[int]) -> Any:
    return Tagging.tag_id == tag_ids[0] if len(tag_ids) == 1 else Tagging.tag_id.in_(tag_ids)


def tag_criterion(entity: str, model: type, names: Iterable[str]) -> Any:
    """Rows carrying every one of ``names``.

    The tag names are resolved to ids first, so that each test is one exact seek in ``(tenant_id, tag_id,
    entity, record_id)`` per row. On SQLite (which plans a correlated subquery as a probe per row and has no
    statistics of values) a tag on few records is read first instead: ``id IN (SELECT record_id ...)``, as
    custom field filters do; otherwise a page of a rare tag would probe every row of the list's order.
    """
    criteria = [criterion for criterion, _source in tag_criteria_and_sources(entity, model, names)]
    return and_(*criteria) if criteria else true()


def tag_criteria_and_sources(entity: str, model: type, names: Iterable[str]) -> list[tuple[Any, Select]]:
    """Per tag name, the criterion of :func:`tag_criterion` and a SELECT of the record ids carrying the tag
    (labelled ``rid``, read from the taggings index alone), which the query layer intersects to count."""
    from core.tenancy import require_tenant_id

    tenant_id = require_tenant_id()
    sqlite = db.session.get_bind().dialect.name == "sqlite"
    result = []
    for tag_ids in _tag_ids_by_name(clean(names)):
        if not tag_ids:
            result.append((false(), select(Tagging.record_id.label("rid")).where(false())))
            continue
        source = select(Tagging.record_id.label("rid")).where(
            Tagging.tenant_id == tenant_id, _same_tag(tag_ids), Tagging.entity == entity
        )
        if sqlite:
            found = db.session.scalar(select(func.count()).select_from(source.limit(FEW).subquery()))
            if (found or 0) < FEW:
                result.append((model.id.in_(source), source))
                continue
        probe = exists(
            select(Tagging.id).where(
                Tagging.tenant_id == tenant_id,
                _same_tag(tag_ids),
                Tagging.entity == entity,
                Tagging.record_id == model.id,
            )
        )
        result.append((probe, source))
    return result
