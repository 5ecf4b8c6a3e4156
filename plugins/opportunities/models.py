"""Tables of the opportunities plugin. Every index starts with ``tenant_id``.

Leads and opportunities are entity records (trash, custom fields, optimistic locking, owner and department).
Pipelines hold ordered stages; an opportunity's ``status`` (open, won, lost) follows the kind of its stage and
``stage_history`` records every stage it entered and when it left, so time-in-stage is known. Amounts are kept in
the deal's currency and, for totals, in the workspace currency (``amount_base``). A few columns exist only so the
board, the forecast and the analysis are single aggregate queries over one index: ``furthest_position`` (the
furthest open stage reached, for the funnel), ``closed_on`` and ``cycle_days`` (set when a deal is won or lost).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, TenantOwned, UTCDateTime, Versioned, utcnow
from core.entities import Owned, Record

MONEY = Numeric(18, 2)

# Lead statuses, opportunity statuses, stage kinds and forecast categories (labels live in choices.py).
LEAD_STATUSES = ("new", "contacted", "qualified", "disqualified")
OPEN, WON, LOST = "open", "won", "lost"
STAGE_KINDS = (OPEN, WON, LOST)
FORECAST_CATEGORIES = ("pipeline", "best_case", "commit")


class Pipeline(TenantOwned, Versioned, Base):
    """A sales process with its own stages (new business, renewals, projects ...)."""

    __tablename__ = "opportunities_pipelines"
    __table_args__ = (Index(None, "tenant_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    is_default: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    stages: Mapped[list[Stage]] = relationship(
        order_by="Stage.position", cascade="all, delete-orphan", back_populates="pipeline"
    )

    @property
    def audit_label(self) -> str:
        return self.name


class Stage(TenantOwned, Versioned, Base):
    """One step of a pipeline. ``kind`` is open, won or lost; ``probability`` (0–100) is what a deal entering the
    stage defaults to; ``forecast_category`` (pipeline, best_case, commit) places open deals in the forecast."""

    __tablename__ = "opportunities_stages"
    __table_args__ = (Index(None, "tenant_id", "pipeline_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("opportunities_pipelines.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    probability: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    kind: Mapped[str] = mapped_column(String(10), nullable=False, default=OPEN)
    forecast_category: Mapped[str] = mapped_column(String(20), nullable=False, default="pipeline")
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)

    pipeline: Mapped[Pipeline] = relationship(back_populates="stages")

    @property
    def audit_label(self) -> str:
        return self.name


class Lead(Record, Owned, Base):
    """A raw sales opportunity: somebody who might buy, not yet qualified."""

    __tablename__ = "opportunities_leads"
    __table_args__ = (
        Index(None, "tenant_id", "updated_at", "id"),
        Index(None, "tenant_id", "deleted_at"),
        Index(None, "tenant_id", "name", "id"),
        Index(None, "tenant_id", "status", "updated_at"),
        Index(None, "tenant_id", "source"),
        Index(None, "tenant_id", "owner_id"),
        Index(None, "tenant_id", "department_id"),
        Index(None, "tenant_id", "email"),
        Index(None, "tenant_id", "phone_digits"),
        Index(None, "tenant_id", "created_at", "id"),  # the list's default sort, for keyset pages
    )

    name: Mapped[str] = mapped_column(String(200), nullable=False)
    company_name: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(50))
    phone_digits: Mapped[str | None] = mapped_column(String(30))
    website: Mapped[str | None] = mapped_column(String(255))
    address_city: Mapped[str | None] = mapped_column(String(100))
    source: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="new")
    disqualify_reason: Mapped[str | None] = mapped_column(String(100))
    notes: Mapped[str | None] = mapped_column(Text)
    web_form_id: Mapped[int | None] = mapped_column(ForeignKey("opportunities_web_forms.id", ondelete="SET NULL"))
    # What the lead became when it was converted.
    converted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts_contacts.id", ondelete="SET NULL"))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("contacts_companies.id", ondelete="SET NULL"))
    opportunity_id: Mapped[int | None] = mapped_column(
        ForeignKey("opportunities_opportunities.id", ondelete="SET NULL")
    )

    @property
    def audit_label(self) -> str:
        return self.name


class LeadActivity(TenantOwned, Base):
    """A call, e-mail, meeting, visit, SMS or note logged on a lead; copied to the contact's timeline when the
    lead is converted."""

    __tablename__ = "opportunities_lead_activities"
    __table_args__ = (Index(None, "tenant_id", "lead_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("opportunities_leads.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    subject: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    body: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(20))
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class Opportunity(Record, Owned, Base):
    """A possible sale: an amount expected to close by a date, moving through a pipeline's stages."""

    __tablename__ = "opportunities_opportunities"
    __table_args__ = (
        Index(None, "tenant_id", "updated_at", "id"),
        Index(None, "tenant_id", "deleted_at"),
        Index(None, "tenant_id", "name", "id"),
        Index(None, "tenant_id", "expected_close_date", "id"),  # the list sorted by close date
        # The board: column totals read the first index alone (open stages whole, closed ones by close day), which
        # also gives a closed column's cards newest first; open cards come in (close date, id) order per stage.
        Index(None, "tenant_id", "stage_id", "closed_on", "id", "deleted_at", "amount_base", "probability"),
        Index(None, "tenant_id", "stage_id", "expected_close_date", "id"),
        # Forecast (open deals by expected close, won deals by close date) and win/loss analysis: the sums, by owner,
        # department or pipeline, read these indexes alone (which is also why they count rows, not ids).
        Index(
            None,
            "tenant_id",
            "status",
            "expected_close_date",
            "deleted_at",
            "stage_id",
            "amount_base",
            "probability",
            "owner_id",
            "department_id",
            "pipeline_id",
        ),
        Index(
            None,
            "tenant_id",
            "status",
            "closed_on",
            "deleted_at",
            "amount_base",
            "cycle_days",
            "owner_id",
            "department_id",
            "pipeline_id",
            "source",
            "lost_reason",
        ),
        # The funnel: the pipeline's deals created in a period, by furthest stage reached (the index alone).
        Index(
            None,
            "tenant_id",
            "pipeline_id",
            "created_at",
            "deleted_at",
            "furthest_position",
            "status",
            "owner_id",
            "department_id",
        ),
        Index(None, "tenant_id", "owner_id", "status"),
        Index(None, "tenant_id", "department_id", "status"),
        Index(None, "tenant_id", "company_id"),
        Index(None, "tenant_id", "contact_id"),
        Index(None, "tenant_id", "lead_id"),
        Index(None, "tenant_id", "source"),
    )

    name: Mapped[str] = mapped_column(String(200), nullable=False)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("contacts_companies.id", ondelete="SET NULL"))
    company_name: Mapped[str | None] = mapped_column(String(200))  # copy of the company's name for lists and search
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts_contacts.id", ondelete="SET NULL"))
    contact_name: Mapped[str | None] = mapped_column(String(200))  # copy of the main contact's name
    amount: Mapped[Decimal | None] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3), nullable=False, default="TWD")
    amount_base: Mapped[Decimal] = mapped_column(MONEY, nullable=False, default=Decimal("0"))
    expected_close_date: Mapped[dt.date | None] = mapped_column(Date)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("opportunities_pipelines.id", ondelete="RESTRICT"))
    stage_id: Mapped[int] = mapped_column(ForeignKey("opportunities_stages.id", ondelete="RESTRICT"))
    probability: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default=OPEN)
    stage_entered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    furthest_position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_on: Mapped[dt.date | None] = mapped_column(Date)  # the close day in the workspace's time zone
    cycle_days: Mapped[int | None] = mapped_column(Integer)  # created to won/lost, in days
    lost_reason: Mapped[str | None] = mapped_column(String(100))
    lost_note: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(100))
    campaign_id: Mapped[int | None] = mapped_column(Integer)  # the campaigns plugin's record, when installed
    next_step: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    lead_id: Mapped[int | None] = mapped_column(Integer)  # the lead it was converted from (no FK: leads point here)

    contacts: Mapped[list[OpportunityContact]] = relationship(
        order_by="OpportunityContact.position", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def audit_label(self) -> str:
        return self.name

    @property
    def weighted_amount(self) -> Decimal:
        return (self.amount_base or Decimal("0")) * self.probability / 100


class OpportunityContact(TenantOwned, Base):
    """A person involved in a deal and their role in it (decision maker, influencer, user ...)."""

    __tablename__ = "opportunities_contacts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "opportunity_id", "contact_id"),
        Index(None, "tenant_id", "contact_id"),
    )
    __audit__ = False  # changes are audited on the opportunity

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunities_opportunities.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts_contacts.id", ondelete="CASCADE"))
    role: Mapped[str | None] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class StageHistory(TenantOwned, Base):
    """An opportunity's stay in one stage: when it entered, when it left (None while it is there), who moved it."""

    __tablename__ = "opportunities_stage_history"
    __table_args__ = (
        Index(None, "tenant_id", "opportunity_id", "entered_at"),
        Index(None, "tenant_id", "stage_id", "entered_at"),
    )
    __audit__ = False  # the history is itself the record of the change

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunities_opportunities.id", ondelete="CASCADE"))
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("opportunities_pipelines.id", ondelete="CASCADE"))
    stage_id: Mapped[int] = mapped_column(ForeignKey("opportunities_stages.id", ondelete="CASCADE"))
    entered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    left_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    amount_base: Mapped[Decimal | None] = mapped_column(MONEY)
    probability: Mapped[int | None] = mapped_column(Integer)


