"""The timeline: quick actions on the pages, entries other plugins add, scopes and tenants."""

import datetime as dt

import pytest
from sqlalchemy import select

from core import db
from core.events import emit
from core.models import User
from plugins.contacts import plugin as contacts_plugin
from plugins.contacts.models import Interaction
from plugins.contacts.tests import opportunities_stub


@pytest.fixture
def app(make_app):
    return make_app(plugins=[contacts_plugin, opportunities_stub])


@pytest.fixture
def ming(tenant, admin, create):
    return create(tenant, "contacts", {"name": "王小明", "mobile": "0912-345-678", "company_name": "台積電"}, admin)


def timeline(client, contact_id):
    response = client.get(f"/contacts/timeline/contact/{contact_id}", query_string={"fragment": 1})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_log_a_call_from_the_quick_action_and_see_it_on_the_timeline(admin_client, ming, tenant, in_tenant):
    form = admin_client.get(f"/contacts/log/contact/{ming}/call").get_data(as_text=True)
    assert 'href="tel:0912345678"' in form and 'type="datetime-local"' in form and 'value="no_answer"' in form
    response = admin_client.post(
        f"/contacts/log/contact/{ming}/call",
        data={
            "occurred_at": "2026-03-02T14:30",
            "outcome": "voicemail",
            "duration_minutes": "3",
            "subject": "確認報價",
            "body": "請他回電",
            "next": f"/contacts/contacts/{ming}",
        },
    )
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/contacts/contacts/{ming}")
    page = timeline(admin_client, ming)
    assert "確認報價" in page and "Left a voicemail" in page and "請他回電" in page and "3 minutes" in page
    with in_tenant(tenant):
        entry = db.session.scalar(select(Interaction))
        # Typed in the user's time zone (the workspace's, Asia/Taipei): 14:30 there is 06:30 UTC.
        assert entry.occurred_at == dt.datetime(2026, 3, 2, 6, 30, tzinfo=dt.UTC)
        assert entry.company_id is not None  # also on the company's timeline


def test_the_company_timeline_shows_what_was_logged_on_its_people(admin_client, ming, tenant, in_tenant):
    admin_client.post(f"/contacts/log/contact/{ming}/note", data={"occurred_at": "2026-03-02T09:00", "body": "寄樣品"})
    with in_tenant(tenant):
        company_id = db.session.scalar(select(Interaction.company_id))
    page = admin_client.get(f"/contacts/timeline/company/{company_id}").get_data(as_text=True)
    assert "寄樣品" in page and "王小明" in page


def test_a_note_needs_text_and_errors_are_shown_next_to_the_field(admin_client, ming):
    response = admin_client.post(f"/contacts/log/contact/{ming}/note", data={"occurred_at": "2026-03-02T09:00"})
    assert response.status_code == 400
    assert 'class="error"' in response.get_data(as_text=True)
    assert "Nothing logged yet." in timeline(admin_client, ming)


def test_the_detail_page_has_quick_actions_a_lazy_timeline_and_tap_to_call(admin_client, ming):
    page = admin_client.get(f"/contacts/contacts/{ming}").get_data(as_text=True)
    assert f'href="/contacts/log/contact/{ming}/call"' in page
    assert f'href="/contacts/log/contact/{ming}/task"' in page
    assert f'data-lazy-url="/contacts/timeline/contact/{ming}?fragment=1"' in page
    assert 'href="tel:0912345678"' in page


def test_the_timeline_pages_newest_first(admin_client, ming, tenant, in_tenant):
    from plugins.contacts.timeline import add_entry

    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    with in_tenant(tenant):
        for day in range(25):
            add_entry("note", contact_id=ming, subject=f"note {day:02d}", occurred_at=start + dt.timedelta(days=day))
        db.session.commit()
    first = timeline(admin_client, ming)
    assert first.index("note 24") < first.index("note 05") and "note 04" not in first
    older = admin_client.get(first.split('href="')[-1].split('"')[0].replace("&amp;", "&")).get_data(as_text=True)
    assert "note 04" in older and "note 00" in older and "note 05" not in older
    assert admin_client.get(f"/contacts/timeline/contact/{ming}?before=garbage").status_code == 400


def test_another_plugins_event_adds_an_entry_with_its_title_and_link(admin_client, ming, tenant, admin, in_tenant):
    with in_tenant(tenant):
        deal = opportunities_stub.Deal(title="年度合約", contact_id=ming)
        db.session.add(deal)
        db.session.commit()
        deal_id = deal.id
    assert admin_client.post(f"/opportunities/{deal_id}/won").status_code == 302
    page = timeline(admin_client, ming)
    assert f'<a href="/opportunities/{deal_id}">Won: 年度合約</a>' in page
    with in_tenant(tenant):
        entry = db.session.scalar(select(Interaction))
        assert (entry.kind, entry.source, entry.user_id) == ("system", "opportunities", admin.id)


def test_events_naming_unknown_records_or_foreign_links_add_nothing_unsafe(app, tenant, ming, make_tenant, in_tenant):
    other = make_tenant("globex")
    with in_tenant(other):
        emit("opportunities.opportunity.won", contact_id=ming, title="should not land in acme")
        db.session.commit()
    with in_tenant(tenant):
        assert db.session.scalar(select(Interaction.id)) is None
        emit("opportunities.opportunity.won", contact_id=ming, title="x", url="javascript:alert(1)")
        emit("opportunities.opportunity.won", contact_id=ming, title="y", url="//evil.example.com/")
        db.session.commit()
        assert [e.url for e in db.session.scalars(select(Interaction))] == [None, None]


