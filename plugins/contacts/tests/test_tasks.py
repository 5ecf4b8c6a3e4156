"""Tasks: my tasks by day in my time zone, done, reassign, notifications, reminders."""

import datetime as dt
import re
import zoneinfo

import pytest
from sqlalchemy import select

from core import db
from core.db import utcnow
from core.models import User
from plugins.contacts.models import Interaction, Notification
from plugins.contacts.timeline import add_entry, group_tasks, send_due_reminders


@pytest.fixture
def customer(tenant, admin, create):
    return create(tenant, "contacts", {"name": "王小明"}, admin)


def make_task(tenant, in_tenant, contact_id, assignee, author=None, **fields):
    with in_tenant(tenant):
        task = add_entry(
            "task",
            contact_id=contact_id,
            subject=fields.pop("subject", "回電確認報價"),
            user_id=(author or assignee).id,
            assignee_id=assignee.id,
            **fields,
        )
        db.session.commit()
        return task.id


def local_noon(zone, days):
    today = dt.datetime.now(zoneinfo.ZoneInfo(zone)).date() + dt.timedelta(days=days)
    return dt.datetime.combine(today, dt.time(12), tzinfo=zoneinfo.ZoneInfo(zone))


def test_grouping_by_day_depends_on_the_time_zone():
    now = dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.UTC)  # Taipei: 2 March 10:00; Los Angeles: 1 March 18:00
    task = Interaction(kind="task", due_at=dt.datetime(2026, 3, 1, 15, 0, tzinfo=dt.UTC))
    later = Interaction(kind="task", due_at=dt.datetime(2026, 3, 2, 20, 0, tzinfo=dt.UTC))
    someday = Interaction(kind="task", due_at=None)
    taipei = group_tasks([task, later, someday], zoneinfo.ZoneInfo("Asia/Taipei"), now)
    assert taipei == {"overdue": [task], "today": [], "upcoming": [later, someday]}
    los_angeles = group_tasks([task, later, someday], zoneinfo.ZoneInfo("America/Los_Angeles"), now)
    assert los_angeles == {"overdue": [], "today": [task], "upcoming": [later, someday]}


def test_my_tasks_page_groups_overdue_today_upcoming_in_my_time_zone(
    app, tenant, customer, make_user, client_as, in_tenant
):
    me = make_user(tenant, timezone="America/Los_Angeles", grants={"contacts.contact.view": "all"})
    other = make_user(tenant)
    zone = "America/Los_Angeles"
    make_task(tenant, in_tenant, customer, me, subject="昨天的任務", due_at=local_noon(zone, -1))
    make_task(tenant, in_tenant, customer, me, subject="今天的任務", due_at=local_noon(zone, 0))
    make_task(tenant, in_tenant, customer, me, subject="明天的任務", due_at=local_noon(zone, 1))
    make_task(tenant, in_tenant, customer, other, subject="別人的任務", due_at=local_noon(zone, 0))
    page = client_as(me).get("/contacts/tasks").get_data(as_text=True)
    overdue, today, upcoming = (
        page.index('id="group-overdue"'),
        page.index('id="group-today"'),
        page.index('id="group-upcoming"'),
    )
    assert overdue < page.index("昨天的任務") < today < page.index("今天的任務") < upcoming < page.index("明天的任務")
    assert "別人的任務" not in page
    assert client_as(me).get("/contacts/tasks?assignee=all").status_code == 403  # not a manager
    panel = client_as(me).get("/contacts/panels/my-tasks").get_data(as_text=True)
    assert '<span class="big-number overdue-count">1</span>' in panel


def test_add_a_task_for_a_colleague_notifies_them(app, tenant, customer, admin_client, make_user, client_as, in_tenant):
    colleague = make_user(tenant, name="林美玲", locale="zh_Hant")
    year = utcnow().year + 1
    response = admin_client.post(
        f"/contacts/log/contact/{customer}/task",
        data={"subject": "寄送合約", "due_at": f"{year}-05-01T10:00", "assignee_id": colleague.id, "remind": "60"},
    )
    assert response.status_code == 302
    with in_tenant(tenant):
        task = db.session.scalar(select(Interaction))
        assert task.due_at == dt.datetime(year, 5, 1, 2, 0, tzinfo=dt.UTC)  # 10:00 in Taipei
        assert task.remind_at == dt.datetime(year, 5, 1, 1, 0, tzinfo=dt.UTC)
        notification = db.session.scalar(select(Notification))
        assert notification.user_id == colleague.id and notification.kind == "assigned"
        assert "寄送合約" in notification.title and "指派" in notification.title  # in the colleague's language
    page = client_as(colleague).get("/contacts/notifications").get_data(as_text=True)
    assert "1 則未讀" in page and "寄送合約" in page  # the colleague reads Traditional Chinese
    # A task for oneself notifies nobody.
    admin_client.post(f"/contacts/log/contact/{customer}/task", data={"subject": "自己的", "assignee_id": 1})
    with in_tenant(tenant):
        assert len(db.session.scalars(select(Notification)).all()) == 1


