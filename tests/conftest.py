"""Shared fixtures: DB-API connections on one memory store, engines, raw views of stored bodies."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, create_engine, event, text
from sqlalchemy.engine import Engine

from sqla_docstore import dbapi
from sqla_docstore.backends.embedded.store import EmbeddedStore


def _sqlite_oracle_casts_typed_json() -> None:
    """The SQLite oracle renders ``.as_integer()`` & co. as SQLAlchemy 2.1 does,
    ``CAST(JSON_EXTRACT(...) AS type)``, also under SQLAlchemy 2.0 (whose SQLite dialect gives
    the stored value uncast: "5" for ``as_integer()``). sqla_docstore gives 2.1's typed answers
    on both versions (README: Nested documents)."""
    import inspect

    from sqlalchemy import cast
    from sqlalchemy.dialects.sqlite.base import SQLiteCompiler
    from sqlalchemy.ext.compiler import compiles
    from sqlalchemy.sql import operators, sqltypes
    from sqlalchemy.sql.elements import BinaryExpression

    if "_cast_applied" in inspect.signature(SQLiteCompiler.visit_json_getitem_op_binary).parameters:
        return  # SQLAlchemy 2.1 and later cast already

    @compiles(BinaryExpression, "sqlite")
    def _typed_json(element: Any, compiler: Any, **kw: Any) -> str:
        if element.operator in (operators.json_getitem_op, operators.json_path_getitem_op) and (
                element.type._type_affinity is not sqltypes.JSON) and not kw.get("_cast_applied"):
            kw["_cast_applied"] = True
            return str(compiler.process(cast(element, element.type), **kw))
        return str(compiler.visit_binary(element, **kw))


_sqlite_oracle_casts_typed_json()

#: The schema most DB-API tests use: an autoincrement key, a NOT NULL name, a checked age.
USERS_SPEC: dict[str, Any] = {
    "fields": [
        {"name": "id", "type": "INTEGER", "nullable": False},
        {"name": "name", "type": "VARCHAR", "nullable": False},
        {"name": "age", "type": "INTEGER", "nullable": True},
        {"name": "team", "type": "INTEGER", "nullable": True},
    ],
    "primary_key": ["id"],
    "autoincrement": "id",
    "checks": [["age_positive", "age >= 0"]],
}
TEAMS_SPEC: dict[str, Any] = {
    "fields": [
        {"name": "id", "type": "INTEGER", "nullable": False},
        {"name": "title", "type": "VARCHAR", "nullable": True},
    ],
    "primary_key": ["id"],
    "autoincrement": "id",
}
#: A collection keyed by a caller-chosen string (no HiLo).
TAGS_SPEC: dict[str, Any] = {
    "fields": [
        {"name": "code", "type": "VARCHAR", "nullable": False},
        {"name": "label", "type": "VARCHAR", "nullable": True},
    ],
    "primary_key": ["code"],
}


def _create_collection(conn: dbapi.Connection, name: str, spec: dict[str, Any]) -> None:
    """Create a collection through the DB-API's DDL statement, as the dialect renders it."""
    conn.cursor().execute(f"CREATE COLLECTION {name} {json.dumps(spec)}")


def _rows(conn: dbapi.Connection, sql: str, params: dict[str, Any] | None = None) -> list[Any]:
    cur = conn.cursor()
    cur.execute(sql, params or {})
    return cur.fetchall()


@pytest.fixture
def store() -> Iterator[EmbeddedStore]:
    """A private in-memory store; connections made with ``connect`` share it."""
    st = EmbeddedStore(None)
    yield st
    st.close()


@pytest.fixture
def connect(store: EmbeddedStore) -> Iterator[Callable[[], dbapi.Connection]]:
    """Factory of DB-API connections on the test's store; all are closed at teardown."""
    opened: list[dbapi.Connection] = []

    def make() -> dbapi.Connection:
        conn = dbapi.connect(store=store)
        opened.append(conn)
        return conn

    yield make
    for conn in opened:
        conn.close()


@pytest.fixture
def conn(connect: Callable[[], dbapi.Connection]) -> dbapi.Connection:
    """A connection on a store with the ``users``, ``teams`` and ``tags`` collections."""
    c = connect()
    _create_collection(c, "users", USERS_SPEC)
    _create_collection(c, "teams", TEAMS_SPEC)
    _create_collection(c, "tags", TAGS_SPEC)
    return c