def test_public_add_timeline_entry(app, tenant, ming, in_tenant):
    from plugins.contacts.public import add_timeline_entry, contact_summary

    with in_tenant(tenant):
        entry_id = add_timeline_entry(contact_id=ming, title="Ticket #12 opened", url="/tickets/12", source="tickets")
        db.session.commit()
        entry = db.session.get(Interaction, entry_id)
        assert (entry.kind, entry.subject, entry.url) == ("system", "Ticket #12 opened", "/tickets/12")
        with pytest.raises(ValueError):
            add_timeline_entry(contact_id=99999, title="nobody")
        with app.test_request_context():
            assert contact_summary(ming)["company_name"] == "台積電"


def test_timeline_and_quick_actions_respect_record_scopes(app, tenant, make_user, client_as, create):
    north = make_user(
        tenant,
        departments=["North"],
        grants={
            "contacts.contact.view": "department",
            "contacts.contact.create": "all",
            "contacts.timeline.add": "all",
        },
    )
    colleague = make_user(
        tenant,
        departments=["North"],
        grants={"contacts.contact.view": "own", "contacts.contact.create": "all", "contacts.timeline.add": "all"},
    )
    south = make_user(
        tenant, departments=["South"], grants={"contacts.contact.view": "own", "contacts.contact.create": "all"}
    )
    mine = create(tenant, "contacts", {"name": "North customer"}, colleague)
    theirs = create(tenant, "contacts", {"name": "South customer"}, south)
    north_client = client_as(north)
    assert north_client.get(f"/contacts/timeline/contact/{mine}").status_code == 200  # department scope
    assert north_client.get(f"/contacts/timeline/contact/{theirs}").status_code == 404
    assert north_client.get(f"/contacts/log/contact/{theirs}/call").status_code == 404
    colleague_client = client_as(colleague)
    assert colleague_client.get(f"/contacts/timeline/contact/{mine}").status_code == 200  # own
    south_client = client_as(south)
    assert south_client.get(f"/contacts/timeline/contact/{mine}").status_code == 404
    assert south_client.get(f"/contacts/log/contact/{theirs}/call").status_code == 403  # may not log at all


def test_tenant_b_gets_404_on_every_route_for_tenant_a_records(
    app, ming, tenant, make_tenant, make_user, client_as, in_tenant
):
    from plugins.contacts.timeline import add_entry

    with in_tenant(tenant):
        task = add_entry("task", contact_id=ming, subject="secret", user_id=None)
        db.session.commit()
        task_id, company_id = task.id, task.company_id
    globex = make_tenant("globex")
    intruder = client_as(make_user(globex, groups=["administrators"]))
    for url in (
        f"/contacts/timeline/contact/{ming}",
        f"/contacts/timeline/company/{company_id}",
        f"/contacts/log/contact/{ming}/call",
        f"/contacts/log/company/{company_id}/task",
        f"/contacts/panels/duplicates/contact/{ming}",
        f"/contacts/panels/people/{company_id}",
        f"/contacts/merge/contact/{ming}",
        f"/contacts/tasks/{task_id}/reassign",
        f"/contacts/contacts/{ming}",
        f"/api/v1/contacts/{ming}",
    ):
        assert intruder.get(url).status_code == 404, url
    for url in (
        f"/contacts/tasks/{task_id}/done",
        f"/contacts/entries/{task_id}/delete",
        f"/contacts/log/contact/{ming}/note",
    ):
        assert intruder.post(url, data={"body": "x", "occurred_at": "2026-01-01T10:00"}).status_code == 404, url
    with in_tenant(tenant):
        assert db.session.get(Interaction, task_id).done_at is None


def test_deleting_entries_author_or_editor_only(app, tenant, ming, admin_client, make_user, client_as, in_tenant):
    from plugins.contacts.timeline import add_entry

    with in_tenant(tenant):
        mine = add_entry("note", contact_id=ming, subject="admin's note", user_id=None)
        db.session.commit()
        entry_id = mine.id
    reader = make_user(tenant, grants={"contacts.contact.view": "all", "contacts.timeline.add": "all"})
    assert client_as(reader).post(f"/contacts/entries/{entry_id}/delete").status_code == 403
    assert admin_client.post(f"/contacts/entries/{entry_id}/delete").status_code == 302
    with in_tenant(tenant):
        assert db.session.get(Interaction, entry_id) is None


def test_public_add_task_notifies_the_assignee_and_lists_the_grades(app, tenant, ming, admin, make_user, in_tenant):
    from plugins.contacts.models import Notification
    from plugins.contacts.public import add_task, customer_grades, visible_contact_ids

    rep = make_user(tenant)
    with in_tenant(tenant), app.test_request_context():
        task_id = add_task(title="回電", assignee_id=rep.id, contact_id=ming, user_id=admin.id)
        db.session.commit()
        assert db.session.get(Interaction, task_id).assignee_id == rep.id
        assert db.session.scalar(select(Notification.user_id)) == rep.id
        assert customer_grades() == ["A", "B", "C", "D"]
        assert visible_contact_ids([ming, 424242], db.session.get(User, rep.id)) == set()  # no grant: nothing
