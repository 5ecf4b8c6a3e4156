"""Browser tests: Debian's Chromium driven by pytest-playwright against a live server on 127.0.0.1.

The live server is a real Guanxi app on a SQLite file of its own, migrated with ``crm db upgrade``'s code,
with a tenant answering on 127.0.0.1 (every installed plugin enabled, demo data loaded) and an administrator.
Every page is opened in a phone-sized context whose route guard aborts, records and fails on any request
that would leave 127.0.0.1. No browser is ever downloaded: without /usr/bin/chromium the package is skipped.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.helpers import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}
ADMIN_EMAIL = "browser.admin@example.com"
ADMIN_PASSWORD = "browser-test-password-2026"
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark this package's tests ``browser``; skip them all, with the reason, when Chromium is missing."""
    skip = pytest.mark.skip(
        reason=f"{CHROMIUM} is not installed (apt-get install chromium); the browser tests never download one"
    )
    for item in items:
        if HERE not in item.path.resolve().parents:
            continue
        item.add_marker(pytest.mark.browser)
        if not CHROMIUM.exists():
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Launch Debian's Chromium, headless, with nothing that calls home."""
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": CHROMIUM_ARGS}


def _sample_items(admin_id: int) -> list[Any]:
    """Rows for the test entity's pages: long Chinese and English names, e-mails, amounts, dates, every status."""
    import datetime as dt
    from decimal import Decimal

    from tests.items_plugin.models import Item

    names = [
        "關係貿易股份有限公司 北區業務部 年度採購合約",
        "Kaohsiung Harbour Logistics International Holdings Co., Ltd. annual maintenance renewal",
        "台積電供應鏈 導入專案 第二期",
        "short",
    ]
    statuses = ["open", "won", "lost"]
    return [
        Item(
            name=f"{names[n % len(names)]} #{n}",
            email=f"procurement.department.contact{n}@very-long-company-domain-name.example.com.tw",
            phone=f"+886 2 2712 {n:04d}",
            amount=Decimal(1234567) + n,
            due=dt.date(2026, 1 + n % 12, 1 + n % 28),
            status=statuses[n % len(statuses)],
            notes="第一行\nSecond line with a very long unbroken token " + "x" * 80,
            owner_id=admin_id,
        )
        for n in range(30)  # more than one page
    ]


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The app served by werkzeug (threaded) on 127.0.0.1 and a free port, in a background thread.

    Its plugins are the installed ones plus the test suite's entity plugin (``tests.items_plugin``), so the
    generated list, detail and form pages of the entity framework are in the menu whatever modules are installed.
    """
    from werkzeug.serving import make_server

    from core import db
    from core.app import create_app
    from core.db import Base
    from core.demo import load_demo_data
    from core.migrate import upgrade
    from core.plugins import discover
    from core.provisioning import create_tenant, create_user
    from core.tenancy import tenant_context
    from core.testing import TEST_CONFIG
    from tests.items_plugin import plugin as items_plugin

    database = tmp_path_factory.mktemp("browser") / "browser.sqlite3"
    app = create_app(
        {
            **TEST_CONFIG,
            "DATABASE_URL": f"sqlite:///{database}",
            "WTF_CSRF_ENABLED": True,  # the real sign-in form, token and all
            "DEFAULT_TENANT": None,
        },
        plugins=[*discover(), items_plugin],
    )
    with app.app_context():
        upgrade(app)  # what `crm db upgrade` does
        # The test plugin has no migration: create its tables only, so a table missing from core's or an
        # installed plugin's migrations fails here as it would in `crm quickstart`.
        owners = app.extensions["crm.plugins"].owners.tables
        tables = [table for name, table in Base.metadata.tables.items() if owners.get(name) == "items"]
        Base.metadata.create_all(app.extensions["crm.db"].engine, tables=tables)
        tenant = create_tenant("browser", "關係貿易股份有限公司 Guanxi Trading Co., Ltd.", host="127.0.0.1")
        db.session.commit()
        with tenant_context(tenant):
            admin = create_user(ADMIN_EMAIL, password=ADMIN_PASSWORD, name="系統管理員", groups=["administrators"])
            db.session.add_all(_sample_items(admin.id))
            db.session.commit()
        load_demo_data(tenant)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", ADMIN_EMAIL, ADMIN_PASSWORD)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        app.extensions["crm.db"].engine.dispose()


@dataclass
class RouteGuard:
    """Aborts and remembers every request whose host is not 127.0.0.1."""

    blocked: list[str] = field(default_factory=list)

    def __call__(self, route: Any) -> None:
        url = route.request.url
        if urlsplit(url).hostname == "127.0.0.1":
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort("blockedbyclient")

    def check(self) -> None:
        assert not self.blocked, "requests left 127.0.0.1: " + ", ".join(sorted(set(self.blocked)))


@pytest.fixture
def phone(new_context: Callable[..., Any]) -> Iterator[Callable[..., Any]]:
    """``phone(width=390, locale="zh-TW")``: a new page in a touch, mobile context behind the route guard."""
    guards: list[RouteGuard] = []

    def open_page(width: int = PHONE["width"], height: int = PHONE["height"], locale: str = "zh-TW") -> Any:
        context = new_context(
            viewport={"width": width, "height": height},
            screen={"width": width, "height": height},
            is_mobile=True,
            has_touch=True,
            locale=locale,
        )
        guard = RouteGuard()
        context.route("**/*", guard)
        guards.append(guard)
        page = context.new_page()
        page.route_guard = guard
        return page

    yield open_page
    for guard in guards:
        guard.check()
