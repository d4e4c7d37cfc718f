"""advanced.get_change_vector_for() and get_metadata_for() give a loaded document's change vector
in every session, as RavenDB's session does (not only with optimistic concurrency or
cluster-wide transactions): the change vector it was loaded with, then the one this session's
last save gave it. Both backends."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.orm.exc import StaleDataError

from sqla_docstore import DocumentStore, errors


class Base(DeclarativeBase):
    pass


class Company(Base):
    __tablename__ = "companies"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]


@pytest.fixture(params=["docstore", "ravendb"])
def doc_store(request: pytest.FixtureRequest) -> Iterator[DocumentStore]:
    url = "docstore://" if request.param == "docstore" else request.getfixturevalue("ravendb_url")
    with DocumentStore(url=url, metadata=Base.metadata) as st:
        yield st


def _saved(doc_store: DocumentStore) -> tuple[int, str]:
    with doc_store.open_session() as s:
        c = Company(name="Acme")
        s.store(c)
        s.save_changes()
        cv = s.advanced.get_change_vector_for(c)
        assert isinstance(cv, str) and cv
        return c.id, cv


def test_a_loaded_document_has_its_change_vector(doc_store: DocumentStore) -> None:
    company_id, saved_cv = _saved(doc_store)
    with doc_store.open_session() as s:
        c = s.load(company_id, Company)
        assert s.advanced.get_change_vector_for(c) == saved_cv
        assert s.advanced.get_metadata_for(c)["@change-vector"] == saved_cv
        c.name = "Acme 2"
        s.save_changes()
        after = s.advanced.get_change_vector_for(c)
    assert after is not None and after != saved_cv
    with doc_store.open_session() as s:
        assert s.advanced.get_change_vector_for(s.load(company_id, Company)) == after


def test_a_queried_document_has_its_change_vector(doc_store: DocumentStore) -> None:
    company_id, saved_cv = _saved(doc_store)
    with doc_store.open_session() as s:
        c = s.scalars(sa.select(Company).where(Company.name == "Acme")).one()
        assert c.id == company_id
        assert s.advanced.get_change_vector_for(c) == saved_cv


def _change_elsewhere(doc_store: DocumentStore, company_id: int, name: str) -> None:
    with doc_store.open_session() as other:
        other.load(company_id, Company).name = name
        other.save_changes()


def test_store_with_a_change_vector_checks_it_at_save(doc_store: DocumentStore) -> None:
    """RavenDB's store(entity, change_vector=...): the write carries that change vector (in a
    session without optimistic concurrency too): a form posted back with the version it showed
    fails if the document changed since, nothing applied."""
    company_id, shown_cv = _saved(doc_store)
    _change_elsewhere(doc_store, company_id, "changed meanwhile")
    with doc_store.open_session() as s:
        c = s.load(company_id, Company)
        s.store(c, change_vector=shown_cv)
        c.name = "from the form"
        with pytest.raises(StaleDataError):
            s.save_changes()
    with doc_store.open_session() as s:
        c = s.load(company_id, Company)
        assert c.name == "changed meanwhile"
        s.store(c, change_vector=s.advanced.get_change_vector_for(c))
        c.name = "from the form"
        s.save_changes()
    with doc_store.open_session() as s:
        assert s.load(company_id, Company).name == "from the form"


def test_delete_with_an_expected_change_vector_checks_it(doc_store: DocumentStore) -> None:
    company_id, old_cv = _saved(doc_store)
    _change_elsewhere(doc_store, company_id, "changed meanwhile")
    with doc_store.open_session() as s:
        s.delete(company_id, Company, expected_change_vector=old_cv)
        with pytest.raises(StaleDataError):
            s.save_changes()
    with doc_store.open_session() as s:
        c = s.load(company_id, Company)
        assert c is not None
        s.delete(company_id, Company,
                 expected_change_vector=s.advanced.get_change_vector_for(c))
        s.save_changes()
    with doc_store.open_session() as s:
        assert s.load(company_id, Company) is None


def test_a_change_vector_for_an_object_not_loaded_is_refused(doc_store: DocumentStore) -> None:
    company_id, cv = _saved(doc_store)
    with doc_store.open_session() as s:
        with pytest.raises(errors.NotSupportedError, match="not loaded in this session"):
            s.store(Company(id=company_id, name="overwrite"), change_vector=cv)
        s.store(Company(name="new"), change_vector="")  # must not exist: a new id doesn't
        s.save_changes()


def test_editing_metadata_is_refused_not_dropped(doc_store: DocumentStore) -> None:
    """RavenDB's client saves metadata edits (``@expires``, custom keys); here they would be
    silently lost, so the metadata given is read-only and an edit names what is refused."""
    company_id, _ = _saved(doc_store)
    with doc_store.open_session() as s:
        meta = s.advanced.get_metadata_for(s.load(company_id, Company))
        with pytest.raises(errors.NotSupportedError, match="@expires"):
            meta["@expires"] = "2030-01-01T00:00:00.0000000Z"
        with pytest.raises(errors.NotSupportedError):
            meta.update({"owner": "x"})
        with pytest.raises(errors.NotSupportedError):
            del meta["@id"]
        assert meta["@id"] == f"companies/{company_id}" and "@expires" not in meta


def test_an_unchanged_document_keeps_its_change_vector_after_a_save(
        doc_store: DocumentStore) -> None:
    first_id, first_cv = _saved(doc_store)
    second_id, _ = _saved(doc_store)
    with doc_store.open_session() as s:
        first = s.load(first_id, Company)
        s.load(second_id, Company).name = "changed"
        s.save_changes()
        assert s.advanced.get_change_vector_for(first) == first_cv
        assert s.advanced.get_metadata_for(first)["@change-vector"] == first_cv


def test_an_async_session_gives_change_vectors_without_io(doc_store: DocumentStore) -> None:
    """``advanced`` of an AsyncDocumentSession is called outside its greenlet: the change
    vector must be known without a request (it raised MissingGreenlet)."""
    company_id, saved_cv = _saved(doc_store)

    async def main() -> None:
        async with doc_store.open_async_session() as s:
            loaded = await s.load(company_id, Company)
            assert s.advanced.get_change_vector_for(loaded) == saved_cv
        async with doc_store.open_async_session() as s:
            queried = (await s.scalars(sa.select(Company))).one()
            assert s.advanced.get_metadata_for(queried)["@change-vector"] == saved_cv

    asyncio.run(main())


def test_an_async_session_gives_metadata_after_its_save(doc_store: DocumentStore) -> None:
    async def main() -> None:
        async with doc_store.open_async_session() as s:
            c = Company(name="async")
            await s.store(c)
            await s.save_changes()  # the transaction ended: advanced.* must do no I/O
            meta = s.advanced.get_metadata_for(c)
            assert meta["@id"] == f"companies/{c.id}"
            assert meta["@change-vector"] == s.advanced.get_change_vector_for(c)
            assert s.advanced.get_document_id(c) == f"companies/{c.id}"

    asyncio.run(main())


def test_queried_documents_are_saved_expecting_the_change_vectors_read(
        doc_store: DocumentStore) -> None:
    """Optimistic concurrency over documents a query loaded (not loads by key), written by a
    plain connection (whose commit's versions no session saw): a change another session
    commits meanwhile fails the save, nothing applied; a document unchanged since is saved.
    The session's connection notes its reads only while the session uses it
    (``dbapi.Connection.note_reads``): the pool gives it back to plain sessions as it was."""
    ids = (1001, 1002)
    with doc_store.engine.begin() as conn:
        conn.execute(sa.insert(Company), [{"id": i, "name": "Acme"} for i in ids])
    with doc_store.open_session() as s:
        stored = [s.advanced.get_change_vector_for(s.load(i, Company)) for i in ids]
    with doc_store.open_session(use_optimistic_concurrency=True) as s:
        first, second = s.scalars(sa.select(Company).where(Company.name == "Acme")
                                  .order_by(Company.id)).all()
        assert [s.advanced.get_change_vector_for(c) for c in (first, second)] == stored
        dbapi_conn = s.connection().connection.dbapi_connection
        assert dbapi_conn is not None and dbapi_conn.note_reads is True
        _change_elsewhere(doc_store, ids[0], "changed meanwhile")
        first.name, second.name = "mine", "mine"
        with pytest.raises(StaleDataError):
            s.save_changes()
    assert dbapi_conn.note_reads is False
    with doc_store.open_session() as s:
        assert [s.load(i, Company).name for i in ids] == ["changed meanwhile", "Acme"]
    with doc_store.open_session(use_optimistic_concurrency=True) as s:
        (second,) = s.scalars(sa.select(Company).where(Company.name == "Acme")).all()
        second.name = "mine"
        s.save_changes()
        assert s.advanced.get_change_vector_for(second) not in (None, stored[1])
