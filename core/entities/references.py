"""Record references: an integer id field that names a record of another entity.

A schema field declares ``metadata={"widget": "reference", "entity": "<plural>"}`` on an ``Integer`` id. Pages show
the id as the referenced record's title, linked to its detail page; the titles of a whole page are read in one
query per referenced entity. A record the user may not view (outside their scope) shows as "Hidden record", with
neither title nor link, so that storing someone else's id never reveals their name. Forms show the title in a text
input with suggestions (``core/static/reference.js``) and, without JavaScript, resolve the typed title to the one
visible record that has it; ``#123`` names a record by id. Import resolves titles the same way, a batch at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import current_app, has_request_context, url_for
from flask_babel import gettext as _
from marshmallow import fields
from sqlalchemy import case, func, literal, select

from core import db
from core.entities.definition import Entity
from core.permissions import scope_criterion, scope_for

REFERENCE = "reference"
TITLE_SUFFIX = "__title"  # the form's text input next to the hidden id: ``company_id__title``


@dataclass(frozen=True)
class Ref:
    """A referenced record as a page shows it: its title and link, or hidden (outside the user's scope)."""

    id: int
    title: str
    href: str | None
    hidden: bool = False


def target_of(field: fields.Field) -> Entity | None:
    """The entity a reference field names (``metadata["entity"]``), if it is registered and enabled here."""
    from core.entities.registry import enabled_entities

    plural = field.metadata.get("entity")
    if not plural or not has_request_context():
        return None
    return enabled_entities().get(str(plural))


def _title_column(entity: Entity) -> Any:
    return getattr(entity.model, entity.title_field)


def _visible_flag(entity: Entity, user: Any = None) -> Any:
    """A SQL expression, 1 where the user's view scope reaches the row, else 0 (one query reads both)."""
    from core.permissions import _user

    user = _user(user)
    criterion = scope_criterion(entity.model, scope_for(entity.permission("view"), user), user)
    return literal(1) if criterion is None else case((criterion, 1), else_=0)


def _href(entity: Entity, ident: int) -> str | None:
    name = f"{entity.endpoint_prefix}.detail"
    return url_for(name, record_id=ident) if name in current_app.view_functions else None


def titles(entity: Entity, ids: Iterable[int], user: Any = None) -> dict[int, Ref]:
    """The records ``ids`` of ``entity`` as references, in one query; unknown or trashed ids are left out."""
    wanted = {int(i) for i in ids if isinstance(i, int) or (isinstance(i, str) and i.isdigit())}
    if not wanted:
        return {}
    model = entity.model
    statement = select(model.id, _title_column(entity), _visible_flag(entity, user)).where(model.id.in_(wanted))
    result: dict[int, Ref] = {}
    for ident, title, visible in db.session.execute(statement):
        if visible:
            result[ident] = Ref(ident, str(title or f"#{ident}"), _href(entity, ident))
        else:
            result[ident] = Ref(ident, _("Hidden record"), None, hidden=True)
    return result


def reference_specs(specs: Iterable[Any]) -> list[Any]:
    """The field specs (``core.entities.forms.FieldSpec``) among ``specs`` that are references."""
    return [s for s in specs if getattr(s, "widget", None) == REFERENCE]


def lookups(specs: Iterable[Any], values: Iterable[tuple[Any, Any]]) -> dict[str, dict[int, Ref]]:
    """Titles for the reference values of a page: ``values`` are (spec, value) pairs; one query per entity."""
    wanted: dict[str, set[int]] = {}
    refs = {id(s) for s in reference_specs(specs)}
    for spec, value in values:
        if id(spec) not in refs or value is None:
            continue
        if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
            wanted.setdefault(str(spec.field.metadata.get("entity")), set()).add(int(value))
    result: dict[str, dict[int, Ref]] = {}
    from core.entities.registry import enabled_entities

    entities = enabled_entities()
    for plural, ids in wanted.items():
        target = entities.get(plural)
        result[plural] = titles(target, ids) if target is not None else {}
    return result


def lookups_for_records(specs: Iterable[Any], records: Iterable[Any]) -> dict[str, dict[int, Ref]]:
    """Titles for the reference fields of ``records`` (a list page, a detail page)."""
    specs = reference_specs(specs)
    if not specs:
        return {}
    records = list(records)
    return lookups(specs, [(spec, spec.raw(record)) for spec in specs for record in records])


def show(field: fields.Field, value: Any, refs: Mapping[str, Mapping[int, Ref]]) -> tuple[str, str | None]:
    """(text, link) of a reference value: the title and its detail page, "Hidden record", or the bare id."""
    try:
        ident = int(value)
    except (TypeError, ValueError):
        return str(value), None
    ref = refs.get(str(field.metadata.get("entity")), {}).get(ident)
    if ref is None:
        return _("Unknown record #%(id)s", id=ident), None
    return ref.title, ref.href


# ------------------------------------------------------------------------------------- typed titles


def _normal(text: str) -> str:
    return " ".join(str(text).split())


def resolve_titles(entity: Entity, texts: Iterable[str], user: Any = None) -> dict[str, int | None]:
    """Typed titles to ids among the records the user may view, in one query: a title shared by several records
    maps to ``None``; a title no visible record has is left out. ``#123`` stands for id 123 (when visible)."""
    wanted = {_normal(t) for t in texts if t and _normal(t)}
    if not wanted:
        return {}
    model = entity.model
    column = _title_column(entity)
    numbers = {int(t[1:]) for t in wanted if t.startswith("#") and t[1:].isdigit()}
    names = {t for t in wanted if t not in {f"#{n}" for n in numbers}}
    from core.permissions import _user

    user = _user(user)
    criterion = scope_criterion(model, scope_for(entity.permission("view"), user), user)
    result: dict[str, int | None] = {}
    if names:
        statement = select(column, func.min(model.id), func.count(model.id)).where(column.in_(names)).group_by(column)
        if criterion is not None:
            statement = statement.where(criterion)
        for title, first, count in db.session.execute(statement):
            result[_normal(title)] = first if count == 1 else None
    if numbers:
        statement = select(model.id).where(model.id.in_(numbers))
        if criterion is not None:
            statement = statement.where(criterion)
        for ident in db.session.scalars(statement):
            result[f"#{ident}"] = ident
    return result


def resolve_input(field: fields.Field, id_text: str | None, title_text: str | None) -> tuple[int | None, str | None]:
    """The id a reference input pair names, or an error: ``id_text`` is the hidden id the suggestions filled in
    (kept when the title beside it is still that record's), ``title_text`` what the user typed (``None`` when the
    form had no title input: the id alone counts)."""
    target = target_of(field)
    id_text = (id_text or "").strip()
    if title_text is None:
        if not id_text:
            return None, None
        if not id_text.isdigit():
            return None, _("Choose a record from the suggestions.")
        return int(id_text), None
    typed = _normal(title_text)
    if not typed:
        return None, None
    if target is None:
        digits = typed.lstrip("#")
        return (int(digits), None) if digits.isdigit() else (None, _("Choose a record from the suggestions."))
    if id_text.isdigit():
        current = titles(target, [int(id_text)]).get(int(id_text))
        if current is not None and typed in (_normal(current.title), f"#{current.id}"):
            return current.id, None  # hidden records show as "Hidden record": keeping them unchanged is allowed
    found = resolve_titles(target, [typed])
    if typed not in found:
        return None, _("No record called %(title)s that you can see.", title=typed)
    if found[typed] is None:
        message = _("Several records are called %(title)s: choose one from the suggestions, or type #id.", title=typed)
        return None, message
    return found[typed], None


def form_titles(specs: Iterable[Any], values: Mapping[str, Any]) -> dict[str, str]:
    """The title inputs' text for the ids in ``values`` (a form shown for the first time)."""
    specs = reference_specs(specs)
    refs = lookups(specs, [(s, values.get(s.name)) for s in specs])
    result = {}
    for spec in specs:
        value = values.get(spec.name)
        if value in (None, ""):
            continue
        ref = refs.get(str(spec.field.metadata.get("entity")), {}).get(int(value)) if str(value).isdigit() else None
        # Unknown and hidden records show as "#id", which submits unchanged.
        result[spec.name + TITLE_SUFFIX] = ref.title if ref is not None and not ref.hidden else f"#{value}"
    return result


def api_url(field: fields.Field) -> str | None:
    """The list API the suggestions call (``/api/v1/<plural>``)."""
    target = target_of(field)
    name = f"{target.endpoint_prefix}_api.list" if target is not None else None
    return url_for(name) if name and name in current_app.view_functions else None


def title_field(field: fields.Field) -> str:
    target = target_of(field)
    return target.title_field if target is not None else "name"
