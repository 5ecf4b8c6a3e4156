"""The REST API of entities (/api/v1/<plural>), proved on the test-only items plugin with personal API tokens."""

from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import event, select

from core import db
from core.models import Department, Tenant
from core.tenancy import tenant_context
from core.tenant_plugins import disable_plugin, enable_plugin
from tests.items_plugin import plugin as items_plugin
from tests.items_plugin.models import Item

ACTIONS = ("view", "create", "edit", "delete")
ALL = {f"items.item.{action}": "all" for action in ACTIONS}


def grants(scope, actions=ACTIONS):
    return {f"items.item.{action}": scope for action in actions}


@pytest.fixture
def app(make_app):
    return make_app(plugins=[items_plugin])


@pytest.fixture
def acme(make_tenant):
    return make_tenant("acme")


def add_items(in_tenant, tenant, *rows):
    """Insert items directly (``{"name": ..., "owner_id": ...}`` each); returns their ids in order."""
    with in_tenant(tenant):
        items = [Item(**{"status": "open", **row}) for row in rows]
        db.session.add_all(items)
        db.session.commit()
        return [item.id for item in items]


def department_id(in_tenant, tenant, name):
    with in_tenant(tenant):
        return db.session.scalar(select(Department.id).where(Department.name == name))


def ids(response):
    assert response.status_code == 200, response.get_json()
    return [row["id"] for row in response.get_json()["data"]]


