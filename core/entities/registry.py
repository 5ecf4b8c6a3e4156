"""The registered entities of an app, by plural name, and who owns each."""

from __future__ import annotations

import dataclasses

from flask import Flask, current_app, g

from core.entities.definition import Entity
from core.plugins import CORE, PluginError, PluginHost


def register_entities(app: Flask, host: PluginHost) -> None:
    """Collect ``register_entities`` answers, check names, record owners (called once by the app factory)."""
    entities: dict[str, Entity] = {}
    for plugin, declared in host.call_each("register_entities"):
        for entity in declared:
            if not isinstance(entity, Entity):
                raise PluginError(f"plugin {plugin} registered {entity!r}, which is not a core.entities.Entity")
            if entity.plural in entities:
                other = entities[entity.plural].plugin
                raise PluginError(f"entity plural {entity.plural!r} is registered by both {other} and {plugin}")
            if plugin != CORE and entity.permission_prefix.split(".")[0] != plugin:
                raise PluginError(f"entity {entity.plural!r} of {plugin}: permission prefix must start with '{plugin}'")
            entities[entity.plural] = dataclasses.replace(entity, plugin=plugin)
            host.owners.entities[entity.plural] = plugin
            host.owners.tables.setdefault(entity.model.__tablename__, plugin)
    app.extensions["crm.entities"] = entities


def all_entities() -> dict[str, Entity]:
    """Every registered entity, enabled for this tenant or not."""
    return current_app.extensions["crm.entities"]


def enabled_entities() -> dict[str, Entity]:
    """The entities whose plugin is enabled for the current request's tenant."""
    enabled = g.get("enabled_plugins", frozenset())
    return {plural: e for plural, e in all_entities().items() if e.plugin == CORE or e.plugin in enabled}


def entity_for_model(model: type) -> Entity | None:
    for entity in all_entities().values():
        if entity.model is model:
            return entity
    return None
