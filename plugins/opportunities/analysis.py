"""Win/loss analysis of the deals closed in a period (by ``closed_on``) and the funnel of the deals created in it.

Win rate = won / (won + lost); average deal size and sales cycle are over the won deals (``amount_base``,
``cycle_days``). The funnel counts the deals of one pipeline created in the period by the furthest open stage
they reached (``furthest_position``): a deal reached a stage when its furthest position is at or beyond it.
Every figure is one grouped query under the same scope rule as the forecast (:func:`forecast.visible`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Select, func, select

from core import db

from .forecast import ZERO, Filters, group_names, money, month_of, percent, visible, year_month
from .models import LOST, OPEN, WON, Opportunity
from .periods import Period, add_months, utc_bounds
from .pipelines import stages_of


@dataclass
class Outcome:
    """Won and lost deals of one group (an owner, a source, a reason, a month, or everything)."""

    key: Any = None
    name: str = ""
    won_count: int = 0
    won: Decimal = ZERO
    lost_count: int = 0
    lost: Decimal = ZERO
    cycle_total: int = 0
    cycle_count: int = 0

    @property
    def win_rate(self) -> Decimal | None:
        return percent(self.won_count, self.won_count + self.lost_count)

    @property
    def average_size(self) -> Decimal | None:
        return money(self.won / self.won_count) if self.won_count else None

    @property
    def average_cycle(self) -> Decimal | None:
        if not self.cycle_count:
            return None
        return (Decimal(self.cycle_total) / self.cycle_count).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key.isoformat() if isinstance(self.key, dt.date) else self.key,
            "name": self.name,
            "won_count": self.won_count,
            "won_amount": self.won,
            "lost_count": self.lost_count,
            "lost_amount": self.lost,
            "win_rate": self.win_rate,
            "average_size": self.average_size,
            "average_cycle_days": self.average_cycle,
        }


@dataclass
class FunnelStep:
    stage_id: int | None
    name: str
    reached: int
    conversion: Decimal | None = None  # per cent of the previous step's deals that reached this one

    def as_dict(self) -> dict[str, Any]:
        return {"stage_id": self.stage_id, "name": self.name, "reached": self.reached, "conversion": self.conversion}


@dataclass
class Analysis:
    period: Period
    pipeline_id: int | None
    total: Outcome = field(default_factory=Outcome)
    owners: list[Outcome] = field(default_factory=list)
    sources: list[Outcome] = field(default_factory=list)
    reasons: list[Outcome] = field(default_factory=list)
    funnel: list[FunnelStep] = field(default_factory=list)
    trend: list[Outcome] = field(default_factory=list)


def _closed(start: dt.date, end: dt.date, columns: list[Any], filters: Filters, user: Any) -> Select:
    """Won and lost deals closed from ``start`` to ``end``, grouped by ``columns`` and status."""
    statement = (
        select(
            *columns,
            Opportunity.status,
            func.count().label("count"),
            func.sum(Opportunity.amount_base).label("amount"),
            func.sum(Opportunity.cycle_days).label("cycle"),
            func.count(Opportunity.cycle_days).label("cycle_count"),
        )
        .where(Opportunity.status.in_((WON, LOST)), Opportunity.closed_on >= start, Opportunity.closed_on <= end)
        .group_by(*columns, Opportunity.status)
    )
    return visible(filters.apply(statement), user)


def outcomes(start: dt.date, end: dt.date, column: Any, filters: Filters, user: Any = None) -> dict[Any, Outcome]:
    """Won/lost counts, amounts and cycle lengths per value of ``column`` (None: one total): one query."""
    columns = [column.label("grp")] if column is not None else []
    found: dict[Any, Outcome] = {}
    for item in db.session.execute(_closed(start, end, columns, filters, user)):
        key = item.grp if columns else None
        outcome = found.setdefault(key, Outcome(key))
        if item.status == WON:
            outcome.won_count = int(item.count or 0)
            outcome.won = money(item.amount)
            outcome.cycle_total = int(item.cycle or 0)
            outcome.cycle_count = int(item.cycle_count or 0)
        else:
            outcome.lost_count = int(item.count or 0)
            outcome.lost = money(item.amount)
    return found


def loss_reasons(period: Period, filters: Filters, user: Any = None) -> list[Outcome]:
    """Lost deals of the period by reason (count and amount), the most frequent first."""
    statement = (
        select(
            Opportunity.lost_reason,
            func.count().label("count"),
            func.sum(Opportunity.amount_base).label("amount"),
        )
        .where(Opportunity.status == LOST, Opportunity.closed_on >= period.start, Opportunity.closed_on <= period.end)
        .group_by(Opportunity.lost_reason)
    )
    rows = [
        Outcome(item.lost_reason, item.lost_reason or "", lost_count=int(item.count), lost=money(item.amount))
        for item in db.session.execute(visible(filters.apply(statement), user))
    ]
    return sorted(rows, key=lambda r: (-r.lost_count, -r.lost, r.name))


def funnel(period: Period, pipeline_id: int, filters: Filters, user: Any = None) -> list[FunnelStep]:
    """How many of the pipeline's deals created in the period reached each open stage, then won: one query."""
    start, end = utc_bounds(period.start, period.end)
    statement = (
        select(Opportunity.furthest_position, Opportunity.status, func.count().label("count"))
        .where(
            Opportunity.pipeline_id == pipeline_id,
            Opportunity.created_at >= start,
            Opportunity.created_at < end,
        )
        .group_by(Opportunity.furthest_position, Opportunity.status)
    )
    filters = Filters(owner_id=filters.owner_id, department_id=filters.department_id)
    by_position: dict[int, int] = {}
    won = 0
    for item in db.session.execute(visible(filters.apply(statement), user)):
        by_position[int(item.furthest_position or 0)] = (
            by_position.get(int(item.furthest_position or 0), 0) + item.count
        )
        if item.status == WON:
            won += int(item.count)
    steps: list[FunnelStep] = []
    open_stages = [s for s in stages_of(pipeline_id, active_only=False) if s.kind == OPEN]
    for index, stage in enumerate(open_stages):
        # The first stage counts every deal: one created further along passed through it on paper.
        floor = stage.position if index else min([stage.position, *by_position])
        reached = sum(count for position, count in by_position.items() if position >= floor)
        steps.append(FunnelStep(stage.id, stage.name, reached))
    from flask_babel import gettext as _

    steps.append(FunnelStep(None, _("Won"), won))
    for previous, step in zip(steps, steps[1:], strict=False):
        step.conversion = percent(step.reached, previous.reached)
    return steps


