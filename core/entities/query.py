"""One query layer for an entity's list page, API, export and bulk actions.

Request arguments become a :class:`ListQuery` (search text, filters, sort, cursor); :func:`statement` turns it
into SQL with the user's record scope applied in SQL; :func:`fetch_page` pages with a keyset cursor, so page
10,000 costs what page 1 costs; :func:`iterate` streams every matching row in batches for exports.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Select, and_, func, inspect, intersect, literal_column, or_, select
from sqlalchemy.sql.elements import ColumnElement

from core import db
from core.entities.definition import Entity
from core.permissions import scoped

MAX_LIMIT = 200
COUNT_CAP = 10_000  # a list page counts at most this many rows (see count())
# ... and at most this many when tag or custom field filters drive the count (each match costs a row probe)
FILTERED_COUNT_CAP = 1_000
MAX_IDS = 1000
RESERVED = {"q", "sort", "after", "before", "limit", "columns", "view", "format", "tag", "page", "ids"}
OPERATORS = {"eq", "ne", "gte", "lte", "gt", "lt", "contains", "empty"}


class QueryError(ValueError):
    """Bad list arguments; ``errors`` maps argument names to messages (shown next to the filter, or as JSON)."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


@dataclass
class Filter:
    field: str
    op: str
    values: list[Any]


@dataclass
class ListQuery:
    text: str = ""
    filters: list[Filter] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    sort: str = ""
    after: str | None = None
    before: str | None = None
    limit: int = 25
    ids: list[int] = field(default_factory=list)  # only these rows (the list's selection), when given

    @property
    def sort_key(self) -> str:
        return self.sort.lstrip("-")

    @property
    def descending(self) -> bool:
        return self.sort.startswith("-")


@dataclass
class Page:
    items: list[Any]
    next_cursor: str | None
    prev_cursor: str | None
    limit: int


# --------------------------------------------------------------------------------------------- parsing


def column(entity: Entity, name: str) -> Any:
    """The mapped column attribute ``name`` of the entity's model, or ``None``."""
    mapper = inspect(entity.model)
    attr = mapper.column_attrs.get(name)
    return getattr(entity.model, name) if attr is not None else None


def _python_type(attr: Any) -> type:
    try:
        return attr.type.python_type
    except NotImplementedError:
        return str


def convert(attr: Any, raw: str) -> Any:
    """A request string as the column's Python type; ``ValueError`` when it is not one."""
    kind = _python_type(attr)
    raw = raw.strip()
    if kind is bool:
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(raw)
    if kind is int:
        return int(raw)
    if kind is float:
        return float(raw)
    if kind is decimal.Decimal:
        return decimal.Decimal(raw)
    if kind is dt.datetime:
        value = dt.datetime.fromisoformat(raw)
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if kind is dt.date:
        return dt.date.fromisoformat(raw)
    return raw


def sortable(entity: Entity) -> set[str]:
    """Columns a list may be sorted by: the list columns and the default sort that are real columns."""
    names = {c for c in entity.list_columns if column(entity, c) is not None}
    names |= {entity.default_sort.lstrip("-"), "id", "created_at", "updated_at"}
    return {n for n in names if column(entity, n) is not None}


