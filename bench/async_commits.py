"""Benchmark: AsyncSession under load, docstore:///file vs sqlite+aiosqlite:///file, one run.

50 tasks each make 20 commits (one new row and one read-modify-write UPDATE per commit) while a
coroutine ticks every 10 ms. Printed per backend: wall time, the ratio to aiosqlite, and the
event loop's worst stall (the longest gap between ticks beyond the 10 ms sleep)::

    python bench/async_commits.py                 # 50 tasks x 20 commits
    python bench/async_commits.py --tasks 10 --commits 5     # a smoke run
    python bench/async_commits.py --ravendb       # also ravendb:// against the bundled server
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Event(Base):
    __tablename__ = "events"
    id: Mapped[int] = mapped_column(primary_key=True)
    task: Mapped[int]
    payload: Mapped[str] = mapped_column(sa.String(100))


class Counter(Base):
    __tablename__ = "counters"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    value: Mapped[int]


@dataclass
class Outcome:
    seconds: float
    worst_stall_ms: float
    median_gap_ms: float
    counter: int


async def _workload(engine: AsyncEngine, tasks: int, commits: int) -> Outcome:
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
        await conn.run_sync(Base.metadata.create_all)
    factory = async_sessionmaker(engine, expire_on_commit=False)
    async with factory() as s:
        s.add(Counter(id=1, value=0))
        await s.commit()
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    async def worker(n: int) -> None:
        for i in range(commits):
            async with factory() as s:
                s.add(Event(task=n, payload=f"task {n} commit {i}"))
                await s.execute(sa.update(Counter).where(Counter.id == 1)
                                .values(value=Counter.value + 1))
                await s.commit()

    tick = asyncio.create_task(ticker())
    start = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(tasks)))
    seconds = time.perf_counter() - start
    done.set()
    await tick
    async with factory() as s:
        counter = await s.scalar(sa.select(Counter.value))
    stalls = [max(g - 0.01, 0.0) * 1000 for g in gaps] or [0.0]
    return Outcome(seconds, max(stalls), statistics.median(g * 1000 for g in gaps or [0.0]),
                   int(counter or 0))


async def _run(url: str, tasks: int, commits: int) -> Outcome:
    # SQLite's default 5 s busy timeout is too short for 50 writers on a loaded machine.
    args = {"timeout": 120} if url.startswith("sqlite") else {}
    engine = create_async_engine(url, connect_args=args)
    try:
        return await _workload(engine, tasks, commits)
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--commits", type=int, default=20)
    parser.add_argument("--ravendb", action="store_true",
                        help="also run ravendb:// against the bundled server (in process)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        urls = {
            "sqlite+aiosqlite": f"sqlite+aiosqlite:///{Path(tmp) / 'sqlite.db'}",
            "docstore": f"docstore:///{Path(tmp) / 'docstore.db'}",
        }
        server = None
        if args.ravendb:
            from sqla_docstore.testing.ravendb_server import BundledRavenServer

            server = BundledRavenServer("A", database="bench")
            urls["ravendb"] = f"ravendb://{server.url.split('://', 1)[1]}/bench"
        results = {name: asyncio.run(_run(url, args.tasks, args.commits))
                   for name, url in urls.items()}
        if server is not None:
            server.close()
    base = results["sqlite+aiosqlite"].seconds
    expected = args.tasks * args.commits
    print(f"{args.tasks} tasks x {args.commits} commits; a ticker sleeps 10 ms between ticks")
    print(f"{'backend':18} {'seconds':>8} {'ratio':>6} {'worst stall ms':>15} "
          f"{'median gap ms':>14} {'counter':>8}")
    for name, r in results.items():
        print(f"{name:18} {r.seconds:8.2f} {r.seconds / base:6.2f} {r.worst_stall_ms:15.1f} "
              f"{r.median_gap_ms:14.1f} {r.counter:8d}" + ("" if r.counter == expected
                                                           else f"  (expected {expected}!)"))


if __name__ == "__main__":
    main()
