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
