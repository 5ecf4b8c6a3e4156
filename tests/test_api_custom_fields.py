"""Custom fields through the REST API: written, read, validated, filtered, and described in openapi.json."""

import pytest

from core import db
from core.models.custom_fields import CustomField
from tests.items_plugin import plugin as items_plugin

ALL = {f"items.item.{action}": "all" for action in ("view", "create", "edit", "delete")}


@pytest.fixture
def app(make_app):
    return make_app(plugins=[items_plugin])


@pytest.fixture
def acme(make_tenant, in_tenant):
    tenant = make_tenant("acme")
    with in_tenant(tenant):
        db.session.add_all(
            [
                CustomField(
                    entity="items",
                    key="region",
                    label="Sales region",
                    type="choice",
                    choices=[["north", "North"], ["south", "South"]],
                    position=1,
                ),
                CustomField(entity="items", key="size", label="Size", type="number", required=True, position=2),
                CustomField(entity="items", key="buyer", label="Buyer", type="user", position=3),
            ]
        )
        db.session.commit()
    return tenant


def test_custom_fields_round_trip_through_the_api(acme, make_user, api_as):
    user = make_user(acme, grants=ALL)
    api = api_as(user)

    created = api.post("/api/v1/items", json={"name": "Big one", "custom": {"region": "north", "size": 3}})
    assert created.status_code == 201, created.get_json()
    item = created.get_json()
    assert item["custom"]["region"] == "north" and item["custom"]["size"] == 3

    changed = api.patch(f"/api/v1/items/{item['id']}", json={"custom": {"size": 5}, "version": item["version"]})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["custom"]["region"] == "north" and changed.get_json()["custom"]["size"] == 5

    api.post("/api/v1/items", json={"name": "Small one", "custom": {"region": "south", "size": 1}})
    listed = api.get("/api/v1/items?cf_region=north").get_json()["data"]
    assert [row["name"] for row in listed] == ["Big one"]
    listed = api.get("/api/v1/items?cf_size__lte=2").get_json()["data"]
    assert [row["name"] for row in listed] == ["Small one"]


def test_custom_field_errors_are_listed_under_custom(acme, make_tenant, make_user, api_as):
    outsider = make_user(make_tenant("globex"))
    api = api_as(make_user(acme, grants=ALL))

    missing = api.post("/api/v1/items", json={"name": "No size"})
    assert missing.status_code == 422
    assert set(missing.get_json()["errors"]["custom"]) == {"size"}

    wrong = api.post(
        "/api/v1/items", json={"name": "Wrong", "custom": {"region": "west", "size": "big", "buyer": outsider.id}}
    )
    assert wrong.status_code == 422
    assert set(wrong.get_json()["errors"]["custom"]) == {"region", "size", "buyer"}


def test_the_tenants_custom_fields_are_in_its_openapi_document_only(acme, make_tenant, make_user, api_as):
    spec = api_as(make_user(acme, grants=ALL)).get("/api/v1/openapi.json").get_json()
    custom = spec["components"]["schemas"]["Item"]["properties"]["custom"]
    assert {"region", "size", "buyer"} <= set(custom["properties"])
    assert custom["properties"]["region"]["title"] == "Sales region"
    assert [c["value"] for c in custom["properties"]["region"]["x-choices"]] == ["north", "south"]
    params = {p["name"] for p in spec["paths"]["/api/v1/items"]["get"]["parameters"]}
    assert {"cf_region", "cf_size", "cf_size__gte", "cf_buyer"} <= params

    globex = make_tenant("globex")
    other = api_as(make_user(globex, groups=["administrators"])).get("/api/v1/openapi.json").get_json()
    assert "region" not in other["components"]["schemas"]["Item"]["properties"]["custom"].get("properties", {})
    assert not any(p["name"].startswith("cf_") for p in other["paths"]["/api/v1/items"]["get"]["parameters"])
