"""Web-to-lead forms: the public form a company embeds on its own website, and their administration.

``/opportunities/forms/<token>`` answers on the tenant's own host (resolved like every page), needs no sign-in
and no CSRF token (it is posted from other sites), and defends itself instead: a honeypot field (filled → the
sender sees the thank-you page and nothing is stored), a per-address and a per-form rate limit (attempts are audit
entries counted by :mod:`core.throttle`, like failed sign-ins), allowed origins, server-side validation with the
errors shown on the hosted form, and maximum lengths. A valid submission becomes a lead of that tenant with the
form's source and ``web_form_id``; the assignment rules then choose its owner.
"""

from __future__ import annotations

import secrets
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

from flask import abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from marshmallow import ValidationError
from sqlalchemy import select
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional
from wtforms.validators import ValidationError as FormError
from wtforms.widgets import CheckboxInput, ListWidget

from core import db
from core.audit import record
from core.permissions import public, requires
from core.themes import render
from core.throttle import recent_count

from .blueprint import bp
from .choices import LEAD_SOURCES
from .models import WebForm

HONEYPOT = "homepage"  # a field people never see; bots fill it
FORM_FIELDS = ("name", "company_name", "title", "email", "phone", "website", "address_city", "notes")
INPUT_TYPES = {"email": "email", "phone": "tel", "website": "url", "notes": "textarea"}
AUTOCOMPLETE = {
    "name": "name",
    "company_name": "organization",
    "title": "organization-title",
    "email": "email",
    "phone": "tel",
    "website": "url",
    "address_city": "address-level2",
}
ATTEMPT = "webform_post"
NOBODY = SimpleNamespace(id=None)  # the creator of a lead sent by a visitor: nobody signed in


def limits() -> dict[str, int]:
    """Submissions allowed per client address and per form within ``minutes`` (settable in the app config)."""
    config = current_app.config
    return {
        "per_ip": int(config.get("OPPORTUNITIES_WEBFORM_IP_LIMIT", 10)),
        "per_form": int(config.get("OPPORTUNITIES_WEBFORM_FORM_LIMIT", 300)),
        "minutes": int(config.get("OPPORTUNITIES_WEBFORM_MINUTES", 10)),
    }


def field_specs(form: WebForm) -> list[dict[str, Any]]:
    """The inputs of a form in order: name, label, input type, max length, required."""
    from .schemas import LeadSchema

    schema_fields = LeadSchema().fields
    required = set(form.required_fields or []) | {"name"}
    specs = []
    for name in form_fields(form):
        field = schema_fields[name]
        maximum = next((v.max for v in field.validators if getattr(v, "max", None)), None)
        specs.append(
            {
                "name": name,
                "label": field.metadata.get("label", name),
                "type": INPUT_TYPES.get(name, "text"),
                "maxlength": maximum,
                "required": name in required,
                "autocomplete": AUTOCOMPLETE.get(name, "off"),
            }
        )
    return specs


def form_fields(form: WebForm) -> list[str]:
    chosen = [name for name in (form.fields or []) if name in FORM_FIELDS]
    return chosen if "name" in chosen else ["name", *chosen]


def public_url(form: WebForm) -> str:
    return url_for("opportunities.public_form", token=form.token, _external=True)


