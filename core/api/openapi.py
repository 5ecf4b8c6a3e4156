"""The OpenAPI 3 document of a tenant's API, built per request with apispec from the entity schemas.

Only the entities enabled for the tenant (and that the user holds a permission of) appear, with the tenant's
custom fields, so the document is served to signed-in users only. The readable API page renders the same dict.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import g, request
from flask_babel import gettext as _
from marshmallow import fields

from core.api.errors import plain
from core.entities import query as queries
from core.entities.api import API_PREFIX
from core.entities.definition import Entity
from core.entities.registry import enabled_entities
from core.entities.schemas import CUSTOM, custom_field_map, schema_for, widget
from core.permissions import has_permission

OPENAPI_VERSION = "3.0.3"
JSON = "application/json"
ACTIONS = ("view", "create", "edit", "delete")

# Filter operators per kind of column (see core.entities.query.parse).
TEXT_OPS = ("ne", "contains", "empty")
ORDERED_OPS = ("ne", "gte", "lte", "gt", "lt", "empty")
BOOL_OPS = ("empty",)


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^0-9A-Za-z]+", name) if part)


def component_names(entities: list[Entity]) -> dict[str, str]:
    """``Item`` for an entity called ``item``; ``NotesItem`` if two plugins both have an ``item``."""
    names: dict[str, str] = {}
    taken = [_camel(e.name) for e in entities]
    for entity in entities:
        short = _camel(entity.name)
        names[entity.plural] = short if taken.count(short) == 1 else _camel(entity.plugin) + short
    return names


def visible_entities() -> list[Entity]:
    """The tenant's enabled entities the user holds at least one permission of, by plural."""
    return [
        entity
        for _plural, entity in sorted(enabled_entities().items())
        if any(has_permission(entity.permission(action)) for action in ACTIONS)
    ]


# ------------------------------------------------------------------------------------------ field types


def _field_extras(self: Any, field: fields.Field, **kwargs: Any) -> dict[str, Any]:
    """apispec attribute function: decimals sent as strings, and the field's label, help and widget."""
    extra: dict[str, Any] = {}
    if isinstance(field, fields.Decimal) and field.as_string:
        extra.update({"type": "string", "format": "decimal"})
    if field.metadata.get("label"):
        extra["title"] = str(field.metadata["label"])
    if field.metadata.get("help") and "description" not in kwargs.get("ret", {}):
        extra["description"] = str(field.metadata["help"])
    extra["x-widget"] = widget(field)
    if field.metadata.get("choices"):
        extra["x-choices"] = [{"value": value, "label": str(label)} for value, label in field.metadata["choices"]]
    return extra


def _python_schema(kind: type) -> dict[str, Any]:
    if kind is bool:
        return {"type": "boolean"}
    if kind is int:
        return {"type": "integer"}
    if kind in (float, decimal.Decimal):
        return {"type": "number"}
    if kind is dt.datetime:
        return {"type": "string", "format": "date-time"}
    if kind is dt.date:
        return {"type": "string", "format": "date"}
    return {"type": "string"}


def _ops_for(schema: dict[str, Any]) -> tuple[str, ...]:
    if schema.get("type") == "boolean":
        return BOOL_OPS
    if schema.get("type") in ("integer", "number") or schema.get("format") in ("date", "date-time", "decimal"):
        return ORDERED_OPS
    return TEXT_OPS


def _param(name: str, schema: dict[str, Any], description: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description, **extra}


