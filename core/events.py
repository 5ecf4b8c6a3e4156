"""Events: ``emit()`` queues on the session; handlers hear them after commit, in a session of their own.

A rollback drops the queue, so a failed operation emits nothing. Only plugins enabled in the event's tenant
hear it. Handlers that write commit their own session; events they emit are delivered in turn.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Any

from flask import current_app, has_request_context
from flask_login import current_user
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from core.contributions import Event
from core.db import TenantSession
from core.tenancy import current_tenant, require_tenant_id, tenant_context

log = logging.getLogger(__name__)
PENDING = "crm.pending_events"

session_override: ContextVar[Session | None] = ContextVar("crm_session_override", default=None)
_depth: ContextVar[int] = ContextVar("crm_event_depth", default=0)
MAX_DEPTH = 8


def emit(name: str, **payload: Any) -> None:
    """Queue ``name`` with ``payload`` (JSON-friendly values) for delivery after the current commit."""
    from core import db

    user_id = None
    if has_request_context() and current_user.is_authenticated:
        user_id = current_user.id
    evt = Event(name=name, tenant_id=require_tenant_id(), payload=dict(payload), user_id=user_id)
    hold_until_commit(db.session, PENDING, evt)


def hold_until_commit(session: Session, key: str, item: Any) -> None:
    """Keep ``item`` in ``session.info[key]`` until the transaction commits, noting the savepoint it is in."""
    session.info.setdefault(key, []).append((item, session.get_nested_transaction()))


def take_committed(session: Session, key: str) -> list[Any]:
    return [item for item, _savepoint in session.info.pop(key, [])]


def drop_rolled_back(session: Session, key: str, transaction: Any) -> None:
    """After a rollback drop what was held: everything, or for a savepoint only what was added inside it."""
    if not transaction.nested:
        session.info.pop(key, None)
        return

    def inside(savepoint: Any) -> bool:
        while savepoint is not None:
            if savepoint is transaction:
                return True
            savepoint = savepoint.parent
        return False

    session.info[key] = [(item, savepoint) for item, savepoint in session.info.get(key, []) if not inside(savepoint)]


@sa_event.listens_for(TenantSession, "after_commit")
def _after_commit(session: Session) -> None:
    pending = take_committed(session, PENDING)
    if pending:
        _deliver(pending)


@sa_event.listens_for(TenantSession, "after_soft_rollback")
def _after_rollback(session: Session, previous_transaction: Any) -> None:
    drop_rolled_back(session, PENDING, previous_transaction)


def _deliver(events: list[Event]) -> None:
    if _depth.get() >= MAX_DEPTH:
        log.error("event delivery nested deeper than %s; dropped %s", MAX_DEPTH, [e.name for e in events])
        return
    from core.models import Tenant
    from core.tenant_plugins import enabled_plugins, host

    dbx = current_app.extensions["crm.db"]
    for evt in events:
        handler_session = dbx.new_session()
        token = session_override.set(handler_session)
        depth = _depth.set(_depth.get() + 1)
        try:
            tenant = current_tenant()
            if tenant is None or tenant.id != evt.tenant_id:
                tenant = handler_session.get(Tenant, evt.tenant_id)
            with tenant_context(tenant):
                hooks = host().hooks_for(enabled_plugins(tenant))
                arguments = {"event": evt, "tenant": tenant}
                # Each plugin's handler on its own: one failing handler neither silences the others nor
                # undoes what they wrote.
                for impl in hooks.handle_event.get_hookimpls():
                    try:
                        impl.function(*[arguments[name] for name in impl.argnames])
                        handler_session.commit()
                    except Exception:
                        handler_session.rollback()
                        log.exception("handler of event %s in plugin %s failed", evt.name, impl.plugin_name)
        except Exception:
            handler_session.rollback()
            log.exception("delivery of event %s failed", evt.name)
        finally:
            session_override.reset(token)
            _depth.reset(depth)
            handler_session.close()
