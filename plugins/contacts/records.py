"""Writing companies and contacts: the ``apply`` functions the entity service calls, and the duplicate finder.

``apply_contact`` turns validated schema data into columns and child rows: the nested lists (``emails``,
``phones``, ``companies``) replace a contact's rows; the flat fields (``email``, ``mobile``, ``phone``,
``company_name``) edit the first row of each, which is what forms and spreadsheet columns hold. Afterwards the
copies on the contact row (``email``, ``mobile``, ``phone``, ``company_id``, ``company_name``) are brought in step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import and_, func, literal, or_, select, update

from core import db
from core.entities.definition import Entity
from core.entities.records import acting_user, default_department
from core.entities.registry import all_entities
from core.entities.service import default_apply
from core.permissions import has_permission, scoped

from .models import Company, Contact, ContactCompany, ContactEmail, ContactPhone
from .normalise import email_key, name_key, phone_digits

if TYPE_CHECKING:
    from core.entities.bulk import BulkBatch

FLAT_CONTACT_FIELDS = ("email", "mobile", "phone", "company_name")
CHILD_LISTS = ("emails", "phones", "memberships")
OTHER_PHONE_LABELS = ("work", "home")
# A company (anything with ``id`` and ``name``) by the name a contact gives, or None.
CompanyFinder = Callable[[str], Any]


def entity(plural: str) -> Entity:
    """The registered definition of ``companies`` or ``contacts``."""
    return all_entities()[plural]


def _default_department(record: Any, data: Mapping[str, Any]) -> None:
    default_department(record, data, acting_user(record))


def _batch_department(batch: BulkBatch) -> int | None:
    """The department a new record of the batch gets when its data names none (the importer's), worked out once
    by the framework's rule for a new record."""
    probe = SimpleNamespace(id=None, department_id=None)
    default_department(probe, {}, batch.user)
    return probe.department_id


# ------------------------------------------------------------------------------------------ companies


def apply_company(record: Company, data: Mapping[str, Any]) -> None:
    """Columns from ``data``; name key and phone digits for duplicate detection; contacts follow a rename."""
    with db.session.no_autoflush:  # the record may be new and half-filled until the end
        _apply_company(record, data)


def _apply_company(record: Company, data: Mapping[str, Any]) -> None:
    old_name = record.name if record.id is not None else None
    _default_department(record, data)
    default_apply(entity("companies"), record, data)
    for name, value in company_keys(record.name, record.phone).items():
        setattr(record, name, value)
    if old_name is not None and record.name != old_name:
        move_contacts_to_company(record.id, record)


def company_keys(name: str | None, phone: str | None) -> dict[str, Any]:
    """The columns a company's duplicate detection reads: its name key and phone digits."""
    return {"name_key": name_key(name), "phone_digits": phone_digits(phone) or None}


def bulk_apply_companies(batch: BulkBatch) -> None:
    """``Entity.bulk_apply`` of companies: what apply_company does for one new company, for a batch of them."""
    department = _batch_department(batch)
    for row in batch.rows:
        row.update(company_keys(row.get("name"), row.get("phone")))
        if row.get("department_id") is None:
            row["department_id"] = department
    batch.insert()


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
    _apply_children(record, data)
    sync_contact(record)


def _apply_children(record: Any, data: Mapping[str, Any], find_company: CompanyFinder | None = None) -> None:
    """Child rows from the nested lists, then the flat fields onto the first of each (not yet in step)."""
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
        _set_company_name(record, data["company_name"], find_company)


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
        row = existing.pop(key, None) or _new_row(record, ContactEmail, email_key=key)
        row.email, row.label, row.position = item["email"], item.get("label") or "work", index
        keep.append(row)
    record.emails[:] = keep


def _replace_phones(record: Contact, wanted: Iterable[Mapping[str, Any]]) -> None:
    existing = {row.digits: row for row in record.phones}
    keep = []
    for index, item in enumerate(wanted):
        digits = phone_digits(item["number"])
        row = existing.pop(digits, None) or _new_row(record, ContactPhone, digits=digits)
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
        row = existing.pop(company.id, None) or _new_row(record, ContactCompany, company_id=company.id)
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
        rows.append(_new_row(record, ContactEmail, email=value, email_key=key, label="work", position=0))


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
        rows.append(_new_row(record, ContactPhone, number=value, digits=digits, label=label, position=len(rows)))


def _set_company_name(record: Contact, value: str | None, find_company: CompanyFinder | None = None) -> None:
    """Link the contact to the company called ``value`` (created when the user may and none exists);
    ``find_company`` answers instead when an import has looked up the companies of a whole batch."""
    memberships = record.memberships
    first = memberships[0] if memberships else None
    if not value:
        if first is not None:
            memberships.remove(first)
        record.company_name = None
        return
    if first is not None and first.company is not None and name_key(first.company.name) == name_key(value):
        return
    find = find_company or (lambda name: _find_or_create_company(name, acting_user(record)))
    company = find(value)
    if company is None:  # no such company the user can see or create: keep the name as text
        if first is not None:
            memberships.remove(first)
        record.company_name = value
        return
    row = next((m for m in memberships if m.company_id == company.id), None)
    if row is None:
        row = _new_row(record, ContactCompany, company_id=company.id, company=company)
        memberships.append(row)
    row.position = -1
    _renumber(memberships)


def _find_or_create_company(value: str, user: Any) -> Company | None:
    company = find_company_by_name(value, user)
    if company is None and user is not None and has_permission("contacts.company.create", user):
        from core.entities import service

        company = service.create(entity("companies"), {"name": value}, user)
    return company


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


# -------------------------------------------------------------------------------------- bulk import


class ContactDraft:
    """A new contact of an import before it is inserted: the attributes apply_contact's helpers read and write,
    with plain child rows, so that an import runs exactly the single-record rules without an ORM object per
    contact, address and number (which would cost more than the rest of the import)."""

    def __init__(self) -> None:
        self.id: int | None = None
        self.emails: list[Any] = []
        self.phones: list[Any] = []
        self.memberships: list[Any] = []
        self.email: str | None = None
        self.mobile: str | None = None
        self.phone: str | None = None
        self.company_id: int | None = None
        self.company_name: str | None = None


def _new_row(record: Any, model: type, **values: Any) -> Any:
    """A new child row of ``record``: a plain one for an import's draft, else a ``model`` instance."""
    return SimpleNamespace(**values) if isinstance(record, ContactDraft) else model(**values)


def bulk_apply_contacts(batch: BulkBatch) -> None:
    """``Entity.bulk_apply`` of contacts: what apply_contact does for one new contact, for a batch of them.

    Each contact's e-mail addresses, phone numbers and company link are worked out by the same helpers as for a
    single record, on a :class:`ContactDraft` (or, for a row of flat fields only, by :func:`_flat_children`,
    which gives the same rows directly); the companies the batch names are looked up with one query and the
    missing ones created together (when the user may create companies); then the contacts, their e-mail
    addresses, phone numbers and memberships are inserted with one statement each.
    """
    # Rows with a list of companies may link to one already listed: those look their name up as a single record.
    names = [data.get("company_name") for data in batch.data if data.get("memberships") is None]
    companies = _companies_by_name(batch, names)

    def find_company(value: str) -> Any:
        key = name_key(value)
        if key in companies:
            return companies[key]
        company = _find_or_create_company(value, batch.user)  # a name of a row's list of companies
        if key and company is not None:  # remembered: later batches read committed companies only
            companies[key] = CompanyRef(company.id, company.name)
        return company

    department = _batch_department(batch)
    children = []
    for data, row in zip(batch.data, batch.rows, strict=True):
        if all(data.get(name) is None for name in CHILD_LISTS):
            copies, child_rows = _flat_children(data, find_company)
        else:
            draft = ContactDraft()
            _apply_children(draft, data, find_company)
            sync_contact(draft)
            copies, child_rows = _draft_children(draft)
        children.append(child_rows)
        row.update(copies)
        row["name_key"] = name_key(row.get("name"))
        if row.get("department_id") is None:
            row["department_id"] = department
    ids = batch.insert()
    emails, phones, memberships = [], [], []
    for contact_id, child_rows in zip(ids, children, strict=True):
        for own, into in zip(child_rows, (emails, phones, memberships), strict=True):
            for child in own:
                child["contact_id"] = contact_id
                into.append(child)
    batch.add(ContactEmail, emails)
    batch.add(ContactPhone, phones)
    batch.add(ContactCompany, memberships)


# A new contact's copies on its row (email, mobile, phone, company_id, company_name) and its child rows (e-mail
# addresses, phone numbers, memberships) as the columns to insert, ``contact_id`` left to fill in.
_Children = tuple[dict[str, Any], tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]]


