"""Paths of pages for links stored or sent from anywhere: a request, a background job, a command, an event."""

from __future__ import annotations

from typing import Any

from flask import current_app, has_request_context, url_for


def path_for(endpoint: str, **values: Any) -> str:
    """``url_for(endpoint, **values)`` as a path (``/contacts/contacts/7``), also outside a request."""
    if has_request_context():
        return url_for(endpoint, **values)
    return current_app.url_map.bind("localhost").build(endpoint, values)
