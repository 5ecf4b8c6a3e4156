"""Which column of an import file goes into which field: targets, header normalisation, suggestions.

A header is compared, after normalisation (Unicode NFKC so full-width letters become ordinary ones, case folded,
spaces and punctuation removed), with each field's name, its label in every language, the ``synonyms`` of its
schema metadata, and the built-in table below of the headers that Google Contacts, Outlook and Chinese
spreadsheets use. The table maps headers to canonical keys (``email``, ``phone``, ``company`` ...); a field answers
to a canonical key when its name, its widget or one of its synonyms names that key.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from marshmallow import fields as mf

from core.entities.definition import Entity
from core.entities.schemas import CUSTOM, custom_field_map, editable_fields, field_label, schema_for, widget

IGNORE = ""

# Canonical keys and the headers that mean them. Google Contacts (old and current export formats), Outlook's CSV
# export, and Traditional and Simplified Chinese spreadsheets.
_TABLE = """
name: name | full name | fullname | display name | contact name | contact | 姓名 | 名字 | 全名 |
    聯絡人 | 联系人 | 聯絡人姓名 | 联系人姓名 | 客戶姓名 | 客户姓名 | 中文姓名
first_name: first name | firstname | given name | given | forename | 名 | 名字(名)
middle_name: middle name | additional name | middlename
last_name: last name | lastname | family name | surname | 姓 | 姓氏
nickname: nickname | nick name | 暱稱 | 昵称 | 綽號 | 绰号
email: email | e-mail | mail | email address | e-mail address | e-mail 1 - value | email 1 - value |
    primary email | work email | business email | e-mail 1 address | 電子郵件 | 电子邮件 | 電子郵件地址 |
    电子邮件地址 | 電郵 | 电邮 | 電子信箱 | 信箱 | 邮箱 | 郵箱 | e-mail信箱 | email信箱
phone: phone | telephone | tel | phone number | phone 1 - value | primary phone | business phone | work phone |
    company main phone | home phone | office phone | 電話 | 电话 | 聯絡電話 | 联系电话 | 電話號碼 | 电话号码 |
    公司電話 | 公司电话 | 市話 | 办公电话 | 辦公電話
mobile: mobile | mobile phone | cell | cell phone | cellphone | mobile number | 手機 | 手机 | 手機號碼 |
    手机号码 | 行動電話 | 移动电话 | 行動 | 手機號 | 手机号
fax: fax | business fax | home fax | 傳真 | 传真 | 傳真號碼 | 传真号码
company: company | company name | organization | organisation | organization name | organization 1 - name |
    account | account name | employer | 公司 | 公司名稱 | 公司名称 | 單位 | 单位 | 機構 | 机构 | 客戶名稱 |
    客户名称 | 企業名稱 | 企业名称 | 組織 | 组织
title: job title | position | role | organization title | organization 1 - title | job | 職稱 | 职称 | 職位 |
    职位 | 頭銜 | 头衔 | 職務 | 职务
department: organization department | organization 1 - department | 部門 | 部门
address: address | street | street address | business street | home street | business address |
    address 1 - formatted | address 1 - street | mailing address | 地址 | 通訊地址 | 通讯地址 | 公司地址 |
    聯絡地址 | 联系地址 | 住址
city: city | business city | home city | address 1 - city | 城市 | 縣市 | 县市 | 市
region: state | region | province | business state | address 1 - region | 省 | 省份 | 州
postal_code: postal code | zip | zip code | postcode | business postal code | address 1 - postal code |
    郵遞區號 | 邮递区号 | 郵編 | 邮编 | 邮政编码
country: country | country/region | business country/region | address 1 - country | 國家 | 国家 | 國家/地區 |
    国家/地区
website: website | web site | web page | webpage | homepage | url | website 1 - value | 網站 | 网站 | 網址 |
    网址 | 公司網站 | 公司网站
birthday: birthday | date of birth | birth date | dob | 生日 | 出生日期
notes: notes | note | comments | comment | remarks | remark | memo | description | 備註 | 备注 | 說明 | 说明 |
    附註 | 附注 | 描述
