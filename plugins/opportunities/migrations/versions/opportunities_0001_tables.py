"""opportunities: pipelines and stages, leads and their activities, web-to-lead forms, assignment rules,
opportunities with their contacts and stage history, quotas

Revision ID: opportunities_0001
Revises:
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "opportunities_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("opportunities",)
depends_on: str | Sequence[str] | None = ("core_0003", "contacts_0001")


def upgrade() -> None:
    op.create_table(
        "opportunities_pipelines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_opportunities_pipelines_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opportunities_pipelines")),
    )
    with op.batch_alter_table("opportunities_pipelines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_opportunities_pipelines_tenant_id_position"), ["tenant_id", "position"], unique=False
        )

    op.create_table(
        "opportunities_web_forms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=43), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=True),
        sa.Column("required_fields", sa.JSON(), nullable=True),
        sa.Column("thank_you_message", sa.Text(), nullable=True),
        sa.Column("thank_you_url", sa.String(length=500), nullable=True),
        sa.Column("allowed_origins", sa.String(length=500), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_opportunities_web_forms_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opportunities_web_forms")),
        sa.UniqueConstraint("tenant_id", "token", name=op.f("uq_opportunities_web_forms_tenant_id_token")),
    )
    op.create_table(
        "opportunities_assignment_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("last_user_id", sa.Integer(), nullable=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_opportunities_assignment_rules_department_id_departments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["last_user_id"],
            ["users.id"],
            name=op.f("fk_opportunities_assignment_rules_last_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_opportunities_assignment_rules_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_opportunities_assignment_rules_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opportunities_assignment_rules")),
    )
    with op.batch_alter_table("opportunities_assignment_rules", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_opportunities_assignment_rules_tenant_id_position"), ["tenant_id", "position"], unique=False
        )

    op.create_table(
        "opportunities_quotas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_opportunities_quotas_department_id_departments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_opportunities_quotas_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_opportunities_quotas_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opportunities_quotas")),
        sa.UniqueConstraint(
            "tenant_id",
            "user_id",
            "department_id",
            "period",
            "period_start",
            name=op.f("uq_opportunities_quotas_tenant_id_user_id_departmen_d2fcfb32"),
        ),
    )
    with op.batch_alter_table("opportunities_quotas", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_opportunities_quotas_tenant_id_period_period_start"),
            ["tenant_id", "period", "period_start"],
            unique=False,
        )

    op.create_table(
        "opportunities_stages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pipeline_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("probability", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("forecast_category", sa.String(length=20), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pipeline_id"],
            ["opportunities_pipelines.id"],
            name=op.f("fk_opportunities_stages_pipeline_id_opportunities_pipelines"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_opportunities_stages_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opportunities_stages")),
    )
    with op.batch_alter_table("opportunities_stages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_opportunities_stages_tenant_id_pipeline_id_position"),
            ["tenant_id", "pipeline_id", "position"],
            unique=False,
        )

    op.create_table(
        "opportunities_opportunities",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=True),
        sa.Column("company_name", sa.String(length=200), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("contact_name", sa.String(length=200), nullable=True),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_base", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("expected_close_date", sa.Date(), nullable=True),
        sa.Column("pipeline_id", sa.Integer(), nullable=False),
        sa.Column("stage_id", sa.Integer(), nullable=False),
        sa.Column("probability", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("stage_entered_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("furthest_position", sa.Integer(), nullable=False),
        sa.Column("closed_at", core.db.UTCDateTime(), nullable=True),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("cycle_days", sa.Integer(), nullable=True),
        sa.Column("lost_reason", sa.String(length=100), nullable=True),
        sa.Column("lost_note", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("next_step", sa.String(length=255), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("deleted_at", core.db.UTCDateTime(), nullable=True),
        sa.Column("custom", sa.JSON(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["contacts_companies.id"],
            name=op.f("fk_opportunities_opportunities_company_id_contacts_companies"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts_contacts.id"],
            name=op.f("fk_opportunities_opportunities_contact_id_contacts_contacts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_opportunities_opportunities_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_opportunities_opportunities_department_id_departments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_opportunities_opportunities_owner_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["pipeline_id"],
            ["opportunities_pipelines.id"],
            name=op.f("fk_opportunities_opportunities_pipeline_id_opportun_25550313"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["stage_id"],
            ["opportunities_stages.id"],
            name=op.f("fk_opportunities_opportunities_stage_id_opportunities_stages"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_opportunities_opportunities_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opportunities_opportunities")),
    )
    with op.batch_alter_table("opportunities_opportunities", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_opportunities_opportunities_tenant_id_company_id"), ["tenant_id", "company_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_opportunities_opportunities_tenant_id_contact_id"), ["tenant_id", "contact_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_opportunities_opportunities_tenant_id_deleted_at"), ["tenant_id", "deleted_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_opportunities_opportunities_tenant_id_department_id_status"),
            ["tenant_id", "department_id", "status"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_opportunities_opportunities_tenant_id_expected_close_date_id"),
            ["tenant_id", "expected_close_date", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_opportunities_opportunities_tenant_id_lead_id"), ["tenant_id", "lead_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_opportunities_opportunities_tenant_id_name_id"), ["tenant_id", "name", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_opportunities_opportunities_tenant_id_owner_id_status"),
            ["tenant_id", "owner_id", "status"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_opportunities_opportunities_tenant_id_pipeline_i_eda67a00"),
            [
                "tenant_id",
                "pipeline_id",
                "created_at",
                "deleted_at",
                "furthest_position",
                "status",
                "owner_id",
                "department_id",
            ],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_opportunities_opportunities_tenant_id_source"), ["tenant_id", "source"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_opportunities_opportunities_tenant_id_stage_id_c_6995c922"),
            ["tenant_id", "stage_id", "closed_on", "id", "deleted_at", "amount_base", "probability"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_opportunities_opportunities_tenant_id_stage_id_e_6eddd6c5"),
            ["tenant_id", "stage_id", "expected_close_date", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_opportunities_opportunities_tenant_id_status_clo_ce858525"),
            [
                "tenant_id",
                "status",
                "closed_on",
                "deleted_at",
                "amount_base",
                "cycle_days",
                "owner_id",
                "department_id",
                "pipeline_id",
                "source",
                "lost_reason",
            ],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_opportunities_opportunities_tenant_id_status_exp_86e84af5"),
            [
                "tenant_id",
                "status",
                "expected_close_date",
                "deleted_at",
                "stage_id",
                "amount_base",
                "probability",
                "owner_id",
                "department_id",
                "pipeline_id",
            ],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_opportunities_opportunities_tenant_id_updated_at_id"),
            ["tenant_id", "updated_at", "id"],
            unique=False,
        )

    op.create_table(
        "opportunities_contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("opportunity_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=100), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts_contacts.id"],
            name=op.f("fk_opportunities_contacts_contact_id_contacts_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["opportunity_id"],
            ["opportunities_opportunities.id"],
            name=op.f("fk_opportunities_contacts_opportunity_id_opportunit_89378cf8"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_opportunities_contacts_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opportunities_contacts")),
        sa.UniqueConstraint(
            "tenant_id",
            "opportunity_id",
            "contact_id",
            name=op.f("uq_opportunities_contacts_tenant_id_opportunity_id_contact_id"),
        ),
    )
    with op.batch_alter_table("opportunities_contacts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_opportunities_contacts_tenant_id_contact_id"), ["tenant_id", "contact_id"], unique=False
        )

    op.create_table(
        "opportunities_leads",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("company_name", sa.String(length=200), nullable=True),
        sa.Column("title", sa.String(length=100), nullable=True),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("phone", sa.String(length=50), nullable=True),
        sa.Column("phone_digits", sa.String(length=30), nullable=True),
        sa.Column("website", sa.String(length=255), nullable=True),
        sa.Column("address_city", sa.String(length=100), nullable=True),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("disqualify_reason", sa.String(length=100), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("web_form_id", sa.Integer(), nullable=True),
        sa.Column("converted_at", core.db.UTCDateTime(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("company_id", sa.Integer(), nullable=True),
        sa.Column("opportunity_id", sa.Integer(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("deleted_at", core.db.UTCDateTime(), nullable=True),
        sa.Column("custom", sa.JSON(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["contacts_companies.id"],
            name=op.f("fk_opportunities_leads_company_id_contacts_companies"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts_contacts.id"],
            name=op.f("fk_opportunities_leads_contact_id_contacts_contacts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_opportunities_leads_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_opportunities_leads_department_id_departments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["opportunity_id"],
            ["opportunities_opportunities.id"],
            name=op.f("fk_opportunities_leads_opportunity_id_opportunities_aa8191f5"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_opportunities_leads_owner_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_opportunities_leads_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["web_form_id"],
            ["opportunities_web_forms.id"],
            name=op.f("fk_opportunities_leads_web_form_id_opportunities_web_forms"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opportunities_leads")),
    )
    with op.batch_alter_table("opportunities_leads", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_opportunities_leads_tenant_id_created_at_id"),
            ["tenant_id", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_opportunities_leads_tenant_id_deleted_at"), ["tenant_id", "deleted_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_opportunities_leads_tenant_id_department_id"), ["tenant_id", "department_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_opportunities_leads_tenant_id_email"), ["tenant_id", "email"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_opportunities_leads_tenant_id_name_id"), ["tenant_id", "name", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_opportunities_leads_tenant_id_owner_id"), ["tenant_id", "owner_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_opportunities_leads_tenant_id_phone_digits"), ["tenant_id", "phone_digits"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_opportunities_leads_tenant_id_source"), ["tenant_id", "source"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_opportunities_leads_tenant_id_status_updated_at"),
            ["tenant_id", "status", "updated_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_opportunities_leads_tenant_id_updated_at_id"),
            ["tenant_id", "updated_at", "id"],
            unique=False,
        )

    op.create_table(
        "opportunities_stage_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("opportunity_id", sa.Integer(), nullable=False),
        sa.Column("pipeline_id", sa.Integer(), nullable=False),
        sa.Column("stage_id", sa.Integer(), nullable=False),
        sa.Column("entered_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("left_at", core.db.UTCDateTime(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("amount_base", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("probability", sa.Integer(), nullable=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["opportunity_id"],
            ["opportunities_opportunities.id"],
            name=op.f("fk_opportunities_stage_history_opportunity_id_oppor_305920a7"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["pipeline_id"],
            ["opportunities_pipelines.id"],
            name=op.f("fk_opportunities_stage_history_pipeline_id_opportun_5bfb2b20"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["stage_id"],
            ["opportunities_stages.id"],
            name=op.f("fk_opportunities_stage_history_stage_id_opportunities_stages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_opportunities_stage_history_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_opportunities_stage_history_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opportunities_stage_history")),
    )
    with op.batch_alter_table("opportunities_stage_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_opportunities_stage_history_tenant_id_opportunit_c35562db"),
            ["tenant_id", "opportunity_id", "entered_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_opportunities_stage_history_tenant_id_stage_id_entered_at"),
            ["tenant_id", "stage_id", "entered_at"],
            unique=False,
        )

    op.create_table(
        "opportunities_lead_activities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("occurred_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["opportunities_leads.id"],
            name=op.f("fk_opportunities_lead_activities_lead_id_opportunities_leads"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_opportunities_lead_activities_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_opportunities_lead_activities_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opportunities_lead_activities")),
    )
    with op.batch_alter_table("opportunities_lead_activities", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_opportunities_lead_activities_tenant_id_lead_id_occurred_at"),
            ["tenant_id", "lead_id", "occurred_at"],
            unique=False,
        )


def downgrade() -> None:
    op.drop_table("opportunities_lead_activities")
    op.drop_table("opportunities_stage_history")
    op.drop_table("opportunities_leads")
    op.drop_table("opportunities_contacts")
    op.drop_table("opportunities_opportunities")
    op.drop_table("opportunities_stages")
    op.drop_table("opportunities_quotas")
    op.drop_table("opportunities_assignment_rules")
    op.drop_table("opportunities_web_forms")
    op.drop_table("opportunities_pipelines")
