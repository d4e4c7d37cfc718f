"""Unique values are checked at each write statement, as SQLite checks them: an INSERT, UPDATE
or upsert DO UPDATE taking a value another row holds (stored, pending, or in the same
statement) fails with SQLite's IntegrityError there, applies none of its rows, and the
transaction goes on. Each script runs on the DB-API (docstore:// and ravendb://) and on
sqlite3, and their outcomes are compared step by step."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from sqlalchemy import Engine

from sqla_docstore import dbapi
from sqla_docstore.dbapi import connection as dbapi_connection
from sqla_docstore.dbapi import unique_check

DDL = ("CREATE TABLE t (id INTEGER PRIMARY KEY, email VARCHAR(20) UNIQUE, k INTEGER UNIQUE, "
       "a VARCHAR(5), b INTEGER, n INTEGER, r REAL UNIQUE, UNIQUE (a, b))")
INS = "INSERT INTO t (id, email) VALUES (?, ?)"
INS_K = "INSERT INTO t (id, k) VALUES (?, ?)"
INS_AB = "INSERT INTO t (id, a, b) VALUES (?, ?, ?)"
INS_R = "INSERT INTO t (id, r) VALUES (?, ?)"
ROWS = "SELECT id, email, k, a, b, n, r FROM t ORDER BY id"


def _outcome(exc: Exception) -> tuple[str, str]:
    """The PEP 249 class and SQLite's message (ours adds the documents in parentheses)."""
    kind = next(k.__name__ for k in type(exc).__mro__
                if k.__name__ in ("IntegrityError", "OperationalError", "ProgrammingError"))
    return kind, str(exc).split(" (")[0]


def _script(steps: list[Any]) -> Any:
    """A ``raw_and_sqlite`` script: each step's outcome ("ok" or the error), the rows after
    each failure (nothing of the statement applied), and the rows after the final commit.
    An executemany runs in a savepoint, rolled back if it fails: sqlite3 applies the sets
    before the failing one, the DB-API none (README: a failing statement applies none of its
    rows; ``test_a_failed_statement_left_no_write_in_the_batch``)."""

    def run(conn: Any) -> list[Any]:
        cur = conn.cursor()
        seen: list[Any] = []
        for step in steps:
            if step == "commit":
                conn.commit()
                continue
            sql, params = step
            many = isinstance(params, list)
            if many:  # (sqlite3 keeps the sets before a failing one: taken back here)
                cur.execute("SAVEPOINT many")
            try:
                if many:
                    cur.executemany(sql, params)
                else:
                    cur.execute(sql, params)
                seen.append("ok")
            except Exception as exc:  # noqa: BLE001 - the error is the outcome compared
                seen.append(_outcome(exc))
                if many:
                    cur.execute("ROLLBACK TO many")
                cur.execute(ROWS)
                seen.append([tuple(r) for r in cur.fetchall()])
            if many:
                cur.execute("RELEASE many")
        conn.commit()
        cur.execute(ROWS)
        seen.append([tuple(r) for r in cur.fetchall()])
        return seen

    return run


