"""NUMERIC / DECIMAL result columns give decimal.Decimal (as psycopg gives PostgreSQL's numeric),
on both backends; FLOAT, INTEGER, untyped columns and expressions keep SQLite's values.
Every value is compared with its exact Python value and type."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from sqla_docstore import dbapi

DDL = ("CREATE TABLE t (id INTEGER PRIMARY KEY, n NUMERIC(10, 5), d DECIMAL, f FLOAT, "
       "r REAL, i INTEGER, j)")
ROWS = [
    {"id": 1, "n": Decimal("45.5"), "d": 45, "f": 46.583, "r": 2.5, "i": 7, "j": 1.5},
    {"id": 2, "n": Decimal("45"), "d": 0.1, "f": 1.0, "r": 3, "i": None, "j": 2},
    {"id": 3, "n": None, "d": Decimal("12345678901234567890.123456789"), "f": None, "r": None,
     "i": 9, "j": None},
]
INSERT = "INSERT INTO t (id, n, d, f, r, i, j) VALUES (:id, :n, :d, :f, :r, :i, :j)"


def _typed(rows: list[Any]) -> list[list[tuple[type, Any]]]:
    """Each value with its type: Decimal("1.5") == 1.5 in Python, so equality alone can't
    tell them apart."""
    return [[(type(v), v) for v in row] for row in rows]


def _exact(*rows: tuple[Any, ...]) -> list[list[tuple[type, Any]]]:
    return _typed(list(rows))


@pytest.fixture
def cur(engine: Engine) -> Iterator[Any]:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(DDL)
        cursor.executemany(INSERT, ROWS)
        raw.commit()
        yield cursor
    finally:
        raw.close()


def _rows(cur: Any, sql: str, params: dict[str, Any] | None = None) -> list[Any]:
    cur.execute(sql, params or {})
    return list(cur.fetchall())


def test_a_numeric_column_reads_as_the_decimal_stored(cur: Any) -> None:
    assert _typed(_rows(cur, "SELECT n, d FROM t ORDER BY id")) == _exact(
        (Decimal("45.5"), Decimal("45")), (Decimal("45"), Decimal("0.1")),
        (None, Decimal("12345678901234567890.123456789")))


def test_float_integer_and_untyped_columns_keep_their_values(cur: Any) -> None:
    # (the integer 3 written to the REAL column r is stored as 3.0, as SQLite's affinity does)
    assert _typed(_rows(cur, "SELECT f, r, i, j FROM t ORDER BY id")) == _exact(
        (46.583, 2.5, 7, 1.5), (1.0, 3.0, None, 2), (None, None, 9, None))


def test_star_views_derived_tables_and_joins_keep_the_declared_type(cur: Any) -> None:
    assert _typed(_rows(cur, "SELECT * FROM t WHERE id = 1")) == _exact(
        (1, Decimal("45.5"), Decimal("45"), 46.583, 2.5, 7, 1.5))
    cur.execute("CREATE VIEW v AS SELECT id, n AS amount, f FROM t")
    assert _typed(_rows(cur, "SELECT amount, f FROM v WHERE id = 2")) == _exact(
        (Decimal("45"), 1.0))
    assert _typed(_rows(cur, "SELECT q.m FROM (SELECT n AS m FROM t WHERE id = 1) AS q")) == \
        _exact((Decimal("45.5"),))
    assert _typed(_rows(cur, "SELECT a.n, b.f FROM t AS a JOIN t AS b ON a.id = b.id "
                             "WHERE a.id = 1")) == _exact((Decimal("45.5"), 46.583))
    assert _typed(_rows(cur, "SELECT n FROM t WHERE id = 1 UNION ALL "
                             "SELECT n FROM t WHERE id = 2")) == _exact(
        (Decimal("45.5"),), (Decimal("45"),))


def test_a_key_lookup_reads_decimals_too(cur: Any) -> None:
    assert _typed(_rows(cur, "SELECT t.n FROM t WHERE t.id = :id", {"id": 2})) == _exact(
        (Decimal("45"),))


def test_expressions_keep_the_stores_value_exact_sums_are_decimal(cur: Any) -> None:
    # an expression is SQLite's number; the store sums a NUMERIC column exactly (a Decimal,
    # as PostgreSQL's sum of numeric), CAST(... AS NUMERIC) is typed NUMERIC
    assert _typed(_rows(cur, "SELECT n + 1, max(n), min(n) FROM t WHERE id = 1")) == _exact(
        (46.5, 45.5, 45.5))
    assert _typed(_rows(cur, "SELECT sum(n), avg(n), total(n) FROM t")) == _exact(
        (Decimal("90.5"), Decimal("45.25"), 90.5))
    assert _typed(_rows(cur, "SELECT CAST(f AS NUMERIC), CAST(n AS FLOAT) FROM t "
                             "WHERE id = 1")) == _exact((Decimal("46.583"), 45.5))


def test_returning_a_numeric_column_gives_decimal(cur: Any) -> None:
    assert _typed(_rows(cur, "INSERT INTO t (id, n, f) VALUES (4, :n, :f) RETURNING id, n, f",
                        {"n": 1.25, "f": 2.0})) == _exact((4, Decimal("1.25"), 2.0))
    assert _typed(_rows(cur, "UPDATE t SET n = 2 WHERE id = 4 RETURNING n, n * 2")) == \
        _exact((Decimal("2"), 4))
    assert _typed(_rows(cur, "DELETE FROM t WHERE id = 4 RETURNING n")) == _exact(
        (Decimal("2"),))


def test_text_in_a_numeric_column(cur: Any) -> None:
    # a text that is a decimal number reads as one (SQLite's NUMERIC affinity would have stored
    # a number); any other text is given as stored
    cur.execute("INSERT INTO t (id, n) VALUES (5, :a), (6, :b)", {"a": "1.50", "b": "abc"})
    assert _typed(_rows(cur, "SELECT n FROM t WHERE id >= 5 ORDER BY id")) == _exact(
        (Decimal("1.50"),), ("abc",))


def test_a_streamed_result_reads_decimals(tmp_path: Path) -> None:
    conn = dbapi.connect(str(tmp_path / "s.db"))
    try:
        conn.cursor().execute(DDL)
        conn.cursor().executemany("INSERT INTO t (id, n, f) VALUES (:id, :n, :f)",
                                  [{"id": i, "n": i / 4, "f": i / 4} for i in range(1, 2500)])
        conn.commit()
        cur = conn.cursor(stream=True)
        cur.execute("SELECT n, f FROM t ORDER BY id")
        assert cur.streaming
        got = cur.fetchall()
        assert _typed(got) == _typed([(Decimal(repr(i / 4)), i / 4) for i in range(1, 2500)])
    finally:
        conn.close()
