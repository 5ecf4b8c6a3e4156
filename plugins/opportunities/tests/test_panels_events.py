"""Panels on other plugins' pages (a contact's and a company's opportunities), the stage history and the won/lost
actions on a deal's page, and what the plugin does when contacts are merged or companies renamed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

OPP = "opportunities.opportunity"


def test_a_contact_page_lists_the_deals_the_user_may_see_open_first_with_totals(
    admin: Any, make_user: Any, client_as: Any, api_as: Any, tenant: Any, stages: dict[str, Any]
) -> None:
    api = api_as(admin)
    contact = api.post("/api/v1/contacts", json={"name": "林美玲"}).json["id"]
    grants = {f"{OPP}.view": "own", f"{OPP}.create": "all", "contacts.contact.view": "all"}
    rep = make_user(tenant, email="rep@acme.example.com", grants=grants)
    api.post(
        "/api/v1/opportunities", json={"name": "Admin's closed deal", "contact_id": contact, "stage_id": stages["won"]}
    )
    api.post("/api/v1/opportunities", json={"name": "Admin's open deal", "contact_id": contact, "amount": "700"})
    api_as(rep).post("/api/v1/opportunities", json={"name": "Rep's deal", "contact_id": contact, "amount": "300"})

    page = client_as(admin).get(f"/contacts/contacts/{contact}").get_data(as_text=True)
    url = f"/opportunities/panels/contact/{contact}"
    assert f'data-lazy-url="{url}"' in page
    panel = client_as(admin).get(url).get_data(as_text=True)
    assert panel.index("Admin&#39;s open deal") < panel.index("Admin&#39;s closed deal")
    assert "Rep&#39;s deal" in panel
    assert f"/opportunities/opportunities/new?contact_id={contact}" in panel

    mine = client_as(rep).get(url).get_data(as_text=True)
    assert "Rep&#39;s deal" in mine and "Admin&#39;s" not in mine
    assert "<dd>1 · TWD 300" in mine  # the rep's own open total, not the admin's


def test_a_company_page_lists_its_deals(admin: Any, admin_client: Any, api_as: Any) -> None:
    api = api_as(admin)
    company = api.post("/api/v1/companies", json={"name": "聯發科技"}).json["id"]
    api.post("/api/v1/opportunities", json={"name": "5G 晶片授權", "company_id": company, "amount": "1000"})
    page = admin_client.get(f"/contacts/companies/{company}").get_data(as_text=True)
    assert f'data-lazy-url="/opportunities/panels/company/{company}"' in page
    panel = admin_client.get(f"/opportunities/panels/company/{company}").get_data(as_text=True)
    assert "5G 晶片授權" in panel and f"company_id={company}" in panel


def test_disabling_opportunities_removes_the_panel_from_contact_pages(
    app: Any, admin: Any, admin_client: Any, api_as: Any, tenant: Any, in_tenant: Any
) -> None:
    from core import db
    from core.tenant_plugins import disable_plugin, enable_plugin

    contact = api_as(admin).post("/api/v1/contacts", json={"name": "陳志明"}).json["id"]
    url = f"/opportunities/panels/contact/{contact}"
    assert url in admin_client.get(f"/contacts/contacts/{contact}").get_data(as_text=True)
    with in_tenant(tenant):
        disable_plugin(tenant, "opportunities")
        db.session.commit()
    page = admin_client.get(f"/contacts/contacts/{contact}")
    assert page.status_code == 200 and url not in page.get_data(as_text=True)
    assert admin_client.get(url).status_code == 404
    with in_tenant(tenant):
        enable_plugin(tenant, "opportunities")
        db.session.commit()
    assert url in admin_client.get(f"/contacts/contacts/{contact}").get_data(as_text=True)


def test_the_deal_page_shows_its_stage_history_and_marks_it_won(
    admin: Any, admin_client: Any, api_as: Any, stages: dict[str, Any], tenant: Any, in_tenant: Any
) -> None:
    from core import db
    from plugins.opportunities.models import Opportunity

    deal = api_as(admin).post("/api/v1/opportunities", json={"name": "Detail deal"}).json["id"]
    page = admin_client.get(f"/opportunities/opportunities/{deal}").get_data(as_text=True)
    assert "Stage history" in page and "Mark won" in page and "Mark lost" in page
    action = page.split("/opportunities/board/move/", 1)[1].split('"', 1)[0].replace("&amp;", "&")
    response = admin_client.post("/opportunities/board/move/" + action)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/opportunities/opportunities/{deal}")
    with in_tenant(tenant):
        assert db.session.get(Opportunity, deal).status == "won"
    page = admin_client.get(f"/opportunities/opportunities/{deal}").get_data(as_text=True)
    assert "Mark won" not in page and "Mark lost" in page


def test_merging_contacts_and_companies_moves_their_deals(
    admin: Any, admin_client: Any, api_as: Any, tenant: Any, in_tenant: Any
) -> None:
    from core import db
    from plugins.opportunities.models import Opportunity, OpportunityContact

    api = api_as(admin)
    keep = api.post("/api/v1/contacts", json={"name": "王大同"}).json
    dupe = api.post("/api/v1/contacts", json={"name": "王大同 (dup)"}).json
    deal = api.post(
        "/api/v1/opportunities",
        json={"name": "Merged deal", "contact_id": dupe["id"], "contacts": [{"contact_id": dupe["id"]}]},
    ).json["id"]
    both = api.post(
        "/api/v1/opportunities",
        json={"name": "Both", "contacts": [{"contact_id": keep["id"]}, {"contact_id": dupe["id"]}]},
    ).json["id"]
    response = admin_client.post(
        f"/contacts/merge/contact/{keep['id']}?with={dupe['id']}",
        data={"version_a": keep["version"], "version_b": dupe["version"], "into": "a"},
    )
    assert response.status_code == 302
    with in_tenant(tenant):
        record = db.session.get(Opportunity, deal)
        assert record.contact_id == keep["id"] and record.contact_name == "王大同"
        rows = db.session.execute(select(OpportunityContact.opportunity_id, OpportunityContact.contact_id)).all()
        assert sorted(rows) == sorted([(deal, keep["id"]), (both, keep["id"])])

    big = api.post("/api/v1/companies", json={"name": "大同公司"}).json
    small = api.post("/api/v1/companies", json={"name": "大同股份"}).json
    company_deal = api.post("/api/v1/opportunities", json={"name": "Company deal", "company_id": small["id"]}).json
    response = admin_client.post(
        f"/contacts/merge/company/{big['id']}?with={small['id']}",
        data={"version_a": big["version"], "version_b": small["version"], "into": "a"},
    )
    assert response.status_code == 302
    with in_tenant(tenant):
        record = db.session.get(Opportunity, company_deal["id"])
        assert record.company_id == big["id"] and record.company_name == "大同公司"


def test_renaming_a_company_renames_it_on_its_deals_and_in_search(
    admin: Any, admin_client: Any, api_as: Any, tenant: Any, in_tenant: Any
) -> None:
    from core import db
    from plugins.opportunities.models import Opportunity

    api = api_as(admin)
    company = api.post("/api/v1/companies", json={"name": "宏碁"}).json
    deal = api.post("/api/v1/opportunities", json={"name": "筆電採購", "company_id": company["id"]}).json["id"]
    renamed = api.patch(
        f"/api/v1/companies/{company['id']}", json={"name": "宏碁股份有限公司", "version": company["version"]}
    )
    assert renamed.status_code == 200, renamed.json
    with in_tenant(tenant):
        assert db.session.get(Opportunity, deal).company_name == "宏碁股份有限公司"
    found = api.get("/api/v1/opportunities", query_string={"q": "股份有限"}).json
    assert [row["id"] for row in found["data"]] == [deal]
