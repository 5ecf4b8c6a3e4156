"""Demo data for ``crm quickstart``: departments, users and every enabled plugin's ``demo_data``."""

from __future__ import annotations

from typing import Any

from core import db
from core.models import Department, DepartmentGroup, Group, UserDepartment
from core.provisioning import create_user
from core.tenancy import tenant_context
from core.tenant_plugins import enabled_plugins, host

DEMO_PASSWORD = "demo-password-2026"

DEMO_PEOPLE = [
    ("wang.xiaoming@example.com", "王小明", "sales", "北區業務部"),
    ("lin.meiling@example.com", "林美玲", "sales", "南區業務部"),
    ("chen.jianhong@example.com", "陳建宏", "service", "客戶服務部"),
    ("zhang.yating@example.com", "張雅婷", "marketing", "行銷部"),
    ("david.lee@example.com", "David Lee", "sales", "北區業務部"),
    ("huang.zhiwei@example.com", "黃志偉", "readonly", "管理部"),
]


def load_demo_data(tenant: Any) -> None:
    """Create departments and colleagues, then let each enabled plugin add its sample rows."""
    with tenant_context(tenant):
        groups = {g.role: g for g in db.session.query(Group).filter(Group.role.is_not(None))}
        departments: dict[str, Department] = {}
        for email, name, role, department_name in DEMO_PEOPLE:
            department = departments.get(department_name)
            if department is None:
                department = Department(name=department_name)
                db.session.add(department)
                db.session.flush()
                db.session.add(DepartmentGroup(department_id=department.id, group_id=groups[role].id))
                departments[department_name] = department
            user = create_user(email, password=DEMO_PASSWORD, name=name, locale=None)
            db.session.add(UserDepartment(user_id=user.id, department_id=department.id))
        db.session.commit()
        enabled = enabled_plugins(tenant)
        for name in host().plugins:  # requirement order: contacts before the plugins that need contacts
            if name in enabled:
                host().call_one(name, "demo_data", tenant=tenant, session=db.session)
                db.session.commit()


# ----------------------------------------------------------------------- helpers of the plugins' demo_data


def bulk_insert(session: Any, model: type, rows: list[dict[str, Any]], ids: bool = False) -> list[int]:
    """Insert ``rows`` in a few statements (not one per row); with ``ids``, return the new ids in row order."""
    from sqlalchemy import insert

    if not rows:
        return []
    if ids:
        statement = insert(model).returning(model.id, sort_by_parameter_order=True)
        return list(session.scalars(statement, rows))
    for start in range(0, len(rows), 1000):
        session.execute(insert(model), rows[start : start + 1000])
    return []


def demo_colleagues(session: Any) -> tuple[list[Any], dict[int, int], set[int]]:
    """The active users (by id), each user's first department, and the ids of the sales people."""
    from sqlalchemy import select

    from core.models import User

    users = list(session.scalars(select(User).where(User.active.is_(True)).order_by(User.id)))
    departments: dict[int, int] = {}
    for row in session.execute(select(UserDepartment.user_id, UserDepartment.department_id)):
        departments.setdefault(row.user_id, row.department_id)
    sales = set(
        session.scalars(
            select(UserDepartment.user_id)
            .join(DepartmentGroup, DepartmentGroup.department_id == UserDepartment.department_id)
            .join(Group, Group.id == DepartmentGroup.group_id)
            .where(Group.role == "sales")
        )
    )
    return users, departments, sales
