"""The embedded document store on stdlib sqlite3: one table per collection, WAL, atomic batches.

A file store gives every handle its own sqlite3 connection (WAL lets readers and one writer
proceed together, across threads and processes). A memory store has one sqlite3 connection that
all handles share under a lock, so every connection of an engine sees one store.
"""

from __future__ import annotations

import base64
import itertools
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import lru_cache
from types import TracebackType
from typing import Any, cast

from ... import affinity, values
from ...errors import (
    DatabaseError,
    DataError,
    Error,
    ErrorScope,
    IntegrityError,
    OperationalError,
    ProgrammingError,
)
from ...schema import CollectionSpec, IndexKey
from ..alter import AlterPlan
from .keys import OTHER_KEYS, OTHER_ROWS, Key, int_key, key_prefix, key_texts
from .sqlgen import index_element_sql, quote

_BOOTSTRAP = """
CREATE TABLE IF NOT EXISTS "@collections" (name TEXT PRIMARY KEY, tbl TEXT NOT NULL UNIQUE,
                                           spec TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS "@hilo" (tag TEXT PRIMARY KEY, max INTEGER NOT NULL,
                                    last_range_at TEXT, last_size INTEGER);
CREATE TABLE IF NOT EXISTS "@meta" (key TEXT PRIMARY KEY, value);
INSERT OR IGNORE INTO "@meta" VALUES ('catalog', 0);
CREATE TABLE IF NOT EXISTS "@cmpxchg" (key TEXT PRIMARY KEY COLLATE NOCASE, value TEXT,
                                       idx INTEGER NOT NULL);
"""


def collection_table(name: str) -> str:
    return quote("@docs/" + name)


#: the layout of collection tables this code writes ("@meta" key 'layout'): 3, rows keyed by
#: their id's integer (keys.py), each change vector of this store's own (``A:{etag}-{database
#: id}``) kept as its etag, an integer, and any other as its text: the column has no type,
#: so SQLite keeps each value as it was bound (an etag costs SQLite and sqlite3 a third of
#: the text's work to write, and a text that reads as a number stays a text). Stores
#: without it hold tables of layout 1, ``(id TEXT NOT NULL PRIMARY KEY, ...)``, or 2, ``cv
#: TEXT``, rebuilt when the store is opened (``_upgrade_tables``)
LAYOUT = 3
_COLUMNS = ("k INTEGER PRIMARY KEY, id TEXT NOT NULL, body TEXT NOT NULL, cv NOT NULL, "
            "modified TEXT NOT NULL, meta TEXT")


def _ids_index(name: str) -> str:
    """The partial unique index of a collection table's ids of the other kind (keys.py)."""
    return quote("@ids:" + name)


def create_table(conn: sqlite3.Connection, name: str, table: str | None = None) -> None:
    """A collection table and its index of ids of the other kind (``table``: under another
    name than the collection's)."""
    table = table or collection_table(name)
    conn.execute(f"CREATE TABLE {table} ({_COLUMNS})")
    conn.execute(f"CREATE UNIQUE INDEX {_ids_index(name)} ON {table} (id) WHERE {OTHER_ROWS}")


class NewKeys:
    """The keys of the rows one write transaction inserts: an id's integer (keys.int_key),
    else the next key of its table's other range, ``max(max(k) + 1, 2**62)`` read once per
    table (a store has one writer at a time; call inside its write transaction)."""

    __slots__ = ("conn", "_next")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._next: dict[str, int] = {}

    def others(self, collection: str, count: int) -> int:
        """The first of ``count`` new keys of the other range of ``collection``'s table."""
        first = self._next.get(collection)
        if first is None:
            (top,) = self.conn.execute(
                f"SELECT max(k) FROM {collection_table(collection)}").fetchone()
            first = max(OTHER_KEYS, (top or 0) + 1)
        if first + count - 1 > _MAX_KEY:
            raise DataError(f"collection {collection} has no row key left for a document "
                            "whose id is not its prefix and an integer")
        self._next[collection] = first + count
        return first

    def key(self, collection: str, doc_id: str) -> int:
        key = int_key(doc_id, key_prefix(collection))
        return self.others(collection, 1) if key is None else key

    def keys(self, collection: str, ids: list[str], given: list[int] | None = None,
             id_prefix: str | None = None,
             bounds: tuple[int, int] | None = None) -> list[Key]:
        """The keys of new documents ``ids``: ``given``, the integer in each id after
        ``id_prefix`` (``CreateRun.keys``), when that is the table's prefix and every one a
        row key of it; else their texts (keys.key_texts) when all have one, else ints.
        ``bounds``: the least and the greatest of ``given`` or of a list holding it, if known
        (``CreateRun.key_bounds``; else found here)."""
        prefix = key_prefix(collection)
        if given is not None and id_prefix == prefix and given:
            low, high = (min(given), max(given)) if bounds is None else bounds
            if 0 < low and high < OTHER_KEYS:
                return given  # type: ignore[return-value]  # (list is invariant)
        texts = key_texts(ids, prefix)
        if texts is not None:
            return texts  # type: ignore[return-value]  # (list is invariant)
        keys = [int_key(doc_id, prefix) for doc_id in ids]
        missing = keys.count(None)
        if not missing:
            return keys  # type: ignore[return-value]  # (no None in it)
        fresh = iter(range(self.others(collection, missing), _MAX_KEY + 1))
        return [next(fresh) if key is None else key for key in keys]


