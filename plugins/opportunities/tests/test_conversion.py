"""Converting a lead: contact, company and opportunity in one step, deduplicated, with the lead's timeline."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import func, select

from core import db
from plugins.contacts.models import Company, Contact, Interaction
from plugins.opportunities.models import Lead, LeadActivity, Opportunity


def log(tenant: Any, in_tenant: Any, lead_id: int, user_id: int, kind: str, subject: str, when: dt.datetime) -> None:
    with in_tenant(tenant):
        db.session.add(LeadActivity(lead_id=lead_id, kind=kind, subject=subject, occurred_at=when, user_id=user_id))
        db.session.commit()


def checked(html: str, name: str) -> str | None:
    """The value of the radio button of ``name`` the page selected."""
    found = re.search(rf'<input checked[^>]*name="{name}"[^>]*value="([^"]*)"', html)
    return found.group(1) if found else None


def counts(tenant: Any, in_tenant: Any) -> tuple[int, int, int]:
    with in_tenant(tenant):
        return tuple(db.session.scalar(select(func.count(m.id))) for m in (Contact, Company, Opportunity))  # type: ignore[return-value]


def convert_data(**extra: Any) -> dict[str, Any]:
    return {"opportunity_name": "晶圓檢測設備", "amount": "150000", "currency": "TWD", **extra}


def test_conversion_links_the_existing_company_and_contact_and_carries_the_timeline(
    admin: Any, admin_client: Any, create: Any, tenant: Any, in_tenant: Any, stages: dict[str, Any]
) -> None:
    company = create(tenant, "companies", {"name": "台積電"}, admin)
    contact = create(tenant, "contacts", {"name": "王小明", "email": "ming@tsmc.example.com"}, admin)
    lead = create(
        tenant,
        "leads",
        {"name": "王小明", "company_name": "台積電", "email": "MING@tsmc.example.com", "notes": "想要報價"},
        admin,
    )
    called = dt.datetime(2024, 3, 1, 2, 30, tzinfo=dt.UTC)
    log(tenant, in_tenant, lead, admin.id, "call", "第一次通話", called)
    log(tenant, in_tenant, lead, admin.id, "meeting", "拜訪新竹", called + dt.timedelta(days=2))

    form = admin_client.get(f"/opportunities/leads/{lead}/convert").get_data(as_text=True)
    assert checked(form, "contact") == str(contact)  # the same e-mail address
    assert checked(form, "company") == str(company)  # the same name

    response = admin_client.post(
        f"/opportunities/leads/{lead}/convert",
        data=convert_data(contact=str(contact), company=str(company), pipeline_id=str(stages["pipeline"]), version="1"),
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    assert counts(tenant, in_tenant) == (1, 1, 1)  # nothing duplicated
    with in_tenant(tenant):
        converted = db.session.get(Lead, lead)
        deal = db.session.scalar(select(Opportunity))
        assert response.location.endswith(f"/opportunities/opportunities/{deal.id}")
        assert (converted.contact_id, converted.company_id, converted.opportunity_id) == (contact, company, deal.id)
        assert converted.converted_at is not None
        assert (deal.lead_id, deal.company_id, deal.contact_id, deal.stage_id) == (
            lead,
            company,
            contact,
            stages["open"][0],
        )
        assert str(deal.amount) == "150000.00"
        entries = db.session.scalars(
            select(Interaction).where(Interaction.contact_id == contact).order_by(Interaction.occurred_at)
        ).all()
        carried = [(e.kind, e.subject, e.user_id) for e in entries if e.kind != "system"]
        assert carried[:2] == [("call", "第一次通話", admin.id), ("meeting", "拜訪新竹", admin.id)]
        assert entries[0].occurred_at == called
        assert any(e.kind == "note" and e.body == "想要報價" for e in entries)

    detail = admin_client.get(f"/opportunities/leads/{lead}").get_data(as_text=True)
    assert f"/contacts/contacts/{contact}" in detail and f"/opportunities/opportunities/{deal.id}" in detail
    assert f"/opportunities/leads/{lead}/convert" not in detail  # no Convert button any more

    again = admin_client.post(
        f"/opportunities/leads/{lead}/convert",
        data=convert_data(contact="new", company="new", pipeline_id=str(stages["pipeline"]), version="2"),
    )
    assert again.status_code == 302
    assert counts(tenant, in_tenant) == (1, 1, 1)


def test_conversion_creates_a_new_contact_and_company_when_none_match(
    admin: Any, admin_client: Any, create: Any, tenant: Any, in_tenant: Any, stages: dict[str, Any]
) -> None:
    create(tenant, "companies", {"name": "鴻海精密"}, admin)
    lead = create(tenant, "leads", {"name": "陳建宏", "company_name": "聯發科", "phone": "0933-000-111"}, admin)
    form = admin_client.get(f"/opportunities/leads/{lead}/convert").get_data(as_text=True)
    assert "鴻海精密" not in form
    response = admin_client.post(
        f"/opportunities/leads/{lead}/convert",
        data=convert_data(contact="new", company="new", pipeline_id=str(stages["pipeline"]), version="1"),
    )
    assert response.status_code == 302
    with in_tenant(tenant):
        contact = db.session.scalar(select(Contact).where(Contact.name == "陳建宏"))
        assert contact.company_name == "聯發科" and contact.mobile == "0933-000-111"
        assert db.session.scalar(select(func.count(Company.id))) == 2


def test_a_failed_conversion_changes_nothing(
    admin: Any, admin_client: Any, create: Any, tenant: Any, in_tenant: Any, stages: dict[str, Any], monkeypatch: Any
) -> None:
    from plugins.opportunities import conversion

    lead = create(tenant, "leads", {"name": "林美玲", "company_name": "廣達"}, admin)

    def broken(*args: Any, **kwargs: Any) -> int:
        raise conversion.ConversionError({"lead": ["The timeline could not be copied."]})

    monkeypatch.setattr(conversion, "carry_timeline", broken)
    response = admin_client.post(
        f"/opportunities/leads/{lead}/convert",
        data=convert_data(contact="new", company="new", pipeline_id=str(stages["pipeline"]), version="1"),
    )
    assert response.status_code == 400
    assert "The timeline could not be copied." in response.get_data(as_text=True)
    assert counts(tenant, in_tenant) == (0, 0, 0)
    with in_tenant(tenant):
        assert db.session.get(Lead, lead).converted_at is None


def test_a_sales_rep_cannot_convert_or_see_a_lead_outside_their_scope(
    admin: Any, make_user: Any, client_as: Any, create: Any, tenant: Any, stages: dict[str, Any], in_tenant: Any
) -> None:
    north = make_user(tenant, name="North rep", departments=["North"], groups=["sales"])
    colleague = make_user(tenant, name="North colleague", departments=["North"], groups=["sales"])
    south = make_user(tenant, name="South rep", departments=["South"], groups=["sales"])
    lead = create(tenant, "leads", {"name": "張志明", "company_name": "華碩"}, colleague)
    data = convert_data(contact="new", company="new", pipeline_id=str(stages["pipeline"]), version="1")

    # Same department: sales see the department's leads, but convert only their own.
    same = client_as(north)
    assert same.get(f"/opportunities/leads/{lead}").status_code == 200
    assert f"/opportunities/leads/{lead}/convert" not in same.get(f"/opportunities/leads/{lead}").get_data(as_text=True)
    assert same.get(f"/opportunities/leads/{lead}/convert").status_code == 404
    assert same.post(f"/opportunities/leads/{lead}/convert", data=data).status_code == 404
    assert same.post(f"/opportunities/leads/{lead}/disqualify", data={"reason": "Spam"}).status_code == 404

    # Another department: the lead does not exist for them.
    other = client_as(south)
    for path in ("", "/convert", "/activities", "/log", "/disqualify"):
        assert other.get(f"/opportunities/leads/{lead}{path}").status_code == 404, path
    assert counts(tenant, in_tenant) == (0, 0, 0)

    # The owner can.
    owner = client_as(colleague)
    assert f"/opportunities/leads/{lead}/convert" in owner.get(f"/opportunities/leads/{lead}").get_data(as_text=True)
    assert owner.post(f"/opportunities/leads/{lead}/convert", data=data).status_code == 302
    assert counts(tenant, in_tenant) == (1, 1, 1)


def test_disqualify_with_a_reason_and_log_activities_on_a_lead(
    admin: Any, admin_client: Any, create: Any, tenant: Any, in_tenant: Any
) -> None:
    lead = create(tenant, "leads", {"name": "李大華"}, admin)
    assert admin_client.get(f"/opportunities/leads/{lead}/log?kind=note").status_code == 200
    logged = admin_client.post(f"/opportunities/leads/{lead}/log", data={"kind": "call", "subject": "沒接"})
    assert logged.status_code == 302
    panel = admin_client.get(f"/opportunities/leads/{lead}/activities").get_data(as_text=True)
    assert "沒接" in panel and "Call" in panel
    refused = admin_client.post(f"/opportunities/leads/{lead}/disqualify", data={"reason": "", "version": "2"})
    assert refused.status_code == 400
    done = admin_client.post(f"/opportunities/leads/{lead}/disqualify", data={"reason": "No budget", "version": "2"})
    assert done.status_code == 302
    with in_tenant(tenant):
        row = db.session.get(Lead, lead)
        assert (row.status, row.disqualify_reason) == ("disqualified", "No budget")
