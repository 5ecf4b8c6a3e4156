"""Bulk inserts of one transaction run by a thread of their own, so that the thread which prepares the rows goes
on with the next batch while the database stores the last one.

An import's inserts return nothing its Python needs (the ids are known before the rows are sent), and while
SQLite runs a multi-row ``INSERT`` or PostgreSQL takes a ``COPY`` the interpreter is released. Within
:func:`write_behind`, :func:`submit` hands such a statement to the writer thread instead of running it.

Nothing else may see the connection out of order: every other statement on the same connection, from any other
thread (a query, a flush, a savepoint), first waits until the submitted statements have run (a listener on the
engine, :func:`guard`), and a commit waits for them too, so reads see every earlier write. A rollback discards the
statements not yet run. The first error of a submitted statement is raised in the submitting thread, at its next
submit, at the next statement on the connection, or when the block ends; later statements are not run.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, event

# Statements waiting for the writer: enough for a batch or two of an import (a statement per table), so that memory
# stays bounded when the database is slower than the Python preparing the rows.
DEPTH = 12

_STOP = object()
_active: dict[int, WriteBehind] = {}  # id of the DBAPI connection -> its writer
_active_lock = threading.Lock()


class WriteBehind:
    """The writer thread of one connection: runs submitted statements in order."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=DEPTH)
        self._idle = threading.Condition()
        self._pending = 0  # submitted and not finished
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="crm-write-behind", daemon=True)
        self._thread.start()

    @property
    def thread_id(self) -> int | None:
        return self._thread.ident

    def submit(self, work: Callable[[Connection], None]) -> None:
        """Run ``work(connection)`` in the writer thread after everything submitted before it."""
        self._raise()
        with self._idle:
            self._pending += 1
        self._queue.put(work)

    def drain(self) -> None:
        """Wait until every submitted statement has run; raise the first error one of them had."""
        with self._idle:
            while self._pending:
                self._idle.wait()
        self._raise()

    def discard(self) -> None:
        """Drop the statements not yet run and wait for the one running (a rollback follows)."""
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
            self._done()
        with self._idle:
            while self._pending:
                self._idle.wait()

    def stop(self) -> None:
        self._queue.put(_STOP)
        self._thread.join()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def _done(self) -> None:
        with self._idle:
            self._pending -= 1
            if not self._pending:
                self._idle.notify_all()

    def _run(self) -> None:
        while True:
            work = self._queue.get()
            if work is _STOP:
                return
            try:
                if self._error is None:  # after an error the transaction is lost: nothing more is sent
                    work(self.connection)
            except BaseException as exc:  # noqa: BLE001 - handed to the submitting thread
                self._error = exc
            finally:
                self._done()


@contextmanager
def write_behind(connection: Connection) -> Iterator[WriteBehind]:
    """Within the block, :func:`submit` on ``connection`` runs statements in a writer thread. On leaving, the
    statements still waiting are run (and their error raised), or, when the block ends with an exception, dropped."""
    key = id(connection.connection.dbapi_connection)
    behind = WriteBehind(connection)
    with _active_lock:
        if key in _active:
            behind.stop()
            raise RuntimeError("this connection already writes behind")
        _active[key] = behind
    try:
        yield behind
        behind.drain()
    except BaseException:
        behind.discard()
        raise
    finally:
        with _active_lock:
            _active.pop(key, None)
        behind.stop()


def submit(connection: Connection, work: Callable[[Connection], None]) -> None:
    """Run ``work(connection)`` in the connection's writer thread if it has one (see :func:`write_behind`), else at
    once."""
    behind = _behind(connection)
    if behind is None or threading.get_ident() == behind.thread_id:
        work(connection)
    else:
        behind.submit(work)


def _behind(connection: Connection) -> WriteBehind | None:
    if not _active:
        return None
    try:
        dbapi_connection = connection.connection.dbapi_connection
    except Exception:  # noqa: BLE001 - a closed or invalidated connection has no writer
        return None
    return _active.get(id(dbapi_connection))


def _wait(connection: Connection, *args: Any, **kwargs: Any) -> None:
    behind = _behind(connection)
    if behind is not None and threading.get_ident() != behind.thread_id:
        behind.drain()


def _discard(connection: Connection) -> None:
    behind = _behind(connection)
    if behind is not None and threading.get_ident() != behind.thread_id:
        behind.discard()


def guard(engine: Engine) -> None:
    """Keep every other use of a writing-behind connection of ``engine`` in order (see the module's docstring)."""
    event.listen(engine, "before_cursor_execute", _wait)
    event.listen(engine, "commit", _wait)
    event.listen(engine, "rollback", _discard)
