"""Win/loss analysis checked against the hand-computed deals of ``test_forecast`` (see its table): win rate,
average size and cycle, funnel conversion, loss reasons, per owner and source, win rate by month, scopes, CSV."""

from __future__ import annotations

import csv
import io
from typing import Any

from .test_forecast import Q4, deals  # noqa: F401  (the fixture)


def _analysis(api: Any, **args: Any) -> dict[str, Any]:
    response = api.get("/api/v1/opportunities/analysis", query_string={"period": Q4, **args})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


def test_win_rate_size_cycle_and_loss_reasons(deals: Any, api_as: Any) -> None:  # noqa: F811
    body = _analysis(api_as(deals.admin))
    total = body["total"]
    assert (total["won_count"], total["lost_count"]) == (2, 2)  # E, F won; G, H lost (I is January, J September)
    assert total["win_rate"] == "50.0"
    assert total["average_size"] == "100000.00"  # (80,000 + 120,000) / 2
    assert total["average_cycle_days"] == "45.0"  # (30 + 60) / 2
    assert total["lost_amount"] == "100000.00"
    assert body["loss_reasons"] == [
        {"reason": "Price too high", "count": 1, "amount": "60000.00"},
        {"reason": "Chose a competitor", "count": 1, "amount": "40000.00"},
    ]
    owners = {row["key"]: row for row in body["owners"]}
    assert owners[deals.rep1.id]["win_rate"] == "100.0" and owners[deals.rep1.id]["name"] == "王小明"
    assert owners[deals.rep2.id]["win_rate"] == "0.0"
    assert owners[deals.rep3.id]["win_rate"] == "50.0" and owners[deals.rep3.id]["average_size"] == "120000.00"
    assert [row["key"] for row in body["sources"]] == [None]  # no source given


def test_funnel_counts_deals_created_in_the_period_by_furthest_stage(deals: Any, api_as: Any) -> None:  # noqa: F811
    funnel = _analysis(api_as(deals.admin))["funnel"]
    assert [(step["name"], step["reached"], step["conversion"]) for step in funnel] == [
        ("Qualification", 7, None),  # A B D E F G H were created in Q4
        ("Needs analysis", 6, "85.7"),
        ("Proposal", 4, "66.7"),
        ("Negotiation", 2, "50.0"),
        ("Won", 2, "100.0"),
    ]


def test_win_rate_by_month(deals: Any, api_as: Any) -> None:  # noqa: F811
    trend = {row["month"]: row for row in _analysis(api_as(deals.admin))["win_rate_by_month"]}
    assert min(trend) == "2026-01" and max(trend) == "2026-12" and len(trend) == 12
    assert trend["2026-09"]["win_rate"] == "100.0"  # J
    assert trend["2026-10"]["win_rate"] == "0.0"  # G
    assert trend["2026-12"] == {"month": "2026-12", "won": 1, "lost": 1, "win_rate": "50.0"}
    assert trend["2026-08"]["win_rate"] is None


def test_scopes_a_rep_and_a_manager(deals: Any, api_as: Any) -> None:  # noqa: F811
    rep3 = _analysis(api_as(deals.rep3))
    assert (rep3["total"]["won_count"], rep3["total"]["lost_count"]) == (1, 1)
    assert [row["key"] for row in rep3["owners"]] == [deals.rep3.id]
    assert [step["reached"] for step in rep3["funnel"]] == [3, 2, 1, 0, 1]  # D, F, H
    manager = _analysis(api_as(deals.manager))
    assert {row["key"] for row in manager["owners"]} == {deals.rep1.id, deals.rep2.id}
    assert manager["total"]["win_rate"] == "50.0"  # E won, G lost


def test_page_charts_tables_and_csv(deals: Any, client_as: Any) -> None:  # noqa: F811
    client = client_as(deals.admin)
    page = client.get(f"/opportunities/analysis?period={Q4}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count('role="img"') == 2 and "Price too high" in html and "85.7%" in html
    reasons = client.get(f"/opportunities/analysis?period={Q4}&format=csv&table=reasons").get_data()
    assert reasons.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(reasons.decode("utf-8-sig"))))
    assert rows == [
        ["Reason for loss", "Lost deals", "Lost"],
        ["Price too high", "1", "60000.00"],
        [
            "Chose a competitor",
            "1",
            "40000.00",
        ],
    ]
    owners = client.get(f"/opportunities/analysis?period={Q4}&format=csv&table=owners").get_data().decode("utf-8-sig")
    assert "王小明,1,80000.00,0,0.00,100.0,80000.00,30.0" in owners
    assert client.get(f"/opportunities/analysis?period={Q4}&format=csv&table=nothing").status_code == 404
