"""Accounts as a user and an attacker see them: sign-in, lockout, password reset and change, locale, time zone."""

import datetime as dt
import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update

from core import db
from core.models import AuditEntry, User
from core.tenancy import tenant_context
from core.testing import TEST_PASSWORD

NEW_PASSWORD = "a-brand-new-passphrase"


@pytest.fixture
def acme(make_tenant):
    return make_tenant("acme")


@pytest.fixture
def alice(acme, make_user):
    return make_user(acme, email="alice@acme.example.com", groups=["sales"])


class Browser(FlaskClient):
    """A signed-out browser on one host, from one address, sending only the language it was given."""

    def __init__(self, app, host, ip, language):
        super().__init__(app, app.response_class, use_cookies=True)
        self.environ_base["REMOTE_ADDR"] = ip
        if language:
            self.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
        self.host = host

    def open(self, *args, **kwargs):
        kwargs.setdefault("base_url", f"http://{self.host}")
        return super().open(*args, **kwargs)


def browser(app, host="acme.crm.test", ip="198.51.100.7", language="en"):
    """A signed-out browser on ``host``, coming from ``ip``, asking for ``language`` (``None``: no preference)."""
    return Browser(app, host, ip, language)


def sign_in(client, email, password, **query):
    return client.post("/login", query_string=query, data={"email": email, "password": password})


def audit(app, tenant, action):
    with app.app_context():
        return db.session.execute(
            select(AuditEntry.actor, AuditEntry.ip, AuditEntry.summary, AuditEntry.at)
            .where(AuditEntry.tenant_id == tenant.id, AuditEntry.action == action)
            .order_by(AuditEntry.id)
        ).all()


def user_row(app, tenant, email):
    with app.app_context(), tenant_context(tenant):
        return db.session.scalar(select(User).where(User.email == email))


# ------------------------------------------------------------------------------------------- sign-in


def test_sign_in_and_sign_out(app, acme, alice):
    client = browser(app)
    assert client.get("/").status_code == 302
    form = client.get("/login").get_data(as_text=True)
    assert 'name="email"' in form and 'name="password"' in form

    response = sign_in(client, alice.email, TEST_PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert client.get("/").status_code == 200
    assert [row.actor for row in audit(app, acme, "login")] == [alice.email]

    response = client.post("/logout")
    assert response.headers["Location"] == "/login"
    assert client.get("/").status_code == 302
    assert len(audit(app, acme, "logout")) == 1


def test_wrong_password_is_401_and_audited_with_the_ip(app, acme, alice):
    client = browser(app, ip="203.0.113.99")
    response = sign_in(client, alice.email, "not-the-password")
    assert response.status_code == 401
    assert "The e-mail or password is not correct." in response.get_data(as_text=True)
    assert client.get("/").status_code == 302
    failures = audit(app, acme, "login_failed")
    assert [(row.actor, row.ip) for row in failures] == [(alice.email, "203.0.113.99")]
    assert failures[0].at > dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)

    response = sign_in(client, "nobody@acme.example.com", "whatever-it-is")
    assert response.status_code == 401
    assert len(audit(app, acme, "login_failed")) == 2


def test_unknown_and_known_addresses_cost_one_password_hash_each(app, acme, alice, monkeypatch):
    """No probing by timing: refusing an unknown address verifies a (dummy) hash just like a known one.

    Counted rather than timed, so the test cannot fail on a busy machine."""
    import werkzeug.security

    from core.models import accounts as account_model
    from core.views import accounts as account_views

    checks = []
    real = werkzeug.security.check_password_hash

    def counting(pwhash, password):
        checks.append(pwhash.split("$", 1)[0])
        return real(pwhash, password)

    monkeypatch.setattr(account_views, "check_password_hash", counting)
    monkeypatch.setattr(account_model, "check_password_hash", counting)
    client = browser(app)
    assert sign_in(client, alice.email, "wrong-password-x").status_code == 401
    assert sign_in(client, "nobody-here@acme.example.com", "wrong-password-x").status_code == 401
    assert len(checks) == 2, checks  # one hash verification for each refusal
    assert checks[1].startswith(("scrypt", "pbkdf2")), checks  # the dummy is a real, slow hash


def test_account_locks_after_repeated_failures_and_unlocks_after_the_lock_period(make_app, make_tenant, make_user):
    app = make_app(LOGIN_MAX_FAILURES=3, LOGIN_LOCK_MINUTES=15)
    acme = make_tenant("acme", use_app=app)
    user = make_user(acme, use_app=app)
    client = browser(app)
    for _ in range(3):
        assert sign_in(client, user.email, "wrong-password-x").status_code == 401

    response = sign_in(client, user.email, TEST_PASSWORD)
    assert response.status_code == 429
    assert "locked" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302
    assert [row.summary for row in audit(app, acme, "login_failed")] == ["", "", "", "locked"]

    locked_until = user_row(app, acme, user.email).locked_until
    assert locked_until > dt.datetime.now(dt.UTC) + dt.timedelta(minutes=14)
    with app.app_context(), tenant_context(acme):
        past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        db.session.execute(update(User).where(User.id == user.id).values(locked_until=past))
        db.session.commit()
    assert sign_in(client, user.email, TEST_PASSWORD).status_code == 302
    assert client.get("/").status_code == 200


