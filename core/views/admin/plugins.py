"""Modules: every installed plugin with its state in this workspace; enable and disable per tenant."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, g, redirect, url_for
from flask_babel import gettext as _

from core import db
from core.audit import record
from core.permissions import requires
from core.plugins import PluginInfo
from core.tenant_plugins import PluginStateError, disable_plugin, enable_plugin, enabled_plugins
from core.themes import render
from core.views.admin import bp
from core.views.admin.common import paginate_list

PERMISSION = "admin.plugins.manage"


def _installed() -> dict[str, PluginInfo]:
    return current_app.extensions["crm.plugins"].plugins


def _names(names: list[str]) -> str:
    """``Title (name)`` for each plugin, joined for a sentence."""
    plugins = _installed()
    return ", ".join(f"{plugins[name].title} ({name})" if name in plugins else name for name in names)


@bp.route("/plugins")
@requires(PERMISSION)
def plugins() -> Any:
    installed = _installed()
    host = current_app.extensions["crm.plugins"]
    rows = [
        {
            "info": info,
            "enabled": name in g.enabled_plugins,
            "dependents": host.dependents(name),
        }
        for name, info in installed.items()
    ]
    rows.sort(key=lambda row: str(row["info"].title).lower())
    return render("core/admin/plugins.html", page=paginate_list(rows), installed=installed)


def _change(name: str, enable: bool) -> Any:
    installed = _installed()
    if name not in installed:
        abort(404)
    tenant = g.tenant
    info = installed[name]
    enabled = enabled_plugins(tenant)
    try:
        if enable:
            enable_plugin(tenant, name)
        else:
            disable_plugin(tenant, name)
    except PluginStateError as exc:
        db.session.rollback()
        if enable:
            missing = [req for req in info.requires if req not in enabled]
            message = (
                _(
                    "%(plugin)s was not enabled: it needs %(missing)s. Enable that first.",
                    plugin=_names([name]),
                    missing=_names(missing),
                )
                if missing
                else str(exc)
            )
        else:
            blockers = [dep for dep in current_app.extensions["crm.plugins"].dependents(name) if dep in enabled]
            message = (
                _(
                    "%(plugin)s was not disabled: %(blockers)s needs it. Disable that first.",
                    plugin=_names([name]),
                    blockers=_names(blockers),
                )
                if blockers
                else str(exc)
            )
        flash(message, "error")
        return redirect(url_for("admin.plugins"))
    if (name in enabled) != enable:
        record("plugin_enabled" if enable else "plugin_disabled", name)
    db.session.commit()
    if enable:
        flash(_("%(plugin)s is enabled for this workspace.", plugin=_names([name])), "success")
    else:
        flash(
            _(
                "%(plugin)s is disabled. Its data is kept and comes back when you enable it again.",
                plugin=_names([name]),
            ),
            "success",
        )
    return redirect(url_for("admin.plugins"))


@bp.route("/plugins/<name>/enable", methods=["POST"])
@requires(PERMISSION)
def plugin_enable(name: str) -> Any:
    return _change(name, True)


@bp.route("/plugins/<name>/disable", methods=["POST"])
@requires(PERMISSION)
def plugin_disable(name: str) -> Any:
    return _change(name, False)
