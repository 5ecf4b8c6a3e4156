"""The REST API: personal API tokens, one blueprint per entity under ``/api/v1/<plural>``, global search, and
the OpenAPI document (``/api/v1/openapi.json``) with its readable page (``/api/docs``).

The app factory calls :func:`init_api` once, after the entities are registered.
"""

from __future__ import annotations

from flask import Flask

from core.plugins import PluginHost


def init_api(app: Flask, host: PluginHost) -> None:
    """Sign API requests in by bearer token and serve the API of every registered entity."""
    from core.api.tokens import init_token_login
    from core.entities.api import init_entity_api

    init_token_login(app)
    init_entity_api(app, host)
