"""Loading an import's rows with the entity's schema, at a lower cost per row than ``Schema.load``.

A spreadsheet usually fills a handful of an entity's thirty fields, and marshmallow spends most of a row's time
in its generic machinery: for every field, present or not, a closure, an error-collecting wrapper, a validator
chain built afresh. :func:`batch_schema` returns an instance of the entity's schema whose per-record
deserialisation (a) puts the load default of an absent optional field in place directly and (b) accepts text that
a plain text field's validators all pass without the wrapper. Anything else, and every value that fails a
validator, goes through marshmallow's own field code, which words the errors; pre-load, field and schema
validators and post-load hooks are the schema's own, and partial loads (rows that update a record) take
marshmallow's path unchanged. The result and the errors are those of ``Schema.load`` (a test compares them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, missing
from marshmallow.validate import Validator


class _Plan:
    """How the schema loads one record, worked out once per schema instance."""

    def __init__(self, load_fields: Mapping[str, Any]) -> None:
        self.defaults: dict[str, Any] = {}  # output key -> the constant default of an optional field
        self.computed: list[tuple[str, str, Any]] = []  # input key, output key, callable default
        self.required: list[tuple[str, Any]] = []  # input key, field
        self.present: dict[str, tuple[str, Any, bool]] = {}  # input key -> output key, field, plain text?
        keys = []
        for name, field in load_fields.items():
            source = field.data_key if field.data_key is not None else name
            key = field.attribute or name
            keys.append(key)
            self.present[source] = (key, field, _plain_text(field))
            if field.required:
                self.required.append((source, field))
            elif callable(field.load_default):
                self.computed.append((source, key, field.load_default))
            elif field.load_default is not missing:
                self.defaults[key] = field.load_default
        # Dotted attributes (nested output) and two fields writing one key: marshmallow's own loop decides.
        self.usable = len(set(keys)) == len(keys) and not any("." in key for key in keys)


class _BatchLoading:
    """Mixed into an entity schema's class by :func:`batch_schema`; see the module's docstring."""

    def _deserialize(
        self,
        data: Any,
        *,
        error_store: Any,
        many: bool = False,
        partial: Any = None,
        unknown: Any = EXCLUDE,
        index: int | None = None,
    ) -> Any:
        plan = self.__dict__.get("_batch_plan")
        if plan is None:
            plan = self.__dict__["_batch_plan"] = _Plan(self.load_fields)  # type: ignore[attr-defined]
        if many or partial or unknown != EXCLUDE or not isinstance(data, Mapping) or not plan.usable:
            return super()._deserialize(  # type: ignore[misc]
                data, error_store=error_store, many=many, partial=partial, unknown=unknown, index=index
            )
        index = index if self.opts.index_errors else None  # type: ignore[attr-defined]
        kwargs = {} if partial is None else {"partial": partial}
        result = self.dict_class(plan.defaults)  # type: ignore[attr-defined]
        for source, key, default in plan.computed:
            if source not in data and (value := default()) is not missing:
                result[key] = value
        for source, field in plan.required:
            if source not in data:
                self._load_field(result, error_store, index, source, field.attribute or source, field, missing, data)
        present = plan.present
        for source, raw in data.items():
            entry = present.get(source)
            if entry is None:
                continue
            key, field, plain = entry
            if plain and _valid_text(field, raw):
                result[key] = raw
            else:
                self._load_field(result, error_store, index, source, key, field, raw, data, **kwargs)
        return result

    @staticmethod
    def _load_field(
        result: dict[str, Any],
        error_store: Any,
        index: int | None,
        source: str,
        key: str,
        field: Any,
        raw: Any,
        data: Any,
        **kwargs: Any,
    ) -> None:
        """What marshmallow does for one field of a record: deserialise, or store the error."""
        try:
            value = field.deserialize(raw, source, data, **kwargs)
        except ValidationError as error:
            error_store.store_error(error.messages, source, index=index)
            value = error.valid_data or missing
        if value is missing:
            result.pop(key, None)
        else:
            result[key] = value


def _plain_text(field: Any) -> bool:
    """Whether ``field`` loads text as ``fields.String`` does (``Email`` and the like: only validators added)."""
    kind = type(field)
    return (
        isinstance(field, fields.String)
        and kind._deserialize is fields.String._deserialize
        and kind.deserialize is fields.Field.deserialize
        and kind._validate is fields.Field._validate
        and not getattr(field, "pre_load", None)
        and not getattr(field, "post_load", None)
    )


def _valid_text(field: Any, raw: Any) -> bool:
    """Whether a plain-text field certainly loads ``raw`` unchanged: text (or an allowed None) that every
    validator accepts. Anything else, errors included, goes through marshmallow, which words the messages."""
    if raw is None:
        return bool(field.allow_none)
    if type(raw) is not str:
        return False
    try:
        for validator in field.validators:
            if validator(raw) is False and not isinstance(validator, Validator):
                return False
    except ValidationError:
        return False
    return True


def batch_schema(schema: Schema) -> Schema:
    """A schema like ``schema`` (same class, fields and options) that loads whole records faster."""
    cls = type(schema)
    batch_class = type(f"{cls.__name__}Batch", (_BatchLoading, cls), {})
    return batch_class(
        many=schema.many, partial=schema.partial, unknown=schema.unknown, only=schema.only, exclude=schema.exclude
    )
