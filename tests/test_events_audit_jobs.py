"""Events after commit, the audit trail, and background jobs (inline, thread, RQ)."""

import json
import sys
import time
import types

import pytest
from sqlalchemy import select, update

from core import db
from core.events import emit
from core.hooks import hookimpl
from core.jobs import enqueue
from core.models import AuditEntry, JobRecord, User
from core.tenancy import current_tenant, tenant_context
from core.testing import TEST_PASSWORD
from tests.notes_plugin import plugin as notes_plugin
from tests.notes_plugin.models import Note

# This module is also a tiny plugin: it records what its handler sees while an event is delivered.
META = {"name": "listener", "title": "Listener", "version": "1.0", "description": "Records events in tests."}
HEARD = []


@hookimpl
def handle_event(event, tenant):
    HEARD.append(
        {
            "name": event.name,
            "payload": dict(event.payload),
            "tenant": tenant.slug,
            "context": current_tenant().slug,
            "visible_notes": sorted(db.session.scalars(select(Note.title))),
        }
    )


@pytest.fixture
def events_app(make_app):
    HEARD.clear()
    yield make_app(plugins=[notes_plugin, sys.modules[__name__]])
    HEARD.clear()


def add_note(app, tenant, title):
    with app.app_context(), tenant_context(tenant):
        db.session.add(Note(title=title))
        db.session.commit()


# -------------------------------------------------------------------------------------------- events


def test_events_are_delivered_after_commit_and_not_after_rollback(events_app, make_tenant):
    acme = make_tenant("acme", use_app=events_app)
    with events_app.app_context(), tenant_context(acme):
        db.session.add(Note(title="kept"))
        emit("notes.note.created", title="kept")
        db.session.flush()
        assert HEARD == []
        db.session.commit()
        assert [h["payload"] for h in HEARD] == [{"title": "kept"}]

        db.session.add(Note(title="rolled back"))
        emit("notes.note.created", title="rolled back")
        db.session.rollback()
        db.session.commit()
    assert [h["payload"] for h in HEARD] == [{"title": "kept"}]


def test_a_rolled_back_savepoint_drops_only_its_own_events(events_app, make_tenant):
    acme = make_tenant("acme", use_app=events_app)
    with events_app.app_context(), tenant_context(acme):
        emit("notes.note.created", title="before the savepoint")
        savepoint = db.session.begin_nested()
        emit("notes.note.created", title="inside the savepoint")
        savepoint.rollback()
        emit("notes.note.created", title="after the savepoint")
        db.session.commit()
    assert [h["payload"]["title"] for h in HEARD] == ["before the savepoint", "after the savepoint"]


def test_handlers_run_in_the_events_tenant_and_disabled_plugins_hear_nothing(events_app, make_tenant):
    acme = make_tenant("acme", use_app=events_app)
    globex = make_tenant("globex", plugins=["notes"], use_app=events_app)
    add_note(events_app, acme, "acme's note")
    add_note(events_app, globex, "globex's note")

    with events_app.app_context(), tenant_context(acme):
        emit("notes.note.created", id=1)
        db.session.commit()
    assert [(h["tenant"], h["context"], h["visible_notes"]) for h in HEARD] == [("acme", "acme", ["acme's note"])]

    with events_app.app_context(), tenant_context(globex):
        emit("notes.note.created", id=2)
        db.session.commit()
    assert len(HEARD) == 1  # the listener is not enabled for globex


def test_events_emitted_by_a_request_reach_handlers_once_committed(events_app, make_tenant, make_user, client_as):
    acme = make_tenant("acme", use_app=events_app)
    client = client_as(make_user(acme, groups=["sales"], use_app=events_app), use_app=events_app)
    client.post("/notes/", data={"title": "from the web"})
    assert [(h["name"], h["context"], h["visible_notes"]) for h in HEARD] == [
        ("notes.note.created", "acme", ["from the web"])
    ]


def grumpy_plugin(name):
    """A plugin whose handler writes a row and then fails."""
    grumpy = types.ModuleType(f"{name}_plugin")
    grumpy.__file__ = __file__
    grumpy.META = {"name": name}

    def handle_event(event, tenant):
        db.session.add(Note(title="grumpy was here"))
        db.session.flush()
        raise RuntimeError("grumpy handler failed")

    grumpy.handle_event = hookimpl(handle_event)
    return grumpy


