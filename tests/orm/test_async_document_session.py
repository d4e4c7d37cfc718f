"""RavenDB's session API under asyncio: store.open_async_session(), on both backends."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.orm.exc import StaleDataError

from sqla_docstore import AsyncDocumentSession, DocumentConventions, DocumentStore, errors


class Base(DeclarativeBase):
    pass


class Company(Base):
    __tablename__ = "companies"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]


@pytest.fixture(params=["docstore", "ravendb"])
def url(request: pytest.FixtureRequest) -> str:
    return "docstore://" if request.param == "docstore" else str(
        request.getfixturevalue("ravendb_url"))


def _run(url: str, scenario: Callable[[DocumentStore], Coroutine[Any, Any, None]],
         **store_kw: Any) -> None:
    async def main() -> None:
        async with DocumentStore(url=url, metadata=Base.metadata, **store_kw) as store:
            await scenario(store)

    asyncio.run(main())


def test_store_save_load_with_ravendb_request_counts(url: str) -> None:
    async def scenario(store: DocumentStore) -> None:
        async with store.open_async_session() as s:
            assert isinstance(s, AsyncDocumentSession)
            acme = Company(name="Acme")
            await s.store(acme)
            assert acme.id is not None  # a HiLo id at store(), as in RavenDB
            await s.save_changes()
            assert s.advanced.number_of_requests == 1
        async with store.open_async_session() as s:
            loaded = await s.load(acme.id, Company)
            assert loaded.name == "Acme"
            assert await s.load(f"companies/{acme.id}") is loaded  # identity map
            assert s.advanced.number_of_requests == 1
            loaded.name = "Acme Corp"
            assert s.advanced.has_changes
            await s.save_changes()
            assert s.advanced.number_of_requests == 2
            await s.delete(loaded)
            await s.save_changes()
        async with store.open_async_session() as s:
            assert await s.load(acme.id, Company) is None
            s.add(Company(name="added"))  # a plain add: the id comes at flush
            await s.save_changes()
            assert (await s.scalars(sa.select(Company.name))).all() == ["added"]

    _run(url, scenario)


def test_request_budget_and_optimistic_concurrency(url: str) -> None:
    async def scenario(store: DocumentStore) -> None:
        async with store.open_async_session() as s:
            for i in range(4):
                await s.store(Company(id=i + 1, name=f"c{i}"))
            await s.save_changes()
        async with store.open_async_session() as mine, store.open_async_session() as theirs:
            a = await mine.load(1, Company)
            b = await theirs.load(1, Company)
            a.name, b.name = "mine", "theirs"
            await theirs.save_changes()
            with pytest.raises(StaleDataError):
                await mine.save_changes()
        store.conventions.max_number_of_requests_per_session = 2
        async with store.open_async_session() as s:
            await s.load(1, Company)
            await s.load(2, Company)
            with pytest.raises(sa.exc.OperationalError) as info:
                await s.load(3, Company)
            assert isinstance(info.value.orig, errors.RequestBudgetError)

    _run(url, scenario,
         conventions=DocumentConventions(use_optimistic_concurrency=True))
