"""Users: list, invite, edit (optimistic locking), deactivate and reactivate, resend the invitation."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, g, redirect, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm.exc import StaleDataError

from core import db
from core.audit import record
from core.jobs import enqueue
from core.models import Department, Group, User, UserDepartment, UserGroup
from core.permissions import requires
from core.provisioning import ProvisioningError, create_user
from core.themes import render
from core.views.accounts import password_token, tenant_link
from core.views.admin import bp
from core.views.admin.common import (
    SuperuserGuard,
    department_choices,
    departments_of_users,
    get_or_404,
    group_choices,
    groups_of_users,
    paginate,
    pairs,
)
from core.views.admin.forms import InviteForm, UserForm

PERMISSION = "admin.users.manage"
STATUSES = {
    "active": _l("Active"),
    "invited": _l("Invited, no password yet"),
    "inactive": _l("Deactivated"),
}


@bp.route("/users")
@requires(PERMISSION)
def users() -> Any:
    query = request.args.get("q", "").strip()[:200]
    status = request.args.get("status", "")
    statement = select(User).order_by(User.name, User.email, User.id)
    if query:
        needle = query.lower()
        statement = statement.where(
            or_(func.lower(User.name).contains(needle, autoescape=True), User.email.contains(needle, autoescape=True))
        )
    if status == "active":
        statement = statement.where(User.active.is_(True), User.password_hash.is_not(None))
    elif status == "invited":
        statement = statement.where(User.active.is_(True), User.password_hash.is_(None))
    elif status == "inactive":
        statement = statement.where(User.active.is_(False))
    page = paginate(statement, count=True)
    ids = [user.id for user in page.items]
    return render(
        "core/admin/users.html",
        page=page,
        query=query,
        status=status,
        statuses=STATUSES,
        groups=groups_of_users(ids),
        departments=departments_of_users(ids),
    )


def send_invitation(user: User) -> str:
    """Queue the invitation mail for ``user`` and return the link it carries."""
    link = tenant_link("accounts.accept_invitation", token=password_token(user, "invite"))
    days = max(1, int(current_app.config["INVITE_MAX_AGE"]) // 86400)
    with force_locale(user.locale or g.tenant.default_locale):
        subject = _("You are invited to %(tenant)s", tenant=g.tenant.name)
        body = _(
            "%(inviter)s invited you to %(tenant)s, a workspace of the Guanxi CRM.\n\n"
            "Open this link within %(days)s days to choose your password and sign in:\n%(link)s\n\n"
            "Your sign-in e-mail is %(email)s.",
            inviter=current_user.display_name,
            tenant=g.tenant.name,
            days=days,
            link=link,
            email=user.email,
        )
    enqueue(
        "core.mail:send_mail_job",
        name="invitation mail",
        user_id=current_user.id,
        to=user.email,
        subject=subject,
        body=body,
    )
    return link


def _membership_changes(user: User, group_ids: set[int], department_ids: set[int]) -> dict[str, list[Any]]:
    """Make the user's direct groups and departments exactly these; return what changed, by name."""
    groups = pairs(select(Group.id, Group.name))
    departments = pairs(select(Department.id, Department.name))
    changes: dict[str, list[Any]] = {}
    rows = {row.group_id: row for row in db.session.scalars(select(UserGroup).where(UserGroup.user_id == user.id))}
    before = sorted(groups.get(gid, str(gid)) for gid in rows)
    for gid in set(rows) - group_ids:
        db.session.delete(rows[gid])
    for gid in group_ids - set(rows):
        db.session.add(UserGroup(user_id=user.id, group_id=gid))
    after = sorted(groups[gid] for gid in group_ids)
    if before != after:
        changes["groups"] = [before, after]
    links = {
        row.department_id: row
        for row in db.session.scalars(select(UserDepartment).where(UserDepartment.user_id == user.id))
    }
    before = sorted(departments.get(did, str(did)) for did in links)
    for did in set(links) - department_ids:
        db.session.delete(links[did])
    for did in department_ids - set(links):
        db.session.add(UserDepartment(user_id=user.id, department_id=did))
    after = sorted(departments[did] for did in department_ids)
    if before != after:
        changes["departments"] = [before, after]
    return changes


@bp.route("/users/invite", methods=["GET", "POST"])
@requires(PERMISSION)
def user_invite() -> Any:
    form = InviteForm()
    form.groups.choices = group_choices()
    form.departments.choices = department_choices()
    if form.validate_on_submit():
        guard = SuperuserGuard()
        try:
            user = create_user(form.email.data, name=form.name.data or "")
        except ProvisioningError as exc:
            form.email.errors.append(str(exc))
        else:
            changes = _membership_changes(user, set(form.groups.data or []), set(form.departments.data or []))
            problem = guard.problem()
            if problem:
                db.session.rollback()
                form.groups.errors.append(problem)
            else:
                link = send_invitation(user)
                record("user_invited", user.email, changes=changes or None)
                db.session.commit()
                flash(
                    _(
                        "Invitation sent to %(email)s. If the mail does not arrive, give them this link: %(link)s",
                        email=user.email,
                        link=link,
                    ),
                    "success",
                )
                return redirect(url_for("admin.user_edit", user_id=user.id))
    status = 400 if form.is_submitted() else 200
    return render("core/admin/user_invite.html", form=form), status