@pytest.mark.parametrize("grumpy", ["aaa_grumpy", "zzz_grumpy"])  # plugins register by name; called either side
def test_a_failing_handler_does_not_keep_the_event_from_other_plugins(make_app, make_tenant, grumpy):
    HEARD.clear()
    app = make_app(plugins=[notes_plugin, sys.modules[__name__], grumpy_plugin(grumpy)])
    acme = make_tenant("acme", use_app=app)
    with app.app_context(), tenant_context(acme):
        db.session.add(Note(title="the note"))
        emit("notes.note.created", title="the note")
        db.session.commit()
    assert [h["payload"] for h in HEARD] == [{"title": "the note"}]
    with app.app_context(), tenant_context(acme):
        assert db.session.scalars(select(Note.title)).all() == ["the note"]


# --------------------------------------------------------------------------------------------- audit


def audit_rows(app, tenant, table=None):
    with app.app_context():
        query = select(AuditEntry).where(AuditEntry.tenant_id == tenant.id).order_by(AuditEntry.id)
        if table:
            query = query.where(AuditEntry.table_name == table)
        return db.session.scalars(query).all()


def test_create_update_delete_are_audited_with_user_ip_time_and_fields(notes_app, make_tenant, make_user, client_as):
    acme = make_tenant("acme", use_app=notes_app)
    user = make_user(acme, groups=["sales"], use_app=notes_app)
    client = client_as(None, tenant=acme, use_app=notes_app)
    client.environ_base["REMOTE_ADDR"] = "198.51.100.23"
    client.post("/login", data={"email": user.email, "password": TEST_PASSWORD})

    note_id = int(client.post("/notes/", data={"title": "first draft"}).headers["Location"].rsplit("/", 1)[1])
    client.post(f"/notes/{note_id}", data={"title": "final text"})
    client.post(f"/notes/{note_id}/delete")

    rows = audit_rows(notes_app, acme, "test_notes")
    assert [row.action for row in rows] == ["create", "update", "delete"]
    for row in rows:
        assert (row.user_id, row.actor, row.ip) == (user.id, user.email, "198.51.100.23")
        assert row.record_id == str(note_id)
        assert row.at is not None
    assert rows[0].changes == {"id": [None, note_id], "title": [None, "first draft"], "owner_id": [None, user.id]}
    assert rows[1].changes == {"title": ["first draft", "final text"]}
    assert rows[1].summary == "final text"
    assert rows[2].changes["title"] == ["final text", None]


def test_password_hashes_never_reach_the_audit_log(app, make_tenant, make_user, client_as):
    acme = make_tenant("acme")
    user = make_user(acme, email="carol@acme.example.com")
    client = client_as(user)
    new = "another-long-password"
    form = {"form": "password", "password-current": TEST_PASSWORD, "password-password": new, "password-confirm": new}
    assert client.post("/account", data=form).status_code == 302
    with app.app_context(), tenant_context(acme):
        stored = db.session.get(User, user.id)
        stored.name = "Carol"
        stored.set_password("third-long-password")
        db.session.commit()
        password_hash = stored.password_hash
    dumped = json.dumps([(row.action, row.summary, row.changes) for row in audit_rows(app, acme)])
    assert '"name": [""' in dumped  # the user's own changes are audited ...
    assert "password_hash" not in dumped  # ... but never the hash
    assert password_hash not in dumped and "scrypt:" not in dumped and "pbkdf2:" not in dumped


# ---------------------------------------------------------------------------------------------- jobs

JOB_LOG = []


def count_to(total, job):
    """A job that reports progress and writes a note in its tenant."""
    for done in range(1, total + 1):
        job.progress(done, total, f"{done} of {total}")
    db.session.add(Note(title=f"counted to {total}"))
    JOB_LOG.append(current_tenant().slug)
    return {"counted": total}


def fail_loudly(reason):
    db.session.add(Note(title="must not survive"))
    db.session.flush()
    raise RuntimeError(f"the job failed: {reason}")


def count_calls(job, value):
    """A job whose own error mentions the job: it must run once, not be retried without ``job``."""
    JOB_LOG.append(value)
    raise TypeError(f"job input {value!r} is not a number")


def takes_no_job(value):
    JOB_LOG.append(value)


