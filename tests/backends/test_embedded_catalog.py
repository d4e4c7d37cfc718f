"""The embedded store's catalog across processes and names.

Another process's DDL on the same ``docstore:///file`` store is seen by this process's next
transaction, on the engine it already has and on a new one: a dropped table is gone, a
constraint the other process declared is enforced, and integer keys of a collection it started
over do not collide with ranges this process reserved before. Collection names that differ
only in case name one collection (as in RavenDB and SQLite), so the second one is refused.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import (
    Column,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    exc,
    func,
    insert,
    inspect,
    select,
)

from sqla_docstore import dbapi

OTHER_PROCESS = textwrap.dedent("""
    import sys

    from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert

    url, action = sys.argv[1], sys.argv[2]
    engine = create_engine(url)
    md = MetaData()
    notes = Table("notes", md, Column("id", Integer, primary_key=True),
                  Column("body", String(20), nullable=action != "not_null"))
    notes.drop(engine)
    if action != "drop":
        notes.create(engine)
    if action == "refill":
        with engine.begin() as conn:
            conn.execute(insert(notes), [{"body": f"other {i}"} for i in range(5)])
    engine.dispose()
""")


def _notes(md: MetaData) -> Table:
    return Table("notes", md, Column("id", Integer, primary_key=True),
                 Column("body", String(20), nullable=True))


@pytest.fixture
def url(db_path: Path) -> str:
    return f"docstore:///{db_path}"


def _other_process(tmp_path: Path, url: str, action: str) -> None:
    script = tmp_path / "other.py"
    script.write_text(OTHER_PROCESS)
    done = subprocess.run([sys.executable, str(script), url, action], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_a_table_dropped_by_another_process_is_gone_in_the_next_transaction(
        tmp_path: Path, url: str) -> None:
    engine = create_engine(url)
    _notes(MetaData()).create(engine)
    assert inspect(engine).has_table("notes")
    _other_process(tmp_path, url, "drop")
    try:
        assert not inspect(engine).has_table("notes")
        fresh = create_engine(url)  # same process: the store object is shared
        assert not inspect(fresh).has_table("notes")
        assert "notes" not in inspect(fresh).get_table_names()
        fresh.dispose()
    finally:
        engine.dispose()


def test_a_not_null_declared_by_another_process_is_enforced(tmp_path: Path, url: str) -> None:
    engine = create_engine(url)
    notes = _notes(MetaData())
    notes.create(engine)
    with engine.begin() as conn:
        conn.execute(insert(notes), {"body": None})  # allowed by the schema we created
    _other_process(tmp_path, url, "not_null")  # drops and creates notes with body NOT NULL
    try:
        with pytest.raises(exc.IntegrityError, match="NOT NULL constraint failed: notes.body"):
            with engine.begin() as conn:
                conn.execute(insert(notes), {"body": None})
        with engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(notes)) == 0
    finally:
        engine.dispose()


def test_keys_of_a_table_another_process_started_over_do_not_collide(
        tmp_path: Path, url: str) -> None:
    engine = create_engine(url)
    notes = _notes(MetaData())
    notes.create(engine)
    with engine.begin() as conn:  # reserves a HiLo range in this process, uses 1..3
        conn.execute(insert(notes), [{"body": f"ours {i}"} for i in range(3)])
    _other_process(tmp_path, url, "refill")  # drop, create, insert 5 rows: ids 1..5
    try:
        with engine.begin() as conn:
            conn.execute(insert(notes), {"body": "ours again"})
        with engine.connect() as conn:
            ids = conn.scalars(select(notes.c.id)).all()
        assert len(ids) == len(set(ids)) == 6
    finally:
        engine.dispose()


def test_catalog_check_is_one_read_per_transaction(db_path: Path) -> None:
    """A transaction that uses the catalog reads the store's catalog version once."""
    conn = dbapi.connect(str(db_path))
    try:
        conn.cursor().execute('CREATE COLLECTION notes {"fields": [{"name": "id"}], '
                              '"primary_key": ["id"]}')
        conn.commit()
        statements: list[str] = []
        conn.backend._conn.set_trace_callback(statements.append)  # type: ignore[attr-defined]
        for _ in range(3):
            conn.cursor().execute("SELECT notes.id FROM notes")
        conn.commit()
        conn.cursor().execute("SELECT notes.id FROM notes")
        catalog_reads = [s for s in statements if "'catalog'" in s]
        assert len(catalog_reads) == 2  # one per transaction
    finally:
        conn.close()


