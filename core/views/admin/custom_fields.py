"""Custom fields: administrators add fields to any entity enabled in their workspace, edit, archive and delete them.

The fields appear in the entity's forms, detail pages, list columns and filters, import, export and API through
``schema_for()`` and ``core.entities.custom_fields``; nothing here needs a migration.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from core import db
from core.entities import custom_fields as cf
from core.entities.definition import Entity
from core.models.custom_fields import CHOICE_TYPES, HELP_MAX, KEY_MAX, LABEL_MAX, TYPES, CustomField
from core.permissions import requires
from core.themes import render
from core.views.admin import bp
from core.views.admin.common import paginate, paginate_list

PERMISSION = "admin.settings.manage"


class FieldForm(FlaskForm):
    key = StringField(
        _l("Key"),
        validators=[DataRequired(), Length(max=KEY_MAX)],
        description=_l(
            "The field's name in the API, imports and filters: lower-case letters, digits and _. "
            "It cannot be changed later."
        ),
    )
    label = StringField(_l("Label"), validators=[DataRequired(), Length(max=LABEL_MAX)])
    type = SelectField(_l("Type"), choices=[])
    required = BooleanField(_l("Required: a record cannot be saved without a value"))
    help = TextAreaField(
        _l("Help text"),
        validators=[Optional(), Length(max=HELP_MAX)],
        description=_l("Shown under the field in forms."),
    )
    choices = TextAreaField(
        _l("Choices"),
        validators=[Optional(), Length(max=30_000)],
        description=_l(
            "For single and multiple choice fields: one choice per line, as value | label "
            "(for example: A | A customer). A line without | is both value and label."
        ),
    )
    position = IntegerField(
        _l("Position"),
        validators=[Optional(), NumberRange(min=0, max=1_000_000)],
        description=_l("Fields are shown in increasing order of position."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.type.choices = [(code, str(label)) for code, label in TYPES.items()]


class DeleteForm(FlaskForm):
    confirm = StringField(_l("Type the field's key to confirm"), validators=[DataRequired(), Length(max=KEY_MAX)])


def _entity(plural: str) -> Entity:
    entity = {e.plural: e for e in cf.entity_choices()}.get(plural)
    if entity is None:
        abort(404)
    return entity


def _field(entity: Entity, field_id: int) -> CustomField:
    field = db.session.scalar(
        select(CustomField).where(CustomField.id == field_id, CustomField.entity == entity.plural)
    )
    if field is None:
        abort(404)
    return field


def _choices_text(field: CustomField | None) -> str:
    if field is None or not field.choices:
        return ""
    return "\n".join(value if value == label else f"{value} | {label}" for value, label in field.choices)


def _show_errors(form: FieldForm, errors: dict[str, list[str]]) -> None:
    for name, messages in errors.items():
        target = getattr(form, name, None)
        if target is None:
            target = form.key
        target.errors = list(target.errors) + [str(m) for m in messages]


@bp.route("/custom-fields")
@requires(PERMISSION)
def custom_fields() -> Any:
    entities = cf.entity_choices()
    counts: dict[tuple[str, bool], int] = {}
    if entities:
        rows = db.session.execute(
            select(CustomField.entity, CustomField.active, func.count(CustomField.id))
            .where(CustomField.entity.in_([e.plural for e in entities]))
            .group_by(CustomField.entity, CustomField.active)
        )
        counts = {(row[0], bool(row[1])): row[2] for row in rows}
    return render("core/admin/custom_fields.html", page=paginate_list(entities), counts=counts)


@bp.route("/custom-fields/<plural>")
@requires(PERMISSION)
def custom_fields_entity(plural: str) -> Any:
    entity = _entity(plural)
    statement = (
        select(CustomField)
        .where(CustomField.entity == entity.plural)
        .order_by(CustomField.active.desc(), CustomField.position, CustomField.id)
    )
    return render("core/admin/custom_fields_entity.html", entity=entity, page=paginate(statement, count=True))


def _form_page(entity: Entity, form: FieldForm, field: CustomField | None, status: int) -> Any:
    return (
        render(
            "core/admin/custom_fields_form.html",
            entity=entity,
            form=form,
            field=field,
            choice_types=sorted(CHOICE_TYPES),
        ),
        status,
    )


@bp.route("/custom-fields/<plural>/new", methods=["GET", "POST"])
@requires(PERMISSION)
def custom_field_new(plural: str) -> Any:
    entity = _entity(plural)
    form = FieldForm()
    if form.validate_on_submit():
        try:
            field = cf.create_field(
                entity,
                key=form.key.data,
                label=form.label.data,
                type=form.type.data,
                required=form.required.data,
                help=form.help.data or "",
                choices=form.choices.data or "",
                position=form.position.data,
            )
        except cf.FieldError as exc:
            db.session.rollback()
            _show_errors(form, exc.errors)
        else:
            db.session.commit()
            flash(
                _("The field %(label)s is added to %(entity)s.", label=field.label, entity=entity.label_plural),
                "success",
            )
            return redirect(url_for("admin.custom_fields_entity", plural=entity.plural))
    return _form_page(entity, form, None, 400 if form.is_submitted() else 200)


@bp.route("/custom-fields/<plural>/<int:field_id>", methods=["GET", "POST"])
@requires(PERMISSION)
def custom_field_edit(plural: str, field_id: int) -> Any:
    entity = _entity(plural)
    field = _field(entity, field_id)
    if request.method == "POST":
        form = FieldForm()
        form.key.data = field.key  # the key never changes, whatever the browser sends
    else:
        form = FieldForm(obj=field)
        form.choices.data = _choices_text(field)
    if form.validate_on_submit():
        try:
            cf.update_field(
                field,
                label=form.label.data,
                type=form.type.data,
                required=form.required.data,
                help=form.help.data or "",
                choices=form.choices.data or "",
                position=form.position.data,
            )
        except cf.FieldError as exc:
            db.session.rollback()
            field = _field(entity, field_id)
            _show_errors(form, exc.errors)
        else:
            db.session.commit()
            flash(_("The field %(label)s is saved.", label=field.label), "success")
            return redirect(url_for("admin.custom_fields_entity", plural=entity.plural))
    return _form_page(entity, form, field, 400 if form.is_submitted() else 200)


@bp.route("/custom-fields/<plural>/<int:field_id>/archive", methods=["POST"])
@requires(PERMISSION)
def custom_field_archive(plural: str, field_id: int) -> Any:
    entity = _entity(plural)
    field = _field(entity, field_id)
    cf.archive_field(field)
    db.session.commit()
    flash(_("The field %(label)s is archived; its values are kept.", label=field.label), "success")
    return redirect(url_for("admin.custom_fields_entity", plural=entity.plural))


@bp.route("/custom-fields/<plural>/<int:field_id>/restore", methods=["POST"])
@requires(PERMISSION)
def custom_field_restore(plural: str, field_id: int) -> Any:
    entity = _entity(plural)
    field = _field(entity, field_id)
    cf.restore_field(field)
    db.session.commit()
    flash(_("The field %(label)s is back in use.", label=field.label), "success")
    return redirect(url_for("admin.custom_fields_entity", plural=entity.plural))


@bp.route("/custom-fields/<plural>/<int:field_id>/delete", methods=["GET", "POST"])
@requires(PERMISSION)
def custom_field_delete(plural: str, field_id: int) -> Any:
    entity = _entity(plural)
    field = _field(entity, field_id)
    if field.active:
        flash(_("Archive the field before deleting it."), "error")
        return redirect(url_for("admin.custom_field_edit", plural=entity.plural, field_id=field.id))
    form = DeleteForm()
    if form.validate_on_submit():
        if form.confirm.data.strip() != field.key:
            form.confirm.errors = [_("Type %(key)s exactly to confirm.", key=field.key)]
        else:
            label = field.label
            job_id = cf.delete_field(field, user_id=current_user.id)
            db.session.commit()
            if job_id:
                flash(
                    _("The field %(label)s and its values are being deleted in the background.", label=label),
                    "success",
                )
            else:
                flash(_("The field %(label)s and its values are deleted.", label=label), "success")
            return redirect(url_for("admin.custom_fields_entity", plural=entity.plural))
    return (
        render("core/admin/custom_fields_delete.html", entity=entity, field=field, form=form, used=cf.usage(field)),
        400 if form.is_submitted() else 200,
    )
