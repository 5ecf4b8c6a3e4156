"""The sales forecast: open, weighted, best-case, committed and won amounts of a period, against the quotas.

Every figure is an aggregate in SQL read from one index alone: open deals from ``(tenant_id, status,
expected_close_date, ...)``, won deals from ``(tenant_id, status, closed_on, ...)``, both carrying the summed and
grouped columns (so the queries count rows, not ids). The forecast page takes the period's figures and the twelve
months' chart from the same two queries (:func:`forecast_and_months`). Open deals count in the period of their
expected close date, won deals in the period of their close date; amounts are ``amount_base`` (the workspace
currency).

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

from sqlalchemy import Integer, Select, case, func, literal, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

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
        func.count().label("count"),
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
    statement = select(*columns, func.count().label("count"), func.sum(Opportunity.amount_base).label("amount")).where(
        Opportunity.status == WON, Opportunity.closed_on >= start, Opportunity.closed_on <= end
    )
    if columns:
        statement = statement.group_by(*columns)
    return list(db.session.execute(visible(filters.apply(statement), user)))


def forecast(period: Period, group: str = "none", filters: Filters | None = None, user: Any = None) -> Forecast:
    """The forecast of ``period`` grouped by ``group`` (none, owner, department, pipeline): two queries, plus
    one for the quotas and one for the group names."""
    filters = filters or Filters()
    column = group_column(group).label("grp")
    grouped = [column] if group != "none" else []
    rows: dict[Any, Row] = {}
    for item in _open_sums(period.start, period.end, grouped, filters, user):
        _add_open(rows.setdefault(item.grp if grouped else None, Row(item.grp if grouped else None)), item)
    for item in _won_sums(period.start, period.end, grouped, filters, user):
        _add_won(rows.setdefault(item.grp if grouped else None, Row(item.grp if grouped else None)), item)
    return _finish(period, group, filters, user, rows)


class year_month(FunctionElement):  # noqa: N801  (named like the SQL functions it stands for)
    """The month of a date as one key: ``'YYYY-MM'`` on SQLite (a cut of the ISO text it stores, several times
    cheaper per row than ``strftime``), ``year * 100 + month`` elsewhere; :func:`month_of` reads either."""

    type = Integer()
    inherit_cache = True
    name = "year_month"


@compiles(year_month)
def _year_month(element: year_month, compiler: Any, **kw: Any) -> str:
    column = compiler.process(next(iter(element.clauses)), **kw)
    return f"(EXTRACT(YEAR FROM {column}) * 100 + EXTRACT(MONTH FROM {column}))"


@compiles(year_month, "sqlite")
def _year_month_sqlite(element: year_month, compiler: Any, **kw: Any) -> str:
    return f"substr({compiler.process(next(iter(element.clauses)), **kw)}, 1, 7)"


def month_of(key: Any) -> dt.date:
    """The first day of the month a :class:`year_month` key names."""
    if isinstance(key, str):
        return dt.date(int(key[:4]), int(key[5:7]), 1)
    year, month = divmod(int(key), 100)
    return dt.date(year, month, 1)


def _exact(value: Any) -> Decimal:
    return Decimal(str(value or 0))


def _add_open(row: Row, item: Any) -> None:
    """Add a row of :func:`_open_sums` to ``row`` (a group, or a month); :func:`_rounded` rounds the sums."""
    row.open_count += int(item.count or 0)
    row.open_amount += _exact(item.amount)
    row.weighted += _exact(item.weighted100) / 100
    row.open_best += _exact(item.best)
    row.open_commit += _exact(item.commit)


def _add_won(row: Row, item: Any) -> None:
    row.won_count += int(item.count or 0)
    row.won += _exact(item.amount)


def _rounded(row: Row) -> Row:
    for name in ("open_amount", "weighted", "open_best", "open_commit", "won"):
        setattr(row, name, money(getattr(row, name)))
    return row


def _finish(period: Period, group: str, filters: Filters, user: Any, rows: dict[Any, Row]) -> Forecast:
    """The forecast of the group ``rows``: their quotas, names, order and total."""
    from .quotas import targets

    result = Forecast(period, group)
    quota_of = targets(period, group, filters, user)
    if group in ("owner", "department"):
        for key in quota_of:
            if key is not None:
                rows.setdefault(key, Row(key))
    names = group_names(group, [key for key in rows if key is not None])
    for key, row in rows.items():
        _rounded(row)
        row.name = names.get(key, "")
        if group in ("owner", "department") and key is not None:
            row.quota = quota_of.get(key)
        result.total.add(row)
    result.rows = sorted(rows.values(), key=lambda r: (r.key is None, r.name.casefold(), r.key or 0))
    result.total.quota = quota_of.get(None)
    if group == "none":
        result.rows = []
    return result


def forecast_and_months(
    period: Period, group: str = "none", filters: Filters | None = None, user: Any = None, count: int = 12
) -> tuple[Forecast, list[MonthFigures]]:
    """``forecast(period, group, ...)`` and ``by_month(period.start, count, ...)`` from two grouped queries
    instead of four: the open and the won deals of the ``count`` months from the period's start, by group and
    month (a period is whole months, at most twelve); the period's figures are the sums of its months."""
    filters = filters or Filters()
    first = dt.date(period.start.year, period.start.month, 1)
    last = max(add_months(first, count) - dt.timedelta(days=1), period.end)
    grouped = [group_column(group).label("grp")] if group != "none" else []
    rows: dict[Any, Row] = {}
    months: dict[dt.date, Row] = {add_months(first, i): Row(None) for i in range(count)}

    def bucket(item: Any, add: Any) -> None:
        month = month_of(item.ym)
        if month in months:
            add(months[month], item)
        if period.start <= month <= period.end:
            key = item.grp if grouped else None
            add(rows.setdefault(key, Row(key)), item)

    open_month = year_month(Opportunity.expected_close_date).label("ym")
    for item in _open_sums(first, last, [*grouped, open_month], filters, user):
        bucket(item, _add_open)
    won_month = year_month(Opportunity.closed_on).label("ym")
    for item in _won_sums(first, last, [*grouped, won_month], filters, user):
        bucket(item, _add_won)
    figures = []
    for month, row in months.items():
        _rounded(row)
        figures.append(MonthFigures(month, row.weighted, row.won + row.open_commit, row.won))
    return _finish(period, group, filters, user, rows), figures


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