def _filter_params(entity: Entity, converter: Any) -> list[dict[str, Any]]:
    params = []
    targets: list[tuple[str, dict[str, Any], str]] = []
    for name in entity.filter_fields:
        attr = queries.column(entity, name)
        if attr is not None:
            targets.append((name, _python_schema(queries._python_type(attr)), name))
    for key, field in custom_field_map(entity).items():
        prop = converter.field2property(field)
        schema = {k: v for k, v in prop.items() if k in ("type", "format")} or {"type": "string"}
        if schema.get("type") in ("array", "object"):
            schema = {"type": "string"}
        targets.append((f"cf_{key}", schema, str(field.metadata.get("label") or key)))
    for name, schema, label in targets:
        params.append(
            _param(
                name, schema, _("Only rows whose %(field)s equals this (repeat it for any of several).", field=label)
            )
        )
        for op in _ops_for(schema):
            if op == "empty":
                op_schema: dict[str, Any] = {"type": "boolean"}
                text = _("true: only rows without a %(field)s; false: only rows with one.", field=label)
            elif op == "contains":
                op_schema = {"type": "string"}
                text = _("Only rows whose %(field)s contains this text.", field=label)
            else:
                op_schema = schema
                text = {
                    "ne": _("Only rows whose %(field)s is not this.", field=label),
                    "gte": _("Only rows whose %(field)s is at least this.", field=label),
                    "lte": _("Only rows whose %(field)s is at most this.", field=label),
                    "gt": _("Only rows whose %(field)s is greater than this.", field=label),
                    "lt": _("Only rows whose %(field)s is less than this.", field=label),
                }[op]
            params.append(_param(f"{name}__{op}", op_schema, text))
    return params


def _list_params(entity: Entity, converter: Any) -> list[dict[str, Any]]:
    sortable = sorted(queries.sortable(entity))
    return [
        _param("q", {"type": "string", "maxLength": 200}, _("Free-text search in the searchable fields.")),
        _param(
            "sort",
            {
                "type": "string",
                "enum": [s for name in sortable for s in (name, f"-{name}")],
                "default": entity.default_sort,
            },
            _("Sort by this field; a leading minus sorts descending."),
        ),
        _param(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": queries.MAX_LIMIT, "default": 25},
            _("Rows per page."),
        ),
        _param(
            "ids",
            {"type": "string", "pattern": r"^[0-9]+(,[0-9]+)*$"},
            _("Only these records: ids separated by commas (at most %(n)d).", n=queries.MAX_IDS),
        ),
        _param("after", {"type": "string"}, _("Cursor of the next page: copy it from links.next.")),
        _param("before", {"type": "string"}, _("Cursor of the previous page: copy it from links.prev.")),
        _param(
            "tag",
            {"type": "array", "items": {"type": "string"}},
            _("Only rows carrying this tag (repeat it: rows carrying every one)."),
            style="form",
            explode=True,
        ),
        _param(
            "count",
            {"type": "integer", "enum": [0, 1]},
            _("1: also return meta.count, the number of matching rows (one more query)."),
        ),
        *_filter_params(entity, converter),
    ]


# ------------------------------------------------------------------------------------------- document


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {JSON: {"schema": schema}}}


def _error_responses(*codes: int) -> dict[str, Any]:
    names = {
        400: "BadRequest",
        401: "Unauthorized",
        403: "Forbidden",
        404: "NotFound",
        409: "Conflict",
        422: "Unprocessable",
    }
    return {str(code): {"$ref": f"#/components/responses/{names[code]}"} for code in codes}


