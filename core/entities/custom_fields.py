"""Custom fields of entities (the tenant-defined part of a record). Extended by the custom-fields module."""

from __future__ import annotations

from typing import Any

from marshmallow import fields

from core.entities.definition import Entity


def marshmallow_fields(entity: Entity) -> dict[str, fields.Field]:
    """No custom fields are defined until the custom-fields module provides them."""
    return {}


def criterion(entity: Entity, key: str, op: str, values: list[Any]) -> Any:
    from core.entities.query import QueryError

    raise QueryError({f"cf_{key}": ["Unknown custom field."]})
