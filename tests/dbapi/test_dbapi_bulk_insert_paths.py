"""The shortcuts of a bulk INSERT (an executemany of ``?`` tuples) give what SQLite gives:
many given keys into a collection the store holds nothing of are not looked for one by one
(one look at the collection), but a key a stored document holds is still refused at that
statement; RETURNING hands out JSON values that are the caller's own, also of many rows;
a commit of inserts into several collections stores each in its own; each document stored
takes the next change vector."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from typing import Any

import pytest

from sqla_docstore import dbapi
from sqla_docstore.backends.embedded.store import EmbeddedStore

#: plain values: a bulk insert's rows are kept as columns in the pending batch
SPEC = {"fields": [{"name": "k", "type": "INTEGER", "nullable": False},
                   {"name": "v", "type": "VARCHAR", "nullable": True}],
        "primary_key": ["k"], "autoincrement": "k"}
SQLITE_DDL = "CREATE TABLE {} (k INTEGER PRIMARY KEY, v VARCHAR)"
#: with a JSON default (an object every row shares: rows checked and kept one by one)
JSON_SPEC = {"fields": [*SPEC["fields"],  # type: ignore[misc]
                        {"name": "j", "type": "JSON", "nullable": True, "default": {"d": [1]}}],
             "primary_key": ["k"], "autoincrement": "k"}
INSERT = "INSERT INTO {} (k, v) VALUES (?, ?)"


def _both(connect: Callable[[], dbapi.Connection], create_collection: Any,
          *names: str) -> tuple[dbapi.Connection, sqlite3.Connection]:
    conn = connect()
    oracle = sqlite3.connect(":memory:")
    for name in names:
        create_collection(conn, name, SPEC)
        oracle.execute(SQLITE_DDL.format(name))
    return conn, oracle


def _kept_as_columns(conn: dbapi.Connection) -> int:
    """The rows of the pending batch's runs kept as columns (no PUT made yet)."""
    return sum(len(run.ids) for run in conn.pending.commands_and_runs()[1])


def _outcome(cur: Any, sql: str, rows: list[tuple[Any, ...]]) -> Any:
    """The rowcount, or the error; an executemany applies whole or not at all (sqlite3's
    keeps the rows before the failing one: run in a savepoint there)."""
    oracle = isinstance(cur, sqlite3.Cursor)
    if oracle:
        cur.execute("SAVEPOINT many")
    try:
        cur.executemany(sql, rows)
        count: Any = cur.rowcount
    except (dbapi.IntegrityError, sqlite3.IntegrityError):
        if oracle:
            cur.execute("ROLLBACK TO many")
        count = "IntegrityError"
    if oracle:
        cur.execute("RELEASE many")
    return count


def _rows(cur: Any, name: str) -> list[tuple[Any, ...]]:
    cur.execute(f"SELECT k, v FROM {name} ORDER BY k")
    return [tuple(r) for r in cur.fetchall()]


