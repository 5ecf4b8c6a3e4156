from decimal import Decimal

from sqlalchemy import Date, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.entities import Owned, Record


class Item(Record, Owned, Base):
    __tablename__ = "test_items"
    __table_args__ = (
        Index(None, "tenant_id", "updated_at", "id"),
        Index(None, "tenant_id", "name", "id"),
        Index(None, "tenant_id", "owner_id"),
        Index(None, "tenant_id", "department_id"),
        Index(None, "tenant_id", "status"),
    )

    name: Mapped[str] = mapped_column(String(200), nullable=False)
    email: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(50))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    due: Mapped[object | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="open")
    notes: Mapped[str | None] = mapped_column(Text)

    @property
    def audit_label(self) -> str:
        return self.name
