"""assert_max_requests(): fail a test when a block makes more backend requests than allowed.

Counts what RavenDB's session budget counts (loads, queries, batches, schema lookups), not HiLo
range fetches. Works on a Session (any class: plain, DocumentSession, scoped_session), a
SQLAlchemy Connection, or an Engine (every connection of the engine used inside the block)::

    with assert_max_requests(session, 3):
        users = session.scalars(select(User).options(selectinload(User.orders))).all()

The plugin's ``docstore_max_requests`` fixture hands out the same function.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

#: Kinds that are not requests of a session's budget (RavenDB does not count HiLo).
_NOT_COUNTED = frozenset({"hilo"})


class TooManyRequests(AssertionError):
    """The block made more backend requests than allowed; ``counts`` has them by kind."""

    def __init__(self, message: str, counts: dict[str, int]) -> None:
        super().__init__(message)
        self.counts = counts


class RequestCount:
    """What the block counted: ``total`` and ``by_kind`` (filled when the block ends)."""

    def __init__(self) -> None:
        self.by_kind: dict[str, int] = {}

    @property
    def total(self) -> int:
        return sum(self.by_kind.values())

    def __repr__(self) -> str:
        return f"<RequestCount {self.total} {self.by_kind}>"


def _counted(counts: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in counts.items() if v and k not in _NOT_COUNTED}


@contextmanager
def assert_max_requests(target: Any, n: int) -> Iterator[RequestCount]:
    """Fail (AssertionError) if the block makes more than ``n`` backend requests through
    ``target`` (a Session, scoped_session, SQLAlchemy Connection or Engine). Yields a
    :class:`RequestCount` holding the counts once the block is over."""
    from sqlalchemy.engine import Connection, Engine
    from sqlalchemy.orm import Session, scoped_session

    from .._counts import request_counts

    if isinstance(target, scoped_session):
        target = target()
    result = RequestCount()
    if isinstance(target, (Session, Connection)):
        before = Counter(request_counts(target))
        yield result
        after = Counter(request_counts(target))
        after.subtract(before)
        result.by_kind = _counted(dict(after))
    elif isinstance(target, Engine):
        with _engine_counter(target) as totals:
            yield result
        result.by_kind = _counted(dict(totals))
    else:
        raise TypeError("assert_max_requests() takes a Session, scoped_session, Connection or "
                        f"Engine, not {type(target).__name__}")
    if result.total > n:
        raise TooManyRequests(
            f"expected at most {n} backend request(s), the block made {result.total}: "
            f"{result.by_kind} (a Select N+1? load related objects with selectinload(), or "
            "many ids with one load([...]) / IN query)",
            result.by_kind,
        )


@contextmanager
def _engine_counter(engine: Any) -> Iterator[Counter[str]]:
    """Counts the calls of every DB-API connection of ``engine`` used inside the block: each
    connection's counters are read when first seen (checkout, statement or commit) and when
    given back or when the block ends."""
    from sqlalchemy import event

    from ..dbapi import Connection as DBAPIConnection

    totals: Counter[str] = Counter()
    seen: dict[int, tuple[Any, Counter[str]]] = {}

    def start(dbapi_conn: Any) -> None:
        if isinstance(dbapi_conn, DBAPIConnection) and not dbapi_conn.closed and (
            id(dbapi_conn) not in seen
        ):
            seen[id(dbapi_conn)] = (dbapi_conn, Counter(dbapi_conn.backend.counts))

    def stop(dbapi_conn: Any) -> None:
        entry = seen.pop(id(dbapi_conn), None)
        if entry is not None and not entry[0].closed:
            now = Counter(entry[0].backend.counts)
            now.subtract(entry[1])
            totals.update(now)

    def on_checkout(dbapi_conn: Any, record: Any, proxy: Any) -> None:
        start(dbapi_conn)

    def on_checkin(dbapi_conn: Any, record: Any) -> None:
        stop(dbapi_conn)

    def on_statement(conn: Any, *args: Any) -> None:
        start(conn.connection.dbapi_connection)

    listeners: list[tuple[Any, str, Callable[..., Any]]] = [
        (engine, "before_cursor_execute", on_statement),
        (engine, "commit", on_statement),
        (engine.pool, "checkout", on_checkout),
        (engine.pool, "checkin", on_checkin),
    ]
    for target, name, fn in listeners:
        event.listen(target, name, fn)
    try:
        yield totals
    finally:
        for target, name, fn in listeners:
            event.remove(target, name, fn)
        for conn, _ in list(seen.values()):
            stop(conn)


__all__ = ["RequestCount", "TooManyRequests", "assert_max_requests"]
