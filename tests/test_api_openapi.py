"""The OpenAPI 3 document of a tenant's API and the readable API page built from it."""

import re

import pytest
from openapi_spec_validator import validate

from core import db
from core.models import Tenant
from core.tenancy import tenant_context
from core.tenant_plugins import disable_plugin
from tests.items_plugin import plugin as items_plugin

ALL = {f"items.item.{action}": "all" for action in ("view", "create", "edit", "delete")}


@pytest.fixture
def app(make_app):
    return make_app(plugins=[items_plugin])


@pytest.fixture
def acme(make_tenant):
    return make_tenant("acme")


def test_the_document_is_valid_openapi_3_and_describes_every_operation(acme, make_user, api_as):
    api = api_as(make_user(acme, grants=ALL))
    response = api.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    validate(spec)  # raises on any structural error

    assert spec["openapi"].startswith("3.") and {"info", "paths", "components"} <= set(spec)
    assert spec["servers"] == [{"url": "http://acme.crm.test"}]
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    assert spec["security"] == [{"bearerAuth": []}]
    assert set(spec["paths"]["/api/v1/items"]) == {"get", "post"}
    assert set(spec["paths"]["/api/v1/items/{id}"]) == {"get", "patch", "delete"}
    assert "/api/v1/search" in spec["paths"]

    item = spec["components"]["schemas"]["Item"]
    assert item["required"] == ["name"]
    assert item["properties"]["amount"] == {**item["properties"]["amount"], "type": "string", "format": "decimal"}
    assert item["properties"]["email"]["format"] == "email"
    assert item["properties"]["status"]["enum"] == ["open", "won", "lost"]
    assert item["properties"]["id"]["readOnly"] is True
    assert {"tags", "custom"} <= set(item["properties"])
    patch = spec["components"]["schemas"]["ItemPatch"]
    assert "required" not in patch and patch["properties"]["version"]["type"] == "integer"

    params = {p["name"]: p for p in spec["paths"]["/api/v1/items"]["get"]["parameters"]}
    assert {"q", "sort", "limit", "ids", "after", "before", "tag", "count", "status", "amount__gte", "due__lt"} <= set(
        params
    )
    assert "-name" in params["sort"]["schema"]["enum"] and "secret" not in params["sort"]["schema"]["enum"]
    assert "status__contains" in params and "amount__contains" not in params
    assert params["due"]["schema"] == {"type": "string", "format": "date"}


def test_the_document_follows_the_api_answers(acme, make_user, api_as):
    """The document's own example of a list answer: data/links/meta, records with the schema's fields."""
    api = api_as(make_user(acme, grants=ALL))
    api.post("/api/v1/items", json={"name": "Described"})
    spec = api.get("/api/v1/openapi.json").get_json()
    listing = api.get("/api/v1/items").get_json()
    answer = spec["paths"]["/api/v1/items"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert set(listing) == set(answer["properties"])
    assert set(listing["data"][0]) <= set(spec["components"]["schemas"]["Item"]["properties"])
    assert set(listing["links"]) == set(spec["components"]["schemas"]["Links"]["properties"])


def test_the_document_needs_a_sign_in(acme, client_as):
    response = client_as(tenant=acme).get("/api/v1/openapi.json")
    assert response.status_code == 401 and response.is_json


def test_entities_vanish_with_their_plugin_or_without_a_grant(acme, make_tenant, make_user, api_as, app):
    admin = make_user(acme, groups=["administrators"])
    assert "/api/v1/items" in api_as(admin).get("/api/v1/openapi.json").get_json()["paths"]

    blind = api_as(make_user(acme))
    spec = blind.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/items" not in spec["paths"] and "Item" not in spec["components"]["schemas"]
    validate(spec)

    with app.app_context(), tenant_context(acme):
        disable_plugin(db.session.get(Tenant, acme.id), "items")
        db.session.commit()
    spec = api_as(admin).get("/api/v1/openapi.json").get_json()
    assert not any(path.startswith("/api/v1/items") for path in spec["paths"])
    assert "Item" not in spec["components"]["schemas"]
    validate(spec)

    globex = make_tenant("globex", plugins=[])
    other = api_as(make_user(globex, groups=["administrators"]))
    assert "/api/v1/items" not in other.get("/api/v1/openapi.json").get_json()["paths"]


def test_the_api_page_is_readable_and_self_contained(acme, make_user, client_as):
    browser = client_as(make_user(acme, grants=ALL))
    response = browser.get("/api/docs")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<code>/api/v1/items/{id}</code>" in html
    assert "Authorization: Bearer $GUANXI_TOKEN" in html
    assert "curl -X POST" in html and "curl -X PATCH" in html and "curl -X DELETE" in html
    assert "http://acme.crm.test/api/v1/items?limit=25" in html
    assert "amount__gte" in html and "<code>status</code>" in html
    assert "&#39;{&#34;name&#34;: &#34;Example&#34;" in html  # the create example's JSON body, escaped
    # No third-party code: every script and stylesheet comes from this host.
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert not url.startswith(("http:", "https:", "//")) or url.startswith("http://acme.crm.test/"), url
    assert "<script>" not in html and "style=" not in html


def test_the_api_page_needs_a_sign_in(acme, client_as):
    response = client_as(tenant=acme).get("/api/docs")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
