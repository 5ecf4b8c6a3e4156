"""Enabling and disabling plugins per tenant: requirement checks both ways, the CLI, and cache coherence."""

import pytest
from sqlalchemy import select

from core import db
from core.cli import main as crm
from core.models import Tenant, TenantPlugin
from core.tenancy import tenant_context
from core.tenant_plugins import PluginStateError, disable_plugin, enable_plugin
from tests import notes_extra_plugin
from tests.notes_plugin import plugin as notes_plugin


@pytest.fixture
def extra_app(make_app):
    return make_app(plugins=[notes_plugin, notes_extra_plugin])


def state(app, slug):
    """(plugins_version, {plugin: enabled}) of a tenant, read fresh from the database."""
    with app.app_context():
        tenant = db.session.scalar(select(Tenant).where(Tenant.slug == slug))
        rows = db.session.execute(
            select(TenantPlugin.plugin, TenantPlugin.enabled).where(TenantPlugin.tenant_id == tenant.id)
        )
        return tenant.plugins_version, dict(rows.all())


def change(app, tenant, action, name):
    with app.app_context(), tenant_context(tenant):
        action(tenant, name)
        db.session.commit()


def test_enabling_a_plugin_whose_requirement_is_off_is_refused_and_changes_nothing(
    extra_app, make_tenant, make_user, client_as
):
    globex = make_tenant("globex", plugins=[], use_app=extra_app)
    admin = client_as(make_user(globex, groups=["administrators"], use_app=extra_app), use_app=extra_app)
    before = state(extra_app, "globex")

    with pytest.raises(PluginStateError) as refused:
        change(extra_app, globex, enable_plugin, "notes_extra")
    assert "notes_extra" in str(refused.value)
    assert "requires notes" in str(refused.value)

    assert state(extra_app, "globex") == before
    assert admin.get("/notes-extra/").status_code == 404

    change(extra_app, globex, enable_plugin, "notes")
    change(extra_app, globex, enable_plugin, "notes_extra")
    assert admin.get("/notes-extra/").status_code == 200


def test_disabling_a_plugin_an_enabled_plugin_requires_is_refused_and_changes_nothing(
    extra_app, make_tenant, make_user, client_as
):
    acme = make_tenant("acme", use_app=extra_app)
    admin = client_as(make_user(acme, groups=["administrators"], use_app=extra_app), use_app=extra_app)
    before = state(extra_app, "acme")
    assert before[1] == {"notes": True, "notes_extra": True}

    with pytest.raises(PluginStateError) as refused:
        change(extra_app, acme, disable_plugin, "notes")
    assert "cannot disable notes" in str(refused.value)
    assert "notes_extra requires it" in str(refused.value)

    assert state(extra_app, "acme") == before
    assert admin.get("/notes/").status_code == 200
    assert admin.get("/notes-extra/").status_code == 200

    change(extra_app, acme, disable_plugin, "notes_extra")
    change(extra_app, acme, disable_plugin, "notes")
    assert admin.get("/notes/").status_code == 404
    assert state(extra_app, "acme")[1] == {"notes": False, "notes_extra": False}


def test_enable_and_disable_hooks_run_once_per_real_change(extra_app, make_tenant):
    notes_extra_plugin.CALLS.clear()
    globex = make_tenant("globex", plugins=["notes"], use_app=extra_app)
    change(extra_app, globex, enable_plugin, "notes_extra")
    version = state(extra_app, "globex")[0]
    change(extra_app, globex, enable_plugin, "notes_extra")
    assert run_cli(extra_app, "plugins", "enable", "notes_extra", "--tenant", "globex").exit_code == 0
    assert notes_extra_plugin.CALLS == [("enabled", "globex")]
    assert state(extra_app, "globex")[0] == version

    change(extra_app, globex, disable_plugin, "notes_extra")
    change(extra_app, globex, disable_plugin, "notes_extra")
    change(extra_app, globex, enable_plugin, "notes_extra")
    assert notes_extra_plugin.CALLS == [("enabled", "globex"), ("disabled", "globex"), ("enabled", "globex")]


