"""A process killed with SIGKILL in the middle of a 10,000-document commit leaves all or none of it.

A child process flushes 10,000 new objects (so HiLo ids are reserved and the batch is pending),
waits for the parent's go, prints "committing" and commits. The parent kills it before the
commit, at random points during it, and after it; each time the store file must pass SQLite's
integrity check, hold either all 10,000 documents of that batch or none, and accept new commits.
"""

from __future__ import annotations

import os
import queue
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, String, create_engine, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

DOCS = 10_000

CHILD = textwrap.dedent("""
    import sys
    import time

    from sqlalchemy import String, create_engine
    from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


    class Base(DeclarativeBase):
        pass


    class Doc(Base):
        __tablename__ = "crash_docs"
        id: Mapped[int] = mapped_column(primary_key=True)
        batch: Mapped[int]
        seq: Mapped[int]
        payload: Mapped[str] = mapped_column(String(600))


    url, batch, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    engine = create_engine(url)
    with Session(engine) as session:
        session.add_all(
            [Doc(batch=batch, seq=i, payload=f"{batch}:{i}:" + "x" * 400) for i in range(count)]
        )
        session.flush()
        print("flushed", flush=True)
        sys.stdin.readline()  # the parent's go
        print("committing", flush=True)
        started = time.perf_counter()
        session.commit()
        print("committed", time.perf_counter() - started, flush=True)
    sys.stdin.readline()  # stay alive until killed
""")


class Base(DeclarativeBase):
    pass


class Doc(Base):
    __tablename__ = "crash_docs"
    id: Mapped[int] = mapped_column(primary_key=True)
    batch: Mapped[int]
    seq: Mapped[int]
    payload: Mapped[str] = mapped_column(String(600))


class Child:
    """The child process and a thread that queues its output lines (readline can't time out)."""

    def __init__(self, script: Path, url: str, batch: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(script), url, str(batch), str(DOCS)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.strip())
        self.lines.put("<eof>")

    def expect(self, word: str, timeout: float = 120.0) -> str:
        line = self.lines.get(timeout=timeout)
        if not line.startswith(word):
            self.kill()
            assert self.proc.stderr is not None
            raise AssertionError(f"child said {line!r}, not {word!r}: {self.proc.stderr.read()}")
        return line

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass


def _integrity(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return "; ".join(r[0] for r in conn.execute("PRAGMA integrity_check"))
    finally:
        conn.close()


def _batch_state(url: str, batch: int) -> int:
    """How many documents of ``batch`` the store holds, checked for consistency."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            count = conn.scalar(select(func.count()).select_from(Doc).where(Doc.batch == batch))
            if count:
                seqs = conn.scalars(select(Doc.seq).where(Doc.batch == batch)).all()
                assert sorted(seqs) == list(range(DOCS)), "a partial batch"
            return count or 0
    finally:
        engine.dispose()


def _commit_works(url: str, marker: int) -> None:
    engine: Engine = create_engine(url)
    try:
        with Session(engine) as session:
            session.add_all([Doc(batch=marker, seq=i, payload="after") for i in range(3)])
            session.commit()
        with engine.connect() as conn:
            assert conn.scalar(
                select(func.count()).select_from(Doc).where(Doc.batch == marker)) == 3
            assert conn.scalar(select(func.count(Doc.id)).where(Doc.batch == marker)) == 3
    finally:
        engine.dispose()


@pytest.mark.slow
def test_sigkill_during_commit_leaves_all_or_nothing(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    url = f"docstore:///{path}"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()

    # Calibration, and the "after" case: let a commit finish, then kill the idle child.
    child = Child(script, url, batch=0)
    child.expect("flushed")
    child.go()
    child.expect("committing")
    commit_seconds = float(child.expect("committed").split()[1])
    child.kill()
    assert _integrity(path) == "ok"
    assert _batch_state(url, 0) == DOCS
    _commit_works(url, marker=-1)

    # "before": killed with the batch flushed but not yet committed.
    child = Child(script, url, batch=1)
    child.expect("flushed")
    child.kill()
    assert _integrity(path) == "ok"
    assert _batch_state(url, 1) == 0
    _commit_works(url, marker=-2)

    # During: random points spread over the commit's measured duration and past it, then
    # three more between the last kill that found nothing and the first that found everything.
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    delays = [commit_seconds * (f + rng.uniform(0, 0.2))
              for f in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.5, 2.5, 4.0)]
    outcomes: list[tuple[float, str]] = []
    batch = 2
    for refine in (False, True):
        if refine:
            nothing = [d for d, o in outcomes if o == "none"]
            everything = [d for d, o in outcomes if o == "all"]
            low = max(nothing, default=0.0)
            high = min([d for d in everything if d > low], default=low + commit_seconds)
            delays = [rng.uniform(low, high) for _ in range(3)]
        for delay in delays:
            child = Child(script, url, batch=batch)
            child.expect("flushed")
            child.go()
            child.expect("committing")
            time.sleep(delay)
            child.kill()
            assert _integrity(path) == "ok", (seed, delay)
            state = _batch_state(url, batch)
            assert state in (0, DOCS), (seed, delay, state)
            outcomes.append((delay, "all" if state else "none"))
            _commit_works(url, marker=-1 - batch)
            batch += 1
    shown = [(round(d, 4), o) for d, o in outcomes]
    print(f"commit of {DOCS} docs took {commit_seconds:.3f}s; seed {seed}; kills: {shown}")

    # Everything committed is still there, once: 10,000 per completed batch plus the markers.
    completed = 1 + sum(1 for _, o in outcomes if o == "all")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            total = conn.scalar(select(func.count()).select_from(Doc))
            distinct = conn.scalar(select(func.count(func.distinct(Doc.id))))
    finally:
        engine.dispose()
    assert total == completed * DOCS + 3 * batch
    assert distinct == total
