"""The modules page: enable and disable per tenant, refusals that name the plugins and change nothing."""

import re

import pytest
from sqlalchemy import select

from core import db
from core.models import AuditEntry, Tenant
from core.tenant_plugins import enabled_plugins
from tests import notes_extra_plugin
from tests.notes_plugin import plugin as notes_plugin


@pytest.fixture
def extra_app(make_app):
    return make_app(plugins=[notes_plugin, notes_extra_plugin])


def enabled(app, slug):
    with app.app_context():
        return set(enabled_plugins(db.session.scalar(select(Tenant).where(Tenant.slug == slug))))


def flashes(response):
    return re.sub(
        r"\s+",
        " ",
        " ".join(re.findall(r'<p class="flash flash-error">(.*?)</p>', response.get_data(as_text=True), re.S)),
    )


def test_the_page_lists_every_installed_module_with_its_state(extra_app, make_tenant, make_user, client_as):
    acme = make_tenant("acme", plugins=["notes"], use_app=extra_app)
    admin = client_as(make_user(acme, groups=["administrators"], use_app=extra_app), use_app=extra_app)
    page = re.sub(r"\s+", " ", admin.get("/admin/plugins").get_data(as_text=True))
    assert "Short notes, for the kernel&#39;s tests." in page
    assert "Needs the notes plugin" in page and "1.0" in page
    assert re.search(r"Notes extra</strong>.*?<span class=\"badge\">Notes</span>.*?Disabled", page)
    assert 'action="/admin/plugins/notes/disable"' in page
    assert 'action="/admin/plugins/notes_extra/enable"' in page
    assert "/admin/plugins/core/" not in page


def test_disabling_a_module_another_needs_is_refused_naming_both(extra_app, make_tenant, make_user, client_as):
    acme = make_tenant("acme", use_app=extra_app)
    admin = client_as(make_user(acme, groups=["administrators"], use_app=extra_app), use_app=extra_app)
    assert enabled(extra_app, "acme") == {"notes", "notes_extra"}

    refused = admin.post("/admin/plugins/notes/disable", follow_redirects=True)
    message = flashes(refused)
    assert "Notes (notes)" in message and "Notes extra (notes_extra)" in message
    assert enabled(extra_app, "acme") == {"notes", "notes_extra"}
    assert admin.get("/notes/").status_code == 200

    assert admin.post("/admin/plugins/notes_extra/disable").status_code == 302
    assert admin.post("/admin/plugins/notes/disable").status_code == 302
    assert enabled(extra_app, "acme") == set()
    assert admin.get("/notes/").status_code == 404

    refused = admin.post("/admin/plugins/notes_extra/enable", follow_redirects=True)
    message = flashes(refused)
    assert "Notes extra (notes_extra)" in message and "Notes (notes)" in message
    assert enabled(extra_app, "acme") == set()

    admin.post("/admin/plugins/notes/enable")
    assert admin.get("/notes/").status_code == 200
    assert admin.post("/admin/plugins/nothing/enable").status_code == 404

    with extra_app.app_context():
        tenant_id = db.session.scalar(select(Tenant.id).where(Tenant.slug == "acme"))
        entries = db.session.execute(
            select(AuditEntry.action, AuditEntry.summary)
            .where(AuditEntry.tenant_id == tenant_id, AuditEntry.action.like("plugin_%"))
            .order_by(AuditEntry.id)
        ).all()
    assert [tuple(row) for row in entries] == [
        ("plugin_disabled", "notes_extra"),
        ("plugin_disabled", "notes"),
        ("plugin_enabled", "notes"),
    ]


def test_modules_are_switched_per_tenant(extra_app, make_tenant, make_user, client_as):
    acme = make_tenant("acme", use_app=extra_app)
    make_tenant("globex", use_app=extra_app)
    admin = client_as(make_user(acme, groups=["administrators"], use_app=extra_app), use_app=extra_app)
    admin.post("/admin/plugins/notes_extra/disable")
    assert enabled(extra_app, "acme") == {"notes"}
    assert enabled(extra_app, "globex") == {"notes", "notes_extra"}
