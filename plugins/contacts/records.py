"""Writing companies and contacts: the ``apply`` functions the entity service calls, and the duplicate finder.

``apply_contact`` turns validated schema data into columns and child rows: the nested lists (``emails``,
``phones``, ``companies``) replace a contact's rows; the flat fields (``email``, ``mobile``, ``phone``,
``company_name``) edit the first row of each, which is what forms and spreadsheet columns hold. Afterwards the
copies on the contact row (``email``, ``mobile``, ``phone``, ``company_id``, ``company_name``) are brought in step.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import has_request_context
from flask_login import current_user
from sqlalchemy import and_, func, literal, or_, select, update

from core import db
from core.entities.definition import Entity
from core.entities.registry import all_entities
from core.entities.service import default_apply
from core.models import User
from core.permissions import grants_of, has_permission, scoped

from .models import Company, Contact, ContactCompany, ContactEmail, ContactPhone
from .normalise import email_key, name_key, phone_digits

FLAT_CONTACT_FIELDS = ("email", "mobile", "phone", "company_name")
CHILD_LISTS = ("emails", "phones", "memberships")
OTHER_PHONE_LABELS = ("work", "home")


def entity(plural: str) -> Entity:
    """The registered definition of ``companies`` or ``contacts``."""
    return all_entities()[plural]


def acting_user(record: Any = None) -> User | None:
    """The user a write is made for: the signed-in user, else (imports run as jobs) the record's creator."""
    if has_request_context() and current_user.is_authenticated:
        return current_user._get_current_object()
    creator = getattr(record, "created_by_id", None)
    return db.session.get(User, creator) if creator else None


def _default_department(record: Any, data: Mapping[str, Any]) -> None:
    """A new record without a department gets its creator's (the lowest-numbered when they have several)."""
    if record.id is not None or data.get("department_id") is not None or record.department_id is not None:
        return
    user = acting_user(record)
    if user is not None:
        departments = grants_of(user).department_ids
        if departments:
            record.department_id = min(departments)


# ------------------------------------------------------------------------------------------ companies


def apply_company(record: Company, data: Mapping[str, Any]) -> None:
    """Columns from ``data``; name key and phone digits for duplicate detection; contacts follow a rename."""
    with db.session.no_autoflush:  # the record may be new and half-filled until the end
        _apply_company(record, data)


def _apply_company(record: Company, data: Mapping[str, Any]) -> None:
    old_name = record.name if record.id is not None else None
    _default_department(record, data)
    default_apply(entity("companies"), record, data)
    record.name_key = name_key(record.name)
    record.phone_digits = phone_digits(record.phone) or None
    if old_name is not None and record.name != old_name:
        move_contacts_to_company(record.id, record)


def move_contacts_to_company(old_company_id: int, company: Company) -> int:
    """Point the contacts whose first company is ``old_company_id`` at ``company`` (its id and current name), in
    bulk, and refresh their search tokens. Returns how many contacts changed."""
    from core.entities.search_index import index_records

    contacts = entity("contacts")
    ids = list(
        db.session.scalars(
            select(Contact.id).where(Contact.company_id == old_company_id).execution_options(include_deleted=True)
        )
    )
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        db.session.execute(
            update(Contact)
            .where(Contact.id.in_(chunk))
            .values(company_id=company.id, company_name=company.name)
            .execution_options(synchronize_session=False)
        )
        statement = select(Contact).where(Contact.id.in_(chunk))
        options = {"include_deleted": True, "populate_existing": True}
        index_records(contacts, db.session.scalars(statement.execution_options(**options)))
    return len(ids)


# ------------------------------------------------------------------------------------------- contacts


def apply_contact(record: Contact, data: Mapping[str, Any]) -> None:
    """Columns, child rows and their copies on the contact row, from validated ``data``."""
    with db.session.no_autoflush:  # the record may be new and half-filled until the end
        _apply_contact(record, data)


def _apply_contact(record: Contact, data: Mapping[str, Any]) -> None:
    columns = {k: v for k, v in data.items() if k not in FLAT_CONTACT_FIELDS and k not in CHILD_LISTS}
    _default_department(record, data)
    default_apply(entity("contacts"), record, columns)
    record.name_key = name_key(record.name)
    if data.get("emails") is not None:
        _replace_emails(record, data["emails"])
    if data.get("phones") is not None:
        _replace_phones(record, data["phones"])
    if data.get("memberships") is not None:
        _replace_memberships(record, data["memberships"])
    if "email" in data:
        _set_first_email(record, data["email"])
    if "mobile" in data:
        _set_phone(record, data["mobile"], "mobile")
    if "phone" in data:
        _set_phone(record, data["phone"], "other")
    if "company_name" in data:
        _set_company_name(record, data["company_name"])
    sync_contact(record)


