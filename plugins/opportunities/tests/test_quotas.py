"""The quota grid: saving a year of targets, validation that changes nothing, a save over someone else's change,
who may use it, and the rule that derives quarters and years from months."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from plugins.opportunities.periods import parse
from plugins.opportunities.quotas import YearTargets


def _fingerprint(html: str) -> str:
    match = re.search(r'name="fingerprint" type="hidden" value="([0-9a-f]+)"', html)
    assert match, "the grid carries the fingerprint of what it shows"
    return match.group(1)


def _quotas(in_tenant: Any, tenant: Any) -> set[tuple[Any, ...]]:
    from sqlalchemy import select

    from core import db
    from plugins.opportunities.models import Quota

    with in_tenant(tenant):
        rows = db.session.scalars(select(Quota))
        return {(q.user_id, q.department_id, q.period, q.period_start, Decimal(q.amount)) for q in rows}


def test_derived_quarters_and_years() -> None:
    d = dt.date
    targets = YearTargets(
        {
            ("user", 1): {("month", d(2026, 1, 1)): Decimal(10), ("month", d(2026, 2, 1)): Decimal(20)},
            ("user", 2): {("quarter", d(2026, 1, 1)): Decimal(100), ("month", d(2026, 4, 1)): Decimal(5)},
            ("user", 3): {("year", d(2026, 1, 1)): Decimal(999), ("month", d(2026, 1, 1)): Decimal(1)},
        }
    )
    assert targets.target(("user", 1), parse("2026-Q1")) == Decimal(30)  # months without a quarterly quota
    assert targets.target(("user", 1), parse("2026-03")) is None
    assert targets.target(("user", 1), parse("2026-Q2")) is None
    assert targets.target(("user", 1), parse("2026")) == Decimal(30)
    assert targets.target(("user", 2), parse("2026-Q1")) == Decimal(100)  # set explicitly: months are ignored
    assert targets.target(("user", 2), parse("2026")) == Decimal(105)  # Q1 as set + Q2 from April
    assert targets.target(("user", 3), parse("2026")) == Decimal(999)
    assert targets.target(("user", 4), parse("2026")) is None


def test_grid_saves_a_year_and_a_bad_amount_changes_nothing(
    app: Any, tenant: Any, admin: Any, admin_client: Any, make_user: Any, in_tenant: Any
) -> None:
    from sqlalchemy import select

    from core import db
    from core.models import Department

    rep = make_user(tenant, email="rep@acme.example.com", name="陳美玲", groups=["sales"], departments=["North"])
    with in_tenant(tenant):
        north = db.session.scalar(select(Department.id).where(Department.name == "North"))
    page = admin_client.get("/opportunities/quotas?year=2026")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "陳美玲" in html and "North" in html
    data = {
        "year": "2026",
        "fingerprint": _fingerprint(html),
        f"u{rep.id}_m01": "1000",
        f"u{rep.id}_m02": "2000.50",
        f"d{north}_q4": "90000",
    }
    saved = admin_client.post("/opportunities/quotas", data=data)
    assert saved.status_code == 302
    expected = {
        (rep.id, None, "month", dt.date(2026, 1, 1), Decimal("1000.00")),
        (rep.id, None, "month", dt.date(2026, 2, 1), Decimal("2000.50")),
        (None, north, "quarter", dt.date(2026, 10, 1), Decimal("90000.00")),
    }
    assert _quotas(in_tenant, tenant) == expected

    again = admin_client.get("/opportunities/quotas?year=2026").get_data(as_text=True)
    assert "From the months: 3,000.5" in again  # Q1 derived from January and February
    bad = {**data, "fingerprint": _fingerprint(again), f"u{rep.id}_m01": "-5", f"u{rep.id}_m03": "abc"}
    refused = admin_client.post("/opportunities/quotas", data=bad)
    assert refused.status_code == 200
    body = refused.get_data(as_text=True)
    assert "Enter an amount of 0 or more." in body and "Not a valid decimal value" in body
    assert 'aria-invalid="true"' in body
    assert _quotas(in_tenant, tenant) == expected


def test_a_save_over_someone_elses_change_is_refused(
    app: Any, tenant: Any, admin: Any, admin_client: Any, make_user: Any, in_tenant: Any
) -> None:
    rep = make_user(tenant, email="rep@acme.example.com", groups=["sales"])
    html = admin_client.get("/opportunities/quotas?year=2026").get_data(as_text=True)
    stale = _fingerprint(html)
    first = {"year": "2026", "fingerprint": stale, f"u{rep.id}_m05": "700"}
    assert admin_client.post("/opportunities/quotas", data=first).status_code == 302
    second = {"year": "2026", "fingerprint": stale, f"u{rep.id}_m05": "1"}
    response = admin_client.post("/opportunities/quotas", data=second)
    assert response.status_code == 200 and "nothing was saved" in response.get_data(as_text=True)
    assert _quotas(in_tenant, tenant) == {(rep.id, None, "month", dt.date(2026, 5, 1), Decimal("700.00"))}


def test_only_quota_managers_reach_the_grid(app: Any, tenant: Any, make_user: Any, client_as: Any) -> None:
    rep = make_user(tenant, email="rep@acme.example.com", groups=["sales"])
    assert client_as(rep).get("/opportunities/quotas").status_code == 403
    manager = make_user(tenant, email="boss@acme.example.com", grants={"opportunities.quotas.manage": "all"})
    assert client_as(manager).get("/opportunities/quotas").status_code == 200
