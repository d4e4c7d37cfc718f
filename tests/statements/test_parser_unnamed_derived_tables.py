"""A derived table without an alias, ``FROM (SELECT ...)``, is read as SQLite reads it (its
columns named unqualified); the parser refused it with "expected a name". Both backends,
against sqlite3."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

DDL = "CREATE TABLE t (id INTEGER PRIMARY KEY, i INTEGER, s VARCHAR(10))"
ROWS = [(1, 2, "a"), (2, None, None), (3, 2, "b"), (4, 10, "a")]
QUERIES = [
    "SELECT * FROM (SELECT DISTINCT i AS k FROM t) ORDER BY k DESC NULLS FIRST",
    "SELECT k, n FROM (SELECT s AS k, count(*) AS n FROM t GROUP BY s) WHERE n > 1",
    "SELECT count(*) FROM (SELECT i FROM t WHERE i > 1)",
    "SELECT a, b FROM (SELECT i AS a FROM t), (SELECT s AS b FROM t WHERE id = 1) "
    "ORDER BY a NULLS FIRST",
    "SELECT x FROM (SELECT y AS x FROM (SELECT i + 1 AS y FROM t)) ORDER BY x",
    "SELECT s FROM t WHERE i IN (SELECT k FROM (SELECT max(i) AS k FROM t))",
]


def _run(conn: Any) -> list[Any]:
    cur = conn.cursor()
    cur.executemany("INSERT INTO t (id, i, s) VALUES (?, ?, ?)", ROWS)
    seen = []
    for sql in QUERIES:
        cur.execute(sql)
        seen.append((sql, [tuple(r) for r in cur.fetchall()]))
    conn.rollback()
    return seen


def test_a_derived_table_without_an_alias_is_read_as_in_sqlite(
        raw_and_sqlite: Callable[[str, Callable[[Any], Any]], tuple[Any, Any]]) -> None:
    got, expected = raw_and_sqlite(DDL, _run)
    assert got == expected
