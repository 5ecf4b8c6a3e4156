"""Administration of pipelines and stages (permission ``opportunities.pipelines.manage``).

Pipelines are created, renamed, reordered, made the default and deactivated; stages are added, edited (name,
probability, kind, forecast category), reordered and deactivated. Every active pipeline keeps at least one active
open, won and lost stage: a change that would break that is refused and nothing is saved. A stage that holds deals
(or ever did: its history feeds time-in-stage and the analysis) cannot be deleted, only deactivated, after its open
deals have been moved to another stage.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from sqlalchemy.orm.exc import StaleDataError
from wtforms import HiddenField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange

from core import db
from core.permissions import requires
from core.themes import render

from .blueprint import bp
from .choices import FORECAST_CATEGORIES, STAGE_KINDS
from .models import LOST, OPEN, WON, Opportunity, Pipeline, Stage, StageHistory
from .pipelines import DEFAULT_STAGES, create_pipeline, enter_stage, forget_cache

MANAGE = "opportunities.pipelines.manage"


STALE = _l("Someone else changed this meanwhile; the form now shows what is saved. Make your change again.")


class PipelineForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    version = HiddenField()


class StageForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    probability = IntegerField(
        _l("Probability (%)"),
        validators=[NumberRange(min=0, max=100, message=_l("Enter a number from 0 to 100."))],
        default=10,
    )
    kind = SelectField(_l("Kind"), choices=list(STAGE_KINDS), default=OPEN)
    forecast_category = SelectField(_l("Forecast category"), choices=list(FORECAST_CATEGORIES), default="pipeline")
    version = HiddenField()


class MoveDealsForm(FlaskForm):
    target = SelectField(_l("Move the open deals to"), coerce=int)


def _pipeline(pipeline_id: int) -> Pipeline:
    found = db.session.get(Pipeline, pipeline_id)
    if found is None:
        abort(404)
    return found


def _stage(stage_id: int) -> Stage:
    found = db.session.get(Stage, stage_id)
    if found is None:
        abort(404)
    return found


def missing_kinds(pipeline: Pipeline) -> list[str]:
    """The stage kinds (open, won, lost) the pipeline's active stages lack."""
    present = {s.kind for s in pipeline.stages if s.active}
    return [kind for kind in (OPEN, WON, LOST) if kind not in present]


def _kind_message(missing: list[str]) -> str:
    labels = dict(STAGE_KINDS)
    return _(
        "Each pipeline needs at least one active open, won and lost stage; this change would leave none of: %(kinds)s.",
        kinds=", ".join(str(labels[k]) for k in missing),
    )


def _save(pipeline: Pipeline | None = None) -> bool:
    """Commit, unless the change leaves the pipeline without an open, won or lost stage or someone saved the same
    row meanwhile (then roll back and say so)."""
    if pipeline is not None and pipeline.active:
        missing = missing_kinds(pipeline)
        if missing:
            db.session.rollback()
            flash(_kind_message(missing), "error")
            return False
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        flash(str(STALE), "error")
        return False
    forget_cache()
    return True


def _stale(form: FlaskForm, row: Pipeline | Stage) -> bool:
    """Whether the form was loaded before someone else's save of ``row``; then it shows what is saved now."""
    if (form.version.data or "") == str(row.version):
        return False
    form.process(formdata=None, obj=row)
    form.version.data = str(row.version)
    flash(str(STALE), "error")
    return True


def _deal_counts() -> dict[int, int]:
    """Deals per stage, trash included, in one query."""
    statement = (
        select(Opportunity.stage_id, func.count(Opportunity.id))
        .group_by(Opportunity.stage_id)
        .execution_options(include_deleted=True)
    )
    return {stage_id: count for stage_id, count in db.session.execute(statement)}


def _index() -> Any:
    return redirect(url_for(".pipelines_admin"))


@bp.route("/pipelines/")
@requires(MANAGE)
def pipelines_admin() -> Any:
    rows = list(db.session.scalars(select(Pipeline).order_by(Pipeline.position, Pipeline.id)))
    return render(
        "opportunities/pipelines/index.html",
        title=_("Pipelines and stages"),
        pipelines=rows,
        counts=_deal_counts(),
        kinds=dict(STAGE_KINDS),
        categories=dict(FORECAST_CATEGORIES),
        form=PipelineForm(),
    )


