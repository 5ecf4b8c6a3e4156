"""Helpers shared by the administration pages: pagination, choices, memberships and the superuser guard."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from flask import abort, current_app, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import Select, func, or_, select

from core import db
from core.models import Department, DepartmentGroup, Group, User, UserDepartment, UserGroup

MAX_PAGE = 100_000


# ------------------------------------------------------------------------------------------- pages


def url_with(**changes: Any) -> str:
    """The current page's URL with some query arguments changed (``None`` removes one)."""
    args = request.args.to_dict()
    args.update(changes)
    args = {key: value for key, value in args.items() if value not in (None, "")}
    return url_for(request.endpoint, **(request.view_args or {}), **args)


@dataclass
class Page:
    """One page of a list, in the shape the ``pager()`` macro expects."""

    items: list[Any]
    number: int
    has_next: bool
    total: int | None = None

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @property
    def prev_url(self) -> str:
        return url_with(page=self.number - 1 if self.number > 2 else None)

    @property
    def next_url(self) -> str:
        return url_with(page=self.number + 1)


def page_size() -> int:
    return int(current_app.config["PAGE_SIZE"])


def page_number() -> int:
    number = request.args.get("page", 1, type=int) or 1
    return max(1, min(number, MAX_PAGE))


def paginate(statement: Select, count: bool = False) -> Page:
    """Run ``statement`` for the requested page (one query, plus one for the total when ``count``)."""
    size, number = page_size(), page_number()
    rows = list(db.session.scalars(statement.limit(size + 1).offset((number - 1) * size)))
    total = None
    if count:
        total = db.session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    return Page(rows[:size], number, len(rows) > size, total)


def paginate_list(items: Sequence[Any]) -> Page:
    """Paginate a short list that is already in memory (installed modules)."""
    size, number = page_size(), page_number()
    start = (number - 1) * size
    return Page(list(items[start : start + size]), number, len(items) > start + size, len(items))


# ----------------------------------------------------------------------------------------- lookups


def get_or_404(model: type, ident: int) -> Any:
    """A row of the current tenant by primary key, through a query so the tenant guard always applies."""
    row = db.session.scalar(select(model).where(model.id == ident))
    if row is None:
        abort(404)
    return row


def pairs(statement: Select) -> dict[Any, Any]:
    """Run a two-column select and return its rows as a dict (first column -> second)."""
    return {row[0]: row[1] for row in db.session.execute(statement)}


def name_taken(model: type, name: str, exclude_id: int | None = None) -> bool:
    """Whether another row of ``model`` in this tenant has ``name`` (compared case-insensitively)."""
    statement = select(model.id).where(func.lower(model.name) == name.strip().lower())
    if exclude_id is not None:
        statement = statement.where(model.id != exclude_id)
    return db.session.scalar(statement) is not None


def group_choices() -> list[tuple[int, str]]:
    return [(row.id, row.name) for row in db.session.execute(select(Group.id, Group.name).order_by(Group.name))]


def department_choices() -> list[tuple[int, str]]:
    rows = db.session.execute(select(Department.id, Department.name).order_by(Department.name))
    return [(row.id, row.name) for row in rows]


def user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email.strip().lower()))


def groups_of_users(user_ids: Iterable[int]) -> dict[int, list[tuple[int, str]]]:
    """``user_id`` -> [(group id, group name)] of the groups each user is directly in (one query)."""
    ids = list(user_ids)
    result: dict[int, list[tuple[int, str]]] = defaultdict(list)
    if ids:
        rows = db.session.execute(
            select(UserGroup.user_id, Group.id, Group.name)
            .join(Group, Group.id == UserGroup.group_id)
            .where(UserGroup.user_id.in_(ids))
            .order_by(Group.name)
        )
        for row in rows:
            result[row.user_id].append((row.id, row.name))
    return result


