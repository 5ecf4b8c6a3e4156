"""Permissions, grants and record scopes.

A grant is (group, permission, scope). A user holds the grants of the groups they are in directly and of the
groups linked to their departments; the widest scope wins. ``scoped()`` turns the user's scope into SQL so
lists, counts, search, export and the API paginate correctly however many rows a tenant has.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import abort, current_app, g, has_request_context, redirect, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import Select, false, or_, select

from core import db
from core.contributions import Permission
from core.models import Department, DepartmentGroup, Grant, Group, Tenant, User, UserDepartment, UserGroup
from core.models.permissions import SCOPE_RANK, SCOPES

F = TypeVar("F", bound=Callable[..., Any])

ROLES = ("administrators", "sales", "service", "marketing", "readonly")

SCOPE_LABELS = {
    "none": _l("No access"),
    "own": _l("Own records"),
    "department": _l("Own departments' records"),
    "all": _l("All records"),
}


# ------------------------------------------------------------------------------------------ registry


def registry() -> dict[str, Permission]:
    """Every permission declared by core and the installed plugins, by name."""
    return current_app.extensions["crm.permissions"]


def permissions_of(plugin: str) -> list[Permission]:
    owners = current_app.extensions["crm.plugins"].owners.permissions
    return [perm for name, perm in registry().items() if owners.get(name) == plugin]


# ---------------------------------------------------------------------------------- effective grants


@dataclass
class GrantPath:
    """One way a user holds a permission: grant -> group -> (directly | through a department)."""

    permission: str
    scope: str
    group_id: int
    group_name: str
    department_id: int | None = None
    department_name: str | None = None
    superuser: bool = False


@dataclass
class EffectiveGrants:
    user_id: int
    department_ids: frozenset[int]
    paths: list[GrantPath] = field(default_factory=list)
    superuser: bool = False

    @functools.cached_property
    def scopes(self) -> dict[str, str]:
        best: dict[str, str] = {}
        for path in self.paths:
            if SCOPE_RANK[path.scope] > SCOPE_RANK.get(best.get(path.permission, ""), 0):
                best[path.permission] = path.scope
        return best

    def scope(self, permission: str) -> str | None:
        if self.superuser and permission in registry():
            return "all"
        return self.scopes.get(permission)


def load_grants(user: User) -> EffectiveGrants:
    """Two queries: grants through direct groups, grants through departments' groups."""
    department_rows = db.session.execute(
        select(Department.id, Department.name)
        .join(UserDepartment, UserDepartment.department_id == Department.id)
        .where(UserDepartment.user_id == user.id)
    ).all()
    departments = {row.id: row.name for row in department_rows}
    result = EffectiveGrants(user_id=user.id, department_ids=frozenset(departments))

    direct = db.session.execute(
        select(Group.id, Group.name, Group.is_superuser, Grant.permission, Grant.scope)
        .join(UserGroup, UserGroup.group_id == Group.id)
        .outerjoin(Grant, Grant.group_id == Group.id)
        .where(UserGroup.user_id == user.id)
    ).all()
    for row in direct:
        _add_path(result, row, None, None)
    if departments:
        via = db.session.execute(
            select(
                Group.id,
                Group.name,
                Group.is_superuser,
                Grant.permission,
                Grant.scope,
                DepartmentGroup.department_id,
            )
            .join(DepartmentGroup, DepartmentGroup.group_id == Group.id)
            .outerjoin(Grant, Grant.group_id == Group.id)
            .where(DepartmentGroup.department_id.in_(departments))
        ).all()
        for row in via:
            _add_path(result, row, row.department_id, departments[row.department_id])
    return result


def _add_path(result: EffectiveGrants, row: Any, department_id: int | None, department_name: str | None) -> None:
    if row.is_superuser:
        result.superuser = True
        result.paths.append(GrantPath("*", "all", row.id, row.name, department_id, department_name, superuser=True))
    if row.permission is not None and row.scope in SCOPE_RANK:
        result.paths.append(GrantPath(row.permission, row.scope, row.id, row.name, department_id, department_name))


