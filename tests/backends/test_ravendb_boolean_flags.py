"""A BOOLEAN column holding 1 or 0 (raw SQL stores them as given) is TRUE or FALSE to a WHERE,
as in SQLite, on RavenDB too: a bare ``WHERE flag``, ``NOT flag``, ``flag = ?`` and ``flag IS
[NOT] TRUE`` were sent as RQL ``flag = true``, which matches no number, so they found no row
there (while the embedded store found them). Stored and pending rows, both backends, against
sqlite3."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

DDL = "CREATE TABLE t (id INTEGER PRIMARY KEY, b BOOLEAN, n INTEGER)"
INSERT = "INSERT INTO t (id, b, n) VALUES (?, ?, ?)"
STORED = [(1, 1, 5), (2, 0, 5), (3, None, 5), (4, 1, 6), (5, 2, 6), (6, 0, None)]
PENDING = [(7, 1, 5), (8, 0, 7)]
QUERIES = [
    ("SELECT id FROM t WHERE b ORDER BY id", ()),
    ("SELECT id FROM t WHERE NOT b ORDER BY id", ()),
    ("SELECT id FROM t WHERE b = ? ORDER BY id", (True,)),
    ("SELECT id FROM t WHERE b = ? ORDER BY id", (False,)),
    ("SELECT id FROM t WHERE b IS TRUE ORDER BY id", ()),
    ("SELECT id FROM t WHERE b IS NOT TRUE ORDER BY id", ()),
    ("SELECT id FROM t WHERE b IS FALSE ORDER BY id", ()),
    ("SELECT id FROM t WHERE n = 5 AND b ORDER BY id", ()),
    ("SELECT id FROM t WHERE NOT (n = 5 AND b) ORDER BY id", ()),
    ("SELECT count(*) FROM t WHERE b", ()),
    ("SELECT id FROM t WHERE b ORDER BY id LIMIT 2", ()),
]


def _queries(cur: Any) -> list[Any]:
    seen: list[Any] = []
    for sql, params in QUERIES:
        cur.execute(sql, params)
        seen.append((sql, params, [tuple(r) for r in cur.fetchall()]))
    return seen


def test_a_flag_holding_a_number_is_true_or_false_to_where(
        raw_and_sqlite: Callable[[str, Callable[[Any], Any]], tuple[Any, Any]],
        stored_then_pending: Callable[..., Callable[[Any], Any]]) -> None:
    got, expected = raw_and_sqlite(DDL, stored_then_pending(INSERT, STORED, PENDING, _queries))
    assert got == expected
