"""Data objects that hooks return. The kernel sorts, filters by permission and tenant, escapes and themes them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Permission:
    """A permission name ``<plugin>.<action>`` or ``<plugin>.<thing>.<action>`` with a translatable label.

    ``defaults`` maps a built-in role (``sales``, ``service``, ``marketing``, ``readonly``) to the scope that
    role's group gets when a tenant is created or first enables the plugin. ``scoped=False`` marks a
    permission that is not about records (``contacts.export``), so only "all" makes sense for it.
    """

    name: str
    label: Any
    description: Any = ""
    scoped: bool = True
    defaults: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MenuItem:
    """An entry of the main menu (``section="main"``), the administration menu or the user menu."""

    key: str
    label: Any
    endpoint: str
    order: int = 100
    permission: str | None = None
    icon: str = ""
    section: str = "main"
    endpoint_args: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Panel:
    """A box on another plugin's page, placed in a slot the page owner declared.

    ``template`` is rendered with ``context``; with ``lazy_url`` the page shows a placeholder and the browser
    fetches the panel's HTML afterwards, so an expensive panel never slows the page.
    """

    key: str
    title: Any
    template: str
    context: Mapping[str, Any] = field(default_factory=dict)
    order: int = 100
    permission: str | None = None
    lazy_url: str | None = None


@dataclass(frozen=True)
class Action:
    """A button or link a plugin adds to another plugin's page (``page_actions``)."""

    key: str
    label: Any
    url: str
    order: int = 100
    permission: str | None = None
    method: str = "get"


@dataclass(frozen=True)
class SearchHit:
    """One global-search result."""

    title: str
    url: str
    kind: Any
    subtitle: str = ""
    score: float = 0.0


@dataclass(frozen=True)
class Setting:
    """A per-tenant setting a plugin offers on the administration settings page."""

    key: str
    label: Any
    type: str = "text"  # text, number, bool, choice
    default: Any = None
    choices: tuple[tuple[str, Any], ...] = ()
    help: Any = ""
    validate: Callable[[Any], str | None] | None = None


@dataclass(frozen=True)
class Event:
    """Something that happened, delivered to ``handle_event`` after the transaction committed."""

    name: str
    tenant_id: int
    payload: Mapping[str, Any]
    user_id: int | None = None
