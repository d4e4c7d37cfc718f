"""The collector is paused around bulk DB-API calls and always given back as it was."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from sqla_docstore import dbapi, errors
from sqla_docstore.dbapi import gc_pause
from sqla_docstore.dbapi.connection import Cursor


@pytest.fixture
def gc_enabled() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def _record_gc_state(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    seen: list[bool] = []
    run = Cursor._run

    def spy(self: Cursor, *args: object, **kwargs: object) -> None:
        seen.append(gc.isenabled())
        run(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Cursor, "_run", spy)
    return seen


def _table(conn: dbapi.Connection) -> dbapi.Cursor:
    cur = conn.cursor()
    cur.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    return cur


def test_bulk_executemany_runs_with_the_collector_paused_and_resumes_it(
        gc_enabled: None, monkeypatch: pytest.MonkeyPatch) -> None:
    conn = dbapi.connect(":memory:")
    cur = _table(conn)
    seen = _record_gc_state(monkeypatch)
    cur.executemany("INSERT INTO t (id, v) VALUES (:id, :v)",
                    [{"id": i, "v": str(i)} for i in range(gc_pause.BULK)])
    cur.executemany("INSERT INTO t (id, v) VALUES (:id, :v)",
                    [{"id": -i - 1, "v": "few"} for i in range(3)])
    assert seen == [False, True]
    assert gc.isenabled()
    conn.commit()
    cur.execute("SELECT count(*) FROM t")
    assert cur.fetchone() == (gc_pause.BULK + 3,)


def test_a_failing_bulk_call_gives_the_collector_back(gc_enabled: None) -> None:
    conn = dbapi.connect(":memory:")
    cur = _table(conn)
    rows = [{"id": i, "v": str(i)} for i in range(gc_pause.BULK)] + [{"id": 0, "v": "dup"}]
    with pytest.raises(errors.IntegrityError):
        cur.executemany("INSERT INTO t (id, v) VALUES (:id, :v)", rows)
    assert gc.isenabled()


def test_a_collector_the_application_disabled_stays_disabled(gc_enabled: None) -> None:
    conn = dbapi.connect(":memory:")
    cur = _table(conn)
    gc.disable()
    cur.executemany("INSERT INTO t (id, v) VALUES (:id, :v)",
                    [{"id": i, "v": str(i)} for i in range(gc_pause.BULK * 2)])
    conn.commit()
    assert not gc.isenabled()


def test_commit_of_a_bulk_batch_pauses_the_collector(
        gc_enabled: None, monkeypatch: pytest.MonkeyPatch) -> None:
    conn = dbapi.connect(":memory:")
    cur = _table(conn)
    cur.executemany("INSERT INTO t (id, v) VALUES (:id, :v)",
                    [{"id": i, "v": str(i)} for i in range(gc_pause.BULK)])
    seen: list[bool] = []
    commit = type(conn)._commit

    def spy(self: dbapi.Connection) -> None:
        seen.append(gc.isenabled())
        commit(self)

    monkeypatch.setattr(type(conn), "_commit", spy)
    conn.commit()
    assert seen == [False] and gc.isenabled()


def test_a_query_and_a_streamed_chunk_are_read_with_the_collector_paused(
        gc_enabled: None, monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    conn = dbapi.connect(f"{tmp_path}/store.db")
    cur = _table(conn)
    cur.executemany("INSERT INTO t (id, v) VALUES (:id, :v)",
                    [{"id": i, "v": str(i)} for i in range(2500)])
    conn.commit()
    seen: list[bool] = []
    backend = type(conn.backend)
    query, stream = backend.query, backend.query_stream  # type: ignore[attr-defined]

    def spy_query(self: object, *args: object) -> object:
        seen.append(gc.isenabled())
        return query(self, *args)

    def spy_stream(self: object, *args: object) -> object:
        out = stream(self, *args)
        assert out is not None
        columns, chunks = out

        def watched() -> Iterator[object]:
            for chunk in chunks:
                seen.append(gc.isenabled())
                yield chunk
        return columns, watched()

    monkeypatch.setattr(backend, "query", spy_query)
    monkeypatch.setattr(backend, "query_stream", spy_stream)
    cur.execute("SELECT id, v FROM t ORDER BY id")
    assert len(cur.fetchall()) == 2500 and seen == [False] and gc.isenabled()
    streamed = conn.cursor(stream=True)
    streamed.execute("SELECT id, v FROM t ORDER BY id")
    assert len(streamed.fetchall()) == 2500
    assert seen == [False, False, False, False] and gc.isenabled()  # three chunks of 1000


def test_a_failing_query_gives_the_collector_back(gc_enabled: None) -> None:
    conn = dbapi.connect(":memory:")
    cur = _table(conn)
    with pytest.raises(errors.ProgrammingError):
        cur.execute("SELECT id FROM t WHERE v = :missing")  # (not a load by key)
    with pytest.raises(errors.OperationalError):
        cur.execute("SELECT id FROM nowhere")
    assert gc.isenabled()
