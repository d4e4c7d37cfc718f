"""Streaming cursors (``cursor(stream=True)``, SQLAlchemy's ``stream_results`` / ``yield_per``):
rows come from the store as they are fetched, a chunk at a time, and are the rows a buffered
cursor returns."""

from __future__ import annotations

import decimal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from sqla_docstore import dbapi
from sqla_docstore.errors import ConcurrencyError

SPEC = {"fields": [{"name": "id", "type": "INTEGER", "nullable": False},
                   {"name": "name", "type": "VARCHAR"}, {"name": "n", "type": "INTEGER"}],
        "primary_key": ["id"], "autoincrement": "id"}
QUERY = "SELECT t.id, t.name, t.n FROM t WHERE t.n >= :low ORDER BY t.n DESC, t.id"


@pytest.fixture
def file_conn(tmp_path: Path, create_collection: Any) -> Iterator[dbapi.Connection]:
    conn = dbapi.connect(str(tmp_path / "s.db"))
    create_collection(conn, "t", SPEC)
    conn.cursor().executemany("INSERT INTO t (name, n) VALUES (:name, :n)",
                              [{"name": f"r{i}", "n": i % 97} for i in range(2500)])
    conn.commit()
    yield conn
    conn.close()


def _all(conn: dbapi.Connection, stream: bool) -> list[Any]:
    cur = conn.cursor(stream=stream)
    cur.execute(QUERY, {"low": 10})
    return cur.fetchall()


def test_a_stream_returns_the_buffered_rows_in_order(file_conn: dbapi.Connection) -> None:
    expected = _all(file_conn, stream=False)
    assert len(expected) > 2000
    assert _all(file_conn, stream=True) == expected


def test_fetch_calls_mix_across_chunk_boundaries(file_conn: dbapi.Connection) -> None:
    expected = _all(file_conn, stream=False)
    cur = file_conn.cursor(stream=True)
    cur.execute(QUERY, {"low": 10})
    assert cur.streaming
    got = [cur.fetchone()] + cur.fetchmany(998) + cur.fetchmany(5)  # across the 1000 edge
    got += list(cur.fetchmany(1500))
    got += cur.fetchall()
    assert got == expected
    assert cur.fetchone() is None and cur.fetchall() == [] and not cur.streaming


def test_iterating_a_stream_crosses_its_chunks(file_conn: dbapi.Connection) -> None:
    expected = _all(file_conn, stream=False)
    cur = file_conn.cursor(stream=True)
    cur.execute(QUERY, {"low": 10})
    rows = iter(cur)
    got = [next(rows) for _ in range(999)] + cur.fetchmany(3) + list(rows)
    assert got == expected and not cur.streaming


def test_a_stream_reads_the_store_a_chunk_at_a_time(file_conn: dbapi.Connection) -> None:
    cur = file_conn.cursor(stream=True)
    cur.execute(QUERY, {"low": 0})
    cur.fetchone()
    assert len(cur._rows) == 1000  # one chunk in memory, not the 2,500 rows
    cur.close()  # releases the store's cursor mid-stream


def test_pending_writes_are_seen_by_a_stream(file_conn: dbapi.Connection) -> None:
    file_conn.cursor().execute("INSERT INTO t (name, n) VALUES (:name, :n)",
                               {"name": "new", "n": 96})
    names = [r[1] for r in _all(file_conn, stream=True)]
    assert "new" in names  # read whole, with the pending batch overlaid
    assert names == [r[1] for r in _all(file_conn, stream=False)]


def test_a_new_statement_ends_the_previous_stream(file_conn: dbapi.Connection) -> None:
    cur = file_conn.cursor(stream=True)
    cur.execute(QUERY, {"low": 0})
    cur.fetchmany(10)
    cur.execute("SELECT count(*) FROM t")
    assert cur.fetchall() == [(2500,)]


def test_writes_and_commits_go_on_while_a_stream_is_open(file_conn: dbapi.Connection) -> None:
    cur = file_conn.cursor(stream=True)
    cur.execute(QUERY, {"low": 0})
    first = cur.fetchmany(10)
    file_conn.cursor().execute("DELETE FROM t WHERE t.n >= :n", {"n": 0})
    file_conn.commit()
    rest = cur.fetchall()  # the stream reads the snapshot it started on
    assert len(first) + len(rest) == 2500


def test_a_memory_store_streams_whole(conn: dbapi.Connection, create_collection: Any) -> None:
    create_collection(conn, "t", SPEC)
    conn.cursor().execute("INSERT INTO t (name, n) VALUES (:name, :n)", {"name": "a", "n": 1})
    cur = conn.cursor(stream=True)
    cur.execute("SELECT t.name FROM t")
    assert cur.fetchall() == [("a",)]


ODD_QUERIES = [
    "SELECT id, name, age, team FROM users ORDER BY id",
    "SELECT team, age AS a, name FROM users WHERE id > :low ORDER BY id",
    "SELECT users.id, teams.title, users.name FROM users LEFT OUTER JOIN teams "
    "ON teams.id = users.team ORDER BY users.id",
    "SELECT users.name, teams.title FROM users JOIN teams ON teams.id = users.id "
    "ORDER BY users.id",
    "SELECT id, upper(name), name FROM users ORDER BY id",
    "SELECT DISTINCT team FROM users ORDER BY team",
    "SELECT * FROM loose ORDER BY id",
    "SELECT DISTINCT * FROM loose ORDER BY id",
]


