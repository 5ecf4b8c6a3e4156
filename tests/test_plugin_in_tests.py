"""A plugin defined only in tests/: enabled for one tenant, proven absent for another."""

from sqlalchemy import select

from core import db
from tests.notes_plugin import plugin as notes_plugin
from tests.notes_plugin.models import Note


def test_enabled_tenant_sees_page_menu_panel_and_search(notes_app, make_tenant, make_user, client_as, in_tenant):
    acme = make_tenant("acme", use_app=notes_app)
    user = make_user(acme, groups=["sales"], use_app=notes_app)
    client = client_as(user, use_app=notes_app)

    created = client.post("/notes/", data={"title": "Call 台積電 back"})
    assert created.status_code == 302

    page = client.get("/notes/")
    assert page.status_code == 200
    assert "Call 台積電 back" in page.get_data(as_text=True)

    home = client.get("/").get_data(as_text=True)
    assert 'href="/notes/"' in home  # menu item
    assert "Notes of Acme" in home  # panel on core's home.dashboard slot

    found = client.get("/search?q=台積").get_data(as_text=True)
    assert "Call 台積電 back" in found


def test_disabled_tenant_gets_404_no_menu_no_panel_and_data_returns(
    notes_app, make_tenant, make_user, client_as, in_tenant
):
    from core.tenant_plugins import disable_plugin, enable_plugin

    acme = make_tenant("acme", use_app=notes_app)
    user = make_user(acme, groups=["sales"], use_app=notes_app)
    client = client_as(user, use_app=notes_app)
    client.post("/notes/", data={"title": "kept while disabled"})

    with in_tenant(acme, use_app=notes_app):
        disable_plugin(acme, "notes")
        db.session.commit()

    assert client.get("/notes/").status_code == 404
    assert client.post("/notes/", data={"title": "x"}).status_code == 404
    home = client.get("/").get_data(as_text=True)
    assert 'href="/notes/"' not in home
    assert "Notes of Acme" not in home
    assert "kept while disabled" not in client.get("/search?q=kept").get_data(as_text=True)

    with in_tenant(acme, use_app=notes_app):
        assert db.session.scalar(select(Note.title)) == "kept while disabled"
        enable_plugin(acme, "notes")
        db.session.commit()
    assert "kept while disabled" in client.get("/notes/").get_data(as_text=True)


def test_plugin_absent_for_other_tenant_only(notes_app, make_tenant, make_user, client_as):
    acme = make_tenant("acme", use_app=notes_app)
    globex = make_tenant("globex", plugins=[], use_app=notes_app)
    acme_user = make_user(acme, groups=["sales"], use_app=notes_app)
    globex_user = make_user(globex, groups=["administrators"], use_app=notes_app)

    assert client_as(acme_user, use_app=notes_app).get("/notes/").status_code == 200
    other = client_as(globex_user, use_app=notes_app)
    assert other.get("/notes/").status_code == 404
    assert 'href="/notes/"' not in other.get("/").get_data(as_text=True)


def test_events_reach_enabled_plugins_after_commit_only(notes_app, make_tenant, make_user, client_as):
    notes_plugin.HEARD.clear()
    acme = make_tenant("acme", use_app=notes_app)
    user = make_user(acme, groups=["sales"], use_app=notes_app)
    client_as(user, use_app=notes_app).post("/notes/", data={"title": "heard"})
    assert [name for name, slug, _ in notes_plugin.HEARD] == ["notes.note.created"]
    assert notes_plugin.HEARD[0][1] == "acme"
