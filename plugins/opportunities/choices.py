"""Vocabularies of the opportunities plugin: fixed ones with labels, and lists the workspace edits in settings."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

from core.choice_lists import SettingChoices

LEAD_STATUSES = (
    ("new", lazy_pgettext("lead status", "New")),
    ("contacted", _l("Contacted")),
    ("qualified", _l("Qualified")),
    ("disqualified", _l("Disqualified")),
)
OPPORTUNITY_STATUSES = (("open", lazy_pgettext("opportunity status", "Open")), ("won", _l("Won")), ("lost", _l("Lost")))
STAGE_KINDS = (("open", lazy_pgettext("opportunity status", "Open")), ("won", _l("Won")), ("lost", _l("Lost")))
FORECAST_CATEGORIES = (
    ("pipeline", lazy_pgettext("forecast category", "Pipeline")),
    ("best_case", _l("Best case")),
    ("commit", _l("Commit")),
)
CONTACT_ROLES = (
    ("decision_maker", _l("Decision maker")),
    ("influencer", _l("Influencer")),
    ("evaluator", _l("Evaluator")),
    ("user", _l("User")),
    ("purchasing", _l("Purchasing")),
    ("other", _l("Other")),
)
PERIODS = (("month", _l("Month")), ("quarter", _l("Quarter")), ("year", _l("Year")))

DEFAULT_LEAD_SOURCES = _l("Trade show, Website, Advertising, Referral, Social media, Cold call, Other")
DEFAULT_LOST_REASONS = _l(
    "Price too high, Chose a competitor, No budget, No decision, Timing, Product does not fit, Unresponsive, Other"
)
DEFAULT_DISQUALIFY_REASONS = _l("Not a fit, No budget, No authority, Unreachable, Duplicate, Spam, Other")
DEFAULT_CURRENCIES = "TWD, USD, CNY, JPY, EUR, HKD"
DEFAULT_EXCHANGE_RATES = "USD 32, CNY 4.4, JPY 0.21, EUR 35, HKD 4.1"

LEAD_SOURCES = SettingChoices("opportunities.lead_sources", DEFAULT_LEAD_SOURCES)
LOST_REASONS = SettingChoices("opportunities.lost_reasons", DEFAULT_LOST_REASONS)
DISQUALIFY_REASONS = SettingChoices("opportunities.disqualify_reasons", DEFAULT_DISQUALIFY_REASONS)
CURRENCIES = SettingChoices("opportunities.currencies", DEFAULT_CURRENCIES)
