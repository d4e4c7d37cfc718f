"""Issue 4 behaviour that needs core hooks the store does not expose yet (these tests fail until
the hooks exist; each names the hook). Hooks, as the session uses them:

* ``dbapi.Connection.change_vectors``: ``{document id: change vector}`` of every document read
  with its whole key (loads and queries) or written (from the commit's batch reply) through the
  connection.
* ``dbapi.Connection.expected_change_vectors``: ``{document id: change vector}`` the session sets
  before a flush; UPDATE/DELETE by key of those ids carry it as the command's ``expected``
  (checked at commit; ``ConcurrencyError`` -> ``StaleDataError``); cleared at commit/rollback.
* ``dbapi.Connection.atomic_guards``: cluster-wide batches check the loaded change vector of
  every written document (RavenDB's atomic guards; ``disableAtomicDocumentWrites`` when False).
* ``PendingBatch.add_compare_exchange(op, key, value, index)`` and
  ``backend.get_compare_exchange_values(keys) -> {key: (value, index)}``.
* Dialect ``do_begin_twophase`` / ``do_prepare_twophase`` / ``do_commit_twophase`` /
  ``do_rollback_twophase`` over a DB-API ``Connection.prepare()`` that checks every precondition
  of the pending batch (change vectors, ids, unique values) and keeps the write lock until
  ``commit_prepared()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import String, create_engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from sqla_docstore import DocumentConventions, DocumentSession, DocumentStore, SessionOptions
from sqla_docstore import TransactionMode as Mode


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    qty: Mapped[int | None]


class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(20), unique=True)


@pytest.fixture(params=["memory", "file"])
def doc_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DocumentStore]:
    url = "docstore://" if request.param == "memory" else f"docstore:///{tmp_path / 'app.db'}"
    conventions = DocumentConventions(use_optimistic_concurrency=True)
    with DocumentStore(url=url, metadata=Base.metadata, conventions=conventions) as st:
        yield st


@pytest.fixture
def item_id(doc_store: DocumentStore) -> int:
    with doc_store.open_session() as s:
        item = Item(name="widget", qty=1)
        s.store(item)
        s.save_changes()
        return item.id


def test_optimistic_concurrency_exactly_one_concurrent_update_wins(
        doc_store: DocumentStore, item_id: int) -> None:
    """Hooks: change_vectors + expected_change_vectors."""
    with doc_store.open_session() as s1, doc_store.open_session() as s2:
        a, b = s1.load(item_id, Item), s2.load(item_id, Item)
        a.name = "from s1"
        b.qty = 2  # a different field: still a conflict under optimistic concurrency
        s1.save_changes()
        with pytest.raises(StaleDataError):
            s2.save_changes()
    with doc_store.open_session() as s:
        item = s.load(item_id, Item)
        assert (item.name, item.qty) == ("from s1", 1)  # nothing of s2 applied


def test_optimistic_concurrency_uses_the_change_vector_at_load_time(
        doc_store: DocumentStore, item_id: int) -> None:
    """The conflict happens between load and the flush (not between flush and commit)."""
    with doc_store.open_session() as mine:
        item = mine.load(item_id, Item)
        with doc_store.open_session(use_optimistic_concurrency=False) as theirs:
            theirs.load(item_id, Item).qty = 5
            theirs.save_changes()
        item.name = "stale"
        with pytest.raises(StaleDataError):
            mine.save_changes()


def test_optimistic_concurrency_on_delete(doc_store: DocumentStore, item_id: int) -> None:
    with doc_store.open_session() as s1, doc_store.open_session() as s2:
        s1.load(item_id, Item).qty = 3
        s2.delete(s2.load(item_id, Item))
        s1.save_changes()
        with pytest.raises(StaleDataError):
            s2.save_changes()


def test_change_vectors_are_tracked(doc_store: DocumentStore, item_id: int) -> None:
    """Hook: change_vectors (loaded, then updated from the batch reply)."""
    with doc_store.open_session() as s:
        item = s.load(item_id, Item)
        cv = s.advanced.get_change_vector_for(item)
        assert isinstance(cv, str) and cv
        assert s.advanced.get_metadata_for(item)["@change-vector"] == cv
        item.qty = 9
        s.save_changes()
        assert s.advanced.get_change_vector_for(item) not in (None, cv)
        item.qty = 10
        s.save_changes()  # the second save carries the new change vector: no conflict


def test_cluster_wide_atomic_guards_on_the_embedded_store(doc_store: DocumentStore,
                                                          item_id: int) -> None:
    """Hook: atomic_guards (the embedded store's counterpart of RavenDB's atomic guards)."""
    options = SessionOptions(transaction_mode=Mode.CLUSTER_WIDE)
    with doc_store.open_session(session_options=options) as s1, \
            doc_store.open_session(session_options=options) as s2:
        s1.load(item_id, Item).name = "s1"
        s2.load(item_id, Item).qty = 7
        s1.save_changes()
        with pytest.raises(StaleDataError):
            s2.save_changes()


def test_cluster_wide_without_atomic_guards_is_last_writer_wins(doc_store: DocumentStore,
                                                                 item_id: int) -> None:
    options = SessionOptions(transaction_mode=Mode.CLUSTER_WIDE,
                             disable_atomic_document_writes_in_cluster_wide_transaction=True)
    with doc_store.open_session(session_options=options) as s1, \
            doc_store.open_session(session_options=options) as s2:
        s1.load(item_id, Item).name = "s1"
        s2.load(item_id, Item).qty = 7
        s1.save_changes()
        s2.save_changes()
        dbapi_conn = s2.connection().connection.dbapi_connection
        assert dbapi_conn.atomic_guards is False


def test_compare_exchange_values(doc_store: DocumentStore) -> None:
    """Hooks: PendingBatch.add_compare_exchange, backend.get_compare_exchange_values."""
    options = SessionOptions(transaction_mode=Mode.CLUSTER_WIDE)
    with doc_store.open_session(session_options=options) as s:
        s.advanced.cluster_transaction.create_compare_exchange_value("emails/a@x", "users/1")
        s.store(Item(name="with a reservation"))
        s.save_changes()
    with doc_store.open_session(session_options=options) as s:
        value = s.advanced.cluster_transaction.get_compare_exchange_value("emails/a@x")
        assert value is not None and value.value == "users/1" and value.index > 0
        assert s.advanced.number_of_requests == 1  # counted, as in RavenDB
        s.advanced.cluster_transaction.create_compare_exchange_value("emails/a@x", "users/2")
        with pytest.raises(StaleDataError):
            s.save_changes()
    with doc_store.open_session(session_options=options) as s:
        value = s.advanced.cluster_transaction.get_compare_exchange_value("emails/a@x")
        s.advanced.cluster_transaction.delete_compare_exchange_value(value)
        s.save_changes()
        assert s.advanced.cluster_transaction.get_compare_exchange_value("emails/a@x") is None


def test_two_phase_commit_over_two_databases(tmp_path: Path) -> None:
    """Hook: the dialect's two-phase methods over DB-API prepare()/commit_prepared()."""
    e1 = create_engine(f"docstore:///{tmp_path / 'one.db'}")
    e2 = create_engine(f"docstore:///{tmp_path / 'two.db'}")
    try:
        Base.metadata.create_all(e1)
        Base.metadata.create_all(e2)
        factory = sessionmaker(class_=DocumentSession, binds={Item: e1, Order: e2},
                               twophase=True)
        with factory() as s:
            s.store(Item(name="a"))
            s.store(Order(ref="R1"))
            s.save_changes()
        with factory() as s:
            s.store(Item(name="b"))
            s.store(Order(ref="R1"))  # fails prepare on the second database...
            with pytest.raises(IntegrityError):
                s.save_changes()
        with factory() as s:  # ...so nothing was applied on the first either
            assert [i.name for i in s.scalars(select(Item))] == ["a"]
    finally:
        e1.dispose()
        e2.dispose()


