"""The generic list page of an entity, through tests/items_plugin: columns, sorting, filters, search, tags, keyset
pages (NULLs included), counts and scopes, saved views, bulk actions, and a constant number of queries."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from sqlalchemy import event, insert, select

from core import db
from core.entities import ACTIONS
from core.permissions import requires
from tests.items_plugin import plugin as items_plugin
from tests.items_plugin.models import Item

ALL = {f"items.item.{action}": "all" for action in ACTIONS}
ROW = re.compile(r'class="title-cell"><a href="/items/items/(\d+)">')


@pytest.fixture
def acme(items_app, make_tenant):
    return make_tenant("acme", use_app=items_app)


@pytest.fixture
def person(items_app, make_user):
    def factory(tenant, grants=None, **kwargs):
        return make_user(tenant, grants=grants, use_app=items_app, **kwargs)

    return factory


@pytest.fixture
def browser(items_app, client_as):
    def factory(user):
        return client_as(user, use_app=items_app)

    return factory


@pytest.fixture
def add_items(items_app, in_tenant):
    """``add_items(tenant, [{"name": ...}, ...])``: rows written straight to the database; returns their ids."""

    def add(tenant, rows, tags=None):
        from core.entities.tags import add_tags

        with in_tenant(tenant, use_app=items_app):
            objects = [Item(**{"status": "open", **row}) for row in rows]
            db.session.add_all(objects)
            db.session.flush()
            ids = [obj.id for obj in objects]
            for name, tagged in (tags or {}).items():
                add_tags("items", [ids[i] for i in tagged], [name])
            db.session.commit()
            return ids

    return add


@pytest.fixture
def department_id(items_app, in_tenant):
    def find(tenant, name):
        from core.models import Department

        with in_tenant(tenant, use_app=items_app):
            return db.session.scalar(select(Department.id).where(Department.name == name))

    return find


def text(response):
    return response.get_data(as_text=True)


def listed(response):
    assert response.status_code == 200, text(response)[-2000:]
    return [int(i) for i in ROW.findall(text(response))]


def total_shown(response):
    found = re.search(r'<p class="list-count" role="status">([\d,]+) records?</p>', text(response))
    return int(found.group(1).replace(",", ""))


def headers_of(page):
    return [h.strip() for h in re.findall(r'<th scope="col"[^>]*>(?:<a[^>]*>)?([^<]+)', page)]


def next_url(response, rel="next"):
    found = re.search(rf'href="([^"]+)" rel="{rel}"', text(response))
    return found.group(1).replace("&amp;", "&") if found else None


# ---------------------------------------------------------------------------------------- columns, sort


def test_default_and_chosen_columns_with_formatted_cells(acme, person, browser, add_items):
    user = person(acme, ALL, name="Mei Lin")
    add_items(
        acme,
        [{"name": "Alpha", "email": "a@example.com", "amount": Decimal("12.5"), "owner_id": user.id, "phone": "0912"}],
        tags={"vip": [0]},
    )
    client = browser(user)
    page = text(client.get("/items/items/"))
    headers = headers_of(page)
    assert headers == ["Name", "E-mail", "Status", "Amount", "Due", "Updated at"]
    assert 'data-label="Amount" data-widget="money">NT$12.50</td>' in page
    assert 'data-label="E-mail" data-widget="email"><a href="mailto:a@example.com">a@example.com</a>' in page
    assert all('data-label="' in cell for cell in re.findall(r"<td[^>]*>", page) if "select-cell" not in cell)

    chosen = text(client.get("/items/items/?columns=owner_id&columns=tags&columns=phone"))
    headers = headers_of(chosen)
    assert headers == ["Name", "Owner", "Tags", "Phone"]
    assert 'data-label="Owner" data-widget="user">Mei Lin</td>' in chosen
    assert 'data-label="Tags" data-widget="tags"><span class="badge">vip</span></td>' in chosen
    assert 'data-label="Phone" data-widget="phone"><a href="tel:0912">0912</a></td>' in chosen
    assert 'id="column-tags" name="columns" value="tags" checked' in chosen


def test_sorting_by_a_column_and_back(acme, person, browser, add_items):
    ids = add_items(acme, [{"name": n} for n in ["b", "c", "a"]])
    client = browser(person(acme, ALL))
    response = client.get("/items/items/?sort=name")
    assert listed(response) == [ids[2], ids[0], ids[1]]
    assert 'aria-sort="ascending"' in text(response)
    assert 'href="/items/items/?sort=-name"' in text(response)
    assert listed(client.get("/items/items/?sort=-name")) == [ids[1], ids[0], ids[2]]
    bad = client.get("/items/items/?sort=notes")
    assert bad.status_code == 400 and "Cannot sort by notes." in text(bad)


# ------------------------------------------------------------------------------------ filters and search


def test_filters_search_and_tags(acme, person, browser, add_items):
    seller = person(acme, ALL, name="Seller")
    other = person(acme, ALL, name="Other")
    ids = add_items(
        acme,
        [
            {
                "name": "Pump A",
                "status": "won",
                "amount": Decimal("15"),
                "owner_id": seller.id,
                "due": dt.date(2025, 1, 5),
            },
            {"name": "Pump B", "status": "open", "amount": Decimal("25"), "owner_id": other.id},
            {
                "name": "Valve",
                "status": "won",
                "amount": Decimal("18"),
                "owner_id": other.id,
                "due": dt.date(2025, 2, 1),
            },
        ],
        tags={"vip": [0, 2], "台北": [2]},
    )
    client = browser(seller)
    assert set(listed(client.get("/items/items/?status=won"))) == {ids[0], ids[2]}
    assert set(listed(client.get("/items/items/?amount__gte=10&amount__lte=20"))) == {ids[0], ids[2]}
    assert listed(client.get(f"/items/items/?owner_id={seller.id}")) == [ids[0]]
    assert listed(client.get("/items/items/?due__gte=2025-01-20&due__lte=2025-02-28")) == [ids[2]]
    assert set(listed(client.get("/items/items/?tag=vip"))) == {ids[0], ids[2]}
    assert listed(client.get("/items/items/?tag=台北")) == [ids[2]]
    assert set(listed(client.get("/items/items/?q=pump"))) == {ids[0], ids[1]}
    response = client.get("/items/items/?q=pump&status=won")
    assert listed(response) == [ids[0]] and total_shown(response) == 1

    page = text(client.get("/items/items/?status=won"))
    status = re.search(r'<select id="filter-status" name="status">.*?</select>', page, re.S).group(0)
    assert '<option value="won" selected>Won</option>' in status
    owners = re.search(r'<select id="filter-owner_id" name="owner_id">.*?</select>', page, re.S).group(0)
    assert f'<option value="{seller.id}">Seller</option>' in owners
    assert 'name="amount__gte"' in page and 'name="due__lte"' in page and 'type="date"' in page


def test_a_bad_filter_value_is_shown_next_to_its_filter(acme, person, browser, add_items):
    add_items(acme, [{"name": "Any"}])
    response = browser(person(acme, ALL)).get("/items/items/?amount__gte=lots")
    assert response.status_code == 400
    page = text(response)
    field = re.search(r'<input id="filter-amount__gte"[^>]*>', page).group(0)
    assert 'aria-invalid="true"' in field and 'value="lots"' in field
    assert '<p class="error" id="filter-amount__gte-error">Not a valid value for this field.</p>' in page
    assert ROW.findall(page) == []


# ------------------------------------------------------------------------------------- keyset pages


def walk(client, url):
    """Every row id, following "Next" links from ``url``; also the URL of the last page."""
    seen, pages = [], 0
    while url:
        response = client.get(url)
        seen += listed(response)
        pages += 1
        last, url = url, next_url(response)
    return seen, pages, last


@pytest.mark.parametrize("sort", ["amount", "-amount", "name", "-updated_at"])
def test_keyset_pages_return_every_row_once_in_order_nulls_last(acme, person, browser, add_items, sort):
    start = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
    rows = []
    for n in range(53):
        amount = None if n % 5 == 0 else Decimal(n % 7)  # duplicates and NULLs
        rows.append({"name": f"item {n % 11:02d}", "amount": amount, "updated_at": start + dt.timedelta(minutes=n % 4)})
    ids = add_items(acme, rows)
    client = browser(person(acme, ALL))

    seen, pages, last = walk(client, f"/items/items/?sort={sort}&limit=7")
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen)) == 53
    assert pages == 8
    key, descending = sort.lstrip("-"), sort.startswith("-")
    present = sorted(
        ((row[key], i) for i, row in zip(ids, rows, strict=True) if row[key] is not None), reverse=descending
    )
    absent = sorted((i for i, row in zip(ids, rows, strict=True) if row[key] is None), reverse=descending)
    assert seen == [i for _value, i in present] + absent

    back, url = [], last
    while url:
        response = client.get(url)
        back = listed(response) + back
        url = next_url(response, "prev")
    assert back == seen  # walking back with "Previous" gives the same rows in the same order


def test_a_deep_page_costs_the_same_number_of_queries_as_the_first(acme, person, browser, items_app, in_tenant):
    user = person(acme, ALL)
    with in_tenant(acme, use_app=items_app):
        start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
        db.session.execute(
            insert(Item),
            [
                {"name": f"row {n:04d}", "status": "open", "owner_id": user.id, "updated_at": start + dt.timedelta(n)}
                for n in range(2000)
            ],
        )
        db.session.commit()
    client = browser(user)
    engine = items_app.extensions["crm.db"].engine
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    url = "/items/items/?limit=40&columns=name&columns=owner_id&columns=tags"
    event.listen(engine, "before_cursor_execute", count)
    try:
        first = client.get(url)
        first_count = len(statements)
        for _page in range(48):
            url = next_url(client.get(url))
        statements.clear()
        deep = client.get(url)
        deep_count = len(statements)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert total_shown(first) == 2000 and total_shown(deep) == 2000
    assert len(listed(first)) == len(listed(deep)) == 40
    assert deep_count == first_count  # page 50 of 2,000 rows, no more queries than page 1
    assert first_count < 20


def test_the_number_of_queries_does_not_grow_with_the_rows_shown(acme, person, browser, items_app, add_items):
    users = [person(acme, ALL, name=f"Owner {n}") for n in range(5)]
    add_items(
        acme, [{"name": f"row {n}", "owner_id": users[n % 5].id} for n in range(30)], tags={"a": range(30), "b": [1]}
    )
    client = browser(users[0])
    engine = items_app.extensions["crm.db"].engine
    counts = []
    for limit in (2, 30):
        statements = []

        def count(conn, cursor, statement, parameters, context, executemany, statements=statements):
            statements.append(statement)

        event.listen(engine, "before_cursor_execute", count)
        try:
            listed(client.get(f"/items/items/?limit={limit}&columns=owner_id&columns=tags&columns=department_id"))
        finally:
            event.remove(engine, "before_cursor_execute", count)
        counts.append(len(statements))
    assert counts[0] == counts[1]


# ------------------------------------------------------------------------------------------- scopes


def test_scopes_apply_to_the_list_and_its_count(acme, person, browser, add_items, department_id):
    mine = person(acme, {"items.item.view": "own"})
    team = person(acme, {"items.item.view": "department"}, departments=["North"])
    member = person(acme, departments=["North"])
    boss = person(acme, {"items.item.view": "all"})
    north = department_id(acme, "North")
    rows = [{"name": f"own {n}", "owner_id": mine.id} for n in range(3)]
    rows += [{"name": f"north {n}", "owner_id": member.id, "department_id": north} for n in range(4)]
    rows += [{"name": f"team's own {n}", "owner_id": team.id} for n in range(2)]
    rows += [{"name": f"nobody's {n}"} for n in range(5)]
    ids = add_items(acme, rows)

    for user, expected in [(mine, ids[:3]), (team, ids[3:9]), (boss, ids)]:
        client = browser(user)
        seen, _pages, _last = walk(client, "/items/items/?limit=2&sort=id")
        assert seen == expected
        assert total_shown(client.get("/items/items/?limit=2")) == len(expected)


def test_a_large_list_says_more_than_the_count_cap_instead_of_counting_every_row(
    acme, person, browser, add_items, monkeypatch
):
    from core.entities import query

    monkeypatch.setattr(query, "COUNT_CAP", 3)
    client = browser(person(acme, {"items.item.view": "all"}))
    add_items(acme, [{"name": f"row {n}"} for n in range(3)])
    assert total_shown(client.get("/items/items/")) == 3
    add_items(acme, [{"name": "one more"}])
    page = text(client.get("/items/items/"))
    assert "More than 3 records" in page
    assert len(ROW.findall(page)) == 4


# ---------------------------------------------------------------------------------------- saved views


def test_saved_views_are_private_unless_shared_by_an_administrator(acme, person, browser, add_items):
    add_items(acme, [{"name": "Open one", "status": "open"}, {"name": "Won one", "status": "won"}])
    alice = browser(person(acme, {"items.item.view": "all"}, name="Alice"))
    bob = browser(person(acme, {"items.item.view": "all"}, name="Bob"))
    admin = browser(person(acme, {"items.item.view": "all", "admin.settings.manage": "all"}))

    query = "status=won&columns=name&columns=amount&sort=-name&after=abc"
    saved = alice.post("/items/items/views", data={"name": "My wins", "query": query})
    assert saved.status_code == 302
    target = saved.headers["Location"]
    assert "status=won" in target and "columns=amount" in target and "after=" not in target
    page = alice.get(target)
    assert listed(page) != [] and "Won one" in text(page) and "Open one" not in text(page)
    headers = headers_of(text(page))
    assert headers == ["Name", "Amount"]  # the view remembers its columns
    assert re.search(r'aria-current="true">My wins</a>', text(page))
    view_id = int(re.search(r"view=(\d+)", target).group(1))
    assert alice.get(f"/items/items/?view={view_id}").status_code == 302

    assert "My wins" not in text(bob.get("/items/items/"))
    assert bob.get(f"/items/items/?view={view_id}").status_code == 404
    assert bob.post(f"/items/items/views/{view_id}/delete").status_code == 404
    assert bob.post("/items/items/views", data={"name": "Everyone's", "shared": "1", "query": ""}).status_code == 403

    assert (
        admin.post("/items/items/views", data={"name": "Team wins", "shared": "1", "query": "status=won"}).status_code
        == 302
    )
    for client in (alice, bob):
        page = text(client.get("/items/items/"))
        assert "Team wins</a>" in page and '<span class="badge">Shared</span>' in page
    shared_id = int(re.search(r'href="[^"]*view=(\d+)"[^>]*>Team wins', text(bob.get("/items/items/"))).group(1))
    assert bob.post(f"/items/items/views/{shared_id}/delete").status_code == 403

    again = alice.post("/items/items/views", data={"name": "my wins", "query": "status=open"})
    assert re.search(r"view=(\d+)", again.headers["Location"]).group(1) == str(view_id)  # same name: replaced
    assert alice.post(f"/items/items/views/{view_id}/delete").status_code == 302
    assert "My wins" not in text(alice.get("/items/items/"))
    assert admin.post(f"/items/items/views/{shared_id}/delete").status_code == 302
    assert "Team wins" not in text(bob.get("/items/items/"))


def test_a_view_needs_a_name(acme, person, browser):
    client = browser(person(acme, ALL))
    response = client.post("/items/items/views", data={"name": "  ", "query": "status=won"}, follow_redirects=True)
    assert "Give the view a name." in text(response)


# --------------------------------------------------------------------------------------- bulk actions


@pytest.fixture
def tags_of(items_app, in_tenant):
    def read(tenant, ids):
        from core.entities.tags import tags_of as lookup

        with in_tenant(tenant, use_app=items_app):
            return lookup("items", ids)

    return read


@pytest.fixture
def rows_of(items_app, in_tenant):
    def read(tenant):
        with in_tenant(tenant, use_app=items_app):
            items = db.session.scalars(select(Item).order_by(Item.id).execution_options(include_deleted=True))
            return {i.id: (i.owner_id, i.deleted_at is not None) for i in items}

    return read


def test_bulk_actions_touch_only_rows_in_the_users_scope(acme, person, browser, add_items, tags_of, rows_of):
    seller = person(
        acme,
        {"items.item.view": "all", "items.item.edit": "own", "items.item.delete": "own"},
        name="Seller",
    )
    colleague = person(acme, name="Colleague")
    ids = add_items(
        acme,
        [{"name": "mine 1", "owner_id": seller.id}, {"name": "mine 2", "owner_id": seller.id}, {"name": "theirs"}],
    )
    client = browser(seller)
    page = text(client.get("/items/items/"))
    assert 'name="ids"' in page and 'data-select-all="ids"' in page
    assert '<option value="export">' not in page  # no export permission

    selected = [str(i) for i in ids]
    response = client.post(
        "/items/items/bulk",
        data={"action": "add_tag", "tag": "hot, 急件", "ids": selected, "next": "/items/items/?sort=name"},
        follow_redirects=False,
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/items/items/?sort=name")
    flashed = text(client.get("/items/items/"))
    assert "Changed: 2. Skipped: 1, outside what you may change." in flashed
    assert tags_of(acme, ids) == {ids[0]: ["hot", "急件"], ids[1]: ["hot", "急件"], ids[2]: []}

    client.post("/items/items/bulk", data={"action": "remove_tag", "tag": "hot", "ids": selected})
    assert tags_of(acme, ids) == {ids[0]: ["急件"], ids[1]: ["急件"], ids[2]: []}

    client.post(
        "/items/items/bulk", data={"action": "assign_owner", "owner_id": str(colleague.id), "ids": selected[1:]}
    )
    assert rows_of(acme) == {ids[0]: (seller.id, False), ids[1]: (colleague.id, False), ids[2]: (None, False)}

    response = client.post("/items/items/bulk", data={"action": "delete", "ids": selected}, follow_redirects=True)
    assert "Changed: 1. Skipped: 2, outside what you may delete." in text(response)
    assert rows_of(acme) == {ids[0]: (seller.id, True), ids[1]: (colleague.id, False), ids[2]: (None, False)}


def test_bulk_select_all_on_the_page_and_refusals(acme, person, browser, add_items, rows_of):
    editor = browser(person(acme, ALL))
    ids = add_items(acme, [{"name": f"row {n}"} for n in range(5)])
    page_ids = [str(i) for i in ids[:3]]
    response = editor.post(
        "/items/items/bulk", data={"action": "delete", "all_on_page": "1", "page_ids": page_ids}, follow_redirects=True
    )
    assert "3 rows changed." in text(response)
    assert [deleted for _owner, deleted in rows_of(acme).values()] == [True, True, True, False, False]

    nothing = editor.post("/items/items/bulk", data={"action": "delete"}, follow_redirects=True)
    assert "Select at least one row first." in text(nothing)
    assert editor.post("/items/items/bulk", data={"action": "explode", "ids": [str(ids[3])]}).status_code == 400
    unknown_owner = editor.post(
        "/items/items/bulk",
        data={"action": "assign_owner", "owner_id": "99999", "ids": [str(ids[3])]},
        follow_redirects=True,
    )
    assert "Choose the new owner from the list." in text(unknown_owner)
    outside = editor.post(
        "/items/items/bulk", data={"action": "delete", "ids": [str(ids[4])], "next": "https://evil.example/"}
    )
    assert outside.headers["Location"].endswith("/items/items/")  # never sent elsewhere

    reader = browser(person(acme, {"items.item.view": "all"}))
    assert 'name="ids"' not in text(reader.get("/items/items/"))
    assert reader.post("/items/items/bulk", data={"action": "delete", "ids": [str(ids[3])]}).status_code == 403
    assert rows_of(acme)[ids[3]] == (None, False)


def test_bulk_export_hands_the_selection_to_the_export_page(make_app, make_tenant, make_user, client_as):
    app = make_app(plugins=[items_plugin])
    if not {"items_items.export", "items_items_io.export"} & set(app.view_functions):

        @requires("items.item.export")
        def export():  # stands in for the export page until one is served
            from flask import request

            ids = [int(i) for i in request.args.getlist("ids")]
            return "\n".join(db.session.scalars(select(Item.name).where(Item.id.in_(ids)).order_by(Item.id)))

        app.add_url_rule("/items/items/export", "items_items.export", export)
    acme = make_tenant("acme", use_app=app)
    client = client_as(make_user(acme, grants=ALL, use_app=app), use_app=app)
    with app.app_context():
        from core.tenancy import tenant_context

        with tenant_context(acme):
            items = [Item(name=f"row {n}", status="open") for n in range(3)]
            db.session.add_all(items)
            db.session.commit()
            ids = [i.id for i in items]
    page = text(client.get("/items/items/?status=open"))
    assert '<option value="export">Export as CSV</option>' in page
    assert 'href="/items/items/export?status=open&amp;format=csv"' in page
    assert 'href="/items/items/export?status=open&amp;format=xlsx"' in page
    response = client.post(
        "/items/items/bulk",
        data={"action": "export", "ids": [str(i) for i in ids[:2]], "next": "/items/items/?columns=name&sort=name"},
    )
    assert response.status_code == 303
    location = response.headers["Location"]
    assert f"ids={ids[0]}&ids={ids[1]}" in location and "columns=name" in location and "format=csv" in location
    exported = client.get(location).get_data(as_text=True)
    assert "row 0" in exported and "row 1" in exported and "row 2" not in exported

    no_export = client_as(make_user(acme, grants={"items.item.view": "all"}, use_app=app), use_app=app)
    page = text(no_export.get("/items/items/"))
    assert '<option value="export">' not in page and "format=csv" not in page
