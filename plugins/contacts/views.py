"""The plugin's own pages: what the kernel's generic entity pages do not give.

Timeline (a lazy panel on the detail pages, and a full page), quick actions (log a call, add a note, add a
task), my tasks, notifications, duplicate checks and the merge screen. Every view declares its permission and
loads records through the entity service, so another tenant's records and records outside the user's scope
answer 404.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

from flask import Blueprint, abort, current_app, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm.exc import StaleDataError

from core import db
from core.db import utcnow
from core.entities import service
from core.entities.schemas import custom_field_map, field_label
from core.models import User
from core.permissions import authenticated, can, has_permission, requires, scoped
from core.themes import render

from . import timeline as tl
from .choices import KINDS, LIFECYCLE_STAGES, LOGGABLE_KINDS, PARTNER_TYPES, label_of
from .forms import EntryForm, ReassignForm, TaskForm, local_to_utc, utc_to_local
from .merge import COMPANY_FIELDS, CONTACT_FIELDS, merge_companies, merge_contacts, related_counts
from .models import Company, Contact, ContactCompany, Interaction, Notification
from .records import company_duplicates, contact_duplicates, entity
from .template_context import PLURAL, detail_url, template_helpers

log = logging.getLogger(__name__)

bp = Blueprint("contacts", __name__, url_prefix="/contacts", static_folder="static")

SWEEP_INTERVAL = 60.0  # seconds between reminder sweeps a process starts for one tenant


# ------------------------------------------------------------------------------------------- helpers


def load_record(kind: str, record_id: int, action: str = "view") -> Any:
    """A contact or company of this tenant within the user's scope for ``action``, else 404."""
    return service.load(entity(PLURAL[kind]), record_id, action)


def safe_next(default: str) -> str:
    """The ``next`` argument when it is a path on this site, else ``default``."""
    target = request.values.get("next", "")
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


def names_of_users(ids: set[int]) -> dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return {user.id: user.display_name for user in db.session.scalars(select(User).where(User.id.in_(ids)))}


def assignable_users() -> list[tuple[int, str]]:
    users = db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.name, User.email))
    return [(user.id, user.display_name) for user in users]


def record_names(entries: list[Interaction]) -> tuple[dict[int, str], dict[int, str]]:
    """Names of the contacts and companies a page of entries refers to (two queries; trashed ones are left out)."""
    contact_ids = {e.contact_id for e in entries if e.contact_id}
    company_ids = {e.company_id for e in entries if e.company_id}
    contacts = (
        dict(db.session.execute(select(Contact.id, Contact.name).where(Contact.id.in_(contact_ids))).all())
        if contact_ids
        else {}
    )
    companies = (
        dict(db.session.execute(select(Company.id, Company.name).where(Company.id.in_(company_ids))).all())
        if company_ids
        else {}
    )
    return contacts, companies


def may_complete(task: Interaction) -> bool:
    """The assignee and the author may tick a task off; so may whoever manages tasks with a scope reaching it."""
    return current_user.id in (task.assignee_id, task.user_id) or can("contacts.tasks.manage", task)


def load_task(task_id: int) -> Interaction:
    task = db.session.scalar(select(Interaction).where(Interaction.id == task_id, Interaction.kind == "task"))
    if task is None or not may_complete(task):
        abort(404)
    return task


# ------------------------------------------------------------------------------ the reminder sweep


@bp.after_request
def _sweep_reminders(response: Any) -> Any:
    """At most once a minute per tenant and process, if a reminder is due, queue the sweep (a background job)."""
    if response.status_code >= 400 or "tenant" not in g:
        return response
    sweeps = current_app.extensions.setdefault("contacts.reminder_sweeps", {})
    now = time.monotonic()
    if now - sweeps.get(g.tenant.id, -SWEEP_INTERVAL) < SWEEP_INTERVAL:
        return response
    sweeps[g.tenant.id] = now
    try:
        if tl.due_reminders_exist():
            from core.jobs import enqueue

            enqueue("plugins.contacts.timeline:sweep_job", name="Send due task reminders")
            db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("could not queue the reminder sweep")
    return response


