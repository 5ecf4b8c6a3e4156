"""``python -m bench opportunities --rows N``: N deals in one tenant; the board, its "load more", the forecast and
the win/loss analysis measured over HTTP, with the SQL floor of each.

Steps: pick the database (as ``bench contacts`` does), migrate, create the bench tenant with 50 sales users in 5
departments, the bench user (every ``opportunities.*`` permission, scope all) and two noise tenants, generate the
deals and their stage history in bulk (``bench/opportunities_data.py``) and analyse the tables. Serve the app with
gunicorn (two workers), sign in, and measure each page: latency at the server (``Server-Timing``) and at the
client, then throughput. In the same run every SELECT of each request is captured in-process and replayed on a
bare driver connection: ``sql_all_ms`` (all of them), ``slowest_sql_ms`` (the main aggregate) and ``queries``.
Target: board and forecast under 300 ms p95 at the server at N = 1,000,000. Prints the JSON report, then a table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from dataclasses import dataclass
from typing import Any

from bench import opportunities_data as data
from bench.harness import (
    BENCH_PASSWORD,
    HttpClient,
    Operation,
    Server,
    Settings,
    capture,
    drop_database,
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
SALES_USERS = 50
DEPARTMENTS = ("北區業務部", "中區業務部", "南區業務部", "海外業務部", "通路業務部")
TARGET_MS = 300.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rows", type=int, default=100_000, help="Deals in the bench tenant (default 100,000).")
    parser.add_argument("--database", help="Database URL (default: CRM_DATABASE_URL, else SQLite in a temp folder).")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--requests", type=int, default=40, help="Sequential requests per operation (default 40).")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--noise-rows", type=int, default=5000, help="Deals in each of two other tenants.")
    parser.add_argument("--seed", type=int, default=20251126)
    parser.add_argument("--quick", action="store_true", help="A smoke run: few requests, short throughput runs.")
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards (and print its URL).")
    parser.add_argument(
        "--reuse", action="store_true", help="Measure an existing database made with --keep (no generation)."
    )
    parser.add_argument("--output", metavar="FILE", help="Also write the JSON report to FILE.")
    parser.add_argument("--only", help="Comma-separated operations to measure (board, board_more, forecast, analysis).")
    parser.add_argument("--plugins", help="Comma-separated plugin modules instead of the installed plugins.")


@dataclass
class Setup:
    tenant: Any
    pipeline_id: int
    open_stage_id: int
    cursor: str | None
    period: str
    generation: dict[str, Any]
    rows: int


def _tenant(app: Any, slug: str, with_bench_user: bool) -> tuple[Any, list[tuple[int, int]]]:
    """A tenant with the opportunities plugin on, sales users in departments, and (bench) the signed-in user."""
    from core import db
    from core.models import Department, Grant, Group, UserDepartment
    from core.permissions import registry
    from core.provisioning import create_tenant, create_user
    from core.tenancy import tenant_context

    with app.app_context():
        tenant = create_tenant(slug, f"{slug.title()} Co.", locale="zh_Hant")
        db.session.flush()
        with tenant_context(tenant):
            departments = [Department(name=name) for name in DEPARTMENTS]
            db.session.add_all(departments)
            db.session.flush()
            owners = []
            for number in range(1, SALES_USERS + 1):
                user = create_user(f"sales{number:02d}@{slug}.example.com", name=f"業務{number:02d}", groups=["sales"])
                department = departments[number % len(departments)]
                db.session.add(UserDepartment(user_id=user.id, department_id=department.id))
                owners.append((user.id, department.id))
            if with_bench_user:
                group = Group(name="Benchmark", description="benchmark")
                db.session.add(group)
                db.session.flush()
                for permission in sorted(name for name in registry() if name.startswith("opportunities.")):
                    db.session.add(Grant(group_id=group.id, permission=permission, scope="all"))
                user = create_user(BENCH_EMAIL, password=BENCH_PASSWORD, name="Bench", groups=[group], locale="zh_Hant")
                db.session.add(UserDepartment(user_id=user.id, department_id=departments[0].id))
            db.session.commit()
        db.session.expunge(tenant)
    return tenant, owners


def generate(app: Any, args: argparse.Namespace) -> Setup:
    started = time.perf_counter()
    noise = min(args.noise_rows, max(args.rows, 100))
    history = 0
    for number, slug in enumerate(NOISE_TENANTS):
        tenant, owners = _tenant(app, slug, False)
        history += data.load(app, tenant, owners, noise, args.seed + number)
    tenant, owners = _tenant(app, BENCH_TENANT, True)
    history += data.load(app, tenant, owners, args.rows, args.seed + 99)
    loaded = time.perf_counter() - started
    data.finish(app)
    seconds = time.perf_counter() - started
    total = args.rows + 2 * noise
    generation = {
        "opportunities": total,
        "stage_history_rows": history,
        "seconds": round(seconds, 1),
        "analyze_seconds": round(seconds - loaded, 1),
        "rows_per_s": round(total / seconds) if seconds else None,
    }
    log(f"generated {total:,} deals and {history:,} history rows in {seconds:.0f} s")
    return _setup(app, tenant, generation, args.rows)


def reuse(app: Any) -> Setup:
    """The bench tenant of a database generated earlier with ``--keep``."""
    from sqlalchemy import func, select

    from core import db
    from core.models import Tenant
    from core.tenancy import tenant_context
    from plugins.opportunities.models import Opportunity

    with app.app_context():
        tenant = db.session.scalar(select(Tenant).where(Tenant.slug == BENCH_TENANT))
        if tenant is None:
            raise SystemExit("--reuse: this database holds no bench tenant; run once with --keep first")
        with tenant_context(tenant):
            rows = db.session.scalar(select(func.count(Opportunity.id))) or 0
        db.session.expunge(tenant)
    log(f"reusing the bench tenant: {rows:,} deals")
    return _setup(app, tenant, {}, rows)


def _setup(app: Any, tenant: Any, generation: dict[str, Any], rows: int) -> Setup:
    """The pipeline, its first open column and the cursor of that column's second page."""
    from sqlalchemy import select

    from core import db
    from core.tenancy import tenant_context
    from plugins.opportunities.board import PAGE_SIZE
    from plugins.opportunities.models import OPEN, Opportunity, Stage
    from plugins.opportunities.pipelines import ensure_default_pipeline

    with app.app_context(), tenant_context(tenant):
        pipeline = ensure_default_pipeline()
        stage = db.session.scalar(
            select(Stage).where(Stage.pipeline_id == pipeline.id, Stage.kind == OPEN).order_by(Stage.position)
        )
        # The cursor the board's "load more" sends for the first open column's second page.
        last = db.session.execute(
            select(Opportunity.expected_close_date, Opportunity.id)
            .where(Opportunity.stage_id == stage.id, Opportunity.expected_close_date.is_not(None))
            .order_by(Opportunity.expected_close_date, Opportunity.id)
            .offset(PAGE_SIZE - 1)
            .limit(1)
        ).first()
        cursor = f"d{last[0].isoformat()}_{last[1]}" if last else None
        return Setup(tenant, pipeline.id, stage.id, cursor, _period(), generation, rows)


