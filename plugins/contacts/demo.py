"""Demo data for ``crm quickstart``: companies and people of a Taiwanese customer base, with history and tasks.

Rows go in with bulk INSERTs (a few statements per table, not one per row), so a few hundred companies, a couple
of thousand contacts and their timeline load in seconds. Every name, number and address is invented; e-mail
addresses use the reserved ``example.com`` domain.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from flask_babel import force_locale

from core.db import utcnow
from core.demo import bulk_insert, demo_colleagues
from core.entities.tags import add_tags

from .choices import GRADES, INDUSTRIES, SOURCES
from .models import Company, Contact, ContactCompany, ContactEmail, ContactPhone, Interaction
from .normalise import email_key, name_key, phone_digits, tw_tax_id_check_digit

COMPANIES = 300
CONTACTS = 2000

# (city, area code, [(district, postal code)], [streets])
PLACES = [
    (
        "台北市",
        "02",
        [
            ("中正區", "100"),
            ("中山區", "104"),
            ("松山區", "105"),
            ("大安區", "106"),
            ("信義區", "110"),
            ("內湖區", "114"),
            ("南港區", "115"),
        ],
        [
            "忠孝東路四段",
            "南京東路二段",
            "民生東路三段",
            "復興南路一段",
            "敦化北路",
            "信義路五段",
            "內湖路一段",
            "經貿二路",
        ],
    ),
    (
        "新北市",
        "02",
        [("板橋區", "220"), ("中和區", "235"), ("三重區", "241"), ("新莊區", "242"), ("汐止區", "221")],
        ["文化路一段", "中山路二段", "重新路五段", "中正路", "新台五路一段", "思源路"],
    ),
    (
        "桃園市",
        "03",
        [("桃園區", "330"), ("中壢區", "320"), ("龜山區", "333")],
        ["中正路", "復興路", "文化一路", "環北路"],
    ),
    ("新竹市", "03", [("東區", "300"), ("北區", "300")], ["光復路二段", "中華路二段", "科學園路", "力行二路"]),
    (
        "台中市",
        "04",
        [("西屯區", "407"), ("北屯區", "406"), ("南屯區", "408"), ("西區", "403")],
        ["台灣大道三段", "文心路三段", "市政北二路", "公益路二段", "中港路"],
    ),
    (
        "台南市",
        "06",
        [("東區", "701"), ("永康區", "710"), ("安平區", "708")],
        ["中華東路三段", "永華路二段", "中正南路"],
    ),
    (
        "高雄市",
        "07",
        [("前鎮區", "806"), ("苓雅區", "802"), ("左營區", "813"), ("三民區", "807")],
        ["中山二路", "四維三路", "博愛二路", "民族一路", "成功二路"],
    ),
]
COMPANY_STEMS = [
    "台灣精密",
    "宏達",
    "聯發",
    "永豐",
    "大同",
    "新光",
    "統一",
    "國泰",
    "遠東",
    "華新",
    "東元",
    "正新",
    "中興",
    "長榮",
    "建興",
    "佳世達",
    "光寶",
    "和碩",
    "緯創",
    "仁寶",
    "英業",
    "友達",
    "群創",
    "南亞",
    "台塑",
    "中鋼",
    "裕隆",
    "三陽",
    "全家",
    "義美",
    "味全",
    "大成",
    "泰山",
    "旺宏",
    "華邦",
    "力成",
    "日月",
    "京元",
    "欣興",
    "健鼎",
    "台達",
    "研華",
    "凌華",
    "振樺",
    "瑞昱",
    "奇景",
    "矽統",
    "晶豪",
    "茂達",
    "致新",
    "立錡",
    "原相",
    "義隆",
    "盛群",
    "松翰",
    "凌陽",
]
COMPANY_WORDS = [
    "科技",
    "電子",
    "工業",
    "實業",
    "企業",
    "國際",
    "精機",
    "材料",
    "光電",
    "食品",
    "物流",
    "貿易",
    "生技",
    "資訊",
]
COMPANY_FORMS = ["股份有限公司", "有限公司", "股份有限公司", "企業社"]
ENGLISH_COMPANIES = [
    "Pacific Rim Trading",
    "Formosa Components",
    "Harbor Logistics",
    "Jade Mountain Foods",
    "Lotus Precision",
    "Keelung Marine Supply",
    "Summit Semiconductor Services",
    "Blue Magpie Software",
    "Evergreen Office Systems",
    "Sun Moon Lake Tourism",
    "Orchid Biotech",
    "Typhoon Industrial Design",
]
SURNAMES = [
    ("陳", "Chen"),
    ("林", "Lin"),
    ("黃", "Huang"),
    ("張", "Chang"),
    ("李", "Lee"),
    ("王", "Wang"),
    ("吳", "Wu"),
    ("劉", "Liu"),
    ("蔡", "Tsai"),
    ("楊", "Yang"),
    ("許", "Hsu"),
    ("鄭", "Cheng"),
    ("謝", "Hsieh"),
    ("洪", "Hung"),
    ("郭", "Kuo"),
    ("邱", "Chiu"),
    ("曾", "Tseng"),
    ("廖", "Liao"),
    ("賴", "Lai"),
    ("周", "Chou"),
    ("葉", "Yeh"),
    ("蘇", "Su"),
    ("莊", "Chuang"),
    ("呂", "Lu"),
    ("江", "Chiang"),
    ("何", "Ho"),
    ("蕭", "Hsiao"),
    ("羅", "Lo"),
    ("高", "Kao"),
    ("潘", "Pan"),
    ("簡", "Chien"),
    ("朱", "Chu"),
    ("鍾", "Chung"),
    ("彭", "Peng"),
    ("游", "Yu"),
]
GIVEN_NAMES = [
    ("志明", "chihming"),
    ("淑芬", "shufen"),
    ("雅婷", "yating"),
    ("家豪", "chiahao"),
    ("怡君", "yichun"),
    ("俊傑", "chunchieh"),
    ("美玲", "meiling"),
    ("建宏", "chienhung"),
    ("宗翰", "tsunghan"),
    ("詩涵", "shihhan"),
    ("冠宇", "kuanyu"),
    ("佩珊", "peishan"),
    ("承恩", "chengen"),
    ("欣怡", "hsinyi"),
    ("柏翰", "pohan"),
    ("思妤", "szuyu"),
    ("宇軒", "yuhsuan"),
    ("子晴", "tzuching"),
    ("信宏", "hsinhung"),
    ("惠雯", "huiwen"),
    ("文傑", "wenchieh"),
    ("郁婷", "yuting"),
    ("明哲", "mingche"),
    ("靜宜", "chingyi"),
    ("國華", "kuohua"),
    ("麗華", "lihua"),
    ("志豪", "chihhao"),
    ("佳蓉", "chiajung"),
    ("偉成", "weicheng"),
    ("筱涵", "hsiaohan"),
]
ENGLISH_GIVEN = [
    "David",
    "Emily",
    "Kevin",
    "Grace",
    "Michael",
    "Vivian",
    "Jason",
    "Annie",
    "Eric",
    "Sharon",
    "Peter",
    "Joyce",
    "Frank",
    "Irene",
    "Tony",
    "Cindy",
    "Sarah",
    "James",
    "Olivia",
    "Daniel",
]
WESTERN_SURNAMES = ["Johnson", "Miller", "Schmidt", "Dubois", "Tanaka", "Nakamura", "Kim", "Park", "Nguyen", "Smith"]
TITLES = [
    "總經理",
    "採購經理",
    "業務經理",
    "專案經理",
    "研發工程師",
    "財務長",
    "行政助理",
    "採購專員",
    "資訊主管",
    "廠長",
    "品保經理",
    "執行長特助",
    "Purchasing Manager",
    "Sales Director",
    "Operations Manager",
]
CALL_SUBJECTS = [
    "電話確認報價內容",
    "追蹤樣品測試結果",
    "確認交期",
    "詢問年度採購計畫",
    "回覆技術問題",
    "Follow up on the quote",
]
MEETING_SUBJECTS = ["年度合約討論", "新產品簡報", "需求訪談", "季度業務檢討", "Kick-off meeting"]
VISIT_SUBJECTS = ["拜訪工廠並參觀產線", "拜訪採購部門", "送樣品並說明規格", "節慶拜訪"]
NOTE_BODIES = [
    "客戶希望下個月前收到正式報價，預算約新台幣 120 萬元。",
    "窗口將於六月調任，新的聯絡人為採購課長。",
    "對競品價格敏感，可考慮提供年度合約折扣。",
    "已寄送產品型錄與認證文件。",
    "Prefers e-mail over phone calls; reply within a day.",
]
EMAIL_SUBJECTS = ["寄送報價單", "會議紀錄", "產品型錄", "Invoice and delivery schedule"]
TASK_SUBJECTS = [
    "回電確認報價",
    "寄送合約草稿",
    "安排下次拜訪",
    "準備樣品",
    "更新客戶資料",
    "提醒客戶付款",
    "Send the revised quote",
]
OUTCOMES = ["reached", "reached", "reached", "no_answer", "voicemail", "busy", "callback"]
TAGS = ["VIP", "展覽名單", "經銷商大會", "年度合約", "潛在大客戶", "Newsletter"]


def _tax_id(rng: random.Random) -> str:
    first = f"{rng.randrange(10**7):07d}"
    return first + tw_tax_id_check_digit(first)


def _mobile(rng: random.Random) -> str:
    digits = f"09{rng.randrange(10**8):08d}"
    return f"{digits[:4]}-{digits[4:7]}-{digits[7:]}"


def _landline(rng: random.Random, area: str) -> str:
    if area == "02":
        return f"(02) {rng.randrange(2000, 2999)}-{rng.randrange(10000):04d}"
    return f"({area}) {rng.randrange(200, 999)}-{rng.randrange(10000):04d}"


def _when(rng: random.Random, now: dt.datetime, days_back: int) -> dt.datetime:
    moment = now - dt.timedelta(days=rng.uniform(0, days_back))
    return moment.replace(minute=rng.choice((0, 10, 15, 20, 30, 40, 45, 50)), second=0, microsecond=0)


def _index(plural: str, rows: list[dict[str, Any]], ids: list[int]) -> None:
    """Search tokens for rows inserted in bulk (the ORM's automatic indexing does not see them)."""
    from core.entities.search_index import index_records

    from .records import entity

    index_records(entity(plural), [{**row, "id": row_id} for row, row_id in zip(rows, ids, strict=True)], fresh=True)


def load(tenant: Any, session: Any, companies: int = COMPANIES, contacts: int = CONTACTS) -> None:
    """Add the demo rows to ``tenant`` (the caller commits)."""
    rng = random.Random(f"guanxi-demo-{tenant.slug}")
    now = utcnow()
    users, departments, sales = demo_colleagues(session)
    if not users:
        return
    # Sales people own most customers; everyone else in a department owns a few.
    owners = [u for u in users if u.id in departments] or users
    weights = [6 if u.id in sales else 1 for u in owners]
    with force_locale(tenant.default_locale):
        industries = INDUSTRIES.values()
        sources = SOURCES.values()
    grades = GRADES.values()

    company_rows, company_places = [], []
    used_names: set[str] = set()
    for index in range(companies):
        if index % 9 == 8:
            name = f"{rng.choice(ENGLISH_COMPANIES)} Co., Ltd."
            if name in used_names:
                name = f"{rng.choice(ENGLISH_COMPANIES)} {rng.choice(['Taiwan', 'Asia', 'International'])} Ltd."
        else:
            name = rng.choice(COMPANY_STEMS) + rng.choice(COMPANY_WORDS) + rng.choice(COMPANY_FORMS)
        if name in used_names:
            name = (
                f"{name[:-2]}{rng.choice(['北區', '南區', '中區'])}{name[-2:]}"
                if not name.isascii()
                else f"{name} ({index})"
            )
        used_names.add(name)
        city, area, districts, streets = rng.choice(PLACES)
        district, postal = rng.choice(districts)
        owner = rng.choices(owners, weights)[0]
        phone = _landline(rng, area)
        created = _when(rng, now, 720)
        stage = rng.choices(["customer", "prospect", "former_customer"], [6, 3, 1])[0]
        company_rows.append(
            {
                "tenant_id": tenant.id,
                "name": name,
                "name_key": name_key(name),
                "short_name": name[:4] if not name.isascii() else name.split()[0],
                "tax_id": _tax_id(rng),
                "website": f"https://www.company{index + 1}.example.com",
                "industry": rng.choice(industries) if industries else None,
                "phone": phone,
                "phone_digits": phone_digits(phone),
                "fax": _landline(rng, area) if rng.random() < 0.4 else None,
                "email": f"service@company{index + 1}.example.com",
                "address_country": "TW",
                "address_postal_code": postal,
                "address_city": city,
                "address_district": district,
                "address_street": f"{rng.choice(streets)}{rng.randrange(1, 400)}號{rng.randrange(1, 25)}樓",
                "lifecycle_stage": stage,
                "partner_type": rng.choices(
                    ["direct", "dealer", "agent", "wholesaler", "supplier", "other"], [10, 4, 2, 2, 2, 1]
                )[0],
                "customer_grade": rng.choices(grades, [1, 3, 4, 2][: len(grades)] + [1] * max(0, len(grades) - 4))[0]
                if grades
                else None,
                "source": rng.choice(sources) if sources else None,
                "owner_id": owner.id,
                "department_id": departments.get(owner.id),
                "created_by_id": owner.id,
                "created_at": created,
                "updated_at": created + dt.timedelta(days=rng.uniform(0, (now - created).days or 1)),
            }
        )
        company_places.append(area)
    company_ids = bulk_insert(session, Company, company_rows, ids=True)
    _index("companies", company_rows, company_ids)

    contact_rows, emails, phones, memberships = [], [], [], []
    for index in range(contacts):
        company_index = rng.randrange(len(company_ids))
        company = company_rows[company_index]
        roll = rng.random()
        if roll < 0.8:
            surname, surname_roman = rng.choice(SURNAMES)
            given, given_roman = rng.choice(GIVEN_NAMES)
            name, given_name, family_name = surname + given, given, surname
            local = f"{given_roman}.{surname_roman.lower()}"
        elif roll < 0.93:
            surname, surname_roman = rng.choice(SURNAMES)
            given = rng.choice(ENGLISH_GIVEN)
            name, given_name, family_name = f"{given} {surname_roman}", given, surname_roman
            local = f"{given.lower()}.{surname_roman.lower()}"
        else:
            given, surname = rng.choice(ENGLISH_GIVEN), rng.choice(WESTERN_SURNAMES)
            name, given_name, family_name = f"{given} {surname}", given, surname
            local = f"{given.lower()}.{surname.lower()}"
        owner_id = company["owner_id"] if rng.random() < 0.85 else rng.choices(owners, weights)[0].id
        domain = company["website"].split("www.", 1)[1]
        email = f"{local}{index}@{domain}"
        mobile = _mobile(rng)
        office = (
            _landline(rng, company_places[company_index]) + f" #{rng.randrange(100, 999)}"
            if rng.random() < 0.5
            else None
        )
        title = rng.choice(TITLES)
        created = _when(rng, now, 600)
        birthday = (
            dt.date(rng.randrange(1960, 2001), rng.randrange(1, 13), rng.randrange(1, 29))
            if rng.random() < 0.3
            else None
        )
        contact_rows.append(
            {
                "tenant_id": tenant.id,
                "name": name,
                "name_key": name_key(name),
                "given_name": given_name,
                "family_name": family_name,
                "title": title,
                "birthday": birthday,
                "email": email,
                "mobile": mobile,
                "phone": office,
                "company_id": company_ids[company_index],
                "company_name": company["name"],
                "address_country": "TW",
                "address_city": company["address_city"] if rng.random() < 0.5 else None,
                "lifecycle_stage": company["lifecycle_stage"],
                "partner_type": company["partner_type"],
                "customer_grade": company["customer_grade"],
                "source": company["source"],
                "owner_id": owner_id,
                "department_id": departments.get(owner_id),
                "created_by_id": owner_id,
                "created_at": created,
                "updated_at": created + dt.timedelta(days=rng.uniform(0, (now - created).days or 1)),
            }
        )
        emails.append(
            [(email, "work")] + ([(f"{local}{index}@mail.example.com", "home")] if rng.random() < 0.2 else [])
        )
        phones.append([(mobile, "mobile")] + ([(office, "work")] if office else []))
        memberships.append([(company_ids[company_index], title)])
        if rng.random() < 0.08:
            second = rng.randrange(len(company_ids))
            if company_ids[second] != company_ids[company_index]:
                memberships[-1].append((company_ids[second], rng.choice(TITLES)))
    contact_ids = bulk_insert(session, Contact, contact_rows, ids=True)
    for row, own_emails, own_phones in zip(contact_rows, emails, phones, strict=True):
        row["email_addresses"] = [address for address, _label in own_emails]
        row["phone_numbers"] = [number for number, _label in own_phones]
    _index("contacts", contact_rows, contact_ids)

    email_rows, phone_rows, membership_rows = [], [], []
    for contact_id, own_emails, own_phones, own_companies in zip(contact_ids, emails, phones, memberships, strict=True):
        for position, (address, label) in enumerate(own_emails):
            email_rows.append(
                {
                    "tenant_id": tenant.id,
                    "contact_id": contact_id,
                    "email": address,
                    "email_key": email_key(address),
                    "label": label,
                    "position": position,
                }
            )
        for position, (number, label) in enumerate(own_phones):
            phone_rows.append(
                {
                    "tenant_id": tenant.id,
                    "contact_id": contact_id,
                    "number": number,
                    "digits": phone_digits(number),
                    "label": label,
                    "position": position,
                }
            )
        for position, (company_id, role) in enumerate(own_companies):
            membership_rows.append(
                {
                    "tenant_id": tenant.id,
                    "contact_id": contact_id,
                    "company_id": company_id,
                    "role": role,
                    "position": position,
                }
            )
    bulk_insert(session, ContactEmail, email_rows)
    bulk_insert(session, ContactPhone, phone_rows)
    bulk_insert(session, ContactCompany, membership_rows)

    entries = []
    for contact_id, row in zip(contact_ids, contact_rows, strict=True):
        for _count in range(rng.choice((0, 1, 2, 3, 3, 4, 5))):
            kind = rng.choices(["call", "email", "meeting", "visit", "note"], [5, 3, 2, 1, 2])[0]
            subject = {
                "call": CALL_SUBJECTS,
                "email": EMAIL_SUBJECTS,
                "meeting": MEETING_SUBJECTS,
                "visit": VISIT_SUBJECTS,
                "note": [""],
            }[kind]
            entries.append(
                {
                    "tenant_id": tenant.id,
                    "kind": kind,
                    "subject": rng.choice(subject),
                    "body": rng.choice(NOTE_BODIES) if kind == "note" or rng.random() < 0.3 else None,
                    "occurred_at": _when(rng, now, 180),
                    "contact_id": contact_id,
                    "company_id": row["company_id"],
                    "user_id": row["owner_id"],
                    "department_id": row["department_id"],
                    "outcome": rng.choice(OUTCOMES) if kind == "call" else None,
                    "duration_minutes": rng.choice((3, 5, 8, 12, 20))
                    if kind == "call"
                    else rng.choice((30, 45, 60, 90))
                    if kind in ("meeting", "visit")
                    else None,
                    "created_at": now,
                }
            )
        if rng.random() < 0.22:
            roll = rng.random()
            if roll < 0.25:
                due = now - dt.timedelta(days=rng.uniform(1, 10))
            elif roll < 0.45:
                due = now.replace(hour=9, minute=0, second=0, microsecond=0) + dt.timedelta(
                    hours=rng.choice((0, 2, 5, 7))
                )
            else:
                due = now + dt.timedelta(days=rng.uniform(1, 30))
            done = now - dt.timedelta(days=rng.uniform(0, 5)) if rng.random() < 0.25 else None
            remind = due - dt.timedelta(hours=1) if rng.random() < 0.3 else None
            entries.append(
                {
                    "tenant_id": tenant.id,
                    "kind": "task",
                    "subject": rng.choice(TASK_SUBJECTS),
                    "occurred_at": min(now, due) - dt.timedelta(days=rng.uniform(0, 7)),
                    "contact_id": contact_id,
                    "company_id": row["company_id"],
                    "user_id": row["owner_id"],
                    "department_id": row["department_id"],
                    "due_at": due.replace(second=0, microsecond=0),
                    "assignee_id": row["owner_id"],
                    "remind_at": remind,
                    # Reminders in the past count as sent: a fresh demo should not greet users with a pile of them.
                    "reminder_pending_at": remind if remind and remind > now and done is None else None,
                    "done_at": done,
                    "created_at": now,
                }
            )
    bulk_insert(session, Interaction, entries)

    for tag in TAGS:
        add_tags("contacts", rng.sample(contact_ids, k=min(len(contact_ids), rng.randrange(20, 80))), [tag])
        add_tags("companies", rng.sample(company_ids, k=min(len(company_ids), rng.randrange(5, 25))), [tag])
    session.flush()
