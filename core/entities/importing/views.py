"""Import and export pages of every entity: one blueprint per entity, ``<plugin>_<plural>_io``.

``/<plugin>/<plural>/import`` (upload) -> ``/import/<upload>`` (mapping) -> ``/import/<upload>/preview`` ->
``/import/<upload>/run`` (queues the job) -> ``/import/jobs/<job>`` (progress, then the result), and
``/<plugin>/<plural>/export?format=csv|xlsx&<list arguments>``. The blueprint is owned by the entity's plugin, so
it answers 404 wherever that plugin is disabled.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.routing import BuildError

from core import db
from core.entities import exporting
from core.entities.definition import Entity
from core.entities.importing import storage
from core.entities.importing.engine import DUPLICATES, Importer, ImportResult, Plan
from core.entities.importing.mapping import IGNORE, suggest, targets
from core.entities.importing.readers import ENCODINGS, ReadError, open_table, read_error_message
from core.permissions import requires, view_policy
from core.plugins import PluginHost
from core.themes import render

SAMPLES = 3  # example values shown per column on the mapping page, from at most SAMPLE_ROWS rows
SAMPLE_ROWS = 200
PREVIEW_ROWS = 20


def register(app: Flask, host: PluginHost) -> None:
    """Add the import/export blueprint of every registered entity (called once by the app factory)."""
    for entity in app.extensions["crm.entities"].values():
        blueprint = make_blueprint(entity)
        app.register_blueprint(blueprint)
        host.owners.blueprints[blueprint.name] = entity.plugin


def list_url(entity: Entity) -> str | None:
    """The entity's list page, when its pages are served."""
    try:
        return url_for(f"{entity.endpoint_prefix}.list")
    except BuildError:
        return None


def _template(entity: Entity, page: str) -> list[str]:
    """As for the entity's other pages: ``entity.templates[page]``, ``<plugin>/<plural>/<page>.html``, then core's."""
    names = [f"{entity.plugin}/{entity.plural}/{page}.html", f"core/entity/{page}.html"]
    if page in entity.templates:
        names.insert(0, entity.templates[page])
    return names


