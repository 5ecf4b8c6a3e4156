"""The fixed vocabularies of the contacts plugin, and choices that come from the tenant's settings."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from core.choice_lists import SettingChoices, label_of, split_list  # noqa: F401  (the plugin's modules import them from here)

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


GRADES = SettingChoices("contacts.customer_grades", DEFAULT_GRADES)
INDUSTRIES = SettingChoices("contacts.industries", DEFAULT_INDUSTRIES)
SOURCES = SettingChoices("contacts.sources", DEFAULT_SOURCES)
