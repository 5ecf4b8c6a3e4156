"""Personal API tokens: the tokens page, the command line, bearer sign-in, revocation, and CSRF for the API."""

import datetime as dt
import hashlib
import re

import pytest
from sqlalchemy import select, update

from core import db
from core.cli import main as crm
from core.models import ApiToken, User
from core.testing import TEST_PASSWORD, TenantClient
from tests.items_plugin import plugin as items_plugin

ALL = {f"items.item.{action}": "all" for action in ("view", "create", "edit", "delete")}
SECRET = re.compile(r"gx_[A-Za-z0-9_-]{40,}")


@pytest.fixture
def app(make_app):
    return make_app(plugins=[items_plugin])


@pytest.fixture
def acme(make_tenant):
    return make_tenant("acme")


def bearer(app, host, secret):
    app.test_client_class = TenantClient
    client = app.test_client()
    client.host = host
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    return client


def tokens_of(app, tenant, in_tenant):
    with in_tenant(tenant, app):
        return db.session.scalars(select(ApiToken).order_by(ApiToken.id)).all()


# ------------------------------------------------------------------------------------------- the page


def test_tokens_page_creates_shows_once_and_revokes(acme, make_user, client_as, in_tenant, app):
    user = make_user(acme, grants=ALL)
    browser = client_as(user)
    page = browser.get("/")
    assert 'href="/account/tokens"' in page.get_data(as_text=True)  # in the user menu

    created = browser.post("/account/tokens", data={"name": "Accounting sync"})
    assert created.status_code == 200
    html = created.get_data(as_text=True)
    secret = SECRET.search(html).group(0)
    assert "shown only this once" in html

    (token,) = tokens_of(app, acme, in_tenant)
    assert token.name == "Accounting sync" and token.user_id == user.id
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest() and token.prefix == secret[:8]
    assert secret not in repr(vars(token))  # only the hash is stored

    listing = browser.get("/account/tokens").get_data(as_text=True)
    assert "Accounting sync" in listing and token.prefix in listing and secret not in listing

    api = bearer(app, user.tenant_host, secret)
    assert api.get("/api/v1/items").status_code == 200

    assert browser.post(f"/account/tokens/{token.id}/revoke").status_code == 302
    assert "Revoked" in browser.get("/account/tokens").get_data(as_text=True)
    assert api.get("/api/v1/items").status_code == 401


def test_a_token_needs_a_name(acme, make_user, client_as, app, in_tenant):
    browser = client_as(make_user(acme))
    response = browser.post("/account/tokens", data={"name": "  "})
    assert response.status_code == 400
    assert not SECRET.search(response.get_data(as_text=True))
    assert tokens_of(app, acme, in_tenant) == []


def test_nobody_revokes_or_sees_someone_elses_token(acme, make_user, client_as, api_as, app, in_tenant):
    owner = make_user(acme, grants=ALL)
    api = api_as(owner, name="Owner's robot")
    (token,) = tokens_of(app, acme, in_tenant)

    other = client_as(make_user(acme, groups=["administrators"]))
    assert "Owner&#39;s robot" not in other.get("/account/tokens").get_data(as_text=True)
    assert other.post(f"/account/tokens/{token.id}/revoke").status_code == 404
    assert api.get("/api/v1/items").status_code == 200


def test_the_tokens_page_needs_a_sign_in(acme, client_as):
    response = client_as(tenant=acme).get("/account/tokens")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# ------------------------------------------------------------------------------------- bearer sign-in


def test_revoked_tokens_and_deactivated_users_are_refused(acme, make_user, api_as, app, in_tenant):
    user = make_user(acme, grants=ALL)
    first, second = api_as(user, name="one"), api_as(user, name="two")
    assert first.get("/api/v1/items").status_code == 200

    from core.api.tokens import revoke_token

    with in_tenant(acme):
        revoke_token(db.session.scalar(select(ApiToken).where(ApiToken.name == "one")))
        db.session.commit()
    assert first.get("/api/v1/items").status_code == 401
    assert second.get("/api/v1/items").status_code == 200

    with in_tenant(acme):
        db.session.get(User, user.id).active = False
        db.session.commit()
    assert second.get("/api/v1/items").status_code == 401


def test_malformed_or_unknown_tokens_are_401(acme, make_user, api_as, app):
    api = api_as(make_user(acme, grants=ALL))
    for header in (f"Basic {api.token}", "Bearer", f"Bearer {api.token}x", "Bearer gx_" + "a" * 43, api.token):
        api.environ_base["HTTP_AUTHORIZATION"] = header
        response = api.get("/api/v1/items")
        assert response.status_code == 401, header
        assert response.get_json()["error"]["status"] == 401


def test_a_token_opens_the_api_only_not_the_pages(acme, make_user, api_as):
    api = api_as(make_user(acme, grants=ALL))
    assert api.get("/api/v1/items").status_code == 200
    page = api.get("/account/tokens")
    assert page.status_code == 302 and "/login" in page.headers["Location"]


