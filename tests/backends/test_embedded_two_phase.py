"""Two-phase commit of several connections on one memory store (a two-phase session with two
engines on one store): their prepared batches share the store's one sqlite3 connection."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from sqla_docstore import dbapi
from sqla_docstore.errors import IntegrityError, NotSupportedError, OperationalError

SPEC = {"fields": [{"name": "id", "type": "INTEGER", "nullable": False}, {"name": "v"}],
        "primary_key": ["id"], "unique": [["v"]]}


def _run(conn: dbapi.Connection, sql: str, params: dict[str, Any] | None = None) -> list[Any]:
    cur = conn.cursor()
    cur.execute(sql, params or {})
    return cur.fetchall() if cur.description else []


def _prepared(connect: Callable[[], dbapi.Connection], *ids: int) -> list[dbapi.Connection]:
    """One connection per id, each with that row inserted and prepared."""
    conns = []
    for i in ids:
        conn = connect()
        _run(conn, "INSERT INTO things (id, v) VALUES (:i, :i)", {"i": i})
        conn.prepare()
        conns.append(conn)
    return conns


@pytest.fixture
def observer(connect: Callable[[], dbapi.Connection]) -> dbapi.Connection:
    conn = connect()
    _run(conn, f"CREATE COLLECTION things {json.dumps(SPEC)}")
    return conn


def _ids(conn: dbapi.Connection) -> list[int]:
    return [r[0] for r in _run(conn, "SELECT things.id FROM things ORDER BY things.id")]


def test_prepared_batches_of_two_connections_commit_together(
        connect: Callable[[], dbapi.Connection], observer: dbapi.Connection) -> None:
    first, second = _prepared(connect, 1, 2)
    first.commit_prepared()  # waits for the second: nothing is durable yet
    second.commit_prepared()
    assert _ids(observer) == [1, 2]
    _run(first, "INSERT INTO things (id, v) VALUES (3, 3)")
    first.commit()  # the store takes ordinary commits again
    assert _ids(observer) == [1, 2, 3]


def test_a_later_prepare_failing_leaves_the_earlier_prepared(
        connect: Callable[[], dbapi.Connection], observer: dbapi.Connection) -> None:
    (first,) = _prepared(connect, 1)
    second = connect()
    second.unique_checks = "commit"  # (else the INSERT fails already: it sees the prepared v)
    _run(second, "INSERT INTO things (id, v) VALUES (2, 1)")  # v=1 is the first's
    with pytest.raises(IntegrityError):
        second.prepare()
    first.commit_prepared()
    assert _ids(observer) == [1]


def test_rolling_back_the_later_one_keeps_the_earlier(
        connect: Callable[[], dbapi.Connection], observer: dbapi.Connection) -> None:
    first, second = _prepared(connect, 1, 2)
    second.rollback_prepared()
    first.commit_prepared()
    assert _ids(observer) == [1]


def test_rolling_back_the_earlier_one_undoes_the_later(
        connect: Callable[[], dbapi.Connection], observer: dbapi.Connection) -> None:
    first, second = _prepared(connect, 1, 2)
    first.rollback_prepared()
    with pytest.raises(OperationalError, match="rolled back with one prepared before it"):
        second.commit_prepared()
    assert _ids(observer) == []


def test_commits_out_of_prepare_order_are_refused(
        connect: Callable[[], dbapi.Connection], observer: dbapi.Connection) -> None:
    first, second = _prepared(connect, 1, 2)
    with pytest.raises(NotSupportedError, match="order they were prepared"):
        second.commit_prepared()
    second.rollback_prepared()
    first.commit_prepared()
    assert _ids(observer) == [1]


def test_closing_a_prepared_connection_rolls_it_back_and_ends_the_wait(
        connect: Callable[[], dbapi.Connection], observer: dbapi.Connection) -> None:
    first, second = _prepared(connect, 1, 2)
    first.commit_prepared()
    second.close()
    assert _ids(observer) == [1]
    _run(observer, "INSERT INTO things (id, v) VALUES (3, 3)")
    observer.commit()  # the store lock and the SQLite transaction were released
    assert _ids(observer) == [1, 3]
