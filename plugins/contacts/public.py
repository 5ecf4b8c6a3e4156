"""The contacts plugin's public API. Other plugins list ``"contacts"`` in ``META["requires"]`` and import only this.

Two ways to put something on a contact's or company's timeline:

1. **Events** (no ``requires`` needed): emit one of :data:`TIMELINE_EVENTS` with this payload::

       emit("opportunities.opportunity.won", id=opportunity.id, contact_id=7, company_id=3,
            title="報價單 Q-2024-031 成交", url="/opportunities/opportunities/12")

   ``contact_id`` and/or ``company_id`` (int, at least one naming a record of the tenant), ``title`` (str, shown
   as the entry's subject; the event's default title otherwise), ``url`` (str, a path inside Guanxi starting
   with ``/``, linked from the entry), optionally ``body`` (str) and ``at`` (ISO 8601 time; default: now).
   Entries from events have kind ``"system"`` and remember the emitting plugin as their ``source``.

2. **A direct call** from a plugin that requires contacts: :func:`add_timeline_entry`.

Other plugins keep their own rows pointing at contacts and companies; when two are merged the plugin hears
``contacts.contact.merged`` / ``contacts.company.merged`` with ``{"from_id": int, "into_id": int}`` and moves
its rows from ``from_id`` to ``into_id`` (the ``from_id`` record is in the trash afterwards).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import lazy_gettext as _l

from .normalise import phone_digits
from .timeline import user_zone

__all__ = [
    "KINDS",
    "TIMELINE_EVENTS",
    "add_task",
    "add_timeline_entry",
    "company_id_by_name",
    "company_summary",
    "contact_summary",
    "customer_grades",
    "duplicate_companies",
    "duplicate_contacts",
    "notify_user",
    "phone_digits",
    "user_zone",
    "visible_company_ids",
    "visible_contact_ids",
]

# Events of other plugins that add a timeline entry, with the title used when the payload has none.
TIMELINE_EVENTS: dict[str, Any] = {
    "opportunities.opportunity.created": _l("Opportunity created"),
    "opportunities.opportunity.won": _l("Opportunity won"),
    "opportunities.opportunity.lost": _l("Opportunity lost"),
    "quotes.quote.sent": _l("Quote sent"),
    "orders.order.created": _l("Order placed"),
    "tickets.ticket.opened": _l("Ticket opened"),
    "tickets.ticket.closed": _l("Ticket closed"),
    "campaigns.message.sent": _l("Campaign message sent"),
    "campaigns.message.opened": _l("Campaign message opened"),
    "forms.submission.received": _l("Web form submitted"),
}

KINDS = ("call", "email", "meeting", "visit", "note", "task", "sms", "system")


def add_timeline_entry(
    *,
    contact_id: int | None = None,
    company_id: int | None = None,
    kind: str = "system",
    title: str,
    body: str | None = None,
    at: dt.datetime | None = None,
    url: str | None = None,
    user_id: int | None = None,
    source: str | None = None,
) -> int:
    """Add an entry to the timeline of a contact and/or company of the current tenant; returns its id.

    ``kind`` is one of :data:`KINDS` (``"system"`` for things that happened elsewhere in Guanxi), ``title`` the
    line shown on the timeline, ``at`` an aware datetime (default: now), ``url`` a path inside Guanxi,
    ``user_id`` who did it, ``source`` the calling plugin's name. The caller commits. Raises ``ValueError`` when
    neither record exists in this tenant or the kind is unknown.
    """
    from sqlalchemy import select

    from core import db

    from .models import Company, Contact
    from .timeline import add_entry

    if kind not in KINDS or kind == "task":
        raise ValueError(f"unknown timeline kind {kind!r} (tasks are added with add_task)")
    if contact_id is not None and db.session.scalar(select(Contact.id).where(Contact.id == contact_id)) is None:
        contact_id = None
    if company_id is not None and db.session.scalar(select(Company.id).where(Company.id == company_id)) is None:
        company_id = None
    if contact_id is None and company_id is None:
        raise ValueError("no such contact or company in this workspace")
    if at is not None and at.tzinfo is None:
        raise ValueError("pass an aware datetime")
    entry = add_entry(
        kind,
        contact_id=contact_id,
        company_id=company_id,
        subject=title,
        body=body,
        occurred_at=at,
        user_id=user_id,
        source=source,
        url=url if url and url.startswith("/") and not url.startswith("//") else None,
    )
    return entry.id


def add_task(
    *,
    title: str,
    assignee_id: int,
    contact_id: int | None = None,
    company_id: int | None = None,
    due_at: dt.datetime | None = None,
    remind_at: dt.datetime | None = None,
    body: str | None = None,
    user_id: int | None = None,
) -> int:
    """Create a task (e.g. "call back after the quote") for ``assignee_id``; they are notified when someone
    else created it, and reminded at ``remind_at``. The caller commits. Returns the task's id."""
    from .timeline import add_entry

    if contact_id is None and company_id is None:
        raise ValueError("a task belongs to a contact or a company")
    entry = add_entry(
        "task",
        contact_id=contact_id,
        company_id=company_id,
        subject=title,
        body=body,
        user_id=user_id,
        due_at=due_at,
        assignee_id=assignee_id,
        remind_at=remind_at,
    )
    return entry.id