def _renumber(rows: list[Any]) -> None:
    """Sort child rows by their position (ties keep their order) and number them 0, 1, 2 ..."""
    keys = {id(row): (row.position if row.position is not None else 0, index) for index, row in enumerate(rows)}
    rows.sort(key=lambda row: keys[id(row)])
    for index, row in enumerate(rows):
        row.position = index


def _replace_emails(record: Contact, wanted: Iterable[Mapping[str, Any]]) -> None:
    existing = {row.email_key: row for row in record.emails}
    keep = []
    for index, item in enumerate(wanted):
        key = email_key(item["email"])
        row = existing.pop(key, None) or ContactEmail(email_key=key)
        row.email, row.label, row.position = item["email"], item.get("label") or "work", index
        keep.append(row)
    record.emails[:] = keep


def _replace_phones(record: Contact, wanted: Iterable[Mapping[str, Any]]) -> None:
    existing = {row.digits: row for row in record.phones}
    keep = []
    for index, item in enumerate(wanted):
        digits = phone_digits(item["number"])
        row = existing.pop(digits, None) or ContactPhone(digits=digits)
        row.number, row.label, row.position = item["number"], item.get("label") or "mobile", index
        keep.append(row)
    record.phones[:] = keep


def _replace_memberships(record: Contact, wanted: Iterable[Mapping[str, Any]]) -> None:
    items = list(wanted)
    ids = [item["company_id"] for item in items]
    companies = {c.id: c for c in db.session.scalars(select(Company).where(Company.id.in_(ids)))} if ids else {}
    existing = {row.company_id: row for row in record.memberships}
    keep = []
    for index, item in enumerate(items):
        company = companies.get(item["company_id"])
        if company is None:
            continue  # the schema checked it; gone to the trash since
        row = existing.pop(company.id, None) or ContactCompany(company_id=company.id)
        row.company, row.role, row.position = company, item.get("role"), index
        keep.append(row)
    record.memberships[:] = keep


def _set_first_email(record: Contact, value: str | None) -> None:
    rows = record.emails
    if not value:
        if rows:
            rows.remove(rows[0])
        return
    key = email_key(value)
    for row in rows:
        if row.email_key == key:
            row.email = value
            row.position = -1  # first
            _renumber(rows)
            return
    if rows:
        rows[0].email, rows[0].email_key = value, key
    else:
        rows.append(ContactEmail(email=value, email_key=key, label="work", position=0))


def _phone_slot(rows: list[ContactPhone], slot: str) -> ContactPhone | None:
    labels = ("mobile",) if slot == "mobile" else OTHER_PHONE_LABELS
    return next((row for row in rows if row.label in labels), None)


def _set_phone(record: Contact, value: str | None, slot: str) -> None:
    rows = record.phones
    target = _phone_slot(rows, slot)
    if not value:
        if target is not None:
            rows.remove(target)
        return
    digits = phone_digits(value)
    same = next((row for row in rows if row.digits == digits), None)
    if same is not None:
        same.number = value
        return
    if target is not None:
        target.number, target.digits = value, digits
    else:
        label = "mobile" if slot == "mobile" else "work"
        rows.append(ContactPhone(number=value, digits=digits, label=label, position=len(rows)))


def _set_company_name(record: Contact, value: str | None) -> None:
    """Link the contact to the company called ``value`` (created when the user may and none exists)."""
    memberships = record.memberships
    first = memberships[0] if memberships else None
    if not value:
        if first is not None:
            memberships.remove(first)
        record.company_name = None
        return
    if first is not None and first.company is not None and name_key(first.company.name) == name_key(value):
        return
    user = acting_user(record)
    company = find_company_by_name(value, user)
    if company is None and user is not None and has_permission("contacts.company.create", user):
        from core.entities import service

        company = service.create(entity("companies"), {"name": value}, user)
    if company is None:  # no such company the user can see or create: keep the name as text
        if first is not None:
            memberships.remove(first)
        record.company_name = value
        return
    row = next((m for m in memberships if m.company_id == company.id), None)
    if row is None:
        row = ContactCompany(company_id=company.id, company=company)
        memberships.append(row)
    row.position = -1
    _renumber(memberships)


def find_company_by_name(name: str, user: Any) -> Company | None:
    """The oldest company the user can see whose name matches ``name`` (ignoring case, spaces, punctuation)."""
    key = name_key(name)
    if not key or user is None:
        return None
    statement = scoped(select(Company).where(Company.name_key == key), "contacts.company.view", user, model=Company)
    return db.session.scalar(statement.order_by(Company.id).limit(1))


def sync_contact(record: Contact) -> None:
    """Positions 0..n, and the copies of the first e-mail, mobile, other phone and company on the contact row."""
    for rows in (record.emails, record.phones, record.memberships):
        _renumber(rows)
    record.email = record.emails[0].email if record.emails else None
    mobile = _phone_slot(record.phones, "mobile")
    other = _phone_slot(record.phones, "other")
    record.mobile = mobile.number if mobile is not None else None
    record.phone = other.number if other is not None else None
    if record.memberships:
        first = record.memberships[0]
        record.company_id = first.company_id
        if first.company is not None:
            record.company_name = first.company.name
    else:
        record.company_id = None


