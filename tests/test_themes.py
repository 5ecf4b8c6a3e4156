"""Template lookup goes theme -> default theme -> plugins -> core, and the tenant's setting picks the theme."""

from core import db
from core.models import Tenant


def test_tenant_theme_overrides_a_core_page_only_for_that_tenant(make_app, make_tenant, client_as, tmp_path):
    theme = tmp_path / "themes" / "harbour" / "templates" / "core"
    theme.mkdir(parents=True)
    (theme / "login.html").write_text(
        '{% extends "layout.html" %}{% block content %}<h1 class="harbour">Harbour sign-in</h1>{% endblock %}'
    )
    (tmp_path / "themes" / "harbour" / "static").mkdir()
    (tmp_path / "themes" / "harbour" / "static" / "theme.css").write_text("body { color: navy; }")
    app = make_app(THEMES_DIR=str(tmp_path / "themes"))
    acme = make_tenant("acme", use_app=app)
    make_tenant("globex", use_app=app)
    with app.app_context():
        row = db.session.get(Tenant, acme.id)
        row.theme = "harbour"
        db.session.commit()

    themed = client_as(tenant=acme, use_app=app).get("/login").get_data(as_text=True)
    plain = client_as(tenant=type("T", (), {"slug": "globex"}), use_app=app).get("/login").get_data(as_text=True)
    assert "Harbour sign-in" in themed and "/static/theme/harbour/theme.css" in themed
    assert "Harbour sign-in" not in plain
    assert client_as(tenant=acme, use_app=app).get("/static/theme/harbour/theme.css").status_code == 200


def test_plugin_template_is_found_and_default_theme_can_override_it(notes_app, make_tenant, make_user, client_as):
    acme = make_tenant("acme", use_app=notes_app)
    user = make_user(acme, groups=["sales"], use_app=notes_app)
    page = client_as(user, use_app=notes_app).get("/notes/")
    assert page.status_code == 200 and "<h1>Notes (0)</h1>" in page.get_data(as_text=True)
