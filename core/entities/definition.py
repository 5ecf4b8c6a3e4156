"""What a plugin declares about one kind of record; everything else is derived by the kernel."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.contributions import Permission

# The actions every entity has a permission for: ``<prefix>.<action>``.
ACTIONS = ("view", "create", "edit", "delete", "export", "import")


@dataclass(frozen=True)
class Section:
    """A titled group of fields on the detail page and in the form."""

    key: str
    title: Any
    fields: tuple[str, ...]


@dataclass(frozen=True)
class Entity:
    """One kind of record a plugin owns (a contact, a company, an opportunity).

    The marshmallow ``schema`` is the single description of the fields: its field classes give the input types,
    ``required`` and validators give server-side validation, and ``metadata`` gives ``label``, ``widget``
    (``longtext``, ``money``, ``phone``, ``user``, ``tags`` ...) and ``choices``. ``plural`` is unique: it is the URL
    segment of the pages (``/<plugin>/<plural>/``) and of the API (``/api/v1/<plural>``).
    """

    name: str
    plural: str
    model: type
    schema: type
    label: Any
    label_plural: Any
    permission_prefix: str
    title_field: str = "name"
    list_columns: tuple[str, ...] = ()
    search_fields: tuple[str, ...] = ()
    filter_fields: tuple[str, ...] = ()
    default_sort: str = "-updated_at"
    sections: tuple[Section, ...] = ()
    slots: tuple[str, ...] = ()
    icon: str = ""
    menu_order: int = 100
    # Override pieces: template names per page ("list", "detail", "form") and view functions per endpoint.
    templates: Mapping[str, str] = field(default_factory=dict)
    views: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    # ``apply(record, data)`` writes validated data onto a record when plain column copying is not enough
    # (child rows such as a contact's e-mail addresses); it must also handle what default_apply handles.
    apply: Callable[[Any, Mapping[str, Any]], None] | None = None
    # ``bulk_apply(batch)`` does for a whole batch of new records what ``apply`` does for one, so that an import
    # inserts them in bulk (a ``core.entities.bulk.BulkBatch``: call ``batch.insert()``, then write child rows for
    # ``batch.ids``). Without it, an entity with ``apply`` is imported one record at a time.
    bulk_apply: Callable[[Any], None] | None = None
    # Fields that identify the same real-world record, for duplicate handling on import ("email", "phone").
    match_fields: tuple[str, ...] = ()
    plugin: str = ""  # filled in by the kernel with the registering plugin's name

    def permission(self, action: str) -> str:
        """``contacts.contact.view`` style permission name for ``action``."""
        return f"{self.permission_prefix}.{action}"

    @property
    def endpoint_prefix(self) -> str:
        """Blueprint name of the entity's pages; the API's is this plus ``_api``."""
        return f"{self.plugin}_{self.plural}"

    def title_of(self, record: Any) -> str:
        return str(getattr(record, self.title_field, "") or f"#{record.id}")


def entity_permissions(
    prefix: str, label_plural: Any, defaults: Mapping[str, Mapping[str, str]] | None = None
) -> list[Permission]:
    """The six permissions of an entity, with labels like "Contacts: view".

    ``defaults`` maps an action to its role defaults: ``{"view": {"sales": "own", "readonly": "all"}}``.
    """
    from flask_babel import lazy_gettext as _l

    labels = {
        "view": _l("view"),
        "create": _l("create"),
        "edit": _l("edit"),
        "delete": _l("delete"),
        "export": _l("export"),
        "import": _l("import"),
    }
    defaults = defaults or {}
    return [
        Permission(
            f"{prefix}.{action}",
            _LazyJoin(label_plural, labels[action]),
            scoped=action not in ("create", "import"),
            defaults=dict(defaults.get(action, {})),
        )
        for action in ACTIONS
    ]


class _LazyJoin:
    """ "Contacts: view", translated when rendered rather than at import."""

    def __init__(self, noun: Any, verb: Any) -> None:
        self.noun = noun
        self.verb = verb

    def __str__(self) -> str:
        from flask_babel import gettext as _

        return _("%(noun)s: %(verb)s", noun=str(self.noun), verb=str(self.verb))

    def __html__(self) -> str:
        from markupsafe import escape

        return str(escape(str(self)))
