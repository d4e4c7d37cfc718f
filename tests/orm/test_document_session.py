"""DocumentSession's RavenDB API on the embedded store (memory and file): HiLo ids at store(),
load by key or document id, identity map, delete, save_changes, advanced, tracking options."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import ForeignKey, String, create_engine, select
from sqlalchemy.exc import ArgumentError, InvalidRequestError
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    mapped_column,
    relationship,
    selectinload,
)

from sqla_docstore import (
    ChangeType,
    DocumentsChanges,
    DocumentSession,
    DocumentStore,
    SessionOptions,
    TransactionMode,
)
from sqla_docstore import dbapi as docstore_dbapi
from sqla_docstore.orm import TrackingDisabledError


class Base(DeclarativeBase):
    pass


class Company(Base):
    __tablename__ = "companies"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    city: Mapped[str | None] = mapped_column(String(50))
    employees: Mapped[list[Employee]] = relationship(back_populates="company",
                                                     order_by="Employee.id")


class Employee(Base):
    __tablename__ = "employees"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"))
    company: Mapped[Company | None] = relationship(back_populates="employees")


class Country(Base):
    """A string key chosen by the application: no HiLo."""

    __tablename__ = "countries"
    code: Mapped[str] = mapped_column(String(2), primary_key=True)
    name: Mapped[str] = mapped_column(String(50))


class Membership(Base):
    __tablename__ = "memberships"
    user_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    group: Mapped[str] = mapped_column(String(20), primary_key=True)
    since: Mapped[dt.date | None]


@pytest.fixture(params=["memory", "file"])
def doc_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DocumentStore]:
    url = "docstore://" if request.param == "memory" else f"docstore:///{tmp_path / 'app.db'}"
    with DocumentStore(url=url, metadata=Base.metadata) as st:
        yield st


@pytest.fixture
def acme(doc_store: DocumentStore) -> int:
    """A saved company with two employees; returns its id."""
    with doc_store.open_session() as s:
        c = Company(name="Acme", city="Paris",
                    employees=[Employee(name="ann"), Employee(name="bob")])
        s.store(c)
        s.save_changes()
        return c.id


# ---------------------------------------------------------------------------- HiLo ids


def test_store_assigns_hilo_ids_at_once_without_requests(doc_store: DocumentStore) -> None:
    with doc_store.open_session() as s:
        companies = [Company(name=f"c{i}") for i in range(40)]
        for c in companies:
            s.store(c)
            assert c.id is not None
        assert len({c.id for c in companies}) == 40
        assert s.advanced.number_of_requests == 0  # HiLo is not counted, as in RavenDB
        s.save_changes()
        assert s.advanced.number_of_requests == 1
    with doc_store.open_session() as s:
        assert sorted(c.id for c in s.scalars(select(Company))) == sorted(c.id for c in companies)


def test_add_cascades_and_add_all_assign_ids_too(doc_store: DocumentStore) -> None:
    with doc_store.open_session() as s:
        c = Company(name="Acme")
        s.add(c)
        assert c.id is not None
        e = Employee(name="cascaded")
        c.employees.append(e)  # joins the session through the backref cascade
        assert e in s and e.id is not None
        more = [Employee(name="x"), Employee(name="y")]
        s.add_all(more)
        assert all(m.id is not None for m in more)
        merged = s.merge(Company(name="merged"))
        assert merged.id is not None
        s.save_changes()
        assert c.employees[0].company_id == c.id


def test_ids_are_unique_across_sessions_and_explicit_ids_are_kept(
        doc_store: DocumentStore) -> None:
    with doc_store.open_session() as s1, doc_store.open_session() as s2:
        a, b = Company(name="a"), Company(name="b")
        s1.store(a)
        s2.store(b)
        assert a.id != b.id
        explicit = Company(id=10_000, name="explicit")
        s1.store(explicit)
        assert explicit.id == 10_000
        s1.save_changes()
        s2.save_changes()


def test_string_and_composite_keys_get_no_hilo(doc_store: DocumentStore) -> None:
    with doc_store.open_session() as s:
        country = Country(code="fr", name="France")
        s.store(country)
        m = Membership(user_id=1, group="admins")
        s.store(m)
        s.save_changes()
        assert s.load("countries/fr", Country) is country
        assert s.load("fr", Country) is country
        assert s.load((1, "admins"), Membership) is m
        assert s.load("memberships/1/admins", Membership) is m


def test_store_with_explicit_document_id(doc_store: DocumentStore) -> None:
    with doc_store.open_session() as s:
        c = Company(name="seven")
        s.store(c, "companies/7")
        assert c.id == 7
        s.store(Country(name="Italy"), "countries/it")
        s.save_changes()
    with doc_store.open_session() as s:
        assert s.load(7, Company).name == "seven"
        assert s.load("countries/it", Country).name == "Italy"


def test_store_refuses_a_second_object_with_a_tracked_id(doc_store: DocumentStore,
                                                          acme: int) -> None:
    with doc_store.open_session() as s:
        s.load(acme, Company)
        with pytest.raises(InvalidRequestError, match="different object with id 'companies/"):
            s.store(Company(name="impostor"), f"companies/{acme}")


def test_store_refuses_a_deleted_object(doc_store: DocumentStore, acme: int) -> None:
    with doc_store.open_session() as s:
        c = s.load(acme, Company)
        for e in list(c.employees):
            s.delete(e)
        s.delete(c)
        with pytest.raises(InvalidRequestError, match="already deleted in this session"):
            s.store(c)


# ---------------------------------------------------------------------------- load


def test_load_by_key_and_by_document_id_is_the_same_object(doc_store: DocumentStore,
                                                             acme: int) -> None:
    with doc_store.open_session() as s:
        c = s.load(acme, object_type=Company)
        assert c.name == "Acme"
        assert s.load(f"companies/{acme}", Company) is c
        assert s.load(f"Companies/{acme}", Company) is c  # ids ignore case, as in RavenDB
        assert s.load(f"companies/{acme}") is c  # object_type found from the prefix
        assert s.advanced.number_of_requests == 1  # the identity map answered the rest
        assert s.advanced.is_loaded(acme, Company)
        assert s.advanced.get_document_id(c) == f"companies/{acme}"


def test_load_rejects_ids_of_another_collection(doc_store: DocumentStore, acme: int) -> None:
    with doc_store.open_session() as s:
        with pytest.raises(ValueError, match="not a document id of Company"):
            s.load(f"employees/{acme}", Company)
        with pytest.raises(ValueError, match="not a valid int"):
            s.load("companies/1-A", Company)
        with pytest.raises(ArgumentError, match="object_type"):
            s.load(acme)
        assert s.advanced.number_of_requests == 0


def test_load_missing_returns_none_and_remembers_it(doc_store: DocumentStore) -> None:
    with doc_store.open_session() as s:
        assert s.load(424242, Company) is None
        assert s.load("companies/424242", Company) is None
        assert s.advanced.number_of_requests == 1  # known missing: no second request
        assert not s.advanced.is_loaded(424242, Company)


def test_load_many_is_one_request_and_keeps_the_order(doc_store: DocumentStore) -> None:
    with doc_store.open_session() as s:
        ids = []
        for i in range(5):
            c = Company(name=f"c{i}")
            s.store(c)
            ids.append(c.id)
        s.save_changes()
    with doc_store.open_session() as s:
        first = s.load(ids[0], Company)
        wanted = [f"companies/{ids[3]}", ids[0], 999_999, ids[1]]
        found = s.load(wanted, Company)
        assert list(found) == wanted
        assert found[ids[0]] is first
        assert found[999_999] is None
        assert [found[w].name for w in (wanted[0], ids[1])] == ["c3", "c1"]
        assert s.advanced.number_of_requests == 2  # the first load, then one for the rest
        assert s.load([], Company) == {}


def test_load_with_loader_options(doc_store: DocumentStore, acme: int) -> None:
    with doc_store.open_session() as s:
        c = s.load(acme, Company, options=[selectinload(Company.employees)])
        before = s.advanced.number_of_requests
        assert [e.name for e in c.employees] == ["ann", "bob"]
        assert s.advanced.number_of_requests == before


def test_load_sees_stored_objects_before_save(doc_store: DocumentStore) -> None:
    with doc_store.open_session() as s:
        c = Company(name="new")
        s.store(c)
        assert s.load(c.id, Company) is c
        assert s.load(f"companies/{c.id}", Company) is c
        assert s.advanced.number_of_requests == 0


# --------------------------------------------------------------------- delete and save


def test_delete_by_entity_and_by_id(doc_store: DocumentStore, acme: int) -> None:
    with doc_store.open_session() as s:
        c = s.load(acme, Company)
        ann, bob = c.employees
        s.delete(ann)
        s.delete(f"employees/{bob.id}")  # tracked: no request needed
        s.delete(f"employees/{ann.id + 10_000}", Employee)  # missing id: nothing happens
        s.save_changes()
        assert s.load(ann.id, Employee) is None
    with doc_store.open_session() as s:
        assert s.scalars(select(Employee)).all() == []
        s.delete(acme, Company)  # not tracked: loaded (one request), then deleted
        s.save_changes()
    with doc_store.open_session() as s:
        assert s.load(acme, Company) is None


def test_save_changes_with_nothing_to_save_sends_nothing(doc_store: DocumentStore,
                                                         acme: int) -> None:
    with doc_store.open_session() as s:
        c = s.load(acme, Company)
        c.name = "Acme 2"
        s.save_changes()
        sent = s.advanced.number_of_requests
        s.save_changes()
        assert s.advanced.number_of_requests == sent
        assert s.advanced.has_changes() is False


def test_changes_are_saved_field_by_field(doc_store: DocumentStore, acme: int) -> None:
    with doc_store.open_session() as s:
        s.load(acme, Company).name = "Renamed"
        s.save_changes()
    with doc_store.open_session() as s:
        c = s.load(acme, Company)
        assert (c.name, c.city) == ("Renamed", "Paris")


# -------------------------------------------------------------------------- advanced


def test_what_changed_and_has_changes(doc_store: DocumentStore, acme: int) -> None:
    with doc_store.open_session() as s:
        c = s.load(acme, Company)
        ann, bob = c.employees
        assert s.advanced.has_changes() is False
        assert s.advanced.what_changed() == {}
        c.name = "Acme 2"
        c.city = None
        new = Company(name="New")
        s.store(new)
        s.delete(bob)
        ann.company = new
        assert s.advanced.has_changes() is True
        assert s.advanced.has_changed(c) and s.advanced.has_changed(bob)
        changes = s.advanced.what_changed()
        assert changes[f"companies/{acme}"] == [
            DocumentsChanges("Acme", "Acme 2", ChangeType.FIELD_CHANGED, "name", ""),
            DocumentsChanges("Paris", None, ChangeType.FIELD_CHANGED, "city", ""),
        ]
        assert changes[f"companies/{new.id}"] == [
            DocumentsChanges(None, None, ChangeType.DOCUMENT_ADDED)
        ]
        assert changes[f"employees/{bob.id}"] == [
            DocumentsChanges(None, None, ChangeType.DOCUMENT_DELETED)
        ]
        assert changes[f"employees/{ann.id}"] == [
            DocumentsChanges(acme, new.id, ChangeType.FIELD_CHANGED, "company_id", "")
        ]
        s.save_changes()
        assert s.advanced.has_changes() is False
        assert s.advanced.what_changed() == {}


def test_what_changed_survives_an_autoflush(doc_store: DocumentStore, acme: int) -> None:
    with doc_store.open_session() as s:
        c = s.load(acme, Company)
        c.name = "first"
        s.flush()  # as an autoflush before a query would
        c.name = "second"
        assert s.advanced.what_changed()[f"companies/{acme}"] == [
            DocumentsChanges("Acme", "second", ChangeType.FIELD_CHANGED, "name", "")
        ]
        c.name = "Acme"
        assert s.advanced.what_changed() == {}  # back to what was loaded
        s.rollback()
        assert s.advanced.has_changes() is False


def test_what_changed_added_then_deleted_is_no_change(doc_store: DocumentStore) -> None:
    with doc_store.open_session() as s:
        c = Company(name="tmp")
        s.store(c)
        s.flush()
        s.delete(c)
        assert s.advanced.what_changed() == {}


def test_evict_and_clear(doc_store: DocumentStore, acme: int) -> None:
    with doc_store.open_session() as s:
        c = s.load(acme, Company)
        c.name = "not saved"
        s.advanced.evict(c)
        assert not s.advanced.is_loaded(acme, Company)
        again = s.load(acme, Company)
        assert again is not c and again.name == "Acme"
        assert s.advanced.number_of_requests == 2
        s.advanced.clear()
        assert list(s.identity_map.values()) == []
        s.save_changes()
    with doc_store.open_session() as s:
        assert s.load(acme, Company).name == "Acme"


def test_get_metadata_for(doc_store: DocumentStore, acme: int) -> None:
    with doc_store.open_session() as s:
        c = s.load(acme, Company)
        meta = s.advanced.get_metadata_for(c)
        assert meta["@id"] == f"companies/{acme}"
        assert meta["@collection"] == "companies"
        assert meta["Raven-Python-Type"] == f"{Company.__module__}.Company"
        with pytest.raises(InvalidRequestError, match="not associated with the session"):
            s.advanced.get_metadata_for(Company(name="loose"))


def test_request_limit_can_be_changed_on_the_session(doc_store: DocumentStore) -> None:
    with doc_store.open_session() as s:
        s.advanced.max_number_of_requests_per_session = 100
        assert s.advanced.max_number_of_requests_per_session == 100
        with pytest.raises(ValueError):
            s.advanced.max_number_of_requests_per_session = -1


# ------------------------------------------------------------------------ no_tracking


def test_no_tracking_loads_new_objects_every_time(doc_store: DocumentStore, acme: int) -> None:
    with doc_store.open_session(session_options=SessionOptions(no_tracking=True)) as s:
        a = s.load(acme, Company)
        b = s.load(f"companies/{acme}", Company)
        assert a is not b and a.name == b.name == "Acme"
        assert s.advanced.number_of_requests == 2  # no identity map: each load is a request
        assert a not in s and list(s.identity_map.values()) == []
        a.name = "changed"
        s.save_changes()
        found = s.load([acme, 123_456], Company)
        assert found[acme].name == "Acme" and found[123_456] is None


def test_no_tracking_queries_with_eager_loading(doc_store: DocumentStore, acme: int) -> None:
    with doc_store.open_session(session_options=SessionOptions(no_tracking=True)) as s:
        companies = s.scalars(select(Company).options(selectinload(Company.employees))).all()
        assert [e.name for e in companies[0].employees] == ["ann", "bob"]
        assert list(s.identity_map.values()) == []


def test_no_tracking_refuses_writes(doc_store: DocumentStore, acme: int) -> None:
    with doc_store.open_session(session_options=SessionOptions(no_tracking=True)) as s:
        with pytest.raises(TrackingDisabledError, match="tracking is disabled"):
            s.store(Company(name="x"))
        with pytest.raises(RuntimeError):  # RavenDB raises RuntimeError; so does this
            s.add(Company(name="x"))
        with pytest.raises(TrackingDisabledError):
            s.delete(acme, Company)
        s.merge(Company(name="merged"))
        with pytest.raises(TrackingDisabledError, match="save_changes"):
            s.save_changes()


def test_no_tracking_with_optimistic_concurrency_is_refused(doc_store: DocumentStore) -> None:
    with pytest.raises(ArgumentError, match="no_tracking"):
        DocumentSession(bind=doc_store.engine, use_optimistic_concurrency=True,
                        session_options=SessionOptions(no_tracking=True))


# ----------------------------------------------------- connection settings per session


@pytest.fixture
def raven_engine() -> Iterator[object]:
    """An engine on a RavenDB backend that is never contacted (the tests only look at the
    connection's settings)."""
    from sqla_docstore.backends.ravendb.connection import RavenConnection
    from sqla_docstore.backends.ravendb.http import Cluster

    cluster = Cluster(["http://127.0.0.1:9"], "db")
    engine = create_engine("ravendb://127.0.0.1:9/db",
                           creator=lambda: docstore_dbapi.Connection(RavenConnection(cluster)))
    yield engine
    engine.dispose()


def test_no_caching_turns_the_http_cache_off_for_the_session(raven_engine: object) -> None:
    options = SessionOptions(no_caching=True)
    with DocumentSession(bind=raven_engine, session_options=options) as s:
        backend = s.connection().connection.dbapi_connection.backend
        assert backend.http.use_cache is False
        assert backend.before_request is not None
    assert backend.http.use_cache is True  # restored when the connection went back
    assert backend.before_request is None
    with DocumentSession(bind=raven_engine) as s:
        assert s.connection().connection.dbapi_connection.backend.http.use_cache is True


def test_cluster_wide_sessions_send_cluster_wide_batches(raven_engine: object) -> None:
    options = SessionOptions(transaction_mode=TransactionMode.CLUSTER_WIDE)
    with DocumentSession(bind=raven_engine, session_options=options) as s:
        dbapi_conn = s.connection().connection.dbapi_connection
        assert dbapi_conn.cluster_wide is True
        assert s.advanced.transaction_mode is TransactionMode.CLUSTER_WIDE
    assert dbapi_conn.cluster_wide is False
    assert str(TransactionMode.CLUSTER_WIDE) == "cluster_wide"
    assert SessionOptions(transaction_mode="cluster_wide").cluster_wide
    with pytest.raises(ValueError, match="TransactionMode"):
        SessionOptions(transaction_mode="everywhere")


def test_no_caching_is_harmless_on_the_embedded_store(doc_store: DocumentStore,
                                                      acme: int) -> None:
    with doc_store.open_session(session_options=SessionOptions(no_caching=True)) as s:
        assert s.load(acme, Company).name == "Acme"


def test_cluster_wide_session_on_the_embedded_store_commits_atomically(
        doc_store: DocumentStore, acme: int) -> None:
    options = SessionOptions(transaction_mode=TransactionMode.CLUSTER_WIDE)
    with doc_store.open_session(session_options=options) as s:
        s.load(acme, Company).name = "cluster"
        s.store(Company(name="another"))
        s.save_changes()
    with doc_store.open_session() as s:
        assert sorted(c.name for c in s.scalars(select(Company))) == ["another", "cluster"]


def test_cluster_wide_with_optimistic_concurrency_is_refused(doc_store: DocumentStore) -> None:
    options = SessionOptions(transaction_mode=TransactionMode.CLUSTER_WIDE)
    with pytest.raises(ArgumentError, match="CLUSTER_WIDE"):
        doc_store.open_session(session_options=options, use_optimistic_concurrency=True)
    doc_store.conventions.use_optimistic_concurrency = True
    with doc_store.open_session(session_options=options) as s:
        assert s.advanced.use_optimistic_concurrency is False  # atomic guards instead
        with pytest.raises(InvalidRequestError):
            s.advanced.use_optimistic_concurrency = True


def test_compare_exchange_needs_a_cluster_wide_session(doc_store: DocumentStore) -> None:
    from sqla_docstore.orm import ClusterTransactionRequiredError

    with doc_store.open_session() as s:
        with pytest.raises(ClusterTransactionRequiredError, match="ClusterWide|CLUSTER_WIDE"):
            s.advanced.cluster_transaction.create_compare_exchange_value("emails/a@x", "users/1")
        with pytest.raises(RuntimeError):
            s.advanced.cluster_transaction.get_compare_exchange_value("emails/a@x")
