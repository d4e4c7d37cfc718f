"""The commit's short paths (one execute for a one-row insert, PATCHes without an expected
change vector updated with no comparison, the schema re-check skipped while no schema
changed) give the rows, replies and failures of the general path, and a failed batch leaves
nothing written."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    exc,
    func,
    insert,
    select,
)

from sqla_docstore.backends.embedded.connection import EmbeddedConnection
from sqla_docstore.backends.embedded.store import EmbeddedStore
from sqla_docstore.commands import Batch, Command, Patch, Put
from sqla_docstore.errors import ConcurrencyError, DataError, DuplicateKeyError
from sqla_docstore.schema import CollectionSpec, FieldSpec

PEOPLE = CollectionSpec(
    "people", (FieldSpec("id", "INTEGER", False), FieldSpec("name"), FieldSpec("n")), ("id",),
    "id",
)


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[EmbeddedConnection, EmbeddedConnection]]:
    """Two stores with the same three documents and database id (comparable change vectors)."""
    conns = []
    for name in ("a", "b"):
        store = EmbeddedStore(str(tmp_path / f"{name}.db"))
        with store.connection() as c:
            store.create_collection(c, PEOPLE)
        store.database_id = "same-database-id"
        conn = EmbeddedConnection(store)
        conn.submit(Batch([Put("people", f"people/{i}", {"id": i, "name": f"p{i}", "n": i}, "")
                           for i in range(3)]))
        conns.append(conn)
    yield conns[0], conns[1]
    for conn in conns:
        conn.close()


def _rows(path: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as raw:
        return raw.execute('SELECT id, body, cv, meta FROM "@docs/people" ORDER BY rowid'
                           ).fetchall()


def _replies(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in ("LastModified", "@last-modified")}
            for r in results]


def _etag(path: Path) -> int:
    with sqlite3.connect(path) as raw:
        return int(raw.execute("""SELECT value FROM "@meta" WHERE key = 'etag'""").fetchone()[0])


# ------------------------------------------------------------------ one-row insert runs


def test_one_row_inserts_store_what_an_insert_run_stores(
    pair: tuple[EmbeddedConnection, EmbeddedConnection], tmp_path: Path
) -> None:
    """Each PUT alone (one execute) and all in one batch (one executemany): the same rows,
    change vectors and replies, and the same etag count."""
    single, batched = pair
    puts: list[Command] = [Put("people", f"people/{i}", {"id": i, "name": f"é\"{i}", "n": None},
                               "") for i in range(10, 15)]
    got = [r for cmd in puts for r in single.submit(Batch([cmd]))]
    want = batched.submit(Batch(list(puts)))
    assert _replies(got) == _replies(want)
    assert [r["@change-vector"] for r in got] == [
        f"A:{n}-same-database-id" for n in range(4, 9)]
    assert _rows(tmp_path / "a.db") == _rows(tmp_path / "b.db")
    assert _etag(tmp_path / "a.db") == _etag(tmp_path / "b.db") == 8


def test_a_one_row_insert_of_a_stored_id_is_a_duplicate_key_and_writes_nothing(
    pair: tuple[EmbeddedConnection, EmbeddedConnection], tmp_path: Path
) -> None:
    conn = pair[0]
    before, etag = _rows(tmp_path / "a.db"), _etag(tmp_path / "a.db")
    with pytest.raises(DuplicateKeyError, match="'people/1' already exists"):
        conn.submit(Batch([Put("people", "people/1", {"id": 1, "name": "again"}, "")]))
    # the one-row insert first, a failing one after it: the whole batch is refused
    with pytest.raises(DuplicateKeyError, match="'people/2' already exists"):
        conn.submit(Batch([Put("people", "people/50", {"id": 50}, ""),
                           Patch("people", "people/0", {"name": "x"}),
                           Put("people", "people/2", {"id": 2}, "")]))
    with pytest.raises(DataError, match="NUL"):
        conn.submit(Batch([Put("people", "people/51", {"id": 51, "name": "a\x00b"}, "")]))
    assert _rows(tmp_path / "a.db") == before
    assert _etag(tmp_path / "a.db") == etag


@pytest.mark.parametrize("repeated", [False, True])
def test_a_duplicate_key_in_the_middle_of_an_insert_run_writes_nothing(
    pair: tuple[EmbeddedConnection, EmbeddedConnection], tmp_path: Path, repeated: bool
) -> None:
    """A stored id, or an id given twice, met in the middle of a run of 2,000 inserts."""
    conn = pair[0]
    before = _rows(tmp_path / "a.db")
    puts: list[Command] = [Put("people", f"people/{i}", {"id": i}, "")
                           for i in range(100, 2100)]
    taken = "people/150" if repeated else "people/1"
    puts.insert(1000, Put("people", taken, {"id": int(taken.split("/")[1])}, ""))
    with pytest.raises(DuplicateKeyError, match=f"'{taken}' already exists"):
        conn.submit(Batch(puts), results=False)
    assert _rows(tmp_path / "a.db") == before


# ------------------------------------------------------- PATCHes with and without a check


def test_checked_and_unchecked_patches_in_one_run_match_one_by_one(
    pair: tuple[EmbeddedConnection, EmbeddedConnection], tmp_path: Path
) -> None:
    batched, single = pair
    cvs = {i: cv for i, _, cv, _ in _rows(tmp_path / "a.db")}
    patches: list[Command] = [
        Patch("people", "people/0", {"name": "blind"}),
        Patch("people", "people/1", {"name": "checked"}, cvs["people/1"]),
        Patch("people", "people/2", {"n": 2**70}, unset=("name",)),
    ]
    got = batched.submit(Batch(list(patches)))
    want = [r for cmd in patches for r in single.submit(Batch([cmd]))]
    assert _replies(got) == _replies(want)
    assert _rows(tmp_path / "a.db") == _rows(tmp_path / "b.db")


def test_a_stale_patch_among_unchecked_ones_writes_nothing(
    pair: tuple[EmbeddedConnection, EmbeddedConnection], tmp_path: Path
) -> None:
    conn = pair[0]
    before, etag = _rows(tmp_path / "a.db"), _etag(tmp_path / "a.db")
    with pytest.raises(ConcurrencyError) as info:
        conn.submit(Batch([
            Patch("people", "people/0", {"name": "x"}),
            Patch("people", "people/1", {"name": "y"}, "A:999-stale"),
            Patch("people", "people/2", {"name": "z"}),
        ]))
    assert info.value.stale == ("people/1",)
    with pytest.raises(ConcurrencyError) as info:  # a missing document, no check asked
        conn.submit(Batch([Patch("people", "people/0", {"name": "x"}),
                           Patch("people", "people/404", {"name": "y"})]))
    assert info.value.stale == ("people/404",)
    assert _rows(tmp_path / "a.db") == before
    assert _etag(tmp_path / "a.db") == etag


# ------------------------------------------------- the schema re-check at commit


@pytest.fixture(params=["memory", "file"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return "docstore://" if request.param == "memory" else f"docstore:///{tmp_path / 'n.db'}"


def test_a_schema_changed_by_another_connection_of_the_process_fails_the_commit(
    store_url: str,
) -> None:
    """Rows checked against the old schema (NULL allowed) are refused once another
    connection of the same engine (same store object: no catalog reload) redefined the
    table, although this transaction read no schema since."""
    engine = create_engine(store_url)
    md = MetaData()
    notes = Table("notes", md, Column("id", Integer, primary_key=True),
                  Column("body", String(20), nullable=True))
    strict = Table("notes", MetaData(), Column("id", Integer, primary_key=True),
                   Column("body", String(20), nullable=False))
    notes.create(engine)
    try:
        with engine.connect() as conn:
            conn.execute(insert(notes), {"body": None})  # pending, checked: NULL is allowed
            with engine.connect() as other:
                notes.drop(other)
                strict.create(other)
                other.commit()
            with pytest.raises(exc.OperationalError, match="changed by another connection"):
                conn.commit()
        with engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(strict)) == 0
    finally:
        engine.dispose()


def test_a_commit_with_no_schema_change_since_its_reads_is_applied(store_url: str) -> None:
    engine = create_engine(store_url)
    notes = Table("notes", MetaData(), Column("id", Integer, primary_key=True),
                  Column("body", String(20), nullable=True))
    notes.create(engine)
    try:
        with engine.connect() as conn:
            conn.execute(insert(notes), [{"body": None}, {"body": "x"}])
            with engine.connect() as other:  # DDL of another table: this one unchanged
                Table("other", MetaData(), Column("id", Integer, primary_key=True)).create(other)
                other.commit()
            conn.commit()
        with engine.connect() as conn:
            assert conn.scalars(select(notes.c.body).order_by(notes.c.id)).all() == [None, "x"]
    finally:
        engine.dispose()


class _Interrupted(BaseException):
    """A KeyboardInterrupt-like exit, raised inside the commit."""


def test_an_interrupt_inside_the_commit_leaves_the_store_as_it_was_and_the_session_usable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A BaseException (not an Exception) raised after the batch's inserts ran, in the
    middle of applying it: the write transaction is rolled back whole; the session is usable
    after rollback(), as SQLAlchemy documents."""
    from sqlalchemy.orm import Session

    from sqla_docstore.backends.embedded import connection as embedded

    path = tmp_path / "store.db"
    engine = create_engine(f"docstore:///{path}")
    metadata = MetaData()
    people = Table("people", metadata, Column("id", Integer, primary_key=True),
                   Column("name", String(20)))
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(people), [{"name": "a"}, {"name": "b"}])
    before = _rows(path)
    real = embedded._apply_one

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise _Interrupted

    with Session(engine) as session:
        session.execute(insert(people), [{"name": f"new{i}"} for i in range(100)])
        session.execute(people.delete().where(people.c.name == "a"))  # after the inserts
        monkeypatch.setattr(embedded, "_apply_one", interrupted)
        with pytest.raises(_Interrupted):
            session.commit()
        monkeypatch.setattr(embedded, "_apply_one", real)
        assert _rows(path) == before
        session.rollback()
        session.execute(insert(people), {"name": "c"})
        session.commit()
    with engine.connect() as conn:
        assert conn.execute(select(people.c.name).order_by(people.c.id)).scalars().all() == [
            "a", "b", "c"]
    engine.dispose()