def test_many_failures_from_one_address_throttle_that_address_only(app, acme, alice, monkeypatch):
    monkeypatch.setattr("core.views.accounts.IP_FAILURE_LIMIT", 5)  # 30 in production; each failure costs a hash
    attacker = browser(app, ip="192.0.2.66")
    for i in range(5):
        assert sign_in(attacker, f"guess{i}@acme.example.com", "password-guess").status_code == 401
    assert sign_in(attacker, alice.email, TEST_PASSWORD).status_code == 429
    assert audit(app, acme, "login_failed")[-1].summary == "throttled"
    assert sign_in(browser(app, ip="198.51.100.1"), alice.email, TEST_PASSWORD).status_code == 302


# ------------------------------------------------------------------------------------------- reset


def reset_link(app):
    outbox = app.extensions.get("crm.outbox", [])
    assert outbox, "no mail was sent"
    body = outbox[-1].get_content()
    return outbox[-1], re.search(r"http://\S+/password/reset/\S+", body).group(0)


def test_password_reset_link_sets_a_new_password_once(app, acme, alice):
    client = browser(app)
    response = client.post("/password/forgot", data={"email": "Alice@acme.example.com"})
    assert response.status_code == 302
    mail, link = reset_link(app)
    assert mail["To"] == alice.email
    assert link.startswith("http://acme.crm.test/password/reset/")
    path = link.removeprefix("http://acme.crm.test")

    assert client.get(path).status_code == 200
    response = client.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert sign_in(browser(app), alice.email, TEST_PASSWORD).status_code == 401
    assert sign_in(browser(app), alice.email, NEW_PASSWORD).status_code == 302

    again = client.post(path, data={"password": "yet-another-password", "confirm": "yet-another-password"})
    assert again.status_code == 400
    assert client.get(path).status_code == 400
    assert sign_in(browser(app), alice.email, NEW_PASSWORD).status_code == 302


