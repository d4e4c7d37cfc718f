"""The per-row fast paths give what the general ones gave: fields a document lacks read as
NULL, a document read is what a write by key then starts from, constraint errors name the
first failing field."""

from __future__ import annotations

import decimal
import json
import sqlite3
from typing import Any

import pytest

from sqla_docstore import dbapi, values
from sqla_docstore.backends.embedded.connection import EmbeddedConnection
from sqla_docstore.backends.embedded.store import collection_table
from sqla_docstore.commands import Batch, Put
from sqla_docstore.errors import DataError, IntegrityError


def _rows(conn: dbapi.Connection, sql: str, params: dict[str, Any] | None = None) -> list[Any]:
    cur = conn.cursor()
    cur.execute(sql, params or {})
    return cur.fetchall()


@pytest.fixture
def odd(conn: dbapi.Connection) -> dbapi.Connection:
    """users documents written by another client: some lack fields, some hold other types."""
    conn.backend.submit(Batch([
        Put("users", "users/1", {"id": 1, "name": "full", "age": 3, "team": 7}, ""),
        Put("users", "users/2", {"id": 2, "name": "no age or team"}, ""),
        Put("users", "users/3", {"id": 3, "name": None, "age": 2**70, "team": 1.5}, ""),
        Put("users", "users/4", {"id": 4, "name": {"nested": [1]}, "age": True,
                                 "team": decimal.Decimal("1.10000000000000000001")}, ""),
    ]))
    return conn


def test_fields_a_document_lacks_read_as_null(odd: dbapi.Connection) -> None:
    assert _rows(odd, "SELECT id, name, age, team FROM users ORDER BY id") == [
        (1, "full", 3, 7), (2, "no age or team", None, None), (3, None, 2**70, 1.5),
        (4, {"nested": [1]}, True, decimal.Decimal("1.10000000000000000001"))]
    assert _rows(odd, "SELECT age FROM users ORDER BY id") == [(3,), (None,), (2**70,), (True,)]
    assert _rows(odd, "SELECT team, team AS again FROM users WHERE id = 2 OR id = 1 "
                      "ORDER BY id") == [(7, 7), (None, None)]


@pytest.mark.parametrize("note_reads", [True, False])
def test_a_write_by_key_starts_from_the_document_the_query_read(
        odd: dbapi.Connection, note_reads: bool) -> None:
    """On a connection noting its reads; one that does not loads the document (one request)
    and gives the same."""
    odd.note_reads = note_reads
    _rows(odd, "SELECT id, name FROM users ORDER BY id")
    loads = odd.request_counts.get("load", 0)
    cur = odd.cursor()
    cur.execute("UPDATE users SET name = :n WHERE id = :id", {"n": "renamed", "id": 4})
    assert cur.rowcount == 1
    # read already: not loaded again
    assert odd.request_counts.get("load", 0) == loads + (not note_reads)
    assert _rows(odd, "SELECT name, age, team FROM users WHERE id = 4") == [
        ("renamed", True, decimal.Decimal("1.10000000000000000001"))]
    assert "users/4" in odd.change_vectors
    odd.commit()
    assert _rows(odd, "SELECT name, age FROM users WHERE id = 4") == [("renamed", True)]


def test_the_first_failing_field_names_the_error(conn: dbapi.Connection) -> None:
    cur = conn.cursor()
    # fields in declared order (id, name, age, team): a wide float in age is the error...
    with pytest.raises(DataError, match="users.age"):
        cur.execute("INSERT INTO users (name, age) VALUES (:n, :a)", {"n": "x", "a": 1e300})
    # ... unless name, declared before it, is NULL
    with pytest.raises(IntegrityError, match="NOT NULL constraint failed: users.name"):
        cur.execute("INSERT INTO users (age) VALUES (:a)", {"a": 1e300})
    with pytest.raises(IntegrityError, match="NOT NULL constraint failed: users.name"):
        cur.execute("INSERT INTO users (age) VALUES (:a)", {"a": 1})
    with pytest.raises(IntegrityError, match="CHECK constraint failed: age_positive"):
        cur.execute("INSERT INTO users (name, age) VALUES (:n, :a)", {"n": "x", "a": -1})
    cur.executemany("INSERT INTO users (name, age) VALUES (:n, :a)",
                    [{"n": "a", "a": 1}, {"n": "b", "a": 2**53 - 1}])
    assert _rows(conn, "SELECT name, age FROM users ORDER BY name") == [
        ("a", 1), ("b", 2**53 - 1)]


