"""Custom fields: the tenant-defined fields of an entity, and the index of their values.

The values themselves live in each record's ``custom`` JSON column (by field key), so adding a field never needs a
migration. :class:`CustomValue` mirrors them in typed, indexed columns (one row per value, one per chosen value of
a multiple choice) so that lists filter and sort on them at a million rows; ``core.entities.custom_fields`` keeps it
in sync.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, TenantOwned, UTCDateTime, utcnow

# Field types, in the order the administration page offers them. The code is also the field's form widget.
TYPES: dict[str, Any] = {
    "text": _l("Text"),
    "longtext": _l("Long text"),
    "number": _l("Number"),
    "money": _l("Money"),
    "date": _l("Date"),
    "datetime": _l("Date and time"),
    "bool": _l("Yes/no"),
    "choice": _l("Single choice"),
    "multichoice": _l("Multiple choice"),
    "email": _l("E-mail"),
    "phone": _l("Phone"),
    "url": _l("Web address (URL)"),
    "user": _l("User"),
}
CHOICE_TYPES = frozenset({"choice", "multichoice"})
# Which CustomValue column indexes a value of each type.
TEXT_TYPES = frozenset({"text", "longtext", "choice", "multichoice", "email", "phone", "url"})
NUMBER_TYPES = frozenset({"number", "money", "bool", "user"})
DATE_TYPES = frozenset({"date", "datetime"})

KEY_MAX = 40
LABEL_MAX = 100
HELP_MAX = 500
TEXT_INDEX_MAX = 255


class CustomField(TenantOwned, Base):
    """One field a tenant added to an entity (``entity`` is the entity's plural name, e.g. ``contacts``).

    ``key`` names the value in ``record.custom`` and never changes; ``choices`` is a list of ``[value, label]``
    pairs for single and multiple choice fields; archived fields (``active`` false) are hidden everywhere but
    their values stay in the records.
    """

    __tablename__ = "custom_fields"
    __table_args__ = (
        UniqueConstraint("tenant_id", "entity", "key"),
        Index(None, "tenant_id", "entity", "position"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity: Mapped[str] = mapped_column(String(63), nullable=False)
    key: Mapped[str] = mapped_column(String(KEY_MAX), nullable=False)
    label: Mapped[str] = mapped_column(String(LABEL_MAX), nullable=False)
    type: Mapped[str] = mapped_column(String(20), nullable=False)
    required: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    help: Mapped[str] = mapped_column(String(HELP_MAX), nullable=False, default="")
    choices: Mapped[list[list[str]] | None] = mapped_column(JSON)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    @property
    def audit_label(self) -> str:
        return f"{self.entity}.{self.key}"

    @property
    def type_label(self) -> str:
        return str(TYPES.get(self.type, self.type))

    @property
    def choice_labels(self) -> dict[str, str]:
        """Choice value -> label."""
        return {str(value): str(label) for value, label in (self.choices or [])}

    def __repr__(self) -> str:
        return f"<CustomField {self.entity}.{self.key} {self.type}>"


class CustomValue(TenantOwned, Base):
    """One indexed value of a custom field on one record (kernel-maintained; never written by plugins).

    Text values are stored lower-cased (so filters match case-insensitively on every database) and cut to 255
    characters; phone numbers as their digits; numbers, money, users and yes/no (1/0) in ``value_number``; dates
    and times in ``value_date`` (UTC; a date is its midnight UTC).
    """

    __tablename__ = "custom_values"
    # ``record_id`` ends each value index, so that a filter reads a value's record ids from the index alone, in
    # record order for one value (a sorted list the query layer intersects with a tag's), and tests "does this
    # record hold this value" with one exact seek (migration core_0004).
    __table_args__ = (
        Index(None, "tenant_id", "field_id", "value_text", "record_id"),
        Index(None, "tenant_id", "field_id", "value_number", "record_id"),
        Index(None, "tenant_id", "field_id", "value_date", "record_id"),
        Index(None, "tenant_id", "entity", "record_id"),
    )
    __audit__ = False

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity: Mapped[str] = mapped_column(String(63), nullable=False)
    field_id: Mapped[int] = mapped_column(ForeignKey("custom_fields.id", ondelete="CASCADE"), nullable=False)
    record_id: Mapped[int] = mapped_column(Integer, nullable=False)
    value_text: Mapped[str | None] = mapped_column(String(TEXT_INDEX_MAX))
    value_number: Mapped[Decimal | None] = mapped_column(Numeric(20, 6))
    value_date: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
