"""The contacts plugin: companies and contacts, their timeline, tasks, notifications, duplicates and merging.

The kernel's entity framework serves the lists, detail pages, forms, trash, history, import, export, API and
search of companies and contacts from the two ``Entity`` definitions below; this plugin adds what is specific to
customer records (see ``views.py``) and a small API for other plugins (``public.py``).
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from core.contributions import Action, MenuItem, Panel, Permission, Setting
from core.hooks import hookimpl

TITLE = _l("Contacts")

META = {
    "name": "contacts",
    "title": TITLE,
    "version": "1.0.0",
    "description": _l(
        "Companies and contacts with their timeline of calls, meetings and notes, tasks and reminders, "
        "duplicate detection and merging."
    ),
    "requires": (),
    "slots": ("contact.detail", "company.detail", "contact.actions", "company.actions"),
    "events": (
        "contacts.contact.created",
        "contacts.contact.updated",
        "contacts.contact.deleted",
        "contacts.contact.restored",
        "contacts.contact.merged",
        "contacts.company.created",
        "contacts.company.updated",
        "contacts.company.deleted",
        "contacts.company.restored",
        "contacts.company.merged",
        "contacts.interaction.created",
        "contacts.task.assigned",
        "contacts.task.done",
    ),
}


@hookimpl
def register_models() -> list[type]:
    from plugins.contacts import models

    return [
        models.Company,
        models.Contact,
        models.ContactEmail,
        models.ContactPhone,
        models.ContactCompany,
        models.Interaction,
        models.Notification,
    ]


@hookimpl
def register_entities() -> list[Any]:
    from plugins.contacts.entities import company_entity, contact_entity

    return [company_entity(), contact_entity()]


@hookimpl
def register_blueprints() -> list[Any]:
    from plugins.contacts.views import bp

    return [bp]


@hookimpl
def register_permissions() -> list[Permission]:
    from core.entities import entity_permissions

    # Sales see their department's customers and edit their own; service and marketing see everyone and edit
    # their own; marketing exports and imports; read-only users see everything and change nothing.
    contact_defaults = {
        "view": {"sales": "department", "service": "all", "marketing": "all", "readonly": "all"},
        "create": {"sales": "all", "service": "all", "marketing": "all"},
        "edit": {"sales": "own", "service": "own", "marketing": "own"},
        "delete": {"sales": "own", "marketing": "own"},
        "export": {"marketing": "all"},
        "import": {"marketing": "all"},
    }
    return [
        *entity_permissions("contacts.contact", _l("Contacts"), contact_defaults),
        *entity_permissions("contacts.company", _l("Companies"), contact_defaults),
        Permission(
            "contacts.timeline.add",
            _l("Log calls, notes and tasks"),
            _l("Add entries to the timeline of the contacts and companies the user can see."),
            scoped=False,
            defaults={"sales": "all", "service": "all", "marketing": "all"},
        ),
        Permission(
            "contacts.merge",
            _l("Merge duplicate contacts and companies"),
            _l("Combine two records into one; the other goes to the trash."),
            defaults={"sales": "own", "service": "own"},
        ),
        Permission(
            "contacts.tasks.manage",
            _l("Manage other people's tasks"),
            _l("See, complete and reassign the tasks of colleagues within the scope."),
        ),
    ]


@hookimpl
def register_menu_items() -> list[MenuItem]:
    return [
        MenuItem(
            "contacts.contacts",
            _l("Contacts"),
            "contacts_contacts.list",
            order=10,
            permission="contacts.contact.view",
            icon="user",
        ),
        MenuItem(
            "contacts.companies",
            _l("Companies"),
            "contacts_companies.list",
            order=11,
            permission="contacts.company.view",
            icon="building",
        ),
        MenuItem("contacts.tasks", _l("My tasks"), "contacts.tasks", order=12, icon="check"),
        MenuItem(
            "contacts.notifications",
            _l("Notifications"),
            "contacts.notifications",
            order=5,
            section="user",
            icon="bell",
        ),
    ]


@hookimpl
def register_settings() -> list[Setting]:
    from plugins.contacts.choices import COUNTRIES, DEFAULT_GRADES, DEFAULT_INDUSTRIES, DEFAULT_SOURCES
    from plugins.contacts.settings import validate_grades, validate_list

    return [
        Setting(
            "customer_grades",
            _l("Customer grades"),
            default=DEFAULT_GRADES,
            help=_l("Separated by commas, best first, e.g. A, B, C, D or VIP, Gold, Silver."),
            validate=validate_grades,
        ),
        Setting(
            "industries",
            _l("Industries"),
            default=DEFAULT_INDUSTRIES,
            help=_l("The industries offered for companies, separated by commas."),
            validate=validate_list,
        ),
        Setting(
            "sources",
            _l("Sources"),
            default=DEFAULT_SOURCES,
            help=_l("Where customers come from, separated by commas."),
            validate=validate_list,
        ),
        Setting(
            "default_country",
            _l("Default country"),
            type="choice",
            default="TW",
            choices=COUNTRIES,
            help=_l("Used for addresses and tax IDs when a record names no country."),
        ),
    ]


@hookimpl
def register_cli(cli: Any) -> None:
    from plugins.contacts.cli import contacts_group

    cli.add_command(contacts_group)


@hookimpl
def page_panels(slot: str, context: dict[str, Any], user: Any, tenant: Any) -> list[Panel]:
    from plugins.contacts import panels

    return panels.panels_for(slot, context, user)


@hookimpl
def page_actions(slot: str, context: dict[str, Any], user: Any, tenant: Any) -> list[Action]:
    from plugins.contacts import panels

    return panels.actions_for(slot, context, user)


@hookimpl
def handle_event(event: Any, tenant: Any) -> None:
    from plugins.contacts import events

    events.handle(event)


@hookimpl
def demo_data(tenant: Any, session: Any) -> None:
    from plugins.contacts.demo import load

    load(tenant, session)
