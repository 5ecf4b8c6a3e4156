"""Groups: list, create, edit, delete, the grant editor and the members."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from flask import current_app, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select, union
from wtforms import SelectField

from core import db
from core.audit import record
from core.contributions import Permission
from core.models import Department, DepartmentGroup, Grant, Group, User, UserDepartment, UserGroup
from core.models.permissions import SCOPES
from core.permissions import SCOPE_LABELS, registry, requires
from core.plugins import CORE
from core.themes import render
from core.views.admin import bp
from core.views.admin.common import SuperuserGuard, add_member, get_or_404, name_taken, paginate, pairs, remove_member
from core.views.admin.forms import UNSCOPED_LABELS, GroupForm, MemberForm, PostForm

PERMISSION = "admin.groups.manage"


def effective_member_counts(group_ids: list[int]) -> dict[int, int]:
    """Distinct members of each group, directly or through a linked department (one query)."""
    if not group_ids:
        return {}
    direct = select(UserGroup.group_id.label("group_id"), UserGroup.user_id.label("user_id")).where(
        UserGroup.group_id.in_(group_ids)
    )
    through = (
        select(DepartmentGroup.group_id.label("group_id"), UserDepartment.user_id.label("user_id"))
        .join(UserDepartment, UserDepartment.department_id == DepartmentGroup.department_id)
        .where(DepartmentGroup.group_id.in_(group_ids))
    )
    members = union(direct, through).subquery()
    rows = db.session.execute(select(members.c.group_id, func.count()).group_by(members.c.group_id))
    return {row[0]: row[1] for row in rows}


@bp.route("/groups")
@requires(PERMISSION)
def groups() -> Any:
    page = paginate(select(Group).order_by(Group.name, Group.id), count=True)
    ids = [group.id for group in page.items]
    grant_counts: dict[int, int] = {}
    linked: dict[int, list[tuple[int, str]]] = defaultdict(list)
    if ids:
        grant_counts = pairs(
            select(Grant.group_id, func.count(Grant.id)).where(Grant.group_id.in_(ids)).group_by(Grant.group_id)
        )
        rows = db.session.execute(
            select(DepartmentGroup.group_id, Department.id, Department.name)
            .join(Department, Department.id == DepartmentGroup.department_id)
            .where(DepartmentGroup.group_id.in_(ids))
            .order_by(Department.name)
        )
        for row in rows:
            linked[row.group_id].append((row.id, row.name))
    return render(
        "core/admin/groups.html",
        page=page,
        members=effective_member_counts(ids),
        grant_counts=grant_counts,
        linked=linked,
    )


@bp.route("/groups/new", methods=["GET", "POST"])
@requires(PERMISSION)
def group_new() -> Any:
    form = GroupForm()
    if form.validate_on_submit():
        if name_taken(Group, form.name.data):
            form.name.errors.append(_("A group with this name already exists."))
        else:
            guard = SuperuserGuard()
            group = Group(
                name=form.name.data.strip(),
                description=(form.description.data or "").strip(),
                is_superuser=form.is_superuser.data,
            )
            db.session.add(group)
            problem = guard.problem()
            if problem:  # a new group has no members, so this cannot happen; kept for symmetry
                db.session.rollback()
                form.is_superuser.errors.append(problem)
            else:
                db.session.commit()
                flash(_("The group %(name)s is created. Now choose its permissions.", name=group.name), "success")
                return redirect(url_for("admin.group_permissions", group_id=group.id))
    status = 400 if form.is_submitted() else 200
    return render("core/admin/group_form.html", form=form, group=None), status


def _linked_departments(group: Group) -> list[Any]:
    return list(
        db.session.execute(
            select(Department.id, Department.name)
            .join(DepartmentGroup, DepartmentGroup.department_id == Department.id)
            .where(DepartmentGroup.group_id == group.id)
            .order_by(Department.name)
        )
    )


@bp.route("/groups/<int:group_id>", methods=["GET", "POST"])
@requires(PERMISSION)
def group_edit(group_id: int) -> Any:
    group = get_or_404(Group, group_id)
    form = GroupForm(obj=group)
    if form.validate_on_submit():
        if name_taken(Group, form.name.data, exclude_id=group.id):
            form.name.errors.append(_("A group with this name already exists."))
        else:
            guard = SuperuserGuard()
            was_superuser = group.is_superuser
            group.name = form.name.data.strip()
            group.description = (form.description.data or "").strip()
            group.is_superuser = form.is_superuser.data
            problem = guard.problem()
            if problem:
                db.session.rollback()
                form.is_superuser.errors.append(problem)
            else:
                if was_superuser != group.is_superuser:
                    record(
                        "grant_changed",
                        group.name,
                        changes={"is_superuser": [was_superuser, group.is_superuser]},
                    )
                db.session.commit()
                flash(_("The group %(name)s is saved.", name=group.name), "success")
                return redirect(url_for("admin.group_edit", group_id=group.id))
    status = 400 if form.is_submitted() else 200
    return (
        render(
            "core/admin/group_form.html",
            form=form,
            group=group,
            departments=_linked_departments(group),
            members=effective_member_counts([group.id]).get(group.id, 0),
        ),
        status,
    )


@bp.route("/groups/<int:group_id>/delete", methods=["POST"])
@requires(PERMISSION)
def group_delete(group_id: int) -> Any:
    group = get_or_404(Group, group_id)
    guard = SuperuserGuard()
    name = group.name
    # Delete the dependent rows through the ORM so each removal is audited.
    for model in (Grant, UserGroup, DepartmentGroup):
        for row in db.session.scalars(select(model).where(model.group_id == group.id)):
            db.session.delete(row)
    db.session.delete(group)
    problem = guard.problem()
    if problem:
        db.session.rollback()
        flash(problem, "error")
        return redirect(url_for("admin.group_edit", group_id=group_id))
    record("grant_changed", name, changes={"group": [name, None]})
    db.session.commit()
    flash(_("The group %(name)s is deleted.", name=name), "success")
    return redirect(url_for("admin.groups"))


# ------------------------------------------------------------------------------------- grant editor


def grant_field(permission: str) -> str:
    return "grant-" + permission


def permission_sections() -> list[dict[str, Any]]:
    """Every registered permission grouped by the plugin that owns it: core first, then install order."""
    host = current_app.extensions["crm.plugins"]
    owners = host.owners.permissions
    by_plugin: dict[str, list[Permission]] = defaultdict(list)
    for name, permission in registry().items():
        by_plugin[owners.get(name, CORE)].append(permission)
    sections = []
    for plugin in [CORE, *host.plugins]:
        permissions = sorted(by_plugin.get(plugin, []), key=lambda p: p.name)
        if not permissions:
            continue
        sections.append(
            {
                "plugin": plugin,
                "title": _("Core") if plugin == CORE else host.plugins[plugin].title,
                "enabled": plugin == CORE or plugin in g.enabled_plugins,
                "permissions": permissions,
            }
        )
    return sections


def scope_choices(permission: Permission) -> list[tuple[str, Any]]:
    if permission.scoped:
        return [(scope, SCOPE_LABELS[scope]) for scope in ("none", *SCOPES)]
    return list(UNSCOPED_LABELS.items())


def grants_form(sections: list[dict[str, Any]], current: dict[str, str]) -> PostForm:
    """A form with one select per permission, named ``grant-<permission>``."""
    permissions = [permission for section in sections for permission in section["permissions"]]
    fields = {
        grant_field(permission.name): SelectField(permission.label, default=current.get(permission.name, "none"))
        for permission in permissions
    }
    form = type("GrantsForm", (PostForm,), fields)()
    for permission in permissions:
        form[grant_field(permission.name)].choices = scope_choices(permission)
    return form


@bp.route("/groups/<int:group_id>/permissions", methods=["GET", "POST"])
@requires(PERMISSION)
def group_permissions(group_id: int) -> Any:
    group = get_or_404(Group, group_id)
    existing = {
        grant.permission: grant for grant in db.session.scalars(select(Grant).where(Grant.group_id == group.id))
    }
    sections = permission_sections()
    form = grants_form(sections, {name: grant.scope for name, grant in existing.items()})
    if not group.is_superuser and form.validate_on_submit():
        changes: dict[str, list[Any]] = {}
        for name in registry():
            wanted = form[grant_field(name)].data
            grant = existing.get(name)
            if wanted == "none":
                if grant is not None:
                    changes[name] = [grant.scope, None]
                    db.session.delete(grant)
            elif grant is None:
                db.session.add(Grant(group_id=group.id, permission=name, scope=wanted))
                changes[name] = [None, wanted]
            elif grant.scope != wanted:
                changes[name] = [grant.scope, wanted]
                grant.scope = wanted
        if changes:
            record("grant_changed", group.name, changes=changes)
            db.session.commit()
            flash(_("The permissions of %(name)s are saved.", name=group.name), "success")
        else:
            flash(_("Nothing changed."), "info")
        return redirect(url_for("admin.group_permissions", group_id=group.id))
    status = 400 if form.is_submitted() and not group.is_superuser else 200
    return (
        render(
            "core/admin/group_permissions.html",
            group=group,
            form=form,
            sections=sections,
            grant_field=grant_field,
        ),
        status,
    )


# ------------------------------------------------------------------------------------------ members


def _members_page(group: Group, form: MemberForm, status: int = 200) -> Any:
    page = paginate(
        select(User)
        .join(UserGroup, UserGroup.user_id == User.id)
        .where(UserGroup.group_id == group.id)
        .order_by(User.name, User.email, User.id),
        count=True,
    )
    return (
        render(
            "core/admin/group_members.html",
            group=group,
            page=page,
            form=form,
            departments=_linked_departments(group),
        ),
        status,
    )


@bp.route("/groups/<int:group_id>/members", methods=["GET", "POST"])
@requires(PERMISSION)
def group_members(group_id: int) -> Any:
    group = get_or_404(Group, group_id)
    form = MemberForm()
    if form.validate_on_submit():
        user = add_member(UserGroup, {"group_id": group.id}, form)
        if user is not None:
            record("membership_changed", user.email, changes={"groups": [None, group.name]})
            db.session.commit()
            flash(_("%(user)s is now in %(group)s.", user=user.display_name, group=group.name), "success")
            return redirect(url_for("admin.group_members", group_id=group.id))
    status = 400 if form.is_submitted() else 200
    return _members_page(group, form, status)


@bp.route("/groups/<int:group_id>/members/<int:user_id>/remove", methods=["POST"])
@requires(PERMISSION)
def group_member_remove(group_id: int, user_id: int) -> Any:
    group = get_or_404(Group, group_id)
    user = get_or_404(User, user_id)
    if remove_member(UserGroup, {"group_id": group.id}, user):
        record("membership_changed", user.email, changes={"groups": [group.name, None]})
        db.session.commit()
        flash(_("%(user)s is no longer in %(group)s.", user=user.display_name, group=group.name), "success")
    return redirect(url_for("admin.group_members", group_id=group.id, page=request.args.get("page")))
