"""RavenDB session guarantees over HTTP: optimistic concurrency, field-level merges, 2PC."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from sqla_docstore import DocumentStore
from sqla_docstore.testing.server.node import serve_cluster


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    qty: Mapped[int]


class Ref(Base):
    __tablename__ = "refs"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(unique=True)


@pytest.fixture
def cluster() -> Iterator[Any]:
    nodes = serve_cluster(None, "A", databases=["one", "two"])
    yield nodes
    nodes.close()


def _url(cluster: Any, db: str) -> str:
    return f"ravendb://{cluster.urls[0].split('://', 1)[1]}/{db}"


def test_optimistic_concurrency_covers_documents_created_in_the_session(cluster: Any) -> None:
    with DocumentStore(url=_url(cluster, "one"), metadata=Base.metadata) as store:
        store.conventions.use_optimistic_concurrency = True
        with store.open_session() as mine:
            item = Item(name="new", qty=1)
            mine.store(item)
            mine.save_changes()
            assert mine.advanced.get_change_vector_for(item)
            with store.open_session(use_optimistic_concurrency=False) as theirs:
                theirs.load(item.id, object_type=Item).qty = 5
                theirs.save_changes()
            item.name = "would overwrite theirs"
            with pytest.raises(StaleDataError):
                mine.save_changes()
        with store.open_session() as s:
            stored = s.load(item.id, object_type=Item)
            assert (stored.name, stored.qty) == ("new", 5)


def test_optimistic_concurrency_one_of_two_wins(cluster: Any) -> None:
    with DocumentStore(url=_url(cluster, "one"), metadata=Base.metadata) as store:
        store.conventions.use_optimistic_concurrency = True
        with store.open_session() as s:
            item = Item(name="n", qty=1)
            s.store(item)
            s.save_changes()
            item_id = item.id
        with store.open_session() as s1, store.open_session() as s2:
            a, b = s1.load(item_id, object_type=Item), s2.load(item_id, object_type=Item)
            a.name, b.qty = "from s1", 2
            s1.save_changes()
            with pytest.raises(StaleDataError):
                s2.save_changes()
        with store.open_session() as s:
            item = s.load(item_id, object_type=Item)
            assert (item.name, item.qty) == ("from s1", 1)


def test_without_optimistic_concurrency_field_updates_merge(cluster: Any) -> None:
    engine = sa.create_engine(_url(cluster, "one"))
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        s.add(Item(id=1, name="n", qty=1))
        s.commit()
    with Session(engine) as s1, Session(engine) as s2:
        s1.get(Item, 1).name = "renamed"  # type: ignore[union-attr]
        s2.get(Item, 1).qty = 5  # type: ignore[union-attr]
        s1.commit()
        s2.commit()
    with Session(engine) as s:
        item = s.get(Item, 1)
        assert item is not None and (item.name, item.qty) == ("renamed", 5)
    engine.dispose()


def test_two_phase_checks_every_database_before_applying(cluster: Any) -> None:
    one, two = sa.create_engine(_url(cluster, "one")), sa.create_engine(_url(cluster, "two"))
    Base.metadata.create_all(one)
    Base.metadata.create_all(two)
    factory = sessionmaker(binds={Item: one, Ref: two}, twophase=True)
    with factory() as s:
        s.add_all([Item(name="a", qty=1), Ref(code="R1")])
        s.commit()
    with factory() as s:
        s.add_all([Item(name="b", qty=1), Ref(code="R1")])  # R1 is taken in database two
        with pytest.raises(sa.exc.IntegrityError):
            s.commit()
    with factory() as s:
        assert sorted(s.scalars(sa.select(Item.name))) == ["a"]  # nothing applied in one
    one.dispose()
    two.dispose()


def test_two_phase_updates_a_unique_constrained_collection(cluster: Any) -> None:
    one, two = sa.create_engine(_url(cluster, "one")), sa.create_engine(_url(cluster, "two"))
    Base.metadata.create_all(one)
    Base.metadata.create_all(two)
    factory = sessionmaker(binds={Item: one, Ref: two}, twophase=True)
    with factory() as s:
        s.add_all([Item(id=1, name="a", qty=1), Ref(id=1, code="R1"), Ref(id=2, code="R2")])
        s.commit()
    with factory() as s:  # updates become whole-document PUTs in the cluster-wide batch
        s.get(Item, 1).qty = 2  # type: ignore[union-attr]
        s.get(Ref, 1).code = "R3"  # type: ignore[union-attr]
        s.commit()
    with factory() as s:
        s.get(Item, 1).qty = 3  # type: ignore[union-attr]
        s.get(Ref, 2).code = "R3"  # type: ignore[union-attr]  # taken by Ref 1 now
        with pytest.raises(sa.exc.IntegrityError):
            s.commit()
    with factory() as s:
        assert sorted(s.scalars(sa.select(Ref.code))) == ["R2", "R3"]
        assert s.scalars(sa.select(Item.qty)).all() == [2]
    one.dispose()
    two.dispose()


def test_compare_exchange_values_in_a_cluster_wide_session(cluster: Any) -> None:
    from sqla_docstore import SessionOptions, TransactionMode

    options = SessionOptions(transaction_mode=TransactionMode.CLUSTER_WIDE)
    with DocumentStore(url=_url(cluster, "one"), metadata=Base.metadata) as store:
        with store.open_session(session_options=options) as s:
            s.advanced.cluster_transaction.create_compare_exchange_value("emails/a@x", "items/1")
            s.store(Item(name="reserved", qty=1))
            s.save_changes()
        with store.open_session(session_options=options) as s:
            value = s.advanced.cluster_transaction.get_compare_exchange_value("emails/a@x")
            assert value is not None and value.value == "items/1" and value.index > 0
            s.advanced.cluster_transaction.create_compare_exchange_value("emails/a@x", "x")
            with pytest.raises(StaleDataError):  # the key is taken: nothing applied
                s.save_changes()
        with store.open_session(session_options=options) as s:
            value = s.advanced.cluster_transaction.get_compare_exchange_value("emails/a@x")
            assert value is not None and value.value == "items/1"
            s.advanced.cluster_transaction.delete_compare_exchange_value(value)
            s.save_changes()
            assert s.advanced.cluster_transaction.get_compare_exchange_value("emails/a@x") is None


def test_loads_by_id_are_get_docs_requests(ravendb_server: Any) -> None:
    url = f"ravendb://{ravendb_server.url.split('://', 1)[1]}/{ravendb_server.database}"
    with DocumentStore(url=url, metadata=Base.metadata) as store:
        with store.open_session() as s:
            for i in range(1, 4):
                s.store(Item(id=i, name=f"n{i}", qty=i))
            s.save_changes()
        ravendb_server.clear_requests()
        with store.open_session() as s:
            loaded = s.load([1, 2, 3, 4], object_type=Item)
            assert [x.qty if x else None for x in loaded.values()] == [1, 2, 3, None]
            assert s.advanced.number_of_requests == 1
        # (the transaction's catalog check, a conditional GET of one document, aside)
        calls = [(r.method, r.path.rsplit("/", 1)[-1]) for r in ravendb_server.requests
                 if "/databases/" in r.path and "sqla_docstore%2Fcatalog" not in r.query]
        assert calls == [("GET", "docs")], calls