def _origin(value: str | None) -> str | None:
    parts = urlsplit((value or "").strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def origin_allowed(form: WebForm) -> bool:
    """Posts from the tenant's own host, without an ``Origin``, or from one of the form's allowed origins."""
    sent = request.headers.get("Origin")
    if not sent or sent == "null" or not form.allowed_origins:
        return True
    own = _origin(request.host_url)
    allowed = {_origin(item) for item in form.allowed_origins.split()} | {own}
    return _origin(sent) in allowed


def validate_submission(form: WebForm, values: dict[str, str]) -> tuple[dict[str, Any] | None, dict[str, list[str]]]:
    """Validated lead data (with the form's source), or the errors by field."""
    from .schemas import LeadSchema

    errors: dict[str, list[str]] = {}
    for spec in field_specs(form):
        if spec["required"] and not values.get(spec["name"]):
            errors[spec["name"]] = [_("This field is required.")]
    given = {name: value for name, value in values.items() if value}
    try:
        data = LeadSchema(only=tuple(given) or ("name",)).load(given, partial=True)
    except ValidationError as exc:
        for name, messages in exc.normalized_messages().items():
            errors.setdefault(name, []).extend(messages if isinstance(messages, list) else [str(messages)])
        data = None
    if errors or data is None:
        return None, errors
    data["source"] = form.source  # the administrator's choice, not the visitor's
    data["status"] = "new"
    return data, {}


def _hosted(form: WebForm, values: dict[str, str], errors: dict[str, list[str]], message: str | None = None) -> str:
    return render(
        "opportunities/webforms/public.html",
        form=form,
        specs=field_specs(form),
        values=values,
        errors=errors,
        message=message,
        honeypot=HONEYPOT,
    )


def _thanks(form: WebForm) -> Any:
    if form.thank_you_url:
        return redirect(form.thank_you_url, 303)
    return render("opportunities/webforms/thanks.html", form=form)


def _hosted_response(body: str, status: int, form: WebForm) -> Any:
    response = current_app.make_response((body, status))
    target = _origin(form.thank_you_url)
    if target:  # browsers apply form-action to the redirect after the post as well
        from core.app import CSP

        response.headers["Content-Security-Policy"] = CSP.replace("form-action 'self'", f"form-action 'self' {target}")
    return response


@bp.route("/forms/<token>", methods=["GET", "POST"])
@public
def public_form(token: str) -> Any:
    """The hosted form (GET) and where the embedded and the hosted form post to (POST)."""
    form = db.session.scalar(select(WebForm).where(WebForm.token == token[:43], WebForm.active.is_(True)))
    if form is None:
        abort(404)
    if request.method == "GET":
        return _hosted_response(_hosted(form, {}, {}), 200, form)
    if request.form.get(HONEYPOT):
        return _thanks(form)  # pretend: a bot learns nothing, nothing is stored
    if not origin_allowed(form):
        abort(403)
    limit = limits()
    ip = request.remote_addr or ""
    values = {name: (request.form.get(name) or "").strip() for name in form_fields(form)}
    if (
        recent_count(ATTEMPT, limit["minutes"], ip=ip) >= limit["per_ip"]
        or recent_count(ATTEMPT, limit["minutes"], table_name=WebForm.__tablename__, record_id=form.id)
        >= limit["per_form"]
    ):
        message = _("Too many submissions. Please wait a few minutes and try again.")
        return _hosted_response(_hosted(form, values, {}, message), 429, form)
    record(ATTEMPT, form.name, table_name=WebForm.__tablename__, record_id=form.id)
    db.session.commit()  # the attempt counts even if the submission is invalid
    data, errors = validate_submission(form, values)
    if data is None:
        return _hosted_response(_hosted(form, values, errors), 400, form)
    create_lead(form, data)
    db.session.commit()
    return _thanks(form)


def create_lead(form: WebForm, data: dict[str, Any]) -> Any:
    """A lead from a submission, through the entity service (events, audit, assignment rules)."""
    from core.entities import service
    from core.entities.registry import all_entities

    lead = service.create(all_entities()["leads"], data, NOBODY)
    lead.web_form_id = form.id
    db.session.flush()
    return lead


@bp.record_once
def _exempt_from_csrf(state: Any) -> None:
    # Posted from the company's own website, which cannot know our CSRF token; defended as described above.
    csrf = state.app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(public_form)


# ------------------------------------------------------------------------------------------ admin


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _field_choices() -> list[tuple[str, Any]]:
    from .schemas import LeadSchema

    schema_fields = LeadSchema().fields
    return [(name, schema_fields[name].metadata.get("label", name)) for name in FORM_FIELDS]


class WebFormForm(FlaskForm):
    name = StringField(_l("Name of the form"), validators=[DataRequired(), Length(max=100)])
    asked = MultiCheckboxField(_l("Fields asked for"), validators=[Optional()])
    required = MultiCheckboxField(_l("Required fields"), validators=[Optional()])
    source = SelectField(_l("Source given to its leads"), validators=[Optional()])
    thank_you_message = TextAreaField(_l("Thank-you message"), validators=[Optional(), Length(max=2000)])
    thank_you_url = StringField(_l("Or redirect to this page after sending"), validators=[Optional(), Length(max=500)])
    allowed_origins = StringField(_l("Websites allowed to post the form"), validators=[Optional(), Length(max=500)])
    active = BooleanField(_l("Active"), default=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = _field_choices()
        self.asked.choices = choices
        self.required.choices = choices
        self.source.choices = [("", _("(none)")), *LEAD_SOURCES]

    def validate_thank_you_url(self, field: Any) -> None:
        if field.data and _origin(field.data) is None:
            raise FormError(_("Enter a full address starting with https://"))

    def validate_allowed_origins(self, field: Any) -> None:
        bad = [item for item in (field.data or "").split() if _origin(item) is None]
        if bad:
            raise FormError(_("Not a website address: %(items)s", items=", ".join(bad)))


def _load_form(form_id: int) -> WebForm:
    form = db.session.get(WebForm, form_id)
    if form is None:
        abort(404)
    return form


def _save(target: WebForm, form: WebFormForm) -> None:
    chosen = [name for name in FORM_FIELDS if name in (form.asked.data or []) or name == "name"]
    target.name = form.name.data.strip()
    target.fields = chosen
    target.required_fields = ["name", *[n for n in chosen if n in (form.required.data or []) and n != "name"]]
    target.source = form.source.data or None
    target.thank_you_message = (form.thank_you_message.data or "").strip() or None
    target.thank_you_url = (form.thank_you_url.data or "").strip() or None
    origins = [_origin(item) for item in (form.allowed_origins.data or "").split()]
    target.allowed_origins = " ".join(o for o in origins if o) or None
    target.active = bool(form.active.data)


@bp.route("/admin/web-forms")
@requires("opportunities.capture.manage")
def webforms_admin() -> Any:
    forms = db.session.scalars(select(WebForm).order_by(WebForm.active.desc(), WebForm.name, WebForm.id)).all()
    return render("opportunities/admin_capture/webforms.html", forms=forms)


@bp.route("/admin/web-forms/new", methods=["GET", "POST"])
@bp.route("/admin/web-forms/<int:form_id>", methods=["GET", "POST"])
@requires("opportunities.capture.manage")
def webform_edit(form_id: int | None = None) -> Any:
    target = _load_form(form_id) if form_id is not None else None
    if request.method == "POST":
        form = WebFormForm()
    elif target is None:
        form = WebFormForm(data={"asked": ["name", "company_name", "email", "phone", "notes"], "active": True})
    else:
        form = WebFormForm(
            data={
                "name": target.name,
                "asked": form_fields(target),
                "required": target.required_fields or ["name"],
                "source": target.source or "",
                "thank_you_message": target.thank_you_message,
                "thank_you_url": target.thank_you_url,
                "allowed_origins": target.allowed_origins,
                "active": target.active,
            }
        )
    if form.validate_on_submit():
        if target is None:
            target = WebForm(token=secrets.token_urlsafe(32))
            db.session.add(target)
        _save(target, form)
        db.session.commit()
        flash(_("The form %(name)s is saved.", name=target.name), "success")
        return redirect(url_for("opportunities.webform_edit", form_id=target.id))
    status = 400 if request.method == "POST" else 200
    snippet = url = None
    if target is not None:
        url = public_url(target)
        snippet = render(
            "opportunities/webforms/snippet.html", form=target, url=url, specs=field_specs(target), honeypot=HONEYPOT
        ).strip()
    return render(
        "opportunities/admin_capture/webform_form.html", form=form, target=target, url=url, snippet=snippet
    ), status


@bp.route("/admin/web-forms/<int:form_id>/active", methods=["POST"])
@requires("opportunities.capture.manage")
def webform_toggle(form_id: int) -> Any:
    target = _load_form(form_id)
    target.active = not target.active
    db.session.commit()
    flash(
        _("The form %(name)s is active.", name=target.name)
        if target.active
        else _("The form %(name)s is deactivated: its address answers “not found”.", name=target.name),
        "success",
    )
    return redirect(url_for("opportunities.webforms_admin"))
