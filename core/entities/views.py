"""The generic pages of an entity: list, detail (with history), create/edit, delete, trash, bulk actions, views.

Each view takes the :class:`~core.entities.definition.Entity` first, then the URL's arguments; the kernel binds
them per entity (:mod:`core.entities.routes`). A plugin replaces one with ``Entity(views={"detail": my_view})``
and may call the default from its own (``views.detail(entity, record_id)``), or build on the context helpers
(:func:`list_context`, :func:`detail_context`, :func:`form_context`) with its own template.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from flask import abort, current_app, flash, g, redirect, request, url_for
from flask_babel import format_currency, format_date, format_datetime, format_decimal, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.datastructures import MultiDict

from core import db
from core.entities import query as lq
from core.entities import references, saved_views, service
from core.entities.definition import Entity
from core.entities.forms import (
    CUSTOM_COLUMN,
    EntityFields,
    FieldSpec,
    Person,
    add_errors,
    decimal_or_none,
    departments,
    entity_fields,
    initial_values,
    load,
    parse_form,
    people,
    split_tags,
)
from core.entities.schemas import CUSTOM
from core.entities.tags import add_tags, remove_tags, tags_of
from core.events import emit
from core.models import AuditEntry
from core.permissions import can, has_permission, scope_for
from core.themes import render

HISTORY_SIZE = 20
MAX_SELECTED = 500
ADMIN = "admin.settings.manage"
HISTORY_HIDDEN = {"id", "tenant_id", "version", "created_at", "updated_at", "created_by_id"}
BULK_ACTIONS = {
    "assign_owner": ("edit", _l("Assign an owner")),
    "add_tag": ("edit", _l("Add a tag")),
    "remove_tag": ("edit", _l("Remove a tag")),
    "delete": ("delete", _l("Move to the trash")),
    "export": ("export", _l("Export as CSV")),
    "export_xlsx": ("export", _l("Export as Excel")),
}
# Pages that other parts of the kernel add under the entity's URL: the first endpoint found is linked.
EXPORT_ENDPOINTS = ("{prefix}.export", "{prefix}_io.export")
IMPORT_ENDPOINTS = ("{prefix}.import_upload", "{prefix}_io.import_upload")


# ------------------------------------------------------------------------------------------ helpers


def endpoint(entity: Entity, name: str) -> str:
    """The full endpoint of one of the entity's pages: ``endpoint(entity, "list")`` -> ``"contacts_contacts.list"``."""
    return f"{entity.endpoint_prefix}.{name}"


def has_endpoint(entity: Entity, name: str) -> bool:
    return endpoint(entity, name) in current_app.view_functions


def _first_endpoint(entity: Entity, candidates: Iterable[str]) -> str | None:
    for candidate in candidates:
        name = candidate.format(prefix=entity.endpoint_prefix)
        if name in current_app.view_functions:
            return name
    return None


def export_endpoint(entity: Entity) -> str | None:
    """The entity's export page (``<prefix>.export`` or the import/export blueprint's), if one is served."""
    return _first_endpoint(entity, EXPORT_ENDPOINTS)


def import_endpoint(entity: Entity) -> str | None:
    return _first_endpoint(entity, IMPORT_ENDPOINTS)


def templates(entity: Entity, page: str) -> list[str]:
    """Template names tried for ``page``: ``entity.templates[page]``, ``<plugin>/<plural>/<page>.html``, core's."""
    names = []
    if entity.templates.get(page):
        names.append(entity.templates[page])
    names.append(f"{entity.plugin}/{entity.plural}/{page}.html")
    names.append(f"core/entity/{page}.html")
    return names


def _args_without(*keys: str) -> MultiDict:
    args = MultiDict(request.args)
    for key in keys:
        args.poplist(key)
    return args


def list_url(entity: Entity, args: Mapping[str, Any] | None = None, **changes: Any) -> str:
    """The list's URL with ``args`` (default: the current ones, without cursors) and some changed."""
    current = MultiDict(args) if args is not None else _args_without("after", "before")
    for key, value in changes.items():
        current.poplist(key)
        if value is None or value == "":
            continue
        for item in value if isinstance(value, list | tuple) else [value]:
            current.add(key, item)
    return url_for(endpoint(entity, "list"), **current.to_dict(flat=False))


def _safe_back(entity: Entity) -> str:
    """Where a form posted from the list returns: a path on this entity's pages, else the list."""
    target = request.form.get("next", "")
    base = url_for(endpoint(entity, "list"))
    if target.startswith(base) and not target.startswith("//") and "\\" not in target:
        return target
    return base


def _int_list(values: Iterable[Any]) -> list[int]:
    result: list[int] = []
    for value in values:
        try:
            number = int(value)
        except (TypeError, ValueError):
            continue
        if number > 0 and number not in result:
            result.append(number)
    return result


def can_restore(entity: Entity) -> bool:
    """Administrators restore from the trash: workspace administrators, or the delete permission with scope all."""
    return has_permission(ADMIN) or scope_for(entity.permission("delete")) == "all"


