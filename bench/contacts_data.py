"""Generating companies and contacts fast, in batches, with the framework's own tokenizer and index helpers.

Rows are written straight to the tables (kernel-level code: ``tenant_id`` is filled in explicitly and every value
goes through its column's bind processor, so it is stored exactly as the ORM would store it), a batch of contacts
at a time with their e-mail addresses, phone numbers, company memberships, tags, custom field values and some
timeline entries. The search token index is filled with the tokens of ``core.entities.search_index`` (checked
against ``record_tokens`` on every batch) and the custom field index with the rows ``custom_fields.index_values``
would write, so search and filters work on the generated rows exactly as on imported ones. Secondary indexes of the
big tables are dropped before loading and built afterwards (building an index from sorted data is much faster than
keeping it up to date row by row), then the planner's statistics are refreshed with ``ANALYZE``.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, func, select, text

from bench.harness import log

SURNAMES = "陳林黃張李王吳劉蔡楊許鄭謝郭洪曾邱廖賴周徐蘇葉莊呂江何蕭羅高潘簡朱鍾游彭詹胡施沈余盧梁趙顏柯翁魏孫戴"
SURNAME_LATIN = {
    "陳": "chen", "林": "lin", "黃": "huang", "張": "chang", "李": "lee", "王": "wang", "吳": "wu", "劉": "liu",
    "蔡": "tsai", "楊": "yang", "許": "hsu", "鄭": "cheng", "謝": "hsieh", "郭": "kuo", "洪": "hung", "曾": "tseng",
    "邱": "chiu", "廖": "liao", "賴": "lai", "周": "chou", "徐": "hsu", "蘇": "su", "葉": "yeh", "莊": "chuang",
    "呂": "lu", "江": "chiang", "何": "ho", "蕭": "hsiao", "羅": "lo", "高": "kao", "潘": "pan", "簡": "chien",
    "朱": "chu", "鍾": "chung", "游": "yu", "彭": "peng", "詹": "chan", "胡": "hu", "施": "shih", "沈": "shen",
    "余": "yu", "盧": "lu", "梁": "liang", "趙": "chao", "顏": "yen", "柯": "ko", "翁": "weng", "魏": "wei",
    "孫": "sun", "戴": "tai",
}  # fmt: skip
GIVEN = "志明俊傑建宏家豪雅婷怡君淑芬美玲偉文宗翰冠宇承恩柏彥嘉欣佳蓉詩涵品妤子晴思彤鈺庭信安育誠正國世昌秀英惠珍麗華孟哲振榮"  # noqa: E501
GIVEN_LATIN = (
    "wei", "ting", "chih", "ming", "chun", "chieh", "chien", "hung", "chia", "hao", "ya", "yi", "shu", "fen",
    "mei", "ling", "kuan", "yu", "cheng", "en", "po", "yen", "hsin", "jung", "shih", "han", "pin", "tzu", "ching",
)  # fmt: skip
FIRST_EN = (
    "David", "Michael", "Kevin", "Jason", "Eric", "Peter", "Jack", "Vincent", "Andy", "Tony", "Alice", "Grace",
    "Emily", "Amy", "Linda", "Cindy", "Vivian", "Joyce", "Irene", "Sophia", "Daniel", "Steven", "James", "Sandy",
    "Wendy", "Jessica", "Allen", "Frank", "Ivy", "Tina",
)  # fmt: skip
LAST_EN = (
    "Smith", "Johnson", "Brown", "Miller", "Davis", "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Martin",
    "Walker", "Young", "King", "Wright", "Scott", "Green", "Baker", "Adams", "Nelson", "Carter", "Mitchell",
)  # fmt: skip
BRAND = "台新宏達聯華光寶鴻海瑞昱友達緯創英業仁寶廣達精誠大同東元國巨華碩致茂和碩群創南亞長春統一味全"
INDUSTRY_WORDS = ("科技", "電子", "貿易", "實業", "生技", "食品", "建設", "工業", "精密", "光電", "物流", "資訊")
COMPANY_SUFFIX = ("股份有限公司", "有限公司", "企業社")
EN_COMPANY = ("Pacific", "Formosa", "Orient", "Summit", "Harbor", "Jade", "Lotus", "Apex", "Nova", "Delta")
EN_COMPANY_KIND = ("Technologies Inc.", "Trading Co., Ltd.", "Electronics Corp.", "Logistics Ltd.", "Foods Inc.")
TITLES = (
    "業務經理", "總經理", "採購專員", "工程師", "專案經理", "行銷企劃", "財務長", "董事長特助", "資深業務",
    "Sales Manager", "Purchasing Manager", "CEO", "Engineer", "Account Executive", None, None, None,
)  # fmt: skip
CITIES = ("台北市", "新北市", "桃園市", "台中市", "台南市", "高雄市", "新竹市", "新竹縣", "基隆市", "嘉義市")
DISTRICTS = ("中正區", "大安區", "信義區", "松山區", "內湖區", "板橋區", "西屯區", "東區", "北區", "前鎮區")
STREETS = ("中山路", "民生東路", "忠孝東路", "復興南路", "建國北路", "中華路", "光復路", "文化路")
FREE_MAIL = ("gmail.com", "yahoo.com.tw", "hotmail.com", "msa.hinet.net", "outlook.com")
STAGES = ("prospect", "customer", "former_customer")
PARTNER_TYPES = ("direct", "dealer", "agent", "wholesaler", "supplier", "other", None)
GRADES = ("A", "B", "C", "D", None)
SOURCES = ("Website", "Referral", "Trade show", "Cold call", "Partner", None)
INDUSTRIES = ("Semiconductors", "Electronics", "Manufacturing", "Retail", "Logistics", "Software and IT")
TAGS = ("VIP", "重要客戶", "展會名單", "電子報", "潛在大客戶", "待追蹤", "舊客戶", "經銷商", "北區", "南區")
# Share of contacts carrying each tag (the first one is the filter of the benchmark's filtered list).
TAG_SHARE = (0.08, 0.05, 0.1, 0.2, 0.03, 0.06, 0.04, 0.05, 0.1, 0.1)
REGIONS = (("north", "北區"), ("central", "中區"), ("south", "南區"), ("east", "東區"))
KINDS = ("call", "call", "note", "meeting", "email", "visit", "task")
OUTCOMES = ("reached", "no_answer", "voicemail", "callback", None)
BATCH = 5000
EPOCH = dt.datetime(2025, 11, 1, tzinfo=dt.UTC)


@dataclass
class Ids:
    """The next free primary key per table (ids are given explicitly so child rows can point at them)."""

    next: dict[str, int] = field(default_factory=dict)

    def take(self, table: Table, count: int) -> range:
        start = self.next[table.name]
        self.next[table.name] = start + count
        return range(start, start + count)


@dataclass
class TenantPlan:
    tenant: Any
    contacts: int
    companies: int
    users: list[int]
    departments: dict[int, int]  # user id -> department id
    tag_ids: list[int]
    region_field: Any
    score_field: Any


@dataclass
class Samples:
    """Values picked from the bench tenant's rows, for the queries the benchmark makes."""

    contact_ids_with_timeline: list[int] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    chinese_fragments: list[str] = field(default_factory=list)
    latin_prefixes: list[str] = field(default_factory=list)
    common_fragments: list[str] = field(default_factory=list)


