"""``Connection.note_reads``: on the embedded store a query of a transaction that has not
written reads the documents' bodies alone, unless the connection notes its reads (a
DocumentSession's) or the query is a SELECT ... FOR UPDATE. A write by key after such a read
loads its document, and sees a commit made meanwhile as SQLite's UPDATE does."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from sqla_docstore import dbapi
from sqla_docstore.backends.embedded.connection import EmbeddedConnection
from sqla_docstore.backends.embedded.store import collection_table
from sqla_docstore.errors import ConcurrencyError

_CREATE = "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, n INTEGER)"
_ROWS = [(i, f"u{i}", i) for i in range(1, 21)]


def _filled(path: Path) -> tuple[dbapi.Connection, dbapi.Connection]:
    """Two connections on a file store holding ``_ROWS``."""
    mine, theirs = dbapi.connect(str(path)), dbapi.connect(str(path))
    cur = mine.cursor()
    cur.execute(_CREATE)
    cur.executemany("INSERT INTO t (id, name, n) VALUES (?, ?, ?)", _ROWS)
    mine.commit()
    return mine, theirs


def _stored_versions(conn: dbapi.Connection) -> dict[str, str]:
    backend = conn.backend
    assert isinstance(backend, EmbeddedConnection)
    return {doc_id: backend.store.change_vector(cv) for doc_id, cv in backend._conn.execute(
        f"SELECT id, cv FROM {collection_table('t')}")}


def _read(conn: dbapi.Connection) -> list[Any]:
    cur = conn.cursor()
    cur.execute("SELECT id, name, n FROM t WHERE n BETWEEN 1 AND 20 ORDER BY id")
    return cur.fetchall()


def test_a_read_is_noted_with_its_versions_only_where_something_uses_them(
        tmp_path: Path) -> None:
    mine, theirs = _filled(tmp_path / "s.db")
    stored = _stored_versions(mine)
    assert mine.note_reads is False
    assert _read(mine) == _ROWS
    assert not any(doc_id in mine.change_vectors for doc_id in stored)  # bodies only
    mine.note_reads = True  # as a DocumentSession sets it
    assert _read(mine) == _ROWS
    assert {doc_id: mine.change_vectors[doc_id] for doc_id in stored} == stored
    mine.rollback()
    assert mine.note_reads is True  # (kept across transactions)
    mine.note_reads = False
    # a transaction that has written notes what it reads (it may well write it)
    mine.cursor().execute("INSERT INTO t (id, name, n) VALUES (99, 'new', 99)")
    assert _read(mine) == _ROWS
    assert {doc_id: mine.change_vectors[doc_id] for doc_id in stored} == stored
    mine.close()
    theirs.close()


def _update_after_their_commit(mine: Any, theirs: Any) -> list[Any]:
    """``mine`` reads every row, ``theirs`` changes row 1's n and deletes row 2 and commits,
    then ``mine`` sets the names of rows 1-3 by key and commits: the rowcounts, and the
    rows as stored after."""
    read = _read(mine)
    cur = theirs.cursor()
    cur.execute("UPDATE t SET n = -1 WHERE id = 1")
    cur.execute("DELETE FROM t WHERE id = 2")
    theirs.commit()
    counts = []
    cur = mine.cursor()
    for row in read[:3]:
        cur.execute("UPDATE t SET name = ? WHERE id = ?", (f"mine{row[0]}", row[0]))
        counts.append(cur.rowcount)
    mine.commit()
    cur.execute("SELECT id, name, n FROM t ORDER BY id")
    return [counts, cur.fetchall()]


def test_an_update_by_key_after_a_read_sees_a_commit_made_between_as_sqlite_does(
        tmp_path: Path) -> None:
    """Not noted, the read leaves nothing for the UPDATE to start from: it loads its
    document, so a row deleted meanwhile is not updated (rowcount 0) and a field changed
    meanwhile is kept, as in SQLite (whose SELECT, outside a transaction, holds no lock)."""
    mine, theirs = _filled(tmp_path / "s.db")
    got = _update_after_their_commit(mine, theirs)
    oracle_path = tmp_path / "oracle.db"
    oracle, other = sqlite3.connect(oracle_path), sqlite3.connect(oracle_path)
    oracle.execute(_CREATE)
    oracle.executemany("INSERT INTO t (id, name, n) VALUES (?, ?, ?)", _ROWS)
    oracle.commit()
    assert got == _update_after_their_commit(oracle, other)
    assert got[0] == [1, 0, 1]
    for conn in (mine, theirs, oracle, other):
        conn.close()


@pytest.mark.parametrize("note_reads", [False, True])
def test_select_for_update_guards_what_it_read_on_any_connection(
        tmp_path: Path, note_reads: bool) -> None:
    mine, theirs = _filled(tmp_path / "s.db")
    mine.note_reads = note_reads
    cur = mine.cursor()
    cur.execute("SELECT id, name FROM t WHERE n BETWEEN 3 AND 5 FOR UPDATE")
    assert cur.fetchall() == [(3, "u3"), (4, "u4"), (5, "u5")]
    assert mine.note_reads is note_reads
    assert {c.id for c in mine.pending.commands} == {"t/3", "t/4", "t/5"}
    theirs.cursor().execute("UPDATE t SET name = 'theirs' WHERE id = 4")
    theirs.commit()
    with pytest.raises(ConcurrencyError):
        mine.commit()
    assert _read(theirs)[3] == (4, "theirs", 4)
    mine.close()
    theirs.close()
