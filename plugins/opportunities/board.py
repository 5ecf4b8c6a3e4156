"""The kanban board's queries: column totals in one aggregate query, and each column's cards a keyset page at a time.

Open stages are columns of every open deal (or, with a close month, of the deals expected to close that month).
Won and lost stages are columns too, but only of the deals closed in the chosen month (the current month when none
is chosen): they are where a card is dropped to close it and the month's result, and they would otherwise grow
for ever. Every query goes through ``scoped()`` with ``opportunities.opportunity.view`` and reads the board's
indexes: ``(tenant_id, stage_id, closed_on, id, deleted_at, amount_base, probability)`` for the totals (read alone:
every open stage whole, each closed stage's range of the month) and the closed columns' cards (newest close first),
``(tenant_id, stage_id, expected_close_date, id)`` for open cards, so a tenant with a million deals gets its board
about as fast as one with ten. A stage's kind cannot change while deals are in it, so the stage alone says whether
its deals are open, won or lost.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, func, or_, select

from core import db
from core.permissions import scoped

from .models import OPEN, Opportunity, Stage
from .pipelines import stages_of

VIEW = "opportunities.opportunity.view"
PAGE_SIZE = 20


@dataclass(frozen=True)
class Filters:
    """What the board shows: one owner, one department and a close month (first day), each optional."""

    owner_id: int | None = None
    department_id: int | None = None
    month: dt.date | None = None
    today: dt.date = field(default_factory=dt.date.today)

    @property
    def closed_month(self) -> dt.date:
        """The month whose won and lost deals the closed columns show."""
        return self.month or self.today.replace(day=1)

    def args(self) -> dict[str, str]:
        """The filters as query arguments (for links that keep them)."""
        result = {}
        if self.owner_id is not None:
            result["owner_id"] = str(self.owner_id)
        if self.department_id is not None:
            result["department_id"] = str(self.department_id)
        if self.month is not None:
            result["month"] = self.month.strftime("%Y-%m")
        return result


def parse_filters(args: Any) -> Filters:
    """Filters from query (or JSON) arguments; anything malformed is ignored rather than refused."""

    def number(name: str) -> int | None:
        try:
            return int(args.get(name)) if args.get(name) not in (None, "") else None
        except (TypeError, ValueError):
            return None

    month = None
    text = args.get("month") or ""
    try:
        month = dt.datetime.strptime(text, "%Y-%m").date() if text else None
    except ValueError:
        month = None
    return Filters(number("owner_id"), number("department_id"), month)


def month_end(first: dt.date) -> dt.date:
    """The first day of the month after ``first``."""
    return (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def _common(statement: Select, filters: Filters, user: Any) -> Select:
    if filters.owner_id is not None:
        statement = statement.where(Opportunity.owner_id == filters.owner_id)
    if filters.department_id is not None:
        statement = statement.where(Opportunity.department_id == filters.department_id)
    return scoped(statement, VIEW, user, model=Opportunity)


def _open_condition(stage_ids: list[int], filters: Filters) -> Any:
    condition = Opportunity.stage_id.in_(stage_ids)
    if filters.month is not None:
        condition = and_(
            condition,
            Opportunity.expected_close_date >= filters.month,
            Opportunity.expected_close_date < month_end(filters.month),
        )
    return condition


def _closed_condition(stage_ids: list[int], filters: Filters) -> Any:
    first = filters.closed_month
    return and_(
        Opportunity.stage_id.in_(stage_ids),
        Opportunity.closed_on >= first,
        Opportunity.closed_on < month_end(first),
    )


def _condition(stage: Stage, filters: Filters) -> Any:
    if stage.kind == OPEN:
        return _open_condition([stage.id], filters)
    return _closed_condition([stage.id], filters)


@dataclass
class Totals:
    count: int = 0
    amount: Decimal = Decimal("0")
    weighted: Decimal = Decimal("0")

    def as_json(self) -> dict[str, Any]:
        return {"count": self.count, "amount": str(self.amount), "weighted": str(self.weighted)}


def column_totals(pipeline_id: int, filters: Filters, user: Any = None) -> dict[int, Totals]:
    """Count, amount and weighted amount of every column of the pipeline: one ``GROUP BY`` query for the open
    columns and one for the closed ones (each an index range scan; one query with an ``OR`` of the two would make
    the databases read every deal of the tenant)."""
    stages = stages_of(pipeline_id)
    open_ids = [s.id for s in stages if s.kind == OPEN]
    closed_ids = [s.id for s in stages if s.kind != OPEN]
    result = {s.id: Totals() for s in stages}
    conditions = []
    if open_ids:
        conditions.append(_open_condition(open_ids, filters))
    if closed_ids:
        conditions.append(_closed_condition(closed_ids, filters))
    for condition in conditions:
        statement = select(
            Opportunity.stage_id,
            func.count(),
            func.sum(Opportunity.amount_base),
            func.sum(Opportunity.amount_base * Opportunity.probability),
        ).where(condition)
        statement = _common(statement, filters, user).group_by(Opportunity.stage_id)
        for stage_id, count, amount, weighted in db.session.execute(statement):
            result[stage_id] = Totals(
                int(count or 0),
                Decimal(amount or 0).quantize(Decimal("0.01")),
                (Decimal(weighted or 0) / 100).quantize(Decimal("0.01")),
            )
    return result


# Cursors: "d<ISO date>_<id>" after a card with a close date, "n<id>" after one without (those come last),
# "c<ISO date>_<id>" in a closed column (newest close first).


def _split(cursor: str) -> tuple[dt.date, int] | None:
    try:
        day, ident = cursor[1:].split("_", 1)
        return dt.date.fromisoformat(day), int(ident)
    except ValueError:
        return None


def cards(
    stage: Stage, filters: Filters, user: Any = None, after: str | None = None, limit: int = PAGE_SIZE
) -> tuple[list[Opportunity], str | None]:
    """Up to ``limit`` cards of a column after ``after``, and the cursor of the next page (``None`` at the end).

    Open columns are in (expected close date, id) order with undated deals last, read in two index range scans so
    the order is the same on every database (they disagree on where NULL sorts); closed columns newest close first.
    """
    base = _common(select(Opportunity).where(_condition(stage, filters)), filters, user)
    if stage.kind != OPEN:
        statement = base.order_by(Opportunity.closed_on.desc(), Opportunity.id.desc())
        position = _split(after) if after and after.startswith("c") else None
        if position is not None:
            day, ident = position
            statement = statement.where(
                or_(Opportunity.closed_on < day, and_(Opportunity.closed_on == day, Opportunity.id < ident))
            )
        rows = list(db.session.scalars(statement.limit(limit + 1)))
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, (f"c{rows[-1].closed_on.isoformat()}_{rows[-1].id}" if more else None)

    rows: list[Opportunity] = []
    undated_after = None
    if not after or after.startswith("d"):
        dated = base.where(Opportunity.expected_close_date.is_not(None))
        position = _split(after) if after else None
        if position is not None:
            day, ident = position
            dated = dated.where(
                or_(
                    Opportunity.expected_close_date > day,
                    and_(Opportunity.expected_close_date == day, Opportunity.id > ident),
                )
            )
        dated = dated.order_by(Opportunity.expected_close_date, Opportunity.id).limit(limit + 1)
        rows = list(db.session.scalars(dated))
        if len(rows) > limit:
            rows = rows[:limit]
            return rows, f"d{rows[-1].expected_close_date.isoformat()}_{rows[-1].id}"
    else:
        try:
            undated_after = int(after[1:])
        except ValueError:
            undated_after = None
    if filters.month is None:  # with a close month every card has a date in it
        undated = base.where(Opportunity.expected_close_date.is_(None))
        if undated_after is not None:
            undated = undated.where(Opportunity.id > undated_after)
        wanted = limit - len(rows)
        more_rows = list(db.session.scalars(undated.order_by(Opportunity.id).limit(wanted + 1)))
        if len(more_rows) > wanted:
            rows.extend(more_rows[:wanted])
            return rows, f"n{more_rows[wanted - 1].id if wanted else undated_after or 0}"
        rows.extend(more_rows)
    return rows, None


def load_card(opportunity_id: int, user: Any = None) -> Opportunity | None:
    """One opportunity the user may see, or ``None``."""
    statement = select(Opportunity).where(Opportunity.id == opportunity_id)
    return db.session.scalar(scoped(statement, VIEW, user, model=Opportunity))
