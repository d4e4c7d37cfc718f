"""The PEP 249 module: ``sqla_docstore.dbapi.connect()`` over the embedded store or RavenDB.

Statements are the SQL subset the dialect renders or RQL queries
(``from users where name = $name``). Parameters are SQLite's two styles, as stdlib ``sqlite3``
takes them: ``?`` with a sequence of values, or ``:name`` with a mapping (``dbapi.params``).
Writes collect in the connection's pending batch; commit() sends them to the store as one
atomic batch. Importing this module never imports SQLAlchemy.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import values as _values
from ..backends.embedded.connection import EmbeddedConnection
from ..backends.embedded.store import EmbeddedStore, file_identity
from ..errors import (
    DatabaseError,
    DataError,
    Error,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    Warning,
)
from .connection import Connection, Cursor

if TYPE_CHECKING:
    from ..backends.ravendb.http import Cluster

apilevel = "2.0"
threadsafety = 1  # threads may share the module, not connections
#: PEP 249 names one style: "qmark", as sqlite3 says, and what SQLAlchemy compiles for by
#: default. Named parameters (``:name`` with a mapping) are taken too, as sqlite3 takes them
#: (``create_engine(url, paramstyle="named")``); one style per statement.
paramstyle = "qmark"

Date = _dt.date
Time = _dt.time
Timestamp = _dt.datetime
Binary = bytes
#: JSON's ``null`` as a parameter, apart from None (SQL NULL): a JSON column given it holds
#: ``null`` in the document, given None it is NULL (the field left out of the document)
JSON_NULL = _values.JSON_NULL
STRING, BINARY, NUMBER, DATETIME, ROWID = "STRING", "BINARY", "NUMBER", "DATETIME", "ROWID"


def DateFromTicks(ticks: float) -> _dt.date:  # noqa: N802 - PEP 249 name
    return _dt.date.fromtimestamp(ticks)


def TimeFromTicks(ticks: float) -> _dt.time:  # noqa: N802 - PEP 249 name
    return _dt.datetime.fromtimestamp(ticks).time()


def TimestampFromTicks(ticks: float) -> _dt.datetime:  # noqa: N802 - PEP 249 name
    return _dt.datetime.fromtimestamp(ticks)


_stores: weakref.WeakValueDictionary[str, EmbeddedStore] = weakref.WeakValueDictionary()
_stores_lock = threading.Lock()


def open_store(database: str = ":memory:", *, timeout: float = 30.0) -> EmbeddedStore:
    """The store for a path, shared by every connection of this process (HiLo ranges, catalog)
    while the file there is the one it opened (a file deleted or replaced since gets a new
    store, as a new sqlite3 connection opens the file now there). ``":memory:"`` gives a new
    private store each time."""
    if database in ("", ":memory:"):
        return EmbeddedStore(None, timeout=timeout)
    path = os.path.abspath(database)
    with _stores_lock:
        store = _stores.get(path)
        if store is None or store.file != file_identity(path):
            store = EmbeddedStore(path, timeout=timeout)
            _stores[path] = store
        return store


#: a SQLAlchemy URL of this project's (or SQLite's) passed to ``connect()`` as a path
_URL = re.compile(r"(?i)(docstore|ravendb|sqlite)(\+\w+)?://")


def connect(
    database: str = ":memory:",
    *,
    store: EmbeddedStore | None = None,
    timeout: float = 30.0,
    cluster_wide: bool = False,
    urls: list[str] | None = None,
    cluster: Cluster | None = None,
    cert: str | None = None,
    ca: str | None = None,
    read_balance: str = "none",
    check_same_thread: bool = False,
    foreign_keys: bool = False,
    unique_checks: str = "statement",
    json_serializer: Callable[[Any], str] | None = None,
    **unknown: Any,
) -> Connection:
    """Open a connection.

    Embedded: ``database`` is a file path or ``":memory:"``; pass ``store=`` to share one
    in-memory store between connections. RavenDB: pass ``urls=[...]`` (or a shared
    ``cluster=``) and the database name as ``database``; ``cert`` is a PEM file holding the
    client certificate and key, ``ca`` a CA bundle.

    ``foreign_keys=True`` enforces declared foreign keys and their ON DELETE / ON UPDATE
    actions, as SQLite's ``PRAGMA foreign_keys = ON`` (see ``dbapi.foreign_keys``).

    ``unique_checks``: ``"statement"`` (the default) checks unique values at each write
    statement, as SQL does (an IntegrityError there; the commit reserves them again);
    ``"commit"`` only at commit, which saves a request per statement on RavenDB (see
    ``dbapi.unique_check``).

    ``json_serializer``: a JSON column's value in SQL (compared, grouped, ordered, given to
    functions) is its JSON text, as SQLite holds the text SQLAlchemy's JSON type writes
    (json.dumps, or this callable, as ``create_engine(json_serializer=...)`` gives it), under
    NUMERIC affinity.

    ``check_same_thread`` is accepted for code written for ``sqlite3`` (FastAPI's tutorial
    passes ``False``): a connection here is never tied to the thread that opened it, and may be
    used by one thread at a time (``threadsafety = 1``).
    """
    if unknown:
        raise InterfaceError(f"unknown connect() argument(s): {', '.join(sorted(unknown))}")
    if urls is not None or cluster is not None:
        # Imported here: an embedded store's process needs no HTTP stack (requests, urllib3,
        # ssl), whose objects every full garbage collection would walk too.
        from ..backends.ravendb.connection import RavenConnection  # noqa: PLC0415
        from ..backends.ravendb.http import Cluster  # noqa: PLC0415

        if cluster is None:
            cluster = Cluster(list(urls or ()), database, cert=cert, ca=ca, timeout=timeout,
                              read_balance=read_balance)
        return Connection(RavenConnection(cluster, json_serializer=json_serializer),
                          cluster_wide=cluster_wide,
                          foreign_keys=foreign_keys, unique_checks=unique_checks)
    if store is None:
        if _URL.match(database):
            url = database.split("?")[0]
            raise InterfaceError(
                f"connect() takes a file path or ':memory:', not the URL {url!r} (a URL is "
                "for SQLAlchemy's create_engine); it would have made a file of that name")
        store = open_store(database, timeout=timeout)
    return Connection(EmbeddedConnection(store, infer_schemas=True,
                                         json_serializer=json_serializer),
                      cluster_wide=cluster_wide,
                      foreign_keys=foreign_keys, unique_checks=unique_checks)


__all__ = [
    "BINARY", "Binary", "Connection", "Cursor", "DATETIME", "DataError", "DatabaseError", "Date",
    "DateFromTicks", "Error", "IntegrityError", "InterfaceError", "InternalError", "JSON_NULL",
    "NUMBER",
    "NotSupportedError", "OperationalError", "ProgrammingError", "ROWID", "STRING", "Time",
    "TimeFromTicks", "Timestamp", "TimestampFromTicks", "Warning", "apilevel", "connect",
    "open_store", "paramstyle", "threadsafety",
]
