"""The background job that runs an import uploaded through the pages."""

from __future__ import annotations

import time
from typing import Any

from core import db
from core.entities.importing.engine import ImportResult, Plan
from core.entities.importing.storage import load

PROGRESS_ROWS = 5000


def _failure(message: str) -> dict[str, Any]:
    result = ImportResult()
    result.add_error(0, "", message)
    return result.as_dict()


def run_import(upload_id: str, plural: str, importer_id: int, job: Any = None) -> dict[str, Any]:
    """Import the upload ``upload_id`` into the entity ``plural`` as user ``importer_id``: all rows or none."""
    from flask_babel import force_locale
    from flask_babel import gettext as _

    from core.audit import Actor, reset_actor, set_actor
    from core.entities.importing import import_file
    from core.entities.registry import all_entities
    from core.models import User
    from core.permissions import has_permission
    from core.tenancy import current_tenant

    user = db.session.get(User, importer_id)
    entity = all_entities().get(plural)
    upload = load(upload_id, importer_id)
    tenant = current_tenant()
    locale = (user.locale if user is not None else None) or getattr(tenant, "default_locale", None) or "en"
    with force_locale(locale):
        if entity is None or user is None or not user.active or upload is None:
            return _failure(_("The upload is no longer available. Upload the file again."))
        if not has_permission(entity.permission("import"), user):
            return _failure(_("You do not have permission to do that."))
        sqlite = db.session.get_bind().dialect.name == "sqlite"
        state = {"reported": 0, "at": 0.0}

        def progress(phase: str, rows: int, fraction: float) -> None:
            if job is None:
                return
            if rows - state["reported"] < PROGRESS_ROWS and time.monotonic() - state["at"] < 2:
                return
            state["reported"], state["at"] = rows, time.monotonic()
            # SQLite allows one writer, and the job's transaction holds it from its first row to the end.
            aside = sqlite and phase != "check"
            if phase == "check":
                job.progress(int(fraction * 500), 1000, _("Checked %(n)s rows", n=f"{rows:,}"))
            elif phase == "write":
                job.progress(500 + int(fraction * 500), 1000, _("Saved %(n)s rows", n=f"{rows:,}"), aside=aside)
            else:
                job.progress(int(fraction * 1000), 1000, _("Saved %(n)s rows", n=f"{rows:,}"), aside=aside)

        token = set_actor(Actor(user.id, user.email, None))
        try:
            meta = upload.meta
            result, _importer = import_file(
                entity,
                user,
                str(upload.path),
                Plan(**meta["plan"]),
                encoding=meta.get("encoding", "auto"),
                kind=meta.get("kind"),
                progress=progress,
            )
        finally:
            reset_actor(token)
    if result.stored:
        upload.delete()
    return result.as_dict()


INDEX_BATCH = 2000


def index_imported(plural: str, first_id: int, last_id: int, job: Any = None) -> dict[str, Any]:
    """Index for search the records an import inserted in bulk (ids ``first_id`` to ``last_id`` of the current
    tenant), a batch per transaction, so search finds them a moment after the import commits."""
    from sqlalchemy import select

    from core.entities.registry import all_entities
    from core.entities.search_index import index_records

    entity = all_entities().get(plural)
    if entity is None:
        return {"indexed": 0}
    model = entity.model
    total = max(0, last_id - first_id + 1)
    done, after = 0, first_id - 1
    while True:
        stmt = (
            select(model)
            .where(model.id > after, model.id <= last_id)
            .order_by(model.id)
            .limit(INDEX_BATCH)
            .execution_options(include_deleted=True)
        )
        records = list(db.session.scalars(stmt))
        if not records:
            break
        index_records(entity, records)
        after = records[-1].id
        done += len(records)
        db.session.commit()
        db.session.expunge_all()
        if job is not None:
            job.progress(min(done, total), total)
    return {"indexed": done}
