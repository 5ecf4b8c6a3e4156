"""Lead pages beyond the kernel's entity pages: the activity log, Convert, Disqualify, and the assignment rules.

The lead's detail page (served by the kernel) gets a lazy "Activities" panel and a "Converted into" panel through
the ``lead.detail`` slot, and the Convert and Disqualify buttons through ``lead.actions``: both need
``opportunities.lead.convert`` with the lead in the user's scope, like the pages they open.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from sqlalchemy.orm.exc import StaleDataError
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    DecimalField,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from core import db
from core.contributions import Action, Panel
from core.db import utcnow
from core.entities import service
from core.entities.registry import all_entities
from core.models import Department, User
from core.permissions import can, requires
from core.themes import render

from .assignment import METHODS, rule_summary
from .blueprint import bp
from .choices import CURRENCIES, DISQUALIFY_REASONS, LEAD_SOURCES
from .models import AssignmentRule, Lead, LeadActivity

ACTIVITY_KINDS = (
    ("call", _l("Call")),
    ("note", _l("Note")),
    ("email", _l("E-mail")),
    ("meeting", _l("Meeting")),
    ("visit", _l("Visit")),
    ("sms", _l("Text message")),
)


def _entity() -> Any:
    return all_entities()["leads"]


# ---------------------------------------------------------------------------------- slots (hooks)


def panels_for(slot: str, context: dict[str, Any], user: Any) -> list[Panel]:
    """The lead detail page's panels: activities (lazy) and, once converted, links to what it became."""
    lead = context.get("lead")
    if slot != "lead.detail" or lead is None:
        return []
    found = [
        Panel(
            "opportunities.lead_activities",
            _l("Activities"),
            "opportunities/leads/activities_panel.html",
            order=10,
            permission="opportunities.lead.view",
            lazy_url=url_for("opportunities.lead_activities", record_id=lead.id),
        )
    ]
    if lead.converted_at is not None:
        found.append(
            Panel(
                "opportunities.lead_converted",
                _l("Converted into"),
                "opportunities/leads/converted_panel.html",
                {"links": converted_links(lead)},
                order=5,
                permission="opportunities.lead.view",
            )
        )
    return found


def actions_for(slot: str, context: dict[str, Any], user: Any) -> list[Action]:
    lead = context.get("lead")
    if slot != "lead.actions" or lead is None or lead.converted_at is not None:
        return []
    if not can("opportunities.lead.convert", lead, user):
        return []
    found = [
        Action(
            "opportunities.lead_log",
            _l("Log activity"),
            url_for("opportunities.lead_log", record_id=lead.id),
            order=5,
            permission="opportunities.lead.view",
        )
    ]
    if lead.status != "disqualified":
        found += [
            Action(
                "opportunities.lead_convert",
                _l("Convert"),
                url_for("opportunities.lead_convert", record_id=lead.id),
                order=10,
                permission="opportunities.lead.convert",
            ),
            Action(
                "opportunities.lead_disqualify",
                _l("Disqualify"),
                url_for("opportunities.lead_disqualify", record_id=lead.id),
                order=20,
                permission="opportunities.lead.convert",
            ),
        ]
    return found


def converted_links(lead: Lead) -> list[dict[str, str]]:
    from plugins.contacts.public import company_summary, contact_summary

    from .models import Opportunity

    links = []
    contact = contact_summary(lead.contact_id) if lead.contact_id else None
    if contact:
        links.append({"label": _("Contact"), "name": contact["name"], "url": contact["url"]})
    company = company_summary(lead.company_id) if lead.company_id else None
    if company:
        links.append({"label": _("Company"), "name": company["name"], "url": company["url"]})
    if lead.opportunity_id:
        name = db.session.scalar(select(Opportunity.name).where(Opportunity.id == lead.opportunity_id))
        if name is not None:
            url = url_for("opportunities_opportunities.detail", record_id=lead.opportunity_id)
            links.append({"label": _("Opportunity"), "name": name, "url": url})
    return links


# ---------------------------------------------------------------------------------- activity log


class ActivityForm(FlaskForm):
    kind = RadioField(_l("What happened"), choices=list(ACTIVITY_KINDS), default="call", validators=[InputRequired()])
    subject = StringField(_l("Subject"), validators=[Optional(), Length(max=200)])
    body = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=20000)])
    occurred_at = DateTimeLocalField(_l("When"), format="%Y-%m-%dT%H:%M", validators=[Optional()])


