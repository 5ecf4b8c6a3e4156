"""Validation of the plugin's workspace settings."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from core.choice_lists import split_list, validate_list  # noqa: F401  (validate_list is used by plugin.py)


def validate_grades(value: Any) -> Any:
    """Customer grades: a list whose items fit the 20 characters a record stores."""
    problem = validate_list(value)
    if problem is None and any(len(item) > 20 for item in split_list(value)):
        return _l("A customer grade has at most 20 characters.")
    return problem
