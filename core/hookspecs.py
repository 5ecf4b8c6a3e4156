"""Every hook a Guanxi plugin can implement. ``docs/plugins.md`` documents each with a working example.

App-level hooks run once at start-up for every installed plugin. Per-request hooks run only for the plugins
enabled in the current tenant and always receive ``user`` and ``tenant`` explicitly. Hooks return data objects
(``core.contributions``), never HTML. Items carry an ``order``: never rely on the order pluggy calls plugins in.
"""

from __future__ import annotations

from typing import Any

from core.hooks import hookspec

# ----------------------------------------------------------------------------------------- app level


@hookspec
def register_models() -> list[type]:
    """Return the SQLAlchemy model classes the plugin owns (subclasses of ``core.db.Base``)."""


@hookspec
def register_entities() -> list[Any]:
    """Return ``core.entities.Entity`` definitions; the kernel serves their pages, API, import, export, search."""


@hookspec
def register_blueprints() -> list[Any]:
    """Return the Flask blueprints the plugin owns; every endpoint in them answers 404 where it is disabled."""


@hookspec
def register_permissions() -> list[Any]:
    """Return ``Permission`` objects; names start with the plugin's name."""


@hookspec
def register_menu_items() -> list[Any]:
    """Return ``MenuItem`` objects; shown only where the plugin is enabled and the user holds the permission."""


@hookspec
def register_settings() -> list[Any]:
    """Return ``Setting`` objects a tenant administrator can change on the settings page."""


@hookspec
def register_cli(cli: Any) -> None:
    """Add click commands to ``cli`` (the ``crm`` command group)."""


@hookspec
def register_translations() -> list[str]:
    """Return folders holding ``<locale>/LC_MESSAGES/messages.mo`` catalogues."""


# ----------------------------------------------------------------------------------------- per request


@hookspec
def page_panels(slot: str, context: dict[str, Any], user: Any, tenant: Any) -> list[Any]:
    """Return ``Panel`` objects for ``slot`` (e.g. ``home.dashboard``) given the page's ``context``."""


@hookspec
def page_actions(slot: str, context: dict[str, Any], user: Any, tenant: Any) -> list[Any]:
    """Return ``Action`` objects (buttons) for ``slot``."""


@hookspec
def search(query: str, user: Any, tenant: Any, limit: int) -> list[Any]:
    """Return up to ``limit`` ``SearchHit`` objects the user may see for ``query``."""


@hookspec
def handle_event(event: Any, tenant: Any) -> None:
    """React to an ``Event`` after its transaction committed. Enqueue a job for anything slow."""


@hookspec
def plugin_enabled(tenant: Any) -> None:
    """Called for this plugin only, after it has been enabled for ``tenant``."""


@hookspec
def plugin_disabled(tenant: Any) -> None:
    """Called for this plugin only, just before it is disabled for ``tenant``."""


@hookspec
def demo_data(tenant: Any, session: Any) -> None:
    """Add realistic sample rows for ``crm quickstart`` (the session is committed by the kernel)."""
