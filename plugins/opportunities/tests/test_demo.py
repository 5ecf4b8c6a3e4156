"""Demo data for crm quickstart: pipelines, leads and deals whose stages, history and figures hang together."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from core import db
from core.demo import load_demo_data
from plugins.opportunities.models import (
    LOST,
    OPEN,
    WON,
    AssignmentRule,
    Lead,
    Opportunity,
    Pipeline,
    Quota,
    Stage,
    StageHistory,
    WebForm,
)


def test_demo_deals_are_consistent_with_their_pipelines_and_history(app: Any, make_tenant: Any, in_tenant: Any) -> None:
    tenant = make_tenant("demo", locale="zh_Hant")
    with app.app_context():
        load_demo_data(tenant)
    with in_tenant(tenant):
        names = {p.name for p in db.session.scalars(select(Pipeline))}
        assert "續約" in names  # the Renewals pipeline, named in the workspace's language
        assert db.session.scalar(select(func.count(Pipeline.id))) == 2
        stages = {s.id: s for s in db.session.scalars(select(Stage))}
        deals = list(db.session.scalars(select(Opportunity)))
        assert len(deals) == 250
        assert {d.status for d in deals} == {OPEN, WON, LOST}
        assert {d.currency for d in deals} == {"TWD", "USD"}
        history: dict[int, list[StageHistory]] = {}
        for row in db.session.scalars(select(StageHistory).order_by(StageHistory.entered_at, StageHistory.id)):
            history.setdefault(row.opportunity_id, []).append(row)
        for d in deals:
            stage = stages[d.stage_id]
            assert stage.pipeline_id == d.pipeline_id
            assert d.status == stage.kind
            assert (d.lost_reason is not None) == (d.status == LOST)
            assert (d.closed_on is not None) == (d.status != OPEN)
            rows = history[d.id]
            assert rows[-1].stage_id == d.stage_id and rows[-1].left_at is None
            assert all(r.left_at is not None for r in rows[:-1])
            assert all(r.left_at == n.entered_at for r, n in zip(rows, rows[1:], strict=False))
            assert all(stages[r.stage_id].pipeline_id == d.pipeline_id for r in rows)
            assert rows[0].entered_at == d.created_at
            positions = [stages[r.stage_id].position for r in rows]
            assert positions == sorted(positions)  # forward only
            if d.status == WON:
                assert d.probability == 100 and d.amount_base > 0
        renewals = db.session.scalar(select(Pipeline.id).where(Pipeline.name == "續約"))
        # Every reason and source is one of the workspace's own lists, so the deal's form accepts it as it is.
        from plugins.opportunities.choices import LEAD_SOURCES, LOST_REASONS

        assert {d.lost_reason for d in deals if d.lost_reason} <= set(LOST_REASONS.values())
        assert {d.source for d in deals} <= set(LEAD_SOURCES.values())
        assert any("價格" in reason for reason in LOST_REASONS.values())  # the zh_Hant list, not the English one
        assert sum(1 for d in deals if d.pipeline_id == renewals) >= 30

        leads = list(db.session.scalars(select(Lead)))
        assert len(leads) == 60
        statuses = {lead.status for lead in leads}
        assert {"new", "disqualified"} <= statuses
        assert all(lead.disqualify_reason for lead in leads if lead.status == "disqualified")
        assert any(lead.converted_at and lead.opportunity_id for lead in leads)
        assert any(not lead.name.isascii() for lead in leads) and any(lead.name.isascii() for lead in leads)

        assert db.session.scalar(select(func.count(Quota.id))) >= 10
        assert db.session.scalar(select(func.count(WebForm.id))) == 1
        assert db.session.scalar(select(func.count(AssignmentRule.id))) == 2

        # The board's and the forecast's figures: open pipeline value and won revenue are not zero.
        open_total = db.session.scalar(select(func.sum(Opportunity.amount_base)).where(Opportunity.status == OPEN))
        won_total = db.session.scalar(select(func.sum(Opportunity.amount_base)).where(Opportunity.status == WON))
        assert open_total > 0 and won_total > 0


def test_demo_pages_show_the_deals(app: Any, make_tenant: Any, make_user: Any, client_as: Any, in_tenant: Any) -> None:
    tenant = make_tenant("demo", locale="zh_Hant")
    with app.app_context():
        load_demo_data(tenant)
    with in_tenant(tenant):
        pipeline = db.session.scalar(select(Pipeline.id).where(Pipeline.is_default.is_(True)))
        some = db.session.scalar(select(Opportunity).where(Opportunity.status == OPEN).limit(1))
        name = some.name
    client = client_as(make_user(tenant, groups=["administrators"]))
    listing = client.get("/opportunities/opportunities/").get_data(as_text=True)
    assert listing.count('href="/opportunities/opportunities/') >= 20
    board = client.get(f"/opportunities/board/{pipeline}")
    assert board.status_code == 200
    found = client.get("/search", query_string={"q": name.split()[0]}).get_data(as_text=True)
    assert "/opportunities/opportunities/" in found
