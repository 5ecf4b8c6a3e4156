"""Core's API endpoints and pages: global search, the OpenAPI document, the readable API page, API tokens."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from core import db
from core.api.errors import api_authenticated, plain
from core.api.openapi import build_spec
from core.api.tokens import issue_token, prefer_bearer, revoke_token
from core.models import ApiToken
from core.permissions import authenticated
from core.themes import render

bp = Blueprint("api", __name__)
bp.before_request(prefer_bearer)

SEARCH_LIMIT = 10
SEARCH_MAX = 50
TOKENS_PER_PAGE = 50


# ---------------------------------------------------------------------------------------------- JSON


@bp.route("/api/v1/search")
@api_authenticated
def search() -> Any:
    from core.views.home import search_hits

    try:
        limit = max(1, min(SEARCH_MAX, int(request.args.get("limit") or SEARCH_LIMIT)))
    except ValueError:
        return jsonify({"errors": {"limit": [_("Must be a whole number.")]}}), 400
    hits = search_hits(request.args.get("q", "")[:200], limit)[:limit]
    return jsonify({"data": [plain(dataclasses.asdict(hit)) for hit in hits]})


@bp.route("/api/v1/openapi.json")
@api_authenticated
def openapi() -> Any:
    return jsonify(build_spec())


# ---------------------------------------------------------------------------------------- API page


def _example(prop: dict[str, Any]) -> Any:
    """A plausible value for a property of the spec, for the curl examples."""
    if prop.get("enum"):
        return prop["enum"][0]
    if prop.get("x-choices"):
        return prop["x-choices"][0]["value"]
    kind, fmt, widget = prop.get("type"), prop.get("format"), prop.get("x-widget")
    if kind == "array":
        return ["VIP"] if widget == "tags" else [_example(prop.get("items") or {})]
    if kind == "object":
        return {key: _example(value) for key, value in (prop.get("properties") or {}).items()}
    if kind == "integer":
        return 1
    if kind == "number":
        return 1200.5
    if kind == "boolean":
        return True
    today = dt.date.today()
    examples = {
        "email": "someone@example.com",
        "date": today.isoformat(),
        "date-time": f"{today.isoformat()}T09:30:00+08:00",
        "decimal": "1200.50",
        "url": "https://example.com/",
        "uri": "https://example.com/",
    }
    if fmt in examples:
        return examples[fmt]
    if widget == "phone":
        return "+886 2 2345 6789"
    if widget == "url":
        return "https://example.com/"
    return "Example"


def _fields(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of a field table: name, type, required, read-only, label and help, choices."""
    rows = []
    required = set(schema.get("required") or [])
    for name, prop in (schema.get("properties") or {}).items():
        kind = prop.get("type", "object")
        if prop.get("format"):
            kind = f"{kind} ({prop['format']})"
        if kind == "array" and prop.get("items", {}).get("type"):
            kind = f"array[{prop['items']['type']}]"
        choices = [c["value"] for c in prop.get("x-choices") or []] or list(prop.get("enum") or [])
        rows.append(
            {
                "name": name,
                "type": kind + (" | null" if prop.get("nullable") else ""),
                "required": name in required,
                "read_only": bool(prop.get("readOnly")),
                "title": prop.get("title", ""),
                "description": prop.get("description", ""),
                "choices": choices,
            }
        )
        if name == "custom" and prop.get("properties"):
            for row in _fields(prop):
                rows.append({**row, "name": f"custom.{row['name']}"})
    return rows


def _example_body(schema: dict[str, Any], patch: bool = False) -> dict[str, Any]:
    props = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    writable = {
        name: prop
        for name, prop in props.items()
        if not prop.get("readOnly")
        and prop.get("x-widget") not in ("user", "department", "longtext")
        and name not in ("custom", "version")
    }
    if patch:
        first = next(iter(writable.items()), None)
        body: dict[str, Any] = {"version": 1}
        if first:
            body[first[0]] = _example(first[1])
        return body
    chosen = [n for n in writable if n in required] + [n for n in writable if n not in required][:3]
    return {name: _example(writable[name]) for name in chosen}


