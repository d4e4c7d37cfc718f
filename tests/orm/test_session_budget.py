"""The request budget (RavenDB's MaxNumberOfRequestsPerSession) and assert_max_requests()."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import ForeignKey, String, create_engine, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
    scoped_session,
    selectinload,
    sessionmaker,
)

import sqla_docstore
from sqla_docstore import DocumentSession, DocumentStore
from sqla_docstore.errors import RequestBudgetError
from sqla_docstore.testing.requests import TooManyRequests, assert_max_requests


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "authors"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    books: Mapped[list[Book]] = relationship(back_populates="author", order_by="Book.id")


class Book(Base):
    __tablename__ = "books"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(50))
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id"))
    author: Mapped[Author] = relationship(back_populates="books")


@pytest.fixture(params=["memory", "file"])
def doc_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DocumentStore]:
    url = "docstore://" if request.param == "memory" else f"docstore:///{tmp_path / 'app.db'}"
    with DocumentStore(url=url, metadata=Base.metadata) as st:
        yield st


@pytest.fixture
def library(doc_store: DocumentStore) -> list[int]:
    """40 authors with two books each; returns the author ids."""
    with doc_store.open_session() as s:
        authors = [Author(name=f"a{i}", books=[Book(title=f"b{i}.1"), Book(title=f"b{i}.2")])
                   for i in range(40)]
        for a in authors:
            s.store(a)
        s.save_changes()
        return [a.id for a in authors]


def _budget_error(excinfo: pytest.ExceptionInfo[OperationalError]) -> RequestBudgetError:
    orig = excinfo.value.orig
    assert isinstance(orig, RequestBudgetError)
    return orig


# --------------------------------------------------------------------- the budget


def test_select_n_plus_1_over_40_objects_fails(doc_store: DocumentStore,
                                               library: list[int]) -> None:
    with doc_store.open_session() as s:
        authors = s.scalars(select(Author)).all()
        assert len(authors) == 40
        with pytest.raises(OperationalError) as excinfo:
            for author in authors:
                [b.title for b in author.books]  # one lazy load per author
        err = _budget_error(excinfo)
        assert isinstance(err, sqla_docstore.errors.OperationalError)
        assert "maximum number of requests (30)" in str(err)
        assert "max_number_of_requests_per_session" in str(err)  # how to raise it
        assert "selectinload" in str(err)
        # As in RavenDB the refused call is counted (31) but never sent (30 reached the store).
        assert s.advanced.number_of_requests == 31
        sent = sqla_docstore.request_counts(s)
        assert sent.get("load", 0) + sent.get("query", 0) == 30


def test_the_same_loop_with_selectinload_passes_within_3_requests(
        doc_store: DocumentStore, library: list[int]) -> None:
    with doc_store.open_session() as s, assert_max_requests(s, 3) as counted:
        authors = s.scalars(select(Author).options(selectinload(Author.books))).all()
        titles = [b.title for a in authors for b in a.books]
    assert len(titles) == 80
    assert counted.total <= 3
    assert s.advanced.number_of_requests <= 3


def test_many_to_one_lazy_loads_count_too(doc_store: DocumentStore, library: list[int]) -> None:
    with doc_store.open_session() as s:
        s.advanced.max_number_of_requests_per_session = 10
        books = s.scalars(select(Book).order_by(Book.id)).all()[::2]  # one book per author
        s.expunge_all()  # forget the authors the query did not load either way
        books = [s.merge(b, load=False) for b in books]
        with pytest.raises(OperationalError) as excinfo:
            for book in books:
                book.author.name  # noqa: B018 - a lazy many-to-one load each
        assert "(10)" in str(_budget_error(excinfo))


def test_a_larger_limit_through_sessionmaker(doc_store: DocumentStore,
                                             library: list[int]) -> None:
    factory = sessionmaker(bind=doc_store.engine, class_=DocumentSession,
                           max_number_of_requests_per_session=50)
    with factory() as s:
        authors = s.scalars(select(Author)).all()
        assert sum(len(a.books) for a in authors) == 80
        assert s.advanced.number_of_requests == 41


def test_none_means_no_limit(doc_store: DocumentStore, library: list[int]) -> None:
    with DocumentSession(bind=doc_store.engine, max_number_of_requests_per_session=None) as s:
        authors = s.scalars(select(Author)).all()
        assert sum(len(a.books) for a in authors) == 80
        assert s.advanced.number_of_requests == 41


def test_direct_document_session_defaults_to_30(doc_store: DocumentStore) -> None:
    with DocumentSession(bind=doc_store.engine) as s:
        assert s.advanced.max_number_of_requests_per_session == 30


def test_a_refused_commit_sends_nothing(doc_store: DocumentStore, library: list[int]) -> None:
    with doc_store.open_session(max_number_of_requests_per_session=1) as s:
        author = s.load(library[0], Author)
        author.name = "never saved"
        s.store(Author(name="never stored"))
        with pytest.raises(OperationalError) as excinfo:
            s.save_changes()
        _budget_error(excinfo)
        assert s.advanced.number_of_requests >= 2
        assert "batch" not in sqla_docstore.request_counts(s)
    with doc_store.open_session() as s:
        assert s.load(library[0], Author).name == "a0"
        assert len(s.scalars(select(Author)).all()) == 40


def test_hilo_ranges_are_not_counted(doc_store: DocumentStore) -> None:
    with doc_store.open_session() as s:
        for i in range(100):  # more than one HiLo range
            s.store(Author(name=f"n{i}"))
        assert s.advanced.number_of_requests == 0
        assert sqla_docstore.request_counts(s).get("hilo", 0) >= 1
        s.save_changes()
        assert s.advanced.number_of_requests == 1


def test_the_count_spans_transactions_and_restarts_at_close(doc_store: DocumentStore,
                                                            library: list[int]) -> None:
    s = doc_store.open_session()
    s.load(library[0], Author)
    s.commit()
    s.load(library[1], Author)
    s.rollback()
    assert s.advanced.number_of_requests == 2
    assert s.advanced.requests_by_kind == {"load": 2}  # loads by id, as RavenDB makes them
    s.close()
    assert s.advanced.number_of_requests == 0


def test_the_hook_comes_off_when_the_connection_goes_back(doc_store: DocumentStore,
                                                          library: list[int]) -> None:
    with doc_store.open_session() as s:
        backend = s.connection().connection.dbapi_connection.backend
        assert backend.before_request is not None
        s.load(library[0], Author)
    assert backend.before_request is None
    # A plain Session on the same pooled connection is neither counted nor limited.
    with Session(doc_store.engine) as plain:
        for author in plain.scalars(select(Author)).all():
            author.books  # noqa: B018 - 41 requests, no budget
        assert plain.connection().connection.dbapi_connection.backend is backend
    assert s.advanced.number_of_requests == 0  # closed: restarted


def test_a_session_on_an_external_connection_restores_the_hook(
        doc_store: DocumentStore, library: list[int]) -> None:
    with doc_store.engine.connect() as conn:
        backend = conn.connection.dbapi_connection.backend
        trans = conn.begin()
        s = DocumentSession(bind=conn, join_transaction_mode="create_savepoint",
                            max_number_of_requests_per_session=2)
        s.load(library[0], Author)
        s.load(library[1], Author)
        with pytest.raises(OperationalError):
            s.load(library[2], Author)
        s.close()
        assert backend.before_request is None
        conn.execute(select(Author)).all()  # not limited any more
        trans.rollback()


def test_sessions_in_threads_count_their_own_requests(doc_store: DocumentStore,
                                                      library: list[int]) -> None:
    factory = sessionmaker(bind=doc_store.engine, class_=DocumentSession,
                           max_number_of_requests_per_session=None)
    counts: dict[int, int] = {}
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            with factory() as s:
                for author_id in library[n: n + 5 + n]:
                    s.load(author_id, Author)
                    s.commit()  # gives the connection back to the pool each time
                counts[n] = s.advanced.number_of_requests
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert counts == {n: 5 + n for n in range(6)}


# ------------------------------------------------------------ assert_max_requests


def test_assert_max_requests_fails_a_select_n_plus_1(engine: Engine) -> None:
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        s.add_all([Author(name=f"a{i}", books=[Book(title="t")]) for i in range(5)])
        s.commit()
    with Session(engine) as s:  # any Session, not only DocumentSession
        with pytest.raises(TooManyRequests, match="at most 3 backend request") as excinfo:
            with assert_max_requests(s, 3):
                for author in s.scalars(select(Author)).all():
                    author.books  # noqa: B018
        assert isinstance(excinfo.value, AssertionError)
        assert excinfo.value.counts == {"query": 6}


def test_assert_max_requests_on_an_engine_a_connection_and_scoped_session(
        engine: Engine) -> None:
    Base.metadata.create_all(engine)
    with assert_max_requests(engine, 2) as counted:
        with Session(engine) as s:
            s.add(Author(name="x"))  # the HiLo range fetch is not counted
            s.commit()  # 1 batch
        with engine.connect() as conn:
            conn.execute(select(Author)).all()  # 1 query
    assert counted.by_kind == {"batch": 1, "query": 1}
    with engine.connect() as conn:
        with pytest.raises(AssertionError):
            with assert_max_requests(conn, 1):
                conn.execute(select(Author)).all()
                conn.execute(select(Book)).all()
    registry = scoped_session(sessionmaker(bind=engine))
    try:
        with assert_max_requests(registry, 1) as counted:
            registry.scalars(select(Author)).all()
        assert counted.total == 1
    finally:
        registry.remove()
    with pytest.raises(TypeError):
        with assert_max_requests(object(), 1):
            pass


def test_max_requests_fixture(max_requests: Any, engine: Engine) -> None:
    Base.metadata.create_all(engine)
    with Session(engine) as s, max_requests(s, 1):
        s.scalars(select(Author)).all()


def test_engine_counting_sees_connections_taken_before_the_block() -> None:
    engine = create_engine("docstore://")
    try:
        Base.metadata.create_all(engine)
        with engine.connect() as conn:
            with assert_max_requests(engine, 5) as counted:
                conn.execute(select(Author)).all()
        assert counted.by_kind == {"query": 1}
    finally:
        engine.dispose()
