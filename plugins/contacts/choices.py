"""The fixed vocabularies of the contacts plugin, and choices that come from the tenant's settings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask_babel import lazy_gettext as _l

LIFECYCLE_STAGES = (
    ("prospect", _l("Prospect")),
    ("customer", _l("Customer")),
    ("former_customer", _l("Former customer")),
)
PARTNER_TYPES = (
    ("direct", _l("Direct customer")),
    ("dealer", _l("Dealer")),
    ("agent", _l("Agent")),
    ("wholesaler", _l("Wholesaler")),
    ("supplier", _l("Supplier")),
    ("other", _l("Other")),
)
EMAIL_LABELS = (("work", _l("Work")), ("home", _l("Personal")), ("other", _l("Other")))
PHONE_LABELS = (("mobile", _l("Mobile")), ("work", _l("Work")), ("home", _l("At home")), ("fax", _l("Fax")))

KINDS = (
    ("call", _l("Call")),
    ("email", _l("E-mail")),
    ("meeting", _l("Meeting")),
    ("visit", _l("Visit")),
    ("note", _l("Note")),
    ("task", _l("Task")),
    ("sms", _l("SMS")),
    ("system", _l("Activity")),
)
# What a user can log by hand (``system`` entries come from other plugins and from the kernel's events).
LOGGABLE_KINDS = ("call", "email", "meeting", "visit", "note", "task", "sms")
CALL_OUTCOMES = (
    ("reached", _l("Reached")),
    ("no_answer", _l("No answer")),
    ("voicemail", _l("Left a voicemail")),
    ("busy", _l("Busy")),
    ("callback", _l("Asked to call back")),
    ("wrong_number", _l("Wrong number")),
)
COUNTRIES = (
    ("TW", _l("Taiwan")),
    ("CN", _l("China")),
    ("HK", _l("Hong Kong")),
    ("MO", _l("Macau")),
    ("JP", _l("Japan")),
    ("KR", _l("South Korea")),
    ("SG", _l("Singapore")),
    ("MY", _l("Malaysia")),
    ("VN", _l("Vietnam")),
    ("TH", _l("Thailand")),
    ("PH", _l("Philippines")),
    ("ID", _l("Indonesia")),
    ("IN", _l("India")),
    ("AU", _l("Australia")),
    ("US", _l("United States")),
    ("CA", _l("Canada")),
    ("GB", _l("United Kingdom")),
    ("DE", _l("Germany")),
    ("FR", _l("France")),
    ("NL", _l("Netherlands")),
)
# Country names people write in imported files, mapped to ISO codes.
COUNTRY_NAMES = {
    "台灣": "TW",
    "臺灣": "TW",
    "台湾": "TW",
    "taiwan": "TW",
    "中華民國": "TW",
    "中國": "CN",
    "中国": "CN",
    "china": "CN",
    "中國大陸": "CN",
    "中国大陆": "CN",
    "香港": "HK",
    "hong kong": "HK",
    "澳門": "MO",
    "澳门": "MO",
    "macau": "MO",
    "macao": "MO",
    "日本": "JP",
    "japan": "JP",
    "韓國": "KR",
    "韩国": "KR",
    "south korea": "KR",
    "korea": "KR",
    "新加坡": "SG",
    "singapore": "SG",
    "馬來西亞": "MY",
    "马来西亚": "MY",
    "malaysia": "MY",
    "美國": "US",
    "美国": "US",
    "usa": "US",
    "united states": "US",
    "united states of america": "US",
    "英國": "GB",
    "英国": "GB",
    "uk": "GB",
    "united kingdom": "GB",
    "德國": "DE",
    "德国": "DE",
    "germany": "DE",
}

DEFAULT_GRADES = "A, B, C, D"
DEFAULT_INDUSTRIES = _l(
    "Semiconductors, Electronics, Manufacturing, Machinery, Chemicals, Food and beverage, Retail, Wholesale, "
    "Logistics, Construction, Real estate, Finance, Insurance, Healthcare, Education, Software and IT, "
    "Telecommunications, Tourism and hospitality, Government, Other"
)
DEFAULT_SOURCES = _l(
    "Website, Referral, Trade show, Cold call, Advertising, Partner, Social media, Existing customer, Other"
)


def split_list(value: Any) -> list[str]:
    """A setting's comma-separated list (also accepts the Chinese comma ``，`` and ``、``) as clean items."""
    text = str(value or "")
    for separator in ("，", "、", "\n", ";"):
        text = text.replace(separator, ",")
    seen: dict[str, str] = {}
    for item in text.split(","):
        item = " ".join(item.split())[:100]
        if item and item.casefold() not in seen:
            seen[item.casefold()] = item
    return list(seen.values())


class SettingChoices:
    """Choices read from a tenant setting each time they are listed (``for value, label in choices``).

    Used as a field's ``choices`` metadata, so a form, the import mapping and the API documentation always
    show the current tenant's list; outside a tenant (documentation built at start-up) the declared default.
    """

    def __init__(self, key: str, default: Any) -> None:
        self.key = key
        self.default = default

    def values(self) -> list[str]:
        from core.tenancy import current_tenant_id

        if current_tenant_id() is None:
            return split_list(self.default)
        from core.settings import get_setting

        return split_list(get_setting(self.key, self.default))

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter([(value, value) for value in self.values()])

    def __len__(self) -> int:
        return len(self.values())

    def __deepcopy__(self, memo: dict[int, Any]) -> SettingChoices:
        return self

    def __repr__(self) -> str:
        return f"SettingChoices({self.key!r})"


GRADES = SettingChoices("contacts.customer_grades", DEFAULT_GRADES)
INDUSTRIES = SettingChoices("contacts.industries", DEFAULT_INDUSTRIES)
SOURCES = SettingChoices("contacts.sources", DEFAULT_SOURCES)


def label_of(choices: Any, value: str | None) -> str:
    """The label of ``value`` in ``choices`` (or the value itself)."""
    if value is None:
        return ""
    for key, label in choices:
        if key == value:
            return str(label)
    return value