# ----------------------------------------------------------------------------------------- duplicates


@dataclass
class DuplicateMatches:
    """Records that look like the one being entered: those the user may open, and how many others exist."""

    visible: list[tuple[Any, list[str]]] = field(default_factory=list)
    hidden: int = 0

    def __bool__(self) -> bool:
        return bool(self.visible) or self.hidden > 0


def _similar_name(column: Any, key: str) -> Any:
    """SQL: ``column`` equals ``key``, contains it, or is contained in it (both at least two characters)."""
    return and_(
        func.length(column) >= 2,
        or_(column == key, column.contains(key, autoescape=True), literal(key).contains(column)),
    )


def contact_duplicates(
    name: str | None = None,
    emails: Iterable[str] = (),
    phones: Iterable[str] = (),
    company_ids: Iterable[int] = (),
    company_names: Iterable[str] = (),
    exclude_id: int | None = None,
    user: Any = None,
    limit: int = 10,
) -> DuplicateMatches:
    """Contacts with one of the e-mail addresses, one of the phone numbers (compared by digits), or a similar name
    at one of the companies. Each visible match comes with its reasons (``email``, ``phone``, ``name``)."""
    keys = sorted({email_key(e) for e in emails if e and email_key(e)})
    digits = sorted({d for d in (phone_digits(p) for p in phones if p) if len(d) >= 6})
    companies = set(company_ids)
    for company_name in company_names:
        found = (
            db.session.scalars(select(Company.id).where(Company.name_key == name_key(company_name)).limit(20))
            if company_name
            else []
        )
        companies.update(found)
    reasons: dict[int, list[str]] = {}
    if keys:
        for contact_id in db.session.scalars(
            select(ContactEmail.contact_id).where(ContactEmail.email_key.in_(keys)).limit(100)
        ):
            reasons.setdefault(contact_id, []).append("email")
    if digits:
        for contact_id in db.session.scalars(
            select(ContactPhone.contact_id).where(ContactPhone.digits.in_(digits)).limit(100)
        ):
            reasons.setdefault(contact_id, []).append("phone")
    key = name_key(name)
    if companies and len(key) >= 2:
        member = select(ContactCompany.contact_id).where(ContactCompany.company_id.in_(sorted(companies)))
        statement = select(Contact.id).where(Contact.id.in_(member), _similar_name(Contact.name_key, key)).limit(100)
        for contact_id in db.session.scalars(statement):
            reasons.setdefault(contact_id, []).append("name")
    reasons.pop(exclude_id, None)  # type: ignore[arg-type]
    if not reasons:
        return DuplicateMatches()
    ids = sorted(reasons)
    existing = set(db.session.scalars(select(Contact.id).where(Contact.id.in_(ids))))  # not in the trash
    visible_rows = db.session.scalars(
        scoped(select(Contact).where(Contact.id.in_(ids)), "contacts.contact.view", user, model=Contact).order_by(
            Contact.id
        )
    ).all()
    visible = [(row, sorted(set(reasons[row.id]))) for row in visible_rows[:limit]]
    return DuplicateMatches(visible, len(existing) - len(visible_rows))


def company_duplicates(
    name: str | None = None,
    tax_id: str | None = None,
    phone: str | None = None,
    exclude_id: int | None = None,
    user: Any = None,
    limit: int = 10,
) -> DuplicateMatches:
    """Companies with the same tax ID, the same phone digits, or a similar name."""
    reasons: dict[int, list[str]] = {}
    if tax_id:
        for company_id in db.session.scalars(select(Company.id).where(Company.tax_id == tax_id).limit(100)):
            reasons.setdefault(company_id, []).append("tax_id")
    digits = phone_digits(phone)
    if len(digits) >= 6:
        for company_id in db.session.scalars(select(Company.id).where(Company.phone_digits == digits).limit(100)):
            reasons.setdefault(company_id, []).append("phone")
    key = name_key(name)
    if len(key) >= 2:
        # Equal names anywhere; containment only for names long enough not to match half the list.
        condition = Company.name_key == key if len(key) < 4 else _similar_name(Company.name_key, key)
        for company_id in db.session.scalars(select(Company.id).where(condition).limit(100)):
            reasons.setdefault(company_id, []).append("name")
    reasons.pop(exclude_id, None)  # type: ignore[arg-type]
    if not reasons:
        return DuplicateMatches()
    ids = sorted(reasons)
    existing = set(db.session.scalars(select(Company.id).where(Company.id.in_(ids))))
    visible_rows = db.session.scalars(
        scoped(select(Company).where(Company.id.in_(ids)), "contacts.company.view", user, model=Company).order_by(
            Company.id
        )
    ).all()
    visible = [(row, sorted(set(reasons[row.id]))) for row in visible_rows[:limit]]
    return DuplicateMatches(visible, len(existing) - len(visible_rows))
