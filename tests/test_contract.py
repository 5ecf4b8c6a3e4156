"""The contract every plugin (and core) keeps: declared permissions on every route, known and documented
hooks, namespaced permissions, tenant-first indexes, side-effect-free imports, migrations that match the
models, and no raw SQL in plugins."""

import importlib.metadata
import json
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pluggy
import pytest
from sqlalchemy import UniqueConstraint, create_engine, inspect, text
from sqlalchemy.engine import make_url

from core import hookspecs
from core.contributions import Permission
from core.db import Base, TenantOwned
from core.hooks import hookimpl
from core.plugins import ENTRY_POINT_GROUP, PluginError
from tests import notes_extra_plugin
from tests.notes_plugin import plugin as notes_plugin

ROOT = Path(__file__).resolve().parents[1]
TEST_PLUGINS = [notes_plugin, notes_extra_plugin]
HOOKSPECS = sorted(name for name, value in vars(hookspecs).items() if callable(value) and hasattr(value, "crm_spec"))


def installed():
    return sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)


@pytest.fixture
def full_app(make_app):
    """Every installed plugin plus the test-only ones."""
    return make_app(plugins=[ep.name for ep in installed()] + TEST_PLUGINS)


# ---------------------------------------------------------------------------------------------- routes


def test_every_endpoint_declares_a_registered_permission_or_is_public(full_app):
    from core.app import _is_static
    from core.permissions import view_policy

    permissions = full_app.extensions["crm.permissions"]
    undeclared = {}
    for rule in full_app.url_map.iter_rules():
        if _is_static(rule.endpoint):
            continue
        policy = view_policy(full_app.view_functions[rule.endpoint])
        if policy not in ("public", "authenticated") and policy not in permissions:
            undeclared[rule.rule] = policy
    assert undeclared == {}
    assert len(list(full_app.url_map.iter_rules())) > 10


def test_a_view_without_a_declared_permission_is_refused(make_app, make_tenant):
    app = make_app()
    app.add_url_rule("/forgotten", "forgotten", lambda: "secret")
    make_tenant("acme")
    assert app.test_client().get("/forgotten", base_url="http://acme.crm.test").status_code == 403


# ----------------------------------------------------------------------------------------------- hooks


def test_every_hook_implementation_names_a_known_hookspec(full_app):
    pm = full_app.extensions["crm.plugins"].pm
    pm.check_pending()
    for name, plugin in pm.list_name_plugin():
        for caller in pm.get_hookcallers(plugin) or []:
            assert caller.name in HOOKSPECS, f"{name} implements unknown hook {caller.name}"
    assert "register_blueprints" in HOOKSPECS and "handle_event" in HOOKSPECS


def test_a_misspelt_hook_stops_start_up(make_app):
    typo = types.ModuleType("typo_plugin")
    typo.__file__ = __file__
    typo.META = {"name": "typo"}
    typo.register_menuitems = hookimpl(lambda: [])
    with pytest.raises(pluggy.PluginValidationError, match="register_menuitems"):
        make_app(plugins=[typo])


def test_every_hookspec_is_documented_in_the_plugin_guide():
    guide = ROOT / "docs" / "plugins.md"
    if not guide.exists():
        pytest.skip("docs/plugins.md is not written yet")
    headings = [line for line in guide.read_text(encoding="utf-8").splitlines() if line.startswith("#")]
    undocumented = [name for name in HOOKSPECS if not any(re.search(rf"\b{name}\b", h) for h in headings)]
    assert undocumented == []


# ----------------------------------------------------------------------------------------- permissions


def test_every_plugin_permission_starts_with_the_plugin_name(full_app):
    owners = full_app.extensions["crm.plugins"].owners.permissions
    assert {name for name, owner in owners.items() if owner == "notes"} == {"notes.view", "notes.edit"}
    wrong = {name: owner for name, owner in owners.items() if owner != "core" and not name.startswith(owner + ".")}
    assert wrong == {}
    assert all(name.count(".") in (1, 2) for name in owners)


def test_a_permission_outside_the_plugins_namespace_stops_start_up(make_app):
    squatter = types.ModuleType("squatter_plugin")
    squatter.__file__ = __file__
    squatter.META = {"name": "squatter"}
    squatter.register_permissions = hookimpl(lambda: [Permission("notes.view", "View notes")])
    with pytest.raises(PluginError, match="must start with 'squatter.'"):
        make_app(plugins=[squatter])


# -------------------------------------------------------------------------------------------- schema


def test_tenant_owned_indexes_and_unique_constraints_start_with_tenant_id(full_app):
    offenders = []
    tenant_owned = [m.local_table for m in Base.registry.mappers if issubclass(m.class_, TenantOwned)]
    assert {"users", "groups", "test_notes"} <= {table.name for table in tenant_owned}
    for table in tenant_owned:
        for index in table.indexes:
            if [c.name for c in index.columns][:1] != ["tenant_id"]:
                offenders.append(f"index {index.name} on {table.name}")
        for constraint in table.constraints:
            if isinstance(constraint, UniqueConstraint) and [c.name for c in constraint.columns][:1] != ["tenant_id"]:
                offenders.append(f"unique constraint {constraint.name} on {table.name}")
        for column in table.columns:
            if column.unique or column.index:
                offenders.append(f"column {table.name}.{column.name} is unique/indexed on its own")
    assert offenders == []


