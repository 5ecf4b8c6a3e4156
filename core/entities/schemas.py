"""The marshmallow schema of an entity as the current tenant sees it: the plugin's fields plus custom fields.

Field ``metadata`` conventions shared by forms, import, export and the API documentation:
``label`` (translatable), ``widget`` (``text``, ``longtext``, ``number``, ``money``, ``date``, ``datetime``,
``bool``, ``choice``, ``multichoice``, ``email``, ``phone``, ``url``, ``user``, ``department``, ``tags``),
``choices`` (a list of ``(value, label)``), ``help`` and ``synonyms`` (column headers an import maps to
this field, e.g. ``["姓名", "Full Name"]``). Fields with ``dump_only=True`` are shown but never edited.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load, validates_schema

from core.entities.definition import Entity

CUSTOM = "custom"


def custom_field_map(entity: Entity) -> dict[str, fields.Field]:
    """Marshmallow fields for the tenant's custom fields of ``entity``, keyed by field key."""
    from core.entities import custom_fields

    return custom_fields.marshmallow_fields(entity)


def _custom_when_missing(schema: Schema, data: Any, partial: Any = None, **kwargs: Any) -> Any:
    """A full load with no ``custom`` still checks the required custom fields (each reports its own error)."""
    partial = schema.partial if partial is None else partial
    if not partial and isinstance(data, Mapping) and data.get(CUSTOM) is None:
        return {**data, CUSTOM: {}}
    return data


def schema_for(entity: Entity, partial: bool = False, many: bool = False) -> Schema:
    """An instance of the entity's schema with a ``custom`` nested dict of the tenant's custom fields."""
    extra = custom_field_map(entity)
    base = entity.schema
    if extra:
        custom_schema = Schema.from_dict(extra, name=f"{base.__name__}Custom")
        attributes: dict[str, Any] = {
            CUSTOM: fields.Nested(custom_schema, required=False, metadata={"label": "custom"})
        }
        if any(f.required for f in extra.values()):
            attributes["_load_custom_when_missing"] = pre_load(_custom_when_missing)
        schema_class = type(f"{base.__name__}WithCustom", (base,), attributes)
    else:
        schema_class = base
    return schema_class(partial=partial, many=many, unknown=EXCLUDE)


def field_label(field: fields.Field, name: str) -> str:
    return str(field.metadata.get("label") or name.replace("_", " ").capitalize())


def widget(field: fields.Field) -> str:
    """The input kind of a field: its ``widget`` metadata, else derived from the field class."""
    if "widget" in field.metadata:
        return field.metadata["widget"]
    mapping: list[tuple[type, str]] = [
        (fields.Email, "email"),
        (fields.URL, "url"),
        (fields.Boolean, "bool"),
        (fields.DateTime, "datetime"),
        (fields.Date, "date"),
        (fields.Decimal, "money"),
        (fields.Integer, "number"),
        (fields.Float, "number"),
        (fields.List, "multichoice"),
    ]
    for kind, name in mapping:
        if isinstance(field, kind):
            return name
    return "choice" if field.metadata.get("choices") else "text"


def is_nested(field: fields.Field) -> bool:
    """Whether a field holds nested records (a contact's e-mail addresses as a list of objects). Such fields are
    read and written through the API only; pages and imports use the entity's flat fields."""
    return isinstance(field, fields.Nested) or isinstance(getattr(field, "inner", None), fields.Nested)


def editable_fields(schema: Schema) -> dict[str, fields.Field]:
    """Fields a form or an import fills in: not dump-only, not custom (listed separately), not nested."""
    return {name: f for name, f in schema.fields.items() if not f.dump_only and name != CUSTOM and not is_nested(f)}


def describe(entity: Entity) -> list[dict[str, Any]]:
    """Every field with its label and widget, custom fields last (for import mapping and the API page)."""
    schema = schema_for(entity)
    rows = [
        {"name": name, "label": field_label(f, name), "widget": widget(f), "required": f.required, "custom": False}
        for name, f in editable_fields(schema).items()
    ]
    for key, f in custom_field_map(entity).items():
        rows.append(
            {
                "name": f"{CUSTOM}.{key}",
                "label": field_label(f, key),
                "widget": widget(f),
                "required": f.required,
                "custom": True,
            }
        )
    return rows


