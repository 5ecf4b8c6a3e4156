"""The timeline of a contact or company, tasks and their reminders, and in-app notifications.

Entries are :class:`~plugins.contacts.models.Interaction` rows. Lists page with keyset cursors on
``(occurred_at, id)`` (the timeline, newest first), ``(due_at, id)`` (open tasks, soonest first) and
``(created_at, id)`` (notifications, newest first), so a long history costs what a short one does.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from flask import current_app, has_request_context, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import Select, and_, or_, select, update

from core import db
from core.db import utcnow
from core.events import emit
from core.models import User
from core.permissions import scoped

from .models import Company, Contact, Interaction, Notification

PAGE = 20


class CursorError(ValueError):
    """A page link that cannot be read (hand-edited or from an older version)."""


def encode_cursor(when: dt.datetime | None, row_id: int) -> str:
    raw = json.dumps([when.isoformat() if when else None, row_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime | None, int]:
    try:
        raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode())
        when, row_id = json.loads(raw)
        return (dt.datetime.fromisoformat(when) if when else None), int(row_id)
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        raise CursorError(cursor) from exc


@dataclass
class Page:
    items: list[Any]
    next_cursor: str | None


# --------------------------------------------------------------------------------------- the timeline


def timeline_statement(contact_id: int | None = None, company_id: int | None = None) -> Select:
    """Entries of one contact or one company (for a company, also those logged on its people there)."""
    statement = select(Interaction)
    if contact_id is not None:
        return statement.where(Interaction.contact_id == contact_id)
    return statement.where(Interaction.company_id == company_id)


def timeline_page(statement: Select, before: str | None = None, limit: int = PAGE) -> Page:
    """Newest first, ``limit`` at a time; ``before`` is the cursor of the last entry already shown."""
    if before:
        when, row_id = decode_cursor(before)
        statement = statement.where(
            or_(Interaction.occurred_at < when, and_(Interaction.occurred_at == when, Interaction.id < row_id))
        )
    rows = list(
        db.session.scalars(statement.order_by(Interaction.occurred_at.desc(), Interaction.id.desc()).limit(limit + 1))
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(rows[-1].occurred_at, rows[-1].id) if more and rows else None)


def _department_of(contact_id: int | None, company_id: int | None) -> int | None:
    if contact_id is not None:
        return db.session.scalar(select(Contact.department_id).where(Contact.id == contact_id))
    if company_id is not None:
        return db.session.scalar(select(Company.department_id).where(Company.id == company_id))
    return None


def add_entry(
    kind: str,
    *,
    contact_id: int | None = None,
    company_id: int | None = None,
    subject: str = "",
    body: str | None = None,
    occurred_at: dt.datetime | None = None,
    user_id: int | None = None,
    outcome: str | None = None,
    duration_minutes: int | None = None,
    due_at: dt.datetime | None = None,
    assignee_id: int | None = None,
    remind_at: dt.datetime | None = None,
    source: str | None = None,
    url: str | None = None,
) -> Interaction:
    """Add one entry (the caller commits). An entry on a contact also shows on the contact's first company.

    A task assigned to someone other than its author notifies the assignee.
    """
    if contact_id is None and company_id is None:
        raise ValueError("a timeline entry belongs to a contact or a company")
    if contact_id is not None and company_id is None:
        company_id = db.session.scalar(select(Contact.company_id).where(Contact.id == contact_id))
    entry = Interaction(
        kind=kind,
        subject=(subject or "")[:200],
        body=body or None,
        occurred_at=occurred_at or utcnow(),
        contact_id=contact_id,
        company_id=company_id,
        user_id=user_id,
        department_id=_department_of(contact_id, company_id),
        outcome=outcome,
        duration_minutes=duration_minutes,
        source=source,
        url=(url or None) and url[:500],
    )
    if kind == "task":
        entry.due_at = due_at
        entry.assignee_id = assignee_id or user_id
        entry.remind_at = remind_at
        entry.reminder_pending_at = remind_at
    db.session.add(entry)
    db.session.flush()
    emit("contacts.interaction.created", id=entry.id, kind=kind, contact_id=contact_id, company_id=company_id)
    if kind == "task" and entry.assignee_id and entry.assignee_id != user_id:
        _notify_assignment(entry, user_id)
    return entry


# ---------------------------------------------------------------------------------------------- tasks


def path_for(endpoint: str, **values: Any) -> str:
    """``url_for`` that also works in jobs and event handlers, where there is no request."""
    if has_request_context():
        return url_for(endpoint, **values)
    root = current_app.config.get("APPLICATION_ROOT") or "/"
    return current_app.url_map.bind("localhost", script_name=root).build(endpoint, values)


def record_url(entry: Interaction) -> str:
    """The detail page an entry belongs to (its contact's, else its company's)."""
    if entry.contact_id is not None:
        return path_for("contacts_contacts.detail", record_id=entry.contact_id)
    if entry.company_id is not None:
        return path_for("contacts_companies.detail", record_id=entry.company_id)
    return path_for("contacts.tasks")


def _user_locale(user: User | None) -> str:
    from core.tenancy import current_tenant

    tenant = current_tenant()
    return (user.locale if user and user.locale else None) or (tenant.default_locale if tenant else "en")


def notify(user_id: int, kind: str, title: str, url: str | None = None, interaction_id: int | None = None) -> None:
    db.session.add(Notification(user_id=user_id, kind=kind, title=title[:300], url=url, interaction_id=interaction_id))


def _notify_assignment(task: Interaction, by_user_id: int | None) -> None:
    assignee = db.session.get(User, task.assignee_id)
    if assignee is None:
        return
    by = db.session.get(User, by_user_id) if by_user_id else None
    with _locale_of(assignee):
        if by is not None:
            title = _("%(name)s assigned you a task: %(subject)s", name=by.display_name, subject=task.subject)
        else:
            title = _("You were assigned a task: %(subject)s", subject=task.subject)
    notify(assignee.id, "assigned", title, record_url(task), task.id)
    emit("contacts.task.assigned", id=task.id, assignee_id=assignee.id)


@contextlib.contextmanager
def _locale_of(user: User) -> Iterator[None]:
    """Write a notification in its recipient's language."""
    with force_locale(_user_locale(user)):
        yield