# ------------------------------------------------------------------------------------------- timeline


def _timeline(kind: str, record_id: int) -> Any:
    record = load_record(kind, record_id)
    if kind == "contact":
        statement = tl.timeline_statement(contact_id=record.id)
    else:
        statement = tl.timeline_statement(company_id=record.id)
    try:
        page = tl.timeline_page(statement, request.args.get("before"))
    except tl.CursorError:
        abort(400)
    entries = page.items
    users = names_of_users({e.user_id for e in entries} | {e.assignee_id for e in entries if e.assignee_id})
    contacts, companies = record_names(entries)
    context = {
        "kind": kind,
        "record": record,
        "entries": entries,
        "users": users,
        "contact_names": contacts,
        "company_names": companies,
        "older_url": url_for(f".{kind}_timeline", record_id=record.id, before=page.next_cursor)
        if page.next_cursor
        else None,
        "can_log": has_permission("contacts.timeline.add"),
        "may_complete": may_complete,
        "now": utcnow(),
        **template_helpers(),
    }
    navigation = request.headers.get("Sec-Fetch-Mode") == "navigate"
    if request.args.get("fragment") and not navigation:
        return render("contacts/timeline_fragment.html", **context)
    return render("contacts/timeline.html", **context)


@bp.route("/timeline/contact/<int:record_id>")
@requires("contacts.contact.view")
def contact_timeline(record_id: int) -> Any:
    """The contact's timeline, newest first (a fragment for the detail page's lazy panel with ``?fragment=1``)."""
    return _timeline("contact", record_id)


@bp.route("/timeline/company/<int:record_id>")
@requires("contacts.company.view")
def company_timeline(record_id: int) -> Any:
    """The company's timeline, including what was logged on its people there."""
    return _timeline("company", record_id)


@bp.route(
    "/log/<any(contact, company):target>/<int:record_id>/<any(call, email, meeting, visit, note, task, sms):kind>",
    methods=["GET", "POST"],
)
@requires("contacts.timeline.add")
def log_entry(target: str, record_id: int, kind: str) -> Any:
    """Quick actions: log a call (outcome picker), add a note, add a task; big buttons, time defaults to now."""
    record = load_record(target, record_id)
    zone = tl.user_zone(current_user)
    back = safe_next(detail_url(target, record.id))
    ids = {"contact_id": record.id} if target == "contact" else {"company_id": record.id}
    if kind == "task":
        form = TaskForm()
        form.assignee_id.choices = assignable_users()
        if request.method == "GET":
            form.assignee_id.data = current_user.id
        if form.validate_on_submit():
            if form.assignee_id.data not in dict(form.assignee_id.choices):
                abort(400)
            due = local_to_utc(form.due_at.data, zone)
            remind = None
            if form.remind.data and due is not None:
                remind = due - dt.timedelta(minutes=int(form.remind.data))
            tl.add_entry(
                "task",
                subject=form.subject.data.strip(),
                body=(form.body.data or "").strip() or None,
                user_id=current_user.id,
                due_at=due,
                assignee_id=form.assignee_id.data,
                remind_at=remind,
                **ids,
            )
            db.session.commit()
            flash(_("The task is added."), "success")
            return redirect(back)
    else:
        form = EntryForm(kind=kind)
        if request.method == "GET":
            form.occurred_at.data = utc_to_local(utcnow(), zone)
        if form.validate_on_submit():
            occurred = local_to_utc(form.occurred_at.data, zone)
            tl.add_entry(
                kind,
                subject=(form.subject.data or "").strip(),
                body=(form.body.data or "").strip() or None,
                occurred_at=occurred,
                user_id=current_user.id,
                outcome=form.outcome.data if kind == "call" and form.outcome.data else None,
                duration_minutes=form.duration_minutes.data,
                **ids,
            )
            db.session.commit()
            flash(_("Saved to the timeline."), "success")
            return redirect(back)
    status = 400 if form.is_submitted() and form.errors else 200
    return (
        render(
            "contacts/log_form.html",
            form=form,
            kind=kind,
            target=target,
            record=record,
            back=back,
            kinds=[(k, label_of(KINDS, k)) for k in LOGGABLE_KINDS],
            **template_helpers(),
        ),
        status,
    )


