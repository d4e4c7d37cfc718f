"""Document writes inside one transaction, with RavenDB's change-vector rules and messages."""

from __future__ import annotations

import re
import sqlite3
import uuid
from typing import Any

from ... import values
from ...backends.embedded.keys import int_key, key_prefix, where_one
from ...backends.embedded.store import NewKeys, collection_table, utc_now_text
from . import errors
from .database import Database, StoredDoc, fold

_ATOMIC_PREFIX = "rvn-atomic/"  # cmpxchg.ATOMIC_PREFIX (cmpxchg imports this module)

#: Metadata the server computes; clients echo it back and it is never stored.
SERVER_METADATA = frozenset(
    {"@id", "@change-vector", "@last-modified", "@flags", "@index-score", "@projection",
     "@counters", "@attachments", "@time-series", "@nested-object-types"}
)
_VIOLATION = "Optimistic concurrency violation, transaction will be aborted."


_HILO_PREFIX = "raven/hilo/"
#: a change vector's cluster-transaction entry (kept by single-node writes: Writer.next_cv)
_RAFT_ENTRY = re.compile(r"(?:RAFT|TRXN):\d+-[^,\s]+")
_PREFETCH_CHUNK = 10_000


def _row_of(doc: StoredDoc) -> tuple[str, Any]:
    """The condition finding a stored document's row, and its argument: its row key, or its
    id if it has none (keys.where_one)."""
    key = int_key(doc[1], key_prefix(doc[0]))
    return where_one(key is None), doc[1] if key is None else key


class NeedCollection(Exception):
    """A write needs a collection that does not exist yet: create it, then retry the batch."""

    def __init__(self, collection: str) -> None:
        super().__init__(collection)
        self.collection = collection


