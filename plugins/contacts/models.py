"""Tables of the contacts plugin. Every index starts with ``tenant_id``.

Companies and contacts are entity records (trash, custom fields, optimistic locking, owner and department).
A contact's e-mail addresses, phone numbers and company memberships are child rows; the first of each is copied
onto the contact (``email``, ``phone``, ``mobile``, ``company_id``, ``company_name``) for lists, sorting and search.
Interactions are the timeline (calls, notes, tasks, entries other plugins add); notifications are per user.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, TenantOwned, UTCDateTime, Versioned, utcnow
from core.entities import Owned, Record

from .normalise import address_line


class AddressMixin:
    """One structured postal address: country (ISO code), postal code, city or county, district, street."""

    address_country: Mapped[str | None] = mapped_column(String(2))
    address_postal_code: Mapped[str | None] = mapped_column(String(20))
    address_city: Mapped[str | None] = mapped_column(String(100))
    address_district: Mapped[str | None] = mapped_column(String(100))
    address_street: Mapped[str | None] = mapped_column(String(255))

    def address_line(self, default_country: str = "TW") -> str:
        return address_line(
            self.address_country,
            self.address_postal_code,
            self.address_city,
            self.address_district,
            self.address_street,
            default_country,
        )


class ClassificationMixin:
    """How the business sees the customer: lifecycle stage, partner type, grade, source."""

    lifecycle_stage: Mapped[str] = mapped_column(String(20), nullable=False, default="prospect")
    partner_type: Mapped[str | None] = mapped_column(String(20))
    customer_grade: Mapped[str | None] = mapped_column(String(20))
    source: Mapped[str | None] = mapped_column(String(100))
    notes: Mapped[str | None] = mapped_column(Text)


class Company(Record, Owned, AddressMixin, ClassificationMixin, Base):
    """An organisation: a customer, dealer, supplier ..."""

    __tablename__ = "contacts_companies"
    __table_args__ = (
        Index(None, "tenant_id", "updated_at", "id"),
        Index(None, "tenant_id", "deleted_at"),  # list counts read this index alone (no table rows)
        Index(None, "tenant_id", "name", "id"),
        Index(None, "tenant_id", "name_key"),
        Index(None, "tenant_id", "tax_id"),
        Index(None, "tenant_id", "phone_digits"),
        Index(None, "tenant_id", "owner_id"),
        Index(None, "tenant_id", "department_id"),
        Index(None, "tenant_id", "customer_grade"),
        Index(None, "tenant_id", "lifecycle_stage"),
        Index(None, "tenant_id", "partner_type"),
        Index(None, "tenant_id", "industry"),
        Index(None, "tenant_id", "address_city"),
    )

    name: Mapped[str] = mapped_column(String(200), nullable=False)
    name_key: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    short_name: Mapped[str | None] = mapped_column(String(100))
    tax_id: Mapped[str | None] = mapped_column(String(20))
    website: Mapped[str | None] = mapped_column(String(255))
    industry: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(50))
    phone_digits: Mapped[str | None] = mapped_column(String(30))
    fax: Mapped[str | None] = mapped_column(String(50))
    email: Mapped[str | None] = mapped_column(String(255))

    @property
    def audit_label(self) -> str:
        return self.name


class Contact(Record, Owned, AddressMixin, ClassificationMixin, Base):
    """A person. ``name`` is the full name in one field (王小明, David Lee)."""

    __tablename__ = "contacts_contacts"
    __table_args__ = (
        Index(None, "tenant_id", "updated_at", "id"),
        Index(None, "tenant_id", "deleted_at"),  # list counts read this index alone (no table rows)
        Index(None, "tenant_id", "name", "id"),  # no name_key index: similar names are looked for among members
        Index(None, "tenant_id", "company_name", "id"),
        Index(None, "tenant_id", "company_id"),
        Index(None, "tenant_id", "owner_id"),
        Index(None, "tenant_id", "department_id"),
        Index(None, "tenant_id", "customer_grade"),
        Index(None, "tenant_id", "lifecycle_stage"),
        Index(None, "tenant_id", "partner_type"),
        Index(None, "tenant_id", "address_city"),
    )

    name: Mapped[str] = mapped_column(String(200), nullable=False)
    name_key: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    given_name: Mapped[str | None] = mapped_column(String(100))
    family_name: Mapped[str | None] = mapped_column(String(100))
    title: Mapped[str | None] = mapped_column(String(100))
    birthday: Mapped[dt.date | None] = mapped_column(Date)
    # Copies of the first e-mail, phones and company, kept in step by plugins.contacts.records.apply_contact.
    email: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(50))
    mobile: Mapped[str | None] = mapped_column(String(50))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("contacts_companies.id", ondelete="SET NULL"))
    company_name: Mapped[str | None] = mapped_column(String(200))

    # Child rows, loaded together for a page of contacts (one query each, never one per contact).
    emails: Mapped[list[ContactEmail]] = relationship(
        order_by="ContactEmail.position", cascade="all, delete-orphan", lazy="selectin"
    )
    phones: Mapped[list[ContactPhone]] = relationship(
        order_by="ContactPhone.position", cascade="all, delete-orphan", lazy="selectin"
    )
    memberships: Mapped[list[ContactCompany]] = relationship(
        order_by="ContactCompany.position", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def audit_label(self) -> str:
        return self.name

    @property
    def email_addresses(self) -> list[str]:
        """Every e-mail address of the contact (searched by the global search and the list's search box)."""
        return [row.email for row in self.emails]

    @property
    def phone_numbers(self) -> list[str]:
        """Every phone number of the contact (searched by its digits)."""
        return [row.number for row in self.phones]


class ContactEmail(TenantOwned, Base):
    """One e-mail address of a contact, labelled work, home or other."""

    __tablename__ = "contacts_emails"
    __table_args__ = (
        Index(None, "tenant_id", "contact_id", "position"),
        Index(None, "tenant_id", "email_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts_contacts.id", ondelete="CASCADE"), nullable=False)
    label: Mapped[str] = mapped_column(String(10), nullable=False, default="work")
    email: Mapped[str] = mapped_column(String(255), nullable=False)
    email_key: Mapped[str] = mapped_column(String(255), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    @property
    def audit_label(self) -> str:
        return self.email


class ContactPhone(TenantOwned, Base):
    """One phone number of a contact, labelled mobile, work, home or fax; ``digits`` is for finding duplicates."""

    __tablename__ = "contacts_phones"
    __table_args__ = (
        Index(None, "tenant_id", "contact_id", "position"),
        Index(None, "tenant_id", "digits"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts_contacts.id", ondelete="CASCADE"), nullable=False)
    label: Mapped[str] = mapped_column(String(10), nullable=False, default="mobile")
    number: Mapped[str] = mapped_column(String(50), nullable=False)
    digits: Mapped[str] = mapped_column(String(30), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    @property
    def audit_label(self) -> str:
        return self.number


class ContactCompany(TenantOwned, Base):
    """A contact's membership of a company, with the role or job title there."""

    __tablename__ = "contacts_memberships"
    __table_args__ = (
        UniqueConstraint("tenant_id", "contact_id", "company_id"),
        Index(None, "tenant_id", "company_id", "position"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts_contacts.id", ondelete="CASCADE"), nullable=False)
    company_id: Mapped[int] = mapped_column(ForeignKey("contacts_companies.id", ondelete="CASCADE"), nullable=False)
    role: Mapped[str | None] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    # A company in the trash is hidden: ``company`` is then None.
    company: Mapped[Company | None] = relationship(lazy="selectin")

    @property
    def audit_label(self) -> str:
        return self.role or ""


class Interaction(TenantOwned, Versioned, Base):
    """One entry of the timeline: a call, e-mail, meeting, visit, note, task, SMS or an entry another plugin added.

    Tasks have ``due_at``, ``assignee_id``, ``remind_at`` and ``done_at``. ``reminder_pending_at`` equals
    ``remind_at`` until the reminder has been sent (or the task is done), so the reminder sweep reads only what
    is due from one index. Record scopes ("own", "department") for managing tasks use the assignee and the
    department of the contact or company the entry belongs to.
    """

    __tablename__ = "contacts_interactions"
    __table_args__ = (
        Index(None, "tenant_id", "contact_id", "occurred_at"),
        Index(None, "tenant_id", "company_id", "occurred_at"),
        Index(None, "tenant_id", "assignee_id", "done_at", "due_at"),
        Index(None, "tenant_id", "department_id", "done_at", "due_at"),
        Index(None, "tenant_id", "reminder_pending_at"),
    )
    __owner_column__ = "assignee_id"
    __department_column__ = "department_id"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    subject: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    body: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts_contacts.id", ondelete="CASCADE"))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("contacts_companies.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="SET NULL"))
    outcome: Mapped[str | None] = mapped_column(String(20))
    duration_minutes: Mapped[int | None] = mapped_column(Integer)
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    remind_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reminder_pending_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    source: Mapped[str | None] = mapped_column(String(63))
    url: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    @property
    def audit_label(self) -> str:
        return self.subject or self.kind

    @property
    def is_task(self) -> bool:
        return self.kind == "task"


class Notification(TenantOwned, Base):
    """An in-app notification for one user: a task assigned to them, a reminder that is due."""

    __tablename__ = "contacts_notifications"
    __table_args__ = (
        Index(None, "tenant_id", "user_id", "read_at", "created_at"),
        Index(None, "tenant_id", "interaction_id"),
    )
    __audit__ = False

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    url: Mapped[str | None] = mapped_column(String(500))
    interaction_id: Mapped[int | None] = mapped_column(ForeignKey("contacts_interactions.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
