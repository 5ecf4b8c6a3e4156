"""Phone digits, e-mail and name keys, Taiwanese tax IDs, addresses; validation by the schemas."""

import pytest
from marshmallow import ValidationError

from plugins.contacts.normalise import (
    address_line,
    display_name,
    email_key,
    map_url,
    name_key,
    phone_digits,
    similar_names,
    tel_url,
    tw_tax_id_check_digit,
    valid_tw_tax_id,
)
from plugins.contacts.schemas import CompanySchema, ContactSchema


@pytest.mark.parametrize(
    "number",
    [
        "0912-345-678",
        "0912 345 678",
        "0912345678",
        "+886 912 345 678",
        "(+886) 912-345-678",
        "+886-0912-345678",
        "０９１２－３４５－６７８",
        "00886912345678",
    ],
)
def test_one_taiwanese_mobile_number_in_every_usual_format_has_the_same_digits(number):
    assert phone_digits(number) == "0912345678"


def test_landlines_extensions_and_other_countries():
    assert phone_digits("(02) 2345-6789") == "0223456789"
    assert phone_digits("+886-2-2345-6789") == "0223456789"
    assert phone_digits("(02) 2345-6789 #123") == "0223456789"
    assert phone_digits("02-2345-6789 分機 55") == "0223456789"
    assert phone_digits("+86 138 0013 8000") == "13800138000"
    assert phone_digits("+1 (415) 555-0100") == "14155550100"
    assert phone_digits("") == ""
    assert tel_url("(02) 2345-6789 #12") == "tel:0223456789"
    assert tel_url("+886 912 345 678") == "tel:+886912345678"


def test_email_and_name_keys():
    assert email_key("  Ming.Wang@Example.COM ") == "ming.wang@example.com"
    assert name_key("王 小明") == name_key("王小明") == "王小明"
    assert name_key("David  Lee.") == name_key("david lee")
    assert name_key("Ｄａｖｉｄ Lee") == "davidlee"  # full-width letters
    assert similar_names("王小明", "王小明 Kevin")
    assert similar_names("David Lee", "david-lee")
    assert not similar_names("王小明", "王大明")
    assert not similar_names("王", "王小明")  # one character is not a name to compare


def test_display_name_puts_chinese_family_names_first():
    assert display_name("小明", "王") == "王小明"
    assert display_name("David", "Lee") == "David Lee"
    assert display_name("David", "") == "David"


def test_taiwanese_tax_ids_are_checked_by_their_check_digit():
    assert valid_tw_tax_id("22099131")  # 台積電
    assert valid_tw_tax_id("04541302")  # 鴻海
    assert not valid_tw_tax_id("22099132")
    assert not valid_tw_tax_id("2209913")
    assert not valid_tw_tax_id("2209913a")
    for first in ("1234567", "0000001", "7777777", "1234560"):
        assert valid_tw_tax_id(first + tw_tax_id_check_digit(first))


def test_addresses_in_the_order_of_their_country_and_a_map_link():
    assert address_line("TW", "104", "台北市", "中山區", "南京東路二段100號") == "104 台北市中山區南京東路二段100號"
    assert address_line(None, None, "台北市", "中山區", "南京東路二段100號") == "台北市中山區南京東路二段100號"
    assert (
        address_line("CN", "200000", "上海市", "浦東新區", "世紀大道100號") == "CN 200000 上海市浦東新區世紀大道100號"
    )
    assert address_line("US", "94103", "San Francisco", None, "1 Market St") == "1 Market St, San Francisco 94103, US"
    assert (
        map_url("台北市信義區")
        == "https://www.google.com/maps/search/?api=1&query=%E5%8F%B0%E5%8C%97%E5%B8%82%E4%BF%A1%E7%BE%A9%E5%8D%80"
    )
    assert map_url("") == ""


def errors_of(schema, data, **kwargs):
    with pytest.raises(ValidationError) as caught:
        schema.load(data, **kwargs)
    return caught.value.messages


def test_company_tax_id_must_be_valid_in_taiwan_and_is_free_elsewhere():
    company = CompanySchema()
    assert company.load({"name": "台積電", "tax_id": "2209-9131"})["tax_id"] == "22099131"
    assert "tax_id" in errors_of(company, {"name": "假公司", "tax_id": "12345678"})
    assert "tax_id" in errors_of(company, {"name": "假公司", "tax_id": "1234", "address_country": "台灣"})
    assert (
        company.load({"name": "Acme Inc.", "tax_id": "12-3456789", "address_country": "United States"})[
            "address_country"
        ]
        == "US"
    )
    assert company.load({"name": "x", "website": "www.example.com"})["website"] == "https://www.example.com"


def test_contact_name_comes_from_its_parts_when_empty():
    contact = ContactSchema()
    assert contact.load({"given_name": "小明", "family_name": "王"})["name"] == "王小明"
    assert contact.load({"given_name": "David", "family_name": "Lee"})["name"] == "David Lee"
    assert "name" in errors_of(contact, {"title": "經理"})


def test_contact_emails_and_phones_are_validated_and_not_repeated():
    contact = ContactSchema()
    messages = errors_of(
        contact,
        {
            "name": "王小明",
            "emails": [{"email": "ming@example.com"}, {"email": "MING@example.com", "label": "home"}],
            "phones": [{"number": "0912-345-678"}, {"number": "+886 912 345 678", "label": "work"}],
        },
    )
    assert set(messages) == {"emails", "phones"}
    messages = errors_of(
        contact, {"name": "x", "mobile": "call me", "email": "not-an-address", "phones": [{"number": "1"}]}
    )
    assert {"mobile", "email", "phones"} <= set(messages)
    assert "label" in str(errors_of(contact, {"name": "x", "phones": [{"number": "0912345678", "label": "pager"}]}))


def test_grade_and_vocabularies_follow_the_tenant_settings(app, tenant, in_tenant):
    from core import db
    from core.settings import set_setting

    with in_tenant(tenant):
        assert ContactSchema().load({"name": "x", "customer_grade": "b"})["customer_grade"] == "B"
        set_setting("contacts.customer_grades", "VIP, 一般")
        db.session.commit()
        assert ContactSchema().load({"name": "x", "customer_grade": "vip"})["customer_grade"] == "VIP"
        assert "customer_grade" in errors_of(ContactSchema(), {"name": "x", "customer_grade": "A"})
        field = ContactSchema().fields["customer_grade"]
        assert list(field.metadata["choices"]) == [("VIP", "VIP"), ("一般", "一般")]


def test_owner_department_and_companies_must_be_the_tenants_own(app, make_tenant, make_user, in_tenant):
    acme, globex = make_tenant("acme"), make_tenant("globex")
    outsider = make_user(globex, departments=["Globex sales"])
    with in_tenant(acme):
        messages = errors_of(
            ContactSchema(), {"name": "x", "owner_id": outsider.id, "companies": [{"company_id": 999}]}
        )
        assert {"owner_id", "companies"} <= set(messages)
