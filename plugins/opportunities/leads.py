"""Leads: writing them (the entity's ``apply``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.entities.records import acting_user, default_department
from core.entities.service import default_apply

from .models import Lead


def apply_lead(record: Lead, data: Mapping[str, Any]) -> None:
    """Columns from validated ``data``; phone digits for duplicate checks; a reason only while disqualified."""
    from core import db
    from core.entities.registry import all_entities
    from plugins.contacts.public import phone_digits

    with db.session.no_autoflush:
        default_department(record, data, acting_user(record))
        default_apply(all_entities()["leads"], record, data)
        record.phone_digits = phone_digits(record.phone) or None
        if record.email:
            record.email = record.email.lower()
        if record.status != "disqualified":
            record.disqualify_reason = None
