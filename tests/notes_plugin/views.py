from flask import Blueprint, abort, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from core import db
from core.events import emit
from core.permissions import requires, scoped
from core.themes import render
from tests.notes_plugin.models import Note

bp = Blueprint("notes", __name__, url_prefix="/notes")


@bp.route("/")
@requires("notes.view")
def index():
    notes = db.session.scalars(scoped(select(Note).order_by(Note.id), "notes.view")).all()
    total = db.session.scalar(scoped(select(func.count(Note.id)), "notes.view", model=Note))
    return render("notes/index.html", notes=notes, total=total)


def _load(note_id, permission):
    note = db.session.scalar(scoped(select(Note).where(Note.id == note_id), permission))
    if note is None:
        abort(404)
    return note


@bp.route("/<int:note_id>")
@requires("notes.view")
def detail(note_id):
    return {"id": note_id, "title": _load(note_id, "notes.view").title}


@bp.route("/", methods=["POST"])
@requires("notes.edit")
def create():
    title = request.form.get("title", "").strip()
    if not title:
        return {"errors": {"title": ["required"]}}, 400
    note = Note(title=title, owner_id=current_user.id, department_id=request.form.get("department_id", type=int))
    db.session.add(note)
    db.session.flush()
    emit("notes.note.created", id=note.id)
    db.session.commit()
    return redirect(url_for("notes.detail", note_id=note.id))


@bp.route("/<int:note_id>", methods=["POST"])
@requires("notes.edit")
def update(note_id):
    note = _load(note_id, "notes.edit")
    note.title = request.form["title"]
    db.session.commit()
    return {"id": note.id, "title": note.title}


@bp.route("/<int:note_id>/delete", methods=["POST"])
@requires("notes.edit")
def delete(note_id):
    db.session.delete(_load(note_id, "notes.edit"))
    db.session.commit()
    return {"deleted": note_id}