# ------------------------------------------------------------------ names ignoring case


def test_a_table_name_differing_only_in_case_is_refused(engine: Engine) -> None:
    upper = Table("Users", MetaData(), Column("id", Integer, primary_key=True))
    lower = Table("users", MetaData(), Column("id", Integer, primary_key=True))
    upper.create(engine)
    with engine.begin() as conn:
        conn.execute(insert(upper), [{"id": 1}, {"id": 2}])
    with pytest.raises(exc.OperationalError, match="already exists|ignore case"):
        lower.create(engine)
    upper.drop(engine)
    assert not inspect(engine).has_table("Users")
    assert not inspect(engine).has_table("users")
    lower.create(engine)  # the name is free again, and the collection is empty
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(lower)) == 0


def test_an_index_name_differing_only_in_case_is_refused() -> None:
    """SQLite ignores case in index names: the second unique index must not be skipped."""
    engine = create_engine("docstore://")
    md = MetaData()
    Table("a", md, Column("id", Integer, primary_key=True), Column("x", Integer),
          Index("IX_KEY", "x", unique=True))
    b = Table("b", md, Column("id", Integer, primary_key=True), Column("y", Integer))
    md.tables["a"].create(engine)
    b.create(engine)
    with pytest.raises(exc.OperationalError, match="index ix_key already exists"):
        Index("ix_key", b.c.y, unique=True).create(engine)
    engine.dispose()


# --------------------------------------------------------------------------- HiLo


def test_dropping_a_table_starts_its_keys_over_as_in_sqlite(engine: Engine) -> None:
    """HiLo ranges are kept by id prefix ("users" for table "Users")."""
    md = MetaData()
    table = Table("Users", md, Column("id", Integer, primary_key=True), Column("n", Integer))
    oracle = create_engine("sqlite://")
    for eng in (engine, oracle):
        table.create(eng)
        with eng.begin() as conn:
            conn.execute(insert(table), [{"n": i} for i in range(3)])
        table.drop(eng)
        table.create(eng)
        with eng.begin() as conn:
            conn.execute(insert(table), [{"n": 9}])
    with engine.connect() as ours, oracle.connect() as theirs:
        assert ours.scalars(select(table.c.id)).all() == theirs.scalars(
            select(table.c.id)).all() == [1]
    oracle.dispose()


def test_a_commit_after_another_process_changed_its_table_applies_nothing(
        tmp_path: Path, url: str) -> None:
    """Rows checked against the old schema (NULL allowed) are not stored in the new one."""
    engine = create_engine(url)
    notes = _notes(MetaData())
    notes.create(engine)
    try:
        with engine.connect() as conn:
            conn.execute(insert(notes), {"body": None})  # pending, checked: NULL is allowed
            _other_process(tmp_path, url, "not_null")
            with pytest.raises(exc.OperationalError, match="changed by another connection"):
                conn.commit()
        with engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(notes)) == 0
    finally:
        engine.dispose()


def test_own_ddl_in_a_transaction_does_not_fail_its_commit(engine: Engine) -> None:
    notes = _notes(MetaData())
    notes.create(engine)
    other = Table("other", MetaData(), Column("id", Integer, primary_key=True),
                  Column("body", String(20)))
    with engine.connect() as conn:
        conn.execute(insert(notes), {"body": "x"})
        other.create(conn)
        Index("ix_notes_body", notes.c.body).create(conn)
        conn.commit()
    with engine.connect() as conn:
        assert conn.scalars(select(notes.c.body)).all() == ["x"]


