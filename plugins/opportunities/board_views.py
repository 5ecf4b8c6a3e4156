"""The kanban board pages: the board of a pipeline, more cards of a column, and moving a card (drag and drop posts
JSON; phones and browsers without JavaScript post a plain form per card), with the reason page for lost deals.

Every move goes through the entity service (``service.update`` → ``apply_opportunity``), so the edit scope,
optimistic locking, the stage history and the won/lost/stage_changed events are those of any other edit.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, jsonify, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from marshmallow import ValidationError
from sqlalchemy.orm.exc import StaleDataError
from wtforms import HiddenField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from core import db
from core.api.errors import plain
from core.entities import service
from core.entities.forms import departments, people
from core.entities.registry import all_entities
from core.entities.schemas import schema_for
from core.permissions import can, requires
from core.themes import render

from . import board
from .blueprint import bp
from .choices import LOST_REASONS
from .models import LOST, OPEN, WON, Opportunity
from .pipelines import ensure_default_pipeline, pipelines, stage, stages_of

EDIT = "opportunities.opportunity.edit"


def _entity() -> Any:
    return all_entities()["opportunities"]


def _pipeline_or_404(pipeline_id: int | None) -> Any:
    if pipeline_id is None:
        return ensure_default_pipeline()
    found = next((p for p in pipelines() if p.id == pipeline_id), None)
    if found is None:
        abort(404)
    return found


def _safe_next(default: str) -> str:
    """Where to go after a form post: a path inside this site only."""
    target = request.values.get("next") or ""
    return target if target.startswith("/") and not target.startswith("//") else default


# ----------------------------------------------------------------------------------------------- pages


@bp.route("/board/")
@bp.route("/board/<int:pipeline_id>")
@requires(board.VIEW)
def board_page(pipeline_id: int | None = None) -> Any:
    pipeline = _pipeline_or_404(pipeline_id)
    db.session.commit()  # the default pipeline of a brand-new workspace
    filters = board.parse_filters(request.args)
    columns = []
    totals = board.column_totals(pipeline.id, filters)
    for column_stage in stages_of(pipeline.id):
        rows, cursor = board.cards(column_stage, filters)
        columns.append({"stage": column_stage, "totals": totals[column_stage.id], "cards": rows, "cursor": cursor})
    return render(
        "opportunities/board/board.html",
        title=_("Board"),
        pipeline=pipeline,
        pipelines=pipelines(),
        columns=columns,
        filters=filters,
        **_card_context(pipeline.id),
        users=people(),
        departments=departments(),
        lost_reasons=list(LOST_REASONS),
    )


def _card_context(pipeline_id: int) -> dict[str, Any]:
    return {"stages": stages_of(pipeline_id), "can_edit": lambda record: can(EDIT, record), "OPEN": OPEN}


@bp.route("/board/<int:pipeline_id>/columns/<int:stage_id>")
@requires(board.VIEW)
def board_column(pipeline_id: int, stage_id: int) -> Any:
    """More cards of one column (an HTML fragment for the infinite scroll, a whole page for the fallback link)."""
    pipeline = _pipeline_or_404(pipeline_id)
    column_stage = stage(stage_id)
    if column_stage is None or column_stage.pipeline_id != pipeline.id or not column_stage.active:
        abort(404)
    filters = board.parse_filters(request.args)
    rows, cursor = board.cards(column_stage, filters, after=request.args.get("after") or None)
    context = {
        "pipeline": pipeline,
        "column": {"stage": column_stage, "cards": rows, "cursor": cursor},
        "filters": filters,
        **_card_context(pipeline.id),
    }
    if request.args.get("fragment"):
        return render("opportunities/board/cards.html", **context)
    return render("opportunities/board/column.html", title=column_stage.name, **context)


# ------------------------------------------------------------------------------------------------ moves


class Refused(Exception):
    """A move that was not made; ``errors`` by field, ``status`` for the JSON answer."""

    def __init__(self, status: int, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors or {}


def move(record: Opportunity, stage_id: Any, version: Any, reason: str | None = None, note: str | None = None) -> None:
    """Move ``record`` to a stage of its pipeline; raises :class:`Refused` and changes nothing when it cannot."""
    target = stage(_int(stage_id))
    if target is None or target.pipeline_id != record.pipeline_id or not target.active:
        raise Refused(422, _("Choose a stage of this pipeline."), {"stage_id": [_("Choose a stage of this pipeline.")]})
    if _int(version) is None:
        raise Refused(422, _("The card's version is missing."), {"version": [_("The card's version is missing.")]})
    data: dict[str, Any] = {"stage_id": target.id, "pipeline_id": record.pipeline_id}
    if target.kind == LOST:
        data["lost_reason"] = reason or None
        data["lost_note"] = note or None
    try:
        loaded = schema_for(_entity()).load(data, partial=True)
        service.update(_entity(), record, loaded, _int(version))
        db.session.commit()
    except service.Conflict as conflict:
        db.session.rollback()
        raise Refused(
            409, _("Someone else changed this opportunity in the meantime. The board shows it as it is now.")
        ) from conflict
    except StaleDataError as stale:
        db.session.rollback()
        raise Refused(409, _("Someone else changed this opportunity in the meantime.")) from stale
    except ValidationError as invalid:
        db.session.rollback()
        messages = invalid.messages if isinstance(invalid.messages, dict) else {"stage_id": invalid.messages}
        first = next(iter(messages.values()), [""])
        raise Refused(422, str(first[0] if isinstance(first, list) else first), messages) from invalid


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _load_for_edit(opportunity_id: int) -> Opportunity:
    record = board.load_card(opportunity_id)
    if record is None:
        abort(404)
    if not can(EDIT, record):
        abort(403)
    return record


@bp.route("/board/move/<int:opportunity_id>", methods=["POST"])
@requires(EDIT)
def board_move(opportunity_id: int) -> Any:
    """Move a card: JSON in, JSON out for drag and drop (CSRF in the ``X-CSRFToken`` header), or a plain form that
    redirects back (phones, no JavaScript, the detail page's "Mark won")."""
    record = _load_for_edit(opportunity_id)
    if request.is_json:
        body = request.get_json(silent=True) or {}
        try:
            move(record, body.get("stage_id"), body.get("version"), body.get("lost_reason"), body.get("lost_note"))
        except Refused as refused:
            current = board.load_card(opportunity_id)
            return jsonify(
                {
                    "error": {"status": refused.status, "message": refused.message},
                    "errors": plain(refused.errors),
                    "card": _card_json(current) if current is not None else None,
                }
            ), refused.status
        filters = board.parse_filters(body.get("filters") or {})
        totals = board.column_totals(record.pipeline_id, filters)
        return jsonify(
            {
                "card": _card_json(record),
                "totals": {str(k): v.as_json() for k, v in totals.items()},
                "message": _("Moved to %(stage)s.", stage=stage(record.stage_id).name),
            }
        )

    values = request.values
    board_url = url_for(".board_page", pipeline_id=record.pipeline_id)
    target = stage(_int(values.get("stage_id")))
    if target is not None and target.kind == LOST and not values.get("lost_reason"):
        # The reason picker is a page of its own on phones and without JavaScript.
        return redirect(
            url_for(
                ".board_lost",
                opportunity_id=record.id,
                stage_id=target.id,
                version=values.get("version"),
                next=_safe_next(board_url),
            )
        )
    try:
        move(record, values.get("stage_id"), values.get("version"), values.get("lost_reason"), values.get("lost_note"))
    except Refused as refused:
        flash(refused.message, "error")
        return redirect(_safe_next(board_url))
    flash(_("%(name)s moved to %(stage)s.", name=record.name, stage=stage(record.stage_id).name), "success")
    return redirect(_safe_next(board_url))


def _card_json(record: Opportunity) -> dict[str, Any]:
    return {
        "id": record.id,
        "version": record.version,
        "stage_id": record.stage_id,
        "status": record.status,
        "probability": record.probability,
    }


class LostForm(FlaskForm):
    """Why a deal was lost: asked when a card is dropped on a lost stage, or on the detail page's "Mark lost"."""

    stage_id = SelectField(_l("Stage"), coerce=int)
    lost_reason = SelectField(_l("Reason"), validators=[DataRequired(_l("Say why the opportunity was lost."))])
    lost_note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)])
    version = HiddenField()
    next = HiddenField()


