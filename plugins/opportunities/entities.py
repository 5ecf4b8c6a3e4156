"""The entity definitions of leads and opportunities (the kernel serves their lists, pages, forms, trash, history,
custom fields, import, export, API and search from these)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from core.entities import Entity, Section


def lead_entity() -> Entity:
    from plugins.opportunities.leads import apply_lead
    from plugins.opportunities.models import Lead
    from plugins.opportunities.schemas import LeadSchema

    return Entity(
        name="lead",
        plural="leads",
        model=Lead,
        schema=LeadSchema,
        label=_l("Lead"),
        label_plural=_l("Leads"),
        permission_prefix="opportunities.lead",
        title_field="name",
        list_columns=("name", "company_name", "phone", "email", "source", "status", "owner_id", "created_at"),
        search_fields=("name", "company_name", "email", "phone"),
        filter_fields=("status", "source", "owner_id", "department_id", "address_city", "created_at", "updated_at"),
        default_sort="-created_at",
        sections=(
            Section("main", _l("Lead"), ("name", "title", "company_name", "phone", "email", "website", "address_city")),
            Section(
                "qualification",
                _l("Qualification"),
                ("status", "disqualify_reason", "source", "owner_id", "department_id", "tags"),
            ),
            Section("notes", _l("Notes"), ("notes",)),
        ),
        slots=("lead.detail", "lead.actions"),
        icon="inbox",
        menu_order=20,
        apply=apply_lead,
        match_fields=("email", "phone"),
    )


def opportunity_entity() -> Entity:
    from plugins.opportunities.models import Opportunity
    from plugins.opportunities.pipelines import apply_opportunity
    from plugins.opportunities.schemas import OpportunitySchema

    return Entity(
        name="opportunity",
        plural="opportunities",
        model=Opportunity,
        schema=OpportunitySchema,
        label=_l("Opportunity"),
        label_plural=_l("Opportunities"),
        permission_prefix="opportunities.opportunity",
        title_field="name",
        list_columns=(
            "name",
            "company_id",
            "amount",
            "stage_id",
            "probability",
            "expected_close_date",
            "owner_id",
            "updated_at",
        ),
        search_fields=("name", "company_name", "contact_name"),
        filter_fields=(
            "pipeline_id",
            "stage_id",
            "status",
            "source",
            "owner_id",
            "department_id",
            "company_id",
            "expected_close_date",
            "closed_on",
            "lost_reason",
            "created_at",
            "updated_at",
        ),
        default_sort="-updated_at",
        sections=(
            Section(
                "main",
                _l("Opportunity"),
                ("name", "company_id", "company_name", "contact_id", "contacts", "amount", "currency", "amount_base"),
            ),
            Section(
                "progress",
                _l("Progress"),
                (
                    "pipeline_id",
                    "stage_id",
                    "probability",
                    "status",
                    "expected_close_date",
                    "next_step",
                    "lost_reason",
                    "lost_note",
                    "closed_on",
                ),
            ),
            Section("origin", _l("Origin"), ("source", "campaign_id", "owner_id", "department_id", "tags")),
            Section("more", _l("Description"), ("description",)),
        ),
        slots=("opportunity.detail", "opportunity.actions"),
        icon="target",
        menu_order=21,
        match_fields=("name",),
        apply=apply_opportunity,
    )