def test_rows_shaped_a_chunk_at_a_time_are_those_of_one_document_at_a_time(
        conn: dbapi.Connection) -> None:
    """Results longer than a shaping chunk, documents lacking fields or holding other kinds
    anywhere in them (so some chunks are shaped by the general path), NULL documents of an
    outer join: the rows are those of parsing and picking one document at a time."""
    from sqla_docstore.backends.embedded import connection as embedded

    chunk = embedded._SHAPE_CHUNK
    count = 2 * chunk + 7
    odd = {chunk - 1: {"name": "no age"}, chunk: {"name": None, "age": 2**70},
           chunk + 1: {"name": {"nested": [1]}, "age": decimal.Decimal("1.10000000000000000001")},
           2 * chunk + 3: {"age": 1.5}}
    docs = {i: {"id": i, **odd.get(i, {"name": f"n{i}", "age": i})} for i in range(count)}
    conn.backend.submit(Batch([Put("users", f"users/{i}", d, "") for i, d in docs.items()]))
    conn.backend.submit(Batch([Put("teams", f"teams/{i}", {"id": i, "title": f"t{i}"}, "")
                               for i in range(0, count, 2)]))
    want = [(i, d.get("name"), d.get("age")) for i, d in sorted(docs.items())]
    assert _rows(conn, "SELECT id, name, age FROM users ORDER BY id") == want
    assert not any(f"users/{i}" in conn.change_vectors for i in range(count))  # bodies only
    conn.note_reads = True
    assert _rows(conn, "SELECT id, name, age FROM users ORDER BY id") == want
    # every document read is remembered with its version, whichever chunk it was in
    assert all(f"users/{i}" in conn.change_vectors for i in range(count))
    assert _rows(conn, "SELECT age FROM users ORDER BY id") == [(r[2],) for r in want]
    joined = _rows(conn, "SELECT users.id, teams.title FROM users LEFT OUTER JOIN teams "
                         "ON teams.id = users.id ORDER BY users.id")
    assert joined == [(i, f"t{i}" if i % 2 == 0 else None) for i in range(count)]
    stream = conn.cursor(stream=True)
    stream.arraysize = chunk + 1  # (a streamed chunk is at least 1000 rows: many of ours)
    stream.execute("SELECT id, name, age FROM users ORDER BY id")
    assert stream.fetchall() == want


def _update_outcome(conn: dbapi.Connection, sql: str,
                    param_sets: list[dict[str, Any]]) -> tuple[Any, ...]:
    """What an executemany UPDATE leaves: its rowcount or error, the commands it queued, the
    rows then read, and the stored rows after commit; rolled back for the next run."""
    _rows(conn, "SELECT id, name FROM users ORDER BY id")  # documents the write starts from
    cur = conn.cursor()
    try:
        cur.executemany(sql, param_sets)
        outcome: Any = cur.rowcount
    except dbapi.Error as exc:
        outcome = (type(exc), str(exc))
    commands = [(c.id, c.set, c.expected, c.seen) for c in conn.pending.commands]
    read = _rows(conn, "SELECT id, name, age, team FROM users ORDER BY id")
    conn.rollback()
    return outcome, commands, read


@pytest.mark.parametrize("sets", [
    [{"n": "renamed", "a": 5, "id": 1}, {"n": "é\u2028", "a": 2**70, "id": 2},
     {"n": "x", "a": decimal.Decimal("1.10000000000000000001"), "id": 4}],
    [{"n": "one", "a": 1, "id": 1.0}, {"n": "two", "a": None, "id": decimal.Decimal("2")},
     {"n": "missing", "a": 1, "id": 404}, {"n": "none", "a": 1, "id": None}],
    [{"n": "ok", "a": 1, "id": 1}, {"n": None, "a": 1, "id": 2}],  # NOT NULL
    [{"n": "ok", "a": 1, "id": 1}, {"n": "nul\x00", "a": 1, "id": 2}],  # NUL refused
    [{"n": "ok", "a": -1, "id": 3}],  # CHECK
    [{"n": "wide", "a": 1e300, "id": 3}],  # an exact field given a float beyond exactness
    [{"n": "guarded", "a": 3, "id": 1}, {"n": "again", "a": 3, "id": 1}],  # age = 3 matches
])
@pytest.mark.parametrize("where", ["id = :id", "id = :id AND age = :a", "id = :id AND 1 = 1"])
def test_a_plain_update_by_key_matches_the_general_path(
    odd: dbapi.Connection, sets: list[dict[str, Any]], where: str
) -> None:
    """The plain executemany UPDATE (constant values by key) gives the rowcount, errors,
    queued PATCHes (with their version checks) and rows of the general path, which RETURNING
    takes."""
    sql = f"UPDATE users SET name = :n, age = :a WHERE {where}"
    fast = _update_outcome(odd, sql, sets)
    general = _update_outcome(odd, sql + " RETURNING id", sets)
    assert fast == general
    if where == "id = :id AND age = :a" and sets[0]["n"] == "guarded":
        assert fast[0] == 2 and fast[1][0][2] is not None  # a version check: guarded


