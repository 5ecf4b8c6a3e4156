import pytest

from tests.notes_plugin import plugin as notes_plugin


@pytest.fixture
def notes_app(make_app):
    """An app with only the test-suite plugin installed."""
    return make_app(plugins=[notes_plugin])