SCRIPTS: dict[str, list[Any]] = {
    "get or create in a savepoint, the transaction goes on": [
        (INS, (1, "x")), "commit",
        (INS, (2, "y")),
        ("SAVEPOINT s", ()), (INS, (3, "x")), ("ROLLBACK TO s", ()), ("RELEASE s", ()),
        ("SAVEPOINT s", ()), (INS, (3, "z")), ("RELEASE s", ()),
    ],
    "a value taken by a pending row": [
        (INS, (1, "x")), (INS, (2, "x")), (INS, (2, "y")),
    ],
    "executemany with one bad row applies none": [
        (INS, (1, "x")), "commit",
        (INS, [(4, "p"), (5, "x"), (6, "q")]),
        (INS, [(4, "p"), (6, "q")]),
    ],
    "repeated within one statement": [
        ("INSERT INTO t (id, email) VALUES (1, 'd'), (2, 'e'), (3, 'd')", ()),
        (INS, [(4, "f"), (5, "f")]),
        (INS, [(6, "g"), (7, "h")]),
    ],
    "a value freed by a pending delete or update is taken again": [
        (INS, (1, "x")), (INS, (2, "y")), "commit",
        ("DELETE FROM t WHERE id = 1", ()), (INS, (3, "x")),
        ("UPDATE t SET email = 'w' WHERE id = 2", ()), (INS, (4, "y")),
        (INS, (5, "w")),
    ],
    "NULLs never conflict": [
        (INS, (1, None)), (INS, (2, None)),
        ("INSERT INTO t (id, email) VALUES (3, NULL), (4, NULL)", ()),
        (INS_AB, (5, "k", None)), (INS_AB, (6, "k", None)),
    ],
    "composite constraints": [
        (INS_AB, (1, "k", 1)), (INS_AB, (2, "k", 2)), (INS_AB, (3, "j", 1)), "commit",
        (INS_AB, (4, "k", 1)),
        ("UPDATE t SET b = 1 WHERE id = 2", ()),
        ("UPDATE t SET a = 'x' WHERE id = 1", ()), ("UPDATE t SET b = 1 WHERE id = 2", ()),
    ],
    "values compared by affinity, texts by case": [
        (INS_K, (1, 5)), (INS, (2, "Ab")), "commit",
        (INS_K, (3, "5")), (INS_K, (3, 5.0)), (INS_K, (3, "05")),
        (INS, (4, "ab")), (INS, (5, "Ab ")), (INS, (6, "Ab")),
        (INS_R, (7, 1)), (INS_R, (8, 1.0)), (INS_R, (8, "1")), (INS_R, (8, 1.5)),
        ("UPDATE t SET r = 1.5 WHERE id = 7", ()),
    ],
    "UPDATE taking another row's value": [
        (INS, (1, "x")), (INS, (2, "y")), (INS_K, (3, 1)), "commit",
        ("UPDATE t SET email = 'x' WHERE id = 2", ()),
        ("UPDATE t SET email = 'y' WHERE id = 2", ()),
        ("UPDATE t SET email = 'q' WHERE id IN (1, 2)", ()),
        ("UPDATE t SET k = 1 WHERE id = 1", ()),
        ("UPDATE t SET email = 'x' || '' WHERE id = 1", ()),
        ("UPDATE t SET email = ? WHERE id = ?", [("z", 1), ("z", 2)]),
        ("UPDATE t SET email = ? WHERE id = ?", [("v", 1), ("u", 2)]),
    ],
    "upsert DO UPDATE taking another row's value": [
        (INS, (1, "x")), (INS, (2, "y")), "commit",
        ("INSERT INTO t (id, email) VALUES (1, 'q') ON CONFLICT (id) DO UPDATE "
         "SET email = 'y'", ()),
        ("INSERT INTO t (id, email) VALUES (1, 'y') ON CONFLICT (id) DO UPDATE "
         "SET email = excluded.email", ()),
        ("INSERT INTO t (id, email) VALUES (1, 'w') ON CONFLICT (id) DO UPDATE "
         "SET email = excluded.email", ()),
        ("INSERT INTO t (id, email) VALUES (?, ?) ON CONFLICT (id) DO UPDATE "
         "SET email = excluded.email", [(1, "s"), (2, "s")]),
        ("INSERT INTO t (id, email) VALUES (?, ?) ON CONFLICT (id) DO UPDATE "
         "SET email = excluded.email", [(1, "s"), (2, "x"), (3, "w")]),
        ("INSERT INTO t (id, email) VALUES (3, 'r') ON CONFLICT (id) DO UPDATE "
         "SET email = 's'", ()),
    ],
    "a plain insert after an upsert took the value in the same transaction": [
        (INS, (1, "x")),
        ("INSERT INTO t (id, email) VALUES (1, 'q') ON CONFLICT (id) DO UPDATE "
         "SET email = 'p'", ()),
        (INS, (2, "p")), (INS, (2, "x")),
    ],
}


