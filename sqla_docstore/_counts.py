"""request_counts(): backend calls made by a Session, a SQLAlchemy Connection or a DB-API one.

A Session uses pooled connections that other sessions used before; it counts the difference
between a connection's counters when the session took it and when its transaction ended.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection as SAConnection
from sqlalchemy.orm import Session

from .dbapi import Connection as DBAPIConnection

_KEY = "sqla_docstore.requests"


class _SessionRequests:
    def __init__(self) -> None:
        self.done: Counter[str] = Counter()
        self.live: dict[int, tuple[DBAPIConnection, Counter[str]]] = {}

    def start(self, conn: DBAPIConnection) -> None:
        if id(conn) not in self.live and not conn.closed:
            self.live[id(conn)] = (conn, Counter(conn.backend.counts))

    def finish(self) -> None:
        for conn, start in self.live.values():
            if not conn.closed:
                self.done.update(_delta(conn, start))
        self.live.clear()

    def totals(self) -> dict[str, int]:
        total = Counter(self.done)
        for conn, start in self.live.values():
            if not conn.closed:
                total.update(_delta(conn, start))
        return {k: v for k, v in total.items() if v}


def _delta(conn: DBAPIConnection, start: Counter[str]) -> Counter[str]:
    now = Counter(conn.backend.counts)
    now.subtract(start)
    return now


def _dbapi_of(connection: SAConnection) -> DBAPIConnection | None:
    dbapi_conn = connection.connection.dbapi_connection
    return dbapi_conn if isinstance(dbapi_conn, DBAPIConnection) else None


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


@event.listens_for(Session, "after_transaction_end")
def _after_end(session: Session, transaction: Any) -> None:
    if transaction.parent is None and _KEY in session.info:
        session.info[_KEY].finish()


def request_counts(target: Any) -> dict[str, int]:
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
