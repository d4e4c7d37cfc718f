"""A DocumentSession saves edits made in place inside a tracked value (a nested dict or list of a
JSON column, a list of dataclasses), as RavenDB's session does (it compares each tracked
document with the one it loaded): plain SQLAlchemy sees only assignments, so these edits were
silently not saved. Both backends; the official RavenDB client saves the same edits."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.mutable import MutableDict
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from sqla_docstore import ChangeType, DocumentSession, DocumentStore


class Base(DeclarativeBase):
    pass


@dataclasses.dataclass
class Line:
    sku: str
    qty: int


class LinesType(sa.TypeDecorator[list[Line]]):
    impl = sa.JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        return None if value is None else [dataclasses.asdict(v) for v in value]

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        return None if value is None else [Line(**v) for v in value]


class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    address: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    tags: Mapped[list[Any]] = mapped_column(sa.JSON)
    extra: Mapped[dict[str, Any]] = mapped_column(MutableDict.as_mutable(sa.JSON))
    lines: Mapped[list[Line]] = mapped_column(LinesType)


@pytest.fixture(params=["docstore", "ravendb"])
def doc_store(request: pytest.FixtureRequest) -> Iterator[DocumentStore]:
    url = "docstore://" if request.param == "docstore" else request.getfixturevalue("ravendb_url")
    with DocumentStore(url=url, metadata=Base.metadata) as st:
        yield st


@pytest.fixture
def order_id(doc_store: DocumentStore) -> int:
    with doc_store.open_session() as s:
        o = Order(name="o", address={"city": "Oslo", "geo": {"lat": 1}}, tags=["a"],
                  extra={"k": {"deep": [1]}}, lines=[Line("x", 1)])
        s.store(o)
        s.save_changes()
        return o.id


def _stored(doc_store: DocumentStore, order_id: int) -> Order:
    with doc_store.open_session() as s:
        o = s.load(order_id, Order)
        s.expunge(o)
        return o


def test_nested_edits_are_saved(doc_store: DocumentStore, order_id: int) -> None:
    with doc_store.open_session() as s:
        o = s.load(order_id, Order)
        o.address["geo"]["lat"] = 2
        o.tags.append("b")
        o.extra["k"]["deep"].append(2)  # below MutableDict's top level
        o.lines[0].qty = 5
        assert s.advanced.has_changes() and s.advanced.has_changed(o)
        s.save_changes()
        assert s.advanced.number_of_requests == 2  # the load and one batch
    stored = _stored(doc_store, order_id)
    assert stored.address == {"city": "Oslo", "geo": {"lat": 2}}
    assert stored.tags == ["a", "b"]
    assert stored.extra == {"k": {"deep": [1, 2]}}
    assert stored.lines == [Line("x", 5)]


def test_what_changed_names_the_field_with_its_loaded_value(
        doc_store: DocumentStore, order_id: int) -> None:
    with doc_store.open_session() as s:
        o = s.load(order_id, Order)
        o.address["city"] = "Bergen"
        changes = s.advanced.what_changed()[s.advanced.get_document_id(o)]
        assert [(c.change, c.field_name, c.field_old_value, c.field_new_value)
                for c in changes] == [(ChangeType.FIELD_CHANGED, "address",
                                       {"city": "Oslo", "geo": {"lat": 1}},
                                       {"city": "Bergen", "geo": {"lat": 1}})]


def test_an_edit_after_a_save_or_a_query_is_saved_too(
        doc_store: DocumentStore, order_id: int) -> None:
    with doc_store.open_session() as s:
        o = s.load(order_id, Order)
        o.tags.append("b")
        s.save_changes()
        o.tags.append("c")  # compared with what was just saved
        s.scalars(sa.select(Order)).all()  # (an autoflush: assignments only)
        o.address = {"city": "Rome"}
        s.save_changes()
        o.address["zip"] = "001"  # inside the value assigned and saved
        s.save_changes()
    stored = _stored(doc_store, order_id)
    assert stored.tags == ["a", "b", "c"]
    assert stored.address == {"city": "Rome", "zip": "001"}


def test_no_edit_no_write_and_a_change_of_kind_is_an_edit(
        doc_store: DocumentStore, order_id: int) -> None:
    with doc_store.open_session() as s:
        o = s.load(order_id, Order)
        o.tags[0] = "a"  # the same value
        assert not s.advanced.has_changes()
        s.save_changes()
        assert s.advanced.number_of_requests == 1  # nothing to send
        o.address["geo"]["lat"] = 1.0  # 1 -> 1.0: another JSON value
        assert s.advanced.has_changed(o)
        s.save_changes()
    assert _stored(doc_store, order_id).address["geo"]["lat"] == 1.0


def test_a_refreshed_object_is_compared_with_what_was_reloaded(
        doc_store: DocumentStore, order_id: int) -> None:
    with doc_store.open_session() as s, DocumentSession(bind=doc_store.engine) as plain:
        o = s.load(order_id, Order)
        other = plain.get(Order, order_id)
        assert other is not None
        other.tags = ["z"]
        plain.commit()
        s.advanced.refresh(o)
        assert o.tags == ["z"] and not s.advanced.has_changes()
        o.tags.append("y")
        s.save_changes()
    assert _stored(doc_store, order_id).tags == ["z", "y"]


def test_nested_edits_are_saved_by_an_async_session(
        doc_store: DocumentStore, order_id: int) -> None:
    async def edit() -> None:
        async with doc_store.open_async_session() as s:
            o = await s.load(order_id, Order)
            o.address["geo"]["lat"] = 3
            o.tags.append("async")
            await s.save_changes()

    asyncio.run(edit())
    stored = _stored(doc_store, order_id)
    assert stored.address["geo"] == {"lat": 3}
    assert stored.tags == ["a", "async"]


def test_nested_edits_are_saved_by_commit_after_expiry(doc_store: DocumentStore,
                                                        order_id: int) -> None:
    """sessionmaker(class_=DocumentSession): commit() (expire_on_commit) and the reload of
    expired values; an in-place edit is the session's only change."""
    make = sessionmaker(doc_store.engine, class_=DocumentSession)
    with make() as s, make() as other:
        o = s.get(Order, order_id)
        assert o is not None
        s.commit()  # expires o
        theirs = other.get(Order, order_id)
        assert theirs is not None
        theirs.tags = ["theirs"]
        other.commit()
        o.tags.append("mine")  # reloads, then edits in place
        s.commit()
    with make() as s, s.begin():  # SessionTransaction's own commit
        o = s.get(Order, order_id)
        assert o is not None
        o.address["geo"]["lat"] = 4
    stored = _stored(doc_store, order_id)
    assert stored.tags == ["theirs", "mine"]
    assert stored.address["geo"] == {"lat": 4}


def test_an_object_from_a_plain_session_is_compared_once_attached(
        doc_store: DocumentStore, order_id: int) -> None:
    with Session(doc_store.engine, expire_on_commit=False) as plain:
        o = plain.get(Order, order_id)
        assert o is not None
    with doc_store.open_session() as s:
        s.add(o)
        o.tags.append("attached")
        s.save_changes()
    assert _stored(doc_store, order_id).tags == ["a", "attached"]