_MAX_KEY = (1 << 63) - 1


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


class store_errors(ErrorScope):  # noqa: N801 - used as a function and a decorator
    """Errors of store work (sqlite3, numbers SQLite can't hold, text it can't encode) as PEP
    249 errors naming ``what``, the original kept as the cause. Also a decorator."""

    __slots__ = ()

    def translate(self, exc: BaseException) -> Error | None:
        what = self.what
        if isinstance(exc, sqlite3.Error):
            refused = values.take_refusal()  # a wide number met ORDER BY & co. (sqlgen)
            return refused if refused is not None else translate(exc, what)
        if isinstance(exc, OverflowError):
            return DataError(f"a number is out of the store's range while {what}: {exc}")
        if isinstance(exc, UnicodeEncodeError):
            bad = exc.object[exc.start:exc.end]
            return DataError(f"text holding {bad!r} (a lone surrogate) can't be stored or "
                             f"compared while {what}")
        return None


_FLOAT_TEXT = sqlite3.connect(":memory:", check_same_thread=False)  # SQLite's REAL as text
_FLOAT_TEXT_LOCK = threading.Lock()


def cast_blob(value: Any) -> str | None:
    """SQLite's ``CAST(value AS BLOB)`` in the form binaries are stored (base64 text): a blob
    stays its bytes; any other value becomes the UTF-8 bytes of its text, as SQLite writes
    it (a REAL as SQLite prints it: ``1.0e+20``)."""
    if value is None:
        return None
    if isinstance(value, bytes):
        data = value
    elif isinstance(value, float):
        with _FLOAT_TEXT_LOCK:
            data = _FLOAT_TEXT.execute("SELECT CAST(? AS TEXT)", (value,)).fetchone()[0].encode()
    else:
        data = str(value).encode("utf-8", "surrogatepass")
    return base64.b64encode(data).decode("ascii")


_second_text: tuple[int, str] = (-1, "")  # the last second formatted, and its text


def utc_now_text() -> str:
    """Now in UTC as RavenDB writes it: ``2026-11-30T01:02:03.4567890Z`` (7 decimals); the
    text of the second is made once per second (every commit writes one)."""
    global _second_text
    second, nanos = divmod(time.time_ns(), 1_000_000_000)
    at, text = _second_text
    if at != second:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _second_text = (second, text)
    return f"{text}.{nanos // 1000:06d}0Z"


