"""Export of an entity's filtered list to CSV or XLSX, streamed, within the user's record scope.

The rows are those of the list page for the same arguments (``core.entities.query.parse``), read in batches with
``query.iterate`` under the ``<prefix>.export`` permission's scope. Columns are the list's selected columns
(``columns=name,email,custom.region``) or every field and custom field; headers are the translated labels; values
are formatted for people and spreadsheets: dates in ISO form, money as plain numbers, tags joined by ", ", choices
by their label, users and departments by name, referenced records by title ("Hidden record" outside the reader's
scope). CSV is UTF-8 with a byte-order mark so that Excel reads Chinese correctly; XLSX is written row by row
(openpyxl's write-only mode) to a temporary file and then sent.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import itertools
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask import Response, send_file, stream_with_context
from flask_babel import gettext as _
from marshmallow import fields as mf
from sqlalchemy import select

from core import db
from core.entities.definition import Entity
from core.entities.query import ListQuery, iterate
from core.entities.schemas import CUSTOM, custom_field_map, field_label, schema_for, widget

BATCH = 1000
FORMATS = ("csv", "xlsx")
SKIPPED = {"version", CUSTOM}
_SAFE_NUMBERISH = re.compile(r"^[+\-]?[\d\s().,\-+/]*$")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def export_endpoint(entity: Entity) -> str:
    """The endpoint of ``entity``'s export (``url_for(export_endpoint(e), format="xlsx", **request.args)``)."""
    return f"{entity.endpoint_prefix}_io.export"


@dataclass
class Column:
    """One exported column: ``name`` (a field, or ``custom.<key>``), its header and how to read its value."""

    name: str
    label: str
    field: mf.Field | None
    widget: str

    @property
    def custom_key(self) -> str | None:
        return self.name[len(CUSTOM) + 1 :] if self.name.startswith(CUSTOM + ".") else None

    @property
    def attribute(self) -> str:
        if self.field is not None and self.field.attribute:
            return self.field.attribute
        return self.name


def available_columns(entity: Entity) -> dict[str, Column]:
    """Every column an export can have, in the schema's order, custom fields last."""
    schema = schema_for(entity)
    result: dict[str, Column] = {}
    if "id" not in schema.fields:
        result["id"] = Column("id", "ID", None, "number")
    for name, f in schema.fields.items():
        if name in SKIPPED or f.load_only:
            continue
        result[name] = Column(name, "ID" if name == "id" else field_label(f, name), f, widget(f))
    for key, f in custom_field_map(entity).items():
        result[f"{CUSTOM}.{key}"] = Column(f"{CUSTOM}.{key}", field_label(f, key), f, widget(f))
    return result


def columns_for(entity: Entity, args: Mapping[str, Any] | None = None) -> list[Column]:
    """The columns asked for with ``columns`` (comma-separated or repeated; ``cf_<key>`` for custom fields) after
    the title field, as the list shows them, or all of them. Unknown names are left out."""
    available = available_columns(entity)
    wanted: list[str] = []
    if args is not None:
        values = args.getlist("columns") if hasattr(args, "getlist") else [args.get("columns") or ""]
        for value in values:
            wanted.extend(part.strip() for part in str(value or "").split(",") if part.strip())
    if wanted and entity.title_field in available and entity.title_field not in wanted:
        wanted.insert(0, entity.title_field)  # the list always shows the title first, whatever columns it picks
    chosen = []
    for name in wanted:
        name = f"{CUSTOM}.{name[3:]}" if name.startswith("cf_") else name
        if name in available and available[name] not in chosen:
            chosen.append(available[name])
    return chosen or list(available.values())


# ------------------------------------------------------------------------------------------------ values


