"""Search: the token index, list search (``q``) and the global search box, on the test-only items entity."""

import pytest
from sqlalchemy import delete, func, select

from core import db
from core.cli import main as crm
from core.entities.query import ListQuery, fetch_page
from core.entities.registry import all_entities
from core.entities.search_index import SearchToken, index_records, query_terms, text_tokens, value_tokens
from tests.items_plugin import plugin as items_plugin
from tests.items_plugin.models import Item
from tests.notes_plugin import plugin as notes_plugin


@pytest.fixture(params=["rare", "intersected", "sampled", "common"])
def plan(request, monkeypatch):
    """Run a test with each way of matching (the thresholds are lowered so that a handful of rows reach them): the
    ids of a rare word's records checked for the other words; the records of common words intersected by the
    database; a sample of one word's records checked first; every row's tokens checked (words too common)."""
    from core.entities import search_index

    common, very_common = {"rare": (5000, 50000), "intersected": (2, 50000), "sampled": (2, 3), "common": (1, 1)}[
        request.param
    ]
    monkeypatch.setattr(search_index, "COMMON", common)
    monkeypatch.setattr(search_index, "VERY_COMMON", very_common)
    return request.param


@pytest.fixture
def items_app(make_app):
    return make_app(plugins=[items_plugin, notes_plugin])


@pytest.fixture
def acme(items_app, make_tenant):
    return make_tenant("acme", use_app=items_app)


@pytest.fixture
def boss(items_app, acme, make_user):
    return make_user(acme, grants={"items.item.view": "all", "items.item.edit": "all"}, use_app=items_app)


@pytest.fixture
def add(items_app, in_tenant):
    """``add(tenant, name=..., email=..., phone=..., owner=user)``: store an item, return its id."""

    def factory(tenant, owner=None, **fields):
        with in_tenant(tenant, use_app=items_app):
            item = Item(owner_id=owner.id if owner else None, **fields)
            db.session.add(item)
            db.session.commit()
            return item.id

    return factory


def names(items_app, in_tenant, tenant, user, text):
    """Names of the items a list search for ``text`` shows ``user``."""
    with items_app.test_request_context(), in_tenant(tenant, use_app=items_app):
        entity = all_entities()["items"]
        page = fetch_page(entity, ListQuery(text=text, sort="name", limit=50), user=user)
        return [item.name for item in page.items]


def global_titles(client, text):
    response = client.get("/search", query_string={"q": text})
    assert response.status_code == 200
    return response.get_data(as_text=True)


# ----------------------------------------------------------------------------------------------- tokens


def test_chinese_is_cut_into_pairs_of_characters():
    assert value_tokens("王小明") == {"王小", "小明", "明"}
    assert {"台积", "积电", "公司"} <= value_tokens("台積電子股份有限公司")


def test_phone_numbers_give_their_digits_and_trailing_fragments():
    tokens = value_tokens("+886 912 345 678", "phone")
    assert {"886912345678", "0912345678", "912345678", "345678", "678"} <= tokens
    assert "67" not in tokens
    assert {"0223456789", "23456789"} <= value_tokens("(02) 2345-6789", "phone")


def test_e_mail_addresses_give_every_part():
    assert {"wang.xm@example.com", "wang.xm", "example.com", "wang", "xm", "example", "com"} <= text_tokens(
        "Wang.XM@Example.com"
    )


def test_queries_are_cut_like_the_text():
    assert [t.token for t in query_terms("台積")] == ["台积"]
    assert [(t.token, t.prefix) for t in query_terms("Chen")] == [("chen", True)]
    assert [t.token for t in query_terms("+886 912-345-678")] == ["912345678"]
    assert query_terms("  ?! ") == []


# ---------------------------------------------------------------------------------------------- matching


def test_two_chinese_characters_find_the_record_and_a_non_adjacent_pair_does_not(
    plan, items_app, acme, boss, add, in_tenant
):
    add(acme, name="王小明", owner=boss)
    add(acme, name="台積電子股份有限公司", owner=boss)
    add(acme, name="李大華", owner=boss)
    assert names(items_app, in_tenant, acme, boss, "小明") == ["王小明"]
    assert names(items_app, in_tenant, acme, boss, "台積") == ["台積電子股份有限公司"]
    assert names(items_app, in_tenant, acme, boss, "股份有限") == ["台積電子股份有限公司"]
    assert names(items_app, in_tenant, acme, boss, "王明") == []
    assert names(items_app, in_tenant, acme, boss, "台電") == []


