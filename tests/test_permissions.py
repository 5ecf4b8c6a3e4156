"""Grants, record scopes in SQL, department-to-group inheritance, the explanation, default grants."""

import re

import pytest
from sqlalchemy import delete, func, select, update

from core import db
from core.models import Department, DepartmentGroup, Grant, Group, User, UserDepartment, UserGroup
from core.permissions import explain, has_permission, scope_for, scoped
from core.tenancy import tenant_context
from tests.notes_plugin.models import Note


@pytest.fixture
def acme(notes_app, make_tenant):
    return make_tenant("acme", use_app=notes_app)


def department_id(app, tenant, name):
    with app.app_context(), tenant_context(tenant):
        found = db.session.scalar(select(Department.id).where(Department.name == name))
        if found is None:
            department = Department(name=name)
            db.session.add(department)
            db.session.commit()
            found = department.id
        return found


def add_note(app, tenant, title, owner=None, department=None):
    with app.app_context(), tenant_context(tenant):
        note = Note(
            title=title,
            owner_id=owner.id if owner else None,
            department_id=department_id(app, tenant, department) if department else None,
        )
        db.session.add(note)
        db.session.commit()
        return note.id


def make_group(app, tenant, name, grants, users=(), departments=()):
    """A group holding ``grants``, with users as direct members and departments linked to it."""
    with app.app_context(), tenant_context(tenant):
        group = Group(name=name)
        db.session.add(group)
        db.session.flush()
        for permission, scope in grants.items():
            db.session.add(Grant(group_id=group.id, permission=permission, scope=scope))
        for user in users:
            db.session.add(UserGroup(user_id=user.id, group_id=group.id))
        for department in departments:
            db.session.add(DepartmentGroup(department_id=department_id(app, tenant, department), group_id=group.id))
        db.session.commit()
        return group.id


def listed(client):
    """Titles and the SQL count on the notes list page."""
    html = client.get("/notes/").get_data(as_text=True)
    titles = sorted(re.findall(r'<li class="note">([^<]*)</li>', html))
    count = int(re.search(r"Notes \((\d+)\)", html).group(1))
    return titles, count


def searched(client, query):
    html = client.get(f"/search?q={query}").get_data(as_text=True)
    return sorted(set(re.findall(r"(note [a-z]+ [a-z]+)", html)))


@pytest.fixture
def office(notes_app, acme, make_user):
    """Four notes: mine (North), a North colleague's, a South colleague's, and one nobody owns."""
    me = make_user(acme, email="me@acme.example.com", departments=["North"], use_app=notes_app)
    north = make_user(acme, email="north@acme.example.com", departments=["North"], use_app=notes_app)
    south = make_user(acme, email="south@acme.example.com", departments=["South"], use_app=notes_app)
    add_note(notes_app, acme, "note mine north", owner=me, department="North")
    add_note(notes_app, acme, "note colleague north", owner=north, department="North")
    add_note(notes_app, acme, "note colleague south", owner=south, department="South")
    add_note(notes_app, acme, "note nobody nowhere")
    return me


ALL = ["note colleague north", "note colleague south", "note mine north", "note nobody nowhere"]


@pytest.mark.parametrize(
    "scope,expected",
    [
        ("own", ["note mine north"]),
        ("department", ["note colleague north", "note mine north"]),
        ("all", ALL),
    ],
)
def test_scope_limits_list_count_and_search(notes_app, acme, office, client_as, scope, expected):
    make_group(notes_app, acme, "Viewers", {"notes.view": scope}, users=[office])
    client = client_as(office, use_app=notes_app)
    assert listed(client) == (expected, len(expected))
    assert searched(client, "note") == expected


def test_scoped_filters_in_sql_so_limits_paginate(notes_app, acme, make_user):
    me = make_user(acme, grants={"notes.view": "own"}, use_app=notes_app)
    for i in range(3):
        add_note(notes_app, acme, f"someone else's {i}")
    add_note(notes_app, acme, "first of mine", owner=me)
    add_note(notes_app, acme, "second of mine", owner=me)
    with notes_app.test_request_context(), tenant_context(acme):
        user = db.session.get(User, me.id)
        statement = scoped(select(Note).order_by(Note.id).limit(2), "notes.view", user)
        assert "owner_id" in str(statement)
        assert [n.title for n in db.session.scalars(statement)] == ["first of mine", "second of mine"]
        count = scoped(select(func.count(Note.id)), "notes.view", user, model=Note)
        assert db.session.scalar(count) == 2


