"""contacts: companies, contacts and their e-mail addresses, phone numbers and memberships, the timeline of
interactions (with tasks) and notifications

Revision ID: contacts_0001
Revises:
Create Date: 2026-11-26 07:49:26.786729
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "contacts_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("contacts",)
depends_on: str | Sequence[str] | None = ("core_0002",)


def upgrade() -> None:
    op.create_table(
        "contacts_companies",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_key", sa.String(length=200), nullable=False),
        sa.Column("short_name", sa.String(length=100), nullable=True),
        sa.Column("tax_id", sa.String(length=20), nullable=True),
        sa.Column("website", sa.String(length=255), nullable=True),
        sa.Column("industry", sa.String(length=100), nullable=True),
        sa.Column("phone", sa.String(length=50), nullable=True),
        sa.Column("phone_digits", sa.String(length=30), nullable=True),
        sa.Column("fax", sa.String(length=50), nullable=True),
        sa.Column("email", sa.String(length=255), nullable=True),
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
        sa.Column("address_country", sa.String(length=2), nullable=True),
        sa.Column("address_postal_code", sa.String(length=20), nullable=True),
        sa.Column("address_city", sa.String(length=100), nullable=True),
        sa.Column("address_district", sa.String(length=100), nullable=True),
        sa.Column("address_street", sa.String(length=255), nullable=True),
        sa.Column("lifecycle_stage", sa.String(length=20), nullable=False),
        sa.Column("partner_type", sa.String(length=20), nullable=True),
        sa.Column("customer_grade", sa.String(length=20), nullable=True),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_contacts_companies_created_by_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_contacts_companies_department_id_departments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_contacts_companies_owner_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_contacts_companies_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts_companies")),
    )
    with op.batch_alter_table("contacts_companies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contacts_companies_tenant_id_deleted_at"), ["tenant_id", "deleted_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_contacts_companies_tenant_id_address_city"), ["tenant_id", "address_city"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_contacts_companies_tenant_id_customer_grade"), ["tenant_id", "customer_grade"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_contacts_companies_tenant_id_department_id"), ["tenant_id", "department_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_contacts_companies_tenant_id_industry"), ["tenant_id", "industry"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_contacts_companies_tenant_id_lifecycle_stage"),
            ["tenant_id", "lifecycle_stage"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_contacts_companies_tenant_id_name_id"), ["tenant_id", "name", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_contacts_companies_tenant_id_name_key"), ["tenant_id", "name_key"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_contacts_companies_tenant_id_owner_id"), ["tenant_id", "owner_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_contacts_companies_tenant_id_partner_type"), ["tenant_id", "partner_type"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_contacts_companies_tenant_id_phone_digits"), ["tenant_id", "phone_digits"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_contacts_companies_tenant_id_tax_id"), ["tenant_id", "tax_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_contacts_companies_tenant_id_updated_at_id"), ["tenant_id", "updated_at", "id"], unique=False
        )

    op.create_table(
        "contacts_contacts",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_key", sa.String(length=200), nullable=False),
        sa.Column("given_name", sa.String(length=100), nullable=True),
        sa.Column("family_name", sa.String(length=100), nullable=True),
        sa.Column("title", sa.String(length=100), nullable=True),
        sa.Column("birthday", sa.Date(), nullable=True),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("phone", sa.String(length=50), nullable=True),
        sa.Column("mobile", sa.String(length=50), nullable=True),
        sa.Column("company_id", sa.Integer(), nullable=True),
        sa.Column("company_name", sa.String(length=200), nullable=True),
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
        sa.Column("address_country", sa.String(length=2), nullable=True),
        sa.Column("address_postal_code", sa.String(length=20), nullable=True),
        sa.Column("address_city", sa.String(length=100), nullable=True),
        sa.Column("address_district", sa.String(length=100), nullable=True),
        sa.Column("address_street", sa.String(length=255), nullable=True),
        sa.Column("lifecycle_stage", sa.String(length=20), nullable=False),
        sa.Column("partner_type", sa.String(length=20), nullable=True),
        sa.Column("customer_grade", sa.String(length=20), nullable=True),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["contacts_companies.id"],
            name=op.f("fk_contacts_contacts_company_id_contacts_companies"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_contacts_contacts_created_by_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_contacts_contacts_department_id_departments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_contacts_contacts_owner_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_contacts_contacts_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts_contacts")),
    )
    with op.batch_alter_table("contacts_contacts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contacts_contacts_tenant_id_deleted_at"), ["tenant_id", "deleted_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_contacts_contacts_tenant_id_address_city"), ["tenant_id", "address_city"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_contacts_contacts_tenant_id_company_id"), ["tenant_id", "company_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_contacts_contacts_tenant_id_company_name_id"),
            ["tenant_id", "company_name", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_contacts_contacts_tenant_id_customer_grade"), ["tenant_id", "customer_grade"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_contacts_contacts_tenant_id_department_id"), ["tenant_id", "department_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_contacts_contacts_tenant_id_lifecycle_stage"), ["tenant_id", "lifecycle_stage"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_contacts_contacts_tenant_id_name_id"), ["tenant_id", "name", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_contacts_contacts_tenant_id_name_key"), ["tenant_id", "name_key"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_contacts_contacts_tenant_id_owner_id"), ["tenant_id", "owner_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_contacts_contacts_tenant_id_partner_type"), ["tenant_id", "partner_type"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_contacts_contacts_tenant_id_updated_at_id"), ["tenant_id", "updated_at", "id"], unique=False
        )

    op.create_table(
        "contacts_emails",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=10), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("email_key", sa.String(length=255), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts_contacts.id"],
            name=op.f("fk_contacts_emails_contact_id_contacts_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_contacts_emails_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts_emails")),
    )
    with op.batch_alter_table("contacts_emails", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contacts_emails_tenant_id_contact_id_position"),
            ["tenant_id", "contact_id", "position"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_contacts_emails_tenant_id_email_key"), ["tenant_id", "email_key"], unique=False
        )

    op.create_table(
        "contacts_interactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("occurred_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("company_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("duration_minutes", sa.Integer(), nullable=True),
        sa.Column("due_at", core.db.UTCDateTime(), nullable=True),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("remind_at", core.db.UTCDateTime(), nullable=True),
        sa.Column("reminder_pending_at", core.db.UTCDateTime(), nullable=True),
        sa.Column("done_at", core.db.UTCDateTime(), nullable=True),
        sa.Column("source", sa.String(length=63), nullable=True),
        sa.Column("url", sa.String(length=500), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["users.id"], name=op.f("fk_contacts_interactions_assignee_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["contacts_companies.id"],
            name=op.f("fk_contacts_interactions_company_id_contacts_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts_contacts.id"],
            name=op.f("fk_contacts_interactions_contact_id_contacts_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_contacts_interactions_department_id_departments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_contacts_interactions_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_contacts_interactions_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts_interactions")),
    )
    with op.batch_alter_table("contacts_interactions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contacts_interactions_tenant_id_assignee_id_done_at_due_at"),
            ["tenant_id", "assignee_id", "done_at", "due_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_contacts_interactions_tenant_id_company_id_occurred_at"),
            ["tenant_id", "company_id", "occurred_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_contacts_interactions_tenant_id_contact_id_occurred_at"),
            ["tenant_id", "contact_id", "occurred_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_contacts_interactions_tenant_id_department_id_done_at_due_at"),
            ["tenant_id", "department_id", "done_at", "due_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_contacts_interactions_tenant_id_reminder_pending_at"),
            ["tenant_id", "reminder_pending_at"],
            unique=False,
        )

    op.create_table(
        "contacts_memberships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=100), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["contacts_companies.id"],
            name=op.f("fk_contacts_memberships_company_id_contacts_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts_contacts.id"],
            name=op.f("fk_contacts_memberships_contact_id_contacts_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_contacts_memberships_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts_memberships")),
        sa.UniqueConstraint(
            "tenant_id",
            "contact_id",
            "company_id",
            name=op.f("uq_contacts_memberships_tenant_id_contact_id_company_id"),
        ),
    )
    with op.batch_alter_table("contacts_memberships", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contacts_memberships_tenant_id_company_id_position"),
            ["tenant_id", "company_id", "position"],
            unique=False,
        )

    op.create_table(
        "contacts_phones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=10), nullable=False),
        sa.Column("number", sa.String(length=50), nullable=False),
        sa.Column("digits", sa.String(length=30), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts_contacts.id"],
            name=op.f("fk_contacts_phones_contact_id_contacts_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_contacts_phones_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts_phones")),
    )
    with op.batch_alter_table("contacts_phones", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contacts_phones_tenant_id_contact_id_position"),
            ["tenant_id", "contact_id", "position"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_contacts_phones_tenant_id_digits"), ["tenant_id", "digits"], unique=False)

    op.create_table(
        "contacts_notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=True),
        sa.Column("interaction_id", sa.Integer(), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("read_at", core.db.UTCDateTime(), nullable=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["interaction_id"],
            ["contacts_interactions.id"],
            name=op.f("fk_contacts_notifications_interaction_id_contacts_interactions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_contacts_notifications_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_contacts_notifications_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts_notifications")),
    )
    with op.batch_alter_table("contacts_notifications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contacts_notifications_tenant_id_interaction_id"),
            ["tenant_id", "interaction_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_contacts_notifications_tenant_id_user_id_read_at_created_at"),
            ["tenant_id", "user_id", "read_at", "created_at"],
            unique=False,
        )


def downgrade() -> None:
    op.drop_table("contacts_notifications")
    op.drop_table("contacts_phones")
    op.drop_table("contacts_memberships")
    op.drop_table("contacts_interactions")
    op.drop_table("contacts_emails")
    op.drop_table("contacts_contacts")
    op.drop_table("contacts_companies")