def contact_summary(contact_id: int) -> dict[str, Any] | None:
    """``{"id", "name", "company_id", "company_name", "email", "mobile", "phone", "customer_grade",
    "partner_type", "owner_id", "department_id", "url"}`` of a contact of this tenant (not in the trash), or
    ``None``. It does not check the user's record scope: use it to show what your own page already may show."""
    from sqlalchemy import select

    from core import db
    from core.paths import path_for

    from .models import Contact

    contact = db.session.scalar(select(Contact).where(Contact.id == contact_id))
    if contact is None:
        return None
    return {
        "id": contact.id,
        "name": contact.name,
        "company_id": contact.company_id,
        "company_name": contact.company_name,
        "email": contact.email,
        "mobile": contact.mobile,
        "phone": contact.phone,
        "customer_grade": contact.customer_grade,
        "partner_type": contact.partner_type,
        "owner_id": contact.owner_id,
        "department_id": contact.department_id,
        "url": path_for("contacts_contacts.detail", record_id=contact.id),
    }


def company_summary(company_id: int) -> dict[str, Any] | None:
    """``{"id", "name", "short_name", "tax_id", "customer_grade", "partner_type", "lifecycle_stage",
    "owner_id", "department_id", "url"}`` of a company of this tenant (not in the trash), or ``None``."""
    from sqlalchemy import select

    from core import db
    from core.paths import path_for

    from .models import Company

    company = db.session.scalar(select(Company).where(Company.id == company_id))
    if company is None:
        return None
    return {
        "id": company.id,
        "name": company.name,
        "short_name": company.short_name,
        "tax_id": company.tax_id,
        "customer_grade": company.customer_grade,
        "partner_type": company.partner_type,
        "lifecycle_stage": company.lifecycle_stage,
        "owner_id": company.owner_id,
        "department_id": company.department_id,
        "url": path_for("contacts_companies.detail", record_id=company.id),
    }


def customer_grades() -> list[str]:
    """The tenant's customer grades, best first (e.g. ``["A", "B", "C", "D"]``), for service differentiation."""
    from .choices import GRADES

    return GRADES.values()


def visible_contact_ids(ids: list[int], user: Any = None) -> set[int]:
    """Which of ``ids`` the user may see (``contacts.contact.view`` with its scope), in one query."""
    from sqlalchemy import select

    from core import db
    from core.permissions import scoped

    from .models import Contact

    if not ids:
        return set()
    statement = scoped(select(Contact.id).where(Contact.id.in_(ids)), "contacts.contact.view", user, model=Contact)
    return set(db.session.scalars(statement))


def visible_company_ids(ids: list[int], user: Any = None) -> set[int]:
    """Which of ``ids`` the user may see (``contacts.company.view`` with its scope), in one query."""
    from sqlalchemy import select

    from core import db
    from core.permissions import scoped

    from .models import Company

    if not ids:
        return set()
    statement = scoped(select(Company.id).where(Company.id.in_(ids)), "contacts.company.view", user, model=Company)
    return set(db.session.scalars(statement))


def company_id_by_name(name: str, user: Any = None) -> int | None:
    """The id of the oldest company the user can see whose name matches ``name`` (ignoring case, spaces and
    punctuation: "台積電股份有限公司" ≠ "台積電", but "ACME Inc." = "acme inc"), or ``None``."""
    from core.entities.records import acting_user

    from .records import find_company_by_name

    company = find_company_by_name(name, user or acting_user())
    return company.id if company is not None else None


def notify_user(user_id: int, title: Any, url: str | None = None, kind: str = "assigned") -> bool:
    """Put an in-app notification in a user's bell (``kind`` up to 20 characters, e.g. ``"assigned"``).

    ``title`` may be a lazy string (``lazy_gettext("New lead: %(name)s", name=...)``): it is rendered in the
    recipient's language. Nothing is sent to an unknown or deactivated user (returns ``False``). The caller
    commits, so a rolled-back write notifies nobody.
    """
    from core import db
    from core.models import User

    from .timeline import _locale_of, notify

    user = db.session.get(User, user_id)
    if user is None or not user.active:
        return False
    with _locale_of(user):
        text = str(title)
    notify(user.id, kind[:20], text, url)
    return True


def _matches(found: Any, endpoint: str) -> list[dict[str, Any]]:
    from core.paths import path_for

    return [
        {"id": row.id, "name": row.name, "reasons": reasons, "url": path_for(endpoint, record_id=row.id)}
        for row, reasons in found.visible
    ]


def duplicate_contacts(
    name: str | None = None,
    emails: list[str] | tuple[str, ...] = (),
    phones: list[str] | tuple[str, ...] = (),
    company_ids: list[int] | tuple[int, ...] = (),
    company_names: list[str] | tuple[str, ...] = (),
    user: Any = None,
    limit: int = 10,
) -> list[dict[str, Any]]:
    """Existing contacts the user can see that look like the same person: ``[{"id", "name", "reasons", "url"}]``
    where ``reasons`` lists ``"email"``, ``"phone"`` and/or ``"name"`` (a similar name at one of the companies).
    The same check the contact form runs."""
    from .records import contact_duplicates

    found = contact_duplicates(
        name=name,
        emails=emails,
        phones=phones,
        company_ids=company_ids,
        company_names=company_names,
        user=user,
        limit=limit,
    )
    return _matches(found, "contacts_contacts.detail")


def duplicate_companies(
    name: str | None = None,
    tax_id: str | None = None,
    phone: str | None = None,
    user: Any = None,
    limit: int = 10,
) -> list[dict[str, Any]]:
    """Existing companies the user can see that look like the same company: ``[{"id", "name", "reasons",
    "url"}]`` with ``reasons`` among ``"tax_id"``, ``"phone"``, ``"name"``. The same check the company form runs."""
    from .records import company_duplicates

    return _matches(
        company_duplicates(name=name, tax_id=tax_id, phone=phone, user=user, limit=limit), "contacts_companies.detail"
    )
