"""The fields of an entity as its pages show them: list columns, detail values, form inputs and their parsing.

Everything is derived from the marshmallow schema (``schema_for``) and the tenant's custom fields, through the
metadata conventions of :mod:`core.entities.schemas` (``label``, ``widget``, ``choices``, ``help``). A form posts
one input per field, named after the field (custom fields as ``custom.<key>``); :func:`parse_form` turns the
posted strings into the data ``schema.load`` expects and :func:`load` validates it, returning field errors keyed
by input name so the template shows each next to its input.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import get_timezone, to_user_timezone
from flask_babel import gettext as _
from marshmallow import Schema, ValidationError, fields, missing
from sqlalchemy import select

from core import db
from core.entities.definition import Entity, Section
from core.entities.references import REFERENCE, TITLE_SUFFIX, resolve_input
from core.entities.schemas import CUSTOM, custom_field_map, field_label, is_nested, schema_for, widget

CUSTOM_COLUMN = "cf_"
TAG_SPLIT = re.compile(r"[,，、;；]")
HIDDEN_COLUMNS = {"version", CUSTOM}
WIDGETS = {
    "text",
    "longtext",
    "number",
    "money",
    "date",
    "datetime",
    "bool",
    "choice",
    "multichoice",
    "email",
    "phone",
    "url",
    "user",
    "department",
    "tags",
    "reference",
}


@dataclass
class FieldSpec:
    """One field of an entity: where its value lives, how it is labelled, shown and typed in."""

    key: str  # column key in URLs: the schema name, or "cf_<key>" for a custom field
    source: str  # the schema name or the custom field's key
    custom: bool
    label: str
    widget: str
    field: fields.Field
    required: bool = False
    editable: bool = True  # the generic form has an input for it
    simple: bool = True  # one value the kernel shows and edits; False for nested records (a plugin's own widget)
    allow_none: bool = True
    help: str = ""
    choices: list[tuple[str, str]] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The form input's name: ``email``, or ``custom.<key>`` for a custom field."""
        return f"{CUSTOM}.{self.source}" if self.custom else self.source

    @property
    def input_id(self) -> str:
        return "f-" + re.sub(r"[^A-Za-z0-9_-]", "-", self.name)

    @property
    def filter_name(self) -> str:
        """The list argument that filters on this field: ``status``, or ``cf_<key>``."""
        return self.key

    def raw(self, record: Any, tags: Mapping[int, list[str]] | None = None) -> Any:
        """The stored value of this field on ``record``."""
        if self.custom:
            return (getattr(record, CUSTOM, None) or {}).get(self.source)
        if self.widget == "tags" and tags is not None:
            return tags.get(record.id, [])
        if not self.simple or self.field.attribute is None and not hasattr(record, self.source):
            try:  # nested records, or a value the schema computes (fields.Function, fields.Method)
                value = self.field.serialize(self.source, record)
            except (AttributeError, KeyError, TypeError, ValueError):
                return None
            return None if value is missing else value
        return getattr(record, self.field.attribute or self.source, None)


def _choices(f: fields.Field) -> list[tuple[str, str]]:
    raw = f.metadata.get("choices") or []
    inner = getattr(f, "inner", None)
    if not raw and inner is not None:
        raw = inner.metadata.get("choices") or []
    result = []
    for choice in raw:
        value, label = choice if isinstance(choice, list | tuple) else (choice, choice)
        result.append((str(value), str(label)))
    return result


def _nested(f: fields.Field) -> bool:
    return isinstance(f, fields.Nested) or (isinstance(f, fields.List) and isinstance(f.inner, fields.Nested))


def _spec(name: str, f: fields.Field, custom: bool) -> FieldSpec:
    kind = widget(f)
    simple = kind in WIDGETS and not _nested(f)
    return FieldSpec(
        key=f"{CUSTOM_COLUMN}{name}" if custom else name,
        source=name,
        custom=custom,
        label=field_label(f, name),
        widget=kind,
        field=f,
        required=bool(f.required),
        editable=simple and not f.dump_only,
        simple=simple,
        allow_none=bool(f.allow_none),
        help=str(f.metadata.get("help") or (_("Separate tags with commas.") if kind == "tags" else "")),
        choices=_choices(f),
    )