def test_a_unique_index_over_repeated_values_is_refused_and_not_declared() -> None:
    conn = dbapi.connect()
    cur = conn.cursor()
    cur.execute('CREATE COLLECTION t {"fields": [{"name": "id"}, {"name": "x"}], '
                '"primary_key": ["id"]}')
    cur.executemany("INSERT INTO t (id, x) VALUES (:id, :x)", [{"id": 1, "x": 1},
                                                              {"id": 2, "x": 1}])
    conn.commit()
    with pytest.raises(dbapi.IntegrityError, match="UNIQUE index ix_x can't be created on t"):
        cur.execute('CREATE INDEX ix_x {"collection": "t", "fields": ["x"], "unique": true}')
    assert "ix_x" not in conn.backend.spec("t").indexes
    conn.close()


# ------------------------------------------------ unique indexes over stored rows


def test_a_unique_index_created_over_stored_rows_covers_them(engine: Engine) -> None:
    notes = _notes(MetaData())
    notes.create(engine)
    with engine.begin() as conn:
        conn.execute(insert(notes), [{"body": "a"}, {"body": "b"}, {"body": None}])
    Index("ix_notes_body", notes.c.body, unique=True).create(engine)
    with pytest.raises(exc.IntegrityError):
        with engine.begin() as conn:
            conn.execute(insert(notes), {"body": "a"})
    with engine.begin() as conn:  # NULLs are never duplicates
        conn.execute(insert(notes), [{"body": None}, {"body": "c"}])
    with engine.connect() as conn:
        bodies = conn.scalars(select(notes.c.body)).all()
    assert sorted(bodies, key=lambda b: (b is not None, b or "")) == [None, None, "a", "b", "c"]


def test_a_unique_index_over_repeated_stored_values_is_refused(engine: Engine) -> None:
    notes = _notes(MetaData())
    notes.create(engine)
    with engine.begin() as conn:
        conn.execute(insert(notes), [{"body": "a"}, {"body": "a"}])
    with pytest.raises(exc.IntegrityError):
        Index("ix_notes_body", notes.c.body, unique=True).create(engine)
    assert inspect(engine).get_indexes("notes") == []
    with engine.begin() as conn:  # the index does not exist: a third "a" is fine
        conn.execute(insert(notes), {"body": "a"})


def test_ddl_after_another_process_ddl_does_not_hide_it(tmp_path: Path, url: str,
                                                        db_path: Path) -> None:
    engine = create_engine(url)
    _notes(MetaData()).create(engine)
    engine.dispose()
    conn = dbapi.connect(str(db_path))
    try:
        cur = conn.cursor()
        cur.execute("SELECT notes.id FROM notes")  # this transaction checked the catalog
        _other_process(tmp_path, url, "drop")
        cur.execute('CREATE COLLECTION added {"fields": [{"name": "id"}], '
                    '"primary_key": ["id"]}')  # counts one more change, after theirs
        conn.commit()
        with pytest.raises(dbapi.OperationalError, match="no such collection: notes"):
            conn.backend.spec("notes")
    finally:
        conn.close()


def test_dropping_a_table_listed_twice_by_an_older_store_drops_both_names(
        db_path: Path) -> None:
    """Older versions let "Users" and "users" both into the catalog, over one SQLite table."""
    conn = dbapi.connect(str(db_path))
    conn.cursor().execute('CREATE COLLECTION Users {"fields": [{"name": "id"}], '
                          '"primary_key": ["id"]}')
    conn.close()
    with sqlite3.connect(db_path) as raw:  # what the older version wrote for "users"
        raw.execute("""INSERT INTO "@collections" SELECT 'users', '"@docs/users"', spec
                       FROM "@collections" WHERE name = 'Users'""")
        raw.execute("""UPDATE "@meta" SET value = value + 1 WHERE key = 'catalog'""")
    conn = dbapi.connect(str(db_path))
    try:
        assert {"Users", "users"} <= set(conn.backend.collection_names())
        conn.cursor().execute("DROP COLLECTION users")
        assert "Users" not in conn.backend.collection_names()
    finally:
        conn.close()