def _chinese_name(rng: random.Random) -> tuple[str, str, str]:
    surname = rng.choice(SURNAMES)
    given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.9 else "")
    return surname + given, given, surname


def _company_name(rng: random.Random) -> str:
    if rng.random() < 0.15:
        return f"{rng.choice(EN_COMPANY)} {rng.choice(EN_COMPANY)} {rng.choice(EN_COMPANY_KIND)}"
    return rng.choice(BRAND) + rng.choice(BRAND) + rng.choice(INDUSTRY_WORDS) + rng.choice(COMPANY_SUFFIX)


def _mobile(rng: random.Random) -> str:
    digits = f"{rng.randrange(10**8):08d}"
    return f"09{digits[:2]}-{digits[2:5]}-{digits[5:]}"


def _landline(rng: random.Random) -> str:
    area = rng.choice(("02", "03", "04", "06", "07"))
    return f"({area}) {rng.randrange(2000, 9999)}-{rng.randrange(10000):04d}"


def _moment(rng: random.Random, days: int) -> dt.datetime:
    return EPOCH - dt.timedelta(seconds=rng.randrange(days * 86400))


def company_rows(plan: TenantPlan, ids: Sequence[int], rng: random.Random) -> list[dict[str, Any]]:
    from plugins.contacts.normalise import name_key, phone_digits

    rows = []
    for company_id in ids:
        name = f"{_company_name(rng)}"
        owner = rng.choice(plan.users)
        created = _moment(rng, 1500)
        phone = _landline(rng)
        rows.append(
            {
                "id": company_id,
                "tenant_id": plan.tenant.id,
                "version": 1,
                "created_at": created,
                "updated_at": created + dt.timedelta(days=rng.randrange(300)),
                "deleted_at": None,
                "custom": None,
                "created_by_id": owner,
                "owner_id": owner,
                "department_id": plan.departments[owner],
                "address_country": "TW",
                "address_postal_code": f"{rng.randrange(100, 999)}",
                "address_city": rng.choice(CITIES),
                "address_district": rng.choice(DISTRICTS),
                "address_street": f"{rng.choice(STREETS)}{rng.randrange(1, 400)}號",
                "lifecycle_stage": rng.choice(STAGES),
                "partner_type": rng.choice(PARTNER_TYPES),
                "customer_grade": rng.choice(GRADES),
                "source": rng.choice(SOURCES),
                "notes": None,
                "name": name,
                "name_key": name_key(name),
                "short_name": None,
                "tax_id": f"{rng.randrange(10**8):08d}",
                "website": f"https://c{company_id}.example.com.tw",
                "industry": rng.choice(INDUSTRIES),
                "phone": phone,
                "phone_digits": phone_digits(phone),
                "fax": None,
                "email": f"info@c{company_id}.example.com.tw",
            }
        )
    return rows