def test_traditional_and_simplified_find_each_other(items_app, acme, boss, add, in_tenant):
    add(acme, name="台积电子", owner=boss)
    add(acme, name="陳小明", owner=boss)
    assert names(items_app, in_tenant, acme, boss, "台積") == ["台积电子"]
    assert names(items_app, in_tenant, acme, boss, "陈小") == ["陳小明"]


def test_one_chinese_character_finds_it_anywhere_in_a_list_search(plan, items_app, acme, boss, add, in_tenant):
    add(acme, name="王小明", owner=boss)
    add(acme, name="李明", owner=boss)
    add(acme, name="張三", owner=boss)
    assert names(items_app, in_tenant, acme, boss, "明") == ["李明", "王小明"]
    assert names(items_app, in_tenant, acme, boss, "王") == ["王小明"]


def test_latin_words_match_by_prefix(plan, items_app, acme, boss, add, in_tenant):
    add(acme, name="Chen Wei-Ting", owner=boss)
    add(acme, name="José Müller", owner=boss)
    assert names(items_app, in_tenant, acme, boss, "chen") == ["Chen Wei-Ting"]
    assert names(items_app, in_tenant, acme, boss, "CHE") == ["Chen Wei-Ting"]
    assert names(items_app, in_tenant, acme, boss, "wei ch") == ["Chen Wei-Ting"]
    assert names(items_app, in_tenant, acme, boss, "weiting") == ["Chen Wei-Ting"]
    assert names(items_app, in_tenant, acme, boss, "hen") == []
    assert names(items_app, in_tenant, acme, boss, "chen wang") == []
    assert names(items_app, in_tenant, acme, boss, "jose muller") == ["José Müller"]


def test_several_common_words_find_exactly_the_records_holding_all_of_them(plan, items_app, acme, boss, add, in_tenant):
    for n in range(3):
        add(acme, name=f"Chen Wei {n}", owner=boss)
        add(acme, name=f"Chen Li {n}", email=f"wei{n}@example.com", owner=boss)
        add(acme, name=f"Wang Wei {n}", owner=boss)
        add(acme, name=f"有限公司 {n}", owner=boss)
    add(acme, name="Chen 有限公司", owner=boss)
    wanted = [f"Chen Li {n}" for n in range(3)] + [f"Chen Wei {n}" for n in range(3)]
    assert names(items_app, in_tenant, acme, boss, "chen wei") == wanted
    assert names(items_app, in_tenant, acme, boss, "有限 chen") == ["Chen 有限公司"]
    assert names(items_app, in_tenant, acme, boss, "有限 wang") == []


@pytest.mark.parametrize("query", ["912345678", "0912345678", "0912-345-678", "+886 912 345 678", "345678"])
def test_a_mobile_number_is_found_by_its_digits_whatever_the_format(items_app, acme, boss, add, in_tenant, query):
    add(acme, name="Mobile", phone="0912-345-678", owner=boss)
    add(acme, name="International", phone="+886 912 345 678", owner=boss)
    add(acme, name="Other", phone="0987-654-321", owner=boss)
    assert names(items_app, in_tenant, acme, boss, query) == ["International", "Mobile"]


@pytest.mark.parametrize("query", ["23456789", "(02) 2345-6789", "0223456789", "6789"])
def test_a_landline_is_found_by_its_digits(items_app, acme, boss, add, in_tenant, query):
    add(acme, name="Office", phone="(02) 2345-6789", owner=boss)
    add(acme, name="Other", phone="(04) 2222-3333", owner=boss)
    assert names(items_app, in_tenant, acme, boss, query) == ["Office"]


@pytest.mark.parametrize("query", ["wang", "example.com", "wang.xm@example.com", "WANG.XM", "xm"])
def test_an_e_mail_address_is_found_by_any_part(items_app, acme, boss, add, in_tenant, query):
    add(acme, name="Xiaoming", email="wang.xm@example.com", owner=boss)
    add(acme, name="Other", email="li@other.org", owner=boss)
    assert names(items_app, in_tenant, acme, boss, query) == ["Xiaoming"]


