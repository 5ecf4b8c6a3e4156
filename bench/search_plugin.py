"""A benchmark-only plugin: one entity shaped like a contact (name, company, e-mail, phone, owner)."""

from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields
from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.entities import Owned, Record
from core.hooks import hookimpl

META = {
    "name": "searchbench",
    "title": "Search benchmark",
    "version": "1.0",
    "description": "Contact-like rows for bench/search_bench.py.",
}


class BenchPerson(Record, Owned, Base):
    __tablename__ = "searchbench_people"
    __table_args__ = (
        Index(None, "tenant_id", "updated_at", "id"),
        Index(None, "tenant_id", "owner_id", "updated_at", "id"),
    )

    name: Mapped[str] = mapped_column(String(200), nullable=False)
    company: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(50))


class BenchPersonSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, metadata={"label": "Name"})
    company = fields.String(allow_none=True, metadata={"label": "Company"})
    email = fields.Email(allow_none=True, metadata={"label": "E-mail"})
    phone = fields.String(allow_none=True, metadata={"label": "Phone", "widget": "phone"})
    owner_id = fields.Integer(allow_none=True, metadata={"label": "Owner", "widget": "user"})


@hookimpl
def register_models():
    return [BenchPerson]


@hookimpl
def register_entities():
    from core.entities import Entity

    return [
        Entity(
            name="person",
            plural="people",
            model=BenchPerson,
            schema=BenchPersonSchema,
            label=_l("Person"),
            label_plural=_l("People"),
            permission_prefix="searchbench.person",
            title_field="name",
            list_columns=("name", "company", "email", "phone", "updated_at"),
            search_fields=("name", "company", "email", "phone"),
            filter_fields=("owner_id",),
        )
    ]


@hookimpl
def register_permissions():
    from core.entities import entity_permissions

    return entity_permissions("searchbench.person", _l("People"), defaults={"view": {"sales": "own"}})
