"""What the plugin does when the contacts plugin reports a change: merged contacts and companies take their deals,
involved people and leads along; a renamed company or contact is renamed on its deals (in bulk, then reindexed for
search, since bulk statements bypass the session's indexing)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update

from core import db

from .models import Lead, Opportunity, OpportunityContact

BATCH = 1000


def handle(event: Any) -> None:
    payload = event.payload or {}
    if event.name == "contacts.contact.merged":
        merge_contacts(int(payload["from_id"]), int(payload["into_id"]))
    elif event.name == "contacts.company.merged":
        merge_companies(int(payload["from_id"]), int(payload["into_id"]))
    elif event.name == "contacts.company.updated" and payload.get("id") is not None:
        refresh_company_name(int(payload["id"]))
    elif event.name == "contacts.contact.updated" and payload.get("id") is not None:
        refresh_contact_name(int(payload["id"]))


def _bulk(statement: Any) -> None:
    # Deals in the trash move too: restored, they must point at the surviving record.
    db.session.execute(statement.execution_options(synchronize_session=False, include_deleted=True))


def merge_contacts(from_id: int, into_id: int) -> None:
    """Deals, involved-people rows and leads of ``from_id`` now belong to ``into_id``."""
    from plugins.contacts import public as contacts

    summary = contacts.contact_summary(into_id)
    affected = select(Opportunity.id).where(Opportunity.contact_id == from_id)
    ids = list(db.session.scalars(affected.execution_options(include_deleted=True)))
    _bulk(
        update(Opportunity)
        .where(Opportunity.contact_id == from_id)
        .values(contact_id=into_id, contact_name=summary["name"] if summary else None)
    )
    # A deal that already involves the survivor keeps that row; the merged one's goes (the pair is unique).
    both = select(OpportunityContact.opportunity_id).where(OpportunityContact.contact_id == into_id)
    _bulk(
        delete(OpportunityContact).where(
            OpportunityContact.contact_id == from_id, OpportunityContact.opportunity_id.in_(both)
        )
    )
    _bulk(update(OpportunityContact).where(OpportunityContact.contact_id == from_id).values(contact_id=into_id))
    _bulk(update(Lead).where(Lead.contact_id == from_id).values(contact_id=into_id))
    _reindex(ids)


def merge_companies(from_id: int, into_id: int) -> None:
    """Deals and leads of company ``from_id`` now belong to ``into_id``."""
    from plugins.contacts import public as contacts

    summary = contacts.company_summary(into_id)
    ids = list(
        db.session.scalars(
            select(Opportunity.id).where(Opportunity.company_id == from_id).execution_options(include_deleted=True)
        )
    )
    values: dict[str, Any] = {"company_id": into_id}
    if summary:
        values["company_name"] = summary["name"]
    _bulk(update(Opportunity).where(Opportunity.company_id == from_id).values(**values))
    _bulk(update(Lead).where(Lead.company_id == from_id).values(company_id=into_id))
    _reindex(ids)


def refresh_company_name(company_id: int) -> None:
    """Copy a company's (new) name onto its deals; nothing is written when the name did not change."""
    from plugins.contacts import public as contacts

    _refresh_name(Opportunity.company_id, Opportunity.company_name, company_id, contacts.company_summary(company_id))


def refresh_contact_name(contact_id: int) -> None:
    """Copy a contact's (new) name onto the deals it is the main contact of."""
    from plugins.contacts import public as contacts

    _refresh_name(Opportunity.contact_id, Opportunity.contact_name, contact_id, contacts.contact_summary(contact_id))


def _refresh_name(id_column: Any, name_column: Any, record_id: int, summary: dict[str, Any] | None) -> None:
    if summary is None:
        return
    stale = (id_column == record_id, name_column.is_distinct_from(summary["name"]))
    ids = list(db.session.scalars(select(Opportunity.id).where(*stale).execution_options(include_deleted=True)))
    if ids:
        _bulk(update(Opportunity).where(*stale).values({name_column.key: summary["name"]}))
        _reindex(ids)


def _reindex(ids: list[int]) -> None:
    """Search tokens of the deals whose names changed, a batch at a time."""
    from core.entities.registry import all_entities
    from core.entities.search_index import index_records

    entity = all_entities()["opportunities"]
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        rows = db.session.execute(
            select(Opportunity.id, Opportunity.name, Opportunity.company_name, Opportunity.contact_name)
            .where(Opportunity.id.in_(chunk))
            .execution_options(include_deleted=True)
        )
        index_records(entity, [dict(row._mapping) for row in rows])