def _people(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.name).where(User.id.in_(sorted(ids)))).all())


@bp.route("/leads/<int:record_id>/activities")
@requires("opportunities.lead.view")
def lead_activities(record_id: int) -> Any:
    """The activity panel (an HTML fragment loaded after the lead's page)."""
    lead = service.load(_entity(), record_id, "view")
    rows = db.session.scalars(
        select(LeadActivity)
        .where(LeadActivity.lead_id == lead.id)
        .order_by(LeadActivity.occurred_at.desc(), LeadActivity.id.desc())
        .limit(50)
    ).all()
    return render(
        "opportunities/leads/activities_panel.html",
        lead=lead,
        activities=rows,
        people=_people({r.user_id for r in rows if r.user_id}),
        kinds=dict(ACTIVITY_KINDS),
        can_log=can("opportunities.lead.edit", lead) and lead.converted_at is None,
    )


@bp.route("/leads/<int:record_id>/log", methods=["GET", "POST"])
@requires("opportunities.lead.view")
def lead_log(record_id: int) -> Any:
    """Log a call, note, e-mail or meeting on a lead: one short form, the Save button within thumb reach."""
    lead = service.load(_entity(), record_id, "edit")
    if lead.converted_at is not None:
        abort(404)  # its history now lives on the contact's timeline
    form = ActivityForm()
    if request.method == "GET" and request.args.get("kind") in dict(ACTIVITY_KINDS):
        form.kind.data = request.args["kind"]
    if form.validate_on_submit():
        when = form.occurred_at.data
        if when is not None:
            from plugins.contacts.public import user_zone

            when = when.replace(tzinfo=user_zone(current_user))
        db.session.add(
            LeadActivity(
                lead_id=lead.id,
                kind=form.kind.data,
                subject=(form.subject.data or "").strip()[:200],
                body=(form.body.data or "").strip() or None,
                occurred_at=when or utcnow(),
                user_id=current_user.id,
            )
        )
        if lead.status == "new":
            lead.status = "contacted"  # somebody talked to them
        db.session.commit()
        flash(_("Logged on %(name)s.", name=lead.name), "success")
        return redirect(url_for("opportunities_leads.detail", record_id=lead.id))
    status = 400 if request.method == "POST" else 200
    return render("opportunities/leads/log_form.html", lead=lead, form=form), status


# -------------------------------------------------------------------------------------- disqualify


class DisqualifyForm(FlaskForm):
    version = HiddenField()
    reason = SelectField(_l("Reason"), validators=[DataRequired()])
    note = TextAreaField(_l("Note (optional)"), validators=[Optional(), Length(max=2000)])


@bp.route("/leads/<int:record_id>/disqualify", methods=["GET", "POST"])
@requires("opportunities.lead.convert")
def lead_disqualify(record_id: int) -> Any:
    entity = _entity()
    lead = service.load(entity, record_id, "convert")
    if lead.converted_at is not None:
        abort(404)
    form = DisqualifyForm()
    form.reason.choices = [("", _("Choose a reason")), *DISQUALIFY_REASONS]
    if request.method == "GET":
        form.version.data = str(lead.version)
    if form.validate_on_submit():
        try:
            service.update(
                entity,
                lead,
                {"status": "disqualified", "disqualify_reason": form.reason.data},
                int(form.version.data or lead.version),
            )
            if form.note.data:
                db.session.add(
                    LeadActivity(
                        lead_id=lead.id,
                        kind="note",
                        subject=_("Disqualified: %(reason)s", reason=form.reason.data),
                        body=form.note.data.strip(),
                        user_id=current_user.id,
                    )
                )
            db.session.commit()
        except (service.Conflict, StaleDataError):
            db.session.rollback()
            flash(_("Someone changed this lead meanwhile. Check it and try again."), "error")
            return redirect(url_for("opportunities.lead_disqualify", record_id=record_id))
        flash(_("%(name)s is disqualified.", name=lead.name), "success")
        return redirect(url_for("opportunities_leads.detail", record_id=lead.id))
    status = 400 if request.method == "POST" else 200
    return render("opportunities/leads/disqualify.html", lead=lead, form=form), status


# ----------------------------------------------------------------------------------------- convert