class Quota(TenantOwned, Base):
    """A sales target for one user or one department over a month, quarter or year (in the workspace currency)."""

    __tablename__ = "opportunities_quotas"
    __table_args__ = (
        UniqueConstraint("tenant_id", "user_id", "department_id", "period", "period_start"),
        Index(None, "tenant_id", "period", "period_start"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(10), nullable=False)  # month, quarter, year
    period_start: Mapped[dt.date] = mapped_column(Date, nullable=False)
    amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False)


class WebForm(TenantOwned, Base):
    """A public web-to-lead form a company embeds on its own website (addressed by its unguessable ``token``)."""

    __tablename__ = "opportunities_web_forms"
    __table_args__ = (UniqueConstraint("tenant_id", "token"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(43), nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    source: Mapped[str | None] = mapped_column(String(100))  # given to every lead from this form
    fields: Mapped[list[str] | None] = mapped_column(JSON)  # which lead fields the form asks for, in order
    required_fields: Mapped[list[str] | None] = mapped_column(JSON)
    thank_you_message: Mapped[str | None] = mapped_column(Text)
    thank_you_url: Mapped[str | None] = mapped_column(String(500))  # redirect there instead of the message
    allowed_origins: Mapped[str | None] = mapped_column(String(500))  # sites allowed to post (space separated)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    @property
    def audit_label(self) -> str:
        return self.name


class AssignmentRule(TenantOwned, Base):
    """Who gets a new lead: the first active rule (by ``position``) whose source matches (or any source) assigns
    it round robin within ``department_id`` or to the fixed ``user_id``; ``last_user_id`` is the round's pointer."""

    __tablename__ = "opportunities_assignment_rules"
    __table_args__ = (Index(None, "tenant_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    source: Mapped[str | None] = mapped_column(String(100))  # None: leads from any source
    method: Mapped[str] = mapped_column(String(20), nullable=False, default="round_robin")  # or "fixed"
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    last_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    @property
    def audit_label(self) -> str:
        return self.name
