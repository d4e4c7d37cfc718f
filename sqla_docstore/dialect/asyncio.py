"""asyncio: ``create_async_engine("docstore://...")`` / ``("ravendb://...")`` with the same URLs.

The DB-API is synchronous. SQLAlchemy's asyncio extension runs the dialect inside a greenlet;
here every call that may do I/O (execute, commit, rollback, close, two-phase, connect) is sent
to a worker thread and awaited (``await_only``), so the event loop keeps running while the
store works. Calls that only touch the connection's memory (fetching buffered rows, savepoints
on the pending batch, change vectors, request counts) run inline.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import Any, TypeVar

from sqlalchemy import pool
from sqlalchemy.engine.interfaces import AdaptedConnection
from sqlalchemy.engine.url import URL
from sqlalchemy.util import await_only

from .base import DocstoreDialect
from .ravendb import RavenDBDialect, RavenDBHTTPSDialect

_T = TypeVar("_T")


def _in_thread(fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
    """Run ``fn`` in the loop's default executor and wait for it without blocking the loop."""
    loop = asyncio.get_running_loop()
    call = loop.run_in_executor(None, functools.partial(fn, *args, **kwargs))
    return await_only(_to_completion(call))


def _connect_in_thread(connect: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """:func:`_in_thread` for opening a connection: one opened for a task cancelled meanwhile
    is closed (in the thread) before the cancellation is raised, not left open unowned."""
    loop = asyncio.get_running_loop()
    call = loop.run_in_executor(None, functools.partial(connect, *args, **kwargs))
    return await_only(_to_completion(call, abandoned=lambda conn: conn.close()))


async def _to_completion(call: asyncio.Future[_T],
                         abandoned: Callable[[_T], object] | None = None) -> _T:
    """Wait for a worker thread's call to end, even if the task is cancelled meanwhile.

    A thread can't be stopped: a cancelled wait (``task.cancel()``, ``asyncio.timeout``) that
    returned at once would leave the call running while the connection's cleanup (rollback,
    close, its return to the pool) starts in another worker thread, two threads in one
    connection at the same time (half a batch rolled back under a commit, or a crash inside
    sqlite3). The cancellation is raised once the call has ended, whatever it did: a commit
    under way when its task is cancelled ends applied whole or not at all, and the connection
    is idle again before anything else uses it."""
    cancelled: asyncio.CancelledError | None = None
    while not call.done():
        try:
            await asyncio.wait([call])
        except asyncio.CancelledError as exc:
            cancelled = exc
    if cancelled is not None:
        if not call.cancelled() and call.exception() is None and abandoned is not None:
            cleanup = asyncio.get_running_loop().run_in_executor(
                None, abandoned, call.result())
            await _to_completion(cleanup)
        raise cancelled
    return call.result()


class AsyncAdaptedCursor:
    """A DB-API cursor whose statements run in a worker thread. Results are buffered by the
    DB-API at execute time, so fetching is inline, except a streaming cursor's next chunk."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return int(self._cursor.rowcount)

    @property
    def lastrowid(self) -> Any:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return int(self._cursor.arraysize)

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    def execute(self, operation: str,
                parameters: Sequence[Any] | Mapping[str, Any] | None = None) -> Any:
        _in_thread(self._cursor.execute, operation, parameters)
        return self

    def executemany(self, operation: str,
                    seq_of_parameters: Sequence[Sequence[Any] | Mapping[str, Any]]) -> Any:
        _in_thread(self._cursor.executemany, operation, seq_of_parameters)
        return self

    # A streaming cursor reads the store when its chunk runs out: that read goes to a thread.
    def fetchone(self) -> Any:
        if self._cursor.streaming and self._cursor.chunk_exhausted:
            return _in_thread(self._cursor.fetchone)
        return self._cursor.fetchone()

    def fetchmany(self, size: int | None = None) -> Any:
        if self._cursor.streaming:
            return _in_thread(self._cursor.fetchmany, size)
        return self._cursor.fetchmany(size)

    def fetchall(self) -> Any:
        if self._cursor.streaming:
            return _in_thread(self._cursor.fetchall)
        return self._cursor.fetchall()

    def __iter__(self) -> Any:
        return iter(self._cursor)

    def close(self) -> None:
        self._cursor.close()

    async def _async_soft_close(self) -> None:
        """What SQLAlchemy (2.0.44 and later) awaits after a Core ``await conn.execute()``
        before the result is read in sync code. The rows are buffered already (a streaming
        cursor is never soft-closed), so the cursor stays open until the result closes it."""

    def setinputsizes(self, *args: Any) -> None:
        pass

    def setoutputsize(self, *args: Any) -> None:
        pass


class _ThreadedBackend:
    """A backend connection whose methods run in a worker thread; attributes read through."""

    def __init__(self, backend: Any) -> None:
        object.__setattr__(self, "_backend", backend)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._backend, name)
        if not callable(getattr(type(self._backend), name, None)):
            return value  # data, or a hook the session installed (before_request)
        return functools.partial(_in_thread, value)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._backend, name, value)


class AsyncAdaptedConnection(AdaptedConnection):
    """The sync-style facade SQLAlchemy's asyncio layer expects, over a DB-API connection.
    Attributes not defined here (``pending``, ``savepoint()``, ``change_vectors``, ...) are
    the DB-API connection's own, read and set through."""

    _connection: Any  # the (synchronous) sqla_docstore DB-API connection

    def __init__(self, connection: Any) -> None:
        object.__setattr__(self, "_connection", connection)

    @property
    def backend(self) -> _ThreadedBackend:
        """The backend, its calls sent to a worker thread (sessions use it for HiLo ids and
        schema lookups)."""
        return _ThreadedBackend(self._connection.backend)

    def cursor(self, *, stream: bool = False) -> AsyncAdaptedCursor:
        return AsyncAdaptedCursor(self._connection.cursor(stream=stream))

    def commit(self) -> None:
        _in_thread(self._connection.commit)

    def rollback(self) -> None:
        _in_thread(self._connection.rollback)

    def close(self) -> None:
        _in_thread(self._connection.close)

    def prepare(self) -> None:
        _in_thread(self._connection.prepare)

    def assume_collections(self, specs: Any) -> None:
        # Once per transaction and collection: a thread hop only then (it may create one).
        if self._connection.unassumed(specs):
            _in_thread(self._connection.assume_collections, specs)

    def commit_prepared(self) -> None:
        _in_thread(self._connection.commit_prepared)

    def rollback_prepared(self) -> None:
        _in_thread(self._connection.rollback_prepared)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._connection, name, value)