STALE = _l(
    "Someone else changed this user while you were editing. Your changes were not saved: the form now shows "
    "the current values, so check them and save again."
)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@requires(PERMISSION)
def user_edit(user_id: int) -> Any:
    user = get_or_404(User, user_id)
    current_groups = sorted(db.session.scalars(select(UserGroup.group_id).where(UserGroup.user_id == user.id)))
    current_departments = sorted(
        db.session.scalars(select(UserDepartment.department_id).where(UserDepartment.user_id == user.id))
    )
    form = UserForm(obj=user if request.method == "GET" else None)
    form.groups.choices = group_choices()
    form.departments.choices = department_choices()
    if request.method == "GET":
        form.groups.data = current_groups
        form.departments.data = current_departments
        form.version.data = str(user.version)
    error = None
    status = 200
    if form.validate_on_submit():
        error, status = _save_user(user, form)
        if error is None:
            flash(_("The changes to %(name)s are saved.", name=user.display_name), "success")
            return redirect(url_for("admin.user_edit", user_id=user.id))
        if status == 409:  # show the current state, keep nothing of the stale form
            user = get_or_404(User, user_id)
            form = UserForm(formdata=None, obj=user)
            form.groups.choices = group_choices()
            form.departments.choices = department_choices()
            form.groups.data = sorted(
                db.session.scalars(select(UserGroup.group_id).where(UserGroup.user_id == user.id))
            )
            form.departments.data = sorted(
                db.session.scalars(select(UserDepartment.department_id).where(UserDepartment.user_id == user.id))
            )
            form.version.data = str(user.version)
    elif form.is_submitted():
        status = 400
    return render("core/admin/user_edit.html", user=user, form=form, error=error), status


def _save_user(user: User, form: UserForm) -> tuple[str | None, int]:
    """Apply the form; ``(None, 200)`` on success, else the message and status to show."""
    # Check and bump the version in one statement: of two concurrent saves exactly one wins.
    bumped = db.session.execute(
        update(User).where(User.id == user.id, User.version == int(form.version.data)).values(version=User.version + 1)
    ).rowcount
    if bumped != 1:
        db.session.rollback()
        return str(STALE), 409
    guard = SuperuserGuard()
    user.name = (form.name.data or "").strip()
    user.locale = form.locale.data or None
    user.timezone = form.timezone.data or None
    changes = _membership_changes(user, set(form.groups.data or []), set(form.departments.data or []))
    problem = guard.problem()
    if problem:
        db.session.rollback()
        return problem, 400
    if changes:
        record("membership_changed", user.email, changes=changes)
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        return str(STALE), 409
    return None, 200


@bp.route("/users/<int:user_id>/deactivate", methods=["POST"])
@requires(PERMISSION)
def user_deactivate(user_id: int) -> Any:
    user = get_or_404(User, user_id)
    if user.id == current_user.id:
        flash(_("You cannot deactivate your own account."), "error")
    elif user.active:
        guard = SuperuserGuard()
        user.active = False
        problem = guard.problem()
        if problem:
            db.session.rollback()
            flash(problem, "error")
        else:
            db.session.commit()
            flash(_("%(name)s is deactivated and can no longer sign in.", name=user.display_name), "success")
    return redirect(url_for("admin.user_edit", user_id=user_id))


@bp.route("/users/<int:user_id>/reactivate", methods=["POST"])
@requires(PERMISSION)
def user_reactivate(user_id: int) -> Any:
    user = get_or_404(User, user_id)
    if not user.active:
        guard = SuperuserGuard()
        user.active = True
        user.failed_logins = 0
        user.locked_until = None
        problem = guard.problem()
        if problem:
            db.session.rollback()
            flash(problem, "error")
        else:
            db.session.commit()
            flash(_("%(name)s is active again.", name=user.display_name), "success")
    return redirect(url_for("admin.user_edit", user_id=user_id))


@bp.route("/users/<int:user_id>/resend", methods=["POST"])
@requires(PERMISSION)
def user_resend(user_id: int) -> Any:
    user = get_or_404(User, user_id)
    if not user.active:
        flash(_("Reactivate the account before inviting again."), "error")
    elif user.password_hash:
        flash(_("%(name)s has already chosen a password.", name=user.display_name), "error")
    else:
        link = send_invitation(user)
        record("invitation_resent", user.email)
        db.session.commit()
        flash(
            _(
                "Invitation sent to %(email)s again. If the mail does not arrive, give them this link: %(link)s",
                email=user.email,
                link=link,
            ),
            "success",
        )
    return redirect(url_for("admin.user_edit", user_id=user_id))