def local(url):
    """The path and query of an absolute link from the API, for the test client."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


# ------------------------------------------------------------------------------------------------ CRUD


def test_create_read_update_delete_with_a_token(acme, make_user, api_as, in_tenant):
    api = api_as(make_user(acme, grants=ALL))

    created = api.post(
        "/api/v1/items",
        json={"name": "Kaohsiung order", "email": "buyer@example.com", "amount": "1200.50", "tags": ["VIP", "North"]},
    )
    assert created.status_code == 201
    body = created.get_json()
    assert body["name"] == "Kaohsiung order" and body["amount"] == "1200.50" and body["status"] == "open"
    assert body["tags"] == ["North", "VIP"] and body["custom"] == {} and body["version"] == 1
    assert created.headers["Location"].endswith(f"/api/v1/items/{body['id']}")
    assert created.headers["ETag"] == '"1"'

    read = api.get(f"/api/v1/items/{body['id']}")
    assert read.status_code == 200 and read.get_json() == body

    changed = api.patch(f"/api/v1/items/{body['id']}", json={"status": "won", "version": 1})
    assert changed.status_code == 200
    assert changed.get_json()["status"] == "won"
    assert changed.get_json()["name"] == "Kaohsiung order"  # partial: the rest is untouched
    assert changed.get_json()["version"] == 2

    retagged = api.patch(f"/api/v1/items/{body['id']}", json={"tags": ["VIP"]})
    assert retagged.get_json()["tags"] == ["VIP"]

    deleted = api.delete(f"/api/v1/items/{body['id']}")
    assert deleted.status_code == 204 and deleted.data == b""
    assert api.get(f"/api/v1/items/{body['id']}").status_code == 404
    assert ids(api.get("/api/v1/items")) == []
    with in_tenant(acme):
        trashed = db.session.scalar(select(Item).execution_options(include_deleted=True))
        assert trashed.deleted_at is not None and trashed.status == "won"  # in the trash, not gone


def test_a_bearer_answer_sets_no_session_cookie(acme, make_user, api_as):
    api = api_as(make_user(acme, grants=ALL))
    response = api.get("/api/v1/items")
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers


# ------------------------------------------------------------------------------------------ validation


def test_validation_errors_name_the_fields(acme, make_user, api_as, in_tenant):
    api = api_as(make_user(acme, grants=ALL))

    response = api.post("/api/v1/items", json={"email": "not-an-address", "status": "maybe", "amount": "lots"})
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert set(errors) == {"name", "email", "status", "amount"}
    assert all(isinstance(messages, list) and messages for messages in errors.values())

    (item_id,) = add_items(in_tenant, acme, {"name": "Kept"})
    response = api.patch(f"/api/v1/items/{item_id}", json={"name": None})
    assert response.status_code == 422 and set(response.get_json()["errors"]) == {"name"}
    assert api.get(f"/api/v1/items/{item_id}").get_json()["name"] == "Kept"

    for version in ("three", 1.5, True):
        response = api.patch(f"/api/v1/items/{item_id}", json={"version": version})
        assert response.status_code == 422 and set(response.get_json()["errors"]) == {"version"}, version


def test_users_and_departments_of_another_tenant_are_refused(acme, make_tenant, make_user, api_as, in_tenant):
    globex = make_tenant("globex")
    stranger = make_user(globex, departments=["Sales"])
    api = api_as(make_user(acme, grants=ALL))

    response = api.post(
        "/api/v1/items",
        json={"name": "Hijack", "owner_id": stranger.id, "department_id": department_id(in_tenant, globex, "Sales")},
    )
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"owner_id", "department_id"}
    with in_tenant(acme):
        assert db.session.scalar(select(Item.id)) is None


def test_a_body_that_is_not_a_json_object_is_a_json_400(acme, make_user, api_as):
    api = api_as(make_user(acme, grants=ALL))
    for response in (
        api.post("/api/v1/items", data="name=x", content_type="application/x-www-form-urlencoded"),
        api.post("/api/v1/items", data="{not json", content_type="application/json"),
        api.post("/api/v1/items", json=["a", "list"]),
    ):
        assert response.status_code == 400
        assert response.get_json()["error"]["status"] == 400


# ----------------------------------------------------------------------------------- optimistic locking


def test_a_stale_version_is_refused_with_the_current_record(acme, make_user, api_as, in_tenant):
    api = api_as(make_user(acme, grants=ALL))
    item = api.post("/api/v1/items", json={"name": "Quote"}).get_json()
    url = f"/api/v1/items/{item['id']}"

    assert api.patch(url, json={"amount": "10.00", "version": 1}).status_code == 200  # now version 2

    stale = api.patch(url, json={"amount": "99.00", "version": 1})
    assert stale.status_code == 409
    body = stale.get_json()
    assert body["error"]["status"] == 409 and body["error"]["message"]
    assert body["error"]["changes"] == {"amount": {"current": "10.00", "yours": "99.00"}}
    assert body["current"]["amount"] == "10.00" and body["current"]["version"] == 2
    assert stale.headers["ETag"] == '"2"'

    by_header = api.patch(url, json={"amount": "99.00"}, headers={"If-Match": '"1"'})
    assert by_header.status_code == 409

    assert api.patch(url, json={"amount": "99.00"}, headers={"If-Match": '"2"'}).status_code == 200
    assert api.patch(url, json={"amount": "42.00"}).status_code == 200  # no version: accepted
    with in_tenant(acme):
        assert db.session.get(Item, item["id"]).amount == Decimal("42.00")

    assert api.delete(url, headers={"If-Match": '"1"'}).status_code == 409
    assert api.delete(url).status_code == 204


# ------------------------------------------------------------------------------- pages, filters, sort


def test_cursor_pages_return_every_row_exactly_once(acme, make_user, api_as, in_tenant):
    api = api_as(make_user(acme, grants=ALL))
    created = add_items(in_tenant, acme, *({"name": f"Item {n % 4}", "amount": n} for n in range(23)))

    for sort in ("-updated_at", "name", "-amount"):
        seen, url, pages = [], f"/api/v1/items?limit=5&sort={sort}", []
        while url:
            response = api.get(url)
            pages.append(ids(response))
            seen += pages[-1]
            url = response.get_json()["links"]["next"] and local(response.get_json()["links"]["next"])
        assert sorted(seen) == sorted(created) and len(seen) == len(set(seen)), sort
        assert [len(p) for p in pages] == [5, 5, 5, 5, 3]

    first = api.get("/api/v1/items?limit=5&sort=name")
    assert first.get_json()["links"]["prev"] is None
    second = api.get(local(first.get_json()["links"]["next"]))
    assert parse_qs(urlsplit(second.get_json()["links"]["prev"]).query)["sort"] == ["name"]
    back = api.get(local(second.get_json()["links"]["prev"]))
    assert ids(back) == ids(first)


def test_filters_sort_search_tags_and_count(acme, make_user, api_as, in_tenant):
    api = api_as(make_user(acme, grants=ALL))
    for name, status, amount, tags in [
        ("Alpha", "won", "300", ["VIP"]),
        ("Beta", "won", "100", []),
        ("Gamma", "lost", "200", ["VIP"]),
        ("Delta", "open", None, []),
    ]:
        body = {"name": name, "status": status, "amount": amount, "tags": tags}
        assert api.post("/api/v1/items", json=body).status_code == 201

    def names(query):
        response = api.get(f"/api/v1/items?{query}")
        assert response.status_code == 200, response.get_json()
        return [row["name"] for row in response.get_json()["data"]]

    assert names("status=won&sort=name") == ["Alpha", "Beta"]
    assert names("status=won&status=lost&sort=-amount") == ["Alpha", "Gamma", "Beta"]
    assert names("amount__gte=150&sort=amount") == ["Gamma", "Alpha"]
    assert names("amount__empty=1") == ["Delta"]
    assert names("tag=VIP&sort=name") == ["Alpha", "Gamma"]
    assert names("q=gam") == ["Gamma"]
    assert names("sort=-amount") == ["Alpha", "Gamma", "Beta", "Delta"]  # no amount: last

    every = {row["name"]: row["id"] for row in api.get("/api/v1/items").get_json()["data"]}
    assert names(f"ids={every['Alpha']},{every['Delta']}&sort=name") == ["Alpha", "Delta"]

    counted = api.get("/api/v1/items?status=won&count=1&limit=1").get_json()
    assert counted["meta"] == {"count": 2, "limit": 1} and len(counted["data"]) == 1
    assert "count" not in api.get("/api/v1/items").get_json()["meta"]

    bad = api.get("/api/v1/items?colour=red&sort=secret&amount__gte=lots&limit=x")
    assert bad.status_code == 400
    assert set(bad.get_json()["errors"]) == {"colour", "sort", "amount__gte", "limit"}
    assert api.get("/api/v1/items?after=garbage").status_code == 400


def test_a_page_of_records_costs_the_same_queries_as_a_small_one(acme, make_user, api_as, in_tenant, app):
    api = api_as(make_user(acme, grants=ALL))
    api.get("/api/v1/items")  # warm caches (grants per request, enabled plugins per tenant version)

    def selects(limit):
        statements = []

        def count(conn, cursor, statement, *args):
            statements.append(statement)

        engine = app.extensions["crm.db"].engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            assert len(ids(api.get(f"/api/v1/items?limit={limit}"))) == limit
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(statements)

    add_items(in_tenant, acme, *({"name": f"Item {n}", "owner_id": None} for n in range(30)))
    with in_tenant(acme):
        from core.entities.tags import add_tags

        add_tags("items", db.session.scalars(select(Item.id)).all(), ["VIP", "North"])
        db.session.commit()
    assert selects(25) == selects(2)


# ---------------------------------------------------------------------------------------------- scopes


@pytest.fixture
def scoped_world(acme, make_user, in_tenant):
    colleague = make_user(acme, departments=["North"])
    users = {
        "own": make_user(acme, grants=grants("own"), departments=["North"]),
        "department": make_user(acme, grants=grants("department"), departments=["North"]),
        "all": make_user(acme, grants=grants("all")),
        "none": make_user(acme),
    }
    north = department_id(in_tenant, acme, "North")
    records = dict(
        zip(
            ("mine", "north", "elsewhere"),
            add_items(
                in_tenant,
                acme,
                {"name": "Mine", "owner_id": users["own"].id, "department_id": north},
                {"name": "North's", "owner_id": colleague.id, "department_id": north},
                {"name": "Elsewhere", "owner_id": colleague.id, "department_id": None},
            ),
            strict=True,
        )
    )
    return users, records


@pytest.mark.parametrize(
    "scope,reachable",
    [("own", {"mine"}), ("department", {"mine", "north"}), ("all", {"mine", "north", "elsewhere"})],
)
def test_scopes_apply_to_list_get_patch_and_delete(scope, reachable, scoped_world, api_as):
    users, records = scoped_world
    api = api_as(users[scope])

    assert set(ids(api.get("/api/v1/items"))) == {records[name] for name in reachable}
    assert api.get("/api/v1/items?count=1").get_json()["meta"]["count"] == len(reachable)
    for name, record_id in records.items():
        expected = 200 if name in reachable else 404
        assert api.get(f"/api/v1/items/{record_id}").status_code == expected, name
        assert api.patch(f"/api/v1/items/{record_id}", json={"notes": "seen"}).status_code == expected, name
    for name, record_id in records.items():
        assert api.delete(f"/api/v1/items/{record_id}").status_code == (204 if name in reachable else 404), name


def test_a_user_without_any_grant_gets_403_in_json(scoped_world, api_as):
    users, records = scoped_world
    api = api_as(users["none"])
    record_id = records["mine"]
    for response in (
        api.get("/api/v1/items"),
        api.get(f"/api/v1/items/{record_id}"),
        api.post("/api/v1/items", json={"name": "x"}),
        api.patch(f"/api/v1/items/{record_id}", json={"name": "x"}),
        api.delete(f"/api/v1/items/{record_id}"),
    ):
        assert response.status_code == 403
        assert response.get_json()["error"]["status"] == 403


def test_viewing_is_not_editing(acme, make_user, api_as, in_tenant):
    (record_id,) = add_items(in_tenant, acme, {"name": "Read only"})
    api = api_as(make_user(acme, grants={"items.item.view": "all", "items.item.edit": "own"}))
    assert api.get(f"/api/v1/items/{record_id}").status_code == 200
    assert api.patch(f"/api/v1/items/{record_id}", json={"name": "Changed"}).status_code == 404
    assert api.delete(f"/api/v1/items/{record_id}").status_code == 403
    assert api.get(f"/api/v1/items/{record_id}").get_json()["name"] == "Read only"


# ---------------------------------------------------------------------------------------------- tenants


def test_another_tenants_token_reaches_nothing(acme, make_tenant, make_user, api_as, in_tenant):
    globex = make_tenant("globex")
    (record_id,) = add_items(in_tenant, acme, {"name": "Acme secret"})
    outsider = api_as(make_user(globex, grants=ALL))

    # On its own host the token works, but acme's record is not there.
    for response in (
        outsider.get(f"/api/v1/items/{record_id}"),
        outsider.patch(f"/api/v1/items/{record_id}", json={"name": "Pwned"}),
        outsider.delete(f"/api/v1/items/{record_id}"),
    ):
        assert response.status_code == 404
    assert ids(outsider.get("/api/v1/items")) == []

    # On acme's host the token signs nobody in.
    outsider.host = "acme.crm.test"
    response = outsider.get("/api/v1/items")
    assert response.status_code == 401 and response.get_json()["error"]["status"] == 401
    assert outsider.patch(f"/api/v1/items/{record_id}", json={"name": "Pwned"}).status_code == 401
    with in_tenant(acme):
        assert db.session.get(Item, record_id).name == "Acme secret"


# ------------------------------------------------------------------------------------- disabled plugins


def test_a_disabled_plugins_api_answers_404_and_its_rows_return(acme, make_user, api_as, in_tenant, app):
    (record_id,) = add_items(in_tenant, acme, {"name": "Survivor"})
    api = api_as(make_user(acme, grants=ALL))
    assert api.get(f"/api/v1/items/{record_id}").status_code == 200

    with app.app_context(), tenant_context(acme):
        disable_plugin(db.session.get(Tenant, acme.id), "items")
        db.session.commit()
    for response in (
        api.get("/api/v1/items"),
        api.get(f"/api/v1/items/{record_id}"),
        api.post("/api/v1/items", json={"name": "x"}),
        api.patch(f"/api/v1/items/{record_id}", json={"name": "x"}),
        api.delete(f"/api/v1/items/{record_id}"),
    ):
        assert response.status_code == 404
        assert response.get_json()["error"]["status"] == 404

    with app.app_context(), tenant_context(acme):
        enable_plugin(db.session.get(Tenant, acme.id), "items")
        db.session.commit()
    assert api.get(f"/api/v1/items/{record_id}").get_json()["name"] == "Survivor"


# ------------------------------------------------------------------------------------------ JSON errors


def test_errors_are_json(acme, make_user, api_as, client_as):
    api = api_as(make_user(acme, grants=ALL))
    for response, status in (
        (api.put("/api/v1/items/1", json={}), 405),
        (api.get("/api/v1/nothing-here"), 404),
        (api.get("/api/v1/items/999999"), 404),
    ):
        assert response.status_code == status
        assert response.is_json and response.get_json()["error"]["status"] == status

    anonymous = client_as(tenant=acme)
    response = anonymous.get("/api/v1/items")
    assert response.status_code == 401 and response.is_json
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert anonymous.post("/api/v1/items", json={"name": "x"}).status_code == 401


# ------------------------------------------------------------------------------------------ global search


def test_global_search_endpoint(acme, make_user, api_as, client_as):
    api = api_as(make_user(acme, grants=ALL))
    api.post("/api/v1/items", json={"name": "Taipei 101 order"})
    response = api.get("/api/v1/search?q=Taipei&limit=5")
    assert response.status_code == 200
    hits = response.get_json()["data"]
    assert [hit["title"] for hit in hits] == ["Taipei 101 order"]
    assert {"title", "url", "kind", "subtitle", "score"} <= set(hits[0])
    assert api.get("/api/v1/search?q=Kaohsiung").get_json()["data"] == []
    assert api.get("/api/v1/search?q=Taipei&limit=x").status_code == 400
    assert client_as(tenant=acme).get("/api/v1/search?q=Taipei").status_code == 401

    blind = api_as(make_user(acme))  # no grant on items: their hits are not shown
    assert blind.get("/api/v1/search?q=Taipei").get_json()["data"] == []


# ------------------------------------------------------------------------------------------- overrides


def _special_plugin():
    """A plugin whose entity replaces two API endpoints: one keeps its permission, one declares another."""
    import types

    from flask import jsonify

    from core.api.errors import api_requires
    from core.entities import Entity, entity_permissions
    from core.entities.api import dump
    from core.hooks import hookimpl
    from tests.items_plugin.schemas import ItemSchema

    def get_one(entity, record_id):
        return jsonify({"entity": entity.plural, "asked": record_id})

    @api_requires("special.item.export")
    def list_all(entity):
        return jsonify({"data": dump(entity, [])})

    plugin = types.ModuleType("special_plugin")
    plugin.__file__ = __file__
    plugin.META = {"name": "special"}
    plugin.register_entities = hookimpl(
        lambda: [
            Entity(
                name="special",
                plural="specials",
                model=Item,
                schema=ItemSchema,
                label="Special",
                label_plural="Specials",
                permission_prefix="special.item",
                views={"api.get": get_one, "api.list": list_all},
            )
        ]
    )
    plugin.register_permissions = hookimpl(lambda: entity_permissions("special.item", "Specials"))
    return plugin


def test_a_plugin_replaces_an_endpoint_and_keeps_or_declares_its_permission(make_app, make_tenant, make_user, api_as):
    app = make_app(plugins=[items_plugin, _special_plugin()])
    acme = make_tenant("acme", use_app=app)
    viewer = api_as(make_user(acme, grants={"special.item.view": "all"}, use_app=app), use_app=app)
    assert viewer.get("/api/v1/specials/7").get_json() == {"entity": "specials", "asked": 7}
    assert viewer.get("/api/v1/specials").status_code == 403  # its own permission: export

    exporter = api_as(make_user(acme, grants={"special.item.export": "all"}, use_app=app), use_app=app)
    assert exporter.get("/api/v1/specials").get_json() == {"data": []}
    assert exporter.get("/api/v1/specials/7").status_code == 403  # the endpoint's permission: view
    viewer.environ_base.pop("HTTP_AUTHORIZATION")
    assert viewer.get("/api/v1/specials/7").status_code == 401