def _shared_components(spec: APISpec) -> None:
    spec.components.security_scheme(
        "bearerAuth",
        {
            "type": "http",
            "scheme": "bearer",
            "description": _("A personal API token, created on the API tokens page or with `crm tokens create`."),
        },
    )
    spec.components.schema(
        "Error",
        {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["status", "message"],
                    "properties": {"status": {"type": "integer"}, "message": {"type": "string"}},
                }
            },
        },
    )
    spec.components.schema(
        "ValidationErrors",
        {
            "type": "object",
            "required": ["errors"],
            "properties": {
                "errors": {
                    "type": "object",
                    "description": _("Messages by field name; custom fields under custom, by key."),
                    "additionalProperties": {},
                }
            },
        },
    )
    spec.components.schema(
        "Links",
        {
            "type": "object",
            "properties": {
                "next": {"type": "string", "format": "uri", "nullable": True},
                "prev": {"type": "string", "format": "uri", "nullable": True},
            },
        },
    )
    spec.components.schema(
        "Meta",
        {
            "type": "object",
            "properties": {"limit": {"type": "integer"}, "count": {"type": "integer"}},
        },
    )
    spec.components.schema(
        "SearchHit",
        {
            "type": "object",
            "properties": {
                "title": {"type": "string"},
                "url": {"type": "string"},
                "kind": {"type": "string"},
                "subtitle": {"type": "string"},
                "score": {"type": "number"},
            },
        },
    )
    descriptions = {
        "BadRequest": (_("The query or the body could not be understood."), "ValidationErrors"),
        "Unauthorized": (_("No valid token and no signed-in session."), "Error"),
        "Forbidden": (_("The user holds no grant of this permission."), "Error"),
        "NotFound": (_("No such record here, or outside the user's scope."), "Error"),
        "Conflict": (_("The record changed since the version sent; the answer carries it as it is now."), "Error"),
        "Unprocessable": (_("Validation failed; the errors are listed by field name."), "ValidationErrors"),
    }
    for name, (text, schema) in descriptions.items():
        spec.components.response(name, {"description": text, **_json_content(_ref(schema))})


def _record_properties(spec: APISpec, name: str) -> dict[str, Any]:
    component = spec.components.schemas[name]
    component.pop("additionalProperties", None)
    return component.setdefault("properties", {})


def _entity_components(spec: APISpec, entity: Entity, name: str) -> None:
    spec.components.schema(name, schema=schema_for(entity))
    props = _record_properties(spec, name)
    props["tags"] = {"type": "array", "items": {"type": "string"}, "title": _("Tags"), "x-widget": "tags"}
    props.setdefault(CUSTOM, {"type": "object", "properties": {}})
    props[CUSTOM]["title"] = _("Custom fields")
    spec.components.schema(f"{name}Patch", schema=schema_for(entity, partial=True))
    patch = _record_properties(spec, f"{name}Patch")
    patch["tags"] = props["tags"]
    patch.setdefault(CUSTOM, {"type": "object", "properties": {}})
    patch["version"] = {
        "type": "integer",
        "description": _(
            "The version you read. If the record changed since, the answer is 409. Leave it out to overwrite."
        ),
    }


def _summary(noun: str, verb: str) -> str:
    """ "Items: list", as the permission labels read."""
    return _("%(noun)s: %(verb)s", noun=noun, verb=verb)