@dataclass
class EntityFields:
    """Every field of an entity for the current tenant, by column key, plus the schema that validates them."""

    entity: Entity
    schema: Schema
    specs: dict[str, FieldSpec]

    @property
    def custom(self) -> list[FieldSpec]:
        return [s for s in self.specs.values() if s.custom]

    @property
    def editable(self) -> list[FieldSpec]:
        return [s for s in self.specs.values() if s.editable]

    def get(self, key: str) -> FieldSpec | None:
        return self.specs.get(key)

    def sections(self, editable_only: bool = False) -> list[tuple[str, Any, list[FieldSpec]]]:
        """(key, title, fields) in the entity's section order; fields no section names come in "Other details",
        custom fields last in their own section."""
        placed: set[str] = set()
        result: list[tuple[str, Any, list[FieldSpec]]] = []
        declared: Iterable[Section] = self.entity.sections
        for section in declared:
            specs = [self.specs[name] for name in section.fields if name in self.specs]
            specs = [s for s in specs if s.editable or not editable_only]
            placed.update(section.fields)
            if specs:
                result.append((section.key, section.title, specs))
        meta = {"id", "created_at", "updated_at", "deleted_at", "created_by_id"}
        rest = [
            s
            for s in self.specs.values()
            if not s.custom and s.key not in placed and s.key not in meta and (s.editable or not editable_only)
        ]
        if rest:
            title = _("Details") if not result else _("Other details")
            result.append(("other", title, rest))
        custom = [s for s in self.custom if s.editable or not editable_only]
        if custom:
            result.append(("custom", _("Custom fields"), custom))
        return result


def entity_fields(entity: Entity, partial: bool = False) -> EntityFields:
    """The schema of ``entity`` for this tenant and a :class:`FieldSpec` for each of its fields."""
    schema = schema_for(entity, partial=partial)
    specs: dict[str, FieldSpec] = {}
    for name, f in schema.fields.items():
        if name in HIDDEN_COLUMNS or f.load_only or is_nested(f):
            continue
        specs[name] = _spec(name, f, custom=False)
    for key, f in custom_field_map(entity).items():
        spec = _spec(key, f, custom=True)
        specs[spec.key] = spec
    return EntityFields(entity, schema, specs)


# ------------------------------------------------------------------------------------ people, places


@dataclass
class Person:
    id: int
    name: str
    active: bool


def people(ids: Iterable[int] | None = None) -> dict[int, Person]:
    """Users of the tenant by id (all of them, or only ``ids``), in one query, sorted by name."""
    from core.models import User

    statement = select(User.id, User.name, User.email, User.active).order_by(User.name, User.email, User.id)
    if ids is not None:
        wanted = {int(i) for i in ids if _is_int(i)}
        if not wanted:
            return {}
        statement = statement.where(User.id.in_(wanted))
    return {row.id: Person(row.id, row.name or row.email, row.active) for row in db.session.execute(statement)}


def departments(ids: Iterable[int] | None = None) -> dict[int, str]:
    """Departments of the tenant by id (all, or only ``ids``), in one query, sorted by name."""
    from core.models import Department

    statement = select(Department.id, Department.name).order_by(Department.name, Department.id)
    if ids is not None:
        wanted = {int(i) for i in ids if _is_int(i)}
        if not wanted:
            return {}
        statement = statement.where(Department.id.in_(wanted))
    return {row.id: row.name for row in db.session.execute(statement)}


def _is_int(value: Any) -> bool:
    try:
        int(value)
    except (TypeError, ValueError):
        return False
    return True


# ----------------------------------------------------------------------------------- form values


def split_tags(text: str) -> list[str]:
    """Tags typed as one line: separated by commas (also the Chinese 、 and ，) or semicolons."""
    return [part.strip() for part in TAG_SPLIT.split(text or "") if part.strip()]


def _local_datetime_input(value: Any) -> str:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if not isinstance(value, dt.datetime):
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return to_user_timezone(value).strftime("%Y-%m-%dT%H:%M")


