"""Custom fields of entities: the tenant-defined part of a record.

Tenant administrators add fields to any entity (*Administration → Custom fields*). Their values live in the
record's ``custom`` JSON column, keyed by field key, so a new field never needs a migration. This module is the
one place that knows about them:

- :func:`marshmallow_fields` gives ``schema_for()`` the marshmallow fields of the tenant's active fields, so forms,
  the API, import and export validate and describe them like any other field (values are stored JSON-ready:
  money as a string such as ``"12.50"``, dates as ``"2024-05-01"``, date-times as ISO 8601 in UTC);
- :func:`criterion` turns a list filter ``cf_<key>[__op]=value`` into SQL over the :class:`CustomValue` index;
- :func:`fields_for` and :func:`display` let pages and exports show the fields and their formatted values;
- a flush listener keeps :class:`CustomValue` in step with every record written through the ORM session, and
  :func:`index_values` / :func:`remove_values` do the same after bulk statements that bypass the session;
- :func:`create_field`, :func:`update_field`, :func:`archive_field`, :func:`restore_field` and
  :func:`delete_field` are what the administration pages call (a type or choice change that would lose a stored
  value is refused).

Field definitions and marshmallow fields are cached per request (``flask.g``) and the cache is dropped whenever a
:class:`CustomField` is flushed.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import g, has_app_context, has_request_context
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from marshmallow import ValidationError, fields, validate
from sqlalchemy import Select, and_, bindparam, delete, event, exists, func, insert, inspect, not_, or_, select, update
from sqlalchemy.orm import Session

from core import db
from core.db import TenantSession
from core.entities.definition import Entity
from core.entities.records import Record
from core.models import User
from core.models.custom_fields import (
    CHOICE_TYPES,
    HELP_MAX,
    KEY_MAX,
    LABEL_MAX,
    NUMBER_TYPES,
    TEXT_INDEX_MAX,
    TEXT_TYPES,
    TYPES,
    CustomField,
    CustomValue,
)
from core.tenancy import current_tenant, current_tenant_id, require_tenant_id

__all__ = [
    "TYPES",
    "CustomField",
    "CustomValue",
    "FieldError",
    "archive_field",
    "create_field",
    "criterion",
    "criterion_and_source",
    "delete_field",
    "display",
    "fields_for",
    "index_values",
    "marshmallow_fields",
    "parse_choices",
    "purge_field",
    "remove_values",
    "restore_field",
    "update_field",
    "usage",
]

CACHE = "crm_custom_fields"
PENDING = "crm.custom_values"
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_FIELDS = 200  # per entity and tenant
MAX_CHOICES = 200
CHOICE_MAX = 100
LONGTEXT_MAX = 20_000
MICRO = Decimal("0.000001")
NUMBER_LIMIT = Decimal("1e14")  # what Numeric(20, 6) holds
PURGE_INLINE = 1000  # a deletion touching more records runs as a background job
BATCH = 500
FEW = 5000  # SQLite: below this many matching values a filter reads the value index first
PHONE_CHARS = re.compile(r"^[0-9+\s\-()]+$")
LIST_SEPARATORS = re.compile(r"[,;\n，；、]")
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


class FieldError(ValueError):
    """A field definition was refused; ``errors`` maps form field names to messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


# ------------------------------------------------------------------------------------------- definitions


def _plural(entity: Entity | str) -> str:
    return entity if isinstance(entity, str) else entity.plural


def _cache() -> dict[Any, Any]:
    if not has_app_context():
        return {}
    if not hasattr(g, CACHE):
        setattr(g, CACHE, {})
    return getattr(g, CACHE)


def clear_cache() -> None:
    """Forget the cached definitions, marshmallow fields and user names of this request."""
    if has_app_context() and hasattr(g, CACHE):
        delattr(g, CACHE)


_COLUMNS = ("id", "tenant_id", "entity", "key", "label", "type", "required", "help", "choices", "position", "active")


def definitions(entity: Entity | str, session: Session | None = None) -> list[CustomField]:
    """Every custom field of ``entity`` in the current tenant, archived ones included, in display order.

    The objects are read-only copies, attached to no session (cached for the request).
    """
    plural = _plural(entity)
    key = ("definitions", require_tenant_id(), plural)
    cache = _cache()
    if key not in cache:
        session = session or db.session
        statement = (
            select(*[getattr(CustomField, name) for name in _COLUMNS])
            .where(CustomField.entity == plural)
            .order_by(CustomField.position, CustomField.id)
        )
        cache[key] = [CustomField(**dict(row._mapping)) for row in session.execute(statement)]
    return cache[key]


def fields_for(entity: Entity | str) -> list[CustomField]:
    """The tenant's **active** custom fields of ``entity``, in the order administrators gave them.

    For pages and exports: each field has ``key`` (its name in ``record.custom`` and ``cf_<key>`` in list
    filters), ``label``, ``type`` (which is also its widget: ``text``, ``longtext``, ``number``, ``money``,
    ``date``, ``datetime``, ``bool``, ``choice``, ``multichoice``, ``email``, ``phone``, ``url``, ``user``),
    ``required``, ``help`` and ``choices`` (``[[value, label], ...]``). Show a value with :func:`display`.
    """
    return [field for field in definitions(entity) if field.active]


def field_by_key(entity: Entity | str, key: str, active_only: bool = True) -> CustomField | None:
    for field in definitions(entity):
        if field.key == key and (field.active or not active_only):
            return field
    return None


# ------------------------------------------------------------------------------------------------- users