def contact_rows(
    plan: TenantPlan, ids: Sequence[int], companies: Sequence[tuple[int, str]], rng: random.Random
) -> list[dict[str, Any]]:
    from plugins.contacts.normalise import name_key

    rows = []
    for contact_id in ids:
        if rng.random() < 0.8:
            name, given, family = _chinese_name(rng)
            latin = SURNAME_LATIN[family] + "." + rng.choice(GIVEN_LATIN) + rng.choice(GIVEN_LATIN)
        else:
            given, family = rng.choice(FIRST_EN), rng.choice(LAST_EN)
            name = f"{given} {family}"
            latin = f"{given}.{family}".lower()
        company_id, company_name = rng.choice(companies) if rng.random() < 0.8 else (None, None)
        domain = f"c{company_id}.example.com.tw" if company_id and rng.random() < 0.6 else rng.choice(FREE_MAIL)
        owner = rng.choice(plan.users)
        created = _moment(rng, 1500)
        region, _label = rng.choice(REGIONS)
        rows.append(
            {
                "id": contact_id,
                "tenant_id": plan.tenant.id,
                "version": 1,
                "created_at": created,
                "updated_at": min(EPOCH, created + dt.timedelta(seconds=rng.randrange(400 * 86400))),
                "deleted_at": None,
                "custom": {"region": region, "score": rng.randrange(100)},
                "created_by_id": owner,
                "owner_id": owner,
                "department_id": plan.departments[owner],
                "address_country": "TW",
                "address_postal_code": None,
                "address_city": rng.choice(CITIES),
                "address_district": None,
                "address_street": None,
                "lifecycle_stage": rng.choice(STAGES),
                "partner_type": rng.choice(PARTNER_TYPES),
                "customer_grade": rng.choice(GRADES),
                "source": rng.choice(SOURCES),
                "notes": None,
                "name": name,
                "name_key": name_key(name),
                "given_name": given,
                "family_name": family,
                "title": rng.choice(TITLES),
                "birthday": None,
                "email": f"{latin}{contact_id}@{domain}",
                "phone": _landline(rng) if rng.random() < 0.3 else None,
                "mobile": _mobile(rng),
                "company_id": company_id,
                "company_name": company_name,
            }
        )
    return rows


