"""Search benchmark: N contact-like rows, their token index, then list and global search timings.

    python -m bench.search_bench --rows 100000 --database sqlite:////tmp/search.sqlite3
    python -m bench.search_bench --rows 1000000 --database postgresql+psycopg://postgres@127.0.0.1:5432/bench

The database is dropped and created afresh (SQLite: the file is deleted). Rows get realistic Chinese names
(a few hundred surnames and given-name characters), English and romanised Taiwanese names, Chinese and English
company names, e-mail addresses and phone numbers in Taiwanese and mainland formats; another tenant gets a tenth
as many rows as noise. Prints a JSON report: insert and index times, token count, database size, and per query
kind the median and p95 of a list search (page 1 of 25, all records and own records), of the global search,
and of the bare token lookup. ``run()`` returns the same report for ``python -m bench``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import make_url

COUNT_CAP = 1000


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


SURNAMES = (
    "陳林黃張李王吳劉蔡楊許鄭謝洪郭邱曾廖賴徐周葉蘇莊呂江何蕭羅高潘簡朱鍾游彭詹胡施沈余盧梁趙顏柯翁魏孫戴范方宋"
    "鄧杜傅侯曹薛丁卓阮馬董唐藍石蔣古紀姚連馮歐程湯田康姜白汪鄒尤巫黎涂龔嚴韓袁金童陸夏柳邵錢伍倪溫于譚駱熊任甘"
    "秦顧毛章史官萬俞雷饒孔崔付賀龍尹段雲岳蒙郝孟易常武喬賈邢牛包單殷費齊符關苗辛向覃聶左申溫應衛房"
)
GIVEN = (
    "家怡婷雅宇志明偉俊建文華嘉欣佳美淑玲芳惠慧珍雯琪瑜君萱涵翔豪傑宏哲軒恩承宗冠育安庭柏廷峰銘彥信仁國正勝德昌"
    "榮輝龍成祥瑞中和平世永光健凱誠慶忠義清秀麗英玉蘭鳳春月秋霞靜敏燕蓉娟萍琳晴妍姿筱詩思心語晨亦子若品彤羽昕雨"
    "柔潔婕儀薇瑩宜穎蓁郁容馨玟菁小大天立振宸睿澤祐浩博毅維益達鴻勳紹耀賢彬倫政富茂順福金水木山海雲強軍濤鵬"
)
BRANDS = _words(
    "台積 鴻海 聯發 華碩 宏碁 廣達 仁寶 英業 緯創 和碩 光寶 台達 國泰 富邦 中信 統一 台塑 南亞 長榮 遠東 新光 大同 東元"
    " 聲寶 裕隆 日月 京元 友達 群創 瑞昱 聯詠 矽品 欣興 南電 景碩 台光 健鼎 華通 金寶 神達 微星 技嘉 研華 振樺 凌華"
    " 永豐 玉山 兆豐 合庫 第一 華南 彰銀 台新 元大 凱基 中華 遠傳 台哥 亞太 全家 萊爾 義美 味全 桂格 大成 卜蜂 泰山"
)
TRADES = _words("電子 科技 實業 貿易 建設 食品 生技 光電 工業 國際 資訊 物流 精密 化工 紡織 開發 顧問 餐飲 醫療 能源")
FORMS = ("股份有限公司", "有限公司", "企業社", "工作室", "股份有限公司", "有限公司")
FIRST = _words(
    "James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth David Susan Richard Jessica Joseph "
    "Sarah Thomas Karen Charles Nancy Christopher Lisa Daniel Betty Matthew Margaret Anthony Sandra Mark Ashley "
    "Donald Kimberly Steven Emily Paul Donna Andrew Michelle Joshua Dorothy Kenneth Carol Kevin Amanda Brian Melissa "
    "George Deborah Timothy Stephanie Ronald Rebecca Edward Sharon Jason Laura Jeffrey Cynthia Ryan Kathleen Jacob "
    "Amy Gary Angela Nicholas Shirley Eric Anna Jonathan Brenda Stephen Pamela Larry Emma Justin Nicole Scott Helen "
    "Brandon Samantha Benjamin Katherine Samuel Christine Gregory Debra Alexander Rachel Frank Carolyn Patrick Janet "
    "Raymond Catherine Jack Maria Dennis Heather Jerry Diane Tyler Ruth Aaron Julie Olivia Adam Joyce Nathan Grace"
)
LAST = _words(
    "Chen Lin Huang Chang Lee Wang Wu Liu Tsai Yang Hsu Cheng Hsieh Hung Kuo Chiu Tseng Liao Lai Chou Yeh Su Chuang "
    "Lu Chiang Ho Hsiao Lo Kao Pan Chien Chu Chung Yu Peng Chan Hu Shih Shen Smith Johnson Williams Brown Jones Garcia "
    "Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez Wilson Anderson Taylor Moore Jackson Martin Thompson "
    "White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores"
)
SYLLABLES = _words(
    "Wei Ting Yi Chen Chia Hao Hsin Yu Jun Chieh Ming Hui Ling Shu Fen Mei Chun Kai Tzu Han Pei Yun Hsuan Po Jen "
    "Che Wen Sheng Kuan Hung Chih Yen An Lan Ching Hua Tsung Yao Feng Lung"
)
EN_COMPANY = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Apex",
    "Summit",
    "Pacific",
    "Orient",
    "Formosa",
    "Evergreen",
    "Harbor",
    "Pioneer",
]
EN_TRADE = _words("Trading Electronics Logistics Foods Systems Consulting Precision Materials Software Biotech")
EN_FORM = ("Co., Ltd.", "Inc.", "Corp.", "Ltd.", "Group")
DOMAINS = _words(
    "gmail.com yahoo.com.tw hotmail.com outlook.com msa.hinet.net qq.com 163.com icloud.com example.com "
    "example.com.tw mail.com proton.me"
)


def fake_company(rng: random.Random, chinese: bool) -> str:
    if chinese:
        brand = rng.choice(BRANDS) if rng.random() < 0.5 else rng.choice(GIVEN) + rng.choice(GIVEN)
        return brand + rng.choice(TRADES) + rng.choice(FORMS)
    return f"{rng.choice(EN_COMPANY)} {rng.choice(EN_TRADE)} {rng.choice(EN_FORM)}"


def fake_phone(rng: random.Random) -> str:
    r = rng.random()
    d = lambda n: "".join(rng.choice("0123456789") for _ in range(n))  # noqa: E731
    if r < 0.5:
        return f"09{d(2)}-{d(3)}-{d(3)}"
    if r < 0.6:
        return f"+886 9{d(2)} {d(3)} {d(3)}"
    if r < 0.8:
        return f"(0{rng.choice('2345678')}) {d(4)}-{d(4)}"
    if r < 0.9:
        return f"+86 13{d(1)} {d(4)} {d(4)}"
    return f"13{d(1)}-{d(4)}-{d(4)}"


def fake_person(rng: random.Random) -> dict[str, Any]:
    r = rng.random()
    if r < 0.6:  # Chinese name
        given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.85 else "")
        name = rng.choice(SURNAMES) + given
        handle = f"{rng.choice(LAST).lower()}.{rng.choice(SYLLABLES).lower()}{rng.randrange(100)}"
        company = fake_company(rng, chinese=True)
    elif r < 0.8:  # romanised Taiwanese name
        name = f"{rng.choice(LAST[:42])} {rng.choice(SYLLABLES)}-{rng.choice(SYLLABLES).lower()}"
        handle = name.lower().replace(" ", ".").replace("-", "")
        company = fake_company(rng, chinese=rng.random() < 0.7)
    else:  # English name
        first, last = rng.choice(FIRST), rng.choice(LAST)
        name = f"{first} {last}"
        handle = f"{first.lower()}.{last.lower()}"
        company = fake_company(rng, chinese=False)
    return {
        "name": name,
        "company": company,
        "email": f"{handle}{rng.randrange(1000)}@{rng.choice(DOMAINS)}",
        "phone": fake_phone(rng),
    }


def queries_from(rng: random.Random, sample: list[dict[str, Any]], count: int) -> dict[str, list[str]]:
    """Realistic queries per kind, drawn from rows that exist."""
    chinese = [p for p in sample if "\u4e00" <= p["name"][0] <= "\u9fff"]
    latin = [p for p in sample if p["name"][0].isascii()]
    kinds: dict[str, list[str]] = {
        "chinese_pair": [],
        "chinese_name": [],
        "company_pair": [],
        "latin_prefix": [],
        "latin_two_words": [],
        "phone_digits": [],
        "email_part": [],
    }
    for _ in range(count):
        person = rng.choice(chinese)
        start = rng.randrange(len(person["name"]) - 1)
        kinds["chinese_pair"].append(person["name"][start : start + 2])
        kinds["chinese_name"].append(rng.choice(chinese)["name"])
        company = rng.choice(chinese)["company"]
        kinds["company_pair"].append(company[:2])
        words = rng.choice(latin)["name"].replace("-", " ").split()
        word = rng.choice(words)
        kinds["latin_prefix"].append(word[: rng.randint(3, max(3, len(word)))].lower())
        two = rng.choice(latin)["name"].split()
        kinds["latin_two_words"].append(f"{two[0][:4]} {two[1][:3]}")
        digits = "".join(c for c in rng.choice(sample)["phone"] if c.isdigit())
        kinds["phone_digits"].append(digits[-rng.randint(6, 8) :] if rng.random() < 0.6 else digits)
        local, _at, domain = rng.choice(sample)["email"].partition("@")
        kinds["email_part"].append(local.split(".")[0] if rng.random() < 0.5 else local)
    return kinds


# ------------------------------------------------------------------------------------------ the database


def fresh_database(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            path = (parsed.database or "") + suffix
            if path and os.path.exists(path):
                os.remove(path)
        return
    from core.testing import _fresh_database

    _fresh_database(url)


def database_size(engine: Any, url: str) -> dict[str, float]:
    parsed = make_url(url)
    mb = 1024 * 1024
    if parsed.get_backend_name() == "sqlite":
        with engine.connect() as conn:
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        return {"database_mb": round(os.path.getsize(parsed.database) / mb, 1)}
    if parsed.get_backend_name() == "postgresql":
        with engine.connect() as conn:
            tokens = conn.scalar(text("SELECT pg_total_relation_size('search_tokens')"))
            people = conn.scalar(text("SELECT pg_total_relation_size('searchbench_people')"))
            whole = conn.scalar(text("SELECT pg_database_size(current_database())"))
        return {
            "search_tokens_mb": round(tokens / mb, 1),
            "records_mb": round(people / mb, 1),
            "database_mb": round(whole / mb, 1),
        }
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT table_name, data_length + index_length FROM information_schema.tables "
                "WHERE table_schema = DATABASE() AND table_name IN ('search_tokens', 'searchbench_people')"
            )
        ).all()
    sizes = {name: size / mb for name, size in rows}
    return {
        "search_tokens_mb": round(sizes.get("search_tokens", 0), 1),
        "records_mb": round(sizes.get("searchbench_people", 0), 1),
    }


def _batches(total: int, size: int) -> Iterator[range]:
    for start in range(0, total, size):
        yield range(start, min(total, start + size))


def load(app: Any, tenant: Any, owners: list[int], rows: int, first_id: int, seed: int, batch: int = 10000) -> dict:
    """Insert ``rows`` people for ``tenant`` with Core inserts, index them, commit per batch."""
    from bench.search_plugin import BenchPerson
    from core import db
    from core.db import utcnow
    from core.entities.registry import all_entities
    from core.entities.search_index import index_records
    from core.tenancy import tenant_context

    rng = random.Random(seed)
    sample: list[dict[str, Any]] = []
    insert_s = index_s = 0.0
    tokens = 0
    now = utcnow()
    with app.app_context(), tenant_context(tenant):
        entity = all_entities()["people"]
        for numbers in _batches(rows, batch):
            people = []
            for n in numbers:
                person = fake_person(rng)
                person.update(
                    id=first_id + n,
                    tenant_id=tenant.id,
                    owner_id=owners[n % len(owners)],
                    version=1,
                    created_at=now,
                    updated_at=now,
                )
                people.append(person)
                if len(sample) < 2000:
                    sample.append(person)
                elif rng.random() < 2000 / (n + 1):
                    sample[rng.randrange(2000)] = person
            started = time.perf_counter()
            db.session.connection().execute(insert(BenchPerson.__table__), people)
            middle = time.perf_counter()
            tokens += index_records(entity, people, fresh=True)
            db.session.commit()
            insert_s += middle - started
            index_s += time.perf_counter() - middle
            print(f"  {tenant.slug}: {numbers.stop:>9,} rows", file=sys.stderr, end="\r")
    print(file=sys.stderr)
    return {"insert_s": insert_s, "index_s": index_s, "tokens": tokens, "sample": sample}


# ----------------------------------------------------------------------------------------------- timing


def timed(fn: Callable[[], Any], repeat: list[float]) -> Any:
    started = time.perf_counter()
    result = fn()
    repeat.append((time.perf_counter() - started) * 1000)
    return result


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return {"median_ms": round(statistics.median(ordered), 2), "p95_ms": round(p95, 2), "max_ms": round(ordered[-1], 2)}


def capped_count(entity: Any, text: str, user: Any, cap: int = COUNT_CAP) -> int:
    """How many records match, counted up to ``cap`` (a list page would show "1,000+" beyond that): an exact
    count of a common word reads every matching row, a capped one stops early."""
    from core import db
    from core.entities.query import ListQuery, statement

    inner = statement(entity, ListQuery(text=text), "view", user).with_only_columns(entity.model.id).limit(cap)
    return db.session.scalar(select(func.count()).select_from(inner.order_by(None).subquery())) or 0


def measure(app: Any, tenant: Any, admin_id: int, sales_id: int, kinds: dict[str, list[str]]) -> dict[str, Any]:
    from flask import g

    from core import db
    from core.entities.query import ListQuery, fetch_page
    from core.entities.registry import all_entities
    from core.entities.search import global_search
    from core.entities.search_index import match
    from core.models import User
    from core.tenancy import tenant_context

    report: dict[str, Any] = {}
    with app.test_request_context(), tenant_context(tenant):
        g.enabled_plugins = frozenset({"searchbench"})
        entity = all_entities()["people"]
        admin = db.session.get(User, admin_id)
        sales = db.session.get(User, sales_id)
        # Warm the caches (grants, statement compilation, database pages) the way a running server has them.
        for query in kinds["chinese_pair"][:5]:
            fetch_page(entity, ListQuery(text=query, sort="-updated_at", limit=25), user=admin)
            global_search(query, admin, 10)
        for kind, queries in kinds.items():
            tokens_ms: list[float] = []
            list_all: list[float] = []
            list_own: list[float] = []
            global_ms: list[float] = []
            global_own: list[float] = []
            count_ms: list[float] = []
            matches: list[int] = []
            for query in queries:
                page_query = ListQuery(text=query, sort="-updated_at", limit=25)
                timed(lambda q=query: match(entity, q), tokens_ms)
                page = timed(lambda q=page_query, u=admin: fetch_page(entity, q, user=u), list_all)
                timed(lambda q=page_query, u=sales: fetch_page(entity, q, user=u), list_own)
                timed(lambda q=query, u=admin: global_search(q, u, 10), global_ms)
                timed(lambda q=query, u=sales: global_search(q, u, 10), global_own)
                matches.append(
                    timed(lambda q=query, u=admin: capped_count(entity, q, u), count_ms)
                    if len(page.items) == 25
                    else len(page.items)
                )
                db.session.expunge_all()
                admin = db.session.get(User, admin_id)
                sales = db.session.get(User, sales_id)
            report[kind] = {
                "examples": queries[:3],
                "matches_median": statistics.median(matches),
                "token_lookup": summary(tokens_ms),
                "list_search_all": summary(list_all),
                "list_search_own": summary(list_own),
                "global_search_all": summary(global_ms),
                "global_search_own": summary(global_own),
                "count_up_to_1000": summary(count_ms) if count_ms else None,
            }
            print(
                f"  {kind:<16} list {report[kind]['list_search_all']['p95_ms']:>7} ms p95, "
                f"global {report[kind]['global_search_all']['p95_ms']:>7} ms p95",
                file=sys.stderr,
            )
    return report


def _existing(app: Any, seed: int, rows: int) -> tuple[dict[str, Any], dict[str, list[int]], list[dict[str, Any]]]:
    """Tenants, users and a sample of the rows of a database built by an earlier run (``--reuse``)."""
    from bench.search_plugin import BenchPerson
    from core import db
    from core.models import Tenant, User
    from core.tenancy import tenant_context

    tenants: dict[str, Any] = {}
    users: dict[str, list[int]] = {}
    with app.app_context():
        for slug in ("bench", "noise"):
            tenant = db.session.scalar(select(Tenant).where(Tenant.slug == slug))
            if tenant is None:
                raise SystemExit(f"{slug!r} is missing: run once without --reuse")
            with tenant_context(tenant):
                admin = db.session.scalar(select(User.id).where(User.email == f"admin@{slug}.example.com"))
                sales = db.session.scalars(select(User.id).where(User.email.like("sales%")).order_by(User.id)).all()
                users[slug] = [admin, *sales]
            db.session.expunge(tenant)
            tenants[slug] = tenant
        with tenant_context(tenants["bench"]):
            ids = random.Random(seed).sample(range(1, rows + 1), min(rows, 2000))
            found = db.session.scalars(select(BenchPerson).where(BenchPerson.id.in_(ids))).all()
            sample = [{"name": p.name, "company": p.company, "email": p.email, "phone": p.phone} for p in found]
    return tenants, users, sample


def run(
    database: str, rows: int, queries: int = 50, seed: int = 7, noise: float = 0.1, reuse: bool = False
) -> dict[str, Any]:
    """Build the data set on ``database`` (dropped first) and measure; returns the report.

    ``reuse=True`` measures the data set an earlier run built (same ``rows``) without building it again.
    """
    from bench import search_plugin
    from core import db
    from core.app import create_app
    from core.db import Base
    from core.provisioning import create_tenant, create_user
    from core.tenancy import tenant_context
    from core.testing import TEST_CONFIG

    if not reuse:
        fresh_database(database)
    config = {**TEST_CONFIG, "DATABASE_URL": database, "TESTING": False}
    app = create_app(config, plugins=[search_plugin])
    engine = app.extensions["crm.db"].engine
    parsed = make_url(database)
    noise_rows = int(rows * noise)
    built: dict[str, Any] = {"insert_s": 0.0, "index_s": 0.0, "tokens": 0}
    total_s = 0.0
    if reuse:
        tenants, users, sample = _existing(app, seed, rows)
    else:
        Base.metadata.create_all(engine)
        tenants = {}
        users: dict[str, list[int]] = {}
        with app.app_context():
            for slug in ("bench", "noise"):
                tenants[slug] = create_tenant(slug, slug.title(), plugins=["searchbench"], locale="en")
                db.session.commit()
            for slug, tenant in tenants.items():
                with tenant_context(tenant):
                    admin = create_user(f"admin@{slug}.example.com", groups=["administrators"])
                    sales = [create_user(f"sales{n}@{slug}.example.com", groups=["sales"]) for n in range(20)]
                    db.session.commit()
                    users[slug] = [admin.id] + [user.id for user in sales]
            for tenant in tenants.values():
                db.session.expunge(tenant)

        started = time.perf_counter()
        built = load(app, tenants["bench"], users["bench"][1:], rows, first_id=1, seed=seed)
        load(app, tenants["noise"], users["noise"][1:], noise_rows, first_id=rows + 1, seed=seed + 1)
        total_s = time.perf_counter() - started
        sample = built["sample"]
        if parsed.get_backend_name() == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
        elif parsed.get_backend_name() == "sqlite":
            with engine.begin() as conn:
                conn.execute(text("ANALYZE"))
        else:
            with engine.begin() as conn:
                conn.execute(text("ANALYZE TABLE search_tokens, searchbench_people"))
    with app.app_context(), tenant_context(tenants["bench"]):
        from core.entities.search_index import SearchToken

        token_rows = db.session.scalar(select(func.count()).select_from(SearchToken))

    kinds = queries_from(random.Random(seed + 2), sample, queries)
    load_before = os.getloadavg()[0]
    results = measure(app, tenants["bench"], users["bench"][0], users["bench"][1], kinds)
    report = {
        "database": parsed.get_backend_name(),
        "rows": rows,
        "noise_rows": noise_rows,
        "queries_per_kind": queries,
        "load_s": round(total_s, 1) if not reuse else None,
        "insert_rows_per_s": round(rows / built["insert_s"]) if built["insert_s"] else None,
        "index_rows_per_s": round(rows / built["index_s"]) if built["index_s"] else None,
        "tokens_per_row": round(token_rows / (rows + 0.0), 1) if rows else 0,
        "token_rows_in_tenant": token_rows,
        "cpus": os.cpu_count(),
        "load_average_during_queries": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        **database_size(engine, database),
        "search": results,
    }
    engine.dispose()
    return report


def table(report: dict[str, Any]) -> str:
    lines = [
        f"{report['database']} · {report['rows']:,} rows (+{report['noise_rows']:,} in another tenant) · "
        f"{report['tokens_per_row']} tokens/row · index {report['index_rows_per_s'] or '-'} rows/s · "
        f"load average {report['load_average_during_queries']} on {report['cpus']} CPUs",
        f"{'query':<16} {'matches':>8} {'list all p95':>13} {'list own p95':>13} {'global p95':>11} "
        f"{'global own p95':>15}",
    ]
    for kind, row in report["search"].items():
        lines.append(
            f"{kind:<16} {row['matches_median']:>8} {row['list_search_all']['p95_ms']:>13} "
            f"{row['list_search_own']['p95_ms']:>13} {row['global_search_all']['p95_ms']:>11} "
            f"{row['global_search_own']['p95_ms']:>15}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100000)
    parser.add_argument("--queries", type=int, default=50, help="Queries per kind.")
    parser.add_argument("--database", default=os.environ.get("CRM_DATABASE_URL", "sqlite:////tmp/search-bench.sqlite3"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--reuse", action="store_true", help="Measure the rows an earlier run left in the database.")
    args = parser.parse_args(argv)
    report = run(args.database, args.rows, args.queries, args.seed, reuse=args.reuse)
    print(json.dumps(report, ensure_ascii=False, indent=2))
    print(table(report))


if __name__ == "__main__":
    main()
