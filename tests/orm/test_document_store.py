"""DocumentStore: urls, conventions, engines per database, open_session and its defaults."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import ForeignKey, String, inspect, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    mapped_column,
    relationship,
    scoped_session,
    sessionmaker,
)

import sqla_docstore
from sqla_docstore import (
    DocumentConventions,
    DocumentSession,
    DocumentStore,
    ScopedDocumentSession,
    SessionOptions,
    TransactionMode,
)


class Base(DeclarativeBase):
    pass


class Company(Base):
    __tablename__ = "companies"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    employees: Mapped[list[Employee]] = relationship(back_populates="company")


class Employee(Base):
    __tablename__ = "employees"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"))
    company: Mapped[Company | None] = relationship(back_populates="employees")


@pytest.fixture(params=["memory", "file"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return "docstore://" if request.param == "memory" else f"docstore:///{tmp_path / 'app.db'}"


@pytest.fixture
def doc_store(url: str) -> Iterator[DocumentStore]:
    with DocumentStore(url=url, metadata=Base.metadata) as st:
        yield st


def test_issue_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The example of issue 4's "What a user does" section, as written."""
    monkeypatch.chdir(tmp_path)
    with DocumentStore(url="docstore:///app.db") as store:
        Base.metadata.create_all(store.engine)
        store.conventions.max_number_of_requests_per_session = 30
        with store.open_session() as session:
            assert isinstance(session, DocumentSession)
            company = Company(name="Acme")
            session.store(company)
            company_id = company.id
            assert isinstance(company_id, int)  # assigned at store(), before any flush
            assert session.advanced.number_of_requests == 0
            session.save_changes()
            assert session.advanced.number_of_requests == 1  # one batch
        options = SessionOptions(transaction_mode=TransactionMode.CLUSTER_WIDE)
        with store.open_session(session_options=options) as session:
            c = session.load(company_id, object_type=Company)
            assert c is session.load(company_id, object_type=Company)
            assert session.advanced.number_of_requests == 1
            c.name = "Another Company"
            session.save_changes()
            assert session.advanced.requests_by_kind["batch"] == 1
        Session = sessionmaker(bind=store.engine, class_=DocumentSession,  # noqa: N806
                               max_number_of_requests_per_session=50)
        with Session() as s:
            assert s.get(Company, company_id).name == "Another Company"
            assert s.advanced.max_number_of_requests_per_session == 50
    assert (tmp_path / "app.db").exists()


def test_store_needs_url_or_urls() -> None:
    with pytest.raises(ValueError, match="url="):
        DocumentStore()
    with pytest.raises(ValueError, match="url="):
        DocumentStore(url="docstore://", urls=["http://a:8080"], database="X")
    with pytest.raises(ValueError, match="database"):
        DocumentStore(urls=["http://a:8080"])


def test_conventions_reach_new_sessions(doc_store: DocumentStore) -> None:
    assert doc_store.conventions == DocumentConventions()
    assert doc_store.conventions.max_number_of_requests_per_session == 30
    assert doc_store.conventions.use_optimistic_concurrency is False
    doc_store.conventions.max_number_of_requests_per_session = 7
    with doc_store.open_session() as s:
        assert s.advanced.max_number_of_requests_per_session == 7
        assert s.advanced.use_optimistic_concurrency is False
        assert s.advanced.document_store is doc_store
    with doc_store.open_session(max_number_of_requests_per_session=9) as s:
        assert s.advanced.max_number_of_requests_per_session == 9


def test_conventions_given_to_the_constructor() -> None:
    conventions = DocumentConventions(max_number_of_requests_per_session=None)
    with DocumentStore(url="docstore://", conventions=conventions) as st:
        assert st.conventions is conventions
        with st.open_session() as s:
            assert s.advanced.max_number_of_requests_per_session is None


def test_open_session_keeps_values_after_save_changes(doc_store: DocumentStore) -> None:
    # RavenDB: entities keep their values after save_changes; reading them sends nothing.
    with doc_store.open_session() as s:
        c = Company(name="Acme")
        s.store(c)
        s.save_changes()
        before = s.advanced.number_of_requests
        assert c.name == "Acme" and c.id is not None
        assert s.advanced.number_of_requests == before


def test_default_database_names(tmp_path: Path) -> None:
    with DocumentStore(url=f"docstore:///{tmp_path / 'app.db'}") as st:
        assert st.database == "app"
    with DocumentStore(url="docstore://") as st:
        assert st.database == "default"
    with DocumentStore(url="ravendb://localhost:8080/Northwind") as st:
        assert st.database == "Northwind"
    with DocumentStore(urls=["http://a:8080/"], database="Northwind") as st:
        assert st.database == "Northwind"
        assert st.urls == ["http://a:8080"]


