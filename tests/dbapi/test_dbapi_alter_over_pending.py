"""An ALTER COLLECTION that rewrites or checks the stored documents, run while the transaction
has uncommitted writes to that collection, is refused (OperationalError), the writes kept: it
applied to the stored documents only, so the pending rows were committed without the new
column's default (read as NULL where SQL gives the default), under a dropped or renamed name,
or NULL in a column just made NOT NULL, with no error."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sqla_docstore import dbapi

SPEC = {"fields": [{"name": "id", "type": "INTEGER", "nullable": False},
                   {"name": "v", "type": "VARCHAR", "nullable": True}],
        "primary_key": ["id"]}


def _alter(cur: dbapi.Cursor, **action: Any) -> None:
    cur.execute(f"ALTER COLLECTION t {json.dumps(action)}")


@pytest.fixture
def cur(connect: Any) -> dbapi.Cursor:
    conn = connect()
    cur = conn.cursor()
    cur.execute(f"CREATE COLLECTION t {json.dumps(SPEC)}")
    cur.executemany("INSERT INTO t (id, v) VALUES (?, ?)", [(1, "a"), (2, None)])
    conn.commit()
    cur.executemany("INSERT INTO t (id, v) VALUES (?, ?)", [(3, "c"), (4, None)])
    return cur


@pytest.mark.parametrize("action", [
    {"action": "add_column", "name": "z", "type": "INTEGER", "nullable": True, "default": 7},
    {"action": "drop_column", "name": "v"},
    {"action": "alter_column", "name": "v", "new_name": "w"},
    {"action": "alter_column", "name": "v", "type": "INTEGER"},
    {"action": "alter_column", "name": "v", "nullable": False},
    {"action": "rename_table", "new_name": "t2"},
])
def test_a_rewriting_alter_is_refused_and_the_writes_kept(cur: dbapi.Cursor,
                                                         action: dict[str, Any]) -> None:
    with pytest.raises(dbapi.OperationalError, match="uncommitted writes"):
        _alter(cur, **action)
    cur.execute("SELECT id, v FROM t ORDER BY id")
    assert cur.fetchall() == [(1, "a"), (2, None), (3, "c"), (4, None)]


def test_after_the_commit_the_default_reaches_every_row(cur: dbapi.Cursor) -> None:
    cur.connection.commit()
    _alter(cur, action="add_column", name="z", type="INTEGER", nullable=True, default=7)
    cur.execute("SELECT id, z FROM t ORDER BY id")
    assert cur.fetchall() == [(1, 7), (2, 7), (3, 7), (4, 7)]


def test_a_column_without_default_can_be_added(cur: dbapi.Cursor) -> None:
    _alter(cur, action="add_column", name="z", type="INTEGER", nullable=True, default=None)
    cur.connection.commit()
    cur.execute("SELECT id, z FROM t ORDER BY id")
    assert cur.fetchall() == [(1, None), (2, None), (3, None), (4, None)]
