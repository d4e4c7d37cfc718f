"""The overlay temp tables an embedded connection mirrors its pending writes into.

Each connection keeps one temp table per collection it wrote and read back in a transaction,
for as long as it lives (cleared at the end of each transaction). SQLite ignores case in table
names; collections do not (``Things`` and ``things`` are two collections, one after the other).
On a memory store all connections share one sqlite3 connection, so its temp schema too.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sqla_docstore import dbapi
from sqla_docstore.backends.embedded.store import EmbeddedStore

SPEC = {"fields": [{"name": "id", "type": "INTEGER", "nullable": False}, {"name": "v"}],
        "primary_key": ["id"]}


@pytest.fixture(params=["memory", "file"])
def connect(request: pytest.FixtureRequest, tmp_path: Path
            ) -> Iterator[Callable[[], dbapi.Connection]]:
    """Connections on one store: a memory store (one shared sqlite3 connection) or a file."""
    store = EmbeddedStore(None if request.param == "memory" else str(tmp_path / "s.db"))
    opened: list[dbapi.Connection] = []

    def make() -> dbapi.Connection:
        opened.append(dbapi.connect(store=store))
        return opened[-1]

    yield make
    for conn in opened:
        conn.close()
    store.close()


def _run(conn: dbapi.Connection, sql: str, params: dict[str, Any] | None = None) -> list[Any]:
    cur = conn.cursor()
    cur.execute(sql, params or {})
    return cur.fetchall() if cur.description else []


def _write_and_read_back(conn: dbapi.Connection, collection: str, ident: int) -> None:
    """A pending row read back by a query SQLite runs (not by key): it goes through the
    connection's overlay table of that collection."""
    _run(conn, f"INSERT INTO {collection} (id, v) VALUES (:i, :i)", {"i": ident})
    assert _run(conn, f"SELECT {collection}.id FROM {collection} WHERE {collection}.v = :i",
                {"i": ident}) == [(ident,)]


def test_collections_differing_in_case_do_not_share_an_overlay_table(
        connect: Callable[[], dbapi.Connection]) -> None:
    """The overlays of ``Things`` and (later) ``things`` were one SQLite table: dropping
    ``things`` dropped the table ``Things``'s overlay still named, and every later rollback of
    the connection failed with ``no such table: temp.overlay1:Things`` (SQLAlchemy's suite:
    test_generative's ``Table2``, then test_poly_linked_list's ``table2``)."""
    mine, theirs = connect(), connect()
    _run(mine, f"CREATE COLLECTION Things {json.dumps(SPEC)}")
    _run(mine, f"CREATE COLLECTION others {json.dumps(SPEC)}")
    _write_and_read_back(mine, "Things", 1)
    mine.commit()
    # dropped by another connection: this connection's overlay of Things stays (empty)
    _run(theirs, "DROP COLLECTION Things")
    _run(theirs, f"CREATE COLLECTION things {json.dumps(SPEC)}")
    _write_and_read_back(mine, "things", 2)
    _run(mine, "DROP COLLECTION things")
    _write_and_read_back(mine, "others", 3)
    mine.rollback()
    _write_and_read_back(mine, "others", 4)
    mine.commit()
    assert _run(theirs, "SELECT others.id FROM others") == [(4,)]


def test_pending_rows_survive_another_connections_prepared_rollback(
        connect: Callable[[], dbapi.Connection]) -> None:
    """A two-phase prepare holds a transaction open on a memory store's shared sqlite3
    connection: the rows another connection mirrors into its overlay meanwhile are undone by
    the rollback, though its overlay table (made in an earlier transaction) stays. The
    connection's own pending rows must still be read back."""
    first, second = connect(), connect()
    _run(first, f"CREATE COLLECTION things {json.dumps(SPEC)}")
    _write_and_read_back(second, "things", 1)  # second's overlay table is made here
    second.rollback()
    _run(first, "INSERT INTO things (id, v) VALUES (10, 10)")
    first.prepare()
    _write_and_read_back(second, "things", 2)
    first.rollback_prepared()
    assert _run(second, "SELECT things.id FROM things WHERE things.v > 0") == [(2,)]
    second.commit()
    assert _run(first, "SELECT things.id FROM things") == [(2,)]