@pytest.mark.parametrize("count", [5, 40, 1200])  # one load of the ids, one look, chunks
def test_given_keys_into_an_empty_collection_then_a_taken_one(
    connect: Callable[[], dbapi.Connection], create_collection: Any, count: int
) -> None:
    conn, oracle = _both(connect, create_collection, "t")
    cur, ocur = conn.cursor(), oracle.cursor()
    loads = conn.backend.counts["load"]
    first = [(k, f"v{k}") for k in range(1, count + 1)]
    assert _outcome(cur, INSERT.format("t"), first) == _outcome(ocur, INSERT.format("t"), first)
    assert conn.backend.counts["load"] - loads == 1  # the load of the ids, or the one look
    conn.commit()
    oracle.commit()
    # the store now holds documents: each given key is looked for, and the taken one refused
    taken = [(k, f"w{k}") for k in range(count + 1, 2 * count + 1)] + [(count // 2 + 1, "x")]
    refused = _outcome(cur, INSERT.format("t"), taken)
    assert refused == "IntegrityError" == _outcome(ocur, INSERT.format("t"), taken)
    fresh = [(k, f"w{k}") for k in range(count + 1, 2 * count + 1)]
    assert _outcome(cur, INSERT.format("t"), fresh) == _outcome(ocur, INSERT.format("t"), fresh)
    assert _rows(cur, "t") == _rows(ocur, "t")  # the refused statement left nothing pending
    conn.commit()
    assert _rows(cur, "t") == _rows(ocur, "t")


def test_given_keys_a_pending_document_holds_are_refused_in_an_empty_collection(
    connect: Callable[[], dbapi.Connection], create_collection: Any
) -> None:
    conn, oracle = _both(connect, create_collection, "t")
    cur, ocur = conn.cursor(), oracle.cursor()
    rows = [(k, "a") for k in range(1, 50)]
    again = [(k, "b") for k in range(100, 150)] + [(7, "b")]
    for given in (rows, again):
        assert _outcome(cur, INSERT.format("t"), given) == _outcome(ocur, INSERT.format("t"),
                                                                     given)
    assert _outcome(cur, INSERT.format("t"), again) == "IntegrityError"
    assert _rows(cur, "t") == _rows(ocur, "t")


@pytest.mark.parametrize("count", [1, 12, 300])
def test_returned_json_values_are_the_callers_own(
    connect: Callable[[], dbapi.Connection], create_collection: Any, count: int
) -> None:
    conn = connect()
    create_collection(conn, "t", JSON_SPEC)
    cur = conn.cursor()
    cur.executemany("INSERT INTO t (v) VALUES (?) RETURNING k, j", [(f"v{i}",) for i in
                                                                   range(count)])
    returned = cur.fetchall()
    returned[0][1]["d"].append("changed")  # every row took the default: one object?
    assert [tuple(r) for r in returned[1:]] == [(k, {"d": [1]}) for k in range(2, count + 1)]
    cur.execute("SELECT k, j FROM t ORDER BY k")  # the pending documents, unchanged
    assert [tuple(r) for r in cur.fetchall()] == [(k, {"d": [1]}) for k in range(1, count + 1)]
    conn.commit()
    cur.execute("SELECT k, j FROM t ORDER BY k")
    assert [tuple(r) for r in cur.fetchall()] == [(k, {"d": [1]}) for k in range(1, count + 1)]


def test_a_commit_of_inserts_into_two_collections_stores_each_in_its_own(
    connect: Callable[[], dbapi.Connection], create_collection: Any
) -> None:
    conn, oracle = _both(connect, create_collection, "a", "b")
    cur, ocur = conn.cursor(), oracle.cursor()
    for n, name in enumerate(["a", "b", "a", "b", "b"]):
        rows = [(f"{name}{n}-{i}",) for i in range(20 * (n + 1))]
        sql = f"INSERT INTO {name} (v) VALUES (?)"
        assert _outcome(cur, sql, rows) == _outcome(ocur, sql, rows)
    conn.commit()
    assert _rows(cur, "a") == _rows(ocur, "a") and _rows(cur, "b") == _rows(ocur, "b")


def test_each_stored_document_takes_the_next_change_vector(
    store: EmbeddedStore, connect: Callable[[], dbapi.Connection], create_collection: Any
) -> None:
    conn, _ = _both(connect, create_collection, "t")
    cur = conn.cursor()
    for count in (1, 2500, 1, 40):  # a row alone, then rows kept as columns, in turn
        cur.executemany("INSERT INTO t (v) VALUES (?)", [(f"v{i}",) for i in range(count)])
        conn.commit()
    with store.connection() as raw:
        cvs = [cv for (cv,) in raw.execute('SELECT cv FROM "@docs/t" ORDER BY rowid')]
        (last,) = raw.execute("""SELECT value FROM "@meta" WHERE key = 'etag'""").fetchone()
    # the store's own, each once (kept as their etags: store.LAYOUT), read as its texts
    assert cvs == list(range(int(last) - 2541, int(last) + 1))
    shape = re.compile(rf"{store.node_tag}:(\d+)-{re.escape(store.database_id)}")
    assert [int(shape.fullmatch(store.change_vector(cv)).group(1))  # type: ignore[union-attr]
            for cv in cvs] == cvs


#: statements of one transaction mixing bulk inserts (kept as columns in the pending batch)
#: with what reads or changes them: each step's outcome and the rows after it, then after
#: the commit, are SQLite's
MIXED: list[tuple[str, list[tuple[Any, ...]]]] = [
    ("INSERT INTO a (v) VALUES (?)", [(f"a{i}",) for i in range(50)]),
    ("UPDATE a SET v = ? WHERE k = ?", [("changed", 7)]),
    ("INSERT INTO b (v) VALUES (?)", [(f"b{i}",) for i in range(40)]),
    ("SAVEPOINT sp", []),
    ("INSERT INTO a (k, v) VALUES (?, ?)", [(2000 + i, "gone") for i in range(30)]),
    ("DELETE FROM b WHERE k = ?", [(3,)]),
    ("ROLLBACK TO SAVEPOINT sp", []),
    ("INSERT INTO a (k, v) VALUES (?, ?)", [(1000 + i, "x") for i in range(40)] + [(5, "x")]),
    ("INSERT INTO a (k, v) VALUES (?, ?)", [(3000 + i, f"c{i}") for i in range(60)]),
    ("RELEASE SAVEPOINT sp", []),
    ("DELETE FROM a WHERE k = ?", [(3010,)]),
    ("INSERT INTO b (k, v) VALUES (?, ?)", [(500 + i, "y") for i in range(40)]),
    ("UPDATE b SET v = ? WHERE k = ?", [("z", 510)]),
]
# (keys HiLo generates come first: after a rollback or a failed statement it does not hand
# out again the keys it gave, where SQLite reuses them)


def _step(cur: Any, sql: str, rows: list[tuple[Any, ...]]) -> Any:
    if rows and sql.startswith("INSERT"):
        return _outcome(cur, sql, rows)
    for row in rows or [()]:
        cur.execute(sql, row)
    return None


@pytest.mark.parametrize("commit_at", [1, 3, 10, len(MIXED)])  # (not in the savepoint)
def test_bulk_inserts_mixed_with_other_writes_and_savepoints_match_sqlite(
    connect: Callable[[], dbapi.Connection], create_collection: Any, commit_at: int
) -> None:
    conn, oracle = _both(connect, create_collection, "a", "b")
    oracle.isolation_level = None  # (savepoints as given; a transaction begun by hand)
    cur, ocur = conn.cursor(), oracle.cursor()
    ocur.execute("BEGIN")
    kept = []
    for n, (sql, rows) in enumerate(MIXED):
        if n == commit_at:
            conn.commit()
            ocur.execute("COMMIT")
            ocur.execute("BEGIN")
        assert _step(cur, sql, rows) == _step(ocur, sql, rows), sql
        kept.append(_kept_as_columns(conn))
        if n % 2:  # (reads of the pending rows make each PUT: half the steps read)
            assert _rows(cur, "a") == _rows(ocur, "a") and _rows(cur, "b") == _rows(ocur, "b")
    assert kept[0] == 50 and max(kept[1:]) >= 40  # the runs the steps kept as columns
    conn.commit()
    ocur.execute("COMMIT")
    other = connect().cursor()  # what the store holds
    assert _rows(other, "a") == _rows(ocur, "a") and _rows(other, "b") == _rows(ocur, "b")


def test_a_bulk_insert_a_concurrent_commit_took_a_key_of_fails_whole_at_commit(
    connect: Callable[[], dbapi.Connection], create_collection: Any
) -> None:
    conn, _ = _both(connect, create_collection, "t")
    cur = conn.cursor()
    cur.executemany(INSERT.format("t"), [(k, "mine") for k in range(1, 100)])
    assert _kept_as_columns(conn) == 99
    other = connect()
    other.cursor().execute(INSERT.format("t"), (50, "theirs"))
    other.commit()
    with pytest.raises(dbapi.IntegrityError, match="t/50"):
        conn.commit()
    assert _rows(other.cursor(), "t") == [(50, "theirs")]  # nothing of the batch applied
    cur.executemany(INSERT.format("t"), [(k, "again") for k in range(100, 140)])
    conn.commit()  # the failed batch is gone: the next commit sends only its own
    assert len(_rows(other.cursor(), "t")) == 41


@pytest.mark.parametrize("name", ['"new\nline"', "plain"])
def test_ids_of_a_bulk_insert_read_back_whatever_the_tables_name(name: str) -> None:
    """A bulk insert's ids are the collection's prefix and each key (written by one join of
    the keys' texts split again at newlines, unless the prefix holds one): generated and
    given keys read back by key, pending and committed, as in SQLite."""
    out = []
    for conn in (sqlite3.connect(":memory:"), dbapi.connect(":memory:")):
        cur = conn.cursor()
        cur.execute(f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, v TEXT)")
        cur.executemany(f"INSERT INTO {name} (v) VALUES (?)", [(f"v{n}",) for n in range(20)])
        cur.executemany(f"INSERT INTO {name} (id, v) VALUES (?, ?)",
                        [(100 + n, f"w{n}") for n in range(20)])
        found = []
        for _ in range(2):  # pending, then committed
            found += [cur.execute(f"SELECT id, v FROM {name} WHERE id = ?", (k,)).fetchall()
                      for k in (1, 20, 21, 105)]
            found.append(cur.execute(f"SELECT id, v FROM {name} ORDER BY id").fetchall())
            conn.commit()
        out.append(found)
    assert out[1] == out[0]


@pytest.mark.parametrize("before", [None, 94, 12345, 2**62 - 120])
def test_generated_keys_of_a_bulk_insert_read_back_across_hundreds(before: int | None) -> None:
    """HiLo's keys of a bulk insert, a range, are written a hundred at a time (their texts
    in the ids and in the documents): rows after a key given ``before`` read back by key
    and in a scan, pending and committed, as in SQLite."""
    out = []
    for conn in (sqlite3.connect(":memory:"), dbapi.connect(":memory:")):
        cur = conn.cursor()
        cur.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        if before is not None:
            cur.execute("INSERT INTO t (id, v) VALUES (?, 'given')", (before,))
        cur.executemany("INSERT INTO t (v) VALUES (?)", [(f"v{n}",) for n in range(250)])
        start = (before or 0) + 1
        found = []
        for _ in range(2):  # pending, then committed
            found += [cur.execute("SELECT id, v FROM t WHERE id = ?", (k,)).fetchall()
                      for k in range(start - 1, start + 251)]
            found.append(cur.execute("SELECT id, v FROM t ORDER BY id").fetchall())
            conn.commit()
        out.append(found)
    assert out[1] == out[0]


def test_texts_of_a_range_of_integers_are_their_reprs() -> None:
    from sqla_docstore.dbapi import executor

    for first in (0, 1, 5, 95, 99, 100, 101, 199, 200, 12345, 2**62 - 3, 2**63 - 200):
        for count in (1, 2, 5, 99, 100, 101, 250, 1000):
            assert executor._range_texts(first, count) == list(
                map(repr, range(first, first + count)))


def test_generated_keys_spanning_a_range_another_store_took_read_back(tmp_path: Any) -> None:
    """Keys HiLo generates for one bulk insert are not a range when another process (here
    another store object on the file) reserved the range between two of this one's: each
    row is still read back by its key, pending and committed."""
    path = str(tmp_path / "g.db")
    first = dbapi.connect(path, store=EmbeddedStore(path))
    cur = first.cursor()
    cur.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    cur.executemany("INSERT INTO t (v) VALUES (?)", [("a",)] * 10)
    first.commit()
    other = dbapi.connect(path, store=EmbeddedStore(path))
    other.cursor().executemany("INSERT INTO t (v) VALUES (?)", [("b",)] * 10)
    other.commit()
    cur.executemany("INSERT INTO t (v) VALUES (?)", [(f"c{n}",) for n in range(40)])
    for _ in range(2):  # pending, then committed
        rows = cur.execute("SELECT id, v FROM t ORDER BY id").fetchall()
        keys = [k for k, v in rows if v.startswith("c")]
        assert len(keys) == 40 and keys[-1] - keys[0] > 39  # (two ranges, a gap between)
        for k, v in rows:
            assert cur.execute("SELECT id, v FROM t WHERE id = ?", (k,)).fetchall() == [(k, v)]
        first.commit()
    first.close()
    other.close()


def _bodies_made(conn: dbapi.Connection) -> list[bool]:
    """Of each run of inserts kept as columns in the pending batch, whether its bodies (dicts)
    were made (``LazyBodies``: a run only written to the store makes none)."""
    return [getattr(run.bodies, "is_made", True) for run in conn.pending.commands_and_runs()[1]]


def test_a_bulk_insert_makes_its_bodies_only_when_the_transaction_reads_them(
    connect: Callable[[], dbapi.Connection], create_collection: Any
) -> None:
    conn, oracle = _both(connect, create_collection, "t")
    cur = conn.cursor()
    rows = [(f"v{i}",) for i in range(300)]
    for target in (cur, oracle):
        target.executemany("INSERT INTO t (v) VALUES (?)", rows)
    assert _bodies_made(conn) == [False]
    assert cur.lastrowid == oracle.execute("SELECT max(k) FROM t").fetchone()[0]
    conn.commit()  # (written from the columns and the texts: still no body)
    oracle.commit()
    assert _rows(connect().cursor(), "t") == _rows(oracle.cursor(), "t")
    for target in (cur, oracle):  # a run the transaction then reads: made for the read
        target.executemany("INSERT INTO t (v) VALUES (?)", rows[:50])
    assert _bodies_made(conn) == [False]
    assert _rows(cur, "t") == _rows(oracle.cursor(), "t")
    assert _bodies_made(conn) == [True]
    cur.execute("UPDATE t SET v = 'w' WHERE k = ?", (_rows(cur, "t")[-1][0],))
    oracle.execute("UPDATE t SET v = 'w' WHERE k = ?", (_rows(oracle.cursor(), "t")[-1][0],))
    conn.commit()
    oracle.commit()
    assert _rows(connect().cursor(), "t") == _rows(oracle.cursor(), "t")