def test_a_reminder_needs_a_due_date(admin_client, customer, admin):
    response = admin_client.post(
        f"/contacts/log/contact/{customer}/task", data={"subject": "x", "assignee_id": admin.id, "remind": "15"}
    )
    assert response.status_code == 400 and "A reminder needs a due date." in response.get_data(as_text=True)


def test_mark_done_and_reopen(app, tenant, customer, make_user, client_as, in_tenant):
    me = make_user(tenant)
    task_id = make_task(tenant, in_tenant, customer, me, due_at=utcnow(), remind_at=utcnow() + dt.timedelta(hours=1))
    client = client_as(me)
    assert client.post(f"/contacts/tasks/{task_id}/done").status_code == 302
    with in_tenant(tenant):
        task = db.session.get(Interaction, task_id)
        assert task.done_at is not None and task.reminder_pending_at is None
    assert f'id="task-{task_id}"' not in client.get("/contacts/tasks").get_data(as_text=True)
    client.post(f"/contacts/tasks/{task_id}/reopen")
    with in_tenant(tenant):
        task = db.session.get(Interaction, task_id)
        assert task.done_at is None and task.reminder_pending_at == task.remind_at


def test_reassigning_others_tasks_needs_the_manage_permission_in_scope(
    app, tenant, make_user, client_as, create, in_tenant
):
    rep = make_user(tenant, departments=["North"], grants={"contacts.contact.create": "all"})
    south_rep = make_user(tenant, departments=["South"], grants={"contacts.contact.create": "all"})
    manager = make_user(tenant, departments=["North"], grants={"contacts.tasks.manage": "department"})
    north_customer = create(tenant, "contacts", {"name": "North customer"}, rep)
    south_customer = create(tenant, "contacts", {"name": "South customer"}, south_rep)
    north_task = make_task(tenant, in_tenant, north_customer, rep, subject="north task")
    south_task = make_task(tenant, in_tenant, south_customer, south_rep, subject="south task")

    outsider = client_as(south_rep)
    assert outsider.get(f"/contacts/tasks/{north_task}/reassign").status_code == 404
    assert outsider.post(f"/contacts/tasks/{north_task}/done").status_code == 404

    boss = client_as(manager)
    team = boss.get("/contacts/tasks?assignee=all").get_data(as_text=True)
    assert "north task" in team and "south task" not in team
    one = boss.get(f"/contacts/tasks?assignee={rep.id}").get_data(as_text=True)
    assert f"Open tasks of {rep.email}" in one and "north task" in one
    assert boss.get(f"/contacts/tasks/{south_task}/reassign").status_code == 404
    response = boss.post(f"/contacts/tasks/{north_task}/reassign", data={"assignee_id": manager.id})
    assert response.status_code == 302
    with in_tenant(tenant):
        assert db.session.get(Interaction, north_task).assignee_id == manager.id
    # The assignee may hand their own task on; the new assignee hears about it.
    client_as(south_rep).post(f"/contacts/tasks/{south_task}/reassign", data={"assignee_id": rep.id})
    with in_tenant(tenant):
        assert db.session.get(Interaction, south_task).assignee_id == rep.id
        assert db.session.scalar(select(Notification.user_id).where(Notification.kind == "assigned")) == rep.id


def test_reminders_are_sent_once_when_due(app, tenant, customer, make_user, in_tenant):
    me = make_user(tenant)
    past = utcnow() - dt.timedelta(minutes=5)
    due = make_task(tenant, in_tenant, customer, me, subject="due now", due_at=utcnow(), remind_at=past)
    make_task(tenant, in_tenant, customer, me, subject="later", remind_at=utcnow() + dt.timedelta(days=1))
    done = make_task(tenant, in_tenant, customer, me, subject="finished", remind_at=past)
    with in_tenant(tenant):
        task = db.session.get(Interaction, done)
        task.done_at, task.reminder_pending_at = utcnow(), None
        db.session.commit()
        assert send_due_reminders() == 1
        db.session.commit()
        assert send_due_reminders() == 0
        notes = db.session.scalars(select(Notification)).all()
        assert [(n.user_id, n.kind, n.interaction_id) for n in notes] == [(me.id, "reminder", due)]
        assert notes[0].title == "Reminder: due now"
        assert notes[0].url == f"/contacts/contacts/{customer}"


def test_the_cli_sends_due_reminders(app, tenant, customer, make_user, in_tenant):
    me = make_user(tenant)
    make_task(tenant, in_tenant, customer, me, remind_at=utcnow() - dt.timedelta(minutes=1))
    result = app.test_cli_runner().invoke(args=["contacts", "remind", "--tenant", "acme"])
    assert result.exit_code == 0, result.output
    assert "1 reminder(s) sent" in result.output
    result = app.test_cli_runner().invoke(args=["contacts", "remind"])
    assert result.exit_code == 0 and "0 reminder(s) sent" in result.output
    result = app.test_cli_runner().invoke(args=["contacts", "remind", "--tenant", "nope"])
    assert result.exit_code != 0 and "no tenant" in result.output


