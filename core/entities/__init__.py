"""The entity framework: a plugin registers an :class:`Entity` and the kernel serves its pages and API.

``from core.entities import Entity, Section, Record, Owned, entity_permissions``.
"""

from core.entities.definition import ACTIONS, Entity, Section, entity_permissions
from core.entities.records import Owned, Record

__all__ = ["ACTIONS", "Entity", "Owned", "Record", "Section", "entity_permissions"]