def test_other_database_of_a_file_store_is_a_sibling_file(tmp_path: Path) -> None:
    with DocumentStore(url=f"docstore:///{tmp_path / 'app.db'}", metadata=Base.metadata) as st:
        with st.open_session() as s:
            s.store(Company(name="in app"))
            s.save_changes()
        with st.open_session(database="Other") as s:
            assert s.scalars(select(Company)).all() == []
            s.store(Company(name="in other"))
            s.save_changes()
        with st.open_session(session_options=SessionOptions(database="Other")) as s:
            assert [c.name for c in s.scalars(select(Company))] == ["in other"]
        with st.open_session() as s:
            assert [c.name for c in s.scalars(select(Company))] == ["in app"]
        assert st.get_engine("other") is st.get_engine("Other")  # names ignore case
        assert st.get_engine("app") is st.engine
    assert (tmp_path / "Other.db").exists()


def test_other_database_of_a_memory_store_is_another_store() -> None:
    with DocumentStore(url="docstore://", metadata=Base.metadata) as st:
        with st.open_session() as s:
            s.store(Company(name="a"))
            s.save_changes()
        with st.open_session("Other") as s:  # positional database name, as in RavenDB
            assert s.scalars(select(Company)).all() == []
        assert st.get_engine("Other") is not st.engine


def test_database_names_cannot_be_paths(doc_store: DocumentStore) -> None:
    for bad in ("../x", "a/b", "..", " "):
        with pytest.raises(ValueError, match="not a database name"):
            doc_store.get_engine(bad)


def test_ravendb_urls_and_other_databases_without_a_server() -> None:
    # Engines are lazy: the URLs can be checked without a server.
    with DocumentStore(urls=["https://db1:443", "https://db2:443"], database="Northwind",
                       certificate_pem_path="client.pem", trust_store_path="ca.pem") as st:
        url = st.engine.url
        assert url.get_backend_name() == "ravendb" and url.get_driver_name() == "https"
        assert (url.host, url.port, url.database) == ("db1", 443, "Northwind")
        assert dict(url.query) == {"cert": "client.pem", "ca": "ca.pem"}
        assert st.get_engine("Other").url.database == "Other"
        assert st.get_engine("Other").dialect.name == "ravendb"
    with DocumentStore(url="ravendb://localhost:8080/Northwind") as st:
        assert st.get_engine("Sales").url.render_as_string() == "ravendb://localhost:8080/Sales"


def test_close_disposes_and_refuses_new_sessions(url: str) -> None:
    st = DocumentStore(url=url, metadata=Base.metadata).initialize()
    engine = st.engine
    st.close()
    assert engine.pool.checkedout() == 0
    with pytest.raises(RuntimeError, match="closed"):
        st.open_session()


def test_metadata_creates_tables_in_every_database(doc_store: DocumentStore) -> None:
    for name in (None, "Second"):
        engine: Engine = doc_store.get_engine(name)
        assert {"companies", "employees"} <= set(inspect(engine).get_table_names())


def test_request_executor_runs_the_session_on_another_engine(doc_store: DocumentStore) -> None:
    other = doc_store.get_engine("Elsewhere")
    with doc_store.open_session(session_options=SessionOptions(request_executor=other)) as s:
        assert s.get_bind() is other


def test_sessionmaker_and_scoped_session_with_document_session(doc_store: DocumentStore) -> None:
    factory = sessionmaker(bind=doc_store.engine, class_=DocumentSession,
                           max_number_of_requests_per_session=50)
    registry = scoped_session(factory)
    try:
        c = Company(name="Scoped")
        registry.add(c)  # scoped_session proxies Session's own methods...
        assert c.id is not None
        registry().save_changes()  # ...and the registry's session has the RavenDB ones
        assert registry().load(f"companies/{c.id}", Company) is c
        assert registry().advanced.max_number_of_requests_per_session == 50
    finally:
        registry.remove()
    scoped = ScopedDocumentSession(factory)  # proxies the RavenDB names too
    try:
        d = Company(name="Proxied")
        scoped.store(d)
        scoped.save_changes()
        assert scoped.load(d.id, Company) is d
        assert scoped.advanced.number_of_requests >= 1
    finally:
        scoped.remove()
    with factory() as s:
        # sessionmaker keeps SQLAlchemy's defaults (expire_on_commit=True): only
        # DocumentStore.open_session switches to RavenDB's.
        assert s.expire_on_commit is True
        assert s.load(c.id, Company).name == "Scoped"


def test_lazy_exports_do_not_import_sqlalchemy() -> None:
    import subprocess
    import sys

    code = ("import sys, sqla_docstore; assert 'sqlalchemy' not in sys.modules; "
            "sqla_docstore.DocumentStore; assert 'sqlalchemy' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert sqla_docstore.DocumentStore is DocumentStore
    with pytest.raises(AttributeError):
        sqla_docstore.NoSuchName  # noqa: B018
