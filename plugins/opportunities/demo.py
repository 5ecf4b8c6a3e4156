"""Demo data for ``crm quickstart``: a second pipeline, leads, opportunities with a consistent stage history,
quotas, a web form and assignment rules, over the contacts plugin's demo companies and people.

Rows go in with bulk INSERTs. :func:`deal` builds one opportunity and its stage history as plain rows from a
seeded random generator; the benchmark (``bench/opportunities_data.py``) builds its million deals with it too.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from core.db import utcnow
from core.demo import bulk_insert, demo_colleagues

from .choices import DISQUALIFY_REASONS, LEAD_SOURCES, LOST_REASONS
from .models import (
    LOST,
    OPEN,
    WON,
    AssignmentRule,
    Lead,
    Opportunity,
    Pipeline,
    Quota,
    Stage,
    StageHistory,
    WebForm,
)

LEADS = 60
OPPORTUNITIES = 250
RENEWALS = _l("Renewals")
RENEWAL_STAGES = (
    (_l("Renewal due"), 60, OPEN, "best_case"),
    (_l("Quote sent"), 75, OPEN, "commit"),
    (_l("Renewed"), 100, WON, "commit"),
    (_l("Churned"), 0, LOST, "pipeline"),
)
PRODUCTS = ["ERP 導入", "CRM 年約", "雲端主機", "資安稽核", "POS 系統", "產線自動化", "教育訓練", "維護合約"]
ENGLISH_PRODUCTS = ["Cloud backup", "Data platform", "Support plan", "Network upgrade", "Analytics suite"]
LEAD_NAMES = [
    "陳怡君",
    "林志豪",
    "黃淑芬",
    "張家豪",
    "李佳穎",
    "王俊傑",
    "吳雅雯",
    "劉冠宇",
    "蔡宗翰",
    "楊欣怡",
    "Kevin Wu",
    "Amy Lin",
    "Jason Chang",
    "Grace Huang",
    "Emily Chen",
]
LEAD_COMPANIES = [
    "晨光科技",
    "大同精機",
    "宏遠貿易",
    "新光物流",
    "Brightway Ltd.",
    "Apex Foods",
    "青峰設計",
    "北辰電子",
]


@dataclass(frozen=True)
class StageInfo:
    id: int
    pipeline_id: int
    position: int
    probability: int
    kind: str


def stage_infos(session: Any) -> dict[int, list[StageInfo]]:
    """The stages of every pipeline by pipeline id, in order."""
    result: dict[int, list[StageInfo]] = {}
    statement = select(Stage.id, Stage.pipeline_id, Stage.position, Stage.probability, Stage.kind).order_by(
        Stage.pipeline_id, Stage.position
    )
    for row in session.execute(statement):
        result.setdefault(row.pipeline_id, []).append(StageInfo(*row))
    return result


def deal(
    rng: random.Random,
    stages: Sequence[StageInfo],
    status: str,
    created: dt.datetime,
    now: dt.datetime,
    amount: Decimal,
    rate: Decimal = Decimal(1),
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One opportunity's derived columns and its stage history as rows (no ids, tenant or owner yet).

    The deal walks the open stages in order from ``created``: an open deal stops in one of them, a won deal goes
    through all of them to the won stage, a lost one leaves for the lost stage from wherever it got to. Each stay
    takes days to weeks; the last history row has no ``left_at``. Closed deals close before ``now``."""
    open_stages = [s for s in stages if s.kind == OPEN]
    won = next(s for s in stages if s.kind == WON)
    lost = next(s for s in stages if s.kind == LOST)
    if status == OPEN:
        reached = rng.choices(range(len(open_stages)), [5, 4, 3, 2][: len(open_stages)] or None)[0]
        path = open_stages[: reached + 1]
    elif status == WON:
        path = [*open_stages, won]
    else:
        path = [*open_stages[: rng.randrange(len(open_stages)) + 1], lost]
    base = (amount * rate).quantize(Decimal("0.01"))
    span = max((now - created).total_seconds(), 3600.0)
    # Split the time from creation to now (closed deals: to a moment before now) over the stays.
    end = created + dt.timedelta(seconds=span * (rng.uniform(0.5, 0.95) if status != OPEN else 1.0))
    cuts = sorted(rng.uniform(0, 1) for _ in range(len(path) - 1))
    moments = [created] + [created + (end - created) * c for c in cuts]
    if status != OPEN:
        moments[-1] = max(moments[-1], end - dt.timedelta(hours=rng.uniform(1, 48)))
    history = []
    for index, (stage, entered) in enumerate(zip(path, moments, strict=True)):
        left = moments[index + 1] if index + 1 < len(moments) else None
        history.append(
            {
                "pipeline_id": stage.pipeline_id,
                "stage_id": stage.id,
                "entered_at": entered,
                "left_at": left,
                "amount_base": base,
                "probability": 100 if stage.kind == WON else 0 if stage.kind == LOST else stage.probability,
            }
        )
    current = path[-1]
    entered = moments[-1]
    furthest = max(s.position for s in path if s.kind == OPEN)
    row: dict[str, Any] = {
        "pipeline_id": current.pipeline_id,
        "stage_id": current.id,
        "status": current.kind,
        "probability": history[-1]["probability"],
        "stage_entered_at": entered,
        "furthest_position": furthest,
        "amount": amount,
        "amount_base": base,
        "created_at": created,
        "updated_at": entered,
    }
    if status == OPEN:
        row["expected_close_date"] = (now + dt.timedelta(days=rng.uniform(-20, 180))).date()
        row.update(closed_at=None, closed_on=None, cycle_days=None)
    else:
        row["expected_close_date"] = (entered + dt.timedelta(days=rng.uniform(-15, 10))).date()
        row.update(closed_at=entered, closed_on=entered.date(), cycle_days=max(0, (entered - created).days))
    return row, history


