"""The audit log: filters, newest first, keyset pagination on (at, id), always limited to this tenant."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask import current_app, g, request, url_for
from flask_babel import get_timezone
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, or_, select

from core import db
from core.models import AuditEntry
from core.permissions import requires
from core.themes import render
from core.views.admin import bp
from core.views.admin.common import page_size, user_by_email
from core.views.admin.forms import AuditFilterForm

ACTIONS = {
    "login": _l("Signed in"),
    "login_failed": _l("Failed sign-in"),
    "logout": _l("Signed out"),
    "create": _l("Created"),
    "update": _l("Changed"),
    "delete": _l("Deleted"),
    "password_set": _l("Password chosen"),
    "password_changed": _l("Password changed"),
    "password_reset_requested": _l("Password reset asked for"),
    "user_invited": _l("User invited"),
    "invitation_resent": _l("Invitation sent again"),
    "membership_changed": _l("Membership changed"),
    "grant_changed": _l("Permissions changed"),
    "department_link_changed": _l("Department's groups changed"),
    "plugin_enabled": _l("Module enabled"),
    "plugin_disabled": _l("Module disabled"),
    "settings_changed": _l("Workspace settings changed"),
}


@dataclass
class Cursor:
    """A position in the log: the (at, id) of an entry."""

    at: dt.datetime
    id: int

    def encode(self) -> str:
        return f"{self.at.astimezone(dt.UTC).strftime('%Y%m%dT%H%M%S.%f')}_{self.id}"

    @classmethod
    def decode(cls, raw: str | None) -> Cursor | None:
        if not raw:
            return None
        try:
            stamp, ident = raw.rsplit("_", 1)
            at = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%S.%f").replace(tzinfo=dt.UTC)
            return cls(at, int(ident))
        except ValueError:
            return None


@dataclass
class KeysetPage:
    """A page of the log in the shape the ``pager()`` macro expects."""

    items: list[AuditEntry]
    has_prev: bool
    has_next: bool
    prev_url: str | None = None
    next_url: str | None = None


def _local_midnight(day: dt.date) -> dt.datetime:
    """The start of ``day`` in the viewer's time zone, as an aware datetime."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=get_timezone())


def _filtered(form: AuditFilterForm) -> Any:
    # AuditEntry is not TenantOwned: the tenant filter is written out here and must never be dropped.
    statement = select(AuditEntry).where(AuditEntry.tenant_id == g.tenant.id)
    if form.user.data:
        email = form.user.data.strip().lower()
        user = user_by_email(email)
        statement = statement.where(AuditEntry.user_id == user.id if user else AuditEntry.actor == email)
    if form.action.data:
        statement = statement.where(AuditEntry.action == form.action.data)
    if form.table.data:
        statement = statement.where(AuditEntry.table_name == form.table.data)
    if form.record_id.data:
        statement = statement.where(AuditEntry.record_id == form.record_id.data.strip())
    if form.date_from.data:
        statement = statement.where(AuditEntry.at >= _local_midnight(form.date_from.data))
    if form.date_to.data:
        statement = statement.where(AuditEntry.at < _local_midnight(form.date_to.data + dt.timedelta(days=1)))
    return statement


def _url(**cursor: str | None) -> str:
    args = {key: value for key, value in request.args.items() if key not in ("before", "after") and value}
    args.update({key: value for key, value in cursor.items() if value})
    return url_for("admin.audit", **args)


def _page(statement: Any) -> KeysetPage:
    size = page_size()
    before = Cursor.decode(request.args.get("before"))
    after = Cursor.decode(request.args.get("after"))
    if after is not None:  # going back towards newer entries: read upwards, then flip
        statement = statement.where(
            or_(AuditEntry.at > after.at, and_(AuditEntry.at == after.at, AuditEntry.id > after.id))
        ).order_by(AuditEntry.at.asc(), AuditEntry.id.asc())
        rows = list(db.session.scalars(statement.limit(size + 1)))
        has_prev, has_next = len(rows) > size, True
        items = list(reversed(rows[:size]))
    else:
        if before is not None:
            statement = statement.where(
                or_(AuditEntry.at < before.at, and_(AuditEntry.at == before.at, AuditEntry.id < before.id))
            )
        statement = statement.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        rows = list(db.session.scalars(statement.limit(size + 1)))
        has_prev, has_next = before is not None, len(rows) > size
        items = rows[:size]
    page = KeysetPage(items, has_prev and bool(items), has_next and bool(items))
    if page.has_next:
        page.next_url = _url(before=Cursor(items[-1].at, items[-1].id).encode())
    if page.has_prev:
        page.prev_url = _url(after=Cursor(items[0].at, items[0].id).encode())
    return page


@bp.route("/audit")
@requires("admin.audit.view")
def audit() -> Any:
    form = AuditFilterForm(formdata=request.args)
    form.action.choices = [("", _l("Any action"))] + [(key, f"{label} ({key})") for key, label in ACTIONS.items()]
    if form.action.data and form.action.data not in ACTIONS:
        form.action.choices.append((form.action.data, form.action.data))
    tables = sorted(current_app.extensions["crm.plugins"].owners.tables)
    form.table.choices = [("", _l("Any table"))] + [(name, name) for name in tables]
    status = 200
    if request.args and not form.validate():
        status = 400
        page = KeysetPage([], False, False)
    else:
        page = _page(_filtered(form))
    newest_url = _url() if page.has_prev else None
    return (
        render("core/admin/audit.html", form=form, page=page, actions=ACTIONS, newest_url=newest_url),
        status,
    )
