"""A range or equality on an INTEGER PRIMARY KEY kept in the body is searched on the row key
``k`` while the collection's keys agree (``CollectionSpec.keys_agree``), with no expression
index to maintain; every answer is SQLite's, also once a document breaks the agreement (a
write through the session API, a raw PUT, another connection, a schema change), and in
conditions where FALSE and NULL differ."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sqla_docstore import dbapi
from sqla_docstore.backends.embedded.store import collection_table
from sqla_docstore.commands import Batch, Patch, Put

CREATE = "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)"
ROWS = [(i, i % 7) for i in (1, 2, 3, 5, 8, 13, 21, 34, 55)]

#: statements and parameters whose answers must be SQLite's, keyed conditions in every place
QUERIES: list[tuple[str, dict[str, Any]]] = [
    ("SELECT id FROM t WHERE id BETWEEN :a AND :b", {"a": 3, "b": 21}),
    ("SELECT id FROM t WHERE id BETWEEN :a AND :b ORDER BY id", {"a": 3, "b": 21}),
    ("SELECT id FROM t WHERE id BETWEEN :a AND :b ORDER BY id", {"a": 2.5, "b": 13.0}),
    ("SELECT id FROM t WHERE id BETWEEN :a AND :b ORDER BY id", {"a": "3", "b": "21"}),
    ("SELECT id FROM t WHERE id BETWEEN :a AND :b ORDER BY id", {"a": None, "b": 21}),
    ("SELECT id FROM t WHERE id NOT BETWEEN :a AND :b ORDER BY id", {"a": 3, "b": 21}),
    ("SELECT id FROM t WHERE id = :a", {"a": 8}),
    ("SELECT id FROM t WHERE id = :a", {"a": 8.0}),
    ("SELECT id FROM t WHERE id = :a", {"a": "8"}),
    ("SELECT id FROM t WHERE :a = id", {"a": 13}),
    ("SELECT id FROM t WHERE id > :a ORDER BY id", {"a": 20}),
    ("SELECT id FROM t WHERE id >= :a AND n < :b ORDER BY id", {"a": 5, "b": 4}),
    ("SELECT id FROM t WHERE :a > id ORDER BY id", {"a": 5}),
    ("SELECT id FROM t WHERE id <= :a ORDER BY id", {"a": -1}),
    ("SELECT id FROM t WHERE id < :a OR n = :b ORDER BY id", {"a": 3, "b": 6}),
    ("SELECT id FROM t WHERE NOT (id = :a) ORDER BY id", {"a": 8}),
    ("SELECT id FROM t WHERE NOT (id < :a) ORDER BY id", {"a": 8}),
    ("SELECT id, id = :a, id > :a FROM t ORDER BY n, id", {"a": 8}),
    ("SELECT count(*) FROM t WHERE id BETWEEN :a AND :b", {"a": 1, "b": 1e30}),
    ("SELECT x.id, y.id FROM t AS x JOIN t AS y ON y.id = :a AND x.n = y.n ORDER BY x.id",
     {"a": 8}),
    ("SELECT x.id, y.id FROM t AS x LEFT JOIN t AS y ON y.id BETWEEN :a AND :b "
     "AND y.n = x.n ORDER BY x.id, y.id", {"a": 2, "b": 30}),
    ("SELECT id FROM t AS o WHERE EXISTS (SELECT 1 FROM t AS i WHERE i.id = :a "
     "AND i.n = o.n) ORDER BY id", {"a": 13}),
]


def _answers(conn: Any, queries: list[tuple[str, dict[str, Any]]]) -> list[list[Any]]:
    out = []
    for sql, params in queries:
        cur = conn.cursor()
        cur.execute(sql, params)
        rows = [tuple(row) for row in cur.fetchall()]
        out.append(rows if "ORDER BY" in sql else sorted(rows, key=repr))
    return out


def _filled(conn: Any, rows: list[tuple[Any, Any]]) -> Any:
    cur = conn.cursor()
    cur.execute(CREATE)
    cur.executemany("INSERT INTO t (id, n) VALUES (?, ?)", rows)
    conn.commit()
    return conn


def _sqlite(rows: list[tuple[Any, Any]]) -> sqlite3.Connection:
    return _filled(sqlite3.connect(":memory:"), rows)  # type: ignore[no-any-return]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "keys.db"


@pytest.fixture
def store(path: Path) -> Iterator[dbapi.Connection]:
    conn = _filled(dbapi.connect(str(path)), ROWS)
    yield conn
    conn.close()


def _agree(path: Path) -> Any:
    with sqlite3.connect(path) as raw:
        (spec,) = raw.execute(
            """SELECT json_extract(spec, '$.keys_agree') FROM "@collections" WHERE name = 't'"""
        ).fetchone()
    return spec


def _indexes(path: Path) -> list[str]:
    with sqlite3.connect(path) as raw:
        return [r[0] for r in raw.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?",
            (collection_table("t").strip('"'),))]


def test_keyed_conditions_answer_as_sqlite_and_make_no_index(
        store: dbapi.Connection, path: Path) -> None:
    assert _agree(path) == 1
    keyed = [(sql, params) for sql, params in QUERIES
             if sql.startswith("SELECT id FROM t WHERE id") and "ORDER BY" not in sql]
    assert len(keyed) == 4
    assert _answers(store, keyed) == _answers(_sqlite(ROWS), keyed)
    assert "ix:auto:t:id" not in _indexes(path)
    assert _answers(store, QUERIES) == _answers(_sqlite(ROWS), QUERIES)


def test_the_row_key_range_is_a_search_of_the_integer_primary_key(
        store: dbapi.Connection) -> None:
    """The SQL the store runs for a keyed condition (traced, its values expanded) is planned
    by SQLite as a search of the INTEGER PRIMARY KEY, not a scan."""
    sent: list[str] = []
    raw = store.backend._conn  # type: ignore[attr-defined]
    raw.set_trace_callback(sent.append)
    try:
        cur = store.cursor()
        cur.execute("SELECT n FROM t WHERE id BETWEEN :a AND :b", {"a": 3, "b": 21})
        cur.fetchall()
    finally:
        raw.set_trace_callback(None)
    (select,) = [sql for sql in sent if sql.startswith("SELECT") and ".k BETWEEN" in sql]
    plan = " ".join(r[3] for r in raw.execute("EXPLAIN QUERY PLAN " + select))  # (its functions)
    assert "USING INTEGER PRIMARY KEY" in plan, plan


def _disagreeing_rows() -> list[tuple[Any, Any]]:
    # document t/3 holds key 40 (the session API's patch of its key field, a raw PUT)
    return [(40 if i == 3 else i, n) for i, n in ROWS]


def test_a_patch_of_the_key_field_ends_the_agreement_in_its_commit(
        store: dbapi.Connection, path: Path) -> None:
    _answers(store, QUERIES)  # (plans made while the keys agree)
    store.backend.submit(Batch([Patch("t", "t/3", {"id": 40})]))
    assert _agree(path) is None
    assert _answers(store, QUERIES) == _answers(_sqlite(_disagreeing_rows()), QUERIES)


def test_a_put_of_another_key_ends_the_agreement_and_one_of_its_own_does_not(
        store: dbapi.Connection, path: Path) -> None:
    _answers(store, QUERIES)
    store.backend.submit(Batch([Put("t", "t/100", {"id": 100, "n": 2}, ""),
                                Put("t", "t/101", {"n": 3}, "")]))
    assert _agree(path) == 1  # (its own key, and none)
    store.backend.submit(Batch([Put("t", "t/3", {"id": 40, "n": 3}, None)]))  # (replaced)
    assert _agree(path) is None
    rows = [*_disagreeing_rows(), (100, 2), (None, 3)]
    assert _answers(store, QUERIES) == _answers(_sqlite_with_null_key(rows), QUERIES)


def _sqlite_with_null_key(rows: list[tuple[Any, Any]]) -> sqlite3.Connection:
    """SQLite holding ``rows``, a NULL key as a row SQLite's key can't hold: a plain column."""
    raw = sqlite3.connect(":memory:")
    raw.execute("CREATE TABLE t (id INTEGER, n INTEGER)")
    raw.executemany("INSERT INTO t VALUES (?, ?)", rows)
    return raw


def test_a_failed_commit_keeps_the_agreement(store: dbapi.Connection, path: Path) -> None:
    with pytest.raises(dbapi.Error):
        store.backend.submit(Batch([Put("t", "t/3", {"id": 40}, None),
                                    Put("t", "t/1", {"id": 1}, "")]))  # t/1 exists
    assert _agree(path) == 1
    assert _answers(store, QUERIES) == _answers(_sqlite(ROWS), QUERIES)


def test_the_statement_reads_the_agreement_as_stored_when_it_runs(
        store: dbapi.Connection, path: Path) -> None:
    """Another client that breaks the agreement without this process noticing (no catalog
    change seen): the plan made before still answers exactly, as the SQL reads the flag."""
    before = _answers(store, QUERIES)
    table = collection_table("t")
    with sqlite3.connect(path) as raw:
        raw.execute("""UPDATE "@collections" SET spec = json_remove(spec, '$.keys_agree')
                       WHERE name = 't'""")
        raw.execute(f"""UPDATE {table} SET body = json_set(body, '$."id"', 40) WHERE k = 3""")
    store.commit()  # (a new transaction; the catalog version did not move)
    assert before == _answers(_sqlite(ROWS), QUERIES)
    assert _answers(store, QUERIES) == _answers(_sqlite(_disagreeing_rows()), QUERIES)


def test_sql_moving_a_key_keeps_the_agreement(store: dbapi.Connection, path: Path) -> None:
    cur = store.cursor()
    cur.execute("UPDATE t SET id = 40 WHERE id = 3")
    cur.execute("UPDATE t SET n = n + 1 WHERE id BETWEEN 5 AND 21")
    store.commit()
    assert _agree(path) == 1
    oracle = _sqlite(ROWS)
    oracle.execute("UPDATE t SET id = 40 WHERE id = 3")
    oracle.execute("UPDATE t SET n = n + 1 WHERE id BETWEEN 5 AND 21")
    assert _answers(store, QUERIES) == _answers(oracle, QUERIES)


@pytest.mark.parametrize("run", [1, 20], ids=["one-at-a-time", "a-run"])
@pytest.mark.parametrize("odd", [0, -4, 2**62])
def test_keys_zero_negative_or_beyond_the_row_keys_end_the_agreement(
        store: dbapi.Connection, path: Path, odd: int, run: int) -> None:
    """Such an id's row key is not its integer (keys.int_key): rows written one at a time
    (PUTs) and a bulk insert's run (kept as columns) alike."""
    more = [(odd, 1), *((100 + i, i) for i in range(run - 1))]
    cur = store.cursor()
    cur.executemany("INSERT INTO t (id, n) VALUES (?, ?)", more)
    store.commit()
    assert _agree(path) is None
    rows = [*ROWS, *more]
    queries = [*QUERIES, ("SELECT id FROM t WHERE id <= :a ORDER BY id", {"a": 0}),
               ("SELECT id FROM t WHERE id >= :a", {"a": odd})]
    assert _answers(store, queries) == _answers(_sqlite(rows), queries)


