"""Groups and departments: grants that change what people see, memberships, links, and their audit entries."""

import re

from sqlalchemy import select

from core import db
from core.models import AuditEntry, Department, DepartmentGroup, Grant, Group, UserDepartment, UserGroup
from tests.notes_plugin.models import Note


def group_id(in_tenant, tenant, app, **where):
    with in_tenant(tenant, use_app=app):
        statement = select(Group.id)
        for key, value in where.items():
            statement = statement.where(getattr(Group, key) == value)
        return db.session.scalar(statement)


def test_editing_grants_changes_what_a_user_can_see(notes_app, make_tenant, make_user, client_as, in_tenant):
    acme = make_tenant("acme", use_app=notes_app)
    admin = client_as(make_user(acme, groups=["administrators"], use_app=notes_app), use_app=notes_app)
    seller_user = make_user(acme, groups=["sales"], use_app=notes_app)
    other = make_user(acme, groups=["sales"], use_app=notes_app)
    seller = client_as(seller_user, use_app=notes_app)
    with in_tenant(acme, use_app=notes_app):
        db.session.add_all([Note(title="Mine", owner_id=seller_user.id), Note(title="Theirs", owner_id=other.id)])
        db.session.commit()
    sales = group_id(in_tenant, acme, notes_app, role="sales")

    page = seller.get("/notes/").get_data(as_text=True)
    assert "Mine" in page and "Theirs" not in page  # notes.view: own (the plugin's default for sales)

    editor = admin.get(f"/admin/groups/{sales}/permissions").get_data(as_text=True)
    assert "View notes" in editor and "Notes" in editor  # translated label, under its plugin's heading
    assert re.search(r'<option selected value="own">', editor) or 'value="own" selected' in editor
    saved = admin.post(
        f"/admin/groups/{sales}/permissions",
        data={"grant-notes.view": "all", "grant-notes.edit": "own", "grant-admin.audit.view": "none"},
    )
    assert saved.status_code == 302
    page = seller.get("/notes/").get_data(as_text=True)
    assert "Mine" in page and "Theirs" in page

    admin.post(f"/admin/groups/{sales}/permissions", data={"grant-notes.view": "none", "grant-notes.edit": "own"})
    assert seller.get("/notes/").status_code == 403

    with in_tenant(acme, use_app=notes_app):
        entries = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "grant_changed").order_by(AuditEntry.id)
        ).all()
        assert [entry.changes for entry in entries] == [{"notes.view": ["own", "all"]}, {"notes.view": ["all", None]}]
        assert entries[0].summary == "Sales"


def test_grant_editor_refuses_a_scope_a_permission_does_not_have(app, tenant, make_user, client_as, in_tenant):
    admin = client_as(make_user(tenant, groups=["administrators"]))
    sales = group_id(in_tenant, tenant, app, role="sales")
    refused = admin.post(f"/admin/groups/{sales}/permissions", data={"grant-admin.audit.view": "own"})
    assert refused.status_code == 400
    assert 'id="grant-admin.audit.view-error"' in refused.get_data(as_text=True)
    with in_tenant(tenant):
        assert db.session.scalar(select(Grant.id).where(Grant.permission == "admin.audit.view")) is None


def test_superuser_groups_show_all_permissions_and_keep_their_flag_while_needed(
    app, tenant, make_user, client_as, in_tenant
):
    boss = make_user(tenant, groups=["administrators"])
    admin = client_as(boss)
    admins = group_id(in_tenant, tenant, app, role="administrators")
    assert "All permissions" in admin.get("/admin/groups").get_data(as_text=True)
    assert "every permission" in admin.get(f"/admin/groups/{admins}/permissions").get_data(as_text=True)

    refused = admin.post(f"/admin/groups/{admins}", data={"name": "Administrators", "description": ""})
    assert refused.status_code == 400
    assert 'id="is_superuser-error"' in refused.get_data(as_text=True)
    with in_tenant(tenant):
        assert db.session.get(Group, admins).is_superuser

    deleted = admin.post(f"/admin/groups/{admins}/delete", follow_redirects=True)
    assert "no active user would be in a superuser group" in deleted.get_data(as_text=True)
    assert admin.post(f"/admin/groups/{admins}/members/{boss.id}/remove").status_code == 302
    with in_tenant(tenant):
        assert db.session.get(Group, admins) is not None
        assert db.session.scalar(select(UserGroup.id).where(UserGroup.user_id == boss.id))

    second = make_user(tenant, groups=["administrators"])
    assert admin.post(f"/admin/groups/{admins}/members/{second.id}/remove").status_code == 302
    with in_tenant(tenant):
        assert db.session.scalar(select(UserGroup.id).where(UserGroup.user_id == second.id)) is None