def test_cleared_rows_do_not_come_back_after_another_connections_prepared_rollback(
        connect: Callable[[], dbapi.Connection]) -> None:
    """A connection ending its transaction during another's prepared one clears its overlay
    inside that transaction: the rollback brings the cleared rows back, and the next
    transaction must not read them as its own pending rows."""
    first, second = connect(), connect()
    _run(first, f"CREATE COLLECTION things {json.dumps(SPEC)}")
    _run(first, "INSERT INTO things (id, v) VALUES (10, 10)")
    _write_and_read_back(second, "things", 1)  # mirrored before the prepare: stays
    first.prepare()
    second.rollback()  # clears the overlay, inside first's transaction
    first.rollback_prepared()
    _write_and_read_back(second, "things", 2)
    assert _run(second, "SELECT things.id FROM things WHERE things.v > 0") == [(2,)]


def _plan_through_overlay(conn: dbapi.Connection, query: str, params: dict[str, Any]
                          ) -> tuple[list[Any], list[str]]:
    """The rows of a query reading the overlay, and SQLite's plan of the SQL it ran."""
    statements: list[str] = []
    raw = conn.backend._conn  # type: ignore[attr-defined]
    raw.set_trace_callback(statements.append)
    try:
        rows = _run(conn, query, params)
    finally:
        raw.set_trace_callback(None)
    select = next(s for s in statements if s.startswith("WITH") and "overlay" in s)
    return rows, [row[-1] for row in raw.execute("EXPLAIN QUERY PLAN " + select)]


def test_a_query_by_a_field_finds_pending_rows_by_an_index(
        connect: Callable[[], dbapi.Connection]) -> None:
    """The overlay table is indexed on the fields queries filter on, as the collection is,
    and a plain query is planned as one (the overlay's two arms each searched by their
    index), not as a co-routine whose rows are filtered again."""
    conn = connect()
    _run(conn, f"CREATE COLLECTION things {json.dumps(SPEC)}")
    cur = conn.cursor()
    cur.executemany("INSERT INTO things (id, v) VALUES (?, ?)", [(i, i) for i in range(100)])
    conn.commit()
    cur.executemany("UPDATE things SET v = ? WHERE id = ?", [(i + 1000, i) for i in range(50)])
    want = [(i,) for i in [*range(6), *range(50, 100)]]
    query = "SELECT things.id FROM things WHERE things.v BETWEEN :lo AND :hi"
    rows, plan = _plan_through_overlay(conn, query, {"lo": 40, "hi": 1005})
    assert sorted(rows) == want
    assert not any("CO-ROUTINE" in line for line in plan), plan
    assert any(line.startswith("SEARCH temp.overlay") and "USING INDEX" in line
               for line in plan), plan
    # ORDER BY a field: SQLite keeps the co-routine, its pending arm searched by the index
    rows, plan = _plan_through_overlay(conn, query + " ORDER BY things.id",
                                       {"lo": 40, "hi": 1005})
    assert rows == want
    assert any(line.startswith("SEARCH temp.overlay") and "USING INDEX" in line
               for line in plan), plan
    conn.commit()
    assert sorted(_run(conn, query, {"lo": 40, "hi": 1005})) == want


def test_a_failed_overlay_copy_is_made_again_by_the_next_read(
        connect: Callable[[], dbapi.Connection], monkeypatch: pytest.MonkeyPatch) -> None:
    """Pending rows the overlay table could not take stay to be copied: the next read that
    goes through the overlay copies them, and reads every pending row."""
    conn = connect()
    _run(conn, f"CREATE COLLECTION things {json.dumps(SPEC)}")
    cur = conn.cursor()
    cur.executemany("INSERT INTO things (id, v) VALUES (?, ?)", [(i, i) for i in range(3)])
    backend = conn.backend
    write = type(backend)._write_overlay

    def fail_once(self: Any, *args: Any) -> None:
        monkeypatch.setattr(type(backend), "_write_overlay", write)
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(type(backend), "_write_overlay", fail_once)
    with pytest.raises(dbapi.OperationalError, match="disk I/O error"):
        _run(conn, "SELECT things.id FROM things WHERE things.v >= 0")
    assert _run(conn, "SELECT things.id FROM things WHERE things.v >= 0 ORDER BY things.id"
                ) == [(0,), (1,), (2,)]