def file_identity(path: str) -> tuple[int, int] | None:
    """The (device, inode) of the file at ``path``, None if there is none: a store file
    deleted or replaced since a store opened it has another (``dbapi.open_store``)."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino


class EmbeddedStore:
    """One document store: a SQLite file, or a private in-memory database (``path=None``)."""

    def __init__(self, path: str | None = None, *, timeout: float = 30.0) -> None:
        self.path = path
        self.timeout = timeout
        self.lock = threading.RLock()
        self._shared: sqlite3.Connection | None = None
        self._specs: dict[str, CollectionSpec] = {}
        #: schemas applications map (the dialect passes its Tables' schemas): used for the
        #: collections that exist with no declared schema (created by their first document,
        #: as RavenDB and the bundled server create them); see ``assume``
        self.assumed: dict[str, CollectionSpec] = {}
        #: schemas inferred from documents, for undeclared collections nobody maps
        self.inferred: dict[str, CollectionSpec] = {}
        #: mapped schemas whose key every stored document of the collection carries
        self.keys_checked: set[CollectionSpec] = set()
        self._indexed: set[tuple[str, str]] = set()
        self.schema_version = 0
        #: rolled-back prepared transactions on a memory store's shared connection: each may
        #: have taken other connections' overlay tables with it (EmbeddedConnection checks)
        self.shared_rollbacks = 0
        #: the prepared transactions open on a memory store's shared connection, oldest first
        #: (EmbeddedConnection.prepare)
        self.prepared: list[Any] = []
        #: the store's catalog version ("@meta" key 'catalog') ``_specs`` reflect; every DDL
        #: increments it in its own transaction, so another process's DDL is noticed
        self._catalog_version: int | None = None
        self.node_tag = "A"
        #: the file this store opened (its catalog, HiLo ranges and ids are that file's)
        self.file: tuple[int, int] | None = None
        with store_errors(f"opening the store {path or ':memory:'}"), self.connection() as conn:
            conn.executescript(_BOOTSTRAP)
            self.database_id = self._database_id(conn)
            _upgrade_tables(conn, f"{self.node_tag}:", f"-{self.database_id}")
            self._load_catalog(conn)
            if path is not None:
                self.file = file_identity(path)
        from .hilo import HiLoRegistry  # noqa: PLC0415 - avoids an import cycle

        self.hilo = HiLoRegistry()

    def __repr__(self) -> str:
        return f"<EmbeddedStore {self.path or ':memory:'}>"

    def change_vector(self, stored: Any) -> Any:
        """A change vector as a collection table's ``cv`` holds it (``LAYOUT`` 3) as RavenDB
        writes it: an etag is this store's own, ``{node_tag}:{etag}-{database_id}``; a text
        (or None) is itself."""
        return f"{self.node_tag}:{stored}-{self.database_id}" if type(stored) is int else stored

    def own_change_vectors(self, etags: Iterable[int]) -> Iterator[str]:
        """``change_vector`` of each of ``etags`` (this store's own), by one ``str.format``
        (a batch's results: thousands of change vectors)."""
        return map(_cv_format(self.node_tag, self.database_id), etags)

    def stored_change_vector(self, cv: str) -> int | str:
        """A change vector as a collection table's ``cv`` holds it: this store's own as its
        etag, any other text as it is (so ``cv = ?`` compares as the texts would)."""
        return cast("int | str", _etag_of(cv, f"{self.node_tag}:", f"-{self.database_id}"))

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
                # exact comparisons of numbers SQLite reads approximately (values, sqlgen)
                conn.create_function("docstore_numcmp", 2, values.numcmp, deterministic=True)
                conn.create_function("docstore_numin", 2, values.numin, deterministic=True)
                conn.create_function("docstore_blob", 1, cast_blob, deterministic=True)
                conn.create_function(affinity.SQL_JSON, 1, affinity.sqlite_json,
                                     deterministic=True)
                conn.create_function(affinity.SQL_JSON, 2, affinity.sqlite_json,
                                     deterministic=True)
                conn.create_function(affinity.SQL_JSON_TEXT, 1, affinity.sqlite_json_text,
                                     deterministic=True)
                conn.create_function(affinity.SQL_JSON_STORED, 1, affinity.sqlite_json_stored,
                                     deterministic=True)
                conn.create_function(affinity.SQL_COMPARED, 2, affinity.sql_compared,
                                     deterministic=True)
                conn.create_function("docstore_check_exact", 2, values.check_exact)
                conn.create_function("docstore_check_exact_int", 2, values.check_exact_integer)
                conn.create_collation("docstore_sql_order", values.sql_order)
                # (typeshed's aggregate protocol wants int results; SQLite takes text too)
                conn.create_aggregate("docstore_dsum", 1, values.ExactSum)  # type: ignore[arg-type]
                conn.create_aggregate("docstore_davg", 1, values.ExactAvg)  # type: ignore[arg-type]
                conn.create_function("docstore_exact_value", 2, values.exact_sum_value,
                                     deterministic=True)
                conn.execute("PRAGMA temp_store=MEMORY")
            if self.file is not None and file_identity(target) != self.file:
                raise OperationalError(
                    f"the store file {target} was deleted or replaced since this process "
                    "opened it: its catalog and HiLo ranges are the old file's; open the path "
                    "again (a new engine, dbapi.connect) to use the file now there")
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
        """Read every collection schema; unchanged ones keep their objects (and the plans and
        analyses cached for them)."""
        from ... import values

        version = _catalog_version(conn)  # read first: the specs are at least this new
        old = self._specs
        specs = {}
        for name, text in conn.execute("""SELECT name, spec FROM "@collections" """):
            spec = CollectionSpec.from_json(name, values.loads(text))
            specs[name] = old[name] if old.get(name) == spec else spec
        if specs.keys() != old.keys() or any(specs[n] is not old[n] for n in specs):
            self._specs = specs
            self.inferred = {}
            self.schema_version += 1
        self._catalog_version = version

    def refresh_catalog(self, conn: sqlite3.Connection, version: int | None = None) -> None:
        """Reload the schemas if another process changed them (one indexed read when not;
        none when the caller read the catalog version in its transaction: ``version``).
        Its HiLo ranges are dropped then too: a collection dropped and created again there
        starts its ids over, and ours must not collide with them (unused ids are skipped)."""
        if self.path is None:
            return  # a memory store has no other process: its DDL updates ``_specs`` directly
        if version is None:
            try:
                version = _catalog_version(conn)
            except sqlite3.Error as exc:
                raise OperationalError(f"can't read the store's catalog: {exc}") from exc
        if version == self._catalog_version:
            return
        with self.lock:
            self._load_catalog(conn)
            self._indexed = set()
            self.hilo.forget_all()

    def _bump_catalog(self, conn: sqlite3.Connection) -> None:
        """Count one schema change, inside the DDL's transaction (call with the lock)."""
        before = _catalog_version(conn)
        conn.execute("""UPDATE "@meta" SET value = value + 1 WHERE key = 'catalog'""")
        # Ours is the only change since the last load: the specs in memory stay current.
        # Else another process changed the catalog meanwhile: the next refresh reloads it.
        self._catalog_version = before + 1 if before == self._catalog_version else None
        self.schema_version += 1

    def spec(self, name: str, conn: sqlite3.Connection | None = None) -> CollectionSpec:
        spec = self._specs.get(name)
        if spec is None and conn is not None:  # another process may have created it
            with store_errors("reading the catalog"):
                self.refresh_catalog(conn)
            spec = self._specs.get(name)
        if spec is None:
            raise OperationalError(f"no such collection: {name}")
        return spec

    @store_errors("creating a mapped collection")
    def assume(self, conn: sqlite3.Connection, spec: CollectionSpec) -> None:
        """An application maps ``spec``: a collection with no declared schema gets it. A
        missing collection is created with it (as ``create_all`` would: key, constraints,
        indexes, recorded for other processes); one that exists undeclared (made by its first
        document) is read and written through it, in this process."""
        stored = self._specs.get(spec.name)
        if stored is None:
            self.refresh_catalog(conn)
            stored = self._specs.get(spec.name)
        if stored is None:
            try:
                self.create_collection(conn, spec, agree=True)
            except OperationalError:  # created meanwhile, by another connection or process
                self.refresh_catalog(conn)
                if spec.name not in self._specs:
                    raise
        elif not stored.declared and self.assumed.get(spec.name) != spec:
            self.assumed[spec.name] = spec
            self.schema_version += 1  # plans made with another schema are stale

    def current_spec(self, name: str) -> CollectionSpec | None:
        """The schema as last loaded, or None (no reload, no error)."""
        return self._specs.get(name)

    def has_collection(self, name: str, conn: sqlite3.Connection) -> bool:
        try:
            self.spec(name, conn)
        except OperationalError:
            return False
        return True

    @store_errors("reading the catalog")
    def collection_names(self, conn: sqlite3.Connection) -> list[str]:
        self.refresh_catalog(conn)
        return sorted(self._specs)

    @store_errors("creating a collection")
    def create_collection(self, conn: sqlite3.Connection, spec: CollectionSpec, *,
                          agree: bool = False) -> None:
        """``agree``: the collection's documents are written by this store's commits alone
        (SQL's CREATE TABLE), which keep ``keys_agree`` (a copy of other documents is not)."""
        from ... import values

        table = collection_table(spec.name)
        existing = self._specs.get(spec.name)
        if existing is not None and not existing.declared:
            self._declare(conn, spec)
            return
        agreed = agree and spec.agreeable  # (an empty table: its keys agree)
        if spec.keys_agree != agreed:
            spec = replace(spec, keys_agree=agreed)
        with self.lock, _transaction(conn):
            _refuse_taken_name(conn, spec.name)
            create_table(conn, spec.name)
            for i, fields in enumerate(spec.unique):
                self._create_index(conn, spec.name, f"uq:{spec.name}:{i}", fields, True)
            for index_name, (elements, unique) in spec.indexes.items():
                self._create_index(conn, spec.name, index_name, elements, unique)
            conn.execute("""INSERT INTO "@collections" VALUES (?, ?, ?)""",
                         (spec.name, table, values.dumps(spec.to_json())))
            self._bump_catalog(conn)
            self._specs[spec.name] = spec

    def _declare(self, conn: sqlite3.Connection, spec: CollectionSpec) -> None:
        """CREATE of a collection that exists undeclared (its first document made it): the
        schema is recorded and its indexes built over the stored documents, atomically (a
        unique constraint the documents break refuses the whole change)."""
        with self.lock, _transaction(conn):
            for i, fields in enumerate(spec.unique):
                self._create_index(conn, spec.name, f"uq:{spec.name}:{i}", fields, True)
            for index_name, (elements, unique) in spec.indexes.items():
                self._create_index(conn, spec.name, index_name, elements, unique)
            self._replace_spec(conn, spec)
        self.assumed.pop(spec.name, None)

    @store_errors("changing a collection's schema")
    def replace_spec(self, conn: sqlite3.Connection, spec: CollectionSpec) -> None:
        with self.lock, _transaction(conn):
            self._replace_spec(conn, spec)

    def _replace_spec(self, conn: sqlite3.Connection, spec: CollectionSpec, *,
                      documents_kept: bool = False) -> None:
        """Record a collection's new schema; ``keys_agree`` is cleared unless the change left
        every document as it was (``documents_kept``: an index made or dropped)."""
        from ... import values

        if spec.keys_agree and not documents_kept:
            spec = replace(spec, keys_agree=False)
        conn.execute("""UPDATE "@collections" SET spec = ? WHERE name = ?""",
                     (values.dumps(spec.to_json()), spec.name))
        self._bump_catalog(conn)
        self._specs[spec.name] = spec

    def agreeing_specs(self) -> dict[str, CollectionSpec]:
        """The schemas with ``keys_agree``, by collection name."""
        return {name: spec for name, spec in self._specs.items() if spec.keys_agree}

    def disagree(self, conn: sqlite3.Connection, names: set[str]) -> None:
        """In a commit's transaction: ``keys_agree`` cleared on the collections whose
        documents it writes in a way that may break it (``connection._disagreeing``), as a
        schema change (every process plans its queries again)."""
        with self.lock:
            for name in names:
                spec = self._specs.get(name)
                if spec is not None and spec.keys_agree:
                    self._replace_spec(conn, replace(spec, keys_agree=False))

    @store_errors("changing a collection's schema")
    def alter_collection(self, conn: sqlite3.Connection, name: str,
                         plan: Callable[[list[tuple[str, Any]]], AlterPlan]) -> None:
        """One schema change with the documents it rewrites, atomically: ``plan`` gets every
        stored (id, body) and says the new schema (maybe a new name), bodies and ids."""
        from ... import values

        table = collection_table(name)
        with self.lock, _transaction(conn):
            old_spec = self.spec(name, conn)
            rows = conn.execute(f"SELECT k, id, body FROM {table} ORDER BY k").fetchall()
            docs = [(i, values.loads(b)) for _, i, b in rows]
            done = plan(docs)
            spec = done.spec
            keys = {doc_id: k for k, doc_id, _ in rows}
            conn.executemany(f"UPDATE {table} SET body = ? WHERE k = ?",
                             [(values.dumps(b), keys[i]) for i, b in done.bodies.items()])
            if done.ids or key_prefix(spec.name) != key_prefix(name):
                _rekey(conn, table, [(k, done.ids.get(i, i)) for k, i, _ in rows],
                       key_prefix(spec.name))
            if spec.prefix != old_spec.prefix:
                self._carry_hilo(conn, old_spec.prefix, spec.prefix, done.max_key)
            if spec.name != name:
                if spec.name.lower() != name.lower():
                    _refuse_taken_name(conn, spec.name)
                conn.execute(f"ALTER TABLE {table} RENAME TO {collection_table(spec.name)}")
                # (the index of other ids takes the new name: the old one is free again)
                conn.execute(f"DROP INDEX {_ids_index(name)}")
                conn.execute(f"CREATE UNIQUE INDEX {_ids_index(spec.name)} ON "
                             f"{collection_table(spec.name)} (id) WHERE {OTHER_ROWS}")
                conn.execute("""UPDATE "@collections" SET name = ?, tbl = ? WHERE name = ?""",
                             (spec.name, collection_table(spec.name), name))
                self._specs.pop(name, None)
                self._indexed = {key for key in self._indexed if key[0] != name}
            self._sync_indexes(conn, old_spec, spec)
            self._replace_spec(conn, spec)
        if spec.prefix != old_spec.prefix:
            self.hilo.forget(spec.prefix)  # its next range comes from the carried-over state

    @staticmethod
    def _carry_hilo(conn: sqlite3.Connection, old: str, new: str, max_key: int) -> None:
        """A collection's ids take a new prefix: its HiLo range goes on above every key."""
        row = conn.execute("""SELECT max FROM "@hilo" WHERE tag = ?""", (old,)).fetchone()
        top = max(int(row[0]) if row else 0, max_key)
        if top:
            conn.execute(
                """INSERT INTO "@hilo" (tag, max, last_range_at, last_size) VALUES (?, ?, NULL,
                   NULL) ON CONFLICT(tag) DO UPDATE SET max = MAX(max, excluded.max)""",
                (new, top))

    def _sync_indexes(self, conn: sqlite3.Connection, old: CollectionSpec,
                      new: CollectionSpec) -> None:
        """SQLite indexes follow a schema change (renamed fields, a renamed collection)."""
        before, after = _index_defs(old), _index_defs(new)
        for index_name, definition in before.items():
            if after.get(index_name) != definition:
                conn.execute(f"DROP INDEX IF EXISTS {quote('ix:' + index_name)}")
        for index_name, (fields, unique) in after.items():
            if before.get(index_name) != (fields, unique):
                self._create_index(conn, new.name, index_name, fields, unique, declared=False)

    @store_errors("dropping a collection")
    def drop_collection(self, conn: sqlite3.Connection, name: str) -> None:
        spec = self.spec(name, conn)
        with self.lock, _transaction(conn):
            # Every catalog name of the table: a store made before names were refused ignoring
            # case may list two that share it (SQLite ignores case in table names).
            gone = [r[0] for r in conn.execute(
                """SELECT name FROM "@collections" WHERE name = ? COLLATE NOCASE""", (name,))]
            # As DROP TABLE does, integer keys start over: HiLo ranges are kept by id prefix,
            # and forgotten unless another collection shares the prefix (its ids stay unique).
            shared = any(s.prefix == spec.prefix for n, s in self._specs.items() if n not in gone)
            conn.execute(f"DROP TABLE IF EXISTS {collection_table(name)}")
            conn.execute("""DELETE FROM "@collections" WHERE name = ? COLLATE NOCASE""", (name,))
            if not shared:
                conn.execute("""DELETE FROM "@hilo" WHERE tag = ?""", (spec.prefix,))
            self._bump_catalog(conn)
            for gone_name in gone:
                self._specs.pop(gone_name, None)
            self._indexed = {key for key in self._indexed if key[0] not in gone}
        if not shared:
            self.hilo.forget(spec.prefix)

    def _create_index(self, conn: sqlite3.Connection, collection: str, name: str,
                      fields: tuple[IndexKey, ...], unique: bool, *,
                      declared: bool = True) -> None:
        spec = self._specs.get(collection) or CollectionSpec(collection)
        exprs = ", ".join(index_element_sql(f, spec) for f in fields)
        sql = (f"CREATE {'UNIQUE ' if unique else ''}INDEX IF NOT EXISTS {quote('ix:' + name)} "
               f"ON {collection_table(collection)} ({exprs})")
        if declared:
            # SQLite ignores case in index names: IF NOT EXISTS must not take another index
            # (of another collection, or with other fields) for this one.
            row = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND "
                               "name = ? COLLATE NOCASE", ("ix:" + name,)).fetchone()
            if row is not None and row[0] != sql:
                raise OperationalError(
                    f"index {name} already exists (index names ignore case)")
        conn.execute(sql)

    @store_errors("creating an index")
    def create_index(self, conn: sqlite3.Connection, collection: str, name: str,
                     fields: tuple[IndexKey, ...], unique: bool,
                     if_not_exists: bool = False) -> None:
        """Declare an index; declaring one the collection has with the same fields again is a
        no-op (create_all declares a table's indexes with the table, atomically, and then
        each again), so re-running DDL converges. ``if_not_exists``: any index of that name
        makes it a no-op."""
        spec = self.spec(collection, conn)
        if spec.indexes.get(name) == (fields, unique):
            return
        for other in self._specs.values():
            if name in other.indexes:
                if if_not_exists:
                    return
                raise OperationalError(f"index {name} already exists on {other.name}")
        try:
            with self.lock, _transaction(conn):
                self._create_index(conn, collection, name, fields, unique)
                self._replace_spec(conn, replace(spec, indexes={**spec.indexes,
                                                                name: (fields, unique)}),
                                   documents_kept=True)
        except sqlite3.IntegrityError as exc:  # stored rows already repeat a value
            raise IntegrityError(
                f"UNIQUE index {name} can't be created on {collection}: {exc}") from exc

    @store_errors("dropping an index")
    def drop_index(self, conn: sqlite3.Connection, name: str) -> None:
        with self.lock, _transaction(conn):
            conn.execute(f"DROP INDEX IF EXISTS {quote('ix:' + name)}")
            for spec in list(self._specs.values()):
                if name in spec.indexes:
                    indexes = {k: v for k, v in spec.indexes.items() if k != name}
                    self._replace_spec(conn, replace(spec, indexes=indexes),
                                       documents_kept=True)

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
                                       (field,), False, declared=False)
                self._indexed.add((collection, field))


