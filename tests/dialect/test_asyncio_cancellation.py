"""A task cancelled (``task.cancel()``, ``asyncio.timeout``) while its statement or commit runs
in a worker thread: the batch is applied whole or not at all, nothing is still running once the
cancellation is raised, and the pooled connection is clean for the next task. Both backends."""

from __future__ import annotations

import asyncio
import gc
import sqlite3
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sqla_docstore import dbapi

N = 2000


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]


@pytest.fixture(params=["docstore", "ravendb"])
def url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "docstore":
        return f"docstore:///{tmp_path / 'cancel.db'}"
    return str(request.getfixturevalue("ravendb_url"))


Scenario = Callable[[AsyncEngine, str], Coroutine[Any, Any, None]]


@pytest.fixture
def run(url: str) -> Iterator[Callable[[Scenario], None]]:
    """Run a scenario on an async engine of one pooled connection, with the table created."""

    def runner(scenario: Scenario) -> None:
        async def main() -> None:
            engine = create_async_engine(url, pool_size=1, max_overflow=0)
            try:
                async with engine.begin() as conn:
                    await conn.run_sync(Base.metadata.create_all)
                await scenario(engine, url)
            finally:
                await engine.dispose()

        asyncio.run(main())

    yield runner


def _stored_count(url: str) -> int:
    """The count another engine (another connection, committed data only) reads."""
    eng = sa.create_engine(url)
    try:
        with eng.connect() as conn:
            return int(conn.scalar(sa.select(sa.func.count()).select_from(Item.__table__)) or 0)
    finally:
        eng.dispose()


def _cancel_at(engine: AsyncEngine, hook: str) -> Callable[[], None]:
    """Cancel the running task just as the connection starts ``hook`` (its next await is the
    worker thread running it); returns the function that removes the listener."""

    def cancel(*args: Any) -> None:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()

    event.listen(engine.sync_engine, hook, cancel)
    return lambda: event.remove(engine.sync_engine, hook, cancel)


async def _write_items(engine: AsyncEngine, start: int) -> None:
    async with AsyncSession(engine) as s:
        s.add_all([Item(id=start + i, name=f"n{i}") for i in range(N)])
        await s.commit()


async def _settled_count(url: str) -> tuple[int, int]:
    """What is stored now, and a moment later (a call still running would change it)."""
    now = await asyncio.to_thread(_stored_count, url)
    await asyncio.sleep(0.5)
    return now, await asyncio.to_thread(_stored_count, url)


async def _pool_connection_is_clean(engine: AsyncEngine, expected: int) -> None:
    """The one pooled connection holds no pending write and takes the next transaction."""
    async with AsyncSession(engine) as s:
        assert await s.scalar(sa.select(sa.func.count()).select_from(Item)) == expected
        s.add(Item(id=10**6, name="after"))
        await s.commit()
    async with AsyncSession(engine) as s:
        assert await s.scalar(sa.select(sa.func.count()).select_from(Item)) == expected + 1


@pytest.mark.parametrize("hook", ["commit", "before_cursor_execute"])
def test_a_task_cancelled_while_the_store_works_ends_whole_before_the_cancellation(
        run: Any, hook: str) -> None:
    async def scenario(engine: AsyncEngine, url: str) -> None:
        remove = _cancel_at(engine, hook)
        task = asyncio.create_task(_write_items(engine, 1))
        with pytest.raises(asyncio.CancelledError):
            await task
        remove()
        async with AsyncSession(engine) as s:  # the same pooled connection, at once
            seen = await s.scalar(sa.select(sa.func.count()).select_from(Item))
        now, later = await _settled_count(url)
        assert seen == now == later  # nothing was still running when the cancellation came
        assert now in (0, N)  # the batch whole or not at all
        await _pool_connection_is_clean(engine, now)

    run(scenario)


def test_a_commit_cancelled_while_it_waits_for_the_store_lock_is_awaited(
        tmp_path: Any) -> None:
    """The commit waits for the file's write lock (another process's transaction holds it)
    when its task is cancelled: the cancellation is raised once the commit has ended, after
    the lock was let go, and the pooled connection sees that commit at once."""
    path = tmp_path / "locked.db"
    url = f"docstore:///{path}"

    async def main() -> None:
        engine = create_async_engine(url, pool_size=1, max_overflow=0)
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        holder = sqlite3.connect(path, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")
        release = threading.Timer(0.5, holder.rollback)
        remove = _cancel_at(engine, "commit")
        try:
            task = asyncio.create_task(_write_items(engine, 1))
            await asyncio.sleep(0)
            release.start()
            with pytest.raises(asyncio.CancelledError):
                await task
            remove()
            async with AsyncSession(engine) as s:
                seen = await s.scalar(sa.select(sa.func.count()).select_from(Item))
            assert seen == await asyncio.to_thread(_stored_count, url) == N
            await _pool_connection_is_clean(engine, N)
        finally:
            release.join()
            holder.close()
            await engine.dispose()

    asyncio.run(main())


def test_a_commit_over_its_timeout_leaves_the_connection_clean(run: Any) -> None:
    async def scenario(engine: AsyncEngine, url: str) -> None:
        outcomes = []
        for attempt in range(4):
            delay = 0.005 * 4 ** attempt
            try:  # (asyncio.timeout() is 3.11+; wait_for cancels the same way)
                await asyncio.wait_for(_write_items(engine, 1 + attempt * N), delay)
                outcomes.append("done")
            except asyncio.TimeoutError:
                outcomes.append("timeout")
            now, later = await _settled_count(url)
            assert now == later
            assert now % N == 0, (outcomes, now)
        await _pool_connection_is_clean(engine, now)

    run(scenario)


def _open_dbapi_connections() -> set[int]:
    return {id(o) for o in gc.get_objects()
            if isinstance(o, dbapi.Connection) and not o.closed}


def test_a_connection_opened_for_a_cancelled_task_is_closed(run: Any) -> None:
    async def scenario(engine: AsyncEngine, url: str) -> None:
        await engine.dispose()
        before = _open_dbapi_connections()
        remove = _cancel_at(engine, "do_connect")
        with pytest.raises(asyncio.CancelledError):
            async with engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
        remove()
        assert _open_dbapi_connections() - before == set()
        async with engine.connect() as conn:  # the pool opens a new one
            assert (await conn.execute(sa.text("SELECT 1"))).scalar() == 1

    run(scenario)
