"""The kernel's blueprint of pages for every registered entity, under ``/<plugin>/<plural>/``.

One blueprint per entity, named ``entity.endpoint_prefix`` (``<plugin>_<plural>``) and owned by the entity's
plugin, so the kernel's per-request check answers 404 wherever that plugin is disabled. Endpoints:

========== ============================ ========= =====================
endpoint   URL                          methods   permission
========== ============================ ========= =====================
list       ``/``                        GET       ``<prefix>.view``
new        ``/new``                     GET, POST ``<prefix>.create``
detail     ``/<id>``                    GET       ``<prefix>.view``
edit       ``/<id>/edit``               GET, POST ``<prefix>.edit``
delete     ``/<id>/delete``             POST      ``<prefix>.delete``
trash      ``/trash``                   GET       ``<prefix>.delete``
restore    ``/<id>/restore``            POST      ``<prefix>.delete``
bulk       ``/bulk``                    POST      ``<prefix>.view`` (+ the action's)
save_view  ``/views``                   POST      ``<prefix>.view``
delete_view ``/views/<id>/delete``      POST      ``<prefix>.view``
========== ============================ ========= =====================

``Entity(views={"detail": fn})`` replaces a page's view: ``fn(entity, **url_arguments)``. It keeps the default
permission unless it declares its own with ``@requires``/``@authenticated``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask

from core.entities import views
from core.entities.definition import Entity
from core.permissions import requires, view_policy

# endpoint -> (rule, methods, action whose permission it needs, default view)
PAGES: dict[str, tuple[str, tuple[str, ...], str, Callable[..., Any]]] = {
    "list": ("/", ("GET",), "view", views.list_view),
    "new": ("/new", ("GET", "POST"), "create", views.new),
    "trash": ("/trash", ("GET",), "delete", views.trash),
    "bulk": ("/bulk", ("POST",), "view", views.bulk),
    "save_view": ("/views", ("POST",), "view", views.save_view),
    "delete_view": ("/views/<int:view_id>/delete", ("POST",), "view", views.delete_view),
    "detail": ("/<int:record_id>", ("GET",), "view", views.detail),
    "edit": ("/<int:record_id>/edit", ("GET", "POST"), "edit", views.edit),
    "delete": ("/<int:record_id>/delete", ("POST",), "delete", views.delete),
    "restore": ("/<int:record_id>/restore", ("POST",), "delete", views.restore),
}


def _bind(entity: Entity, name: str, action: str, default: Callable[..., Any]) -> Callable[..., Any]:
    """The view function of one page of one entity, with its declared permission."""
    implementation = entity.views.get(name, default)

    @functools.wraps(implementation)
    def view(**kwargs: Any) -> Any:
        return implementation(entity, **kwargs)

    view.__name__ = name
    policy = view_policy(implementation)
    if policy is None:
        return requires(entity.permission(action))(view)
    return view  # functools.wraps copied the override's own declaration


def blueprint_for(entity: Entity) -> Blueprint:
    """The blueprint of one entity's pages."""
    bp = Blueprint(entity.endpoint_prefix, __name__, url_prefix=f"/{entity.plugin}/{entity.plural}")
    for name, (rule, methods, action, default) in PAGES.items():
        bp.add_url_rule(rule, name, _bind(entity, name, action, default), methods=list(methods))
    return bp


def init_entity_pages(app: Flask) -> None:
    """Register the pages of every registered entity; each blueprint is owned by the entity's plugin."""
    from core.entities import saved_views  # noqa: F401  (its table joins the metadata)

    host = app.extensions["crm.plugins"]
    for entity in app.extensions["crm.entities"].values():
        bp = blueprint_for(entity)
        app.register_blueprint(bp)
        host.owners.blueprints[bp.name] = entity.plugin
