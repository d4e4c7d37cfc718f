"""The overlay temp tables an embedded connection mirrors its pending writes into.

Each connection keeps one temp table per collection it wrote and read back in a transaction,
for as long as it lives (cleared at the end of each transaction). SQLite ignores case in table
names; collections do not (``Things`` and ``things`` are two collections, one after the other).
On a memory store all connections share one sqlite3 connection, so its temp schema too.
"""

from __future__ import annotations

import json
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