class Writer:
    """Writes of one transaction on ``db`` (hold ``db.write()``); ``finish()`` stores the etag."""

    def __init__(self, db: Database, node_tag: str) -> None:
        self.db = db
        self.sql: sqlite3.Connection = db.sql
        self.node = node_tag
        row = self.sql.execute("""SELECT value FROM "@meta" WHERE key = 'etag'""").fetchone()
        self.etag = int(row[0])
        self.modified = utc_now_text()
        self.raft: int | None = None  # set for a cluster-wide transaction
        # documents looked up ahead (prefetch), by their id folded as the store's NOCASE does
        # a write drops its entry, so a later lookup reads the store again
        self._known: dict[str, StoredDoc | None] = {}
        self._tables: dict[str, tuple[str, str]] = {}
        self.keys = NewKeys(self.sql)  # (the row keys of new documents)

    def finish(self) -> None:
        self.sql.execute("""UPDATE "@meta" SET value = ? WHERE key = 'etag'""", (self.etag,))

    def raft_index(self) -> int:
        """The raft index of this transaction (compare-exchange writes), allocated once."""
        if self.raft is None:
            self.sql.execute("""UPDATE "@meta" SET value = value + 1 WHERE key = 'raft_index'""")
            row = self.sql.execute(
                """SELECT value FROM "@meta" WHERE key = 'raft_index'""").fetchone()
            self.raft = int(row[0])
        return self.raft

    def next_cv(self, existing: StoredDoc | None = None) -> str:
        """The change vector of a document this transaction writes (``existing``: as
        stored before). A cluster transaction's documents carry its index; a single-node
        write keeps the one the document has, as RavenDB merges change vectors (the atomic
        guard a later cluster transaction checks is still that index: dropping it made the
        document fail every cluster-wide write after a single-node one)."""
        self.etag += 1
        cv = f"{self.node}:{self.etag}-{self.db.database_id}"
        if self.raft is not None:
            cv += f",RAFT:{self.raft}-{self.db.cluster_tx_id}"
        elif existing is not None and (kept := _RAFT_ENTRY.search(existing[3] or "")):
            cv += "," + kept.group(0)
        return cv

    def prefetch(self, ids: list[str]) -> None:
        """Look ``ids`` up in a few queries (a batch of many PUTs), for ``find`` to answer."""
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), _PREFETCH_CHUNK):
            chunk = unique[start:start + _PREFETCH_CHUNK]
            found = {fold(row[1]): row for row in self.db.find(chunk)}
            for doc_id in chunk:
                self._known[fold(doc_id)] = found.get(fold(doc_id))

    def find(self, doc_id: str) -> StoredDoc | None:
        key = fold(doc_id)
        if key in self._known:
            return self._known[key]
        rows = self.db.find([doc_id])
        return rows[0] if rows else None

    def table(self, collection: str) -> tuple[str, str]:
        """(store collection, SQL table) for a RavenDB collection name. Cached for the
        transaction: collections are created outside it (NeedCollection restarts the batch)."""
        cached = self._tables.get(collection)
        if cached is None:
            cached = self._tables[collection] = self._table(collection)
        return cached

    def _table(self, collection: str) -> tuple[str, str]:
        names = self.db.collections()
        name = collection if collection in names else None
        if name is None:
            name = next((n for n in names if fold(n) == fold(collection)), None)
        if name is None:
            raise NeedCollection(collection)
        return name, collection_table(name)

    def new_id(self, doc_id: str | None) -> str:
        """Server-generated ids: ``None`` -> a GUID, ``users|`` -> ``users/<n>`` (identity),
        ``users/`` -> ``users/<etag, 19 digits>-<node>``."""
        if not doc_id:
            return str(uuid.uuid4())
        if doc_id.endswith("|"):
            key = "identity:" + fold(doc_id[:-1])
            self.sql.execute("""INSERT OR IGNORE INTO "@meta" VALUES (?, 0)""", (key,))
            self.sql.execute("""UPDATE "@meta" SET value = value + 1 WHERE key = ?""", (key,))
            row = self.sql.execute("""SELECT value FROM "@meta" WHERE key = ?""", (key,)).fetchone()
            return f"{doc_id[:-1]}/{row[0]}"
        return f"{doc_id}{self.etag + 1:019d}-{self.node}"

    # -- PUT / DELETE ---------------------------------------------------------------------
    def put(self, doc_id: str | None, document: dict[str, Any],
            expected: str | None) -> dict[str, Any]:
        body = dict(document)
        meta = {k: v for k, v in (body.pop("@metadata", None) or {}).items()
                if k not in SERVER_METADATA}
        if not meta.get("@collection"):
            meta["@collection"] = "@empty"
        collection = str(meta["@collection"])
        if not doc_id or doc_id.endswith(("/", "|")):
            doc_id = self.new_id(doc_id)
            existing = None
        else:
            existing = self.find(doc_id)
        check_put(doc_id, existing, expected)
        name, table = self.table(collection)
        if existing is not None and existing[0] != name:
            raise errors.RavenError(
                500, "System.InvalidOperationException",
                f"Changing '{doc_id}' from '{existing[0]}' to '{collection}' via update is not "
                f"supported.\nDelete it and recreate the document '{doc_id}'.")
        cv = self.next_cv(existing)
        self.store(name, doc_id, existing, body, meta, cv)
        stored_id = existing[1] if existing else doc_id
        return {"Type": "PUT", "@id": stored_id, "@collection": collection,
                "@change-vector": cv, "@last-modified": self.modified}

    def store(self, name: str, doc_id: str, existing: StoredDoc | None, body: dict[str, Any],
              meta: dict[str, Any], cv: str) -> None:
        """Write a document of store collection ``name``: a new row, or ``existing``'s."""
        table = collection_table(name)
        # (a change vector of the store's own is kept as its etag, as the store writes it)
        args = (values.dumps(body), self.db.store.stored_change_vector(cv), self.modified,
                values.dumps(meta))
        self._known.pop(fold(doc_id), None)
        if existing is None:
            self.sql.execute(
                f"INSERT INTO {table} (k, id, body, cv, modified, meta) "
                "VALUES (?, ?, ?, ?, ?, ?)", (self.keys.key(name, doc_id), doc_id, *args))
        else:
            where, target = _row_of(existing)
            self.sql.execute(
                f"UPDATE {table} SET body = ?, cv = ?, modified = ?, meta = ? WHERE {where}",
                (*args, target))

    def delete(self, doc_id: str, expected: str | None) -> dict[str, Any]:
        if doc_id.lower().startswith(_HILO_PREFIX):
            # HiLo state: the document Raven/Hilo/{tag} and the embedded store's @hilo row
            self.sql.execute('DELETE FROM "@hilo" WHERE tag = ? COLLATE NOCASE',
                             (doc_id[len(_HILO_PREFIX):],))
        existing = self.find(doc_id)
        if expected:
            if existing is None:
                raise errors.concurrency(
                    f"Document {fold(doc_id)} does not exist, but delete was called with change "
                    f"vector '{expected}'. {_VIOLATION}")
            if existing[3] != expected:
                raise errors.concurrency(
                    f"Document {doc_id} has change vector {existing[3]}, but Delete was called "
                    f"with change vector '{expected}'. {_VIOLATION}")
        if existing is None:
            return {"Id": doc_id, "Type": "DELETE", "Deleted": False}
        self._known.pop(fold(doc_id), None)
        where, target = _row_of(existing)
        self.sql.execute(f"DELETE FROM {collection_table(existing[0])} WHERE {where}",
                         (target,))
        # A deleted document's atomic guard goes with it (however it was deleted), so that a
        # cluster-wide transaction may create the id again as a new document.
        self.sql.execute('DELETE FROM "@cmpxchg" WHERE key = ?',
                         (_ATOMIC_PREFIX + fold(existing[1]),))
        return {"Id": doc_id, "Type": "DELETE", "Deleted": True, "ChangeVector": self.next_cv()}

    def check_tracked(self, doc_id: str, expected: str) -> None:
        """BatchTrackChanges: a document read but not written must still be as it was read."""
        existing = self.find(doc_id)
        if expected == "":
            if existing is not None:
                raise errors.concurrency(
                    f"Document {doc_id} has change vector {existing[3]}, but was expected not to "
                    f"exist. {_VIOLATION}")
        elif existing is None or existing[3] != expected:
            actual = "none (it does not exist)" if existing is None else existing[3]
            raise errors.concurrency(
                f"Document {doc_id} has change vector {actual}, but the session read it with "
                f"change vector {expected}. {_VIOLATION}")


