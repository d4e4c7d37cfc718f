"""A store file deleted (or replaced) while this process still has it open: a new connection
to the path opens the file now there, as sqlite3 does, not the old file's state; connections
of the old store that open the path again are refused with a clear error instead of mixing
the old file's catalog and HiLo ranges with the new file."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from sqla_docstore import dbapi
from sqla_docstore.errors import OperationalError


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(f"{path}{suffix}"):
            os.remove(f"{path}{suffix}")


def _fill(conn: object, rows: list[tuple[int, str]]) -> None:
    cur = conn.cursor()  # type: ignore[attr-defined]
    cur.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    cur.executemany("INSERT INTO t (id, v) VALUES (?, ?)", rows)
    conn.commit()  # type: ignore[attr-defined]


@pytest.mark.parametrize("driver", ["sqlite3", "docstore"])
def test_a_deleted_file_opens_as_a_new_empty_store(tmp_path: Path, driver: str) -> None:
    path = tmp_path / "app.db"
    connect = sqlite3.connect if driver == "sqlite3" else dbapi.connect
    old = connect(str(path))
    _fill(old, [(1, "old"), (2, "old")])
    _remove(path)  # (the old connection stays open, as an engine's pool keeps it)
    new = connect(str(path))
    _fill(new, [(1, "new")])
    cur = new.cursor()
    cur.execute("SELECT id, v FROM t ORDER BY id")
    assert cur.fetchall() == [(1, "new")]
    new.close()
    again = connect(str(path))
    cur = again.cursor()
    cur.execute("SELECT id, v FROM t ORDER BY id")
    assert cur.fetchall() == [(1, "new")]
    again.close()
    old.close()


def test_a_file_replaced_by_another_store_is_read_as_that_store(tmp_path: Path) -> None:
    path, other = tmp_path / "app.db", tmp_path / "other.db"
    first = dbapi.connect(str(path))
    _fill(first, [])
    first.cursor().execute("INSERT INTO t (v) VALUES ('a')")  # (a HiLo range of app.db's)
    first.commit()
    second = dbapi.connect(str(other))
    _fill(second, [(2, "b"), (3, "b")])
    second.close()
    _remove(path)
    os.rename(other, path)
    reader = dbapi.connect(str(path))
    cur = reader.cursor()
    cur.execute("SELECT id, v FROM t ORDER BY id")
    assert cur.fetchall() == [(2, "b"), (3, "b")]
    cur.execute("INSERT INTO t (v) VALUES ('generated')")  # HiLo of the file now there
    reader.commit()
    cur.execute("SELECT id, v FROM t ORDER BY id")
    assert cur.fetchall() == [(2, "b"), (3, "b"), (4, "generated")]
    reader.close()
    first.close()


def test_the_old_store_refuses_to_open_the_replaced_file(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    store = dbapi.open_store(str(path))
    old = dbapi.connect(str(path))
    _fill(old, [(1, "old")])
    _remove(path)
    dbapi.connect(str(path)).close()  # a new store bootstraps the new file
    with pytest.raises(OperationalError, match="deleted or replaced") as info:
        store.open_connection()
    assert str(path) in str(info.value)
    old.close()