def parse(entity: Entity, args: Mapping[str, Any], default_limit: int = 25) -> ListQuery:
    """Read ``q``, ``sort``, ``after``/``before``, ``limit``, ``tag``, ``ids`` and ``<field>[__op]`` filters."""
    getlist = args.getlist if hasattr(args, "getlist") else (lambda k: [args[k]] if k in args else [])
    errors: dict[str, list[str]] = {}
    query = ListQuery(text=str(args.get("q", "") or "").strip()[:200])

    sort = str(args.get("sort") or entity.default_sort)
    if sort.lstrip("-") not in sortable(entity):
        errors["sort"] = [_("Cannot sort by %(name)s.", name=sort.lstrip("-"))]
        sort = entity.default_sort
    query.sort = sort

    try:
        query.limit = max(1, min(MAX_LIMIT, int(args.get("limit") or default_limit)))
    except ValueError:
        errors["limit"] = [_("Must be a whole number.")]
    query.after = args.get("after") or None
    query.before = args.get("before") or None
    query.tags = [t for t in getlist("tag") if t]
    try:
        query.ids = [int(v) for value in getlist("ids") for v in str(value).split(",") if v.strip()][:MAX_IDS]
    except ValueError:
        errors["ids"] = [_("Must be whole numbers.")]

    allowed = set(entity.filter_fields)
    for key in args:
        if key in RESERVED or key.startswith("_"):
            continue
        name, _sep, op = key.partition("__")
        op = op or "eq"
        if name not in allowed and not name.startswith("cf_"):
            errors[key] = [_("Unknown filter.")]
            continue
        if op not in OPERATORS:
            errors[key] = [_("Unknown operator %(op)s.", op=op)]
            continue
        raw_values = [v for v in getlist(key) if v != ""]
        if not raw_values and op != "empty":
            continue
        if name.startswith("cf_"):
            query.filters.append(Filter(name, op, raw_values))
            continue
        attr = column(entity, name)
        if attr is None:
            errors[key] = [_("Unknown filter.")]
            continue
        try:
            values = raw_values if op in ("contains", "empty") else [convert(attr, v) for v in raw_values]
        except (ValueError, decimal.InvalidOperation):
            errors[key] = [_("Not a valid value for this field.")]
            continue
        query.filters.append(Filter(name, op, values))
    if errors:
        raise QueryError(errors)
    return query


# ------------------------------------------------------------------------------------------- building


def _criterion(attr: Any, flt: Filter) -> ColumnElement:
    values = flt.values
    if flt.op == "empty":
        wanted = not values or str(values[0]).lower() in ("1", "true", "yes")
        return attr.is_(None) if wanted else attr.is_not(None)
    if flt.op == "eq":
        return attr.in_(values) if len(values) > 1 else attr == values[0]
    if flt.op == "ne":
        return attr.not_in(values)
    if flt.op == "contains":
        # icontains: PostgreSQL's LIKE is case-sensitive, SQLite's and MariaDB's (with a _ci collation) are not.
        return or_(*[attr.icontains(v, autoescape=True) for v in values])
    comparisons = {"gte": attr.__ge__, "lte": attr.__le__, "gt": attr.__gt__, "lt": attr.__lt__}
    return and_(*[comparisons[flt.op](v) for v in values])


def statement(entity: Entity, query: ListQuery, action: str = "view", user: Any = None, trash: bool = False) -> Select:
    """SELECT of the entity's rows matching ``query`` that the user may reach with ``action``, unordered."""
    return _build(entity, query, action, user, trash)[0]


def _build(
    entity: Entity, query: ListQuery, action: str, user: Any, trash: bool
) -> tuple[Select, Select, list[Select]]:
    """:func:`statement`; the same without the criteria that membership in a source already decides (the
    "residual"); and the sources: SELECTs of record ids (labelled ``rid``, each read from an index that starts
    with ``tenant_id``) that hold every matching row's id, one per tag and per custom field filter that needs a
    value. :func:`count` drives from the sources."""
    model = entity.model
    stmt = select(model)
    if trash:
        stmt = stmt.where(model.deleted_at.is_not(None)).execution_options(include_deleted=True)
    stmt = scoped(stmt, entity.permission(action), user, model=model)
    residual = stmt
    sources: list[Select] = []

    def add(criterion: Any, source: Select | None = None, decided: bool = False) -> None:
        nonlocal stmt, residual
        stmt = stmt.where(criterion)
        if source is not None:
            sources.append(source)
        if not decided:
            residual = residual.where(criterion)

    if query.ids:
        add(model.id.in_(query.ids))
    for flt in query.filters:
        if flt.field.startswith("cf_"):
            from core.entities import custom_fields

            add(*custom_fields.criterion_and_source(entity, flt.field[3:], flt.op, flt.values))
        else:
            add(_criterion(getattr(model, flt.field), flt))
    if query.tags:
        from core.entities.tags import tag_criteria_and_sources

        for criterion, source in tag_criteria_and_sources(entity.plural, model, query.tags):
            add(criterion, source, decided=True)
    if query.text:
        from core.entities.search import criterion as text_criterion

        add(text_criterion(entity, query.text))
    return stmt, residual, sources