@bp.route("/pipelines/new", methods=["POST"])
@requires(MANAGE)
def pipeline_new() -> Any:
    form = PipelineForm()
    if not form.validate_on_submit():
        flash(_("Give the pipeline a name."), "error")
        return _index()
    last = db.session.scalar(select(func.max(Pipeline.position))) or 0
    create_pipeline(form.name.data.strip(), DEFAULT_STAGES, position=last + 1)
    _save()
    flash(_("Pipeline %(name)s created with the standard stages; adjust them below.", name=form.name.data), "success")
    return _index()


@bp.route("/pipelines/<int:pipeline_id>/edit", methods=["GET", "POST"])
@requires(MANAGE)
def pipeline_edit(pipeline_id: int) -> Any:
    pipeline = _pipeline(pipeline_id)
    form = PipelineForm(obj=pipeline)
    if request.method == "GET":
        form.version.data = str(pipeline.version)
    if form.validate_on_submit():
        if _stale(form, pipeline):
            return render(
                "opportunities/pipelines/form.html", title=_("Rename pipeline"), form=form, pipeline=pipeline
            ), 409
        pipeline.name = form.name.data.strip()
        if _save():
            flash(_("Saved."), "success")
        return _index()
    status = 422 if form.errors else 200
    return render("opportunities/pipelines/form.html", title=_("Rename pipeline"), form=form, pipeline=pipeline), status


def _swap(items: list[Any], item: Any, direction: str) -> None:
    """Move ``item`` one place up or down in ``items``, renumbering positions 0..n."""
    index = items.index(item)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(items):
        items[index], items[other] = items[other], items[index]
    for position, each in enumerate(items):
        each.position = position


@bp.route("/pipelines/<int:pipeline_id>/move", methods=["POST"])
@requires(MANAGE)
def pipeline_move(pipeline_id: int) -> Any:
    pipeline = _pipeline(pipeline_id)
    rows = list(db.session.scalars(select(Pipeline).order_by(Pipeline.position, Pipeline.id)))
    _swap(rows, pipeline, request.form.get("direction", "up"))
    _save()
    return _index()


@bp.route("/pipelines/<int:pipeline_id>/active", methods=["POST"])
@requires(MANAGE)
def pipeline_active(pipeline_id: int) -> Any:
    pipeline = _pipeline(pipeline_id)
    others = list(db.session.scalars(select(Pipeline).where(Pipeline.id != pipeline.id, Pipeline.active.is_(True))))
    if pipeline.active:
        if not others:
            flash(_("The workspace needs at least one active pipeline."), "error")
            return _index()
        pipeline.active = False
        if pipeline.is_default:
            pipeline.is_default = False
            others[0].is_default = True
        message = _("Pipeline %(name)s deactivated: its deals keep their stages.", name=pipeline.name)
    else:
        pipeline.active = True
        message = _("Pipeline %(name)s is active again.", name=pipeline.name)
    if _save(pipeline):
        flash(message, "success")
    return _index()


@bp.route("/pipelines/<int:pipeline_id>/default", methods=["POST"])
@requires(MANAGE)
def pipeline_default(pipeline_id: int) -> Any:
    pipeline = _pipeline(pipeline_id)
    if not pipeline.active:
        flash(_("Activate the pipeline first."), "error")
        return _index()
    for other in db.session.scalars(select(Pipeline).where(Pipeline.is_default.is_(True))):
        other.is_default = False
    pipeline.is_default = True
    _save()
    flash(_("New deals now start in %(name)s.", name=pipeline.name), "success")
    return _index()


# ------------------------------------------------------------------------------------------------ stages


def _stage_form_page(form: StageForm, pipeline: Pipeline, stage: Stage | None) -> Any:
    title = _("Edit stage") if stage else _("New stage")
    status = 422 if form.errors else 200
    return render(
        "opportunities/pipelines/stage_form.html", title=title, form=form, pipeline=pipeline, stage=stage
    ), status


def _copy(form: StageForm, stage: Stage) -> None:
    stage.name = form.name.data.strip()
    stage.kind = form.kind.data
    stage.forecast_category = form.forecast_category.data
    stage.probability = {WON: 100, LOST: 0}.get(form.kind.data, form.probability.data)


@bp.route("/pipelines/<int:pipeline_id>/stages/new", methods=["GET", "POST"])
@requires(MANAGE)
def stage_new(pipeline_id: int) -> Any:
    pipeline = _pipeline(pipeline_id)
    form = StageForm()
    if form.validate_on_submit():
        new = Stage(position=len(pipeline.stages))
        _copy(form, new)
        pipeline.stages.append(new)
        if _save(pipeline):
            flash(_("Stage %(name)s added.", name=new.name), "success")
        return _index()
    return _stage_form_page(form, pipeline, None)


