"""Fixtures of the opportunities plugin's tests: an app with contacts and opportunities installed."""

from __future__ import annotations

from typing import Any

import pytest

from plugins.contacts import models as contacts_models  # noqa: F401  (the test database gets the tables)
from plugins.contacts import plugin as contacts_plugin
from plugins.opportunities import models  # noqa: F401
from plugins.opportunities import plugin as opportunities_plugin


@pytest.fixture
def app(make_app: Any) -> Any:
    return make_app(plugins=[contacts_plugin, opportunities_plugin])


@pytest.fixture
def admin(tenant: Any, make_user: Any) -> Any:
    return make_user(tenant, email="admin@acme.example.com", name="Ada Admin", groups=["administrators"])


@pytest.fixture
def admin_client(admin: Any, client_as: Any) -> Any:
    return client_as(admin)


@pytest.fixture
def create(create_record: Any) -> Any:
    """``create(tenant, "contacts", {...}, user)``: core's ``create_record``."""
    return create_record


@pytest.fixture
def stages(app: Any, tenant: Any, in_tenant: Any) -> dict[str, int]:
    """The default pipeline's stage ids by kind and name: ``{"open": [..], "won": id, "lost": id, "pipeline": id}``."""
    from sqlalchemy import select

    from core import db
    from plugins.opportunities.models import Stage

    with in_tenant(tenant):
        rows = list(db.session.scalars(select(Stage).order_by(Stage.position)))
        return {
            "pipeline": rows[0].pipeline_id,
            "open": [s.id for s in rows if s.kind == "open"],
            "won": next(s.id for s in rows if s.kind == "won"),
            "lost": next(s.id for s in rows if s.kind == "lost"),
        }
