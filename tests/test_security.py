"""The security baseline: CSRF, security headers, cookie flags, upload limits, no inline script."""

import re

import pytest
from sqlalchemy import func, select

from core import db
from core.config import DEFAULTS
from core.tenancy import tenant_context
from core.testing import TEST_CONFIG, TEST_PASSWORD, TenantClient
from tests.notes_plugin import plugin as notes_plugin
from tests.notes_plugin.models import Note

CSRF_INPUT = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def csrf_token(html):
    return CSRF_INPUT.search(html).group(1)


def client_on(app, host="acme.crm.test"):
    app.test_client_class = TenantClient
    client = app.test_client()
    client.host = host
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def note_count(app, tenant):
    with app.app_context(), tenant_context(tenant):
        return db.session.scalar(select(func.count(Note.id)))


@pytest.fixture
def csrf_app(make_app):
    return make_app(plugins=[notes_plugin], WTF_CSRF_ENABLED=True)


def test_csrf_token_is_required_on_login_logout_and_plugin_forms(csrf_app, make_tenant, make_user):
    acme = make_tenant("acme", use_app=csrf_app)
    user = make_user(acme, groups=["sales"], use_app=csrf_app)
    client = client_on(csrf_app)

    refused = client.post("/login", data={"email": user.email, "password": TEST_PASSWORD})
    assert refused.status_code == 400
    assert client.get("/").status_code == 302

    token = csrf_token(client.get("/login").get_data(as_text=True))
    signed_in = client.post("/login", data={"email": user.email, "password": TEST_PASSWORD, "csrf_token": token})
    assert signed_in.status_code == 302
    assert client.get("/").status_code == 200

    assert client.post("/notes/", data={"title": "forged"}).status_code == 400
    assert client.post("/notes/", data={"title": "forged", "csrf_token": "not-a-token"}).status_code == 400
    assert note_count(csrf_app, acme) == 0

    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200  # still signed in

    token = csrf_token(client.get("/").get_data(as_text=True))
    assert client.post("/notes/", data={"title": "genuine", "csrf_token": token}).status_code == 302
    assert note_count(csrf_app, acme) == 1
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302


def test_csrf_refusal_is_a_friendly_page(csrf_app, make_tenant):
    make_tenant("acme", use_app=csrf_app)
    response = client_on(csrf_app).post("/password/forgot", data={"email": "a@example.com"})
    assert response.status_code == 400
    assert "The form expired or was sent from elsewhere." in response.get_data(as_text=True)
    assert response.content_type.startswith("text/html")


def assert_security_headers(response):
    csp = response.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "object-src 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] in ("same-origin", "strict-origin-when-cross-origin", "no-referrer")


def test_security_headers_on_html_pages_and_error_pages(app, make_tenant, make_user, client_as):
    acme = make_tenant("acme")
    signed_in = client_as(make_user(acme, groups=["administrators"]))
    responses = [
        client_on(app).get("/login"),
        signed_in.get("/"),
        signed_in.get("/account"),
        signed_in.get("/no-such-page"),
        client_on(app, host="nowhere.example").get("/login"),
    ]
    assert [r.status_code for r in responses] == [200, 200, 200, 404, 404]
    for response in responses:
        assert response.content_type.startswith("text/html")
        assert_security_headers(response)
        assert response.headers["Cache-Control"] == "no-store"


def test_session_and_remember_cookies_are_secure_httponly_samesite_by_default(_schema, make_tenant, make_user):
    from core.app import create_app

    assert DEFAULTS["SESSION_COOKIE_SECURE"] is True
    config = {k: v for k, v in TEST_CONFIG.items() if not k.endswith("_COOKIE_SECURE")}
    app = create_app({**config, "DATABASE_URL": _schema})
    try:
        acme = make_tenant("acme", use_app=app)
        user = make_user(acme, use_app=app)
        client = app.test_client()
        response = client.post(
            "/login",
            data={"email": user.email, "password": TEST_PASSWORD, "remember": "y"},
            base_url="https://acme.crm.test",
        )
        assert response.status_code == 302
        cookies = {header.split("=", 1)[0]: header for header in response.headers.getlist("Set-Cookie")}
        assert set(cookies) >= {"session", "remember_token"}
        for header in cookies.values():
            flags = {part.strip().lower() for part in header.split(";")[1:]}
            assert "secure" in flags, header
            assert "httponly" in flags, header
            assert "samesite=lax" in flags, header
    finally:
        app.extensions["crm.db"].engine.dispose()


