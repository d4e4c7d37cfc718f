"""executemany UPDATE by key of documents the transaction read (SQLAlchemy's flush of loaded
objects), queries by key range reading through the pending writes between flushes, a savepoint
rolled back between them: SQLite's rows and rowcounts on both backends; and the values set a
column at a time give what setting them a document at a time gives, errors included."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    Float,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    bindparam,
    exc,
    select,
)

from sqla_docstore import dbapi
from sqla_docstore.backends.embedded.store import EmbeddedStore
from sqla_docstore.commands import Batch, Put
from sqla_docstore.dbapi import executor
from sqla_docstore.errors import ConcurrencyError

metadata = MetaData()
customers = Table("customers", metadata, Column("id", Integer, primary_key=True),
                  Column("name", String(40), nullable=False), Column("description", String(60)),
                  Column("score", Numeric(30, 20)), Column("ratio", Float),
                  Column("flag", Boolean), Column("seen_at", DateTime))

EXACT = decimal.Decimal("1.25")  # SQLite keeps NUMERIC in doubles: a number they hold
SET_DESCRIPTION = customers.update().where(customers.c.id == bindparam("k")).values(
    description=bindparam("d"))
SET_MANY = customers.update().where(customers.c.id == bindparam("k")).values(
    name=bindparam("n"), score=bindparam("s"), ratio=bindparam("r"), flag=bindparam("f"))
SET_SEEN = customers.update().where(customers.c.id == bindparam("k")).values(
    seen_at=bindparam("t"))
# a key and another field: matched on a fresh read, not by key alone
SET_IF_NAMED = customers.update().where(
    (customers.c.id == bindparam("k")) & (customers.c.name == bindparam("was"))).values(
    description=bindparam("d"))
BETWEEN = select(customers).where(customers.c.id.between(bindparam("lo"), bindparam("hi"))
                                  ).order_by(customers.c.id)
EVERY_ROW = select(customers).order_by(customers.c.id)


@pytest.fixture
def oracle(savepoint_oracle: Engine) -> Engine:
    """SQLite where begin_nested works."""
    return savepoint_oracle


def _rows(conn: Connection, stmt: Any, params: dict[str, Any] | None = None) -> list[Any]:
    return [tuple(r) for r in conn.execute(stmt, params or {})]


def _flushes(eng: Engine) -> list[Any]:
    """SQLAlchemy's bulk_updates test, smaller and with a spread of values, then a savepoint
    rolled back between updates."""
    seen: list[Any] = []
    with eng.connect() as conn:
        conn.execute(customers.insert(), [
            {"name": f"c{i}", "description": None if i % 11 == 0 else f"d{i}", "score": EXACT,
             "ratio": i / 4, "flag": i % 2 == 0} for i in range(1, 301)])
        conn.commit()
        for lo in range(0, 300, 60):  # key ranges overlapping at their ends
            rows = conn.execute(BETWEEN, {"lo": lo, "hi": lo + 60}).all()
            seen.append([tuple(r) for r in rows])
            result = conn.execute(SET_DESCRIPTION, [
                {"k": r.id, "d": (r.description or "") + "é\u2028\"q\\"} for r in rows])
            seen.append(result.rowcount)
        seen.append(_rows(conn, BETWEEN, {"lo": 50, "hi": 130}))
        seen.append(_rows(conn, select(customers.c.id).where(
            customers.c.description.like("d1%")).order_by(customers.c.id)))
        result = conn.execute(SET_MANY, [
            {"k": k, "n": f"n{k}", "s": decimal.Decimal(k) / 8, "r": -k / 2, "f": k % 3 == 0}
            for k in (5, 10, 400, 15, 10)])  # a missing key, one key twice: in turn
        seen.append(result.rowcount)
        result = conn.execute(SET_IF_NAMED, [{"k": 15, "was": "n15", "d": "named"},
                                             {"k": 16, "was": "n16", "d": "not named"}])
        seen.append(result.rowcount)
        nested = conn.begin_nested()
        conn.execute(SET_DESCRIPTION, [{"k": k, "d": None} for k in range(1, 120)])
        seen.append(_rows(conn, BETWEEN, {"lo": 100, "hi": 125}))
        nested.rollback()
        seen.append(_rows(conn, BETWEEN, {"lo": 100, "hi": 125}))
        result = conn.execute(SET_SEEN, [  # values converted (not stored as given)
            {"k": k, "t": dt.datetime(2024, 1, k, 12, 30)} for k in (1, 2, 3)])
        seen.append(result.rowcount)
        conn.commit()
        seen.append(_rows(conn, EVERY_ROW))
    return seen


def test_flushes_by_key_give_sqlites_rows(pair: tuple[Engine, Engine]) -> None:
    docstore, sqlite = (_flushes(eng) for eng in pair)
    assert docstore == sqlite
    assert docstore[1] == 60 and docstore[3] == 61  # (ids 1-60, then 60-120)
    assert docstore[-1][0][2] == 'd1é\u2028"q\\'  # (a chunk's last key updated twice)


def test_a_failing_row_of_a_bulk_update_changes_nothing(engine: Engine) -> None:
    """NOT NULL broken by one row of many: the statement is refused whole (the rows before it
    are not applied, as the store applies a statement whole)."""
    metadata.create_all(engine)
    with engine.connect() as conn:
        conn.execute(customers.insert(), [{"name": f"c{i}"} for i in range(1, 101)])
        before = _rows(conn, EVERY_ROW)
        params = [{"k": k, "n": None if k == 50 else f"x{k}", "s": None, "r": None, "f": None}
                  for k in range(1, 101)]
        with pytest.raises(exc.IntegrityError, match="NOT NULL"):
            conn.execute(SET_MANY, params)
        assert _rows(conn, EVERY_ROW) == before


# -------------------------------------------- column at a time = a document at a time


def _general(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every UPDATE by the general paths (a document at a time, each value by _value)."""
    monkeypatch.setattr(executor, "_plain_columns", lambda exprs, param_sets: None)


