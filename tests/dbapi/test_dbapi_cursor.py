"""Cursor behaviour: description, rowcount, lastrowid, fetch*, executemany, closed cursors."""

from __future__ import annotations

from typing import Any

import pytest

from sqla_docstore import dbapi

INSERT_USER = "INSERT INTO users (name, age) VALUES (:name, :age)"


def _seed(conn: dbapi.Connection, n: int = 5) -> None:
    conn.cursor().executemany(INSERT_USER, [{"name": f"u{i}", "age": i} for i in range(n)])


def test_description_of_a_query(conn: dbapi.Connection) -> None:
    _seed(conn)
    cur = conn.cursor()
    cur.execute("SELECT users.name AS who, users.age FROM users WHERE users.age > :a", {"a": 2})
    assert cur.description is not None
    assert [d[0] for d in cur.description] == ["who", "age"]
    assert all(len(d) == 7 for d in cur.description)
    assert cur.rowcount == -1  # PEP 249: not determinable for a SELECT


def test_description_is_none_for_writes(conn: dbapi.Connection) -> None:
    cur = conn.cursor()
    cur.execute(INSERT_USER, {"name": "a", "age": 1})
    assert cur.description is None
    with pytest.raises(dbapi.ProgrammingError, match="no result set"):
        cur.fetchall()
    with pytest.raises(dbapi.ProgrammingError):
        cur.fetchone()


def test_a_streaming_cursor_reads_a_write_as_no_rows(conn: dbapi.Connection) -> None:
    cur = conn.cursor(stream=True)
    with pytest.raises(dbapi.ProgrammingError, match="no result set"):
        cur.fetchmany(1)  # nothing ran yet
    cur.execute(INSERT_USER, {"name": "a", "age": 1})
    assert cur.description is None and cur.rowcount == 1
    assert cur.fetchmany(1) == [] and cur.fetchone() is None and cur.fetchall() == []
    assert list(cur) == []


def test_insert_rowcount_and_lastrowid(conn: dbapi.Connection, rows: Any) -> None:
    cur = conn.cursor()
    cur.execute(INSERT_USER, {"name": "a", "age": 1})
    assert cur.rowcount == 1
    first = cur.lastrowid
    assert isinstance(first, int)
    cur.executemany(INSERT_USER, [{"name": "b", "age": 2}, {"name": "c", "age": 3}])
    assert cur.rowcount == 2
    assert cur.lastrowid is not None and cur.lastrowid > first
    assert rows(conn, "SELECT users.id FROM users WHERE users.name = :n", {"n": "c"}) == [
        (cur.lastrowid,)
    ]


def test_insert_with_explicit_key_reports_it(conn: dbapi.Connection) -> None:
    cur = conn.cursor()
    cur.execute("INSERT INTO users (id, name) VALUES (:id, :name)", {"id": 4242, "name": "x"})
    assert cur.lastrowid == 4242


def test_insert_returning(conn: dbapi.Connection) -> None:
    cur = conn.cursor()
    cur.executemany(INSERT_USER + " RETURNING users.id, users.name",
                    [{"name": "a", "age": 1}, {"name": "b", "age": 2}])
    assert [d[0] for d in cur.description or []] == ["id", "name"]
    got = cur.fetchall()
    assert [r[1] for r in got] == ["a", "b"]
    assert got[0][0] < got[1][0]


def test_update_and_delete_returning(conn: dbapi.Connection) -> None:
    _seed(conn, 4)
    cur = conn.cursor()
    cur.execute("UPDATE users SET age = :a WHERE users.age >= :lo RETURNING users.name, users.age",
                {"a": 10, "lo": 2})
    assert sorted(cur.fetchall()) == [("u2", 10), ("u3", 10)]
    cur.execute("DELETE FROM users WHERE users.age = :a RETURNING users.name", {"a": 10})
    assert cur.rowcount == 2
    assert sorted(cur.fetchall()) == [("u2",), ("u3",)]


def test_fetchone_fetchmany_fetchall_and_iteration(conn: dbapi.Connection) -> None:
    _seed(conn, 5)
    cur = conn.cursor()
    cur.execute("SELECT users.age FROM users ORDER BY users.age")
    assert cur.fetchone() == (0,)
    assert cur.fetchmany() == [(1,)]  # arraysize defaults to 1
    assert cur.fetchmany(2) == [(2,), (3,)]
    assert cur.fetchall() == [(4,)]
    assert cur.fetchone() is None
    assert cur.fetchmany(3) == []
    assert cur.fetchall() == []
    cur.arraysize = 2
    cur.execute("SELECT users.age FROM users ORDER BY users.age DESC")
    assert cur.fetchmany() == [(4,), (3,)]
    assert list(cur) == [(2,), (1,), (0,)]


