"""The import itself: turn rows into validated records, then store them all or none.

Two passes, both in constant memory. The first reads the file row by row, converts each mapped cell (labels of
choices to their values, user e-mails to ids, Taiwanese dates to ISO ...), validates batches of rows with the
entity's marshmallow schema (one instance, reused) and spools the validated data to a temporary file; it collects
errors with their row number and column header. Only when no row has an error does the second pass read the spool
back and write every row, in batches, in the caller's single transaction: new rows in bulk, matched rows updated or
skipped. Anything going wrong in the second pass rolls the whole transaction back.
"""

from __future__ import annotations

import datetime as dt
import decimal
import pickle
import re
import tempfile
import unicodedata
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from flask_babel import gettext as _
from marshmallow import ValidationError
from marshmallow import fields as mf
from sqlalchemy import String, inspect, select
from sqlalchemy.exc import SQLAlchemyError

from core import db
from core.db import utcnow
from core.entities.bulk import BulkWriter
from core.entities.definition import Entity
from core.entities.importing.loading import batch_schema
from core.entities.importing.mapping import IGNORE, Target, _labels, name_part, normalise, targets
from core.entities.importing.readers import Table
from core.entities.schemas import CUSTOM, schema_for
from core.permissions import scope_criterion, scope_for

BATCH = 1000
MAX_ERRORS = 1000
DUPLICATES = ("skip", "update", "create")
TAGS = "tags"
PHONE_DIGITS = 9

# progress(phase, rows, fraction): phase "check" then "write", or "import" when a checker does both at once.
Progress = Callable[[str, int, float], None]


class ConvertError(ValueError):
    """A cell that cannot become a value of its field; the message is for the user."""


@dataclass
class RowError:
    row: int
    column: str
    message: str


