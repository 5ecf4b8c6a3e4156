"""The entity definitions of companies and contacts (the kernel serves their pages and API from these)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from core.entities import Entity, Section


def company_entity() -> Entity:
    from plugins.contacts.entity_views import new_with_duplicate_check
    from plugins.contacts.models import Company
    from plugins.contacts.records import apply_company, bulk_apply_companies
    from plugins.contacts.schemas import CompanySchema

    return Entity(
        name="company",
        plural="companies",
        model=Company,
        schema=CompanySchema,
        label=_l("Company"),
        label_plural=_l("Companies"),
        permission_prefix="contacts.company",
        title_field="name",
        list_columns=(
            "name",
            "phone",
            "address_city",
            "industry",
            "customer_grade",
            "lifecycle_stage",
            "owner_id",
            "updated_at",
        ),
        search_fields=("name", "short_name", "tax_id", "phone", "email", "website"),
        filter_fields=(
            "lifecycle_stage",
            "partner_type",
            "customer_grade",
            "industry",
            "source",
            "address_city",
            "owner_id",
            "department_id",
            "created_at",
            "updated_at",
        ),
        default_sort="-updated_at",
        sections=(
            Section(
                "main", _l("Company"), ("name", "short_name", "tax_id", "industry", "website", "phone", "fax", "email")
            ),
            Section(
                "customer",
                _l("Customer"),
                ("lifecycle_stage", "partner_type", "customer_grade", "source", "owner_id", "department_id", "tags"),
            ),
            Section(
                "address",
                _l("Address"),
                ("address_country", "address_postal_code", "address_city", "address_district", "address_street"),
            ),
            Section("notes", _l("Notes"), ("notes",)),
        ),
        slots=("company.detail", "company.actions"),
        icon="building",
        menu_order=11,
        views={"new": new_with_duplicate_check},
        apply=apply_company,
        bulk_apply=bulk_apply_companies,
        match_fields=("tax_id", "name"),
    )


def contact_entity() -> Entity:
    from plugins.contacts.entity_views import new_with_duplicate_check
    from plugins.contacts.models import Contact
    from plugins.contacts.records import apply_contact, bulk_apply_contacts
    from plugins.contacts.schemas import ContactSchema

    return Entity(
        name="contact",
        plural="contacts",
        model=Contact,
        schema=ContactSchema,
        label=_l("Contact"),
        label_plural=_l("Contacts"),
        permission_prefix="contacts.contact",
        title_field="name",
        list_columns=(
            "name",
            "company_name",
            "title",
            "mobile",
            "email",
            "customer_grade",
            "owner_id",
            "updated_at",
        ),
        search_fields=("name", "company_name", "title", "email_addresses", "phone_numbers"),
        filter_fields=(
            "lifecycle_stage",
            "partner_type",
            "customer_grade",
            "source",
            "company_id",
            "address_city",
            "owner_id",
            "department_id",
            "birthday",
            "created_at",
            "updated_at",
        ),
        default_sort="-updated_at",
        sections=(
            Section(
                "main",
                _l("Contact"),
                ("name", "title", "company_name", "mobile", "phone", "email"),
            ),
            Section(
                "customer",
                _l("Customer"),
                ("lifecycle_stage", "partner_type", "customer_grade", "source", "owner_id", "department_id", "tags"),
            ),
            Section(
                "address",
                _l("Address"),
                ("address_country", "address_postal_code", "address_city", "address_district", "address_street"),
            ),
            Section("more", _l("More details"), ("given_name", "family_name", "birthday", "notes")),
        ),
        slots=("contact.detail", "contact.actions"),
        icon="user",
        menu_order=10,
        views={"new": new_with_duplicate_check},
        apply=apply_contact,
        bulk_apply=bulk_apply_contacts,
        match_fields=("email", "mobile", "phone"),
    )