def make_blueprint(entity: Entity) -> Blueprint:
    blueprint = Blueprint(f"{entity.endpoint_prefix}_io", __name__, url_prefix=f"/{entity.plugin}/{entity.plural}")
    can_import = requires(entity.permission("import"))
    can_export = requires(entity.permission("export"))

    def route(rule: str, endpoint: str, view: Callable[..., Any], guard: Callable, methods: list[str]) -> None:
        """Register a page; ``Entity(views={endpoint: fn})`` replaces it with ``fn(entity, **url_arguments)``,
        which keeps the page's permission unless it declares its own."""
        override = entity.views.get(endpoint)
        if override is None:
            blueprint.add_url_rule(rule, endpoint, guard(view), methods=methods)
            return

        @functools.wraps(override)
        def replaced(**kwargs: Any) -> Any:
            return override(entity, **kwargs)

        replaced.__name__ = endpoint
        wrapped = replaced if view_policy(override) is not None else guard(replaced)
        blueprint.add_url_rule(rule, endpoint, wrapped, methods=methods)

    def context(**extra: Any) -> dict[str, Any]:
        return {"entity": entity, "list_url": list_url(entity), **extra}

    def upload_or_404(upload_id: str) -> storage.Upload:
        upload = storage.load(upload_id, current_user.id)
        if upload is None or upload.meta.get("entity") != entity.plural:
            abort(404)
        return upload

    # ------------------------------------------------------------------------------------------ upload

    def upload_page() -> Any:
        error = None
        encoding = request.form.get("encoding", "auto")
        if request.method == "POST":
            file = request.files.get("file")
            if encoding not in ENCODINGS:
                encoding = "auto"
            if file is None or not file.filename:
                error = _("Choose a CSV or Excel file.")
            else:
                upload = storage.create(
                    file, {"user_id": current_user.id, "entity": entity.plural, "filename": file.filename}
                )
                try:
                    with open_table(str(upload.path), encoding=encoding, filename=file.filename) as table:
                        headers = table.headers
                        samples: list[list[str]] = [[] for _header in headers]
                        for seen, (_row, cells) in enumerate(table.rows()):
                            for index, cell in enumerate(cells[: len(headers)]):
                                if cell not in (None, "") and len(samples[index]) < SAMPLES:
                                    samples[index].append(str(cell)[:80])
                            if seen >= SAMPLE_ROWS or all(len(s) >= SAMPLES for s in samples):
                                break
                        kind, codec, encoding_name = table.kind, table.encoding, table.encoding_name
                except ReadError as exc:
                    upload.delete()
                    error = read_error_message(exc)
                else:
                    mapping = suggest(entity, headers)
                    from core.entities.importing import default_match

                    upload.meta.update(
                        kind=kind,
                        encoding=codec or "auto",
                        encoding_name=encoding_name,
                        headers=headers,
                        samples=samples,
                        plan=Plan(mapping, "skip", default_match(entity, mapping)).as_dict(),
                    )
                    upload.save()
                    return redirect(url_for(".import_mapping", upload_id=upload.id))
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        limit_mb = limit // 2**20 if limit else None
        page = render(
            _template(entity, "import_upload"),
            **context(error=error, encodings=_encodings(), encoding=encoding, limit_mb=limit_mb),
        )
        return page, 422 if error else 200

    # ----------------------------------------------------------------------------------------- mapping

    def mapping_page(upload_id: str) -> Any:
        upload = upload_or_404(upload_id)
        headers = upload.meta["headers"]
        plan = Plan(**upload.meta["plan"])
        problems: list[str] = []
        if request.method == "POST":
            names = {t.name for t in targets(entity)}
            mapping = []
            for index in range(len(headers)):
                value = request.form.get(f"column-{index}", IGNORE)
                mapping.append(value if value in names else IGNORE)
            on_duplicate = request.form.get("on_duplicate", "skip")
            match = request.form.get("match") or None
            plan = Plan(mapping, on_duplicate if on_duplicate in DUPLICATES else "skip", match)
            problems = Importer(entity, current_user, headers, plan).problems()
            if not problems:
                upload.meta["plan"] = plan.as_dict()
                upload.meta.pop("job_id", None)
                upload.save()
                return redirect(url_for(".import_preview", upload_id=upload.id))
        available = targets(entity)
        match_first = [t for name in entity.match_fields for t in available if t.name == name]
        match_choices = match_first + [t for t in available if t not in match_first]
        page = render(
            _template(entity, "import_mapping"),
            **context(
                upload=upload,
                columns=list(
                    zip(headers, upload.meta.get("samples") or [[]] * len(headers), plan.mapping, strict=False)
                ),
                targets=available,
                match_choices=match_choices,
                plan=plan,
                problems=problems,
                duplicates=_duplicate_choices(),
            ),
        )
        return page, 422 if problems else 200

    # ----------------------------------------------------------------------------------------- preview

    def preview_page(upload_id: str) -> Any:
        upload = upload_or_404(upload_id)
        plan = Plan(**upload.meta["plan"])
        try:
            with open_table(str(upload.path), encoding=upload.meta["encoding"], kind=upload.meta["kind"]) as table:
                importer = Importer(entity, current_user, table.headers, plan)
                problems = importer.problems()
                loaded, result = importer.preview(table, PREVIEW_ROWS) if not problems else ([], ImportResult())
        except ReadError as exc:
            flash(read_error_message(exc), "error")
            return redirect(url_for(".import_upload"))
        if problems:
            return redirect(url_for(".import_mapping", upload_id=upload.id))
        columns = list(importer.columns)
        shown = {row: data for row, data in loaded}
        errors: dict[int, dict[str, list[str]]] = {}
        for error in result.errors:
            errors.setdefault(error.row, {}).setdefault(error.column, []).append(error.message)
        rows = sorted(set(shown) | set(errors))
        return render(
            _template(entity, "import_preview"),
            **context(
                upload=upload,
                columns=columns,
                rows=[(row, shown.get(row), errors.get(row, {})) for row in rows],
                value=_preview_values(columns, list(shown.values())),
                error_count=result.error_count,
                plan=plan,
                match=importer.match,
            ),
        )

    def run_page(upload_id: str) -> Any:
        upload = upload_or_404(upload_id)
        from core.jobs import enqueue
        from core.models import JobRecord

        running = upload.meta.get("job_id")
        if running:  # a second click: show the import already under way rather than start it twice
            job = db.session.get(JobRecord, running)
            if job is not None and job.status in ("queued", "started"):
                return redirect(url_for(".import_job", job_id=job.id))

        job_id = enqueue(
            "core.entities.importing.jobs:run_import",
            user_id=current_user.id,
            name=_("Import of %(things)s", things=str(entity.label_plural)),
            upload_id=upload.id,
            plural=entity.plural,
            importer_id=current_user.id,
        )
        upload.meta["job_id"] = job_id
        upload.save()
        db.session.commit()  # the job starts now
        return redirect(url_for(".import_job", job_id=job_id))

    def job_page(job_id: str) -> Any:
        from core.jobs import job_progress
        from core.models import JobRecord

        job = db.session.get(JobRecord, job_id)
        if job is None or job.user_id != current_user.id:
            abort(404)
        result = ImportResult.from_dict(job.result) if job.result else None
        progress = job_progress(job)
        return render(_template(entity, "import_job"), **context(job=job, progress=progress, result=result))

    # ------------------------------------------------------------------------------------------ export

    def export_page() -> Any:
        from core.entities.query import QueryError, parse

        kind = request.args.get("format", "csv")
        if kind not in exporting.FORMATS:
            abort(400)
        try:
            query = parse(entity, request.args)
        except QueryError:
            abort(400)
        columns = exporting.columns_for(entity, request.args)
        user = current_user._get_current_object()
        if kind == "xlsx":
            return exporting.xlsx_response(entity, query, columns, user)
        return exporting.csv_response(entity, query, columns, user)

    route("/import", "import_upload", upload_page, can_import, ["GET", "POST"])
    route("/import/<upload_id>", "import_mapping", mapping_page, can_import, ["GET", "POST"])
    route("/import/<upload_id>/preview", "import_preview", preview_page, can_import, ["GET"])
    route("/import/<upload_id>/run", "import_run", run_page, can_import, ["POST"])
    route("/import/jobs/<job_id>", "import_job", job_page, can_import, ["GET"])
    route("/export", "export", export_page, can_export, ["GET"])
    return blueprint