@bp.route("/entries/<int:entry_id>/delete", methods=["POST"])
@requires("contacts.timeline.add")
def delete_entry(entry_id: int) -> Any:
    """Delete a timeline entry: its author may, and so may whoever may edit the contact or company."""
    entry = db.session.scalar(select(Interaction).where(Interaction.id == entry_id))
    if entry is None or entry.kind == "system":
        abort(404)
    kind, record_id = ("contact", entry.contact_id) if entry.contact_id else ("company", entry.company_id)
    record = load_record(kind, record_id)
    if entry.user_id != current_user.id and not can(f"contacts.{kind}.edit", record):
        abort(403)
    db.session.delete(entry)
    db.session.commit()
    flash(_("The entry is deleted."), "success")
    return redirect(safe_next(detail_url(kind, record_id)))


# ---------------------------------------------------------------------------------------------- tasks


@bp.route("/tasks")
@authenticated
def tasks() -> Any:
    """My open tasks, grouped overdue / today / upcoming in my time zone; managers can look at others'."""
    zone = tl.user_zone(current_user)
    manager = has_permission("contacts.tasks.manage")
    whose = request.args.get("assignee", "")
    if whose and whose != str(current_user.id) and not manager:
        abort(403)
    if whose == "all":
        statement = tl.open_tasks_statement(user=current_user, manage=True)
    elif whose and whose.isdigit() and int(whose) != current_user.id:
        statement = tl.open_tasks_statement(int(whose), user=current_user, manage=True)
    else:
        whose = ""
        statement = tl.open_tasks_statement(current_user.id)
    try:
        page = tl.tasks_page(statement, request.args.get("after"))
    except tl.CursorError:
        abort(400)
    groups = tl.group_tasks(page.items, zone)
    users = names_of_users({t.assignee_id for t in page.items if t.assignee_id})
    contacts, companies = record_names(page.items)
    args = {"assignee": whose} if whose else {}
    people = assignable_users() if manager else []
    return render(
        "contacts/tasks.html",
        whose_name=dict(people).get(int(whose), "") if whose.isdigit() else "",
        groups=groups,
        users=users,
        contact_names=contacts,
        company_names=companies,
        manager=manager,
        whose=whose,
        people=people,
        next_url=url_for(".tasks", after=page.next_cursor, **args) if page.next_cursor else None,
        first_url=url_for(".tasks", **args) if request.args.get("after") else None,
        show_assignee=bool(whose),
        **template_helpers(),
    )


def _commit_task_change() -> bool:
    """Commit; when someone else changed the task at the same moment, roll back and say so."""
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        flash(_("Someone else changed this task at the same moment. Check it and try again."), "error")
        return False
    return True


@bp.route("/tasks/<int:task_id>/done", methods=["POST"])
@authenticated
def task_done(task_id: int) -> Any:
    task = load_task(task_id)
    subject = task.subject
    tl.complete(task, current_user.id)
    if _commit_task_change():
        flash(_("Done: %(subject)s", subject=subject), "success")
    return redirect(safe_next(url_for(".tasks")))


@bp.route("/tasks/<int:task_id>/reopen", methods=["POST"])
@authenticated
def task_reopen(task_id: int) -> Any:
    task = load_task(task_id)
    tl.reopen(task)
    if _commit_task_change():
        flash(_("The task is open again."), "success")
    return redirect(safe_next(url_for(".tasks")))


