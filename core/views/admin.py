"""Administration pages (being written)."""

from flask import Blueprint, abort

from core.permissions import requires

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _todo():
    abort(404)


for _name, _perm in [
    ("users", "admin.users.manage"),
    ("groups", "admin.groups.manage"),
    ("departments", "admin.groups.manage"),
    ("explain", "admin.groups.manage"),
    ("plugins", "admin.plugins.manage"),
    ("settings", "admin.settings.manage"),
    ("audit", "admin.audit.view"),
]:
    bp.add_url_rule(f"/{_name}", _name, requires(_perm)(lambda: _todo()))
