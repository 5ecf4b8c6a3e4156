"""Departments: list, create, edit, delete, linked groups (members inherit their grants) and members."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from core import db
from core.audit import record
from core.models import Department, DepartmentGroup, Group, User, UserDepartment
from core.permissions import requires
from core.themes import render
from core.views.admin import bp
from core.views.admin.common import (
    SuperuserGuard,
    add_member,
    delete_guarded,
    get_or_404,
    name_taken,
    paginate,
    pairs,
    remove_member,
)
from core.views.admin.forms import DepartmentForm, LinkForm, MemberForm

PERMISSION = "admin.groups.manage"


def _linked_groups(department_ids: list[int]) -> dict[int, list[Any]]:
    """``department_id`` -> rows (id, name, is_superuser) of its linked groups (one query)."""
    result: dict[int, list[Any]] = defaultdict(list)
    if department_ids:
        rows = db.session.execute(
            select(DepartmentGroup.department_id, Group.id, Group.name, Group.is_superuser)
            .join(Group, Group.id == DepartmentGroup.group_id)
            .where(DepartmentGroup.department_id.in_(department_ids))
            .order_by(Group.name)
        )
        for row in rows:
            result[row.department_id].append(row)
    return result


@bp.route("/departments")
@requires(PERMISSION)
def departments() -> Any:
    page = paginate(select(Department).order_by(Department.name, Department.id), count=True)
    ids = [department.id for department in page.items]
    members: dict[int, int] = {}
    if ids:
        members = pairs(
            select(UserDepartment.department_id, func.count(UserDepartment.id))
            .where(UserDepartment.department_id.in_(ids))
            .group_by(UserDepartment.department_id)
        )
    return render("core/admin/departments.html", page=page, members=members, linked=_linked_groups(ids))


@bp.route("/departments/new", methods=["GET", "POST"])
@requires(PERMISSION)
def department_new() -> Any:
    form = DepartmentForm()
    if form.validate_on_submit():
        if name_taken(Department, form.name.data):
            form.name.errors.append(_("A department with this name already exists."))
        else:
            department = Department(name=form.name.data.strip(), description=(form.description.data or "").strip())
            db.session.add(department)
            db.session.commit()
            flash(_("The department %(name)s is created.", name=department.name), "success")
            return redirect(url_for("admin.department_edit", department_id=department.id))
    status = 400 if form.is_submitted() else 200
    return render("core/admin/department_form.html", form=form, department=None), status


def _link_form(linked: list[Any]) -> LinkForm:
    form = LinkForm(prefix="link")
    taken = {row.id for row in linked}
    form.target.choices = [
        (row.id, row.name)
        for row in db.session.execute(select(Group.id, Group.name).order_by(Group.name))
        if row.id not in taken
    ]
    return form


def _department_page(department: Department, form: DepartmentForm, link_form: LinkForm | None, status: int) -> Any:
    linked = _linked_groups([department.id])[department.id]
    link_form = link_form or _link_form(linked)
    members = db.session.scalar(
        select(func.count(UserDepartment.id)).where(UserDepartment.department_id == department.id)
    )
    return (
        render(
            "core/admin/department_form.html",
            form=form,
            department=department,
            linked=linked,
            link_form=link_form,
            members=members,
        ),
        status,
    )


@bp.route("/departments/<int:department_id>", methods=["GET", "POST"])
@requires(PERMISSION)
def department_edit(department_id: int) -> Any:
    department = get_or_404(Department, department_id)
    form = DepartmentForm(obj=department)
    if form.validate_on_submit():
        if name_taken(Department, form.name.data, exclude_id=department.id):
            form.name.errors.append(_("A department with this name already exists."))
        else:
            department.name = form.name.data.strip()
            department.description = (form.description.data or "").strip()
            db.session.commit()
            flash(_("The department %(name)s is saved.", name=department.name), "success")
            return redirect(url_for("admin.department_edit", department_id=department.id))
    return _department_page(department, form, None, 400 if form.is_submitted() else 200)


@bp.route("/departments/<int:department_id>/delete", methods=["POST"])
@requires(PERMISSION)
def department_delete(department_id: int) -> Any:
    department = get_or_404(Department, department_id)
    guard = SuperuserGuard()
    name = department.name
    for model in (DepartmentGroup, UserDepartment):
        for row in db.session.scalars(select(model).where(model.department_id == department.id)):
            db.session.delete(row)
    db.session.delete(department)
    problem = guard.problem()
    if problem:
        db.session.rollback()
        flash(problem, "error")
        return redirect(url_for("admin.department_edit", department_id=department_id))
    record("department_link_changed", name, changes={"department": [name, None]})
    db.session.commit()
    flash(_("The department %(name)s is deleted.", name=name), "success")
    return redirect(url_for("admin.departments"))


@bp.route("/departments/<int:department_id>/groups", methods=["POST"])
@requires(PERMISSION)
def department_link(department_id: int) -> Any:
    department = get_or_404(Department, department_id)
    linked = _linked_groups([department.id])[department.id]
    link_form = _link_form(linked)
    if link_form.validate_on_submit():
        group = get_or_404(Group, link_form.target.data)
        guard = SuperuserGuard()
        db.session.add(DepartmentGroup(department_id=department.id, group_id=group.id))
        problem = guard.problem()
        if problem:
            db.session.rollback()
            link_form.target.errors.append(problem)
        else:
            record("department_link_changed", department.name, changes={"groups": [None, group.name]})
            db.session.commit()
            flash(
                _(
                    "Members of %(department)s now hold the permissions of %(group)s.",
                    department=department.name,
                    group=group.name,
                ),
                "success",
            )
            return redirect(url_for("admin.department_edit", department_id=department.id))
    return _department_page(department, DepartmentForm(formdata=None, obj=department), link_form, 400)


@bp.route("/departments/<int:department_id>/groups/<int:group_id>/unlink", methods=["POST"])
@requires(PERMISSION)
def department_unlink(department_id: int, group_id: int) -> Any:
    department = get_or_404(Department, department_id)
    group = get_or_404(Group, group_id)
    row = db.session.scalar(
        select(DepartmentGroup).where(
            DepartmentGroup.department_id == department.id, DepartmentGroup.group_id == group.id
        )
    )
    if row is not None and delete_guarded(row):
        record("department_link_changed", department.name, changes={"groups": [group.name, None]})
        db.session.commit()
        flash(
            _(
                "Members of %(department)s no longer hold the permissions of %(group)s.",
                department=department.name,
                group=group.name,
            ),
            "success",
        )
    return redirect(url_for("admin.department_edit", department_id=department.id))


def _members_page(department: Department, form: MemberForm, status: int = 200) -> Any:
    page = paginate(
        select(User)
        .join(UserDepartment, UserDepartment.user_id == User.id)
        .where(UserDepartment.department_id == department.id)
        .order_by(User.name, User.email, User.id),
        count=True,
    )
    return (
        render(
            "core/admin/department_members.html",
            department=department,
            page=page,
            form=form,
            linked=_linked_groups([department.id])[department.id],
        ),
        status,
    )


@bp.route("/departments/<int:department_id>/members", methods=["GET", "POST"])
@requires(PERMISSION)
def department_members(department_id: int) -> Any:
    department = get_or_404(Department, department_id)
    form = MemberForm()
    if form.validate_on_submit():
        user = add_member(UserDepartment, {"department_id": department.id}, form)
        if user is not None:
            record("membership_changed", user.email, changes={"departments": [None, department.name]})
            db.session.commit()
            flash(
                _("%(user)s is now in %(department)s.", user=user.display_name, department=department.name),
                "success",
            )
            return redirect(url_for("admin.department_members", department_id=department.id))
    return _members_page(department, form, 400 if form.is_submitted() else 200)


@bp.route("/departments/<int:department_id>/members/<int:user_id>/remove", methods=["POST"])
@requires(PERMISSION)
def department_member_remove(department_id: int, user_id: int) -> Any:
    department = get_or_404(Department, department_id)
    user = get_or_404(User, user_id)
    if remove_member(UserDepartment, {"department_id": department.id}, user):
        record("membership_changed", user.email, changes={"departments": [department.name, None]})
        db.session.commit()
        flash(
            _("%(user)s is no longer in %(department)s.", user=user.display_name, department=department.name),
            "success",
        )
    return redirect(url_for("admin.department_members", department_id=department.id, page=request.args.get("page")))
