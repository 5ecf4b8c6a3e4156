"""``python -m bench contacts --rows N``: N contacts in one tenant, measured over HTTP and against the SQL floor.

Steps: pick the database (``--database``, ``CRM_DATABASE_URL`` or a SQLite file in a temporary folder; a
PostgreSQL or MariaDB database is dropped and created), run the migrations, create the bench tenant with 20 sales
users in 4 departments and the bench user (every ``contacts.*`` permission with ``--scope``), two noise tenants,
then generate the rows (``bench/contacts_data.py``). Serve the app with gunicorn (two workers), sign in over HTTP,
and measure each operation: warm-up, sequential requests (latency at the server from the ``Server-Timing``
header, and at the client), then a few concurrent clients (requests per second). In the same run the SQL the app
runs for each operation is captured in-process and replayed on a bare driver connection: ``sql_floor_ms`` for the
query layer's statements (``fetch_page``/``count``, the search), ``sql_all_ms`` and ``queries`` for every
statement of the whole request. Last, an import of N rows runs in a process of its own (``bench/importer.py``).
Prints the JSON report, then a short table.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import html
import json
import os
import random
import re
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench import contacts_data as data
from bench.harness import (
    BENCH_PASSWORD,
    ROOT,
    Answer,
    BenchDatabase,
    HttpClient,
    MemorySampler,
    Operation,
    Server,
    Settings,
    capture,
    drop_database,
    explain,
    log,
    machine,
    make_app,
    measure,
    migrate,
    new_secret,
    replay,
    resolve_database,
    run_cli,
    save_report,
)

BENCH_TENANT = "bench"
NOISE_TENANTS = ("noise-a", "noise-b")
BENCH_EMAIL = "bench@bench.example.com"
SALES_USERS = 20
DEPARTMENTS = ("北區業務部", "中區業務部", "南區業務部", "海外業務部")
DEEP_PAGES = 100
FILTER_TAG = data.TAGS[0]
FILTER_REGION = data.REGIONS[0][0]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rows", type=int, default=100_000, help="Contacts in the bench tenant (default 100,000).")
    parser.add_argument("--database", help="Database URL (default: CRM_DATABASE_URL, else SQLite in a temp folder).")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2).")
    parser.add_argument("--threads", type=int, default=4, help="Threads per gunicorn worker (default 4).")
    parser.add_argument("--requests", type=int, default=60, help="Sequential requests per operation (default 60).")
    parser.add_argument("--warmup", type=int, default=5, help="Warm-up requests per operation (default 5).")
    parser.add_argument("--concurrency", type=int, default=4, help="Clients of the throughput run (default 4).")
    parser.add_argument("--duration", type=float, default=5.0, help="Seconds of the throughput run (default 5).")
    parser.add_argument("--noise-rows", type=int, default=5000, help="Contacts in each of two other tenants.")
    parser.add_argument("--import-rows", type=int, help="Rows of the import (default: --rows).")
    parser.add_argument("--scope", choices=("all", "department", "own"), default="all", help="The bench user's scope.")
    parser.add_argument("--seed", type=int, default=20251126)
    parser.add_argument(
        "--only", help="Comma-separated operations to measure (default: all); 'import' alone: only the import."
    )
    parser.add_argument("--skip-import", action="store_true", help="Do not measure the import.")
    parser.add_argument(
        "--import-floor",
        type=int,
        default=100_000,
        help="Contacts whose rows are inserted again after the import to time the database alone (0: not done).",
    )
    parser.add_argument(
        "--import-timeout", type=float, default=1800, help="Stop the import after this many seconds (default 1800)."
    )
    parser.add_argument("--explain", metavar="FILE", help="Write the query plans of every operation to FILE.")
    parser.add_argument("--quick", action="store_true", help="A smoke run: few requests, short throughput runs.")
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards (and print its URL).")
    parser.add_argument(
        "--reuse", action="store_true", help="Measure an existing database made with --keep (no generation)."
    )
    parser.add_argument("--output", metavar="FILE", help="Also write the JSON report to FILE.")
    parser.add_argument(
        "--plugins", help="Comma-separated plugin modules to load instead of the installed plugins (entry points)."
    )


# -------------------------------------------------------------------------------------------- set-up


@dataclass
class Setup:
    tenant: Any
    user_id: int
    api_secret: str
    rows: int
    samples: data.Samples
    generation: dict[str, Any] = field(default_factory=dict)


def _grant_group(name: str, permissions: list[str], scope: str) -> Any:
    from core import db
    from core.models import Grant, Group

    group = Group(name=name, description="benchmark")
    db.session.add(group)
    db.session.flush()
    for permission in permissions:
        db.session.add(Grant(group_id=group.id, permission=permission, scope=scope))
    return group


def _create_tenant(app: Any, slug: str, seed: int) -> data.TenantPlan:
    """A tenant with departments, sales users, tags and two custom fields on contacts."""
    from core import db
    from core.entities import custom_fields
    from core.entities.tags import Tag
    from core.models import Department, UserDepartment
    from core.provisioning import create_tenant, create_user
    from core.tenancy import tenant_context

    with app.app_context():
        tenant = create_tenant(slug, f"{slug.title()} Co.", locale="zh_Hant")
        db.session.flush()
        with tenant_context(tenant):
            departments = []
            for name in DEPARTMENTS:
                department = Department(name=name)
                db.session.add(department)
                departments.append(department)
            db.session.flush()
            users: list[int] = []
            user_department: dict[int, int] = {}
            for number in range(1, SALES_USERS + 1):
                user = create_user(f"sales{number:02d}@{slug}.example.com", name=f"業務{number:02d}", groups=["sales"])
                department = departments[number % len(departments)]
                db.session.add(UserDepartment(user_id=user.id, department_id=department.id))
                users.append(user.id)
                user_department[user.id] = department.id
            tags = [Tag(name=name) for name in data.TAGS]
            db.session.add_all(tags)
            region = custom_fields.create_field(
                "contacts", key="region", label="地區", type="choice", choices=[list(c) for c in data.REGIONS]
            )
            score = custom_fields.create_field("contacts", key="score", label="分數", type="number")
            db.session.flush()
            plan = data.TenantPlan(
                tenant=tenant,
                contacts=0,
                companies=0,
                users=users,
                departments=user_department,
                tag_ids=[tag.id for tag in tags],
                region_field=region.id,
                score_field=score.id,
            )
        db.session.commit()
        db.session.expunge_all()
    return plan


def _bench_user(app: Any, plan: data.TenantPlan, scope: str) -> int:
    """The user the benchmark signs in as: every contacts permission with ``scope``, in the first department."""
    from core import db
    from core.models import UserDepartment
    from core.permissions import registry
    from core.provisioning import create_user
    from core.tenancy import tenant_context

    with app.app_context(), tenant_context(plan.tenant):
        permissions = sorted(name for name in registry() if name.startswith("contacts."))
        group = _grant_group("Benchmark", permissions, scope)
        user = create_user(BENCH_EMAIL, password=BENCH_PASSWORD, name="Bench", groups=[group], locale="zh_Hant")
        department_id = plan.departments[plan.users[0]]
        db.session.add(UserDepartment(user_id=user.id, department_id=department_id))
        db.session.commit()
        plan.users.append(user.id)
        plan.departments[user.id] = department_id
        return user.id


def _api_secret(app: Any, tenant: Any, user_id: int) -> str:
    from core import db
    from core.api.tokens import issue_token
    from core.models import User
    from core.tenancy import tenant_context

    with app.app_context(), tenant_context(tenant):
        _token, secret = issue_token(db.session.get(User, user_id), "benchmark")
        db.session.commit()
    return secret


def generate(app: Any, args: argparse.Namespace) -> Setup:
    noise_rows = min(args.noise_rows, max(args.rows, 100))
    plans = [_create_tenant(app, slug, args.seed + n) for n, slug in enumerate((*NOISE_TENANTS, BENCH_TENANT))]
    for plan, rows in zip(plans, (noise_rows, noise_rows, args.rows), strict=True):
        plan.contacts = rows
        plan.companies = max(10, rows // 20)
    bench_plan = plans[-1]
    user_id = _bench_user(app, bench_plan, args.scope)
    loader = data.Loader(app)
    started = time.perf_counter()
    loader.start()
    for number, plan in enumerate(plans):
        data.load_tenant(loader, plan, args.seed + 100 * number)
    loaded = time.perf_counter() - started
    loader.finish()
    seconds = time.perf_counter() - started
    total = sum(plan.contacts for plan in plans)
    generation = {
        "contacts": total,
        "seconds": round(seconds, 1),
        "load_seconds": round(loaded, 1),
        "index_seconds": round(seconds - loaded, 1),
        "rows_per_s": round(total / seconds),
    }
    log(f"generated {total:,} contacts in {seconds:.0f} s")
    secret = _api_secret(app, bench_plan.tenant, user_id)
    return Setup(bench_plan.tenant, user_id, secret, args.rows, samples(app, bench_plan.tenant, args.seed), generation)


def reuse(app: Any, args: argparse.Namespace) -> Setup:
    """The tenant and user of a database generated earlier with ``--keep``."""
    from core import db
    from core.models import Tenant, User
    from core.tenancy import tenant_context
    from plugins.contacts.models import Contact

    with app.app_context():
        tenant = db.session.scalar(select(Tenant).where(Tenant.slug == BENCH_TENANT))
        if tenant is None:
            raise SystemExit("--reuse: this database holds no bench tenant; run once with --keep first")
        with tenant_context(tenant):
            user_id = db.session.scalar(select(User.id).where(User.email == BENCH_EMAIL))
            rows = db.session.scalar(select(func.count(Contact.id))) or 0
        db.session.expunge(tenant)
    log(f"reusing the bench tenant: {rows:,} contacts")
    return Setup(tenant, user_id, _api_secret(app, tenant, user_id), rows, samples(app, tenant, args.seed))


def samples(app: Any, tenant: Any, seed: int) -> data.Samples:
    """Query values taken from random rows of the bench tenant (so every search finds something)."""
    from core import db
    from core.tenancy import tenant_context
    from plugins.contacts.models import Contact, Interaction

    rng = random.Random(seed)
    found = data.Samples()
    with app.app_context(), tenant_context(tenant):
        low, high = db.session.execute(select(func.min(Contact.id), func.max(Contact.id))).one()
        ids = sorted({rng.randint(low, high) for _n in range(300)})
        rows = db.session.execute(select(Contact.id, Contact.name, Contact.mobile).where(Contact.id.in_(ids))).all()
        for row in rows:
            digits = "".join(ch for ch in row.mobile or "" if ch.isdigit())
            if len(digits) >= 6 and len(found.phones) < 50:
                found.phones.append(digits[-6:])
            if not row.name.isascii() and len(row.name) >= 3 and len(found.chinese_fragments) < 50:
                found.chinese_fragments.append(row.name[1:3])
            if row.name.isascii() and len(found.latin_prefixes) < 50:
                found.latin_prefixes.append(row.name.split()[-1][:4].lower())
        found.common_fragments = [
            word
            for word in data.INDUSTRY_WORDS
            if db.session.scalar(select(Contact.id).where(Contact.company_name.contains(word)).limit(1))
        ][:1] or [data.INDUSTRY_WORDS[0]]
        start = rng.randint(low, high)
        timeline = db.session.scalars(
            select(Interaction.contact_id)
            .where(Interaction.contact_id >= start)
            .group_by(Interaction.contact_id)
            .order_by(Interaction.contact_id)
            .limit(50)
        ).all()
        found.contact_ids_with_timeline = list(timeline) or ids[:50]
    return found


# ------------------------------------------------------------------------------------------ operations


@dataclass
class Context:
    """URLs and values the operations need, computed in-process before the server starts."""

    list_url: str
    deep_after: str
    detail_urls: list[str]
    search_url: str
    api_list_url: str
    filtered_query: dict[str, str]
    counter: list[int] = field(default_factory=lambda: [0])


def _deep_cursor(app: Any, setup: Setup) -> str:
    """The ``after`` cursor of page ``DEEP_PAGES`` of the default list, followed page by page."""
    from core import db
    from core.entities import query as lq
    from core.entities.registry import all_entities
    from core.models import User
    from core.tenancy import tenant_context

    with app.app_context(), tenant_context(setup.tenant):
        entity = all_entities()["contacts"]
        user = db.session.get(User, setup.user_id)
        query = lq.parse(entity, {})
        cursor = ""
        for _page in range(DEEP_PAGES):
            page = lq.fetch_page(entity, query, "view", user)
            if not page.next_cursor:
                break
            cursor = query.after = page.next_cursor
            db.session.expunge_all()
    return cursor


def build_context(app: Any, setup: Setup) -> Context:
    with app.test_request_context():
        from flask import url_for

        list_url = url_for("contacts_contacts.list")
        ids = setup.samples.contact_ids_with_timeline
        detail_urls = [url_for("contacts_contacts.detail", record_id=i) for i in ids]
        search_url = url_for("home.search") if "home.search" in app.view_functions else "/search"
        api_list_url = url_for("contacts_contacts_api.list")
    return Context(
        list_url=list_url,
        deep_after=_deep_cursor(app, setup),
        detail_urls=detail_urls,
        search_url=search_url,
        api_list_url=api_list_url,
        filtered_query={"tag": FILTER_TAG, "cf_region": FILTER_REGION},
    )


LAZY_URL = re.compile(r'data-lazy-url="([^"]+)"')


def lazy_urls(page: str) -> list[str]:
    """The URLs of the panels a page loads after it has been shown."""
    return [html.unescape(url) for url in LAZY_URL.findall(page)]


def _rotate(values: list[str], i: int) -> str:
    return values[i % len(values)]


def operations(ctx: Context, setup: Setup, run_id: str) -> list[Operation]:
    s = setup.samples

    def get(path: str, **params: Any) -> Callable[[HttpClient, int], Answer]:
        return lambda client, i: client.get(path, **params)

    def search(values: list[str]) -> Callable[[HttpClient, int], Answer]:
        return lambda client, i: client.get(ctx.search_url, q=_rotate(values, i))

    def create(client: HttpClient, i: int) -> Answer:
        ctx.counter[0] += 1
        n = ctx.counter[0]
        return client.post_json(
            ctx.api_list_url,
            {
                "name": f"壓測{n}號",
                "email": f"api.{run_id}.{n}@bench-api.example.com",
                "mobile": f"0987-{n % 1000:03d}-{(n // 1000) % 1000:03d}",
                "title": "採購經理",
            },
        )

    def panels(client: HttpClient, i: int) -> Answer:
        """The lazy panels of a detail page, fetched one after the other as the page's script does."""
        page = client.get(_rotate(ctx.detail_urls, i))
        if page.status != 200:
            return page
        total = Answer(200, b"", 0.0, 0.0, {})
        for url in lazy_urls(page.body.decode("utf-8", "replace")):
            answer = client.get(url)
            if answer.status != 200:
                return answer
            total.client_ms += answer.client_ms
            total.server_ms = (total.server_ms or 0.0) + (answer.server_ms or 0.0)
        return total

    return [
        Operation("list_page1", "page", get(ctx.list_url), description="contacts list, page 1 (25 rows, count)"),
        Operation(
            "list_deep",
            "page",
            get(ctx.list_url, after=ctx.deep_after),
            description=f"contacts list, page {DEEP_PAGES + 1} (after cursor)",
        ),
        Operation(
            "list_filtered",
            "page",
            get(ctx.list_url, **ctx.filtered_query),
            description=f"contacts list filtered by tag {FILTER_TAG} and custom field region={FILTER_REGION}",
        ),
        Operation(
            "search_chinese",
            "search",
            search(s.chinese_fragments),
            description="global search, two Chinese characters of a given name (rotating)",
        ),
        Operation(
            "search_chinese_common",
            "search",
            search(s.common_fragments),
            description=f"global search, {s.common_fragments[0]} (an industry word, in about 1 company name in 12)",
        ),
        Operation("search_latin", "search", search(s.latin_prefixes), description="global search, 4-letter prefix"),
        Operation("search_phone", "search", search(s.phones), description="global search, last 6 digits of a mobile"),
        Operation(
            "detail",
            "page",
            lambda client, i: client.get(_rotate(ctx.detail_urls, i)),
            description="contact detail page with its panels (contacts with timeline entries, rotating)",
        ),
        Operation(
            "detail_lazy_panels",
            "page",
            panels,
            description="the panels a detail page loads after it (timeline, duplicates), summed",
        ),
        Operation("api_list", "api", get(ctx.api_list_url), client="api", description="GET /api/v1/contacts (25 rows)"),
        Operation(
            "api_create",
            "write",
            create,
            expect=(201,),
            client="api",
            description="POST /api/v1/contacts (name, e-mail, mobile, title)",
        ),
    ]