# Users' grants while cached_grants() lasts (outside a request), by user id.
_cached_grants: ContextVar[dict[int, EffectiveGrants] | None] = ContextVar("crm_cached_grants", default=None)


@contextmanager
def cached_grants() -> Iterator[None]:
    """Within the block each user's grants are loaded once, as within a request: for a job such as an import,
    which asks for them batch after batch."""
    token = _cached_grants.set({})
    try:
        yield
    finally:
        _cached_grants.reset(token)


def grants_of(user: User) -> EffectiveGrants:
    """The user's effective grants, computed once per request (or :func:`cached_grants` block)."""
    cache = g.setdefault("crm_grants", {}) if has_request_context() else _cached_grants.get()
    if cache is None:
        return load_grants(user)
    if user.id not in cache:
        cache[user.id] = load_grants(user)
    return cache[user.id]


def _user(user: User | None) -> User | None:
    if user is not None:
        return user
    if has_request_context() and current_user.is_authenticated:
        return current_user._get_current_object()
    return None


def scope_for(permission: str, user: User | None = None) -> str | None:
    """The widest scope the user holds ``permission`` with, or ``None``."""
    user = _user(user)
    if user is None or not user.active:
        return None
    return grants_of(user).scope(permission)


def has_permission(permission: str, user: User | None = None) -> bool:
    return scope_for(permission, user) is not None


# ------------------------------------------------------------------------------------- record scopes


def scope_columns(model: type) -> tuple[Any, Any]:
    """The owner and department columns a model names with ``__owner_column__``/``__department_column__``."""
    owner = getattr(model, "__owner_column__", None)
    department = getattr(model, "__department_column__", None)
    return (
        getattr(model, owner) if owner else None,
        getattr(model, department) if department else None,
    )


def scope_criterion(model: type, scope: str | None, user: User | None) -> Any:
    """The SQL condition selecting the rows of ``model`` that ``scope`` lets ``user`` reach."""
    if scope is None or user is None:
        return false()
    owner, department = scope_columns(model)
    if scope == "all" or (owner is None and department is None):
        return None
    conditions = []
    if owner is not None:
        conditions.append(owner == user.id)
    if scope == "department" and department is not None:
        department_ids = grants_of(user).department_ids
        if department_ids:
            conditions.append(department.in_(department_ids))
    return or_(*conditions) if conditions else false()


def scoped(statement: Select, permission: str, user: User | None = None, model: type | None = None) -> Select:
    """Restrict ``statement`` to the rows the user may reach with ``permission``, in SQL."""
    user = _user(user)
    if model is None:
        model = statement.column_descriptions[0]["entity"]
    criterion = scope_criterion(model, scope_for(permission, user), user)
    return statement if criterion is None else statement.where(criterion)


def can(permission: str, obj: Any = None, user: User | None = None) -> bool:
    """Whether the user holds ``permission`` (for ``obj``, whether the scope reaches that record)."""
    user = _user(user)
    scope = scope_for(permission, user)
    if scope is None:
        return False
    if obj is None or scope == "all":
        return True
    return _in_scope(obj, scope, user)


def _in_scope(obj: Any, scope: str, user: User) -> bool:
    owner_name = getattr(type(obj), "__owner_column__", None)
    department_name = getattr(type(obj), "__department_column__", None)
    if owner_name is None and department_name is None:
        return True
    if owner_name and getattr(obj, owner_name) == user.id:
        return True
    if scope == "department" and department_name:
        return getattr(obj, department_name) in grants_of(user).department_ids
    return False


# --------------------------------------------------------------------------------------- explanation


@dataclass
class Explanation:
    """Why a user can (or cannot) use a permission, optionally on one record."""

    user: User
    permission: str
    known: bool
    decision: bool
    scope: str | None
    paths: list[dict[str, Any]]
    reasons: list[str]