@bp.route("/tasks/<int:task_id>/reassign", methods=["GET", "POST"])
@authenticated
def task_reassign(task_id: int) -> Any:
    """Give a task to a colleague: one's own tasks, or others' with ``contacts.tasks.manage`` in scope."""
    task = load_task(task_id)
    if task.assignee_id != current_user.id and not can("contacts.tasks.manage", task):
        abort(403)
    form = ReassignForm()
    form.assignee_id.choices = assignable_users()
    if request.method == "GET":
        form.assignee_id.data = task.assignee_id
    if form.validate_on_submit():
        if form.assignee_id.data not in dict(form.assignee_id.choices):
            abort(400)
        tl.reassign(task, form.assignee_id.data, current_user.id)
        if _commit_task_change():
            flash(_("The task is reassigned."), "success")
        return redirect(safe_next(url_for(".tasks")))
    status = 400 if form.is_submitted() else 200
    return render("contacts/reassign.html", form=form, task=task, back=safe_next(url_for(".tasks"))), status


@bp.route("/tasks/<int:task_id>/edit", methods=["GET", "POST"])
@authenticated
def task_edit(task_id: int) -> Any:
    """Change a task: what, when it is due, the reminder, who does it (others' tasks need the manage scope)."""
    task = load_task(task_id)
    zone = tl.user_zone(current_user)
    back = safe_next(url_for(".tasks"))
    form = TaskForm()
    form.assignee_id.choices = assignable_users()
    if request.method == "GET":
        form.subject.data = task.subject
        form.body.data = task.body
        form.due_at.data = utc_to_local(task.due_at, zone)
        form.assignee_id.data = task.assignee_id
        form.remind.data = tl.reminder_offset(task)
    if form.validate_on_submit():
        wanted = form.assignee_id.data
        if wanted not in dict(form.assignee_id.choices):
            abort(400)
        others = task.assignee_id != current_user.id
        if wanted != task.assignee_id and others and not can("contacts.tasks.manage", task):
            abort(403)
        due = local_to_utc(form.due_at.data, zone)
        remind = due - dt.timedelta(minutes=int(form.remind.data)) if form.remind.data and due is not None else None
        tl.reschedule(task, form.subject.data.strip(), (form.body.data or "").strip() or None, due, remind)
        tl.reassign(task, wanted, current_user.id)
        if _commit_task_change():
            flash(_("The task is saved."), "success")
        return redirect(back)
    status = 400 if form.is_submitted() else 200
    return render("contacts/task_form.html", form=form, task=task, back=back), status


@bp.route("/panels/my-tasks")
@authenticated
def my_tasks_panel() -> Any:
    """Home page panel (lazy): how many of my tasks are overdue and due today."""
    counts = tl.task_counts(current_user.id, tl.user_zone(current_user))
    return render("contacts/panels/my_tasks.html", counts=counts)


# -------------------------------------------------------------------------------------- notifications


@bp.route("/notifications")
@authenticated
def notifications() -> Any:
    try:
        page = tl.notifications_page(current_user.id, request.args.get("before"))
    except tl.CursorError:
        abort(400)
    return render(
        "contacts/notifications.html",
        items=page.items,
        unread=tl.unread_count(current_user.id),
        older_url=url_for(".notifications", before=page.next_cursor) if page.next_cursor else None,
        newest_url=url_for(".notifications") if request.args.get("before") else None,
    )


@bp.route("/notifications/<int:notification_id>/open")
@authenticated
def open_notification(notification_id: int) -> Any:
    """Mark the notification read and go where it points."""
    item = db.session.scalar(
        select(Notification).where(Notification.id == notification_id, Notification.user_id == current_user.id)
    )
    if item is None:
        abort(404)
    tl.mark_read(current_user.id, item.id)
    db.session.commit()
    url = item.url or ""
    return redirect(url if url.startswith("/") and not url.startswith("//") else url_for(".notifications"))


@bp.route("/notifications/read", methods=["POST"])
@authenticated
def read_notifications() -> Any:
    notification_id = request.form.get("id", type=int)
    tl.mark_read(current_user.id, notification_id)
    db.session.commit()
    return redirect(url_for(".notifications"))


# ------------------------------------------------------------------------------------------ duplicates