def test_widest_scope_wins_across_groups(notes_app, acme, office, client_as):
    make_group(notes_app, acme, "Own", {"notes.view": "own"}, users=[office])
    make_group(notes_app, acme, "Department", {"notes.view": "department"}, users=[office])
    client = client_as(office, use_app=notes_app)
    assert listed(client)[0] == ["note colleague north", "note mine north"]
    make_group(notes_app, acme, "Everything", {"notes.view": "all"}, users=[office])
    assert listed(client) == (ALL, 4)


def test_department_members_inherit_the_linked_groups_grants(notes_app, acme, office, client_as):
    group_id = make_group(notes_app, acme, "Reviewers", {"notes.view": "all"}, departments=["North"])
    client = client_as(office, use_app=notes_app)
    assert listed(client) == (ALL, 4)

    with notes_app.app_context(), tenant_context(acme):
        db.session.execute(delete(DepartmentGroup).where(DepartmentGroup.group_id == group_id))
        db.session.commit()
    assert client.get("/notes/").status_code == 403


def test_department_scope_reaches_every_department_of_the_user(notes_app, acme, office, client_as):
    with notes_app.app_context(), tenant_context(acme):
        db.session.add(UserDepartment(user_id=office.id, department_id=department_id(notes_app, acme, "South")))
        db.session.commit()
    make_group(notes_app, acme, "Department", {"notes.view": "department"}, users=[office])
    client = client_as(office, use_app=notes_app)
    assert listed(client) == (["note colleague north", "note colleague south", "note mine north"], 3)