def child_rows(
    plan: TenantPlan, contacts: list[dict[str, Any]], table_ids: Ids, tables: dict[str, Table], rng: random.Random
) -> dict[str, list[dict[str, Any]]]:
    """E-mail, phone, membership, tagging and timeline rows of a batch of contacts."""
    from plugins.contacts.normalise import email_key, phone_digits

    tenant_id = plan.tenant.id
    emails, phones, memberships, taggings, interactions = [], [], [], [], []
    for row in contacts:
        cid = row["id"]
        emails.append({"contact_id": cid, "label": "work", "email": row["email"], "email_key": email_key(row["email"])})
        if rng.random() < 0.2:
            second = f"{cid}.home@{rng.choice(FREE_MAIL)}"
            emails.append({"contact_id": cid, "label": "home", "email": second, "email_key": second, "position": 1})
        mobile = row["mobile"]
        phones.append({"contact_id": cid, "label": "mobile", "number": mobile, "digits": phone_digits(mobile)})
        if row["phone"]:
            work = row["phone"]
            phones.append(
                {"contact_id": cid, "label": "work", "number": work, "digits": phone_digits(work), "position": 1}
            )
        if row["company_id"]:
            memberships.append({"contact_id": cid, "company_id": row["company_id"], "role": row["title"]})
        for tag_id, share in zip(plan.tag_ids, TAG_SHARE, strict=True):
            if rng.random() < share:
                taggings.append({"entity": "contacts", "record_id": cid, "tag_id": tag_id})
        if rng.random() < 0.1:
            for _n in range(rng.randrange(1, 6)):
                kind = rng.choice(KINDS)
                occurred = _moment(rng, 700)
                user = rng.choice(plan.users)
                interactions.append(
                    {
                        "version": 1,
                        "kind": kind,
                        "subject": f"{'追蹤報價' if kind != 'task' else '寄送型錄'} {row['name']}",
                        "body": "討論新年度採購計畫與報價。",
                        "occurred_at": occurred,
                        "contact_id": cid,
                        "company_id": row["company_id"],
                        "user_id": user,
                        "department_id": row["department_id"],
                        "outcome": rng.choice(OUTCOMES) if kind == "call" else None,
                        "duration_minutes": rng.randrange(1, 60) if kind in ("call", "meeting") else None,
                        "due_at": occurred + dt.timedelta(days=7) if kind == "task" else None,
                        "assignee_id": user if kind == "task" else None,
                        "remind_at": None,
                        "reminder_pending_at": None,
                        "done_at": occurred if kind == "task" and rng.random() < 0.5 else None,
                        "source": None,
                        "url": None,
                        "created_at": occurred,
                    }
                )
    out = {
        "contacts_emails": emails,
        "contacts_phones": phones,
        "contacts_memberships": memberships,
        "taggings": taggings,
        "contacts_interactions": interactions,
    }
    for name, rows in out.items():
        for row, new_id in zip(rows, table_ids.take(tables[name], len(rows)), strict=True):
            row["id"] = new_id
            row["tenant_id"] = tenant_id
            if name in ("contacts_emails", "contacts_phones", "contacts_memberships"):
                row.setdefault("position", 0)
    return out


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --------------------------------------------------------------------------------------------- loading