@pytest.fixture
def other(connect: Callable[[], dbapi.Connection], conn: dbapi.Connection) -> dbapi.Connection:
    """A second connection on the same store as ``conn``, to observe what was committed."""
    return connect()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "store.db"


@pytest.fixture(scope="session")
def raven_node() -> Iterator[Any]:
    """One bundled RavenDB-compatible node for the whole run (a fresh database per test)."""
    from sqla_docstore.testing.ravendb_server import start_test_server

    server = start_test_server("A")
    yield server
    server.close()


@pytest.fixture
def ravendb_url(raven_node: Any) -> str:
    """``ravendb://`` URL of a fresh database on the shared bundled node."""
    import requests

    name = f"t{uuid.uuid4().hex[:12]}"
    requests.put(f"{raven_node.url}/admin/databases", params={"name": name},
                 json={"DatabaseName": name}, timeout=30).raise_for_status()
    return f"ravendb://{raven_node.url.split('://', 1)[1]}/{name}"


@pytest.fixture(params=["docstore", "ravendb"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """An engine on a private in-memory store (``docstore://``), and the same tests again on
    ``ravendb://`` against the bundled server with a fresh database."""
    if request.param == "docstore":
        eng = create_engine("docstore://")
    else:
        eng = create_engine(request.getfixturevalue("ravendb_url"))
    yield eng
    eng.dispose()


@pytest.fixture
def file_engine(db_path: Path) -> Iterator[Engine]:
    """An engine on a durable file store, so raw documents can be read with plain sqlite3."""
    eng = create_engine(f"docstore:///{db_path}")
    yield eng
    eng.dispose()


def _raw_bodies(path: Path, collection: str) -> dict[str, Any]:
    """``{document id: parsed JSON body}`` read straight from the store file with sqlite3."""
    with sqlite3.connect(path) as raw:
        found = raw.execute(f'SELECT id, body FROM "@docs/{collection}"').fetchall()
    return {doc_id: json.loads(body) for doc_id, body in found}


def _raw_rows(path: Path, collection: str) -> list[tuple[Any, ...]]:
    """(id, body text, change vector, modified, meta) rows of a collection's SQLite table."""
    with sqlite3.connect(path) as raw:
        return raw.execute(
            f'SELECT id, body, cv, modified, meta FROM "@docs/{collection}" ORDER BY id'
        ).fetchall()


@pytest.fixture
def execute_counter() -> Callable[[Engine], list[tuple[str, bool]]]:
    """Attach a ``before_cursor_execute`` listener; returns the list of (statement, many)."""
    from sqlalchemy import event

    def attach(eng: Engine) -> list[tuple[str, bool]]:
        seen: list[tuple[str, bool]] = []

        @event.listens_for(eng, "before_cursor_execute")
        def _count(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
                   executemany: bool) -> None:
            seen.append((statement, executemany))

        return seen

    return attach


# Helpers are handed out as fixtures: test modules never import conftest (tests/ is no package).
@pytest.fixture
def rows() -> Callable[..., list[Any]]:
    """``rows(conn, sql, params)``: execute and fetch all rows."""
    return _rows


def _statement_runner(cursor: Any) -> Callable[..., Any]:
    def run(sql: str, params: Any = (), many: bool = False) -> Any:
        if many:
            cursor.executemany(sql, params)
            return cursor.rowcount
        cursor.execute(sql, params)
        if cursor.description is None:
            return cursor.rowcount
        return [tuple(r) for r in cursor.fetchall()]

    return run


@pytest.fixture
def statement_runner() -> Callable[[Any], Callable[..., Any]]:
    """``statement_runner(cursor)``: ``run(sql, params=(), many=False)`` on that DB-API
    cursor, giving the rows as tuples, or the rowcount of a statement without rows."""
    return _statement_runner


def _stored_then_pending(insert: str, stored: list[Any], pending: list[Any],
                         query: Callable[[Any], list[Any]]) -> Callable[[Any], list[Any]]:
    def run(conn: Any) -> list[Any]:
        cur = conn.cursor()
        cur.executemany(insert, stored)
        seen = query(cur)
        conn.commit()
        cur.executemany(insert, pending)
        seen += query(cur)
        conn.rollback()
        return seen

    return run


@pytest.fixture
def stored_then_pending() -> Callable[..., Callable[[Any], list[Any]]]:
    """``stored_then_pending(insert, stored, pending, query)``: a script for
    ``raw_and_sqlite`` that inserts the ``stored`` rows, runs ``query(cursor)``, commits,
    inserts the ``pending`` rows, runs it again over them uncommitted, and rolls back."""
    return _stored_then_pending


@pytest.fixture
def raw_and_sqlite(engine: Engine) -> Callable[[str, Callable[[Any], Any]], tuple[Any, Any]]:
    """``raw_and_sqlite(ddl, run)``: ``run(conn)`` on the engine's DB-API connection and on
    stdlib sqlite3 (the oracle), each after ``ddl``; returns (the store's, SQLite's)."""

    def both(ddl: str, run: Callable[[Any], Any]) -> tuple[Any, Any]:
        oracle = sqlite3.connect(":memory:")
        try:
            oracle.execute(ddl)
            expected = run(oracle)
        finally:
            oracle.close()
        raw = engine.raw_connection()
        try:
            raw.cursor().execute(ddl)
            raw.commit()
            return run(raw), expected
        finally:
            raw.close()

    return both


@pytest.fixture
def sql_rows() -> Callable[[Engine, str], list[tuple[Any, ...]]]:
    """``sql_rows(engine, sql)``: a text query's rows as tuples, on a connection of its own."""
    return _sql_rows


def _sql_rows(eng: Engine, sql: str) -> list[tuple[Any, ...]]:
    with eng.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


@pytest.fixture
def create_collection() -> Callable[[dbapi.Connection, str, dict[str, Any]], None]:
    """``create_collection(conn, name, spec)`` through the DB-API's DDL statement."""
    return _create_collection


@pytest.fixture
def raw_bodies() -> Callable[[Path, str], dict[str, Any]]:
    """``raw_bodies(path, collection)``: stored JSON bodies read with plain sqlite3."""
    return _raw_bodies


@pytest.fixture
def raw_rows() -> Callable[[Path, str], list[tuple[Any, ...]]]:
    """``raw_rows(path, collection)``: the collection's SQLite rows, read with plain sqlite3."""
    return _raw_rows


@pytest.fixture
def specs() -> dict[str, dict[str, Any]]:
    """The collection specs the ``conn`` fixture creates, by collection name."""
    return {"users": USERS_SPEC, "teams": TEAMS_SPEC, "tags": TAGS_SPEC}


@pytest.fixture
def oracle() -> Iterator[Engine]:
    """SQLite, the oracle differential tests compare with (a module may override it)."""
    eng = create_engine("sqlite://")
    yield eng
    eng.dispose()


@pytest.fixture
def savepoint_oracle() -> Iterator[Engine]:
    """SQLite with SQLAlchemy's pysqlite savepoint recipe (``begin_nested`` works: pysqlite
    would not BEGIN before a SAVEPOINT, so RELEASE of the outermost one would commit)."""
    eng = create_engine("sqlite://")

    @event.listens_for(eng, "connect")
    def _connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(eng, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN")

    yield eng
    eng.dispose()


# The project's own tests use short names for the plugin's docstore_* fixtures.
@pytest.fixture
def pair(request: pytest.FixtureRequest, engine: Engine,
         oracle: Engine) -> tuple[Engine, Engine]:
    """(engine, the SQLite oracle), the test module's ``metadata`` created on both."""
    metadata = request.module.metadata
    metadata.create_all(engine)
    metadata.create_all(oracle)
    return engine, oracle


@pytest.fixture
def ravendb_server_factory(docstore_ravendb_server_factory: Any) -> Any:
    return docstore_ravendb_server_factory


@pytest.fixture
def ravendb_server(docstore_ravendb_server: Any) -> Any:
    return docstore_ravendb_server


@pytest.fixture
def max_requests(docstore_max_requests: Any) -> Any:
    return docstore_max_requests


@pytest.fixture(params=["json", "orjson"])
def json_parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Documents parsed by the standard library alone, or with the ``fast`` extra's orjson
    where it gives the same values (``values._fast_picked``); its memory of the fields it
    could not pick starts empty."""
    from sqla_docstore import values

    fast = pytest.importorskip("orjson").loads if request.param == "orjson" else None
    monkeypatch.setattr(values, "_orjson_loads", fast)
    monkeypatch.setattr(values, "_NOT_FAST_PICKS", set())
    return str(request.param)