def count(
    entity: Entity,
    query: ListQuery,
    action: str = "view",
    user: Any = None,
    trash: bool = False,
    cap: int | None = None,
) -> int:
    """How many rows match; with ``cap``, counting stops after ``cap + 1`` (more than ``cap``: "cap+").

    An exact count reads every matching row; a list page shows "more than 10,000" instead, so its cost stays
    bounded however large the tenant (Odoo's list views count the same way). A list filtered by tags or custom
    fields counts to at most :data:`FILTERED_COUNT_CAP` (see :func:`counted`)."""
    return counted(entity, query, action, user, trash, cap)[0]


def counted(
    entity: Entity,
    query: ListQuery,
    action: str = "view",
    user: Any = None,
    trash: bool = False,
    cap: int | None = None,
) -> tuple[int, int | None]:
    """:func:`count`, and the cap it counted to (``cap``, or the lower :data:`FILTERED_COUNT_CAP`).

    With tag or custom field filters the count is driven by the record ids those filters read from their
    indexes, and each id is then tested against the rest of the query with one primary-key probe: on SQLite
    the sources are intersected (a merge of sorted index ranges), elsewhere the first source drives and the
    others are semi-joined (PostgreSQL merges them). Walking the list's rows and probing each for the filters
    instead would read 50 rows for every match of a 2% filter. The probe of the row is what each match costs
    (a random read of the table), so such a count stops at ``FILTERED_COUNT_CAP``."""
    stmt, residual, sources = _build(entity, query, action, user, trash)
    model = entity.model
    if sources:
        if cap is not None:
            cap = min(cap, FILTERED_COUNT_CAP)
        if db.session.get_bind().dialect.name == "sqlite":
            merged = intersect(*sources) if len(sources) > 1 else sources[0].distinct()
            ids = merged.order_by(literal_column("rid")).subquery()
            inner = select(ids.c.rid)
        else:
            ids = sources[0].distinct().subquery()
            inner = select(ids.c.rid).where(*[ids.c.rid.in_(other) for other in sources[1:]])
        rest = residual.with_only_columns(model.id).order_by(None).where(model.id == ids.c.rid)
        inner = inner.where(rest.exists())
    else:
        inner = stmt.with_only_columns(model.id).order_by(None)
    if cap is not None:
        inner = inner.limit(cap + 1)
    total = select(func.count()).select_from(inner.subquery()).execution_options(**stmt.get_execution_options())
    return db.session.scalar(total) or 0, cap


# ---------------------------------------------------------------------------------- keyset pagination


def _encode(values: list[Any]) -> str:
    def plain(v: Any) -> Any:
        if isinstance(v, dt.datetime | dt.date):
            return {"t": type(v).__name__, "v": v.isoformat()}
        if isinstance(v, decimal.Decimal):
            return {"t": "decimal", "v": str(v)}
        return v

    raw = json.dumps([plain(v) for v in values], separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str) -> list[Any]:
    def typed(v: Any) -> Any:
        if isinstance(v, dict):
            kind, value = v.get("t"), v.get("v")
            if kind == "datetime":
                return dt.datetime.fromisoformat(value)
            if kind == "date":
                return dt.date.fromisoformat(value)
            if kind == "decimal":
                return decimal.Decimal(value)
        return v

    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != 3:
            raise ValueError
        return [typed(v) for v in values]
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        raise QueryError({"after": [_("This page link is no longer valid.")]}) from exc


def _cursor_for(record: Any, key: str) -> str:
    value = getattr(record, key)
    return _encode([1 if value is None else 0, value, record.id])