# ----------------------------------------------------------------------------------------- SQL floors


def _signed_in_request(app: Any, setup: Setup, path: str) -> Any:
    """A request context of ``path`` as the bench user, with the tenant and plugins resolved by the app."""
    from flask_login import login_user

    from core import db
    from core.models import User

    ctx = app.test_request_context(path)
    ctx.push()
    app.preprocess_request()
    login_user(db.session.get(User, setup.user_id))
    return ctx


def query_layer_statements(
    app: Any, setup: Setup, ctx: Context, op: Operation, i: int = 0, found: dict[str, Any] | None = None
) -> list[tuple[str, Any]]:
    """The statements the query layer runs for ``op`` (not the rest of the request); ``found`` receives the
    number of rows or hits it answered."""
    found = {} if found is None else found
    from flask import request
    from flask_login import current_user

    from core import db
    from core.entities import query as lq
    from core.entities import service
    from core.entities.search import global_search

    engine = app.extensions["crm.db"].engine
    entity = app.extensions["crm.entities"]["contacts"]
    paths = {
        "list_page1": ctx.list_url,
        "list_deep": f"{ctx.list_url}?{urllib.parse.urlencode({'after': ctx.deep_after})}",
        "list_filtered": f"{ctx.list_url}?{urllib.parse.urlencode(ctx.filtered_query)}",
        "api_list": ctx.api_list_url,
    }
    if op.name in paths:
        request_ctx = _signed_in_request(app, setup, paths[op.name])
        try:
            query = lq.parse(entity, request.args)
            with capture(engine) as captured:
                found["rows"] = len(lq.fetch_page(entity, query, "view", current_user).items)
                if op.kind == "page":  # the list page's count, capped as the page caps it
                    lq.count(entity, query, "view", current_user, cap=getattr(lq, "COUNT_CAP", None))
        finally:
            db.session.rollback()
            request_ctx.pop()
        return captured.selects
    if op.kind == "search":
        values = {
            "search_chinese": setup.samples.chinese_fragments,
            "search_chinese_common": setup.samples.common_fragments,
            "search_latin": setup.samples.latin_prefixes,
            "search_phone": setup.samples.phones,
        }[op.name]
        request_ctx = _signed_in_request(app, setup, ctx.search_url)
        try:
            with capture(engine) as captured:
                found["hits"] = len(global_search(_rotate(values, i), current_user, 10))
        finally:
            db.session.rollback()
            request_ctx.pop()
        return captured.selects
    if op.name == "detail":
        request_ctx = _signed_in_request(app, setup, _rotate(ctx.detail_urls, i))
        try:
            with capture(engine) as captured:
                service.load(entity, setup.samples.contact_ids_with_timeline[i % len(ctx.detail_urls)], "view")
        finally:
            db.session.rollback()
            request_ctx.pop()
        return captured.selects
    return []


