"""Record references (widget "reference"), money in the record's own currency, and rules an entity's ``apply``
enforces against the stored record — seen through the opportunity pages, which reference companies and contacts."""

from __future__ import annotations

import re
from typing import Any

import pytest


@pytest.fixture
def api(admin: Any, api_as: Any) -> Any:
    return api_as(admin)


def _company(api: Any, name: str, **extra: Any) -> int:
    response = api.post("/api/v1/companies", json={"name": name, **extra})
    assert response.status_code == 201, response.json
    return response.json["id"]


def _deal(api: Any, **data: Any) -> dict[str, Any]:
    response = api.post("/api/v1/opportunities", json={"name": "Deal", **data})
    assert response.status_code == 201, response.json
    return response.json


def _lost_stage(in_tenant: Any, tenant: Any) -> int:
    from sqlalchemy import select

    from core import db
    from plugins.opportunities.models import Stage

    with in_tenant(tenant):
        return db.session.scalar(select(Stage.id).where(Stage.kind == "lost").order_by(Stage.position))


def _form_values(html: str) -> dict[str, str]:
    return {
        name: value
        for name, value in re.findall(r'<input[^>]*?name="([^"]+)"[^>]*?value="([^"]*)"', html)
        if name not in ("csrf_token",)
    }


# --------------------------------------------------------------------------------------------- showing


def test_detail_and_list_show_the_company_title_linked_in_one_query_per_entity(
    admin: Any, api: Any, client_as: Any, app: Any
) -> None:
    from sqlalchemy import event

    tsmc = _company(api, "台積電")
    acer = _company(api, "Acer Inc.")
    deal = _deal(api, company_id=tsmc, amount="1200", currency="USD")
    for i in range(5):
        _deal(api, name=f"Other {i}", company_id=acer if i % 2 else tsmc)
    client = client_as(admin)

    detail = client.get(f"/opportunities/opportunities/{deal['id']}").get_data(as_text=True)
    assert f'href="/contacts/companies/{tsmc}"' in detail and "台積電" in detail
    # The deal's own currency (English shows US dollars as "$"), not the workspace's NT$.
    assert 'data-widget="money">$1,200.00<' in detail and "NT$1,200.00" not in detail

    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = app.extensions["crm.db"].engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        listing = client.get("/opportunities/opportunities/?columns=company_id,amount").get_data(as_text=True)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert f'href="/contacts/companies/{acer}"' in listing and "Acer Inc." in listing
    assert "$1,200.00" in listing and "NT$1,200.00" not in listing
    company_reads = [s for s in statements if "FROM contacts_companies" in s]
    assert len(company_reads) == 1  # the page's titles in one query, not one per row


def test_a_company_outside_the_users_scope_shows_as_hidden_without_its_name(
    admin: Any, api: Any, make_user: Any, tenant: Any, client_as: Any
) -> None:
    secret = _company(api, "Secret Holdings")
    seller = make_user(
        tenant,
        email="sam@acme.example.com",
        grants={
            "contacts.company.view": "own",
            "opportunities.opportunity.view": "own",
            "opportunities.opportunity.create": "all",
            "opportunities.opportunity.edit": "own",
        },
    )
    deal = _deal(api, company_id=secret, owner_id=seller.id)
    client = client_as(seller)
    page = client.get(f"/opportunities/opportunities/{deal['id']}").get_data(as_text=True)
    shown = re.search(r'<dd data-field="company_id"[^>]*>(.*?)</dd>', page, re.S)
    assert shown is not None and shown.group(1).strip() == "Hidden record"
    assert f"/contacts/companies/{secret}" not in page
    # Editing keeps the reference without revealing it ("#id" stands for it).
    form = client.get(f"/opportunities/opportunities/{deal['id']}/edit").get_data(as_text=True)
    values = _form_values(form)
    assert values["company_id__title"] == f"#{secret}"
    saved = client.post(
        f"/opportunities/opportunities/{deal['id']}/edit",
        data={**values, "name": "Renamed"},
    )
    assert saved.status_code == 302
    assert api.get(f"/api/v1/opportunities/{deal['id']}").json["company_id"] == secret
    # Typing the hidden company's name finds nothing the seller may see.
    refused = client.post(
        "/opportunities/opportunities/new", data={"name": "Probe", "company_id__title": "Secret Holdings"}
    )
    assert refused.status_code == 400
    assert "No record called Secret Holdings" in refused.get_data(as_text=True)


# ---------------------------------------------------------------------------------------------- typing