LOADED_TABLES = (
    "contacts_companies",
    "contacts_contacts",
    "contacts_emails",
    "contacts_phones",
    "contacts_memberships",
    "taggings",
    "contacts_interactions",
    "search_tokens",
    "custom_values",
)


class Loader:
    """Bulk-loads rows into a database whose big tables have their secondary indexes dropped meanwhile.

    Rows go in through the driver with the columns' own bind processors applied (the values are stored exactly
    as the ORM would store them) but without SQLAlchemy's per-row statement machinery: ``executemany`` on
    SQLite and MariaDB, ``COPY`` on PostgreSQL.
    """

    def __init__(self, app: Any) -> None:
        from core.db import Base

        self.app = app
        self.engine = app.extensions["crm.db"].engine
        self.tables = {name: Base.metadata.tables[name] for name in LOADED_TABLES}
        self.ids = Ids()
        self.dropped: list[Any] = []
        self.primary_key_dropped = False
        self._writers: dict[tuple[str, tuple[str, ...]], Any] = {}

    def start(self) -> None:
        with self.engine.begin() as conn:
            for table in self.tables.values():
                if "id" in table.c:
                    self.ids.next[table.name] = (conn.scalar(select(func.max(table.c.id))) or 0) + 1
                if conn.dialect.name in ("mysql", "mariadb"):
                    continue  # InnoDB refuses to drop an index that backs a foreign key: load with them in place
                for index in sorted(table.indexes, key=lambda i: i.name or ""):
                    index.drop(conn)
                    self.dropped.append(index)
            if conn.dialect.name == "postgresql":
                # The token table's primary key is its only index: build it once at the end too.
                conn.execute(text("ALTER TABLE search_tokens DROP CONSTRAINT pk_search_tokens"))
                self.primary_key_dropped = True

    def finish(self) -> None:
        started = time.perf_counter()
        log(f"building {len(self.dropped)} indexes")
        with self.engine.begin() as conn:
            if self.primary_key_dropped:
                columns = ", ".join(c.name for c in self.tables["search_tokens"].primary_key.columns)
                conn.execute(text(f"ALTER TABLE search_tokens ADD CONSTRAINT pk_search_tokens PRIMARY KEY ({columns})"))
            for index in self.dropped:
                index.create(conn)
        log(f"indexes built in {time.perf_counter() - started:.1f} s; analysing")
        backend = self.engine.dialect.name
        if backend == "postgresql":
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                for table in self.tables.values():
                    if "id" in table.c:  # ids were given explicitly: move each sequence past them
                        conn.execute(
                            text(
                                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                f"(SELECT coalesce(max(id), 1) FROM {table.name}))"
                            )
                        )
                conn.execute(text("VACUUM ANALYZE"))
        elif backend == "sqlite":
            with self.engine.begin() as conn:
                conn.execute(text("ANALYZE"))
        else:
            with self.engine.begin() as conn:
                for table in self.tables.values():
                    conn.execute(text(f"ANALYZE TABLE {table.name}"))

    def _writer(self, name: str, columns: tuple[str, ...]) -> tuple[str, list[Any]]:
        key = (name, columns)
        if key not in self._writers:
            dialect = self.engine.dialect
            table = self.tables[name]
            processors = [table.c[column].type._cached_bind_processor(dialect) for column in columns]
            names = ", ".join(dialect.identifier_preparer.quote(column) for column in columns)
            if dialect.name == "postgresql":
                sql = f"COPY {table.name} ({names}) FROM STDIN"
            else:
                marks = ", ".join("?" if dialect.paramstyle == "qmark" else "%s" for _column in columns)
                sql = f"INSERT INTO {table.name} ({names}) VALUES ({marks})"
            self._writers[key] = (sql, processors)
        return self._writers[key]

    def insert(self, conn: Any, name: str, rows: Sequence[dict[str, Any]]) -> None:
        """Insert mappings (all with the same keys) into table ``name`` on ``conn``'s transaction."""
        if rows:
            columns = tuple(rows[0])
            self.insert_tuples(conn, name, columns, [tuple(row[c] for c in columns) for row in rows])

    def insert_tuples(self, conn: Any, name: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        sql, processors = self._writer(name, columns)
        if any(processors):
            rows = [
                tuple(
                    value if proc is None or value is None else proc(value)
                    for proc, value in zip(processors, row, strict=True)
                )
                for row in rows
            ]
        cursor = conn.connection.driver_connection.cursor()
        try:
            if sql.startswith("COPY"):
                with cursor.copy(sql) as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                for chunk in _chunks(rows, BATCH):
                    cursor.executemany(sql, chunk)
        finally:
            cursor.close()


def speed_up_sqlite(session: Any) -> None:
    """Bulk-load settings for this connection only (the app's own connections keep theirs)."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("PRAGMA synchronous=OFF"))
        session.execute(text("PRAGMA cache_size=-1000000"))
        session.execute(text("PRAGMA temp_store=MEMORY"))


class Tokens:
    """Search tokens of generated rows, cut by the framework's own tokenizer.

    ``record_tokens`` of ``core.entities.search_index`` applied field by field, with the tokens of values that
    repeat (company names, titles, cities) remembered; the first rows of every batch are checked against
    ``record_tokens`` itself, so the index holds exactly what ``index_records`` would write.
    """

    def __init__(self, entity: Any) -> None:
        from core.entities.search_index import spec_of

        self.spec = spec_of(entity)
        self.cache: dict[tuple[str, Any], frozenset[str]] = {}

    def of(self, row: dict[str, Any]) -> set[str]:
        from core.entities.search_index import value_tokens

        out: set[str] = set()
        for name, kind in self.spec.fields:
            value = row.get(name)
            if value is None or value == "":
                continue
            key = (kind, tuple(value) if isinstance(value, list) else value)
            tokens = self.cache.get(key)
            if tokens is None:
                tokens = frozenset(value_tokens(value, kind))
                if len(self.cache) > 200_000:
                    self.cache.clear()
                self.cache[key] = tokens
            out |= tokens
        out.discard("")
        return out

    def rows(self, tenant_id: int, rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        from core.entities.search_index import record_tokens

        missing = [name for name, _kind in self.spec.fields if rows and name not in rows[0]]
        if missing:  # a search field the generator does not fill: the index would silently lack it
            raise RuntimeError(f"generated {self.spec.plural} rows lack the search fields {missing}")

        for row in rows[:3]:
            expected = record_tokens(self.spec, row)
            if self.of(row) != expected:
                raise RuntimeError(f"bench tokens differ from record_tokens for {row.get('name')!r}")
        plural = self.spec.plural
        out = [(tenant_id, plural, token, row["id"]) for row in rows for token in self.of(row)]
        out.sort(key=lambda r: r[2])  # the table is clustered on its primary key (..., token, record_id)
        return out


TOKEN_COLUMNS = ("tenant_id", "entity", "token", "record_id")


def with_child_values(rows: list[dict[str, Any]], children: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Contact rows with the values of their child rows that the search fields read (``Contact.email_addresses``
    and ``Contact.phone_numbers``: every e-mail address and phone number, in position order)."""
    emails: dict[int, list[str]] = {}
    phones: dict[int, list[str]] = {}
    for child in sorted(children["contacts_emails"], key=lambda r: (r["contact_id"], r["position"])):
        emails.setdefault(child["contact_id"], []).append(child["email"])
    for child in sorted(children["contacts_phones"], key=lambda r: (r["contact_id"], r["position"])):
        phones.setdefault(child["contact_id"], []).append(child["number"])
    return [
        {**row, "email_addresses": emails.get(row["id"], []), "phone_numbers": phones.get(row["id"], [])}
        for row in rows
    ]


VALUE_COLUMNS = ("id", "tenant_id", "entity", "field_id", "record_id", "value_text", "value_number", "value_date")


class CustomValues:
    """Rows of the custom field index for generated contacts, as ``custom_fields.index_values`` makes them.

    Each stored value becomes its index rows through ``custom_fields._index_rows`` (what ``index_values`` calls
    per value); writing them with the loader instead of ``index_values`` skips its delete-before-insert, which
    new records do not need and which needs the index this loader drops while it loads.
    """

    def __init__(self, loader: Loader, plural: str) -> None:
        from core.entities import custom_fields

        self.loader = loader
        self.plural = plural
        self.fields = {field.key: field for field in custom_fields.fields_for(plural)}
        self.table = loader.tables["custom_values"]

    def rows(self, tenant_id: int, records: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        from core.entities.custom_fields import _index_rows

        out = []
        for record in records:
            for key, value in (record.get("custom") or {}).items():
                field = self.fields.get(key)
                if field is None:
                    continue
                for columns in _index_rows(field, value):
                    out.append(
                        (
                            tenant_id,
                            self.plural,
                            field.id,
                            record["id"],
                            columns.get("value_text"),
                            columns.get("value_number"),
                            columns.get("value_date"),
                        )
                    )
        ids = self.loader.ids.take(self.table, len(out))
        return [(new_id, *row) for new_id, row in zip(ids, out, strict=True)]


def load_tenant(loader: Loader, plan: TenantPlan, seed: int) -> None:
    """Generate and insert the plan's companies and contacts, ``BATCH`` contacts per transaction."""
    from core import db
    from core.entities.registry import all_entities
    from core.tenancy import tenant_context

    rng = random.Random(seed)
    with loader.app.app_context(), tenant_context(plan.tenant):
        entities = all_entities()
        company_tokens, contact_tokens = Tokens(entities["companies"]), Tokens(entities["contacts"])
        custom_values = CustomValues(loader, "contacts")
        session = db.session
        speed_up_sqlite(session)
        tenant_id = plan.tenant.id
        company_ids = loader.ids.take(loader.tables["contacts_companies"], plan.companies)
        companies: list[tuple[int, str]] = []
        for chunk in _chunks(company_ids, BATCH):
            rows = company_rows(plan, chunk, rng)
            conn = session.connection()
            loader.insert(conn, "contacts_companies", rows)
            loader.insert_tuples(conn, "search_tokens", TOKEN_COLUMNS, company_tokens.rows(tenant_id, rows))
            companies.extend((row["id"], row["name"]) for row in rows)
            session.commit()
        contact_ids = loader.ids.take(loader.tables["contacts_contacts"], plan.contacts)
        done = 0
        started = time.perf_counter()
        for chunk in _chunks(contact_ids, BATCH):
            rows = contact_rows(plan, chunk, companies, rng)
            children = child_rows(plan, rows, loader.ids, loader.tables, rng)
            conn = session.connection()
            loader.insert(conn, "contacts_contacts", rows)
            for name, child in children.items():
                loader.insert(conn, name, child)
            searchable = with_child_values(rows, children)
            loader.insert_tuples(conn, "search_tokens", TOKEN_COLUMNS, contact_tokens.rows(tenant_id, searchable))
            loader.insert_tuples(conn, "custom_values", VALUE_COLUMNS, custom_values.rows(tenant_id, rows))
            session.commit()
            done += len(rows)
            if done % 100_000 < BATCH or done == plan.contacts:
                rate = done / (time.perf_counter() - started)
                log(f"{plan.tenant.slug}: {done:,}/{plan.contacts:,} contacts ({rate:,.0f}/s)")
