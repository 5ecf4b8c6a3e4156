"""Merging two contacts (or two companies) into one.

The surviving record keeps its own values except for the fields the user takes from the other one. Every related
row moves over: e-mail addresses, phone numbers and company memberships (those the survivor already has are
dropped), timeline entries, tags and custom-field values; other plugins move their rows when they hear
``contacts.contact.merged`` / ``contacts.company.merged`` with ``{"from_id": ..., "into_id": ...}``. The other
record goes to the trash, and the merge is written to the audit log.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update

from core import db
from core.audit import record as audit
from core.db import utcnow
from core.entities import service
from core.entities.tags import add_tags, remove_tags, tags_of
from core.events import emit

from .models import Company, Contact, ContactCompany, Interaction
from .normalise import name_key, phone_digits
from .records import entity, move_contacts_to_company, sync_contact

ADDRESS = ("address_country", "address_postal_code", "address_city", "address_district", "address_street")
CLASSIFICATION = ("lifecycle_stage", "partner_type", "customer_grade", "source", "notes", "owner_id", "department_id")
CONTACT_FIELDS = ("name", "given_name", "family_name", "title", "birthday", *ADDRESS, *CLASSIFICATION)
COMPANY_FIELDS = (
    "name",
    "short_name",
    "tax_id",
    "website",
    "industry",
    "phone",
    "fax",
    "email",
    *ADDRESS,
    *CLASSIFICATION,
)


@dataclass
class MergeSummary:
    """What a merge moved, for the confirmation message and the audit log."""

    fields: list[str]
    emails: int = 0
    phones: int = 0
    memberships: int = 0
    entries: int = 0
    tags: int = 0
    custom: int = 0
    contacts: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def related_counts(kind: str, record: Any) -> dict[str, int]:
    """How many rows hang on a record (shown on the merge screen)."""
    column = Interaction.contact_id if kind == "contact" else Interaction.company_id
    counts = {
        "entries": db.session.scalar(select(func.count(Interaction.id)).where(column == record.id)) or 0,
        "tags": len(tags_of(entity("contacts" if kind == "contact" else "companies").plural, [record.id])[record.id]),
    }
    if kind == "contact":
        counts.update(emails=len(record.emails), phones=len(record.phones), memberships=len(record.memberships))
    else:
        counts["contacts"] = (
            db.session.scalar(select(func.count(ContactCompany.id)).where(ContactCompany.company_id == record.id)) or 0
        )
    return counts


def _take_fields(winner: Any, loser: Any, allowed: Iterable[str], take: Iterable[str]) -> list[str]:
    taken = []
    for name in take:
        if name in allowed and getattr(winner, name) != getattr(loser, name):
            setattr(winner, name, getattr(loser, name))
            taken.append(name)
    return taken


def _merge_custom(winner: Any, loser: Any, take: Iterable[str]) -> int:
    """Custom-field values: the survivor's, except empty ones and the keys taken from the other record."""
    mine, theirs = dict(winner.custom or {}), dict(loser.custom or {})
    chosen = {name.split(".", 1)[1] for name in take if name.startswith("custom.")}
    moved = 0
    for key, value in theirs.items():
        if (key in chosen or mine.get(key) in (None, "", [])) and mine.get(key) != value:
            mine[key] = value
            moved += 1
    if moved:
        winner.custom = mine
    return moved


def _move_tags(plural: str, winner: Any, loser: Any) -> int:
    names = tags_of(plural, [loser.id])[loser.id]
    if names:
        add_tags(plural, [winner.id], names)
        remove_tags(plural, [loser.id], names)
    return len(names)


