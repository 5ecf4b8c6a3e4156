"""Which plugins each tenant has enabled, cached per process and keyed by the tenant's ``plugins_version``."""

from __future__ import annotations

import threading

from flask import current_app
from sqlalchemy import select, update

from core import db
from core.db import utcnow
from core.models import Tenant, TenantPlugin
from core.plugins import PluginError, PluginHost
from core.tenancy import tenant_context


class PluginStateError(PluginError):
    """Enabling or disabling was refused; the message names the plugins involved."""


_lock = threading.Lock()


def host() -> PluginHost:
    return current_app.extensions["crm.plugins"]


def _cache() -> dict[int, tuple[int, frozenset[str]]]:
    return current_app.extensions["crm.enabled_cache"]


def enabled_plugins(tenant: Tenant) -> frozenset[str]:
    """Names of the installed plugins enabled for ``tenant`` (one query when the version moved)."""
    cached = _cache().get(tenant.id)
    if cached is not None and cached[0] == tenant.plugins_version:
        return cached[1]
    rows = db.session.scalars(
        select(TenantPlugin.plugin).where(TenantPlugin.tenant_id == tenant.id, TenantPlugin.enabled.is_(True))
    )
    installed = set(host().plugins)
    names = frozenset(name for name in rows if name in installed)
    with _lock:
        _cache()[tenant.id] = (tenant.plugins_version, names)
    return names


def is_enabled(tenant: Tenant, name: str) -> bool:
    return name == "core" or name in enabled_plugins(tenant)


def _set(tenant: Tenant, name: str, enabled: bool) -> bool:
    row = db.session.scalar(
        select(TenantPlugin).where(TenantPlugin.tenant_id == tenant.id, TenantPlugin.plugin == name)
    )
    first_time = row is None
    if row is None:
        row = TenantPlugin(tenant_id=tenant.id, plugin=name, enabled=enabled)
        db.session.add(row)
    elif row.enabled == enabled:
        return False
    row.enabled = enabled
    row.changed_at = utcnow()
    db.session.execute(update(Tenant).where(Tenant.id == tenant.id).values(plugins_version=Tenant.plugins_version + 1))
    db.session.flush()
    version = db.session.scalar(select(Tenant.plugins_version).where(Tenant.id == tenant.id))
    tenant.plugins_version = version  # the caller's copy may be detached; keep it current
    if tenant in db.session:
        db.session.expire(tenant, ["plugins_version"])
        tenant.plugins_version  # noqa: B018 - reload now, before the caller reads the cache
    return first_time


def enable_plugin(tenant: Tenant, name: str) -> None:
    """Enable ``name`` for ``tenant``; refused if a plugin it requires is not enabled there."""
    plugins = host().plugins
    if name not in plugins:
        raise PluginStateError(f"no installed plugin is called {name!r}")
    enabled = enabled_plugins(tenant)
    if name in enabled:
        return  # nothing changes, so its plugin_enabled hook does not run again
    missing = [req for req in plugins[name].requires if req not in enabled]
    if missing:
        raise PluginStateError(
            f"cannot enable {name} for {tenant.slug}: it requires {', '.join(missing)}, "
            f"which {'is' if len(missing) == 1 else 'are'} not enabled"
        )
    first_time = _set(tenant, name, True)
    with tenant_context(tenant):
        if first_time:
            from core.permissions import seed_default_grants

            seed_default_grants(tenant, plugins=[name])
        host().call_one(name, "plugin_enabled", tenant=tenant)
        if first_time:
            from core.settings import pin_translated_defaults

            pin_translated_defaults(name, tenant.default_locale)
        db.session.flush()  # rows the plugin added must be stamped while its tenant is in context


def disable_plugin(tenant: Tenant, name: str) -> None:
    """Disable ``name`` for ``tenant``; refused while an enabled plugin requires it. Its data stays."""
    plugins = host().plugins
    if name not in plugins:
        raise PluginStateError(f"no installed plugin is called {name!r}")
    enabled = enabled_plugins(tenant)
    blockers = [dep for dep in host().dependents(name) if dep in enabled]
    if blockers:
        one = len(blockers) == 1
        raise PluginStateError(
            f"cannot disable {name} for {tenant.slug}: {', '.join(blockers)} "
            f"{'requires' if one else 'require'} it; disable {'it' if one else 'them'} first"
        )
    if name not in enabled:
        return
    with tenant_context(tenant):
        host().call_one(name, "plugin_disabled", tenant=tenant)
        db.session.flush()
    _set(tenant, name, False)


def enable_all(tenant: Tenant) -> None:
    """Enable every installed plugin, requirements first (a new tenant gets every module)."""
    for name in host().plugins:
        if name not in enabled_plugins(tenant):
            enable_plugin(tenant, name)
