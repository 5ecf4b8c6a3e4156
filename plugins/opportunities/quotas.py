"""Sales quotas: targets per user or per department and period, the rule that derives quarters and years from
months, and the grid that edits a year of them.

Derivation rule: a month's target is the quota set for that month. A quarter's is the quota set for the quarter,
else the sum of the quotas set for its three months (none set: no target). A year's is the quota set for the year,
else the sum of its four quarters' targets as just defined. A quota names exactly one of a user or a department;
the database's unique constraint cannot see that (NULLs are never equal), so :func:`save_year` enforces it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select

from core import db
from core.permissions import grants_of, scope_for

from .models import Quota
from .periods import Period, add_months

MAX_AMOUNT = Decimal("9999999999999999.99")  # what Numeric(18, 2) holds
Subject = tuple[str, int]  # ("user", id) or ("department", id)


def quota_rows(year: int) -> list[Quota]:
    """Every quota set for a period starting in ``year`` (a few per user and department: one query)."""
    return list(
        db.session.scalars(
            select(Quota)
            .where(Quota.period_start >= dt.date(year, 1, 1), Quota.period_start <= dt.date(year, 12, 31))
            .order_by(Quota.id)
        )
    )


def subject_of(quota: Quota) -> Subject:
    return ("user", quota.user_id) if quota.user_id is not None else ("department", quota.department_id or 0)


@dataclass
class YearTargets:
    """The explicit quotas of one year, by subject and (period, start), and the derived targets."""

    explicit: dict[Subject, dict[tuple[str, dt.date], Decimal]]

    @classmethod
    def load(cls, year: int) -> YearTargets:
        explicit: dict[Subject, dict[tuple[str, dt.date], Decimal]] = {}
        for quota in quota_rows(year):
            explicit.setdefault(subject_of(quota), {})[(quota.period, quota.period_start)] = Decimal(quota.amount)
        return cls(explicit)

    def target(self, subject: Subject, period: Period) -> Decimal | None:
        """The subject's target for ``period`` by the derivation rule (None: no target)."""
        cells = self.explicit.get(subject, {})
        if (period.kind, period.start) in cells:
            return cells[(period.kind, period.start)]
        if period.kind == "month":
            return None
        parts = (
            [Period("month", month) for month in period.month_starts()]
            if period.kind == "quarter"
            else [Period("quarter", add_months(period.start, 3 * i)) for i in range(4)]
        )
        values = [value for value in (self.target(subject, part) for part in parts) if value is not None]
        return sum(values, Decimal("0")) if values else None


def reachable(user: Any = None) -> tuple[set[int] | None, set[int] | None]:
    """The users and departments whose quotas the user's forecast sees (None: all), by the narrower of the
    forecast and opportunity view scopes: own sees their own quota, department their departments' and their
    members', all everything."""
    from flask_login import current_user

    from core.models import UserDepartment
    from core.models.permissions import SCOPE_RANK

    user = user if user is not None else current_user._get_current_object()
    scopes = [scope_for(p, user) for p in ("opportunities.forecast.view", "opportunities.opportunity.view")]
    if any(s is None for s in scopes):
        return set(), set()
    scope = min(scopes, key=lambda s: SCOPE_RANK[s])
    if scope == "all":
        return None, None
    if scope == "own":
        return {user.id}, set()
    departments = set(grants_of(user).department_ids)
    members = set(
        db.session.scalars(select(UserDepartment.user_id).where(UserDepartment.department_id.in_(departments)))
        if departments
        else []
    )
    return members | {user.id}, departments


def targets(period: Period, group: str, filters: Any, user: Any = None) -> dict[Any, Decimal]:
    """Targets for the forecast of ``period``: by user id (group "owner") or department id (group "department"),
    and the total under key None, whatever the grouping: the sum of the department targets within reach, or,
    when none is set, of the user targets. Quotas are not per pipeline: a pipeline filter means no target."""
    if filters.pipeline_id is not None or group == "pipeline":
        return {}
    users, departments = reachable(user)
    year = YearTargets.load(period.start.year)
    subjects = set(year.explicit)
    if filters.owner_id is not None:
        subjects = {s for s in subjects if s == ("user", filters.owner_id)}
    elif filters.department_id is not None:
        members = _members(filters.department_id)
        subjects = {
            s for s in subjects if s == ("department", filters.department_id) or (s[0] == "user" and s[1] in members)
        }
    subjects = {
        s
        for s in subjects
        if (s[0] == "user" and (users is None or s[1] in users))
        or (s[0] == "department" and (departments is None or s[1] in departments))
    }
    found = {s: year.target(s, period) for s in subjects}
    found = {s: v for s, v in found.items() if v is not None}
    result: dict[Any, Decimal] = {}
    if group in ("owner", "department"):
        kind = "user" if group == "owner" else "department"
        result = {s[1]: v for s, v in found.items() if s[0] == kind}
    by_department = [v for s, v in found.items() if s[0] == "department"]
    chosen = by_department or [v for s, v in found.items() if s[0] == "user"]
    if chosen:
        result[None] = sum(chosen, Decimal("0"))
    return result


def _members(department_id: int) -> set[int]:
    from core.models import UserDepartment

    return set(db.session.scalars(select(UserDepartment.user_id).where(UserDepartment.department_id == department_id)))


# ---------------------------------------------------------------------------------------------- the grid


def cell_periods(year: int) -> list[tuple[str, Period]]:
    """The grid's columns for a year: ``("m01", January) ... ("q1", Q1) ... ("y", the year)``."""
    columns = [(f"m{m:02d}", Period("month", dt.date(year, m, 1))) for m in range(1, 13)]
    columns += [(f"q{q}", Period("quarter", dt.date(year, 3 * q - 2, 1))) for q in range(1, 5)]
    columns.append(("y", Period("year", dt.date(year, 1, 1))))
    return columns


def field_name(subject: Subject, column: str) -> str:
    return f"{subject[0][0]}{subject[1]}_{column}"


def fingerprint(year: int) -> str:
    """A digest of the year's quotas: the grid sends it back, so a save over someone else's change is refused."""
    items = sorted(
        f"{q.user_id}:{q.department_id}:{q.period}:{q.period_start}:{Decimal(q.amount):.2f}" for q in quota_rows(year)
    )
    return hashlib.sha256("|".join(items).encode()).hexdigest()[:32]


def save_year(year: int, subjects: Iterable[Subject], values: Mapping[str, Decimal | None]) -> int:
    """Write the grid's ``values`` (field name → amount, None to remove) for ``subjects``; the caller commits.
    Returns how many quotas changed."""
    existing = {(subject_of(q), q.period, q.period_start): q for q in quota_rows(year)}
    changed = 0
    for subject in subjects:
        kind, subject_id = subject
        for column, period in cell_periods(year):
            value = values.get(field_name(subject, column))
            row = existing.get((subject, period.kind, period.start))
            if value is None:
                if row is not None:
                    db.session.execute(delete(Quota).where(Quota.id == row.id))
                    changed += 1
                continue
            if value < 0 or value > MAX_AMOUNT:
                raise ValueError(field_name(subject, column))
            if row is None:
                row = Quota(period=period.kind, period_start=period.start, amount=value)
                # Exactly one of user and department: NULLs defeat the unique constraint, so the app decides.
                if kind == "user":
                    row.user_id = subject_id
                else:
                    row.department_id = subject_id
                db.session.add(row)
                changed += 1
            elif Decimal(row.amount) != value:
                row.amount = value
                changed += 1
    return changed
