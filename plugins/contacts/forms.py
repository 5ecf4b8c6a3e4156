"""Forms of the plugin's own pages: quick actions (log a call, add a note, add a task), reassigning a task."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from .choices import CALL_OUTCOMES

REMINDERS = (
    ("", _l("No reminder")),
    ("0", _l("When it is due")),
    ("15", _l("15 minutes before")),
    ("60", _l("1 hour before")),
    ("1440", _l("1 day before")),
)


def local_to_utc(value: dt.datetime | None, zone: zoneinfo.ZoneInfo) -> dt.datetime | None:
    """A naive date and time typed in the user's time zone, as an aware UTC datetime."""
    if value is None:
        return None
    return value.replace(tzinfo=zone).astimezone(dt.UTC)


def utc_to_local(value: dt.datetime | None, zone: zoneinfo.ZoneInfo) -> dt.datetime | None:
    """An aware datetime as the naive local time a ``datetime-local`` input shows."""
    if value is None:
        return None
    return value.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0)


class EntryForm(FlaskForm):
    """A call, note, meeting, visit, e-mail or SMS that happened."""

    occurred_at = DateTimeLocalField(_l("When"), format="%Y-%m-%dT%H:%M", validators=[InputRequired()])
    outcome = RadioField(_l("Outcome"), choices=list(CALL_OUTCOMES), validators=[Optional()])
    duration_minutes = IntegerField(_l("Duration (minutes)"), validators=[Optional(), NumberRange(min=0, max=24 * 60)])
    subject = StringField(_l("Subject"), validators=[Optional(), Length(max=200)])
    body = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=20000)])

    def __init__(self, *args: Any, kind: str = "call", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kind = kind

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        if self.kind == "note" and not (self.body.data or "").strip():
            self.body.errors = [*self.body.errors, str(_l("Write the note."))]
            valid = False
        return valid


class TaskForm(FlaskForm):
    """A task for oneself or a colleague."""

    subject = StringField(_l("What needs doing"), validators=[DataRequired(), Length(max=200)])
    due_at = DateTimeLocalField(_l("Due"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    assignee_id = SelectField(_l("Assigned to"), coerce=int, validators=[InputRequired()])
    remind = SelectField(_l("Reminder"), choices=list(REMINDERS), validators=[Optional()])
    body = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=20000)])

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        if self.remind.data and self.due_at.data is None:
            self.remind.errors = [*self.remind.errors, str(_l("A reminder needs a due date."))]
            valid = False
        return valid


class ReassignForm(FlaskForm):
    assignee_id = SelectField(_l("Give the task to"), coerce=int, validators=[InputRequired()])