@pytest.mark.parametrize("name", SCRIPTS)
def test_unique_values_fail_the_statement_as_in_sqlite(
    raw_and_sqlite: Any, name: str
) -> None:
    ours, expected = raw_and_sqlite(DDL, _script(SCRIPTS[name]))
    assert ours == expected


def test_a_failed_statement_left_no_write_in_the_batch(engine: Engine) -> None:
    raw: Any = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(DDL)
        raw.commit()
        cur.executemany(INS, [(1, "x"), (2, "y")])
        pending = len(raw.driver_connection.pending)
        with pytest.raises(dbapi.IntegrityError, match=r"UNIQUE constraint failed: t\.email"):
            cur.executemany(INS, [(3, "z"), (4, "x")])
        assert len(raw.driver_connection.pending) == pending
    finally:
        raw.close()


UPSERT = "INSERT INTO t (id, k)"
UPDATES_IN_TURN = [
    ("UPDATE t SET k = k + 1", ()),  # (k = 1 takes 2 while row 2 still holds it)
    ("UPDATE t SET k = k - 1", ()),
    ("UPDATE t SET k = ? WHERE id = ?", [(2, 1), (9, 2)]),  # (the same in executemany)
    ("UPDATE t SET k = ? WHERE id = ?", [(9, 2), (2, 1)]),
    ("UPDATE t SET k = ? WHERE id = ?", [(7, 1), (8, 1), (7, 2)]),
    ("UPDATE t SET k = ? WHERE id = ?", [(7, 1), (7, 2), (8, 1)]),  # (7 is row 1's then)
    # (row 1 takes 2, which row 2 holds, and gives it up again: SQLite refuses the first set;
    # found by the DML fuzzer, seed 1534)
    ("UPDATE t SET k = ? WHERE id = ?", [(2, 1), (9, 1)]),
    ("UPDATE t SET k = ? WHERE id = ?", [(2, 1), (1, 1)]),
    # (an upsert's DO UPDATE rows in turn, in the order of its VALUES: the embedded store took
    # the statement and its commit then failed on the unique index, the whole transaction)
    (f"{UPSERT} VALUES (1, 2), (2, 9) ON CONFLICT (id) DO UPDATE SET k = excluded.k", ()),
    (f"{UPSERT} VALUES (1, 2), (1, 9) ON CONFLICT (id) DO UPDATE SET k = excluded.k", ()),
    (f"{UPSERT} VALUES (7, 2), (8, 3) ON CONFLICT (k) DO UPDATE SET k = excluded.k + 1", ()),
    (f"{UPSERT} VALUES (3, 4), (2, 3), (1, 2) ON CONFLICT (id) DO UPDATE SET k = excluded.k",
     ()),
    # (a DO UPDATE row taking the value a row inserted before it by the same statement holds;
    # found by the DML fuzzer, seed 100044)
    (f"{UPSERT} VALUES (4, 7), (1, 7), (1, 8) ON CONFLICT (id) DO UPDATE SET k = excluded.k",
     ()),
]

#: the rows RavenDB commits for the steps SQLite refuses
FINAL_STATE = {0: [(1, 2), (2, 3), (3, 4)], 2: [(1, 2), (2, 9), (3, 3)],
               5: [(1, 8), (2, 7), (3, 3)], 6: [(1, 9), (2, 2), (3, 3)],
               7: [(1, 1), (2, 2), (3, 3)], 8: [(1, 2), (2, 9), (3, 3)],
               9: [(1, 9), (2, 2), (3, 3)], 10: [(1, 1), (2, 3), (3, 4)],
               12: [(1, 8), (2, 2), (3, 3), (4, 7)]}


