"""Pipelines and stages: the workspace's default pipeline, stage lookups, and moving a deal from stage to stage.

Every write of an opportunity (form, API, import, board, conversion) goes through :func:`apply_opportunity`
(the entity's ``apply``), so status, probability, amounts in the workspace currency, the stage history and the
won/lost events stay right whichever page made the change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

from flask import g, has_app_context
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy import select, update

from core import db
from core.db import utcnow
from core.entities.records import acting_user, default_department
from core.entities.service import default_apply
from core.events import emit

from .models import LOST, OPEN, WON, Opportunity, Pipeline, Stage, StageHistory

# The pipeline a new workspace starts with: (name, probability, kind, forecast category).
DEFAULT_STAGES = (
    (_l("Qualification"), 10, OPEN, "pipeline"),
    (_l("Needs analysis"), 20, OPEN, "pipeline"),
    (_l("Proposal"), 50, OPEN, "best_case"),
    (_l("Negotiation"), 75, OPEN, "commit"),
    (_l("Won"), 100, WON, "commit"),
    (_l("Lost"), 0, LOST, "pipeline"),
)


class StageError(ValidationError):
    """A move the pipeline does not allow, as a validation error on the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__({field: [message]})


def create_pipeline(name: str, stages: Any = DEFAULT_STAGES, is_default: bool = False, position: int = 0) -> Pipeline:
    """A pipeline with ``stages`` given as (name, probability, kind, forecast category); the caller commits."""
    pipeline = Pipeline(name=str(name), is_default=is_default, position=position)
    for index, (stage_name, probability, kind, category) in enumerate(stages):
        pipeline.stages.append(
            Stage(name=str(stage_name), position=index, probability=probability, kind=kind, forecast_category=category)
        )
    db.session.add(pipeline)
    db.session.flush()
    _forget_cache()
    return pipeline


def ensure_default_pipeline() -> Pipeline:
    """The workspace's default pipeline, created with the standard stages the first time it is needed."""
    pipeline = db.session.scalar(
        select(Pipeline).where(Pipeline.active.is_(True)).order_by(Pipeline.is_default.desc(), Pipeline.position)
    )
    if pipeline is None:
        pipeline = create_pipeline(_("Sales"), is_default=True)
    return pipeline


# --------------------------------------------------------------------------------------------- lookups


def _cache() -> dict[str, Any]:
    """Pipelines and stages, read once per request (they are few and read by every page of the plugin)."""
    if has_app_context() and "opportunities_stages" in g:
        return g.opportunities_stages
    pipelines = list(db.session.scalars(select(Pipeline).order_by(Pipeline.position, Pipeline.id)))
    stages = list(db.session.scalars(select(Stage).order_by(Stage.pipeline_id, Stage.position, Stage.id)))
    cache = {"pipelines": pipelines, "stages": {stage.id: stage for stage in stages}}
    if has_app_context():
        g.opportunities_stages = cache
    return cache


def _forget_cache() -> None:
    if has_app_context():
        g.pop("opportunities_stages", None)


def forget_cache() -> None:
    """Read pipelines and stages afresh on the next lookup (after the administration pages changed them)."""
    _forget_cache()


def pipelines(active_only: bool = True) -> list[Pipeline]:
    return [p for p in _cache()["pipelines"] if p.active or not active_only]


def stage(stage_id: int | None) -> Stage | None:
    return _cache()["stages"].get(stage_id) if stage_id is not None else None


def stages_of(pipeline_id: int, active_only: bool = True) -> list[Stage]:
    return [s for s in _cache()["stages"].values() if s.pipeline_id == pipeline_id and (s.active or not active_only)]


def first_open_stage(pipeline_id: int) -> Stage | None:
    return next((s for s in stages_of(pipeline_id) if s.kind == OPEN), None)


def final_stage(pipeline_id: int, kind: str) -> Stage | None:
    """The pipeline's first won (or lost) stage."""
    return next((s for s in stages_of(pipeline_id) if s.kind == kind), None)