def input_value(spec: FieldSpec, value: Any) -> Any:
    """A stored value as its input shows it (strings; a bool for a checkbox, a list for check boxes)."""
    if spec.widget == "bool":
        return bool(value)
    if spec.widget in ("multichoice", "tags"):
        if spec.widget == "tags":
            return ", ".join(str(v) for v in value or [])
        return [str(v) for v in value or []]
    if value is None:
        return ""
    if spec.widget == "datetime":
        return _local_datetime_input(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def initial_values(form: EntityFields, record: Any = None, tags: list[str] | None = None) -> dict[str, Any]:
    """The inputs' values for a new record (the schema's defaults) or for editing ``record``."""
    values: dict[str, Any] = {}
    for spec in form.editable:
        if record is None:
            default = spec.field.load_default
            value = None if default is None or callable(default) or default is missing else default
        elif spec.widget == "tags":
            value = tags or []
        else:
            value = spec.raw(record)
        values[spec.name] = input_value(spec, value)
    return values


# --------------------------------------------------------------------------------------- parsing


@dataclass
class Submission:
    """A posted form: the strings to show again, the data for ``schema.load``, errors by input name."""

    values: dict[str, Any]
    data: dict[str, Any]
    errors: dict[str, list[str]]


def _to_utc_iso(text: str) -> str:
    """A ``datetime-local`` input (the user's wall clock) as an ISO string in UTC; unparseable text unchanged."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return text
    if value.tzinfo is None:
        value = value.replace(tzinfo=get_timezone())
    return value.astimezone(dt.UTC).isoformat()


def parse_form(
    form: EntityFields,
    formdata: Any,
    users: Mapping[int, Person] | None = None,
    depts: Mapping[int, str] | None = None,
) -> Submission:
    """Turn posted strings into data for ``schema.load``; user and department ids must be the tenant's own."""
    values: dict[str, Any] = {}
    data: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    required = _("This field is required.")
    for spec in form.editable:
        target = custom if spec.custom else data
        if spec.widget == "bool":
            values[spec.name] = formdata.get(spec.name) in ("1", "on", "true", "y", "yes")
            target[spec.source] = values[spec.name]
            continue
        if spec.widget == "multichoice":
            chosen = [v for v in formdata.getlist(spec.name) if v != ""]
            values[spec.name] = chosen
            if spec.required and not chosen:
                errors[spec.name] = [required]
            target[spec.source] = chosen
            continue
        if spec.widget == REFERENCE:
            _reference(spec, formdata, values, target, errors)
            continue
        text = str(formdata.get(spec.name, "") or "").strip()
        if spec.widget != "longtext":
            text = " ".join(text.split()) if spec.widget in ("text", "tags") else text
        values[spec.name] = text
        if spec.widget == "tags":
            target[spec.source] = split_tags(text)
            continue
        if text == "":
            if spec.required:
                errors[spec.name] = [required]
            elif spec.allow_none:
                target[spec.source] = None
            elif spec.field.load_default is not missing:
                continue  # the schema's default applies
            else:
                target[spec.source] = ""
            continue
        if spec.widget == "user":
            if not _is_int(text) or users is None or int(text) not in users:
                errors[spec.name] = [_("Choose someone from the list.")]
                continue
            target[spec.source] = int(text)
        elif spec.widget == "department":
            if not _is_int(text) or depts is None or int(text) not in depts:
                errors[spec.name] = [_("Choose a department from the list.")]
                continue
            target[spec.source] = int(text)
        elif spec.widget == "money":
            target[spec.source] = text.replace(",", "").replace(" ", "")
        elif spec.widget == "number":
            target[spec.source] = text.replace(",", "")
        elif spec.widget == "datetime":
            target[spec.source] = _to_utc_iso(text)
        else:
            target[spec.source] = text
    if form.custom:
        data[CUSTOM] = custom
    return Submission(values, data, errors)


def _reference(
    spec: FieldSpec, formdata: Any, values: dict[str, Any], target: dict[str, Any], errors: dict[str, list[str]]
) -> None:
    """A record reference: the hidden id the suggestions chose, or the typed title resolved on the server."""
    title = formdata.get(spec.name + TITLE_SUFFIX)
    ident, problem = resolve_input(spec.field, formdata.get(spec.name), title)
    values[spec.name] = str(ident) if ident is not None else ""
    if title is not None:
        values[spec.name + TITLE_SUFFIX] = " ".join(str(title).split())
    if problem:
        errors[spec.name] = [problem]
    elif ident is None and spec.required:
        errors[spec.name] = [_("This field is required.")]
    else:
        target[spec.source] = ident


# ------------------------------------------------------------------------------------- validation

_MESSAGES: list[tuple[re.Pattern[str], Any]] = []


def _message_table() -> list[tuple[re.Pattern[str], Any]]:
    """marshmallow's English messages and their translations (marshmallow itself is not translated)."""
    if _MESSAGES:
        return _MESSAGES
    table: list[tuple[str, Any]] = [
        (r"Missing data for required field\.", lambda m: _("This field is required.")),
        (r"Field may not be null\.", lambda m: _("This field is required.")),
        (r"Not a valid email address\.", lambda m: _("Enter a valid e-mail address.")),
        (r"Not a valid URL\.", lambda m: _("Enter a valid web address, starting with https://.")),
        (r"Not a valid (integer|number)\.", lambda m: _("Enter a number.")),
        (r"Number too large\.", lambda m: _("The number is too large.")),
        (r"Special numeric values .*", lambda m: _("Enter a number.")),
        (r"Not a valid date\.|.* cannot be formatted as a date\.", lambda m: _("Enter a date.")),
        (r"Not a valid .*datetime\.|.* cannot be formatted as a datetime\.", lambda m: _("Enter a date and time.")),
        (r"Not a valid boolean\.", lambda m: _("Choose yes or no.")),
        (r"Must be one of: .*", lambda m: _("Choose one of the offered values.")),
        (r"Shorter than minimum length (\d+)\.", lambda m: _("Enter at least %(n)s characters.", n=m.group(1))),
        (r"Longer than maximum length (\d+)\.", lambda m: _("Enter at most %(n)s characters.", n=m.group(1))),
        (
            r"Length must be between (\d+) and (\d+)\.",
            lambda m: _("Enter between %(a)s and %(b)s characters.", a=m.group(1), b=m.group(2)),
        ),
        (r"Must be greater than or equal to (.+)\.", lambda m: _("Must be at least %(n)s.", n=m.group(1))),
        (r"Must be less than or equal to (.+)\.", lambda m: _("Must be at most %(n)s.", n=m.group(1))),
        (r"Invalid value\.", lambda m: _("This value is not valid.")),
    ]
    _MESSAGES.extend((re.compile(f"^{pattern}$"), fn) for pattern, fn in table)
    return _MESSAGES


def translate(message: str) -> str:
    """A marshmallow message in the user's language when it is one of marshmallow's own."""
    for pattern, make in _message_table():
        match = pattern.match(str(message))
        if match:
            return str(make(match))
    return str(message)


def _flatten(messages: Any) -> list[str]:
    if isinstance(messages, dict):
        return [m for value in messages.values() for m in _flatten(value)]
    if isinstance(messages, list | tuple):
        return [m for value in messages for m in _flatten(value)]
    return [str(messages)]


def field_errors(form: EntityFields, messages: Mapping[str, Any]) -> dict[str, list[str]]:
    """marshmallow's ``messages`` keyed by input name (``custom.<key>`` for custom fields), translated."""
    errors: dict[str, list[str]] = {}
    for name, value in messages.items():
        if name == CUSTOM and isinstance(value, dict):
            for key, inner in value.items():
                errors[f"{CUSTOM}.{key}"] = [translate(m) for m in _flatten(inner)]
        elif name == "_schema":
            errors["_schema"] = [translate(m) for m in _flatten(value)]
        else:
            errors[name] = [translate(m) for m in _flatten(value)]
    return errors


def add_errors(form: EntityFields, submission: Submission, exc: ValidationError) -> None:
    """Put a ``ValidationError``'s messages (the schema's, or an entity ``apply``'s) next to their inputs."""
    messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
    for name, errs in field_errors(form, messages).items():
        target = submission.errors.setdefault(name, [])
        target.extend(e for e in errs if e not in target)


def load(form: EntityFields, submission: Submission, partial: bool = False) -> dict[str, Any] | None:
    """Validate a submission with the schema; on errors, fill ``submission.errors`` and return ``None``."""
    data = {k: v for k, v in submission.data.items()}
    if CUSTOM in data:
        data[CUSTOM] = {k: v for k, v in data[CUSTOM].items() if f"{CUSTOM}.{k}" not in submission.errors}
    data = {k: v for k, v in data.items() if k not in submission.errors}
    try:
        loaded = form.schema.load(data, partial=partial)
    except ValidationError as exc:
        add_errors(form, submission, exc)
        return None
    if submission.errors:
        return None
    return loaded


def decimal_or_none(value: Any) -> decimal.Decimal | None:
    try:
        return decimal.Decimal(str(value))
    except (decimal.InvalidOperation, ValueError, TypeError):
        return None
