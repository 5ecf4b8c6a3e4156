"""pytest plugin (``-p core.testing``, loaded automatically once Guanxi is installed).

Fixtures: ``make_app(plugins=[...])``, ``app``, ``db``, ``make_tenant(slug, plugins=[...])``, ``tenant``,
``make_user(tenant, grants={"contacts.view": "own"}, departments=[...])``, ``client_as(user)``,
``api_as(user)``, ``in_tenant(tenant)``. The database is SQLite unless ``CRM_TEST_DATABASE_URL`` names a
PostgreSQL or MariaDB database, which is dropped and created afresh for the run.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from werkzeug.security import generate_password_hash

TEST_PASSWORD = "correct-horse-battery"
# Test users get a cheap hash of TEST_PASSWORD (signing in takes a millisecond, not a tenth of a second);
# set_password() and the sign-in code are unchanged, so real hashing is still what the account tests see.
TEST_PASSWORD_HASH = generate_password_hash(TEST_PASSWORD, method="pbkdf2:sha256:1000")

TEST_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test-secret-key-not-for-production",
    "WTF_CSRF_ENABLED": False,
    "SESSION_COOKIE_SECURE": False,
    "REMEMBER_COOKIE_SECURE": False,
    "JOBS_SYNC": True,
    "DEFAULT_TENANT": None,
    "BASE_DOMAIN": "crm.test",
    "BABEL_DEFAULT_LOCALE": "en",  # outside a tenant's request; tests that check Chinese ask for it
}


def _fresh_database(url: str) -> None:
    """Drop and create the database named by a PostgreSQL or MariaDB URL."""
    parsed = make_url(url)
    name = parsed.database
    if parsed.get_backend_name() == "postgresql":
        admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0"))
    elif parsed.get_backend_name() in ("mysql", "mariadb"):
        admin = create_engine(parsed.set(database=""))
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
            # unicode_520: plain utf8mb4_unicode_ci sorts every character outside the BMP (emoji, the CJK
            # Extension B characters of many Taiwanese names) as one and the same character.
            conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci"))
    else:
        return
    admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("CRM_TEST_DATABASE_URL")
    if url and not url.startswith("sqlite"):
        _fresh_database(url)
        return url
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


@pytest.fixture(scope="session")
def _schema(database_url: str) -> Iterator[str]:
    """Create every known table once: core's, the installed plugins' and those of test-only plugins."""
    from core.app import create_app
    from core.db import Base, make_engine

    create_app({**TEST_CONFIG, "DATABASE_URL": database_url})  # imports every installed plugin's models
    engine = make_engine(database_url)
    Base.metadata.create_all(engine)
    _created.update(Base.metadata.tables)
    engine.dispose()
    yield database_url


_created: set[str] = set()


def _wipe(database_url: str) -> None:
    from core.db import Base, make_engine

    engine = make_engine(database_url)
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    engine.dispose()


@pytest.fixture
def make_app(_schema: str, tmp_path: Any) -> Iterator[Callable[..., Any]]:
    """``make_app(plugins=[module_or_name, ...], **config)``: an app on the test database."""
    apps = []

    def factory(plugins: Any = None, **config: Any) -> Any:
        from core.app import create_app
        from core.db import Base

        app = create_app({**TEST_CONFIG, "DATABASE_URL": _schema, **config}, plugins=plugins)
        apps.append(app)
        if set(Base.metadata.tables) - _created:  # a test-only plugin's models were just imported
            Base.metadata.create_all(app.extensions["crm.db"].engine)
            _created.update(Base.metadata.tables)
        return app

    yield factory
    _wipe(_schema)
    for app in apps:
        app.extensions["crm.db"].engine.dispose()


@pytest.fixture
def app(make_app: Callable[..., Any]) -> Any:
    return make_app()


@pytest.fixture
def in_tenant(app: Any) -> Callable[..., Any]:
    """``with in_tenant(t):`` an app context with ``t`` as the current tenant (``None``: no tenant)."""

    @contextlib.contextmanager
    def ctx(tenant: Any, use_app: Any = None) -> Iterator[Any]:
        from core.tenancy import tenant_context

        with (use_app or app).app_context(), tenant_context(tenant):
            yield tenant

    return ctx


@pytest.fixture
def make_tenant(app: Any) -> Callable[..., Any]:
    """``make_tenant("acme", plugins=[...])``: a tenant answering on ``acme.crm.test``."""

    def factory(slug: str = "acme", plugins: Any = None, use_app: Any = None, **kwargs: Any) -> Any:
        from core import db
        from core.provisioning import create_tenant

        target = use_app or app
        kwargs.setdefault("locale", "en")  # default groups get English names; pass locale="zh_Hant" to test Chinese
        with target.app_context():
            tenant = create_tenant(slug, kwargs.pop("name", slug.title()), plugins=plugins, **kwargs)
            db.session.commit()
            db.session.expunge(tenant)
            return tenant

    return factory


@pytest.fixture
def tenant(make_tenant: Callable[..., Any]) -> Any:
    return make_tenant("acme")


@pytest.fixture
def make_user(app: Any) -> Callable[..., Any]:
    """``make_user(tenant, grants={"perm": "own"}, departments=["North"], groups=["sales"])``."""

    def factory(
        tenant: Any,
        email: str | None = None,
        grants: dict[str, str] | None = None,
        departments: list[str] | tuple[str, ...] = (),
        groups: list[str] | tuple[str, ...] = (),
        use_app: Any = None,
        **kwargs: Any,
    ) -> Any:
        from sqlalchemy import select

        from core import db
        from core.models import Department, Grant, Group, User, UserDepartment, UserGroup
        from core.provisioning import create_user
        from core.tenancy import tenant_context

        target = use_app or app
        with target.app_context(), tenant_context(tenant):
            count = len(db.session.execute(select(User.id)).all())
            email = email or f"user{count + 1}@{tenant.slug}.example.com"
            user = create_user(email, groups=groups, **kwargs)
            user.password_hash = TEST_PASSWORD_HASH
            if grants:
                group = Group(name=f"grants of {email}")
                db.session.add(group)
                db.session.flush()
                for permission, scope in grants.items():
                    db.session.add(Grant(group_id=group.id, permission=permission, scope=scope))
                db.session.add(UserGroup(user_id=user.id, group_id=group.id))
            for name in departments:
                department = db.session.scalar(select(Department).where(Department.name == name))
                if department is None:
                    department = Department(name=name)
                    db.session.add(department)
                    db.session.flush()
                db.session.add(UserDepartment(user_id=user.id, department_id=department.id))
            db.session.commit()
            db.session.expunge(user)
            user.tenant_host = f"{tenant.slug}.crm.test"
            return user

    return factory


class TenantClient(FlaskClient):
    """A test client that sends every request to one tenant's host, in English unless told otherwise."""

    host = "localhost"

    def open(self, *args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("base_url") and not (args and not isinstance(args[0], str)):
            kwargs["base_url"] = f"http://{self.host}"
        headers = kwargs.setdefault("headers", {})
        if isinstance(headers, dict) and not any(k.lower() == "accept-language" for k in headers):
            headers["Accept-Language"] = "en"
        return super().open(*args, **kwargs)


@pytest.fixture
def client_as(app: Any) -> Callable[..., Any]:
    """``client_as(user)``: a test client on the user's tenant host, signed in through ``/login``."""

    def factory(user: Any = None, tenant: Any = None, use_app: Any = None) -> Any:
        target = use_app or app
        host = user.tenant_host if user is not None else f"{tenant.slug}.crm.test"
        target.test_client_class = TenantClient
        client = target.test_client()
        client.host = host
        if user is not None:
            response = client.post("/login", data={"email": user.email, "password": TEST_PASSWORD})
            assert response.status_code == 302, f"sign-in of {user.email} failed ({response.status_code})"
        return client

    return factory


@pytest.fixture
def api_as(app: Any) -> Callable[..., Any]:
    """``api_as(user)``: a test client on the user's tenant host sending a new API token of the user
    (``Authorization: Bearer ...``); the token's secret is ``client.token``."""

    def factory(user: Any, use_app: Any = None, name: str = "tests") -> Any:
        from core import db
        from core.api.tokens import issue_token
        from core.models import Tenant, User
        from core.tenancy import tenant_context

        target = use_app or app
        with target.app_context():
            tenant = db.session.get(Tenant, user.tenant_id)
            with tenant_context(tenant):
                _token, secret = issue_token(db.session.get(User, user.id), name)
                db.session.commit()
        target.test_client_class = TenantClient
        client = target.test_client()
        client.host = user.tenant_host
        client.token = secret
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
        return client

    return factory


@pytest.fixture
def create_record(app: Any, in_tenant: Any) -> Callable[..., int]:
    """``create_record(tenant, "contacts", {...}, user)``: a record of a registered entity written through the
    entity service as ``user`` (schema validation, ``apply``, events), committed; returns its id."""

    def factory(tenant: Any, plural: str, data: dict[str, Any], user: Any) -> int:
        from core import db
        from core.entities import service
        from core.entities.registry import all_entities
        from core.entities.schemas import schema_for
        from core.models import User

        with in_tenant(tenant):
            entity = all_entities()[plural]
            loaded = schema_for(entity).load(data)
            record = service.create(entity, loaded, db.session.get(User, user.id))
            db.session.commit()
            return record.id

    return factory


def assert_imports_load_like_the_schema(plural: str, rows: list[dict[str, Any]]) -> None:
    """Rows loaded by the import's faster loader (``core.entities.importing.loading``) give the data and errors
    ``Schema.load`` gives, one by one and as one batch: for a plugin whose schema has hooks of its own. Call it
    with the tenant in context."""
    from marshmallow import ValidationError

    from core.entities.importing.loading import batch_schema
    from core.entities.registry import all_entities
    from core.entities.schemas import schema_for

    entity = all_entities()[plural]
    plain, fast = schema_for(entity, many=True), batch_schema(schema_for(entity, many=True))
    assert type(fast) is not type(plain)

    def outcome(schema: Any, data: list[dict[str, Any]]) -> tuple[Any, ...]:
        try:
            return "ok", schema.load(data)
        except ValidationError as exc:
            return "errors", exc.messages, exc.valid_data

    for row in rows:
        assert outcome(fast, [dict(row)]) == outcome(plain, [dict(row)]), row
    assert outcome(fast, [dict(r) for r in rows]) == outcome(plain, [dict(r) for r in rows])


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives the real UI in Chromium")
    tempfile.tempdir = tempfile.gettempdir()