def _encodings() -> list[tuple[str, str]]:
    return [
        ("auto", _("Detect automatically")),
        ("utf-8", "UTF-8"),
        ("big5", _("Big5 (Traditional Chinese)")),
        ("gb18030", _("GB18030 (Simplified Chinese)")),
    ]


def _duplicate_choices() -> list[tuple[str, str, str]]:
    return [
        ("skip", _("Skip"), _("Keep the stored record; the row is not imported.")),
        ("update", _("Update"), _("Write the row's values into the stored record.")),
        ("create", _("Create anyway"), _("Import the row as a new record.")),
    ]


def _preview_values(columns: list[Any], rows: list[dict[str, Any]]) -> Callable[[Any, dict[str, Any]], str]:
    """A function giving a column's value in a loaded row as the preview shows it: users and departments by name,
    choices by label."""
    from sqlalchemy import select

    from core.entities.exporting import _choice_labels
    from core.models import Department, User

    def raw(column: Any, data: dict[str, Any]) -> Any:
        if column.target.custom_key is not None:
            return (data.get("custom") or {}).get(column.target.custom_key)
        return data.get(column.target.attribute)

    names: dict[str, dict[Any, str]] = {"user": {}, "department": {}}
    for kind, model in (("user", User), ("department", Department)):
        ids = {raw(c, d) for c in columns if c.target.widget == kind for d in rows} - {None}
        if ids and kind == "user":
            for row in db.session.execute(select(User.id, User.name, User.email).where(User.id.in_(ids))):
                names[kind][row.id] = row.name or row.email
        elif ids:
            for row in db.session.execute(select(model.id, model.name).where(model.id.in_(ids))):
                names[kind][row.id] = row.name
    labels = {id(c): _choice_labels(c.target.field) for c in columns}

    def value(column: Any, data: dict[str, Any]) -> str:
        found = raw(column, data)
        if column.target.widget in names and found is not None:
            return names[column.target.widget].get(found, str(found))
        choice = labels[id(column)]
        if choice and isinstance(found, list | tuple):
            return ", ".join(choice.get(v, str(v)) for v in found)
        if choice and found is not None:
            return choice.get(found, str(found))
        return _display(found)

    return value


def _display(value: Any) -> str:
    """A loaded value as the preview shows it."""
    import datetime as dt
    import decimal

    if value is None:
        return ""
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, list | tuple):
        return ", ".join(_display(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_display(v)}" for k, v in value.items())
    return str(value)