def test_the_form_resolves_a_typed_title_without_javascript(admin: Any, api: Any, client_as: Any) -> None:
    tsmc = _company(api, "台積電")
    _company(api, "Twin Co")
    _company(api, "Twin Co")
    client = client_as(admin)

    form = client.get(f"/opportunities/opportunities/new?company_id={tsmc}").get_data(as_text=True)
    assert 'value="台積電"' in form and "reference.js" in form and "/api/v1/companies" in form

    created = client.post("/opportunities/opportunities/new", data={"name": "A", "company_id__title": " 台積電 "})
    assert created.status_code == 302
    deal_id = int(created.headers["Location"].rstrip("/").split("/")[-1])
    assert api.get(f"/api/v1/opportunities/{deal_id}").json["company_id"] == tsmc

    by_id = client.post("/opportunities/opportunities/new", data={"name": "B", "company_id__title": f"#{tsmc}"})
    assert by_id.status_code == 302

    for typed, message in (("Nobody Ltd", "No record called Nobody Ltd"), ("Twin Co", "Several records")):
        response = client.post("/opportunities/opportunities/new", data={"name": "C", "company_id__title": typed})
        page = response.get_data(as_text=True)
        assert response.status_code == 400
        assert message in page
        assert f'value="{typed}"' in page  # what was typed stays in the input
    names = [row["name"] for row in api.get("/api/v1/opportunities").json["data"]]
    assert "C" not in names


def test_a_stale_hidden_id_loses_to_the_title_typed_beside_it(admin: Any, api: Any, client_as: Any) -> None:
    first = _company(api, "First Co")
    second = _company(api, "Second Co")
    client = client_as(admin)
    response = client.post(
        "/opportunities/opportunities/new",
        data={"name": "D", "company_id": str(first), "company_id__title": "Second Co"},
    )
    assert response.status_code == 302
    deal_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    assert api.get(f"/api/v1/opportunities/{deal_id}").json["company_id"] == second


def test_the_list_filters_on_a_reference_by_id(api: Any, admin: Any, client_as: Any) -> None:
    one = _company(api, "One Co")
    two = _company(api, "Two Co")
    _deal(api, name="Deal of one", company_id=one)
    _deal(api, name="Deal of two", company_id=two)
    client = client_as(admin)
    page = client.get(f"/opportunities/opportunities/?company_id={one}").get_data(as_text=True)
    assert "Deal of one" in page and "Deal of two" not in page
    assert client.get("/opportunities/opportunities/?company_id=abc").status_code == 400


# ------------------------------------------------------------------------------------- apply's own rules


def test_a_rule_of_apply_shows_next_to_the_field_and_saves_nothing(
    admin: Any, api: Any, client_as: Any, in_tenant: Any, tenant: Any
) -> None:
    lost = _lost_stage(in_tenant, tenant)
    deal = _deal(api, stage_id=lost, lost_reason="No budget")
    assert deal["status"] == "lost"

    # API: clearing the reason of a lost deal is refused with the field's error, nothing changes.
    response = api.patch(f"/api/v1/opportunities/{deal['id']}", json={"lost_reason": None, "name": "Changed"})
    assert response.status_code == 422
    assert "lost_reason" in response.json["errors"]
    stored = api.get(f"/api/v1/opportunities/{deal['id']}").json
    assert stored["lost_reason"] == "No budget" and stored["name"] == "Deal"

    # The form: the same rule, next to the field, the other changes not saved either.
    client = client_as(admin)
    form = client.get(f"/opportunities/opportunities/{deal['id']}/edit").get_data(as_text=True)
    values = _form_values(form)
    values.update({"name": "Changed", "lost_reason": ""})
    refused = client.post(f"/opportunities/opportunities/{deal['id']}/edit", data=values)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert re.search(r'id="f-lost_reason-error">[^<]*Say why the opportunity was lost', page)
    stored = api.get(f"/api/v1/opportunities/{deal['id']}").json
    assert stored["lost_reason"] == "No budget" and stored["name"] == "Deal"


def test_export_writes_the_referenced_records_title_and_hides_what_the_reader_may_not_see(
    api: Any, admin: Any, tenant: Any, make_user: Any, client_as: Any
) -> None:
    visible = _company(api, "台達電子")
    _deal(api, name="變頻器專案", company_id=visible, amount="500000")
    csv = client_as(admin).get("/opportunities/opportunities/export?columns=name,company_id").get_data(as_text=True)
    assert "變頻器專案,台達電子" in csv

    # A rep who may export every deal but see no company reads "Hidden record", never the company's name.
    rep = make_user(
        tenant,
        email="rep@acme.example.com",
        grants={"opportunities.opportunity.view": "all", "opportunities.opportunity.export": "all"},
    )
    hidden = client_as(rep).get("/opportunities/opportunities/export?columns=name,company_id").get_data(as_text=True)
    assert "變頻器專案,Hidden record" in hidden and "台達電子" not in hidden
