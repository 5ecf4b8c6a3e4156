"""Sign-in, sign-out, password reset and the user's own settings."""

from __future__ import annotations

import datetime as dt
import functools
import secrets
from typing import Any

from flask import Blueprint, current_app, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from core import db
from core.audit import record
from core.db import utcnow
from core.forms import ChangePasswordForm, LoginForm, NewPasswordForm, ProfileForm, ResetRequestForm
from core.jobs import enqueue
from core.models import User
from core.permissions import authenticated, public
from core.themes import render
from core.throttle import ip_throttled

bp = Blueprint("accounts", __name__)

IP_FAILURE_LIMIT = 30


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"crm.{purpose}")


def password_token(user: User, purpose: str = "reset") -> str:
    """A signed token that stops working once the password changes (so it is single-use)."""
    fingerprint = (user.password_hash or "")[-12:]
    return _serializer(purpose).dumps({"t": user.tenant_id, "u": user.id, "f": fingerprint})


def tenant_link(endpoint: str, **values: Any) -> str:
    """An absolute link for a mail, on the tenant's own host: never on a host the request merely claimed (a
    forged Host header answered by the default tenant would otherwise receive the reset token)."""
    tenant = g.tenant
    base = (current_app.config.get("BASE_DOMAIN") or "").lower().strip(".")
    own = [host for host in (tenant.host, f"{tenant.slug}.{base}" if base else None) if host]
    if not own or request.host.split(":")[0].lower().rstrip(".") in own:
        return url_for(endpoint, _external=True, **values)
    return f"{request.scheme}://{own[0]}{url_for(endpoint, **values)}"


def user_from_token(token: str, purpose: str, max_age: int) -> User | None:
    try:
        data = _serializer(purpose).loads(token, max_age=max_age)
    except (SignatureExpired, BadSignature):
        return None
    if data.get("t") != g.tenant.id:
        return None
    user = db.session.get(User, data.get("u"))
    if user is None or not user.active or (user.password_hash or "")[-12:] != data.get("f"):
        return None
    return user


@functools.cache
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_urlsafe(16))


def _check_dummy_password(password: str) -> None:
    check_password_hash(_dummy_hash(), password)


def _safe_next(target: str | None) -> str:
    # Browsers drop tabs and newlines from URLs, so "/\t/evil.example" would become "//evil.example".
    local = target and target.startswith("/") and not target.startswith("//") and "\\" not in target
    if local and target.isprintable():
        return target
    return url_for("home.dashboard")


