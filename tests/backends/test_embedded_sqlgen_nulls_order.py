"""ORDER BY a label with NULLS FIRST / LAST puts the NULLs where asked also in a DISTINCT or
grouped select, whose fields are read as JSON texts (NULL there is the text 'null', which
SQLite's NULLS FIRST did not see: DESC NULLS FIRST put them last). Stored and pending rows,
both backends, against sqlite3."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

DDL = "CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, s VARCHAR(10))"
INSERT = "INSERT INTO t (id, a, s) VALUES (?, ?, ?)"
STORED = [(1, 2, "x"), (2, None, "x"), (3, 2, None), (4, 5, "y")]
PENDING = [(5, None, None), (6, 1, "y")]
QUERIES = [
    f"SELECT {distinct} a AS k{extra} FROM t{group} ORDER BY k {direction} NULLS {where}{then}"
    f"{limit}"
    for distinct, group, extra, then in (
        ("DISTINCT", "", "", ""), ("", " GROUP BY a", ", count(*) AS n", ""),
        ("", " GROUP BY a, s", ", s AS j", ", j DESC NULLS LAST"))
    for direction in ("ASC", "DESC") for where in ("FIRST", "LAST") for limit in ("", " LIMIT 2")
] + [
    "SELECT DISTINCT s AS k, a AS m FROM t ORDER BY k DESC NULLS FIRST, m NULLS LAST",
    "SELECT x.a AS k FROM t AS x JOIN t AS y ON x.a = y.a OR x.a IS NULL "
    "GROUP BY x.a ORDER BY k DESC NULLS FIRST",
]


def _queries(cur: Any) -> list[Any]:
    seen: list[Any] = []
    for sql in QUERIES:
        cur.execute(sql)
        seen.append((sql, [tuple(r) for r in cur.fetchall()]))
    return seen


def test_nulls_first_and_last_order_a_distinct_or_grouped_label(
        raw_and_sqlite: Callable[[str, Callable[[Any], Any]], tuple[Any, Any]],
        stored_then_pending: Callable[..., Callable[[Any], Any]]) -> None:
    got, expected = raw_and_sqlite(DDL, stored_then_pending(INSERT, STORED, PENDING, _queries))
    assert got == expected
