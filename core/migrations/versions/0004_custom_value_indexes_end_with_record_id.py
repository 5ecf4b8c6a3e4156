"""custom value indexes end with record_id

The three value indexes of ``custom_values`` gain ``record_id`` as their last column: a filter then reads the
record ids of a value from the index alone (in record order for one value, so they can be intersected with a
tag's ids by a merge) and tests one record with an exact seek.

Revision ID: core_0004
Revises: core_0003
Create Date: 2026-11-26 10:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "core_0004"
down_revision: str | Sequence[str] | None = "core_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VALUE_COLUMNS = ("value_text", "value_number", "value_date")


def _swap(old: list[str], new: list[str]) -> None:
    # Create before dropping: on MariaDB an index that may back the tenant foreign key can only go once another
    # index starting with tenant_id exists.
    with op.batch_alter_table("custom_values", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_custom_values_" + "_".join(new)), new, unique=False)
    with op.batch_alter_table("custom_values", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_custom_values_" + "_".join(old)))


def upgrade() -> None:
    for value in VALUE_COLUMNS:
        _swap(["tenant_id", "field_id", value], ["tenant_id", "field_id", value, "record_id"])


def downgrade() -> None:
    for value in VALUE_COLUMNS:
        _swap(["tenant_id", "field_id", value, "record_id"], ["tenant_id", "field_id", value])
