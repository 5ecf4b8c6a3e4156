"""Menus built from plugin contributions, filtered by the tenant's enabled plugins and the user's permissions."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, request, url_for
from flask_login import current_user

from core.contributions import MenuItem
from core.permissions import has_permission


def all_items() -> list[tuple[str, MenuItem]]:
    return current_app.extensions["crm.menu_items"]


def menu(section: str = "main") -> list[dict[str, Any]]:
    """The entries of ``section`` the current user sees here, ordered, with their URL and active flag."""
    if not current_user.is_authenticated:
        return []
    enabled = g.get("enabled_plugins", frozenset())
    entries = []
    for owner, item in all_items():
        if item.section != section or (owner != "core" and owner not in enabled):
            continue
        if item.permission and not has_permission(item.permission):
            continue
        url = url_for(item.endpoint, **item.endpoint_args)
        entries.append(
            {
                "key": item.key,
                "label": item.label,
                "url": url,
                "icon": item.icon,
                "order": item.order,
                "active": request.path == url or (url != "/" and request.path.startswith(url)),
            }
        )
    entries.sort(key=lambda e: (e["order"], str(e["label"])))
    return entries
