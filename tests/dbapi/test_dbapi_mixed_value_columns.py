"""Statements writing many rows at once whose columns mix value types (texts beside floats,
integers and NULL in one column) give SQLite's rows and rowcounts, on both backends: the tests
made a column at a time over all the rows must take such columns as they come."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine

DDL = "CREATE TABLE t (id INTEGER PRIMARY KEY, a, b, n INTEGER)"
INSERT = "INSERT INTO t (id, a, b, n) VALUES (?, ?, ?, ?)"
#: texts beside floats (and integers, NULL) in one column, more rows than are tested one by one
ROWS = [(i, ["x", 2.5, "y", 0.5, None, 7, "", -1.25][i % 8], [1.5, "q"][i % 2], i % 3)
        for i in range(1, 21)]
STEPS: list[tuple[str, Any]] = [
    ("executemany", (INSERT, ROWS)),
    ("execute", ("UPDATE t SET n = 0 WHERE n = 1", ())),  # the matched rows keep mixed columns
    ("executemany", ("UPDATE t SET a = ? WHERE id = ?", [(v, i) for i, v in zip(
        range(1, 13), ["z", 1.5, None, "w", 3, 0.25, "v", 2.5, "u", 1.75, "t", -0.5],
        strict=True)])),
    ("execute", ("SELECT id, a, b, n FROM t ORDER BY id", ())),
]


def _run(conn: Any) -> list[Any]:
    seen = []
    cur = conn.cursor()
    for method, (sql, params) in STEPS:
        getattr(cur, method)(sql, params)
        seen.append(cur.fetchall() if cur.description else cur.rowcount)
    conn.commit()
    cur.execute("SELECT id, a, b, n FROM t ORDER BY id")
    seen.append(cur.fetchall())
    return [[tuple(r) for r in s] if isinstance(s, list) else s for s in seen]


def _typed(seen: list[Any]) -> list[Any]:
    return [[tuple((type(v), v) for v in r) for r in s] if isinstance(s, list) else s
            for s in seen]


@pytest.fixture
def sqlite_run() -> Callable[[], list[Any]]:
    def run() -> list[Any]:
        conn = sqlite3.connect(":memory:")
        conn.execute(DDL)
        try:
            return _run(conn)
        finally:
            conn.close()
    return run


def test_many_rows_mixing_texts_and_floats_in_a_column_give_sqlites_rows(
        engine: Engine, sqlite_run: Callable[[], list[Any]]) -> None:
    raw = engine.raw_connection()
    try:
        raw.cursor().execute(DDL)
        raw.commit()
        got = _run(raw)
    finally:
        raw.close()
    expected = sqlite_run()
    assert _typed(got) == _typed(expected)
    assert expected[1] == 7 and len(expected[-1]) == 20