def _entity_paths(spec: APISpec, entity: Entity, name: str, converter: Any) -> None:
    label = str(entity.label_plural)
    record = _ref(name)
    record_id = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
    if_match = {
        "name": "If-Match",
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
        "description": _("The version you read (the ETag of the record); an older one gets 409."),
    }
    single = {"description": str(entity.label), "headers": {"ETag": {"schema": {"type": "string"}}}}
    spec.path(
        path=f"{API_PREFIX}/{entity.plural}",
        operations={
            "get": {
                "tags": [label],
                "operationId": f"list_{entity.plural}",
                "summary": _summary(label, _("list")),
                "description": _(
                    "Needs %(perm)s; rows outside the user's scope are left out.", perm=entity.permission("view")
                ),
                "parameters": _list_params(entity, converter),
                "responses": {
                    "200": {
                        "description": _("One page of rows, with the links of the next and previous pages."),
                        **_json_content(
                            {
                                "type": "object",
                                "properties": {
                                    "data": {"type": "array", "items": record},
                                    "links": _ref("Links"),
                                    "meta": _ref("Meta"),
                                },
                            }
                        ),
                    },
                    **_error_responses(400, 401, 403),
                },
            },
            "post": {
                "tags": [label],
                "operationId": f"create_{entity.plural}",
                "summary": _summary(label, _("create")),
                "description": _("Needs %(perm)s.", perm=entity.permission("create")),
                "requestBody": {"required": True, **_json_content(record)},
                "responses": {
                    "201": {**single, **_json_content(record)},
                    **_error_responses(400, 401, 403, 422),
                },
            },
        },
    )
    spec.path(
        path=f"{API_PREFIX}/{entity.plural}/{{id}}",
        operations={
            "get": {
                "tags": [label],
                "operationId": f"get_{entity.plural}",
                "summary": _summary(label, _("read one")),
                "description": _("Needs %(perm)s.", perm=entity.permission("view")),
                "parameters": [record_id],
                "responses": {"200": {**single, **_json_content(record)}, **_error_responses(401, 403, 404)},
            },
            "patch": {
                "tags": [label],
                "operationId": f"update_{entity.plural}",
                "summary": _summary(label, _("change one")),
                "description": _(
                    "Needs %(perm)s. Send only the fields to change, and the version you read.",
                    perm=entity.permission("edit"),
                ),
                "parameters": [record_id, if_match],
                "requestBody": {"required": True, **_json_content(_ref(f"{name}Patch"))},
                "responses": {
                    "200": {**single, **_json_content(record)},
                    "409": {
                        "description": _("The record changed since the version sent."),
                        **_json_content({"type": "object", "properties": {"error": _ref("Error"), "current": record}}),
                    },
                    **_error_responses(400, 401, 403, 404, 422),
                },
            },
            "delete": {
                "tags": [label],
                "operationId": f"delete_{entity.plural}",
                "summary": _summary(label, _("move one to the trash")),
                "description": _("Needs %(perm)s. Administrators can restore it.", perm=entity.permission("delete")),
                "parameters": [record_id, if_match],
                "responses": {"204": {"description": _("Moved to the trash.")}, **_error_responses(401, 403, 404, 409)},
            },
        },
    )


def _search_path(spec: APISpec) -> None:
    spec.path(
        path=f"{API_PREFIX}/search",
        operations={
            "get": {
                "tags": [_("Search")],
                "operationId": "search",
                "summary": _("Search everything"),
                "description": _("The global search of the top bar: every enabled module, within the user's scopes."),
                "parameters": [
                    {
                        "name": "q",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "maxLength": 200},
                        "description": _("What to look for (at least two characters, or digits)."),
                    },
                    _param("limit", {"type": "integer", "minimum": 1, "maximum": 50, "default": 10}, _("Most hits.")),
                ],
                "responses": {
                    "200": {
                        "description": _("Hits, best first."),
                        **_json_content(
                            {"type": "object", "properties": {"data": {"type": "array", "items": _ref("SearchHit")}}}
                        ),
                    },
                    **_error_responses(401),
                },
            }
        },
    )


def build_spec() -> dict[str, Any]:
    """The OpenAPI 3 document for the current tenant and user, as a JSON-ready dict."""
    marshmallow = MarshmallowPlugin(schema_name_resolver=lambda schema: None)
    tenant = g.tenant
    spec = APISpec(
        title=_("%(name)s API", name=tenant.name),
        version="1",
        openapi_version=OPENAPI_VERSION,
        plugins=[marshmallow],
        info={
            "description": _(
                "Send a personal API token in the header Authorization: Bearer <token>. Lists are paged with "
                "cursors: follow links.next until it is null."
            )
        },
        servers=[{"url": request.url_root.rstrip("/")}],
        security=[{"bearerAuth": []}],
    )
    converter = marshmallow.converter
    assert converter is not None  # set by APISpec when it initialises the plugin
    converter.add_attribute_function(_field_extras)
    _shared_components(spec)
    entities = visible_entities()
    names = component_names(entities)
    for entity in entities:
        _entity_components(spec, entity, names[entity.plural])
        _entity_paths(spec, entity, names[entity.plural], converter)
    _search_path(spec)
    return plain(spec.to_dict())
