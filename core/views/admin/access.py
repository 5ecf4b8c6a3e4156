"""The access check: why can (or cannot) this user use this permission, on this record?"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from flask import current_app, g, request
from flask_babel import gettext as _
from sqlalchemy import inspect, select

from core import db
from core.db import Base, TenantOwned
from core.models import Department, User
from core.permissions import explain, registry, requires
from core.plugins import CORE
from core.themes import render
from core.views.admin import bp
from core.views.admin.common import user_by_email
from core.views.admin.forms import AccessForm
from core.views.admin.groups import permission_sections


def scoped_models() -> dict[str, tuple[str, type]]:
    """Table name -> (owning plugin, model) for tenant-owned models of enabled plugins that opt into scopes."""
    owners = current_app.extensions["crm.plugins"].owners.tables
    models: dict[str, tuple[str, type]] = {}
    for mapper in Base.registry.mappers:
        model = mapper.class_
        table = getattr(model, "__tablename__", None)
        owner = owners.get(table)
        if owner is None or (owner != CORE and owner not in g.enabled_plugins):
            continue
        if not issubclass(model, TenantOwned):
            continue
        if getattr(model, "__owner_column__", None) or getattr(model, "__department_column__", None):
            models[table] = (owner, model)
    return dict(sorted(models.items()))


def _permission_choices() -> dict[str, list[tuple[str, str]]]:
    choices: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for section in permission_sections():
        for permission in section["permissions"]:
            choices[str(section["title"])].append((permission.name, f"{permission.label} ({permission.name})"))
    return dict(choices)


def _model_choices(models: dict[str, tuple[str, type]]) -> list[tuple[str, str]]:
    host = current_app.extensions["crm.plugins"]
    choices = [("", _("No record: the permission in general"))]
    for table, (owner, model) in models.items():
        title = _("Core") if owner == CORE else host.plugins[owner].title
        choices.append((table, f"{title}: {model.__name__}"))
    return choices


def _load_record(model: type, raw_id: str) -> Any:
    """The record of the current tenant with this id, or ``None`` (another tenant's ids find nothing)."""
    key = inspect(model).primary_key[0]
    try:
        ident = key.type.python_type(raw_id.strip())
    except (TypeError, ValueError, NotImplementedError):
        return None
    # A query, not session.get: the identity map must never hand out a row the tenant guard did not filter.
    record = db.session.scalar(select(model).where(key == ident))
    if record is None or record.tenant_id != g.tenant.id:
        return None
    return record


def _record_facts(record: Any) -> dict[str, Any]:
    """Who owns the record and which department it belongs to, by name."""
    model = type(record)
    facts: dict[str, Any] = {"label": str(getattr(record, "audit_label", "") or "")}
    owner_column = getattr(model, "__owner_column__", None)
    if owner_column:
        owner_id = getattr(record, owner_column)
        owner = db.session.scalar(select(User).where(User.id == owner_id)) if owner_id is not None else None
        facts["owner"] = owner.display_name if owner else None
        facts["owner_id"] = owner_id
    department_column = getattr(model, "__department_column__", None)
    if department_column:
        department_id = getattr(record, department_column)
        facts["department"] = (
            db.session.scalar(select(Department.name).where(Department.id == department_id))
            if department_id is not None
            else None
        )
        facts["department_id"] = department_id
    return facts


@bp.route("/explain", endpoint="explain")
@requires("admin.groups.manage")
def explain_access() -> Any:
    models = scoped_models()
    form = AccessForm(formdata=request.args if request.args else None)
    form.permission.choices = _permission_choices()
    form.model.choices = _model_choices(models)
    result = None
    subject = None
    record = None
    facts = None
    status = 200
    if "permission" in request.args:  # submitted; a link may only prefill the e-mail
        if form.validate():
            subject = user_by_email(form.email.data)
            if subject is None:
                form.email.errors.append(_("There is no user with this e-mail here."))
            if form.model.data and not form.record_id.data:
                form.record_id.errors.append(_("Enter the number of the record, or choose no record."))
            elif form.model.data:
                record = _load_record(models[form.model.data][1], form.record_id.data)
                if record is None:
                    form.record_id.errors.append(_("There is no such record in this workspace."))
                else:
                    facts = _record_facts(record)
            if subject is not None and not form.record_id.errors:
                result = explain(subject, form.permission.data, record)
        if result is None:
            status = 400
    return (
        render(
            "core/admin/explain.html",
            form=form,
            result=result,
            subject=subject,
            record=record,
            facts=facts,
            permission=registry().get(form.permission.data or ""),
        ),
        status,
    )
