"""Personal API tokens: a user's key to the REST API, stored as a SHA-256 hash (the secret is shown once)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, TenantOwned, UTCDateTime, utcnow


class ApiToken(TenantOwned, Base):
    __tablename__ = "api_tokens"
    __table_args__ = (
        UniqueConstraint("tenant_id", "token_hash"),
        Index(None, "tenant_id", "user_id", "id"),
        Index(None, "tenant_id", "prefix"),
    )
    # Creation and revocation are audited; the hash and the minute-by-minute last use are not.
    __audit_exclude__ = frozenset({"token_hash", "last_used_at"})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    prefix: Mapped[str] = mapped_column(String(8), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def audit_label(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def __repr__(self) -> str:
        return f"<ApiToken {self.prefix}… of user {self.user_id}>"