def _draft_children(draft: ContactDraft) -> _Children:
    """What :func:`sync_contact` left on ``draft``, as columns."""
    copies = {
        "email": draft.email, "mobile": draft.mobile, "phone": draft.phone, "company_id": draft.company_id,
        "company_name": draft.company_name,
    }  # fmt: skip
    emails = [
        {"contact_id": None, "email": e.email, "email_key": e.email_key, "label": e.label, "position": e.position}
        for e in draft.emails
    ]
    phones = [
        {"contact_id": None, "number": p.number, "digits": p.digits, "label": p.label, "position": p.position}
        for p in draft.phones
    ]
    memberships = [
        {"contact_id": None, "company_id": m.company_id, "role": getattr(m, "role", None), "position": m.position}
        for m in draft.memberships
    ]
    return copies, (emails, phones, memberships)


def _flat_children(data: Mapping[str, Any], find_company: CompanyFinder) -> _Children:
    """What :func:`_apply_children` and :func:`sync_contact` give a new contact whose ``data`` has no nested
    lists (an import's usual row), worked out directly by their rules for a contact without child rows: running
    the helpers on a draft cost more per row than inserting it."""
    emails, phones, memberships = [], [], []
    email = data.get("email")
    if email:
        emails.append({"contact_id": None, "email": email, "email_key": email_key(email), "label": "work",
                       "position": 0})  # fmt: skip
    mobile = data.get("mobile")
    if mobile:
        phones.append({"contact_id": None, "number": mobile, "digits": phone_digits(mobile), "label": "mobile",
                       "position": 0})  # fmt: skip
    phone = data.get("phone")
    if phone:
        digits = phone_digits(phone)
        if phones and phones[0]["digits"] == digits:
            phones[0]["number"] = phone  # the same number, as the mobile one
        else:
            phones.append({"contact_id": None, "number": phone, "digits": digits, "label": "work",
                           "position": len(phones)})  # fmt: skip
    company_id, company_name = None, None
    value = data.get("company_name")
    if value:
        company = find_company(value)
        if company is None:  # kept as text
            company_name = value
        else:
            memberships.append({"contact_id": None, "company_id": company.id, "role": None, "position": 0})
            company_id, company_name = company.id, company.name
    copies = {
        "email": email or None,
        "mobile": phones[0]["number"] if mobile else None,
        "phone": phones[-1]["number"] if phones and phones[-1]["label"] == "work" else None,
        "company_id": company_id,
        "company_name": company_name,
    }
    return copies, (emails, phones, memberships)