def _rekey(conn: sqlite3.Connection, table: str, rows: list[tuple[int, str]],
           prefix: str) -> None:
    """Every row of ``table`` keyed again for its (new) id under id prefix ``prefix``, given
    as (key, id) in key order, in two steps that never meet a taken key: every row moved to
    the negative key ``-1 - k`` (no id index holds those), then each to its new key (an id's
    integer, else the other range from 2**62 up in the old key order)."""
    conn.execute(f"UPDATE {table} SET k = -1 - k")
    fresh = itertools.count(OTHER_KEYS)
    conn.executemany(f"UPDATE {table} SET k = ?, id = ? WHERE k = ?", [
        (next(fresh) if (key := int_key(doc_id, prefix)) is None else key, doc_id, -1 - old)
        for old, doc_id in rows])


def _layout(conn: sqlite3.Connection) -> int:
    row = conn.execute("""SELECT value FROM "@meta" WHERE key = 'layout'""").fetchone()
    return int(row[0]) if row else 1


def _upgrade_tables(conn: sqlite3.Connection, head: str, tail: str) -> None:
    """A store written before ``LAYOUT`` 3: every collection table of an older layout (no
    column ``k``, or a ``cv`` of type TEXT) rebuilt in the new one (``_rebuild_table``; the
    change vectors ``{head}{etag}{tail}`` this store wrote kept as their etags), all in one
    transaction, and the layout recorded (a store made now records it with no table to
    rebuild)."""
    if _layout(conn) >= LAYOUT:
        return
    with _transaction(conn):
        if _layout(conn) >= LAYOUT:
            return  # (another connection upgraded it meanwhile)
        for name, in conn.execute("""SELECT name FROM "@collections" """).fetchall():
            table = collection_table(name)
            types = {r[1]: r[2] for r in conn.execute(f"PRAGMA table_info({table})")}
            if types and ("k" not in types or types.get("cv")):
                _rebuild_table(conn, name, head, tail)
        conn.execute("""INSERT OR REPLACE INTO "@meta" VALUES ('layout', ?)""", (LAYOUT,))


