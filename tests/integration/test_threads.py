"""``scoped_session`` under 8 threads: every commit lands, ids stay unique, overlays stay private.

Each thread commits 200 times on one engine (a WAL file store in tmp_path, and the in-memory
store), reading its own pending write before every commit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, String, create_engine, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, scoped_session, sessionmaker

import sqla_docstore

THREADS = 8
COMMITS = 200


class Base(DeclarativeBase):
    pass


class Event(Base):
    __tablename__ = "thread_events"
    id: Mapped[int] = mapped_column(primary_key=True)  # HiLo, shared by all threads
    worker: Mapped[int]
    seq: Mapped[int]
    note: Mapped[str] = mapped_column(String(40))


class Tally(Base):
    __tablename__ = "thread_tallies"
    # One row per thread, updated on every commit: a second collection in each batch.
    worker: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    commits: Mapped[int]


def _run_threads(target: Callable[[int], None]) -> list[BaseException]:
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def body(worker: int) -> None:
        try:
            start.wait()
            target(worker)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(w,)) for w in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a worker thread hung"
    return errors


def _hammer(engine: Engine) -> None:
    Base.metadata.create_all(engine)
    factory = scoped_session(sessionmaker(bind=engine))
    batches: dict[int, int] = {}

    def work(worker: int) -> None:
        session = factory()
        session.add(Tally(worker=worker, commits=0))
        session.commit()
        for seq in range(COMMITS):
            session.add(Event(worker=worker, seq=seq, note=f"w{worker}-{seq}"))
            tally = session.get(Tally, worker)
            assert tally is not None
            tally.commits += 1
            # Autoflush: this thread sees its pending write, and no other thread's.
            mine = session.scalar(
                select(func.count()).select_from(Event).where(Event.worker == worker))
            assert mine == seq + 1, (worker, seq, mine)
            session.commit()
        batches[worker] = sqla_docstore.request_counts(session).get("batch", 0)
        factory.remove()

    errors = _run_threads(work)
    assert not errors, errors[:3]

    check = sessionmaker(bind=engine)()
    rows = check.execute(select(Event.id, Event.worker, Event.seq, Event.note)).all()
    assert len(rows) == THREADS * COMMITS
    assert len({r.id for r in rows}) == THREADS * COMMITS
    assert {(r.worker, r.seq) for r in rows} == {
        (w, s) for w in range(THREADS) for s in range(COMMITS)
    }
    assert all(r.note == f"w{r.worker}-{r.seq}" for r in rows)
    assert check.scalar(select(func.count()).select_from(Event)) == THREADS * COMMITS
    tallies = {r.worker: r.commits for r in check.execute(select(Tally.worker, Tally.commits))}
    assert tallies == {w: COMMITS for w in range(THREADS)}
    check.close()
    # Last: one batch per commit, as each thread's Session counted it.
    assert batches == {w: COMMITS + 1 for w in range(THREADS)}


def test_scoped_session_threads_file_store(tmp_path: Path) -> None:
    url = f"docstore:///{tmp_path / 'threads.db'}"
    engine = create_engine(url)
    try:
        _hammer(engine)
    finally:
        engine.dispose()
    # A fresh engine (new sqlite3 connections) reads the same: nothing was lost in a cache.
    fresh = create_engine(url)
    try:
        with fresh.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(Event)) == THREADS * COMMITS
            assert conn.scalar(select(func.count(func.distinct(Event.id)))) == THREADS * COMMITS
    finally:
        fresh.dispose()


def test_scoped_session_threads_memory_store() -> None:
    engine = create_engine("docstore://")
    try:
        _hammer(engine)
    finally:
        engine.dispose()