@pytest.mark.parametrize("step", range(len(UPDATES_IN_TURN)))
def test_an_update_moving_values_among_its_rows(engine: Engine, step: int) -> None:
    # SQLite checks an UPDATE row by row, in the order it writes them. The embedded store's
    # commit writes them in turn as well, so its statements check them so (as SQLite, for
    # rows visited in key order and executemany's sets in order); RavenDB's commit reserves
    # the final values, so its statements check the final state: a shift passes there
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(DDL)
        cur.executemany(INS_K, [(1, 1), (2, 2), (3, 3)])
        raw.commit()
        sql, params = UPDATES_IN_TURN[step]
        oracle = sqlite3.connect(":memory:")
        oracle.execute(DDL)
        oracle.executemany(INS_K, [(1, 1), (2, 2), (3, 3)])
        try:
            (oracle.executemany if isinstance(params, list) else oracle.execute)(sql, params)
            expected = [tuple(r) for r in oracle.execute("SELECT id, k FROM t ORDER BY id")]
        except sqlite3.IntegrityError:
            expected = None
        finally:
            oracle.close()
        try:
            (cur.executemany if isinstance(params, list) else cur.execute)(sql, params)
        except dbapi.IntegrityError as exc:
            assert "UNIQUE constraint failed: t.k" in str(exc)
            assert engine.dialect.name != "ravendb" and expected is None
            return
        raw.commit()
        cur.execute("SELECT id, k FROM t ORDER BY id")
        got = [tuple(r) for r in cur.fetchall()]
        if engine.dialect.name == "ravendb" and expected is None:
            expected = FINAL_STATE[step]  # (SQLite refuses it; RavenDB's final state is unique)
        assert got == expected
    finally:
        raw.close()


@pytest.mark.parametrize("committed", [True, False], ids=["stored", "pending"])
def test_an_update_visits_rows_written_out_of_key_order_in_key_order(
    engine: Engine, committed: bool
) -> None:
    # row 4 written before row 1: SQLite still visits row 1 first (rowid order), whose k = 2
    # takes 4 while row 4 holds it; the embedded store visited them as written, row 4 first,
    # and took the UPDATE (found by the DML fuzzer, seed 29)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(DDL)
        raw.commit()
        cur.execute(INS_K, (4, 4))
        cur.execute(INS_K, (1, 2))
        if committed:
            raw.commit()
        if engine.dialect.name == "ravendb":  # (the final state is checked: it is unique)
            cur.execute("UPDATE t SET k = k + 2")
            expected = [(1, 4), (4, 6)]
        else:
            with pytest.raises(dbapi.IntegrityError, match=r"UNIQUE constraint failed: t\.k"):
                cur.execute("UPDATE t SET k = k + 2")
            expected = [(1, 2), (4, 4)]
        raw.commit()
        cur.execute("SELECT id, k FROM t ORDER BY id")
        assert [tuple(r) for r in cur.fetchall()] == expected
    finally:
        raw.close()


def test_an_update_of_a_table_without_an_integer_key_commits_what_it_took(
    engine: Engine,
) -> None:
    # README "Unique values at each statement": such a table's rows are visited in the
    # store's order, which lists row 'z', written by the transaction, after row 'b'; SQLite
    # keeps rowid order ('z' first: 'a' -> 'b' while 'b' is held) and refuses the UPDATE.
    # What the statement took, the commit writes
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("CREATE TABLE c (k VARCHAR(5) PRIMARY KEY, v VARCHAR(5) UNIQUE, w INTEGER)")
        cur.execute("INSERT INTO c (k, v) VALUES ('z', 'a'), ('b', 'b')")
        raw.commit()
        cur.execute("UPDATE c SET w = 5 WHERE k = 'z'")
        cur.execute("UPDATE c SET v = CASE v WHEN 'a' THEN 'b' WHEN 'b' THEN 'c' ELSE v END")
        raw.commit()
        cur.execute("SELECT k, v, w FROM c ORDER BY k")
        assert [tuple(r) for r in cur.fetchall()] == [("b", "c", None), ("z", "b", 5)]
    finally:
        raw.close()


