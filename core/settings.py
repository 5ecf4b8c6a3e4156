"""Per-tenant settings: plugins declare them with ``register_settings`` and read them with ``get_setting``.

A setting is named ``<plugin>.<key>``. The current tenant's stored value wins, then the default the plugin
declared, then the ``default`` argument. Values are read with one query per request (cached in ``flask.g``)
and written with ``set_setting`` inside the caller's transaction.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, g, has_app_context
from sqlalchemy import select

from core import db
from core.contributions import Setting
from core.models import TenantSetting
from core.tenancy import require_tenant_id


def declared_settings() -> dict[str, tuple[str, Setting]]:
    """Every setting the installed plugins declare: ``"plugin.key"`` -> ``(plugin, Setting)``."""
    return current_app.extensions["crm.settings"]


def stored_settings() -> dict[str, Any]:
    """The current tenant's stored values by key (one query, then cached for the request)."""
    tenant_id = require_tenant_id()
    cache: dict[int, dict[str, Any]] | None = g.get("crm_settings") if has_app_context() else None
    if cache is not None and tenant_id in cache:
        return cache[tenant_id]
    values = {row.key: row.value for row in db.session.execute(select(TenantSetting.key, TenantSetting.value))}
    if has_app_context():
        g.setdefault("crm_settings", {})[tenant_id] = values
    return values


def get_setting(key: str, default: Any = None) -> Any:
    """The current tenant's value of ``key``, else the declared default, else ``default``."""
    values = stored_settings()
    if key in values:
        return values[key]
    entry = declared_settings().get(key)
    if entry is not None and entry[1].default is not None:
        return entry[1].default
    return default


def set_setting(key: str, value: Any) -> None:
    """Store the current tenant's value of a declared setting; the caller commits.

    Raises ``KeyError`` for a key no installed plugin declares and ``ValueError`` when the setting's own
    ``validate`` rejects the value.
    """
    entry = declared_settings().get(key)
    if entry is None:
        raise KeyError(f"no installed plugin declares the setting {key!r}")
    setting = entry[1]
    if setting.validate is not None:
        problem = setting.validate(value)
        if problem:
            raise ValueError(str(problem))
    values = stored_settings()
    row = db.session.scalar(select(TenantSetting).where(TenantSetting.key == key))
    if row is None:
        db.session.add(TenantSetting(key=key, value=value))
    elif row.value != value:
        row.value = value
    db.session.flush()
    values[key] = value


def pin_translated_defaults(plugin: str, locale: str) -> None:
    """Store, in ``locale``, the defaults of ``plugin``'s settings that are translatable texts and not stored yet.

    A list such as "Reasons for losing" is offered to every user and its values are stored on records, so it must
    not change with the reader's language: the workspace keeps its language's version from the first enabling on.
    """
    from flask_babel import force_locale

    values = stored_settings()
    for key, (owner, setting) in declared_settings().items():
        if owner != plugin or key in values or not _translatable(setting.default):
            continue
        with force_locale(locale):
            text = str(setting.default)
        set_setting(key, text)


def _translatable(value: Any) -> bool:
    from flask_babel.speaklater import LazyString

    return isinstance(value, LazyString)