def explain(user: User, permission: str, obj: Any = None) -> Explanation:
    """The chain of grant, group, department and scope that decides access, as data for the admin page."""
    from flask_babel import gettext as _

    grants = load_grants(user)
    reasons: list[str] = []
    known = permission in registry()
    if not user.active:
        reasons.append(_("The account is deactivated: it holds no permission."))
    if not known:
        reasons.append(_("No installed module declares the permission %(name)s.", name=permission))
    paths = []
    for path in grants.paths:
        if path.permission not in (permission, "*") or (path.superuser and not known):
            continue
        reaches = obj is None or path.scope == "all" or _in_scope(obj, path.scope, user)
        paths.append(
            {
                "group": path.group_name,
                "group_id": path.group_id,
                "department": path.department_name,
                "department_id": path.department_id,
                "scope": path.scope,
                "superuser": path.superuser,
                "reaches_record": reaches,
            }
        )
    decision = user.active and known and any(p["reaches_record"] for p in paths)
    scope = grants.scope(permission) if user.active else None
    if user.active and known and not paths:
        reasons.append(_("No group of this user, direct or through a department, grants %(name)s.", name=permission))
    if obj is not None and paths and not decision:
        owner_name = getattr(type(obj), "__owner_column__", None)
        department_name = getattr(type(obj), "__department_column__", None)
        reasons.append(
            _(
                "The record belongs to user #%(owner)s in department #%(department)s, outside the widest scope "
                "held (%(scope)s).",
                scope=str(SCOPE_LABELS.get(scope or "none", scope)).lower() if scope else "-",
                owner=getattr(obj, owner_name) if owner_name else "-",
                department=getattr(obj, department_name) if department_name else "-",
            )
        )
    return Explanation(user, permission, known, bool(decision), scope, paths, reasons)


# ------------------------------------------------------------------------------------ view decorators


def _mark(view: F, **attrs: Any) -> F:
    for key, value in attrs.items():
        setattr(view, key, value)
    return view


def requires(permission: str) -> Callable[[F], F]:
    """Declare the permission a view needs: anonymous users go to the login page, others get 403."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return redirect(url_for("accounts.login", next=request.full_path))
            if not has_permission(permission):
                abort(403)
            return view(*args, **kwargs)

        return _mark(wrapper, crm_permission=permission)

    return decorator


def authenticated(view: F) -> F:
    """Declare that any signed-in user of the tenant may use the view."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return redirect(url_for("accounts.login", next=request.full_path))
        return view(*args, **kwargs)

    return _mark(wrapper, crm_permission="authenticated")


def public(view: F) -> F:
    """Declare that the view needs no sign-in (login page, password reset, web forms)."""
    return _mark(view, crm_public=True)


def view_policy(view: Callable[..., Any]) -> str | None:
    """``"public"``, ``"authenticated"``, a permission name, or ``None`` when the view declared nothing."""
    if getattr(view, "crm_public", False):
        return "public"
    return getattr(view, "crm_permission", None)


# ------------------------------------------------------------------------------------ default grants


def seed_default_grants(tenant: Tenant, plugins: Iterable[str] | None = None) -> None:
    """Give the built-in role groups the scopes plugins suggest for their permissions."""
    owners = current_app.extensions["crm.plugins"].owners.permissions
    wanted = set(plugins) if plugins is not None else None
    groups = {grp.role: grp for grp in db.session.scalars(select(Group).where(Group.role.is_not(None))) if grp.role}
    existing = {(row.group_id, row.permission) for row in db.session.execute(select(Grant.group_id, Grant.permission))}
    for name, perm in registry().items():
        if wanted is not None and owners.get(name) not in wanted:
            continue
        for role, scope in perm.defaults.items():
            group = groups.get(role)
            if group is None or scope not in SCOPES or (group.id, name) in existing:
                continue
            db.session.add(Grant(tenant_id=tenant.id, group_id=group.id, permission=name, scope=scope))
    db.session.flush()
