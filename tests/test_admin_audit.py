"""The audit log page: tenant isolation, filters, keyset pagination, time zones and field-level changes."""

import datetime as dt
import re

from sqlalchemy import select

from core import db
from core.models import AuditEntry, User

UTC = dt.UTC


def summaries(response):
    return re.findall(r"entry-(\d+)", response.get_data(as_text=True))


def add_entries(tenant, in_tenant, use_app, entries):
    with in_tenant(tenant, use_app=use_app):
        for entry in entries:
            db.session.add(AuditEntry(tenant_id=tenant.id, actor="system", **entry))
        db.session.commit()


def test_tenant_b_never_sees_tenant_a_entries(app, make_tenant, make_user, client_as, in_tenant):
    acme = make_tenant("acme")
    globex = make_tenant("globex")
    acme_admin = make_user(acme, groups=["administrators"], email="boss@acme-secret.example.com")
    acme_client = client_as(acme_admin)
    acme_client.post("/admin/users/invite", data={"email": "hidden@acme-secret.example.com"})
    client_as(tenant=acme).post("/login", data={"email": "boss@acme-secret.example.com", "password": "wrong"})
    assert "hidden@acme-secret.example.com" in acme_client.get("/admin/audit").get_data(as_text=True)

    globex_client = client_as(make_user(globex, groups=["administrators"]))
    with in_tenant(acme):
        newest = db.session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()))
        hidden_id = db.session.scalar(select(User.id).where(User.email == "hidden@acme-secret.example.com"))
    for query in (
        "",
        "?user=boss@acme-secret.example.com",
        "?action=login_failed",
        "?action=user_invited",
        f"?table=users&record_id={hidden_id}",
        f"?before=29991231T000000.000000_{newest + 1}",
        f"?after=20000101T000000.000000_{0}",
    ):
        response = globex_client.get("/admin/audit" + query)
        assert response.status_code == 200
        entries = re.sub(r"<details.*?</details>", "", response.get_data(as_text=True), flags=re.S)
        assert "acme-secret" not in entries, query


def test_keyset_pages_walk_every_entry_once_in_both_directions(make_app, make_tenant, make_user, client_as, in_tenant):
    small = make_app(PAGE_SIZE=3)
    acme = make_tenant("acme", use_app=small)
    admin = client_as(make_user(acme, groups=["administrators"], use_app=small), use_app=small)
    base = dt.datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    # Several entries share a time stamp: the id breaks the tie.
    stamps = [base, base, base, base + dt.timedelta(seconds=1), base + dt.timedelta(seconds=1)]
    stamps += [base + dt.timedelta(minutes=n) for n in range(2, 7)]
    add_entries(
        acme,
        in_tenant,
        small,
        [{"at": at, "action": "export", "summary": f"entry-{n:02d}"} for n, at in enumerate(stamps)],
    )
    with in_tenant(acme, use_app=small):
        expected = [
            summary[len("entry-") :]
            for summary in db.session.scalars(
                select(AuditEntry.summary)
                .where(AuditEntry.action == "export")
                .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            )
        ]

    seen, pages, url = [], [], "/admin/audit?action=export"
    while url:
        response = admin.get(url.replace("&amp;", "&"))
        assert response.status_code == 200
        seen.extend(summaries(response))
        pages.append(url)
        found = re.search(r'href="([^"]+)" rel="next"', response.get_data(as_text=True))
        url = found.group(1) if found else None
    assert seen == expected and len(pages) == 4

    back, url = [], pages[-1]
    while url:
        response = admin.get(url.replace("&amp;", "&"))
        back = summaries(response) + back
        found = re.search(r'href="([^"]+)" rel="prev"', response.get_data(as_text=True))
        url = found.group(1) if found else None
    assert back == expected


def test_filters_time_zone_and_field_changes(app, tenant, make_user, client_as, in_tenant):
    viewer = make_user(tenant, groups=["administrators"], locale="en", timezone="Asia/Taipei")
    admin = client_as(viewer)
    add_entries(
        tenant,
        in_tenant,
        app,
        [
            {
                "at": dt.datetime(2025, 12, 31, 17, 30, tzinfo=UTC),  # 01:30 on 1 January in Taipei
                "action": "update",
                "table_name": "contacts",
                "record_id": "42",
                "summary": "entry-01",
                "user_id": viewer.id,
                "ip": "203.0.113.9",
                "changes": {"name": ["Old name", "New name"], "phone": [None, "02-1234"]},
            },
            {
                "at": dt.datetime(2025, 12, 31, 15, 0, tzinfo=UTC),  # 23:00 on 31 December in Taipei
                "action": "delete",
                "table_name": "contacts",
                "record_id": "7",
                "summary": "entry-02",
            },
        ],
    )
    page = re.sub(r"\s+", " ", admin.get("/admin/audit?table=contacts").get_data(as_text=True))
    assert summaries_in(page) == ["01", "02"]
    assert "Jan 1, 2026, 1:30:00" in page
    assert "203.0.113.9" in page and "contacts #42" in page
    assert re.search(
        r"name</span>: <span class=\"before\">Old name</span> .*?<span class=\"after\">New name</span>", page
    )

    def only(query):
        return summaries_in(admin.get("/admin/audit?" + query).get_data(as_text=True))

    assert only("date_from=2026-01-01&table=contacts") == ["01"]  # not the tenant's own set-up entries
    assert only("date_to=2025-12-31&table=contacts") == ["02"]
    assert only("action=delete") == ["02"]
    assert only(f"user={viewer.email.upper()}&table=contacts") == ["01"]
    assert only("table=contacts&record_id=7") == ["02"]

    bad = admin.get("/admin/audit?date_from=2026-02-01&date_to=2026-01-01")
    assert bad.status_code == 400 and 'id="date_to-error"' in bad.get_data(as_text=True)
    assert admin.get("/admin/audit?date_from=yesterday").status_code == 400


def summaries_in(text):
    return re.findall(r"entry-(\d+)", text)


def test_logins_and_admin_changes_are_in_the_log(tenant, make_user, client_as):
    admin = client_as(make_user(tenant, groups=["administrators"], email="chief@acme.example.com"))
    client_as(tenant=tenant).post("/login", data={"email": "chief@acme.example.com", "password": "nope"})
    page = admin.get("/admin/audit").get_data(as_text=True)
    assert "Failed sign-in" in page and "Signed in" in page
    assert "Failed sign-in" in admin.get("/admin/audit?action=login_failed").get_data(as_text=True)
    assert "Signed in" not in re.sub(
        r"<select.*?</select>", "", admin.get("/admin/audit?action=login_failed").get_data(as_text=True), flags=re.S
    )
