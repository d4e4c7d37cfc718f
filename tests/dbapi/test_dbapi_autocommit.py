"""``Connection.autocommit`` (sqlite3's attribute of that name): each statement is committed as
it ends; a savepoint holds a transaction open until the outermost one is released."""

from __future__ import annotations

import sqlite3

import pytest

from sqla_docstore import dbapi
from sqla_docstore.errors import IntegrityError

INSERT = "INSERT INTO users (id, name, age) VALUES (?, ?, ?)"
NAMES = "SELECT users.name FROM users ORDER BY users.id"


def _names(conn: dbapi.Connection | sqlite3.Connection) -> list[str]:
    cur = conn.cursor()
    cur.execute(NAMES)
    return [r[0] for r in cur.fetchall()]


def _story(conn: dbapi.Connection | sqlite3.Connection,
           other: dbapi.Connection | sqlite3.Connection) -> list[list[str]]:
    seen = []
    cur = conn.cursor()
    cur.execute(INSERT, (1, "a", 1))
    cur.executemany(INSERT, [(2, "b", 1), (3, "c", 1)])
    seen.append(_names(other))
    cur.execute("SAVEPOINT s1")
    cur.execute(INSERT, (4, "d", 1))
    cur.execute("SAVEPOINT s2")
    cur.execute(INSERT, (5, "e", 1))
    cur.execute("RELEASE SAVEPOINT s2")
    seen.append(_names(other))  # s1 still holds the transaction open
    cur.execute("ROLLBACK TO SAVEPOINT s1")
    cur.execute(INSERT, (6, "f", 1))
    cur.execute("RELEASE SAVEPOINT s1")
    seen.append(_names(other))
    return seen


def test_each_statement_commits_as_sqlite3s_autocommit_does(
    conn: dbapi.Connection, other: dbapi.Connection, tmp_path: object
) -> None:
    path = f"{tmp_path}/oracle.db"
    with sqlite3.connect(path, isolation_level=None) as setup:
        setup.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, age INTEGER)")
    oracle, oracle_other = sqlite3.connect(path, isolation_level=None), sqlite3.connect(path)
    want = _story(oracle, oracle_other)
    assert want == [["a", "b", "c"], ["a", "b", "c"], ["a", "b", "c", "f"]]
    conn.autocommit = True
    assert _story(conn, other) == want


def test_a_failed_statement_leaves_the_committed_ones(
    conn: dbapi.Connection, other: dbapi.Connection
) -> None:
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute(INSERT, (1, "a", 1))
    with pytest.raises(IntegrityError):
        cur.executemany(INSERT, [(2, "b", 1), (3, None, 1)])  # name is NOT NULL
    conn.rollback()
    assert _names(other) == ["a"]
    assert not conn.pending