class AsyncAdaptedDBAPI:
    """The DB-API module as the asyncio dialects see it: the same names, and a ``connect``
    that opens the connection in a worker thread."""

    def __init__(self, dbapi: ModuleType) -> None:
        self._dbapi = dbapi
        self.paramstyle = dbapi.paramstyle

    def __getattr__(self, name: str) -> Any:
        return getattr(self._dbapi, name)

    def connect(self, *args: Any, **kwargs: Any) -> AsyncAdaptedConnection:
        return AsyncAdaptedConnection(_connect_in_thread(self._dbapi.connect, *args, **kwargs))


class _AsyncMixin:
    is_async = True

    @classmethod
    def import_dbapi(cls) -> Any:
        from .. import dbapi

        return AsyncAdaptedDBAPI(dbapi)

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        return pool.AsyncAdaptedQueuePool

    def get_driver_connection(self, connection: Any) -> Any:
        return connection._connection


class AsyncDocstoreDialect(_AsyncMixin, DocstoreDialect):
    """``docstore://`` under ``create_async_engine``."""

    supports_statement_cache = True


class AsyncRavenDBDialect(_AsyncMixin, RavenDBDialect):
    """``ravendb://`` under ``create_async_engine``."""

    supports_statement_cache = True


class AsyncRavenDBHTTPSDialect(_AsyncMixin, RavenDBHTTPSDialect):
    """``ravendb+https://`` under ``create_async_engine``."""

    supports_statement_cache = True