def test_a_statement_taking_a_held_value_fails_whatever_the_backend(engine: Engine) -> None:
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(DDL)
        cur.executemany(INS_K, [(1, 1), (2, 2), (3, 3)])
        raw.commit()
        with pytest.raises(dbapi.IntegrityError, match=r"UNIQUE constraint failed: t\.k"):
            cur.execute("UPDATE t SET k = 7")
        with pytest.raises(dbapi.IntegrityError, match=r"UNIQUE constraint failed: t\.k"):
            cur.execute("UPDATE t SET k = 3 WHERE id = 1")
        raw.commit()
        cur.execute("SELECT id, k FROM t ORDER BY id")
        assert [tuple(r) for r in cur.fetchall()] == [(1, 1), (2, 2), (3, 3)]
    finally:
        raw.close()


def test_unique_checks_commit_leaves_a_taken_value_to_the_commit(engine: Engine) -> None:
    raw: Any = engine.raw_connection()
    try:
        conn = raw.driver_connection
        conn.unique_checks = dbapi_connection.COMMIT
        cur = raw.cursor()
        cur.execute(DDL)
        cur.execute(INS, (1, "x"))
        raw.commit()
        cur.execute(INS, (2, "x"))  # (no error yet)
        with pytest.raises(dbapi.IntegrityError):
            raw.commit()
        raw.rollback()
        cur.execute(ROWS)
        assert [r[:2] for r in cur.fetchall()] == [(1, "x")]
    finally:
        raw.close()


def test_two_transactions_racing_for_a_value_the_later_commit_fails(engine: Engine) -> None:
    # neither statement sees the other's pending row: the commit's reservation decides
    first, second = engine.raw_connection(), engine.raw_connection()
    try:
        first.cursor().execute(DDL)
        first.commit()
        first.cursor().execute(INS, (1, "x"))
        second.cursor().execute(INS, (2, "x"))
        first.commit()
        with pytest.raises(dbapi.IntegrityError):
            second.commit()
        second.rollback()
        cur = second.cursor()
        cur.execute(ROWS)
        assert [r[:2] for r in cur.fetchall()] == [(1, "x")]
    finally:
        first.close()
        second.close()


# ------------------------------------------------ the embedded store's check by its index
# The embedded store looks a statement's new values up in its unique index (stored documents)
# and in a record of the values its pending writes hold, kept as it writes (savepoint
# rollbacks and failed statements restore it); a bulk load's texts (more than 16 rows) take a
# path of their own. Each script runs on both backends, and on the embedded store by that
# path and by the query of the overlay it falls back to, each compared with sqlite3.


def _many(first: int, prefix: str, count: int = 20) -> list[tuple[int, str]]:
    return [(first + i, f"{prefix}{i}") for i in range(count)]


