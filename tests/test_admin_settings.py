"""Workspace settings and plugin settings: round trip, validation next to the field, the get/set API."""

import types

import pytest
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from core import db
from core.contributions import Setting
from core.hooks import hookimpl
from core.models import AuditEntry, Tenant, TenantSetting
from core.settings import get_setting, set_setting


@hookimpl
def register_settings():
    return [
        Setting(
            "page_size",
            _l("Rows per page"),
            type="number",
            default=25,
            validate=lambda value: None if 5 <= value <= 200 else "Choose between 5 and 200.",
        ),
        Setting("greeting", "Greeting", default="Hello"),
        Setting("digest", "Send a daily digest", type="bool", default=True),
        Setting("channel", "Channel", type="choice", default="mail", choices=(("mail", "Mail"), ("sms", "SMS"))),
    ]


prefs = types.ModuleType("tests.prefs_plugin")
prefs.__file__ = __file__
prefs.META = {"name": "prefs", "title": "Preferences", "version": "2.0", "description": "Declares settings."}
prefs.register_settings = register_settings


@pytest.fixture
def prefs_app(make_app):
    return make_app(plugins=[prefs])


WORKSPACE = {
    "name": "Acme 台灣",
    "theme": "default",
    "default_locale": "zh_Hans",
    "default_timezone": "Asia/Shanghai",
    "currency": "cny",
}


def test_settings_round_trip(prefs_app, make_tenant, make_user, client_as, in_tenant):
    acme = make_tenant("acme", use_app=prefs_app)
    admin = client_as(make_user(acme, groups=["administrators"], use_app=prefs_app), use_app=prefs_app)
    page = admin.get("/admin/settings").get_data(as_text=True)
    assert "Preferences" in page and "Rows per page" in page and 'value="25"' in page and 'value="Hello"' in page

    saved = admin.post(
        "/admin/settings",
        data={
            **WORKSPACE,
            "setting-prefs.page_size": "50",
            "setting-prefs.greeting": " 你好 ",
            "setting-prefs.channel": "sms",
        },
    )
    assert saved.status_code == 302
    page = admin.get("/admin/settings").get_data(as_text=True)
    assert 'value="Acme 台灣"' in page and 'value="CNY"' in page and 'value="50"' in page

    with in_tenant(acme, use_app=prefs_app):
        tenant = db.session.get(Tenant, acme.id)
        assert (tenant.name, tenant.default_locale, tenant.default_timezone, tenant.currency) == (
            "Acme 台灣",
            "zh_Hans",
            "Asia/Shanghai",
            "CNY",
        )
        assert get_setting("prefs.page_size") == 50
        assert get_setting("prefs.greeting") == "你好"
        assert get_setting("prefs.digest") is False  # an unchecked box
        assert get_setting("prefs.channel") == "sms"
        changes = db.session.scalar(select(AuditEntry.changes).where(AuditEntry.action == "settings_changed"))
        assert changes["currency"] == ["TWD", "CNY"]
        assert db.session.scalar(select(AuditEntry.id).where(AuditEntry.table_name == "tenant_settings"))


def test_validation_errors_are_shown_next_to_the_field_and_nothing_is_saved(
    prefs_app, make_tenant, make_user, client_as, in_tenant
):
    acme = make_tenant("acme", use_app=prefs_app)
    admin = client_as(make_user(acme, groups=["administrators"], use_app=prefs_app), use_app=prefs_app)
    bad = admin.post(
        "/admin/settings",
        data={**WORKSPACE, "currency": "NT$", "theme": "missing", "setting-prefs.page_size": "1000"},
    )
    assert bad.status_code == 400
    page = bad.get_data(as_text=True)
    assert 'id="currency-error"' in page and "three-letter" in page
    assert 'id="theme-error"' in page
    assert 'id="setting-prefs.page_size-error"' in page and "Choose between 5 and 200." in page

    only_setting = admin.post("/admin/settings", data={**WORKSPACE, "setting-prefs.page_size": "2"})
    assert only_setting.status_code == 400
    with in_tenant(acme, use_app=prefs_app):
        assert db.session.get(Tenant, acme.id).name == "Acme"
        assert db.session.scalar(select(TenantSetting.id)) is None


def test_only_enabled_plugins_settings_are_shown(prefs_app, make_tenant, make_user, client_as):
    globex = make_tenant("globex", plugins=[], use_app=prefs_app)
    admin = client_as(make_user(globex, groups=["administrators"], use_app=prefs_app), use_app=prefs_app)
    page = admin.get("/admin/settings").get_data(as_text=True)
    assert "Rows per page" not in page
    assert admin.post("/admin/settings", data=WORKSPACE).status_code == 302


def test_get_and_set_setting(prefs_app, make_tenant, in_tenant):
    acme = make_tenant("acme", use_app=prefs_app)
    globex = make_tenant("globex", use_app=prefs_app)
    with in_tenant(acme, use_app=prefs_app):
        assert get_setting("prefs.page_size") == 25
        assert get_setting("prefs.unknown", default="fallback") == "fallback"
        set_setting("prefs.page_size", 40)
        assert get_setting("prefs.page_size") == 40
        with pytest.raises(KeyError):
            set_setting("prefs.unknown", 1)
        with pytest.raises(ValueError, match="between 5 and 200"):
            set_setting("prefs.page_size", 1)
        db.session.commit()
    with in_tenant(globex, use_app=prefs_app):
        assert get_setting("prefs.page_size") == 25, "another tenant keeps the default"
    with in_tenant(acme, use_app=prefs_app):
        assert get_setting("prefs.page_size") == 40