@pytest.mark.parametrize("sql", [
    "INSERT INTO users (name, age, team) VALUES (:n, :a, :t)",
    "INSERT INTO users (name, age, team) VALUES (:n, 7, :t)",  # a literal
    "INSERT INTO users (name) VALUES (:n)",  # defaults for the others
])
def test_insert_bodies_in_bulk_are_those_built_one_by_one(conn: dbapi.Connection,
                                                          sql: str) -> None:
    """The bulk body builder of an INSERT (one call per statement) gives each row the body
    the per-row builder gives: values the store converts, literals, defaults, and the error
    of a missing parameter."""
    import datetime

    from sqla_docstore.dbapi.executor import insert_plan
    from sqla_docstore.statements.prepared import prepare

    plan = insert_plan(conn.backend, prepare(sql).stmt)
    param_sets = [
        {"n": "plain", "a": 1, "t": None},
        {"n": "é\u2028", "a": 2**70, "t": decimal.Decimal("1.10000000000000000001")},
        {"n": datetime.date(2024, 2, 29), "a": 1.5, "t": b"\x00bytes"},
        {"n": {"nested": [1, None]}, "a": True, "t": datetime.datetime(2024, 1, 1, 5)},
    ]
    assert plan.bodies(conn.backend, param_sets) == [
        plan.body(conn.backend, p) for p in param_sets]
    with pytest.raises(dbapi.ProgrammingError, match="no value given for parameter 'n'"):
        plan.bodies(conn.backend, [{"n": "x", "a": 1, "t": 1}, {"a": 1, "t": 1}])


GENERAL_QUERIES = [
    "SELECT id, upper(name), name, age FROM users ORDER BY id",  # SQL values beside fields
    "SELECT users.id, teams.title, users.name, users.team FROM users LEFT OUTER JOIN teams "
    "ON teams.id = users.team ORDER BY users.id",  # NULL documents of the missing side
    "SELECT teams.title, users.name FROM users JOIN teams ON teams.id = users.id "
    "ORDER BY users.id",
    "SELECT id, name -> 'nested' AS n, name FROM users ORDER BY id",  # JSON elements
    "SELECT * FROM loose ORDER BY id",  # whole documents
    "SELECT loose.id, users.name, loose.x FROM loose LEFT OUTER JOIN users "
    "ON users.id = loose.id ORDER BY loose.id",
]


def _read_state(conn: dbapi.Connection, sql: str) -> tuple[Any, ...]:
    """A query's rows (or error), and what the transaction then holds as read: id ->
    (parsed body, change vector)."""
    from sqla_docstore import values

    cur = conn.cursor()
    try:
        cur.execute(sql)
        outcome: Any = (cur.description, cur.fetchall())
    except dbapi.Error as exc:
        outcome = (type(exc), str(exc))
    seen = {doc_id: (values.loads(body) if isinstance(body, str) else body, cv)
            for doc_id, (body, cv) in conn.pending.seen.items()}
    return outcome, seen


@pytest.fixture
def general(conn: dbapi.Connection, create_collection: Any) -> dbapi.Connection:
    """More than a shaping chunk of users (some lacking fields or holding other kinds),
    teams for a few, an undeclared collection, and pending writes to users and teams."""
    from sqla_docstore.backends.embedded import connection as embedded

    create_collection(conn, "loose", {})
    count = embedded._SHAPE_CHUNK + 9
    odd: dict[int, dict[str, Any]] = {
        3: {"name": "no age"}, 4: {"name": None, "age": 2**70},
        5: {"name": {"nested": [1]}, "age": decimal.Decimal("1.10000000000000000001")},
        count - 1: {"team": 1}}
    users = [Put("users", f"users/{i}", {"id": i, **odd.get(i, {"name": f"n{i}", "age": i,
                                                              "team": i % 4})}, "")
             for i in range(count)]
    teams = [Put("teams", f"teams/{i}", {"id": i, "title": f"t{i}"}, "") for i in range(3)]
    loose = [Put("loose", f"loose/{i}", {"id": i, "x": [i]} if i % 3 else {"id": i}, "")
             for i in range(0, count, 7)]
    conn.backend.submit(Batch(users + teams + loose))
    cur = conn.cursor()
    cur.execute("UPDATE users SET name = :n WHERE id = :id", {"n": "pending", "id": 2})
    cur.execute("INSERT INTO teams (id, title) VALUES (:id, :t)", {"id": 3, "t": "new"})
    cur.execute("DELETE FROM users WHERE id = :id", {"id": 6})
    return conn


