"""Rows of the opportunities benchmark: N deals in one tenant (plus noise tenants), with their stage history.

Most deals are closed (won or lost) over five years, about a tenth are open over the open stages; owners are ~50
sales users in 5 departments. Each deal and its history come from ``plugins.opportunities.demo.deal`` (the same
walk through the stages as the demo data), inserted in bulk with ids assigned here, so history rows need no
round trip. Afterwards the tables are analysed, so the planner knows their sizes (and on PostgreSQL vacuumed, as
autovacuum would soon do, so the board's and the forecast's index-only scans need not visit the table).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select, text

CHUNK = 5000
PRODUCTS = ["ERP 導入", "CRM 年約", "雲端主機", "資安稽核", "POS 系統", "產線自動化", "維護合約", "Cloud backup"]
SOURCES = ["Website", "Referral", "Trade show", "Cold call", "Partner"]
LOST_REASONS = ["Price too high", "Chose a competitor", "No budget", "No decision", "Timing"]


def deals(
    rng: random.Random,
    stages: list[Any],
    tenant_id: int,
    owners: list[tuple[int, int]],
    count: int,
    first_id: int,
    now: dt.datetime,
) -> Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """Chunks of (opportunity rows, stage history rows) with ids ``first_id`` upwards."""
    from plugins.opportunities.demo import deal
    from plugins.opportunities.models import LOST, OPEN, WON

    rows: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    for number in range(count):
        ident = first_id + number
        status = rng.choices([OPEN, WON, LOST], [10, 40, 50])[0]
        days = rng.uniform(0, 120) if status == OPEN else rng.uniform(10, 5 * 365)
        created = now - dt.timedelta(days=days, seconds=rng.randrange(86400))
        amount = Decimal(rng.randrange(20, 3000) * 1000)
        row, stays = deal(rng, stages, status, created, now, amount)
        owner, department = owners[rng.randrange(len(owners))]
        row.update(
            id=ident,
            tenant_id=tenant_id,
            name=f"{PRODUCTS[number % len(PRODUCTS)]} #{ident}",
            company_name=f"客戶{rng.randrange(1, max(2, count // 10))}",
            currency="TWD",
            owner_id=owner,
            department_id=department,
            created_by_id=owner,
            source=SOURCES[rng.randrange(len(SOURCES))],
            lost_reason=LOST_REASONS[rng.randrange(len(LOST_REASONS))] if status == LOST else None,
            version=1,
        )
        rows.append(row)
        for stay in stays:
            stay.update(tenant_id=tenant_id, opportunity_id=ident, user_id=owner)
            history.append(stay)
        if len(rows) >= CHUNK:
            yield rows, history
            rows, history = [], []
    if rows:
        yield rows, history


def load(app: Any, tenant: Any, owners: list[tuple[int, int]], count: int, seed: int) -> int:
    """Insert ``count`` deals into ``tenant``; returns the number of stage history rows."""
    from core import db
    from core.tenancy import tenant_context
    from plugins.opportunities.demo import stage_infos
    from plugins.opportunities.models import Opportunity, Pipeline, StageHistory
    from plugins.opportunities.pipelines import ensure_default_pipeline

    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    written = 0
    with app.app_context(), tenant_context(tenant):
        pipeline = ensure_default_pipeline()
        db.session.commit()
        stages = stage_infos(db.session)[pipeline.id]
        # Ids go on from the largest of every tenant (a plain statement: the tenant guard would see this one's only).
        start = (db.session.scalar(text("SELECT max(id) FROM opportunities_opportunities")) or 0) + 1
        for rows, history in deals(rng, stages, tenant.id, owners, count, start, now):
            db.session.execute(insert(Opportunity), rows)
            db.session.execute(insert(StageHistory), history)
            db.session.commit()
            written += len(history)
        assert db.session.scalar(select(func.count(Pipeline.id))) >= 1
    return written


def finish(app: Any) -> None:
    """Sequences past the ids given here (PostgreSQL), then statistics for the planner."""
    engine = app.extensions["crm.db"].engine
    tables = ("opportunities_opportunities", "opportunities_stage_history")
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            for table in tables:
                connection.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
                )
            connection.execute(text("ANALYZE"))
        elif engine.dialect.name == "sqlite":
            connection.execute(text("ANALYZE"))
        else:
            connection.execute(text("ANALYZE TABLE " + ", ".join(tables)))
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM (ANALYZE) " + ", ".join(tables)))
