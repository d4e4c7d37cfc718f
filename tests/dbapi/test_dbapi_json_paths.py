"""JSON element operators in raw statements through the DB-API (no SQLAlchemy)."""

from __future__ import annotations

from typing import Any

import pytest

from sqla_docstore import dbapi
from sqla_docstore.errors import NotSupportedError, ProgrammingError

SPEC: dict[str, Any] = {"fields": [{"name": "id", "type": "INTEGER", "nullable": False},
                                   {"name": "doc", "type": "JSON", "nullable": True}],
                        "primary_key": ["id"]}


@pytest.fixture
def nested(conn: dbapi.Connection, create_collection: Any) -> dbapi.Connection:
    create_collection(conn, "nested", SPEC)
    cur = conn.cursor()
    cur.executemany("INSERT INTO nested (id, doc) VALUES (:id, :doc)", [
        {"id": 1, "doc": {"a": {"b": [10, 20]}, "s": "x"}},
        {"id": 2, "doc": {"a": {"b": [30]}, "s": "y"}},
        {"id": 3, "doc": None},
    ])
    conn.commit()
    return conn


def test_value_and_json_operators(nested: dbapi.Connection, rows: Any) -> None:
    got = rows(nested, "SELECT id, doc -> 'a', doc -> 'a' ->> 'b', doc ->> 's', "
                       "doc -> :k -> 'b' ->> :i FROM nested ORDER BY id", {"k": "a", "i": 1})
    assert got == [(1, {"b": [10, 20]}, '[10,20]', "x", 20),
                   (2, {"b": [30]}, "[30]", "y", None),
                   (3, None, None, None, None)]


def test_a_path_parameter_holds_a_list_of_steps(nested: dbapi.Connection, rows: Any) -> None:
    got = rows(nested, "SELECT id FROM nested WHERE doc ->> :path = :v",
               {"path": ["a", "b", 0], "v": 30})
    assert got == [(2,)]


def test_array_contains(nested: dbapi.Connection, rows: Any) -> None:
    got = rows(nested, "SELECT id FROM nested WHERE array_contains(doc -> 'a' -> 'b', :v)",
               {"v": 20})
    assert got == [(1,)]


@pytest.mark.parametrize(("sql", "error"), [
    ("SELECT doc ->> id FROM nested", NotSupportedError),
    ("SELECT doc ->> :k FROM nested", ProgrammingError),
    ("SELECT doc ->> 'a\"b' FROM nested", NotSupportedError),
])
def test_bad_steps_are_refused(nested: dbapi.Connection, rows: Any, sql: str,
                               error: type[Exception]) -> None:
    with pytest.raises(error):
        rows(nested, sql, {"k": 1.5})