def test_last_use_is_recorded_at_most_once_a_minute(acme, make_user, api_as, app, in_tenant):
    api = api_as(make_user(acme, grants=ALL))
    assert tokens_of(app, acme, in_tenant)[0].last_used_at is None

    api.get("/api/v1/items")
    first = tokens_of(app, acme, in_tenant)[0].last_used_at
    assert first is not None
    api.get("/api/v1/items")
    assert tokens_of(app, acme, in_tenant)[0].last_used_at == first

    earlier = first - dt.timedelta(minutes=2)
    with in_tenant(acme):
        db.session.execute(update(ApiToken).values(last_used_at=earlier))
        db.session.commit()
    api.get("/api/v1/items")
    assert tokens_of(app, acme, in_tenant)[0].last_used_at > earlier + dt.timedelta(minutes=1)


# ---------------------------------------------------------------------------------------------- CSRF


@pytest.fixture
def csrf_app(make_app):
    return make_app(plugins=[items_plugin], WTF_CSRF_ENABLED=True)


def _csrf_token(html):
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def test_session_writes_need_the_csrf_header_bearer_writes_do_not(csrf_app, make_tenant, make_user, api_as):
    acme = make_tenant("acme", use_app=csrf_app)
    user = make_user(acme, grants=ALL, use_app=csrf_app)
    csrf_app.test_client_class = TenantClient
    browser = csrf_app.test_client()
    browser.host = user.tenant_host
    token = _csrf_token(browser.get("/login").get_data(as_text=True))
    signed_in = browser.post("/login", data={"email": user.email, "password": TEST_PASSWORD, "csrf_token": token})
    assert signed_in.status_code == 302

    refused = browser.post("/api/v1/items", json={"name": "Forged"})
    assert refused.status_code == 400 and refused.is_json
    assert browser.get("/api/v1/items").status_code == 200  # reads need no token
    header = _csrf_token(browser.get("/account/tokens").get_data(as_text=True))
    accepted = browser.post("/api/v1/items", json={"name": "Mine"}, headers={"X-CSRFToken": header})
    assert accepted.status_code == 201
    item = accepted.get_json()
    assert browser.patch(f"/api/v1/items/{item['id']}", json={"name": "Forged"}).status_code == 400
    assert browser.delete(f"/api/v1/items/{item['id']}").status_code == 400

    robot = api_as(user, use_app=csrf_app)
    assert robot.post("/api/v1/items", json={"name": "By robot"}).status_code == 201
    assert robot.patch(f"/api/v1/items/{item['id']}", json={"name": "Renamed"}).status_code == 200
    assert robot.delete(f"/api/v1/items/{item['id']}").status_code == 204

    # The tokens page is an ordinary form: it keeps its CSRF check whatever the headers say.
    forged = robot.post("/account/tokens", data={"name": "Forged"})
    assert forged.status_code in (302, 400)
    assert not SECRET.search(forged.get_data(as_text=True))


# ------------------------------------------------------------------------------------------ command line


def test_cli_creates_and_revokes_tokens(acme, make_user, app, in_tenant):
    user = make_user(acme, email="robot.owner@acme.example.com", grants=ALL)
    runner = app.test_cli_runner()

    args = ["tokens", "create", "Robot.Owner@acme.example.com", "--tenant", "acme", "--name", "ERP"]
    created = runner.invoke(crm, args)
    assert created.exit_code == 0, created.output
    secret = SECRET.search(created.output).group(0)
    api = bearer(app, user.tenant_host, secret)
    assert api.get("/api/v1/items").status_code == 200
    (token,) = tokens_of(app, acme, in_tenant)
    assert token.name == "ERP"

    revoked = runner.invoke(crm, ["tokens", "revoke", secret[:8], "--tenant", "acme"])
    assert revoked.exit_code == 0, revoked.output
    assert api.get("/api/v1/items").status_code == 401

    again = runner.invoke(crm, ["tokens", "revoke", secret[:8], "--tenant", "acme"])
    assert again.exit_code == 1 and "no active API token" in again.output
    unknown = runner.invoke(crm, ["tokens", "create", "nobody@acme.example.com", "--tenant", "acme"])
    assert unknown.exit_code == 1 and "no user" in unknown.output
    assert runner.invoke(crm, ["tokens", "create", user.email, "--tenant", "nowhere"]).exit_code == 1


def test_a_bearer_token_wins_over_the_session_cookie_it_comes_with(csrf_app, make_tenant, make_user, api_as):
    acme = make_tenant("acme", use_app=csrf_app)
    browser_user = make_user(acme, grants=ALL, use_app=csrf_app)
    robot_owner = make_user(acme, grants=ALL, use_app=csrf_app)
    csrf_app.test_client_class = TenantClient
    browser = csrf_app.test_client()
    browser.host = browser_user.tenant_host
    token = _csrf_token(browser.get("/login").get_data(as_text=True))
    browser.post("/login", data={"email": browser_user.email, "password": TEST_PASSWORD, "csrf_token": token})
    secret = api_as(robot_owner, use_app=csrf_app).token

    headers = {"Authorization": f"Bearer {secret}"}
    created = browser.post("/api/v1/items", json={"name": "Whose?"}, headers=headers)
    assert created.status_code == 201  # no CSRF token needed: the request is the token's
    assert created.get_json()["owner_id"] == robot_owner.id

    bad = browser.get("/api/v1/items", headers={"Authorization": "Bearer gx_revoked-or-made-up"})
    assert bad.status_code == 401  # a wrong token is not silently replaced by the session
    assert browser.get("/api/v1/items").status_code == 200  # the session alone still reads
