"""Fixtures shared by the framework examples: every example test runs once on SQLite (the
oracle) and again, unchanged, on ``docstore://`` and on ``ravendb://`` (the bundled server).

Each example reads its database URL from one place (``$DATABASE_URL`` or the app's config);
these fixtures only choose that URL.
"""

from __future__ import annotations

import importlib
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from sqla_docstore import request_counts


@pytest.fixture(scope="session")
def example_raven_node() -> Iterator[Any]:
    """One bundled RavenDB-compatible node for all example tests (a fresh database per test)."""
    from sqla_docstore.testing.ravendb_server import start_test_server

    server = start_test_server("A")
    yield server
    server.close()


def _fresh_ravendb_database(node: Any) -> str:
    import requests

    name = f"ex{uuid.uuid4().hex[:12]}"
    requests.put(f"{node.url}/admin/databases", params={"name": name},
                 json={"DatabaseName": name}, timeout=30).raise_for_status()
    return f"ravendb://{node.url.split('://', 1)[1]}/{name}"


@pytest.fixture
def sqlite_scheme() -> str:
    """The SQLite form's URL scheme; an async example overrides it (``sqlite+aiosqlite``)."""
    return "sqlite"


@pytest.fixture(params=["sqlite", "docstore", "ravendb"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_scheme: str) -> str:
    """The URL the app is configured with: a SQLite file, the same file path as a docstore
    file store, or a fresh database on the bundled RavenDB-compatible server."""
    if request.param == "ravendb":
        return _fresh_ravendb_database(request.getfixturevalue("example_raven_node"))
    scheme = sqlite_scheme if request.param == "sqlite" else request.param
    return f"{scheme}:///{tmp_path / 'app.db'}"


@pytest.fixture
def is_docstore(database_url: str) -> bool:
    """True on the docstore backends, where request counts are checked too."""
    return not database_url.startswith("sqlite")


@pytest.fixture
def import_app(database_url: str, monkeypatch: pytest.MonkeyPatch
               ) -> Iterator[Callable[[str], ModuleType]]:
    """``import_app("pkg.main")``: import the app module afresh with ``$DATABASE_URL`` set, as
    ``DATABASE_URL=... uvicorn pkg.main:app`` would."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    imported: list[str] = []

    def load(name: str) -> ModuleType:
        sys.modules.pop(name, None)
        imported.append(name)
        return importlib.import_module(name)

    yield load
    for name in imported:
        module = sys.modules.pop(name, None)
        engine = getattr(module, "engine", None)
        if engine is not None and hasattr(engine, "sync_engine"):
            engine.sync_engine.dispose()
        elif engine is not None:
            engine.dispose()


@contextmanager
def _sessions_counted() -> Iterator[list[dict[str, int]]]:
    """Collects the request counts of every Session begun inside the block (any framework's
    Session subclass, and the sync session of an AsyncSession), read when the block ends."""
    sessions: list[Session] = []

    def began(session: Session, transaction: Any, connection: Any) -> None:
        if all(session is not s for s in sessions):
            sessions.append(session)

    event.listen(Session, "after_begin", began)
    counts: list[dict[str, int]] = []
    try:
        yield counts
    finally:
        event.remove(Session, "after_begin", began)
        counts.extend(request_counts(s) for s in sessions)


@pytest.fixture
def sessions_counted() -> Callable[[], Any]:
    """``with sessions_counted() as counts:`` -> one ``request_counts`` dict per session."""
    return _sessions_counted