def _ip_throttled() -> bool:
    return ip_throttled("login_failed", IP_FAILURE_LIMIT, current_app.config["LOGIN_LOCK_MINUTES"])


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> Any:
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    error = None
    status = 200
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        user = db.session.scalar(select(User).where(User.email == email))
        now = utcnow()
        if _ip_throttled():
            error, status = (
                _("Too many failed sign-ins from your network. Please wait a while and try again."),
                429,
            )
            record("login_failed", "throttled", user_id=user.id if user else None, actor=email)
            db.session.commit()
        elif user is not None and user.locked_until and user.locked_until > now:
            minutes = max(1, int((user.locked_until - now).total_seconds() // 60) + 1)
            error, status = (
                _("This account is locked after repeated failures. Try again in %(n)s minutes.", n=minutes),
                429,
            )
            record("login_failed", "locked", actor=email)
            db.session.commit()
        elif user is not None and user.active and user.check_password(form.password.data):
            user.failed_logins = 0
            user.locked_until = None
            user.last_login_at = now
            record("login", "", user_id=user.id, actor=email)
            db.session.commit()
            login_user(user, remember=form.remember.data)
            return redirect(_safe_next(request.args.get("next")))
        else:
            if user is None or not user.active:
                _check_dummy_password(form.password.data)  # as slow as a real check: no probing by timing
            error = _("The e-mail or password is not correct.")
            if user is not None:
                user.failed_logins += 1
                if user.failed_logins >= current_app.config["LOGIN_MAX_FAILURES"]:
                    user.locked_until = now + dt.timedelta(minutes=current_app.config["LOGIN_LOCK_MINUTES"])
                    user.failed_logins = 0
            record("login_failed", "", user_id=user.id if user else None, actor=email)
            db.session.commit()
            status = 401
    elif request.method == "POST":
        status = 400
    return render("core/login.html", form=form, error=error), status


@bp.route("/logout", methods=["POST"])
@public
def logout() -> Any:
    if current_user.is_authenticated:
        record("logout", "", user_id=current_user.id, actor=current_user.email)
        db.session.commit()
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("accounts.login"))


@bp.route("/password/forgot", methods=["GET", "POST"])
@public
def forgot_password() -> Any:
    form = ResetRequestForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        user = db.session.scalar(select(User).where(User.email == email))
        if user is not None and user.active:
            link = tenant_link("accounts.reset_password", token=password_token(user))
            enqueue(
                "core.mail:send_mail_job",
                name="password reset mail",
                to=user.email,
                subject=_("Reset your Guanxi password"),
                body=_(
                    "Someone asked to reset the password of %(email)s at %(tenant)s.\n\n"
                    "Open this link within 24 hours to choose a new password:\n%(link)s\n\n"
                    "If it was not you, ignore this message: your password stays as it is.",
                    email=user.email,
                    tenant=g.tenant.name,
                    link=link,
                ),
            )
            record("password_reset_requested", "", user_id=user.id, actor=email)
            db.session.commit()
        # Same answer whether or not the address exists, so the form cannot be used to probe accounts.
        flash(_("If that address has an account here, a reset link is on its way."), "info")
        return redirect(url_for("accounts.login"))
    return render("core/forgot_password.html", form=form)


def _set_password_page(token: str, purpose: str, max_age_key: str, template_title: str) -> Any:
    user = user_from_token(token, purpose, current_app.config[max_age_key])
    if user is None:
        return render("core/token_invalid.html"), 400
    form = NewPasswordForm()
    if form.validate_on_submit():
        user.set_password(form.password.data)
        user.failed_logins = 0
        user.locked_until = None
        record("password_set", purpose, user_id=user.id, actor=user.email)
        db.session.commit()
        flash(_("Your password is set. Please sign in."), "success")
        return redirect(url_for("accounts.login"))
    return render("core/set_password.html", form=form, title=template_title, user=user)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@public
def reset_password(token: str) -> Any:
    return _set_password_page(token, "reset", "PASSWORD_RESET_MAX_AGE", _("Choose a new password"))


@bp.route("/invitation/<token>", methods=["GET", "POST"])
@public
def accept_invitation(token: str) -> Any:
    return _set_password_page(token, "invite", "INVITE_MAX_AGE", _("Welcome! Choose your password"))


@bp.route("/account", methods=["GET", "POST"])
@authenticated
def settings() -> Any:
    user = current_user._get_current_object()
    profile = ProfileForm(prefix="profile", obj=user)
    password = ChangePasswordForm(prefix="password")
    if request.method == "POST" and request.form.get("form") == "profile" and profile.validate():
        user.name = profile.name.data.strip()
        user.locale = profile.locale.data or None
        user.timezone = profile.timezone.data or None
        db.session.commit()
        flash(_("Your settings are saved."), "success")
        return redirect(url_for("accounts.settings"))
    if request.method == "POST" and request.form.get("form") == "password" and password.validate():
        if not user.check_password(password.current.data):
            password.current.errors.append(_("The current password is not correct."))
        else:
            user.set_password(password.password.data)
            record("password_changed", "", user_id=user.id, actor=user.email)
            db.session.commit()
            login_user(user)  # other sessions end with the old password; this one carries on
            flash(_("Your password is changed."), "success")
            return redirect(url_for("accounts.settings"))
    status = 400 if request.method == "POST" else 200
    return render("core/account.html", profile=profile, password=password), status
