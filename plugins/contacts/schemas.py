"""Marshmallow schemas of companies and contacts: the one description of their fields.

Forms, the API, import and export read them (see ``core.entities.schemas`` for the metadata conventions).
A contact's e-mail addresses, phone numbers and companies are nested lists (``emails``, ``phones``,
``companies``); the flat fields ``email``, ``phone``, ``mobile`` and ``company_name`` edit the first of each,
which is what a simple form or a spreadsheet column holds.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError, fields, pre_load, validate, validates, validates_schema

from core.entities.schemas import RecordSchema, tenant_rows_exist

from .choices import (
    COUNTRIES,
    COUNTRY_NAMES,
    EMAIL_LABELS,
    GRADES,
    INDUSTRIES,
    LIFECYCLE_STAGES,
    PARTNER_TYPES,
    PHONE_LABELS,
    SOURCES,
)
from .normalise import display_name, phone_digits, valid_tw_tax_id

_PHONE_CHARS = re.compile(r"^[0-9０-９+＋()（）\-－\s./#*xX轉分機extEXT]*$")


def validate_phone(value: str | None) -> None:
    """A phone number: digits and the usual punctuation, at least three digits."""
    if value is None:
        return
    if not _PHONE_CHARS.match(value) or len(phone_digits(value)) < 3:
        raise ValidationError(str(_l("Not a valid phone number.")))


def default_country() -> str:
    from core.settings import get_setting
    from core.tenancy import current_tenant_id

    if current_tenant_id() is None:
        return "TW"
    return str(get_setting("contacts.default_country", "TW") or "TW").upper()


def _country_code(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text:
        return None
    return COUNTRY_NAMES.get(text.casefold(), text.upper())


def _in_setting_list(choices: Any, value: str | None, message: Any) -> str | None:
    """The setting list's spelling of ``value`` (compared case-insensitively), or a ValidationError."""
    if value is None:
        return None
    allowed = choices.matching(value)
    if allowed is None:
        raise ValidationError(str(message))
    return allowed


class _Base(RecordSchema):
    @pre_load
    def _clean_strings(self, data: Any, **kwargs: Any) -> Any:
        cleaned = super()._clean_strings(data, **kwargs)
        if not isinstance(cleaned, dict):
            return cleaned
        if "address_country" in cleaned:
            cleaned["address_country"] = _country_code(cleaned["address_country"])
        grade = cleaned.get("customer_grade")
        if isinstance(grade, str):
            cleaned["customer_grade"] = GRADES.matching(grade) or grade
        return cleaned


def validate_country(value: str | None) -> None:
    if value is not None and not re.fullmatch(r"[A-Z]{2}", value):
        raise ValidationError(str(_l("Use a two-letter country code such as TW.")))


def _address_fields() -> tuple[fields.Field, ...]:
    """Country, postal code, city, district, street (fresh field objects for each schema)."""
    return (
        fields.String(
            allow_none=True,
            validate=validate_country,
            metadata={"label": _l("Country"), "choices": COUNTRIES, "synonyms": ["國家", "国家", "Country/Region"]},
        ),
        fields.String(
            allow_none=True,
            validate=validate.Length(max=20),
            metadata={
                "label": _l("Postal code"),
                "synonyms": [
                    "郵遞區號",
                    "邮政编码",
                    "郵編",
                    "邮编",
                    "Zip",
                    "ZIP code",
                    "Postal Code",
                    "Business Postal Code",
                ],
            },
        ),
        fields.String(
            allow_none=True,
            validate=validate.Length(max=100),
            metadata={
                "label": _l("City or county"),
                "synonyms": ["縣市", "城市", "城市/縣", "市", "City", "Business City", "Address 1 - City", "省市"],
            },
        ),
        fields.String(
            allow_none=True,
            validate=validate.Length(max=100),
            metadata={
                "label": _l("District"),
                "synonyms": [
                    "鄉鎮市區",
                    "區",
                    "区",
                    "行政區",
                    "District",
                    "State",
                    "Business State",
                    "Address 1 - Region",
                ],
            },
        ),
        fields.String(
            allow_none=True,
            validate=validate.Length(max=255),
            metadata={
                "label": _l("Street address"),
                "synonyms": ["地址", "街道", "通訊地址", "Street", "Address", "Business Street", "Address 1 - Street"],
            },
        ),
    )


