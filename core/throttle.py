"""Per-client throttling from the audit log: count what one address (or one target) did lately in this tenant.

The sign-in page counts failed sign-ins per address; public forms count submissions per address and per form.
The attempts themselves are audit entries (:func:`core.audit.record`), so every worker and machine sees the same
count without a shared cache, and the evidence stays in the audit log.
"""

from __future__ import annotations

import datetime as dt

from flask import request
from sqlalchemy import func, select

from core import db
from core.db import utcnow
from core.models import AuditEntry
from core.tenancy import current_tenant_id


def recent_count(
    action: str,
    minutes: int,
    *,
    ip: str | None = None,
    table_name: str | None = None,
    record_id: str | int | None = None,
) -> int:
    """How many audit entries ``action`` the current tenant wrote in the last ``minutes`` (from ``ip`` and/or
    about one ``table_name``/``record_id`` when given)."""
    since = utcnow() - dt.timedelta(minutes=minutes)
    statement = select(func.count(AuditEntry.id)).where(
        AuditEntry.tenant_id == current_tenant_id(), AuditEntry.action == action, AuditEntry.at >= since
    )
    if ip is not None:
        statement = statement.where(AuditEntry.ip == ip)
    if table_name is not None:
        statement = statement.where(AuditEntry.table_name == table_name)
    if record_id is not None:
        statement = statement.where(AuditEntry.record_id == str(record_id))
    return db.session.scalar(statement) or 0


def ip_throttled(action: str, limit: int, minutes: int, ip: str | None = None) -> bool:
    """Whether the client (``ip``, default: the request's address) reached ``limit`` ``action`` entries lately."""
    return recent_count(action, minutes, ip=ip or request.remote_addr or "") >= limit