@bp.route("/board/lost/<int:opportunity_id>", methods=["GET", "POST"])
@requires(EDIT)
def board_lost(opportunity_id: int) -> Any:
    record = _load_for_edit(opportunity_id)
    lost_stages = [s for s in stages_of(record.pipeline_id) if s.kind == LOST]
    if not lost_stages:
        abort(404)
    form = LostForm(
        data={
            "stage_id": _int(request.args.get("stage_id")) or lost_stages[0].id,
            "version": request.args.get("version") or record.version,
            "next": _safe_next(url_for("opportunities_opportunities.detail", record_id=record.id)),
        }
        if request.method == "GET"
        else None
    )
    form.stage_id.choices = [(s.id, s.name) for s in lost_stages]
    form.lost_reason.choices = [("", _("Choose…")), *[(value, label) for value, label in LOST_REASONS]]
    status = 200
    if form.validate_on_submit():
        try:
            move(record, form.stage_id.data, form.version.data, form.lost_reason.data, form.lost_note.data)
        except Refused as refused:
            for name, messages in refused.errors.items():
                if name in form and isinstance(messages, list):
                    form[name].errors = [*form[name].errors, *messages]
            if not refused.errors or refused.status == 409:
                flash(refused.message, "error")
            status = refused.status
        else:
            flash(_("%(name)s is marked lost.", name=record.name), "success")
            return redirect(_safe_next(url_for(".board_page", pipeline_id=record.pipeline_id)))
    elif request.method == "POST":
        status = 422
    return render("opportunities/board/lost.html", title=_("Why was it lost?"), form=form, record=record), status


def mark_won_url(record: Opportunity) -> str | None:
    """The detail page's "Mark won" action (a POST of the board's move form), or ``None`` when it is closed."""
    won = next((s for s in stages_of(record.pipeline_id) if s.kind == WON), None)
    if won is None or record.status == WON:
        return None
    detail = url_for("opportunities_opportunities.detail", record_id=record.id)
    return url_for(
        "opportunities.board_move", opportunity_id=record.id, stage_id=won.id, version=record.version, next=detail
    )


def mark_lost_url(record: Opportunity) -> str | None:
    if record.status == LOST:
        return None
    detail = url_for("opportunities_opportunities.detail", record_id=record.id)
    return url_for("opportunities.board_lost", opportunity_id=record.id, version=record.version, next=detail)