def request_statements(app: Any, client: Any, path: str, lazy: bool = False) -> list[tuple[str, Any]]:
    """Every SELECT one whole request runs (in-process, through the test client); with ``lazy``, those of the
    panels the page loads after it instead."""
    engine = app.extensions["crm.db"].engine
    paths = [path]
    if lazy:
        response = client.get(path)
        paths = lazy_urls(response.get_data(as_text=True))
    with capture(engine) as captured:
        for url in paths:
            response = client.get(url)
            if response.status_code != 200:
                raise RuntimeError(f"in-process GET {url}: {response.status_code}")
    return captured.selects


def sql_floors(
    app: Any, setup: Setup, ctx: Context, ops: list[Operation], api_secret: str, repeat: int, plans: list[str] | None
) -> dict[str, dict[str, Any]]:
    """Per operation: the query layer's statements replayed bare, and every SELECT of the request replayed bare."""
    engine = app.extensions["crm.db"].engine
    app.config["WTF_CSRF_ENABLED"] = False
    browser = app.test_client()
    answer = browser.post("/login", data={"email": BENCH_EMAIL, "password": BENCH_PASSWORD})
    if answer.status_code != 302:
        raise RuntimeError(f"in-process sign-in failed: {answer.status_code}")
    api = app.test_client()
    api.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {api_secret}"
    results: dict[str, dict[str, Any]] = {}
    for op in ops:
        if op.kind == "write":
            continue
        floor: dict[str, Any] = {}
        rounds = []
        all_rounds = []
        queries = 0
        # Rotating operations: a few different values, each replayed ``repeat`` times.
        variants = 3 if op.name.startswith(("search", "detail")) else 1
        for i in range(variants):
            answered: dict[str, Any] = {}
            statements = query_layer_statements(app, setup, ctx, op, i, answered)
            for key, value in answered.items():
                floor.setdefault(key, value)  # rows of the page, or hits of the first search
            rounds.append(replay(engine, statements, repeat))
            path = _path_of(op, ctx, setup, i)
            everything = request_statements(
                app, api if op.client == "api" else browser, path, lazy=op.name == "detail_lazy_panels"
            )
            all_rounds.append(replay(engine, everything, repeat))
            queries = max(queries, len(everything))
            if plans is not None and i == 0:
                plans.append(f"===== {op.name} ({engine.dialect.name}) =====")
                plans.extend(explain(engine, statements))
        floor["sql_floor_ms"] = _median([r["sql_floor_ms"] for r in rounds])
        floor["sql_floor_p95_ms"] = _max([r["sql_floor_p95_ms"] for r in rounds])
        floor["sql_all_ms"] = _median([r["sql_floor_ms"] for r in all_rounds])
        floor["queries"] = queries
        slowest = max(rounds, key=lambda r: r.get("slowest_ms") or 0)
        floor["slowest_sql_ms"] = slowest.get("slowest_ms")
        floor["slowest_sql"] = slowest.get("slowest_sql")
        results[op.name] = floor
    return results