def _curl(method: str, url: str, body: dict[str, Any] | None = None) -> str:
    lines = ["curl"]
    if method != "GET":
        lines[0] += f" -X {method}"
    lines.append('  -H "Authorization: Bearer $GUANXI_TOKEN"')
    if body is not None:
        lines.append('  -H "Content-Type: application/json"')
        lines.append("  -d '" + json.dumps(body, ensure_ascii=False).replace("'", "'\\''") + "'")
    lines.append(f'  "{url}"')
    return " \\\n".join(lines)


def _resolve(spec: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in ref:
        return spec["components"]["schemas"][ref["$ref"].rsplit("/", 1)[-1]]
    return ref


def docs_model(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The spec regrouped for the page: one section per tag with its operations, fields and examples."""
    base = spec["servers"][0]["url"]
    sections: dict[str, dict[str, Any]] = {}
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            tag = (op.get("tags") or [""])[0]
            section = sections.setdefault(tag, {"title": tag, "slug": f"api-{len(sections) + 1}", "operations": []})
            example_path = path.replace("{id}", "1")
            if path.endswith("/search"):
                query = "?q=Wang"
            elif method == "get" and "{id}" not in path:
                query = "?limit=25"
            else:
                query = ""
            body_schema = None
            body = None
            content = (op.get("requestBody") or {}).get("content", {}).get("application/json")
            if content:
                body_schema = _resolve(spec, content["schema"])
                body = _example_body(body_schema, patch=method == "patch")
                if method == "post":
                    section["fields"] = _fields(body_schema)
            section["operations"].append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "parameters": [
                        {
                            "name": p["name"],
                            "where": p["in"],
                            "type": p.get("schema", {}).get("type", "string"),
                            "required": p.get("required", False),
                            "description": p.get("description", ""),
                        }
                        for p in op.get("parameters", [])
                    ],
                    "responses": [
                        (code, response.get("description") or _ref_description(spec, response))
                        for code, response in op.get("responses", {}).items()
                    ],
                    "curl": _curl(method.upper(), base + example_path + query, body),
                }
            )
    return list(sections.values())


def _ref_description(spec: dict[str, Any], response: dict[str, Any]) -> str:
    ref = response.get("$ref", "")
    return spec["components"]["responses"].get(ref.rsplit("/", 1)[-1], {}).get("description", "")


@bp.route("/api/docs")
@authenticated
def docs() -> Any:
    spec = build_spec()
    return render("core/api/docs.html", spec=spec, sections=docs_model(spec), base=spec["servers"][0]["url"])


# ------------------------------------------------------------------------------------------- tokens


class TokenForm(FlaskForm):
    name = StringField(
        _l("Name"),
        validators=[DataRequired(), Length(max=100)],
        description=_l("What the token is for, e.g. “Accounting sync”."),
    )


def _own_tokens() -> tuple[list[ApiToken], str | None]:
    """The user's tokens, newest first, 50 at a time (keyset on id)."""
    stmt = select(ApiToken).where(ApiToken.user_id == current_user.id)
    after = request.args.get("after", type=int)
    if after:
        stmt = stmt.where(ApiToken.id < after)
    rows = list(db.session.scalars(stmt.order_by(ApiToken.id.desc()).limit(TOKENS_PER_PAGE + 1)))
    more = len(rows) > TOKENS_PER_PAGE
    rows = rows[:TOKENS_PER_PAGE]
    next_url = url_for("api.tokens", after=rows[-1].id) if more else None
    return rows, next_url


@bp.route("/account/tokens", methods=["GET", "POST"])
@authenticated
def tokens() -> Any:
    form = TokenForm()
    secret = None
    status = 200
    if form.validate_on_submit():
        token, secret = issue_token(current_user._get_current_object(), form.name.data)
        db.session.commit()
        form = TokenForm(formdata=None)
    elif request.method == "POST":
        status = 400
    rows, next_url = _own_tokens()
    return (
        render("core/api/tokens.html", form=form, tokens=rows, secret=secret, next_url=next_url),
        status,
    )


@bp.route("/account/tokens/<int:token_id>/revoke", methods=["POST"])
@authenticated
def revoke(token_id: int) -> Any:
    token = db.session.scalar(select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == current_user.id))
    if token is None:
        abort(404)
    revoke_token(token)
    db.session.commit()
    flash(_("The token %(name)s is revoked: it no longer works.", name=token.name), "success")
    return redirect(url_for("api.tokens"))