# ------------------------------------------------------------------------------------ import side effects

PROBE = """
import importlib, json, sys, threading
seen = []
def audit(event, args):
    if event in ("sqlite3.connect", "socket.connect", "_thread.start_new_thread"):
        seen.append([event, repr(args)[:200]])
    elif event == "open" and isinstance(args[0], str) and args[0].endswith((".sqlite3", ".sqlite", ".db")):
        seen.append([event, args[0]])
sys.addaudithook(audit)
importlib.import_module(sys.argv[1])
print(json.dumps({"events": seen, "threads": threading.active_count()}))
"""


def plugin_modules():
    return ["core.builtin", "tests.notes_plugin.plugin", "tests.notes_extra_plugin"] + [
        ep.value.split(":")[0] for ep in installed()
    ]


def test_probe_notices_a_database_connection(tmp_path):
    probe = run_probe("sqlite3", tmp_path, extra="import sqlite3; sqlite3.connect(':memory:')\n")
    assert probe["events"] and probe["events"][0][0] == "sqlite3.connect"


def run_probe(module, tmp_path, extra=""):
    instance = tmp_path / "instance"
    instance.mkdir(exist_ok=True)
    env = {**os.environ, "CRM_INSTANCE_PATH": str(instance), "PYTHONPATH": str(ROOT)}
    script = PROBE.replace("importlib.import_module(sys.argv[1])\n", "importlib.import_module(sys.argv[1])\n" + extra)
    result = subprocess.run(
        [sys.executable, "-c", script, module], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert list(instance.iterdir()) == [], f"importing {module} wrote to the instance folder"
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("module", plugin_modules())
def test_importing_a_plugin_opens_no_database_and_starts_no_thread(module, tmp_path):
    probe = run_probe(module, tmp_path)
    assert probe == {"events": [], "threads": 1}


# ------------------------------------------------------------------------------------------ migrations


def schema_drift(app, engine):
    """Differences between the models of core and the installed plugins and the migrated database."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    owned = set(app.extensions["crm.plugins"].owners.tables)

    def include(obj, name, type_, reflected, compare_to):
        table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
        return table in owned

    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": include, "target_metadata": Base.metadata}
        )
        return compare_metadata(context, Base.metadata)


def check_migrations(make_app, url):
    from core.migrate import downgrade, upgrade

    app = make_app(plugins=[ep.name for ep in installed()], DATABASE_URL=url)
    engine = app.extensions["crm.db"].engine
    assert inspect(engine).get_table_names() == []
    upgrade(app, "heads")
    tables = set(inspect(engine).get_table_names())
    assert {"tenants", "users", "groups", "grants", "audit_log", "jobs"} <= tables
    assert "test_notes" not in tables  # test-only plugins have no migrations
    assert schema_drift(app, engine) == []
    downgrade(app, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()


def test_migrations_match_the_models_and_downgrade_to_nothing_on_sqlite(make_app, tmp_path):
    check_migrations(make_app, f"sqlite:///{tmp_path / 'migrations.sqlite3'}")


def test_migrations_match_the_models_on_the_server_database(make_app):
    from core.testing import _fresh_database

    url = os.environ.get("CRM_TEST_DATABASE_URL", "")
    if not url or url.startswith("sqlite"):
        pytest.skip("CRM_TEST_DATABASE_URL does not name a PostgreSQL or MariaDB database")
    parsed = make_url(url)
    scratch = parsed.set(database=f"{parsed.database}_migrations")
    _fresh_database(scratch.render_as_string(hide_password=False))
    try:
        check_migrations(make_app, scratch.render_as_string(hide_password=False))
    finally:
        drop_database(scratch)


def drop_database(url):
    if url.get_backend_name() == "postgresql":
        admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        statement = f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'
    else:
        admin = create_engine(url.set(database=""))
        statement = f"DROP DATABASE IF EXISTS `{url.database}`"
    with admin.connect() as connection:
        connection.execute(text(statement))
    admin.dispose()


# -------------------------------------------------------------------------------------------- raw SQL

# Core statements on a model's table (Model.__table__) are not ORM statements: the tenant filter skips them.
RAW_SQL = re.compile(r"""\btext\(|\.execute\(\s*[rbuf]?["']|exec_driver_sql|\.__table__\b""")


def plugin_sources():
    roots = [ROOT / "plugins", ROOT / "tests" / "notes_plugin"]
    files = [ROOT / "tests" / "notes_extra_plugin.py"]
    for root in roots:
        if root.is_dir():
            files += [p for p in root.rglob("*.py") if "migrations" not in p.relative_to(root).parts]
    return files


def test_raw_sql_detector_flags_the_usual_forms():
    assert RAW_SQL.search('db.session.execute(text("DELETE FROM contacts"))')
    assert RAW_SQL.search("conn.execute('DROP TABLE x')")
    assert RAW_SQL.search('engine.exec_driver_sql("SELECT 1")')
    assert RAW_SQL.search("db.session.execute(select(Note.__table__.c.title))")
    assert not RAW_SQL.search("db.session.execute(select(Note).where(Note.id == 1))")
    assert not RAW_SQL.search("context(request)")


def test_no_plugin_source_contains_raw_sql():
    files = plugin_sources()
    assert ROOT / "tests" / "notes_plugin" / "views.py" in files
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in files
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if RAW_SQL.search(line)
    ]
    assert offenders == []