RECORD_SCRIPTS: dict[str, list[Any]] = {
    "a stored value deleted, then taken by a bulk load and by one row": [
        (INS, _many(1, "e")), "commit",
        ("DELETE FROM t WHERE id = 6", ()),
        (INS, _many(100, "n") + [(200, "e4")]),  # (e4 is row 5's)
        (INS, _many(100, "n") + [(200, "e5")]),  # (e5 was row 6's, deleted)
        (INS, (300, "e5")),
        (INS, (300, "n3")),
        ("DELETE FROM t WHERE id = 103", ()),
        (INS, (300, "n3")),
    ],
    "a value freed by a pending update, taken back": [
        (INS, _many(1, "e")), "commit",
        ("UPDATE t SET email = 'moved' WHERE id = 3", ()),
        (INS, (50, "moved")),
        (INS, _many(100, "x") + [(200, "e2")]),
        ("UPDATE t SET email = 'e2' WHERE id = 4", ()),
        ("UPDATE t SET email = 'e2' WHERE id = 200", ()),
        ("UPDATE t SET email = 'moved' WHERE id = 200", ()),
        ("UPDATE t SET email = 'free' WHERE id = 3", ()),
        ("UPDATE t SET email = 'moved' WHERE id = 200", ()),
    ],
    "a savepoint's rollback gives the values back": [
        (INS, (1, "x")), (INS, (2, "y")),
        ("SAVEPOINT s", ()), ("UPDATE t SET email = 'z' WHERE id = 1", ()), (INS, (3, "x")),
        ("ROLLBACK TO s", ()), ("RELEASE s", ()),
        (INS, (3, "x")), (INS, (3, "z")),
        ("SAVEPOINT s", ()), (INS, _many(10, "b")), ("ROLLBACK TO s", ()), ("RELEASE s", ()),
        (INS, _many(30, "b")),
        ("DELETE FROM t WHERE id = 2", ()),
        ("SAVEPOINT s", ()), ("DELETE FROM t WHERE id = 1", ()), ("ROLLBACK TO s", ()),
        ("RELEASE s", ()),
        (INS, (4, "y")), (INS, (5, "x")),
        ("SAVEPOINT s", ()), ("SAVEPOINT s2", ()), ("UPDATE t SET email = 'w' WHERE id = 4", ()),
        ("RELEASE s2", ()), (INS, (6, "y")), ("ROLLBACK TO s", ()), ("RELEASE s", ()),
        (INS, (6, "y")), (INS, (6, "w")),
    ],
    "a failed statement leaves the values as they were": [
        (INS, (1, "x")), "commit",
        (INS, _many(10, "f") + [(40, "x")]),
        (INS, _many(50, "f")),
        (INS, _many(70, "g") + [(90, "g0")]),
        (INS, (91, "g0")),
        ("UPDATE t SET email = 'h' WHERE id IN (1, 50)", ()),
        (INS, (92, "h")),
        ("UPDATE t SET email = 'x' WHERE id = 50", ()),
        ("UPDATE t SET email = ? WHERE id = ?", [("q", 50), ("f1", 50), ("f1", 52)]),
        ("UPDATE t SET email = ? WHERE id = ?", [("q", 50), ("f0", 51)]),
        (INS, (93, "f1")),
    ],
    "numbers by value (1, 1.0 and true are one), in bulk and alone": [
        (INS_K, (1, 1)), (INS_R, (2, 2.5)), "commit",
        (INS_K, (3, 1.0)), (INS_K, (3, True)), (INS_K, (3, 2)),
        (INS_K, (4, 2.0)), (INS_K, (4, False)), (INS_K, (5, 0)),
        (INS_R, (6, 2.5)), (INS_R, (6, 1)), (INS_R, (7, True)),
        (INS_K, [(100 + i, i + 10) for i in range(20)] + [(200, 1.0)]),
        (INS_K, [(100 + i, i + 10) for i in range(20)] + [(200, 10.0)]),
        (INS_K, [(100 + i, i + 10) for i in range(20)] + [(200, 50)]),
        (INS_R, [(300 + i, i + 0.5) for i in range(20)] + [(400, 2.5)]),
        (INS_R, [(300 + i, i + 0.25) for i in range(20)]),
    ],
    "texts by case, in bulk and alone": [
        (INS, (1, "Ab")), "commit", (INS, (2, "Cd")),
        (INS, _many(10, "v") + [(40, "ab")]),
        (INS, _many(50, "w") + [(70, "Ab")]),
        (INS, _many(50, "w") + [(70, "Cd")]),
        (INS, _many(50, "w") + [(70, "cd"), (71, "AB")]),
        (INS, (80, "W0")), (INS, (80, "w0")), (INS, (80, "v1 ")),
    ],
    "a bulk load with NULLs and a composite constraint": [
        (INS_AB, (1, "k", 1)), "commit",
        (INS, [(10 + i, None if i % 2 else f"m{i}") for i in range(20)]),
        (INS_AB, [(40 + i, "k", i + 2) for i in range(20)] + [(70, "k", 1)]),
        (INS_AB, [(40 + i, "k", i + 2) for i in range(20)] + [(70, "j", 1)]),
        (INS_AB, (71, "k", 5)),
    ],
}


