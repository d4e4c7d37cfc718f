"""pytest plugin (entry point ``pytest11``): fixtures for applications that use sqla_docstore.

Every fixture is named ``docstore_*``, so none can collide with an application's own:

``docstore_url``
    ``--docstore-url``, else ``$SQLA_DOCSTORE_URL``, else a fresh in-memory store per test.
``docstore_metadata``
    The application's ``MetaData``, named by ``--docstore-metadata`` or the ini setting
    ``docstore_metadata`` as ``package.module:attribute`` (``myapp.models:Base.metadata``);
    a test suite may instead override the fixture. None: no tables are created.
``docstore_engine``
    An engine on ``docstore_url`` with the metadata's tables created.
``docstore_connection`` / ``docstore_session``
    A connection in a transaction rolled back after the test, and a Session joined to it
    with savepoints (SQLAlchemy's recipe), so application code may commit and roll back
    freely and the store stays untouched. The session's commits count requests as real ones
    do: one batch each, and loads of what it committed count as loads from the store, so
    ``assert_max_requests`` sees what production makes.
``docstore_max_requests``
    :func:`sqla_docstore.testing.requests.assert_max_requests`.
``docstore_ravendb_server`` / ``docstore_ravendb_server_factory``
    A RavenDB to test against (a real one when configured, else the bundled test server,
    imported only when a test asks for it).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sqla_docstore")
    group.addoption("--docstore-url", default=None,
                    help="SQLAlchemy URL of the store the docstore_* fixtures use")
    group.addoption("--docstore-metadata", default=None,
                    help="the application's MetaData as package.module:attribute")
    parser.addini("docstore_metadata", default="",
                  help="the application's MetaData as package.module:attribute, whose tables "
                       "the docstore_* fixtures create")


def load_object(reference: str) -> Any:
    """``package.module:attr.path`` -> the object."""
    module_name, _, path = reference.partition(":")
    if not module_name or not path:
        raise pytest.UsageError(
            f"docstore_metadata must look like package.module:attribute, not {reference!r}")
    target: Any = importlib.import_module(module_name)
    for part in path.split("."):
        target = getattr(target, part)
    return target


@pytest.fixture
def docstore_url(request: pytest.FixtureRequest) -> str:
    url = request.config.getoption("--docstore-url", None) or os.environ.get("SQLA_DOCSTORE_URL")
    return url or "docstore://"


@pytest.fixture
def docstore_metadata(request: pytest.FixtureRequest) -> Any:
    reference = request.config.getoption("--docstore-metadata", None) or \
        request.config.getini("docstore_metadata")
    return load_object(reference) if reference else None


@pytest.fixture
def docstore_engine(docstore_url: str, docstore_metadata: Any) -> Iterator[Any]:
    from sqlalchemy import create_engine

    engine = create_engine(docstore_url)
    if docstore_metadata is not None:
        docstore_metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def docstore_connection(docstore_engine: Any) -> Iterator[Any]:
    with docstore_engine.connect() as conn:
        trans = conn.begin()
        # The session's savepoint stands for the application's transaction (see above).
        conn.connection.driver_connection.savepoint_commits = True
        yield conn
        trans.rollback()


@pytest.fixture
def docstore_session(docstore_connection: Any) -> Iterator[Any]:
    from sqlalchemy.orm import Session

    session = Session(bind=docstore_connection, join_transaction_mode="create_savepoint")
    yield session
    session.close()


@pytest.fixture
def docstore_max_requests() -> Any:
    """The :func:`~sqla_docstore.testing.requests.assert_max_requests` context manager."""
    from .requests import assert_max_requests

    return assert_max_requests


@pytest.fixture
def docstore_ravendb_server_factory() -> Iterator[Callable[..., Any]]:
    """``factory(tags="A,B,C", **options)`` -> a started server, closed after the test."""
    from .ravendb_server import start_test_server

    started: list[Any] = []

    def factory(tags: str = "A,B,C", **options: Any) -> Any:
        server = start_test_server(tags, **options)
        started.append(server)
        return server

    yield factory
    for server in started:
        server.close()


@pytest.fixture
def docstore_ravendb_server(docstore_ravendb_server_factory: Callable[..., Any]) -> Any:
    """A three-node RavenDB (bundled unless a real one is available) with a fresh database."""
    return docstore_ravendb_server_factory()
