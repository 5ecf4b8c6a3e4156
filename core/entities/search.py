"""Free-text search: inside one entity's list (``q``) and across every entity (the global search box).

Both use the token index of :mod:`core.entities.search_index`: Chinese by any two adjacent characters, Latin words
by prefix, phone numbers by any run of their digits, e-mail addresses by any part. :func:`criterion` is a SQL
condition, so list pages, the API and exports combine it with filters, sorting, keyset pages and record scopes
in one query.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, url_for
from sqlalchemy import false, select
from sqlalchemy.sql.elements import ColumnElement
from werkzeug.routing import BuildError

from core import db
from core.contributions import SearchHit
from core.entities.definition import Entity
from core.entities.search_index import NON_DIGIT, match, normalize, query_terms
from core.permissions import scope_for, scoped

# Rows fetched per entity for the global search, as a multiple of the number of hits shown: the best of them
# (exact and prefix matches of the title first) are kept.
CANDIDATES = 3
SUBTITLE_LENGTH = 80


def criterion(entity: Entity, text: str) -> ColumnElement:
    """Rows whose searchable fields hold every word of ``text`` (see the module docstring for what matches)."""
    if not entity.search_fields:
        return false()
    condition = match(entity, text)
    return false() if condition is None else condition


def searchable(text: str) -> bool:
    """Whether ``text`` has anything to search for (a word, a digit, a Chinese character)."""
    return bool(query_terms(text))


# ------------------------------------------------------------------------------------------ global search


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple | set):
        return ", ".join(_text(v) for v in value if v not in (None, ""))
    return str(value)


def score(title: str, query: str) -> float:
    """Higher for closer matches of the title: the same (100), starts with (80), a word starts with (60), else 40.

    Shorter titles win ties; a hit found through another field (e-mail, phone) scores 40.
    """
    wanted = normalize(query).strip()
    have = normalize(title).strip()
    digits = NON_DIGIT.sub("", query)
    inside = bool(wanted) and (wanted in have or any(word.startswith(wanted) for word in have.split()))
    same_digits = len(digits) >= 3 and digits in NON_DIGIT.sub("", title)
    if wanted and have == wanted:
        base = 100.0
    elif wanted and have.startswith(wanted):
        base = 80.0
    elif inside or same_digits:
        base = 60.0
    else:
        base = 40.0
    return base - min(len(have), 100) / 1000


def _subtitle(entity: Entity, record: Any) -> str:
    """The first non-empty search field other than the title, else the first such list column."""
    for name in (*entity.search_fields, *entity.list_columns):
        if name == entity.title_field or name.startswith("custom.") or name.endswith("_id"):
            continue
        value = _text(getattr(record, name, None)).strip()
        if value:
            return value[:SUBTITLE_LENGTH]
    return ""


def detail_url(entity: Entity, record: Any) -> str | None:
    """The record's detail page, else the entity's list searched for its title, else ``None`` (no pages)."""
    views = current_app.view_functions
    prefix = entity.endpoint_prefix
    if f"{prefix}.detail" in views:
        try:
            return url_for(f"{prefix}.detail", id=record.id)
        except BuildError:
            pass
    if f"{prefix}.list" in views:
        try:
            return url_for(f"{prefix}.list", q=entity.title_of(record))
        except BuildError:
            pass
    return None


def entity_hits(entity: Entity, query: str, user: Any, limit: int) -> list[SearchHit]:
    """The best ``limit`` hits for ``query`` among the entity's records the user may view."""
    permission = entity.permission("view")
    if not entity.search_fields or scope_for(permission, user) is None:
        return []
    condition = match(entity, query)
    if condition is None:
        return []
    model = entity.model
    statement = scoped(select(model).where(condition), permission, user, model=model)
    hits = []
    for record in db.session.scalars(statement.limit(limit * CANDIDATES)):
        title = entity.title_of(record)
        hits.append(
            SearchHit(
                title=title,
                url=detail_url(entity, record) or "",
                kind=entity.label,
                subtitle=_subtitle(entity, record),
                score=score(title, query),
            )
        )
    hits.sort(key=lambda hit: -hit.score)
    return hits[:limit]


def global_search(query: str, user: Any, limit: int) -> list[SearchHit]:
    """Hits from every entity of the plugins enabled in the current tenant, at most ``limit`` per entity."""
    from core.entities.registry import enabled_entities

    if user is None or not getattr(user, "is_authenticated", False) or not searchable(query):
        return []
    hits: list[SearchHit] = []
    for entity in enabled_entities().values():
        hits.extend(entity_hits(entity, query, user, limit))
    hits.sort(key=lambda hit: -hit.score)
    return hits