def test_unknown_plugin_is_refused_by_name(extra_app, make_tenant):
    acme = make_tenant("acme", use_app=extra_app)
    with pytest.raises(PluginStateError, match="no installed plugin is called 'contactz'"):
        change(extra_app, acme, enable_plugin, "contactz")


def run_cli(app, *args):
    return app.test_cli_runner().invoke(crm, list(args))


def test_cli_refusals_are_one_line_with_a_non_zero_exit(extra_app, make_tenant):
    acme = make_tenant("acme", use_app=extra_app)
    make_tenant("globex", plugins=[], use_app=extra_app)
    with extra_app.app_context(), tenant_context(acme), pytest.raises(PluginStateError) as disabling:
        disable_plugin(db.session.get(Tenant, acme.id), "notes")
    globex = state(extra_app, "globex")
    acme_before = state(extra_app, "acme")

    result = run_cli(extra_app, "plugins", "disable", "notes", "--tenant", "acme")
    assert result.exit_code == 1
    assert result.output == f"Error: {disabling.value}\n"
    assert "Traceback" not in result.output

    result = run_cli(extra_app, "plugins", "enable", "notes_extra", "--tenant", "globex")
    assert result.exit_code == 1
    assert result.output.startswith("Error: cannot enable notes_extra for globex: it requires notes")
    assert result.output.count("\n") == 1

    result = run_cli(extra_app, "plugins", "enable", "notes", "--tenant", "nowhere")
    assert result.exit_code != 0
    assert result.output.strip().splitlines() == ["Error: no tenant is called 'nowhere' (see `crm tenants list`)"]

    assert state(extra_app, "globex") == globex
    assert state(extra_app, "acme") == acme_before


def test_cli_enables_and_disables_in_requirement_order(extra_app, make_tenant):
    make_tenant("globex", plugins=[], use_app=extra_app)
    assert run_cli(extra_app, "plugins", "enable", "notes", "--tenant", "globex").exit_code == 0
    result = run_cli(extra_app, "plugins", "enable", "notes_extra", "--tenant", "globex")
    assert result.exit_code == 0, result.output
    assert result.output == "Enabled notes_extra for globex.\n"
    assert state(extra_app, "globex")[1] == {"notes": True, "notes_extra": True}

    listing = run_cli(extra_app, "plugins", "list", "--tenant", "globex").output
    assert "notes_extra\t1.0\tNotes extra requires notes\tenabled" in listing

    assert run_cli(extra_app, "plugins", "disable", "notes_extra", "--tenant", "globex").exit_code == 0
    assert run_cli(extra_app, "plugins", "disable", "notes", "--tenant", "globex").exit_code == 0
    assert state(extra_app, "globex")[1] == {"notes": False, "notes_extra": False}


def test_a_change_made_by_one_worker_is_seen_by_another_on_its_next_request(
    make_app, make_tenant, make_user, client_as
):
    worker_one = make_app(plugins=[notes_plugin])
    worker_two = make_app(plugins=[notes_plugin])
    acme = make_tenant("acme", use_app=worker_one)
    user = make_user(acme, groups=["sales"], use_app=worker_one)
    one = client_as(user, use_app=worker_one)
    two = client_as(user, use_app=worker_two)
    assert one.get("/notes/").status_code == 200
    assert two.get("/notes/").status_code == 200  # worker two has cached "notes is enabled"

    change(worker_one, acme, disable_plugin, "notes")
    assert two.get("/notes/").status_code == 404
    assert 'href="/notes/"' not in two.get("/").get_data(as_text=True)

    assert run_cli(worker_two, "plugins", "enable", "notes", "--tenant", "acme").exit_code == 0
    assert one.get("/notes/").status_code == 200
