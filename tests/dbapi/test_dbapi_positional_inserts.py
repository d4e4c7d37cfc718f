"""An executemany INSERT with ``?`` tuples takes the column-at-a-time path (the tuples read by
position, no dict per row; integer keys, ids and PUTs made a column at a time): its results,
errors, reads, stored documents and HiLo keys are those of the same rows given as lists (a
dict per row) and of the row-by-row loop, over a spread of values and statement shapes."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest

from sqla_docstore import dbapi, values
from sqla_docstore.dbapi import executor, params
from sqla_docstore.pending import PendingBatch

N = 12  # rows per statement: enough for the column-at-a-time tests (executor's threshold)


def _field(name: str, type_: str, nullable: bool = True, default: Any = None) -> dict[str, Any]:
    return {"name": name, "type": type_, "nullable": nullable, "default": default}


ITEMS = {
    "fields": [_field("id", "INTEGER", False), _field("name", "VARCHAR"),
               _field("qty", "INTEGER"), _field("x", "FLOAT"), _field("price", "NUMERIC"),
               _field("data", "JSON"), _field("born", "DATE"), _field("flag", "BOOLEAN"),
               _field("raw", "BLOB"), _field("note", "VARCHAR", default="n")],
    "primary_key": ["id"],
    "autoincrement": "id",
}
#: an integer key no HiLo fills
PLAIN = {"fields": [_field("k", "INTEGER", False), _field("v", "VARCHAR", False)],
         "primary_key": ["k"]}
#: the key is the whole document id, kept out of the stored body
BY_ID = {"fields": [_field("ref", "VARCHAR", False), _field("v", "VARCHAR")],
         "primary_key": ["ref"], "key_is_id": True}

INS = "INSERT INTO items (name, qty, x, price, born, flag) VALUES (?, ?, ?, ?, ?, ?)"
INS_ID = "INSERT INTO items (id, name, qty) VALUES (?, ?, ?)"


def _plain_rows(first: int = 0) -> list[tuple[Any, ...]]:
    return [(f"é\u2028\"q\\ {first + i}", [None, 0, -5, 2**62, True][i % 5],
             [1.5, -0.0, 1e300, None][i % 4], None, None, [True, False, None][i % 3])
            for i in range(N)]


def _typed_rows() -> list[tuple[Any, ...]]:
    return [(f"t{i}", i, i / 3, decimal.Decimal(f"{i}.10"), dt.date(2000 + i, 1, 2),
             bool(i % 2)) for i in range(N)]


def _ids(first: int, *changes: tuple[int, Any]) -> list[tuple[Any, ...]]:
    rows = [(first + i, f"e{first + i}", i) for i in range(N)]
    for at, key in changes:
        rows[at] = (key, *rows[at][1:])
    return rows


#: (SQL, rows) run in one transaction after the committed seed; a failing one changes nothing
STEPS: list[tuple[str, list[tuple[Any, ...]]]] = [
    (INS, _plain_rows()),
    (INS, _typed_rows()),
    (INS_ID, _ids(1000)),  # given keys, checked against the store (the seed's 500..511)
    (INS_ID, _ids(2000, (7, 1003))),  # one taken by a pending row
    (INS_ID, _ids(3000, (9, 3002))),  # one key twice
    (INS_ID, _ids(4000, (2, 505))),  # one a stored document holds
    (INS_ID, _ids(5000, (1, None), (4, None), (11, None))),  # some generated, in order
    (INS_ID, [(None, f"a{i}", i) for i in range(N)]),  # all generated, NULL given
    (INS_ID, _ids(6000, (5, "6005"))),  # a text key
    ("INSERT INTO items (name, qty) VALUES (?, 7)", [(f"lit{i}",) for i in range(N)]),
    ("INSERT INTO items (qty, name) VALUES (?2, ?1)", [(f"r{i}", i) for i in range(N)]),
    ("INSERT INTO items (name, qty) VALUES (?, ?) RETURNING id, name, qty",
     [(f"ret{i}", i) for i in range(N)]),
    ("INSERT INTO items (name, qty) VALUES (?, ?) RETURNING id, qty + 1 AS q1, name",
     [(f"rex{i}", i) for i in range(N)]),
    ("INSERT INTO items (id, name, qty) VALUES (?, ?, ?) RETURNING *", _ids(8000)),
    ("INSERT INTO items (name, data, raw) VALUES (?, ?, ?)",
     [(f"j{i}", {"k": [i, None, "x"]}, b"\x00\x01" * i) for i in range(N)]),
    ("INSERT INTO items (name, qty) VALUES (?, ?)",
     [(f"u{i}", i) for i in range(N - 1)] + [(uuid.UUID(int=7), 1)]),
    ("INSERT INTO items (name, qty) VALUES (?, ?)",  # the first refused value, row by row
     [(f"o{i}", i) for i in range(3)] + [("ok", object()), (object(), 1)] * 5),
    ("INSERT INTO items (name, qty) VALUES (?, ?)",
     [(f"n{i}", i) for i in range(N - 1)] + [("a\x00b", 1)]),
    # (a float beyond 64 bits in an integer column: 2.0**60 is the integer, as in SQLite)
    ("INSERT INTO items (name, qty) VALUES (?, ?)", [(f"big{i}", 2.0**70) for i in range(N)]),
    ("DELETE FROM items WHERE id = ?", [(1001,)]),
    (INS_ID, _ids(1000)),  # 1001 replaces the deleted pending row, the others are taken
    (INS_ID, _ids(9000, (3, 1001))),  # 1001 was deleted: inserted again
    ("INSERT INTO plain (k, v) VALUES (?, ?)", [(i, f"p{i}") for i in range(N)]),
    ("INSERT INTO plain (k, v) VALUES (?, ?)", [(100 + i, f"p{i}") for i in range(N - 1)]
     + [(3, "again")]),
    ("INSERT INTO by_id (ref, v) VALUES (?, ?)", [(f"by_id/{i}-A", f"v{i}") for i in range(N)]),
    ("SAVEPOINT sp", []),
    (INS, _plain_rows(100)),
    ("ROLLBACK TO SAVEPOINT sp", []),
    (INS, _plain_rows(200)),
    (INS_ID, _ids(3000, (2, 3001), (6, 10**5000))),  # a key twice, then one too long to write
    (INS_ID, _ids(3000, (6, 10**5000))),
    (INS_ID, _ids(7000, (5, True))),  # a boolean key
    (INS_ID, _ids(2**63 + 1)),  # keys beyond 64 bits: refused, and HiLo goes on
    (INS, _plain_rows(300)),
]


def _outcome(cur: dbapi.Cursor, sql: str, rows: list[Any]) -> Any:
    try:
        if rows:
            cur.executemany(sql, rows)
        else:
            cur.execute(sql)
    except dbapi.Error as exc:
        return type(exc).__name__, str(exc)
    fetched = [tuple(r) for r in cur.fetchall()] if cur.description else None
    return cur.rowcount, cur.lastrowid, fetched


def _run(path: Path, as_lists: bool) -> list[Any]:
    conn = dbapi.connect(str(path))
    try:
        cur = conn.cursor()
        for name, spec in (("items", ITEMS), ("plain", PLAIN), ("by_id", BY_ID)):
            cur.execute(f"CREATE COLLECTION {name} {json.dumps(spec)}")
        seen = []
        for sql, rows in [(INS_ID, [(500 + i, f"s{i}", i) for i in range(N)]), ("COMMIT", []),
                          *STEPS]:
            if sql == "COMMIT":
                conn.commit()
                continue
            given = [list(r) for r in rows] if as_lists else rows
            loads = conn.backend.counts["load"]
            # (and the loads of the store it made: none for the keys HiLo generated)
            seen.append((_outcome(cur, sql, given), conn.backend.counts["load"] - loads))
        for table, key in (("items", "id"), ("plain", "k"), ("by_id", "ref")):
            cur.execute(f"SELECT * FROM {table} ORDER BY {key}")  # the transaction's own reads
            seen.append([tuple(r) for r in cur.fetchall()])
        conn.commit()
    finally:
        conn.close()
    with sqlite3.connect(path) as raw:  # the documents as stored
        for table in ("items", "plain", "by_id"):
            seen.append(raw.execute(f'SELECT id, body, meta FROM "@docs/{table}" '
                                    "ORDER BY id").fetchall())
    return seen


def test_positional_inserts_match_dicts_and_the_row_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken: list[int] = []
    real = executor._InsertPlan.given_positional

    def counted(self: Any, sets: params.Positional, *args: Any) -> Any:
        taken.append(len(sets))
        return real(self, sets, *args)

    monkeypatch.setattr(executor._InsertPlan, "given_positional", counted)
    positional = _run(tmp_path / "tuples.db", as_lists=False)
    assert taken, "the tuples took the positional path"
    taken.clear()
    as_dicts = _run(tmp_path / "lists.db", as_lists=True)
    assert not taken
    monkeypatch.setattr(executor, "_keyed_puts", lambda *args: None)  # the loop, row by row
    looped = _run(tmp_path / "loop.db", as_lists=True)
    # the loop over bodies whose generated keys the tuples' path put in as it made them
    looped_tuples = _run(tmp_path / "loop_tuples.db", as_lists=False)
    assert positional == as_dicts == looped == looped_tuples
    steps = positional[:len(STEPS) + 1]  # (the seed, then each step: outcome, loads)
    outcomes = dict(zip(range(-1, len(STEPS)), [o for o, _ in steps], strict=True))
    loads = dict(zip(range(-1, len(STEPS)), [n for _, n in steps], strict=True))
    # generated keys are fresh: no load; given ones are looked for in the store
    assert loads[0] == loads[7] == loads[11] == 0 and loads[2] == 1
    # the scenarios are what they claim: failures and successes where expected
    assert outcomes[0][0] == outcomes[1][0] == outcomes[2][0] == N
    assert outcomes[3][0] == outcomes[4][0] == outcomes[5][0] == "DuplicateKeyError"
    assert [len(outcomes[n][2]) for n in (11, 12, 13)] == [N, N, N]  # RETURNING rows
    assert outcomes[15][0] == N  # a UUID, stored as its text
    assert [outcomes[n][0] for n in (16, 17, 18)] == ["DataError"] * 3
    assert outcomes[20][0] == "DuplicateKeyError" and outcomes[21][0] == N
    assert outcomes[23][0] == "DuplicateKeyError" and outcomes[26][0] == N
    assert outcomes[29][0] == "DuplicateKeyError" and outcomes[30][0] == "DataError"
    assert outcomes[32][0] == "DataError" and outcomes[33][0] == N


def test_column_types_found_once_give_what_finding_them_at_each_test_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An INSERT finds the value types of each of its columns once (``values.ColumnTypes``)
    for all its tests (affinity, NUL, NOT NULL, JSON texts, integer keys): the same results,
    errors, reads and stored documents as finding them again at each test."""
    once = _run(tmp_path / "once.db", as_lists=False)
    monkeypatch.setattr(values, "ColumnTypes", lambda: values.column_types)
    each = _run(tmp_path / "each.db", as_lists=False)
    assert once == each


