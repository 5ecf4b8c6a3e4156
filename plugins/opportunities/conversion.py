"""Converting a lead: one transaction that turns it into a contact, a company and an opportunity.

The contact and the company are new ones or existing ones the duplicate check found (the contacts plugin's own
check, through ``plugins.contacts.public``); the opportunity is written by the entity service so the pipeline's
rules (first stage, probability, converted amount, stage history) apply. The lead's activities and its notes
become entries of the contact's timeline with their kind, time and user. The lead keeps links to what it became
and cannot be converted twice. Either all of it is written or none of it: the caller commits or rolls back.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from marshmallow import ValidationError
from sqlalchemy import select

from core import db
from core.db import utcnow
from core.entities import service
from core.entities.registry import all_entities
from core.entities.schemas import schema_for
from core.events import emit

from .models import Lead, LeadActivity

NEW = "new"
NONE = "none"


class ConversionError(Exception):
    """The conversion cannot be done; ``errors`` maps form fields to messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


@dataclass
class ConversionPlan:
    """What the conversion form chose: ``contact`` and ``company`` are ``"new"``, ``"none"`` (company only) or
    the id of an existing record; the opportunity's name, amount, currency, close date and pipeline."""

    contact: str = NEW
    company: str = NEW
    opportunity_name: str = ""
    amount: Decimal | None = None
    currency: str | None = None
    expected_close_date: dt.date | None = None
    pipeline_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ConversionResult:
    contact_id: int
    company_id: int | None
    opportunity_id: int


def candidates(lead: Lead, user: Any) -> dict[str, list[dict[str, Any]]]:
    """Existing contacts (same e-mail or phone, or a similar name at the company) and companies (similar name)
    the user can see, for the conversion form to offer instead of creating duplicates."""
    from plugins.contacts.public import duplicate_companies, duplicate_contacts

    companies = duplicate_companies(name=lead.company_name, user=user, limit=5) if lead.company_name else []
    contacts = duplicate_contacts(
        name=lead.name,
        emails=[lead.email] if lead.email else [],
        phones=[lead.phone] if lead.phone else [],
        company_names=[lead.company_name] if lead.company_name else [],
        user=user,
        limit=5,
    )
    return {"contacts": contacts, "companies": companies}


def default_plan(lead: Lead, found: dict[str, list[dict[str, Any]]]) -> ConversionPlan:
    """Link to an existing contact with the same e-mail and a company with the same name, else create them."""
    contact = next((c for c in found["contacts"] if "email" in c["reasons"]), None)
    wanted = _name_key(lead.company_name)
    company = next((c for c in found["companies"] if _name_key(c["name"]) == wanted), None)
    return ConversionPlan(
        contact=str(contact["id"]) if contact else NEW,
        company=str(company["id"]) if company else (NEW if lead.company_name else NONE),
        opportunity_name=lead.company_name or lead.name,
    )


def _name_key(name: str | None) -> str:
    return "".join(ch for ch in (name or "").casefold() if ch.isalnum())


def _load(plural: str, data: dict[str, Any], prefix: str) -> dict[str, Any]:
    try:
        return schema_for(all_entities()[plural]).load(data)
    except ValidationError as exc:
        messages = exc.normalized_messages()
        if set(messages) == {"source"} and prefix != "opportunity":
            # The contacts plugin keeps its own list of sources; the lead's may not be in it.
            return _load(plural, {k: v for k, v in data.items() if k != "source"}, prefix)
        raise ConversionError(
            {f"{prefix}_{k}": v if isinstance(v, list) else [str(v)] for k, v in messages.items()}
        ) from exc


def _existing(choice: str, allowed: list[dict[str, Any]], visible: Any, field_name: str) -> int:
    try:
        wanted = int(choice)
    except ValueError as exc:
        raise ConversionError({field_name: [_("Choose one of the options.")]}) from exc
    if wanted not in {item["id"] for item in allowed} and wanted not in visible(wanted):
        raise ConversionError({field_name: [_("That record does not exist or you cannot see it.")]})
    return wanted


def _visible_companies(company_id: int) -> set[int]:
    from plugins.contacts.public import visible_company_ids

    return visible_company_ids([company_id])


def _visible_contacts(contact_id: int) -> set[int]:
    from plugins.contacts.public import visible_contact_ids

    return visible_contact_ids([contact_id])