def departments_of_users(user_ids: Iterable[int]) -> dict[int, list[tuple[int, str]]]:
    """``user_id`` -> [(department id, department name)] (one query)."""
    ids = list(user_ids)
    result: dict[int, list[tuple[int, str]]] = defaultdict(list)
    if ids:
        rows = db.session.execute(
            select(UserDepartment.user_id, Department.id, Department.name)
            .join(Department, Department.id == UserDepartment.department_id)
            .where(UserDepartment.user_id.in_(ids))
            .order_by(Department.name)
        )
        for row in rows:
            result[row.user_id].append((row.id, row.name))
    return result


# ------------------------------------------------------------------------------------ superusers


def active_superuser_ids() -> set[int]:
    """Active users of the current tenant in a superuser group, directly or through a department."""
    direct = select(UserGroup.user_id).join(Group, Group.id == UserGroup.group_id).where(Group.is_superuser.is_(True))
    through = (
        select(UserDepartment.user_id)
        .join(DepartmentGroup, DepartmentGroup.department_id == UserDepartment.department_id)
        .join(Group, Group.id == DepartmentGroup.group_id)
        .where(Group.is_superuser.is_(True))
    )
    statement = select(User.id).where(User.active.is_(True), or_(User.id.in_(direct), User.id.in_(through)))
    return set(db.session.scalars(statement))


class SuperuserGuard:
    """Refuses a change that leaves the tenant without an active superuser, or lets a non-superuser make one.

    Create it before changing anything, make the changes in the session, then ask ``problem()``: it flushes
    and compares. On a problem the caller rolls back.
    """

    def __init__(self) -> None:
        self.before = active_superuser_ids()
        self.actor_is_superuser = current_user.id in self.before

    def problem(self) -> str | None:
        db.session.flush()
        after = active_superuser_ids()
        if self.before and not after:
            return _(
                "Refused: afterwards no active user would be in a superuser group, and nobody could administer "
                "this workspace any more."
            )
        if self.before and not self.actor_is_superuser and after - self.before:
            return _("Only a member of a superuser group can give someone superuser rights.")
        return None


# ----------------------------------------------------------------------------------- memberships


def add_member(link: type[UserGroup] | type[UserDepartment], owner: dict[str, int], form: Any) -> User | None:
    """Add the user a ``MemberForm`` names to a group or a department: ``link`` is ``UserGroup`` or
    ``UserDepartment``, ``owner`` its column naming the group or department (``{"group_id": 3}``). On a problem
    (no such user, already a member, the superuser guard) the message goes next to the e-mail field, the session is
    as before, and None is returned; else the member, whom the caller records and commits."""
    user = user_by_email(form.email.data)
    if user is None:
        form.email.errors.append(_("There is no user with this e-mail here."))
        return None
    ((column, owner_id),) = owner.items()
    if db.session.scalar(select(link.id).where(link.user_id == user.id, getattr(link, column) == owner_id)):
        form.email.errors.append(_("%(name)s is already a member.", name=user.display_name))
        return None
    guard = SuperuserGuard()
    db.session.add(link(user_id=user.id, **owner))
    problem = guard.problem()
    if problem:
        db.session.rollback()
        form.email.errors.append(problem)
        return None
    return user


def remove_member(link: type[UserGroup] | type[UserDepartment], owner: dict[str, int], user: User) -> bool:
    """Remove ``user`` from a group or department (see :func:`add_member`); True when removed (the caller records
    and commits), False when the user was not a member or the superuser guard refused (its message is flashed)."""
    ((column, owner_id),) = owner.items()
    row = db.session.scalar(select(link).where(link.user_id == user.id, getattr(link, column) == owner_id))
    return row is not None and delete_guarded(row)


def delete_guarded(row: Any) -> bool:
    """Delete a membership or a link of groups unless the superuser guard refuses (its message is flashed and the
    session is as before); True when deleted (the caller records and commits)."""
    guard = SuperuserGuard()
    db.session.delete(row)
    problem = guard.problem()
    if problem:
        db.session.rollback()
        flash(problem, "error")
        return False
    return True