def test_words_from_several_fields_combine(plan, items_app, acme, boss, add, in_tenant):
    add(acme, name="王小明", email="wang.xm@example.com", phone="0912-345-678", owner=boss)
    add(acme, name="王小明", email="ming@other.org", owner=boss)
    assert len(names(items_app, in_tenant, acme, boss, "小明 example")) == 1
    assert len(names(items_app, in_tenant, acme, boss, "小明 0912")) == 1
    assert len(names(items_app, in_tenant, acme, boss, "小明")) == 2


# ------------------------------------------------------------------------------------------- upkeep


def test_an_edit_replaces_the_old_words(items_app, acme, boss, add, in_tenant):
    item_id = add(acme, name="王小明", owner=boss)
    with in_tenant(acme, use_app=items_app):
        db.session.get(Item, item_id).name = "Chen Wei-Ting"
        db.session.commit()
    assert names(items_app, in_tenant, acme, boss, "小明") == []
    assert names(items_app, in_tenant, acme, boss, "chen") == ["Chen Wei-Ting"]


def test_an_edit_of_other_fields_leaves_the_tokens_alone(items_app, acme, boss, add, in_tenant):
    item_id = add(acme, name="王小明", owner=boss)
    with in_tenant(acme, use_app=items_app):
        before = db.session.scalar(select(func.count()).select_from(SearchToken))
        db.session.get(Item, item_id).status = "won"
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(SearchToken)) == before


def test_a_hard_delete_removes_the_tokens(items_app, acme, boss, add, in_tenant):
    item_id = add(acme, name="王小明", owner=boss)
    with in_tenant(acme, use_app=items_app):
        db.session.delete(db.session.get(Item, item_id))
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(SearchToken)) == 0


def test_trashed_records_are_not_found_and_come_back_when_restored(plan, items_app, acme, boss, add, in_tenant):
    from core.entities import service

    item_id = add(acme, name="王小明", owner=boss)
    with in_tenant(acme, use_app=items_app):
        service.delete(all_entities()["items"], db.session.get(Item, item_id))
        db.session.commit()
    assert names(items_app, in_tenant, acme, boss, "小明") == []
    with in_tenant(acme, use_app=items_app):
        trashed = db.session.scalar(select(Item).where(Item.id == item_id).execution_options(include_deleted=True))
        service.restore(all_entities()["items"], trashed)
        db.session.commit()
    assert names(items_app, in_tenant, acme, boss, "小明") == ["王小明"]


def test_index_records_indexes_rows_written_without_the_orm(items_app, acme, boss, in_tenant):
    from sqlalchemy import insert

    with in_tenant(acme, use_app=items_app):
        entity = all_entities()["items"]
        rows = [{"id": 9001 + n, "name": f"台積電子 {n}", "status": "open", "version": 1} for n in range(3)]
        db.session.connection().execute(
            insert(Item.__table__), [{**row, "tenant_id": acme.id, "owner_id": boss.id} for row in rows]
        )
        assert index_records(entity, rows, fresh=True) > 0
        db.session.commit()
    assert names(items_app, in_tenant, acme, boss, "台積") == ["台積電子 0", "台積電子 1", "台積電子 2"]


def test_reindex_command_rebuilds_the_index(items_app, acme, boss, add, in_tenant):
    add(acme, name="王小明", owner=boss)
    add(acme, name="Chen Wei-Ting", owner=boss)
    with in_tenant(acme, use_app=items_app):
        db.session.execute(delete(SearchToken).where(SearchToken.entity == "items"))
        # A stale token of a record that no longer exists.
        db.session.add(SearchToken(entity="items", token="ghost", record_id=424242))
        db.session.commit()
    assert names(items_app, in_tenant, acme, boss, "小明") == []
    result = items_app.test_cli_runner().invoke(crm, ["search", "reindex", "--tenant", "acme", "--batch", "1"])
    assert result.exit_code == 0, result.output
    assert "acme\titems\t2 records indexed" in result.output
    assert names(items_app, in_tenant, acme, boss, "小明") == ["王小明"]
    assert names(items_app, in_tenant, acme, boss, "chen") == ["Chen Wei-Ting"]
    with in_tenant(acme, use_app=items_app):
        assert db.session.scalar(select(func.count()).where(SearchToken.token == "ghost")) == 0


def test_reindex_command_refuses_an_unknown_entity(items_app, acme):
    result = items_app.test_cli_runner().invoke(crm, ["search", "reindex", "--entity", "itemz"])
    assert result.exit_code == 1
    assert "no entity is called 'itemz'" in result.output


# ------------------------------------------------------------------------------------ scopes and tenants


