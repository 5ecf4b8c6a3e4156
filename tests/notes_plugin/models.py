from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, TenantOwned, Versioned


class Note(TenantOwned, Versioned, Base):
    __tablename__ = "test_notes"
    __table_args__ = (Index(None, "tenant_id", "owner_id"),)
    __owner_column__ = "owner_id"
    __department_column__ = "department_id"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))

    @property
    def audit_label(self):
        return self.title
