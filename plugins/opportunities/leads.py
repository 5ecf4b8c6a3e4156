"""Leads: writing them (the entity's ``apply``), with assignment rules for new leads nobody chose an owner for."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.entities.records import acting_user, default_department
from core.entities.service import default_apply

from .models import Lead


def apply_lead(record: Lead, data: Mapping[str, Any]) -> None:
    """Columns from validated ``data``; phone digits for duplicate checks; a reason only while disqualified.

    A new lead whose data names no owner goes through the assignment rules (see :mod:`.assignment`).
    """
    from core import db
    from core.entities.registry import all_entities
    from plugins.contacts.public import phone_digits

    from .assignment import assign_new_lead, notify_assignee

    new = record.id is None
    user = acting_user(record)
    with db.session.no_autoflush:
        department_given = data.get("department_id") is not None
        default_department(record, data, user)
        default_apply(all_entities()["leads"], record, data)
        record.phone_digits = phone_digits(record.phone) or None
        if record.email:
            record.email = record.email.lower()
        if record.status != "disqualified":
            record.disqualify_reason = None
        assignee = assign_new_lead(record, department_given) if new and data.get("owner_id") is None else None
    if assignee is not None:
        if record in db.session:
            db.session.flush()  # the notification links to the lead
        # else: a bulk import inserts its rows later; the notification then links to the list of leads
        notify_assignee(record, assignee, getattr(user, "id", None))