VALUES: list[Any] = ["text", "", "é\u2028\"q\\", 0, -7, 2**70, 1.5, -0.0, True, False, None,
                     decimal.Decimal("1.10000000000000000001"), dt.date(2024, 2, 29),
                     b"\x00bytes", [1, {"a": None}], {"k": [True]}]


def _state(conn: dbapi.Connection) -> list[Any]:
    cur = conn.cursor()
    cur.execute("SELECT id, name, n FROM users ORDER BY id")
    return cur.fetchall()


def _updates(conn: dbapi.Connection) -> list[Any]:
    """A spread of values and WHERE shapes over documents read, written and re-read."""
    out: list[Any] = []
    cur = conn.cursor()
    cur.executemany("INSERT INTO users (id, name, n) VALUES (?, ?, ?)",
                    [(i, f"u{i}", i) for i in range(1, 41)])
    conn.commit()
    # another client's document whose id names another key than its field holds
    conn.backend.submit(Batch([Put("users", "users/77", {"id": 78, "name": "odd"}, "")]))
    cur.execute("SELECT id, name FROM users WHERE id BETWEEN 1 AND 20 OR id > 70")
    out.append(cur.fetchall())
    for start in range(0, len(VALUES), 4):
        group = VALUES[start:start + 4]
        params = [(value, i + 1) for i, value in enumerate(group * 5)]
        try:
            cur.executemany("UPDATE users SET n = ? WHERE id = ?", params)
            out.append(("n", cur.rowcount))
        except dbapi.Error as error:
            out.append(("n", type(error).__name__, str(error)))
        out.append(_state(conn))
    for where, params in [
        ("id = ?", [("a", 1), ("b", 2), ("c", 99), ("d", 77), ("e", 78)]),
        ("id = ? AND name = ?", [("named", 3, "u3"), ("not", 4, "nobody")]),
        ("id = ? AND n = ?", [("kept", 5, 1.5), ("not", 6, "nothing")]),
        ("name = ?", [("by name", "u7")]),
        ("id BETWEEN ? AND ?", [("range", 8, 12)]),
        ("id = ?", [("first", 13), ("second", 13)]),
        ("id = ?", [("\x00nul", 14)]),
        ("id = ?", [(None, 15)]),  # NOT NULL: refused
        ("id = ?", [("ok", 16), ("\x00", 17), ("ok", 18)]),  # refused whole
        ("id = ?", [("ok", 19), ("ok", 20), (None, 21), ("\x00", 22)]),  # the first error
    ]:
        try:
            cur.executemany(f"UPDATE users SET name = ? WHERE {where}", params)
            out.append((where, cur.rowcount))
        except dbapi.Error as error:
            out.append((where, type(error).__name__, str(error)))
    out.append(_state(conn))
    cur.execute("SAVEPOINT s1")
    cur.executemany("UPDATE users SET name = ?, n = ? WHERE id = ?",
                    [(f"sp{i}", i * 10, i) for i in range(1, 30)])
    cur.execute("ROLLBACK TO SAVEPOINT s1")
    cur.executemany("UPDATE users SET name = ?, n = ? WHERE id = ?",
                    [(f"after{i}", i, i) for i in range(20, 25)])
    out.append(_state(conn))
    conn.commit()
    out.append(_state(conn))
    return out