def _classification_fields() -> tuple[fields.Field, ...]:
    """Lifecycle stage, partner type, grade, source, notes, owner, department, tags, created, updated."""
    return (
        fields.String(
            load_default="prospect",
            validate=validate.OneOf([value for value, _label in LIFECYCLE_STAGES]),
            metadata={
                "label": _l("Lifecycle stage"),
                "choices": LIFECYCLE_STAGES,
                "synonyms": ["客戶階段", "客户阶段"],
            },
        ),
        fields.String(
            allow_none=True,
            validate=validate.OneOf([value for value, _label in PARTNER_TYPES]),
            metadata={
                "label": _l("Partner type"),
                "choices": PARTNER_TYPES,
                "synonyms": ["夥伴類型", "伙伴类型", "客戶類型"],
            },
        ),
        fields.String(
            allow_none=True,
            validate=validate.Length(max=20),
            metadata={
                "label": _l("Customer grade"),
                "choices": GRADES,
                "synonyms": ["客戶等級", "客户等级", "等級", "Grade"],
            },
        ),
        fields.String(
            allow_none=True,
            validate=validate.Length(max=100),
            metadata={"label": _l("Source"), "choices": SOURCES, "synonyms": ["來源", "来源", "Lead Source"]},
        ),
        fields.String(
            allow_none=True,
            validate=validate.Length(max=20000),
            metadata={"label": _l("Notes"), "widget": "longtext", "synonyms": ["備註", "备注", "Notes"]},
        ),
        fields.Integer(
            allow_none=True, metadata={"label": _l("Owner"), "widget": "user", "synonyms": ["負責人", "负责人", "業務"]}
        ),
        fields.Integer(
            allow_none=True, metadata={"label": _l("Department"), "widget": "department", "synonyms": ["部門", "部门"]}
        ),
        fields.List(
            fields.String(validate=validate.Length(max=50)),
            load_default=None,
            metadata={"label": _l("Tags"), "widget": "tags", "synonyms": ["標籤", "标签", "Labels", "Categories"]},
        ),
        fields.DateTime(dump_only=True, metadata={"label": _l("Created")}),
        fields.DateTime(dump_only=True, metadata={"label": _l("Updated")}),
    )


class _CommonValidation:
    """Checks shared by companies and contacts: the grade is one of the tenant's (RecordSchema checks that people
    and departments exist)."""

    @validates("customer_grade")
    def _grade(self, value: str | None, **kwargs: Any) -> None:
        _in_setting_list(GRADES, value, _l("Choose one of the workspace's customer grades."))


