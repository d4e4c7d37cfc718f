"""A number in a DATETIME / DATE column (NUMERIC affinity in SQL: raw SQL stores 5 as 5) is
less than every text in SQL, but RavenDB's string ranges, which compare dates, never match a
number: ``d < :when`` with a datetime parameter missed such rows. As for texts in numeric
columns (test_ravendb_texts_in_numeric_columns.py), the field is recorded with the write and
compared in a form that keeps them."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable
from typing import Any

import pytest

DDL = "CREATE TABLE d (id INTEGER PRIMARY KEY, t DATETIME NOT NULL, day DATE)"
ROWS = [(1, 5, "2020-01-01"), (2, "2020-01-01 00:00:00", 7.5), (3, "2030-01-01 00:00:00", None),
        (4, 2.5, "2040-01-01"), (5, "abc", True)]
WHEN = dt.datetime(2025, 1, 1)
DAY = dt.date(2025, 1, 1)


def _oracle_param(value: Any) -> Any:
    """The parameter as text for sqlite3 (its datetime adapters are deprecated); the store
    stores and compares dates as this ISO text."""
    return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()


@pytest.mark.parametrize("where", ["t < ?", "t <= ?", "? > t", "NOT (t >= ?)", "NOT (t > ?)",
                                   "t > ?", "t >= ?", "NOT (t < ?)", "t BETWEEN ? AND ?",
                                   "t NOT BETWEEN ? AND ?", "day < ?", "NOT (day >= ?)"])
def test_select_update_delete_find_numbers_as_sqlite_does(
        raw_and_sqlite: Callable[..., tuple[Any, Any]], where: str) -> None:
    def run(conn: Any) -> Any:
        oracle = isinstance(conn, sqlite3.Connection)
        value = DAY if where.startswith(("day", "NOT (day")) else WHEN
        params = [value] * where.count("?")
        if oracle:
            params = [_oracle_param(p) for p in params]
        cur = conn.cursor()
        cur.executemany("INSERT INTO d VALUES (?, ?, ?)", ROWS)
        conn.commit()
        cur.execute(f"SELECT id FROM d WHERE {where} ORDER BY id", params)
        selected = [r[0] for r in cur.fetchall()]
        cur.execute("SELECT id FROM d ORDER BY t, id")
        ordered = [r[0] for r in cur.fetchall()]
        cur.execute(f"UPDATE d SET day = NULL WHERE {where}", params)
        updated = cur.rowcount
        conn.commit()
        cur.execute(f"DELETE FROM d WHERE {where}", params)
        deleted = cur.rowcount
        conn.commit()
        return selected, ordered, updated, deleted
    got, expected = raw_and_sqlite(DDL, run)
    assert got == expected
