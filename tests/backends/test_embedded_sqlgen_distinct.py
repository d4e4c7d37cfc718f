"""SELECT DISTINCT tells rows apart by their SQL values, as SQLite does: a field holding 2 in
one document and 2.0 in another gives one row (its fields are read as JSON texts, which
differ), while the text '2' stays apart from the number 2. Stored and pending rows, both
backends, against sqlite3."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

DDL = "CREATE TABLE t (id INTEGER PRIMARY KEY, a, b)"
INSERT = "INSERT INTO t (id, a, b) VALUES (?, ?, ?)"
STORED = [(1, 2, 1), (2, 2.0, 1), (3, 0, "x"), (4, 0.0, "x"), (5, "2", None), (6, None, 1),
          (7, 3, 1), (8, 1.5, "x")]
PENDING = [(9, 3.0, 1), (10, None, 1), (11, 2, None)]
QUERIES = [
    "SELECT count(*) FROM (SELECT DISTINCT a FROM t) AS d",
    "SELECT count(*) FROM (SELECT DISTINCT a, b FROM t) AS d",
    "SELECT DISTINCT a = 2, typeof(a) FROM t ORDER BY 1, 2",
    "SELECT DISTINCT b FROM t ORDER BY b",
    "SELECT count(*) FROM (SELECT DISTINCT a FROM t WHERE a >= 0 ORDER BY a LIMIT 10) AS d",
    "SELECT DISTINCT a + 0 FROM t WHERE typeof(a) <> 'text' ORDER BY 1",
]
DISTINCT_ROWS = [f"SELECT DISTINCT {cols} FROM t" for cols in ("a", "a, b", "b, a + 1")]


def _queries(cur: Any) -> list[Any]:
    seen: list[Any] = []
    for sql in QUERIES:
        cur.execute(sql)
        seen.append([tuple(r) for r in cur.fetchall()])
    for sql in DISTINCT_ROWS:  # which of 2 and 2.0 stands for both is SQLite's choice:
        cur.execute(sql)       # compared as numbers
        seen.append(sorted(repr(tuple(r)).replace(".0", "") for r in cur.fetchall()))
    return seen


def test_select_distinct_tells_rows_apart_by_their_sql_values(
        raw_and_sqlite: Callable[[str, Callable[[Any], Any]], tuple[Any, Any]],
        stored_then_pending: Callable[..., Callable[[Any], Any]]) -> None:
    script = stored_then_pending(INSERT, STORED, PENDING, _queries)
    got, expected = raw_and_sqlite(DDL, script)
    assert got == expected
    assert expected[0] == [(6,)]  # 2 (2.0), 0 (0.0), '2', NULL, 3, 1.5


GROUPED = [(1, 1, 2), (2, 2, 2.0), (3, 3, 0), (4, 4, 0.0), (5, 5, "2"), (6, 6, None),
           (7, 7, 1), (8, 7, 1.0), (9, 8, 10), (10, 9, "x"), (11, 10, "10"), (12, 11, 9)]
GROUPED_PENDING = [(13, 12, 10.0), (14, 13, 2.5)]
# DISTINCT over a grouped, aggregate or windowed select: which of 2 and 2.0 stands for both
# is SQLite's choice (compared as numbers); ORDER BY a field's label orders by its value
GROUPED_QUERIES = [
    "SELECT DISTINCT b FROM t GROUP BY a",
    "SELECT DISTINCT b, count(*) FROM t GROUP BY a",
    "SELECT DISTINCT b FROM t GROUP BY a HAVING count(*) > 0",
    "SELECT DISTINCT b, sum(a) OVER () FROM t",
    "SELECT DISTINCT b FROM t GROUP BY a ORDER BY b LIMIT 4",
    "SELECT DISTINCT b AS z FROM t GROUP BY a ORDER BY z DESC",
    "SELECT b AS z, count(*) FROM t GROUP BY a ORDER BY z, 2",
    "SELECT b FROM t GROUP BY a UNION SELECT b FROM t GROUP BY a",
]


def _queries_grouped(cur: Any) -> list[Any]:
    seen: list[Any] = []
    for sql in GROUPED_QUERIES:
        cur.execute(sql)
        got = [repr(tuple(r)).replace(".0,", ",").replace(".0)", ")")
               for r in cur.fetchall()]
        seen.append(got if "ORDER BY" in sql else sorted(got))  # (else in no order)
    return seen


def test_distinct_over_a_grouped_select_tells_rows_apart_by_their_sql_values(
        raw_and_sqlite: Callable[[str, Callable[[Any], Any]], tuple[Any, Any]],
        stored_then_pending: Callable[..., Callable[[Any], Any]]) -> None:
    script = stored_then_pending(INSERT, GROUPED, GROUPED_PENDING, _queries_grouped)
    got, expected = raw_and_sqlite(DDL, script)
    assert got == expected
    assert len(expected[0]) == 9  # 2 (2.0), 0 (0.0), '2', NULL, 1 (1.0), 10, 'x', '10', 9


EXACT = [(1, 1, 0.1 + 0.2), (2, 2, 1 / 3), (3, 2, 1 / 3), (4, 3, float(2**53)),
         (5, 4, 9.223372036854776e18), (6, 5, 2**62 + 1), (7, 6, None),
         (8, 7, "0.30000000000000004")]
EXACT_PENDING = [(9, 8, 2 / 3), (10, 9, 1e-300 / 3)]
EXACT_QUERIES = [
    "SELECT DISTINCT b FROM t ORDER BY b",
    "SELECT b, count(*) FROM t GROUP BY b ORDER BY b",
    "SELECT DISTINCT b, count(*) FROM t GROUP BY a ORDER BY b",
    "SELECT b AS z, max(a) FROM t GROUP BY a ORDER BY z DESC",
]


def _queries_exact(cur: Any) -> list[Any]:
    seen: list[Any] = []
    for sql in EXACT_QUERIES:
        cur.execute(sql)
        seen.append([tuple((type(v).__name__, v) for v in r) for r in cur.fetchall()])
    return seen


def test_distinct_and_grouped_selects_give_the_fields_stored_numbers_exactly(
        raw_and_sqlite: Callable[[str, Callable[[Any], Any]], tuple[Any, Any]],
        stored_then_pending: Callable[..., Callable[[Any], Any]]) -> None:
    # a grouped select's fields were read as json_quote of their values, which writes a real
    # with 15 digits: 0.1 + 0.2 came back as 0.3, 2.0**53 as 9007199254740990.0
    script = stored_then_pending(INSERT, EXACT, EXACT_PENDING, _queries_exact)
    got, expected = raw_and_sqlite(DDL, script)
    assert got == expected
    assert ("float", 0.1 + 0.2) in expected[0][1]
