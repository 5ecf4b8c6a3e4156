"""The public web-to-lead form: what a visitor, a spammer and another workspace's host see."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select

from core import db
from plugins.opportunities.models import Lead, WebForm


@pytest.fixture
def web_form(admin_client: Any, tenant: Any, in_tenant: Any) -> str:
    """A form made on the admin page (name, company, e-mail and a required phone); returns its public path."""
    response = admin_client.post(
        "/opportunities/admin/web-forms/new",
        data={
            "name": "官網詢價",
            "asked": ["name", "company_name", "email", "phone", "notes"],
            "required": ["email"],
            "source": "Website",
            "thank_you_message": "謝謝，我們會盡快與您聯絡。",
            "active": "y",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    with in_tenant(tenant):
        token = db.session.scalar(select(WebForm.token))
    return f"/opportunities/forms/{token}"


def leads(in_tenant: Any, tenant: Any) -> list[Lead]:
    with in_tenant(tenant):
        rows = list(db.session.scalars(select(Lead).order_by(Lead.id)))
        db.session.expunge_all()
        return rows


def test_admin_page_shows_the_public_url_and_a_snippet_with_a_hidden_honeypot(
    admin_client: Any, web_form: str, tenant: Any, in_tenant: Any
) -> None:
    assert "官網詢價" in admin_client.get("/opportunities/admin/web-forms").get_data(as_text=True)
    with in_tenant(tenant):
        form_id = db.session.scalar(select(WebForm.id))
    text = admin_client.get(f"/opportunities/admin/web-forms/{form_id}").get_data(as_text=True)
    text = text.replace("&#34;", '"').replace("&quot;", '"')
    assert f"http://acme.crm.test{web_form}" in text
    assert f'&lt;form method="post" action="http://acme.crm.test{web_form}"' in text
    assert "gx-hp" in text and "left:-10000px" in text and 'name="homepage"' in text


def test_a_valid_submission_becomes_a_lead_of_that_workspace_only(
    client_as: Any, tenant: Any, make_tenant: Any, in_tenant: Any, web_form: str
) -> None:
    other = make_tenant("globex", plugins=["contacts", "opportunities"])
    visitor = client_as(None, tenant=tenant)
    hosted = visitor.get(web_form)
    assert hosted.status_code == 200 and 'name="homepage"' in hosted.get_data(as_text=True)
    sent = visitor.post(
        web_form,
        data={"name": "王小明", "company_name": "台積電", "email": "Ming@TSMC.example.com", "phone": "0912-345-678"},
    )
    assert sent.status_code == 200
    assert "謝謝，我們會盡快與您聯絡。" in sent.get_data(as_text=True)
    (lead,) = leads(in_tenant, tenant)
    assert (lead.name, lead.email, lead.source, lead.status) == ("王小明", "ming@tsmc.example.com", "Website", "new")
    assert lead.web_form_id is not None and lead.phone_digits == "0912345678"
    assert leads(in_tenant, other) == []
    # The same form's address on another workspace's host does not exist there.
    elsewhere = client_as(None, tenant=other)
    assert elsewhere.get(web_form).status_code == 404
    assert elsewhere.post(web_form, data={"name": "X", "email": "x@example.com"}).status_code == 404
    assert leads(in_tenant, other) == []


def test_invalid_submissions_are_shown_again_with_errors_and_store_nothing(
    client_as: Any, tenant: Any, in_tenant: Any, web_form: str
) -> None:
    visitor = client_as(None, tenant=tenant)
    missing = visitor.post(web_form, data={"name": "", "email": ""})
    assert missing.status_code == 400
    html = missing.get_data(as_text=True)
    assert html.count("This field is required.") == 2
    bad = visitor.post(web_form, data={"name": "王小明", "email": "not-an-address", "company_name": "x" * 201})
    assert bad.status_code == 400
    html = bad.get_data(as_text=True)
    assert 'id="wf-email-error"' in html and 'id="wf-company_name-error"' in html
    assert 'value="王小明"' in html  # what the visitor typed is kept
    assert leads(in_tenant, tenant) == []


def test_a_filled_honeypot_pretends_success_and_stores_nothing(
    client_as: Any, tenant: Any, in_tenant: Any, web_form: str
) -> None:
    bot = client_as(None, tenant=tenant)
    response = bot.post(web_form, data={"name": "Cheap pills", "email": "bot@spam.example", "homepage": "http://x"})
    assert response.status_code == 200
    assert "謝謝" in response.get_data(as_text=True)
    assert leads(in_tenant, tenant) == []


def test_rate_limit_per_client_address(app: Any, client_as: Any, tenant: Any, in_tenant: Any, web_form: str) -> None:
    app.config["OPPORTUNITIES_WEBFORM_IP_LIMIT"] = 3
    visitor = client_as(None, tenant=tenant)
    for number in range(3):
        assert visitor.post(web_form, data={"name": f"L{number}", "email": f"l{number}@example.com"}).status_code == 200
    refused = visitor.post(web_form, data={"name": "L4", "email": "l4@example.com"})
    assert refused.status_code == 429
    assert "Too many submissions" in refused.get_data(as_text=True)
    assert [lead.name for lead in leads(in_tenant, tenant)] == ["L0", "L1", "L2"]
    # Another address is not held back by this one.
    other = visitor.post(
        web_form, data={"name": "L5", "email": "l5@example.com"}, environ_base={"REMOTE_ADDR": "10.0.0.9"}
    )
    assert other.status_code == 200


def test_rate_limit_per_form(app: Any, client_as: Any, tenant: Any, in_tenant: Any, web_form: str) -> None:
    app.config["OPPORTUNITIES_WEBFORM_FORM_LIMIT"] = 2
    visitor = client_as(None, tenant=tenant)
    for number in range(2):
        address = {"REMOTE_ADDR": f"10.0.1.{number}"}
        assert (
            visitor.post(
                web_form, data={"name": f"L{number}", "email": "a@b.example"}, environ_base=address
            ).status_code
            == 200
        )
    refused = visitor.post(
        web_form, data={"name": "L3", "email": "a@b.example"}, environ_base={"REMOTE_ADDR": "10.0.1.7"}
    )
    assert refused.status_code == 429
    with in_tenant(tenant):
        assert db.session.scalar(select(func.count(Lead.id))) == 2


def test_posting_from_another_site_needs_no_csrf_token_but_respects_allowed_origins(
    make_app: Any, make_tenant: Any, make_user: Any, client_as: Any, in_tenant: Any
) -> None:
    from plugins.contacts import plugin as contacts_plugin
    from plugins.opportunities import plugin as opportunities_plugin

    app = make_app(plugins=[contacts_plugin, opportunities_plugin], WTF_CSRF_ENABLED=True)
    tenant = make_tenant("initech", plugins=["contacts", "opportunities"], use_app=app)
    with in_tenant(tenant, use_app=app):
        form = WebForm(
            token="t" * 43, name="Contact us", fields=["name", "email"], allowed_origins="https://www.initech.example"
        )
        db.session.add(form)
        db.session.commit()
    visitor = client_as(None, tenant=tenant, use_app=app)
    path = "/opportunities/forms/" + "t" * 43
    ok = visitor.post(
        path, data={"name": "Peter", "email": "p@example.com"}, headers={"Origin": "https://www.initech.example"}
    )
    assert ok.status_code == 200
    foreign = visitor.post(
        path, data={"name": "Eve", "email": "e@example.com"}, headers={"Origin": "https://evil.example"}
    )
    assert foreign.status_code == 403
    with in_tenant(tenant, use_app=app):
        assert list(db.session.scalars(select(Lead.name))) == ["Peter"]


def test_a_deactivated_form_answers_not_found(
    admin_client: Any, client_as: Any, tenant: Any, in_tenant: Any, web_form: str
) -> None:
    with in_tenant(tenant):
        form_id = db.session.scalar(select(WebForm.id))
    assert admin_client.post(f"/opportunities/admin/web-forms/{form_id}/active").status_code == 302
    visitor = client_as(None, tenant=tenant)
    assert visitor.get(web_form).status_code == 404
    assert visitor.post(web_form, data={"name": "X", "email": "x@example.com"}).status_code == 404
    assert re.search("Inactive", admin_client.get("/opportunities/admin/web-forms").get_data(as_text=True))


def test_the_capture_pages_need_their_permission(client_as: Any, make_user: Any, tenant: Any) -> None:
    rep = make_user(tenant, groups=["sales"])
    client = client_as(rep)
    assert client.get("/opportunities/admin/web-forms").status_code == 403
    assert client.get("/opportunities/admin/assignment-rules").status_code == 403