REFERENCE_WIDGETS = ("user", "department")


def reference_errors(entity: Entity, data: dict[str, Any]) -> dict[str, Any]:
    """Errors for user and department ids in validated ``data`` that are not this tenant's (one query per kind).

    Applies to the fields whose widget is ``user`` or ``department``, custom fields included (under ``custom``).
    """
    from flask_babel import gettext as _
    from sqlalchemy import select

    from core import db
    from core.models import Department, User

    models = {"user": User, "department": Department}
    messages = {"user": _("No such user."), "department": _("No such department.")}
    wanted: list[tuple[str | None, str, str, list[int]]] = []  # (container, name, widget, ids)
    candidates = [(None, n, f) for n, f in editable_fields(schema_for(entity)).items()]
    candidates += [(CUSTOM, k, f) for k, f in custom_field_map(entity).items()]
    for container, name, field in candidates:
        kind = widget(field)
        source = (data.get(CUSTOM) or {}) if container else data
        value = source.get(name) if isinstance(source, dict) else None
        if kind not in REFERENCE_WIDGETS or value is None:
            continue
        ids = value if isinstance(value, list | tuple) else [value]
        wanted.append((container, name, kind, [i for i in ids if i is not None]))
    errors: dict[str, Any] = {}
    for kind in REFERENCE_WIDGETS:
        ids = {i for _c, _n, k, values in wanted if k == kind for i in values}
        numbers = {i for i in ids if isinstance(i, int) and not isinstance(i, bool)}
        if not ids:
            continue
        model = models[kind]
        known = set(db.session.scalars(select(model.id).where(model.id.in_(numbers)))) if numbers else set()
        for container, name, k, values in wanted:
            if k == kind and set(values) - known:
                target = errors.setdefault(container, {}) if container else errors
                target[name] = [messages[kind]]
    return errors


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        import unicodedata

        value = unicodedata.normalize("NFC", value).strip()
        return value or None
    return value


class RecordSchema(Schema):
    """A convenient base for an entity's schema: unknown keys are dropped, strings NFC-normalised and stripped
    (an empty string becomes ``None``), and ``owner_id`` / ``department_id``, when the schema has them, must
    name a user / department of the current tenant (the error sits on the field)."""

    class Meta:
        unknown = EXCLUDE

    @pre_load
    def _clean_strings(self, data: Any, **kwargs: Any) -> Any:
        if not isinstance(data, dict):
            return data
        return {key: _clean(value) for key, value in data.items()}

    @validates_schema(skip_on_field_errors=False)  # report a wrong owner together with the other fields' errors
    def _owner_and_department(self, data: Mapping[str, Any], **kwargs: Any) -> None:
        if data.get("owner_id") is None and data.get("department_id") is None:
            return  # nothing to check (most rows of an import)
        from flask_babel import lazy_gettext as _l

        from core.models import Department, User

        wanted = (
            ("owner_id", User, _l("Choose someone from the list.")),
            ("department_id", Department, _l("Choose a department from the list.")),
        )
        errors = {
            name: [str(message)]
            for name, model, message in wanted
            if name in self.fields and data.get(name) is not None and not self._known(model, data[name])
        }
        if errors:
            raise ValidationError(errors)

    def _known(self, model: type, ident: Any) -> bool:
        """Whether ``ident`` is a row of ``model`` in this tenant; remembered for the schema instance, so an import
        that loads thousands of rows with one schema asks once per owner, not once per row."""
        cache: dict[tuple[type, Any], bool] = self.__dict__.setdefault("_known_rows", {})
        key = (model, ident)
        if key not in cache:
            cache[key] = bool(tenant_rows_exist(model, [ident]))
        return cache[key]


def tenant_rows_exist(model: type, ids: list[int]) -> set[int]:
    """Which of ``ids`` are rows of ``model`` in the current tenant (all of them outside a tenant)."""
    from sqlalchemy import select

    from core import db
    from core.tenancy import current_tenant_id

    if current_tenant_id() is None or not ids:
        return set(ids)
    return set(db.session.scalars(select(model.id).where(model.id.in_(ids))))
