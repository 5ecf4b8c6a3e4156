"""Panels and actions the plugin puts on pages: the stage history on an opportunity's page, "Mark won" / "Mark lost"
there, and the opportunities of a contact or a company on theirs (loaded after the page, scoped to the user).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from flask import abort, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, or_, select

from core import db
from core.contributions import Action, Panel
from core.db import utcnow
from core.entities.forms import people
from core.permissions import has_permission, requires, scoped
from core.themes import render

from .blueprint import bp
from .models import LOST, OPEN, WON, Opportunity, OpportunityContact, StageHistory
from .pipelines import stage

VIEW = "opportunities.opportunity.view"
PANEL_ROWS = 10


def _record(context: dict[str, Any], name: str) -> Any:
    return context.get(name) or context.get("record")


def panels_for(slot: str, context: dict[str, Any], user: Any) -> list[Panel]:
    if slot == "opportunity.detail":
        record = _record(context, "opportunity")
        if record is None or record.id is None:
            return []
        return [
            Panel(
                "opportunities.stage_history",
                _l("Stage history"),
                "opportunities/panels/stage_history.html",
                {"rows": stage_history(record.id)},
                order=30,
                permission=VIEW,
            )
        ]
    for kind in ("contact", "company"):
        if slot == f"{kind}.detail":
            record = _record(context, kind)
            if record is None:
                return []
            return [
                Panel(
                    f"opportunities.{kind}_opportunities",
                    _l("Opportunities"),
                    "opportunities/panels/customer.html",
                    order=30,
                    permission=VIEW,
                    lazy_url=url_for("opportunities.customer_panel", kind=kind, record_id=record.id),
                )
            ]
    return []


def actions_for(slot: str, context: dict[str, Any], user: Any) -> list[Action]:
    """ "Mark won" (one tap, a POST with the record's version) and "Mark lost" (the reason page) on a deal's page."""
    if slot != "opportunity.actions":
        return []
    record = _record(context, "opportunity")
    if record is None or record.id is None:
        return []
    from .board_views import mark_lost_url, mark_won_url

    actions = []
    won = mark_won_url(record)
    if won:
        actions.append(
            Action(
                "opportunities.mark_won",
                _l("Mark won"),
                won,
                order=10,
                permission="opportunities.opportunity.edit",
                method="post",
            )
        )
    lost = mark_lost_url(record)
    if lost:
        actions.append(
            Action(
                "opportunities.mark_lost", _l("Mark lost"), lost, order=11, permission="opportunities.opportunity.edit"
            )
        )
    return actions


# ---------------------------------------------------------------------------------------- stage history


def stage_history(opportunity_id: int, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """The deal's stays in its stages, oldest first: stage, entered, left (``None`` while there), time spent, who."""
    now = now or utcnow()
    rows = list(
        db.session.scalars(
            select(StageHistory)
            .where(StageHistory.opportunity_id == opportunity_id)
            .order_by(StageHistory.entered_at, StageHistory.id)
        )
    )
    users = people({row.user_id for row in rows if row.user_id is not None})
    result = []
    for row in rows:
        spent = (row.left_at or now) - row.entered_at
        found = stage(row.stage_id)
        user = users.get(row.user_id) if row.user_id is not None else None
        result.append(
            {
                "stage": found.name if found else "?",
                "kind": found.kind if found else OPEN,
                "entered_at": row.entered_at,
                "left_at": row.left_at,
                "duration": spent,
                "duration_text": duration_text(spent),
                "user": user.name if user else "",
            }
        )
    return result


def duration_text(spent: dt.timedelta) -> str:
    """Time in a stage as people read it: "12 d 3 h", "5 h 20 min", "4 min"."""
    minutes = max(0, int(spent.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return _("%(days)d d %(hours)d h", days=days, hours=hours)
    if hours:
        return _("%(hours)d h %(minutes)d min", hours=hours, minutes=minutes)
    return _("%(minutes)d min", minutes=minutes)


# ----------------------------------------------------------------------------- contact and company panels


def customer_condition(kind: str, record_id: int) -> Any:
    """Deals of a company, or of a contact (as main contact or among the people involved)."""
    if kind == "company":
        return Opportunity.company_id == record_id
    involved = select(OpportunityContact.opportunity_id).where(OpportunityContact.contact_id == record_id)
    return or_(Opportunity.contact_id == record_id, Opportunity.id.in_(involved))


@bp.route("/panels/<any(contact, company):kind>/<int:record_id>")
@requires(VIEW)
def customer_panel(kind: str, record_id: int) -> Any:
    """The opportunities panel of a contact's or company's page: open ones first, then the rest, with totals."""
    from plugins.contacts import public as contacts

    summary = contacts.contact_summary(record_id) if kind == "contact" else contacts.company_summary(record_id)
    if summary is None:
        abort(404)
    if kind == "contact" and not contacts.visible_contact_ids([record_id]):
        abort(404)
    condition = customer_condition(kind, record_id)
    open_first = case((Opportunity.status == OPEN, 0), else_=1)
    statement = scoped(select(Opportunity).where(condition), VIEW, model=Opportunity)
    statement = statement.order_by(open_first, Opportunity.expected_close_date.desc(), Opportunity.id.desc())
    rows = list(db.session.scalars(statement.limit(PANEL_ROWS)))
    totals_statement = scoped(
        select(Opportunity.status, func.count(Opportunity.id), func.sum(Opportunity.amount_base)).where(condition),
        VIEW,
        model=Opportunity,
    ).group_by(Opportunity.status)
    totals = {status: {"count": 0, "amount": Decimal("0")} for status in (OPEN, WON, LOST)}
    for status, count, amount in db.session.execute(totals_statement):
        totals[status] = {"count": int(count or 0), "amount": Decimal(amount or 0)}
    total_count = sum(t["count"] for t in totals.values())
    prefill = {"company_id": record_id} if kind == "company" else {"contact_id": record_id}
    if kind == "contact" and summary.get("company_id"):
        prefill["company_id"] = summary["company_id"]
    list_args = {"company_id": record_id}
    from .money import workspace_currency

    return render(
        "opportunities/panels/customer.html",
        rows=rows,
        totals=totals,
        total_count=total_count,
        stage=stage,
        currency=workspace_currency(),
        new_url=url_for("opportunities_opportunities.new", **prefill)
        if has_permission("opportunities.opportunity.create")
        else None,
        list_url=url_for("opportunities_opportunities.list", **list_args)
        if kind == "company" and total_count > len(rows)
        else None,
        OPEN=OPEN,
    )