def merge_contacts(winner: Contact, loser: Contact, take: Iterable[str] = (), user: Any = None) -> MergeSummary:
    """Merge ``loser`` into ``winner`` (the caller commits). ``take`` names the fields whose value comes from
    ``loser`` (``custom.<key>`` for custom fields)."""
    if winner.id == loser.id:
        raise ValueError("a contact cannot be merged with itself")
    take = list(take)
    summary = MergeSummary(fields=_take_fields(winner, loser, CONTACT_FIELDS, take))
    winner.name_key = name_key(winner.name)
    summary.custom = _merge_custom(winner, loser, take)

    have = {row.email_key for row in winner.emails}
    for row in list(loser.emails):
        loser.emails.remove(row)
        if row.email_key not in have:
            row.position = len(winner.emails)
            winner.emails.append(row)
            have.add(row.email_key)
            summary.emails += 1
    have_digits = {row.digits for row in winner.phones}
    for row in list(loser.phones):
        loser.phones.remove(row)
        if row.digits not in have_digits:
            row.position = len(winner.phones)
            winner.phones.append(row)
            have_digits.add(row.digits)
            summary.phones += 1
    linked = {row.company_id: row for row in winner.memberships}
    for row in list(loser.memberships):
        loser.memberships.remove(row)
        if row.company_id in linked:
            if not linked[row.company_id].role and row.role:
                linked[row.company_id].role = row.role
            continue
        row.position = len(winner.memberships)
        winner.memberships.append(row)
        linked[row.company_id] = row
        summary.memberships += 1
    db.session.flush()

    summary.entries = (
        db.session.execute(
            update(Interaction)
            .where(Interaction.contact_id == loser.id)
            .values(contact_id=winner.id)
            .execution_options(synchronize_session=False)
        ).rowcount
        or 0
    )
    summary.tags = _move_tags("contacts", winner, loser)
    sync_contact(winner)
    sync_contact(loser)
    winner.updated_at = utcnow()  # a merge is a change of the survivor: its version moves on
    db.session.flush()
    service.delete(entity("contacts"), loser)
    audit(
        "contacts_merge",
        f"contact #{loser.id} {loser.name} merged into #{winner.id} {winner.name}"[:500],
        user_id=getattr(user, "id", None),
        changes={"from_id": [loser.id, None], "into_id": [None, winner.id], "moved": [None, summary.as_dict()]},
    )
    emit("contacts.contact.merged", from_id=loser.id, into_id=winner.id)
    return summary


def merge_companies(winner: Company, loser: Company, take: Iterable[str] = (), user: Any = None) -> MergeSummary:
    """Merge company ``loser`` into ``winner``: its people, timeline, tags and custom values move over."""
    if winner.id == loser.id:
        raise ValueError("a company cannot be merged with itself")
    take = list(take)
    summary = MergeSummary(fields=_take_fields(winner, loser, COMPANY_FIELDS, take))
    winner.name_key = name_key(winner.name)
    winner.phone_digits = phone_digits(winner.phone) or None
    summary.custom = _merge_custom(winner, loser, take)

    already = set(db.session.scalars(select(ContactCompany.contact_id).where(ContactCompany.company_id == winner.id)))
    for row in db.session.scalars(select(ContactCompany).where(ContactCompany.company_id == loser.id)).all():
        if row.contact_id in already:
            db.session.delete(row)
            continue
        row.company = winner
        row.company_id = winner.id
        summary.memberships += 1
    db.session.flush()
    summary.contacts = move_contacts_to_company(loser.id, winner)
    summary.entries = (
        db.session.execute(
            update(Interaction)
            .where(Interaction.company_id == loser.id)
            .values(company_id=winner.id)
            .execution_options(synchronize_session=False)
        ).rowcount
        or 0
    )
    summary.tags = _move_tags("companies", winner, loser)
    winner.updated_at = utcnow()
    db.session.flush()
    service.delete(entity("companies"), loser)
    audit(
        "contacts_merge",
        f"company #{loser.id} {loser.name} merged into #{winner.id} {winner.name}"[:500],
        user_id=getattr(user, "id", None),
        changes={"from_id": [loser.id, None], "into_id": [None, winner.id], "moved": [None, summary.as_dict()]},
    )
    emit("contacts.company.merged", from_id=loser.id, into_id=winner.id)
    return summary
