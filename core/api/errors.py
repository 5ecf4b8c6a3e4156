"""JSON answers of the REST API and the decorators its views declare their permission with.

Every API answer is JSON, errors included: ``{"error": {"status": 404, "message": "..."}}``, validation errors
``{"errors": {"field": ["message"]}}``. The app's error handlers already answer 403, 404 and 405 as JSON under
``/api/``; the views here build 400, 401, 409 and 422 themselves.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from flask import abort, jsonify
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from core.permissions import has_permission

F = TypeVar("F", bound=Callable[..., Any])


def error(status: int, message: str, **extra: Any) -> ResponseReturnValue:
    """``{"error": {"status": status, "message": message, ...extra}}`` with that status."""
    return jsonify({"error": {"status": status, "message": message, **extra}}), status


def unauthorized() -> ResponseReturnValue:
    body, status = error(401, _("Sign in, or send a personal API token: Authorization: Bearer <token>."))
    body.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return body, status


def validation_errors(errors: Mapping[str, Any], status: int = 422) -> ResponseReturnValue:
    """``{"errors": {"field": ["message", ...], "custom": {"key": [...]}}}`` (marshmallow's shape)."""
    return jsonify({"errors": plain(errors)}), status


def plain(value: Any) -> Any:
    """A value as JSON can carry it: dates as ISO 8601, decimals as strings, lazy strings as text."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _mark(wrapper: F, policy: str) -> F:
    wrapper.crm_permission = policy  # type: ignore[attr-defined]  # read by core.permissions.view_policy
    wrapper.crm_api = True  # type: ignore[attr-defined]
    return wrapper


def api_requires(permission: str) -> Callable[[F], F]:
    """Declare the permission an API view needs: 401 (JSON, no redirect) when not signed in, 403 without it."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return unauthorized()
            if not has_permission(permission):
                abort(403)
            return view(*args, **kwargs)

        return _mark(wrapper, permission)  # type: ignore[arg-type]

    return decorator


def api_authenticated(view: F) -> F:
    """Declare that any signed-in user of the tenant (session or token) may call the API view."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return unauthorized()
        return view(*args, **kwargs)

    return _mark(wrapper, "authenticated")  # type: ignore[arg-type]
