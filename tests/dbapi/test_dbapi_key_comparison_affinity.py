"""A key compared with a value of another kind, by raw SQL, finds what SQLite finds: SQLite
converts the value by the key column's affinity (``id = '2'`` with an INTEGER key is
``id = 2``; ``code = 2`` with a TEXT key is ``code = '2'``). A load by key, and an
executemany UPDATE or DELETE by key, all compare so (a write that matched nothing where
SQLite writes the row was a lost write). Both backends, against sqlite3."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table

metadata = MetaData()
Table("t", metadata, Column("id", Integer, primary_key=True, autoincrement=False),
      Column("v", String(10)))
Table("s", metadata, Column("code", String(10), primary_key=True), Column("v", String(10)))

INT_KEYS: list[Any] = ["2", " 2", "2.0", 2.0, "0x2", "2a", "+2", "2e0", " 2.0 ", "2.5", True,
                       "9223372036854775808", 2]
TEXT_KEYS: list[Any] = [2, 2.0, "2", True, 1, 2.5]
Execute = Callable[..., Any]


def _sqlite() -> sqlite3.Connection:
    lite = sqlite3.connect(":memory:")
    lite.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v VARCHAR(10))")
    lite.execute("CREATE TABLE s (code VARCHAR(10) PRIMARY KEY, v VARCHAR(10))")
    return lite


def _by_key(ex: Execute, table: str, key: str, stored: list[Any], value: Any) -> list[Any]:
    """A load, an executemany UPDATE and DELETE by key with ``value``, and what is left."""
    ex(f"DELETE FROM {table}")
    ex(f"INSERT INTO {table} ({key}, v) VALUES (?, 'x')", [(k,) for k in stored], many=True)
    return [
        ex(f"SELECT {key}, v FROM {table} WHERE {key} = ?", (value,)),
        ex(f"SELECT {key}, v FROM {table} WHERE {key} IN (?)", (value,)),
        ex(f"UPDATE {table} SET v = 'u' WHERE {key} = ?", [(value,)], many=True),
        ex(f"SELECT {key}, v FROM {table} ORDER BY {key}"),
        # a value computed from the row: matched by the store's query, not a load by id
        ex(f"UPDATE {table} SET v = v || 'c' WHERE {key} = ?", (value,)),
        ex(f"UPDATE {table} SET v = v || 'd' WHERE {key} = ?", [(value,)], many=True),
        ex(f"SELECT {key}, v FROM {table} ORDER BY {key}"),
        ex(f"UPDATE {table} SET v = ? WHERE {key} = ?", [("a", value), ("b", value)],
           many=True),
        ex(f"SELECT {key}, v FROM {table} ORDER BY {key}"),
        ex(f"UPDATE {table} SET v = v || 'e' WHERE {key} IN (?, 'none') OR v = 'none'",
           (value,)),
        ex(f"SELECT {key}, v FROM {table} ORDER BY {key}"),
        ex(f"DELETE FROM {table} WHERE {key} = ?", [(value,)], many=True),
        ex(f"SELECT {key}, v FROM {table} ORDER BY {key}"),
        ex(f"DELETE FROM {table} WHERE {key} IN (?, ?)", (value, 3)),
        ex(f"SELECT {key}, v FROM {table} ORDER BY {key}"),
    ]


@pytest.fixture
def both(engine: Engine,
         statement_runner: Callable[[Any], Execute]) -> tuple[Execute, Execute]:
    metadata.create_all(engine)
    raw = engine.raw_connection()
    return statement_runner(raw.cursor()), statement_runner(_sqlite().cursor())


@pytest.mark.parametrize("value", INT_KEYS, ids=repr)
def test_integer_key_compared_with_another_kind_as_sqlite(
        both: tuple[Execute, Execute], value: Any) -> None:
    ours, sqlite = both
    assert _by_key(ours, "t", "id", [1, 2, 3], value) == _by_key(
        sqlite, "t", "id", [1, 2, 3], value)


@pytest.mark.parametrize("value", TEXT_KEYS, ids=repr)
def test_text_key_compared_with_another_kind_as_sqlite(
        both: tuple[Execute, Execute], value: Any) -> None:
    ours, sqlite = both
    stored = ["1", "2", "2.0", "2.5", "x"]
    assert _by_key(ours, "s", "code", stored, value) == _by_key(
        sqlite, "s", "code", stored, value)


def test_keys_of_one_row_in_one_executemany_write_it_in_turn(
        both: tuple[Execute, Execute]) -> None:
    """'2', 2 and 2.0 name one row: the sets write it in turn, as in SQLite."""
    results = []
    for ex in both:
        ex("DELETE FROM t")
        ex("INSERT INTO t (id, v) VALUES (1, 'x'), (2, 'x')")
        results.append([ex("UPDATE t SET v = ? WHERE id = ?",
                           [("a", "2"), ("b", 2), ("c", 2.0)], many=True),
                        ex("SELECT id, v FROM t ORDER BY id")])
    assert results[0] == results[1]


def test_a_key_given_as_text_to_an_insert_is_found_by_its_number(
        both: tuple[Execute, Execute]) -> None:
    """INSERT of the key '5' (SQLite stores 5; the DB-API keeps '5', in the document t/5):
    loads, writes and deletes by 5 or '5' find it, as in SQLite."""
    results = []
    for ex in both:
        ex("DELETE FROM t")
        ex("INSERT INTO t (id, v) VALUES (?, 'x')", ("5",))
        results.append([
            ex("SELECT v FROM t WHERE id = ?", (5,)),
            ex("SELECT v FROM t WHERE id = ?", ("5",)),
            ex("SELECT v FROM t WHERE id IN (?, 6)", (5,)),
            ex("UPDATE t SET v = ? WHERE id = ?", [("a", 5)], many=True),
            ex("UPDATE t SET v = ? WHERE id = ?", [("b", "5"), ("c", 5.0)], many=True),
            ex("SELECT v FROM t"),
            ex("DELETE FROM t WHERE id = ?", [(5,)], many=True),
            ex("SELECT v FROM t"),
        ])
    assert results[0] == results[1]


def test_a_key_given_as_another_kind_is_stored_as_sqlite_stores_it(
        both: tuple[Execute, Execute]) -> None:
    """INSERT and UPDATE of an INTEGER key given as '5', ' 7 ', 6.0 store the number (the
    DB-API kept '5', in the document t/5, and ' 7 ' in a document 't/ 7 ', which no load or
    write by 7 found)."""
    results = []
    for ex in both:
        ex("DELETE FROM t")
        ex("INSERT INTO t (id, v) VALUES (?, 'x')", ("5",))
        ex("INSERT INTO t (id, v) VALUES (?, ?)", [(6.0, "z"), (" 7 ", "w")], many=True)
        results.append([
            ex("SELECT id, typeof(id), v FROM t ORDER BY id"),
            ex("UPDATE t SET v = 'u' WHERE id = ?", [(7,)], many=True),
            ex("UPDATE t SET id = ? WHERE id = 7", ("8",)),
            ex("SELECT id, typeof(id), v FROM t ORDER BY id"),
            ex("SELECT v FROM t WHERE id = 8"),
        ])
    assert results[0] == results[1]


def test_a_text_key_given_as_a_number_is_stored_as_its_text(
        both: tuple[Execute, Execute]) -> None:
    """INSERT of a TEXT key given as 5, 2.0, True or -0.0 stores '5', '2.0', '1', '0.0', as
    SQLite does: the DB-API kept the number, which no load by '5' found (nor an UPDATE or
    DELETE by it: a lost write), one row or many."""
    results = []
    for ex in both:
        ex("DELETE FROM s")
        ex("INSERT INTO s (code, v) VALUES (?, 'x')", (5,))
        ex("INSERT INTO s (code, v) VALUES (?, ?)", [(2.0, "z"), (True, "w"), (-0.0, "y"),
                                                     ("t", "t")], many=True)
        results.append([
            ex("SELECT code, typeof(code), v FROM s ORDER BY code"),
            ex("SELECT v FROM s WHERE code = ?", ("5",)),
            ex("SELECT v FROM s WHERE code IN (?, ?) ORDER BY v", ("2.0", "1")),
            ex("UPDATE s SET v = 'u' WHERE code = ?", [("0.0",)], many=True),
            ex("DELETE FROM s WHERE code = ?", [("5",)], many=True),
            ex("SELECT code, typeof(code), v FROM s ORDER BY code"),
        ])
    assert results[0] == results[1]
    assert ("5", "text", "x") in results[1][0]


@pytest.mark.parametrize("value", ["abc", 2.5, "2.5", " x ", "9223372036854775808"], ids=repr)
def test_an_integer_primary_key_given_no_integer_is_a_datatype_mismatch(
        both: tuple[Execute, Execute], value: Any) -> None:
    """SQLite's INTEGER PRIMARY KEY is the rowid: a value its affinity leaves no integer is
    refused ("datatype mismatch", IntegrityError), one row or in an executemany; the DB-API
    stored it in a document t/abc. Nothing of the statement is written."""
    results = []
    for ex in both:
        ex("DELETE FROM t")
        outcome = []
        for sql, params, many in [
                ("INSERT INTO t (id, v) VALUES (?, 'x')", (value,), False),
                ("INSERT INTO t (id, v) VALUES (?, ?)", [(value, "y")], True)]:
            try:
                ex(sql, params, many=many)
            except Exception as exc:  # noqa: BLE001 - sqlite3's class or ours, compared by name
                outcome.append((type(exc).__name__, "datatype mismatch" in str(exc)))
        outcome.append(ex("SELECT id, v FROM t"))
        results.append(outcome)
    assert results[0] == results[1] == [("IntegrityError", True), ("IntegrityError", True), []]


@pytest.mark.parametrize("keys", [[1, 2, 3], [1, "2", 3], [2.0, 1, "3"]],
                         ids=["integers", "a text", "mixed"])
def test_an_executemany_converts_the_sets_values_as_sqlite(
        both: tuple[Execute, Execute], keys: list[Any]) -> None:
    """The sets of an executemany compared with a column are converted by its affinity
    where a value needs it; sets whose values all compare as given (integers with an
    INTEGER key) are taken as given, told over all of them at once: as SQLite either way."""
    results = []
    for ex in both:
        ex("DELETE FROM t")
        ex("INSERT INTO t (id, v) VALUES (?, ?)", [(k, str(k)) for k in range(1, 5)],
           many=True)
        results.append([
            ex("UPDATE t SET v = 'w' || v WHERE v = ?", [(k,) for k in keys], many=True),
            ex("SELECT id, v FROM t ORDER BY id"),
            ex("UPDATE t SET v = ? WHERE id = ?", [(f"u{n}", k) for n, k in enumerate(keys)],
               many=True),
            ex("SELECT id, v FROM t ORDER BY id"),
            [ex("SELECT id, v FROM t WHERE id = ?", (k,)) for k in keys],
            ex("DELETE FROM t WHERE id = ?", [(k,) for k in keys[1:]], many=True),
            ex("SELECT id, v FROM t ORDER BY id"),
        ])
    assert results[0] == results[1]
