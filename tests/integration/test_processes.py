"""Several processes, each with several threads on a scoped_session, on one store (a file, or a
RavenDB database): HiLo never hands an id out twice, a rolled-back or failed transaction leaves
nothing and its pooled connection serves the next one, and a unique value raced for by all the
processes is taken once. Real processes (spawned), real threads, real loopback HTTP."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, scoped_session, sessionmaker

PROCESSES, THREADS, ROUNDS = 3, 4, 12


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(40), unique=True)


def _expected(tag: str, thread: int, rnd: int) -> list[str]:
    """The names a round commits: none when it rolls back (every 5th)."""
    return [] if rnd % 5 == 2 else [f"{tag}-{thread}-{rnd}-{i}" for i in range(4)]


def _thread(factory: Any, tag: str, thread: int, errors: list[str]) -> None:
    try:
        for rnd in range(ROUNDS):
            session = factory()
            session.add_all([Item(name=f"{tag}-{thread}-{rnd}-x{i}") for i in range(4)])
            session.flush()  # ids handed out, then thrown away
            session.rollback()
            if rnd % 3 == 1:  # a failed statement: the connection serves the next one
                with pytest.raises(sa.exc.DBAPIError):
                    session.execute(sa.text("SELECT * FROM items WHERE"))
                session.rollback()
            session.add_all([Item(name=n) for n in _expected(tag, thread, rnd)])
            if rnd % 5 == 2:
                session.add(Item(name="rolled back"))
                session.flush()
                session.rollback()
            else:
                session.commit()
            try:  # every process and thread wants the same email once per round
                session.add(Account(email=f"round-{rnd}"))
                session.commit()
            except sa.exc.IntegrityError:
                session.rollback()
            factory.remove()
    except Exception as exc:  # reported to the parent, which fails the test
        errors.append(f"{tag}-{thread}: {type(exc).__name__}: {exc}")


def _process(url: str, tag: str, queue: Any) -> None:
    engine = sa.create_engine(url, pool_size=2, max_overflow=1)
    factory = scoped_session(sessionmaker(bind=engine))
    errors: list[str] = []
    threads = [threading.Thread(target=_thread, args=(factory, tag, t, errors))
               for t in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.dispose()
    queue.put(errors)


@pytest.fixture(params=["file", "ravendb"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "file":
        return f"docstore:///{tmp_path / 'shared.db'}"
    return str(request.getfixturevalue("ravendb_url"))


def test_processes_and_threads_on_one_store(url: str) -> None:
    engine = sa.create_engine(url)
    Base.metadata.create_all(engine)
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    procs = [context.Process(target=_process, args=(url, f"p{k}", queue))
             for k in range(PROCESSES)]
    for p in procs:
        p.start()
    errors = [e for _ in procs for e in queue.get(timeout=300)]
    for p in procs:
        p.join(timeout=60)
    assert errors == []
    assert [p.exitcode for p in procs] == [0] * PROCESSES
    with engine.connect() as conn:
        rows = conn.execute(sa.select(Item.id, Item.name)).all()
        emails = conn.execute(sa.select(Account.email)).scalars().all()
    engine.dispose()
    expected = sorted(n for k in range(PROCESSES) for t in range(THREADS)
                      for r in range(ROUNDS) for n in _expected(f"p{k}", t, r))
    assert sorted(name for _, name in rows) == expected
    assert len({item_id for item_id, _ in rows}) == len(rows)
    assert sorted(emails) == sorted(f"round-{r}" for r in range(ROUNDS))
