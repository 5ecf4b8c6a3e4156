"""Configuration: defaults, then ``instance/config.py``, then ``CRM_*`` environment variables, then a mapping."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

DEFAULTS: dict[str, Any] = {
    "DATABASE_URL": None,  # computed: sqlite under the instance folder
    "SECRET_KEY": None,  # computed: generated once into instance/secret_key
    "REDIS_URL": None,
    "DEFAULT_TENANT": "demo",
    "BASE_DOMAIN": None,
    "THEMES_DIR": None,
    "MAIL_SERVER": None,
    "MAIL_PORT": 587,
    "MAIL_USERNAME": None,
    "MAIL_PASSWORD": None,
    "MAIL_USE_TLS": True,
    "MAIL_USE_SSL": False,
    "MAIL_DEFAULT_SENDER": "Guanxi CRM <no-reply@localhost>",
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_LOCK_MINUTES": 15,
    "PASSWORD_RESET_MAX_AGE": 3600 * 24,
    "INVITE_MAX_AGE": 3600 * 24 * 7,
    "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
    "SESSION_COOKIE_SECURE": True,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_SECURE": True,
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "PERMANENT_SESSION_LIFETIME": 3600 * 12,
    "WTF_CSRF_TIME_LIMIT": None,
    "BABEL_DEFAULT_LOCALE": "zh_Hant",
    "BABEL_DEFAULT_TIMEZONE": "UTC",
    "JOBS_SYNC": False,  # run jobs inline (tests); otherwise RQ or a background thread
    "IMPORT_CHECKER_MIN_BYTES": 1_000_000,  # imports of larger files check rows in a forked process (< 0: never)
    "SQL_ECHO": False,
    "PAGE_SIZE": 25,
    "PROXY_FIX": 0,  # number of reverse proxies in front (nginx: 1); trusts their X-Forwarded-* headers
}


def load_config(app: Flask, overrides: Mapping[str, Any] | None = None) -> None:
    """Fill ``app.config`` in the documented order and compute the derived defaults."""
    app.config.from_mapping(DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("CRM")
    if overrides:
        app.config.from_mapping(overrides)

    instance = Path(app.instance_path)
    if not app.config["DATABASE_URL"]:
        instance.mkdir(parents=True, exist_ok=True)
        app.config["DATABASE_URL"] = f"sqlite:///{instance / 'crm.sqlite3'}"
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _instance_secret(instance)


def _instance_secret(instance: Path) -> str:
    """A secret kept in the instance folder so sessions survive restarts on a dev machine."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker won the race
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key