def _contact_matches_from_args(exclude_id: int | None = None) -> Any:
    args = request.values
    return contact_duplicates(
        name=args.get("name"),
        emails=[args.get("email", "")],
        phones=[args.get("mobile", ""), args.get("phone", "")],
        company_names=[args.get("company_name", "")],
        exclude_id=exclude_id,
    )


@bp.route("/duplicates/contact")
@requires("contacts.contact.view")
def check_contact_duplicates() -> Any:
    """Contacts that look like the one being typed (``name``, ``email``, ``mobile``, ``phone``, ``company_name``):
    an HTML fragment for the form, or JSON."""
    matches = _contact_matches_from_args(request.args.get("exclude", type=int))
    return _duplicates_answer("contact", matches)


@bp.route("/duplicates/company")
@requires("contacts.company.view")
def check_company_duplicates() -> Any:
    args = request.args
    matches = company_duplicates(
        name=args.get("name"),
        tax_id=(args.get("tax_id") or "").replace(" ", "").replace("-", "") or None,
        phone=args.get("phone"),
        exclude_id=args.get("exclude", type=int),
    )
    return _duplicates_answer("company", matches)


def _duplicates_answer(kind: str, matches: Any) -> Any:
    if request.accept_mimetypes.best_match(["application/json", "text/html"]) == "application/json":
        return {
            "duplicates": [
                {"id": row.id, "name": row.name, "url": detail_url(kind, row.id), "reasons": reasons}
                for row, reasons in matches.visible
            ],
            "hidden": matches.hidden,
        }
    return render("contacts/duplicates_fragment.html", kind=kind, matches=matches, **template_helpers())


@bp.route("/panels/duplicates/<any(contact, company):kind>/<int:record_id>")
@authenticated
def duplicates_panel(kind: str, record_id: int) -> Any:
    """Lazy panel on a detail page: records that look like this one, with a merge link."""
    record = load_record(kind, record_id)
    if kind == "contact":
        matches = contact_duplicates(
            name=record.name,
            emails=[row.email for row in record.emails],
            phones=[row.number for row in record.phones],
            company_ids=[row.company_id for row in record.memberships],
            exclude_id=record.id,
        )
    else:
        matches = company_duplicates(record.name, record.tax_id, record.phone, exclude_id=record.id)
    return render(
        "contacts/panels/duplicates.html",
        kind=kind,
        record=record,
        matches=matches,
        can_merge=can("contacts.merge", record),
        **template_helpers(),
    )


@bp.route("/panels/people/<int:record_id>")
@requires("contacts.company.view")
def people_panel(record_id: int) -> Any:
    """Lazy panel on a company: its people the user may see, with their roles."""
    company = load_record("company", record_id)
    statement = (
        select(Contact, ContactCompany.role)
        .join(ContactCompany, ContactCompany.contact_id == Contact.id)
        .where(ContactCompany.company_id == company.id)
    )
    statement = scoped(statement, "contacts.contact.view", model=Contact)
    rows = db.session.execute(statement.order_by(Contact.name, Contact.id).limit(51)).all()
    total = db.session.scalar(
        select(func.count(ContactCompany.id))
        .join(Contact, Contact.id == ContactCompany.contact_id)
        .where(ContactCompany.company_id == company.id)
    )
    return render(
        "contacts/panels/people.html",
        company=company,
        rows=rows[:50],
        more=len(rows) > 50,
        total=total or 0,
        list_url=url_for("contacts_contacts.list", company_id=company.id),
        new_url=url_for("contacts_contacts.new", company_name=company.name),
        **template_helpers(),
    )


# ----------------------------------------------------------------------------------------------- merge