def trend(last_month: dt.date, filters: Filters, user: Any = None, months: int = 12) -> list[Outcome]:
    """Win rate by month for the ``months`` months ending with ``last_month``'s month: one query."""
    first = add_months(dt.date(last_month.year, last_month.month, 1), 1 - months)
    end = add_months(first, months) - dt.timedelta(days=1)
    key = year_month(Opportunity.closed_on).label("ym")
    found = {add_months(first, i): Outcome(add_months(first, i)) for i in range(months)}
    statement = _closed(first, end, [key], filters, user)
    for item in db.session.execute(statement):
        outcome = found[month_of(item.ym)]
        if item.status == WON:
            outcome.won_count, outcome.won = int(item.count), money(item.amount)
        else:
            outcome.lost_count, outcome.lost = int(item.count), money(item.amount)
    return list(found.values())


def _sum(parts: Any) -> Outcome:
    total = Outcome(None)
    for part in parts:
        total.won_count += part.won_count
        total.won += part.won
        total.lost_count += part.lost_count
        total.lost += part.lost
        total.cycle_total += part.cycle_total
        total.cycle_count += part.cycle_count
    return total


def analyse(period: Period, pipeline_id: int, filters: Filters | None = None, user: Any = None) -> Analysis:
    """Every figure of the analysis page: six grouped queries and one for the owners' names."""
    filters = filters or Filters()
    result = Analysis(period, pipeline_id)
    owners = outcomes(period.start, period.end, Opportunity.owner_id, filters, user)
    result.total = _sum(owners.values())  # the owners' rows add up to the total: one query fewer
    names = group_names("owner", [k for k in owners if k is not None])
    for key, outcome in owners.items():
        outcome.name = names.get(key, "")
    result.owners = sorted(owners.values(), key=lambda o: (-o.won, o.name.casefold()))
    sources = outcomes(period.start, period.end, Opportunity.source, filters, user)
    for key, outcome in sources.items():
        outcome.name = key or ""
    result.sources = sorted(sources.values(), key=lambda o: (-o.won, o.name.casefold()))
    result.reasons = loss_reasons(period, filters, user)
    result.funnel = funnel(period, pipeline_id, filters, user)
    result.trend = trend(period.end, filters, user)
    return result