def test_group_crud_members_and_counts(app, tenant, make_user, client_as, in_tenant):
    admin = client_as(make_user(tenant, groups=["administrators"]))
    created = admin.post("/admin/groups/new", data={"name": "Key accounts", "description": "Big customers"})
    assert created.status_code == 302
    new_id = int(re.search(r"/admin/groups/(\d+)/permissions", created.headers["Location"]).group(1))
    duplicate = admin.post("/admin/groups/new", data={"name": "key ACCOUNTS"})
    assert duplicate.status_code == 400 and "already exists" in duplicate.get_data(as_text=True)

    member = make_user(tenant, email="amy@acme.example.com")
    added = admin.post(f"/admin/groups/{new_id}/members", data={"email": "AMY@acme.example.com"})
    assert added.status_code == 302
    unknown = admin.post(f"/admin/groups/{new_id}/members", data={"email": "nobody@acme.example.com"})
    assert unknown.status_code == 400 and "There is no user with this e-mail here." in unknown.get_data(as_text=True)
    members = admin.get(f"/admin/groups/{new_id}/members").get_data(as_text=True)
    assert "amy@acme.example.com" in members

    listing = re.sub(r"\s+", " ", admin.get("/admin/groups").get_data(as_text=True))
    assert re.search(r"Key accounts</a> <span class=\"muted small\">Big customers</span>", listing)
    assert "1 member" in listing

    admin.post(f"/admin/groups/{new_id}/members/{member.id}/remove")
    renamed = admin.post(f"/admin/groups/{new_id}", data={"name": "Key accounts Asia", "description": ""})
    assert renamed.status_code == 302
    assert admin.post(f"/admin/groups/{new_id}/delete").status_code == 302
    with in_tenant(tenant):
        assert db.session.get(Group, new_id) is None
        actions = db.session.scalars(
            select(AuditEntry.action).where(AuditEntry.table_name == "user_groups").order_by(AuditEntry.id)
        ).all()
        assert actions[-2:] == ["create", "delete"]  # Amy in, Amy out (after the admin's own membership)
        summaries = db.session.scalars(
            select(AuditEntry.changes).where(AuditEntry.action == "membership_changed").order_by(AuditEntry.id)
        ).all()
        assert summaries == [{"groups": [None, "Key accounts"]}, {"groups": ["Key accounts", None]}]


def test_department_members_inherit_the_linked_groups_grants(notes_app, make_tenant, make_user, client_as, in_tenant):
    acme = make_tenant("acme", use_app=notes_app)
    admin = client_as(make_user(acme, groups=["administrators"], use_app=notes_app), use_app=notes_app)
    clerk_user = make_user(acme, email="clerk@acme.example.com", use_app=notes_app)
    clerk = client_as(clerk_user, use_app=notes_app)
    readonly = group_id(in_tenant, acme, notes_app, role="readonly")  # notes.view: all

    assert clerk.get("/notes/").status_code == 403
    created = admin.post("/admin/departments/new", data={"name": "Taipei office"})
    department = int(created.headers["Location"].rsplit("/", 1)[1])
    admin.post(f"/admin/departments/{department}/members", data={"email": "clerk@acme.example.com"})
    assert clerk.get("/notes/").status_code == 403, "a department alone grants nothing"

    linked = admin.post(f"/admin/departments/{department}/groups", data={"link-target": readonly})
    assert linked.status_code == 302
    assert clerk.get("/notes/").status_code == 200

    page = re.sub(r"\s+", " ", admin.get("/admin/departments").get_data(as_text=True))
    assert "Taipei office" in page and "1 member" in page and "Read-only" in page
    group_page = admin.get(f"/admin/groups/{readonly}").get_data(as_text=True)
    assert "Taipei office" in group_page

    admin.post(f"/admin/departments/{department}/groups/{readonly}/unlink")
    assert clerk.get("/notes/").status_code == 403

    admin.post(f"/admin/departments/{department}/groups", data={"link-target": readonly})
    admin.post(f"/admin/departments/{department}/members/{clerk_user.id}/remove")
    assert clerk.get("/notes/").status_code == 403

    duplicate = admin.post("/admin/departments/new", data={"name": "taipei OFFICE"})
    assert duplicate.status_code == 400
    assert admin.post(f"/admin/departments/{department}/delete").status_code == 302
    with in_tenant(acme, use_app=notes_app):
        assert db.session.get(Department, department) is None
        assert db.session.scalar(select(DepartmentGroup.id).where(DepartmentGroup.department_id == department)) is None
        assert db.session.scalar(select(UserDepartment.id).where(UserDepartment.department_id == department)) is None
        links = db.session.scalars(
            select(AuditEntry.changes).where(AuditEntry.action == "department_link_changed").order_by(AuditEntry.id)
        ).all()
        assert links[:2] == [{"groups": [None, "Read-only"]}, {"groups": ["Read-only", None]}]


def test_a_department_linked_to_a_superuser_group_is_guarded_too(app, tenant, make_user, client_as, in_tenant):
    boss = make_user(tenant, departments=["Board"])
    admins = group_id(in_tenant, tenant, app, role="administrators")
    with in_tenant(tenant):
        board = db.session.scalar(select(Department.id).where(Department.name == "Board"))
        db.session.add(DepartmentGroup(department_id=board, group_id=admins))
        db.session.commit()
    admin = client_as(boss)
    refused = admin.post(f"/admin/departments/{board}/groups/{admins}/unlink", follow_redirects=True)
    assert "no active user would be in a superuser group" in refused.get_data(as_text=True)
    with in_tenant(tenant):
        assert db.session.scalar(select(DepartmentGroup.id).where(DepartmentGroup.department_id == board))


def test_other_tenants_groups_and_departments_answer_404(app, make_tenant, make_user, client_as, in_tenant):
    acme = make_tenant("acme")
    globex = make_tenant("globex")
    acme_group = group_id(in_tenant, acme, app, role="sales")
    make_user(acme, departments=["Secret lab"])
    with in_tenant(acme):
        department = db.session.scalar(select(Department.id))
    admin = client_as(make_user(globex, groups=["administrators"]))
    for path in (
        f"/admin/groups/{acme_group}",
        f"/admin/groups/{acme_group}/permissions",
        f"/admin/groups/{acme_group}/members",
        f"/admin/departments/{department}",
        f"/admin/departments/{department}/members",
    ):
        assert admin.get(path).status_code == 404, path
    assert admin.post(f"/admin/groups/{acme_group}/delete").status_code == 404
    assert admin.post(f"/admin/departments/{department}/delete").status_code == 404
    assert "Secret lab" not in admin.get("/admin/departments").get_data(as_text=True)
