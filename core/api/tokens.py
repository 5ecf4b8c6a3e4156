"""Personal API tokens: issue, look up, revoke, and sign in API requests that carry one.

A token is ``gx_`` followed by 43 random URL-safe characters. Only its SHA-256 hash is stored, with its first
8 characters (the ``prefix``) so people can tell their tokens apart. A request to ``/api/...`` with
``Authorization: Bearer <token>`` acts as the token's user, in the tenant of the request's host: a token of
another tenant, a revoked token or a deactivated user's token signs nobody in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from flask import Flask, current_app, g, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select, update

from core import db
from core.audit import Actor, reset_actor, set_actor
from core.db import utcnow
from core.models import ApiToken, User

SECRET_MARK = "gx_"
PREFIX_LENGTH = 8
TOUCH_INTERVAL = dt.timedelta(minutes=1)
API_PATH = "/api/"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def issue_token(user: User, name: str) -> tuple[ApiToken, str]:
    """A new token of ``user`` and its secret (show it once; the caller commits)."""
    secret = SECRET_MARK + secrets.token_urlsafe(32)
    token = ApiToken(
        tenant_id=user.tenant_id,
        user_id=user.id,
        name=name.strip()[:100],
        token_hash=hash_secret(secret),
        prefix=secret[:PREFIX_LENGTH],
    )
    db.session.add(token)
    db.session.flush()
    return token, secret


def revoke_token(token: ApiToken) -> None:
    """Stop the token working from the next request on (the caller commits)."""
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.flush()


def find_token(secret: str) -> tuple[ApiToken, User] | None:
    """The live token with this secret in the current tenant, with its active user; ``None`` otherwise."""
    if not secret.startswith(SECRET_MARK) or len(secret) > 200:
        return None
    row = db.session.execute(
        select(ApiToken, User).join(User, User.id == ApiToken.user_id).where(ApiToken.token_hash == hash_secret(secret))
    ).first()
    if row is None:
        return None
    token, user = row
    if token.revoked_at is not None or not user.active:
        return None
    return token, user


def bearer_secret(req: Any) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or ``None``."""
    scheme, _sep, secret = req.headers.get("Authorization", "").partition(" ")
    secret = secret.strip()
    return secret if scheme.lower() == "bearer" and secret else None


def _touch(token: ApiToken) -> None:
    """Record the last use, at most once a minute per token (a read-only request still commits this)."""
    now = utcnow()
    if token.last_used_at is not None and now - token.last_used_at < TOUCH_INTERVAL:
        return
    db.session.execute(
        update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now),
        execution_options={"synchronize_session": False},
    )
    db.session.commit()
    token.last_used_at = now


def load_user_from_request(req: Any) -> User | None:
    """flask-login's request loader: the user of a valid bearer token on an API path of this tenant."""
    if not req.path.startswith(API_PATH) or g.get("tenant") is None:
        return None
    secret = bearer_secret(req)
    if secret is None:
        return None
    found = find_token(secret)
    if found is None:
        return None
    token, user = found
    _touch(token)
    g.api_token = token
    return user


def prefer_bearer() -> ResponseReturnValue | None:
    """``before_request`` of the API blueprints: a bearer token, when one is sent, decides who the request is.

    flask-login asks the request loader only when the session cookie names nobody; a script in a signed-in
    browser may send both. Then the token wins, and a bad token is a 401 rather than a fall-back to the session.
    """
    if g.get("api_token") is not None or not request.path.startswith(API_PATH):
        return None
    secret = bearer_secret(request)
    if secret is None:
        return None
    found = find_token(secret)
    if found is None:
        from core.api.errors import unauthorized

        return unauthorized()
    token, user = found
    _touch(token)
    g.api_token = token
    current_app.login_manager._update_request_context_with_user(user)  # type: ignore[attr-defined]
    if g.get("actor_token") is not None:
        reset_actor(g.actor_token)
    g.actor_token = set_actor(Actor(user.id, user.email, request.remote_addr))
    return None


def authenticated_by_token() -> bool:
    """Whether the current request was signed in by a bearer token (not by the browser's session cookie)."""
    return g.get("api_token") is not None


def check_csrf() -> None:
    """``before_request`` of the API blueprints: writes signed in by the session cookie need the CSRF header
    (``X-CSRFToken``); writes signed in by a bearer token do not, since no browser sends that header by itself."""
    from flask_login import current_user

    if request.method not in current_app.config["WTF_CSRF_METHODS"] or not current_app.config["WTF_CSRF_ENABLED"]:
        return
    if not current_user.is_authenticated or authenticated_by_token():
        return  # anonymous: the view answers 401
    current_app.extensions["csrf"].protect()


def init_token_login(app: Flask) -> None:
    app.login_manager.request_loader(load_user_from_request)  # type: ignore[attr-defined]
