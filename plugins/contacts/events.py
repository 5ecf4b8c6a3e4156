"""Events other plugins emit that add entries to the timeline, and the contract of their payload.

See :data:`plugins.contacts.public.TIMELINE_EVENTS` for the documented events and their payload.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import select

from core import db

log = logging.getLogger(__name__)


def _when(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, str) and value:
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    return None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


def handle(event: Any) -> None:
    """Add a timeline entry for a documented event of another plugin; ignore everything else."""
    from .models import Company, Contact
    from .public import TIMELINE_EVENTS
    from .timeline import add_entry

    default_title = TIMELINE_EVENTS.get(event.name)
    if default_title is None:
        return
    payload = event.payload or {}
    contact_id, company_id = _int(payload.get("contact_id")), _int(payload.get("company_id"))
    # Only rows of this tenant (the tenant guard adds it) that are not in the trash.
    if contact_id is not None and db.session.scalar(select(Contact.id).where(Contact.id == contact_id)) is None:
        contact_id = None
    if company_id is not None and db.session.scalar(select(Company.id).where(Company.id == company_id)) is None:
        company_id = None
    if contact_id is None and company_id is None:
        log.info("event %s names no contact or company of this workspace; no timeline entry", event.name)
        return
    url = payload.get("url")
    add_entry(
        "system",
        contact_id=contact_id,
        company_id=company_id,
        subject=str(payload.get("title") or default_title)[:200],
        body=str(payload["body"])[:20000] if payload.get("body") else None,
        occurred_at=_when(payload.get("at")),
        user_id=event.user_id,
        source=event.name.split(".", 1)[0],
        url=url if isinstance(url, str) and url.startswith("/") and not url.startswith("//") else None,
    )
