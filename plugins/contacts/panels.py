"""Panels and actions the plugin puts on the detail pages of contacts and companies, and on the home page.

The timeline, the people of a company and the possible duplicates load after the page (``lazy_url``), so a
detail page stays fast however long a customer's history is.
"""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask_babel import lazy_gettext as _l

from core.contributions import Action, Panel

from .template_context import template_helpers


def _record(context: dict[str, Any], name: str) -> Any:
    return context.get(name) or context.get("record")


def panels_for(slot: str, context: dict[str, Any], user: Any) -> list[Panel]:
    if slot == "home.dashboard":
        return [
            Panel(
                "contacts.my_tasks",
                _l("My tasks"),
                "contacts/panels/my_tasks.html",
                order=20,
                lazy_url=url_for("contacts.my_tasks_panel"),
            )
        ]
    if slot == "contact.detail":
        contact = _record(context, "contact")
        if contact is None:
            return []
        return [
            Panel(
                "contacts.reach",
                _l("Call, write, visit"),
                "contacts/panels/reach_contact.html",
                {"contact": contact, **template_helpers()},
                order=10,
                permission="contacts.contact.view",
            ),
            Panel(
                "contacts.timeline",
                _l("Timeline"),
                "contacts/timeline_fragment.html",
                order=20,
                permission="contacts.contact.view",
                lazy_url=url_for("contacts.contact_timeline", record_id=contact.id, fragment=1),
            ),
            Panel(
                "contacts.duplicates",
                _l("Possible duplicates"),
                "contacts/panels/duplicates.html",
                order=90,
                permission="contacts.merge",
                lazy_url=url_for("contacts.duplicates_panel", kind="contact", record_id=contact.id),
            ),
        ]
    if slot == "company.detail":
        company = _record(context, "company")
        if company is None:
            return []
        return [
            Panel(
                "contacts.reach",
                _l("Call, write, visit"),
                "contacts/panels/reach_company.html",
                {"company": company, **template_helpers()},
                order=10,
                permission="contacts.company.view",
            ),
            Panel(
                "contacts.people",
                _l("People"),
                "contacts/panels/people.html",
                order=15,
                permission="contacts.contact.view",
                lazy_url=url_for("contacts.people_panel", record_id=company.id),
            ),
            Panel(
                "contacts.timeline",
                _l("Timeline"),
                "contacts/timeline_fragment.html",
                order=20,
                permission="contacts.company.view",
                lazy_url=url_for("contacts.company_timeline", record_id=company.id, fragment=1),
            ),
            Panel(
                "contacts.duplicates",
                _l("Possible duplicates"),
                "contacts/panels/duplicates.html",
                order=90,
                permission="contacts.merge",
                lazy_url=url_for("contacts.duplicates_panel", kind="company", record_id=company.id),
            ),
        ]
    return []


def actions_for(slot: str, context: dict[str, Any], user: Any) -> list[Action]:
    """Quick actions on a contact's or company's page: one tap to log a call, add a note or add a task."""
    if slot == "contact.actions":
        target, record = "contact", _record(context, "contact")
    elif slot == "company.actions":
        target, record = "company", _record(context, "company")
    else:
        return []
    if record is None:
        return []
    log = "contacts.log_entry"
    return [
        Action(
            "contacts.log_call",
            _l("Log a call"),
            url_for(log, target=target, record_id=record.id, kind="call"),
            order=10,
            permission="contacts.timeline.add",
        ),
        Action(
            "contacts.add_note",
            _l("Add a note"),
            url_for(log, target=target, record_id=record.id, kind="note"),
            order=11,
            permission="contacts.timeline.add",
        ),
        Action(
            "contacts.add_task",
            _l("Add a task"),
            url_for(log, target=target, record_id=record.id, kind="task"),
            order=12,
            permission="contacts.timeline.add",
        ),
        Action(
            "contacts.merge",
            _l("Merge with…"),
            url_for("contacts.merge", kind=target, record_id=record.id),
            order=90,
            permission="contacts.merge",
        ),
    ]
