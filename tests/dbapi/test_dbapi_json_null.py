"""The DB-API's ``JSON_NULL``: JSON null in a JSON column, apart from None (SQL NULL), as
SQLite tells the text 'null' from NULL in a column declared JSON. Other columns, one declared
without a type included, keep null as NULL. Against sqlite3, pending and committed rows."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from sqla_docstore import dbapi

DDL = "CREATE TABLE t (id INTEGER PRIMARY KEY, j JSON, a, s VARCHAR)"
INSERT = "INSERT INTO t (id, j, a, s) VALUES (?, ?, ?, ?)"
QUERIES = [
    "SELECT id, j IS NULL, a IS NULL, s IS NULL FROM t ORDER BY id",
    "SELECT count(j), count(a), count(s), count(*) FROM t",
    "SELECT id, CAST(j AS TEXT) FROM t ORDER BY id",
    "SELECT j IS NULL, count(*) FROM t GROUP BY j IS NULL ORDER BY 1",
    "SELECT id FROM t WHERE j IS NOT NULL ORDER BY id",
]


def _rows(as_null: Any) -> list[tuple[Any, ...]]:
    """The rows with ``as_null`` standing for JSON null."""
    return [(1, as_null, None, None), (2, None, None, None), (3, 5, 5, "x"),
            (4, as_null, None, "y")]


def _run(conn: Any, as_null: Any) -> list[Any]:
    cur = conn.cursor()
    cur.execute(DDL)
    conn.commit()
    cur.executemany(INSERT, _rows(as_null)[:2])
    for row in _rows(as_null)[2:]:
        cur.execute(INSERT, row)
    cur.execute("UPDATE t SET j = ? WHERE id = 3", (as_null,))
    seen = []
    for sql in QUERIES:
        cur.execute(sql)
        seen.append([tuple(r) for r in cur.fetchall()])
    conn.commit()
    for sql in QUERIES:
        cur.execute(sql)
        seen.append([tuple(r) for r in cur.fetchall()])
    return seen


@pytest.fixture
def expected() -> list[Any]:
    conn = sqlite3.connect(":memory:")
    try:
        return _run(conn, "null")
    finally:
        conn.close()


def test_json_null_is_a_value_in_a_json_column_only(connect: Any,
                                                   expected: list[Any]) -> None:
    assert _run(connect(), dbapi.JSON_NULL) == expected
    assert expected[0] == [(1, 0, 1, 1), (2, 1, 1, 1), (3, 0, 0, 0), (4, 0, 1, 0)]


def test_the_document_holds_null_or_leaves_the_field_out(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    conn = dbapi.connect(str(path))
    try:
        _run(conn, dbapi.JSON_NULL)
    finally:
        conn.close()
    with sqlite3.connect(path) as raw:
        bodies = dict(raw.execute('SELECT id, body FROM "@docs/t" ORDER BY id').fetchall())
    assert bodies == {"t/1": '{"id":1,"j":null,"a":null,"s":null}',
                      "t/2": '{"id":2,"a":null,"s":null}',
                      "t/3": '{"id":3,"j":null,"a":5,"s":"x"}',
                      "t/4": '{"id":4,"j":null,"a":null,"s":"y"}'}


@pytest.mark.parametrize("count", [3, 60])
def test_not_null_json_column_takes_json_null_and_refuses_none(connect: Any,
                                                               count: int) -> None:
    """Row by row and in the column-at-a-time insert path (many rows alike)."""
    conn = connect()
    cur = conn.cursor()
    cur.execute("CREATE TABLE n (id INTEGER PRIMARY KEY, j JSON NOT NULL)")
    cur.executemany("INSERT INTO n (id, j) VALUES (?, ?)",
                    [(i, dbapi.JSON_NULL) for i in range(count)])
    with pytest.raises(dbapi.IntegrityError, match="NOT NULL constraint failed: n.j"):
        cur.executemany("INSERT INTO n (id, j) VALUES (?, ?)",
                        [(i, None) for i in range(count, 2 * count)])
    cur.execute("SELECT count(j), count(*) FROM n WHERE j IS NOT NULL")
    assert cur.fetchall() == [(count, count)]