class StageChoices:
    """``(id, "Pipeline · Stage")`` of the workspace's active stages, listed afresh in each request (a field's
    ``choices`` metadata, so forms, filters, import and the API documentation show the current stages)."""

    def _items(self) -> list[tuple[str, str]]:
        from core.tenancy import current_tenant_id

        if current_tenant_id() is None:
            return []
        names = {p.id: p.name for p in pipelines()}
        several = len(names) > 1
        return [
            (str(s.id), f"{names[s.pipeline_id]} · {s.name}" if several else s.name)
            for s in _cache()["stages"].values()
            if s.active and s.pipeline_id in names
        ]

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._items())

    def __len__(self) -> int:
        return len(self._items())

    def __deepcopy__(self, memo: dict[int, Any]) -> StageChoices:
        return self


class PipelineChoices(StageChoices):
    """``(id, name)`` of the workspace's active pipelines."""

    def _items(self) -> list[tuple[str, str]]:
        from core.tenancy import current_tenant_id

        if current_tenant_id() is None:
            return []
        return [(str(p.id), p.name) for p in pipelines()]


# ----------------------------------------------------------------------------------------------- writes


def apply_opportunity(record: Opportunity, data: Mapping[str, Any]) -> None:
    """Columns from validated ``data``, then the derived ones: pipeline and stage (the default pipeline's first
    stage for a new deal), probability (the stage's unless given), amount in the workspace currency, company and
    contact names, and the stage history with won/lost events when the stage changed."""
    from .money import to_base, workspace_currency

    with db.session.no_autoflush:
        user = acting_user(record)
        old_stage_id = record.stage_id
        default_department(record, data, user)
        columns = {k: v for k, v in data.items() if k not in ("stage_id", "probability", "contacts")}
        default_apply(_entity(), record, columns)
        if not record.currency:
            record.currency = workspace_currency()
        base = to_base(record.amount, record.currency)
        record.amount_base = base if base is not None else record.amount_base or 0
        _copy_names(record, data)
        if data.get("contacts") is not None:
            _replace_contacts(record, data["contacts"])
        wanted = stage(data.get("stage_id")) if data.get("stage_id") is not None else stage(old_stage_id)
        if wanted is None or (record.pipeline_id is not None and wanted.pipeline_id != record.pipeline_id):
            pipeline_id = record.pipeline_id or ensure_default_pipeline().id
            if wanted is None or data.get("stage_id") is None:
                wanted = first_open_stage(pipeline_id)
        if wanted is None:
            raise StageError("stage_id", _("This pipeline has no open stage."))
        record.pipeline_id = wanted.pipeline_id
        moved = wanted.id != old_stage_id
        if moved:
            enter_stage(record, wanted, user, data.get("probability"))
        elif data.get("probability") is not None and wanted.kind == OPEN:
            record.probability = data["probability"]
        if record.status == LOST and not record.lost_reason:
            raise StageError("lost_reason", _("Say why the opportunity was lost."))


