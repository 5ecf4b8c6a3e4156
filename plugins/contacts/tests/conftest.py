"""Fixtures of the contacts plugin's tests: an app with contacts (and only contacts) installed."""

from __future__ import annotations

from typing import Any

import pytest

from plugins.contacts import models  # noqa: F401  (the test database gets the tables)
from plugins.contacts import plugin as contacts_plugin


@pytest.fixture
def app(make_app: Any) -> Any:
    return make_app(plugins=[contacts_plugin])


@pytest.fixture
def admin(tenant: Any, make_user: Any) -> Any:
    return make_user(tenant, email="admin@acme.example.com", name="Ada Admin", groups=["administrators"])


@pytest.fixture
def admin_client(admin: Any, client_as: Any) -> Any:
    return client_as(admin)


@pytest.fixture
def create(app: Any, in_tenant: Any) -> Any:
    """``create(tenant, "contacts", {...}, user)``: a record written through the entity service, committed."""

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
