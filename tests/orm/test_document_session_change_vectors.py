"""advanced.get_change_vector_for() and get_metadata_for() give a loaded document's change vector
in every session, as RavenDB's session does (not only with optimistic concurrency or
cluster-wide transactions): the change vector it was loaded with, then the one this session's
last save gave it. Both backends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sqla_docstore import DocumentStore


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
