"""A second test-only plugin that requires ``notes``: for the enable/disable refusal tests."""

from flask import Blueprint
from flask_babel import lazy_gettext as _l

from core.contributions import Permission
from core.hooks import hookimpl
from core.permissions import requires

META = {
    "name": "notes_extra",
    "title": "Notes extra",
    "version": "1.0",
    "description": "Needs the notes plugin; exists only for the kernel's tests.",
    "requires": ("notes",),
}

bp = Blueprint("notes_extra", __name__, url_prefix="/notes-extra")
CALLS: list = []  # (hook, tenant slug) of every plugin_enabled / plugin_disabled call


@bp.route("/")
@requires("notes_extra.view")
def index():
    return {"extra": True}


@hookimpl
def register_blueprints():
    return [bp]


@hookimpl
def register_permissions():
    return [Permission("notes_extra.view", _l("View the notes extra"), defaults={"sales": "all"})]


@hookimpl
def plugin_enabled(tenant):
    CALLS.append(("enabled", tenant.slug))


@hookimpl
def plugin_disabled(tenant):
    CALLS.append(("disabled", tenant.slug))
