"""pytest plugin (entry point ``pytest11``): fixtures for applications that use sqla_docstore.

``docstore_url`` is ``--docstore-url`` or ``$SQLA_DOCSTORE_URL`` or a fresh in-memory store;
``docstore_engine`` is an engine on it; ``docstore_connection`` is a connection in a transaction
that is rolled back after the test, and ``docstore_session`` a Session joined to it with
savepoints, so application code may commit and roll back freely and the store stays untouched.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sqla_docstore")
    group.addoption("--docstore-url", default=None,
                    help="SQLAlchemy URL of the store the docstore_* fixtures use")


@pytest.fixture
def docstore_url(request: pytest.FixtureRequest) -> str:
    url = request.config.getoption("--docstore-url", None) or os.environ.get("SQLA_DOCSTORE_URL")
    return url or "docstore://"


@pytest.fixture
def docstore_engine(docstore_url: str) -> Iterator[Any]:
    from sqlalchemy import create_engine

    engine = create_engine(docstore_url)
    yield engine
    engine.dispose()


@pytest.fixture
def docstore_connection(docstore_engine: Any) -> Iterator[Any]:
    with docstore_engine.connect() as conn:
        trans = conn.begin()
        yield conn
        trans.rollback()


@pytest.fixture
def docstore_session(docstore_connection: Any) -> Iterator[Any]:
    from sqlalchemy.orm import Session

    session = Session(bind=docstore_connection, join_transaction_mode="create_savepoint")
    yield session
    session.close()
from .ravendb_server import ravendb_server, ravendb_server_factory  # noqa: E402,F401
from .requests import assert_max_requests, max_requests  # noqa: E402,F401 - registers the fixture