def test_list_search_keeps_to_the_users_scope(plan, items_app, acme, make_user, add, in_tenant):
    alice = make_user(acme, grants={"items.item.view": "own"}, use_app=items_app)
    bob = make_user(acme, grants={"items.item.view": "own"}, use_app=items_app)
    add(acme, name="王小明 (Alice)", owner=alice)
    add(acme, name="王小明 (Bob)", owner=bob)
    assert names(items_app, in_tenant, acme, alice, "小明") == ["王小明 (Alice)"]


def test_global_search_keeps_to_the_users_scope(plan, items_app, acme, make_user, add, client_as):
    alice = make_user(acme, grants={"items.item.view": "own"}, use_app=items_app)
    bob = make_user(acme, grants={"items.item.view": "own"}, use_app=items_app)
    add(acme, name="王小明 Alice", owner=alice)
    add(acme, name="王小明 Bob", owner=bob)
    page = global_titles(client_as(alice, use_app=items_app), "小明")
    assert "王小明 Alice" in page
    assert "王小明 Bob" not in page


def test_global_search_needs_the_view_permission(items_app, acme, make_user, add, client_as, boss):
    nobody = make_user(acme, use_app=items_app)
    add(acme, name="王小明", owner=boss)
    assert "王小明" not in global_titles(client_as(nobody, use_app=items_app), "小明")
    assert "王小明" in global_titles(client_as(boss, use_app=items_app), "小明")


def test_global_search_finds_phone_numbers_and_e_mail_parts(items_app, acme, boss, add, client_as):
    add(acme, name="王小明", phone="+886 912 345 678", email="wang.xm@example.com", owner=boss)
    client = client_as(boss, use_app=items_app)
    assert "王小明" in global_titles(client, "0912-345-678")
    assert "王小明" in global_titles(client, "example.com")
    assert "王小明" in global_titles(client, "Wang")


def test_global_search_ranks_the_closest_title_first(items_app, acme, boss, add, in_tenant):
    from flask import g

    from core.entities.search import global_search
    from core.models import User

    add(acme, name="Wang Trading", email="info@wang.example.com", owner=boss)
    add(acme, name="Old Wang", owner=boss)
    add(acme, name="Wang", owner=boss)
    add(acme, name="Li", email="wang@example.com", owner=boss)
    with items_app.test_request_context(), in_tenant(acme, use_app=items_app):
        g.enabled_plugins = frozenset({"items"})
        hits = global_search("wang", db.session.get(User, boss.id), limit=10)
    assert [hit.title for hit in hits] == ["Wang", "Wang Trading", "Old Wang", "Li"]
    assert hits[-1].subtitle == "wang@example.com"


def test_other_tenants_records_are_never_found(
    plan, items_app, acme, boss, make_tenant, make_user, add, in_tenant, client_as
):
    globex = make_tenant("globex", use_app=items_app)
    outsider = make_user(globex, grants={"items.item.view": "all"}, use_app=items_app)
    add(acme, name="王小明", owner=boss)
    add(globex, name="Globex 王小明", owner=outsider)
    assert names(items_app, in_tenant, acme, boss, "小明") == ["王小明"]
    assert names(items_app, in_tenant, globex, outsider, "小明") == ["Globex 王小明"]
    page = global_titles(client_as(outsider, use_app=items_app), "小明")
    assert "Globex 王小明" in page
    assert ">王小明<" not in page


def test_a_disabled_plugins_records_leave_the_global_search(items_app, acme, boss, add, client_as, in_tenant):
    from core.models import Tenant
    from core.tenant_plugins import disable_plugin, enable_plugin

    add(acme, name="王小明", owner=boss)
    client = client_as(boss, use_app=items_app)
    assert "王小明" in global_titles(client, "小明")
    with in_tenant(acme, use_app=items_app):
        disable_plugin(db.session.get(Tenant, acme.id), "items")
        db.session.commit()
    assert "王小明" not in global_titles(client, "小明")
    with in_tenant(acme, use_app=items_app):
        enable_plugin(db.session.get(Tenant, acme.id), "items")
        db.session.commit()
    assert "王小明" in global_titles(client, "小明")


def test_global_search_asks_for_two_characters(items_app, acme, boss, add, client_as):
    add(acme, name="王小明", owner=boss)
    page = global_titles(client_as(boss, use_app=items_app), "王")
    assert "Type at least two characters" in page
    assert "王小明" not in page