def _nullable(attr: Any) -> bool:
    """Whether the sort column can hold NULL (``updated_at``, ``id`` and other NOT NULL columns cannot)."""
    return bool(getattr(attr.expression, "nullable", True))


def _ordering(attr: Any, model: type, descending: bool) -> list[Any]:
    # NULLs last in both directions, portably: order by "is null" first. A NOT NULL column needs no such key,
    # and without it the (tenant_id, column, id) index gives the order: no sort of every row for each page.
    direction = (lambda c: c.desc()) if descending else (lambda c: c.asc())
    if not _nullable(attr):
        return [direction(attr), direction(model.id)]
    return [attr.is_(None).asc(), direction(attr), direction(model.id)]


def _after(attr: Any, model: type, descending: bool, cursor: list[Any]) -> ColumnElement:
    is_null, value, last_id = cursor
    beyond = (lambda c, v: c < v) if descending else (lambda c, v: c > v)
    if is_null:
        return and_(attr.is_(None), beyond(model.id, last_id))
    rest = or_(beyond(attr, value), and_(attr == value, beyond(model.id, last_id)))
    if not _nullable(attr):
        # The redundant bound lets the index range start at the cursor (an OR alone cannot), so page 10,000
        # reads what page 1 reads.
        return and_(attr <= value if descending else attr >= value, rest)
    return or_(attr.is_(None), and_(attr.is_not(None), rest))


def _before(attr: Any, model: type, descending: bool, cursor: list[Any]) -> ColumnElement:
    """Rows that come before ``cursor`` in the forward order (NULLs last), for a "previous page"."""
    is_null, value, last_id = cursor
    earlier = (lambda c, v: c > v) if descending else (lambda c, v: c < v)
    if is_null:
        return or_(attr.is_not(None), and_(attr.is_(None), earlier(model.id, last_id)))
    rest = or_(earlier(attr, value), and_(attr == value, earlier(model.id, last_id)))
    if not _nullable(attr):
        return and_(attr >= value if descending else attr <= value, rest)
    return and_(attr.is_not(None), rest)


def fetch_page(entity: Entity, query: ListQuery, action: str = "view", user: Any = None, trash: bool = False) -> Page:
    """One page of rows and the cursors of the pages after and before it."""
    model = entity.model
    attr = getattr(model, query.sort_key)
    stmt = statement(entity, query, action, user, trash)
    backwards = bool(query.before) and not query.after
    descending = query.descending != backwards
    if query.after:
        stmt = stmt.where(_after(attr, model, query.descending, _decode(query.after)))
    elif query.before:
        stmt = stmt.where(_before(attr, model, query.descending, _decode(query.before)))
    if backwards:
        # Walking backwards NULLs come first: they were last going forwards.
        direction = (lambda c: c.desc()) if descending else (lambda c: c.asc())
        order = [direction(attr), direction(model.id)]
        if _nullable(attr):
            order.insert(0, attr.is_(None).desc())
    else:
        order = _ordering(attr, model, descending)
    rows = list(db.session.scalars(stmt.order_by(*order).limit(query.limit + 1)))
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    if backwards:
        rows.reverse()
    has_next = more if not backwards else True
    has_prev = bool(query.after) or (backwards and more)
    return Page(
        items=rows,
        next_cursor=_cursor_for(rows[-1], query.sort_key) if rows and has_next else None,
        prev_cursor=_cursor_for(rows[0], query.sort_key) if rows and has_prev else None,
        limit=query.limit,
    )


def iterate(
    entity: Entity, query: ListQuery, action: str = "export", user: Any = None, batch: int = 1000
) -> Iterator[Any]:
    """Every matching row in sort order, ``batch`` at a time (constant memory, for exports)."""
    cursor = ListQuery(**{**query.__dict__, "after": None, "before": None, "limit": batch})
    while True:
        page = fetch_page(entity, cursor, action, user)
        yield from page.items
        db.session.expunge_all()
        if not page.next_cursor:
            return
        cursor.after = page.next_cursor
