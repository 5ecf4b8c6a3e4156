"""Tenants: resolution from the host, sign-in and sessions bound to one tenant, and the central ORM guard."""

import pytest
from sqlalchemy import delete, func, insert, select, update

from core import db
from core.models import Tenant
from core.tenancy import TenantRequired, tenant_context
from core.testing import TEST_PASSWORD
from tests.notes_plugin.models import Note


def add_note(app, tenant, title, **columns):
    with app.app_context(), tenant_context(tenant):
        note = Note(title=title, **columns)
        db.session.add(note)
        db.session.commit()
        return note.id


def titles_of(app, tenant):
    with app.app_context(), tenant_context(tenant):
        return sorted(db.session.scalars(select(Note.title)))


# ------------------------------------------------------------------------------------ host resolution


def test_subdomain_of_base_domain_resolves_and_port_is_ignored(app, make_tenant):
    make_tenant("acme")
    make_tenant("globex")
    client = app.test_client()
    assert client.get("/healthz", base_url="http://acme.crm.test").json["tenant"] == "acme"
    assert client.get("/healthz", base_url="http://globex.crm.test:8443").json["tenant"] == "globex"
    assert client.get("/healthz", base_url="http://GLOBEX.Crm.Test").json["tenant"] == "globex"


def test_exact_host_column_resolves(app, make_tenant):
    make_tenant("acme", host="crm.acme-corp.com.tw")
    client = app.test_client()
    assert client.get("/healthz", base_url="http://crm.acme-corp.com.tw:5000").json["tenant"] == "acme"


def test_unknown_host_without_default_tenant_is_a_404_page(app, make_tenant):
    make_tenant("acme")
    client = app.test_client()
    for host in ("nobody.crm.test", "crm.elsewhere.example", "deep.acme.crm.test"):
        response = client.get("/login", base_url=f"http://{host}", headers={"Accept-Language": "en"})
        assert response.status_code == 404, host
        assert "No workspace is configured for this address." in response.get_data(as_text=True)


def test_unknown_host_falls_back_to_default_tenant(make_app, make_tenant):
    fallback = make_app(DEFAULT_TENANT="acme")
    make_tenant("acme", use_app=fallback)
    response = fallback.test_client().get("/healthz", base_url="http://203.0.113.7:8000")
    assert response.status_code == 200
    assert response.json["tenant"] == "acme"


def test_inactive_tenant_answers_404(app, make_tenant, make_user):
    acme = make_tenant("acme")
    user = make_user(acme)
    with app.app_context():
        db.session.execute(update(Tenant).where(Tenant.id == acme.id).values(active=False))
        db.session.commit()
    client = app.test_client()
    assert client.get("/healthz", base_url="http://acme.crm.test").status_code == 404
    response = client.post(
        "/login", data={"email": user.email, "password": TEST_PASSWORD}, base_url="http://acme.crm.test"
    )
    assert response.status_code == 404


def test_inactive_default_tenant_is_not_a_fallback(make_app, make_tenant):
    fallback = make_app(DEFAULT_TENANT="acme")
    make_tenant("acme", use_app=fallback)
    with fallback.app_context():
        db.session.execute(update(Tenant).where(Tenant.slug == "acme").values(active=False))
        db.session.commit()
    assert fallback.test_client().get("/healthz", base_url="http://localhost").status_code == 404


# --------------------------------------------------------------------------- accounts bound to a tenant


def test_user_of_tenant_a_cannot_sign_in_on_tenant_b(app, make_tenant, make_user):
    acme = make_tenant("acme")
    make_tenant("globex")
    user = make_user(acme, groups=["administrators"])
    client = app.test_client()
    response = client.post(
        "/login", data={"email": user.email, "password": TEST_PASSWORD}, base_url="http://globex.crm.test"
    )
    assert response.status_code == 401
    assert client.get("/", base_url="http://globex.crm.test").status_code == 302  # still signed out
    response = client.post(
        "/login", data={"email": user.email, "password": TEST_PASSWORD}, base_url="http://acme.crm.test"
    )
    assert response.status_code == 302


def test_session_cookie_of_tenant_a_is_useless_on_tenant_b(app, make_tenant, make_user, client_as):
    acme = make_tenant("acme")
    make_tenant("globex")
    user = make_user(acme, groups=["administrators"])
    signed_in = client_as(user)
    assert signed_in.get("/").status_code == 200
    cookie = signed_in.get_cookie("session", domain="acme.crm.test")
    assert cookie is not None

    attacker = app.test_client()
    attacker.set_cookie("session", cookie.value, domain="globex.crm.test")
    response = attacker.get("/", base_url="http://globex.crm.test")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert attacker.get("/account", base_url="http://globex.crm.test").status_code == 302


# ------------------------------------------------------------------- isolation through the notes routes