def enter_stage(record: Opportunity, target: Stage, user: Any = None, probability: int | None = None) -> None:
    """Put the deal in ``target``: close the current history row, open a new one, set status, probability,
    close date and cycle length, and emit ``opportunities.opportunity.won`` / ``.lost`` after commit."""
    now = utcnow()
    was_status = record.status
    from_stage_id = record.stage_id
    if record.id is not None:
        db.session.execute(
            update(StageHistory)
            .where(StageHistory.opportunity_id == record.id, StageHistory.left_at.is_(None))
            .values(left_at=now)
            .execution_options(synchronize_session=False)
        )
    record.stage_id = target.id
    record.stage_entered_at = now
    record.status = target.kind
    if target.kind == WON:
        record.probability = 100
    elif target.kind == LOST:
        record.probability = 0
    else:
        record.probability = target.probability if probability is None else probability
        record.furthest_position = max(record.furthest_position or 0, target.position)
        record.lost_reason = None
        record.lost_note = None
    if target.kind == OPEN:
        record.closed_at = record.closed_on = record.cycle_days = None
    elif was_status == OPEN or record.closed_at is None:
        record.closed_at = now
        record.closed_on = _local_date(now)
        created = record.created_at or now
        record.cycle_days = max(0, (now - created).days)
    history = StageHistory(
        pipeline_id=target.pipeline_id,
        stage_id=target.id,
        entered_at=now,
        user_id=getattr(user, "id", None),
        amount_base=record.amount_base,
        probability=record.probability,
    )
    if record.id is None:  # a new deal (the import builds records before adding them): its id names the history
        db.session.add(record)
        db.session.flush()
    history.opportunity_id = record.id
    db.session.add(history)
    if from_stage_id is not None and from_stage_id != target.id:
        emit(
            "opportunities.opportunity.stage_changed",
            id=record.id,
            from_stage_id=from_stage_id,
            to_stage_id=target.id,
            status=target.kind,
        )
    if target.kind != OPEN and was_status != target.kind:
        _emit_closed(record, target.kind)


def _emit_closed(record: Opportunity, kind: str) -> None:
    from core.paths import path_for

    if record.contact_id is None and record.company_id is None:
        return
    title = _("Opportunity won: %(name)s", name=record.name) if kind == WON else None
    if kind == LOST:
        title = _("Opportunity lost: %(name)s (%(reason)s)", name=record.name, reason=record.lost_reason or "")
    emit(
        f"opportunities.opportunity.{kind}",
        id=record.id,
        contact_id=record.contact_id,
        company_id=record.company_id,
        title=title,
        url=path_for("opportunities_opportunities.detail", record_id=record.id),
    )


def _local_date(moment: dt.datetime) -> dt.date:
    """The day ``moment`` falls on in the workspace's time zone."""
    from zoneinfo import ZoneInfo

    from core.tenancy import current_tenant

    tenant = current_tenant()
    zone = getattr(tenant, "default_timezone", None) or "Asia/Taipei"
    try:
        return moment.astimezone(ZoneInfo(zone)).date()
    except (KeyError, ValueError):
        return moment.date()


def _copy_names(record: Opportunity, data: Mapping[str, Any]) -> None:
    """Keep ``company_name`` / ``contact_name`` in step with the ids; a company given only by name is linked
    when the user can see a company of that name."""
    from plugins.contacts import public as contacts

    if "company_id" in data or "company_name" in data:
        if data.get("company_id") is None and data.get("company_name"):
            # A name alone (an imported sheet): link the company of that name the user can see, else keep the text.
            record.company_id = contacts.company_id_by_name(data["company_name"], acting_user(record))
            record.company_name = data["company_name"]
        elif data.get("company_id") is None:
            record.company_name = None
    if record.company_id is not None:
        company = contacts.company_summary(record.company_id)
        record.company_name = company["name"] if company else record.company_name
    if record.contact_id is not None:
        contact = contacts.contact_summary(record.contact_id)
        record.contact_name = contact["name"] if contact else None
        if record.company_id is None and contact and contact["company_id"]:
            record.company_id = contact["company_id"]
            record.company_name = contact["company_name"]
    else:
        record.contact_name = None


def _replace_contacts(record: Opportunity, wanted: Any) -> None:
    from .models import OpportunityContact

    existing = {row.contact_id: row for row in record.contacts}
    rows = []
    for index, item in enumerate(wanted):
        row = existing.pop(item["contact_id"], None) or OpportunityContact(contact_id=item["contact_id"])
        row.role = item.get("role")
        row.position = index
        rows.append(row)
    record.contacts[:] = rows
    if record.contact_id is None and rows:
        record.contact_id = rows[0].contact_id


def _entity() -> Any:
    from core.entities.registry import all_entities

    return all_entities()["opportunities"]
