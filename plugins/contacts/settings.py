"""Validation of the plugin's workspace settings."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from .choices import split_list


def validate_list(value: Any) -> Any:
    """A comma-separated list of 1 to 100 items (industries, sources)."""
    items = split_list(value)
    if not items:
        return _l("Enter at least one item, separated by commas.")
    if len(items) > 100:
        return _l("Enter at most 100 items.")
    return None


def validate_grades(value: Any) -> Any:
    """Customer grades: a list whose items fit the 20 characters a record stores."""
    problem = validate_list(value)
    if problem is None and any(len(item) > 20 for item in split_list(value)):
        return _l("A customer grade has at most 20 characters.")
    return problem
