"""``crm plugins new``: the scaffold writes a package that compiles, starts its migration branch on core's real
head, installs, and passes its own generated tests."""

from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from jinja2 import Environment
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from core.cli import main
from core.migrate import MIGRATIONS
from core.scaffold import ScaffoldError, scaffold

EXPECTED_FILES = [
    "README.md",
    "babel.cfg",
    "crm_{name}/__init__.py",
    "crm_{name}/forms.py",
    "crm_{name}/migrations/versions/{name}_0001_initial.py",
    "crm_{name}/models.py",
    "crm_{name}/plugin.py",
    "crm_{name}/templates/{name}/detail.html",
    "crm_{name}/templates/{name}/form.html",
    "crm_{name}/templates/{name}/index.html",
    "crm_{name}/templates/{name}/panel.html",
    "crm_{name}/views.py",
    "pyproject.toml",
    "ruff.toml",
    "setup.cfg",
    "tests/test_{name}.py",
]


def real_core_heads() -> set[str]:
    """Core's head revision(s), read straight from core/migrations/versions (independently of the scaffold)."""
    script = ScriptDirectory(str(MIGRATIONS), version_locations=[str(MIGRATIONS / "versions")])
    return set(script.get_heads())


def load_module(path: Path) -> object:
    spec = importlib.util.spec_from_file_location(f"scaffolded_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_files_compile_and_migration_depends_on_core_head(tmp_path: Path) -> None:
    path = scaffold("loyalty", tmp_path, "Loyalty points 會員點數")

    assert path == tmp_path / "crm-loyalty"
    written = sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())
    assert written == sorted(f.format(name="loyalty") for f in EXPECTED_FILES)
    for source in path.rglob("*.py"):
        compile(source.read_text(encoding="utf-8"), str(source), "exec")

    env = Environment(extensions=["jinja2.ext.i18n"])
    for template in (path / "crm_loyalty" / "templates" / "loyalty").glob("*.html"):
        env.parse(template.read_text(encoding="utf-8"))

    migration = load_module(path / "crm_loyalty" / "migrations" / "versions" / "loyalty_0001_initial.py")
    assert migration.revision == "loyalty_0001"
    assert migration.down_revision is None
    assert migration.branch_labels == ("loyalty",)
    assert set(migration.depends_on) == real_core_heads()

    setup_cfg = (path / "setup.cfg").read_text(encoding="utf-8")
    assert "name = crm-loyalty" in setup_cfg
    assert "loyalty = crm_loyalty.plugin" in setup_cfg
    assert "guanxi" in setup_cfg
    plugin_source = (path / "crm_loyalty" / "plugin.py").read_text(encoding="utf-8")
    assert 'TITLE = _l("Loyalty points 會員點數")' in plugin_source


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Loyalty", "lower-case"),
        ("loyalty-points", "lower-case"),
        ("1loyalty", "lower-case"),
        ("class", "lower-case"),
        ("core", "reserved"),
        ("admin", "reserved"),
        ("a" * 25, "longer than"),
    ],
)
def test_bad_names_are_refused(tmp_path: Path, name: str, message: str) -> None:
    with pytest.raises(ScaffoldError, match=message):
        scaffold(name, tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("title", ["   ", "two\nlines", "x" * 41])
def test_bad_titles_are_refused(tmp_path: Path, title: str) -> None:
    with pytest.raises(ScaffoldError, match="title"):
        scaffold("loyalty", tmp_path, title)
    assert list(tmp_path.iterdir()) == []


def test_existing_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "crm-loyalty").mkdir()
    with pytest.raises(ScaffoldError, match="already exists"):
        scaffold("loyalty", tmp_path)


