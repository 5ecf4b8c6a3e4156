from flask_babel import lazy_gettext as _l

from core.contributions import MenuItem, Panel, Permission, SearchHit
from core.hooks import hookimpl

META = {
    "name": "notes",
    "title": "Notes",
    "version": "1.0",
    "description": "Short notes, for the kernel's tests.",
    "requires": (),
    "slots": ("note.detail",),
    "events": ("notes.note.created",),
}

HEARD: list = []


@hookimpl
def register_models():
    from tests.notes_plugin.models import Note

    return [Note]


@hookimpl
def register_blueprints():
    from tests.notes_plugin.views import bp

    return [bp]


@hookimpl
def register_permissions():
    return [
        Permission("notes.view", _l("View notes"), defaults={"sales": "own", "readonly": "all"}),
        Permission("notes.edit", _l("Edit notes"), defaults={"sales": "own"}),
    ]


@hookimpl
def register_menu_items():
    return [MenuItem("notes", _l("Notes"), "notes.index", order=50, permission="notes.view")]


@hookimpl
def page_panels(slot, context, user, tenant):
    if slot == "home.dashboard":
        return [
            Panel(
                "notes.latest",
                "Latest notes",
                "notes/panel.html",
                {"tenant_name": tenant.name},
                order=10,
                permission="notes.view",
            )
        ]
    return []


@hookimpl
def search(query, user, tenant, limit):
    from sqlalchemy import select

    from core import db
    from core.permissions import scoped
    from tests.notes_plugin.models import Note

    stmt = scoped(select(Note).where(Note.title.contains(query)).limit(limit), "notes.view", user)
    return [SearchHit(note.title, f"/notes/{note.id}", "Note") for note in db.session.scalars(stmt)]


@hookimpl
def handle_event(event, tenant):
    HEARD.append((event.name, tenant.slug, dict(event.payload)))


@hookimpl
def demo_data(tenant, session):
    from tests.notes_plugin.models import Note

    session.add(Note(title="Demo note"))
