"""create_async_engine with the same URLs: AsyncSession keeps the unit of work, on both backends,
and the event loop keeps running while the store works."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_scoped_session,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, selectinload
from sqlalchemy.orm import relationship as rel

from sqla_docstore import DocumentSession, errors, request_counts
from sqla_docstore.errors import RequestBudgetError


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "authors"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(40), unique=True)
    books: Mapped[list[Book]] = rel(back_populates="author")


class Book(Base):
    __tablename__ = "books"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str]
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("authors.id"))
    author: Mapped[Author] = rel(back_populates="books")


@pytest.fixture(params=["docstore", "ravendb"])
def url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "docstore":
        return f"docstore:///{tmp_path / 'async.db'}"
    return str(request.getfixturevalue("ravendb_url"))


Scenario = Callable[[AsyncEngine], Coroutine[Any, Any, None]]


@pytest.fixture
def run(url: str) -> Iterator[Callable[[Scenario], None]]:
    """Run a scenario on a fresh async engine with the tables created."""

    def runner(scenario: Scenario) -> None:
        async def main() -> None:
            engine = create_async_engine(url)
            try:
                async with engine.begin() as conn:
                    await conn.run_sync(Base.metadata.create_all)
                await scenario(engine)
            finally:
                await engine.dispose()

        asyncio.run(main())

    yield runner


def test_one_batch_per_commit_and_reads_see_pending_writes(run: Any) -> None:
    async def scenario(engine: AsyncEngine) -> None:
        async with AsyncSession(engine) as s:
            author = Author(name="Le Guin", books=[Book(title="Earthsea"), Book(title="Lathe")])
            s.add(author)
            await s.flush()
            titles = await s.scalars(sa.select(Book.title).order_by(Book.title))
            assert titles.all() == ["Earthsea", "Lathe"]
            await s.commit()
            assert request_counts(s)["batch"] == 1
        async with AsyncSession(engine) as s:
            loaded = await s.scalar(sa.select(Author).options(selectinload(Author.books)))
            assert loaded is not None
            assert sorted(b.title for b in loaded.books) == ["Earthsea", "Lathe"]

    run(scenario)


def test_rollback_and_savepoints_discard_pending_writes(run: Any) -> None:
    async def scenario(engine: AsyncEngine) -> None:
        async with AsyncSession(engine) as s:
            s.add(Author(id=1, name="kept"))
            async with s.begin_nested() as nested:
                s.add(Author(id=2, name="dropped"))
                await s.flush()
                assert await s.scalar(sa.select(sa.func.count(Author.id))) == 2
                await nested.rollback()
            assert (await s.scalars(sa.select(Author.name))).all() == ["kept"]
            await s.commit()
        async with AsyncSession(engine) as s:
            s.add(Author(id=3, name="rolled back"))
            await s.flush()
            await s.rollback()
        async with AsyncSession(engine) as s:
            assert (await s.scalars(sa.select(Author.name))).all() == ["kept"]

    run(scenario)


def test_errors_are_pep249_and_nothing_is_applied(run: Any) -> None:
    async def scenario(engine: AsyncEngine) -> None:
        async with AsyncSession(engine) as s:
            s.add(Author(id=1, name="one"))
            await s.commit()
        async with AsyncSession(engine) as s:
            s.add_all([Author(id=2, name="two"), Author(id=3, name="one")])
            with pytest.raises(sa.exc.IntegrityError) as info:
                await s.commit()
            assert isinstance(info.value.orig, errors.IntegrityError)
        async with AsyncSession(engine) as s:
            assert (await s.scalars(sa.select(Author.id))).all() == [1]

    run(scenario)


def test_sessionmaker_scoped_session_stream_and_run_sync(run: Any) -> None:
    async def scenario(engine: AsyncEngine) -> None:
        factory = async_sessionmaker(engine, expire_on_commit=False)
        scoped = async_scoped_session(factory, scopefunc=asyncio.current_task)
        scoped.add_all([Author(name=f"a{i}") for i in range(5)])
        await scoped.commit()
        await scoped.remove()
        async with factory() as s:
            streamed = await s.stream_scalars(sa.select(Author.name).order_by(Author.name))
            assert [name async for name in streamed] == [f"a{i}" for i in range(5)]
            result = await s.stream(sa.select(Author.id))
            assert len([row async for row in result]) == 5

            def names(sync_session: Any) -> list[str]:
                return sorted(sync_session.scalars(sa.select(Author.name)))

            assert await s.run_sync(names) == [f"a{i}" for i in range(5)]
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
            assert {"authors", "books"} <= set(tables)

    run(scenario)


def test_request_budget_on_an_async_document_session(run: Any) -> None:
    async def scenario(engine: AsyncEngine) -> None:
        async with AsyncSession(engine) as s:
            s.add_all([Author(id=i, name=f"n{i}") for i in range(1, 6)])
            await s.commit()
        async with AsyncSession(engine, sync_session_class=DocumentSession,
                                max_number_of_requests_per_session=3) as s:
            with pytest.raises(sa.exc.OperationalError) as info:
                for i in range(1, 6):  # one load each: the fourth is over the budget
                    await s.get(Author, i)
            assert isinstance(info.value.orig, RequestBudgetError)
            assert s.sync_session.advanced.number_of_requests == 4

    run(scenario)


def test_the_event_loop_runs_while_a_large_commit_is_applied(run: Any) -> None:
    async def scenario(engine: AsyncEngine) -> None:
        ticks: list[float] = []
        stop = asyncio.Event()

        async def ticker() -> None:
            while not stop.is_set():
                ticks.append(time.perf_counter())
                await asyncio.sleep(0.01)

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0.02)
        async with AsyncSession(engine) as s:
            s.add_all([Author(name=f"author {i}") for i in range(3000)])
            started = time.perf_counter()
            await s.commit()
            finished = time.perf_counter()
        stop.set()
        await task
        during = [t for t in ticks if started < t < finished]
        # A blocked loop ticks not once while the batch is built and applied.
        assert len(during) >= 2, (finished - started, len(during))

    run(scenario)


def test_core_execute_of_a_select_gives_its_rows_as_aiosqlite_does(url: str) -> None:
    """``await conn.execute(select)`` (SQLAlchemy's examples/asyncio/basic.py): SQLAlchemy
    awaits ``cursor._async_soft_close()`` before handing the result over."""
    table = sa.Table("t1", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("name", sa.String))

    async def rows_of(engine_url: str) -> list[Any]:
        engine = create_async_engine(engine_url)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(table.metadata.create_all)
                await conn.execute(table.insert(), [{"name": "n1"}, {"name": "n2"}])
            async with engine.connect() as conn:
                result = await conn.execute(table.select().order_by(table.c.id))
                got = [tuple(row) for row in result.fetchall()]
                got.append(await conn.scalar(sa.select(sa.func.count()).select_from(table)))
                got.extend((await conn.scalars(sa.select(table.c.name))).all())
                return got
        finally:
            await engine.dispose()

    assert asyncio.run(rows_of(url)) == asyncio.run(rows_of("sqlite+aiosqlite://"))
