import pytest

from tests.items_plugin import plugin as items_plugin
from tests.notes_plugin import plugin as notes_plugin


@pytest.fixture
def notes_app(make_app):
    """An app with only the test-suite plugin installed."""
    return make_app(plugins=[notes_plugin])


@pytest.fixture
def items_app(make_app):
    """An app with the entity framework's test plugin (items: every kind of field, custom fields, import)."""
    return make_app(plugins=[items_plugin])