class ConvertForm(FlaskForm):
    version = HiddenField()
    contact = RadioField(_l("Contact"), validators=[InputRequired()])
    company = RadioField(_l("Company"), validators=[InputRequired()])
    opportunity_name = StringField(_l("Opportunity name"), validators=[DataRequired(), Length(max=200)])
    amount = DecimalField(_l("Amount"), places=2, validators=[Optional(), NumberRange(min=0)])
    currency = SelectField(_l("Currency"), validators=[Optional()])
    expected_close_date = DateField(_l("Expected close date"), validators=[Optional()])
    pipeline_id = SelectField(_l("Pipeline"), coerce=int, validators=[InputRequired()])


def _convert_form(lead: Lead, found: dict[str, list[dict[str, Any]]]) -> ConvertForm:
    from .conversion import NEW, NONE, default_plan
    from .pipelines import pipelines

    form = ConvertForm()
    form.contact.choices = [
        (NEW, _("Create a new contact: %(name)s", name=lead.name)),
        *[(str(c["id"]), c["name"]) for c in found["contacts"]],
    ]
    company_choices = [(NONE, _("No company"))]
    if lead.company_name:
        company_choices.insert(0, (NEW, _("Create a new company: %(name)s", name=lead.company_name)))
    form.company.choices = [*company_choices, *[(str(c["id"]), c["name"]) for c in found["companies"]]]
    form.currency.choices = list(CURRENCIES)
    choices = pipelines()
    form.pipeline_id.choices = [(p.id, p.name) for p in choices]
    if request.method == "GET":
        plan = default_plan(lead, found)
        form.contact.data, form.company.data = plan.contact, plan.company
        form.opportunity_name.data = plan.opportunity_name
        form.version.data = str(lead.version)
        from flask import g

        form.currency.data = getattr(g.tenant, "currency", None)
        form.pipeline_id.data = next((p.id for p in choices if p.is_default), choices[0].id if choices else None)
    return form


@bp.route("/leads/<int:record_id>/convert", methods=["GET", "POST"])
@requires("opportunities.lead.convert")
def lead_convert(record_id: int) -> Any:
    """Turn the lead into a contact, a company and an opportunity, in one transaction."""
    from .conversion import ConversionError, ConversionPlan, candidates, convert

    entity = _entity()
    lead = service.load(entity, record_id, "convert")
    if lead.converted_at is not None:
        flash(_("This lead was already converted."), "error")
        return redirect(url_for("opportunities_leads.detail", record_id=lead.id))
    found = candidates(lead, current_user)
    form = _convert_form(lead, found)
    errors: dict[str, list[str]] = {}
    if form.validate_on_submit():
        plan = ConversionPlan(
            contact=form.contact.data,
            company=form.company.data,
            opportunity_name=form.opportunity_name.data.strip(),
            amount=form.amount.data,
            currency=form.currency.data or None,
            expected_close_date=form.expected_close_date.data,
            pipeline_id=form.pipeline_id.data,
        )
        try:
            if str(lead.version) != (form.version.data or ""):
                raise ConversionError({"lead": [_("Someone changed this lead meanwhile. Check it and try again.")]})
            # Lock the lead: a second conversion running at the same time waits, then finds it converted.
            locked = db.session.scalar(
                select(Lead).where(Lead.id == lead.id).with_for_update().execution_options(populate_existing=True)
            )
            result = convert(locked, plan, current_user)
            db.session.commit()
        except ConversionError as exc:
            db.session.rollback()
            errors = exc.errors
        except StaleDataError:
            db.session.rollback()
            errors = {"lead": [_("Someone changed this lead meanwhile. Check it and try again.")]}
        else:
            flash(_("%(name)s is converted.", name=lead.name), "success")
            return redirect(url_for("opportunities_opportunities.detail", record_id=result.opportunity_id))
        lead = service.load(entity, record_id, "convert")
    status = 400 if request.method == "POST" else 200
    return render("opportunities/leads/convert.html", lead=lead, form=form, errors=errors, found=found), status


# -------------------------------------------------------------------------------- assignment rules