@pytest.mark.parametrize("savepoint", [False, True])
@pytest.mark.parametrize("sql", GENERAL_QUERIES)
def test_rows_shaped_a_column_at_a_time_are_those_of_a_row_at_a_time(
        general: dbapi.Connection, sql: str, savepoint: bool,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The general shaping (several documents or kinds of column per row) gives the rows, the
    documents read (with their versions; pending ones without) and the errors of shaping one
    row at a time, with pending writes overlaid, in a savepoint too."""
    from sqla_docstore.backends.embedded import connection as embedded

    if savepoint:
        general.savepoint("sp")
        general.cursor().execute("UPDATE users SET age = :a WHERE id = :id", {"a": 9, "id": 7})
    general.pending.seen = {}  # (what the writes above read)

    def unused(*args: Any) -> Any:
        raise AssertionError("not the path under test")

    monkeypatch.setattr(embedded, "_rows_each", unused)
    monkeypatch.setattr(embedded, "_COLUMNS_FROM", 1)  # (a few rows too)
    fast = _read_state(general, sql)
    assert isinstance(fast[0][1], list) and fast[0][1]  # rows, shaped a column at a time
    monkeypatch.undo()
    general.pending.seen = {}
    monkeypatch.setattr(embedded, "_column", unused)  # a row at a time
    assert _read_state(general, sql) == fast


def test_a_document_that_is_no_object_fails_as_a_row_at_a_time(
        general: dbapi.Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqla_docstore.backends.embedded import connection as embedded

    general.backend.submit(Batch([Put("users", "users/5000", [1, 2], "")]))  # type: ignore[arg-type]
    sql = "SELECT id, upper(name), name FROM users ORDER BY id"
    fast = _read_state(general, sql)
    assert fast[0][0] is dbapi.InternalError
    monkeypatch.setattr(embedded, "_column", lambda *a: 1 / 0)
    assert _read_state(general, sql) == fast


_PLAIN_SPEC = {"fields": [{"name": "id", "type": "INTEGER", "nullable": False},
                          {"name": "name", "type": "VARCHAR", "nullable": True},
                          {"name": "age", "type": "INTEGER", "nullable": True},
                          {"name": "j", "type": "JSON", "nullable": True}],
               "primary_key": ["id"]}


@pytest.mark.parametrize("odd", ["", "a { in a string", "an object inside", "a field missing"])
def test_fields_picked_as_the_documents_are_parsed_are_sqlites_rows(
    connect: Any, create_collection: Any, monkeypatch: pytest.MonkeyPatch, odd: str,
    json_parser: str,
) -> None:
    """Rows of two or more fields of one document each are picked as the documents are
    parsed (``values.picked_all``) when they hold plain values; one lacking a field leaves
    its chunk to the general path, and so does (by ``json``) one holding an object or a "{"
    in a string (orjson picks the fields around them). Both give SQLite's rows, and note
    each document read with its change vector."""
    conn = connect()
    create_collection(conn, "t", _PLAIN_SPEC)
    oracle = sqlite3.connect(":memory:")
    oracle.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name VARCHAR, age INTEGER, j)")
    rows: list[tuple[Any, ...]] = [(i, f"n{i}", i * 3, None) for i in range(1, 30)]
    if odd == "a { in a string":
        rows[7] = (8, "brace { here", 24, None)
    elif odd == "an object inside":
        rows[7] = (8, "n8", 24, '{"a":{"b":1}}')
    cur = conn.cursor()
    cur.executemany("INSERT INTO t (id, name, age, j) VALUES (?, ?, ?, ?)",
                    [r if r[3] is None else (*r[:3], json.loads(r[3])) for r in rows])
    oracle.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", rows)
    conn.commit()
    if odd == "a field missing":  # (another client's document: no age)
        conn.backend.submit(Batch([Put("t", "t/8", {"id": 8, "name": "n8", "j": None}, None)]))
        oracle.execute("UPDATE t SET age = NULL WHERE id = 8")
    picked: list[Any] = []
    real = values.picked_all

    def spy(texts: list[str], names: tuple[str, ...]) -> Any:
        picked.append(real(texts, names))
        return picked[-1]

    monkeypatch.setattr(values, "picked_all", spy)
    conn.note_reads = True
    for sql in ("SELECT id, name, age FROM t ORDER BY id", "SELECT age, id FROM t WHERE id > 3",
                "SELECT name, name AS again, id FROM t ORDER BY name DESC"):
        picked.clear()
        cur.execute(sql)
        assert cur.fetchall() == oracle.execute(sql).fetchall()
        general = bool(odd) and not (odd == "a field missing" and "age" not in sql) and not (
            json_parser == "orjson" and odd != "a field missing")
        assert [p is None for p in picked] == [general]  # (the path taken)
    backend = conn.backend
    assert isinstance(backend, EmbeddedConnection)
    stored = [(doc_id, backend.store.change_vector(cv)) for doc_id, cv in backend._conn.execute(
        f"SELECT id, cv FROM {collection_table('t')}")]
    assert len(stored) == len(rows)
    assert {doc_id: conn.change_vectors[doc_id] for doc_id, _ in stored} == dict(stored)