@pytest.fixture
def two_tenants(notes_app, make_tenant, make_user, client_as):
    acme = make_tenant("acme", use_app=notes_app)
    globex = make_tenant("globex", use_app=notes_app)
    acme_user = make_user(acme, groups=["administrators"], use_app=notes_app)
    globex_admin = make_user(globex, groups=["administrators"], use_app=notes_app)
    note_id = add_note(notes_app, acme, "Acme secret price list", owner_id=acme_user.id)
    attacker = client_as(globex_admin, use_app=notes_app)
    return acme, globex, note_id, attacker


def test_other_tenants_admin_does_not_see_the_note_in_the_list(notes_app, two_tenants):
    _acme, _globex, _note_id, attacker = two_tenants
    page = attacker.get("/notes/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Acme secret price list" not in html
    assert "Notes (0)" in html
    assert "Acme secret" not in attacker.get("/search?q=Acme").get_data(as_text=True)


def test_other_tenants_admin_gets_404_on_detail_update_delete(notes_app, two_tenants):
    acme, _globex, note_id, attacker = two_tenants
    assert attacker.get(f"/notes/{note_id}").status_code == 404
    assert attacker.post(f"/notes/{note_id}", data={"title": "defaced"}).status_code == 404
    assert attacker.post(f"/notes/{note_id}/delete").status_code == 404
    assert titles_of(notes_app, acme) == ["Acme secret price list"]


def test_own_tenant_reaches_the_same_routes(notes_app, make_user, client_as, two_tenants):
    acme, _globex, note_id, _attacker = two_tenants
    owner = client_as(make_user(acme, groups=["administrators"], use_app=notes_app), use_app=notes_app)
    assert owner.get(f"/notes/{note_id}").json["title"] == "Acme secret price list"
    assert owner.post(f"/notes/{note_id}", data={"title": "renamed"}).status_code == 200
    assert owner.post(f"/notes/{note_id}/delete").status_code == 200
    assert titles_of(notes_app, acme) == []


# ------------------------------------------------------------------------------------------ ORM guard


@pytest.fixture
def acme_and_globex_notes(notes_app, make_tenant):
    acme = make_tenant("acme", use_app=notes_app)
    globex = make_tenant("globex", use_app=notes_app)
    add_note(notes_app, acme, "acme one")
    add_note(notes_app, acme, "acme two")
    add_note(notes_app, globex, "globex one")
    return acme, globex


def test_no_tenant_in_context_fails_closed(notes_app, acme_and_globex_notes):
    with notes_app.app_context(), tenant_context(None):
        with pytest.raises(TenantRequired):
            db.session.scalars(select(Note)).all()
        with pytest.raises(TenantRequired):
            db.session.scalar(select(func.count(Note.id)))
        with pytest.raises(TenantRequired):
            db.session.execute(update(Note).values(title="everyone"))
        with pytest.raises(TenantRequired):
            db.session.execute(delete(Note))
        with pytest.raises(TenantRequired):
            db.session.add(Note(title="orphan"))
            db.session.flush()
        db.session.rollback()
        with pytest.raises(TenantRequired):
            db.session.execute(insert(Note).values(title="orphan", tenant_id=1))
        db.session.rollback()
    acme, globex = acme_and_globex_notes
    assert titles_of(notes_app, acme) == ["acme one", "acme two"]
    assert titles_of(notes_app, globex) == ["globex one"]


def test_a_row_already_in_the_session_is_not_handed_to_another_tenant(notes_app, acme_and_globex_notes):
    acme, globex = acme_and_globex_notes
    with notes_app.app_context():
        with tenant_context(acme):
            acme_note = db.session.scalar(select(Note).where(Note.title == "acme one"))
            assert db.session.get(Note, acme_note.id) is acme_note
        with tenant_context(globex):
            assert db.session.get(Note, acme_note.id) is None
        with tenant_context(None), pytest.raises(TenantRequired):
            db.session.get(Note, acme_note.id)


def test_inserting_a_row_for_another_tenant_raises(notes_app, acme_and_globex_notes):
    acme, globex = acme_and_globex_notes
    with notes_app.app_context(), tenant_context(globex):
        db.session.add(Note(title="planted", tenant_id=acme.id))
        with pytest.raises(TenantRequired):
            db.session.flush()
        db.session.rollback()
        with pytest.raises(TenantRequired):
            db.session.execute(insert(Note).values(title="planted", tenant_id=acme.id))
        db.session.rollback()
        with pytest.raises(TenantRequired):
            db.session.execute(insert(Note), [{"title": "planted", "tenant_id": acme.id}])
        db.session.rollback()
    assert titles_of(notes_app, acme) == ["acme one", "acme two"]


def test_orm_insert_statement_is_stamped_with_the_current_tenant(notes_app, acme_and_globex_notes):
    acme, globex = acme_and_globex_notes
    with notes_app.app_context(), tenant_context(globex):
        db.session.execute(insert(Note).values(title="globex two"))
        db.session.execute(insert(Note), [{"title": "globex three"}, {"title": "globex four"}])
        db.session.commit()
    assert titles_of(notes_app, globex) == ["globex four", "globex one", "globex three", "globex two"]
    assert titles_of(notes_app, acme) == ["acme one", "acme two"]


def test_moving_a_row_to_another_tenant_raises(notes_app, acme_and_globex_notes):
    acme, globex = acme_and_globex_notes
    with notes_app.app_context(), tenant_context(globex):
        note = db.session.scalar(select(Note))
        note.tenant_id = acme.id
        with pytest.raises(TenantRequired):
            db.session.flush()
        db.session.rollback()
    assert titles_of(notes_app, acme) == ["acme one", "acme two"]


def test_bulk_update_and_delete_stay_inside_the_tenant(notes_app, acme_and_globex_notes):
    acme, globex = acme_and_globex_notes
    with notes_app.app_context(), tenant_context(acme):
        acme_ids = list(db.session.scalars(select(Note.id)))
    with notes_app.app_context(), tenant_context(globex):
        assert db.session.get(Note, acme_ids[0]) is None
        changed = db.session.execute(update(Note).values(title="overwritten"))
        assert changed.rowcount == 1
        missed = db.session.execute(update(Note).where(Note.id.in_(acme_ids)).values(title="targeted"))
        assert missed.rowcount == 0
        db.session.commit()
    assert titles_of(notes_app, acme) == ["acme one", "acme two"]
    assert titles_of(notes_app, globex) == ["overwritten"]

    with notes_app.app_context(), tenant_context(globex):
        removed = db.session.execute(delete(Note))
        assert removed.rowcount == 1
        db.session.execute(delete(Note).where(Note.id == acme_ids[0]))
        db.session.commit()
    assert titles_of(notes_app, acme) == ["acme one", "acme two"]
    assert titles_of(notes_app, globex) == []


@pytest.mark.filterwarnings("ignore:Dialect .* does not support updated rowcount")
def test_bulk_update_by_primary_key_cannot_reach_another_tenant(notes_app, acme_and_globex_notes):
    acme, globex = acme_and_globex_notes
    with notes_app.app_context(), tenant_context(acme):
        acme_id = db.session.scalar(select(Note.id).where(Note.title == "acme one"))
    with notes_app.app_context(), tenant_context(globex):
        globex_id = db.session.scalar(select(Note.id))
        db.session.execute(
            update(Note),
            [{"id": acme_id, "title": "hijacked", "version": 1}, {"id": globex_id, "title": "renamed", "version": 1}],
        )
        db.session.commit()
    assert titles_of(notes_app, acme) == ["acme one", "acme two"]
    assert titles_of(notes_app, globex) == ["renamed"]


def test_updates_cannot_move_rows_to_another_tenant(notes_app, acme_and_globex_notes):
    acme, globex = acme_and_globex_notes
    with notes_app.app_context(), tenant_context(globex):
        globex_id = db.session.scalar(select(Note.id))
        with pytest.raises(TenantRequired):
            db.session.execute(update(Note).values(tenant_id=acme.id))
        db.session.rollback()
        with pytest.raises(TenantRequired):
            db.session.execute(update(Note), [{"id": globex_id, "tenant_id": acme.id, "version": 1}])
        db.session.rollback()
    assert titles_of(notes_app, acme) == ["acme one", "acme two"]
    assert titles_of(notes_app, globex) == ["globex one"]


def upsert(dialect, values, new_title):
    """An ORM upsert of ``Note`` that updates the title on conflict, in the database's own dialect."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif dialect in ("mysql", "mariadb"):
        from sqlalchemy.dialects.mysql import insert as dialect_insert

        return dialect_insert(Note).values(**values).on_duplicate_key_update(title=new_title)
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert(Note).values(**values).on_conflict_do_update(index_elements=["id"], set_={"title": new_title})


def test_an_upsert_by_primary_key_cannot_overwrite_another_tenants_row(notes_app, acme_and_globex_notes):
    acme, globex = acme_and_globex_notes
    with notes_app.app_context(), tenant_context(acme):
        acme_id = db.session.scalar(select(Note.id).where(Note.title == "acme one"))
    with notes_app.app_context(), tenant_context(globex):
        dialect = db.session.get_bind().dialect.name
        with pytest.raises(TenantRequired):
            db.session.execute(upsert(dialect, {"id": acme_id, "title": "x", "version": 1}, "hijacked"))
        db.session.rollback()
        db.session.execute(upsert(dialect, {"title": "globex two", "version": 1}, "unused"))
        db.session.commit()
    assert titles_of(notes_app, acme) == ["acme one", "acme two"]
    assert titles_of(notes_app, globex) == ["globex one", "globex two"]
