"""Core's own hook implementations: its blueprints, permissions and menu entries, registered like a plugin's."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from core.contributions import MenuItem, Permission
from core.hooks import hookimpl

META = {"name": "core", "title": _l("Core"), "slots": ("home.dashboard",)}


@hookimpl
def register_models() -> list[type]:
    from core import models
    from core.entities.saved_views import SavedView
    from core.entities.search_index import SearchToken  # its module also holds the listener that fills it
    from core.entities.tags import Tag, Tagging
    from core.models.custom_fields import CustomField, CustomValue

    framework = [SavedView, SearchToken, Tag, Tagging, CustomField, CustomValue]
    return [getattr(models, name) for name in models.__all__] + framework


@hookimpl
def register_blueprints() -> list[Any]:
    from core.api import views as api
    from core.views import accounts, admin, home

    return [accounts.bp, home.bp, admin.bp, api.bp]


@hookimpl
def register_permissions() -> list[Permission]:
    return [
        Permission("admin.users.manage", _l("Manage users"), _l("Invite, edit and deactivate users."), scoped=False),
        Permission(
            "admin.groups.manage",
            _l("Manage groups and departments"),
            _l("Create groups, grant permissions, link departments, change memberships."),
            scoped=False,
        ),
        Permission(
            "admin.plugins.manage",
            _l("Manage modules"),
            _l("Enable and disable modules for this workspace."),
            scoped=False,
        ),
        Permission(
            "admin.settings.manage",
            _l("Manage workspace settings"),
            _l("Theme, language, time zone."),
            scoped=False,
        ),
        Permission(
            "admin.audit.view",
            _l("View the audit log"),
            _l("Browse logins and every change to records."),
            scoped=False,
        ),
    ]


@hookimpl
def register_menu_items() -> list[MenuItem]:
    return [
        MenuItem("home", _l("Home"), "home.dashboard", order=0, icon="home"),
        MenuItem(
            "admin.users",
            _l("Users"),
            "admin.users",
            order=10,
            permission="admin.users.manage",
            section="admin",
            icon="users",
        ),
        MenuItem(
            "admin.groups",
            _l("Groups"),
            "admin.groups",
            order=20,
            permission="admin.groups.manage",
            section="admin",
            icon="shield",
        ),
        MenuItem(
            "admin.departments",
            _l("Departments"),
            "admin.departments",
            order=30,
            permission="admin.groups.manage",
            section="admin",
            icon="sitemap",
        ),
        MenuItem(
            "admin.explain",
            _l("Access check"),
            "admin.explain",
            order=40,
            permission="admin.groups.manage",
            section="admin",
            icon="question",
        ),
        MenuItem(
            "admin.plugins",
            _l("Modules"),
            "admin.plugins",
            order=50,
            permission="admin.plugins.manage",
            section="admin",
            icon="puzzle",
        ),
        MenuItem(
            "admin.custom_fields",
            _l("Custom fields"),
            "admin.custom_fields",
            order=55,
            permission="admin.settings.manage",
            section="admin",
            icon="list",
        ),
        MenuItem(
            "admin.settings",
            _l("Workspace settings"),
            "admin.settings",
            order=60,
            permission="admin.settings.manage",
            section="admin",
            icon="cog",
        ),
        MenuItem(
            "admin.audit",
            _l("Audit log"),
            "admin.audit",
            order=70,
            permission="admin.audit.view",
            section="admin",
            icon="list",
        ),
        MenuItem("account.settings", _l("My settings"), "accounts.settings", order=10, section="user", icon="user"),
        MenuItem("account.tokens", _l("API tokens"), "api.tokens", order=20, section="user", icon="key"),
    ]


@hookimpl
def search(query: str, user: Any, tenant: Any, limit: int) -> list[Any]:
    """Global search over every registered entity of the plugins enabled in the tenant (core is always on)."""
    from core.entities.search import global_search

    return global_search(query, user, limit)