@pytest.mark.parametrize("last", [2**63 - 30, 2**63 - 100_000])
def test_generated_keys_near_the_end_of_sqlite_integers_match_the_row_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, last: int
) -> None:
    """The column-at-a-time path does not test the range of the keys HiLo generates (HiLo
    reserves SQLite integers only, the loop tests given keys only): after a stored key near
    2**63 - 1 it gives the loop's result, rows or error, and the same documents."""

    def run(path: Path) -> Any:
        conn = dbapi.connect(str(path))
        cur = conn.cursor()
        cur.execute("CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT)")
        cur.execute("INSERT INTO t (id, v) VALUES (?, ?)", (last, "x"))
        conn.commit()
        try:
            cur.executemany("INSERT INTO t (v) VALUES (?)", [(f"v{i}",) for i in range(N)])
            conn.commit()
            outcome: Any = (cur.rowcount, cur.lastrowid)
        except dbapi.Error as exc:
            outcome = (type(exc).__name__, str(exc))
        conn.close()
        with sqlite3.connect(path) as raw:
            return outcome, raw.execute('SELECT id, body FROM "@docs/t" ORDER BY id').fetchall()

    columns = run(tmp_path / "columns.db")
    monkeypatch.setattr(executor, "_keyed_puts", lambda *args: None)  # the loop, row by row
    assert columns == run(tmp_path / "loop.db")