def report_aside(total, job):
    """A job holding the database's write lock (as an import on SQLite does) that reports progress aside; what a
    status page would read meanwhile goes to JOB_LOG."""
    from flask import current_app

    from core.jobs import job_progress

    db.session.add(Note(title="written by the job"))
    db.session.flush()
    job.progress(7, total, "7 rows saved", aside=True)
    reader = current_app.extensions["crm.db"].new_session()
    try:
        record = reader.get(JobRecord, job.id, execution_options={"all_tenants": True})
        JOB_LOG.append(job_progress(record))
    finally:
        reader.close()
    return {"done": True}


def job_record(app, tenant, job_id):
    with app.app_context(), tenant_context(tenant):
        return db.session.get(JobRecord, job_id)


def notes_of(app, tenant):
    with app.app_context(), tenant_context(tenant):
        return sorted(db.session.scalars(select(Note.title)))


def start(app, tenant, function, user_id=None, **kwargs):
    with app.app_context(), tenant_context(tenant):
        job_id = enqueue(function, user_id=user_id, **kwargs)
        db.session.commit()
        return job_id


@pytest.fixture
def two_tenant_jobs(notes_app, make_tenant):
    JOB_LOG.clear()
    return make_tenant("acme", use_app=notes_app), make_tenant("globex", use_app=notes_app)


def test_inline_job_runs_in_its_tenant_and_reports_progress(notes_app, two_tenant_jobs):
    _acme, globex = two_tenant_jobs
    job_id = start(notes_app, globex, "tests.test_events_audit_jobs:count_to", total=3)
    record = job_record(notes_app, globex, job_id)
    assert (record.status, record.done, record.total, record.percent) == ("finished", 3, 3, 100)
    assert record.message == "3 of 3"
    assert record.result == {"counted": 3}
    assert record.finished_at is not None
    assert JOB_LOG == ["globex"]
    assert notes_of(notes_app, globex) == ["counted to 3"]
    assert notes_of(notes_app, _acme) == []


def test_progress_reported_aside_is_shown_while_the_job_runs_and_then_forgotten(notes_app, two_tenant_jobs):
    from pathlib import Path

    from core.jobs import JobProgress

    acme, _globex = two_tenant_jobs
    job_id = start(notes_app, acme, "tests.test_events_audit_jobs:report_aside", total=10)
    (seen,) = JOB_LOG  # what a status page showed while the job held the write lock
    assert seen == JobProgress(done=7, total=10, message="7 rows saved", percent=70)
    record = job_record(notes_app, acme, job_id)
    assert (record.status, record.percent, record.result) == ("finished", 100, {"done": True})
    assert not (Path(notes_app.instance_path) / "jobs" / f"{job_id}.json").exists()
    assert notes_of(notes_app, acme) == ["written by the job"]


def test_failing_job_is_marked_failed_with_its_message_and_its_writes_undone(notes_app, two_tenant_jobs):
    acme, _globex = two_tenant_jobs
    job_id = start(notes_app, acme, "tests.test_events_audit_jobs:fail_loudly", reason="disk full")
    record = job_record(notes_app, acme, job_id)
    assert record.status == "failed"
    assert record.message == "the job failed: disk full"
    assert notes_of(notes_app, acme) == []


def test_a_job_that_raises_type_error_runs_once_and_jobs_need_not_take_job(notes_app, two_tenant_jobs):
    acme, _globex = two_tenant_jobs
    job_id = start(notes_app, acme, "tests.test_events_audit_jobs:count_calls", value="x")
    assert JOB_LOG == ["x"]
    record = job_record(notes_app, acme, job_id)
    assert (record.status, record.message) == ("failed", "job input 'x' is not a number")

    job_id = start(notes_app, acme, "tests.test_events_audit_jobs:takes_no_job", value="y")
    assert JOB_LOG == ["x", "y"]
    assert job_record(notes_app, acme, job_id).status == "finished"


def test_a_job_is_not_started_when_its_transaction_rolls_back(notes_app, two_tenant_jobs):
    acme, _globex = two_tenant_jobs
    with notes_app.app_context(), tenant_context(acme):
        enqueue("tests.test_events_audit_jobs:count_to", total=1)
        db.session.rollback()
        db.session.commit()
    assert JOB_LOG == []