tags: tags | tag | labels | group membership | categories | 標籤 | 标签 | 分類 | 分类
owner: owner | owner id | assigned to | sales rep | account owner | 負責人 | 负责人 | 業務 | 业务员
industry: industry | 行業 | 行业 | 產業 | 产业
source: source | lead source | 來源 | 来源
gender: gender | sex | 性別 | 性别
amount: amount | value | 金額 | 金额
status: status | 狀態 | 状态
due: due | due date | deadline | 到期日 | 截止日期
"""


def _parse(table: str) -> dict[str, tuple[str, ...]]:
    """``key: header | header`` lines (continued on indented lines) as a mapping of key to headers."""
    parsed: dict[str, tuple[str, ...]] = {}
    key = ""
    for line in table.strip().splitlines():
        if not line.startswith(" "):
            key, _sep, line = line.partition(":")
        parsed[key] = parsed.get(key, ()) + tuple(h.strip() for h in line.split("|") if h.strip())
    return parsed


CANONICAL: dict[str, tuple[str, ...]] = _parse(_TABLE)
# Headers that could mean several things ("Title" is an honorific in Outlook): matched, but only as a last resort.
AMBIGUOUS: dict[str, tuple[str, ...]] = {"title": ("title",)}
# When an entity has no field for a key, columns of that key may go to a related field.
FALLBACK: dict[str, str] = {"mobile": "phone"}
# Columns that make up a person's name together, for entities with one name field.
NAME_PARTS = ("first_name", "middle_name", "last_name")
WIDGET_CANONICAL = {"email": "email", "phone": "phone", "url": "website", "user": "owner", "tags": "tags"}


def normalise(text: Any) -> str:
    """Compare headers loosely: NFKC (full-width forms), case folded, without spaces and punctuation."""
    folded = unicodedata.normalize("NFKC", str(text)).casefold()
    return re.sub(r"[\W_]+", "", folded)


def _without_digits(key: str) -> str:
    return re.sub(r"\d+", "", key)


_AMBIGUOUS_INDEX = {normalise(h): set(keys) for h, keys in AMBIGUOUS.items()}
_CANONICAL_INDEX: dict[str, set[str]] = {}
for _key, _headers in CANONICAL.items():
    for _header in (*_headers, _key):
        if normalise(_header) not in _AMBIGUOUS_INDEX:
            _CANONICAL_INDEX.setdefault(normalise(_header), set()).add(_key)


_NUMBERED_INDEX: dict[str, set[str]] = {}
for _normalised, _keys in _CANONICAL_INDEX.items():
    _NUMBERED_INDEX.setdefault(_without_digits(_normalised), set()).update(_keys)


def canonical_keys(header: str, numbered: bool = True) -> set[str]:
    """The canonical keys a header means (``"E-mail 1 - Value"`` -> ``{"email"}``); with ``numbered`` also
    for other numbers of a numbered header (``"Phone 2 - Value"``)."""
    key = normalise(header)
    found = set(_CANONICAL_INDEX.get(key, ()))
    if not found and numbered and key != _without_digits(key):
        found = set(_NUMBERED_INDEX.get(_without_digits(key), ()))
    return found


# ------------------------------------------------------------------------------------------------ targets


@dataclass
class Target:
    """A field an import column can go into: a schema field, or ``custom.<key>`` for a custom field."""

    name: str
    field: mf.Field
    label: str
    widget: str
    required: bool
    keys: set[str] = field(default_factory=set)  # normalised name, labels and synonyms
    canonical: set[str] = field(default_factory=set)

    @property
    def custom_key(self) -> str | None:
        return self.name[len(CUSTOM) + 1 :] if self.name.startswith(CUSTOM + ".") else None

    @property
    def attribute(self) -> str:
        """The name the loaded data carries it under (the key inside ``custom`` for custom fields)."""
        return self.custom_key or self.name


def _labels(label: Any) -> list[str]:
    """A (lazy) label as every shipped locale renders it."""
    from flask import has_app_context
    from flask_babel import force_locale

    from core.i18n import LOCALES

    texts = [str(label)]
    if has_app_context():
        for locale in LOCALES:
            with force_locale(locale):
                texts.append(str(label))
    return texts


def _canonical_of(name: str, field_widget: str, synonyms: Iterable[str]) -> set[str]:
    found: set[str] = set()
    bare = name[:-3] if name.endswith("_id") else name
    for candidate in (name, bare):
        if candidate in CANONICAL:
            found.add(candidate)
        found |= _CANONICAL_INDEX.get(normalise(candidate), set())
    for synonym in synonyms:
        if str(synonym) in CANONICAL:
            found.add(str(synonym))
    if field_widget == "department":
        found.discard("department")  # the workspace's own departments, not the contact's department at a company
    if field_widget in WIDGET_CANONICAL:
        found.add(WIDGET_CANONICAL[field_widget])
    return found


def _target(name: str, f: mf.Field, attribute: str) -> Target:
    synonyms = [str(s) for s in f.metadata.get("synonyms", ()) or ()]
    label = f.metadata.get("label") or attribute.replace("_", " ").capitalize()
    keys = {normalise(attribute), normalise(name)}
    keys |= {normalise(text) for text in _labels(label)}
    keys |= {normalise(s) for s in synonyms}
    keys.discard("")
    return Target(
        name=name,
        field=f,
        label=field_label(f, attribute),
        widget=widget(f),
        required=bool(f.required),
        keys=keys,
        canonical=_canonical_of(attribute, widget(f), synonyms),
    )


def targets(entity: Entity) -> list[Target]:
    """Every field an import can fill: the schema's editable fields, then the tenant's custom fields."""
    schema = schema_for(entity)
    result = [_target(name, f, name) for name, f in editable_fields(schema).items()]
    for key, f in custom_field_map(entity).items():
        result.append(_target(f"{CUSTOM}.{key}", f, key))
    return result


# -------------------------------------------------------------------------------------------- suggestions


def _score(header: str, target: Target, has: set[str]) -> tuple[int, str | None]:
    """How well ``header`` fits ``target`` (0: not at all), and the name part it fills, if it is one."""
    key = normalise(header)
    if not key:
        return 0, None
    if key in target.keys:
        return (60 if key in _AMBIGUOUS_INDEX else 100), None
    meant = canonical_keys(header, numbered=False)
    if meant & target.canonical:
        return 90, None
    if canonical_keys(header) & target.canonical:
        return 85, None
    if key in _AMBIGUOUS_INDEX and _AMBIGUOUS_INDEX[key] & target.canonical:
        return 60, None
    for wanted, fallback in FALLBACK.items():
        if wanted in meant and wanted not in has and fallback in target.canonical:
            return 70, None
    if "name" in target.canonical and not has & set(NAME_PARTS):
        for part in NAME_PARTS:
            if part in meant:
                return 80, part
    if key != _without_digits(key) and _without_digits(key) in target.keys:
        return 85, None
    return 0, None


def suggest(entity: Entity, headers: Sequence[str], available: list[Target] | None = None) -> list[str]:
    """The suggested target name for each column (``""``: ignore). Each target goes to its best column, except
    that an entity with one name field takes first, middle and last name columns together."""
    available = available if available is not None else targets(entity)
    has = set().union(*(t.canonical for t in available)) if available else set()
    candidates = []
    for index, header in enumerate(headers):
        for order, target in enumerate(available):
            score, part = _score(header, target, has)
            if score:
                candidates.append((-score, index, order, target.name, part))
    candidates.sort()
    chosen: list[str] = [IGNORE] * len(headers)
    taken: dict[str, bool] = {}  # target -> whether it was taken by name parts
    for _minus_score, index, _order, name, part in candidates:
        if chosen[index]:
            continue
        if name in taken and not (part and taken[name]):
            continue
        chosen[index] = name
        taken[name] = bool(part)
    return chosen


def name_part(header: str) -> str | None:
    """``first_name``, ``middle_name`` or ``last_name`` when the header is one of those, for joining names."""
    meant = canonical_keys(header)
    for part in NAME_PARTS:
        if part in meant:
            return part
    return None
