"""Workspace settings: name, theme, language, time zone, currency, and the settings of enabled plugins."""

from __future__ import annotations

import decimal
from typing import Any

from flask import current_app, flash, g, redirect, url_for
from flask_babel import gettext as _
from wtforms import BooleanField, DecimalField, Field, SelectField, StringField
from wtforms.validators import InputRequired, Length, Optional

from core import db
from core.audit import record
from core.contributions import Setting
from core.permissions import requires
from core.plugins import CORE
from core.settings import declared_settings, set_setting, stored_settings
from core.themes import render
from core.views.admin import bp
from core.views.admin.forms import WorkspaceForm

WORKSPACE_FIELDS = ("name", "theme", "default_locale", "default_timezone", "currency")


def setting_field_name(key: str) -> str:
    return "setting-" + key


def _field(setting: Setting) -> Field:
    """The form field for one plugin setting, by its declared type."""
    label = setting.label
    description = setting.help or ""
    if setting.type == "bool":
        return BooleanField(label, description=description)
    if setting.type == "number":
        return DecimalField(label, description=description, places=None, validators=[InputRequired()])
    if setting.type == "choice":
        return SelectField(label, description=description)
    return StringField(label, description=description, validators=[Optional(), Length(max=2000)])


def _plain(setting: Setting, value: Any) -> Any:
    """A form value as JSON can store it."""
    if setting.type == "number" and isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if setting.type == "bool":
        return bool(value)
    if setting.type == "choice":
        return {str(key): key for key, _label in setting.choices}.get(value, value)
    if setting.type == "text":
        return (value or "").strip()
    return value


def _sections() -> list[dict[str, Any]]:
    """The settings of core and of the plugins enabled here, grouped by plugin."""
    host = current_app.extensions["crm.plugins"]
    by_plugin: dict[str, list[tuple[str, Setting]]] = {}
    for key, (plugin, setting) in declared_settings().items():
        if plugin == CORE or plugin in g.enabled_plugins:
            by_plugin.setdefault(plugin, []).append((key, setting))
    sections = []
    for plugin in [CORE, *host.plugins]:
        if plugin in by_plugin:
            title = _("Core") if plugin == CORE else host.plugins[plugin].title
            sections.append({"plugin": plugin, "title": title, "settings": by_plugin[plugin]})
    return sections


@bp.route("/settings", methods=["GET", "POST"])
@requires("admin.settings.manage")
def settings() -> Any:
    tenant = g.tenant
    sections = _sections()
    stored = stored_settings()
    fields = {}
    for section in sections:
        for key, setting in section["settings"]:
            fields[setting_field_name(key)] = _field(setting)
    form_class = type("SettingsForm", (WorkspaceForm,), fields)
    data = {name: getattr(tenant, name) for name in WORKSPACE_FIELDS}
    for section in sections:
        for key, setting in section["settings"]:
            value = stored.get(key, setting.default)
            data[setting_field_name(key)] = str(value) if setting.type == "choice" and value is not None else value
    form = form_class(data=data, themes=current_app.extensions["crm.themes"].names())
    for section in sections:
        for key, setting in section["settings"]:
            if setting.type == "choice":
                form[setting_field_name(key)].choices = [(str(value), label) for value, label in setting.choices]
    valid = form.validate_on_submit()
    values: dict[str, Any] = {}
    if form.is_submitted():
        for section in sections:
            for key, setting in section["settings"]:
                field = form[setting_field_name(key)]
                if field.errors:
                    continue
                values[key] = _plain(setting, field.data)
                problem = setting.validate(values[key]) if setting.validate else None
                if problem:
                    field.errors = [*field.errors, str(problem)]
                    valid = False
    if valid:
        changes = {}
        for name in WORKSPACE_FIELDS:
            value = form[name].data.strip() if name == "name" else form[name].data
            if getattr(tenant, name) != value:
                changes[name] = [getattr(tenant, name), value]
                setattr(tenant, name, value)
        if changes:
            record("settings_changed", tenant.slug, changes=changes)
        declared = declared_settings()
        for key, value in values.items():
            current = stored[key] if key in stored else declared[key][1].default
            if current != value:
                set_setting(key, value)  # a TenantSetting row: audited like every tenant-owned row
        db.session.commit()
        flash(_("The workspace settings are saved."), "success")
        return redirect(url_for("admin.settings"))
    status = 400 if form.is_submitted() else 200
    return (
        render("core/admin/settings.html", form=form, sections=sections, field_name=setting_field_name),
        status,
    )