@pytest.fixture
def fresh() -> Iterator[Any]:
    """A factory of new stores: each call gives a ``connect()`` of a store with an empty
    ``users`` collection; everything is closed at teardown."""
    opened: list[Any] = []

    def new_store() -> Any:
        store = EmbeddedStore(None)
        opened.append(store)

        def connect() -> dbapi.Connection:
            conn = dbapi.connect(store=store)
            opened.append(conn)
            return conn

        cur = connect().cursor()
        cur.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, n JSON)")
        return connect

    yield new_store
    for item in reversed(opened):
        item.close()


def test_values_set_a_column_at_a_time_as_a_document_at_a_time(
    fresh: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = _updates(fresh()())
    _general(monkeypatch)
    general = _updates(fresh()())
    assert fast == general
    assert [r[1] for r in general[-6:-3]] == ["IntegrityError", "DataError", "IntegrityError"]


def _concurrent(connect: Any, expect_versions: bool) -> list[Any]:
    """Another connection commits a change between this one's read and its UPDATE by key:
    a blind write keeps the other's field and sets its own; a write expecting the version
    read fails at commit and changes nothing."""
    conn, other = connect(), connect()
    cur = conn.cursor()
    cur.executemany("INSERT INTO users (id, name, n) VALUES (?, ?, ?)",
                    [(i, f"u{i}", i) for i in range(1, 101)])
    conn.commit()
    conn.note_reads = expect_versions  # (a DocumentSession notes its reads' versions)
    cur.execute("SELECT id, name, n FROM users WHERE id BETWEEN 1 AND 100")
    read = cur.fetchall()
    if expect_versions:  # as DocumentSession's optimistic concurrency sets them
        conn.expected_change_vectors.update(
            {f"users/{row[0]}": conn.change_vectors[f"users/{row[0]}"] for row in read})
    other.cursor().execute("UPDATE users SET n = 'theirs' WHERE id = 50")
    other.commit()
    cur.executemany("UPDATE users SET name = ? WHERE id = ?",
                    [(f"mine{row[0]}", row[0]) for row in read])
    outcome: list[Any] = [cur.rowcount]
    try:
        conn.commit()
        outcome.append("committed")
    except ConcurrencyError as error:
        outcome.append(("refused", error.stale))
    outcome.append(_state(connect()))
    return outcome


@pytest.mark.parametrize("expect_versions", [False, True])
def test_a_concurrent_change_is_kept_or_refused_as_a_document_at_a_time(
    fresh: Any, monkeypatch: pytest.MonkeyPatch, expect_versions: bool
) -> None:
    fast = _concurrent(fresh(), expect_versions)
    _general(monkeypatch)
    assert fast == _concurrent(fresh(), expect_versions)
    assert fast[-1][49] == (50, "u50" if expect_versions else "mine50", "theirs")
    assert fast[1] == (("refused", ("users/50",)) if expect_versions else "committed")


def test_updates_by_integer_key_in_one_pass_as_by_matches(
    fresh: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one-pass UPDATE by integer keys (executor._update_by_int_key) gives what matching
    the documents first then setting the values a column at a time gives, errors included,
    and what the general path gives."""
    calls: list[int] = []
    one_pass = executor._update_by_int_key

    def counted(*args: Any) -> Any:
        done = one_pass(*args)
        calls.append(done is not None)
        return done

    monkeypatch.setattr(executor, "_update_by_int_key", counted)
    fast = _updates(fresh()())
    assert any(calls) and not all(calls)  # both ways taken (by name, BETWEEN ...)
    monkeypatch.setattr(executor, "_update_by_int_key", lambda *args: None)
    by_matches = _updates(fresh()())
    _general(monkeypatch)
    assert fast == by_matches == _updates(fresh()())