def _rebuild_table(conn: sqlite3.Connection, name: str, head: str, tail: str) -> None:
    """A collection table of an older layout in the new one: a new table under another name
    takes its rows in their rowid order (an id's integer as its key, other ids keys from
    2**62 up in that order; each change vector ``{head}{etag}{tail}`` as its etag), the old
    one (and its indexes) dropped, the new one renamed to its name and the old one's indexes
    created again from their SQL text (which names the table by its name)."""
    table = collection_table(name)
    index_sql = [sql for (sql,) in conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? COLLATE NOCASE "
        "AND sql IS NOT NULL ORDER BY rowid", ("@docs/" + name,))]
    building = quote("@rebuild/" + name)
    create_table(conn, name, building)
    prefix = key_prefix(name)
    fresh = itertools.count(OTHER_KEYS)
    # the rows a chunk at a time (bounded memory), each after the last one read
    read = f"SELECT rowid, id, body, cv, modified, meta FROM {table}"
    rows = conn.execute(f"{read} ORDER BY rowid LIMIT 1000").fetchall()
    while rows:
        conn.executemany(
            f"INSERT INTO {building} (k, id, body, cv, modified, meta) VALUES (?, ?, ?, ?, ?, "
            "?)", [(next(fresh) if (key := int_key(row[1], prefix)) is None else key,
                    row[1], row[2], _etag_of(row[3], head, tail), *row[4:]) for row in rows])
        rows = conn.execute(f"{read} WHERE rowid > ? ORDER BY rowid LIMIT 1000",
                            (rows[-1][0],)).fetchall()
    conn.execute(f"DROP TABLE {table}")
    conn.execute(f"ALTER TABLE {building} RENAME TO {table}")
    for sql in index_sql:
        conn.execute(sql)