def complete(task: Interaction, user_id: int | None) -> None:
    """Mark a task done (its pending reminder is dropped)."""
    if task.done_at is None:
        task.done_at = utcnow()
        task.reminder_pending_at = None
        db.session.flush()
        emit("contacts.task.done", id=task.id, user_id=user_id)


def reopen(task: Interaction) -> None:
    task.done_at = None
    if task.remind_at is not None and task.remind_at > utcnow():
        task.reminder_pending_at = task.remind_at


def reschedule(
    task: Interaction, subject: str, body: str | None, due_at: dt.datetime | None, remind_at: dt.datetime | None
) -> None:
    """Change what a task is and when it is due; a new reminder time is sent again when it comes."""
    task.subject, task.body, task.due_at = subject[:200], body, due_at
    if remind_at != task.remind_at:
        task.remind_at = remind_at
        task.reminder_pending_at = remind_at if task.done_at is None else None


def reminder_offset(task: Interaction) -> str:
    """The reminder choice (minutes before the due time) that gives the task's reminder, or ``""``."""
    if task.remind_at is None or task.due_at is None:
        return ""
    minutes = int((task.due_at - task.remind_at).total_seconds() // 60)
    return str(minutes) if str(minutes) in ("0", "15", "60", "1440") else ""


def reassign(task: Interaction, assignee_id: int, by_user_id: int | None) -> None:
    """Give a task to someone else; they are notified unless they reassigned it to themselves."""
    if task.assignee_id == assignee_id:
        return
    task.assignee_id = assignee_id
    db.session.flush()
    if assignee_id != by_user_id:
        _notify_assignment(task, by_user_id)


def open_tasks_statement(assignee_id: int | None = None, user: Any = None, manage: bool = False) -> Select:
    """Open tasks of one assignee, or (``manage``) every open task the user may manage, soonest first."""
    statement = select(Interaction).where(Interaction.kind == "task", Interaction.done_at.is_(None))
    if manage:
        statement = scoped(statement, "contacts.tasks.manage", user, model=Interaction)
    if assignee_id is not None:
        statement = statement.where(Interaction.assignee_id == assignee_id)
    # Tasks of contacts and companies in the trash stay out of the list until they are restored.
    statement = statement.where(
        or_(Interaction.contact_id.is_(None), Interaction.contact_id.in_(select(Contact.id))),
        or_(Interaction.company_id.is_(None), Interaction.company_id.in_(select(Company.id))),
    )
    return statement


def tasks_page(statement: Select, after: str | None = None, limit: int = 50) -> Page:
    """Open tasks by due time (no due time last), then id; ``after`` is the cursor of the last task shown."""
    if after:
        when, row_id = decode_cursor(after)
        if when is None:
            statement = statement.where(Interaction.due_at.is_(None), Interaction.id > row_id)
        else:
            statement = statement.where(
                or_(
                    Interaction.due_at.is_(None),
                    Interaction.due_at > when,
                    and_(Interaction.due_at == when, Interaction.id > row_id),
                )
            )
    order = (Interaction.due_at.is_(None).asc(), Interaction.due_at.asc(), Interaction.id.asc())
    rows = list(db.session.scalars(statement.order_by(*order).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(rows[-1].due_at, rows[-1].id) if more and rows else None)


def user_zone(user: User | None) -> zoneinfo.ZoneInfo:
    """The user's time zone, else the workspace's, else Taipei's."""
    from core.tenancy import current_tenant

    tenant = current_tenant()
    for name in ((user.timezone if user else None), (tenant.default_timezone if tenant else None), "Asia/Taipei"):
        if name:
            try:
                return zoneinfo.ZoneInfo(name)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                continue
    return zoneinfo.ZoneInfo("UTC")


def group_tasks(
    tasks: Iterable[Interaction], zone: zoneinfo.ZoneInfo, now: dt.datetime | None = None
) -> dict[str, list]:
    """``overdue`` (due on an earlier day), ``today`` and ``upcoming`` (later, or no due date), by local date."""
    today = (now or utcnow()).astimezone(zone).date()
    groups: dict[str, list[Interaction]] = {"overdue": [], "today": [], "upcoming": []}
    for task in tasks:
        if task.due_at is None:
            groups["upcoming"].append(task)
            continue
        day = task.due_at.astimezone(zone).date()
        key = "overdue" if day < today else "today" if day == today else "upcoming"
        groups[key].append(task)
    return groups


def task_counts(user_id: int, zone: zoneinfo.ZoneInfo, now: dt.datetime | None = None) -> dict[str, int]:
    """How many open tasks of the user are overdue and due today (two indexed counts)."""
    from sqlalchemy import func

    now = now or utcnow()
    local = now.astimezone(zone)
    start = dt.datetime.combine(local.date(), dt.time(), tzinfo=zone)
    end = start + dt.timedelta(days=1)
    base = open_tasks_statement(user_id).with_only_columns(func.count(Interaction.id)).order_by(None)
    overdue = db.session.scalar(base.where(Interaction.due_at < start)) or 0
    today = db.session.scalar(base.where(Interaction.due_at >= start, Interaction.due_at < end)) or 0
    return {"overdue": overdue, "today": today}


# ------------------------------------------------------------------------------------------ reminders


def due_reminders_exist(now: dt.datetime | None = None) -> bool:
    """Whether any reminder of the current tenant is due (one indexed lookup)."""
    statement = select(Interaction.id).where(Interaction.reminder_pending_at <= (now or utcnow())).limit(1)
    return db.session.scalar(statement) is not None


def send_due_reminders(now: dt.datetime | None = None, batch: int = 200) -> int:
    """Notify the assignee of every task whose reminder time has come; returns how many were sent.

    Each reminder is claimed with a conditional UPDATE before its notification is written, so two sweeps running
    at once (two workers, a cron job and a request) never send the same reminder twice.
    """
    now = now or utcnow()
    sent = 0
    while True:
        due = list(
            db.session.scalars(
                select(Interaction)
                .where(Interaction.reminder_pending_at <= now)
                .order_by(Interaction.reminder_pending_at, Interaction.id)
                .limit(batch)
            )
        )
        if not due:
            return sent
        for task in due:
            claimed = db.session.execute(
                update(Interaction)
                .where(Interaction.id == task.id, Interaction.reminder_pending_at.is_not(None))
                .values(reminder_pending_at=None)
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1 or task.done_at is not None or task.assignee_id is None:
                continue
            assignee = db.session.get(User, task.assignee_id)
            if assignee is None or not assignee.active:
                continue
            with _locale_of(assignee):
                title = _("Reminder: %(subject)s", subject=task.subject or _("Task"))
            notify(assignee.id, "reminder", title, record_url(task), task.id)
            sent += 1
        db.session.flush()
        db.session.expire_all()
        if len(due) < batch:
            return sent


def sweep_job(job: Any = None) -> dict[str, int]:
    """Job: send the current tenant's due reminders (enqueued by requests at most once a minute per tenant)."""
    sent = send_due_reminders()
    return {"sent": sent}


# -------------------------------------------------------------------------------------- notifications


def notifications_page(user_id: int, before: str | None = None, limit: int = 30) -> Page:
    statement = select(Notification).where(Notification.user_id == user_id)
    if before:
        when, row_id = decode_cursor(before)
        statement = statement.where(
            or_(Notification.created_at < when, and_(Notification.created_at == when, Notification.id < row_id))
        )
    rows = list(
        db.session.scalars(statement.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit + 1))
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None)


def unread_count(user_id: int) -> int:
    from sqlalchemy import func

    statement = select(func.count(Notification.id)).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)
    )
    return db.session.scalar(statement) or 0


def mark_read(user_id: int, notification_id: int | None = None) -> None:
    """Mark one notification (or all) of the user as read."""
    statement = update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    if notification_id is not None:
        statement = statement.where(Notification.id == notification_id)
    db.session.execute(statement.values(read_at=utcnow()).execution_options(synchronize_session=False))
