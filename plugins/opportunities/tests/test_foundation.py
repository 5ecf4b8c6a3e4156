"""The opportunity write path: defaults from the stage, amounts in the workspace currency, the lost reason, and
the won event reaching the customer's timeline."""

from __future__ import annotations

from typing import Any


def test_new_opportunity_starts_in_first_stage_with_its_probability_and_converted_amount(
    admin: Any, api_as: Any, stages: dict[str, Any]
) -> None:
    api = api_as(admin)
    company = api.post("/api/v1/companies", json={"name": "台積電"}).json["id"]
    deal = {"name": "晶圓檢測設備", "company_id": company, "amount": "1000", "currency": "USD"}
    response = api.post("/api/v1/opportunities", json=deal)
    assert response.status_code == 201, response.json
    body = response.json
    assert body["stage_id"] == stages["open"][0]
    assert body["probability"] == 10
    assert body["amount_base"] == "32000.00"  # the default rate USD 32
    assert body["status"] == "open"


def test_lost_needs_a_reason_and_won_reaches_the_company_timeline(
    admin: Any, api_as: Any, stages: dict[str, Any], in_tenant: Any, tenant: Any
) -> None:
    from sqlalchemy import select

    from core import db
    from plugins.contacts.models import Interaction

    api = api_as(admin)
    company = api.post("/api/v1/companies", json={"name": "鴻海精密"}).json["id"]
    deal = api.post("/api/v1/opportunities", json={"name": "產線自動化", "company_id": company}).json["id"]

    refused = api.patch(f"/api/v1/opportunities/{deal}", json={"stage_id": stages["lost"]})
    assert refused.status_code in (400, 422)
    assert "lost_reason" in refused.json["errors"]

    won = api.patch(f"/api/v1/opportunities/{deal}", json={"stage_id": stages["won"]})
    assert won.status_code == 200
    assert won.json["status"] == "won" and won.json["probability"] == 100 and won.json["closed_on"]
    with in_tenant(tenant):
        subjects = list(db.session.scalars(select(Interaction.subject).where(Interaction.company_id == company)))
    assert subjects == ["Opportunity won: 產線自動化"]


def test_a_stage_of_another_pipeline_is_refused(admin: Any, api_as: Any, in_tenant: Any, tenant: Any) -> None:
    from core import db
    from plugins.opportunities.pipelines import create_pipeline, pipelines

    with in_tenant(tenant):
        renewals = create_pipeline("Renewals", [("Due", 60, "open", "commit"), ("Renewed", 100, "won", "commit")])
        db.session.commit()
        other_stage = renewals.stages[0].id
        default_pipeline = next(p.id for p in pipelines() if p.is_default)
    api = api_as(admin)
    response = api.post(
        "/api/v1/opportunities", json={"name": "X", "pipeline_id": default_pipeline, "stage_id": other_stage}
    )
    assert response.status_code in (400, 422)
    assert "stage_id" in response.json["errors"]


def test_an_opportunity_written_outside_a_request_takes_its_contacts_names(
    admin: Any, create: Any, tenant: Any, in_tenant: Any
) -> None:
    """Imports and jobs write outside a request: the contact's and company's names are still copied."""
    from core import db
    from plugins.opportunities.models import Opportunity

    company = create(tenant, "companies", {"name": "聯發科"}, admin)
    contact = create(tenant, "contacts", {"name": "林美華", "company_name": "聯發科"}, admin)
    deal = create(tenant, "opportunities", {"name": "5G 模組", "contact_id": contact}, admin)
    with in_tenant(tenant):
        record = db.session.get(Opportunity, deal)
        assert (record.contact_name, record.company_id, record.company_name) == ("林美華", company, "聯發科")


def test_a_workspace_keeps_its_reasons_in_its_own_language_whoever_reads_them(
    make_tenant: Any, make_user: Any, api_as: Any, in_tenant: Any
) -> None:
    """The default lists are stored in the workspace's language when the plugin is enabled, so a reason a
    Taiwanese colleague picked is still valid when an English-speaking colleague edits the deal."""
    from core.settings import get_setting

    taipei = make_tenant("taipei", locale="zh_Hant")
    with in_tenant(taipei):
        reasons = get_setting("opportunities.lost_reasons")
    assert reasons.startswith("價格")
    english_admin = make_user(taipei, email="en@taipei.example.com", groups=["administrators"], locale="en")
    api = api_as(english_admin)
    deal = api.post("/api/v1/opportunities", json={"name": "Panel order"}).json["id"]
    with in_tenant(taipei):
        from plugins.opportunities.pipelines import final_stage, pipelines

        lost = final_stage(pipelines()[0].id, "lost").id
    first_reason = reasons.split(",")[0].strip()
    response = api.patch(f"/api/v1/opportunities/{deal}", json={"stage_id": lost, "lost_reason": first_reason})
    assert response.status_code == 200, response.json
    assert response.json["lost_reason"] == first_reason
