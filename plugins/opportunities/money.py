"""Amounts in several currencies: the workspace's exchange rates and conversion into the workspace currency."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from flask_babel import lazy_gettext as _l

from core.choice_lists import split_list

CENT = Decimal("0.01")


def parse_rates(text: Any) -> dict[str, Decimal]:
    """``"USD 32, JPY 0.21"`` (also ``USD=32``) as ``{"USD": Decimal("32"), ...}``; malformed items raise
    ValueError naming the item."""
    rates: dict[str, Decimal] = {}
    for item in split_list(text):
        match = re.fullmatch(r"([A-Za-z]{3})\s*[=:\s]\s*([0-9]+(?:\.[0-9]+)?)", item)
        if not match:
            raise ValueError(item)
        rate = Decimal(match.group(2))
        if rate <= 0:
            raise ValueError(item)
        rates[match.group(1).upper()] = rate
    return rates


def validate_rates(value: Any) -> Any:
    """The settings page's check of the exchange rates; a message or None."""
    try:
        parse_rates(value)
    except (ValueError, InvalidOperation) as error:
        return _l("Write each rate as a currency code and a number, e.g. USD 32 (not “%(item)s”).", item=str(error))
    return None


def workspace_currency() -> str:
    from core.tenancy import current_tenant

    tenant = current_tenant()
    return (getattr(tenant, "currency", None) or "TWD").upper()


def exchange_rates() -> dict[str, Decimal]:
    """Units of the workspace currency per unit of each other currency (the workspace's own is 1)."""
    from core.settings import get_setting

    from .choices import DEFAULT_EXCHANGE_RATES

    try:
        rates = parse_rates(get_setting("opportunities.exchange_rates", DEFAULT_EXCHANGE_RATES))
    except (ValueError, InvalidOperation):
        rates = {}
    rates[workspace_currency()] = Decimal(1)
    return rates


def to_base(amount: Decimal | None, currency: str) -> Decimal | None:
    """``amount`` in the workspace currency, or None when the workspace has no rate for ``currency``."""
    if amount is None:
        return Decimal("0")
    rate = exchange_rates().get(currency.upper())
    if rate is None:
        return None
    return (Decimal(amount) * rate).quantize(CENT, rounding=ROUND_HALF_UP)