@lru_cache(maxsize=64)
def _cv_format(node_tag: str, database_id: str) -> Callable[[int], str]:
    """The ``str.format`` writing ``EmbeddedStore.change_vector`` of an etag."""
    node = node_tag.replace("{", "{{").replace("}", "}}")
    db_id = database_id.replace("{", "{{").replace("}", "}}")
    return f"{node}:{{}}-{db_id}".format


def _etag_of(cv: Any, head: str, tail: str) -> Any:
    """A change vector as a collection table of ``LAYOUT`` 3 keeps it: ``{head}{etag}{tail}``
    (the store's own) as the etag, anything else as it is."""
    if type(cv) is str and cv.startswith(head) and cv.endswith(tail) and (
            len(cv) > len(head) + len(tail)):
        digits = cv[len(head):len(cv) - len(tail)]
        if digits.isascii() and digits.isdigit() and str(etag := int(digits)) == digits:
            return etag
    return cv


def _index_defs(spec: CollectionSpec) -> dict[str, tuple[tuple[IndexKey, ...], bool]]:
    """Every SQLite index a collection's schema declares, by name: (fields, unique)."""
    defs: dict[str, tuple[tuple[IndexKey, ...], bool]] = {
        f"uq:{spec.name}:{i}": (fields, True) for i, fields in enumerate(spec.unique)}
    defs.update(spec.indexes)
    return defs


