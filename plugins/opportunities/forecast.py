"""The sales forecast: open, weighted, best-case, committed and won amounts of a period, against the quotas.

Every figure is an aggregate in SQL over one index: open deals by ``(tenant_id, status, expected_close_date)``,
won deals by ``(tenant_id, status, closed_on)``. Open deals count in the period of their expected close date, won
deals in the period of their close date; amounts are ``amount_base`` (the workspace currency).

Scope rule: a figure covers the opportunities the user reaches with BOTH ``opportunities.forecast.view`` and
``opportunities.opportunity.view`` (the narrower of the two scopes), so the forecast never sums a deal its reader
could not open.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Select, case, func, literal, select

from core import db
from core.permissions import scoped

from .models import OPEN, WON, Opportunity
from .periods import Period, add_months
from .pipelines import pipelines, stages_of

FORECAST_PERMISSION = "opportunities.forecast.view"
GROUPS = ("none", "owner", "department", "pipeline")
ZERO = Decimal("0.00")
CENT = Decimal("0.01")


def money(value: Any) -> Decimal:
    """A sum from the database (None, float on SQLite, Decimal elsewhere) as a Decimal in cents."""
    return Decimal(str(value or 0)).quantize(CENT, rounding=ROUND_HALF_UP)


def percent(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    """``part`` of ``whole`` in per cent with one decimal, or None when ``whole`` is zero."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def visible(statement: Select, user: Any = None) -> Select:
    """``statement`` restricted to the opportunities the user's forecast AND view scopes both reach."""
    statement = scoped(statement, FORECAST_PERMISSION, user, model=Opportunity)
    return scoped(statement, "opportunities.opportunity.view", user, model=Opportunity)


@dataclass
class Filters:
    """What the figures are narrowed to: a pipeline, an owner, a department (None: any)."""

    pipeline_id: int | None = None
    owner_id: int | None = None
    department_id: int | None = None

    def apply(self, statement: Select) -> Select:
        if self.pipeline_id is not None:
            statement = statement.where(Opportunity.pipeline_id == self.pipeline_id)
        if self.owner_id is not None:
            statement = statement.where(Opportunity.owner_id == self.owner_id)
        if self.department_id is not None:
            statement = statement.where(Opportunity.department_id == self.department_id)
        return statement


def group_column(group: str) -> Any:
    return {
        "owner": Opportunity.owner_id,
        "department": Opportunity.department_id,
        "pipeline": Opportunity.pipeline_id,
    }.get(group, literal(0))


def category_stage_ids() -> tuple[list[int], list[int]]:
    """Ids of the open stages whose forecast category is commit, and of those that are best case or commit."""
    commit: list[int] = []
    best: list[int] = []
    for pipeline in pipelines(active_only=False):
        for stage in stages_of(pipeline.id, active_only=False):
            if stage.kind != OPEN:
                continue
            if stage.forecast_category == "commit":
                commit.append(stage.id)
            if stage.forecast_category in ("commit", "best_case"):
                best.append(stage.id)
    return commit, best


def _in(ids: list[int]) -> Any:
    return Opportunity.stage_id.in_(ids) if ids else literal(False)


@dataclass
class Row:
    """The forecast of one group (an owner, a department, a pipeline, or everything)."""

    key: int | None
    name: str = ""
    open_count: int = 0
    open_amount: Decimal = ZERO
    weighted: Decimal = ZERO
    open_best: Decimal = ZERO
    open_commit: Decimal = ZERO
    won_count: int = 0
    won: Decimal = ZERO
    quota: Decimal | None = None

    @property
    def best_case(self) -> Decimal:
        return self.won + self.open_best

    @property
    def committed(self) -> Decimal:
        return self.won + self.open_commit

    @property
    def attainment(self) -> Decimal | None:
        return percent(self.won, self.quota) if self.quota else None

    def add(self, other: Row) -> None:
        for name in ("open_count", "open_amount", "weighted", "open_best", "open_commit", "won_count", "won"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "open_count": self.open_count,
            "open_amount": self.open_amount,
            "weighted": self.weighted,
            "best_case": self.best_case,
            "committed": self.committed,
            "won_count": self.won_count,
            "won": self.won,
            "quota": self.quota,
            "attainment": self.attainment,
        }


@dataclass
class Forecast:
    period: Period
    group: str
    rows: list[Row] = field(default_factory=list)
    total: Row = field(default_factory=lambda: Row(None))


