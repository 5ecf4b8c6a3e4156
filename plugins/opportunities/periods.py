"""Calendar periods of the forecast, the quotas and the analysis: a month, a quarter or a year.

The fiscal year is the calendar year (January to December); quarters are January–March, April–June and so on.
A period is written as a key that is stable in URLs and the API: ``2026`` (a year), ``2026-Q4`` (a quarter),
``2026-11`` (a month).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from flask_babel import format_date
from flask_babel import gettext as _

KINDS = ("month", "quarter", "year")
_KEY = re.compile(r"^(\d{4})(?:-(?:Q([1-4])|(\d{1,2})))?$")


def add_months(day: dt.date, months: int) -> dt.date:
    """The first day of the month ``months`` after ``day``'s month."""
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Period:
    """``start`` and ``end`` are both inclusive dates."""

    kind: str
    start: dt.date

    @property
    def months(self) -> int:
        return {"month": 1, "quarter": 3, "year": 12}[self.kind]

    @property
    def end(self) -> dt.date:
        return add_months(self.start, self.months) - dt.timedelta(days=1)

    @property
    def key(self) -> str:
        if self.kind == "year":
            return f"{self.start.year}"
        if self.kind == "quarter":
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        return f"{self.start.year}-{self.start.month:02d}"

    @property
    def label(self) -> str:
        if self.kind == "year":
            return str(self.start.year)
        if self.kind == "quarter":
            return _("Q%(quarter)s %(year)s", quarter=(self.start.month - 1) // 3 + 1, year=self.start.year)
        return format_date(self.start, "MMMM y")

    def shifted(self, steps: int) -> Period:
        """The period ``steps`` periods of the same kind later (earlier when negative)."""
        return Period(self.kind, add_months(self.start, steps * self.months))

    def month_starts(self) -> list[dt.date]:
        return [add_months(self.start, i) for i in range(self.months)]

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and self.start <= day <= self.end


def containing(day: dt.date, kind: str = "quarter") -> Period:
    """The period of ``kind`` that ``day`` falls in."""
    if kind == "year":
        return Period("year", dt.date(day.year, 1, 1))
    if kind == "quarter":
        return Period("quarter", dt.date(day.year, (day.month - 1) // 3 * 3 + 1, 1))
    return Period("month", dt.date(day.year, day.month, 1))


def parse(key: str | None) -> Period:
    """The period a key names; ValueError for anything else (a month 13, a year before 1900)."""
    match = _KEY.match((key or "").strip())
    if not match:
        raise ValueError(key)
    year = int(match.group(1))
    if not 1900 <= year <= 9998:
        raise ValueError(key)
    if match.group(2):
        return Period("quarter", dt.date(year, (int(match.group(2)) - 1) * 3 + 1, 1))
    if match.group(3):
        month = int(match.group(3))
        if not 1 <= month <= 12:
            raise ValueError(key)
        return Period("month", dt.date(year, month, 1))
    return Period("year", dt.date(year, 1, 1))


def today() -> dt.date:
    """Today in the workspace's time zone."""
    from zoneinfo import ZoneInfo

    from core.tenancy import current_tenant

    zone = getattr(current_tenant(), "default_timezone", None) or "Asia/Taipei"
    try:
        return dt.datetime.now(ZoneInfo(zone)).date()
    except (KeyError, ValueError):
        return dt.date.today()


def utc_bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants where the workspace's day ``start`` begins and the day after ``end`` begins (for
    timestamps such as ``created_at``)."""
    from zoneinfo import ZoneInfo

    from core.tenancy import current_tenant

    zone_name = getattr(current_tenant(), "default_timezone", None) or "Asia/Taipei"
    try:
        zone = ZoneInfo(zone_name)
    except (KeyError, ValueError):
        zone = dt.UTC  # type: ignore[assignment]

    def instant(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC)

    return instant(start), instant(end + dt.timedelta(days=1))
