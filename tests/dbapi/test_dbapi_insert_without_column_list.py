"""An INSERT without a column list (``INSERT INTO t VALUES (...), (...)``, ``INSERT INTO t
SELECT ...``, executemany with ``?``) fills the table's declared columns in declaration order,
its generated columns left out, as SQLite does; another number of values is SQLite's
OperationalError "table t has N columns but M values were supplied". They were refused ("a
different number of columns and values"). An open collection has no columns to fill: refused
naming the construct. Both backends, against sqlite3."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine

from sqla_docstore import errors

DDL = ("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE, n INTEGER, "
       "twice INTEGER GENERATED ALWAYS AS (n * 2) STORED, u)")
WRITES = [
    "INSERT INTO t VALUES (1, 'a', 1, 'x')",
    "INSERT INTO t VALUES (NULL, 'b', '2', 2.5), (NULL, 'c', 3, NULL)",
    "INSERT INTO t SELECT id + 10, name || '2', n, u FROM t WHERE id < 3",
    "INSERT INTO t SELECT * FROM (SELECT 20 AS a, 'd' AS b, 4 AS c, 'y' AS e) AS s",
    "INSERT INTO t SELECT 21, 'e', 5, 1 UNION ALL SELECT 22, 'f', 6, 2",
    "INSERT OR REPLACE INTO t VALUES (1, 'z', 7, 'r')",
    "INSERT INTO t VALUES (2, 'q', 8, 0) ON CONFLICT (id) DO UPDATE SET n = excluded.n + 100",
    "INSERT OR IGNORE INTO t VALUES (30, 'z', 9, 0)",
    "INSERT INTO t DEFAULT VALUES",
]
RETURNING = "INSERT INTO t VALUES (40, 'g', 10, 'w'), (41, 'h', 11, NULL) RETURNING *"
WRONG = [
    "INSERT INTO t VALUES (50, 'i', 1)",
    "INSERT INTO t VALUES (50, 'i', 1, 2, 3)",
    "INSERT INTO t VALUES (50, 'i', 1, 2), (51, 'j', 1)",
    "INSERT INTO t SELECT 50, 'i'",
    "INSERT INTO t SELECT 50, 'i', 1 UNION ALL SELECT 51, 'j', 1",
    "INSERT INTO t SELECT * FROM t",  # (the generated column too: one too many)
    "INSERT INTO t SELECT * FROM t WHERE id = -1",  # (no rows: still the wrong width)
]
MANY = "INSERT INTO t VALUES (?, ?, ?, ?)"
#: more rows than the executor's column-at-a-time threshold
MANY_ROWS = [(100 + i, f"m{i}", i, str(i) if i % 2 else i) for i in range(40)]


def _run(conn: Any) -> list[Any]:
    cur = conn.cursor()
    seen: list[Any] = []
    for sql in WRITES:
        cur.execute(sql)
        seen.append((sql, cur.rowcount))
    cur.execute(RETURNING)
    seen.append(cur.fetchall())
    conn.commit()
    for sql in WRONG:
        with pytest.raises(Exception) as caught:
            cur.execute(sql)
        seen.append((sql, type(caught.value).__name__, str(caught.value).split(":")[0]))
    cur.executemany(MANY, MANY_ROWS)
    seen.append(cur.rowcount)
    with pytest.raises(Exception) as caught:
        cur.executemany("INSERT INTO t VALUES (?, ?, ?)", [(200, "w", 1)])
    seen.append((type(caught.value).__name__, str(caught.value)))
    cur.execute("SELECT id, name, n, twice, u, typeof(n), typeof(u) FROM t ORDER BY id")
    seen.append(cur.fetchall())
    conn.commit()
    return seen


def test_insert_without_column_list_fills_declared_columns_in_order(
        raw_and_sqlite: Callable[[str, Callable[[Any], Any]], tuple[Any, Any]]) -> None:
    got, expected = raw_and_sqlite(DDL, _run)
    assert got == expected


def test_wrong_width_is_sqlites_operational_error(engine: Engine) -> None:
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(DDL)
        with pytest.raises(errors.OperationalError,
                           match="table t has 4 columns but 3 values were supplied"):
            cur.execute("INSERT INTO t VALUES (1, 'a', 1)")
        with pytest.raises(errors.OperationalError, match="same number of terms"):
            cur.execute("INSERT INTO t VALUES (1, 'a', 1, 2), (2, 'b', 2)")
    finally:
        raw.close()


def test_open_collection_without_column_list_is_refused_naming_it(engine: Engine) -> None:
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute('CREATE COLLECTION o {"fields": []}')
        for sql in ("INSERT INTO o VALUES (1, 2)", "INSERT INTO o SELECT 1, 2"):
            with pytest.raises(errors.NotSupportedError,
                               match="INSERT INTO o without a column list.*open collection"):
                cur.execute(sql)
        cur.execute("SELECT count(*) FROM o")
        assert cur.fetchall() == [(0,)]
    finally:
        raw.rollback()
        raw.close()