def _period() -> str:
    today = dt.date.today()
    return f"{today.year}-Q{(today.month - 1) // 3 + 1}"


def paths(setup: Setup) -> dict[str, tuple[str, str]]:
    """Operation name -> (path, description)."""
    more = f"/opportunities/board/{setup.pipeline_id}/columns/{setup.open_stage_id}?fragment=1"
    if setup.cursor:
        more += f"&after={setup.cursor}"
    return {
        "board": (f"/opportunities/board/{setup.pipeline_id}", "kanban board, first page of every column"),
        "board_more": (more, "the board's load more of the first open column"),
        "forecast": (f"/opportunities/forecast?period={setup.period}", "forecast of this quarter, with quotas"),
        "analysis": (
            f"/opportunities/analysis?period={setup.period[:4]}&pipeline={setup.pipeline_id}",
            "win/loss analysis and funnel of this year",
        ),
    }


def operations(setup: Setup) -> list[Operation]:
    result = []
    for name, (path, description) in paths(setup).items():

        def call(client: HttpClient, i: int, path: str = path) -> Any:
            return client.get(path)

        result.append(Operation(name, "page", call, description=description))
    return result


def sql_floors(app: Any, setup: Setup, repeat: int, names: set[str]) -> dict[str, dict[str, Any]]:
    """Every SELECT of each page in ``names``, captured in-process and replayed bare; the slowest is the main
    aggregate."""
    engine = app.extensions["crm.db"].engine
    app.config["WTF_CSRF_ENABLED"] = False
    client = app.test_client()
    answer = client.post("/login", data={"email": BENCH_EMAIL, "password": BENCH_PASSWORD})
    if answer.status_code != 302:
        raise RuntimeError(f"in-process sign-in failed: {answer.status_code}")
    results = {}
    for name, (path, _description) in paths(setup).items():
        if name not in names:
            continue
        client.get(path)  # warm the per-request caches as the server's workers are
        with capture(engine) as captured:
            response = client.get(path)
        if response.status_code != 200:
            raise RuntimeError(f"in-process GET {path}: {response.status_code}")
        replayed = replay(engine, captured.selects, repeat)
        results[name] = {
            "sql_all_ms": replayed["sql_floor_ms"],
            "sql_floor_ms": replayed.get("slowest_ms"),
            "slowest_sql": replayed.get("slowest_sql"),
            "queries": replayed["queries"],
        }
    return results


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.quick:
        args.requests, args.warmup, args.duration = min(args.requests, 5), 1, min(args.duration, 0.5)
    secret_key = new_secret()
    plugins = [p.strip() for p in (args.plugins or "").split(",") if p.strip()]
    database = resolve_database(args.database, "opportunities", args.reuse)
    report: dict[str, Any] = {
        "scenario": "opportunities",
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
        setup = reuse(app) if args.reuse else generate(app, args)
        report["rows"] = setup.rows
        report["generation"] = setup.generation or None
        settings = Settings(args.warmup, args.requests, args.concurrency, args.duration)
        results: dict[str, dict[str, Any]] = {}
        report["operations"] = results
        with Server(database, BENCH_TENANT, secret_key, args.workers, args.threads, plugins) as server:
            browser = HttpClient(server.port, {"Accept-Language": "zh-TW"})
            browser.sign_in(BENCH_EMAIL, BENCH_PASSWORD)
            wanted = {name.strip() for name in (args.only or "").split(",") if name.strip()}
            for op in operations(setup):
                if wanted and op.name not in wanted:
                    continue
                log(f"measuring {op.name}")
                try:
                    results[op.name] = measure(op, browser, settings)
                except RuntimeError as exc:  # one broken page must not hide the other figures
                    log(f"{op.name} failed: {str(exc)[:300]}\n{server.log_tail()}")
                    results[op.name] = {"kind": op.kind, "description": op.description, "error": str(exc)[:300]}
                    continue
                results[op.name]["target_p95_ms"] = TARGET_MS
                p95 = results[op.name]["p95_ms"]
                results[op.name]["meets_target"] = p95 is not None and p95 < TARGET_MS
            report["worker_peak_rss_mb"] = server.worker_peak_rss()
            browser.close()
        save_report(report, args.output)
        log("measuring the SQL floor")
        for name, floor in sql_floors(app, setup, 5 if args.quick else 20, set(results)).items():
            if "error" not in results[name]:
                results[name].update(floor)
        app.extensions["crm.db"].engine.dispose()
        report["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    finally:
        if args.keep:
            report["notes"].append(f"database kept: {database.url} (measure it again with --reuse --database URL)")
        drop_database(database, keep=args.keep)
    return report


def main(argv: list[str]) -> None:
    run_cli("python -m bench opportunities", __doc__.split("\n\n")[0], add_arguments, run, argv)