class CompanySchema(_CommonValidation, _Base):
    """A company (organisation)."""

    id = fields.Integer(dump_only=True)
    version = fields.Integer(dump_only=True)
    name = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={
            "label": _l("Company name"),
            "synonyms": ["公司名稱", "公司名称", "公司", "名稱", "客戶名稱", "Company", "Company Name", "Organization"],
        },
    )
    short_name = fields.String(
        allow_none=True,
        validate=validate.Length(max=100),
        metadata={"label": _l("Short name"), "synonyms": ["簡稱", "简称", "公司簡稱"]},
    )
    tax_id = fields.String(
        allow_none=True,
        validate=validate.Length(max=20),
        metadata={
            "label": _l("Tax ID"),
            "help": _l("In Taiwan the 8-digit unified business number (統一編號)."),
            "synonyms": ["統一編號", "統編", "统一编号", "税号", "稅號", "VAT number", "Tax ID"],
        },
    )
    website = fields.URL(
        allow_none=True,
        validate=validate.Length(max=255),
        metadata={"label": _l("Website"), "synonyms": ["網站", "网站", "網址", "Web Page", "Website"]},
    )
    industry = fields.String(
        allow_none=True,
        validate=validate.Length(max=100),
        metadata={
            "label": _l("Industry"),
            "choices": INDUSTRIES,
            "synonyms": ["產業", "行業", "产业", "行业", "Industry"],
        },
    )
    phone = fields.String(
        allow_none=True,
        validate=[validate.Length(max=50), validate_phone],
        metadata={
            "label": _l("Phone"),
            "widget": "phone",
            "synonyms": ["電話", "电话", "公司電話", "總機", "Business Phone", "Company Main Phone"],
        },
    )
    fax = fields.String(
        allow_none=True,
        validate=[validate.Length(max=50), validate_phone],
        metadata={"label": _l("Fax"), "widget": "phone", "synonyms": ["傳真", "传真", "Business Fax"]},
    )
    email = fields.Email(
        allow_none=True,
        validate=validate.Length(max=255),
        metadata={"label": _l("E-mail"), "synonyms": ["電子郵件", "电子邮件", "Email", "E-mail Address"]},
    )
    address_country, address_postal_code, address_city, address_district, address_street = _address_fields()
    (
        lifecycle_stage,
        partner_type,
        customer_grade,
        source,
        notes,
        owner_id,
        department_id,
        tags,
        created_at,
        updated_at,
    ) = _classification_fields()

    @pre_load
    def _normalise(self, data: Any, **kwargs: Any) -> Any:
        if not isinstance(data, dict):
            return data
        website = data.get("website")
        if isinstance(website, str) and website and "://" not in website:
            data["website"] = "https://" + website
        tax_id = data.get("tax_id")
        if isinstance(tax_id, str):
            compact = re.sub(r"[\s\-]", "", unicodedata.normalize("NFKC", tax_id))
            data["tax_id"] = compact or None
        return data

    @validates_schema
    def _tax_id_for_country(self, data: dict[str, Any], **kwargs: Any) -> None:
        tax_id = data.get("tax_id")
        if not tax_id:
            return
        country = data.get("address_country") or default_country()
        if country == "TW" and not valid_tw_tax_id(tax_id):
            raise ValidationError(
                str(_l("A Taiwanese tax ID (統一編號) has 8 digits with a valid check digit.")), "tax_id"
            )


class EmailSchema(_Base):
    email = fields.Email(required=True, validate=validate.Length(max=255), metadata={"label": _l("E-mail")})
    label = fields.String(
        load_default="work",
        validate=validate.OneOf([value for value, _label in EMAIL_LABELS]),
        metadata={"label": _l("E-mail type"), "choices": EMAIL_LABELS},
    )


class PhoneSchema(_Base):
    number = fields.String(
        required=True, validate=[validate.Length(max=50), validate_phone], metadata={"label": _l("Phone number")}
    )
    label = fields.String(
        load_default="mobile",
        validate=validate.OneOf([value for value, _label in PHONE_LABELS]),
        metadata={"label": _l("Phone type"), "choices": PHONE_LABELS},
    )


class MembershipSchema(_Base):
    company_id = fields.Integer(required=True, metadata={"label": _l("Company")})
    company_name = fields.Function(
        lambda membership: membership.company.name if membership.company is not None else None,
        dump_only=True,
        metadata={"label": _l("Company name")},
    )
    role = fields.String(allow_none=True, validate=validate.Length(max=100), metadata={"label": _l("Role or title")})


