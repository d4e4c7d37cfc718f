"""The exact sum and average of a NUMERIC column compare, sort and compute as the numbers
they are, as in SQLite: in HAVING, ORDER BY, WHERE over a derived table, a scalar subquery,
CASE and typeof(). They were the exact decimal's text, which SQLite compares as a text
(after every number): ``HAVING sum(n) > 2`` kept every group, ``WHERE n < (SELECT avg(n)
...)`` every row. A sum no double holds stays exact as a result column and is refused with
DataError where it would be compared or computed. Stored and pending rows, both backends,
against sqlite3."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine

from sqla_docstore import errors

DDL = "CREATE TABLE t (id INTEGER PRIMARY KEY, g INTEGER, n NUMERIC(10, 2))"
INSERT = "INSERT INTO t (id, g, n) VALUES (?, ?, ?)"
STORED = [(1, 1, 1.5), (2, 1, None), (3, 2, 10.25), (4, 2, -1), (5, 3, 2), (6, 4, 9)]
PENDING = [(7, 4, 0.25), (8, 5, None)]
QUERIES = [
    "SELECT g, sum(n) FROM t GROUP BY g HAVING sum(n) > 2 ORDER BY g",
    "SELECT g, avg(n) FROM t GROUP BY g HAVING avg(n) <= 4.5 ORDER BY g",
    "SELECT g, sum(n) AS s FROM t GROUP BY g ORDER BY s DESC",
    "SELECT g FROM t GROUP BY g ORDER BY sum(n), g",
    "SELECT g, typeof(sum(n)), typeof(avg(n)), sum(n) = 1.5, avg(n) > 1 FROM t GROUP BY g "
    "ORDER BY g",
    "SELECT s FROM (SELECT sum(n) AS s FROM t) AS w WHERE w.s >= 2",
    "SELECT g, s FROM (SELECT g, sum(n) AS s FROM t GROUP BY g) AS w WHERE s < 5 ORDER BY g",
    "SELECT id FROM t WHERE n < (SELECT avg(n) FROM t) ORDER BY id",
    "SELECT CASE WHEN sum(n) > 100 THEN 'big' ELSE 'small' END, sum(n) + 1 FROM t",
]


def _queries(cur: Any) -> list[Any]:
    seen: list[Any] = []
    for sql in QUERIES:
        cur.execute(sql)  # (NUMERIC results are Decimal here, SQLite's numbers there)
        seen.append((sql, [tuple(float(v) if isinstance(v, Decimal) else v for v in r)
                           for r in cur.fetchall()]))
    return seen


def test_exact_sums_compare_and_sort_as_numbers(
        raw_and_sqlite: Callable[[str, Callable[[Any], Any]], tuple[Any, Any]],
        stored_then_pending: Callable[..., Callable[[Any], Any]]) -> None:
    got, expected = raw_and_sqlite(DDL, stored_then_pending(INSERT, STORED, PENDING, _queries))
    assert got == expected


WIDE = [(1, 1, Decimal("1E+30")), (2, 1, Decimal("0.01")), (3, 2, Decimal("1"))]


@pytest.mark.parametrize("sql", [
    "SELECT g FROM t GROUP BY g HAVING sum(n) > 2",
    "SELECT g, sum(n) AS s FROM t GROUP BY g ORDER BY s",
    "SELECT g FROM t GROUP BY g ORDER BY avg(n)",
    "SELECT s FROM (SELECT sum(n) AS s FROM t) AS w WHERE s > 0",
    "SELECT sum(n) + 1 FROM t",
])
def test_a_sum_no_double_holds_is_refused_where_compared(engine: Engine, sql: str) -> None:
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(DDL)
        cur.executemany(INSERT, WIDE)
        cur.execute("SELECT g, sum(n), avg(n) FROM t GROUP BY g ORDER BY g")
        assert cur.fetchall() == [(1, Decimal("1000000000000000000000000000000.01"),
                                   Decimal("500000000000000000000000000000.005")),
                                  (2, Decimal("1"), Decimal("1"))]
        with pytest.raises(errors.DataError, match="exact sum or average"):
            cur.execute(sql)
            cur.fetchall()
    finally:
        raw.close()
