"""Creating tenants (with their default groups and modules) and users: shared by the CLI, admin pages and tests."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from core import db
from core.models import Group, Tenant, User, UserGroup
from core.tenancy import tenant_context

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 10

DEFAULT_GROUPS = (
    ("administrators", _l("Administrators"), _l("Every permission on every record."), True),
    ("sales", _l("Sales"), _l("Leads, customers and opportunities."), False),
    ("service", _l("Service"), _l("Service tickets and customer care."), False),
    ("marketing", _l("Marketing"), _l("Campaigns and segments."), False),
    ("readonly", _l("Read-only"), _l("Can look at records but not change them."), False),
)


class ProvisioningError(ValueError):
    """Bad input for a tenant or user; the message is meant for the person who typed it."""


def validate_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ProvisioningError(_("The password must be at least %(n)s characters long.", n=MIN_PASSWORD))


def check_length(column: Any, value: str | None) -> None:
    """Refuse a value longer than its column: SQLite would store it, PostgreSQL and MariaDB raise a DataError."""
    limit = column.property.columns[0].type.length
    if value and limit and len(value) > limit:
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise ProvisioningError(_("%(value)s is too long: at most %(n)s characters.", value=shown, n=limit))


def create_tenant(
    slug: str,
    name: str,
    host: str | None = None,
    plugins: Iterable[str] | None = None,
    locale: str = "zh_Hant",
    timezone: str = "Asia/Taipei",
) -> Tenant:
    """Create a tenant with the five default groups and the given plugins (default: all installed) enabled."""
    from core.permissions import seed_default_grants
    from core.tenant_plugins import enable_all, enable_plugin
    from core.tenant_plugins import host as plugin_host

    slug = slug.strip().lower()
    if not SLUG_RE.match(slug):
        raise ProvisioningError(_("The slug may hold lower-case letters, digits and hyphens only."))
    if db.session.scalar(select(Tenant.id).where(Tenant.slug == slug)):
        raise ProvisioningError(_("A tenant called %(slug)s already exists.", slug=slug))
    host = host.strip().lower() if host else None
    check_length(Tenant.name, name.strip())
    check_length(Tenant.host, host)
    if host and db.session.scalar(select(Tenant.id).where(Tenant.host == host)):
        raise ProvisioningError(_("Another tenant already answers on %(host)s.", host=host))
    tenant = Tenant(slug=slug, name=name.strip() or slug, host=host, default_locale=locale, default_timezone=timezone)
    db.session.add(tenant)
    db.session.flush()
    with tenant_context(tenant), force_locale(locale):
        for role, label, description, superuser in DEFAULT_GROUPS:
            db.session.add(Group(name=str(label), description=str(description), role=role, is_superuser=superuser))
        db.session.flush()
        seed_default_grants(tenant, plugins=["core"])  # each plugin's defaults come when it is first enabled
        if plugins is None:
            enable_all(tenant)
        else:
            unknown = [p for p in plugins if p not in plugin_host().plugins]
            if unknown:
                raise ProvisioningError(_("Unknown modules: %(names)s", names=", ".join(unknown)))
            for name in plugin_host().plugins:  # requirement order
                if name in plugins:
                    enable_plugin(tenant, name)
    return tenant


def find_group(name: str) -> Group | None:
    """A group by name or built-in role, case-insensitively (``--group Sales`` or ``--group sales``)."""
    needle = name.strip().lower()
    return db.session.scalar(select(Group).where((func.lower(Group.name) == needle) | (Group.role == needle)))


def create_user(
    email: str,
    password: str | None = None,
    name: str = "",
    groups: Iterable[str | Group] = (),
    locale: str | None = None,
    timezone: str | None = None,
) -> User:
    """Create a user in the current tenant; without a password the account waits for its invitation link."""
    email = email.strip().lower()
    if not EMAIL_RE.match(email):
        raise ProvisioningError(_("%(email)s is not a valid e-mail address.", email=email))
    check_length(User.email, email)
    check_length(User.name, name.strip())
    if db.session.scalar(select(User.id).where(User.email == email)):
        raise ProvisioningError(_("A user with the e-mail %(email)s already exists.", email=email))
    resolved = []
    for group in groups:
        found = group if isinstance(group, Group) else find_group(group)
        if found is None:
            raise ProvisioningError(_("There is no group called %(name)s.", name=group))
        resolved.append(found)
    user = User(email=email, name=name.strip(), locale=locale, timezone=timezone)
    if password is not None:
        validate_password(password)
        user.set_password(password)
    db.session.add(user)
    db.session.flush()
    for group in resolved:
        db.session.add(UserGroup(user_id=user.id, group_id=group.id))
    db.session.flush()
    return user
