"""A JSON value the DB-API hands out (a RETURNING column, a load by key of a row the
transaction wrote) is the caller's own: changing it in place changes nothing stored, as with
sqlite3, where every value fetched is a new object. Nor do rows share a JSON column's default
object. (They shared the pending document's objects: a change to a fetched dict went into the
commit, and into every later row taking the default.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from sqla_docstore import dbapi

SPEC = {"fields": [{"name": "id", "type": "INTEGER", "nullable": False, "default": None},
                   {"name": "j", "type": "JSON", "nullable": True, "default": {"k": [1]}},
                   {"name": "n", "type": "INTEGER", "nullable": True, "default": None}],
        "primary_key": ["id"], "autoincrement": "id"}


@pytest.fixture
def docs(engine: Engine) -> Iterator[dbapi.Connection]:
    raw = engine.raw_connection()
    conn = raw.driver_connection
    conn.cursor().execute(f"CREATE COLLECTION docs {json.dumps(SPEC)}")
    yield conn
    raw.close()


def _all(conn: dbapi.Connection) -> list[tuple[Any, ...]]:
    cur = conn.cursor()
    cur.execute("SELECT id, j FROM docs ORDER BY id")
    return cur.fetchall()


@pytest.mark.parametrize("many", [1, 12])  # a row at a time, and a column at a time
def test_a_returned_default_changed_in_place_changes_no_row(docs: dbapi.Connection,
                                                            many: int) -> None:
    cur = docs.cursor()
    cur.executemany("INSERT INTO docs (n) VALUES (?) RETURNING j", [(i,) for i in range(many)])
    returned = cur.fetchall()
    returned[0][0]["k"].append("changed")
    cur.execute("INSERT INTO docs (n) VALUES (?)", (99,))
    docs.commit()
    assert _all(docs) == [(i, {"k": [1]}) for i in range(1, many + 2)]


def test_a_returned_value_changed_in_place_changes_no_row(docs: dbapi.Connection) -> None:
    cur = docs.cursor()
    cur.execute("INSERT INTO docs (id, j) VALUES (?, ?) RETURNING j", (5, {"a": [1]}))
    cur.fetchone()[0]["a"].append("changed")
    cur.execute("UPDATE docs SET n = ? WHERE id = ? RETURNING j", (1, 5))
    cur.fetchone()[0]["a"].append("changed too")
    docs.commit()
    assert _all(docs) == [(5, {"a": [1]})]


def test_a_pending_row_loaded_by_key_is_a_copy(docs: dbapi.Connection) -> None:
    cur = docs.cursor()
    cur.execute("INSERT INTO docs (id, j) VALUES (?, ?)", (7, {"a": [1]}))
    cur.execute("SELECT j FROM docs WHERE id = ?", (7,))
    cur.fetchone()[0]["a"].append("changed")
    assert _all(docs) == [(7, {"a": [1]})]
    docs.commit()
    assert _all(docs) == [(7, {"a": [1]})]


@pytest.mark.parametrize("written", [False, True])
def test_a_fetched_value_changed_in_place_changes_no_later_update_by_key(
    docs: dbapi.Connection, written: bool
) -> None:
    """Rows read (in a transaction that has written or not: the bodies read are then noted
    parsed) whose JSON value the caller changes in place, then an UPDATE by key of another
    field of their documents: the stored values, as SQLite keeps them."""
    cur = docs.cursor()
    cur.executemany("INSERT INTO docs (id, j, n) VALUES (?, ?, ?)",
                    [(i, {"a": [i]} if i % 2 else "plain", i) for i in range(1, 21)])
    docs.commit()
    if written:
        cur.execute("UPDATE docs SET n = ? WHERE id = ?", (0, 20))
    cur.execute("SELECT id, j, n FROM docs WHERE id BETWEEN ? AND ? ORDER BY id", (1, 19))
    rows = cur.fetchall()
    for row in rows:
        if isinstance(row[1], dict):
            row[1]["a"].append("changed")
    cur.executemany("UPDATE docs SET n = ? WHERE id = ?", [(-row[0], row[0]) for row in rows])
    cur.execute("SELECT id, j, n FROM docs ORDER BY id")
    want = [(i, {"a": [i]} if i % 2 else "plain", -i if i < 20 else (0 if written else 20))
            for i in range(1, 21)]
    assert cur.fetchall() == want
    docs.commit()
    assert [tuple(r) for r in _all(docs)] == [w[:2] for w in want]