class _Names:
    """Users and departments by id, read once per batch for the ids not seen yet; referenced records' titles by
    column, read once per batch (one query per referenced entity)."""

    def __init__(self) -> None:
        self.users: dict[int, str] = {}
        self.departments: dict[int, str] = {}
        self.references: dict[str, dict[int, str]] = {}

    def load_references(self, columns: Sequence[Column], batch: list[Any], user: Any) -> None:
        from core.entities.references import target_of, titles

        for column in columns:
            target = target_of(column.field) if column.field is not None else None
            ids = {v for r in batch if isinstance(v := _raw(r, column), int)}
            found = titles(target, ids, user) if target is not None else {}
            self.references[column.name] = {ident: ref.title for ident, ref in found.items()}

    def load(self, user_ids: set[int], department_ids: set[int]) -> None:
        from core.models import Department, User

        missing = {i for i in user_ids if i not in self.users}
        if missing:
            for row in db.session.execute(select(User.id, User.name, User.email).where(User.id.in_(missing))):
                self.users[row.id] = row.name or row.email
        missing = {i for i in department_ids if i not in self.departments}
        if missing:
            rows = db.session.execute(select(Department.id, Department.name).where(Department.id.in_(missing)))
            for row in rows:
                self.departments[row.id] = row.name


def _choice_labels(f: mf.Field | None) -> dict[Any, str]:
    if f is None:
        return {}
    choices = f.metadata.get("choices") or (getattr(getattr(f, "inner", None), "metadata", {}) or {}).get("choices")
    labels = {}
    for choice in choices or ():
        value, label = (choice if isinstance(choice, tuple | list) else (choice, choice))[:2]
        labels[value] = str(label)
    return labels


def _raw(record: Any, column: Column) -> Any:
    if column.custom_key is not None:
        return (getattr(record, CUSTOM, None) or {}).get(column.custom_key)
    return getattr(record, column.attribute, None)


def _plain_items(value: Iterable[Any]) -> list[str]:
    items = []
    for item in value:
        if isinstance(item, Mapping):
            item = item.get("value") or item.get("address") or item.get("number") or item.get("name")
        elif not isinstance(item, str | int | float | decimal.Decimal):
            item = getattr(item, "value", None) or getattr(item, "address", None) or getattr(item, "number", item)
        if item not in (None, ""):
            items.append(str(item))
    return items


def _formatter(column: Column, names: _Names, tags: dict[int, list[str]], spreadsheet: bool) -> Callable:
    kind = column.widget
    labels = _choice_labels(column.field)
    yes, no = _("Yes"), _("No")

    def value_of(record: Any) -> Any:
        if kind == "tags" and column.custom_key is None:
            return ", ".join(tags.get(record.id, []))
        value = _raw(record, column)
        if value is None or value == "":
            return None
        if kind == "user" and isinstance(value, int):
            return names.users.get(value, str(value))
        if kind == "department" and isinstance(value, int):
            return names.departments.get(value, str(value))
        if kind == "reference" and isinstance(value, int):
            # The title, as the import reads it back; a record outside the user's scope stays "Hidden record".
            return names.references.get(column.name, {}).get(value, f"#{value}")
        if isinstance(value, list | tuple | set):
            return ", ".join(str(labels.get(v, v)) for v in _plain_items(value))
        if labels and not isinstance(value, bool):
            return labels.get(value, str(value))
        if isinstance(value, bool):
            return value if spreadsheet else (yes if value else no)
        if isinstance(value, dt.datetime):
            return value.isoformat()
        if isinstance(value, dt.date):
            return value if spreadsheet else value.isoformat()
        if isinstance(value, decimal.Decimal):
            return value if spreadsheet else format(value, "f")
        if isinstance(value, int | float):
            return value if spreadsheet else str(value)
        if isinstance(value, Mapping):
            return ", ".join(f"{k}: {v}" for k, v in value.items())
        return str(value)

    return value_of


def rows(
    entity: Entity, query: ListQuery, columns: Sequence[Column], user: Any = None, spreadsheet: bool = False
) -> Iterator[list[Any]]:
    """The formatted values of every record the user may export, in the list's order, in constant memory."""
    from core.entities.tags import tags_of

    names = _Names()
    tags: dict[int, list[str]] = {}
    formatters = [_formatter(c, names, tags, spreadsheet) for c in columns]
    wants_tags = any(c.widget == "tags" and c.custom_key is None for c in columns)
    user_columns = [c for c in columns if c.widget == "user"]
    department_columns = [c for c in columns if c.widget == "department"]
    reference_columns = [c for c in columns if c.widget == "reference"]
    records = iterate(entity, query, action="export", user=user, batch=BATCH)
    while True:
        batch = list(itertools.islice(records, BATCH))
        if not batch:
            return
        names.load(
            {v for r in batch for c in user_columns if isinstance(v := _raw(r, c), int)},
            {v for r in batch for c in department_columns if isinstance(v := _raw(r, c), int)},
        )
        if reference_columns:
            names.load_references(reference_columns, batch, user)
        if wants_tags:
            tags.clear()
            tags.update(tags_of(entity.plural, [r.id for r in batch]))
        for record in batch:
            yield [f(record) for f in formatters]


