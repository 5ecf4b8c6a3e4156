"""Checking a large import's rows in a process of its own while the job's process writes them.

Reading, converting and validating a row costs about as much CPU time as writing it, and an import job otherwise
uses one core. For a large file (``IMPORT_CHECKER_MIN_BYTES``, 1 MB by default: about ten thousand rows), the
importer forks a *checker*: a copy of the job's process that makes the first pass (read, convert, validate) with a
database connection of its own and sends every batch of valid rows through a pipe, while the job's process writes
them in its transaction as they arrive. The pipe holds a batch or two, so the checker never runs far ahead and
memory stays constant.

All or nothing, as without a checker: once a row has an error the checker sends no more rows but reads on to the
end of the file to list every error, and the importer rolls its transaction back. The checker reads committed data
only, as the first pass always did (it ran before anything was written).

A process is forked only where that is safe and useful: the ``fork`` start method exists, the process runs a single
thread (a command, an RQ work horse; not a job run by a thread of a web worker, whose other threads may hold locks
at the moment of the fork), the machine has a second core, and the database is not an in-memory SQLite one.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import threading
import traceback
from collections.abc import Iterator
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from flask import current_app

from core import db
from core.entities.importing.readers import ReadError

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from core.entities.importing.engine import Importer, ImportResult
    from core.entities.importing.readers import Table

DEFAULT_MIN_BYTES = 1_000_000


def checker_wanted(table: Table) -> bool:
    """Whether this import's rows should be checked by a forked process (see the module's docstring)."""
    minimum = current_app.config.get("IMPORT_CHECKER_MIN_BYTES", DEFAULT_MIN_BYTES)
    if minimum is None or minimum < 0 or table.size < minimum:
        return False
    if "fork" not in multiprocessing.get_all_start_methods() or threading.active_count() != 1:
        return False
    if (os.cpu_count() or 1) < 2:
        return False
    url = db.session.get_bind().url
    return not (url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"))


class Checker:
    """The forked first pass of one import: ``batches()`` yields its valid batches; at the end its row count and
    errors are added to the importer's result. Use as a context manager: leaving stops the process."""

    def __init__(self, importer: Importer, table: Table) -> None:
        self.importer = importer
        self.table = table
        self.fraction = 0.0
        self._process: Any = None
        self._receiver: Connection | None = None
        self._ended = False

    def __enter__(self) -> Checker:
        context = multiprocessing.get_context("fork")
        receiver, sender = context.Pipe(duplex=False)
        url = db.session.get_bind().url.render_as_string(hide_password=False)
        self._process = context.Process(
            target=_check, args=(self.importer, self.table, sender, url), name="crm-import-checker", daemon=True
        )
        # The child's garbage collector would write to every object it inherited, copying the pages they share
        # with this process (about 40 MB at a million rows): frozen objects are never visited.
        gc.freeze()
        try:
            self._process.start()
        except BaseException:
            gc.unfreeze()  # no checker: __exit__ will not run
            raise
        sender.close()  # the child's end: the pipe reports EOF if the child dies
        self._receiver = receiver
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            if self._process.is_alive() and not self._ended:
                self._process.terminate()
            self._process.join(timeout=30)
            gc.unfreeze()
        if self._receiver is not None:
            self._receiver.close()

    def batches(self, result: ImportResult) -> Iterator[list[tuple[int, dict[str, Any]]]]:
        """The valid rows, a batch at a time, while the checker reads; ``result.rows`` follows its progress. When
        the checker has finished, its errors are in ``result``."""
        while True:
            kind, *payload = self._receive()
            if kind == "rows":
                valid, rows, self.fraction = payload
                result.rows = rows
                if valid:
                    yield valid
            else:
                self._end(result, payload[0])
                return

    def finish(self, result: ImportResult) -> None:
        """Read what the checker still sends (the writer stopped early) and take its count and errors."""
        while not self._ended:
            kind, *payload = self._receive()
            if kind == "rows":
                result.rows = payload[1]
            else:
                self._end(result, payload[0])

    def _receive(self) -> tuple[Any, ...]:
        assert self._receiver is not None
        try:
            message = self._receiver.recv()
        except EOFError:
            code = self._process.exitcode
            raise RuntimeError(f"the import's checker process ended early (exit code {code})") from None
        if message[0] == "unreadable":  # the file itself, as the single-process import reports it
            raise ReadError(message[1])
        if message[0] == "failed":
            log.error("the import's checker process failed:\n%s", message[2])
            raise RuntimeError(f"the import's checker process failed: {message[1]}")
        return message

    def _end(self, result: ImportResult, checked: dict[str, Any]) -> None:
        from core.entities.importing.engine import ImportResult

        self._ended = True
        self.fraction = 1.0
        found = ImportResult.from_dict(checked)
        write_errors, write_count = result.errors, result.error_count
        result.errors, result.error_count = [], 0
        for error in [*found.errors, *write_errors]:
            result.add_error(error.row, error.column, error.message)
        result.rows = found.rows
        result.error_count = found.error_count + write_count


def _check(importer: Importer, table: Table, sender: Connection, url: str) -> None:
    """The checker's body (in the forked process): the first pass, with a database session of its own."""
    from sqlalchemy.orm import sessionmaker

    from core.db import TenantSession, make_engine
    from core.entities.importing.engine import ImportResult
    from core.events import session_override

    engine = None
    try:
        # The parent's connections were copied by the fork and stay untouched: a new engine, a new session.
        engine = make_engine(url)
        session = sessionmaker(bind=engine, class_=TenantSession, expire_on_commit=False)()
        session_override.set(session)
        importer.adopt_session(session)
        result = ImportResult()
        for batch in importer.batches(table):
            result.rows += len(batch)
            valid = importer.validate(batch, result)
            session.expunge_all()
            sender.send(("rows", valid if result.ok else [], result.rows, table.fraction()))
        session.close()
        sender.send(("end", result.as_dict()))
    except ReadError as exc:
        sender.send(("unreadable", str(exc)))
    except BaseException as exc:  # noqa: BLE001 - whatever happened, the writer must hear of it rather than wait
        sender.send(("failed", f"{type(exc).__name__}: {exc}"[:500], traceback.format_exc()[-4000:]))
    finally:
        sender.close()
        if engine is not None:
            engine.dispose()