@dataclass
class ImportResult:
    rows: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    error_count: int = 0
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False
    stored: bool = False

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def add_error(self, row: int, column: str, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(RowError(row, column, message))

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ImportResult:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["errors"] = [RowError(**e) for e in data.get("errors", [])]
        return cls(**known)


@dataclass
class Plan:
    """The user's choices: a target per column (``""`` ignores it), duplicate handling and the field to match on."""

    mapping: list[str]
    on_duplicate: str = "skip"
    match: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------------------------------- conversions

_CURRENCY = re.compile(r"^(?:NT\$|US\$|HK\$|RMB|CNY|TWD|USD|[$¥€£])")
_SEPARATORS = re.compile(r"[\s,_'’]")
_DATE = re.compile(r"^(\d{2,4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[T\s]+(.*))?$")
_SPLIT = re.compile(r"\s*[,，;；、|\n]\s*")
_TRUE = {"true", "yes", "y", "1", "on", "是", "對", "对", "有", "v", "✓", "✔", "x"}
_FALSE = {"false", "no", "n", "0", "off", "否", "不", "不是", "無", "无", ""}
_EMAIL_IN = re.compile(r"<([^<>@\s]+@[^<>\s]+)>")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _number(text: str) -> str:
    """``NT$1,234.50``, ``１２３`` (full-width) and ``(12)`` (accounting negative) as plain numbers."""
    text = _SEPARATORS.sub("", unicodedata.normalize("NFKC", text))
    negative = text.startswith("(") and text.endswith(")")
    if negative:
        text = text[1:-1]
    text = _CURRENCY.sub("", text)
    return "-" + text if negative else text


def _date_text(text: str, with_time: bool) -> str:
    """``2024/1/5``, ``2024年1月5日`` and Taiwan's ``113/01/05`` (year of the Republic) as ISO dates."""
    text = unicodedata.normalize("NFKC", text).strip()
    match = _DATE.match(text)
    if not match:
        return text
    year, month, day, rest = int(match[1]), int(match[2]), int(match[3]), (match[4] or "").strip()
    if year < 1000:
        year += 1911
    iso = f"{year:04d}-{month:02d}-{day:02d}"
    if not rest:
        return iso
    if with_time:
        return f"{iso}T{rest}"
    return iso if re.fullmatch(r"0{1,2}:00(:00(\.0+)?)?", rest) else text


def _split(text: str) -> list[str]:
    return [part for part in _SPLIT.split(text.strip()) if part]


def _choice_lookup(choices: Sequence[Any]) -> dict[str, Any]:
    lookup: dict[str, Any] = {}
    for choice in choices:
        value, label = (choice if isinstance(choice, tuple | list) else (choice, choice))[:2]
        for text in _labels(label):
            lookup.setdefault(normalise(text), value)
        lookup[normalise(value)] = value
    return lookup


class Lookups:
    """Users and departments of the tenant by e-mail and name, loaded once per import; records other fields refer
    to by title, resolved a batch at a time within the importing user's view scope."""

    def __init__(self, user: Any = None) -> None:
        self._users: dict[str, Any] | None = None
        self._departments: dict[str, Any] | None = None
        self._titles: dict[str, dict[str, int | None | bool]] = {}
        self.user = user

    def learn_titles(self, entity: Entity, texts: Iterable[str]) -> None:
        """Resolve the titles of ``entity`` not seen yet, in one query (``core.entities.references``)."""
        from core.entities.references import resolve_titles

        known = self._titles.setdefault(entity.plural, {})
        missing = {_title_key(t) for t in texts} - set(known) - {""}
        if missing:
            found = resolve_titles(entity, missing, self.user)
            for text in missing:
                known[text] = found.get(text, False)

    def title(self, entity: Entity, text: str) -> int | None | bool:
        """The id of the one visible record titled ``text``; None when several are, False when none is."""
        key = _title_key(text)
        if key not in self._titles.get(entity.plural, {}):
            self.learn_titles(entity, [key])
        return self._titles[entity.plural][key]

    @staticmethod
    def _add(table: dict[str, Any], key: str, value: int) -> None:
        key = normalise(key) if "@" not in key else key.strip().lower()
        if not key:
            return
        if key in table and table[key] != value:
            table[key] = None  # ambiguous
        else:
            table[key] = value

    def users(self) -> dict[str, Any]:
        if self._users is None:
            from core.models import User

            table: dict[str, Any] = {}
            for row in db.session.execute(select(User.id, User.email, User.name).order_by(User.id)):
                self._add(table, row.email, row.id)
                self._add(table, str(row.id), row.id)
                if row.name:
                    self._add(table, row.name, row.id)
            self._users = table
        return self._users

    def departments(self) -> dict[str, Any]:
        if self._departments is None:
            from core.models import Department

            table: dict[str, Any] = {}
            for row in db.session.execute(select(Department.id, Department.name).order_by(Department.id)):
                self._add(table, row.name, row.id)
                self._add(table, str(row.id), row.id)
            self._departments = table
        return self._departments


def _title_key(text: Any) -> str:
    """A typed title as references are looked up: spaces tidied; a bare number is an id (``#123``)."""
    key = " ".join(str(text).split())
    return f"#{key}" if key.isdigit() else key


def reference_target(f: mf.Field) -> Entity | None:
    """The entity a reference field names, also outside a request (imports run as jobs)."""
    from core.entities.registry import all_entities

    return all_entities().get(str(f.metadata.get("entity") or ""))


def converter(target: Target, lookups: Lookups) -> Callable[[str], Any]:
    """A function turning a cell's text into what the field's schema loads (raising :class:`ConvertError`)."""
    f = target.field
    kind = target.widget
    choices = f.metadata.get("choices")
    if kind == "reference" and reference_target(f) is not None:
        entity = reference_target(f)

        def reference(text: str) -> Any:
            ident = lookups.title(entity, text)
            if ident is None:
                raise ConvertError(_("Several records are called %(title)s: write #id instead.", title=text.strip()))
            if ident is False:
                raise ConvertError(_("No record called %(title)s that you can see.", title=text.strip()))
            return ident

        return reference
    if kind == "user":

        def user(text: str) -> Any:
            found = _EMAIL_IN.search(text)
            key = found[1].lower() if found else text.strip()
            table = lookups.users()
            ident = table.get(key.lower() if "@" in key else normalise(key), False)
            if ident is None:
                raise ConvertError(_("Several users are called %(name)s: use the e-mail address.", name=text))
            if ident is False:
                raise ConvertError(_("No user %(name)s in this workspace.", name=text))
            return ident

        return user
    if kind == "department":

        def department(text: str) -> Any:
            ident = lookups.departments().get(normalise(text), False)
            if ident is None:
                raise ConvertError(_("Several departments are called %(name)s.", name=text))
            if ident is False:
                raise ConvertError(_("No department %(name)s in this workspace.", name=text))
            return ident

        return department
    if isinstance(f, mf.List) or kind in ("tags", "multichoice"):
        inner = getattr(f, "inner", None)
        options = choices or (getattr(inner, "metadata", {}) or {}).get("choices")
        table = _choice_lookup(options) if options else None
        if table is None:
            return _split
        return lambda text: [table.get(normalise(part), part) for part in _split(text)]
    if choices:
        table = _choice_lookup(choices)
        return lambda text: table.get(normalise(text), text)
    if isinstance(f, mf.Boolean) or kind == "bool":

        def boolean(text: str) -> Any:
            key = unicodedata.normalize("NFKC", text).strip().casefold()
            if key in _TRUE:
                return True
            if key in _FALSE:
                return False
            return text

        return boolean
    if isinstance(f, mf.DateTime) or kind == "datetime":
        return lambda text: _date_text(text, with_time=True)
    if isinstance(f, mf.Date) or kind == "date":
        return lambda text: _date_text(text, with_time=False)
    if isinstance(f, mf.Number) or kind in ("number", "money"):
        return _number
    return str.strip


# ------------------------------------------------------------------------------------------------ matching


def _digits(value: Any) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", str(value)) if ch.isdigit())


def key_function(target: Target) -> Callable[[Any], str | None]:
    """How values of the match field compare: e-mails case-insensitively, phones by their last nine digits (so
    "0912-345-678", "0912345678" and "+886 912 345 678" are one number), anything else trimmed and case folded."""
    if target.widget == "email" or isinstance(target.field, mf.Email):

        def email(value: Any) -> str | None:
            return (str(value).strip().lower() or None) if value is not None else None

        return email
    if target.widget == "phone":

        def phone(value: Any) -> str | None:
            digits = _digits(value) if value is not None else ""
            if len(digits) < 4:
                return None
            return digits[-PHONE_DIGITS:]

        return phone

    def text(value: Any) -> str | None:
        if value is None:
            return None
        folded = " ".join(unicodedata.normalize("NFKC", str(value)).split()).casefold()
        return folded or None

    return text


def _values(value: Any) -> list[Any]:
    """Match values of an attribute: one value, or each item of a list (child rows by their ``value``)."""
    if isinstance(value, list | tuple | set):
        found = []
        for item in value:
            if isinstance(item, Mapping):
                item = item.get("value") or item.get("address") or item.get("number")
            elif not isinstance(item, str | int | float | decimal.Decimal):
                item = getattr(item, "value", None) or getattr(item, "address", None) or getattr(item, "number", None)
            if item is not None:
                found.append(item)
        return found
    return [value] if value is not None else []


def _hash(key: str) -> int:
    """A 64-bit hash of a match key, never 0 (the empty slot of :class:`HashTable`). Python's own string hash:
    several times cheaper than a digest, and stable for the life of the process (and of a checker it forks), which
    is as long as a match index lives; collisions are harmless, as every hit is confirmed against stored values."""
    return hash(key) or 1


class HashTable:
    """64-bit hashes to record ids, in two flat arrays (open addressing, at most half full): 16 to 32 bytes per
    key, where a dict of Python ints takes over 100. The first id stored for a hash is kept."""

    def __init__(self, capacity: int = 1 << 12) -> None:
        self.hashes = array("q", bytes(8 * capacity))
        self.ids = array("q", bytes(8 * capacity))
        self.mask = capacity - 1
        self.size = 0

    def get(self, key: int) -> int | None:
        hashes, slot = self.hashes, key & self.mask
        while True:
            found = hashes[slot]
            if found == key:
                return self.ids[slot]
            if found == 0:
                return None
            slot = (slot + 1) & self.mask

    def setdefault(self, key: int, ident: int) -> None:
        hashes, slot = self.hashes, key & self.mask
        while True:
            found = hashes[slot]
            if found == key:
                return
            if found == 0:
                hashes[slot] = key
                self.ids[slot] = ident
                self.size += 1
                if self.size * 2 > self.mask:
                    self._grow()
                return
            slot = (slot + 1) & self.mask

    def _grow(self) -> None:
        hashes, ids = self.hashes, self.ids
        self.__init__(2 * (self.mask + 1))  # type: ignore[misc]
        for key, ident in zip(hashes, ids, strict=True):
            if key:
                self.setdefault(key, ident)


class MatchIndex:
    """Existing records of the tenant by match key (the trash excluded), plus the records this import creates.

    Keys are held as 64-bit hashes in a :class:`HashTable`, so even a million records with a value take a few
    tens of megabytes; a hit is confirmed against the record's stored value before it counts.
    """

    def __init__(self, entity: Entity, target: Target) -> None:
        self.entity = entity
        self.target = target
        self.key = key_function(target)
        self.ids = HashTable()
        model = entity.model
        self.column = None
        if target.custom_key is None:
            attr = inspect(model).column_attrs.get(target.name)
            self.column = getattr(model, target.name) if attr is not None else None

    def load(self) -> None:
        model = self.entity.model
        if self.column is not None:
            stmt = select(model.id, self.column).where(self.column.is_not(None)).order_by(model.id)
            rows: Iterator[Any] = db.session.execute(stmt.execution_options(yield_per=5000))
            for ident, value in rows:
                self._remember(ident, value)
        elif self.target.custom_key is not None:
            stmt = select(model.id, model.custom).where(model.custom.is_not(None)).order_by(model.id)
            for ident, custom in db.session.execute(stmt.execution_options(yield_per=5000)):
                self._remember(ident, (custom or {}).get(self.target.custom_key))
        else:
            stmt = select(model).order_by(model.id).execution_options(yield_per=1000)
            for count, record in enumerate(db.session.scalars(stmt), start=1):
                self._remember(record.id, getattr(record, self.target.name, None))
                if count % 1000 == 0:
                    db.session.expunge_all()
            db.session.expunge_all()

    def _remember(self, ident: int, value: Any) -> None:
        for item in _values(value):
            key = self.key(item)
            if key is not None:
                self.ids.setdefault(_hash(key), ident)

    def keys_of(self, data: Mapping[str, Any]) -> list[str]:
        if self.target.custom_key is not None:
            value = (data.get(CUSTOM) or {}).get(self.target.custom_key)
        else:
            value = data.get(self.target.name)
        return [k for k in (self.key(v) for v in _values(value)) if k is not None]

    def add(self, keys: list[str], ident: int) -> None:
        for key in keys:
            self.ids.setdefault(_hash(key), ident)

    def find(self, rows: list[list[str]]) -> list[int | None]:
        """The id of the record each row's keys match (existing or created earlier), or ``None``."""
        found: list[int | None] = []
        for keys in rows:
            found.append(next((i for i in (self.ids.get(_hash(k)) for k in keys) if i is not None), None))
        return self._confirm(rows, found)

    def _confirm(self, rows: list[list[str]], found: list[int | None]) -> list[int | None]:
        ids = {i for i in found if i is not None and i > 0}
        if not ids:
            return found
        model = self.entity.model
        stored: dict[int, set[str]] = {}
        if self.column is not None:
            result = db.session.execute(select(model.id, self.column).where(model.id.in_(ids)))
            values = [(ident, value) for ident, value in result]
        elif self.target.custom_key is not None:
            result = db.session.execute(select(model.id, model.custom).where(model.id.in_(ids)))
            values = [(ident, (custom or {}).get(self.target.custom_key)) for ident, custom in result]
        else:
            records = db.session.scalars(select(model).where(model.id.in_(ids)))
            values = [(r.id, getattr(r, self.target.name, None)) for r in records]
        for ident, value in values:
            stored.setdefault(ident, set()).update(k for k in (self.key(v) for v in _values(value)) if k)
        return [
            ident if ident is None or ident < 0 or stored.get(ident, set()) & set(keys) else None
            for keys, ident in zip(rows, found, strict=True)
        ]


# --------------------------------------------------------------------------------------------------- import


@dataclass
class _Column:
    target: Target
    indexes: list[tuple[int, str | None]]  # column index, name part
    header: str
    convert: Callable[[str], Any]
    custom_key: str | None = None  # the target's, read once: prepare() asks for every cell
    joins_as_list: bool = False  # several columns of the field are joined with commas (tags, multiple choice)

    def __post_init__(self) -> None:
        self.custom_key = self.target.custom_key
        self.joins_as_list = self.target.widget in ("tags", "multichoice") or isinstance(self.target.field, mf.List)


def _messages(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [m for v in value.values() for m in _messages(v)]
    if isinstance(value, list | tuple):
        return [m for v in value for m in _messages(v)]
    return [str(value)]


def _is_cjk(text: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in text)


class Importer:
    """Imports rows of one table into ``entity`` as ``user`` following ``plan``."""

    def __init__(
        self,
        entity: Entity,
        user: Any,
        headers: Sequence[str],
        plan: Plan,
        timezone: str | None = None,
    ) -> None:
        self.entity = entity
        self.user = user
        self.headers = list(headers)
        self.plan = plan
        self.targets = {t.name: t for t in targets(entity)}
        self.lookups = Lookups(user)
        self.tz = _zone(timezone or getattr(user, "timezone", None))
        grouped: dict[str, list[tuple[int, str | None]]] = {}
        for index, name in enumerate(plan.mapping[: len(self.headers)]):
            if name and name in self.targets:
                grouped.setdefault(name, []).append((index, name_part(self.headers[index])))
        self.columns = [
            _Column(
                target=self.targets[name],
                indexes=indexes,
                header=" + ".join(self.headers[i] for i, _part in indexes),
                convert=converter(self.targets[name], self.lookups),
            )
            for name, indexes in grouped.items()
        ]
        self.by_attribute = {c.target.attribute: c for c in self.columns if c.target.custom_key is None}
        self.by_custom = {c.target.custom_key: c for c in self.columns if c.target.custom_key is not None}
        self.schema = batch_schema(schema_for(entity, many=True))
        self.partial_schema = schema_for(entity, partial=True, many=True)
        self.match = self._match_target()
        self.index: MatchIndex | None = None
        self.writer = BulkWriter(user)
        self.datetimes = {
            name for name, t in self.targets.items() if isinstance(t.field, mf.DateTime) and name in grouped
        }
        model_columns = inspect(entity.model).column_attrs
        self.limits = {}
        for name in grouped:
            attr = model_columns.get(name)
            if attr is not None and isinstance(attr.columns[0].type, String) and attr.columns[0].type.length:
                self.limits[name] = attr.columns[0].type.length

    # ----------------------------------------------------------------------------------------- the plan

    def _match_target(self) -> Target | None:
        if self.plan.on_duplicate == "create":
            return None
        mapped = {c.target.name for c in self.columns}
        if self.plan.match:
            return self.targets.get(self.plan.match) if self.plan.match in mapped else None
        for name in self.entity.match_fields:
            if name in mapped:
                return self.targets[name]
        return None

    def problems(self) -> list[str]:
        """What is wrong with the plan itself (shown on the mapping screen, printed by the command)."""
        found = []
        unknown = [name for name in self.plan.mapping if name and name not in self.targets]
        if unknown:
            found.append(_("Unknown fields: %(names)s.", names=", ".join(unknown)))
        if self.plan.on_duplicate not in DUPLICATES:
            found.append(_("Choose what to do with duplicates."))
        if self.plan.match and self.plan.on_duplicate != "create":
            if self.plan.match not in self.targets:
                found.append(_("Unknown field to match on: %(name)s.", name=self.plan.match))
            elif self.match is None:
                label = self.targets[self.plan.match].label
                found.append(_("No column is mapped to %(field)s, the field to match on.", field=label))
        if not self.columns:
            found.append(_("Choose a field for at least one column."))
        mapped = {c.target.name for c in self.columns}
        if self.plan.on_duplicate != "update":
            for name, target in self.targets.items():
                if target.required and name not in mapped and target.field.load_default is mf.missing_:
                    found.append(_("%(field)s is required: choose the column that holds it.", field=target.label))
        return found

    # ------------------------------------------------------------------------------------------- rows

    def prepare(self, cells: Sequence[Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """The raw data of one row for the schema, and the errors of cells that could not be converted."""
        data: dict[str, Any] = {}
        errors: list[tuple[str, str]] = []
        width = len(cells)
        for column in self.columns:
            parts = []
            for index, part in column.indexes:
                if index < width:
                    cell = cells[index]
                    if cell is not None:
                        text = cell.strip() if isinstance(cell, str) else str(cell)
                        if text:
                            if text[0] == "'" and text[1:2] in _FORMULA_START:
                                text = text[1:]  # an export's guard against spreadsheet formulas
                            parts.append((text, part))
            if not parts:
                continue
            if len(parts) == 1:
                text = parts[0][0]
            elif column.joins_as_list:
                text = ", ".join(p for p, _part in parts)
            else:
                text = self._join(parts)
            try:
                value = column.convert(text)
            except ConvertError as exc:
                errors.append((column.header, str(exc)))
                continue
            if column.custom_key is not None:
                data.setdefault(CUSTOM, {})[column.custom_key] = value
            else:
                data[column.target.name] = value
        return data, errors

    @staticmethod
    def _join(parts: list[tuple[str, str | None]]) -> str:
        """Several columns into one field: names family-name first when they are Chinese, else in column order."""
        texts = [text for text, _part in parts]
        if all(_is_cjk(t) for t in texts) and any(part for _t, part in parts):
            order = {"last_name": 0, "first_name": 1, "middle_name": 2, None: 3}
            texts = [text for text, part in sorted(parts, key=lambda p: order[p[1]])]
            return "".join(texts)
        if any(part for _t, part in parts):
            order = {"first_name": 0, "middle_name": 1, "last_name": 2, None: 3}
            texts = [text for text, part in sorted(parts, key=lambda p: order[p[1]])]
        return " ".join(texts)

    def _column_of(self, field_name: str, nested: Any = None) -> str:
        if field_name == CUSTOM and isinstance(nested, Mapping):
            return ", ".join(self._column_of_custom(k) for k in nested) or CUSTOM
        column = self.by_attribute.get(field_name)
        if column is not None:
            return column.header
        target = self.targets.get(field_name)
        return target.label if target is not None else ("" if field_name == "_schema" else field_name)

    def _column_of_custom(self, key: Any) -> str:
        column = self.by_custom.get(key)
        if column is not None:
            return column.header
        target = self.targets.get(f"{CUSTOM}.{key}")
        return target.label if target is not None else str(key)

    def _row_errors(self, result: ImportResult, row: int, messages: Mapping[str, Any]) -> None:
        for name, value in messages.items():
            if name == CUSTOM and isinstance(value, Mapping):
                for key, inner in value.items():
                    for message in _messages(inner):
                        result.add_error(row, self._column_of_custom(key), _(message))
                continue
            for message in _messages(value):
                result.add_error(row, self._column_of(name), _(message))

    def _finish(self, data: dict[str, Any]) -> list[tuple[str, str]]:
        """Post-load fixes and checks: naive date-times in the user's zone, text that fits its column."""
        for name in self.datetimes:
            value = data.get(name)
            if isinstance(value, dt.datetime) and value.tzinfo is None:
                data[name] = value.replace(tzinfo=self.tz)
        errors = []
        for name, limit in self.limits.items():
            value = data.get(name)
            if isinstance(value, str) and len(value) > limit:
                errors.append((self._column_of(name), _("At most %(n)s characters.", n=limit)))
        return errors

    def validate(
        self, batch: list[tuple[int, list[Any]]], result: ImportResult, existing: bool = True
    ) -> list[tuple[int, dict[str, Any]]]:
        """Validate a batch of rows; errors go into ``result``, valid rows come back as (row, data)."""
        prepared: list[tuple[int, dict[str, Any]]] = []
        for column in self.columns:
            if column.target.widget == "reference" and (entity := reference_target(column.target.field)):
                texts = {cells[i] for _row, cells in batch for i, _part in column.indexes if i < len(cells)}
                self.lookups.learn_titles(entity, [str(t) for t in texts if t not in (None, "")])
        for row, cells in batch:
            data, errors = self.prepare(cells)
            if errors:
                for column, message in errors:
                    result.add_error(row, column, message)
                continue
            prepared.append((row, data))
        matched: list[int | None] = [None] * len(prepared)
        if self.index is not None and existing and self.plan.on_duplicate == "update":
            found = self.index.find([self.index.keys_of(data) for _row, data in prepared])
            matched = [i if i is not None and i > 0 else None for i in found]  # < 0: a row a dry run would create
            allowed = self._editable({i for i in matched if i is not None})
            for position, ident in enumerate(matched):
                if ident is not None and ident not in allowed:
                    row = prepared[position][0]
                    column = self._column_of(self.match.name) if self.match else ""
                    result.add_error(row, column, _("You are not allowed to update the record this row matches."))
        full = [(p, r, d) for p, ((r, d), m) in enumerate(zip(prepared, matched, strict=True)) if m is None]
        partial = [(p, r, d) for p, ((r, d), m) in enumerate(zip(prepared, matched, strict=True)) if m is not None]
        valid: dict[int, tuple[int, dict[str, Any]]] = {}
        for schema, group in ((self.schema, full), (self.partial_schema, partial)):
            if not group:
                continue
            failures: Mapping[Any, Any] = {}
            try:
                loaded = schema.load([d for _p, _r, d in group])
            except ValidationError as exc:
                failures = exc.messages if isinstance(exc.messages, Mapping) else {}
                for offset, (_position, row, _data) in enumerate(group):
                    if offset in failures:
                        messages = failures[offset]
                        messages = messages if isinstance(messages, Mapping) else {"_schema": messages}
                        self._row_errors(result, row, messages)
                # The rows without errors again on their own: post_load hooks do not run on a failed load.
                group = [item for offset, item in enumerate(group) if offset not in failures]
                loaded = schema.load([d for _p, _r, d in group]) if group else []
            for offset, (position, row, _data) in enumerate(group):
                data = loaded[offset]
                problems = self._finish(data)
                for column, message in problems:
                    result.add_error(row, column, message)
                if not problems:
                    valid[position] = (row, data)
        self._check_references(valid, result)
        return [valid[p] for p in sorted(valid)]

    def _check_references(self, valid: dict[int, tuple[int, dict[str, Any]]], result: ImportResult) -> None:
        """User and department ids must be this tenant's: one query per kind for the whole batch."""
        from core.entities.schemas import REFERENCE_WIDGETS, custom_field_map, editable_fields, widget
        from core.models import Department, User

        fields = [(None, n, widget(f)) for n, f in editable_fields(self.schema).items()]
        fields += [(CUSTOM, k, widget(f)) for k, f in custom_field_map(self.entity).items()]
        fields = [(c, n, k) for c, n, k in fields if k in REFERENCE_WIDGETS]
        if not fields or not valid:
            return

        def values(data: dict[str, Any], container: str | None, name: str) -> list[Any]:
            source = (data.get(CUSTOM) or {}) if container else data
            value = source.get(name) if isinstance(source, Mapping) else None
            return [v for v in (value if isinstance(value, list | tuple) else [value]) if v is not None]

        named = []  # (position, row, container, name, kind, ids) for each reference a row fills
        for position, (row, data) in valid.items():
            for container, name, kind in fields:
                ids = values(data, container, name)
                if ids:
                    named.append((position, row, container, name, kind, ids))
        if not named:
            return
        models = {"user": User, "department": Department}
        known: dict[str, set[Any]] = {}
        for kind, model in models.items():
            wanted = {i for *_rest, k, ids in named if k == kind for i in ids}
            numbers = [i for i in wanted if isinstance(i, int) and not isinstance(i, bool)]
            known[kind] = set(db.session.scalars(select(model.id).where(model.id.in_(numbers)))) if numbers else set()
        messages = {"user": _("No such user."), "department": _("No such department.")}
        refused = set()
        for position, row, container, name, kind, ids in named:
            if any(i not in known[kind] for i in ids):
                column = self._column_of_custom(name) if container else self._column_of(name)
                result.add_error(row, column, messages[kind])
                refused.add(position)
        for position in refused:
            del valid[position]

    def _editable(self, ids: set[int]) -> set[int]:
        if not ids:
            return set()
        model = self.entity.model
        criterion = scope_criterion(model, scope_for(self.entity.permission("edit"), self.user), self.user)
        stmt = select(model.id).where(model.id.in_(ids))
        if criterion is not None:
            stmt = stmt.where(criterion)
        return set(db.session.scalars(stmt))

    # ---------------------------------------------------------------------------------------------- run

    def preview(self, table: Table, limit: int = 20) -> tuple[list[tuple[int, dict[str, Any]]], ImportResult]:
        """The first ``limit`` rows as they would be stored, and their errors (nothing is written)."""
        result = ImportResult(dry_run=True)
        batch = []
        for row, cells in table.rows():
            if all(c is None or (isinstance(c, str) and not c.strip()) for c in cells):
                continue
            batch.append((row, cells))
            if len(batch) >= limit:
                break
        result.rows = len(batch)
        if self.match is not None and self.plan.on_duplicate == "update":
            # Rows that update a record are checked as partial data, as the run will check them.
            self.index = MatchIndex(self.entity, self.match)
            self.index.load()
        return self.validate(batch, result), result

    def run(self, table: Table, dry_run: bool = False, progress: Progress | None = None) -> ImportResult:
        """Validate every row; unless ``dry_run`` or a row has an error, write them all (the caller commits;
        after a failed write the session has been rolled back). A large file is checked by a forked process while
        this one writes (``core.entities.importing.checker``)."""
        from core.entities.importing.checker import Checker, checker_wanted

        result = ImportResult(dry_run=dry_run)
        self.writer = BulkWriter(self.user)
        try:
            if not dry_run and checker_wanted(table):
                # The checker uses the match index only to validate updates as partial: otherwise it is forked
                # first, so that it shares none of the memory that loading the index takes and leaves behind.
                if self.plan.on_duplicate == "update":
                    self._load_index()
                with Checker(self, table) as checker:
                    self._load_index()
                    self._write(checker.batches(result), result, progress, lambda: checker.fraction, checker.finish)
                return result
            self._load_index()
            with tempfile.TemporaryFile(prefix="crm-import-") as spool:
                self._check(table, result, spool, dry_run, progress)
                if dry_run or not result.ok:
                    return result
                spool.seek(0)
                self._write(_unspooled(spool), result, progress)
            return result
        finally:
            self.index = None  # its memory goes with the run, not with the importer

    def _load_index(self) -> None:
        if self.match is not None and self.index is None:
            self.index = MatchIndex(self.entity, self.match)
            self.index.load()

    def adopt_session(self, session: Any) -> None:
        """Work with ``session`` from now on (a forked checker's own): the importing user is read again in it."""
        from core.models import User

        self.user = session.get(User, self.user.id)
        self.lookups.user = self.user

    def batches(self, table: Table) -> Iterator[list[tuple[int, list[Any]]]]:
        """The table's non-empty rows in batches of ``BATCH``."""
        batch: list[tuple[int, list[Any]]] = []
        for row, cells in table.rows():
            if all(c is None or (isinstance(c, str) and not c.strip()) for c in cells):
                continue
            batch.append((row, cells))
            if len(batch) >= BATCH:
                yield batch
                batch = []
        if batch:
            yield batch

    def _check(self, table: Table, result: ImportResult, spool: Any, dry_run: bool, progress: Progress | None) -> None:
        for batch in self.batches(table):
            result.rows += len(batch)
            valid = self.validate(batch, result)
            if dry_run:
                self._simulate(valid, result)
            elif result.ok:
                pickle.dump(valid, spool, protocol=pickle.HIGHEST_PROTOCOL)
            db.session.expunge_all()
            if progress is not None:
                progress("check", result.rows, table.fraction())

    def _simulate(self, valid: list[tuple[int, dict[str, Any]]], result: ImportResult) -> None:
        """Counts for a dry run, as the write would decide them."""
        if self.index is None:
            result.created += len(valid)
            return
        keys = [self.index.keys_of(data) for _row, data in valid]
        for found, row_keys in zip(self.index.find(keys), keys, strict=True):
            if found is None:
                result.created += 1
                self.index.add(row_keys, -1)
            elif self.plan.on_duplicate == "skip":
                result.skipped += 1
            else:
                result.updated += 1

    # -------------------------------------------------------------------------------------------- write

    def _write(
        self,
        batches: Iterable[list[tuple[int, dict[str, Any]]]],
        result: ImportResult,
        progress: Progress | None,
        fraction: Callable[[], float] | None = None,
        finish: Callable[[ImportResult], None] | None = None,
    ) -> None:
        """Write the valid ``batches``; ``finish`` completes ``result`` before it is judged (a checker's errors)."""
        started = utcnow()
        done = 0
        bulk = BulkWriter.supports(self.entity)
        try:
            with self.writer.writing():
                for batch in batches:
                    self._write_batch(batch, result, bulk)
                    done += len(batch)
                    if progress is not None:
                        if fraction is not None:  # checked and written together: one phase, as far as read
                            progress("import", done, fraction())
                        else:
                            progress("write", done, done / result.rows if result.rows else 1.0)
                    if not result.ok:
                        break
        except SQLAlchemyError as exc:
            db.session.rollback()
            message = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300]
            result.add_error(0, "", _("The database refused the rows: %(message)s", message=message))
        if finish is not None:
            finish(result)
        if not result.ok:
            db.session.rollback()
            result.created = result.updated = result.skipped = 0
            return
        result.stored = True
        self._announce(result, started)

    def _announce(self, result: ImportResult, started: dt.datetime) -> None:
        """One audit entry, one event and the search indexing of the new rows, for the whole import.

        Rows inserted in bulk bypass the flush listeners that audit single creates and keep the search index: like
        Odoo's import, which switches tracking off, an import is recorded once (who, when, how many, which ids)
        rather than as a create entry per row, and its new rows are indexed for search by a job that starts when
        the import commits, in batches, so that the import's transaction (SQLite's single write lock) stays short.
        Updated rows go through the ORM and are audited and re-indexed field by field as usual.
        """
        from core.audit import record
        from core.events import emit
        from core.jobs import enqueue

        first, last = self.writer.ranges.get(self.entity.plural, (None, None))
        emit(
            f"{self.entity.plugin}.{self.entity.name}.imported",
            created=result.created,
            updated=result.updated,
            skipped=result.skipped,
            since=started.isoformat(),
            first_id=first,
            last_id=last,
        )
        # Records of other entities a bulk_apply created (the companies that imported contacts name).
        others = {p: n for p, n in self.writer.created.items() if p != self.entity.plural}
        for plural in others:
            other, (low, high) = self.writer.entities[plural], self.writer.ranges[plural]
            emit(
                f"{other.plugin}.{other.name}.imported",
                created=others[plural],
                updated=0,
                skipped=0,
                since=started.isoformat(),
                first_id=low,
                last_id=high,
            )
        summary = f"{self.entity.plural}: {result.created} created, {result.updated} updated, {result.skipped} skipped"
        changes: dict[str, Any] = {
            "entity": [None, self.entity.plural],
            "created": [None, result.created],
            "updated": [None, result.updated],
            "skipped": [None, result.skipped],
            "ids": [None, [first, last] if first is not None else None],
        }
        for plural, count in others.items():
            summary += f"; {plural}: {count} created"
            changes[f"created_{plural}"] = [None, count]
        record("import", summary, user_id=getattr(self.user, "id", None), changes=changes)
        for plural, (low, high) in self.writer.ranges.items():
            enqueue(
                "core.entities.importing.jobs:index_imported",
                name=f"Search index: {plural} {low}-{high}",
                plural=plural,
                first_id=low,
                last_id=high,
            )

    def _mapped_only(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """For updates: only the fields the file has columns for, so defaults never overwrite stored values."""
        kept = {k: v for k, v in data.items() if k in self.by_attribute}
        if CUSTOM in data and self.by_custom:
            kept[CUSTOM] = {k: v for k, v in (data[CUSTOM] or {}).items() if k in self.by_custom}
        return kept

    def _write_batch(self, batch: list[tuple[int, dict[str, Any]]], result: ImportResult, bulk: bool) -> None:
        creates: list[tuple[int, dict[str, Any], list[str]]] = []
        updates: list[tuple[int, int, dict[str, Any]]] = []
        if self.index is None:
            creates = [(row, data, []) for row, data in batch]
        else:
            keys = [self.index.keys_of(data) for _row, data in batch]
            found = self.index.find(keys)
            pending: dict[str, int] = {}  # key -> position in creates (an earlier row of this batch)
            for (row, data), row_keys, ident in zip(batch, keys, found, strict=True):
                earlier = next((pending[k] for k in row_keys if k in pending), None)
                if ident is None and earlier is None:
                    for k in row_keys:
                        pending.setdefault(k, len(creates))
                    creates.append((row, data, row_keys))
                elif self.plan.on_duplicate == "skip":
                    result.skipped += 1
                elif ident is not None:
                    updates.append((row, ident, self._mapped_only(data)))
                else:
                    merged = creates[earlier][1]
                    merged.update({k: v for k, v in self._mapped_only(data).items() if k != CUSTOM})
                    if CUSTOM in data:
                        merged[CUSTOM] = {**(merged.get(CUSTOM) or {}), **(self._mapped_only(data).get(CUSTOM) or {})}
                    result.updated += 1
        created_ids = self._create(creates, bulk, result) if creates else []
        if not result.ok:
            return  # a row the entity's apply refused: the whole import is rolled back
        result.created += len(created_ids)
        if self.index is not None:
            for (_row, _data, row_keys), ident in zip(creates, created_ids, strict=True):
                self.index.add(row_keys, ident)
        if updates:
            self._update(updates, result)
            if not result.ok:
                return
        db.session.flush()
        db.session.expunge_all()

    def _apply(self, record: Any, data: dict[str, Any], row: int, result: ImportResult) -> bool:
        """Write ``data`` onto ``record``; a rule the entity's ``apply`` enforces becomes the row's error."""
        from core.entities.service import default_apply

        try:
            if self.entity.apply is not None:
                self.entity.apply(record, data)
            else:
                default_apply(self.entity, record, data)
        except ValidationError as exc:
            messages = exc.messages if isinstance(exc.messages, Mapping) else {"_schema": exc.messages}
            self._row_errors(result, row, messages)
            return False
        return True

    def _create(
        self, creates: list[tuple[int, dict[str, Any], list[str]]], bulk: bool, result: ImportResult
    ) -> list[int]:

        model = self.entity.model
        tags = [data.pop(TAGS, None) for _row, data, _keys in creates]
        if bulk:
            ids = self.writer.create(self.entity, [data for _row, data, _keys in creates])
        else:
            records = []
            for row, data, _keys in creates:
                record = model()
                if hasattr(record, "owner_id") and data.get("owner_id") is None:
                    record.owner_id = self.user.id
                if hasattr(record, "created_by_id"):
                    record.created_by_id = self.user.id
                if self._apply(record, data, row, result):
                    records.append(record)
            if not result.ok:
                return []
            db.session.add_all(records)
            db.session.flush()
            ids = [r.id for r in records]
        self._tag(ids, tags)
        return ids

    def _tag(self, ids: list[int], tags: list[Any]) -> None:
        from core.entities.tags import clean, tag_new_records

        groups: dict[tuple[str, ...], list[int]] = {}
        for ident, names in zip(ids, tags, strict=True):
            if names:
                groups.setdefault(tuple(clean(names)), []).append(ident)
        known = self.writer.remembered("tags")
        for names, record_ids in groups.items():
            tag_new_records(self.entity.plural, record_ids, names, known)

    def _update(self, updates: list[tuple[int, int, dict[str, Any]]], result: ImportResult) -> None:
        from core.entities.tags import set_tags

        model = self.entity.model
        ids = {ident for _row, ident, _data in updates}
        allowed = self._editable(ids)
        records = {r.id: r for r in db.session.scalars(select(model).where(model.id.in_(ids)))}
        for row, ident, data in updates:
            record = records.get(ident)
            if record is None or ident not in allowed:
                column = self._column_of(self.match.name) if self.match else ""
                result.add_error(row, column, _("You are not allowed to update the record this row matches."))
                continue
            names = data.pop(TAGS, None)
            if not self._apply(record, data, row, result):
                continue
            if names is not None:
                db.session.flush()
                set_tags(self.entity.plural, record.id, names)
            result.updated += 1


def _unspooled(spool: Any) -> Iterator[list[tuple[int, dict[str, Any]]]]:
    """The batches the first pass pickled into ``spool``, in order."""
    while True:
        try:
            yield pickle.load(spool)
        except EOFError:
            return


def _zone(name: str | None) -> dt.tzinfo:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name) if name else dt.UTC
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def mapping_text(importer: Importer) -> list[str]:
    """One line per column: "Header" -> field label (name), or "(ignored)"."""
    lines = []
    for index, header in enumerate(importer.headers):
        name = importer.plan.mapping[index] if index < len(importer.plan.mapping) else IGNORE
        target = importer.targets.get(name) if name else None
        lines.append(f'"{header}" -> {target.label} ({target.name})' if target else f'"{header}" -> ({_("ignored")})')
    return lines
