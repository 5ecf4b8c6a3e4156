"""What every benchmark scenario shares: the database, the app, the gunicorn server, the HTTP client, timing and
the report.

Nothing here knows about contacts; a scenario (``bench/contacts.py``) generates its rows, names its operations
and hands them to :func:`measure`.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine, make_url

BENCH_PASSWORD = "bench-password-not-secret"
SERVER_TIMING = re.compile(r"(?:^|,)\s*app;dur=([0-9.]+)")
CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
ROOT = Path(__file__).resolve().parent.parent


def log(message: str) -> None:
    """Progress on stderr (the report goes to stdout)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------- database


@dataclass
class BenchDatabase:
    """The database a run uses: ``url``, whether the run created it (and so drops it), a temp folder."""

    url: str
    created: bool
    workdir: Path
    notes: list[str] = field(default_factory=list)

    @property
    def backend(self) -> str:
        return make_url(self.url).get_backend_name()


def resolve_database(option: str | None, scenario: str, reuse: bool) -> BenchDatabase:
    """``--database``, else ``CRM_DATABASE_URL``, else a SQLite file in a new temporary folder.

    PostgreSQL and MariaDB databases are dropped and created afresh (unless ``reuse``); a SQLite file is
    deleted first. The caller drops what it created unless ``--keep``.
    """
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{scenario}-"))
    url = option or os.environ.get("CRM_DATABASE_URL") or f"sqlite:///{workdir / 'bench.sqlite3'}"
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        path = parsed.database
        if not reuse and path and path != ":memory:":
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(path + suffix)
        return BenchDatabase(url, created=not reuse, workdir=workdir)
    if reuse:
        return BenchDatabase(url, created=False, workdir=workdir)
    _recreate(url)
    return BenchDatabase(url, created=True, workdir=workdir)


def _recreate(url: str) -> None:
    parsed = make_url(url)
    name = parsed.database
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0"))
    elif backend in ("mysql", "mariadb"):
        admin = create_engine(parsed.set(database=""))
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
            conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci"))
    else:
        raise SystemExit(f"unsupported database {url!r}")
    admin.dispose()


