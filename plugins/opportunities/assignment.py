"""Lead assignment rules: who owns a new lead nobody chose an owner for.

Rules are tried in ``position`` order; the first active rule whose source matches (or that takes any source)
decides. ``round_robin`` gives the lead to the next active member of the rule's department (by user id, after
``last_user_id``, wrapping around, skipping deactivated users); ``fixed`` gives it to ``user_id``. The rule row is
locked (``SELECT … FOR UPDATE``; SQLite serialises writers anyway) while its pointer moves, so two submissions
arriving together never get the same rep.

Decision: rules apply to every new lead created **without an explicit owner** — web forms, the API and imports
without an owner, and a page form whose Owner field was emptied. A lead entered on a page keeps the signed-in
user (the form pre-fills them as owner): the rep who met the prospect keeps it. A lead no rule matches stays with
its creator (nobody, for a web form).
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from core import db
from core.events import emit
from core.models import User, UserDepartment

from .models import AssignmentRule, Lead

METHODS = (("round_robin", _l("Round robin within a department")), ("fixed", _l("A fixed user")))


def matching_rule(source: str | None) -> AssignmentRule | None:
    """The first active rule (by position) for leads from ``source``."""
    rules = db.session.scalars(
        select(AssignmentRule)
        .where(AssignmentRule.active.is_(True))
        .order_by(AssignmentRule.position, AssignmentRule.id)
    )
    wanted = (source or "").strip().casefold()
    for rule in rules:
        if not rule.source or rule.source.strip().casefold() == wanted:
            return rule
    return None


def department_members(department_id: int) -> list[int]:
    """Ids of the active users of a department, in the order the round goes."""
    statement = (
        select(User.id)
        .join(UserDepartment, UserDepartment.user_id == User.id)
        .where(UserDepartment.department_id == department_id, User.active.is_(True))
        .order_by(User.id)
    )
    return list(dict.fromkeys(db.session.scalars(statement)))


def next_in_round(members: list[int], last: int | None) -> int | None:
    """The member after ``last`` (the first when ``last`` is unknown or the last of the list)."""
    if not members:
        return None
    later = [member for member in members if last is not None and member > last]
    return later[0] if later else members[0]


def pick_assignee(rule: AssignmentRule) -> int | None:
    """The user the rule gives its next lead to, moving a round robin's pointer (the rule row is locked first)."""
    if rule.method == "fixed":
        user = db.session.get(User, rule.user_id) if rule.user_id else None
        return user.id if user is not None and user.active else None
    locked = db.session.scalar(
        select(AssignmentRule)
        .where(AssignmentRule.id == rule.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if locked is None or locked.department_id is None:
        return None
    chosen = next_in_round(department_members(locked.department_id), locked.last_user_id)
    if chosen is not None:
        locked.last_user_id = chosen
    return chosen


def _first_department(user_id: int) -> int | None:
    return db.session.scalar(
        select(UserDepartment.department_id)
        .where(UserDepartment.user_id == user_id)
        .order_by(UserDepartment.department_id)
        .limit(1)
    )


def assign_new_lead(lead: Lead, department_given: bool = False) -> int | None:
    """Apply the rules to a new lead without an explicit owner; returns the assignee's id (or ``None``).

    The assignee also becomes the lead's department unless one was given: the rule's department for a round
    robin, the assignee's first department for a fixed user, so department scopes see the lead.
    """
    rule = matching_rule(lead.source)
    if rule is None:
        return None
    assignee = pick_assignee(rule)
    if assignee is None:
        return None
    lead.owner_id = assignee
    if not department_given:
        lead.department_id = rule.department_id if rule.method == "round_robin" else _first_department(assignee)
    return assignee


def notify_assignee(lead: Lead, assignee_id: int, by_user_id: int | None) -> None:
    """Tell the new owner (unless they assigned it to themselves) and emit ``opportunities.lead.assigned``."""
    from flask import current_app, has_request_context, url_for

    from plugins.contacts.public import notify_user

    if assignee_id != by_user_id:
        title = _l("New lead assigned to you: %(name)s", name=lead.name)
        endpoint, values = (
            ("opportunities_leads.detail", {"record_id": lead.id})
            if lead.id is not None
            else ("opportunities_leads.list", {})
        )
        if has_request_context():
            url = url_for(endpoint, **values)
        else:  # an import running as a job
            url = current_app.url_map.bind("localhost").build(endpoint, values)
        notify_user(assignee_id, title, url)
    if lead.id is not None:
        emit("opportunities.lead.assigned", id=lead.id, owner_id=assignee_id)


def rule_summary(rule: AssignmentRule, users: dict[int, str], departments: dict[int, str]) -> dict[str, Any]:
    """What a rule does, for the admin list."""
    target = (
        departments.get(rule.department_id or 0, "?")
        if rule.method == "round_robin"
        else users.get(rule.user_id or 0, "?")
    )
    return {"rule": rule, "target": target, "method": dict(METHODS).get(rule.method, rule.method)}