@bp.route("/merge/<any(contact, company):kind>/<int:record_id>", methods=["GET", "POST"])
@requires("contacts.merge")
def merge(kind: str, record_id: int) -> Any:
    """Merge another record into this one (or this one into the other): pick per field which value wins."""
    plural = PLURAL[kind]
    record = load_record(kind, record_id, "edit")
    if not can("contacts.merge", record):
        abort(404)
    other_id = request.values.get("with", type=int)
    if other_id is None:
        return _merge_search(kind, record)
    if other_id == record.id:
        abort(400)
    other = load_record(kind, other_id, "edit")
    if not can("contacts.merge", other):
        abort(404)
    fields = CONTACT_FIELDS if kind == "contact" else COMPANY_FIELDS
    schema_fields = entity(plural).schema().fields
    differing = [name for name in fields if getattr(record, name) != getattr(other, name)]
    custom_keys = sorted(
        key
        for key in set(record.custom or {}) | set(other.custom or {})
        if (record.custom or {}).get(key) != (other.custom or {}).get(key)
    )
    if request.method == "POST":
        versions = (request.form.get("version_a", type=int), request.form.get("version_b", type=int))
        if versions != (record.version, other.version):
            flash(_("One of the records was changed meanwhile. Check the values again."), "error")
            return redirect(url_for(".merge", kind=kind, record_id=record.id, **{"with": other.id}))
        into = request.form.get("into", "a")
        winner, loser = (record, other) if into == "a" else (other, record)
        loser_side = "b" if into == "a" else "a"
        take = [name for name in differing if request.form.get(f"field_{name}") == loser_side]
        take += [f"custom.{key}" for key in custom_keys if request.form.get(f"custom_{key}") == loser_side]
        if kind == "contact":
            summary = merge_contacts(winner, loser, take, current_user)
        else:
            summary = merge_companies(winner, loser, take, current_user)
        db.session.commit()
        flash(
            _(
                "%(loser)s was merged into %(winner)s: %(entries)d timeline entries moved; it is in the trash now.",
                loser=loser.name,
                winner=winner.name,
                entries=summary.entries,
            ),
            "success",
        )
        return redirect(detail_url(kind, winner.id))
    users = names_of_users({record.owner_id, other.owner_id})
    custom_fields = custom_field_map(entity(plural))  # the tenant's custom fields, with their labels
    return render(
        "contacts/merge.html",
        kind=kind,
        a=record,
        b=other,
        rows=[(name, schema_fields[name].metadata.get("label", name)) for name in differing if name in schema_fields],
        custom_keys=custom_keys,
        custom_label=lambda key: field_label(custom_fields[key], key) if key in custom_fields else key,
        counts={"a": related_counts(kind, record), "b": related_counts(kind, other)},
        users=users,
        show=_merge_value,
        **template_helpers(),
    )


def _merge_value(name: str, value: Any, users: dict[int, str]) -> str:
    if value is None or value == "":
        return "—"
    if name == "owner_id":
        return users.get(value, f"#{value}")
    if name == "lifecycle_stage":
        return label_of(LIFECYCLE_STAGES, value)
    if name == "partner_type":
        return label_of(PARTNER_TYPES, value)
    return str(value)


def _merge_search(kind: str, record: Any) -> Any:
    """Pick the other record: likely duplicates first, or search by name."""
    model = Contact if kind == "contact" else Company
    query = (request.args.get("q") or "").strip()[:100]
    candidates: list[Any] = []
    if query:
        statement = select(model).where(model.name.contains(query, autoescape=True), model.id != record.id)
        statement = scoped(statement, f"contacts.{kind}.edit", model=model).order_by(model.name, model.id).limit(20)
        candidates = list(db.session.scalars(statement))
    elif kind == "contact":
        matches = contact_duplicates(
            record.name,
            [row.email for row in record.emails],
            [row.number for row in record.phones],
            [row.company_id for row in record.memberships],
            exclude_id=record.id,
        )
        candidates = [row for row, _reasons in matches.visible]
    else:
        matches = company_duplicates(record.name, record.tax_id, record.phone, exclude_id=record.id)
        candidates = [row for row, _reasons in matches.visible]
    return render(
        "contacts/merge_pick.html", kind=kind, record=record, query=query, candidates=candidates, **template_helpers()
    )
