"""Alembic environment shared by core and every plugin (see core/migrate.py)."""

from alembic import context
from alembic.operations import ops

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


def _drop_tables_without_index_drops(context_, revision, directives) -> None:
    """In generated downgrades, let ``drop_table`` drop the table's indexes.

    Alembic writes ``drop_index`` before every ``drop_table``; MariaDB refuses to drop an index that backs a
    foreign key ("needed in a foreign key constraint"), and dropping the table removes its indexes anyway.
    """
    for downgrade in (ops_ for script in directives for ops_ in script.downgrade_ops_list):
        dropped = {op_.table_name for op_ in downgrade.ops if isinstance(op_, ops.DropTableOp)}
        kept = []
        for op_ in downgrade.ops:
            if isinstance(op_, ops.DropIndexOp) and op_.table_name in dropped:
                continue
            if isinstance(op_, ops.ModifyTableOps) and op_.table_name in dropped:
                op_.ops = [sub for sub in op_.ops if not isinstance(sub, ops.DropIndexOp)]
                if not op_.ops:
                    continue
            kept.append(op_)
        downgrade.ops = kept


def run() -> None:
    connection = config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        include_object=include_object,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        process_revision_directives=_drop_tables_without_index_drops,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
