"""Who may open the administration pages, what every page is made of, and the access check."""

import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from core import db
from core.models import Department, DepartmentGroup, Grant, Group
from tests.notes_plugin.models import Note

SAMPLE_ARGS = {"user_id": 1, "group_id": 1, "department_id": 1, "name": "notes", "plural": "notes", "field_id": 1}


def admin_rules(app):
    return [rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("admin.")]


def test_every_admin_route_declares_an_admin_permission(app):
    permissions = {"admin.users.manage", "admin.groups.manage", "admin.plugins.manage"}
    permissions |= {"admin.settings.manage", "admin.audit.view"}
    rules = admin_rules(app)
    assert {"admin.users", "admin.groups", "admin.departments", "admin.explain"} <= {r.endpoint for r in rules}
    assert {"admin.plugins", "admin.settings", "admin.audit"} <= {r.endpoint for r in rules}
    for rule in rules:
        assert getattr(app.view_functions[rule.endpoint], "crm_permission", None) in permissions, rule.endpoint


def test_a_sales_user_gets_403_on_every_admin_page_and_action(notes_app, make_tenant, make_user, client_as):
    acme = make_tenant("acme", use_app=notes_app)
    seller = client_as(make_user(acme, groups=["sales"], use_app=notes_app), use_app=notes_app)
    anonymous = client_as(tenant=acme, use_app=notes_app)
    for rule in admin_rules(notes_app):
        path = rule.build({k: v for k, v in SAMPLE_ARGS.items() if k in rule.arguments})[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = seller.open(path, method=method, data={"name": "x", "email": "a@b.example"})
            assert response.status_code == 403, f"{method} {path}"
            assert anonymous.open(path, method=method).status_code == 302, f"anonymous {method} {path}"
    assert 'href="/admin/' not in seller.get("/").get_data(as_text=True), "no admin entries in the menu"


class PageAudit(HTMLParser):
    """Collects what a page must not contain (inline script or style) and its form controls and labels."""

    def __init__(self):
        super().__init__()
        self.controls, self.labels, self.problems = [], set(), []
        self.label_depth = 0
        self.h1 = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "style" in attrs or any(name.startswith("on") for name in attrs):
            self.problems.append(f"inline style or handler on <{tag}>")
        if tag == "script" and not attrs.get("src"):
            self.problems.append("inline <script>")
        if tag == "style":
            self.problems.append("<style> element")
        if tag == "h1":
            self.h1 += 1
        if tag == "label":
            self.label_depth += 1
            if attrs.get("for"):
                self.labels.add(attrs["for"])
        if tag == "table" and "data" not in (attrs.get("class") or "").split():
            self.problems.append("a table without class 'data'")
        if tag in ("input", "select", "textarea"):
            kind = attrs.get("type", "text")
            if kind in ("hidden", "submit") or "hidden" in attrs:
                return
            if self.label_depth or attrs.get("aria-label") or attrs.get("aria-labelledby"):
                return
            self.controls.append(attrs.get("id") or attrs.get("name"))

    def handle_endtag(self, tag):
        if tag == "label":
            self.label_depth -= 1


def test_every_admin_page_renders_with_labelled_controls_and_no_inline_script_or_style(
    notes_app, make_tenant, make_user, client_as, in_tenant
):
    acme = make_tenant("acme", use_app=notes_app)
    admin_user = make_user(acme, groups=["administrators"], departments=["North"], use_app=notes_app)
    admin = client_as(admin_user, use_app=notes_app)
    with in_tenant(acme, use_app=notes_app):
        group_id = db.session.scalar(select(Group.id).where(Group.role == "sales"))
        department_id = db.session.scalar(select(Department.id))
    paths = [
        "/admin/users",
        "/admin/users/invite",
        f"/admin/users/{admin_user.id}",
        "/admin/groups",
        "/admin/groups/new",
        f"/admin/groups/{group_id}",
        f"/admin/groups/{group_id}/permissions",
        f"/admin/groups/{group_id}/members",
        "/admin/departments",
        "/admin/departments/new",
        f"/admin/departments/{department_id}",
        f"/admin/departments/{department_id}/members",
        "/admin/explain",
        f"/admin/explain?email={admin_user.email}&permission=notes.view",
        "/admin/plugins",
        "/admin/settings",
        "/admin/audit",
        "/admin/audit?action=update",
    ]
    for path in paths:
        response = admin.get(path)
        assert response.status_code == 200, path
        audit = PageAudit()
        audit.feed(response.get_data(as_text=True))
        assert audit.h1 == 1, path
        assert not audit.problems, (path, audit.problems)
        unlabelled = [control for control in audit.controls if control not in audit.labels]
        assert not unlabelled, (path, unlabelled)
        assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")


def test_data_tables_turn_into_cards_on_phones(notes_app, make_tenant, make_user, client_as):
    acme = make_tenant("acme", use_app=notes_app)
    admin = client_as(make_user(acme, groups=["administrators"], use_app=notes_app), use_app=notes_app)
    for path in ("/admin/users", "/admin/groups", "/admin/plugins", "/admin/audit"):
        page = admin.get(path).get_data(as_text=True)
        cells = re.findall(r"<td( data-label=\"[^\"]+\")?>", page)
        assert cells and sum(1 for label in cells if label) >= len(cells) / 2, path


# ------------------------------------------------------------------------------------- access check


@pytest.fixture
def office(notes_app, make_tenant, make_user, in_tenant):
    """Acme with a department North linked to a group that may view notes of its departments."""
    acme = make_tenant("acme", use_app=notes_app)
    admin = make_user(acme, groups=["administrators"], use_app=notes_app)
    clerk = make_user(acme, email="clerk@acme.example.com", departments=["North"], use_app=notes_app)
    colleague = make_user(acme, email="colleague@acme.example.com", departments=["North"], use_app=notes_app)
    with in_tenant(acme, use_app=notes_app):
        north = db.session.scalar(select(Department).where(Department.name == "North"))
        south = Department(name="South")
        group = Group(name="North desk")
        db.session.add_all([south, group])
        db.session.flush()
        db.session.add(Grant(group_id=group.id, permission="notes.view", scope="department"))
        db.session.add(DepartmentGroup(department_id=north.id, group_id=group.id))
        inside = Note(title="North deal", owner_id=colleague.id, department_id=north.id)
        outside = Note(title="South deal", owner_id=admin.id, department_id=south.id)
        db.session.add_all([inside, outside])
        db.session.commit()
        notes = {"inside": inside.id, "outside": outside.id}
    return acme, admin, clerk, notes


def test_the_access_check_explains_a_grant_inherited_through_a_department(notes_app, office, client_as):
    acme, admin, clerk, notes = office
    page = client_as(admin, use_app=notes_app).get(
        "/admin/explain",
        query_string={
            "email": clerk.email,
            "permission": "notes.view",
            "model": "test_notes",
            "record_id": notes["inside"],
        },
    )
    assert page.status_code == 200
    text = re.sub(r"\s+", " ", page.get_data(as_text=True))
    assert "Allowed" in text
    assert "can use notes.view on this record" in text
    assert '<span>grant notes.view (own departments\' records)</span> <span aria-hidden="true">→</span>' in text
    assert re.search(r"group <a [^>]+>North desk</a>", text)
    assert re.search(r"through department <a [^>]+>North</a>", text)
    assert "reaches the record" in text
    assert "colleague@acme.example.com" in text or "Owner" in text


def test_the_access_check_explains_a_denial(notes_app, office, client_as):
    acme, admin, clerk, notes = office
    admin_client = client_as(admin, use_app=notes_app)
    page = admin_client.get(
        "/admin/explain",
        query_string={
            "email": clerk.email,
            "permission": "notes.view",
            "model": "test_notes",
            "record_id": notes["outside"],
        },
    )
    text = re.sub(r"\s+", " ", page.get_data(as_text=True))
    assert "Not allowed" in text and "cannot use notes.view on this record" in text
    assert "does not reach the record" in text
    # the kernel's reason names the widest scope and the record's owner/department
    assert "outside the widest scope held" in text

    no_grant = admin_client.get("/admin/explain", query_string={"email": clerk.email, "permission": "notes.edit"})
    text = re.sub(r"\s+", " ", no_grant.get_data(as_text=True))
    assert "does not hold notes.edit" in text
    assert "No group of this user, direct or through a department, grants notes.edit." in text


def test_the_access_check_never_loads_another_tenants_record(
    notes_app, office, make_tenant, make_user, client_as, in_tenant
):
    acme, admin, clerk, notes = office
    globex = make_tenant("globex", use_app=notes_app)
    globex_admin = make_user(globex, groups=["administrators"], use_app=notes_app)
    page = client_as(globex_admin, use_app=notes_app).get(
        "/admin/explain",
        query_string={
            "email": globex_admin.email,
            "permission": "notes.view",
            "model": "test_notes",
            "record_id": notes["inside"],
        },
    )
    text = page.get_data(as_text=True)
    assert page.status_code == 400
    assert "There is no such record in this workspace." in text
    assert "North deal" not in text
    unknown = client_as(globex_admin, use_app=notes_app).get(
        "/admin/explain", query_string={"email": clerk.email, "permission": "notes.view"}
    )
    assert "There is no user with this e-mail here." in unknown.get_data(as_text=True)