def test_cli_command(tmp_path: Path) -> None:
    runner = CliRunner()
    created = runner.invoke(main, ["plugins", "new", "loyalty", "--directory", str(tmp_path), "--title", "Points"])
    assert created.exit_code == 0, created.output
    assert f"Created {tmp_path / 'crm-loyalty'}" in created.output
    assert (tmp_path / "crm-loyalty" / "crm_loyalty" / "plugin.py").is_file()

    refused = runner.invoke(main, ["plugins", "new", "Bad-Name", "--directory", str(tmp_path)])
    assert refused.exit_code == 1
    assert refused.output.startswith("Error: invalid plugin name 'Bad-Name'")
    assert "Traceback" not in refused.output


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is not installed (it comes with the [test] extra)")
@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("x", None),
        ("loyalty", "Loyalty points"),
        ("a_plugin_name_of_24_char", "會員點數與優惠券管理 Loyalty points & coupons 100%"),
    ],
)
def test_generated_code_is_ruff_clean(tmp_path: Path, name: str, title: str | None) -> None:
    """Clean for the shortest and the longest names: no line grows past the limit, none gets joined."""
    path = scaffold(name, tmp_path, title)
    for command in (["ruff", "check", "--no-cache", "."], ["ruff", "format", "--no-cache", "--check", "."]):
        result = subprocess.run(command, cwd=path, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr


# ------------------------------------------------------------------------------- install and run its tests


def _build_isolation_flag() -> list[str]:
    """``--no-build-isolation`` (fast, offline) when this interpreter can build an editable wheel itself."""
    import setuptools

    major, minor = (int(part) for part in setuptools.__version__.split(".")[:2])
    can_build = importlib.util.find_spec("wheel") is not None or (major, minor) >= (70, 1)
    return ["--no-build-isolation"] if can_build else []


def _separate_database(name: str) -> tuple[dict[str, str], str | None]:
    """The environment for the generated tests: on PostgreSQL or MariaDB a database of their own, because the
    fixtures drop and recreate the database they are given (this suite's database must survive)."""
    env = dict(os.environ)
    url = env.get("CRM_TEST_DATABASE_URL")
    if not url or url.startswith("sqlite"):
        env.pop("CRM_TEST_DATABASE_URL", None)
        return env, None
    parsed = make_url(url)
    separate = parsed.set(database=f"{parsed.database}_{name}")
    env["CRM_TEST_DATABASE_URL"] = separate.render_as_string(hide_password=False)
    return env, env["CRM_TEST_DATABASE_URL"]


def _drop_database(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        engine = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
        statement = f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'
    else:
        engine = create_engine(parsed.set(database=""))
        statement = f"DROP DATABASE IF EXISTS `{parsed.database}`"
    with engine.connect() as connection:
        connection.execute(text(statement))
    engine.dispose()


@pytest.mark.slow
def test_generated_plugin_installs_and_passes_its_own_tests(tmp_path: Path) -> None:
    """``pip install -e`` the scaffold, run its tests in a subprocess, uninstall it.

    The package goes into a virtual environment layered on this interpreter (``--system-site-packages``: the
    same Python, Guanxi and pytest), not into the shared site-packages: while it is installed there, every
    other ``crm`` command or test run on the machine would discover the half-made plugin.
    """
    name = f"scaffold{secrets.token_hex(4)}"
    path = scaffold(name, tmp_path / "src", "會員點數 100% Loyalty")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    python = str(venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python"))
    pip = [sys.executable, "-m", "pip", "--python", python, "--disable-pip-version-check"]
    env, database = _separate_database(name)
    try:
        installed = subprocess.run(
            [*pip, "install", "--no-deps", *_build_isolation_flag(), "-e", str(path)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert installed.returncode == 0, installed.stdout + installed.stderr

        tests = subprocess.run(
            [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
            cwd=path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert tests.returncode == 0, tests.stdout + tests.stderr
        assert " passed" in tests.stdout and " failed" not in tests.stdout, tests.stdout
    finally:
        subprocess.run([*pip, "uninstall", "-y", f"crm-{name}"], capture_output=True, timeout=300)
        if database:
            _drop_database(database)
    assert f"crm-{name}" not in subprocess.run([*pip, "list"], capture_output=True, text=True).stdout