@pytest.fixture
def odd_file_conn(tmp_path: Path, create_collection: Any) -> Iterator[dbapi.Connection]:
    """users documents another client wrote, lacking fields or holding other kinds, teams
    for some of them, and an undeclared collection: more than a shaping chunk of each."""
    from sqla_docstore.backends.embedded import connection as embedded
    from sqla_docstore.commands import Batch, Put

    conn = dbapi.connect(str(tmp_path / "odd.db"))
    fields = [{"name": "id", "type": "INTEGER", "nullable": False}] + [
        {"name": n, "type": "JSON"} for n in ("name", "age", "team")]
    create_collection(conn, "users", {"fields": fields, "primary_key": ["id"]})
    create_collection(conn, "teams", {"fields": [{"name": "id", "type": "INTEGER"},
                                                 {"name": "title", "type": "VARCHAR"}],
                                      "primary_key": ["id"]})
    create_collection(conn, "loose", {})  # no schema: ``*`` reads the whole document
    count = 2 * embedded._SHAPE_CHUNK + 7
    odd: dict[int, dict[str, Any]] = {
        5: {"name": "no age"}, 6: {"name": None, "age": 2**70},
        7: {"name": {"nested": [1]}, "age": decimal.Decimal("1.10000000000000000001")},
        count - 2: {"age": [1, "x"], "team": True}, count - 1: {}}
    users = [Put("users", f"users/{i}", {"id": i, **odd.get(i, {"name": f"n{i}", "age": i,
                                                              "team": i % 5})}, "")
             for i in range(count)]
    teams = [Put("teams", f"teams/{i}", {"id": i, "title": f"t{i}"}, "") for i in range(3)]
    loose = [Put("loose", f"loose/{i}", {"id": i, "x": [i]} if i % 3 else {"id": i}, "")
             for i in range(count)]
    conn.backend.submit(Batch(users + teams + loose))
    yield conn
    conn.close()


@pytest.mark.parametrize("query", ODD_QUERIES)
def test_a_stream_gives_the_buffered_rows_of_odd_documents(odd_file_conn: dbapi.Connection,
                                                           query: str) -> None:
    """A stream's plan reads bodies only (its reads are not noted): the rows are the ones a
    buffered read, which reads ids and change vectors too, gives."""
    buffered = odd_file_conn.cursor()
    buffered.execute(query, {"low": 3})
    expected = buffered.fetchall()
    assert expected
    stream = odd_file_conn.cursor(stream=True)
    stream.execute(query, {"low": 3})
    assert stream.streaming
    assert stream.description == buffered.description
    assert stream.fetchall() == expected


def test_a_streamed_read_is_not_noted_as_the_transactions_read(
        file_conn: dbapi.Connection) -> None:
    """Its rows come from a snapshot of their own: a write by key after it loads the document
    (as after no read), and its change vector is not listed; a buffered read is noted (on a
    connection noting its reads, as a DocumentSession's)."""
    file_conn.note_reads = True
    for stream, loads in ((True, 1), (False, 0)):
        cur = file_conn.cursor(stream=stream)
        cur.execute("SELECT t.id, t.name FROM t WHERE t.id = :id OR t.id = :other",
                    {"id": 7, "other": 8})
        assert cur.streaming is stream
        assert len(cur.fetchall()) == 2
        assert ("t/7" in file_conn.change_vectors) is not stream
        before = file_conn.request_counts.get("load", 0)
        file_conn.cursor().execute("UPDATE t SET name = :n WHERE t.id = :id", {"n": "x", "id": 7})
        assert file_conn.request_counts.get("load", 0) - before == loads
        file_conn.rollback()


def test_a_streamed_select_for_update_guards_the_documents_it_read(
        file_conn: dbapi.Connection, tmp_path: Path) -> None:
    cur = file_conn.cursor(stream=True)
    cur.execute("SELECT t.id, t.n FROM t WHERE t.n = :n FOR UPDATE", {"n": 3})
    rows = cur.fetchall()
    assert rows
    guarded = {c.id for c in file_conn.pending.commands}
    assert guarded == {f"t/{row[0]}" for row in rows}
    theirs = dbapi.connect(str(tmp_path / "s.db"))
    theirs.cursor().execute("UPDATE t SET n = 4 WHERE t.id = :id", {"id": rows[0][0]})
    theirs.commit()
    theirs.close()
    with pytest.raises(ConcurrencyError):
        file_conn.commit()


class Base(DeclarativeBase):
    pass


class Row(Base):
    __tablename__ = "rows"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]


def test_yield_per_and_stream_results_give_the_rows(file_engine: sa.Engine) -> None:
    with Session(file_engine) as session:
        session.add_all([Row(name=f"n{i}") for i in range(3000)])
        session.commit()
    with Session(file_engine) as session:
        expected = [r.name for r in session.scalars(sa.select(Row).order_by(Row.id))]
        streamed = [r.name for r in session.scalars(
            sa.select(Row).order_by(Row.id).execution_options(yield_per=500))]
        assert streamed == expected
    with file_engine.connect() as conn:
        result = conn.execution_options(stream_results=True).execute(
            sa.select(Row.name).order_by(Row.id))
        assert [row[0] for part in result.partitions(700) for row in part] == expected


def test_async_stream_reads_in_chunks(db_path: Path) -> None:
    import asyncio

    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

    async def run() -> list[str]:
        engine = create_async_engine(f"docstore:///{db_path}")
        try:
            async with AsyncSession(engine) as session:
                session.add_all([Row(name=f"a{i}") for i in range(2100)])
                await session.commit()
                result = await session.stream_scalars(sa.select(Row.name).order_by(Row.id))
                return [name async for name in result]
        finally:
            await engine.dispose()

    assert asyncio.run(run()) == [f"a{i}" for i in range(2100)]
