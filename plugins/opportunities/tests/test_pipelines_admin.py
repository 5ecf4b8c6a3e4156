"""Pipeline administration: create, rename, reorder and deactivate pipelines; add, edit, reorder, deactivate and
delete stages, refusing what would leave a pipeline without an open, won or lost stage or lose deals."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from core import db


def _stages(in_tenant: Any, tenant: Any, pipeline_id: int) -> list[tuple[str, str, bool]]:
    from plugins.opportunities.models import Stage

    with in_tenant(tenant):
        rows = db.session.scalars(select(Stage).where(Stage.pipeline_id == pipeline_id).order_by(Stage.position))
        return [(s.name, s.kind, s.active) for s in rows]


def test_only_pipeline_managers_reach_the_pages(make_user: Any, client_as: Any, tenant: Any, stages: Any) -> None:
    rep = client_as(make_user(tenant, email="rep@acme.example.com", grants={"opportunities.opportunity.view": "all"}))
    assert rep.get("/opportunities/pipelines/").status_code == 403
    assert rep.post("/opportunities/pipelines/new", data={"name": "Sneaky"}).status_code == 403
    manager = client_as(
        make_user(tenant, email="ops@acme.example.com", grants={"opportunities.pipelines.manage": "all"})
    )
    page = manager.get("/opportunities/pipelines/")
    assert page.status_code == 200 and "Negotiation" in page.get_data(as_text=True)


def test_create_rename_and_add_a_stage(admin_client: Any, tenant: Any, in_tenant: Any, stages: Any) -> None:
    from plugins.opportunities.models import Pipeline

    assert admin_client.post("/opportunities/pipelines/new", data={"name": "續約 Renewals"}).status_code == 302
    with in_tenant(tenant):
        renewals = db.session.scalar(select(Pipeline).where(Pipeline.name == "續約 Renewals"))
        assert renewals is not None and not renewals.is_default
        renewals_id = renewals.id
    edit_url = f"/opportunities/pipelines/{renewals_id}/edit"
    assert admin_client.post(edit_url, data={"name": "", "version": "1"}).status_code == 422
    assert admin_client.post(edit_url, data={"name": "Renewals", "version": "1"}).status_code == 302
    bad = admin_client.post(
        f"/opportunities/pipelines/{renewals_id}/stages/new",
        data={"name": "Quote sent", "probability": "150", "kind": "open", "forecast_category": "commit"},
    )
    assert bad.status_code == 422 and "0 to 100" in bad.get_data(as_text=True)
    admin_client.post(
        f"/opportunities/pipelines/{renewals_id}/stages/new",
        data={"name": "Quote sent", "probability": "60", "kind": "open", "forecast_category": "commit"},
    )
    names = [name for name, _kind, _active in _stages(in_tenant, tenant, renewals_id)]
    assert names[-1] == "Quote sent"
    board = admin_client.get(f"/opportunities/board/{renewals_id}").get_data(as_text=True)
    assert "Renewals" in board and "Quote sent" in board


def test_a_pipeline_keeps_an_open_a_won_and_a_lost_stage(
    admin_client: Any, tenant: Any, in_tenant: Any, stages: dict[str, Any]
) -> None:
    won = stages["won"]
    response = admin_client.post(f"/opportunities/pipelines/stages/{won}/active", follow_redirects=True)
    assert "at least one active open, won and lost stage" in response.get_data(as_text=True)
    edit = admin_client.post(
        f"/opportunities/pipelines/stages/{won}/edit",
        data={"name": "Won", "probability": "100", "kind": "open", "forecast_category": "commit", "version": "1"},
    )
    assert edit.status_code == 422 and "at least one active open, won and lost stage" in edit.get_data(as_text=True)
    assert ("Won", "won", True) in _stages(in_tenant, tenant, stages["pipeline"])


def test_a_stage_holding_deals_is_not_deleted_and_its_deals_can_be_moved_first(
    admin: Any, admin_client: Any, create: Any, tenant: Any, in_tenant: Any, stages: dict[str, Any]
) -> None:
    from plugins.opportunities.models import Opportunity, StageHistory

    first, second = stages["open"][0], stages["open"][1]
    deal = create(tenant, "opportunities", {"name": "Holder"}, admin)
    refused = admin_client.post(f"/opportunities/pipelines/stages/{first}/delete", follow_redirects=True)
    assert "cannot be deleted" in refused.get_data(as_text=True)
    deactivate = admin_client.post(f"/opportunities/pipelines/stages/{first}/active")
    assert "/move-deals" in deactivate.headers["Location"]
    assert _stages(in_tenant, tenant, stages["pipeline"])[0][2] is True
    admin_client.post(f"/opportunities/pipelines/stages/{first}/move-deals", data={"target": second})
    with in_tenant(tenant):
        assert db.session.get(Opportunity, deal).stage_id == second
        assert len(db.session.scalars(select(StageHistory).where(StageHistory.opportunity_id == deal)).all()) == 2
    admin_client.post(f"/opportunities/pipelines/stages/{first}/active")
    assert _stages(in_tenant, tenant, stages["pipeline"])[0][2] is False
    # A stage that never held a deal can go.
    third = stages["open"][2]
    admin_client.post(f"/opportunities/pipelines/stages/{third}/move", data={"direction": "up"})
    assert [n for n, _k, _a in _stages(in_tenant, tenant, stages["pipeline"])][:3] == [
        "Qualification",
        "Proposal",
        "Needs analysis",
    ]
    admin_client.post(f"/opportunities/pipelines/stages/{stages['open'][3]}/delete")
    assert "Negotiation" not in [n for n, _k, _a in _stages(in_tenant, tenant, stages["pipeline"])]


def test_the_last_active_pipeline_cannot_be_deactivated(admin_client: Any, stages: dict[str, Any]) -> None:
    response = admin_client.post(f"/opportunities/pipelines/{stages['pipeline']}/active", follow_redirects=True)
    assert "at least one active pipeline" in response.get_data(as_text=True)


def test_a_stage_saved_by_someone_else_meanwhile_is_not_overwritten(
    admin_client: Any, tenant: Any, in_tenant: Any, stages: dict[str, Any]
) -> None:
    """Two managers open the same stage; the second save is refused and shows what the first one saved."""
    first = stages["open"][0]
    url = f"/opportunities/pipelines/stages/{first}/edit"
    form = {"probability": "15", "kind": "open", "forecast_category": "pipeline", "version": "1"}
    assert admin_client.post(url, data={**form, "name": "初步接觸"}).status_code == 302
    late = admin_client.post(url, data={**form, "name": "Discovery", "probability": "30"})
    assert late.status_code == 409
    page = late.get_data(as_text=True)
    assert "changed this meanwhile" in page and 'value="初步接觸"' in page
    assert ("初步接觸", "open", True) in _stages(in_tenant, tenant, stages["pipeline"])
