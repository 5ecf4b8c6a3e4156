"""Alembic, one environment: core's versions plus every installed plugin's ``migrations/versions`` folder.

Core's revisions carry the branch label ``core``; each plugin's first revision carries the plugin's name as
its branch label and ``depends_on`` core (and the plugins it requires), so ``upgrade heads`` builds them all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import alembic
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask

from core.plugins import CORE

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def version_locations(app: Flask) -> dict[str, Path]:
    locations = {CORE: MIGRATIONS / "versions"}
    for name, info in app.extensions["crm.plugins"].plugins.items():
        folder = info.path / "migrations" / "versions"
        if folder.is_dir():
            locations[name] = folder
    return locations


def alembic_config(app: Flask, connection: Any = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # Alembic 1.16 renamed the option (the old name warns); the locations are joined with os.pathsep either way.
    modern = tuple(int(part) for part in alembic.__version__.split(".")[:2]) >= (1, 16)
    separator = "path_separator" if modern else "version_path_separator"
    config.set_main_option(separator, "os")
    import os

    config.set_main_option("version_locations", os.pathsep.join(str(p) for p in version_locations(app).values()))
    config.set_main_option("sqlalchemy.url", app.config["DATABASE_URL"].replace("%", "%%"))
    config.attributes["app"] = app
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(app: Flask, target: str = "heads") -> None:
    """Bring the schema up to date (``crm db upgrade``)."""
    with app.extensions["crm.db"].engine.begin() as connection:
        command.upgrade(alembic_config(app, connection), target)


def downgrade(app: Flask, target: str) -> None:
    with app.extensions["crm.db"].engine.begin() as connection:
        command.downgrade(alembic_config(app, connection), target)


def current_heads(app: Flask) -> set[str]:
    with app.extensions["crm.db"].engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads())


def pending(app: Flask) -> bool:
    """Whether the database is behind the code."""
    script = ScriptDirectory.from_config(alembic_config(app))
    current = current_heads(app)
    # Alembic keeps only the tips in its version table: a plugin's head stands for the core revision it
    # depends on, so compare with everything the current heads reach, not with the heads alone.
    applied = {rev.revision for rev in script.iterate_revisions(tuple(current), "base")} if current else set()
    return not set(script.get_heads()) <= applied


def new_revision(app: Flask, plugin: str, message: str, autogenerate: bool = True) -> Any:
    """Create a revision in ``plugin``'s branch (its first one starts the branch and depends on core)."""
    host = app.extensions["crm.plugins"]
    config = alembic_config(app)
    script = ScriptDirectory.from_config(config)
    if plugin == CORE:
        folder = MIGRATIONS / "versions"
    else:
        if plugin not in host.plugins:
            raise ValueError(f"no installed plugin is called {plugin!r}")
        folder = host.plugins[plugin].path / "migrations" / "versions"
    folder.mkdir(parents=True, exist_ok=True)
    branch_exists = any(plugin in (rev.branch_labels or ()) for rev in script.walk_revisions())
    config.attributes["only_plugin"] = plugin
    kwargs: dict[str, Any] = {"message": message, "autogenerate": autogenerate, "version_path": str(folder)}
    if branch_exists:
        kwargs["head"] = f"{plugin}@head"
    else:
        kwargs["head"] = "base"
        kwargs["branch_label"] = plugin
        if plugin != CORE:
            requires = ["core", *host.plugins[plugin].requires]
            kwargs["depends_on"] = [f"{name}@head" for name in requires]
    with app.extensions["crm.db"].engine.begin() as connection:
        config.attributes["connection"] = connection
        return command.revision(config, **kwargs)