def _catalog_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("""SELECT value FROM "@meta" WHERE key = 'catalog'""").fetchone()
    return int(row[0]) if row else 0


def _refuse_taken_name(conn: sqlite3.Connection, name: str) -> None:
    """One collection per name ignoring case, as in RavenDB (and SQLite's table names, which
    would otherwise share one table between the two)."""
    row = conn.execute("""SELECT name FROM "@collections" WHERE name = ? COLLATE NOCASE""",
                       (name,)).fetchone()
    if row is None:
        return
    if row[0] == name:
        raise OperationalError(f"collection {name} already exists")
    raise OperationalError(
        f"collection {name} can't be created: collection {row[0]} exists, and collection "
        "names ignore case")


def _leads_an_index(spec: CollectionSpec, field: str) -> bool:
    """A declared index or unique constraint whose first field is ``field`` serves its queries."""
    firsts = [fields[0] for fields, _ in spec.indexes.values() if fields]
    firsts += [fields[0] for fields in spec.unique if fields]
    return field in firsts


class _transaction:  # noqa: N801 - used as a function
    """One SQLite write transaction (BEGIN IMMEDIATE ... COMMIT, ROLLBACK on any error)."""

    __slots__ = ("conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.conn.execute("ROLLBACK" if exc is not None else "COMMIT")


transaction = _transaction