def _median(values: list[float | None]) -> float | None:
    import statistics

    present = [v for v in values if v is not None]
    return round(statistics.median(present), 2) if present else None


def _max(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _path_of(op: Operation, ctx: Context, setup: Setup, i: int) -> str:
    s = setup.samples
    search = {
        "search_chinese": s.chinese_fragments,
        "search_chinese_common": s.common_fragments,
        "search_latin": s.latin_prefixes,
        "search_phone": s.phones,
    }
    if op.name in search:
        return f"{ctx.search_url}?{urllib.parse.urlencode({'q': _rotate(search[op.name], i)})}"
    return {
        "list_page1": ctx.list_url,
        "list_deep": f"{ctx.list_url}?{urllib.parse.urlencode({'after': ctx.deep_after})}",
        "list_filtered": f"{ctx.list_url}?{urllib.parse.urlencode(ctx.filtered_query)}",
        "detail": _rotate(ctx.detail_urls, i),
        "detail_lazy_panels": _rotate(ctx.detail_urls, i),
        "api_list": ctx.api_list_url,
    }[op.name]


# ---------------------------------------------------------------------------------------------- import


def write_import_file(path: Path, rows: int, run_id: str, seed: int) -> None:
    """A CSV with Chinese headers, as a Taiwanese spreadsheet would have, of ``rows`` new contacts."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["姓名", "公司名稱", "職稱", "手機", "電子郵件", "縣市", "客戶等級", "標籤"])
        for n in range(rows):
            name, _given, family = data._chinese_name(rng)
            writer.writerow(
                [
                    name,
                    data._company_name(rng),
                    data.TITLES[n % 9],
                    data._mobile(rng),
                    f"{data.SURNAME_LATIN[family]}.{run_id}.{n}@import.example.com",
                    rng.choice(data.CITIES),
                    rng.choice("ABCD"),
                    rng.choice(("展會名單", "電子報", "")),
                ]
            )


def measure_import(
    app: Any,
    database: BenchDatabase,
    rows: int,
    secret_key: str,
    run_id: str,
    seed: int,
    plugins: list[str],
    timeout: float,
    floor_rows: int,
) -> dict[str, Any]:
    from bench import import_floor

    path = database.workdir / f"import-{rows}.csv"
    before = import_floor.last_ids(app)
    started = time.perf_counter()
    write_import_file(path, rows, run_id, seed)
    size = path.stat().st_size >> 20
    log(f"import file of {rows:,} rows written in {time.perf_counter() - started:.1f} s ({size} MB)")
    env = {**os.environ, "CRM_SECRET_KEY": secret_key, "CRM_INSTANCE_PATH": str(database.workdir / "instance")}
    command = [
        sys.executable, "-m", "bench.importer", "--database", database.url, "--tenant", BENCH_TENANT,
        "--user", BENCH_EMAIL, "--entity", "contacts", "--plugins", ",".join(plugins), str(path),
    ]  # fmt: skip
    log(f"importing {rows:,} rows")
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        with MemorySampler(process.pid) as memory:
            stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        path.unlink(missing_ok=True)
        return {
            "rows": rows,
            "error": f"did not finish within {timeout:.0f} s (stopped; nothing was stored)",
            "rows_per_s": None,
            "rows_per_s_below": round(rows / timeout),
            "meets_target": False,
            "target": ">= 10,000 rows/s, peak memory < 300 MB",
        }
    finally:
        log(f"import ended after {time.perf_counter() - started:.0f} s")
    path.unlink(missing_ok=True)
    if process.returncode != 0:
        return {"rows": rows, "error": stderr[-3000:]}
    result = json.loads(stdout.strip().splitlines()[-1])
    # The import's memory: the importer and its checker together, pages they share counted once.
    result["peak_pss_mb"] = memory.peak_mb
    peak = memory.peak_mb or result.get("peak_rss_mb") or 0
    result["meets_target"] = bool(result.get("rows_per_s") and result["rows_per_s"] >= 10_000 and peak < 300)
    result["target"] = ">= 10,000 rows/s, peak memory < 300 MB"
    if floor_rows and result.get("created"):
        log(f"measuring the database's share: the last {min(floor_rows, rows):,} imported contacts inserted again")
        result["db_floor"] = import_floor.measure(app, BENCH_TENANT, before, floor_rows)
    return result


# ------------------------------------------------------------------------------------------------ run


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.quick:
        args.requests, args.warmup, args.duration = min(args.requests, 5), 1, min(args.duration, 0.5)
    secret_key = new_secret()
    plugins = [p.strip() for p in (args.plugins or "").split(",") if p.strip()]
    database = resolve_database(args.database, "contacts", args.reuse)
    run_id = time.strftime("%Y%m%d%H%M%S")
    report: dict[str, Any] = {
        "scenario": "contacts",
        "rows": args.rows,
        "database": database.backend,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "notes": [],
    }
    try:
        app = make_app(database, secret_key, plugins)
        app.config["DEFAULT_TENANT"] = BENCH_TENANT
        report["notes"].extend(migrate(app))
        setup = reuse(app, args) if args.reuse else generate(app, args)
        report["rows"] = setup.rows
        report["generation"] = setup.generation or None
        ctx = build_context(app, setup)
        ops = operations(ctx, setup, run_id)
        if args.only:
            wanted = {name.strip() for name in args.only.split(",")}
            ops = [op for op in ops if op.name in wanted]
        settings = Settings(args.warmup, args.requests, args.concurrency, args.duration)
        results: dict[str, dict[str, Any]] = {}
        report["operations"] = results
        if ops:  # with --only import, no server and no SQL floor
            with Server(database, BENCH_TENANT, secret_key, args.workers, args.threads, plugins) as server:
                browser = HttpClient(server.port, {"Accept-Language": "zh-TW"})
                browser.sign_in(BENCH_EMAIL, BENCH_PASSWORD)
                api = HttpClient(
                    server.port, {"Authorization": f"Bearer {setup.api_secret}", "Accept": "application/json"}
                )
                failed = []
                for op in ops:
                    log(f"measuring {op.name}")
                    try:
                        results[op.name] = measure(op, api if op.client == "api" else browser, settings)
                    except RuntimeError as exc:  # one broken page must not hide the other figures
                        log(f"{op.name} failed: {str(exc)[:300]}\n{server.log_tail()}")
                        results[op.name] = {"kind": op.kind, "description": op.description, "error": str(exc)[:300]}
                        failed.append(op)
                report["worker_peak_rss_mb"] = server.worker_peak_rss()
                report["operations"] = results
                save_report(report, args.output)
                browser.close()
                api.close()
            log("measuring the SQL floor")
            plans: list[str] | None = [] if args.explain else None
            measured = [op for op in ops if op not in failed]
            floors = sql_floors(app, setup, ctx, measured, setup.api_secret, 5 if args.quick else 20, plans)
            for name, floor in floors.items():
                results[name].update(floor)
            report["operations"] = results
            save_report(report, args.output)
            if plans is not None:
                Path(args.explain).write_text("\n\n".join(plans), encoding="utf-8")
                report["notes"].append(f"query plans written to {args.explain}")
        if not args.skip_import:
            rows = args.import_rows or min(args.rows, 200 if args.quick else args.rows)
            report["import"] = measure_import(
                app, database, rows, secret_key, run_id, args.seed, plugins, args.import_timeout, args.import_floor
            )
        app.extensions["crm.db"].engine.dispose()
        report["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    finally:
        if args.keep:
            report["notes"].append(f"database kept: {database.url} (measure it again with --reuse --database URL)")
        drop_database(database, keep=args.keep)
    return report


def main(argv: list[str]) -> None:
    run_cli("python -m bench contacts", __doc__.split("\n\n")[0], add_arguments, run, argv)