def _users() -> dict[int, tuple[str, str, bool]]:
    """Every user of the tenant: id -> (display name, e-mail, active), one query per request."""
    key = ("users", require_tenant_id())
    cache = _cache()
    if key not in cache:
        rows = db.session.execute(select(User.id, User.name, User.email, User.active))
        cache[key] = {row.id: (row.name or row.email, row.email, row.active) for row in rows}
    return cache[key]


# ------------------------------------------------------------------------------------------- time zones


def _zone() -> ZoneInfo:
    """The user's time zone in a request, else the tenant's default (jobs, CLI), else UTC."""
    name = None
    if has_request_context():
        from core.i18n import select_timezone

        name = select_timezone()
    else:
        tenant = current_tenant()
        name = getattr(tenant, "default_timezone", None)
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=_zone())


# -------------------------------------------------------------------------------------- marshmallow fields


class _Blank:
    """Blank input (``""`` or only spaces) means "no value"; text is stripped."""

    def deserialize(self, value: Any, attr: str | None = None, data: Any = None, **kwargs: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            if not value:
                value = None
        return super().deserialize(value, attr, data, **kwargs)  # type: ignore[misc]


class TextField(_Blank, fields.String):
    pass


class NumberField(_Blank, fields.Float):
    """A number, stored as a JSON number (whole numbers as integers)."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> int | float:
        if isinstance(value, str):
            value = value.replace(",", "")
        number = super()._deserialize(value, attr, data, **kwargs)
        if abs(Decimal(str(number))) >= NUMBER_LIMIT:
            raise ValidationError(_("The number is too large."))
        return int(number) if float(number).is_integer() else number

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        try:
            return super()._serialize(value, attr, obj, **kwargs)
        except (TypeError, ValueError):
            return value


class MoneyField(_Blank, fields.Decimal):
    """An amount with two decimal places, stored as a string (``"1234.50"``) so no cent is ever lost."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(places=2, as_string=True, rounding=ROUND_HALF_UP, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        if isinstance(value, str):
            value = value.replace(",", "")
        amount = super()._deserialize(value, attr, data, **kwargs)
        if abs(amount) >= NUMBER_LIMIT:
            raise ValidationError(_("The amount is too large."))
        return str(amount)

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        try:
            return super()._serialize(value, attr, obj, **kwargs)
        except (TypeError, ValueError, InvalidOperation):
            return value


class DateField(_Blank, fields.Date):
    """A calendar date, stored as ``"YYYY-MM-DD"``."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        if isinstance(value, dt.datetime):
            raise self.make_error("invalid", input=value, obj_type="date")
        return super()._deserialize(value, attr, data, **kwargs).isoformat()

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value).isoformat()
            except ValueError:
                return value
        return super()._serialize(value, attr, obj, **kwargs)


class DateTimeField(_Blank, fields.DateTime):
    """A moment, stored as ISO 8601 in UTC; input without a time zone is in the user's time zone."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        moment = super()._deserialize(value, attr, data, **kwargs)
        return _aware(moment).astimezone(dt.UTC).isoformat()

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        if isinstance(value, str):
            try:
                return _aware(dt.datetime.fromisoformat(value)).astimezone(dt.UTC).isoformat()
            except ValueError:
                return value
        return super()._serialize(value, attr, obj, **kwargs)


class BoolField(_Blank, fields.Boolean):
    truthy = fields.Boolean.truthy | {"是", "對", "对"}
    falsy = fields.Boolean.falsy | {"否", "不"}


class ChoiceField(_Blank, fields.String):
    """One of the field's choices; a label or a differently-cased value is accepted and stored as the value."""

    def __init__(self, choices: Sequence[Sequence[str]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.choices = [(str(value), str(label)) for value, label in choices]
        self.invalid_choice = _(
            "Not one of the choices: %(choices)s.", choices=", ".join(value for value, _label in self.choices)
        )

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        value = super()._deserialize(value, attr, data, **kwargs)
        folded = value.casefold()
        for choice, _label in self.choices:
            if value == choice:
                return choice
        for choice, label in self.choices:
            if folded in (choice.casefold(), label.casefold()):
                return choice
        raise ValidationError(self.invalid_choice)


class MultiChoiceField(_Blank, fields.List):
    """Several of the field's choices, stored as a list of values; a string is split at commas."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> list[str]:
        if isinstance(value, str):
            value = [part.strip() for part in LIST_SEPARATORS.split(value) if part.strip()]
        chosen = super()._deserialize(value, attr, data, **kwargs)
        return list(dict.fromkeys(chosen))


class EmailField(_Blank, fields.Email):
    pass


class UrlField(_Blank, fields.URL):
    """A web address; ``www.example.com`` is taken as ``https://www.example.com``."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        value = super()._deserialize(value, attr, data, **kwargs)
        if "://" not in value:
            value = "https://" + value
        return value


class UserField(_Blank, fields.Integer):
    """An active user of the tenant, by id (or by e-mail address on input)."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> int:
        users = _users()
        if isinstance(value, str) and "@" in value:
            email = value.strip().lower()
            found = [uid for uid, (_name, address, active) in users.items() if address.lower() == email and active]
            if not found:
                raise ValidationError(_("There is no active user with this e-mail here."))
            return found[0]
        user_id = super()._deserialize(value, attr, data, **kwargs)
        if user_id not in users or not users[user_id][2]:
            raise ValidationError(_("Not an active user of this workspace."))
        return user_id


def phone_validator(value: str) -> None:
    """Digits, ``+``, spaces, dashes and parentheses, with 6 to 20 digits."""
    digits = sum(ch.isdigit() for ch in value)
    if not PHONE_CHARS.match(value) or not 6 <= digits <= 20:
        raise ValidationError(_("Enter a phone number: 6 to 20 digits, with +, spaces, dashes or parentheses."))


def build_field(field: CustomField, required: bool | None = None) -> fields.Field:
    """The marshmallow field of one custom field (``required`` overrides the definition's flag)."""
    required = field.required if required is None else required
    missing = _("This field is required.")
    metadata: dict[str, Any] = {
        "label": field.label,
        "widget": field.type,
        "help": field.help or "",
        "synonyms": [field.label, field.key],
        "custom": True,
        "field_id": field.id,
    }
    if field.type in CHOICE_TYPES:
        metadata["choices"] = [(str(value), str(label)) for value, label in (field.choices or [])]
    common: dict[str, Any] = {
        "required": required,
        "allow_none": not required,
        "metadata": metadata,
        "error_messages": {"required": missing, "null": missing},
    }

    def messages(invalid: str) -> dict[str, Any]:
        return {**common, "error_messages": {**common["error_messages"], "invalid": invalid}}

    too_long = _("Use at most %(max)d characters.", max=TEXT_INDEX_MAX)
    kind = field.type
    if kind == "text":
        return TextField(validate=validate.Length(max=TEXT_INDEX_MAX, error=too_long), **common)
    if kind == "longtext":
        limit = _("Use at most %(max)d characters.", max=LONGTEXT_MAX)
        return TextField(validate=validate.Length(max=LONGTEXT_MAX, error=limit), **common)
    if kind == "number":
        return NumberField(allow_nan=False, **messages(_("Enter a number.")))
    if kind == "money":
        return MoneyField(**messages(_("Enter an amount, such as 1234.50.")))
    if kind == "date":
        return DateField(**messages(_("Enter a date as YYYY-MM-DD.")))
    if kind == "datetime":
        return DateTimeField(**messages(_("Enter a date and time, such as 2024-05-01 14:30.")))
    if kind == "bool":
        return BoolField(**messages(_("Choose yes or no.")))
    if kind == "choice":
        return ChoiceField(field.choices or [], **messages(_("Choose one of the choices.")))
    if kind == "multichoice":
        inner = ChoiceField(field.choices or [], error_messages={"invalid": _("Choose one of the choices.")})
        at_least_one = validate.Length(min=1, error=missing) if required else None
        return MultiChoiceField(inner, validate=at_least_one, **messages(_("Choose from the choices.")))
    if kind == "email":
        return EmailField(
            validate=validate.Length(max=TEXT_INDEX_MAX, error=too_long),
            **messages(_("Enter a valid e-mail address.")),
        )
    if kind == "phone":
        return TextField(validate=phone_validator, **common)
    if kind == "url":
        return UrlField(
            schemes={"http", "https"},
            validate=validate.Length(max=2000, error=_("Use at most %(max)d characters.", max=2000)),
            **messages(_("Enter a valid web address, such as https://example.com.")),
        )
    if kind == "user":
        return UserField(strict=False, **messages(_("Choose a user.")))
    raise ValueError(f"unknown custom field type {kind!r}")


def marshmallow_fields(entity: Entity) -> dict[str, fields.Field]:
    """``{key: marshmallow field}`` for the tenant's active custom fields of ``entity`` (cached per request).

    ``schema_for(entity)`` nests them under ``custom``. Each field carries ``metadata`` ``label``, ``widget``
    (the field type), ``help``, ``choices`` (choice types), ``synonyms`` (label and key, for import mapping),
    ``custom=True`` and ``field_id``. Loaded values are JSON-ready for ``record.custom``.
    """
    key = ("marshmallow", require_tenant_id(), entity.plural, str(get_locale()))
    cache = _cache()
    if key not in cache:
        cache[key] = {field.key: build_field(field) for field in fields_for(entity)}
    return dict(cache[key])


# ----------------------------------------------------------------------------------------------- display


def _format_number(value: Any) -> str:
    from babel.numbers import format_decimal

    return format_decimal(Decimal(str(value)), locale=get_locale())


def _user_name(value: Any) -> str:
    try:
        user = _users().get(int(value))
    except (TypeError, ValueError):
        return str(value)
    return user[0] if user else f"#{value}"


def display(field: CustomField, value: Any) -> str:
    """``value`` (as stored in ``record.custom[field.key]``) formatted for people, for detail pages and exports.

    Choice values become their labels (a multiple choice joins them with commas), yes/no is translated, numbers
    and money are formatted for the user's language (money in the workspace currency), dates and times are
    shown in the user's time zone (the workspace's outside a request), users by name. No value gives ``""``.
    """
    if value is None or value == "" or value == []:
        return ""
    from babel.dates import format_date, format_datetime
    from babel.numbers import format_currency

    kind = field.type
    try:
        if kind == "bool":
            return _("Yes") if value else _("No")
        if kind == "choice":
            return field.choice_labels.get(str(value), str(value))
        if kind == "multichoice":
            labels = field.choice_labels
            return ", ".join(labels.get(str(v), str(v)) for v in (value if isinstance(value, list) else [value]))
        if kind == "number":
            return _format_number(value)
        if kind == "money":
            tenant = current_tenant()
            currency = getattr(tenant, "currency", None) or "TWD"
            return format_currency(Decimal(str(value)), currency, locale=get_locale())
        if kind == "date":
            return format_date(dt.date.fromisoformat(str(value)), format="medium", locale=get_locale())
        if kind == "datetime":
            moment = _aware(dt.datetime.fromisoformat(str(value)))
            return format_datetime(moment, format="medium", tzinfo=_zone(), locale=get_locale())
        if kind == "user":
            return _user_name(value)
    except (TypeError, ValueError, InvalidOperation):
        return str(value)
    return str(value)


# ------------------------------------------------------------------------------------------------ index


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _index_text(field: CustomField, value: Any) -> str:
    text = str(value).strip()
    if field.type == "phone":
        text = _digits(text) or text
    return text.lower()[:TEXT_INDEX_MAX]


def _index_rows(field: CustomField, value: Any) -> list[dict[str, Any]]:
    """The CustomValue columns of one stored value (several for a multiple choice); [] when not indexable."""
    if value is None or value == "" or value == []:
        return []
    kind = field.type
    try:
        if kind == "multichoice":
            items = value if isinstance(value, list) else [value]
            texts = dict.fromkeys(_index_text(field, item) for item in items if item not in (None, ""))
            return [{"value_text": text} for text in texts]
        if kind in TEXT_TYPES:
            return [{"value_text": _index_text(field, value)}]
        if kind == "bool":
            return [{"value_number": Decimal(1 if value else 0)}]
        if kind in NUMBER_TYPES:
            if isinstance(value, bool):
                return []
            number = Decimal(value) if isinstance(value, int) else Decimal(str(value)).quantize(MICRO)
            return [{"value_number": number}] if abs(number) < NUMBER_LIMIT else []
        if kind == "date":
            day = dt.date.fromisoformat(str(value))
            return [{"value_date": dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)}]
        if kind == "datetime":
            moment = dt.datetime.fromisoformat(str(value))
            moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
            return [{"value_date": moment.astimezone(dt.UTC)}]
    except (TypeError, ValueError, InvalidOperation):
        return []
    return []


def _chunks(items: Sequence[Any], size: int = BATCH) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _write_index(
    session: Session,
    tenant_id: int,
    plural: str,
    records: Mapping[int, Mapping[str, Any] | None],
    fields_by_key: Mapping[str, CustomField] | None = None,
) -> int:
    """Replace the index rows of ``records`` (id -> custom values; ``None`` only removes). Kernel-level Core."""
    table = CustomValue.__table__
    connection = session.connection()
    ids = list(records)
    for chunk in _chunks(ids):
        connection.execute(
            delete(table).where(table.c.tenant_id == tenant_id, table.c.entity == plural, table.c.record_id.in_(chunk))
        )
    if fields_by_key is None:
        fields_by_key = {field.key: field for field in definitions(plural, session)}
    rows: list[dict[str, Any]] = []
    written = 0
    for record_id, custom in records.items():
        for key, value in (custom or {}).items():
            field = fields_by_key.get(key)
            if field is None:
                continue
            for columns in _index_rows(field, value):
                rows.append(
                    {
                        "tenant_id": tenant_id,
                        "entity": plural,
                        "field_id": field.id,
                        "record_id": record_id,
                        "value_text": columns.get("value_text"),
                        "value_number": columns.get("value_number"),
                        "value_date": columns.get("value_date"),
                    }
                )
        if len(rows) >= BATCH * 4:
            connection.execute(insert(table), rows)
            written += len(rows)
            rows = []
    if rows:
        connection.execute(insert(table), rows)
        written += len(rows)
    return written


def _record_items(records: Iterable[Any]) -> dict[int, Mapping[str, Any] | None]:
    items: dict[int, Mapping[str, Any] | None] = {}
    for record in records:
        if isinstance(record, Mapping):
            items[int(record["id"])] = record.get("custom")
        else:
            items[int(record.id)] = record.custom
    return items


def index_values(entity: Entity | str, records: Iterable[Any]) -> int:
    """Rebuild the custom-field index of ``records`` after writes that bypassed the ORM session.

    ``records`` are model instances or mappings with ``id`` and ``custom``. Records added with
    ``db.session.add()`` are indexed automatically when flushed; call this after bulk statements such as
    ``db.session.execute(insert(Model), rows)`` (an import), in the same transaction. Returns the number of
    index rows written. After loading very many rows, PostgreSQL plans filters well once it has statistics of
    them: autovacuum analyses the tables soon after; ``ANALYZE custom_values`` does it at once.
    """
    items = _record_items(records)
    if not items:
        return 0
    return _write_index(db.session, require_tenant_id(), _plural(entity), items)


def remove_values(entity: Entity | str, record_ids: Iterable[int]) -> None:
    """Drop the index rows of records deleted with a bulk ``DELETE`` (records moved to the trash keep them)."""
    ids = [int(i) for i in record_ids]
    if ids:
        _write_index(db.session, require_tenant_id(), _plural(entity), dict.fromkeys(ids), {})


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return _aware(value).astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(item) for item in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def _normalise(record: Any) -> None:
    """Make ``record.custom`` JSON-ready (a Decimal or date set by code that skipped the schema)."""
    custom = record.custom
    if custom is None:
        return
    clean = _jsonable(custom)
    if clean != custom:
        record.custom = clean


@event.listens_for(TenantSession, "before_flush")
def _collect_custom_values(session: Session, flush_context: Any, instances: Any) -> None:
    pending: dict[int, tuple[str, Any]] = {}
    definitions_changed = False
    for obj in session.new:
        if isinstance(obj, CustomField | User):
            definitions_changed = True
        elif isinstance(obj, Record) and obj.custom:
            _normalise(obj)
            pending[id(obj)] = ("index", obj)
    for obj in session.dirty:
        if isinstance(obj, CustomField | User):
            definitions_changed = True
        elif isinstance(obj, Record) and inspect(obj).attrs.custom.history.has_changes():
            _normalise(obj)
            pending[id(obj)] = ("index", obj)
    for obj in session.deleted:
        if isinstance(obj, CustomField | User):
            definitions_changed = True
        elif isinstance(obj, Record):
            pending[id(obj)] = ("remove", obj)
    if definitions_changed:
        clear_cache()
    session.info[PENDING] = pending


@event.listens_for(TenantSession, "after_flush")
def _sync_custom_values(session: Session, flush_context: Any) -> None:
    pending = session.info.pop(PENDING, None)
    tenant_id = current_tenant_id()
    if not pending or tenant_id is None or not has_app_context():
        return
    from core.entities.registry import entity_for_model

    plurals: dict[type, str | None] = {}
    groups: dict[str, dict[int, Mapping[str, Any] | None]] = {}
    for action, obj in pending.values():
        model = type(obj)
        if model not in plurals:
            entity = entity_for_model(model)
            plurals[model] = entity.plural if entity is not None else None
        plural = plurals[model]
        if plural is None or obj.tenant_id != tenant_id or obj.id is None:
            continue
        groups.setdefault(plural, {})[obj.id] = obj.custom if action == "index" else None
    for plural, items in groups.items():
        _write_index(session, tenant_id, plural, items)


@event.listens_for(TenantSession, "after_soft_rollback")
def _forget_pending(session: Session, previous_transaction: Any) -> None:
    session.info.pop(PENDING, None)
    clear_cache()


# ------------------------------------------------------------------------------------------------ filters


def _query_error(key: str, message: str) -> Exception:
    from core.entities.query import QueryError

    return QueryError({f"cf_{key}": [message]})


def _resolve_choice(field: CustomField, raw: str) -> str:
    folded = raw.strip().casefold()
    for value, label in field.choices or []:
        if folded in (str(value).casefold(), str(label).casefold()):
            return str(value)
    raise ValueError(raw)


def _filter_value(field: CustomField, raw: Any, op: str) -> tuple[Any, Any]:
    """A filter's string as the index column's value: ``(value, end)``; ``end`` is set for a whole day."""
    text = str(raw).strip()
    kind = field.type
    if kind in CHOICE_TYPES:
        return _index_text(field, _resolve_choice(field, text)), None
    if kind in TEXT_TYPES:
        return _index_text(field, text), None
    if kind == "bool":
        word = text.lower()
        if word in TRUE_WORDS or word in ("是", "對", "对"):
            return Decimal(1), None
        if word in FALSE_WORDS or word in ("否", "不"):
            return Decimal(0), None
        raise ValueError(text)
    if kind == "user":
        return Decimal(int(text)), None
    if kind in ("number", "money"):
        number = Decimal(text.replace(",", ""))
        if not number.is_finite():
            raise ValueError(text)
        return number, None
    if kind == "date":
        day = dt.date.fromisoformat(text)
        return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC), None
    if kind == "datetime":
        if len(text) <= 10:  # a date alone: that whole day in the user's time zone
            day = dt.date.fromisoformat(text)
            start = dt.datetime(day.year, day.month, day.day, tzinfo=_zone())
            return start.astimezone(dt.UTC), (start + dt.timedelta(days=1)).astimezone(dt.UTC)
        return _aware(dt.datetime.fromisoformat(text)).astimezone(dt.UTC), None
    raise ValueError(text)


def _value_column(field: CustomField) -> Any:
    if field.type in TEXT_TYPES:
        return CustomValue.value_text
    if field.type in NUMBER_TYPES:
        return CustomValue.value_number
    return CustomValue.value_date


def _holds(entity: Entity, field: CustomField, conditions: Sequence[Any], exact: bool = False) -> Any:
    """Records with a value of ``field`` meeting ``conditions``, as the database plans best.

    PostgreSQL and MariaDB get a correlated ``EXISTS``: their planners turn it into a semi-join and choose,
    from their statistics, between probing each listed record (a common value) and reading the value index
    first (a rare value). SQLite plans a correlated subquery as a probe per row and has no statistics, so
    the choice is made here: when the value index holds few matches the ids are read from it once
    (``id IN (SELECT record_id ...)``, a list SQLite builds once); otherwise each row is probed. An ``exact``
    test (equal to one or a few values) probes ``(tenant_id, field_id, value, record_id)`` with one seek that
    reads the index alone; any other test reads the record's few values through ``(tenant_id, entity,
    record_id)``.
    """
    tenant_id = require_tenant_id()
    model = entity.model
    sqlite = db.session.get_bind().dialect.name == "sqlite"
    if sqlite and conditions:
        matching = select(CustomValue.record_id).where(
            CustomValue.tenant_id == tenant_id, CustomValue.field_id == field.id, *conditions
        )
        found = db.session.scalar(select(func.count()).select_from(matching.limit(FEW).subquery()))
        if (found or 0) < FEW:
            return model.id.in_(matching)
    if exact:
        # The field belongs to the entity, so no test of ``entity`` (which the value index does not hold).
        return exists(
            select(CustomValue.id).where(
                CustomValue.tenant_id == tenant_id,
                CustomValue.field_id == field.id,
                *conditions,
                CustomValue.record_id == model.id,
            )
        )
    # On SQLite "field_id + 0" keeps the planner off the value indexes for the per-row probe (a range of
    # values would be read for every row).
    same_field = (CustomValue.field_id + 0 == field.id) if sqlite else (CustomValue.field_id == field.id)
    return exists(
        select(CustomValue.id).where(
            CustomValue.tenant_id == tenant_id,
            CustomValue.entity == entity.plural,
            CustomValue.record_id == model.id,
            same_field,
            *conditions,
        )
    )


def criterion(entity: Entity, key: str, op: str, values: list[Any]) -> Any:
    """SQL criterion on ``entity.model.id`` for the list filter ``cf_<key>[__<op>]``.

    Each test reads the :class:`CustomValue` index of the field: an ``EXISTS`` (or, on SQLite when few records
    match, an ``IN`` over the value index; see :func:`_holds`), so it stays fast at a million rows. Operators
    follow the query layer: ``eq`` (any of the values; for a multiple choice: the record has one of them),
    ``ne`` (has a value and none of them), ``gte``/``lte``/``gt``/``lt`` (numbers, money, dates, date-times,
    text), ``contains`` (text, matched case-insensitively; phone numbers by digits) and ``empty`` (``1``: no
    value; ``0``: has one). Filter values arrive as strings: numbers as ``1234.5``, dates ``YYYY-MM-DD``,
    date-times ISO 8601 (a date alone is that whole day in the user's time zone), yes/no as ``1``/``0``,
    choices by value or label, users by id. Raises :class:`core.entities.query.QueryError` for an unknown or
    archived field or a bad value.
    """
    return criterion_and_source(entity, key, op, values)[0]


def criterion_and_source(entity: Entity, key: str, op: str, values: list[Any]) -> tuple[Any, Select | None, bool]:
    """:func:`criterion`; a SELECT of record ids (labelled ``rid``) that holds the id of every record the
    criterion accepts, read from a value index alone (``None`` for "has no value"); and whether being in that
    SELECT is the whole criterion (not for ``ne``: a value, and none of the given ones).

    The query layer drives a filtered list's count from these id lists."""
    field = field_by_key(entity, key)
    if field is None:
        raise _query_error(key, _("Unknown custom field."))
    column = _value_column(field)
    kind = field.type

    def holds(*conditions: Any, exact: bool = False) -> Any:
        return _holds(entity, field, conditions, exact)

    def source(*conditions: Any) -> Select:
        return select(CustomValue.record_id.label("rid")).where(
            CustomValue.tenant_id == require_tenant_id(), CustomValue.field_id == field.id, *conditions
        )

    if op == "empty":
        wanted = not values or str(values[0]).strip().lower() in TRUE_WORDS
        return (not_(holds()), None, False) if wanted else (holds(), source(), True)
    if not values:
        raise _query_error(key, _("Give a value to filter by."))
    if op == "contains":
        if kind not in TEXT_TYPES:
            raise _query_error(key, _("This filter does not apply to this field."))
        words = [word for word in (_index_text(field, v) for v in values) if word]
        conditions = [or_(*[column.contains(word, autoescape=True) for word in words])] if words else []
        return holds(*conditions), source(*conditions), True
    if op in ("gte", "lte", "gt", "lt") and kind in ("bool", "choice", "multichoice", "user"):
        raise _query_error(key, _("This filter does not apply to this field."))
    try:
        converted = [_filter_value(field, value, op) for value in values]
    except (ValueError, InvalidOperation):
        if kind in CHOICE_TYPES:
            labels = ", ".join(str(value) for value, _label in field.choices or [])
            raise _query_error(key, _("Not one of the choices: %(choices)s.", choices=labels)) from None
        raise _query_error(key, _("Not a valid value for this field.")) from None

    def equal(value: Any, end: Any) -> Any:
        return column == value if end is None else and_(column >= value, column < end)

    if op in ("eq", "ne"):
        if all(end is None for _value, end in converted):
            plain = [value for value, _end in converted]
            condition = column.in_(plain) if len(plain) > 1 else column == plain[0]
            matches = holds(condition, exact=True)
        else:
            condition = or_(*[equal(value, end) for value, end in converted])
            matches = holds(condition)
        if op == "eq":
            return matches, source(condition), True
        return and_(holds(), not_(matches)), source(), False
    conditions = []
    for value, end in converted:
        if op == "gte":
            conditions.append(column >= value)
        elif op == "lt":
            conditions.append(column < value)
        elif op == "gt":
            conditions.append(column > value if end is None else column >= end)
        elif op == "lte":
            conditions.append(column <= value if end is None else column < end)
        else:
            raise _query_error(key, _("Unknown operator %(op)s.", op=op))
    return holds(*conditions), source(*conditions), True


# ---------------------------------------------------------------------------------- administration


def parse_choices(text: str) -> list[list[str]]:
    """``value | label`` lines (a line without ``|`` is both) as ``[[value, label], ...]``; FieldError if bad."""
    choices: list[list[str]] = []
    seen: set[str] = set()
    problems: list[str] = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        value, _sep, label = line.partition("|")
        value, label = value.strip(), (label.strip() or value.strip())
        if not value:
            problems.append(_("Line %(line)d has no value before the |.", line=number))
        elif any(ch in value for ch in ",;"):
            problems.append(_("Line %(line)d: a value cannot contain a comma or a semicolon.", line=number))
        elif len(value) > CHOICE_MAX or len(label) > CHOICE_MAX:
            problems.append(_("Line %(line)d is longer than %(max)d characters.", line=number, max=CHOICE_MAX))
        elif value.casefold() in seen:
            problems.append(_("Line %(line)d repeats the value %(value)s.", line=number, value=value))
        else:
            seen.add(value.casefold())
            choices.append([value, label])
    if len(choices) > MAX_CHOICES:
        problems.append(_("At most %(max)d choices.", max=MAX_CHOICES))
    if problems:
        raise FieldError({"choices": problems})
    return choices


def _clean(
    *,
    label: str,
    type: str,  # noqa: A002
    help: str,  # noqa: A002
    choices: Sequence[Sequence[str]] | str | None,
) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    label = " ".join((label or "").split())
    if not label:
        errors["label"] = [_("Give the field a label.")]
    elif len(label) > LABEL_MAX:
        errors["label"] = [_("Use at most %(max)d characters.", max=LABEL_MAX)]
    if type not in TYPES:
        errors["type"] = [_("Choose a type.")]
    help = (help or "").strip()
    if len(help) > HELP_MAX:
        errors["help"] = [_("Use at most %(max)d characters.", max=HELP_MAX)]
    cleaned_choices: list[list[str]] | None = None
    if type in CHOICE_TYPES:
        try:
            if isinstance(choices, str):
                cleaned_choices = parse_choices(choices)
            else:
                lines = "\n".join(f"{value} | {label}" for value, label in (choices or []))
                cleaned_choices = parse_choices(lines)
            if not cleaned_choices:
                errors["choices"] = [_("Give at least one choice, one per line.")]
        except FieldError as exc:
            errors.update(exc.errors)
    if errors:
        raise FieldError(errors)
    return {"label": label, "type": type, "help": help, "choices": cleaned_choices}


def create_field(
    entity: Entity | str,
    *,
    key: str,
    label: str,
    type: str,  # noqa: A002
    required: bool = False,
    help: str = "",  # noqa: A002
    choices: Sequence[Sequence[str]] | str | None = None,
    position: int | None = None,
    active: bool = True,
) -> CustomField:
    """Add a custom field to ``entity`` in the current tenant (flushed, not committed); FieldError if refused.

    ``key`` is a lower-case identifier (letters, digits, ``_``), unique per entity and fixed for ever;
    ``choices`` is ``[[value, label], ...]`` or the ``value | label`` lines of the administration form.
    """
    plural = _plural(entity)
    errors: dict[str, list[str]] = {}
    key = (key or "").strip()
    if not KEY_PATTERN.match(key) or len(key) > KEY_MAX:
        errors["key"] = [
            _(
                "Use lower-case letters, digits and _, starting with a letter (at most %(max)d characters).",
                max=KEY_MAX,
            )
        ]
    elif db.session.scalar(select(CustomField.id).where(CustomField.entity == plural, CustomField.key == key)):
        errors["key"] = [_("This key is already used by another field of this kind of record.")]
    count = db.session.scalar(select(func.count(CustomField.id)).where(CustomField.entity == plural)) or 0
    if count >= MAX_FIELDS:
        errors["key"] = [_("A kind of record can have at most %(max)d custom fields.", max=MAX_FIELDS)]
    try:
        cleaned = _clean(label=label, type=type, help=help, choices=choices)
    except FieldError as exc:
        errors.update(exc.errors)
    if errors:
        raise FieldError(errors)
    if position is None:
        highest = db.session.scalar(select(func.max(CustomField.position)).where(CustomField.entity == plural))
        position = (highest or 0) + 10
    field = CustomField(entity=plural, key=key, required=bool(required), position=int(position), active=active)
    for name, value in cleaned.items():
        setattr(field, name, value)
    db.session.add(field)
    db.session.flush()
    return field


def _entity_of(field: CustomField) -> Entity | None:
    from core.entities.registry import all_entities

    return all_entities().get(field.entity)


def _record_ids(field_id: int) -> Iterable[list[int]]:
    """Ids of the records holding a value of the field (trash included), in batches."""
    last = 0
    while True:
        batch = list(
            db.session.scalars(
                select(CustomValue.record_id)
                .where(CustomValue.field_id == field_id, CustomValue.record_id > last)
                .group_by(CustomValue.record_id)
                .order_by(CustomValue.record_id)
                .limit(BATCH)
            )
        )
        if not batch:
            return
        yield batch
        last = batch[-1]


def _stored(entity: Entity, ids: Sequence[int]) -> list[tuple[int, dict[str, Any]]]:
    model = entity.model
    rows = db.session.execute(
        select(model.id, model.custom).where(model.id.in_(ids)).execution_options(include_deleted=True)
    )
    return [(row.id, dict(row.custom or {})) for row in rows]


def _rewrite(entity: Entity, customs: Mapping[int, dict[str, Any]]) -> None:
    """Store new ``custom`` values (Core executemany), bumping ``version`` so open editors see a conflict."""
    if not customs:
        return
    table = entity.model.__table__
    statement = (
        update(table)
        .where(table.c.id == bindparam("b_id"), table.c.tenant_id == require_tenant_id())
        .values(
            custom=bindparam("b_custom", type_=table.c.custom.type),
            version=table.c.version + 1,
            updated_at=table.c.updated_at,
        )
    )
    db.session.connection().execute(statement, [{"b_id": i, "b_custom": c} for i, c in customs.items()])
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, entity.model) and obj.id in customs:
            db.session.expire(obj)


def _prepare(kind: str, value: Any) -> Any:
    """A stored value in the shape the new type's field reads (so compatible values convert)."""
    if kind == "multichoice":
        items = value if isinstance(value, list) else [value]
        return [str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v for v in items]
    if isinstance(value, list):
        value = value[0] if len(value) == 1 else value
    if kind in TEXT_TYPES and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def _convert_values(field: CustomField, new: CustomField, write: bool) -> tuple[int, tuple[int, Any] | None]:
    """Check (and with ``write``, store) every stored value of ``field`` as the definition ``new``.

    Returns the number of values that would not convert and the first of them (record id, value).
    """
    entity = _entity_of(field)
    if entity is None:
        return 0, None
    reader = build_field(new, required=False)
    failures, example = 0, None
    for ids in _record_ids(field.id):
        changed: dict[int, dict[str, Any]] = {}
        values: dict[int, Any] = {}
        for record_id, custom in _stored(entity, ids):
            old = custom.get(field.key)
            if old is None or old == "" or old == []:
                continue
            try:
                converted = reader.deserialize(_prepare(new.type, old))
            except ValidationError:
                failures += 1
                example = example or (record_id, old)
                continue
            values[record_id] = converted
            if converted != old or type(converted) is not type(old):
                changed[record_id] = {**custom, field.key: converted}
        if write:
            _rewrite(entity, changed)
            table = CustomValue.__table__
            db.session.connection().execute(
                delete(table).where(
                    table.c.tenant_id == require_tenant_id(), table.c.field_id == field.id, table.c.record_id.in_(ids)
                )
            )
            _write_index_rows(entity.plural, new, values)
    return failures, example


def _write_index_rows(plural: str, field: CustomField, values: Mapping[int, Any]) -> None:
    rows = [
        {
            "tenant_id": require_tenant_id(),
            "entity": plural,
            "field_id": field.id,
            "record_id": record_id,
            "value_text": columns.get("value_text"),
            "value_number": columns.get("value_number"),
            "value_date": columns.get("value_date"),
        }
        for record_id, value in values.items()
        for columns in _index_rows(field, value)
    ]
    if rows:
        db.session.connection().execute(insert(CustomValue.__table__), rows)


def update_field(
    field: CustomField,
    *,
    label: str,
    type: str,  # noqa: A002
    required: bool = False,
    help: str = "",  # noqa: A002
    choices: Sequence[Sequence[str]] | str | None = None,
    position: int | None = None,
) -> None:
    """Change a field (its key never changes). A new type or new choices are checked against every stored
    value first: if one would not convert, nothing changes and FieldError says which; otherwise the values are
    converted (``"42"`` text becomes the number 42) and re-indexed in the same transaction."""
    cleaned = _clean(label=label, type=type, help=help, choices=choices)
    new = CustomField(
        id=field.id,
        tenant_id=field.tenant_id,
        entity=field.entity,
        key=field.key,
        required=False,
        **cleaned,
    )
    reshaped = cleaned["type"] != field.type
    rechosen = cleaned["type"] in CHOICE_TYPES and cleaned["choices"] != (field.choices or None)
    if reshaped or rechosen:
        failures, example = _convert_values(field, new, write=False)
        if failures:
            record_id, value = example or (0, "")
            shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
            if reshaped:
                message = ngettext(
                    "%(num)d record has a value that is not a valid %(type)s, such as “%(value)s” (record "
                    "%(id)s). Change it first, or add a new field instead.",
                    "%(num)d records have values that are not a valid %(type)s, such as “%(value)s” (record "
                    "%(id)s). Change them first, or add a new field instead.",
                    failures,
                    type=str(TYPES[cleaned["type"]]).lower(),
                    value=shown[:80],
                    id=record_id,
                )
                raise FieldError({"type": [message]})
            message = ngettext(
                "%(num)d record uses a choice that would no longer exist, such as “%(value)s” (record %(id)s). "
                "Change it first, or keep the choice.",
                "%(num)d records use choices that would no longer exist, such as “%(value)s” (record %(id)s). "
                "Change them first, or keep the choices.",
                failures,
                value=shown[:80],
                id=record_id,
            )
            raise FieldError({"choices": [message]})
    for name, value in cleaned.items():
        setattr(field, name, value)
    field.required = bool(required)
    if position is not None:
        field.position = int(position)
    db.session.flush()
    if reshaped or rechosen:  # values convert ("42" to 42, "gold" to the choice "Gold") and are re-indexed
        _convert_values(field, new, write=True)


def archive_field(field: CustomField) -> None:
    """Hide the field from forms, lists, filters, import, export and the API; its values stay in the records."""
    field.active = False
    db.session.flush()


def restore_field(field: CustomField) -> None:
    field.active = True
    db.session.flush()


def usage(field: CustomField) -> int:
    """How many records (the trash included) hold a value of the field."""
    statement = select(func.count(func.distinct(CustomValue.record_id))).where(CustomValue.field_id == field.id)
    return db.session.scalar(statement) or 0


def delete_field(field: CustomField, user_id: int | None = None) -> str | None:
    """Delete an archived field and its values (records' JSON and the index) in one transaction.

    Up to PURGE_INLINE records are cleaned at once (the caller commits) and ``None`` is returned; beyond
    that a background job does it and its id is returned. FieldError if the field is still active.
    """
    if field.active:
        raise FieldError({"field": [_("Archive the field before deleting it.")]})
    if usage(field) > PURGE_INLINE:
        from core.jobs import enqueue

        return enqueue(
            "core.entities.custom_fields:purge_field",
            field_id=field.id,
            user_id=user_id,
            name=f"custom_fields.delete:{field.entity}.{field.key}",
        )
    purge_field(field.id)
    return None


def purge_field(field_id: int, job: Any = None) -> dict[str, int]:
    """Remove a field's values from every record's ``custom``, its index rows, then the field (a job body)."""
    field = db.session.scalar(select(CustomField).where(CustomField.id == field_id))
    if field is None:
        return {"records": 0}
    entity = _entity_of(field)
    total = usage(field)
    done = 0
    # SQLite has one writer: a progress row committed from another connection would wait for this transaction.
    report = job is not None and db.session.get_bind().dialect.name != "sqlite"
    if job is not None:
        job.progress(0, total)
    if entity is not None:
        for ids in _record_ids(field.id):
            customs = {
                record_id: {k: v for k, v in custom.items() if k != field.key}
                for record_id, custom in _stored(entity, ids)
                if field.key in custom
            }
            _rewrite(entity, customs)
            done += len(ids)
            table = CustomValue.__table__
            db.session.connection().execute(
                delete(table).where(
                    table.c.tenant_id == require_tenant_id(), table.c.field_id == field.id, table.c.record_id.in_(ids)
                )
            )
            if report:
                job.progress(done, total)
    table = CustomValue.__table__
    db.session.connection().execute(
        delete(table).where(table.c.tenant_id == require_tenant_id(), table.c.field_id == field.id)
    )
    db.session.delete(field)
    db.session.flush()
    return {"records": done}


def entity_choices() -> list[Entity]:
    """The entities of the current request's tenant that can have custom fields, by label."""
    from core.entities.registry import enabled_entities

    return sorted(enabled_entities().values(), key=lambda e: (e.menu_order, str(e.label_plural)))
