"""contacts: drop the index of contacts' name keys

No query looks contacts up by ``name_key`` alone: duplicates by name are searched among the members of the same
companies (``contact_duplicates``), through the membership index. The index only cost every insert a write at a
random place (companies keep theirs: a company is found by its name key).

Revision ID: contacts_0002
Revises: contacts_0001
Create Date: 2026-11-26 21:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "contacts_0002"
down_revision: str | Sequence[str] | None = "contacts_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contacts_contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contacts_contacts_tenant_id_name_key"))


def downgrade() -> None:
    with op.batch_alter_table("contacts_contacts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contacts_contacts_tenant_id_name_key"), ["tenant_id", "name_key"], unique=False
        )
