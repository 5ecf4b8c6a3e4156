"""The REST API of every registered entity: ``/api/v1/<plural>`` list, get, create, partial update, delete.

One blueprint per entity, named ``<plugin>_<plural>_api`` and owned by the entity's plugin, so where the plugin is
disabled every endpoint answers 404. Reads go through :mod:`core.entities.query` and writes through
:mod:`core.entities.service`: record scopes apply in SQL, another tenant's or an out-of-scope record is 404, a
user with no grant at all gets 403. A plugin replaces one endpoint by putting a view in ``Entity.views`` under
``"api.list"``, ``"api.get"``, ``"api.create"``, ``"api.update"`` or ``"api.delete"``: it is called as
``view(entity, **url_arguments)`` and keeps the endpoint's permission unless it declares its own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from flask import Blueprint, Flask, jsonify, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from marshmallow import ValidationError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.datastructures import MultiDict

from core import db
from core.api.errors import api_requires, error, plain, validation_errors
from core.api.tokens import check_csrf, prefer_bearer
from core.entities import query as queries
from core.entities import service
from core.entities.definition import Entity
from core.entities.query import QueryError
from core.entities.schemas import CUSTOM, reference_errors, schema_for
from core.entities.tags import tags_of
from core.permissions import view_policy
from core.plugins import PluginError, PluginHost

API_PREFIX = "/api/v1"
# Paths under /api/v1/ that the kernel itself answers; no entity may take them as its plural.
RESERVED_PLURALS = frozenset({"search", "openapi.json", "docs", "tokens"})
ENDPOINTS = ("list", "get", "create", "update", "delete")


# ------------------------------------------------------------------------------------------ serialising


def dump(entity: Entity, records: list[Any]) -> list[dict[str, Any]]:
    """Records as the API shows them: the schema's fields, ``tags`` (one query for the page) and ``custom``."""
    schema = schema_for(entity, many=True)
    rows = schema.dump(records)
    tags = tags_of(entity.plural, [record.id for record in records])
    has_custom = CUSTOM in schema.fields
    for row, record in zip(rows, records, strict=True):
        row["tags"] = tags.get(record.id, [])
        row[CUSTOM] = (row.get(CUSTOM) or {}) if has_custom else {}
    return [plain(row) for row in rows]


def dump_one(entity: Entity, record: Any) -> dict[str, Any]:
    return dump(entity, [record])[0]


def _record_response(entity: Entity, record: Any, status: int = 200) -> ResponseReturnValue:
    response = jsonify(dump_one(entity, record))
    response.status_code = status
    response.headers["ETag"] = f'"{record.version}"'
    return response


# ---------------------------------------------------------------------------------------------- input


def _json_object() -> dict[str, Any] | None:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else None


def _not_json() -> ResponseReturnValue:
    return error(400, _("Send a JSON object as the request body, with Content-Type: application/json."))


def _version(body: dict[str, Any]) -> tuple[int | None, dict[str, list[str]] | None]:
    """The version the client read: the body's ``version`` or the ``If-Match`` header; ``None`` when neither."""
    raw = body.pop("version", None)
    if raw is None:
        header = request.headers.get("If-Match", "").strip()
        raw = header.removeprefix("W/").strip('"') if header and header != "*" else None
    if raw is None:
        return None, None
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw, None
    if isinstance(raw, str) and raw.strip().isdigit():
        return int(raw.strip()), None
    return None, {"version": [_("Must be a whole number.")]}


def _load(entity: Entity, body: dict[str, Any], partial: bool) -> tuple[dict[str, Any] | None, Any]:
    """Validated data, or the 422 answer with every error by field name."""
    try:
        data = schema_for(entity, partial=partial).load(body)
    except ValidationError as exc:
        return None, validation_errors(exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages})
    problems = reference_errors(entity, data)
    if problems:
        return None, validation_errors(problems)
    return data, None


def _messages(exc: ValidationError) -> dict[str, Any]:
    return exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}


def _conflict(entity: Entity, record_id: int, action: str, changes: dict[str, tuple[Any, Any]]) -> ResponseReturnValue:
    """409 with what changed and the record as it is now, so the client can merge and retry."""
    db.session.rollback()
    current = service.load(entity, record_id, action)
    body = {
        "error": {
            "status": 409,
            "message": _("Someone else changed this record after you read it. Read it again and reapply your changes."),
            "changes": {
                name: {"current": plain(theirs), "yours": plain(mine)} for name, (theirs, mine) in changes.items()
            },
        },
        "current": dump_one(entity, current),
    }
    response = jsonify(body)
    response.status_code = 409
    response.headers["ETag"] = f'"{current.version}"'
    return response


# ---------------------------------------------------------------------------------------------- views


def _page_url(**changes: str | None) -> str:
    args = request.args.to_dict(flat=False)
    for key, value in changes.items():
        args.pop(key, None)
        if value is not None:
            args[key] = [value]
    return url_for(request.endpoint or "", _external=True, **(request.view_args or {}), **args)