def test_a_job_queued_inside_a_rolled_back_savepoint_is_not_started(notes_app, two_tenant_jobs):
    acme, _globex = two_tenant_jobs
    with notes_app.app_context(), tenant_context(acme):
        kept = enqueue("tests.test_events_audit_jobs:count_to", total=1)
        savepoint = db.session.begin_nested()
        enqueue("tests.test_events_audit_jobs:count_to", total=2)
        savepoint.rollback()
        db.session.commit()
    assert JOB_LOG == ["acme"]
    assert notes_of(notes_app, acme) == ["counted to 1"]
    assert job_record(notes_app, acme, kept).status == "finished"


def wait_for(app, tenant, job_id, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = job_record(app, tenant, job_id)
        if record.finished_at is not None:
            return record
        time.sleep(0.05)
    pytest.fail(f"job {job_id} did not finish within {timeout}s (status {record.status})")


def test_without_redis_a_background_thread_runs_the_job(make_app, make_tenant):
    JOB_LOG.clear()
    threaded = make_app(plugins=[notes_plugin], JOBS_SYNC=False, REDIS_URL=None)
    acme = make_tenant("acme", use_app=threaded)
    job_id = start(threaded, acme, "tests.test_events_audit_jobs:count_to", total=2)
    record = wait_for(threaded, acme, job_id)
    assert (record.status, record.done, record.total) == ("finished", 2, 2)
    assert JOB_LOG == ["acme"]
    assert notes_of(threaded, acme) == ["counted to 2"]


REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def redis_queue():
    redis = pytest.importorskip("redis", reason="the redis extra is not installed")
    rq = pytest.importorskip("rq", reason="the redis extra is not installed")
    connection = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5)
    try:
        connection.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"no Redis server answers at {REDIS_URL}")
    queue = rq.Queue("crm", connection=connection)
    queue.empty()
    yield rq, connection, queue
    queue.empty()
    connection.close()


def test_with_redis_the_job_goes_to_rq_and_a_worker_runs_it(make_app, make_tenant, redis_queue, monkeypatch):
    from core import jobs

    rq, connection, queue = redis_queue
    JOB_LOG.clear()
    queued = make_app(plugins=[notes_plugin], JOBS_SYNC=False, REDIS_URL=REDIS_URL)
    acme = make_tenant("acme", use_app=queued)
    job_id = start(queued, acme, "tests.test_events_audit_jobs:count_to", total=4)
    assert queue.job_ids == [job_id]
    assert job_record(queued, acme, job_id).status == "queued"
    assert JOB_LOG == []

    monkeypatch.setitem(jobs._worker_apps, "app", queued)  # what `crm worker` does in its process
    rq.SimpleWorker([queue], connection=connection).work(burst=True)
    record = job_record(queued, acme, job_id)
    assert (record.status, record.done, record.total) == ("finished", 4, 4)
    assert JOB_LOG == ["acme"]
    assert notes_of(queued, acme) == ["counted to 4"]


def test_job_status_is_visible_to_its_owner_only(notes_app, make_tenant, make_user, client_as):
    acme = make_tenant("acme", use_app=notes_app)
    globex = make_tenant("globex", use_app=notes_app)
    alice = make_user(acme, groups=["sales"], use_app=notes_app)
    bob = make_user(acme, groups=["administrators"], use_app=notes_app)
    eve = make_user(globex, groups=["administrators"], use_app=notes_app)
    job_id = start(notes_app, acme, "tests.test_events_audit_jobs:count_to", user_id=alice.id, total=2)

    status = client_as(alice, use_app=notes_app).get(f"/jobs/{job_id}")
    assert status.status_code == 200
    assert status.json["status"] == "finished" and status.json["percent"] == 100
    assert client_as(bob, use_app=notes_app).get(f"/jobs/{job_id}").status_code == 404
    other_tenant = client_as(eve, use_app=notes_app).get(f"/jobs/{job_id}", headers={"Accept": "application/json"})
    assert other_tenant.status_code == 404
    assert other_tenant.json["error"]["status"] == 404


def test_job_records_of_another_tenant_cannot_be_marked_by_id(notes_app, two_tenant_jobs):
    acme, globex = two_tenant_jobs
    job_id = start(notes_app, acme, "tests.test_events_audit_jobs:count_to", total=1)
    with notes_app.app_context(), tenant_context(globex):
        db.session.execute(update(JobRecord).where(JobRecord.id == job_id).values(status="failed"))
        db.session.commit()
    assert job_record(notes_app, acme, job_id).status == "finished"