@pytest.mark.parametrize("name", RECORD_SCRIPTS)
def test_values_held_by_pending_writes_are_kept_as_sqlite_sees_them(
    raw_and_sqlite: Any, name: str
) -> None:
    ours, expected = raw_and_sqlite(DDL, _script(RECORD_SCRIPTS[name]))
    assert ours == expected


def _embedded_and_sqlite(connect: Any, steps: list[Any]) -> tuple[Any, Any]:
    oracle = sqlite3.connect(":memory:")
    try:
        oracle.execute(DDL)
        expected = _script(steps)(oracle)
    finally:
        oracle.close()
    conn = connect()
    conn.cursor().execute(DDL)
    conn.commit()
    return _script(steps)(conn), expected


@pytest.mark.parametrize("name", [*SCRIPTS, *RECORD_SCRIPTS])
def test_the_embedded_store_checks_by_its_index_without_the_overlay(
    connect: Any, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    # (the query of the overlay is the fallback: no statement of these needs it)
    def fallback(*args: Any) -> None:
        raise AssertionError("the check fell back to the overlay query")

    monkeypatch.setattr(unique_check, "_refuse_held_twice", fallback)
    ours, expected = _embedded_and_sqlite(connect, {**SCRIPTS, **RECORD_SCRIPTS}[name])
    assert ours == expected


@pytest.mark.parametrize("name", [*SCRIPTS, *RECORD_SCRIPTS])
def test_the_overlay_query_the_check_falls_back_to_gives_the_same(
    connect: Any, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setattr(unique_check, "_refuse_held_by_index", lambda *args: False)
    monkeypatch.setattr(unique_check, "_refuse_texts_held_by_index", lambda *args: False)
    ours, expected = _embedded_and_sqlite(connect, {**SCRIPTS, **RECORD_SCRIPTS}[name])
    assert ours == expected


def test_a_value_pending_writes_hold_twice_fails_a_statement_taking_it(engine: Engine) -> None:
    # (with unique_checks=commit two pending rows may hold one value: a statement checked
    # afterwards that takes it fails, one taking another value passes)
    raw: Any = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(DDL)
        raw.commit()
        conn = raw.driver_connection
        conn.unique_checks = dbapi_connection.COMMIT
        cur.executemany(INS, [(1, "x"), (2, "x")])
        conn.unique_checks = dbapi_connection.STATEMENT
        cur.execute(INS, (3, "y"))
        with pytest.raises(dbapi.IntegrityError, match=r"UNIQUE constraint failed: t\.email"):
            cur.execute(INS, (4, "x"))
        with pytest.raises(dbapi.IntegrityError, match=r"UNIQUE constraint failed: t\.email"):
            cur.executemany(INS, [*_many(10, "z"), (40, "x")])
        cur.execute("DELETE FROM t WHERE id = 2")
        with pytest.raises(dbapi.IntegrityError, match=r"UNIQUE constraint failed: t\.email"):
            cur.execute(INS, (4, "x"))
        cur.execute("DELETE FROM t WHERE id = 1")
        cur.execute(INS, (4, "x"))
        cur.execute("SELECT id, email FROM t ORDER BY id")  # (the transaction's view)
        assert [tuple(r) for r in cur.fetchall()] == [(3, "y"), (4, "x")]
        raw.rollback()
    finally:
        raw.close()


def test_a_stored_value_changed_by_another_connection_is_seen_by_the_index(
    connect: Any
) -> None:
    first, second = connect(), connect()
    first.cursor().execute(DDL)
    first.commit()
    cur = first.cursor()
    cur.execute(INS, (1, "x"))  # (pending in the first: the record holds it)
    second.cursor().executemany(INS, _many(10, "s"))
    second.commit()
    with pytest.raises(dbapi.IntegrityError, match=r"UNIQUE constraint failed: t\.email"):
        cur.executemany(INS, [*_many(40, "n"), (70, "s3")])
    with pytest.raises(dbapi.IntegrityError, match=r"UNIQUE constraint failed: t\.email"):
        cur.execute(INS, (70, "s3"))
    cur.execute(INS, (70, "s30"))
    first.commit()