def test_a_schema_change_ends_the_agreement(store: dbapi.Connection, path: Path) -> None:
    store.cursor().execute("ALTER COLLECTION t " + json.dumps(
        {"action": "add_column", "name": "extra", "type": "INTEGER", "default": 5}))
    assert _agree(path) is None
    assert _answers(store, QUERIES) == _answers(_sqlite(ROWS), QUERIES)


def test_pending_writes_are_read_with_the_store(store: dbapi.Connection) -> None:
    cur = store.cursor()
    cur.executemany("INSERT INTO t (id, n) VALUES (?, ?)", [(4, 1), (30, 2)])
    cur.execute("UPDATE t SET n = 9 WHERE id BETWEEN 2 AND 8")
    cur.execute("DELETE FROM t WHERE id = 13")
    oracle = _sqlite(ROWS)
    oracle.executemany("INSERT INTO t (id, n) VALUES (?, ?)", [(4, 1), (30, 2)])
    oracle.execute("UPDATE t SET n = 9 WHERE id BETWEEN 2 AND 8")
    oracle.execute("DELETE FROM t WHERE id = 13")
    assert _answers(store, QUERIES) == _answers(oracle, QUERIES)
    store.rollback()
    assert _answers(store, QUERIES) == _answers(_sqlite(ROWS), QUERIES)