def test_request_bodies_over_the_limit_are_refused_with_413(make_app, make_tenant, make_user, client_as):
    small = make_app(plugins=[notes_plugin], MAX_CONTENT_LENGTH=4096)
    acme = make_tenant("acme", use_app=small)
    client = client_as(make_user(acme, groups=["sales"], use_app=small), use_app=small)
    response = client.post("/notes/", data={"title": "x" * 5000}, headers={"Accept-Language": "en"})
    assert response.status_code == 413
    assert "The upload is too large." in response.get_data(as_text=True)
    assert note_count(small, acme) == 0
    assert client.post("/notes/", data={"title": "fits"}).status_code == 302


def test_default_upload_limit_is_enforced(app, make_tenant):
    make_tenant("acme")
    limit = DEFAULTS["MAX_CONTENT_LENGTH"]
    assert app.config["MAX_CONTENT_LENGTH"] == limit
    body = b"email=a%40example.com&password=" + b"x" * limit
    response = client_on(app).post("/login", data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413


# ------------------------------------------------------------------------------ no inline script or style

INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "inline <script>"),
    (re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I), "inline event handler"),
    (re.compile(r"<style[\s>]", re.I), "inline <style>"),
    (re.compile(r"<[a-z][^>]*\sstyle\s*=", re.I), "style attribute"),
    (re.compile(r"""(?:href|src|action)\s*=\s*["']?\s*javascript:""", re.I), "javascript: URL"),
]


def inline_code(html):
    return [label for pattern, label in INLINE if pattern.search(html)]


def test_inline_detector_catches_what_the_policy_blocks():
    assert inline_code('<script src="/static/core/crm.js" defer></script>') == []
    assert inline_code("<script>alert(1)</script>") == ["inline <script>"]
    assert inline_code('<button onclick="go()">') == ["inline event handler"]
    assert inline_code('<p style="color:red">') == ["style attribute"]


def test_no_core_page_renders_inline_script_or_style(app, make_tenant, make_user, client_as):
    from core.views.accounts import password_token

    acme = make_tenant("acme")
    admin = make_user(acme, groups=["administrators"])
    signed_in = client_as(admin)
    anonymous = client_on(app)
    owners = app.extensions["crm.plugins"].owners.blueprints
    pages = {}
    for rule in app.url_map.iter_rules():
        blueprint = rule.endpoint.rsplit(".", 1)[0] if "." in rule.endpoint else None
        if "GET" not in rule.methods or rule.arguments or owners.get(blueprint) != "core":
            continue
        response = signed_in.get(rule.rule)
        if response.content_type.startswith("text/html"):
            pages[rule.rule] = response
    assert {"/", "/account", "/search"} <= set(pages)

    with app.app_context(), tenant_context(acme):
        from core.models import User

        token = password_token(db.session.get(User, admin.id))
    pages["login"] = anonymous.get("/login")
    pages["forgot"] = anonymous.get("/password/forgot")
    pages["reset"] = anonymous.get(f"/password/reset/{token}")
    pages["invalid token"] = anonymous.get("/invitation/not-a-token")
    pages["404"] = signed_in.get("/nothing-here")
    pages["no tenant"] = client_on(app, host="nowhere.example").get("/login")
    pages["failed login"] = anonymous.post("/login", data={"email": admin.email, "password": "wrong-password"})
    assert pages["reset"].status_code == 200

    offenders = {path: found for path, response in pages.items() if (found := inline_code(response.get_data(True)))}
    assert offenders == {}
