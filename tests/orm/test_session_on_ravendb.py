"""The same DocumentStore/DocumentSession code on ``ravendb://`` (the ``ravendb_server`` fixture:
a real RavenDB when configured, else the bundled server)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import ForeignKey, String, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, selectinload

from sqla_docstore import DocumentSession, DocumentStore, SessionOptions, TransactionMode
from sqla_docstore.errors import RequestBudgetError
from sqla_docstore.testing.requests import assert_max_requests


class Base(DeclarativeBase):
    pass


class Company(Base):
    __tablename__ = "companies"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    employees: Mapped[list[Employee]] = relationship(back_populates="company",
                                                     order_by="Employee.id")


class Employee(Base):
    __tablename__ = "employees"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    company: Mapped[Company] = relationship(back_populates="employees")


@pytest.fixture
def raven_store(ravendb_server: Any) -> Iterator[DocumentStore]:
    with DocumentStore(urls=ravendb_server.urls, database=ravendb_server.database,
                       metadata=Base.metadata) as st:
        yield st


def test_issue_example_on_ravendb(raven_store: DocumentStore) -> None:
    raven_store.conventions.max_number_of_requests_per_session = 30
    with raven_store.open_session() as session:
        assert isinstance(session, DocumentSession)
        company = Company(name="Acme")
        session.store(company)
        company_id = company.id
        assert isinstance(company_id, int)
        session.save_changes()
        assert session.advanced.requests_by_kind == {"batch": 1}  # HiLo is not counted
    options = SessionOptions(transaction_mode=TransactionMode.CLUSTER_WIDE)
    with raven_store.open_session(session_options=options) as session:
        c = session.load(company_id, object_type=Company)
        assert c is session.load(f"companies/{company_id}", object_type=Company)
        assert session.advanced.number_of_requests == 1
        c.name = "Another Company"
        session.save_changes()
    with raven_store.open_session() as session:
        assert session.load(company_id, Company).name == "Another Company"


def test_cluster_wide_sessions_send_cluster_wide_batches(raven_store: DocumentStore,
                                                         ravendb_server: Any) -> None:
    if not ravendb_server.recording:
        pytest.skip("needs the bundled server's request log")
    options = SessionOptions(transaction_mode=TransactionMode.CLUSTER_WIDE)
    with raven_store.open_session(session_options=options) as s:
        s.store(Company(name="cw"))
        ravendb_server.clear_requests()
        s.save_changes()
    batches = [r for r in ravendb_server.requests if r.path.endswith("/bulk_docs")]
    assert len(batches) == 1
    assert batches[0].body.get("TransactionMode") == "ClusterWide"
    with raven_store.open_session() as s:
        s.store(Company(name="single"))
        ravendb_server.clear_requests()
        s.save_changes()
    batches = [r for r in ravendb_server.requests if r.path.endswith("/bulk_docs")]
    assert "TransactionMode" not in batches[0].body


def test_select_n_plus_1_fails_and_selectinload_passes_on_ravendb(
        raven_store: DocumentStore) -> None:
    with raven_store.open_session() as s:
        for i in range(40):
            s.store(Company(name=f"c{i}", employees=[Employee(name=f"e{i}")]))
        s.save_changes()
    with raven_store.open_session() as s:
        companies = s.scalars(select(Company)).all()
        with pytest.raises(OperationalError) as excinfo:
            for c in companies:
                c.employees  # noqa: B018 - one lazy load (an HTTP query) each
        assert isinstance(excinfo.value.orig, RequestBudgetError)
        assert s.advanced.number_of_requests == 31
    with raven_store.open_session() as s, assert_max_requests(s, 3):
        companies = s.scalars(select(Company).options(selectinload(Company.employees))).all()
        assert sum(len(c.employees) for c in companies) == 40


def test_no_caching_on_ravendb(raven_store: DocumentStore) -> None:
    with raven_store.open_session() as s:
        c = Company(name="cached")
        s.store(c)
        s.save_changes()
    with raven_store.open_session(session_options=SessionOptions(no_caching=True)) as s:
        backend = s.connection().connection.dbapi_connection.backend
        assert backend.http.use_cache is False
        assert s.load(c.id, Company).name == "cached"
    assert backend.http.use_cache is True
