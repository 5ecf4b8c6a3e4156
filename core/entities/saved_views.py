"""Saved views of an entity's list: filters, sort and columns under a name, private or shared with the tenant."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, or_, select
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.datastructures import MultiDict

from core import db
from core.db import Base, TenantOwned, UTCDateTime, utcnow

MAX_NAME = 100
# List arguments that are a position in the list, not part of what the user looks at.
NOT_SAVED = {"after", "before", "view", "page", "csrf_token", "history_before"}
SHARE_PERMISSION = "admin.settings.manage"


class SavedView(TenantOwned, Base):
    """A named list query of one entity. ``user_id`` is the owner of a private view; ``None`` = shared."""

    __tablename__ = "saved_views"
    __table_args__ = (Index(None, "tenant_id", "entity", "user_id"),)
    __audit__ = False

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("users.id", ondelete="CASCADE"))
    entity: Mapped[str] = mapped_column(String(63), nullable=False)
    name: Mapped[str] = mapped_column(String(MAX_NAME), nullable=False)
    query: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)

    @property
    def shared(self) -> bool:
        return self.user_id is None

    def args(self) -> MultiDict:
        """The saved list arguments, as ``request.args`` would carry them."""
        pairs = []
        for key, values in (self.query or {}).items():
            for value in values if isinstance(values, list) else [values]:
                pairs.append((str(key), str(value)))
        return MultiDict(pairs)


def clean_args(args: Mapping[str, Any]) -> dict[str, list[str]]:
    """The list arguments worth saving: search, filters, tags, sort, columns, page size; no empty values."""
    getlist = args.getlist if hasattr(args, "getlist") else (lambda k: [args[k]])
    saved: dict[str, list[str]] = {}
    for key in args:
        if key in NOT_SAVED or key.startswith("_"):
            continue
        values = [str(v)[:500] for v in getlist(key) if str(v).strip() != ""]
        if values:
            saved[str(key)[:100]] = values[:50]
    return saved


def views_for(plural: str, user_id: int) -> list[SavedView]:
    """The user's own views and the tenant's shared views of an entity (one query), own first, by name."""
    rows = db.session.scalars(
        select(SavedView)
        .where(SavedView.entity == plural, or_(SavedView.user_id == user_id, SavedView.user_id.is_(None)))
        .order_by(SavedView.name, SavedView.id)
    )
    return sorted(rows, key=lambda v: (v.shared, v.name.lower(), v.id))


def find(plural: str, view_id: int, user_id: int) -> SavedView | None:
    """A view of this entity the user may use: their own or a shared one."""
    return db.session.scalar(
        select(SavedView).where(
            SavedView.id == view_id,
            SavedView.entity == plural,
            or_(SavedView.user_id == user_id, SavedView.user_id.is_(None)),
        )
    )


def save(plural: str, name: str, args: Mapping[str, Any], user_id: int, shared: bool) -> SavedView:
    """Save the list arguments under ``name``: a view of the same name in the same place is replaced."""
    owner = None if shared else user_id
    owner_clause = SavedView.user_id.is_(None) if owner is None else SavedView.user_id == owner
    existing = [
        v
        for v in db.session.scalars(select(SavedView).where(SavedView.entity == plural, owner_clause))
        if v.name.strip().lower() == name.strip().lower()
    ]
    view = existing[0] if existing else SavedView(entity=plural, user_id=owner, name=name.strip())
    view.name = name.strip()[:MAX_NAME]
    view.query = clean_args(args)
    db.session.add(view)
    db.session.flush()
    return view