def test_deactivated_user_holds_nothing(notes_app, acme, office, client_as):
    make_group(notes_app, acme, "Everything", {"notes.view": "all"}, users=[office])
    client = client_as(office, use_app=notes_app)
    assert client.get("/notes/").status_code == 200
    with notes_app.app_context(), tenant_context(acme):
        db.session.execute(update(User).where(User.id == office.id).values(active=False))
        db.session.commit()
    response = client.get("/notes/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    with notes_app.test_request_context(), tenant_context(acme):
        user = db.session.get(User, office.id)
        assert scope_for("notes.view", user) is None
        assert not has_permission("notes.view", user)
        assert db.session.scalars(scoped(select(Note), "notes.view", user)).all() == []
        explanation = explain(user, "notes.view")
        assert explanation.decision is False
        assert any("deactivated" in reason for reason in explanation.reasons)


def test_requires_answers_403_to_a_user_without_the_grant(notes_app, acme, make_user, client_as):
    viewer = make_user(acme, grants={"notes.view": "all"}, use_app=notes_app)
    note_id = add_note(notes_app, acme, "untouchable", owner=viewer)
    client = client_as(viewer, use_app=notes_app)
    assert client.get("/notes/").status_code == 200
    assert client.post("/notes/", data={"title": "new"}).status_code == 403
    assert client.post(f"/notes/{note_id}", data={"title": "changed"}).status_code == 403
    assert client.post(f"/notes/{note_id}/delete").status_code == 403
    nobody = client_as(make_user(acme, use_app=notes_app), use_app=notes_app)
    assert nobody.get("/notes/").status_code == 403
    with notes_app.app_context(), tenant_context(acme):
        assert db.session.scalars(select(Note.title)).all() == ["untouchable"]


def test_requires_sends_anonymous_users_to_the_login_page(notes_app, acme):
    client = notes_app.test_client()
    response = client.get("/notes/", base_url="http://acme.crm.test")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/notes/")
    response = client.post("/notes/", data={"title": "anonymous"}, base_url="http://acme.crm.test")
    assert response.status_code == 302
    with notes_app.app_context(), tenant_context(acme):
        assert db.session.scalar(select(func.count(Note.id))) == 0


def test_superuser_group_holds_every_permission_on_every_record(notes_app, acme, office, make_user, client_as):
    admin = make_user(acme, groups=["administrators"], use_app=notes_app)
    client = client_as(admin, use_app=notes_app)
    assert listed(client) == (ALL, 4)
    with notes_app.app_context(), tenant_context(acme):
        others = db.session.scalar(select(Note.id).where(Note.title == "note colleague south"))
    assert client.post(f"/notes/{others}", data={"title": "edited by admin"}).status_code == 200
    assert client.get("/admin/users").status_code != 403
    with notes_app.test_request_context(), tenant_context(acme):
        user = db.session.get(User, admin.id)
        assert scope_for("notes.edit", user) == "all"
        assert scope_for("no_such_plugin.view", user) is None
        explanation = explain(user, "notes.edit")
        assert explanation.decision is True
        assert explanation.paths[0]["superuser"] is True
        administrators = db.session.scalar(select(Group).where(Group.role == "administrators"))
        assert explanation.paths[0]["group_id"] == administrators.id
        assert explanation.paths[0]["group"] == administrators.name


def test_explain_gives_the_chain_for_an_allowed_and_a_denied_record(notes_app, acme, office):
    make_group(notes_app, acme, "North reviewers", {"notes.view": "department"}, departments=["North"])
    with notes_app.app_context(), tenant_context(acme):
        user = db.session.get(User, office.id)
        north_note = db.session.scalar(select(Note).where(Note.title == "note colleague north"))
        south_note = db.session.scalar(select(Note).where(Note.title == "note colleague south"))

        allowed = explain(user, "notes.view", north_note)
        assert allowed.decision is True
        assert allowed.scope == "department"
        assert allowed.paths == [
            {
                "group": "North reviewers",
                "group_id": allowed.paths[0]["group_id"],
                "department": "North",
                "department_id": department_id(notes_app, acme, "North"),
                "scope": "department",
                "superuser": False,
                "reaches_record": True,
            }
        ]

        denied = explain(user, "notes.view", south_note)
        assert denied.decision is False
        assert [(p["group"], p["department"], p["scope"], p["reaches_record"]) for p in denied.paths] == [
            ("North reviewers", "North", "department", False)
        ]
        assert denied.reasons and "outside" in denied.reasons[-1]

        nothing = explain(user, "notes.edit", north_note)
        assert nothing.decision is False and nothing.paths == []
        assert "notes.edit" in nothing.reasons[0]


def grants_of_role(app, tenant, role):
    with app.app_context(), tenant_context(tenant):
        rows = db.session.execute(
            select(Grant.permission, Grant.scope).join(Group, Group.id == Grant.group_id).where(Group.role == role)
        )
        return dict(rows.all())


def test_new_tenant_gets_the_default_grants_of_its_plugins(notes_app, acme):
    assert grants_of_role(notes_app, acme, "sales") == {"notes.view": "own", "notes.edit": "own"}
    assert grants_of_role(notes_app, acme, "readonly") == {"notes.view": "all"}
    assert grants_of_role(notes_app, acme, "marketing") == {}


def test_default_grants_are_seeded_when_a_plugin_is_first_enabled(notes_app, make_tenant):
    from core.tenant_plugins import disable_plugin, enable_plugin

    globex = make_tenant("globex", plugins=[], use_app=notes_app)
    assert grants_of_role(notes_app, globex, "sales") == {}
    with notes_app.app_context(), tenant_context(globex):
        enable_plugin(globex, "notes")
        db.session.commit()
    assert grants_of_role(notes_app, globex, "sales") == {"notes.view": "own", "notes.edit": "own"}

    # An administrator's change to the defaults survives switching the module off and on again.
    with notes_app.app_context(), tenant_context(globex):
        db.session.execute(delete(Grant).where(Grant.permission == "notes.edit"))
        db.session.commit()
        disable_plugin(globex, "notes")
        db.session.commit()
        enable_plugin(globex, "notes")
        db.session.commit()
    assert grants_of_role(notes_app, globex, "sales") == {"notes.view": "own"}
