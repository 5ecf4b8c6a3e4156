"""PostgreSQL: the foreign keys of rows an import inserts in bulk, checked once per referenced row rather than by a
trigger per inserted row.

PostgreSQL checks a foreign key with a trigger per inserted row, which runs a query that finds and locks the
referenced row (``SELECT 1 ... FOR KEY SHARE``). For an imported contact with its e-mail address, phone number,
company and tag that is thirteen queries, nearly all of them for rows already checked (the tenant, the
importing user, a company named a thousand times, the contact inserted a moment before): more than half of what the
server spends on an imported row (bench/README.md, "Import": 203 against 90 µs of server CPU per contact).

Within :meth:`core.entities.bulk.BulkWriter.writing`, where the database role may set ``session_replication_role``
(a superuser, or on PostgreSQL 15 and later a role granted ``SET ON PARAMETER session_replication_role``), the
``COPY`` of a table whose only triggers are those of its foreign keys runs with triggers off (``replica``), and the
same guarantee is then given in the same transaction by :class:`ReferenceCheck`:

- a referenced value this import has not met before is looked up, one query per column and batch, and locked as the
  trigger locks it (``FOR KEY SHARE``: until the import ends, nobody can delete that row or change its key);
- a value met before is known to exist and is still locked; an id the import inserted itself exists too;
- a value that is not found raises an :class:`~sqlalchemy.exc.IntegrityError` worded like PostgreSQL's, and the
  import is rolled back.

Only the ``COPY`` itself runs with triggers off: every other statement of the transaction (updates through the ORM,
audit entries, the rows of other tables) has them as usual. A table with triggers of its own, a composite foreign
key or a foreign-key column filled by the database keeps its triggers. Without the privilege nothing changes: the
database checks every row, which is correct and slower.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Connection, Table, select
from sqlalchemy.exc import IntegrityError

# Where the check of one import lives while it writes: the DBAPI connection's info dictionary.
INFO_KEY = "crm.bulk_references"
# Values per lookup query (one bind parameter each).
LOOKUP_CHUNK = 5000


class MissingReference(Exception):
    """The driver-level error of a refused bulk insert: a referenced row does not exist."""


@dataclass(frozen=True, eq=False)
class Reference:
    """One single-column foreign key of a table: ``column`` refers to ``target`` (a column of another table, or of
    the same one)."""

    constraint: str
    column: Column
    target: Column

    @property
    def target_is_id(self) -> bool:
        """Whether ``target`` is its table's whole primary key: ids the import inserted there are known."""
        return _id_column(self.target.table) is self.target


class InsertedIds:
    """The ids one table received in this import, as disjoint sorted runs: ids drawn from a sequence a batch at a
    time come in one run, or a few, for a whole import."""

    def __init__(self) -> None:
        self._lows: list[int] = []
        self._highs: list[int] = []

    def add(self, ids: Iterable[int]) -> None:
        for ident in sorted(ids):
            if self._highs and ident == self._highs[-1] + 1:
                self._highs[-1] = ident
            elif ident not in self:
                at = bisect_right(self._lows, ident)
                self._lows.insert(at, ident)
                self._highs.insert(at, ident)

    def __contains__(self, ident: object) -> bool:
        if not isinstance(ident, int):
            return False
        at = bisect_right(self._lows, ident) - 1
        return at >= 0 and ident <= self._highs[at]