class ContactSchema(_CommonValidation, _Base):
    """A person. ``name`` is the full name; it is built from given and family names when left empty."""

    id = fields.Integer(dump_only=True)
    version = fields.Integer(dump_only=True)
    name = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={
            "label": _l("Full name"),
            "help": _l("The full name as it is written, e.g. 王小明 or David Lee."),
            "synonyms": ["姓名", "名字", "聯絡人", "联系人", "Name", "Full Name", "Display Name", "Contact Name"],
        },
    )
    given_name = fields.String(
        allow_none=True,
        validate=validate.Length(max=100),
        metadata={"label": _l("Given name"), "synonyms": ["名", "First Name", "Given Name"]},
    )
    family_name = fields.String(
        allow_none=True,
        validate=validate.Length(max=100),
        metadata={"label": _l("Family name"), "synonyms": ["姓", "Last Name", "Family Name", "Surname"]},
    )
    title = fields.String(
        allow_none=True,
        validate=validate.Length(max=100),
        metadata={"label": _l("Job title"), "synonyms": ["職稱", "职称", "職位", "职位", "Job Title", "Title"]},
    )
    company_name = fields.String(
        allow_none=True,
        validate=validate.Length(max=200),
        metadata={
            "label": _l("Company"),
            "help": _l("Links the contact to this company; a new company is created when none has this name."),
            "synonyms": ["公司", "公司名稱", "公司名称", "Company", "Organization", "Organization 1 - Name"],
        },
    )
    email = fields.Email(
        allow_none=True,
        validate=validate.Length(max=255),
        metadata={
            "label": _l("E-mail"),
            "synonyms": ["電子郵件", "电子邮件", "Email", "E-mail Address", "E-mail 1 - Value", "Email Address"],
        },
    )
    mobile = fields.String(
        allow_none=True,
        validate=[validate.Length(max=50), validate_phone],
        metadata={
            "label": _l("Mobile"),
            "widget": "phone",
            "synonyms": ["手機", "手机", "行動電話", "移动电话", "Mobile Phone", "Mobile", "Phone 1 - Value"],
        },
    )
    phone = fields.String(
        allow_none=True,
        validate=[validate.Length(max=50), validate_phone],
        metadata={
            "label": _l("Phone"),
            "widget": "phone",
            "synonyms": ["電話", "电话", "市話", "公司電話", "Business Phone", "Phone", "Work Phone"],
        },
    )
    emails = fields.List(
        fields.Nested(EmailSchema),
        load_default=None,
        metadata={"label": _l("E-mail addresses"), "widget": "emails"},
    )
    phones = fields.List(
        fields.Nested(PhoneSchema),
        load_default=None,
        metadata={"label": _l("Phone numbers"), "widget": "phones"},
    )
    companies = fields.List(
        fields.Nested(MembershipSchema),
        attribute="memberships",
        load_default=None,
        metadata={"label": _l("Companies"), "widget": "companies"},
    )
    birthday = fields.Date(
        allow_none=True, metadata={"label": _l("Birthday"), "synonyms": ["生日", "出生日期", "Birthday"]}
    )
    address_country, address_postal_code, address_city, address_district, address_street = _address_fields()
    (
        lifecycle_stage,
        partner_type,
        customer_grade,
        source,
        notes,
        owner_id,
        department_id,
        tags,
        created_at,
        updated_at,
    ) = _classification_fields()

    @pre_load
    def _name_from_parts(self, data: Any, **kwargs: Any) -> Any:
        if isinstance(data, dict) and not data.get("name") and (data.get("given_name") or data.get("family_name")):
            data["name"] = display_name(data.get("given_name"), data.get("family_name"))
        return data

    @validates("companies")
    def _companies_exist(self, value: list[dict[str, Any]] | None, **kwargs: Any) -> None:
        from .models import Company

        ids = [item["company_id"] for item in value or []]
        if not ids:
            return
        missing = set(ids) - tenant_rows_exist(Company, ids)
        if missing:
            raise ValidationError(str(_l("No such company: %(ids)s.", ids=", ".join(map(str, sorted(missing))))))

    @validates_schema
    def _no_repeats(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors: dict[str, list[str]] = {}
        emails = [e["email"].lower() for e in data.get("emails") or []]
        if len(emails) != len(set(emails)):
            errors["emails"] = [str(_l("The same e-mail address is listed twice."))]
        digits = [phone_digits(p["number"]) for p in data.get("phones") or []]
        if len(digits) != len(set(digits)):
            errors["phones"] = [str(_l("The same phone number is listed twice."))]
        companies = [c["company_id"] for c in data.get("companies") or []]
        if len(companies) != len(set(companies)):
            errors["companies"] = [str(_l("The same company is listed twice."))]
        if errors:
            raise ValidationError(errors)
