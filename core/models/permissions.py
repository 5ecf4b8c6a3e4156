"""Groups hold grants; departments link to groups; users join both."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, TenantOwned

SCOPES = ("own", "department", "all")
SCOPE_RANK = {"own": 1, "department": 2, "all": 3}


class Group(TenantOwned, Base):
    __tablename__ = "groups"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    description: Mapped[str] = mapped_column(String(500), nullable=False, default="")
    # A built-in role ("administrators", "sales", ...) that plugins' default grants refer to.
    role: Mapped[str | None] = mapped_column(String(32))
    # Members of a superuser group hold every permission with scope "all".
    is_superuser: Mapped[bool] = mapped_column(default=False, nullable=False)


class Grant(TenantOwned, Base):
    __tablename__ = "grants"
    __table_args__ = (UniqueConstraint("tenant_id", "group_id", "permission"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), nullable=False)
    permission: Mapped[str] = mapped_column(String(100), nullable=False)
    scope: Mapped[str] = mapped_column(String(16), nullable=False, default="all")


class Department(TenantOwned, Base):
    __tablename__ = "departments"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    description: Mapped[str] = mapped_column(String(500), nullable=False, default="")


class UserGroup(TenantOwned, Base):
    __tablename__ = "user_groups"
    __table_args__ = (
        UniqueConstraint("tenant_id", "user_id", "group_id"),
        Index(None, "tenant_id", "group_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), nullable=False)


class UserDepartment(TenantOwned, Base):
    __tablename__ = "user_departments"
    __table_args__ = (
        UniqueConstraint("tenant_id", "user_id", "department_id"),
        Index(None, "tenant_id", "department_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"), nullable=False)


class DepartmentGroup(TenantOwned, Base):
    __tablename__ = "department_groups"
    __table_args__ = (
        UniqueConstraint("tenant_id", "department_id", "group_id"),
        Index(None, "tenant_id", "group_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"), nullable=False)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), nullable=False)
