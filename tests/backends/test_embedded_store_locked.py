"""A store whose write lock another process holds: every path that writes to SQLite (HiLo ranges,
automatic indexes, DDL, commit, opening the store) raises OperationalError, the sqlite3 error
kept as its cause, within the store's timeout."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sqla_docstore import dbapi, errors
from sqla_docstore.backends.embedded.store import EmbeddedStore

USERS = ('CREATE COLLECTION users {"fields": [{"name": "id", "type": "INTEGER", "nullable": '
         'false}, {"name": "name", "type": "VARCHAR"}, {"name": "age", "type": "INTEGER"}], '
         '"primary_key": ["id"], "autoincrement": "id"}')
TAGS = ('CREATE COLLECTION tags {"fields": [{"name": "code", "type": "VARCHAR", "nullable": '
        'false}], "primary_key": ["code"]}')
TIMEOUT = 0.2


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EmbeddedStore]:
    st = EmbeddedStore(str(tmp_path / "locked.db"), timeout=TIMEOUT)
    with dbapi.connect(store=st) as setup:
        setup.cursor().execute(USERS)
        setup.cursor().execute(TAGS)
    yield st
    st.close()


@pytest.fixture
def conn(store: EmbeddedStore) -> Iterator[dbapi.Connection]:
    c = dbapi.connect(store=store)
    yield c
    c.close()


@pytest.fixture
def write_lock(store: EmbeddedStore) -> Iterator[sqlite3.Connection]:
    """Another connection in the middle of a write transaction."""
    assert store.path is not None
    raw = sqlite3.connect(store.path, isolation_level=None)
    raw.execute("BEGIN IMMEDIATE")
    yield raw
    raw.execute("ROLLBACK")
    raw.close()


def _insert_with_hilo(conn: dbapi.Connection) -> None:
    conn.cursor().execute("INSERT INTO users (name) VALUES (:n)", {"n": "a"})


def _query_needing_an_auto_index(conn: dbapi.Connection) -> None:
    conn.cursor().execute("SELECT users.id FROM users WHERE users.age = :a", {"a": 3})


def _create_collection(conn: dbapi.Connection) -> None:
    conn.cursor().execute('CREATE COLLECTION more {"fields": []}')


def _drop_collection(conn: dbapi.Connection) -> None:
    conn.cursor().execute("DROP COLLECTION tags")


def _create_index(conn: dbapi.Connection) -> None:
    conn.cursor().execute('CREATE INDEX ix_name {"collection": "users", "fields": ["name"]}')


def _commit(conn: dbapi.Connection) -> None:
    conn.cursor().execute("INSERT INTO tags (code) VALUES (:c)", {"c": "x"})
    conn.commit()


@pytest.mark.parametrize("action", [_insert_with_hilo, _query_needing_an_auto_index,
                                    _create_collection, _drop_collection, _create_index, _commit],
                         ids=lambda f: f.__name__.strip("_"))
def test_a_held_write_lock_is_an_operational_error_with_its_cause(
    conn: dbapi.Connection, write_lock: sqlite3.Connection,
    action: Callable[[dbapi.Connection], None],
) -> None:
    started = time.monotonic()
    with pytest.raises(errors.OperationalError, match="database is locked") as caught:
        action(conn)
    assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
    assert "write lock" in str(caught.value)
    assert time.monotonic() - started < TIMEOUT + 5


def test_the_work_succeeds_once_the_lock_is_released(conn: dbapi.Connection,
                                                     store: EmbeddedStore) -> None:
    assert store.path is not None
    raw = sqlite3.connect(store.path, isolation_level=None)
    raw.execute("BEGIN IMMEDIATE")
    with pytest.raises(errors.OperationalError):
        _insert_with_hilo(conn)
    raw.execute("ROLLBACK")
    raw.close()
    _insert_with_hilo(conn)
    conn.commit()
    cur = conn.cursor()
    cur.execute("SELECT users.name FROM users")
    assert cur.fetchall() == [("a",)]


def test_opening_a_locked_store_is_an_operational_error(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("CREATE TABLE other (x)")
    raw.execute("BEGIN EXCLUSIVE")  # not WAL yet: opening must switch the journal mode
    try:
        with pytest.raises(errors.OperationalError, match="opening the store") as caught:
            dbapi.connect(str(path), timeout=TIMEOUT)
        assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
    finally:
        raw.execute("ROLLBACK")
        raw.close()
    dbapi.connect(str(path), timeout=TIMEOUT).close()  # fine once the lock is gone