def test_saving_a_loaded_and_modified_object_is_one_request(tmp_path: Path) -> None:
    """Core: an UPDATE by key of a document loaded in this session re-reads it at flush (a
    counted load); RavenDB saves it with the batch alone."""
    with DocumentStore(url=f"docstore:///{tmp_path / 'x.db'}", metadata=Base.metadata) as st:
        with st.open_session() as s:
            item = Item(name="n")
            s.store(item)
            s.save_changes()
        with st.open_session() as s:
            s.load(item.id, Item).name = "m"
            before = s.advanced.number_of_requests
            s.save_changes()
            assert s.advanced.number_of_requests - before == 1


def test_optimistic_concurrency_covers_documents_created_in_the_session(
        doc_store: DocumentStore) -> None:
    """A session that tracks change vectors records them for the documents it created."""
    with doc_store.open_session() as mine:
        item = Item(name="new", qty=1)
        mine.store(item)
        mine.save_changes()
        cv = mine.advanced.get_change_vector_for(item)
        assert isinstance(cv, str) and cv
        with doc_store.open_session(use_optimistic_concurrency=False) as theirs:
            theirs.load(item.id, Item).qty = 5
            theirs.save_changes()
        item.name = "overwrites theirs?"
        with pytest.raises(StaleDataError):
            mine.save_changes()
    with doc_store.open_session() as s:
        assert (s.load(item.id, Item).name, s.load(item.id, Item).qty) == ("new", 5)
