"""A test-only plugin standing in for a future opportunities plugin: it owns deals that point at contacts, emits
"opportunities.opportunity.won" when one is won, and moves its deals when two contacts are merged."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect
from sqlalchemy import ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from core import db
from core.contributions import Permission
from core.db import Base, TenantOwned
from core.events import emit
from core.hooks import hookimpl
from core.permissions import requires

META = {
    "name": "opportunities",
    "title": "Opportunities (test stub)",
    "requires": ("contacts",),
    "events": ("opportunities.opportunity.won",),
}


class Deal(TenantOwned, Base):
    __tablename__ = "test_opportunity_deals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts_contacts.id", ondelete="SET NULL"))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("contacts_companies.id", ondelete="SET NULL"))


bp = Blueprint("opportunities", __name__, url_prefix="/opportunities")


@bp.route("/<int:deal_id>/won", methods=["POST"])
@requires("opportunities.edit")
def won(deal_id: int) -> Any:
    deal = db.session.scalar(select(Deal).where(Deal.id == deal_id))
    emit(
        "opportunities.opportunity.won",
        id=deal.id,
        contact_id=deal.contact_id,
        company_id=deal.company_id,
        title=f"Won: {deal.title}",
        url=f"/opportunities/{deal.id}",
    )
    db.session.commit()
    return redirect("/")


@hookimpl
def register_models() -> list[type]:
    return [Deal]


@hookimpl
def register_blueprints() -> list[Any]:
    return [bp]


@hookimpl
def register_permissions() -> list[Permission]:
    return [Permission("opportunities.edit", "Edit opportunities")]


@hookimpl
def handle_event(event: Any, tenant: Any) -> None:
    if event.name == "contacts.contact.merged":
        for deal in db.session.scalars(select(Deal).where(Deal.contact_id == event.payload["from_id"])):
            deal.contact_id = event.payload["into_id"]
