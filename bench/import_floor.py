"""The database's own share of an import: the rows an import wrote, inserted again by the same bulk statements,
timed without any of the import's Python (reading, validating, building rows), then rolled back.

After ``bench/importer.py`` has committed, :func:`measure` takes the last ``sample`` contacts the import created,
their e-mail addresses, phone numbers, memberships and taggings, and the companies created with them, and inserts
copies (new ids; children pointing at the copies) through ``core.entities.bulk.insert_many``, the import's own
insert path (multi-row ``INSERT`` statements on SQLite, ``COPY`` on PostgreSQL), a thousand rows at a time, with
the import's SQLite page cache, but in this thread rather than the import's writer thread, so that each insert is
timed to its end. The result is what one imported row costs the database alone: an import on one connection
cannot be faster than that, whatever the Python around it does.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import func, select

BATCH = 1000
# The tables a contacts import writes, parents first; the column that points at a copied contact, if any.
TABLES = (
    ("contacts_companies", None),
    ("contacts_contacts", None),
    ("contacts_emails", "contact_id"),
    ("contacts_phones", "contact_id"),
    ("contacts_memberships", "contact_id"),
    ("taggings", "record_id"),
)


def last_ids(app: Any) -> dict[str, int]:
    """The largest id of every table an import writes (taken before the import: its rows come after)."""
    from core import db
    from core.db import Base

    with app.app_context():
        tables = Base.metadata.tables
        return {name: db.session.scalar(select(func.max(tables[name].c.id))) or 0 for name, _ref in TABLES}


def measure(app: Any, tenant_slug: str, before: dict[str, int], sample: int = 100_000) -> dict[str, Any]:
    """Insert copies of the import's last ``sample`` contacts and what came with them; microseconds per row of
    each table and per imported contact (wall time and this process's CPU time)."""
    from core import db
    from core.db import Base
    from core.entities.bulk import BulkWriter, insert_many
    from core.models import Tenant
    from core.tenancy import tenant_context

    tables = Base.metadata.tables
    contacts = tables["contacts_contacts"]
    figures: dict[str, Any] = {}
    with app.app_context():
        tenant = db.session.scalar(select(Tenant).where(Tenant.slug == tenant_slug))
        with tenant_context(tenant), BulkWriter(None).writing(behind=False):  # each insert timed to its end
            connection = db.session.connection()
            top = connection.execute(select(func.max(contacts.c.id))).scalar_one()
            low = max(before["contacts_contacts"], top - sample)
            copied = top - low
            shift = {name: connection.execute(select(func.max(tables[name].c.id))).scalar_one() for name, _r in TABLES}
            wall = cpu = 0.0
            companies = _companies_share(connection, tables, before, copied)
            for name, reference in TABLES:
                table = tables[name]
                if reference is None:
                    share = copied if name == "contacts_contacts" else companies
                    where = table.c.id > max(before[name], shift[name] - share)
                else:
                    where = (table.c[reference] > low) & (table.c.id > before[name])
                    if name == "taggings":
                        where &= table.c.entity == "contacts"
                where &= table.c.id <= shift[name]  # not the copies this loop inserts into the table it reads
                count, spent, used = 0, 0.0, 0.0
                statement = select(table).where(where).order_by(table.c.id).execution_options(yield_per=BATCH)
                for chunk in connection.execute(statement).mappings().partitions(BATCH):
                    rows = [dict(row) for row in chunk]
                    for row in rows:
                        row["id"] += shift[name]
                        if reference is not None:
                            row[reference] += shift["contacts_contacts"]
                    started, cpu_started = time.perf_counter(), time.process_time()
                    insert_many(connection, table, rows)
                    spent += time.perf_counter() - started
                    used += time.process_time() - cpu_started
                    count += len(rows)
                figures[name] = {
                    "rows": count,
                    "us_per_row": round(spent / count * 1e6, 1) if count else None,
                    "cpu_us_per_row": round(used / count * 1e6, 1) if count else None,
                }
                wall, cpu = wall + spent, cpu + used
            db.session.rollback()
    per_contact = wall / copied * 1e6 if copied else None
    return {
        "contacts": copied,
        "tables": figures,
        "us_per_imported_row": round(per_contact, 1) if per_contact else None,
        "cpu_us_per_imported_row": round(cpu / copied * 1e6, 1) if copied else None,
        "rows_per_s_at_most": round(1e6 / per_contact) if per_contact else None,
    }


def _companies_share(connection: Any, tables: Any, before: dict[str, int], copied: int) -> int:
    """How many companies go with ``copied`` contacts: the import's own ratio of new companies to new contacts."""

    def created(name: str) -> int:
        table = tables[name]
        return connection.execute(select(func.count()).where(table.c.id > before[name])).scalar_one()

    contacts = created("contacts_contacts")
    return round(copied * created("contacts_companies") / contacts) if contacts else 0
