"""Core tables. Import from here: ``from core.models import Tenant, User, Group``."""

from core.models.accounts import User
from core.models.audit import AuditEntry
from core.models.jobs import JobRecord
from core.models.permissions import (
    Department,
    DepartmentGroup,
    Grant,
    Group,
    UserDepartment,
    UserGroup,
)
from core.models.settings import TenantSetting
from core.models.tenants import Tenant, TenantPlugin
from core.models.tokens import ApiToken

__all__ = [
    "ApiToken",
    "AuditEntry",
    "Department",
    "DepartmentGroup",
    "Grant",
    "Group",
    "JobRecord",
    "Tenant",
    "TenantPlugin",
    "TenantSetting",
    "User",
    "UserDepartment",
    "UserGroup",
]
