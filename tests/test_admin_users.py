"""Administration of users: invite, list, edit with optimistic locking, deactivate, resend the invitation."""

import re

from sqlalchemy import event, select

from core import db
from core.models import Department, Group, User, UserDepartment, UserGroup


def ids(app, tenant, model, *names):
    from core.tenancy import tenant_context

    with app.app_context(), tenant_context(tenant):
        return [db.session.scalar(select(model.id).where(model.name == name)) for name in names]


def test_an_invited_user_sets_a_password_through_the_link_and_signs_in(app, tenant, make_user, client_as, in_tenant):
    admin = client_as(make_user(tenant, groups=["administrators"]))
    with in_tenant(tenant):
        db.session.add(Department(name="North"))
        db.session.commit()
    (sales,) = ids(app, tenant, Group, "Sales")
    (north,) = ids(app, tenant, Department, "North")

    response = admin.post(
        "/admin/users/invite",
        data={"email": "New.Person@Example.com", "name": "林小姐", "groups": [sales], "departments": [north]},
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    link = re.search(r"http://acme\.crm\.test(/invitation/[\w.-]+)", page)
    assert link, "the admin sees the invitation link"
    mail = app.extensions["crm.outbox"][-1]
    assert mail["To"] == "new.person@example.com"
    assert link.group(1) in mail.get_content()

    with in_tenant(tenant):
        user = db.session.scalar(select(User).where(User.email == "new.person@example.com"))
        assert user.password_hash is None and user.name == "林小姐"
        assert db.session.scalar(select(UserGroup.group_id).where(UserGroup.user_id == user.id)) == sales
        assert db.session.scalar(select(UserDepartment.department_id).where(UserDepartment.user_id == user.id)) == north

    newcomer = client_as(tenant=tenant)
    assert newcomer.post("/login", data={"email": "new.person@example.com", "password": "x" * 12}).status_code == 401
    assert newcomer.get(link.group(1)).status_code == 200
    done = newcomer.post(link.group(1), data={"password": "a-fine-password", "confirm": "a-fine-password"})
    assert done.status_code == 302
    signed_in = newcomer.post("/login", data={"email": "new.person@example.com", "password": "a-fine-password"})
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/"
    assert newcomer.get(link.group(1)).status_code == 400, "the link works once"


def test_invite_errors_are_shown_next_to_the_field(tenant, make_user, client_as):
    admin_user = make_user(tenant, groups=["administrators"], email="boss@acme.example.com")
    admin = client_as(admin_user)
    bad = admin.post("/admin/users/invite", data={"email": "not-an-address"})
    assert bad.status_code == 400
    assert 'id="email-error"' in bad.get_data(as_text=True)
    taken = admin.post("/admin/users/invite", data={"email": "BOSS@acme.example.com"})
    assert taken.status_code == 400
    assert "already exists" in taken.get_data(as_text=True)


def test_resend_invitation_sends_the_link_again(app, tenant, make_user, client_as, in_tenant):
    admin = client_as(make_user(tenant, groups=["administrators"]))
    admin.post("/admin/users/invite", data={"email": "later@example.com"})
    with in_tenant(tenant):
        user_id = db.session.scalar(select(User.id).where(User.email == "later@example.com"))
    outbox = app.extensions["crm.outbox"]
    before = len(outbox)
    response = admin.post(f"/admin/users/{user_id}/resend", follow_redirects=True)
    assert "/invitation/" in response.get_data(as_text=True)
    assert len(outbox) == before + 1 and outbox[-1]["To"] == "later@example.com"


def test_user_list_searches_filters_and_shows_memberships_without_n_plus_one(app, tenant, make_user, client_as):
    admin = client_as(make_user(tenant, groups=["administrators"], name="Admin"))

    def statements(path):
        engine = app.extensions["crm.db"].engine
        seen = []

        def count(*args):
            seen.append(1)

        event.listen(engine, "before_cursor_execute", count)
        try:
            page = admin.get(path).get_data(as_text=True)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(seen), page

    make_user(tenant, groups=["sales"], departments=["North"], name="Wang Sales")
    few, _ = statements("/admin/users")
    for n in range(6):
        make_user(tenant, groups=["service", "marketing"], departments=["South", "East"], name=f"Chen {n}")
    many, page = statements("/admin/users")
    assert many == few, "the number of queries does not grow with the number of users"
    assert "Wang Sales" in page and "Chen 5" in page and "South" in page and "Marketing" in page

    found = admin.get("/admin/users?q=wang").get_data(as_text=True)
    assert "Wang Sales" in found and "Chen 1" not in found


def test_the_list_paginates(make_app, make_tenant, make_user, client_as):
    small = make_app(PAGE_SIZE=2)
    acme = make_tenant("acme", use_app=small)
    admin = client_as(make_user(acme, groups=["administrators"], name="A admin", use_app=small), use_app=small)
    for n in range(3):
        make_user(acme, name=f"B user {n}", use_app=small)
    first = admin.get("/admin/users").get_data(as_text=True)
    assert "A admin" in first and "B user 0" in first and "B user 1" not in first
    assert 'rel="next"' in first
    last = admin.get("/admin/users?page=2").get_data(as_text=True)
    assert "B user 1" in last and "B user 2" in last and 'rel="prev"' in last and 'rel="next"' not in last


def version_of(page):
    return re.search(r'name="version" type="hidden" value="(\d+)"', page).group(1)


def test_a_stale_edit_is_refused_and_nothing_of_it_is_saved(tenant, make_user, client_as, in_tenant):
    admin_user = make_user(tenant, groups=["administrators"])
    first, second = client_as(admin_user), client_as(admin_user)
    target = make_user(tenant, name="Before")
    url = f"/admin/users/{target.id}"

    old = version_of(first.get(url).get_data(as_text=True))
    fresh = version_of(second.get(url).get_data(as_text=True))
    assert second.post(url, data={"name": "Second editor", "version": fresh}).status_code == 302

    stale = first.post(url, data={"name": "First editor", "version": old})
    assert stale.status_code == 409
    page = stale.get_data(as_text=True)
    assert "Someone else changed this user" in page
    assert 'value="Second editor"' in page, "the form shows the current values"
    with in_tenant(tenant):
        assert db.session.get(User, target.id).name == "Second editor"


def test_membership_only_edits_also_move_the_version(tenant, make_user, client_as, in_tenant):
    admin = client_as(make_user(tenant, groups=["administrators"]))
    target = make_user(tenant, name="Target")
    url = f"/admin/users/{target.id}"
    with in_tenant(tenant):
        sales = db.session.scalar(select(Group.id).where(Group.role == "sales"))
    old = version_of(admin.get(url).get_data(as_text=True))
    assert admin.post(url, data={"name": "Target", "groups": [sales], "version": old}).status_code == 302
    assert admin.post(url, data={"name": "Target", "groups": [], "version": old}).status_code == 409
    with in_tenant(tenant):
        assert db.session.scalar(select(UserGroup.group_id).where(UserGroup.user_id == target.id)) == sales


def test_deactivation_blocks_sign_in_and_an_admin_cannot_deactivate_themself(tenant, make_user, client_as, in_tenant):
    admin_user = make_user(tenant, groups=["administrators"])
    admin = client_as(admin_user)
    worker = make_user(tenant, groups=["sales"])
    worker_client = client_as(worker)

    assert admin.post(f"/admin/users/{admin_user.id}/deactivate").status_code == 302
    with in_tenant(tenant):
        assert db.session.get(User, admin_user.id).active

    refused = admin.post(f"/admin/users/{admin_user.id}/deactivate", follow_redirects=True)
    assert "You cannot deactivate your own account." in refused.get_data(as_text=True)

    admin.post(f"/admin/users/{worker.id}/deactivate")
    assert worker_client.get("/").status_code == 302, "an open session ends"
    again = client_as(tenant=tenant).post("/login", data={"email": worker.email, "password": "correct-horse-battery"})
    assert again.status_code == 401

    admin.post(f"/admin/users/{worker.id}/reactivate")
    client_as(worker)  # signs in again


def test_the_last_superuser_cannot_be_taken_out_and_non_superusers_cannot_make_one(
    tenant, make_user, client_as, in_tenant
):
    boss = make_user(tenant, groups=["administrators"])
    boss_client = client_as(boss)
    with in_tenant(tenant):
        admins = db.session.scalar(select(Group.id).where(Group.role == "administrators"))
    url = f"/admin/users/{boss.id}"
    version = version_of(boss_client.get(url).get_data(as_text=True))
    refused = boss_client.post(url, data={"name": "Boss", "groups": [], "version": version})
    assert refused.status_code == 400
    assert "no active user would be in a superuser group" in refused.get_data(as_text=True)
    with in_tenant(tenant):
        assert db.session.scalar(select(UserGroup.group_id).where(UserGroup.user_id == boss.id)) == admins

    helper = make_user(tenant, grants={"admin.users.manage": "all"})
    helper_client = client_as(helper)
    url = f"/admin/users/{helper.id}"
    version = version_of(helper_client.get(url).get_data(as_text=True))
    with in_tenant(tenant):
        own_group = db.session.scalar(select(UserGroup.group_id).where(UserGroup.user_id == helper.id))
    escalate = helper_client.post(url, data={"groups": [own_group, admins], "version": version})
    assert escalate.status_code == 400
    assert "Only a member of a superuser group" in escalate.get_data(as_text=True)