def _open_sums(start: dt.date, end: dt.date, group_by: Iterable[Any], filters: Filters, user: Any) -> list[Any]:
    """One grouped query over the open deals expected to close from ``start`` to ``end``."""
    commit, best = category_stage_ids()
    columns = list(group_by)
    statement = select(
        *columns,
        func.count(Opportunity.id).label("count"),
        func.sum(Opportunity.amount_base).label("amount"),
        func.sum(Opportunity.amount_base * Opportunity.probability).label("weighted100"),
        func.sum(case((_in(best), Opportunity.amount_base), else_=0)).label("best"),
        func.sum(case((_in(commit), Opportunity.amount_base), else_=0)).label("commit"),
    ).where(
        Opportunity.status == OPEN,
        Opportunity.expected_close_date >= start,
        Opportunity.expected_close_date <= end,
    )
    if columns:
        statement = statement.group_by(*columns)
    return list(db.session.execute(visible(filters.apply(statement), user)))


def _won_sums(start: dt.date, end: dt.date, group_by: Iterable[Any], filters: Filters, user: Any) -> list[Any]:
    """One grouped query over the deals won from ``start`` to ``end``."""
    columns = list(group_by)
    statement = select(
        *columns, func.count(Opportunity.id).label("count"), func.sum(Opportunity.amount_base).label("amount")
    ).where(Opportunity.status == WON, Opportunity.closed_on >= start, Opportunity.closed_on <= end)
    if columns:
        statement = statement.group_by(*columns)
    return list(db.session.execute(visible(filters.apply(statement), user)))


def forecast(period: Period, group: str = "none", filters: Filters | None = None, user: Any = None) -> Forecast:
    """The forecast of ``period`` grouped by ``group`` (none, owner, department, pipeline): two queries, plus
    one for the quotas and one for the group names."""
    from .quotas import targets

    filters = filters or Filters()
    column = group_column(group).label("grp")
    grouped = [column] if group != "none" else []
    rows: dict[Any, Row] = {}
    for item in _open_sums(period.start, period.end, grouped, filters, user):
        row = rows.setdefault(item.grp if grouped else None, Row(item.grp if grouped else None))
        row.open_count = int(item.count or 0)
        row.open_amount = money(item.amount)
        row.weighted = money(Decimal(str(item.weighted100 or 0)) / 100)
        row.open_best = money(item.best)
        row.open_commit = money(item.commit)
    for item in _won_sums(period.start, period.end, grouped, filters, user):
        row = rows.setdefault(item.grp if grouped else None, Row(item.grp if grouped else None))
        row.won_count = int(item.count or 0)
        row.won = money(item.amount)
    result = Forecast(period, group)
    quota_of = targets(period, group, filters, user)
    if group in ("owner", "department"):
        for key in quota_of:
            if key is not None:
                rows.setdefault(key, Row(key))
    names = group_names(group, [key for key in rows if key is not None])
    for key, row in rows.items():
        row.name = names.get(key, "")
        if group in ("owner", "department") and key is not None:
            row.quota = quota_of.get(key)
        result.total.add(row)
    result.rows = sorted(rows.values(), key=lambda r: (r.key is None, r.name.casefold(), r.key or 0))
    result.total.quota = quota_of.get(None)
    if group == "none":
        result.rows = []
    return result


def group_names(group: str, keys: list[Any]) -> dict[Any, str]:
    """Display names of the owners, departments or pipelines ``keys`` (one query at most)."""
    from core.models import Department, User

    if not keys:
        return {}
    if group == "owner":
        users = db.session.scalars(select(User).where(User.id.in_(keys)))
        return {user.id: user.display_name for user in users}
    if group == "department":
        return dict(db.session.execute(select(Department.id, Department.name).where(Department.id.in_(keys))).all())
    if group == "pipeline":
        return {p.id: p.name for p in pipelines(active_only=False)}
    return {}


@dataclass
class MonthFigures:
    month: dt.date
    weighted: Decimal = ZERO
    committed: Decimal = ZERO
    won: Decimal = ZERO


def by_month(first: dt.date, count: int = 12, filters: Filters | None = None, user: Any = None) -> list[MonthFigures]:
    """Weighted, committed (won + open in commit stages) and won amounts for ``count`` months from ``first``'s
    month: two grouped queries."""
    filters = filters or Filters()
    first = dt.date(first.year, first.month, 1)
    last = add_months(first, count) - dt.timedelta(days=1)
    months = {add_months(first, i): MonthFigures(add_months(first, i)) for i in range(count)}
    year_open = func.extract("year", Opportunity.expected_close_date)
    month_open = func.extract("month", Opportunity.expected_close_date)
    for item in _open_sums(first, last, [year_open.label("y"), month_open.label("m")], filters, user):
        figures = months[dt.date(int(item.y), int(item.m), 1)]
        figures.weighted = money(Decimal(str(item.weighted100 or 0)) / 100)
        figures.committed += money(item.commit)
    year_won = func.extract("year", Opportunity.closed_on)
    month_won = func.extract("month", Opportunity.closed_on)
    for item in _won_sums(first, last, [year_won.label("y"), month_won.label("m")], filters, user):
        figures = months[dt.date(int(item.y), int(item.m), 1)]
        figures.won = money(item.amount)
        figures.committed += figures.won
    return list(months.values())
