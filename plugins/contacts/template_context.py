"""Small functions the plugin's templates use (labels, links); passed in each template's context."""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask_babel import lazy_gettext as _l

from .choices import CALL_OUTCOMES, EMAIL_LABELS, KINDS, LIFECYCLE_STAGES, PARTNER_TYPES, PHONE_LABELS, label_of
from .normalise import map_url, tel_url

REASONS = {
    "email": _l("same e-mail address"),
    "phone": _l("same phone number"),
    "name": _l("similar name at the same company"),
    "tax_id": _l("same tax ID"),
}
PLURAL = {"contact": "contacts", "company": "companies"}


def detail_url(kind: str, record_id: int) -> str:
    """The kernel's detail page of a contact or company."""
    return url_for(f"contacts_{PLURAL[kind]}.detail", record_id=record_id)


def address_of(record: Any) -> str:
    """The record's address on one line, leaving out the workspace's default country."""
    from .schemas import default_country

    return record.address_line(default_country())


def template_helpers() -> dict[str, Any]:
    return {
        "kind_label": lambda value: label_of(KINDS, value),
        "outcome_label": lambda value: label_of(CALL_OUTCOMES, value),
        "stage_label": lambda value: label_of(LIFECYCLE_STAGES, value),
        "partner_label": lambda value: label_of(PARTNER_TYPES, value),
        "phone_label": lambda value: label_of(PHONE_LABELS, value),
        "email_label": lambda value: label_of(EMAIL_LABELS, value),
        "reason_label": lambda value: str(REASONS.get(value, value)),
        "detail_url": detail_url,
        "tel": tel_url,
        "map_url": map_url,
        "address_of": address_of,
    }