def safe_cell(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@`` ...) gets a leading apostrophe,
    unless it is a number or a phone number; the import takes the apostrophe off again."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _SAFE_NUMBERISH.match(value):
        return "'" + value
    return value


# -------------------------------------------------------------------------------------------------- CSV


def _filename(entity: Entity, extension: str) -> str:
    return f"{entity.plural}-{dt.date.today().isoformat()}.{extension}"


def _audit(entity: Entity, count: int, kind: str, complete: bool = True) -> None:
    from core.audit import record

    summary = f"{entity.plural}: {count} rows as {kind.upper()}" + ("" if complete else " (interrupted)")
    record("export", summary, changes={"entity": [None, entity.plural], "rows": [None, count]})
    db.session.commit()


def csv_chunks(entity: Entity, query: ListQuery, columns: Sequence[Column], user: Any = None) -> Iterator[bytes]:
    """The export as CSV, a batch of rows per chunk, audited when it ends (or is broken off)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    count = 0
    complete = False
    try:
        writer.writerow([safe_cell(c.label) for c in columns])
        yield "\ufeff".encode() + buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
        for values in rows(entity, query, columns, user):
            writer.writerow([safe_cell(v) if v is not None else "" for v in values])
            count += 1
            if count % BATCH == 0:
                yield buffer.getvalue().encode("utf-8")
                buffer.seek(0)
                buffer.truncate()
        if buffer.tell():
            yield buffer.getvalue().encode("utf-8")
        complete = True
    finally:
        _audit(entity, count, "csv", complete)


def _in_request_context(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Stream ``chunks`` in the request's tenant and as its actor: Flask has torn the request down (and reset
    both) before a streamed body is read, and pushes only its own contexts back."""
    from core.audit import current_actor, reset_actor, set_actor
    from core.tenancy import current_tenant, tenant_context

    tenant, actor = current_tenant(), current_actor()

    def generate() -> Iterator[bytes]:
        with tenant_context(tenant):
            token = set_actor(actor)
            try:
                yield from chunks
            finally:
                reset_actor(token)

    return generate()


def csv_response(entity: Entity, query: ListQuery, columns: Sequence[Column], user: Any = None) -> Response:
    response = Response(
        stream_with_context(_in_request_context(csv_chunks(entity, query, columns, user))),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={_filename(entity, 'csv')}"},
    )
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    return response


# ------------------------------------------------------------------------------------------------- XLSX


def _sheet_title(entity: Entity) -> str:
    title = re.sub(r"[\[\]:*?/\\]", " ", str(entity.label_plural)).strip()
    return (title or entity.plural)[:31]


def write_xlsx(entity: Entity, query: ListQuery, columns: Sequence[Column], path: str, user: Any = None) -> int:
    """Write the export to ``path`` as an XLSX workbook, row by row; returns the number of rows."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=_sheet_title(entity))

    def cell(value: Any) -> Any:
        if isinstance(value, str):
            value = ILLEGAL_CHARACTERS_RE.sub("", value)
            if value.startswith("="):
                text = WriteOnlyCell(sheet, value=value)
                text.data_type = "s"  # openpyxl would otherwise store it as a formula
                return text
        return value

    sheet.append([cell(c.label) for c in columns])
    count = 0
    for values in rows(entity, query, columns, user, spreadsheet=True):
        sheet.append([cell(v) for v in values])
        count += 1
    book.save(path)
    return count


def xlsx_response(entity: Entity, query: ListQuery, columns: Sequence[Column], user: Any = None) -> Response:
    handle, path = tempfile.mkstemp(prefix="crm-export-", suffix=".xlsx")
    os.close(handle)
    try:
        count = write_xlsx(entity, query, columns, path, user)
        _audit(entity, count, "xlsx")
        response = send_file(
            path,
            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            as_attachment=True,
            download_name=_filename(entity, "xlsx"),
            max_age=0,
        )
    except BaseException:
        os.unlink(path)
        raise
    response.call_on_close(lambda: os.path.exists(path) and os.unlink(path))
    return response
