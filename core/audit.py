"""The audit log: every create, update (field-level before/after) and delete of tenant-owned rows, and logins."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, insert, inspect
from sqlalchemy.orm import Session

from core.db import TenantOwned, TenantSession, utcnow
from core.models.audit import AuditEntry
from core.tenancy import current_tenant_id


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    label: str
    ip: str | None = None


_actor: ContextVar[Actor | None] = ContextVar("crm_actor", default=None)
BUFFER = "crm.audit_rows"


def set_actor(actor: Actor | None):
    return _actor.set(actor)


def reset_actor(token) -> None:
    _actor.reset(token)


def current_actor() -> Actor:
    return _actor.get() or Actor(None, "system")


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _audited(obj: Any) -> bool:
    return isinstance(obj, TenantOwned) and getattr(type(obj), "__audit__", True)


def _columns(obj: Any) -> list[Any]:
    exclude = type(obj).__audit_exclude__ | {"tenant_id", "version"}
    return [attr for attr in inspect(obj).mapper.column_attrs if attr.key not in exclude]


def _record_id(obj: Any) -> str:
    # From the attributes: in after_flush a new row has its primary key but not yet its identity key.
    key = inspect(obj).mapper.primary_key_from_instance(obj)
    return ",".join(str(part) for part in key if part is not None)


def _row(obj: Any, action: str, changes: dict[str, Any] | None) -> dict[str, Any]:
    actor = current_actor()
    return {
        "tenant_id": obj.tenant_id,
        "at": utcnow(),
        "user_id": actor.user_id,
        "actor": actor.label[:255],
        "ip": actor.ip,
        "action": action,
        "table_name": obj.__tablename__,
        "record_id": _record_id(obj),
        "summary": str(getattr(obj, "audit_label", "") or "")[:500],
        "changes": changes,
    }


@event.listens_for(TenantSession, "before_flush")
def _collect_updates_and_deletes(session: Session, flush_context: Any, instances: Any) -> None:
    rows = session.info.setdefault(BUFFER, [])
    for obj in session.dirty:
        if not _audited(obj) or not session.is_modified(obj, include_collections=False):
            continue
        state = inspect(obj)
        changes = {}
        for attr in _columns(obj):
            history = state.attrs[attr.key].history
            if history.has_changes():
                before = history.deleted[0] if history.deleted else None
                after = history.added[0] if history.added else None
                if before != after:
                    changes[attr.key] = [_plain(before), _plain(after)]
        if changes:
            rows.append(("update", obj, changes))
    for obj in session.deleted:
        if _audited(obj):
            snapshot = {attr.key: [_plain(getattr(obj, attr.key)), None] for attr in _columns(obj)}
            rows.append(("delete", obj, snapshot))


@event.listens_for(TenantSession, "after_flush")
def _write(session: Session, flush_context: Any) -> None:
    pending = session.info.pop(BUFFER, [])
    rows = [_row(obj, action, changes) for action, obj, changes in pending]
    for obj in session.new:
        if _audited(obj):
            created = {attr.key: [None, _plain(getattr(obj, attr.key))] for attr in _columns(obj)}
            created = {k: v for k, v in created.items() if v[1] not in (None, "", [])}
            rows.append(_row(obj, "create", created))
    if rows:
        session.connection().execute(insert(AuditEntry.__table__), rows)


def record(
    action: str,
    summary: str = "",
    *,
    user_id: int | None = None,
    actor: str | None = None,
    tenant_id: int | None = None,
    changes: dict[str, Any] | None = None,
    table_name: str | None = None,
    record_id: str | int | None = None,
) -> None:
    """Write one audit entry now (logins, exports, permission changes), in the current session; ``table_name``
    and ``record_id`` name the row it is about (a public form counted by :mod:`core.throttle`)."""
    from core import db

    current = current_actor()
    db.session.execute(
        insert(AuditEntry.__table__).values(
            tenant_id=tenant_id if tenant_id is not None else current_tenant_id(),
            at=utcnow(),
            user_id=user_id if user_id is not None else current.user_id,
            actor=(actor if actor is not None else current.label)[:255],
            ip=current.ip,
            action=action,
            summary=summary[:500],
            changes=changes,
            table_name=table_name,
            record_id=None if record_id is None else str(record_id),
        )
    )