# --------------------------------------------------------------------------------------- formatting


@dataclass
class Shown:
    """A value ready for a template: text, an optional safe link, badges, or empty."""

    text: str = ""
    href: str | None = None
    badges: list[str] = field(default_factory=list)
    empty: bool = False
    lines: list[str] = field(default_factory=list)  # nested records, one per line


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _as_datetime(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        moment = value
    else:
        try:
            moment = dt.datetime.fromisoformat(str(value))
        except ValueError:
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


class Formatter:
    """Shows values by widget: money in the tenant's currency (or the record's own, when the field names its
    ``currency_field``), times in the user's zone, names for user and department ids, titles for references
    (``refs``: see :func:`core.entities.references.lookups`)."""

    def __init__(
        self,
        users: Mapping[int, Person],
        depts: Mapping[int, str],
        currency: str,
        refs: Mapping[str, Mapping[int, references.Ref]] | None = None,
    ) -> None:
        self.users = users
        self.depts = depts
        self.currency = currency
        self.refs = refs or {}

    def show(self, spec: FieldSpec, value: Any, short: bool = False, record: Any = None) -> Shown:
        if value is None or value == "" or value == []:
            return Shown(empty=True)
        kind = spec.widget
        if isinstance(value, dict) or (isinstance(value, list | tuple) and any(isinstance(v, dict) for v in value)):
            items = [value] if isinstance(value, dict) else list(value)
            lines = [_summary(item) for item in items]
            lines = [line for line in lines if line]
            return Shown("; ".join(lines), lines=lines) if lines else Shown(empty=True)
        if kind == "bool":
            return Shown(_("Yes") if value in (True, "true", "True", 1, "1") else _("No"))
        if kind == "money":
            number = decimal_or_none(value)
            return Shown(format_currency(number, self._currency(spec, record)) if number is not None else str(value))
        if kind == references.REFERENCE:
            text, href = references.show(spec.field, value, self.refs)
            return Shown(text, href=href)
        if kind == "number":
            number = decimal_or_none(value)
            return Shown(format_decimal(number) if number is not None else str(value))
        if kind == "date":
            day = _as_date(value)
            return Shown(format_date(day) if day else str(value))
        if kind == "datetime":
            moment = _as_datetime(value)
            return Shown(format_datetime(moment, "short" if short else "medium") if moment else str(value))
        if kind in ("choice", "multichoice", "tags"):
            labels = dict(spec.choices)
            items = value if isinstance(value, list | tuple) else [value]
            names = [labels.get(str(v), str(v)) for v in items]
            if kind == "choice" and len(names) == 1:
                return Shown(names[0])
            return Shown(", ".join(names), badges=names)
        if kind == "email":
            text = str(value)
            ok = "@" in text and not re.search(r"[\s<>\"']", text)
            return Shown(text, href=f"mailto:{text}" if ok else None)
        if kind == "phone":
            text = str(value)
            digits = re.sub(r"[^\d+]", "", text)
            return Shown(text, href=f"tel:{digits}" if digits else None)
        if kind == "url":
            text = str(value)
            safe = re.match(r"^https?://[^\s<>\"']+$", text, re.IGNORECASE)
            return Shown(text, href=text if safe else None)
        if kind == "user":
            try:
                person = self.users.get(int(value))
            except (TypeError, ValueError):
                person = None
            return Shown(person.name if person else _("Unknown user #%(id)s", id=value))
        if kind == "department":
            try:
                name = self.depts.get(int(value))
            except (TypeError, ValueError):
                name = None
            return Shown(name or _("Unknown department #%(id)s", id=value))
        text = str(value)
        if short and len(text) > 120:
            text = text[:119] + "…"
        return Shown(text)

    def _currency(self, spec: FieldSpec, record: Any) -> str:
        """The record's own currency when the money field names a ``currency_field`` holding one."""
        name = spec.field.metadata.get("currency_field")
        own = getattr(record, name, None) if name and record is not None else None
        return str(own).upper() if isinstance(own, str) and len(own) == 3 else self.currency


def _summary(item: Any) -> str:
    """One nested record as a line: its filled-in values, ids and flags left out."""
    if not isinstance(item, dict):
        return str(item)
    parts = [
        str(value)
        for key, value in item.items()
        if value not in (None, "", [], {})
        and not isinstance(value, bool | dict | list)
        and key != "id"
        and not str(key).endswith("_id")
    ]
    return " · ".join(parts)


def _ids_in(specs: Iterable[FieldSpec], records: Iterable[Any], kind: str) -> set[int]:
    ids: set[int] = set()
    for spec in specs:
        if spec.widget != kind:
            continue
        for record in records:
            value = spec.raw(record)
            if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
                ids.add(int(value))
    return ids


# --------------------------------------------------------------------------------------------- list


@dataclass
class FilterInput:
    name: str
    label: str
    value: str
    input_type: str = "text"


@dataclass
class FilterField:
    """One field of the filter form: a select, a from/to range or a text box."""

    spec: FieldSpec
    kind: str  # select, range, text
    inputs: list[FilterInput]
    options: list[tuple[str, str]] = field(default_factory=list)


def _fallback_spec(entity: Entity, name: str) -> FieldSpec:
    """A filterable column the schema does not describe: its widget guessed from the column type."""
    from marshmallow import fields as mfields

    attr = lq.column(entity, name)
    kind = {"owner_id": "user", "department_id": "department"}.get(name, "text")
    if kind == "text" and attr is not None:
        python = lq._python_type(attr)
        kind = {bool: "bool", int: "number", float: "number", dt.date: "date", dt.datetime: "datetime"}.get(
            python, "money" if python.__name__ == "Decimal" else "text"
        )
    return FieldSpec(name, name, False, name.replace("_", " ").capitalize(), kind, mfields.Raw())


def _filter_fields(
    entity: Entity, form: EntityFields, users: Mapping[int, Person], depts: Mapping[int, str]
) -> list[FilterField]:
    args = request.args
    specs = [form.get(name) or _fallback_spec(entity, name) for name in entity.filter_fields]
    specs += form.custom
    result = []
    for spec in specs:
        key = spec.filter_name
        if spec.widget in ("choice", "multichoice", "bool", "user", "department"):
            if spec.widget == "bool":
                options = [("1", _("Yes")), ("0", _("No"))]
            elif spec.widget == "user":
                options = [(str(p.id), p.name) for p in users.values()]
            elif spec.widget == "department":
                options = [(str(i), name) for i, name in depts.items()]
            else:
                options = spec.choices
            inputs = [FilterInput(key, spec.label, args.get(key, ""))]
            result.append(FilterField(spec, "select", inputs, [("", _("Any"))] + options))
        elif spec.widget == references.REFERENCE:
            # A reference filters on the record's id (the detail page of that record links here with it).
            inputs = [FilterInput(key, spec.label, args.get(key, ""), "number")]
            result.append(FilterField(spec, "text", inputs))
        elif spec.widget in ("date", "datetime", "number", "money"):
            kind = {"date": "date", "datetime": "datetime-local"}.get(spec.widget, "number")
            inputs = [
                FilterInput(f"{key}__gte", _("from"), args.get(f"{key}__gte", ""), kind),
                FilterInput(f"{key}__lte", _("to"), args.get(f"{key}__lte", ""), kind),
            ]
            result.append(FilterField(spec, "range", inputs))
        else:
            inputs = [FilterInput(f"{key}__contains", spec.label, args.get(f"{key}__contains", ""))]
            result.append(FilterField(spec, "text", inputs))
    return result


@dataclass
class Column:
    key: str
    label: str
    spec: FieldSpec | None
    sortable: bool


@dataclass
class Row:
    record: Any
    title: str
    url: str
    cells: list[Shown]


@dataclass
class Pager:
    """A keyset page in the shape the ``pager()`` macro expects."""

    has_prev: bool
    has_next: bool
    prev_url: str | None
    next_url: str | None


def chosen_columns(entity: Entity, form: EntityFields, args: Mapping[str, Any]) -> list[str]:
    """The columns asked for (``columns``, repeated or comma-separated), else the entity's list columns."""
    getlist = args.getlist if hasattr(args, "getlist") else (lambda k: [args[k]] if k in args else [])
    asked = [part for value in getlist("columns") for part in str(value).split(",") if part]
    keys = [
        key for key in asked if (key in form.specs and form.specs[key].simple) or lq.column(entity, key) is not None
    ]
    if not keys:
        keys = [key for key in entity.list_columns if key in form.specs or lq.column(entity, key) is not None]
    if not keys:
        keys = ["updated_at"] if lq.column(entity, "updated_at") is not None else []
    seen: list[str] = []
    for key in keys:
        if key != entity.title_field and key not in seen:
            seen.append(key)
    return seen


def _sort_url(entity: Entity, current: str, key: str) -> str:
    descending = current == key  # a second click on the sorted column reverses it
    return list_url(entity, sort=f"-{key}" if descending else key, view=None)  # no longer the saved view


def list_context(entity: Entity) -> tuple[dict[str, Any], int]:
    """Everything the list template shows, and the status (400 for bad arguments)."""
    form = entity_fields(entity)
    errors: dict[str, list[str]] = {}
    records: list[Any] = []
    total = 0
    total_cap: int | None = lq.COUNT_CAP
    pager = Pager(False, False, None, None)
    query: lq.ListQuery | None = None
    try:
        query = lq.parse(entity, request.args)
        page = lq.fetch_page(entity, query, "view")
        total, total_cap = lq.counted(entity, query, "view", cap=lq.COUNT_CAP)
        records = page.items
        pager = Pager(
            has_prev=bool(page.prev_cursor),
            has_next=bool(page.next_cursor),
            prev_url=list_url(entity, before=page.prev_cursor) if page.prev_cursor else None,
            next_url=list_url(entity, after=page.next_cursor) if page.next_cursor else None,
        )
    except lq.QueryError as exc:
        errors = exc.errors
    sort = query.sort if query else entity.default_sort
    sortable = lq.sortable(entity)

    keys = chosen_columns(entity, form, request.args)
    specs = {key: form.get(key) or _fallback_spec(entity, key) for key in keys}
    columns = [Column(key, specs[key].label, specs[key], key in sortable) for key in keys]

    can_edit = has_permission(entity.permission("edit"))
    owned = lq.column(entity, "owner_id") is not None
    filter_widgets = {(form.get(n) or _fallback_spec(entity, n)).widget for n in entity.filter_fields} | {
        s.widget for s in form.custom
    }
    shown = list(specs.values())
    need_users = "user" in filter_widgets or (can_edit and owned)
    users = people() if need_users else people(_ids_in(shown, records, "user"))
    need_depts = "department" in filter_widgets
    depts = departments() if need_depts else departments(_ids_in(shown, records, "department"))
    tags = tags_of(entity.plural, [r.id for r in records]) if any(s.widget == "tags" for s in shown) else {}
    refs = references.lookups_for_records(shown, records)
    formatter = Formatter(users, depts, g.tenant.currency, refs)
    rows = [
        Row(
            record=record,
            title=entity.title_of(record),
            url=url_for(endpoint(entity, "detail"), record_id=record.id),
            cells=[formatter.show(specs[key], specs[key].raw(record, tags), True, record) for key in keys],
        )
        for record in records
    ]

    bulk = [
        (name, label)
        for name, (action, label) in BULK_ACTIONS.items()
        if has_permission(entity.permission(action))
        and (name != "assign_owner" or owned)
        and (not name.startswith("export") or export_endpoint(entity) is not None)
    ]
    export_urls: list[tuple[str, str]] = []
    exporter = export_endpoint(entity)
    if exporter and has_permission(entity.permission("export")):
        args = _args_without("after", "before", "view", "format").to_dict(flat=False)
        export_urls = [
            (_("Export as CSV"), url_for(exporter, **args, format="csv")),
            (_("Export as Excel"), url_for(exporter, **args, format="xlsx")),
        ]
    importer = import_endpoint(entity)
    import_url = url_for(importer) if importer and has_permission(entity.permission("import")) else None
    view_id = request.args.get("view", type=int)
    filters = _filter_fields(entity, form, users, depts)
    available = [(key, spec.label) for key, spec in form.specs.items() if key != entity.title_field and spec.simple]
    context = {
        "entity": entity,
        "form": form,
        "rows": rows,
        "columns": columns,
        "title_column": Column(
            entity.title_field,
            (form.get(entity.title_field).label if form.get(entity.title_field) else str(entity.label)),
            form.get(entity.title_field),
            entity.title_field in sortable,
        ),
        "available_columns": available,
        "chosen": keys,
        "sort": sort,
        "sort_url": lambda key: _sort_url(entity, sort, key),
        "total": total,
        "total_cap": total_cap,
        "pager": pager,
        "errors": errors,
        "q": request.args.get("q", ""),
        "tag": request.args.get("tag", ""),
        "filters": filters,
        "filtering": any(
            key not in ("q", "sort", "columns", "view", "after", "before", "limit") and value
            for key, value in request.args.items()
        ),
        "hidden_except": lambda *drop: [
            (k, v) for k in request.args if k not in drop + ("after", "before") for v in request.args.getlist(k)
        ],
        "filter_names": {i.name for f in filters for i in f.inputs} | {"tag", "q"},
        "views": saved_views.views_for(entity.plural, current_user.id),
        "view_id": view_id,
        "view_url": lambda view: list_url(entity, view.args(), view=view.id),
        "can_share": has_permission(ADMIN),
        "can_create": has_permission(entity.permission("create")),
        "can_delete": has_permission(entity.permission("delete")),
        "bulk_actions": bulk,
        "owners": [p for p in users.values() if p.active],
        "export_urls": export_urls,
        "import_url": import_url,
        "current_url": request.full_path.rstrip("?"),
        "query_string": request.query_string.decode("utf-8", "replace"),
        "list_url": url_for(endpoint(entity, "list")),
        "endpoint": lambda name: endpoint(entity, name),
    }
    return context, 400 if errors else 200


def list_view(entity: Entity) -> Any:
    """``GET /<plugin>/<plural>/``: the filtered, sorted, paginated list."""
    if list(request.args) == ["view"]:
        view = saved_views.find(entity.plural, request.args.get("view", 0, type=int), current_user.id)
        if view is None:
            abort(404)
        return redirect(list_url(entity, view.args(), view=view.id))
    context, status = list_context(entity)
    return render(templates(entity, "list"), **context), status


# ------------------------------------------------------------------------------------------- detail


@dataclass
class Change:
    label: str
    before: Shown
    after: Shown


@dataclass
class HistoryEntry:
    id: int
    at: dt.datetime
    who: str
    action: str
    changes: list[Change]


def _history_rows(entity: Entity, record: Any, before: int | None) -> list[AuditEntry]:
    # AuditEntry is not TenantOwned: the tenant criterion is written out here and must stay.
    statement = (
        select(AuditEntry)
        .where(
            AuditEntry.tenant_id == g.tenant.id,
            AuditEntry.table_name == entity.model.__tablename__,
            AuditEntry.record_id == str(record.id),
        )
        .order_by(AuditEntry.id.desc())
        .limit(HISTORY_SIZE + 1)
    )
    if before:
        statement = statement.where(AuditEntry.id < before)
    return list(db.session.scalars(statement))


def _pairs(entry: AuditEntry, form: EntityFields) -> list[tuple[FieldSpec, Any, Any]]:
    """(field, before, after) of an audit entry, custom fields expanded, bookkeeping columns left out."""
    result: list[tuple[FieldSpec, Any, Any]] = []
    for name, pair in (entry.changes or {}).items():
        if name in HISTORY_HIDDEN or name == "deleted_at" or not isinstance(pair, list | tuple) or len(pair) != 2:
            continue
        before, after = pair
        if name == CUSTOM:
            before, after = before or {}, after or {}
            for key in sorted(set(before) | set(after)):
                if before.get(key) != after.get(key):
                    spec = form.get(f"{CUSTOM_COLUMN}{key}") or _plain_spec(key)
                    result.append((spec, before.get(key), after.get(key)))
            continue
        result.append((form.get(name) or _plain_spec(name), before, after))
    return result


def _plain_spec(name: str) -> FieldSpec:
    from marshmallow import fields as mfields

    return FieldSpec(name, name, False, name.replace("_", " ").capitalize(), "text", mfields.Raw())


def _action_label(entry: AuditEntry) -> str:
    changes = entry.changes or {}
    trash = changes.get("deleted_at")
    if entry.action == "update" and isinstance(trash, list | tuple) and len(trash) == 2:
        return _("Moved to the trash") if trash[1] else _("Restored from the trash")
    return {"create": _("Created"), "update": _("Changed"), "delete": _("Deleted")}.get(entry.action, entry.action)


def history(entity: Entity, record: Any, form: EntityFields, before: int | None = None) -> dict[str, Any]:
    """A page of the record's field-level history, newest first, names resolved in one query each."""
    rows = _history_rows(entity, record, before)
    more = len(rows) > HISTORY_SIZE
    rows = rows[:HISTORY_SIZE]
    pairs = {entry.id: _pairs(entry, form) for entry in rows}
    user_ids = {entry.user_id for entry in rows if entry.user_id}
    dept_ids: set[int] = set()
    for changes in pairs.values():
        for spec, old, new in changes:
            target = user_ids if spec.widget == "user" else dept_ids if spec.widget == "department" else None
            if target is not None:
                target.update(int(v) for v in (old, new) if isinstance(v, int) or (isinstance(v, str) and v.isdigit()))
    users = people(user_ids)
    specs = [spec for changes in pairs.values() for spec, _old, _new in changes]
    refs = references.lookups(
        specs, [(spec, v) for changes in pairs.values() for spec, old, new in changes for v in (old, new)]
    )
    formatter = Formatter(users, departments(dept_ids), g.tenant.currency, refs)
    entries = [
        HistoryEntry(
            id=entry.id,
            at=entry.at,
            who=users[entry.user_id].name if entry.user_id in users else (entry.actor or _("system")),
            action=_action_label(entry),
            changes=[
                Change(spec.label, formatter.show(spec, old, True, record), formatter.show(spec, new, True, record))
                for spec, old, new in pairs[entry.id]
            ],
        )
        for entry in rows
    ]
    older = None
    if more and entries:
        older = url_for(
            endpoint(entity, "detail"), record_id=record.id, history_before=entries[-1].id, _anchor="history"
        )
    newest = url_for(endpoint(entity, "detail"), record_id=record.id, _anchor="history") if before else None
    return {"entries": entries, "older_url": older, "newest_url": newest}


def detail_context(entity: Entity, record: Any) -> dict[str, Any]:
    """Everything the detail template shows: sections of formatted values, actions, panels' context, history."""
    form = entity_fields(entity)
    sections = form.sections()
    specs = [spec for _key, _title, fields_ in sections for spec in fields_]
    tags = tags_of(entity.plural, [record.id]) if any(s.widget == "tags" for s in specs) else {}
    user_ids = _ids_in(specs, [record], "user")
    if getattr(record, "created_by_id", None):
        user_ids.add(record.created_by_id)
    users = people(user_ids)
    refs = references.lookups_for_records(specs, [record])
    formatter = Formatter(users, departments(_ids_in(specs, [record], "department")), g.tenant.currency, refs)
    shown = [
        (key, title, [(spec, formatter.show(spec, spec.raw(record, tags), record=record)) for spec in fields_])
        for key, title, fields_ in sections
    ]
    creator = users.get(record.created_by_id) if getattr(record, "created_by_id", None) else None
    before = request.args.get("history_before", type=int)
    return {
        "entity": entity,
        "record": record,
        "title": entity.title_of(record),
        "sections": shown,
        "creator": creator,
        "can_edit": can(entity.permission("edit"), record),
        "can_delete": can(entity.permission("delete"), record),
        "slot_context": {entity.name: record, "record": record, "entity": entity},
        "history": history(entity, record, form, before),
        "list_url": url_for(endpoint(entity, "list")),
        "endpoint": lambda name: endpoint(entity, name),
    }


def detail(entity: Entity, record_id: int) -> Any:
    """``GET /<plugin>/<plural>/<id>``: the record, its panels and its history."""
    record = service.load(entity, record_id, "view")
    return render(templates(entity, "detail"), **detail_context(entity, record))


# -------------------------------------------------------------------------------------------- forms


@dataclass
class Conflict:
    label: str
    stored: Shown
    mine: Shown


def _conflicts(form: EntityFields, changes: Mapping[str, tuple[Any, Any]], formatter: Formatter) -> list[Conflict]:
    result = []
    for name, (theirs, mine) in changes.items():
        if name == CUSTOM:
            theirs, mine = theirs or {}, mine or {}
            for key in mine:
                if theirs.get(key) != mine.get(key):
                    spec = form.get(f"{CUSTOM_COLUMN}{key}") or _plain_spec(key)
                    result.append(
                        Conflict(spec.label, formatter.show(spec, theirs.get(key)), formatter.show(spec, mine[key]))
                    )
            continue
        spec = form.get(name) or _plain_spec(name)
        result.append(Conflict(spec.label, formatter.show(spec, theirs), formatter.show(spec, mine)))
    return result


def _changes_against(entity: Entity, record: Any, data: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """What differs between the stored record and the submitted data (after a concurrent write)."""
    changes: dict[str, tuple[Any, Any]] = {}
    for name, mine in data.items():
        if lq.column(entity, name) is None:
            continue
        theirs = getattr(record, name, None)
        if theirs != mine:
            changes[name] = (theirs, mine)
    return changes


def form_context(
    entity: Entity,
    form: EntityFields,
    values: Mapping[str, Any],
    errors: Mapping[str, list[str]],
    record: Any = None,
    users: Mapping[int, Person] | None = None,
    depts: Mapping[int, str] | None = None,
) -> dict[str, Any]:
    """Everything the form template shows: sections of inputs with their values, choices and errors."""
    users = users if users is not None else {}
    current_people = {str(values.get(s.name)) for s in form.editable if s.widget == "user"}
    owners = [(str(p.id), p.name) for p in users.values() if p.active or str(p.id) in current_people]
    titles = references.form_titles(form.editable, values)
    values = {**titles, **values}  # titles typed on a failed submit are kept as typed
    return {
        "entity": entity,
        "record": record,
        "title": entity.title_of(record) if record is not None else None,
        "sections": form.sections(editable_only=True),
        "values": values,
        "errors": errors,
        "user_choices": owners,
        "department_choices": [(str(i), name) for i, name in (depts or {}).items()],
        "reference_sources": {
            spec.name: (references.api_url(spec.field), references.title_field(spec.field))
            for spec in references.reference_specs(form.editable)
        },
        "list_url": url_for(endpoint(entity, "list")),
        "cancel_url": (
            url_for(endpoint(entity, "detail"), record_id=record.id)
            if record is not None
            else url_for(endpoint(entity, "list"))
        ),
        "endpoint": lambda name: endpoint(entity, name),
    }


def _lookups(form: EntityFields) -> tuple[dict[int, Person], dict[int, str]]:
    widgets = {s.widget for s in form.editable}
    return (people() if "user" in widgets else {}, departments() if "department" in widgets else {})


def new(entity: Entity) -> Any:
    """``GET/POST /<plugin>/<plural>/new``: the create form."""
    form = entity_fields(entity)
    users, depts = _lookups(form)
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        submission = parse_form(form, request.form, users, depts)
        data = load(form, submission)
        if data is not None:
            try:
                record = service.create(entity, data)
                db.session.commit()
            except ValidationError as exc:  # a rule of the entity's apply: nothing is saved
                db.session.rollback()
                add_errors(form, submission, exc)
            else:
                flash(_("%(title)s was created.", title=entity.title_of(record)), "success")
                return redirect(url_for(endpoint(entity, "detail"), record_id=record.id))
        db.session.rollback()
        values, errors, status = submission.values, submission.errors, 400
    else:
        values = initial_values(form)
        owner = form.get("owner_id")
        if owner is not None and owner.widget == "user" and current_user.id in users:
            values[owner.name] = str(current_user.id)  # new records are the creator's unless changed
        for spec in form.editable:  # links may prefill fields: ?company_id=3
            if spec.name in request.args and spec.widget not in ("bool", "multichoice"):
                values[spec.name] = request.args.get(spec.name, "")[:500]
    context = form_context(entity, form, values, errors, None, users, depts)
    return render(templates(entity, "form"), **context), status


def edit(entity: Entity, record_id: int) -> Any:
    """``GET/POST /<plugin>/<plural>/<id>/edit``: the edit form, with optimistic locking."""
    record = service.load(entity, record_id, "edit")
    form = entity_fields(entity, partial=True)
    users, depts = _lookups(form)
    errors: dict[str, list[str]] = {}
    conflicts: list[Conflict] = []
    status = 200
    version = record.version
    if request.method == "POST":
        submitted_version = request.form.get("version", type=int)
        if submitted_version is None:
            abort(400)
        version = submitted_version
        submission = parse_form(form, request.form, users, depts)
        values, errors = submission.values, submission.errors
        data = load(form, submission, partial=True)
        if data is None:
            db.session.rollback()
            status = 400
        else:
            changes: dict[str, tuple[Any, Any]] | None = None
            failed = False
            try:
                service.update(entity, record, data, submitted_version)
                db.session.commit()
            except ValidationError as exc:  # a rule of the entity's apply: nothing is saved
                db.session.rollback()
                add_errors(form, submission, exc)
                record = service.load(entity, record_id, "edit")
                failed = True
            except service.Conflict as exc:
                db.session.rollback()
                changes = exc.changes
            except StaleDataError:
                db.session.rollback()
                record = service.load(entity, record_id, "edit")
                changes = _changes_against(entity, record, data)
            if failed:
                status = 400
            elif changes is None:
                flash(_("The changes to %(title)s are saved.", title=entity.title_of(record)), "success")
                return redirect(url_for(endpoint(entity, "detail"), record_id=record.id))
            else:
                record = service.load(entity, record_id, "edit")
                version = record.version  # saving again now keeps the values shown, knowingly
                lookups = Formatter(
                    people(_ids_for_changes(form, changes, "user")),
                    departments(_ids_for_changes(form, changes, "department")),
                    g.tenant.currency,
                )
                conflicts = _conflicts(form, changes, lookups)
                status = 409
    else:
        tags = tags_of(entity.plural, [record.id]).get(record.id, [])
        values = initial_values(form, record, tags)
    context = form_context(entity, form, values, errors, record, users, depts)
    context.update({"version": version, "conflicts": conflicts, "conflict": status == 409})
    return render(templates(entity, "form"), **context), status


def _ids_for_changes(form: EntityFields, changes: Mapping[str, tuple[Any, Any]], kind: str) -> set[int]:
    ids: set[int] = set()
    for name, pair in changes.items():
        spec = form.get(name)
        if spec is not None and spec.widget == kind:
            ids.update(int(v) for v in pair if isinstance(v, int))
    return ids


# ------------------------------------------------------------------------------------ delete, trash


def delete(entity: Entity, record_id: int) -> Any:
    """``POST /<plugin>/<plural>/<id>/delete``: move the record to the trash."""
    record = service.load(entity, record_id, "delete")
    title = entity.title_of(record)
    service.delete(entity, record)
    db.session.commit()
    flash(_("%(title)s was moved to the trash.", title=title), "success")
    return redirect(url_for(endpoint(entity, "list")))


def trash(entity: Entity) -> Any:
    """``GET /<plugin>/<plural>/trash``: the deleted records the user's delete scope reaches."""
    errors: dict[str, list[str]] = {}
    records: list[Any] = []
    total = 0
    pager = Pager(False, False, None, None)
    try:
        query = lq.parse(entity, request.args)
        page = lq.fetch_page(entity, query, "delete", trash=True)
        total = lq.count(entity, query, "delete", trash=True)
        records = page.items
        args = _args_without("after", "before").to_dict(flat=False)
        pager = Pager(
            bool(page.prev_cursor),
            bool(page.next_cursor),
            url_for(endpoint(entity, "trash"), **args, before=page.prev_cursor) if page.prev_cursor else None,
            url_for(endpoint(entity, "trash"), **args, after=page.next_cursor) if page.next_cursor else None,
        )
    except lq.QueryError as exc:
        errors = exc.errors
    context = {
        "entity": entity,
        "rows": [(record, entity.title_of(record)) for record in records],
        "total": total,
        "pager": pager,
        "errors": errors,
        "q": request.args.get("q", ""),
        "can_restore": can_restore(entity),
        "list_url": url_for(endpoint(entity, "list")),
        "endpoint": lambda name: endpoint(entity, name),
    }
    return render(templates(entity, "trash"), **context), 400 if errors else 200


def restore(entity: Entity, record_id: int) -> Any:
    """``POST /<plugin>/<plural>/<id>/restore``: administrators bring a record back from the trash."""
    if has_permission(ADMIN):
        model = entity.model
        record = db.session.scalar(
            select(model)
            .where(model.id == record_id, model.deleted_at.is_not(None))
            .execution_options(include_deleted=True)
        )
        if record is None:
            abort(404)
    else:
        record = service.load(entity, record_id, "delete", trash=True)
        if not can_restore(entity):
            abort(403)
    service.restore(entity, record)
    db.session.commit()
    flash(_("%(title)s was restored.", title=entity.title_of(record)), "success")
    return redirect(url_for(endpoint(entity, "detail"), record_id=record.id))


# --------------------------------------------------------------------------------------------- bulk


def selected_ids() -> list[int]:
    """The rows ticked in the list (``ids``), or every row of the page with "select all on this page"."""
    ids = _int_list(request.form.getlist("ids"))
    if request.form.get("all_on_page"):
        ids += [i for i in _int_list(request.form.getlist("page_ids")) if i not in ids]
    return ids[:MAX_SELECTED]


def bulk(entity: Entity) -> Any:
    """``POST /<plugin>/<plural>/bulk``: one action on the selected rows, on those the user may change only."""
    action = request.form.get("action", "")
    if action not in BULK_ACTIONS:
        abort(400)
    needed = BULK_ACTIONS[action][0]
    if not has_permission(entity.permission(needed)):
        abort(403)
    back = _safe_back(entity)
    ids = selected_ids()
    if not ids:
        flash(_("Select at least one row first."), "error")
        return redirect(back)
    model = entity.model
    visible = lq.statement(entity, lq.ListQuery(ids=ids), "view").with_only_columns(model.id)
    if not list(db.session.scalars(visible)):
        abort(404)  # none of them exists here, or none is in reach: as a detail page would answer
    if action.startswith("export"):
        exporter = export_endpoint(entity)
        if exporter is None:
            abort(404)
        shown = MultiDict(parse_qsl(urlsplit(back).query))  # the columns and order the user was looking at
        args = MultiDict([("ids", str(i)) for i in ids])
        for key in ("columns", "sort"):
            for value in shown.getlist(key):
                args.add(key, value)
        args.add("format", "xlsx" if action == "export_xlsx" else "csv")
        return redirect(url_for(exporter, **args.to_dict(flat=False)), code=303)

    allowed = lq.ListQuery(ids=ids, sort="id")
    reason = _("outside what you may change")
    if action == "assign_owner":
        users = people()
        owner = request.form.get("owner_id", type=int)
        if owner not in users or not users[owner].active:
            flash(_("Choose the new owner from the list."), "error")
            return redirect(back)
        records = list(db.session.scalars(lq.statement(entity, allowed, "edit")))
        for record in records:
            if record.owner_id != owner:
                service.update(entity, record, {"owner_id": owner}, None)
        changed = len(records)
    elif action in ("add_tag", "remove_tag"):
        names = split_tags(request.form.get("tag", ""))
        if not names:
            flash(_("Type the tag to add or remove."), "error")
            return redirect(back)
        reachable = list(db.session.scalars(lq.statement(entity, allowed, "edit").with_only_columns(model.id)))
        (add_tags if action == "add_tag" else remove_tags)(entity.plural, reachable, names)
        for record_id in reachable:
            emit(f"{entity.plugin}.{entity.name}.updated", id=record_id)
        changed = len(reachable)
    else:
        records = list(db.session.scalars(lq.statement(entity, allowed, "delete")))
        for record in records:
            service.delete(entity, record)
        changed = len(records)
        reason = _("outside what you may delete")
    db.session.commit()
    skipped = len(ids) - changed
    if skipped:
        # One sentence with both numbers, so each language can order them its own way.
        message = _(
            "Changed: %(changed)s. Skipped: %(skipped)s, %(reason)s.", changed=changed, skipped=skipped, reason=reason
        )
    else:
        message = ngettext("%(num)s row changed.", "%(num)s rows changed.", changed)
    flash(message, "success" if changed else "error")
    return redirect(back)


# ------------------------------------------------------------------------------------- saved views


def save_view(entity: Entity) -> Any:
    """``POST /<plugin>/<plural>/views``: save the list's filters, sort and columns under a name."""
    name = " ".join((request.form.get("name") or "").split())
    shared = bool(request.form.get("shared"))
    if shared and not has_permission(ADMIN):
        abort(403)
    raw = request.form.get("query", "")[:4000]
    args = MultiDict(parse_qsl(raw.lstrip("?"), keep_blank_values=False))
    back = list_url(entity, args)
    if not name:
        flash(_("Give the view a name."), "error")
        return redirect(back)
    if len(name) > saved_views.MAX_NAME:
        flash(_("The name may be at most %(n)s characters long.", n=saved_views.MAX_NAME), "error")
        return redirect(back)
    view = saved_views.save(entity.plural, name, args, current_user.id, shared)
    db.session.commit()
    if shared:
        flash(_("The view %(name)s is saved and shared with everyone.", name=view.name), "success")
    else:
        flash(_("The view %(name)s is saved.", name=view.name), "success")
    return redirect(list_url(entity, view.args(), view=view.id))


def delete_view(entity: Entity, view_id: int) -> Any:
    """``POST /<plugin>/<plural>/views/<id>/delete``: remove one's own view, or (administrators) a shared one."""
    view = saved_views.find(entity.plural, view_id, current_user.id)
    if view is None:
        abort(404)
    if view.shared and not has_permission(ADMIN):
        abort(403)
    name = view.name
    db.session.delete(view)
    db.session.commit()
    flash(_("The view %(name)s is deleted.", name=name), "success")
    return redirect(url_for(endpoint(entity, "list")))
