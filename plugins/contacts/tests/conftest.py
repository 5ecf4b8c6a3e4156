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
def create(create_record: Any) -> Any:
    """``create(tenant, "contacts", {...}, user)``: core's ``create_record``."""
    return create_record
