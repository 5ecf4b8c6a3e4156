"""Tenants and the modules enabled for each."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, utcnow


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(63), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    host: Mapped[str | None] = mapped_column(String(255), unique=True)
    theme: Mapped[str] = mapped_column(String(63), nullable=False, default="default")
    default_locale: Mapped[str] = mapped_column(String(16), nullable=False, default="zh_Hant")
    default_timezone: Mapped[str] = mapped_column(String(64), nullable=False, default="Asia/Taipei")
    currency: Mapped[str] = mapped_column(String(3), nullable=False, default="TWD")
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    # Bumped whenever the set of enabled plugins changes: every worker re-reads on its next request.
    plugins_version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    def __repr__(self) -> str:
        return f"<Tenant {self.slug}>"


class TenantPlugin(Base):
    """One row per plugin ever enabled for a tenant; ``enabled`` flips, data never goes away."""

    __tablename__ = "tenant_plugins"
    __table_args__ = (UniqueConstraint("tenant_id", "plugin"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)
    plugin: Mapped[str] = mapped_column(String(63), nullable=False)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
