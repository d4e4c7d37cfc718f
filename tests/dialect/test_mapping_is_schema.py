"""The mapping is the schema: mapped Tables work on collections nobody declared (no create_all)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from sqla_docstore import DocumentStore
from sqla_docstore.errors import IntegrityError


class Base(DeclarativeBase):
    pass


class Product(Base):
    __tablename__ = "products"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(40), unique=True)
    price: Mapped[int] = mapped_column(server_default=sa.text("5"))
    sku: Mapped[str | None] = mapped_column(default=lambda: "sku-1")


class Note(Base):
    __tablename__ = "notes"
    code: Mapped[str] = mapped_column(primary_key=True)
    product_id: Mapped[int | None]


def test_reads_of_a_collection_nobody_created_return_no_rows(engine: sa.Engine) -> None:
    with Session(engine) as session:
        assert session.scalars(sa.select(Product)).all() == []
        assert session.scalar(sa.select(sa.func.count()).select_from(Product)) == 0
        assert session.get(Product, 1) is None


def test_writes_create_the_collection_with_hilo_keys_and_defaults(engine: sa.Engine) -> None:
    with Session(engine) as session:
        session.add_all([Product(name="a"), Product(name="b")])
        session.add(Note(code="n1", product_id=None))
        session.commit()
    with Session(engine) as session:
        rows = session.execute(sa.select(Product.id, Product.name, Product.price, Product.sku)
                               .order_by(Product.id)).all()
        assert [tuple(r) for r in rows] == [(1, "a", 5, "sku-1"), (2, "b", 5, "sku-1")]
        # a join across two collections created by their first documents
        joined = session.execute(sa.select(Note.code, Product.name).outerjoin(
            Product, Product.id == Note.product_id)).all()
        assert [tuple(r) for r in joined] == [("n1", None)]


def test_the_mapping_constraints_hold_without_create_all(engine: sa.Engine) -> None:
    with Session(engine) as session:
        session.add(Product(name="a"))
        session.commit()
    with Session(engine) as session:
        session.add(Product(name="a"))
        with pytest.raises(sa.exc.IntegrityError) as caught:
            session.commit()
        assert isinstance(caught.value.orig, IntegrityError)
    with Session(engine) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Product)) == 1


def test_pending_writes_to_a_new_collection_are_read_and_rolled_back(engine: sa.Engine) -> None:
    with Session(engine) as session:
        session.add(Product(name="x"))
        session.flush()
        assert session.scalars(sa.select(Product.name)).all() == ["x"]
        session.rollback()
        assert session.scalars(sa.select(Product.name)).all() == []


def test_create_all_after_use_declares_the_schema(engine: sa.Engine) -> None:
    with Session(engine) as session:
        session.add(Product(name="a"))
        session.commit()
    Base.metadata.create_all(engine)  # converges: nothing lost, the schema recorded
    assert sa.inspect(engine).has_table("products")
    with Session(engine) as session:
        assert session.scalars(sa.select(Product.name)).all() == ["a"]


def test_drop_all_then_use_again_starts_empty(engine: sa.Engine) -> None:
    with Session(engine) as session:
        session.add(Product(name="a"))
        session.commit()
    Base.metadata.drop_all(engine)
    with Session(engine) as session:
        assert session.scalars(sa.select(Product)).all() == []
        session.add(Product(name="b"))
        session.commit()
        assert session.scalars(sa.select(Product.name)).all() == ["b"]


@pytest.fixture
def document_store(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[DocumentStore]:
    with DocumentStore(url=f"docstore:///{tmp_path}/app.db") as store:
        yield store


@pytest.fixture(params=["docstore", "ravendb"])
def any_document_store(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[DocumentStore]:
    if request.param == "docstore":
        url = f"docstore:///{tmp_path}/app.db"
    else:
        url = request.getfixturevalue("ravendb_url")
    with DocumentStore(url=url) as store:
        yield store


def test_document_store_without_metadata_stores_and_loads(
        any_document_store: DocumentStore) -> None:
    with any_document_store.open_session() as session:
        session.store(Product(name="p"))
        session.save_changes()
    with any_document_store.open_session() as session:
        loaded = session.load(1, Product)
        assert loaded is not None and loaded.name == "p"


def test_document_store_other_database_without_metadata(document_store: DocumentStore) -> None:
    with document_store.open_session(database="Other") as session:
        session.store(Product(name="elsewhere"))
        session.save_changes()
    with document_store.open_session(database="Other") as session:
        assert [p.name for p in session.query(Product)] == ["elsewhere"]
    with document_store.open_session() as session:
        assert list(session.query(Product)) == []


async def _async_round_trip(url: str) -> list[str]:
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

    engine = create_async_engine(url)
    try:
        async with AsyncSession(engine) as session:
            assert (await session.scalars(sa.select(Product))).all() == []
            session.add_all([Product(name="a1"), Product(name="a2")])
            await session.commit()
        async with AsyncSession(engine) as session:
            return list((await session.scalars(sa.select(Product.name)
                                               .order_by(Product.id))).all())
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", ["docstore", "ravendb"])
def test_async_sessions_need_no_create_all(backend: str, request: pytest.FixtureRequest,
                                           tmp_path: Any) -> None:
    import asyncio

    url = (f"docstore:///{tmp_path}/a.db" if backend == "docstore"
           else request.getfixturevalue("ravendb_url"))
    assert asyncio.run(_async_round_trip(url)) == ["a1", "a2"]


class Archived(Base):
    __tablename__ = "archived"
    __table_args__ = {"schema": "old"}
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str]


def test_a_table_of_a_schema_needs_no_create_all_either(engine: sa.Engine) -> None:
    with Session(engine) as session:
        assert session.scalars(sa.select(Archived)).all() == []
        session.add(Archived(title="t"))
        session.commit()
    with Session(engine) as session:
        assert session.scalars(sa.select(Archived.title)).all() == ["t"]
    assert "old" in sa.inspect(engine).get_schema_names()