def convert(lead: Lead, plan: ConversionPlan, user: Any) -> ConversionResult:
    """Convert ``lead`` as planned (the caller commits, or rolls back on :class:`ConversionError`)."""
    if lead.converted_at is not None:
        raise ConversionError({"lead": [_("This lead was already converted.")]})
    if lead.status == "disqualified":
        raise ConversionError({"lead": [_("A disqualified lead cannot be converted.")]})
    found = candidates(lead, user)
    owner = {"owner_id": lead.owner_id, "department_id": lead.department_id}

    company_id: int | None = None
    if plan.company == NEW:
        if not lead.company_name:
            raise ConversionError({"company": [_("The lead has no company name.")]})
        company = service.create(
            all_entities()["companies"],
            _load("companies", {"name": lead.company_name, "source": lead.source, **owner}, "company"),
            user,
        )
        company_id = company.id
    elif plan.company != NONE:
        company_id = _existing(plan.company, found["companies"], _visible_companies, "company")

    if plan.contact == NEW:
        data: dict[str, Any] = {"name": lead.name, "title": lead.title, "email": lead.email, "source": lead.source}
        if lead.phone:
            data["mobile" if (lead.phone_digits or "").startswith(("09", "8869")) else "phone"] = lead.phone
        if lead.address_city:
            data["address_city"] = lead.address_city
        if company_id is not None:
            data["companies"] = [{"company_id": company_id}]
        data = {k: v for k, v in data.items() if v not in (None, "")}
        contact = service.create(all_entities()["contacts"], _load("contacts", {**data, **owner}, "contact"), user)
        contact_id = contact.id
    else:
        contact_id = _existing(plan.contact, found["contacts"], _visible_contacts, "contact")

    opportunity_data: dict[str, Any] = {
        "name": (plan.opportunity_name or lead.company_name or lead.name)[:200],
        "company_id": company_id,
        "contact_id": contact_id,
        "amount": None if plan.amount is None else str(plan.amount),
        "currency": plan.currency,
        "expected_close_date": plan.expected_close_date.isoformat() if plan.expected_close_date else None,
        "pipeline_id": plan.pipeline_id,
        "source": lead.source,
        **owner,
        **plan.extra,
    }
    opportunity_data = {k: v for k, v in opportunity_data.items() if v is not None}
    opportunity = service.create(
        all_entities()["opportunities"], _load("opportunities", opportunity_data, "opportunity"), user
    )
    opportunity.lead_id = lead.id

    carry_timeline(lead, contact_id, company_id)
    lead.converted_at = utcnow()
    lead.status = "qualified"
    lead.contact_id, lead.company_id, lead.opportunity_id = contact_id, company_id, opportunity.id
    db.session.flush()  # the version check: a concurrent conversion fails here
    emit(
        "opportunities.lead.converted",
        id=lead.id,
        contact_id=contact_id,
        company_id=company_id,
        opportunity_id=opportunity.id,
    )
    return ConversionResult(contact_id, company_id, opportunity.id)


def carry_timeline(lead: Lead, contact_id: int, company_id: int | None) -> int:
    """Copy the lead's activities and notes to the contact's timeline (kind, time and user kept)."""
    from flask import url_for

    from plugins.contacts.public import add_timeline_entry

    url = url_for("opportunities_leads.detail", record_id=lead.id)
    count = 0
    activities = db.session.scalars(
        select(LeadActivity).where(LeadActivity.lead_id == lead.id).order_by(LeadActivity.occurred_at, LeadActivity.id)
    )
    for activity in activities:
        add_timeline_entry(
            contact_id=contact_id,
            company_id=company_id,
            kind=activity.kind,
            title=activity.subject or "",
            body=activity.body,
            at=activity.occurred_at,
            url=url,
            user_id=activity.user_id,
            source="opportunities",
        )
        count += 1
    if lead.notes and lead.notes.strip():
        add_timeline_entry(
            contact_id=contact_id,
            company_id=company_id,
            kind="note",
            title=_("Notes of the lead %(name)s", name=lead.name),
            body=lead.notes,
            at=lead.created_at,
            url=url,
            user_id=lead.created_by_id,
            source="opportunities",
        )
        count += 1
    return count
