"""The home dashboard, global search and job progress."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, g, jsonify, request
from flask_login import current_user

from core import db
from core.jobs import job_progress
from core.models import JobRecord
from core.permissions import authenticated, public
from core.themes import render

bp = Blueprint("home", __name__)

SEARCH_LIMIT = 10


@bp.route("/")
@authenticated
def dashboard() -> Any:
    return render("core/dashboard.html")


def search_hits(query: str, limit: int = SEARCH_LIMIT) -> list[Any]:
    """Global search over every enabled plugin that answers the ``search`` hook, best first."""
    query = query.strip()
    if len(query) < 2 and not query.isdigit():
        return []
    hits = []
    for result in g.crm_hooks.search(query=query, user=current_user, tenant=g.tenant, limit=limit):
        hits.extend(result or [])
    return sorted(hits, key=lambda hit: -hit.score)


@bp.route("/search")
@authenticated
def search() -> Any:
    query = request.args.get("q", "")[:200]
    return render("core/search.html", query=query, hits=search_hits(query))


@bp.route("/jobs/<job_id>")
@authenticated
def job_status(job_id: str) -> Any:
    job = db.session.get(JobRecord, job_id)
    if job is None or (job.user_id is not None and job.user_id != current_user.id):
        abort(404)
    progress = job_progress(job)
    return jsonify(
        {
            "id": job.id,
            "name": job.name,
            "status": job.status,
            "done": progress.done,
            "total": progress.total,
            "percent": progress.percent,
            "message": progress.message,
            "result": job.result,
        }
    )


@bp.route("/healthz")
@public
def health() -> Any:
    return {"status": "ok", "tenant": g.tenant.slug}
