"""The PEP 249 module surface: globals, constructors, the exception tree, connect()."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

from sqla_docstore import dbapi, errors

EXCEPTIONS = [
    "Warning", "Error", "InterfaceError", "DatabaseError", "DataError", "OperationalError",
    "IntegrityError", "InternalError", "ProgrammingError", "NotSupportedError",
]


def test_module_globals() -> None:
    assert dbapi.apilevel == "2.0"
    assert dbapi.paramstyle == "qmark"
    assert dbapi.threadsafety in (1, 2, 3)


@pytest.mark.parametrize("name", EXCEPTIONS)
def test_exceptions_on_module_and_connection(name: str) -> None:
    cls = getattr(dbapi, name)
    assert cls is getattr(errors, name)
    assert getattr(dbapi.Connection, name) is cls
    conn = dbapi.connect()
    try:
        assert getattr(conn, name) is cls
    finally:
        conn.close()


def test_exception_hierarchy() -> None:
    assert issubclass(dbapi.Warning, Exception)
    assert issubclass(dbapi.Error, Exception)
    assert not issubclass(dbapi.Warning, dbapi.Error)
    assert issubclass(dbapi.InterfaceError, dbapi.Error)
    assert issubclass(dbapi.DatabaseError, dbapi.Error)
    for sub in ("DataError", "OperationalError", "IntegrityError", "InternalError",
                "ProgrammingError", "NotSupportedError"):
        assert issubclass(getattr(dbapi, sub), dbapi.DatabaseError), sub
    assert issubclass(errors.DuplicateKeyError, dbapi.IntegrityError)
    assert issubclass(errors.ConcurrencyError, dbapi.OperationalError)


def test_type_constructors() -> None:
    assert dbapi.Date(2024, 1, 2) == dt.date(2024, 1, 2)
    assert dbapi.Time(1, 2, 3) == dt.time(1, 2, 3)
    assert dbapi.Timestamp(2024, 1, 2, 3, 4, 5) == dt.datetime(2024, 1, 2, 3, 4, 5)
    assert dbapi.Binary(b"ab") == b"ab"
    assert dbapi.DateFromTicks(0) == dt.date.fromtimestamp(0)
    assert dbapi.TimestampFromTicks(86400) == dt.datetime.fromtimestamp(86400)
    assert dbapi.TimeFromTicks(0) == dt.datetime.fromtimestamp(0).time()
    assert {dbapi.STRING, dbapi.BINARY, dbapi.NUMBER, dbapi.DATETIME, dbapi.ROWID}


def test_connect_rejects_unknown_arguments() -> None:
    with pytest.raises(dbapi.InterfaceError, match="bogus"):
        dbapi.connect(bogus=1)


@pytest.mark.parametrize("url", ["docstore://", "docstore:///x.db", "ravendb://h:8080/db",
                                 "SQLite://", "docstore+aio:///x.db?foreign_keys=on"])
def test_connect_refuses_a_url_instead_of_making_a_file_of_that_name(
        url: str, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    with pytest.raises(dbapi.InterfaceError, match="create_engine"):
        dbapi.connect(url)
    assert list(tmp_path.iterdir()) == []


def test_memory_connects_are_private_stores() -> None:
    a, b = dbapi.connect(), dbapi.connect()
    try:
        a.cursor().execute('CREATE COLLECTION only_in_a {"primary_key": ["k"]}')
        assert a.backend.collection_names() == ["only_in_a"]
        assert b.backend.collection_names() == []
    finally:
        a.close()
        b.close()


def test_file_connects_share_the_store(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = str(tmp_path / "shared.db")
    a, b = dbapi.connect(path), dbapi.connect(path)
    try:
        assert a.backend.store is b.backend.store
        a.cursor().execute('CREATE COLLECTION things {"primary_key": ["k"]}')
        assert "things" in b.backend.collection_names()
    finally:
        a.close()
        b.close()


def test_closed_connection_raises_interface_error() -> None:
    conn = dbapi.connect()
    conn.close()
    assert conn.closed
    conn.close()  # closing twice is allowed
    with pytest.raises(dbapi.InterfaceError):
        conn.cursor().execute("SELECT 1")
    with pytest.raises(dbapi.InterfaceError):
        conn.commit()
    conn.rollback()  # a rollback on a closed connection is a no-op, as for sqlite3


def test_connection_context_manager_commits_or_rolls_back() -> None:
    from sqla_docstore.backends.embedded.store import EmbeddedStore

    store = EmbeddedStore(None)
    setup = dbapi.connect(store=store)
    setup.cursor().execute(
        'CREATE COLLECTION kv {"fields": [{"name": "k"}, {"name": "v"}], "primary_key": ["k"]}'
    )
    with dbapi.connect(store=store) as conn:
        conn.cursor().execute("INSERT INTO kv (k, v) VALUES (:k, :v)", {"k": "a", "v": 1})
    with pytest.raises(RuntimeError), dbapi.connect(store=store) as conn:
        conn.cursor().execute("INSERT INTO kv (k, v) VALUES (:k, :v)", {"k": "b", "v": 2})
        raise RuntimeError("boom")
    cur = setup.cursor()
    cur.execute("SELECT kv.k FROM kv ORDER BY kv.k")
    assert cur.fetchall() == [("a",)]
    setup.close()


def test_dbapi_does_not_import_sqlalchemy() -> None:
    # The layering rule: the DB-API, backends and statement language stand alone.
    code = (
        "import sys, sqla_docstore.dbapi, sqla_docstore.pending, sqla_docstore.values;"
        "c = sqla_docstore.dbapi.connect();"
        "c.cursor().execute('CREATE COLLECTION t {\"primary_key\": [\"k\"]}');"
        "print('sqlalchemy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_each_core_module_imports_first_on_its_own() -> None:
    # A module imported before any other of the package (a tool, a test, an application
    # reaching for sqla_docstore.affinity) must not meet an import cycle half-way.
    import pkgutil

    import sqla_docstore

    names = [f"sqla_docstore.{m.name}" for m in pkgutil.iter_modules(sqla_docstore.__path__)
             if not m.ispkg and not m.name.startswith("__")]
    names += ["sqla_docstore.dbapi", "sqla_docstore.statements.parser",
              "sqla_docstore.backends.embedded.connection"]
    failed = {}
    for name in names:
        out = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True,
                             text=True)
        if out.returncode:
            failed[name] = out.stderr.strip().splitlines()[-1]
    assert failed == {}
