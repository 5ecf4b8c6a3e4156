"""The forecast checked against hand-computed figures, its scopes (a rep, a manager, an administrator), period
boundaries, the CSV download and the JSON API.

The deals of ``deals`` (default pipeline: Qualification 10 %, Needs analysis 20 %, Proposal 50 % best case,
Negotiation 75 % commit, Won, Lost); rep1 and rep2 are in North, rep3 in South; amounts in TWD unless said:

====  =====  ==============  ============  ============  ==========  =============  =====  ====================
deal  owner  stage           amount        close (exp.)  closed on   created        cycle  furthest position
====  =====  ==============  ============  ============  ==========  =============  =====  ====================
A     rep1   Proposal        100,000       2026-10-15    –           2026-10-02     –      2
B     rep1   Negotiation     USD 1,000     2026-12-31    –           2026-10-02     –      3
C     rep2   Qualification   50,000        2027-01-01    –           2026-09-01     –      0
D     rep3   Needs analysis  200,000       2026-11-30    –           2026-10-02     –      1
E     rep1   Won             80,000        –             2026-11-10  2026-10-02     30     3
F     rep3   Won             120,000       –             2026-12-31  2026-10-02     60     2
G     rep2   Lost (Price)    60,000        –             2026-10-05  2026-10-02     –      1
H     rep3   Lost (Compet.)  40,000        –             2026-12-01  2026-10-02     –      0
I     rep2   Lost (Price)    10,000        –             2027-01-01  2026-09-01     –      0
J     rep1   Won             5,000         –             2026-09-30  2026-09-01     10     0
====  =====  ==============  ============  ============  ==========  =============  =====  ====================

Quotas: North 50,000 for each of Oct, Nov, Dec 2026; South 100,000 for 2026-Q4 itself; rep1 40,000 for Oct and Nov.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest

Q4 = "2026-Q4"


@pytest.fixture
def deals(
    app: Any, tenant: Any, admin: Any, make_user: Any, create: Any, stages: dict[str, Any], in_tenant: Any
) -> Any:
    """The users and deals of the table above; returns a namespace of the users and department ids."""
    from decimal import Decimal

    from sqlalchemy import select, update

    from core import db
    from core.models import Department
    from plugins.opportunities.models import Opportunity, Quota

    rep1 = make_user(tenant, email="rep1@acme.example.com", name="王小明", groups=["sales"], departments=["North"])
    rep2 = make_user(tenant, email="rep2@acme.example.com", name="Rep Two", groups=["sales"], departments=["North"])
    rep3 = make_user(tenant, email="rep3@acme.example.com", name="Rep Three", groups=["sales"], departments=["South"])
    manager = make_user(
        tenant,
        email="boss@acme.example.com",
        name="North Boss",
        departments=["North"],
        grants={"opportunities.forecast.view": "department", "opportunities.opportunity.view": "department"},
    )
    with in_tenant(tenant):
        departments = dict(db.session.execute(select(Department.name, Department.id)).all())
    north, south = departments["North"], departments["South"]
    qualification, needs, proposal, negotiation = stages["open"]
    won, lost = stages["won"], stages["lost"]
    d = dt.date
    rows = [
        # name, owner, department, stage, amount, currency, expected close, closed on, created, cycle, furthest
        ("A", rep1, north, proposal, "100000", "TWD", d(2026, 10, 15), None, d(2026, 10, 2), None, 2, None),
        ("B", rep1, north, negotiation, "1000", "USD", d(2026, 12, 31), None, d(2026, 10, 2), None, 3, None),
        ("C", rep2, north, qualification, "50000", "TWD", d(2027, 1, 1), None, d(2026, 9, 1), None, 0, None),
        ("D", rep3, south, needs, "200000", "TWD", d(2026, 11, 30), None, d(2026, 10, 2), None, 1, None),
        ("E", rep1, north, won, "80000", "TWD", None, d(2026, 11, 10), d(2026, 10, 2), 30, 3, None),
        ("F", rep3, south, won, "120000", "TWD", None, d(2026, 12, 31), d(2026, 10, 2), 60, 2, None),
        ("G", rep2, north, lost, "60000", "TWD", None, d(2026, 10, 5), d(2026, 10, 2), 3, 1, "Price too high"),
        ("H", rep3, south, lost, "40000", "TWD", None, d(2026, 12, 1), d(2026, 10, 2), 59, 0, "Chose a competitor"),
        ("I", rep2, north, lost, "10000", "TWD", None, d(2027, 1, 1), d(2026, 9, 1), 122, 0, "Price too high"),
        ("J", rep1, north, won, "5000", "TWD", None, d(2026, 9, 30), d(2026, 9, 1), 10, 0, None),
    ]
    ids = {}
    for name, owner, department, stage, amount, currency, expected, closed, created, cycle, furthest, reason in rows:
        data = {"name": name, "stage_id": stage, "amount": amount, "currency": currency}
        if reason:
            data["lost_reason"] = reason
        ids[name] = create(tenant, "opportunities", data, admin)
        with in_tenant(tenant):
            db.session.execute(
                update(Opportunity)
                .where(Opportunity.id == ids[name])
                .values(
                    owner_id=owner.id,
                    department_id=department,
                    expected_close_date=expected,
                    closed_on=closed,
                    cycle_days=cycle,
                    furthest_position=furthest,
                    created_at=dt.datetime.combine(created, dt.time(3), dt.UTC),
                )
            )
            db.session.commit()
    with in_tenant(tenant):
        for month in (10, 11, 12):
            db.session.add(Quota(department_id=north, period="month", period_start=d(2026, month, 1), amount=50000))
        db.session.add(Quota(department_id=south, period="quarter", period_start=d(2026, 10, 1), amount=100000))
        for month in (10, 11):
            db.session.add(Quota(user_id=rep1.id, period="month", period_start=d(2026, month, 1), amount=40000))
        db.session.commit()
        assert db.session.get(Opportunity, ids["B"]).amount_base == Decimal("32000.00")  # USD 1,000 at 32

    class Data:
        pass

    data = Data()
    data.rep1, data.rep2, data.rep3, data.manager, data.admin = rep1, rep2, rep3, manager, admin
    data.north, data.south, data.ids = north, south, ids
    return data


def _forecast(api: Any, **args: str) -> dict[str, Any]:
    response = api.get("/api/v1/opportunities/forecast", query_string={"period": Q4, **args})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


def test_totals_of_the_quarter_match_the_hand_computed_figures(deals: Any, api_as: Any) -> None:
    body = _forecast(api_as(deals.admin), group="none")
    total = body["total"]
    assert body["period"] == {"key": Q4, "kind": "quarter", "start": "2026-10-01", "end": "2026-12-31"}
    assert body["currency"] == "TWD"
    assert total["open_count"] == 3  # A, B, D (C closes the day after the quarter)
    assert total["open_amount"] == "332000.00"  # 100,000 + 32,000 + 200,000
    assert total["weighted"] == "114000.00"  # 50,000 + 24,000 + 40,000
    assert total["won_count"] == 2 and total["won"] == "200000.00"  # E, F (J was won in Q3)
    assert total["best_case"] == "332000.00"  # won + A (best case) + B (commit)
    assert total["committed"] == "232000.00"  # won + B
    assert total["quota"] == "250000.00"  # North 3 × 50,000 from its months + South's quarter quota
    assert total["attainment"] == "80.0"
    assert body["rows"] == []


def test_by_owner_and_by_department(deals: Any, api_as: Any) -> None:
    api = api_as(deals.admin)
    by_owner = {row["key"]: row for row in _forecast(api, group="owner")["rows"]}
    assert set(by_owner) == {deals.rep1.id, deals.rep3.id}
    rep1 = by_owner[deals.rep1.id]
    assert rep1["name"] == "王小明"
    assert (rep1["open_amount"], rep1["weighted"], rep1["won"]) == ("132000.00", "74000.00", "80000.00")
    assert (rep1["quota"], rep1["attainment"]) == ("80000.00", "100.0")  # Oct + Nov
    assert by_owner[deals.rep3.id]["quota"] is None and by_owner[deals.rep3.id]["attainment"] is None

    by_department = {row["key"]: row for row in _forecast(api, group="department")["rows"]}
    north, south = by_department[deals.north], by_department[deals.south]
    assert (north["open_amount"], north["won"], north["quota"], north["attainment"]) == (
        "132000.00",
        "80000.00",
        "150000.00",
        "53.3",
    )
    assert (south["open_amount"], south["won"], south["quota"], south["attainment"]) == (
        "200000.00",
        "120000.00",
        "100000.00",
        "120.0",
    )


def test_a_deal_on_the_last_day_of_a_quarter_counts_in_it_and_the_next_day_does_not(deals: Any, api_as: Any) -> None:
    api = api_as(deals.admin)
    q1 = _forecast(api, period="2027-Q1", group="none")["total"]
    assert q1["open_amount"] == "50000.00"  # C (2027-01-01); B (2026-12-31) stays in Q4
    assert q1["won"] == "0.00"
    december = _forecast(api, period="2026-12", group="none")["total"]
    assert december["open_amount"] == "32000.00" and december["won"] == "120000.00"  # B and F on the 31st
    assert december["quota"] == "50000.00"  # North's December; South has only a quarterly quota
    year = _forecast(api, period="2026", group="none")["total"]
    assert year["won"] == "205000.00"  # J, E, F


def test_a_rep_sees_only_their_own_deals_and_quota(deals: Any, api_as: Any) -> None:
    body = _forecast(api_as(deals.rep1), group="owner")
    assert [row["key"] for row in body["rows"]] == [deals.rep1.id]
    total = body["total"]
    assert (total["open_amount"], total["won"], total["quota"]) == ("132000.00", "80000.00", "80000.00")
    other = _forecast(api_as(deals.rep3), group="none")["total"]
    assert (other["open_amount"], other["won"], other["quota"]) == ("200000.00", "120000.00", None)


def test_a_manager_sees_the_department(deals: Any, api_as: Any, client_as: Any) -> None:
    body = _forecast(api_as(deals.manager), group="owner")
    assert {row["key"] for row in body["rows"]} == {deals.rep1.id}  # rep2 has nothing in Q4; rep3 is South
    total = _forecast(api_as(deals.manager), group="none")["total"]
    assert (total["open_amount"], total["won"], total["quota"]) == ("132000.00", "80000.00", "150000.00")
    page = client_as(deals.manager).get(f"/opportunities/forecast?period={Q4}&group=department")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "North" in html and "South" not in html.split("<main", 1)[1].split("</main>", 1)[0].replace(
        "All departments", ""
    )


def test_without_the_permission_there_is_no_forecast(deals: Any, make_user: Any, tenant: Any, api_as: Any) -> None:
    reader = make_user(tenant, email="reader@acme.example.com", grants={"opportunities.opportunity.view": "all"})
    assert api_as(reader).get(f"/api/v1/opportunities/forecast?period={Q4}").status_code == 403
    anonymous = api_as(reader)
    anonymous.environ_base.pop("HTTP_AUTHORIZATION")
    assert anonymous.get(f"/api/v1/opportunities/forecast?period={Q4}").status_code == 401


def test_bad_arguments_are_named(deals: Any, api_as: Any) -> None:
    api = api_as(deals.admin)
    response = api.get("/api/v1/opportunities/forecast?period=2026-Q5")
    assert response.status_code == 400 and "period" in response.json["errors"]
    response = api.get("/api/v1/opportunities/forecast?period=2026-Q4&group=colour")
    assert response.status_code == 400 and "group" in response.json["errors"]


def test_forecast_by_month(deals: Any, api_as: Any) -> None:
    months = {m["month"]: m for m in _forecast(api_as(deals.admin), group="none")["by_month"]}
    assert len(months) == 12 and min(months) == "2026-10" and max(months) == "2027-09"
    assert months["2026-10"] == {"month": "2026-10", "weighted": "50000.00", "committed": "0.00", "won": "0.00"}
    assert months["2026-11"] == {"month": "2026-11", "weighted": "40000.00", "committed": "80000.00", "won": "80000.00"}
    assert months["2026-12"]["committed"] == "152000.00"  # F won + B in a commit stage
    assert months["2027-01"]["weighted"] == "5000.00"  # C at 10 %


def test_page_shows_figures_chart_and_table_and_csv_opens_in_excel(deals: Any, client_as: Any) -> None:
    client = client_as(deals.admin)
    page = client.get(f"/opportunities/forecast?period={Q4}&group=owner")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'role="img"' in html and "<title" in html and "王小明" in html
    assert "332,000" in html and "80.0%" in html  # the team's attainment, whatever the grouping
    response = client.get(f"/opportunities/forecast?period={Q4}&group=owner&format=csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][:3] == ["Name", "Open deals", "Open amount"]
    by_name = {row[0]: row for row in rows[1:]}
    assert by_name["王小明"][2] == "132000.00" and by_name["王小明"][9] == "100.0"
    assert by_name["Total"][7] == "200000.00" and by_name["Total"][8] == "250000.00"
    months = client.get(f"/opportunities/forecast?period={Q4}&format=csv&table=months").get_data().decode("utf-8-sig")
    assert "2026-11,40000.00,80000.00,80000.00" in months


def test_another_tenant_sees_none_of_it(deals: Any, make_tenant: Any, make_user: Any, api_as: Any) -> None:
    from plugins.opportunities import plugin

    other = make_tenant("globex", plugins=["contacts", plugin.META["name"]])
    admin = make_user(other, email="admin@globex.example.com", groups=["administrators"])
    total = _forecast(api_as(admin), group="none")["total"]
    assert (total["open_amount"], total["won"], total["quota"]) == ("0.00", "0.00", None)


def test_a_deal_in_the_trash_leaves_the_figures(deals: Any, api_as: Any) -> None:
    api = api_as(deals.admin)
    assert api.delete(f"/api/v1/opportunities/{deals.ids['A']}").status_code == 204
    total = _forecast(api, group="none")["total"]
    assert (total["open_count"], total["open_amount"]) == (2, "232000.00")
