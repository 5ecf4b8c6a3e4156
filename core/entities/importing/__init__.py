"""Import of CSV and XLSX files into any registered entity: readers, column mapping, the all-or-nothing run.

``import_file(entity, user, path, plan)`` is what the background job and ``crm import`` both call; the pages
(upload, mapping, preview, progress) live in :mod:`core.entities.importing.views`.
"""

from __future__ import annotations

from typing import Any

from core.entities.definition import Entity
from core.entities.importing.engine import (
    DUPLICATES,
    Importer,
    ImportResult,
    Plan,
    Progress,
    RowError,
    mapping_text,
)
from core.entities.importing.mapping import Target, normalise, suggest, targets
from core.entities.importing.readers import ENCODINGS, ReadError, Table, open_table, read_error_message

__all__ = [
    "DUPLICATES",
    "ENCODINGS",
    "ImportResult",
    "Importer",
    "Plan",
    "ReadError",
    "RowError",
    "Table",
    "Target",
    "default_match",
    "import_endpoint",
    "import_file",
    "mapping_text",
    "normalise",
    "open_table",
    "read_error_message",
    "suggest",
    "targets",
]


def import_endpoint(entity: Entity) -> str:
    """The endpoint of ``entity``'s import page (``url_for(import_endpoint(e))``), for a link on its list."""
    return f"{entity.endpoint_prefix}_io.import_upload"


def default_match(entity: Entity, mapping: list[str]) -> str | None:
    """The first of the entity's ``match_fields`` that a column is mapped to."""
    return next((name for name in entity.match_fields if name in mapping), None)


def import_file(
    entity: Entity,
    user: Any,
    path: str,
    plan: Plan | None = None,
    encoding: str = "auto",
    kind: str | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    filename: str = "",
) -> tuple[ImportResult, Importer | None]:
    """Import one file as ``user`` (the caller holds the tenant context and commits). Without a ``plan`` the
    columns are mapped automatically, duplicates skipped and matched on the entity's first match field."""
    try:
        table = open_table(path, encoding=encoding, kind=kind, filename=filename)
    except ReadError as exc:
        result = ImportResult(dry_run=dry_run)
        result.add_error(0, "", read_error_message(exc))
        return result, None
    with table:
        if plan is None:
            mapping = suggest(entity, table.headers)
            plan = Plan(mapping=mapping, on_duplicate="skip", match=default_match(entity, mapping))
        importer = Importer(entity, user, table.headers, plan)
        problems = importer.problems()
        if problems:
            result = ImportResult(dry_run=dry_run)
            for problem in problems:
                result.add_error(0, "", problem)
            return result, importer
        try:
            return importer.run(table, dry_run=dry_run, progress=progress), importer
        except ReadError as exc:
            from core import db

            db.session.rollback()
            result = ImportResult(dry_run=dry_run)
            code, _sep, row = str(exc).partition(":")
            result.add_error(int(row) if row.isdigit() else 0, "", read_error_message(exc))
            return result, importer
