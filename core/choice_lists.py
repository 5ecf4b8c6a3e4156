"""Lists a tenant edits as one comma-separated setting (sources, industries, lost reasons), offered as choices."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from flask_babel import lazy_gettext as _l


def split_list(value: Any) -> list[str]:
    """A setting's comma-separated list (also accepts the Chinese comma ``，`` and ``、``) as clean items."""
    return list(_split(str(value or "")))


@functools.lru_cache(maxsize=256)
def _split(text: str) -> tuple[str, ...]:
    # Choices are listed for every validated value (an import validates thousands): split each text once.
    for separator in ("，", "、", "\n", ";"):
        text = text.replace(separator, ",")
    seen: dict[str, str] = {}
    for item in text.split(","):
        item = " ".join(item.split())[:100]
        if item and item.casefold() not in seen:
            seen[item.casefold()] = item
    return tuple(seen.values())


@functools.lru_cache(maxsize=256)
def _by_folded(text: str) -> dict[str, str]:
    # An import matches every row's value against the list: one dictionary per text (never changed by callers).
    return {item.casefold(): item for item in _split(text)}


def validate_list(value: Any) -> Any:
    """A comma-separated list of 1 to 100 items; the problem as a message, or None."""
    items = split_list(value)
    if not items:
        return _l("Enter at least one item, separated by commas.")
    if len(items) > 100:
        return _l("Enter at most 100 items.")
    return None


class SettingChoices:
    """Choices read from a tenant setting each time they are listed (``for value, label in choices``).

    Used as a field's ``choices`` metadata, so a form, the import mapping and the API documentation always
    show the current tenant's list; outside a tenant (documentation built at start-up) the declared default.
    """

    def __init__(self, key: str, default: Any) -> None:
        self.key = key
        self.default = default

    def values(self) -> list[str]:
        return list(_split(self._text()))

    def matching(self, value: str | None) -> str | None:
        """The list's own spelling of ``value`` compared case-insensitively, or None when it is not listed."""
        if value is None:
            return None
        return _by_folded(self._text()).get(value.casefold())

    def _text(self) -> str:
        from core.tenancy import current_tenant_id

        if current_tenant_id() is None:
            return str(self.default or "")
        from core.settings import get_setting

        return str(get_setting(self.key, self.default) or "")

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter([(value, value) for value in self.values()])

    def __len__(self) -> int:
        return len(self.values())

    def __deepcopy__(self, memo: dict[int, Any]) -> SettingChoices:
        return self

    def __repr__(self) -> str:
        return f"SettingChoices({self.key!r})"


def label_of(choices: Any, value: str | None) -> str:
    """The label of ``value`` in ``choices`` (or the value itself)."""
    if value is None:
        return ""
    for key, label in choices:
        if key == value:
            return str(label)
    return value