@bp.route("/pipelines/stages/<int:stage_id>/edit", methods=["GET", "POST"])
@requires(MANAGE)
def stage_edit(stage_id: int) -> Any:
    stage = _stage(stage_id)
    form = StageForm(obj=stage)
    if request.method == "GET":
        form.version.data = str(stage.version)
    if form.validate_on_submit():
        if _stale(form, stage):
            page, _status = _stage_form_page(form, stage.pipeline, stage)
            return page, 409
        if form.kind.data != stage.kind and _deal_counts().get(stage.id):
            form.kind.errors = [_("Deals are in this stage: move them before changing its kind.")]
            return _stage_form_page(form, stage.pipeline, stage)
        _copy(form, stage)
        missing = missing_kinds(stage.pipeline) if stage.pipeline.active else []
        if missing:
            db.session.rollback()
            form.kind.errors = [_kind_message(missing)]
            stage = _stage(stage_id)
            return _stage_form_page(form, stage.pipeline, stage)
        if _save():
            flash(_("Saved."), "success")
        return _index()
    return _stage_form_page(form, stage.pipeline, stage)


@bp.route("/pipelines/stages/<int:stage_id>/move", methods=["POST"])
@requires(MANAGE)
def stage_move(stage_id: int) -> Any:
    stage = _stage(stage_id)
    _swap(list(stage.pipeline.stages), stage, request.form.get("direction", "up"))
    _save()
    return _index()


@bp.route("/pipelines/stages/<int:stage_id>/active", methods=["POST"])
@requires(MANAGE)
def stage_active(stage_id: int) -> Any:
    stage = _stage(stage_id)
    if stage.active:
        held = db.session.scalar(
            select(func.count(Opportunity.id)).where(Opportunity.stage_id == stage.id, Opportunity.status == OPEN)
        )
        if held:
            flash(_("Open deals are in %(name)s: move them to another stage first.", name=stage.name), "error")
            return redirect(url_for(".stage_move_deals", stage_id=stage.id))
    stage.active = not stage.active
    if _save(stage.pipeline):
        flash(_("Saved."), "success")
    return _index()


@bp.route("/pipelines/stages/<int:stage_id>/delete", methods=["POST"])
@requires(MANAGE)
def stage_delete(stage_id: int) -> Any:
    stage = _stage(stage_id)
    used = _deal_counts().get(stage.id) or db.session.scalar(
        select(StageHistory.id).where(StageHistory.stage_id == stage.id).limit(1)
    )
    if used:
        flash(
            _(
                "%(name)s holds or held opportunities, so it cannot be deleted (its history would be lost). "
                "Deactivate it instead, after moving its open deals.",
                name=stage.name,
            ),
            "error",
        )
        return _index()
    pipeline = stage.pipeline
    pipeline.stages.remove(stage)
    if _save(pipeline):
        flash(_("Stage deleted."), "success")
    return _index()


@bp.route("/pipelines/stages/<int:stage_id>/move-deals", methods=["GET", "POST"])
@requires(MANAGE)
def stage_move_deals(stage_id: int) -> Any:
    """Move the open deals of a stage to another open stage of the same pipeline, each with its history row."""
    stage = _stage(stage_id)
    form = MoveDealsForm()
    form.target.choices = [
        (s.id, s.name) for s in stage.pipeline.stages if s.id != stage.id and s.active and s.kind == OPEN
    ]
    count = db.session.scalar(
        select(func.count(Opportunity.id)).where(Opportunity.stage_id == stage.id, Opportunity.status == OPEN)
    )
    if form.validate_on_submit():
        target = _stage(form.target.data)
        from flask_login import current_user

        moved = 0
        statement = select(Opportunity).where(Opportunity.stage_id == stage.id, Opportunity.status == OPEN)
        for record in db.session.scalars(statement.execution_options(include_deleted=True)).all():
            enter_stage(record, target, current_user)
            moved += 1
        _save()
        flash(
            ngettext("%(num)d deal moved to %(name)s.", "%(num)d deals moved to %(name)s.", moved, name=target.name),
            "success",
        )
        return _index()
    status = 422 if form.errors else 200
    return render(
        "opportunities/pipelines/move_deals.html", title=_("Move deals"), form=form, stage=stage, count=count
    ), status