class RuleForm(FlaskForm):
    name = StringField(_l("Name of the rule"), validators=[DataRequired(), Length(max=100)])
    source = SelectField(_l("For leads from"), validators=[Optional()])
    method = RadioField(_l("Assign"), choices=list(METHODS), default="round_robin", validators=[InputRequired()])
    department_id = SelectField(_l("Department (round robin)"), coerce=int, validators=[Optional()])
    user_id = SelectField(_l("User (fixed)"), coerce=int, validators=[Optional()])
    active = BooleanField(_l("Active"), default=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.source.choices = [("", _("Any source")), *LEAD_SOURCES]
        departments = db.session.execute(select(Department.id, Department.name).order_by(Department.name)).all()
        self.department_id.choices = [(0, "—"), *[(d.id, d.name) for d in departments]]
        users = db.session.execute(
            select(User.id, User.name, User.email).where(User.active.is_(True)).order_by(User.name)
        ).all()
        self.user_id.choices = [(0, "—"), *[(u.id, u.name or u.email) for u in users]]

    def validate(self, extra_validators: Any = None) -> bool:
        if not super().validate(extra_validators):
            return False
        if self.method.data == "round_robin" and not self.department_id.data:
            self.department_id.errors = [_("Choose the department whose members take turns.")]
            return False
        if self.method.data == "fixed" and not self.user_id.data:
            self.user_id.errors = [_("Choose who gets the leads.")]
            return False
        return True


def _rules() -> list[AssignmentRule]:
    return list(db.session.scalars(select(AssignmentRule).order_by(AssignmentRule.position, AssignmentRule.id)))


@bp.route("/admin/assignment-rules")
@requires("opportunities.capture.manage")
def assignment_rules() -> Any:
    rules = _rules()
    users = dict(db.session.execute(select(User.id, User.name)).all())
    departments = dict(db.session.execute(select(Department.id, Department.name)).all())
    return render("opportunities/admin_capture/rules.html", rules=[rule_summary(r, users, departments) for r in rules])


@bp.route("/admin/assignment-rules/new", methods=["GET", "POST"])
@bp.route("/admin/assignment-rules/<int:rule_id>", methods=["GET", "POST"])
@requires("opportunities.capture.manage")
def assignment_rule_edit(rule_id: int | None = None) -> Any:
    rule = db.session.get(AssignmentRule, rule_id) if rule_id is not None else None
    if rule_id is not None and rule is None:
        abort(404)
    if request.method == "GET" and rule is not None:
        form = RuleForm(
            data={
                "name": rule.name,
                "source": rule.source or "",
                "method": rule.method,
                "department_id": rule.department_id or 0,
                "user_id": rule.user_id or 0,
                "active": rule.active,
            }
        )
    else:
        form = RuleForm()
    if form.validate_on_submit():
        if rule is None:
            last = db.session.scalar(select(func.max(AssignmentRule.position)))
            rule = AssignmentRule(position=(last or 0) + 1)
            db.session.add(rule)
        rule.name = form.name.data.strip()
        rule.source = form.source.data or None
        rule.method = form.method.data
        rule.department_id = form.department_id.data or None if rule.method == "round_robin" else None
        rule.user_id = form.user_id.data or None if rule.method == "fixed" else None
        rule.active = bool(form.active.data)
        db.session.commit()
        flash(_("The rule %(name)s is saved.", name=rule.name), "success")
        return redirect(url_for("opportunities.assignment_rules"))
    status = 400 if request.method == "POST" else 200
    return render("opportunities/admin_capture/rule_form.html", form=form, rule=rule), status


@bp.route("/admin/assignment-rules/<int:rule_id>/move", methods=["POST"])
@requires("opportunities.capture.manage")
def assignment_rule_move(rule_id: int) -> Any:
    """Move a rule up or down (``direction``): the rules are renumbered 1..n in their new order."""
    rules = _rules()
    index = next((i for i, r in enumerate(rules) if r.id == rule_id), None)
    if index is None:
        abort(404)
    other = index - 1 if request.form.get("direction") == "up" else index + 1
    if 0 <= other < len(rules):
        rules[index], rules[other] = rules[other], rules[index]
    for position, rule in enumerate(rules, start=1):
        rule.position = position
    db.session.commit()
    return redirect(url_for("opportunities.assignment_rules"))


@bp.route("/admin/assignment-rules/<int:rule_id>/active", methods=["POST"])
@requires("opportunities.capture.manage")
def assignment_rule_toggle(rule_id: int) -> Any:
    rule = db.session.get(AssignmentRule, rule_id)
    if rule is None:
        abort(404)
    rule.active = not rule.active
    db.session.commit()
    return redirect(url_for("opportunities.assignment_rules"))