class CompanyRef(NamedTuple):
    """A company an import links contacts to: what the contact rows need of it (an import remembers thousands)."""

    id: int
    name: str


def _companies_by_name(batch: BulkBatch, names: Iterable[str | None]) -> dict[str, Any]:
    """The company each name key of ``names`` links to (None: none), as find_company_by_name and apply_contact
    would choose it (the oldest the user can see; else a new one when the user may create companies), in one
    query. What earlier batches of the import found or created is remembered, so the query asks only for names
    it has not seen, among committed companies (the import's own are remembered): it need not wait for the
    import's inserts."""
    known = batch.remembered("contacts.companies_by_name")  # key -> company (id, name), or None
    wanted: dict[str, str] = {}  # key -> the first spelling, the name a new company gets
    for value in names:
        key = name_key(value)
        if key and key not in known:
            wanted.setdefault(key, value)  # type: ignore[arg-type]
    user = batch.user
    if not wanted or user is None:
        known.update(dict.fromkeys(wanted))
        return known
    found: dict[str, Any] = {}
    statement = select(Company.id, Company.name, Company.name_key).where(Company.name_key.in_(sorted(wanted)))
    statement = scoped(statement, "contacts.company.view", user, model=Company)
    others = False
    # Oldest first, sorted here: ordered by id, SQLite reads every company of the tenant in the order of an index
    # (tenant, deleted_at, id) instead of seeking each name.
    for row in sorted(batch.read_committed(statement), key=lambda row: row.id):
        if row.name_key in wanted:
            found.setdefault(row.name_key, CompanyRef(row.id, row.name))
        else:
            others = True  # a collation that compares more loosely than name_key (MariaDB's ignores accents)
    missing = [key for key in wanted if key not in found]
    if others:
        for key in missing:
            company = find_company_by_name(wanted[key], user)
            if company is not None:
                found[key] = CompanyRef(company.id, company.name)
        missing = [key for key in wanted if key not in found]
    if missing and has_permission("contacts.company.create", user):
        ids = batch.create("companies", [{"name": wanted[key]} for key in missing])
        for key, ident in zip(missing, ids, strict=True):
            found[key] = CompanyRef(ident, wanted[key])
    known.update({key: found.get(key) for key in wanted})
    return known


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