def test_requests_queue_the_reminder_sweep_at_most_once_a_minute(
    app, tenant, customer, make_user, client_as, in_tenant
):
    me = make_user(tenant)
    client = client_as(me)
    make_task(tenant, in_tenant, customer, me, subject="first", remind_at=utcnow() - dt.timedelta(minutes=1))
    client.get("/contacts/notifications")  # jobs run inline in tests: the sweep has run when this returns
    assert "Reminder: first" in client.get("/contacts/notifications").get_data(as_text=True)
    make_task(tenant, in_tenant, customer, me, subject="second", remind_at=utcnow() - dt.timedelta(minutes=1))
    client.get("/contacts/tasks")
    assert "Reminder: second" not in client.get("/contacts/notifications").get_data(as_text=True)  # not yet
    app.extensions["contacts.reminder_sweeps"].clear()  # a minute later
    client.get("/contacts/tasks")
    assert "Reminder: second" in client.get("/contacts/notifications").get_data(as_text=True)


def test_notifications_open_mark_read_and_belong_to_their_user(app, tenant, customer, make_user, client_as, in_tenant):
    from plugins.contacts.timeline import notify

    me, other = make_user(tenant), make_user(tenant)
    with in_tenant(tenant):
        notify(me.id, "assigned", "one", f"/contacts/contacts/{customer}")
        notify(me.id, "assigned", "two", "https://evil.example.com/")
        notify(other.id, "assigned", "someone else's")
        db.session.commit()
        ids = {n.title: n.id for n in db.session.scalars(select(Notification))}
    client = client_as(me)
    page = client.get("/contacts/notifications").get_data(as_text=True)
    assert "2 unread" in page and "someone else" not in page
    response = client.get(f"/contacts/notifications/{ids['one']}/open")
    assert response.headers["Location"].endswith(f"/contacts/contacts/{customer}")
    assert (
        client.get(f"/contacts/notifications/{ids['two']}/open").headers["Location"].endswith("/contacts/notifications")
    )
    assert (
        client.get(f"/contacts/notifications/{ids[chr(115) + 'omeone else' + chr(39) + 's']}/open").status_code == 404
    )
    assert "0 unread" in client.get("/contacts/notifications").get_data(as_text=True)
    with in_tenant(tenant):
        assert db.session.scalar(select(Notification.read_at).where(Notification.user_id == other.id)) is None


def test_tasks_of_trashed_contacts_leave_my_list(app, tenant, customer, admin, admin_client, in_tenant):
    make_task(tenant, in_tenant, customer, admin, subject="for a deleted contact")
    assert "for a deleted contact" in admin_client.get("/contacts/tasks").get_data(as_text=True)
    admin_client.post(f"/contacts/contacts/{customer}/delete")
    assert "for a deleted contact" not in admin_client.get("/contacts/tasks").get_data(as_text=True)
    with in_tenant(tenant):
        assert db.session.get(User, admin.id) is not None


def test_change_a_task_due_time_and_reminder(app, tenant, customer, make_user, client_as, in_tenant):
    me = make_user(tenant)
    other = make_user(tenant)
    task_id = make_task(tenant, in_tenant, customer, me, subject="寄送報價", remind_at=utcnow() - dt.timedelta(days=1))
    with in_tenant(tenant):
        task = db.session.get(Interaction, task_id)
        task.reminder_pending_at = None  # the old reminder was sent
        db.session.commit()
    client = client_as(me)
    form = client.get(f"/contacts/tasks/{task_id}/edit").get_data(as_text=True)
    assert 'value="寄送報價"' in form
    year = utcnow().year + 1
    response = client.post(
        f"/contacts/tasks/{task_id}/edit",
        data={"subject": "寄送修正後的報價", "due_at": f"{year}-02-03T09:30", "remind": "15", "assignee_id": me.id},
    )
    assert response.status_code == 302
    with in_tenant(tenant):
        task = db.session.get(Interaction, task_id)
        assert task.subject == "寄送修正後的報價"
        assert task.due_at == dt.datetime(year, 2, 3, 1, 30, tzinfo=dt.UTC)  # 09:30 in Taipei
        assert task.reminder_pending_at == task.remind_at == dt.datetime(year, 2, 3, 1, 15, tzinfo=dt.UTC)
    page = client.get(f"/contacts/tasks/{task_id}/edit").get_data(as_text=True)
    assert re.search(r'<option (selected value="15"|value="15" selected)', page)
    # Someone who neither does, wrote nor manages the task cannot change it.
    assert client_as(other).get(f"/contacts/tasks/{task_id}/edit").status_code == 404