def test_iteration_takes_each_row_from_the_cursor_as_it_stands(conn: dbapi.Connection) -> None:
    """Iterating is fetchone() until None: fetch calls and statements in between are seen,
    a closed cursor or a statement without rows raises."""
    _seed(conn, 6)
    cur = conn.cursor()
    cur.execute("SELECT users.age FROM users ORDER BY users.age")
    rows = iter(cur)
    assert next(rows) == (0,)
    assert cur.fetchone() == (1,)
    assert next(rows) == (2,)
    assert cur.fetchmany(2) == [(3,), (4,)]
    assert list(rows) == [(5,)]
    assert cur.fetchone() is None
    cur.execute("SELECT users.age FROM users ORDER BY users.age DESC")
    rows = iter(cur)
    assert next(rows) == (5,)
    cur.execute("SELECT users.name FROM users WHERE users.age = :a", {"a": 1})
    assert list(rows) == [("u1",)]  # the new statement's rows
    cur.execute("SELECT users.age FROM users")
    rows = iter(cur)
    next(rows)
    cur.execute(INSERT_USER, {"name": "x", "age": 9})
    with pytest.raises(dbapi.ProgrammingError, match="no result set"):
        next(rows)
    cur.execute("SELECT users.age FROM users")
    rows = iter(cur)
    next(rows)
    cur.close()
    with pytest.raises(dbapi.InterfaceError):
        next(rows)


def test_execute_returns_the_cursor(conn: dbapi.Connection) -> None:
    cur = conn.cursor()
    assert cur.execute("SELECT count(*) FROM users") is cur
    assert cur.fetchone() == (0,)


def test_executemany_select_concatenates_results(conn: dbapi.Connection) -> None:
    _seed(conn, 3)
    cur = conn.cursor()
    cur.executemany("SELECT users.name FROM users WHERE users.age = :a", [{"a": 2}, {"a": 0}])
    assert cur.fetchall() == [("u2",), ("u0",)]


def test_closed_cursor(conn: dbapi.Connection) -> None:
    cur = conn.cursor()
    cur.execute("SELECT count(*) FROM users")
    cur.close()
    with pytest.raises(dbapi.InterfaceError):
        cur.execute("SELECT count(*) FROM users")
    with pytest.raises(dbapi.InterfaceError):
        cur.fetchall()
    with pytest.raises(dbapi.InterfaceError):
        cur.fetchone()


def test_fetchone_before_any_result(conn: dbapi.Connection) -> None:
    cur = conn.cursor()
    with pytest.raises(dbapi.ProgrammingError, match="no result set"):
        cur.fetchone()
    cur.execute("SELECT count(*) FROM users")
    assert cur.fetchone() == (0,) and cur.fetchone() is None


def test_missing_parameter_is_a_programming_error(conn: dbapi.Connection) -> None:
    cur = conn.cursor()
    with pytest.raises(dbapi.ProgrammingError, match="'age'"):
        cur.execute(INSERT_USER, {"name": "x"})
    with pytest.raises(dbapi.ProgrammingError, match="'n'"):
        cur.execute("SELECT users.id FROM users WHERE users.name = :n", {})


def test_operation_must_be_text(conn: dbapi.Connection) -> None:
    with pytest.raises(dbapi.ProgrammingError):
        conn.cursor().execute(b"SELECT 1")  # type: ignore[arg-type]


def test_unknown_collection_and_column(conn: dbapi.Connection) -> None:
    cur = conn.cursor()
    with pytest.raises(dbapi.OperationalError, match="no such collection: nowhere"):
        cur.execute("SELECT nowhere.x FROM nowhere")
    with pytest.raises(dbapi.ProgrammingError, match="no column named nope"):
        cur.execute("INSERT INTO users (name, nope) VALUES (:a, :b)", {"a": "x", "b": 1})
    with pytest.raises(dbapi.ProgrammingError, match="no column named nope"):
        cur.execute("UPDATE users SET nope = :b", {"b": 1})
    with pytest.raises(dbapi.ProgrammingError, match="no such column: nope"):
        cur.execute("SELECT users.id FROM users WHERE nope = 1")


def test_unsupported_sql_function_names_itself(conn: dbapi.Connection) -> None:
    with pytest.raises(dbapi.NotSupportedError, match="levenshtein"):
        conn.cursor().execute("SELECT levenshtein(users.name, 'x') FROM users")


def test_unstorable_value_is_a_data_error(conn: dbapi.Connection) -> None:
    with pytest.raises(dbapi.DataError):
        conn.cursor().execute(INSERT_USER, {"name": object(), "age": 1})
    assert len(conn.pending) == 0


def test_setinputsizes_and_setoutputsize_are_accepted(conn: dbapi.Connection) -> None:
    cur = conn.cursor()
    cur.setinputsizes([None])
    cur.setoutputsize(10)
    cur.setoutputsize(10, 0)


@pytest.mark.parametrize("sql", ["SELECT users.id FROM users ORDER BY users.id",
                                 "SELECT users.id FROM users WHERE users.id = 1"])
def test_the_list_fetchall_hands_out_is_the_callers(conn: dbapi.Connection, sql: str) -> None:
    # (it was the cursor's buffer: what the caller added came back from the next fetch)
    _seed(conn, 3)
    cur = conn.cursor()
    cur.execute(sql)
    rows = cur.fetchall()
    rows.append(("added",))
    assert cur.fetchall() == [] and cur.fetchone() is None