def _index(plural: str, rows: list[dict[str, Any]], ids: list[int]) -> None:
    """Search tokens for rows inserted in bulk (the ORM indexes only what it writes itself)."""
    from core.entities.registry import all_entities
    from core.entities.search_index import index_records

    index_records(all_entities()[plural], [{**row, "id": i} for row, i in zip(rows, ids, strict=True)], fresh=True)


def _when(rng: random.Random, now: dt.datetime, days_back: float, days_min: float = 0) -> dt.datetime:
    return now - dt.timedelta(days=rng.uniform(days_min, days_back), minutes=rng.randrange(0, 600))


def load(tenant: Any, session: Any, leads: int = LEADS, opportunities: int = OPPORTUNITIES) -> None:
    """Add the demo rows to ``tenant`` (the caller commits)."""
    from flask_babel import force_locale

    from plugins.contacts.models import Company, Contact

    from .money import exchange_rates
    from .pipelines import create_pipeline, ensure_default_pipeline, forget_cache

    rng = random.Random(f"guanxi-opportunities-demo-{tenant.slug}")
    now = utcnow()
    users, departments, sales_ids = demo_colleagues(session)
    if not users:
        return
    sales = sorted(sales_ids) or [users[0].id]
    with force_locale(tenant.default_locale):
        default = ensure_default_pipeline()
        renewals = session.scalar(select(Pipeline).where(Pipeline.name == str(RENEWALS)))
        if renewals is None:
            renewals = create_pipeline(str(RENEWALS), RENEWAL_STAGES, position=1)
        # The workspace's own lists (stored in its language), so every demo record passes its form's checks.
        sources = LEAD_SOURCES.values()
        lost_reasons = LOST_REASONS.values()
        disqualify = DISQUALIFY_REASONS.values()
        website = sources[1] if len(sources) > 1 else sources[0]  # "Website" in the default list, in any language
    session.flush()
    forget_cache()
    stages = stage_infos(session)
    rates = exchange_rates()
    companies = list(session.execute(select(Company.id, Company.name, Company.owner_id).order_by(Company.id)))
    contacts_by_company: dict[int, list[tuple[int, str]]] = {}
    loose_contacts: list[tuple[int, str]] = []
    for row in session.execute(select(Contact.id, Contact.name, Contact.company_id).order_by(Contact.id)):
        if row.company_id is not None:
            contacts_by_company.setdefault(row.company_id, []).append((row.id, row.name))
        else:
            loose_contacts.append((row.id, row.name))

    # Opportunities: a third open, the rest closed (more won than lost), over the past year and the next half.
    deal_rows: list[dict[str, Any]] = []
    histories: list[list[dict[str, Any]]] = []
    for index in range(opportunities):
        pipeline = renewals if index % 5 == 4 else default
        status = rng.choices([OPEN, WON, LOST], [35, 38, 27])[0]
        created = _when(rng, now, 365, 5 if status != OPEN else 0)
        currency = "USD" if rng.random() < 0.06 else "TWD"
        amount = Decimal(rng.choice([30, 50, 80, 120, 150, 200, 300, 450, 600, 900, 1500, 2800])) * 1000
        amount += Decimal(rng.randrange(0, 100)) * 100
        if currency == "USD":
            amount = (amount / 30).quantize(Decimal("100"))
        row, history = deal(rng, stages[pipeline.id], status, created, now, amount, rates.get(currency, Decimal(1)))
        owner = rng.choice(sales) if rng.random() < 0.9 else rng.choice(users).id
        company = rng.choice(companies) if companies else None
        people = contacts_by_company.get(company.id, []) if company is not None else loose_contacts
        contact = rng.choice(people) if people else None
        product = rng.choice(PRODUCTS if rng.random() < 0.8 else ENGLISH_PRODUCTS)
        name = f"{company.name} {product}" if company is not None else product
        if pipeline is renewals:
            name = f"{name} 續約"
        row.update(
            {
                "tenant_id": tenant.id,
                "name": name[:200],
                "company_id": company.id if company is not None else None,
                "company_name": company.name if company is not None else None,
                "contact_id": contact[0] if contact else None,
                "contact_name": contact[1] if contact else None,
                "currency": currency,
                "owner_id": owner,
                "department_id": departments.get(owner),
                "created_by_id": owner,
                "source": rng.choice(sources),
                "lost_reason": rng.choice(lost_reasons) if status == LOST else None,
                "next_step": rng.choice(["安排簡報", "寄送報價", "確認預算", "Demo", None]) if status == OPEN else None,
                "version": 1,
            }
        )
        for item in history:
            item.update(tenant_id=tenant.id, user_id=owner)
        deal_rows.append(row)
        histories.append(history)
    ids = bulk_insert(session, Opportunity, deal_rows, ids=True)
    bulk_insert(
        session,
        StageHistory,
        [{**item, "opportunity_id": i} for i, history in zip(ids, histories, strict=True) for item in history],
    )
    _index("opportunities", deal_rows, ids)

    # Leads: new, contacted and qualified ones, a few disqualified, some converted into the deals above.
    lead_rows = []
    won_ids = [i for i, row in zip(ids, deal_rows, strict=True) if row["status"] != LOST]
    for index in range(leads):
        name = rng.choice(LEAD_NAMES)
        status = rng.choices(["new", "contacted", "qualified", "disqualified"], [5, 4, 3, 1])[0]
        created = _when(rng, now, 120)
        owner = rng.choice(sales)
        converted = status == "qualified" and index % 3 == 0 and won_ids
        lead_rows.append(
            {
                "tenant_id": tenant.id,
                "name": name,
                "company_name": rng.choice(LEAD_COMPANIES),
                "title": rng.choice(["經理", "採購", "Director", "IT 主管", None]),
                "email": f"lead{index + 1}@example.com",
                "phone": f"09{rng.randrange(10, 99)}-{rng.randrange(100, 999)}-{rng.randrange(100, 999)}",
                "phone_digits": None,
                "source": rng.choice(sources),
                "status": status,
                "disqualify_reason": rng.choice(disqualify) if status == "disqualified" else None,
                "owner_id": owner,
                "department_id": departments.get(owner),
                "created_by_id": owner,
                "created_at": created,
                "updated_at": created,
                "converted_at": created + dt.timedelta(days=rng.uniform(1, 10)) if converted else None,
                "opportunity_id": rng.choice(won_ids) if converted else None,
                "version": 1,
            }
        )
    for row in lead_rows:
        row["phone_digits"] = "".join(c for c in row["phone"] if c.isdigit())
    lead_ids = bulk_insert(session, Lead, lead_rows, ids=True)
    _index("leads", lead_rows, lead_ids)

    # Quotas: each sales person per quarter of this year, and the year.
    year = now.year
    quota_rows = []
    for user_id in sales:
        quarterly = Decimal(rng.choice([1800, 2400, 3000, 3600])) * 1000
        for quarter in range(4):
            start = dt.date(year, quarter * 3 + 1, 1)
            quota_rows.append(
                {
                    "tenant_id": tenant.id,
                    "user_id": user_id,
                    "period": "quarter",
                    "period_start": start,
                    "amount": quarterly,
                }
            )
        quota_rows.append(
            {
                "tenant_id": tenant.id,
                "user_id": user_id,
                "period": "year",
                "period_start": dt.date(year, 1, 1),
                "amount": quarterly * 4,
            }
        )
    bulk_insert(session, Quota, quota_rows)

    form = WebForm(
        token=secrets.token_urlsafe(32),
        name="官網聯絡表單",
        source=website,
        fields=["name", "company_name", "email", "phone", "notes"],
        required_fields=["name", "email"],
        thank_you_message="謝謝您的來信，我們將盡快與您聯繫。",
    )
    session.add(form)
    north = departments.get(sales[0])
    session.add_all(
        [
            AssignmentRule(name="官網名單輪派", position=0, source=website, method="round_robin", department_id=north),
            AssignmentRule(name="其他來源", position=1, source=None, method="fixed", user_id=sales[-1]),
        ]
    )
    session.flush()
