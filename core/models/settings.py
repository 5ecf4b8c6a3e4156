"""Per-tenant values of the settings plugins declare with ``register_settings``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, TenantOwned


class TenantSetting(TenantOwned, Base):
    """One stored value per tenant and ``plugin.key``; a missing row means "the declared default"."""

    __tablename__ = "tenant_settings"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(100), nullable=False)
    value: Mapped[Any] = mapped_column(JSON)

    @property
    def audit_label(self) -> str:
        return self.key
