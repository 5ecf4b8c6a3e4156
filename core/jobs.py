"""Background jobs: RQ on Redis when ``CRM_REDIS_URL`` is set, a background thread otherwise.

``enqueue("plugins.contacts.imports:run_import", file_id=3)`` records a :class:`JobRecord` in the current
tenant and runs the function later with ``tenant_context`` and an app context set up. The function may take a
``job`` keyword argument: ``job.progress(done, total, message)`` updates the record the UI polls.
"""

from __future__ import annotations

import importlib
import inspect
import json
import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from core.db import TenantSession, utcnow
from core.events import drop_rolled_back, hold_until_commit, take_committed
from core.models import JobRecord, Tenant
from core.tenancy import require_tenant_id, tenant_context

log = logging.getLogger(__name__)
AFTER_COMMIT = "crm.jobs_after_commit"


class JobContext:
    """Handed to a job function as ``job``: report progress that the UI shows as a progress bar."""

    def __init__(self, app: Flask, job_id: str) -> None:
        self.app = app
        self.id = job_id

    def progress(self, done: int, total: int | None = None, message: str = "", aside: bool = False) -> None:
        """Record progress. ``aside=True`` when the job's own transaction holds SQLite's only write lock (an
        import writing its rows): the figures go to a file in the instance folder that status pages read
        through :func:`job_progress` until the job ends."""
        if aside:
            path = _aside_path(self.app, self.id)
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".tmp")
            partial.write_text(json.dumps({"done": done, "total": total, "message": message}), encoding="utf-8")
            partial.replace(path)  # atomic: a reader never sees half a file
            return
        session = self.app.extensions["crm.db"].new_session()
        try:
            record = session.get(JobRecord, self.id, execution_options={"all_tenants": True})
            record.done = done
            if total is not None:
                record.total = total
            if message:
                record.message = message
            session.info["all_tenants"] = True
            session.commit()
        finally:
            session.close()


@dataclass(frozen=True)
class JobProgress:
    done: int
    total: int | None
    message: str
    percent: int


def job_progress(record: JobRecord) -> JobProgress:
    """How far a job has got: its record's figures, or those it reported aside while its transaction holds
    SQLite's write lock (:meth:`JobContext.progress`)."""
    done, total, message = record.done, record.total, record.message
    if record.status in ("queued", "started"):
        try:
            aside = json.loads(_aside_path(current_app, record.id).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            aside = None
        if isinstance(aside, dict):
            done, total = int(aside.get("done") or 0), aside.get("total") or total
            message = str(aside.get("message") or message)
    percent = (100 if record.status == "finished" else 0) if not total else min(100, int(done * 100 / total))
    return JobProgress(done, total, message, percent)


def _aside_path(app: Flask, job_id: str) -> Path:
    return Path(app.instance_path) / "jobs" / f"{uuid.UUID(job_id)}.json"  # the id as a UUID: no path tricks


def _resolve(path: str) -> Any:
    module_name, _, attr = path.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def _takes_job(func: Any) -> bool:
    """Whether ``func`` accepts the ``job`` keyword (decided from its signature, so it is called once)."""
    parameters = inspect.signature(func).parameters.values()
    return any(p.name == "job" or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


def enqueue(function: str, *, user_id: int | None = None, name: str | None = None, **kwargs: Any) -> str:
    """Queue ``module:function`` with keyword arguments; returns the job id. Commits nothing itself."""
    from core import db

    tenant_id = require_tenant_id()
    job_id = str(uuid.uuid4())
    db.session.add(JobRecord(id=job_id, tenant_id=tenant_id, name=name or function, user_id=user_id))
    db.session.flush()
    app = current_app._get_current_object()
    runner = app.extensions["crm.jobs"]
    # Start only after the record is committed, so the job can see it and the data it refers to.
    hold_until_commit(db.session, AFTER_COMMIT, (runner, job_id, tenant_id, function, kwargs))
    return job_id


def run_job(job_id: str, tenant_id: int, function: str, kwargs: dict[str, Any], app: Flask | None = None) -> None:
    """Execute one job (in a thread, an RQ worker or inline)."""
    from core.events import session_override

    app = app or _worker_app()
    with app.app_context():
        session = app.extensions["crm.db"].new_session()
        override = session_override.set(session)
        tenant = session.get(Tenant, tenant_id)
        status, message, result = "finished", "", None
        _mark(app, job_id, status="started")
        try:
            with tenant_context(tenant):
                func = _resolve(function)
                if _takes_job(func):
                    kwargs = {**kwargs, "job": JobContext(app, job_id)}
                result = func(**kwargs)
                session.commit()
        except Exception as exc:
            session.rollback()
            log.exception("job %s (%s) failed", job_id, function)
            status, message = "failed", str(exc)[:2000]
        finally:
            session_override.reset(override)
            session.close()
        _mark(
            app,
            job_id,
            status=status,
            message=message,
            result=result if isinstance(result, dict) else None,
            finished=True,
        )
        _aside_path(app, job_id).unlink(missing_ok=True)


def _mark(
    app: Flask,
    job_id: str,
    status: str,
    message: str = "",
    result: dict | None = None,
    finished: bool = False,
) -> None:
    session = app.extensions["crm.db"].new_session()
    session.info["all_tenants"] = True
    try:
        record = session.get(JobRecord, job_id, execution_options={"all_tenants": True})
        if record is None:
            return
        record.status = status
        if message:
            record.message = message
        if result is not None:
            record.result = result
        if finished:
            record.finished_at = utcnow()
            if status == "finished" and record.total:
                record.done = record.total
        session.commit()
    finally:
        session.close()


_worker_apps: dict[str, Flask] = {}


def _worker_app() -> Flask:
    """The app an RQ worker process runs jobs in (built once per process)."""
    if "app" not in _worker_apps:
        from core.app import create_app

        _worker_apps["app"] = create_app()
    return _worker_apps["app"]


class JobRunner:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.redis_url = app.config.get("REDIS_URL")
        self.sync = bool(app.config.get("JOBS_SYNC"))
        self._pool: ThreadPoolExecutor | None = None
        self._queue = None

    def queue(self):
        if self._queue is None:
            from redis import Redis
            from rq import Queue

            self._queue = Queue("crm", connection=Redis.from_url(self.redis_url))
        return self._queue

    def start(self, job_id: str, tenant_id: int, function: str, kwargs: dict[str, Any]) -> None:
        if self.sync:
            run_job(job_id, tenant_id, function, kwargs, app=self.app)
        elif self.redis_url:
            self.queue().enqueue(run_job, job_id, tenant_id, function, kwargs, job_id=job_id, job_timeout=3600 * 6)
        else:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="crm-job")
            self._pool.submit(run_job, job_id, tenant_id, function, kwargs, self.app)


def init_jobs(app: Flask) -> None:
    app.extensions["crm.jobs"] = JobRunner(app)


@event.listens_for(TenantSession, "after_commit")
def _start_jobs(session: Session) -> None:
    for runner, job_id, tenant_id, function, kwargs in take_committed(session, AFTER_COMMIT):
        runner.start(job_id, tenant_id, function, kwargs)


@event.listens_for(TenantSession, "after_soft_rollback")
def _drop_jobs(session: Session, previous: Any) -> None:
    drop_rolled_back(session, AFTER_COMMIT, previous)
