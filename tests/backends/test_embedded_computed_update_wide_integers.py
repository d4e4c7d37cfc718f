"""Embedded store: an UPDATE evaluated at commit (SET n = n + 1, a = b, a = -b) over an integer
beyond 2**53 but within SQLite's 64 bits commits what SQLite commits: SQLite binds and computes
with such an integer exactly, but the commit refused to read it (DataError), after the
statement had been taken and read back right, so the transaction's other writes were lost."""

from __future__ import annotations

import sqlite3
from typing import Any

from sqla_docstore import dbapi

DDL = "CREATE TABLE t (id INTEGER PRIMARY KEY, a, b, n INTEGER)"
ROWS = [(1, 1, 2**62, 2**62), (2, 1, 2**53 - 1, 2**53 - 1), (3, "x", "text", 7),
        (4, 2, -(2**60), -(2**60)), (5, 0, 2**63 - 1, -(2**63))]
STEPS = [
    "UPDATE t SET n = n + 1 WHERE id = 1",
    "UPDATE t SET n = n + 1 WHERE id = 2",  # (a result beyond 2**53)
    "UPDATE t SET a = b WHERE id IN (1, 4, 5)",
    "UPDATE t SET a = b + 1 WHERE id = 3",  # ('text' + 1 is 1)
    "UPDATE t SET n = -n, b = coalesce(b, 0) WHERE id = 4",
    "UPDATE t SET n = n + 1 WHERE id = 5",
    "INSERT INTO t (id, a, b, n) VALUES (6, 'another write', NULL, NULL)",
]
READ = "SELECT id, a, b, n FROM t ORDER BY id"


def _run(conn: Any) -> list[Any]:
    cur = conn.cursor()
    cur.execute(DDL)
    cur.executemany("INSERT INTO t (id, a, b, n) VALUES (?, ?, ?, ?)", ROWS)
    conn.commit()
    for sql in STEPS:
        cur.execute(sql)
    cur.execute(READ)
    pending = [tuple(r) for r in cur.fetchall()]
    conn.commit()
    cur.execute(READ)
    return [pending, [tuple(r) for r in cur.fetchall()]]


def test_updates_over_64_bit_integers_commit_what_sqlite_commits() -> None:
    oracle = sqlite3.connect(":memory:")
    conn = dbapi.connect(":memory:")
    try:
        expected, got = _run(oracle), _run(conn)
    finally:
        oracle.close()
        conn.close()
    assert got == expected
    assert expected[1][0] == (1, 2**62, 2**62, 2**62 + 1) and len(expected[1]) == 6


WIDE_STEPS = [
    "UPDATE t SET a = b WHERE id = 1",  # (a, b of no type: the JSON value's kind)
    "UPDATE t SET a = n WHERE id = 1",
    "UPDATE t SET a = -b WHERE id = 1",
    "UPDATE t SET a = coalesce(b, 0) WHERE id = 1",
    "UPDATE t SET n = b + 0 WHERE id = 1",
    "UPDATE t SET a = b WHERE id = 1 RETURNING a",  # (computed now, not at commit)
]


def test_an_update_reading_an_integer_beyond_64_bits_is_refused_at_the_statement() -> None:
    """A field holding 2**64 (a JSON value, or a value the session API stored), which SQLite
    cannot hold exactly, read by an UPDATE evaluated at commit: refused by the statement,
    never read back as the float 1.8446744073709552e+19 then refused by the commit, which
    lost the transaction's other writes."""
    conn = dbapi.connect(":memory:")
    try:
        cur = conn.cursor()
        cur.execute(DDL)
        cur.execute("INSERT INTO t (id, a, b, n) VALUES (1, 0, ?, ?), (2, 0, 0, 0)",
                    (2**64, 2**64))
        conn.commit()
        for sql in WIDE_STEPS:
            cur.execute("UPDATE t SET a = 'another write' WHERE id = 2")
            try:
                cur.execute(sql)
            except dbapi.DataError as error:
                # (arithmetic is refused by the query's guard, before the plain read)
                assert "beyond SQLite's 64 bits" in str(error) or (
                    "arithmetic (+) on b" in str(error)), sql
            else:
                raise AssertionError(f"{sql} was taken")
            cur.execute(READ)
            assert cur.fetchall()[0] == (1, 0, 2**64, 2**64), sql
            conn.commit()
            cur.execute(READ)
            assert [tuple(r) for r in cur.fetchall()] == [
                (1, 0, 2**64, 2**64), (2, "another write", 0, 0)], sql
            cur.execute("UPDATE t SET a = 0 WHERE id = 2")
            conn.commit()
    finally:
        conn.close()
