"""Served databases: one EmbeddedStore each, with case-insensitive collection and id lookup."""

from __future__ import annotations

import base64
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ...backends.embedded.sqlgen import quote
from ...backends.embedded.store import EmbeddedStore, collection_table, transaction
from ...errors import OperationalError
from ...schema import CollectionSpec
from . import errors

#: A stored document: (collection, id, body JSON, change vector, last modified, meta JSON).
StoredDoc = tuple[str, str, str, str, str, "str | None"]

_SERVER_TABLES = """
CREATE TABLE IF NOT EXISTS "@requests" (id TEXT PRIMARY KEY, result TEXT NOT NULL,
                                        at TEXT NOT NULL);
INSERT OR IGNORE INTO "@meta" VALUES ('raft_index', 0);
"""
_ASCII_FOLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def fold(text: str) -> str:
    """Case folding as SQLite's NOCASE does it (ASCII only), for RavenDB's case-insensitive ids."""
    return text.translate(_ASCII_FOLD)


class Database:
    """One database the server serves; every store access holds ``store.lock``."""

    def __init__(self, name: str, store: EmbeddedStore, owned: bool = True) -> None:
        self.name = name
        self.store = store
        #: seconds the (simulated) indexes lag document writes: a query does not see a
        #: document written less than this long ago and answers IsStale: true, unless it
        #: asks WaitForNonStaleResults (it then waits, up to its timeout); 0 = never stale
        self.index_lag = 0.0
        self.owned = owned
        self.lock = store.lock
        self.sql = store.open_connection()
        self._version = -1
        self._names: list[str] = []
        self._folded: dict[str, str] = {}
        self._find_sql = ""
        #: RavenDB's auto indexes the queries would have made: name -> definition (the
        #: database record lists them; queries do not use them)
        self.auto_indexes: dict[str, dict[str, Any]] = {}
        with self.lock:
            self.sql.executescript(_SERVER_TABLES)
            self.cluster_tx_id = self._meta_text("cluster_tx_id")

    def _meta_text(self, key: str) -> str:
        row = self.sql.execute("""SELECT value FROM "@meta" WHERE key = ?""", (key,)).fetchone()
        if row:
            return str(row[0])
        value = base64.b64encode(os.urandom(16)).decode()[:22]
        self.sql.execute("""INSERT OR IGNORE INTO "@meta" VALUES (?, ?)""", (key, value))
        return self._meta_text(key)

    @property
    def database_id(self) -> str:
        return self.store.database_id

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE): all of it is applied, or none."""
        with self.lock, transaction(self.sql):
            yield self.sql

    # -- collections ---------------------------------------------------------------------
    def collections(self) -> list[str]:
        """Store collection names; call with the lock held. Reloaded when the schema changes
        (also in another process), and each gets an index on ``id COLLATE NOCASE``."""
        version = self.sql.execute("PRAGMA schema_version").fetchone()[0]
        if version != self._version:
            names = [r[0] for r in self.sql.execute("""SELECT name FROM "@collections" """)]
            for name in names:
                self.sql.execute(
                    f"CREATE INDEX IF NOT EXISTS {quote('ix:@id:' + name)} "
                    f"ON {collection_table(name)} (id COLLATE NOCASE)"
                )
            self._names = sorted(names)
            self._folded = {}
            for name in self._names:
                self._folded.setdefault(fold(name), name)
            self._find_sql = " UNION ALL ".join(
                f"SELECT {i}, id, body, cv, modified, meta FROM {collection_table(name)} "
                "WHERE id COLLATE NOCASE IN (SELECT value FROM json_each(?1))"
                for i, name in enumerate(self._names)
            )
            self._version = self.sql.execute("PRAGMA schema_version").fetchone()[0]
        return self._names

    def resolve(self, collection: str) -> str | None:
        """The store collection a RavenDB collection name means (names ignore case)."""
        with self.lock:
            names = self.collections()
            if collection in names:
                return collection
            return self._folded.get(fold(collection))

    def ensure_collection(self, collection: str) -> str:
        """The store collection for ``collection``, created schemaless on first use. Not
        transactional (as in RavenDB): call it outside a write transaction."""
        found = self.resolve(collection)
        if found is not None:
            return found
        with self.lock:
            try:
                self.store.create_collection(self.sql, CollectionSpec(collection))
            except OperationalError:
                pass  # created meanwhile (another process)
        found = self.resolve(collection)
        if found is None:
            raise errors.RavenError(500, "System.InvalidOperationException",
                                    f"could not create collection {collection}")
        return found

    # -- documents -----------------------------------------------------------------------
    def find(self, ids: list[str]) -> list[StoredDoc]:
        """Stored documents whose id equals one of ``ids`` ignoring case; call with the lock."""
        names = self.collections()
        if not names or not ids:
            return []
        from ... import values

        rows = self.sql.execute(self._find_sql, (values.dumps(ids),)).fetchall()
        cv = self.store.change_vector  # (the store keeps its own as their etags)
        return [(names[r[0]], r[1], r[2], cv(r[3]), r[4], r[5]) for r in rows]

    def find_one(self, doc_id: str) -> StoredDoc | None:
        with self.lock:
            rows = self.find([doc_id])
        return rows[0] if rows else None

    def etag(self) -> int:
        """The store-wide write counter: every document write increments it."""
        with self.lock:
            row = self.sql.execute("""SELECT value FROM "@meta" WHERE key = 'etag'""").fetchone()
            return int(row[0])

    def close(self) -> None:
        with self.lock:
            if self.sql is not self.store._shared:
                self.sql.close()
            if self.owned:
                self.store.close()


class Databases:
    """The databases of a server: ``<name>.db`` files in a data directory, or in memory."""

    def __init__(self, data_dir: str | os.PathLike[str] | None = None,
                 stores: dict[str, EmbeddedStore] | None = None, own_stores: bool = False) -> None:
        self.data_dir = Path(data_dir) if data_dir is not None else None
        #: the simulated index lag of databases opened from now on (Database.index_lag)
        self.index_lag = 0.0
        self._lock = threading.Lock()
        self._dbs: dict[str, Database] = {}
        for name, store in (stores or {}).items():
            self._dbs[fold(name)] = Database(name, store, owned=own_stores)
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            for path in sorted(self.data_dir.glob("*.db")):
                self._open(path.stem)

    def _open(self, name: str) -> Database:
        path = None if self.data_dir is None else str(self.data_dir / f"{name}.db")
        db = Database(name, EmbeddedStore(path))
        db.index_lag = self.index_lag
        self._dbs[fold(name)] = db
        return db

    def set_index_lag(self, seconds: float) -> None:
        """Make every database's queries lag writes by ``seconds`` (0: never stale)."""
        with self._lock:
            self.index_lag = seconds
            for db in self._dbs.values():
                db.index_lag = seconds

    def get(self, name: str) -> Database:
        db = self._dbs.get(fold(name))
        if db is None:
            raise errors.database_missing(name)
        return db

    def names(self) -> list[str]:
        return sorted(db.name for db in self._dbs.values())

    def create(self, name: str) -> Database:
        if not name or any(c in name for c in '/\\:*?"<>|') or name.startswith("."):
            raise errors.bad_request(f"The name '{name}' is not permitted for a database")
        with self._lock:
            if fold(name) in self._dbs:
                raise errors.concurrency(f"Database '{name}' already exists!")
            return self._open(name)

    def delete(self, name: str, hard: bool = True) -> None:
        with self._lock:
            db = self._dbs.pop(fold(name), None)
        if db is None:
            raise errors.database_missing(name)
        db.close()
        if hard and db.owned and db.store.path is not None:
            for suffix in ("", "-wal", "-shm"):
                Path(db.store.path + suffix).unlink(missing_ok=True)

    def close(self) -> None:
        with self._lock:
            dbs, self._dbs = list(self._dbs.values()), {}
        for db in dbs:
            db.close()
