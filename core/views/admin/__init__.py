"""Administration pages: users, groups, departments, access check, modules, workspace settings, audit log.

Every view declares its permission with ``@requires``; every list paginates with ``PAGE_SIZE``; every change
that affects who may do what is written to the audit log.
"""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from core.views.admin import (  # noqa: E402  (the page modules register their routes on bp)
    access,
    audit,
    custom_fields,
    departments,
    groups,
    plugins,
    settings,
    users,
)

__all__ = ["access", "audit", "bp", "custom_fields", "departments", "groups", "plugins", "settings", "users"]
