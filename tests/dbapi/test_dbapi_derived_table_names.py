"""A derived table whose columns share a name (``max(a), max(b)``, two unnamed literals, a
repeated alias): each column keeps its own value, as SQLite names them apart (``max``,
``max:1``). The outer ``*`` read the first of the name for every one of them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

DDL = "CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, b INTEGER)"
QUERIES = [
    "SELECT * FROM (SELECT max(a), max(b), min(a) FROM t) AS s",
    "SELECT * FROM (SELECT 20, 'd', 4, 'y', 1 + 1) AS s",
    "SELECT * FROM (SELECT a AS x, b AS x FROM t) AS s",
    "SELECT x FROM (SELECT a AS x, b AS x FROM t) AS s",
    "SELECT * FROM (SELECT a, a + 1, a + 2 FROM t) AS s",
    "SELECT * FROM (SELECT max(a), max(b) FROM t UNION ALL SELECT min(a), min(b) FROM t)",
    "SELECT * FROM (SELECT a, * FROM t)",
    "SELECT * FROM (SELECT count(*), count(b), sum(a), sum(b) FROM t) AS s",
]


def _run(conn: Any) -> list[Any]:
    cur = conn.cursor()
    cur.executemany("INSERT INTO t (a, b) VALUES (?, ?)", [(1, 10), (2, 20), (3, None)])
    seen = []
    for sql in QUERIES:
        cur.execute(sql)
        seen.append((sql, sorted(tuple(r) for r in cur.fetchall())))
    conn.rollback()
    return seen


def test_each_column_of_a_derived_table_keeps_its_value(
        raw_and_sqlite: Callable[[str, Callable[[Any], Any]], tuple[Any, Any]]) -> None:
    got, expected = raw_and_sqlite(DDL, _run)
    assert got == expected
