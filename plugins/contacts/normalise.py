"""Pure helpers: phone digits, e-mail keys, name keys, Taiwanese tax IDs and one-line addresses.

Nothing here touches the database or the request, so the schemas, the duplicate finder, the demo data and the
tests share exactly the same rules.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote_plus

# Countries whose addresses are written from the largest unit to the smallest, without separators.
EAST_ASIAN_ORDER = {"TW", "CN", "HK", "MO", "JP"}
MAP_URL = "https://www.google.com/maps/search/?api=1&query="

_NON_DIGITS = re.compile(r"\D+")
_NAME_NOISE = re.compile(r"[\s\.\,\-_'’·・()（）]+")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")


def phone_digits(number: str | None) -> str:
    """The digits that identify a phone number, whatever the formatting.

    ``0912-345-678``, ``0912 345 678``, ``+886 912 345 678`` and ``(+886) 912345678`` all give ``0912345678``;
    ``(02) 2345-6789`` and ``+886-2-2345-6789`` give ``0223456789``; ``+86 138 0013 8000`` gives
    ``13800138000``. Other international numbers keep their country code (``+1 415 555 0100`` →
    ``14155550100``). An extension after ``#``, ``x`` or ``ext`` is left out.
    """
    if not number:
        return ""
    text = unicodedata.normalize("NFKC", str(number)).strip().lower()
    text = re.split(r"(?:#|ext\.?|x|轉|分機)", text, maxsplit=1)[0]
    international = text.startswith("+") or text.startswith("(+")
    digits = _NON_DIGITS.sub("", text)
    if digits.startswith("00"):
        digits, international = digits[2:], True
    if international:
        if digits.startswith("886"):
            rest = digits[3:].lstrip("0")
            return "0" + rest if rest else ""
        if digits.startswith("86"):
            return digits[2:].lstrip("0")
    return digits[:30]


def email_key(address: str | None) -> str:
    """An e-mail address as compared for duplicates: trimmed and lower-cased."""
    return (address or "").strip().lower()[:255]


def name_key(name: str | None) -> str:
    """A name as compared for duplicates: width-folded, lower-case, without spaces and punctuation.

    ``王 小明`` and ``王小明`` match; ``David Lee`` and ``david  lee.`` match. Word order is kept, so
    ``Lee David`` is a different key.
    """
    text = unicodedata.normalize("NFKC", name or "").casefold()
    return _NAME_NOISE.sub("", text)[:200]


def similar_names(a: str | None, b: str | None) -> bool:
    """Equal name keys, or one contained in the other (``王小明`` and ``王小明 Kevin``); at least two characters."""
    key_a, key_b = name_key(a), name_key(b)
    if len(key_a) < 2 or len(key_b) < 2:
        return False
    return key_a == key_b or key_a in key_b or key_b in key_a


def has_cjk(text: str | None) -> bool:
    return bool(text and _CJK.search(text))


def display_name(given: str | None, family: str | None) -> str:
    """The full name built from given and family names: ``王小明`` for Chinese, ``David Lee`` for Western names."""
    given, family = (given or "").strip(), (family or "").strip()
    if not given or not family:
        return given or family
    if has_cjk(given) or has_cjk(family):
        return f"{family}{given}"
    return f"{given} {family}"


def valid_tw_tax_id(value: str) -> bool:
    """Whether ``value`` is a well-formed Taiwanese unified business number (統一編號).

    Eight digits; each is multiplied by 1, 2, 1, 2, 1, 2, 4, 1, the digits of every product are added, and the
    total must be divisible by 5 (the Ministry of Finance's rule since 2023, which includes the older rule of
    10). When the seventh digit is 7 its product 28 counts as either 10 or 1, so total + 1 also passes.
    """
    if not re.fullmatch(r"\d{8}", value or ""):
        return False
    weights = (1, 2, 1, 2, 1, 2, 4, 1)
    total = 0
    for digit, weight in zip(value, weights, strict=True):
        product = int(digit) * weight
        total += product // 10 + product % 10
    if total % 5 == 0:
        return True
    return value[6] == "7" and (total + 1) % 5 == 0


def tw_tax_id_check_digit(first_seven: str) -> str:
    """A last digit that makes ``first_seven`` + digit a valid tax ID (for demo data and tests)."""
    for last in "0123456789":
        if valid_tw_tax_id(first_seven + last):
            return last
    raise ValueError(f"no check digit makes {first_seven!r} valid")


def address_line(
    country: str | None,
    postal_code: str | None,
    city: str | None,
    district: str | None,
    street: str | None,
    default_country: str = "TW",
) -> str:
    """The address on one line, in the order of its country.

    Taiwan, China, Hong Kong, Macau and Japan: postal code, then city, district and street with no separator
    (``104 台北市中山區南京東路二段100號``). Elsewhere: ``street, district, city postal code, country``. The country
    is left out when it is the workspace's default.
    """
    country = (country or default_country or "").upper()
    parts = [(p or "").strip() for p in (postal_code, city, district, street)]
    postal, city_, district_, street_ = parts
    show_country = country if country and country != (default_country or "").upper() else ""
    if country in EAST_ASIAN_ORDER:
        body = f"{city_}{district_}{street_}"
        line = " ".join(p for p in (postal, body) if p)
        return " ".join(p for p in (show_country, line) if p)
    locality = " ".join(p for p in (city_, postal) if p)
    return ", ".join(p for p in (street_, district_, locality, show_country) if p)


def map_url(line: str) -> str:
    """A link that opens the address in a map application (a link the user taps; never loaded by the page)."""
    return MAP_URL + quote_plus(line) if line else ""


def tel_url(number: str | None) -> str:
    """A ``tel:`` link for a phone number, keeping a leading ``+`` and the digits."""
    if not number:
        return ""
    text = unicodedata.normalize("NFKC", number).strip()
    text = re.split(r"(?:#|ext\.?|x|轉|分機)", text.lower(), maxsplit=1)[0]
    prefix = "+" if text.lstrip("(").startswith("+") else ""
    digits = _NON_DIGITS.sub("", text)
    return f"tel:{prefix}{digits}" if digits else ""