def test_positional_sets_read_as_the_dicts_bind_makes() -> None:
    sets = params.Positional(("?1", "?2"), [(1, "a"), (2, "b")],
                             lambda a, b: {"?1": a, "?2": b})
    assert len(sets) == 2
    assert list(sets) == [{"?1": 1, "?2": "a"}, {"?1": 2, "?2": "b"}]
    assert sets[1] is sets[1]  # made once, then kept
    assert sets[-1:] == [{"?1": 2, "?2": "b"}]
    assert sets.columns == [(1, 2), ("a", "b")]  # (each parameter's values, in row order)


def test_wrong_length_tuples_are_refused_before_anything_is_inserted(
    connect: Any, create_collection: Any
) -> None:
    conn = connect()
    create_collection(conn, "items", ITEMS)
    cur = conn.cursor()
    with pytest.raises(dbapi.ProgrammingError, match="incorrect number of parameters"):
        cur.executemany(INS_ID, [(1, "a", 1)] * 3 + [(2, "b")] + [(3, "c", 3)] * 8)
    for width in (2, 4):  # every tuple of one wrong length
        with pytest.raises(dbapi.ProgrammingError, match="incorrect number of parameters"):
            cur.executemany(INS_ID, [(n, "a", n, n)[:width] for n in range(12)])
    cur.execute("SELECT count(*) FROM items")
    assert cur.fetchall() == [(0,)]


def test_creates_only_tells_a_batch_of_creating_puts() -> None:
    from sqla_docstore.commands import Patch, Put

    batch = PendingBatch()
    assert batch.creates_only
    batch.add_puts("c", [Put("c", "c/1", {"a": 1}, "")], new=True)
    assert batch.creates_only
    batch.add_puts("c", [Put("c", "c/2", {"a": 2}, "")])  # not said new: maybe not
    assert not batch.creates_only
    batch.clear()
    batch.add(Put("c", "c/3", {"a": 3}, ""), {"a": 3})
    assert batch.creates_only
    batch.add(Patch("c", "c/3", {"a": 4}), {"a": 4})
    assert not batch.creates_only
    batch.clear()
    assert batch.creates_only
