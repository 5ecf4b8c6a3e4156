"""The kernel's "new" page of contacts and companies, with a duplicate check before saving.

When the submitted record looks like existing ones (same e-mail address, same phone digits, a similar name at the
same company; for companies the same tax ID, phone or name) the form comes back with a warning that links to
them. Saving the same values again creates the record anyway; changing them checks again.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import request

from core import db
from core.entities import views as kernel_views
from core.entities.definition import Entity
from core.entities.forms import departments, entity_fields, load, parse_form, people
from core.themes import render

from .records import company_duplicates, contact_duplicates
from .template_context import template_helpers

CHECKED = "duplicates_checked"
CONTACT_KEYS = ("name", "email", "mobile", "phone", "company_name")
COMPANY_KEYS = ("name", "tax_id", "phone")


def fingerprint(values: Any, keys: tuple[str, ...]) -> str:
    """A short digest of the values the duplicate check looked at."""
    joined = "\x1f".join(" ".join(str(values.get(key, "") or "").split()) for key in keys)
    return hashlib.sha256(joined.encode()).hexdigest()[:20]


def _matches(entity: Entity, data: dict[str, Any]) -> Any:
    if entity.name == "contact":
        return contact_duplicates(
            name=data.get("name"),
            emails=[data.get("email") or ""] + [e["email"] for e in data.get("emails") or []],
            phones=[data.get("mobile") or "", data.get("phone") or ""]
            + [p["number"] for p in data.get("phones") or []],
            company_ids=[m["company_id"] for m in data.get("memberships") or []],
            company_names=[data.get("company_name") or ""],
        )
    return company_duplicates(data.get("name"), data.get("tax_id"), data.get("phone"))


def new_with_duplicate_check(entity: Entity) -> Any:
    """``GET/POST /contacts/<plural>/new``: the kernel's create form, warning about likely duplicates first."""
    keys = CONTACT_KEYS if entity.name == "contact" else COMPANY_KEYS
    if request.method != "POST" or request.form.get(CHECKED) == fingerprint(request.form, keys):
        return kernel_views.new(entity)
    form = entity_fields(entity)
    widgets = {spec.widget for spec in form.editable}
    users = people() if "user" in widgets else {}
    depts = departments() if "department" in widgets else {}
    submission = parse_form(form, request.form, users, depts)
    data = load(form, submission)
    matches = _matches(entity, data) if data is not None else None
    db.session.rollback()
    if not matches:
        return kernel_views.new(entity)  # valid and unique, or invalid: the kernel saves or shows the errors
    context = kernel_views.form_context(entity, form, submission.values, {}, None, users, depts)
    context.update(
        duplicates=matches,
        duplicates_kind=entity.name,
        duplicates_checked=fingerprint(request.form, keys),
        **template_helpers(),
    )
    return render(kernel_views.templates(entity, "form"), **context), 200