def _views(entity: Entity) -> dict[str, Callable[..., ResponseReturnValue]]:
    def list_records() -> ResponseReturnValue:
        args = MultiDict([(k, v) for k, v in request.args.items(multi=True) if k != "count"])
        try:
            query = queries.parse(entity, args)
            page = queries.fetch_page(entity, query, "view")
            meta: dict[str, Any] = {"limit": page.limit}
            if request.args.get("count") in ("1", "true", "yes"):
                meta["count"] = queries.count(entity, query, "view")
        except QueryError as exc:
            return validation_errors(exc.errors, status=400)
        return jsonify(
            {
                "data": dump(entity, page.items),
                "links": {
                    "next": _page_url(after=page.next_cursor, before=None) if page.next_cursor else None,
                    "prev": _page_url(before=page.prev_cursor, after=None) if page.prev_cursor else None,
                },
                "meta": meta,
            }
        )

    def get_record(record_id: int) -> ResponseReturnValue:
        return _record_response(entity, service.load(entity, record_id, "view"))

    def create_record() -> ResponseReturnValue:
        body = _json_object()
        if body is None:
            return _not_json()
        body.pop("version", None)
        data, problem = _load(entity, body, partial=False)
        if problem is not None:
            return problem
        try:
            record = service.create(entity, data)
            db.session.commit()
        except ValidationError as exc:  # a rule of the entity's apply, known only against stored data
            db.session.rollback()
            return validation_errors(_messages(exc))
        response = _record_response(entity, record, 201)
        response.headers["Location"] = url_for(".get", record_id=record.id, _external=True)
        return response

    def update_record(record_id: int) -> ResponseReturnValue:
        record = service.load(entity, record_id, "edit")
        body = _json_object()
        if body is None:
            return _not_json()
        version, version_error = _version(body)
        if version_error:
            return validation_errors(version_error)
        data, problem = _load(entity, body, partial=True)
        if problem is not None:
            return problem
        try:
            service.update(entity, record, data, version)
            db.session.commit()
        except ValidationError as exc:  # a rule of the entity's apply: nothing is saved
            db.session.rollback()
            return validation_errors(_messages(exc))
        except service.Conflict as exc:
            return _conflict(entity, record_id, "edit", exc.changes)
        except StaleDataError:
            return _conflict(entity, record_id, "edit", {})
        return _record_response(entity, record)

    def delete_record(record_id: int) -> ResponseReturnValue:
        record = service.load(entity, record_id, "delete")
        version, version_error = _version({})
        if version_error:
            return validation_errors(version_error)
        if version is not None and version != record.version:
            return _conflict(entity, record_id, "delete", {})
        service.delete(entity, record)
        db.session.commit()
        return "", 204

    return {
        "list": list_records,
        "get": get_record,
        "create": create_record,
        "update": update_record,
        "delete": delete_record,
    }


ROUTES: dict[str, tuple[str, str, str]] = {
    # endpoint: (rule, method, permission action)
    "list": ("", "GET", "view"),
    "create": ("", "POST", "create"),
    "get": ("/<int:record_id>", "GET", "view"),
    "update": ("/<int:record_id>", "PATCH", "edit"),
    "delete": ("/<int:record_id>", "DELETE", "delete"),
}


def blueprint_for(entity: Entity) -> Blueprint:
    """The API blueprint of one entity: ``/api/v1/<plural>`` and ``/api/v1/<plural>/<id>``."""
    bp = Blueprint(f"{entity.endpoint_prefix}_api", __name__, url_prefix=f"{API_PREFIX}/{entity.plural}")
    bp.before_request(prefer_bearer)
    bp.before_request(check_csrf)
    defaults = _views(entity)
    for endpoint, (rule, method, action) in ROUTES.items():
        override = entity.views.get(f"api.{endpoint}")
        if override is None:
            wrapped = api_requires(entity.permission(action))(defaults[endpoint])
        else:
            wrapped = _override(entity, override, entity.permission(action))
        wrapped.__name__ = f"{entity.endpoint_prefix}_api_{endpoint}"
        bp.add_url_rule(rule, endpoint, wrapped, methods=[method])
    return bp


def _override(entity: Entity, view: Callable[..., Any], permission: str) -> Callable[..., Any]:
    """A plugin's view for one API endpoint, called as ``view(entity, **url_arguments)``; it keeps the endpoint's
    permission unless it declares its own (``core.api.errors.api_requires``)."""

    @functools.wraps(view)
    def call(**kwargs: Any) -> Any:
        return view(entity, **kwargs)

    if view_policy(view) is not None:
        return call
    return api_requires(permission)(call)


def init_entity_api(app: Flask, host: PluginHost, entities: Iterable[Entity] | None = None) -> None:
    """Register the API blueprint of every entity and record the entity's plugin as its owner."""
    csrf = app.extensions["csrf"]
    for entity in entities if entities is not None else app.extensions["crm.entities"].values():
        if entity.plural in RESERVED_PLURALS:
            raise PluginError(f"entity plural {entity.plural!r} of {entity.plugin} is reserved by the API")
        bp = blueprint_for(entity)
        csrf.exempt(bp)  # check_csrf decides: the session cookie needs the token, a bearer token does not
        app.register_blueprint(bp)
        host.owners.blueprints[bp.name] = entity.plugin