class ReferenceCheck:
    """The foreign keys of one import's bulk inserts on PostgreSQL (see the module's docstring). Used by the
    connection's writer thread only, in the order of the inserts."""

    def __init__(self) -> None:
        self._found: dict[tuple[str, str], set[Any]] = {}  # (table, column) -> values found and locked
        self._inserted: dict[str, InsertedIds] = {}  # table name -> ids this import inserted
        self._plans: dict[str, list[Reference] | None] = {}

    @staticmethod
    def permitted(connection: Connection) -> bool:
        """Whether this connection's role may switch triggers off for its own statements."""
        if connection.dialect.name != "postgresql":
            return False
        if (connection.dialect.server_version_info or (0,)) >= (15,):
            query = "SELECT has_parameter_privilege('session_replication_role', 'SET')"
        else:
            query = "SELECT current_setting('is_superuser') = 'on'"
        return bool(connection.exec_driver_sql(query).scalar())

    def copy(
        self, connection: Connection, table: Table, columns: Sequence[Column], values: list[tuple[Any, ...]],
        run_copy: Callable[[], None],
    ) -> None:  # fmt: skip
        """Run ``run_copy`` (a ``COPY`` of ``values`` into ``columns`` of ``table``) with triggers off where this
        check stands in for them, then check the references of ``values``."""
        references = self._plan(connection, table, columns)
        if references is None:
            run_copy()
            return
        connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
        run_copy()
        # On an error the transaction is lost and its rollback undoes the setting too.
        connection.exec_driver_sql("SET LOCAL session_replication_role = origin")
        positions = {column.key: index for index, column in enumerate(columns)}
        ident = _id_column(table)
        if ident is not None and ident.key in positions:
            at = positions[ident.key]
            self._inserted.setdefault(table.name, InsertedIds()).add(row[at] for row in values)
        for reference in references:
            at = positions.get(reference.column.key)
            if at is not None:
                self._check(connection, table, reference, {row[at] for row in values})

    def _check(self, connection: Connection, table: Table, reference: Reference, values: set[Any]) -> None:
        values.discard(None)  # no reference
        target = reference.target
        found = self._found.setdefault((target.table.name, target.name), set())
        values -= found
        inserted = self._inserted.get(target.table.name) if reference.target_is_id else None
        if inserted is not None:
            values = {value for value in values if value not in inserted}
        if not values:
            return
        wanted = sorted(values)
        for start in range(0, len(wanted), LOOKUP_CHUNK):
            chunk = wanted[start : start + LOOKUP_CHUNK]
            lookup = (
                select(target)
                .where(target.in_(chunk))
                .with_for_update(read=True, key_share=True)  # FOR KEY SHARE, as the trigger locks it
            )
            present = set(connection.execute(lookup).scalars())
            missing = set(chunk) - present
            if missing:
                raise _refused(table, reference, min(missing, key=repr))
            found.update(present)

    def _plan(self, connection: Connection, table: Table, columns: Sequence[Column]) -> list[Reference] | None:
        """The foreign keys this check stands in for when rows go into ``columns`` of ``table``, or ``None`` where
        the table keeps its triggers."""
        if table.name not in self._plans:
            self._plans[table.name] = _references(connection, table)
        references = self._plans[table.name]
        if references is None:
            return None
        given = {column.key for column in columns}
        if any(ref.column.key not in given and ref.column.server_default is not None for ref in references):
            return None  # a key the database fills in: only the trigger sees it
        return references


def _id_column(table: Table) -> Column | None:
    """The table's primary key when it is a single column."""
    primary = list(table.primary_key.columns)
    return primary[0] if len(primary) == 1 else None


def _references(connection: Connection, table: Table) -> list[Reference] | None:
    own_triggers = connection.exec_driver_sql(
        "SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass(%(name)s) AND NOT tgisinternal)",
        {"name": connection.dialect.identifier_preparer.format_table(table)},
    ).scalar()
    if own_triggers:
        return None
    references = []
    for constraint in table.foreign_key_constraints:
        if len(constraint.elements) != 1:
            return None
        element = constraint.elements[0]
        references.append(Reference(str(constraint.name), element.parent, element.column))
    return references or None  # no foreign key: nothing to stand in for


def _refused(table: Table, reference: Reference, value: Any) -> IntegrityError:
    message = (
        f'insert on table "{table.name}" violates foreign key constraint "{reference.constraint}": key '
        f'({reference.column.name})=({value}) is not present in table "{reference.target.table.name}"'
    )
    return IntegrityError(f"COPY {table.name}", None, MissingReference(message))
