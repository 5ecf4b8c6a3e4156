"""The app factory: ``create_app(config=None, plugins=None)`` is the only way to build a Guanxi app."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import Any

from flask import Flask, abort, g, jsonify, request, send_from_directory
from flask_login import LoginManager
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy import select

from core import db as dbmod
from core.audit import Actor, reset_actor, set_actor
from core.config import load_config
from core.i18n import init_i18n
from core.jobs import init_jobs
from core.plugins import CORE, PluginError, PluginHost
from core.tenancy import reset_tenant, set_tenant

log = logging.getLogger("crm")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
STATIC_ENDPOINTS = {"static", "theme_static"}


def create_app(config: Mapping[str, Any] | None = None, plugins: Iterable[ModuleType | str] | None = None) -> Flask:
    """Build an app: config, database, plugin host, i18n, themes, accounts, the plugins' contributions."""
    instance_path = os.environ.get("CRM_INSTANCE_PATH")
    app = Flask(
        "core",
        instance_path=os.path.abspath(instance_path) if instance_path else None,
        instance_relative_config=True,
        static_url_path="/static/core",
    )
    load_config(app, config)
    if int(app.config["PROXY_FIX"] or 0) > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = int(app.config["PROXY_FIX"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)  # type: ignore
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Alembic announces each of its internal plugins at INFO when imported; show migrations, not that.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

    _init_timing(app)
    database = dbmod.Database(app)
    host = PluginHost(plugins)
    app.extensions["crm.plugins"] = host
    app.extensions["crm.enabled_cache"] = {}
    init_jobs(app)
    init_i18n(app, host)
    CSRFProtect(app)
    _init_login(app)
    _register_contributions(app, host)

    from core.themes import Themes

    Themes(app, host)
    _init_templates(app)
    _init_request_cycle(app)
    _init_errors(app)
    _init_static(app)
    host.call_each("register_cli", cli=app.cli)

    app.extensions["crm.database"] = database
    return app


def _init_timing(app: Flask) -> None:
    """``Server-Timing: app;dur=<ms>`` on every response: the time spent in the app (the benchmark reads it).

    Registered first, so the clock starts before any other ``before_request`` and stops after every other
    ``after_request``."""

    @app.before_request
    def _start_clock() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def _server_timing(response: Any) -> Any:
        started = g.get("request_started")
        if started is not None:
            response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        return response


def _init_login(app: Flask) -> None:
    from core.models import User

    manager = LoginManager(app)
    manager.login_view = "accounts.login"
    # "basic" marks a session as not fresh when the IP or browser changes instead of signing the user out:
    # phones switch networks all day.
    manager.session_protection = "basic"

    @manager.user_loader
    def load_user(user_key: str) -> User | None:
        tenant = g.get("tenant")
        try:
            tenant_part, user_part, fingerprint = user_key.split(":")
            tenant_id, user_id = int(tenant_part), int(user_part)
        except ValueError:
            return None
        if tenant is None or tenant.id != tenant_id:
            return None
        user = dbmod.session.get(User, user_id)
        if user is None or not user.active or user.session_fingerprint != fingerprint:
            return None
        return user


def _register_contributions(app: Flask, host: PluginHost) -> None:
    """Call the app-level hooks once and record which plugin owns what."""
    owners = host.owners
    for plugin, models in host.call_each("register_models"):
        for model in models:
            owners.tables[model.__tablename__] = plugin

    from core.entities.registry import register_entities
    from core.entities.routes import init_entity_pages

    register_entities(app, host)
    init_entity_pages(app)
    from core.entities.importing.views import register as init_import_export

    init_import_export(app, host)
    from core.api import init_api

    init_api(app, host)

    for plugin, blueprints in host.call_each("register_blueprints"):
        for blueprint in blueprints:
            if plugin != CORE and not (blueprint.name == plugin or blueprint.name.startswith(plugin + "_")):
                raise PluginError(f"blueprint {blueprint.name!r} of plugin {plugin} must be named after the plugin")
            app.register_blueprint(blueprint)
            owners.blueprints[blueprint.name] = plugin

    permissions = {}
    for plugin, perms in host.call_each("register_permissions"):
        for perm in perms:
            prefix = perm.name.split(".")[0]
            if plugin != CORE and prefix != plugin:
                raise PluginError(f"permission {perm.name!r} of plugin {plugin} must start with '{plugin}.'")
            if perm.name in permissions:
                raise PluginError(f"permission {perm.name!r} is declared twice")
            permissions[perm.name] = perm
            owners.permissions[perm.name] = plugin
    app.extensions["crm.permissions"] = permissions

    items = []
    for plugin, menu_items in host.call_each("register_menu_items"):
        for item in menu_items:
            items.append((plugin, item))
            owners.menu_items[item.key] = plugin
    app.extensions["crm.menu_items"] = items

    settings = {}
    for plugin, declared in host.call_each("register_settings"):
        for setting in declared:
            settings[f"{plugin}.{setting.key}"] = (plugin, setting)
            owners.settings[f"{plugin}.{setting.key}"] = plugin
    app.extensions["crm.settings"] = settings


def _init_templates(app: Flask) -> None:
    from flask_babel import format_date, format_datetime, format_decimal, get_locale
    from flask_wtf.csrf import generate_csrf

    from core import slots
    from core.i18n import HTML_LANG, LOCALES
    from core.menus import menu
    from core.permissions import can, has_permission

    app.add_template_global(slots.slot, "slot")
    app.add_template_global(slots.slot_actions, "slot_actions")
    app.add_template_global(menu, "menu")
    app.add_template_global(can, "can")
    app.add_template_global(has_permission, "has_permission")
    app.add_template_global(generate_csrf, "csrf_token")
    app.add_template_global(LOCALES, "LOCALES")
    app.add_template_global(get_locale, "get_locale")
    app.add_template_global(lambda: HTML_LANG.get(str(get_locale()), "en"), "html_lang")
    app.add_template_filter(format_datetime, "datetime")
    app.add_template_filter(format_date, "date")
    app.add_template_filter(format_decimal, "decimal")
    app.add_template_filter(format_month, "month")

    @app.context_processor
    def _tenant() -> dict[str, Any]:
        return {"current_tenant": g.get("tenant")}


def _is_static(endpoint: str | None) -> bool:
    return endpoint is not None and (endpoint in STATIC_ENDPOINTS or endpoint.endswith(".static"))


def resolve_tenant(host_header: str) -> Any:
    """The tenant for a request host: exact host, then subdomain of ``BASE_DOMAIN``, then the default."""
    from flask import current_app

    from core.models import Tenant

    hostname = host_header.rsplit("@", 1)[-1].split(":")[0].strip().lower().rstrip(".")
    session = dbmod.session
    tenant = session.scalar(select(Tenant).where(Tenant.host == hostname)) if hostname else None
    base = (current_app.config.get("BASE_DOMAIN") or "").lower().strip(".")
    if tenant is None and base and hostname.endswith("." + base):
        slug = hostname[: -len(base) - 1]
        if slug and "." not in slug:
            tenant = session.scalar(select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        default = current_app.config.get("DEFAULT_TENANT")
        if default:
            tenant = session.scalar(select(Tenant).where(Tenant.slug == default))
    if tenant is not None and not tenant.active:
        return None
    return tenant


def _init_request_cycle(app: Flask) -> None:
    from flask_login import current_user

    from core.permissions import view_policy
    from core.tenant_plugins import enabled_plugins

    host: PluginHost = app.extensions["crm.plugins"]

    @app.before_request
    def _enter_tenant() -> Any:
        if _is_static(request.endpoint):
            return None
        tenant = resolve_tenant(request.host)
        if tenant is None:
            abort(404, description="no-tenant")
        g.tenant = tenant
        g.tenant_token = set_tenant(tenant)
        g.enabled_plugins = enabled_plugins(tenant)
        g.crm_hooks = host.hooks_for(g.enabled_plugins)
        g.actor_token = set_actor(Actor(None, "anonymous", request.remote_addr))
        if request.endpoint is None:
            return None
        blueprint = request.endpoint.rsplit(".", 1)[0] if "." in request.endpoint else None
        owner = host.owners.blueprints.get(blueprint) if blueprint else None
        if owner and owner != CORE and owner not in g.enabled_plugins:
            abort(404)
        view = app.view_functions.get(request.endpoint)
        if view is not None and view_policy(view) is None:
            log.error("view %s declares no permission; refusing", request.endpoint)
            abort(403)
        if current_user.is_authenticated:
            reset_actor(g.actor_token)
            g.actor_token = set_actor(Actor(current_user.id, current_user.email, request.remote_addr))
        return None

    @app.teardown_request
    def _leave_tenant(exc: BaseException | None = None) -> None:
        token = g.pop("tenant_token", None)
        if token is not None:
            reset_tenant(token)
        actor = g.pop("actor_token", None)
        if actor is not None:
            reset_actor(actor)

    @app.after_request
    def _security_headers(response: Any) -> Any:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if request.is_secure:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if "text/html" in response.content_type:
            headers.setdefault("Cache-Control", "no-store")
        return response


def wants_json() -> bool:
    return request.path.startswith("/api/") or (
        request.accept_mimetypes.best_match(["application/json", "text/html"]) == "application/json"
    )


def _init_errors(app: Flask) -> None:
    from flask_babel import gettext as _

    from core.themes import render

    messages = {
        400: lambda: _("The request could not be understood."),
        403: lambda: _("You do not have permission to do that."),
        404: lambda: _("That page does not exist, or you cannot see it."),
        405: lambda: _("That method is not allowed here."),
        413: lambda: _("The upload is too large."),
        429: lambda: _("Too many attempts. Please wait and try again."),
        500: lambda: _("Something went wrong on our side. The error has been logged."),
    }

    def handle(error: Any) -> Any:
        code = getattr(error, "code", 500) or 500
        if code == 500:
            dbmod.session.rollback()
        message = messages.get(code, messages[500])()
        if getattr(error, "description", None) == "no-tenant":
            message = _("No workspace is configured for this address.")
        if wants_json():
            return jsonify({"error": {"status": code, "message": message}}), code
        try:
            return render("core/error.html", code=code, message=message), code
        except Exception:  # the error page itself must not fail
            log.exception("error page failed")
            return f"{code} {message}", code, {"Content-Type": "text/plain; charset=utf-8"}

    for code in messages:
        app.register_error_handler(code, handle)

    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError) -> Any:
        message = _("The form expired or was sent from elsewhere. Please reload the page and try again.")
        if wants_json():
            return jsonify({"error": {"status": 400, "message": message}}), 400
        return render("core/error.html", code=400, message=message), 400


def _init_static(app: Flask) -> None:
    def theme_static(theme: str, filename: str) -> Any:
        folder = app.extensions["crm.themes"].static_dir(theme)
        if folder is None:
            abort(404)
        return send_from_directory(folder, filename, max_age=3600)

    theme_static.crm_public = True  # type: ignore[attr-defined]
    app.add_url_rule("/static/theme/<theme>/<path:filename>", "theme_static", theme_static)


def format_month(day: Any, width: str = "short") -> str:
    """The month of ``day`` with its year as the user's language writes it: "Nov 2026", "2026年11月"."""
    from babel.dates import format_skeleton
    from flask_babel import get_locale

    return format_skeleton("yMMMM" if width == "long" else "yMMM", day, locale=get_locale())