def test_a_password_reset_or_change_signs_out_every_other_session(app, acme, alice):
    intruder, laptop, phone = browser(app, ip="192.0.2.9"), browser(app), browser(app)
    for client in (intruder, laptop, phone):
        assert sign_in(client, alice.email, TEST_PASSWORD, remember="y").status_code == 302
        assert client.get("/").status_code == 200

    laptop.post("/logout")
    laptop.post("/password/forgot", data={"email": alice.email})
    _mail, link = reset_link(app)
    laptop.post(link.removeprefix("http://acme.crm.test"), data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert intruder.get("/").status_code == 302
    assert phone.get("/").status_code == 302

    assert sign_in(phone, alice.email, NEW_PASSWORD).status_code == 302
    assert sign_in(intruder, alice.email, NEW_PASSWORD).status_code == 302
    newest = "the-newest-password-here"
    form = {
        "form": "password",
        "password-current": NEW_PASSWORD,
        "password-password": newest,
        "password-confirm": newest,
    }
    assert phone.post("/account", data=form).status_code == 302
    assert phone.get("/").status_code == 200  # the session that changed it stays signed in
    assert intruder.get("/").status_code == 302


@pytest.mark.parametrize("own_host", [None, "crm.acme-corp.com.tw"])
def test_a_forged_host_header_does_not_end_up_in_the_reset_mail(make_app, make_tenant, make_user, own_host):
    app = make_app(DEFAULT_TENANT="acme")
    acme = make_tenant("acme", host=own_host, use_app=app)
    user = make_user(acme, use_app=app)
    response = browser(app, host="evil.example").post("/password/forgot", data={"email": user.email})
    assert response.status_code == 302  # the default tenant answered the forged host
    body = app.extensions["crm.outbox"][-1].get_content()
    assert "evil.example" not in body
    assert f"http://{own_host or 'acme.crm.test'}/password/reset/" in body


def test_reset_link_is_invalid_on_another_tenants_host(app, acme, alice, make_tenant, make_user):
    globex = make_tenant("globex")
    make_user(globex, email=alice.email)
    browser(app).post("/password/forgot", data={"email": alice.email})
    _mail, link = reset_link(app)
    path = link.removeprefix("http://acme.crm.test")
    other = browser(app, host="globex.crm.test")
    assert other.get(path).status_code == 400
    assert other.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 400
    assert sign_in(browser(app, host="globex.crm.test"), alice.email, TEST_PASSWORD).status_code == 302
    assert sign_in(browser(app), alice.email, TEST_PASSWORD).status_code == 302


def test_reset_request_for_an_unknown_address_answers_the_same(app, acme, alice):
    known_client, unknown_client = browser(app), browser(app)
    known = known_client.post("/password/forgot", data={"email": alice.email})
    sent = len(app.extensions.get("crm.outbox", []))
    unknown = unknown_client.post("/password/forgot", data={"email": "mallory@acme.example.com"})
    assert (known.status_code, known.headers["Location"]) == (unknown.status_code, unknown.headers["Location"])
    assert known_client.get("/login").get_data(as_text=True) == unknown_client.get("/login").get_data(as_text=True)
    assert sent == 1
    assert len(app.extensions.get("crm.outbox", [])) == 1


def test_password_change_requires_the_current_password(app, acme, alice, client_as):
    client = client_as(alice)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    wrong = client.post(
        "/account",
        data={
            "form": "password",
            "password-current": "not-my-password",
            "password-password": NEW_PASSWORD,
            "password-confirm": NEW_PASSWORD,
        },
    )
    assert wrong.status_code == 400
    assert "The current password is not correct." in wrong.get_data(as_text=True)
    assert user_row(app, acme, alice.email).check_password(TEST_PASSWORD)

    right = client.post(
        "/account",
        data={
            "form": "password",
            "password-current": TEST_PASSWORD,
            "password-password": NEW_PASSWORD,
            "password-confirm": NEW_PASSWORD,
        },
    )
    assert right.status_code == 302
    assert user_row(app, acme, alice.email).check_password(NEW_PASSWORD)
    assert len(audit(app, acme, "password_changed")) == 1


# ------------------------------------------------------------------------------------ locale, time zone


def html_lang(response):
    return re.search(r'<html lang="([^"]+)"', response.get_data(as_text=True)).group(1)


def test_locale_comes_from_the_user_then_the_browser_then_the_tenant(app, make_tenant, make_user, client_as):
    from flask_babel import force_locale, gettext

    with app.test_request_context(), force_locale("zh_Hant"):
        chinese_sign_in, chinese_sign_out = gettext("Sign in"), gettext("Sign out")

    acme = make_tenant("acme", locale="en")
    english = client_as(make_user(acme, locale="en"))
    page = english.get("/", headers={"Accept-Language": "zh-TW,zh;q=0.9"})
    assert html_lang(page) == "en"
    assert "Sign out" in page.get_data(as_text=True)
    assert chinese_sign_out == "Sign out" or chinese_sign_out not in page.get_data(as_text=True)

    anonymous = browser(app, language=None)
    page = anonymous.get("/login", headers={"Accept-Language": "zh-TW,zh;q=0.9,en;q=0.5"})
    assert html_lang(page) == "zh-Hant-TW"
    assert chinese_sign_in in page.get_data(as_text=True)
    assert html_lang(anonymous.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"})) == "zh-Hans-CN"
    assert html_lang(anonymous.get("/login", headers={"Accept-Language": "fr-FR"})) == "en"
    assert html_lang(anonymous.get("/login")) == "en"

    make_tenant("globex", locale="zh_Hant")
    assert html_lang(browser(app, host="globex.crm.test", language=None).get("/login")) == "zh-Hant-TW"


def test_user_chooses_language_and_time_zone(app, acme, alice, client_as):
    from flask_babel import get_timezone

    client = client_as(alice)
    with client:
        client.get("/account")
        assert str(get_timezone()) == "Asia/Taipei"  # the tenant's default

    response = client.post(
        "/account",
        data={"form": "profile", "profile-name": "Alice", "profile-locale": "en", "profile-timezone": "Europe/Berlin"},
    )
    assert response.status_code == 302
    with client:
        page = client.get("/account", headers={"Accept-Language": "zh-CN"})
        assert str(get_timezone()) == "Europe/Berlin"
    assert html_lang(page) == "en"
    assert '<option selected value="Europe/Berlin">' in page.get_data(as_text=True)

    bad = client.post(
        "/account", data={"form": "profile", "profile-name": "Alice", "profile-timezone": "Mars/Olympus_Mons"}
    )
    assert bad.status_code == 400
    assert user_row(app, acme, alice.email).timezone == "Europe/Berlin"


# ------------------------------------------------------------------------------------- open redirects


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "javascript:alert(1)",
        "\x01//evil.example",
    ],
)
def test_next_parameter_cannot_leave_the_site(app, acme, alice, target):
    client = browser(app)
    response = sign_in(client, alice.email, TEST_PASSWORD, next=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    already = client.get("/login", query_string={"next": target})
    assert already.headers["Location"] == "/"


def test_next_parameter_leads_back_to_a_page_of_the_site(app, acme, alice):
    response = sign_in(browser(app), alice.email, TEST_PASSWORD, next="/account?tab=profile")
    assert response.headers["Location"] == "/account?tab=profile"
