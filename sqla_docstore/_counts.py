"""request_counts(): backend calls made by a Session, a SQLAlchemy Connection or a DB-API one.

A Session uses pooled connections that other sessions used before; it counts the difference
between a connection's counters when the session took it and when its transaction ended.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, cast

from sqlalchemy import event
from sqlalchemy.engine import Connection as SAConnection
from sqlalchemy.orm import Session
from sqlalchemy.pool import Pool

from .dbapi import Connection as DBAPIConnection

_KEY = "sqla_docstore.requests"


class _SessionRequests:
    def __init__(self) -> None:
        self.done: Counter[str] = Counter()
        # id(DB-API connection) -> (its live counter, the counter's values when taken)
        self.live: dict[int, tuple[Counter[str], Counter[str]]] = {}

    def start(self, conn: DBAPIConnection) -> None:
        if id(conn) not in self.live and not conn.closed:
            counter = conn.backend.counts
            self.live[id(conn)] = (counter, Counter(counter))
            _holders[id(conn)] = self

    def finish(self, conn_id: int | None = None) -> None:
        for key in [conn_id] if conn_id is not None else list(self.live):
            entry = self.live.pop(key, None)
            if entry is not None:
                self.done.update(_delta(*entry))
                if _holders.get(key) is self:
                    del _holders[key]

    def totals(self) -> dict[str, int]:
        total = Counter(self.done)
        for entry in self.live.values():
            total.update(_delta(*entry))
        return {k: v for k, v in total.items() if v}


def _delta(counter: Counter[str], start: Counter[str]) -> Counter[str]:
    now = Counter(counter)
    now.subtract(start)
    return now


#: id(DB-API connection) -> the session that is counting its calls right now.
_holders: dict[int, _SessionRequests] = {}


def _dbapi_of(connection: SAConnection) -> DBAPIConnection | None:
    # Under asyncio, the adapter: it reads and sets the DB-API connection's attributes, and
    # sends its backend's I/O to a worker thread.
    dbapi_conn: Any = connection.connection.dbapi_connection
    if isinstance(dbapi_conn, DBAPIConnection) or isinstance(
            getattr(dbapi_conn, "driver_connection", None), DBAPIConnection):
        return cast(DBAPIConnection, dbapi_conn)
    return None


def _tracker(session: Session) -> _SessionRequests:
    tracker = session.info.get(_KEY)
    if tracker is None:
        tracker = session.info[_KEY] = _SessionRequests()
    return tracker


@event.listens_for(Session, "after_begin")
def _after_begin(session: Session, transaction: Any, connection: SAConnection) -> None:
    dbapi_conn = _dbapi_of(connection)
    if dbapi_conn is not None:
        _tracker(session).start(dbapi_conn)


@event.listens_for(Pool, "checkin")
def _checkin(dbapi_connection: Any, record: Any) -> None:
    # A pooled connection goes back before the session's transaction-end event fires, and
    # another thread may take it at once: stop counting for the session here.
    holder = _holders.get(id(dbapi_connection))
    if holder is not None:
        holder.finish(id(dbapi_connection))


@event.listens_for(Session, "after_transaction_end")
def _after_end(session: Session, transaction: Any) -> None:
    if transaction.parent is None and _KEY in session.info:
        session.info[_KEY].finish()


def request_counts(target: Any) -> dict[str, int]:
    target = getattr(target, "sync_session", None) or getattr(target, "sync_connection", None) \
        or target  # AsyncSession, AsyncConnection
    if isinstance(target, Session):
        tracker = target.info.get(_KEY)
        return tracker.totals() if tracker else {}
    if isinstance(target, SAConnection):
        dbapi_conn = _dbapi_of(target)
        if dbapi_conn is None:
            raise TypeError("request_counts(): this Connection is not a sqla_docstore one")
        return dict(dbapi_conn.request_counts)
    if isinstance(target, DBAPIConnection):
        return target.request_counts
    raise TypeError(f"request_counts() takes a Session or a Connection, not {type(target)}")
