"""Forms of the administration pages (Flask-WTF: CSRF on every state-changing form)."""

from __future__ import annotations

import re
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, Length, Optional, Regexp, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from core.forms import locale_choices, timezone_choices
from core.i18n import LOCALES

UNSCOPED_LABELS = {"none": _l("Not granted"), "all": _l("Granted")}


class CheckboxesField(SelectMultipleField):
    """A multiple choice shown as a list of checkboxes (rendered by the ``checkboxes()`` admin macro)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class PostForm(FlaskForm):
    """A form holding only the CSRF token; the grant editor adds its fields to it."""


class GetForm(FlaskForm):
    """A filter form read from the query string: no CSRF token, nothing changes."""

    class Meta:
        csrf = False


def _email_field() -> EmailField:
    return EmailField(_l("E-mail"), validators=[DataRequired(), Email(), Length(max=255)])


class InviteForm(FlaskForm):
    email = _email_field()
    name = StringField(_l("Name"), validators=[Optional(), Length(max=200)])
    groups = CheckboxesField(_l("Groups"), coerce=int)
    departments = CheckboxesField(_l("Departments"), coerce=int)


class UserForm(FlaskForm):
    name = StringField(_l("Name"), validators=[Optional(), Length(max=200)])
    locale = SelectField(_l("Language"), choices=[], validators=[Optional()])
    timezone = SelectField(_l("Time zone"), choices=[], validators=[Optional()])
    groups = CheckboxesField(_l("Groups"), coerce=int)
    departments = CheckboxesField(_l("Departments"), coerce=int)
    version = HiddenField(validators=[DataRequired()])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.locale.choices = locale_choices(blank=True)
        self.timezone.choices = [("", _l("Workspace default"))] + timezone_choices()

    def validate_version(self, field: HiddenField) -> None:
        if not str(field.data).isdigit():
            raise ValidationError(_l("The form is damaged. Please reload the page."))


class GroupForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=500)])
    is_superuser = BooleanField(_l("Superuser group: members hold every permission on every record"))


class DepartmentForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=500)])


class MemberForm(FlaskForm):
    email = _email_field()


class LinkForm(FlaskForm):
    target = SelectField(_l("Group"), coerce=int, choices=[])


class AccessForm(GetForm):
    email = EmailField(_l("E-mail of the user"), validators=[DataRequired(), Email(), Length(max=255)])
    permission = SelectField(_l("Permission"), choices=[], validators=[DataRequired()])
    model = SelectField(_l("Kind of record"), choices=[], validators=[Optional()])
    record_id = StringField(_l("Record number"), validators=[Optional(), Length(max=64)])

    def validate_record_id(self, field: StringField) -> None:
        if field.data and not self.model.data:
            raise ValidationError(_l("Choose the kind of record too."))


CURRENCY = re.compile(r"^[A-Z]{3}$")


class WorkspaceForm(FlaskForm):
    name = StringField(_l("Workspace name"), validators=[DataRequired(), Length(max=200)])
    theme = SelectField(_l("Theme"), choices=[])
    default_locale = SelectField(_l("Default language"), choices=[])
    default_timezone = SelectField(_l("Default time zone"), choices=[])
    currency = StringField(
        _l("Currency"),
        filters=[lambda value: value.strip().upper() if isinstance(value, str) else value],
        validators=[
            DataRequired(),
            Regexp(CURRENCY.pattern, message=_l("Use the three-letter ISO 4217 code, such as TWD, CNY or USD.")),
        ],
    )

    def __init__(self, *args: Any, themes: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.theme.choices = [(name, name) for name in themes]
        self.default_locale.choices = list(LOCALES.items())
        self.default_timezone.choices = timezone_choices()


class AuditFilterForm(GetForm):
    user = StringField(_l("User (e-mail)"), validators=[Optional(), Length(max=255)])
    action = SelectField(_l("Action"), choices=[], validate_choice=False, validators=[Optional()])
    table = SelectField(_l("Table"), choices=[], validate_choice=False, validators=[Optional()])
    record_id = StringField(_l("Record number"), validators=[Optional(), Length(max=64)])
    date_from = DateField(_l("From"), validators=[Optional()])
    date_to = DateField(_l("Until"), validators=[Optional()])

    def validate_date_to(self, field: DateField) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("The end date is before the start date."))
