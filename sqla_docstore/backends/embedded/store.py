"""The embedded document store on stdlib sqlite3: one table per collection, WAL, atomic batches.

A file store gives every handle its own sqlite3 connection (WAL lets readers and one writer
proceed together, across threads and processes). A memory store has one sqlite3 connection that
all handles share under a lock, so every connection of an engine sees one store.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ...errors import (
    DatabaseError,
    DataError,
    IntegrityError,
    OperationalError,
    ProgrammingError,
)
from ...schema import CollectionSpec
from .sqlgen import field_sql, quote

_BOOTSTRAP = """
CREATE TABLE IF NOT EXISTS "@collections" (name TEXT PRIMARY KEY, tbl TEXT NOT NULL UNIQUE,
                                           spec TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS "@hilo" (tag TEXT PRIMARY KEY, max INTEGER NOT NULL,
                                    last_range_at TEXT, last_size INTEGER);
CREATE TABLE IF NOT EXISTS "@meta" (key TEXT PRIMARY KEY, value);
CREATE TABLE IF NOT EXISTS "@cmpxchg" (key TEXT PRIMARY KEY COLLATE NOCASE, value TEXT,
                                       idx INTEGER NOT NULL);
"""


def collection_table(name: str) -> str:
    return quote("@docs/" + name)


def translate(exc: sqlite3.Error, what: str) -> DatabaseError:
    """The PEP 249 error for a sqlite3 error met while doing ``what`` (SQL text or a task)."""
    text = str(exc)
    if isinstance(exc, sqlite3.IntegrityError):
        return IntegrityError(text)
    if "locked" in text or "busy" in text:
        return OperationalError(f"{text} (while {what}: another connection holds the store's "
                                "write lock; the store's timeout ran out)")
    if "no such" in text:
        return OperationalError(text)
    if isinstance(exc, sqlite3.DataError) or "too big" in text:
        return DataError(f"{text} (in: {what})")
    if isinstance(exc, sqlite3.OperationalError) and "syntax" not in text:
        return OperationalError(f"{text} (in: {what})")
    return ProgrammingError(f"{text} (in: {what})")


@contextmanager
def store_errors(what: str) -> Iterator[None]:
    """Errors of store work (sqlite3, numbers SQLite can't hold, text it can't encode) as PEP
    249 errors naming ``what``, the original kept as the cause. Also a decorator."""
    try:
        yield
    except sqlite3.Error as exc:
        raise translate(exc, what) from exc
    except OverflowError as exc:
        raise DataError(f"a number is out of the store's range while {what}: {exc}") from exc
    except UnicodeEncodeError as exc:
        bad = exc.object[exc.start:exc.end]
        raise DataError(f"text holding {bad!r} (a lone surrogate) can't be stored or compared "
                        f"while {what}") from exc


def utc_now_text() -> str:
    now = dt.datetime.now(dt.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond:06d}0Z"


class EmbeddedStore:
    """One document store: a SQLite file, or a private in-memory database (``path=None``)."""

    def __init__(self, path: str | None = None, *, timeout: float = 30.0) -> None:
        self.path = path
        self.timeout = timeout
        self.lock = threading.RLock()
        self._shared: sqlite3.Connection | None = None
        self._specs: dict[str, CollectionSpec] = {}
        self._indexed: set[tuple[str, str]] = set()
        self.schema_version = 0
        self.node_tag = "A"
        with store_errors(f"opening the store {path or ':memory:'}"), self.connection() as conn:
            conn.executescript(_BOOTSTRAP)
            self.database_id = self._database_id(conn)
            self._load_catalog(conn)
        from .hilo import HiLoRegistry  # noqa: PLC0415 - avoids an import cycle

        self.hilo = HiLoRegistry()

    def __repr__(self) -> str:
        return f"<EmbeddedStore {self.path or ':memory:'}>"

    # -- connections ---------------------------------------------------------------------
    def open_connection(self) -> sqlite3.Connection:
        if self.path is None:
            if self._shared is None:
                self._shared = self._new_sqlite(":memory:")
            return self._shared
        return self._new_sqlite(self.path)

    def _new_sqlite(self, target: str) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(target, timeout=self.timeout, check_same_thread=False,
                                   isolation_level=None)
        except sqlite3.Error as exc:
            raise OperationalError(f"can't open the store at {target}: {exc}") from exc
        try:
            with store_errors(f"opening the store at {target}"):
                if target != ":memory:":
                    conn.execute("PRAGMA journal_mode=WAL")
                    # NORMAL in WAL mode survives a process crash (SIGKILL); only power loss
                    # may drop the newest commits, and never corrupts.
                    conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA case_sensitive_like=ON")
                conn.execute("PRAGMA temp_store=MEMORY")
        except BaseException:
            conn.close()
            raise
        return conn

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """A connection for store-level work (bootstrap, DDL) outside any handle."""
        conn = self.open_connection()
        try:
            with self.lock:
                yield conn
        finally:
            if conn is not self._shared:
                conn.close()

    def close(self) -> None:
        if self._shared is not None:
            self._shared.close()
            self._shared = None

    # -- catalog -------------------------------------------------------------------------
    def _database_id(self, conn: sqlite3.Connection) -> str:
        row = conn.execute("""SELECT value FROM "@meta" WHERE key = 'database_id'""").fetchone()
        if row:
            return str(row[0])
        db_id = base64.b64encode(os.urandom(16)).decode()[:22]
        conn.execute("""INSERT OR IGNORE INTO "@meta" VALUES ('database_id', ?)""", (db_id,))
        conn.execute("""INSERT OR IGNORE INTO "@meta" VALUES ('etag', 0)""")
        return self._database_id(conn)

    def _load_catalog(self, conn: sqlite3.Connection) -> None:
        from ... import values

        specs = {}
        for name, spec in conn.execute("""SELECT name, spec FROM "@collections" """):
            specs[name] = CollectionSpec.from_json(name, values.loads(spec))
        self._specs = specs
        self.schema_version += 1

    def spec(self, name: str, conn: sqlite3.Connection | None = None) -> CollectionSpec:
        spec = self._specs.get(name)
        if spec is None and conn is not None:  # another process may have created it
            with self.lock, store_errors("reading the catalog"):
                self._load_catalog(conn)
            spec = self._specs.get(name)
        if spec is None:
            raise OperationalError(f"no such collection: {name}")
        return spec

    def has_collection(self, name: str, conn: sqlite3.Connection) -> bool:
        try:
            self.spec(name, conn)
        except OperationalError:
            return False
        return True

    @store_errors("reading the catalog")
    def collection_names(self, conn: sqlite3.Connection) -> list[str]:
        with self.lock:
            self._load_catalog(conn)
        return sorted(self._specs)

    @store_errors("creating a collection")
    def create_collection(self, conn: sqlite3.Connection, spec: CollectionSpec) -> None:
        from ... import values

        table = collection_table(spec.name)
        with self.lock, _transaction(conn):
            if conn.execute("""SELECT 1 FROM "@collections" WHERE name = ?""",
                            (spec.name,)).fetchone():
                raise OperationalError(f"collection {spec.name} already exists")
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {table} (id TEXT NOT NULL PRIMARY KEY, "
                "body TEXT NOT NULL, cv TEXT NOT NULL, modified TEXT NOT NULL, meta TEXT)"
            )
            for i, fields in enumerate(spec.unique):
                self._create_index(conn, spec.name, f"uq:{spec.name}:{i}", fields, True)
            for index_name, (fields, unique) in spec.indexes.items():
                self._create_index(conn, spec.name, index_name, fields, unique)
            conn.execute("""INSERT INTO "@collections" VALUES (?, ?, ?)""",
                         (spec.name, table, values.dumps(spec.to_json())))
            self._specs[spec.name] = spec
            self.schema_version += 1

    @store_errors("changing a collection's schema")
    def replace_spec(self, conn: sqlite3.Connection, spec: CollectionSpec) -> None:
        from ... import values

        with self.lock:
            conn.execute("""UPDATE "@collections" SET spec = ? WHERE name = ?""",
                         (values.dumps(spec.to_json()), spec.name))
            self._specs[spec.name] = spec
            self.schema_version += 1

    @store_errors("dropping a collection")
    def drop_collection(self, conn: sqlite3.Connection, name: str) -> None:
        self.spec(name, conn)
        with self.lock, _transaction(conn):
            conn.execute(f"DROP TABLE IF EXISTS {collection_table(name)}")
            conn.execute("""DELETE FROM "@collections" WHERE name = ?""", (name,))
            conn.execute("""DELETE FROM "@hilo" WHERE tag = ?""", (name,))
            self._specs.pop(name, None)
            self._indexed = {key for key in self._indexed if key[0] != name}
            self.schema_version += 1
        self.hilo.forget(name)

    def _create_index(self, conn: sqlite3.Connection, collection: str, name: str,
                      fields: tuple[str, ...], unique: bool) -> None:
        exprs = ", ".join(field_sql("x", f).replace('"x".', "") for f in fields)
        conn.execute(
            f"CREATE {'UNIQUE ' if unique else ''}INDEX IF NOT EXISTS {quote('ix:' + name)} "
            f"ON {collection_table(collection)} ({exprs})"
        )

    @store_errors("creating an index")
    def create_index(self, conn: sqlite3.Connection, collection: str, name: str,
                     fields: tuple[str, ...], unique: bool) -> None:
        spec = self.spec(collection, conn)
        with self.lock:
            self._create_index(conn, collection, name, fields, unique)
            indexes = dict(spec.indexes)
            indexes[name] = (fields, unique)
            from dataclasses import replace

            self.replace_spec(conn, replace(spec, indexes=indexes))

    @store_errors("dropping an index")
    def drop_index(self, conn: sqlite3.Connection, name: str) -> None:
        with self.lock:
            conn.execute(f"DROP INDEX IF EXISTS {quote('ix:' + name)}")
            for spec in list(self._specs.values()):
                if name in spec.indexes:
                    from dataclasses import replace

                    indexes = {k: v for k, v in spec.indexes.items() if k != name}
                    self.replace_spec(conn, replace(spec, indexes=indexes))

    @store_errors("creating an automatic index")
    def ensure_auto_indexes(self, conn: sqlite3.Connection, wanted: set[tuple[str, str]]) -> None:
        """Index fields that queries filter and sort on, as RavenDB's auto-indexes do."""
        missing = wanted - self._indexed
        if not missing:
            return
        with self.lock:
            for collection, field in sorted(missing):
                spec = self._specs.get(collection)
                if spec is not None and not _leads_an_index(spec, field):
                    self._create_index(conn, collection, f"auto:{collection}:{field}",
                                       (field,), False)
                self._indexed.add((collection, field))


def _leads_an_index(spec: CollectionSpec, field: str) -> bool:
    """A declared index or unique constraint whose first field is ``field`` serves its queries."""
    firsts = [fields[0] for fields, _ in spec.indexes.values() if fields]
    firsts += [fields[0] for fields in spec.unique if fields]
    return field in firsts


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


transaction = _transaction
