"""Template slots: panels and actions other plugins place on a page, sorted, permission-filtered, escaped."""

from __future__ import annotations

from typing import Any

from flask import g
from flask_login import current_user
from markupsafe import Markup

from core.contributions import Action, Panel
from core.permissions import has_permission
from core.themes import render


def _hooks():
    return g.crm_hooks


def panels(slot_name: str, context: dict[str, Any]) -> list[Panel]:
    if not current_user.is_authenticated or "crm_hooks" not in g:
        return []
    found: list[Panel] = []
    for result in _hooks().page_panels(slot=slot_name, context=context, user=current_user, tenant=g.tenant):
        found.extend(result or [])
    found = [p for p in found if not p.permission or has_permission(p.permission)]
    return sorted(found, key=lambda p: (p.order, p.key))


def actions(slot_name: str, context: dict[str, Any]) -> list[Action]:
    if not current_user.is_authenticated or "crm_hooks" not in g:
        return []
    found: list[Action] = []
    for result in _hooks().page_actions(slot=slot_name, context=context, user=current_user, tenant=g.tenant):
        found.extend(result or [])
    found = [a for a in found if not a.permission or has_permission(a.permission)]
    return sorted(found, key=lambda a: (a.order, a.key))


def slot(slot_name: str, **context: Any) -> Markup:
    """``{{ slot("contact.detail", contact=contact) }}``: render every panel for this slot."""
    html = [
        render(
            "core/panel.html",
            panel=panel,
            body=None if panel.lazy_url else Markup(render(panel.template, **panel.context)),
        )
        for panel in panels(slot_name, context)
    ]
    return Markup("".join(html))


def slot_actions(slot_name: str, **context: Any) -> Markup:
    html = [render("core/action.html", action=action) for action in actions(slot_name, context)]
    return Markup("".join(html))
