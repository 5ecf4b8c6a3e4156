"""Alembic environment shared by core and every plugin (see core/migrate.py)."""

from alembic import context

from core.db import Base

config = context.config
app = config.attributes["app"]
only_plugin = config.attributes.get("only_plugin")
owners = app.extensions["crm.plugins"].owners.tables


def include_object(obj, name, type_, reflected, compare_to):
    """When generating a plugin's revision, look only at that plugin's tables."""
    if only_plugin is None:
        return True
    table = obj if type_ == "table" else getattr(obj, "table", None)
    table_name = name if type_ == "table" else getattr(table, "name", None)
    return owners.get(table_name) == only_plugin


def run() -> None:
    connection = config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        include_object=include_object,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