def drop_database(database: BenchDatabase, keep: bool = False) -> None:
    """Remove what :func:`resolve_database` created and the temp folder; with ``keep`` only the files that are
    not the database."""
    parsed = make_url(database.url)
    backend = parsed.get_backend_name()
    if keep:
        inside = backend == "sqlite" and str(parsed.database or "").startswith(str(database.workdir))
        if not inside:
            shutil.rmtree(database.workdir, ignore_errors=True)
        return
    if database.created and backend == "postgresql":
        admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        admin.dispose()
    elif database.created and backend in ("mysql", "mariadb"):
        admin = create_engine(parsed.set(database=""))
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{parsed.database}`"))
        admin.dispose()
    elif database.created and backend == "sqlite" and parsed.database:
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(parsed.database + suffix)
    shutil.rmtree(database.workdir, ignore_errors=True)


def app_config(database: BenchDatabase, secret_key: str) -> dict[str, Any]:
    return {
        "DATABASE_URL": database.url,
        "SECRET_KEY": secret_key,
        "SESSION_COOKIE_SECURE": False,
        "REMEMBER_COOKIE_SECURE": False,
        "JOBS_SYNC": True,
    }


def make_app(database: BenchDatabase, secret_key: str, plugins: Sequence[str] | None = None) -> Any:
    """The app, in this process, on the bench database (``plugins``: module names; default the installed ones)."""
    from core.app import create_app

    os.environ.setdefault("CRM_INSTANCE_PATH", str(database.workdir / "instance"))
    return create_app(app_config(database, secret_key), plugins=list(plugins) if plugins else None)


def migrate(app: Any) -> list[str]:
    """Run the migrations; create what they do not create yet with ``create_all`` and say so."""
    from core import migrate as migrations
    from core.db import Base

    notes = []
    try:
        migrations.upgrade(app)
    except Exception as exc:  # a branch that cannot run yet; fall back below
        first_line = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        notes.append(f"migrations failed ({type(exc).__name__}: {first_line}); tables created with create_all")
    engine = app.extensions["crm.db"].engine
    existing = set(inspect(engine).get_table_names())
    missing = sorted(set(Base.metadata.tables) - existing)
    if missing:
        Base.metadata.create_all(engine)
        notes.append(
            f"{len(missing)} tables have no migration yet and were created with Base.metadata.create_all: "
            + ", ".join(missing)
        )
    return notes


# ------------------------------------------------------------------------------------------------ server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MemorySampler:
    """The largest combined proportional set size (PSS) of process ``pid`` and its children, sampled by a thread of
    this process (a thread in the measured process would change it: the import forks its checker only when it
    runs a single thread).

    PSS splits each page shared by several processes between them, so the sum is what the processes occupy
    together; adding their peak resident sizes counts the pages a forked child shares with its parent twice.
    """

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        self.pid = str(pid)
        self.interval = interval
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-memory", daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float | None:
        return round(self.peak_kib / 1024, 1) if self.peak_kib else None

    def _run(self) -> None:
        while True:
            total = sum(_pss_kib(pid) for pid in [self.pid, *_children(self.pid)])
            self.peak_kib = max(self.peak_kib, total)
            if self._stop.wait(self.interval):
                return


def _children(pid: str) -> list[str]:
    pids: list[str] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return pids
    for task in tasks:
        try:
            pids.extend((task / "children").read_text().split())
        except OSError:
            continue
    return pids


def _pss_kib(pid: str) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as handle:
            return next((int(line.split()[1]) for line in handle if line.startswith("Pss:")), 0)
    except OSError:
        return 0


def vm_hwm_mb(pid: int | str = "self") -> float | None:
    """Peak resident memory of a process (``VmHWM``) in MB, or ``None`` when it cannot be read."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def children(pid: int) -> list[int]:
    """Direct child processes of ``pid`` (gunicorn's workers)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            found.append(int(entry))
    return sorted(found)


class Server:
    """``gunicorn -w N -k gthread --threads T 'core:create_app()'`` on a free local port."""

    def __init__(
        self,
        database: BenchDatabase,
        tenant: str,
        secret_key: str,
        workers: int,
        threads: int,
        plugins: Sequence[str] | None = None,
    ) -> None:
        self.port = free_port()
        self.plugins = list(plugins or [])
        self.workers = workers
        self.threads = threads
        self.env = {
            **os.environ,
            "CRM_DATABASE_URL": database.url,
            "CRM_SESSION_COOKIE_SECURE": "false",
            "CRM_REMEMBER_COOKIE_SECURE": "false",
            "CRM_DEFAULT_TENANT": tenant,
            "CRM_SECRET_KEY": secret_key,
            "CRM_INSTANCE_PATH": str(database.workdir / "instance"),
        }
        self.log_path = database.workdir / "gunicorn.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            str(self.workers),
            "-k",
            "gthread",
            "--threads",
            str(self.threads),
            "-b",
            f"127.0.0.1:{self.port}",
            "--timeout",
            "120",
            "--log-level",
            "warning",
            f"core:create_app(plugins={self.plugins!r})" if self.plugins else "core:create_app()",
        ]

    def __enter__(self) -> Server:
        log(f"starting gunicorn ({self.workers} workers x {self.threads} threads) on port {self.port}")
        self._log = open(self.log_path, "wb")  # noqa: SIM115  (closed in __exit__)
        self.process = subprocess.Popen(
            self.command, env=self.env, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited early:\n{self.log_path.read_text(errors='replace')[-3000:]}")
            if len(children(self.process.pid)) >= self.workers and self._answers():
                return self
            time.sleep(0.2)
        raise SystemExit("gunicorn did not answer within 60 s")

    def _answers(self) -> bool:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            conn.request("GET", "/login")
            conn.getresponse().read()
            conn.close()
            return True
        except OSError:
            return False

    def worker_peak_rss(self) -> dict[str, float | None]:
        if self.process is None:
            return {}
        return {str(pid): vm_hwm_mb(pid) for pid in children(self.process.pid)}

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __exit__(self, *exc: Any) -> None:
        if exc[0] is not None:
            log(f"gunicorn's log ends with:\n{self.log_tail()}")
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


# ------------------------------------------------------------------------------------------------ client


@dataclass
class Answer:
    status: int
    body: bytes
    client_ms: float
    server_ms: float | None
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


class HttpClient:
    """A keep-alive HTTP/1.1 client with a cookie jar: one connection, for one thread."""

    def __init__(self, port: int, headers: Mapping[str, str] | None = None) -> None:
        self.port = port
        self.headers = dict(headers or {})
        self.cookies: dict[str, str] = {}
        self.conn: http.client.HTTPConnection | None = None

    def copy(self) -> HttpClient:
        other = HttpClient(self.port, self.headers)
        other.cookies = dict(self.cookies)
        return other

    def _connection(self) -> http.client.HTTPConnection:
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        return self.conn

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
    ) -> Answer:
        sent = {**self.headers, **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in (1, 2):
            conn = self._connection()
            started = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=sent)
                response = conn.getresponse()
                data = response.read()
            except (http.client.HTTPException, ConnectionError, OSError):
                # The server closed an idle keep-alive connection: reconnect once.
                conn.close()
                self.conn = None
                if attempt == 2:
                    raise
                continue
            elapsed = (time.perf_counter() - started) * 1000
            break
        headers_out = {k.lower(): v for k, v in response.getheaders()}
        for key, value in response.getheaders():
            if key.lower() == "set-cookie":
                name, _sep, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        if headers_out.get("connection", "").lower() == "close":
            conn.close()
            self.conn = None
        timing = SERVER_TIMING.search(headers_out.get("server-timing", ""))
        return Answer(response.status, data, elapsed, float(timing.group(1)) if timing else None, headers_out)

    def get(self, path: str, **params: Any) -> Answer:
        if params:
            path += ("&" if "?" in path else "?") + urllib.parse.urlencode(params, doseq=True)
        return self.request("GET", path)

    def post_form(self, path: str, data: Mapping[str, Any]) -> Answer:
        body = urllib.parse.urlencode(data, doseq=True).encode()
        return self.request("POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"})

    def post_json(self, path: str, data: Any) -> Answer:
        body = json.dumps(data).encode()
        return self.request("POST", path, body, {"Content-Type": "application/json"})

    def sign_in(self, email: str, password: str) -> None:
        page = self.get("/login")
        match = CSRF_INPUT.search(page.body.decode("utf-8", "replace"))
        if page.status != 200 or match is None:
            raise SystemExit(f"no sign-in form at /login (status {page.status})")
        answer = self.post_form(
            "/login", {"csrf_token": match.group(1) or match.group(2), "email": email, "password": password}
        )
        if answer.status != 302:
            raise SystemExit(f"sign-in as {email} failed with status {answer.status}")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# ------------------------------------------------------------------------------------------------ timing


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile (``fraction`` 0.95 for p95); ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-fraction * len(ordered) // 1))))
    return ordered[rank - 1]


def _round(value: float | None, places: int = 1) -> float | None:
    return None if value is None else round(value, places)


@dataclass
class Operation:
    """One thing to measure over HTTP: ``call(client, i)`` makes the i-th request and returns its answer.

    ``kind`` picks the target: ``page`` and ``api`` (100 ms), ``search`` (150 ms), ``write`` (no target).
    ``floor`` returns the SQL statements whose bare time is the operation's SQL floor.
    """

    name: str
    kind: str
    call: Callable[[HttpClient, int], Answer]
    expect: tuple[int, ...] = (200,)
    description: str = ""
    client: str = "browser"  # "browser" (session cookie) or "api" (bearer token)


TARGETS_MS = {"page": 100.0, "api": 100.0, "search": 150.0}


@dataclass
class Settings:
    warmup: int
    requests: int
    concurrency: int
    duration: float


def _check(op: Operation, answer: Answer) -> None:
    if answer.status not in op.expect:
        snippet = answer.body[:500].decode("utf-8", "replace")
        raise RuntimeError(f"{op.name}: status {answer.status}, expected {op.expect}: {snippet}")


def measure(op: Operation, client: HttpClient, settings: Settings) -> dict[str, Any]:
    """Warm up, then ``requests`` sequential requests (latency), then ``concurrency`` clients for ``duration``
    seconds (throughput)."""
    for i in range(settings.warmup):
        _check(op, op.call(client, i))
    client_ms: list[float] = []
    server_ms: list[float] = []
    for i in range(settings.requests):
        answer = op.call(client, settings.warmup + i)
        _check(op, answer)
        client_ms.append(answer.client_ms)
        if answer.server_ms is not None:
            server_ms.append(answer.server_ms)
    done = 0
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.perf_counter() + settings.duration

    def worker(number: int) -> None:
        nonlocal done
        mine = client.copy()
        i = 10_000 * (number + 1)
        try:
            while time.perf_counter() < stop_at:
                answer = op.call(mine, i)
                i += 1
                if answer.status not in op.expect:
                    with lock:
                        errors.append(str(answer.status))
                    continue
                with lock:
                    done += 1
        except Exception as exc:  # reported, not raised: one failed thread must not hide the others' figures
            with lock:
                errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            mine.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(settings.concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    result: dict[str, Any] = {
        "kind": op.kind,
        "description": op.description,
        "requests": len(client_ms),
        "median_ms": _round(statistics.median(server_ms)) if server_ms else None,
        "p95_ms": _round(percentile(server_ms, 0.95)),
        "client_median_ms": _round(statistics.median(client_ms)),
        "client_p95_ms": _round(percentile(client_ms, 0.95)),
        "rps": _round(done / elapsed if elapsed else 0.0),
        "concurrency": settings.concurrency,
    }
    if errors:
        result["errors"] = errors[:5]
    target = TARGETS_MS.get(op.kind)
    if target is not None and result["p95_ms"] is not None:
        result["target_p95_ms"] = target
        result["meets_target"] = result["p95_ms"] < target
    return result


# ----------------------------------------------------------------------------------------------- SQL floor


@dataclass
class Captured:
    """The statements a piece of app code sent to the database, exactly as the driver received them."""

    statements: list[tuple[str, Any]] = field(default_factory=list)

    @property
    def selects(self) -> list[tuple[str, Any]]:
        return [(sql, params) for sql, params in self.statements if sql.lstrip().upper().startswith(("SELECT", "WITH"))]


@contextlib.contextmanager
def capture(engine: Engine) -> Iterator[Captured]:
    """Record every statement executed on ``engine`` inside the block."""
    captured = Captured()

    def listener(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if not executemany:
            captured.statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield captured
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def replay(engine: Engine, statements: Sequence[tuple[str, Any]], repeat: int) -> dict[str, Any]:
    """Run ``statements`` on a raw driver connection ``repeat`` times (after one warm-up); time each round.

    Only the driver's execute and fetch are timed: no SQLAlchemy, no ORM, no Python around them.
    """
    if not statements:
        return {"sql_floor_ms": None, "sql_floor_p95_ms": None, "queries": 0}
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        rounds: list[float] = []
        each: list[list[float]] = [[] for _statement in statements]
        for round_number in range(repeat + 1):
            started = time.perf_counter()
            for number, (sql, params) in enumerate(statements):
                began = time.perf_counter()
                cursor.execute(sql, params)
                cursor.fetchall()
                if round_number:
                    each[number].append((time.perf_counter() - began) * 1000)
            elapsed = (time.perf_counter() - started) * 1000
            if round_number:
                rounds.append(elapsed)
        cursor.close()
        raw.rollback()
    finally:
        raw.close()
    slowest = max(range(len(statements)), key=lambda n: statistics.median(each[n]))
    return {
        "sql_floor_ms": _round(statistics.median(rounds), 2),
        "sql_floor_p95_ms": _round(percentile(rounds, 0.95), 2),
        "queries": len(statements),
        "slowest_ms": _round(statistics.median(each[slowest]), 2),
        "slowest_sql": " ".join(statements[slowest][0].split())[:300],
    }


def explain(engine: Engine, statements: Sequence[tuple[str, Any]]) -> list[str]:
    """The query plans of ``statements`` (``EXPLAIN QUERY PLAN`` on SQLite, ``EXPLAIN ANALYZE`` on PostgreSQL)."""
    backend = engine.dialect.name
    prefix = {
        "sqlite": "EXPLAIN QUERY PLAN ",
        "postgresql": "EXPLAIN (ANALYZE, BUFFERS) ",
        "mysql": "EXPLAIN ",
        "mariadb": "EXPLAIN ",
    }[backend]
    plans = []
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for sql, params in statements:
            cursor.execute(prefix + sql, params)
            rows = cursor.fetchall()
            if backend == "sqlite":
                lines = [f"{'  ' * _depth(rows, row)}{row[-1]}" for row in rows]
            else:
                lines = [" | ".join(str(c) for c in row) for row in rows]
            plans.append(sql.strip() + "\n" + "\n".join(lines))
        cursor.close()
        raw.rollback()
    finally:
        raw.close()
    return plans


def _depth(rows: Sequence[Any], row: Any) -> int:
    parents = {r[0]: r[1] for r in rows}
    depth, parent = 0, row[1]
    while parent in parents:
        depth += 1
        parent = parents[parent]
    return depth


# ------------------------------------------------------------------------------------------------ report


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = round(int(line.split()[1]) / 1024 / 1024, 1)
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": memory,
        "python": sys.version.split()[0],
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def table(report: Mapping[str, Any]) -> str:
    """The short human summary printed after the JSON."""
    lines = [
        f"{report['scenario']} | N={report['rows']:,} | {report['database']} | {report['date']}",
        f"{'operation':<26}{'median':>9}{'p95':>9}{'target':>9}{'rps':>8}{'sql floor':>11}{'all sql':>9}{'q':>4}  ok",
    ]
    for name, result in report["operations"].items():
        target = result.get("target_p95_ms")
        ok = "" if target is None else ("yes" if result.get("meets_target") else "NO")

        def cell(value: Any, width: int, suffix: str = "") -> str:
            return f"{'-' if value is None else f'{value}{suffix}':>{width}}"

        lines.append(
            f"{name:<26}{cell(result.get('median_ms'), 9)}{cell(result.get('p95_ms'), 9)}{cell(target, 9)}"
            f"{cell(result.get('rps'), 8)}{cell(result.get('sql_floor_ms'), 11)}{cell(result.get('sql_all_ms'), 9)}"
            f"{cell(result.get('queries'), 4)}  {ok}"
        )
    imp = report.get("import")
    if imp and imp.get("error"):
        lines.append(f"import of {imp.get('rows'):,} rows: {imp['error']}  (target >= 10,000 rows/s: NOT MET)")
    elif imp:
        lines.append(
            f"import: {imp.get('rows'):,} rows in {imp.get('seconds')} s = {imp.get('rows_per_s')} rows/s, "
            f"peak RSS {imp.get('peak_rss_mb')} MB, {imp.get('cpu_s')} CPU s"
            + ("" if imp.get("meets_target") else "  (target: >= 10,000 rows/s and < 300 MB: NOT MET)")
        )
        if imp.get("checker_cpu_s") is not None:
            lines.append(
                f"  checker process: {imp['checker_cpu_s']} CPU s, peak RSS {imp.get('checker_peak_rss_mb')} MB"
                " (pages shared with the importer counted in both)"
            )
        if imp.get("peak_pss_mb") is not None:
            lines.append(f"  both processes together (shared pages counted once): peak {imp['peak_pss_mb']} MB")
        floor = imp.get("db_floor")
        if floor and floor.get("us_per_imported_row"):
            lines.append(
                f"  database alone (same inserts, {floor['contacts']:,} contacts): {floor['us_per_imported_row']} µs"
                f" per imported row = at most {floor['rows_per_s_at_most']:,} rows/s on one connection"
            )
    workers = report.get("worker_peak_rss_mb") or {}
    if workers:
        lines.append("gunicorn workers' peak RSS (MB): " + ", ".join(f"{v}" for v in workers.values()))
    if report.get("generation"):
        gen = report["generation"]
        what = "deals" if report.get("scenario") == "opportunities" else "contacts"
        lines.append(f"generation: {gen.get('seconds')} s ({gen.get('rows_per_s')} {what}/s)")
    for note in report.get("notes", []):
        lines.append(f"note: {note}")
    return "\n".join(lines)


def save_report(report: Mapping[str, Any], path: str | None) -> None:
    """Write the report so far (a long run that is stopped still leaves what it measured)."""
    if path:
        Path(path).write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def run_cli(prog: str, description: str, add_arguments: Any, run: Any, argv: list[str]) -> None:
    """A scenario's command line: parse ``argv``, run, print the JSON report and the summary table."""
    import argparse

    parser = argparse.ArgumentParser(prog=prog, description=description)
    add_arguments(parser)
    args = parser.parse_args(argv)
    report = run(args)
    print(json.dumps(report, ensure_ascii=False, indent=2))
    save_report(report, args.output)
    print()
    print(table(report))