def check_put(doc_id: str, existing: StoredDoc | None, expected: str | None) -> None:
    if expected is None:
        return
    if existing is None:
        if expected:
            raise errors.concurrency(
                f"Document {doc_id} does not exist, but Put was called with change vector: "
                f"{expected}. {_VIOLATION}")
        return
    if expected == "":
        raise errors.concurrency(
            f"Document {doc_id} has change vector {existing[3]}, but Put was called with "
            f"expecting new document. {_VIOLATION}")
    if existing[3] != expected:
        raise errors.concurrency(
            f"Document {doc_id} has change vector {existing[3]}, but Put was called with change "
            f"vector {expected}. {_VIOLATION}")


def document_text(doc: StoredDoc) -> str:
    """A stored document as RavenDB returns it: the body with its ``@metadata``."""
    collection, doc_id, body, cv, modified, meta = doc
    dumps = values.dumps
    extra = f'"@id":{dumps(doc_id)},"@change-vector":{dumps(cv)},"@last-modified":"{modified}"'
    if meta and meta != "{}":
        meta_text = meta[:-1] + "," + extra + "}"
    else:  # written by the embedded DB-API: no metadata of its own
        meta_text = '{"@collection":' + dumps(collection) + "," + extra + "}"
    if body == "{}":
        return '{"@metadata":' + meta_text + "}"
    return body[:-1] + ',"@metadata":' + meta_text + "}"


def document_dict(doc: StoredDoc) -> dict[str, Any]:
    result: dict[str, Any] = values.loads(document_text(doc))
    return result
