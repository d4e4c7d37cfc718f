"""A connection to the embedded store: queries with the pending batch overlaid, atomic commits."""

from __future__ import annotations

import gc
import itertools
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from functools import lru_cache
from json import dumps as json_dumps
from operator import attrgetter, is_not, itemgetter
from typing import Any, NamedTuple, TypeGuard, cast

from ... import affinity, rowexpr, values
from ...commands import (
    Absent,
    Batch,
    CompareExchange,
    CreateRun,
    Delete,
    Patch,
    PatchRun,
    Put,
    Recompute,
    run_commands,
)
from ...errors import (
    ConcurrencyError,
    DataError,
    DuplicateKeyError,
    IntegrityError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
)
from ...generated import stored_form, stored_generated
from ...inference import SAMPLE_SIZE, infer_spec
from ...pending import PendingBatch, body_of, split_pending
from ...schema import CollectionSpec
from ...statements import ast
from ...statements.prepared import Prepared, prepared
from ..alter import plan_alter
from ..base import Document
from .hilo import RAISES_UP_TO
from .keys import OTHER_KEYS, Key, int_key, key_prefix, key_texts, split_ids, where_in, where_one
from .sqlgen import (
    OutColumn,
    SqlGenerator,
    SqlPlan,
    field_index_sql,
    json_path,
    picked_from,
    quote,
)
from .store import (
    EmbeddedStore,
    NewKeys,
    collection_table,
    store_errors,
    transaction,
    utc_now_text,
)


class _Prepared(NamedTuple):
    """A prepared transaction open on a memory store's shared sqlite3 connection."""

    owner: EmbeddedConnection
    savepoint: str | None  # None: the SQLite transaction's first (BEGIN IMMEDIATE)
    committed: bool = False  # committed, waiting for the ones prepared before it


#: numbers the overlay temp tables of the process: no two share a name (see _sync_overlay)
_serial = itertools.count(1)
#: EmbeddedConnection._read_version once a document was loaded before any version was read
_UNVERSIONED: Any = ("unversioned",)


class EmbeddedConnection:
    """inherits the docstring from backends.base.BackendConnection"""

    #: documents are stored as their JSON text: a PUT's ``text`` (made by its statement)
    #: is written as it is
    stores_json_text = True
    takes_create_runs = True  # (Batch.created: applied after the batch's commands)
    takes_patch_runs = True  # (the same, runs of PATCHes: _patch_columns)

    def __init__(self, store: EmbeddedStore, *, infer_schemas: bool = False,
                 json_serializer: Callable[[Any], str] | None = None) -> None:
        self.store = store
        #: the number of the JSON serializer whose text is a JSON column's value in SQL
        #: (None: json.dumps; ``affinity.sqlite_json``)
        self.json_serializer = affinity.json_serializer_id(json_serializer)
        #: undeclared collections (made by their first document) read as tables with the
        #: schema an application maps (``assume``) or one inferred from their documents;
        #: off, they are schemaless (the bundled server's RQL view of them)
        self.infer_schemas = infer_schemas
        self.counts: Counter[str] = Counter()
        self.before_request: Callable[[str], None] | None = None
        self._conn = store.open_connection()
        self._shared = self._conn is store._shared
        # Reads and the overlay's temp tables: a memory store's one sqlite3 connection is
        # shared under the store lock; a file store's handle has its own (WAL readers run
        # in parallel, across threads too).
        self._lock: AbstractContextManager[Any] = store.lock if self._shared else nullcontext()
        self._catalog_fresh = False  # the catalog was checked in this transaction
        self._used: dict[str, CollectionSpec] = {}  # schemas this transaction checked rows by
        #: the store's schema version when ``_used`` got its first entry: while the store
        #: keeps it, no schema changed since (see _check_schemas_unchanged)
        self._used_at = -1
        #: what ``spec`` gave in this transaction: (store schema version, stored spec, spec)
        self._read_specs: dict[str, tuple[int, CollectionSpec, CollectionSpec]] = {}
        #: the overlay temp table of each collection this connection has written
        self._temps: dict[str, str] = {}
        #: the fields each overlay table is indexed on (see _index_overlays)
        self._temp_indexed: dict[str, set[str]] = {}
        self._plans: dict[Any, SqlPlan] = {}
        self._plans_version = store.schema_version
        self._prepared = False
        self._rollbacks_seen = store.shared_rollbacks
        self._epoch = 0  # see schema_token
        #: the largest explicit integer id this transaction wrote per HiLo tag: its commit
        #: raises the stored HiLo state above it, so no process hands it out later
        self._explicit_ids: dict[str, int] = {}
        #: ``_version()`` before this transaction's first query (None: not read yet;
        #: _UNVERSIONED: a document was loaded before it was): while it stands, no other
        #: connection has committed, and no schema changed, since (see _patches_aside)
        self._read_version: tuple[int, int] | None = None

    def _count(self, kind: str) -> None:
        # The hook runs first: a session over its request budget stops the call here.
        if self.before_request is not None:
            self.before_request(kind)
        self.counts[kind] += 1

    # -- catalog (the sqlgen.Catalog protocol) -------------------------------------------
    def _check_catalog(self) -> None:
        """Once per transaction: take in another process's DDL (a version read if none)."""
        if not self._catalog_fresh:
            self.store.refresh_catalog(self._conn)
            self._catalog_fresh = True

    def end_transaction(self) -> None:
        self._explicit_ids.clear()
        self._catalog_fresh = False
        self._read_version = None
        self._used.clear()
        self._read_specs.clear()
        self._epoch += 1

    def schema_token(self) -> object | None:
        """(this connection's schema epoch, the store's schema version) once the catalog was
        checked in this transaction: any schema change of the store (this process's DDL, a
        mapping assumed, another process's DDL taken in) bumps the version, and the epoch
        moves with each transaction and each DDL of this connection."""
        if not self._catalog_fresh:
            return None
        return (self._epoch, self.store.schema_version)

    def _check_schemas_unchanged(self, batch: Batch, catalog: int) -> None:
        """In the commit's write transaction (no DDL runs meanwhile), given the catalog
        version read in it: the batch's rows were checked against the schemas this
        transaction read; if another connection changed one since (columns, key,
        constraints), nothing is applied."""
        if not self._used:
            return
        self.store.refresh_catalog(self._conn, catalog)
        if self.store.schema_version == self._used_at:
            return  # no schema changed since the first one was read (every change bumps it)
        for name in {getattr(cmd, "collection", None) for cmd in batch.commands} | {
                run.collection for run in batch.created}:
            used = self._used.get(name) if name else None
            now = self.store.current_spec(name) if name else None
            if now is not None and not now.declared:
                now = self._resolved(now)
            if used is None or now is None or used is now:
                continue  # (the same schema object: unchanged)
            if _row_rules(used) != _row_rules(now):
                raise OperationalError(
                    f"table {name} was changed by another connection during this "
                    "transaction (its columns, key or constraints); nothing was committed")

    def table_name(self, collection: str) -> str:
        self.spec(collection)
        return collection_table(collection)

    def columns(self, collection: str) -> tuple[str, ...] | None:
        names = self.spec(collection).field_names
        return names or None

    def exact_fields(self, collection: str, decimal_only: bool = False) -> frozenset[str]:
        spec = self.spec(collection)
        return spec.decimal_fields if decimal_only else spec.exact_fields

    def key_field(self, collection: str) -> str | None:
        spec = self.spec(collection)
        return spec.primary_key[0] if spec.key_is_id else None

    def keys_agree(self, collection: str) -> str | None:
        spec = self.spec(collection)
        return spec.primary_key[0] if spec.keys_agree else None

    def binary_fields(self, collection: str) -> frozenset[str]:
        return self.spec(collection).binary_fields

    def json_fields(self, collection: str) -> frozenset[str]:
        return self.spec(collection).json_fields

    def spec(self, collection: str) -> CollectionSpec:
        store = self.store
        hit = self._read_specs.get(collection)
        # Read again in this transaction: the same answer while the store keeps that schema
        # (any schema change, a reload, a mapping assumed, bumps the version).
        if (hit is not None and hit[0] == store.schema_version
                and store.current_spec(collection) is hit[1]):
            return hit[2]
        self._check_catalog()
        # the version before the schema: a change landing between the two reads then shows
        # as a newer version (the commit's check runs in full), never an older schema
        version = store.schema_version
        stored = store.spec(collection, self._conn)
        spec = stored if stored.declared else self._resolved(stored)
        if not self._used:
            self._used_at = version
        self._used[collection] = spec
        self._read_specs[collection] = (version, stored, spec)
        return spec

    def _resolved(self, stored: CollectionSpec) -> CollectionSpec:
        """The schema of an undeclared collection: the application's mapping, else one
        inferred from a sample of its documents (kept until the catalog changes)."""
        if not self.infer_schemas:
            return stored
        assumed = self.store.assumed.get(stored.name)
        if assumed is not None:
            self._check_keys_stored(assumed)
            return assumed
        spec = self.store.inferred.get(stored.name)
        if spec is None:
            with self._lock:
                rows = self._conn.execute(
                    f"SELECT body FROM {collection_table(stored.name)} LIMIT ?", (SAMPLE_SIZE,)
                ).fetchall()
            spec = infer_spec(stored.name, (values.loads(body) for (body,) in rows))
            self.store.inferred[stored.name] = spec
        return spec

    def exists(self, collection: str) -> bool:
        self._check_catalog()
        return self.store.has_collection(collection, self._conn)

    def _check_keys_stored(self, spec: CollectionSpec) -> None:
        """A mapping whose key is kept in the body (not ``key_is_id``) over documents another
        client wrote without it would read NULL keys: refused, naming the way out."""
        if spec.key_is_id or not spec.primary_key or spec in self.store.keys_checked:
            return
        keyless = " OR ".join(f"json_type(body, {json_path(k)}) IS NULL"
                              for k in spec.primary_key)
        with self._lock:
            row = self._conn.execute(f"SELECT id FROM {collection_table(spec.name)} "
                                     f"WHERE {keyless} LIMIT 1").fetchone()
        if row is not None:
            raise DataError(
                f"document {row[0]!r} of collection {spec.name} has no "
                f"{', '.join(spec.primary_key)} field: map the key as a string column holding "
                "the whole document id (Table option docstore_key_is_id=True; reflected "
                "collections do so)")
        self.store.keys_checked.add(spec)

    @store_errors("creating a mapped collection")
    def assume(self, spec: CollectionSpec) -> None:
        self._check_catalog()
        self.store.assume(self._conn, spec)

    def collection_names(self) -> list[str]:
        self._count("schema")
        return self.store.collection_names(self._conn)

    # -- reads ---------------------------------------------------------------------------
    def _plan(self, key: Any, build: Any) -> SqlPlan:
        """The SQL plan of a statement variant; ``key`` starts with the statement's Prepared
        (hashed by identity, kept alive by the key)."""
        self._check_catalog()
        if self._plans_version != self.store.schema_version:
            self._plans.clear()
            self._plans_version = self.store.schema_version
        plan = self._plans.get(key)
        if plan is not None:
            return plan
        plan = build()
        if len(self._plans) > 1000:
            self._plans.clear()
        self._plans[key] = plan
        self.store.ensure_auto_indexes(self._conn, plan.index_fields)
        self._index_overlays(plan.index_fields)
        return plan

    def _overlays(self, collections: Any, pending: PendingBatch | None,
                  aside: str | None = None) -> dict[str, str]:
        if not pending or not pending.overlay:
            return {}
        overlays = {}
        for collection in collections:
            if pending.touches(collection) and collection != aside:
                overlays[collection] = self._sync_overlay(collection, pending)
        return overlays

    @store_errors("copying pending writes to the overlay")
    def _sync_overlay(self, collection: str, pending: PendingBatch) -> str:
        if self._rollbacks_seen != self.store.shared_rollbacks:
            self._rebuild_overlays(pending)
        temp = self._temps.get(collection)
        if temp is None:
            # A name no other overlay has or had: SQLite ignores case in table names, so one
            # per collection name would give ``Things`` and ``things`` (one dropped, the other
            # created) one table, and the overlays of a memory store's connections share
            # their sqlite3 connection's temp schema.
            temp = "temp." + quote(f"overlay{next(_serial)}:{collection}")
            # Under the lock: on a shared connection, another thread's open transaction
            # would take the CREATE in, and its rollback would drop the table again.
            with self._lock:
                self._conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {temp} "
                                   "(id TEXT PRIMARY KEY, body TEXT)")
            self._temps[collection] = temp
        dirty = pending.dirty.get(collection)
        if dirty:
            docs = pending.overlay.get(collection, {})
            gone = [(k,) for k in dirty if k not in docs]
            states = [(k, body_of(docs[k])) for k in dirty if k in docs]
            bodies = [body for _, body in states if body is not None]
            texts = iter(values.dumps_each(bodies))  # (in one pass: values.dumps of each)
            rows = [(doc_id, None if body is None else next(texts)) for doc_id, body in states]
            with self._lock:
                self._write_overlay(temp, gone, rows)
            del pending.dirty[collection]  # (kept if the copy failed: copied again next time)
        return temp

    def _write_overlay(self, temp: str, gone: list[tuple[str]],
                       rows: list[tuple[str, str | None]]) -> None:
        """Delete ``gone`` from an overlay table and write ``rows``: all or nothing, and
        several rows in one SQLite transaction (a savepoint: the connection otherwise
        commits, and journals, each row by itself)."""
        conn = self._conn
        if len(gone) + len(rows) == 1:
            if gone:
                conn.execute(f"DELETE FROM {temp} WHERE id = ?", gone[0])
            else:
                conn.execute(f"INSERT OR REPLACE INTO {temp} VALUES (?, ?)", rows[0])
            return
        conn.execute("SAVEPOINT overlay_copy")
        try:
            if gone:
                conn.executemany(f"DELETE FROM {temp} WHERE id = ?", gone)
            conn.executemany(f"INSERT OR REPLACE INTO {temp} VALUES (?, ?)", rows)
        except BaseException:
            conn.execute("ROLLBACK TO overlay_copy")
            conn.execute("RELEASE overlay_copy")
            raise
        conn.execute("RELEASE overlay_copy")

    @store_errors("indexing an overlay")
    def _index_overlays(self, fields: set[tuple[str, str]]) -> None:
        """Index the overlay tables on the fields queries filter and sort on, as the store
        is (``ensure_auto_indexes``): a query then finds its pending documents by the index
        too, not by reading every pending document of the collection."""
        for collection, name in fields:
            temp = self._temps.get(collection)
            if temp is None or name in (indexed := self._temp_indexed.setdefault(temp, set())):
                continue
            index = "temp." + quote(f"overlay-index{next(_serial)}")
            table = temp.removeprefix("temp.")
            with self._lock:
                self._conn.execute(f"CREATE INDEX {index} ON {table} ({field_index_sql(name)})")
            indexed.add(name)

    @store_errors("dropping an overlay")
    def drop_overlay(self, collection: str) -> None:
        """Forget the mirrored pending state of one collection (it was dropped)."""
        temp = self._temps.pop(collection, None)
        if temp:
            self._temp_indexed.pop(temp, None)
            with self._lock:
                self._conn.execute(f"DROP TABLE IF EXISTS {temp}")

    def _rebuild_overlays(self, pending: PendingBatch | None) -> None:
        """On a memory store's shared connection, a two-phase transaction another connection
        of this thread holds open takes in this one's overlay writes (CREATE TEMP TABLE,
        INSERT, DELETE), and its rollback undoes them: tables vanish, pending rows are lost,
        cleared rows come back. After such a rollback every overlay table is dropped and
        mirrored anew, under a new name, from the pending batch (which is the truth)."""
        self._rollbacks_seen = self.store.shared_rollbacks
        self._drop_overlays()
        if pending is not None:
            for collection, docs in pending.overlay.items():
                pending.dirty[collection] = dict.fromkeys(docs)

    def _drop_overlays(self) -> None:
        temps = list(self._temps.values())
        self._temps.clear()
        self._temp_indexed.clear()
        with self._lock:
            for temp in temps:
                self._conn.execute(f"DROP TABLE IF EXISTS {temp}")

    @store_errors("clearing the overlay")
    def reset_overlay(self) -> None:
        if self._rollbacks_seen != self.store.shared_rollbacks:
            self._rebuild_overlays(None)
        if self._temps:
            with self._lock:
                for temp in self._temps.values():
                    self._conn.execute(f"DELETE FROM {temp}")

    def _run(self, plan: SqlPlan, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        with store_errors(f"running {plan.sql}"):
            args = self._args(plan, params)
            with self._lock:
                return self._conn.execute(plan.sql, args).fetchall()

    @staticmethod
    def _args(plan: SqlPlan, params: dict[str, Any]) -> dict[str, Any]:
        binder = plan.binder
        if binder is None:
            binder = plan.binder = _Binder(plan.binds)
        return binder.args(params)

    def query(
        self, stmt: ast.SelectLike, params: dict[str, Any], pending: PendingBatch | None
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        prep = prepared(stmt)
        aside = self._patches_aside(prep, pending)
        overlays = self._overlays(prep.tables, pending, aside)
        arrays = _arrays(prep, params)
        paths = prep.path_values(params)
        notes = _notes(pending)
        plan = self._plan((prep, tuple(overlays.values()), arrays, paths, notes),
                          lambda: SqlGenerator(self, overlays, arrays, dict(paths))
                          .plan_query(stmt, notes))
        self._count("query")
        columns = plan.columns
        labels = [c.label for c in columns]
        if aside is not None:
            assert pending is not None and notes  # (a transaction that has written)
            rows = self._run_aside(plan, params, pending, aside)
            if rows is not None:
                return labels, rows
            # another connection committed meanwhile: the query again, every write overlaid
            overlays = self._overlays(prep.tables, pending)
            plan = self._plan((prep, tuple(overlays.values()), arrays, paths, notes),
                              lambda: SqlGenerator(self, overlays, arrays, dict(paths))
                              .plan_query(stmt, notes))
        if not plan.documents:  # SQL values only: the rows as SQLite gives them
            return labels, build_rows(plan, self._run(plan, params), None, self.store)
        noted = pending if notes else None
        return labels, self._run_shaped(plan, params,
                                        lambda rows: build_rows(plan, rows, noted, self.store))

    def _run_shaped(self, plan: SqlPlan, params: dict[str, Any],
                    shape: Callable[[list[tuple[Any, ...]]], list[tuple[Any, ...]]]
                    ) -> list[tuple[Any, ...]]:
        """``_run``'s rows, each chunk of ``_SHAPE_CHUNK`` shaped as SQLite gives it."""
        out: list[tuple[Any, ...]] = []
        with store_errors(f"running {plan.sql}"):
            args = self._args(plan, params)
            with self._lock:
                cursor = self._conn.execute(plan.sql, args)
                while rows := cursor.fetchmany(_SHAPE_CHUNK):
                    out += shape(rows)
        return out

    def _patches_aside(self, prep: Prepared, pending: PendingBatch | None) -> str | None:
        """The collection a query can read from the store itself, its pending documents put
        in its rows in place of the stored ones (``_run_aside``), rather than copy its
        pending writes to the overlay table: a query of it alone whose fields are picked
        from the bodies in Python, where every pending write to it is a PATCH of fields the
        query's SQL does not read (``sqlgen.picked_from``), on a file store no other
        connection has committed to, and no schema changed in, since this transaction's
        first query (no document was loaded before it). Each pending
        document is then the stored one, as read, with only such fields changed: SQL
        selects the same documents from the store as from the overlay. None: no such
        collection (the overlay is used)."""
        if self._shared:
            return None  # (a memory store's connections share one sqlite3 connection)
        if self._read_version is None:
            self._read_version = self._version()  # (before the transaction's reads)
        if not pending or not pending.overlay:
            return None
        picked = prep.derived("picked_from", lambda: picked_from(prep.stmt))
        if picked is None or not pending.touches(collection := picked[0]):
            return None
        patched = pending.patched_fields(collection)
        if patched is None or not patched.isdisjoint(picked[1]):
            return None
        version = self._read_version
        if version is _UNVERSIONED or version[1] != self.store.schema_version:
            return None
        if self.key_field(collection) is not None:
            return None  # (a key kept as the id is set in the body by SQL: _table)
        return collection

    def _run_aside(self, plan: SqlPlan, params: dict[str, Any], pending: PendingBatch,
                   collection: str) -> list[tuple[Any, ...]] | None:
        """The rows of a query reading ``collection`` from the store (``_patches_aside``),
        each pending document's body in place of the stored one, with no change vector (as
        the overlay gives it); None if another connection committed (or a schema changed)
        while it ran: the rows are then not to be trusted (read the overlay)."""
        docs = pending.overlay[collection]
        documents = plan.documents
        noted = pending if documents else None

        def shape(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
            if documents:
                rows = _with_pending(rows, documents[0], docs)
            return build_rows(plan, rows, noted, self.store)

        rows = self._run_shaped(plan, params, shape)
        if self._version() != self._read_version:
            return None
        return rows

    @store_errors("reading the store's data version")
    def _version(self) -> tuple[int, int]:
        """The sqlite3 connection's ``PRAGMA data_version``, which changes when another
        connection commits, and the store's schema version, which changes with any schema
        change (this connection's too: an ALTER may rewrite stored documents)."""
        with self._lock:
            (version,) = self._conn.execute("PRAGMA data_version").fetchone()
        return int(version), self.store.schema_version

    def query_stream(
        self, stmt: ast.SelectLike, params: dict[str, Any], pending: PendingBatch | None,
        size: int,
    ) -> tuple[list[str], Iterator[list[tuple[Any, ...]]]] | None:
        """The query's rows in chunks, read through a connection of their own (a WAL read
        snapshot of the committed store: the chunks held in memory are the only copy). None
        for a memory store or when the transaction has pending writes to the tables read:
        those are read whole (``query``), as is a SELECT ... FOR UPDATE (the documents it
        reads are guarded: executor.run_select). A stream's reads are not noted in the
        transaction (its rows come from another snapshot): its plan reads bodies only."""
        prep = prepared(stmt)
        if self._shared or (pending is not None and any(pending.touches(c)
                                                        for c in prep.tables)) or (
                isinstance(stmt, ast.Select) and stmt.for_update):
            return None
        arrays = _arrays(prep, params)
        paths = prep.path_values(params)
        plan = self._plan((prep, "stream", arrays, paths), lambda: SqlGenerator(
            self, {}, arrays, dict(paths)).plan_query(stmt, notes=False))
        self._count("query")
        with store_errors(f"running {plan.sql}"):
            reader = self.store.open_connection()
            try:
                cursor = reader.execute(plan.sql, self._args(plan, params))
            except BaseException:
                reader.close()
                raise
        return [c.label for c in plan.columns], _chunks(plan, cursor, reader, size, self.store)

    def query_plan(self, stmt: ast.SelectLike, params: dict[str, Any]) -> list[str]:
        """SQLite's EXPLAIN QUERY PLAN lines for a query (no pending writes overlaid): which
        indexes it uses."""
        prep = prepared(stmt)
        arrays = _arrays(prep, params)
        paths = prep.path_values(params)
        plan = self._plan((prep, (), arrays, paths, True), lambda: SqlGenerator(
            self, {}, arrays, dict(paths)).plan_query(stmt))
        # An EXPLAIN program reads no schema cookie, so SQLite would not prepare a statement
        # cached before a schema change again: the text names the catalog version.
        sql = f"EXPLAIN QUERY PLAN {plan.sql} -- catalog {self.store.schema_version}"
        with store_errors(f"explaining {plan.sql}"), self._lock:
            rows = self._conn.execute(sql, self._args(plan, params)).fetchall()
        return [str(row[-1]) for row in rows]

    def documents(
        self, stmt: ast.Select, params: dict[str, Any]
    ) -> list[tuple[str, str, str, str, str | None]]:
        """Stored rows (id, body JSON, cv, modified, meta JSON) a one-collection query selects,
        for a server that returns whole documents (no pending overlay)."""
        prep = prepared(stmt)
        arrays = _arrays(prep, params)
        paths = prep.path_values(params)
        plan = self._plan((prep, "documents", arrays, paths), lambda: SqlGenerator(
            self, {}, arrays, dict(paths)).plan_documents(stmt))
        self._count("query")
        store = self.store
        return [(doc_id, body, store.change_vector(cv), *rest)
                for doc_id, body, cv, *rest in self._run(plan, params)]

    def rows_for_write(
        self,
        table: str,
        alias: str | None,
        where: ast.Expr | None,
        exprs: tuple[ast.Expr, ...],
        params: dict[str, Any],
        pending: PendingBatch | None,
    ) -> list[tuple[Any, ...]]:
        if self._read_version is None and not self._shared:
            self._read_version = self._version()  # (see _patches_aside)
        # the SET expressions' subqueries read the pending writes too
        of_where, of_exprs = prepared(where), prepared(exprs)
        overlays = self._overlays({table, *of_where.tables, *of_exprs.tables}, pending)
        paths = of_where.path_values(params) + of_exprs.path_values(params)
        key = (of_where, of_exprs, table, alias, tuple(overlays.values()), paths)
        plan = self._plan(
            key,
            lambda: SqlGenerator(self, overlays, path_values=dict(paths)).plan_rows_for_write(
                table, alias, where, exprs),
        )
        self._count("query")
        store = self.store
        out = [(r[0], values.loads(r[1]), store.change_vector(r[2]), *r[3:])
               for r in self._run(plan, params)]
        if pending is not None:
            # Stored documents only (a change vector): a pending one is known from the
            # overlay, and a savepoint rollback may take it away again.
            pending.seen.update((r[0], (r[1], r[2])) for r in out if r[2])
        return out

    def evaluate(self, exprs: tuple[ast.Expr, ...], params: dict[str, Any],
                 pending: PendingBatch | None = None) -> tuple[Any, ...]:
        # Subqueries read the store with the transaction's pending writes overlaid.
        prep = prepared(exprs)
        overlays = self._overlays(prep.tables, pending) if pending else {}
        paths = prep.path_values(params)
        plan = self._plan((prep, "eval", tuple(overlays.values()), paths),
                          lambda: SqlGenerator(self, overlays, path_values=dict(paths))
                          .plan_scalar(exprs))
        return tuple(self._run(plan, params)[0])

    def can_recompute(self, spec: CollectionSpec, compute: tuple[Recompute, ...]) -> bool:
        return True  # evaluated by SQLite inside the commit's write transaction

    def check_recompute(self, spec: CollectionSpec, compute: tuple[Recompute, ...],
                        body: dict[str, Any], args: dict[str, Any]) -> bool:
        """DataError now for a document ``_recompute`` would refuse at commit (a field read
        holding a number SQLite only approximates, such as an integer beyond 64 bits); True:
        the commit computes these fields."""
        rowexpr.bind_fields(args, body, tuple({name for r in compute for name in r.reads}))
        return True

    def _recompute(self, cmd: Patch, stored: dict[str, Any]) -> dict[str, Any]:
        """The document a PATCH leaves: its computed fields evaluated against ``stored`` (the
        document as committed, read inside the write transaction), constraints checked."""
        spec = self.spec(cmd.collection)
        if spec.key_is_id:  # the key is the id, not kept in the stored body (as _load reads it)
            stored = {**stored, spec.primary_key[0]: cmd.id}
        params = dict(cmd.args or {})
        reads = {name for r in cmd.compute for name in r.reads}
        params = rowexpr.bind_fields(params, stored, tuple(reads), spec.json_fields)
        exprs = prepared(cmd.compute).derived("exprs", lambda: tuple(r.expr for r in cmd.compute))
        computed = self.evaluate(exprs, params)
        body = dict(stored)
        body.update(cmd.set)
        types = {f.name: f.type for f in spec.fields}  # (stored by the field's affinity)
        body.update((r.field, stored_form(types.get(r.field, ""), value))
                    for r, value in zip(cmd.compute, computed, strict=True))
        if spec.computed_fields:  # in the form a generated column's type stores
            body.update(stored_generated(spec, body))
        rowexpr.check_constraints(spec, body, self.evaluate)
        return spec.stored_body(body)

    def get_documents(
        self, collection: str, ids: list[str], pending: PendingBatch | None
    ) -> dict[str, Document]:
        if self._read_version is None:
            self._read_version = _UNVERSIONED  # (read before any version: see _patches_aside)
        with _LOADING:
            if pending:
                found, missing, as_stored = split_pending(pending, collection, ids)
                if as_stored and not missing:
                    self._count("load")  # what a real commit would have sent to the store
            else:  # (what split_pending gives for no pending writes)
                found, missing = {}, ids
            if missing:
                self._count("load")
                self._load(collection, missing, found,
                           pending.seen if pending is not None else None)
        return found

    def holds_no_documents(self, collection: str) -> bool:
        """Whether the store holds no document of ``collection`` (one look at its table; a
        bulk insert's keys then need no load): counted as the load it stands for. False when
        the store can't tell (the load then says why)."""
        try:
            with self._lock:
                row = self._conn.execute(_any_sql(collection)).fetchone()
        except sqlite3.Error:
            return False
        if row is not None:
            return False
        self._count("load")
        return True

    def stored_holders(self, collection: str, fields: tuple[str, ...],
                       values: list[Any]) -> list[tuple[str, str]] | None:
        """The stored documents (id, body JSON) whose ``fields`` equal one of the keys of
        ``values`` (``len(fields)`` values a key, in turn: SQLite integers, reals and texts)
        as the collection's unique index compares them, the transaction's pending writes
        left aside (``dbapi.unique_check``): one query per 500 keys, by the index on the
        fields. None when the store can't tell so (no table): ask ``query``."""
        if self._read_version is None and not self._shared:
            self._read_version = self._version()  # (see _patches_aside)
        width = len(fields)
        if len(values) == width:  # (a statement of one row: the common case, without a loop)
            self._count("query")
            try:
                with self._lock:
                    return self._conn.execute(_holders_sql(collection, fields, 1),
                                              values).fetchall()
            except sqlite3.Error:
                return None
        out: list[tuple[str, str]] = []
        step = _HOLDERS_CHUNK * width
        for start in range(0, len(values), step):
            chunk = values[start:start + step] if len(values) > step else values
            sql = _holders_sql(collection, fields, len(chunk) // width)
            self._count("query")
            try:
                with self._lock:
                    out += self._conn.execute(sql, chunk).fetchall()
            except sqlite3.Error:
                return None
        return out

    def get_document(self, spec: CollectionSpec, doc_id: str,
                     pending: PendingBatch | None, key: int | None = None) -> Document | None:
        if pending:  # (its runs of PUTs kept as columns stay so)
            return self.get_documents(spec.name, [doc_id], pending).get(doc_id)
        if self._read_version is None:
            self._read_version = _UNVERSIONED  # (read before any version: see _patches_aside)
        self._count("load")
        with _LOADING:
            if key is None or not (0 < key < OTHER_KEYS and _ids_keyed(spec.prefix, spec.name)):
                key = int_key(doc_id, key_prefix(spec.name))  # (the row key the id has)
            sql = _load_one_sql(spec.name, key is None)
            arg = (doc_id,) if key is None else (key,)
            if self._shared:
                with self._lock:
                    row = self._conn.execute(sql, arg).fetchone()
            else:  # (its own sqlite3 connection: no lock to take)
                row = self._conn.execute(sql, arg).fetchone()
            if row is None:
                return None
            text, cv = row
            return _kept(doc_id, text, self.store.change_vector(cv),
                         spec.primary_key[0] if spec.key_is_id else None,
                         pending.seen if pending is not None else None)

    def _load(self, collection: str, ids: list[str], found: dict[str, Document],
              seen: dict[str, Any] | None) -> None:
        """Stored documents by id into ``found``; those with a change vector also into
        ``seen`` (id -> (body, change vector)), as the transaction's reads."""
        spec = self.spec(collection)
        key = spec.primary_key[0] if spec.key_is_id else None
        conn = self._conn
        rows: list[tuple[str, str, str]]
        if len(ids) == 1:  # a load by key (session.get): one row or none
            row_key = int_key(ids[0], key_prefix(collection))
            with self._lock:
                row = conn.execute(_load_sql(collection, 1, row_key is None),
                                   ids if row_key is None else (row_key,)).fetchone()
            rows = [] if row is None else [row]
        else:
            with self._lock:
                rows = _by_ids(conn, collection, ids, _load_sql)
        store = self.store
        for doc_id, text, cv in rows:
            found[doc_id] = _kept(doc_id, text, store.change_vector(cv), key, seen)

    # -- writes --------------------------------------------------------------------------
    def submit(self, batch: Batch, *, results: bool = True) -> list[dict[str, Any]]:
        self._count("batch")
        if not batch.commands and not batch.created:
            return []
        batch = self._as_stored(batch)
        with _COMMITTING:
            try:
                with self.store.lock, transaction(self._conn):
                    etag, catalog = _reserve_etags(self._conn, _document_count(batch))
                    self._check_schemas_unchanged(batch, catalog)
                    out = _apply(self._conn, self.store, batch, results, self._recompute,
                                 etag)
                    _keep_keys_agreeing(self._conn, self.store, batch, catalog)
                    _raise_hilo(self._conn, self._explicit_ids)
                    return out
            except sqlite3.IntegrityError as exc:
                raise IntegrityError(f"constraint failed: {exc}") from exc

    def _as_stored(self, batch: Batch) -> Batch:
        """The batch with each document as the store keeps it (``CollectionSpec.stored_body``:
        a key that is the document id stays out of the body), by the schema each collection's
        rows were checked by in this transaction (not read again: a schema another connection
        changed meanwhile is then noticed by ``_check_schemas_unchanged``)."""
        used = self._used
        # every PUT of the transaction's batch is of a collection in its overlay, by a schema
        # in _used (run_insert read it): none keeps its key as the id, no PUT changes
        overlay = batch.overlay
        if overlay is not None:
            for c in overlay:  # (a loop, not all() of a generator: once per commit)
                spec = used.get(c)
                if spec is None or spec.key_is_id:
                    break
            else:
                return batch
        if batch.created:  # (each PUT made: the collections' schemas say what is stored)
            batch = replace(batch, commands=[*batch.commands, *(
                command for run in batch.created for command in run_commands(run))],
                created=[])
        specs = {c: used.get(c) or self.spec(c) for c in {
            getattr(cmd, "collection", "") for cmd in batch.commands if isinstance(cmd, Put)}}
        if not any(s.key_is_id for s in specs.values()):
            return batch
        commands = [_as_stored_put(cmd, specs[cmd.collection]) if isinstance(cmd, Put) else cmd
                    for cmd in batch.commands]
        return replace(batch, commands=commands)

    # Two-phase commit: prepare applies the batch inside an open SQLite transaction (every
    # check runs, the write lock is held), commit_prepared/rollback_prepared end it. On a
    # memory store's shared sqlite3 connection, a prepare while others are open (two engines
    # of a two-phase session on one store) applies its batch in a savepoint of their
    # transaction, which commits once every one of them has committed (store.prepared).
    @store_errors("preparing a batch")
    def prepare(self, batch: Batch) -> None:
        self._count("batch")
        self.store.lock.acquire()  # held across both phases (the memory store shares one conn)
        nested = self._shared and bool(self.store.prepared)
        savepoint = quote(f"prepared{next(_serial)}") if nested else None
        try:
            batch = self._as_stored(batch)
            self._conn.execute(f"SAVEPOINT {savepoint}" if savepoint else "BEGIN IMMEDIATE")
            try:
                etag, catalog = _reserve_etags(self._conn, _document_count(batch))
                self._check_schemas_unchanged(batch, catalog)
                _apply(self._conn, self.store, batch, False, self._recompute, etag)
                _keep_keys_agreeing(self._conn, self.store, batch, catalog)
                _raise_hilo(self._conn, self._explicit_ids)
            except BaseException:
                self._undo(savepoint)
                raise
        except sqlite3.IntegrityError as exc:
            self.store.lock.release()
            raise IntegrityError(f"constraint failed: {exc}") from exc
        except BaseException:
            self.store.lock.release()
            raise
        if self._shared:
            self.store.prepared.append(_Prepared(self, savepoint))
        self._prepared = True

    def _undo(self, savepoint: str | None) -> None:
        """Roll back a prepared batch: its savepoint, or the whole transaction."""
        if savepoint is None:
            self._conn.execute("ROLLBACK")
        else:
            self._conn.execute(f"ROLLBACK TO {savepoint}")
            self._conn.execute(f"RELEASE {savepoint}")

    @store_errors("ending a prepared batch")
    def end_prepared(self, commit: bool) -> None:
        if not self._prepared:
            raise ProgrammingError("no prepared transaction")
        stack = self.store.prepared
        mine = next((i for i, p in enumerate(stack) if p.owner is self), None)
        if commit and mine is not None and not all(p.committed for p in stack[:mine]):
            raise NotSupportedError(
                "two-phase commit on one memory store: commit the prepared transactions in "
                "the order they were prepared (an earlier one is still open)")
        try:
            if not self._shared:
                self._conn.execute("COMMIT" if commit else "ROLLBACK")
            elif mine is None:
                if commit:  # (a rollback of it has nothing left to do)
                    raise OperationalError(
                        "this prepared transaction was rolled back with one prepared before "
                        "it on the same memory store; nothing of it was committed")
            elif commit:
                stack[mine] = stack[mine]._replace(committed=True)
            else:
                self._undo(stack[mine].savepoint)
                del stack[mine:]  # the ones prepared after it were undone with it
                # the overlay writes other connections of this thread made meanwhile are
                # undone with it: they mirror their pending writes anew (_rebuild_overlays)
                self.store.shared_rollbacks += 1
            if stack and all(p.committed for p in stack):
                stack.clear()
                self._conn.execute("COMMIT")
        finally:
            self._prepared = False
            self.store.lock.release()

    @store_errors("reading compare-exchange values")
    def get_compare_exchange_values(self, keys: list[str]) -> dict[str, tuple[Any, int]]:
        self._count("load")
        marks = ", ".join("?" * len(keys))
        with self._lock:
            rows = self._conn.execute(
                f"""SELECT key, value, idx FROM "@cmpxchg" WHERE key IN ({marks})""", keys
            ).fetchall()
        return {key: (values.loads(value).get("Object"), idx) for key, value, idx in rows}

    def next_ids(self, tag: str, count: int, *, claimed: bool = False) -> list[int]:
        return self.store.hilo.next_ids(tag, count, self._fetch_range, claimed=claimed)

    def observe_id(self, tag: str, used: int) -> None:
        if max(self.store.hilo.reserved(tag), self._explicit_ids.get(tag, 0)) < used <= \
                RAISES_UP_TO:
            self._explicit_ids[tag] = used  # (the store's state is above a reserved range)
        self.store.hilo.observe(tag, used)

    def claim_fresh_ids(self, tag: str, values: list[int]) -> list[bool]:
        return self.store.hilo.claim_many(tag, values)

    @store_errors("reserving a HiLo range")
    def _fetch_range(self, tag: str, capacity: int, at_least: int) -> tuple[int, int]:
        self.counts["hilo"] += 1
        conn = self._conn
        with self.store.lock, transaction(conn):
            row = conn.execute("""SELECT max FROM "@hilo" WHERE tag = ?""", (tag,)).fetchone()
            low = max(row[0] if row else 0, at_least - 1) + 1
            high = low + capacity - 1
            conn.execute(
                """INSERT INTO "@hilo" (tag, max, last_range_at, last_size) VALUES (?, ?, ?, ?)
                   ON CONFLICT(tag) DO UPDATE SET max = excluded.max,
                   last_range_at = excluded.last_range_at, last_size = excluded.last_size""",
                (tag, high, utc_now_text(), capacity),
            )
        return low, high

    @store_errors("changing the schema")
    def execute_schema(self, stmt: ast.Statement) -> None:
        self._count("schema")
        store, conn = self.store, self._conn
        if isinstance(stmt, ast.CreateCollection):
            store.create_collection(conn, CollectionSpec.from_json(stmt.name, stmt.spec),
                                    agree=True)
        elif isinstance(stmt, ast.DropCollection):
            store.drop_collection(conn, stmt.name)
            self.drop_overlay(stmt.name)
        elif isinstance(stmt, ast.CreateIndex):
            store.create_index(conn, stmt.collection, stmt.name, stmt.fields, stmt.unique,
                               stmt.if_not_exists)
        elif isinstance(stmt, ast.DropIndex):
            store.drop_index(conn, stmt.name)
        elif isinstance(stmt, ast.AlterCollection):
            self._alter(stmt)
        else:
            raise NotSupportedError(f"not a schema statement: {type(stmt).__name__}")
        self._used.clear()  # rows checked before this connection's own DDL stand
        self._read_specs.clear()
        self._epoch += 1

    def stored_documents(self, collection: str) -> list[tuple[str, dict[str, Any]]]:
        """Every stored document of a collection as (id, body): what a schema change checks."""
        table = self.table_name(collection)
        with self._lock:
            rows = self._conn.execute(f"SELECT id, body FROM {table}").fetchall()
        return [(doc_id, values.loads(body)) for doc_id, body in rows]

    def _alter(self, stmt: ast.AlterCollection) -> None:
        """Plan the change over every stored document, then write the rewritten documents and
        the new schema in one SQLite transaction: a refused change leaves both as they were."""
        spec = self.spec(stmt.name)

        self.store.alter_collection(
            self._conn, stmt.name, lambda docs: plan_alter(spec, stmt.action, stmt.spec, docs))
        if stmt.action == "rename_table":
            self.drop_overlay(stmt.name)

    def close(self) -> None:
        if self._prepared:
            # rolled back, as an uncommitted transaction is: the store lock is released, and
            # on a memory store the ones committed before it wait no longer
            self.end_prepared(False)
        if self._temps:
            try:
                self._drop_overlays()
            except sqlite3.Error:
                pass  # the connection may already be gone; temp tables die with it
        if not self._shared:
            self._conn.close()


def _kept(doc_id: str, text: str, cv: str, key: str | None,
          seen: dict[str, Any] | None) -> Document:
    """A stored document loaded by id: its body (``key``, the key that is the id, put back in
    it), noted in ``seen`` if it has a change vector. Noted as its JSON text (parsed if a write
    by key uses it, as a query's reads are: PendingBatch.note_read), so a transaction of many
    loads by key keeps one container per document, not two, for the garbage collector."""
    body = values.loads(text)
    if key is not None:  # the key is the id, not kept in the body
        body[key] = doc_id
    if seen is not None and cv:
        seen[doc_id] = (body if key is not None else text, cv)
    return (doc_id, body, cv)


#: the scope of every load by id (one object: it keeps no state of a call)
_LOADING = store_errors("loading documents")


@lru_cache(maxsize=512)
def _ids_keyed(id_prefix: str, collection: str) -> bool:
    """Whether ids ``{id_prefix}/{integer}`` are the table's prefix and that integer (the
    integer, below 2**62, is then their row key: keys.int_key)."""
    return f"{id_prefix}/" == key_prefix(collection)


@lru_cache(maxsize=512)
def _load_one_sql(collection: str, other: bool) -> str:
    """The statement loading one document of a collection by its row key, or by its id if
    ``other`` (keys.where_one; the id is the one asked for: ids compare as binary text)."""
    return f"SELECT body, cv FROM {collection_table(collection)} WHERE {where_one(other)}"


#: keys looked up per query by ``stored_holders``
_HOLDERS_CHUNK = 500


@lru_cache(maxsize=256)
def _holders_sql(collection: str, fields: tuple[str, ...], count: int) -> str:
    """The statement reading the documents of a collection whose ``fields`` equal one of
    ``count`` keys, in the text of the unique index on them (so SQLite uses it)."""
    exprs = [field_index_sql(f) for f in fields]
    if len(exprs) == 1:
        where = f"{exprs[0]} IN ({', '.join('?' * count)})"
    else:  # (SQLite looks each term up in the index: its multi-index OR)
        one = " AND ".join(f"{expr} = ?" for expr in exprs)
        where = " OR ".join([f"({one})"] * count)
    return f"SELECT id, body FROM {collection_table(collection)} WHERE {where}"


@lru_cache(maxsize=512)
def _any_sql(collection: str) -> str:
    """The statement reading one document id of a collection, if it has any."""
    return f"SELECT id FROM {collection_table(collection)} LIMIT 1"


@lru_cache(maxsize=512)
def _load_sql(collection: str, count: int, other: bool) -> str:
    """The statement loading ``count`` documents of a collection by row key, or by id if
    ``other`` (keys.where_in)."""
    return _by_ids_sql(collection, "id, body, cv", count, other)


@lru_cache(maxsize=512)
def _by_ids_sql(collection: str, columns: str, count: int, other: bool) -> str:
    """The statement reading ``columns`` of ``count`` documents of a collection by row key,
    or by id if ``other``."""
    where = where_one(other) if count == 1 else where_in(other, count)
    return f"SELECT {columns} FROM {collection_table(collection)} WHERE {where}"


#: ids (row keys) looked up per statement by ``_by_ids``
_IDS_CHUNK = 500


def _by_ids(conn: sqlite3.Connection, collection: str, ids: list[str],
            sql: Callable[[str, int, bool], str]) -> list[Any]:
    """The rows of the stored documents of ``ids`` (in no given order) that ``sql(collection,
    count, other)``'s statements read: the ids with a row key by it, the others by their id
    (keys.split_ids), ``_IDS_CHUNK`` at a time."""
    keys, others = split_ids(ids, key_prefix(collection))
    out: list[Any] = []
    for other, part in ((False, keys), (True, others)):
        for start in range(0, len(part), _IDS_CHUNK):
            chunk = part[start:start + _IDS_CHUNK] if len(part) > _IDS_CHUNK else part
            out += conn.execute(sql(collection, len(chunk), other), chunk)
    return out


@lru_cache(maxsize=256)
def _ids_cvs_sql(collection: str, count: int, other: bool) -> str:
    return _by_ids_sql(collection, "id, cv", count, other)


@lru_cache(maxsize=256)
def _stored_rows_sql(collection: str, count: int, other: bool) -> str:
    return _by_ids_sql(collection, "id, body, cv, k", count, other)


def _row_rules(spec: CollectionSpec) -> tuple[Any, ...]:
    """What a row was checked against before commit (unique indexes are checked at commit)."""
    return (spec.fields, spec.primary_key, spec.autoincrement, spec.checks, spec.prefix)


_PART_INDEX = {part: i for i, part in enumerate(values.COMPARE_PARTS)}


class _Binder:
    """A plan's binds as computed from a statement's parameters, prepared once per plan:
    literals converted once; the parts of an exact comparison (value, low, high, text, wide)
    computed once per parameter and execution (``values.compare_parts``), not once per
    part. Binds are computed in slot order, so a missing or unstorable parameter fails as
    it would bind by bind."""

    __slots__ = ("binds", "fixed", "steps")

    def __init__(self, binds: dict[str, tuple[str, Any]]) -> None:
        self.binds = binds
        self.fixed: dict[str, Any] | None = None  # literal binds, converted on first use
        #: (slot, kind, reference, part index) of the binds that read parameters
        self.steps: list[tuple[str, str, Any, int]] = []
        for slot, (kind, ref) in binds.items():
            part, _, source = kind.partition(":")
            if kind == "literal" or source == "literal":
                continue
            if source == "param" and part in _PART_INDEX:
                self.steps.append((slot, "part", ref, _PART_INDEX[part]))
            else:
                self.steps.append((slot, kind, ref, -1))

    def _fixed(self) -> dict[str, Any]:
        fixed = {}
        for slot, (kind, ref) in self.binds.items():
            if kind == "literal":
                fixed[slot] = values.to_sql_param(ref)
            elif kind.endswith(":literal"):
                fixed[slot] = _compare_part(kind, ref, {})
        self.fixed = fixed
        return fixed

    def args(self, params: dict[str, Any]) -> dict[str, Any]:
        fixed = self.fixed if self.fixed is not None else self._fixed()
        args = dict(fixed)
        parts: dict[str, tuple[Any, ...]] = {}
        for slot, kind, ref, index in self.steps:
            if kind == "part":
                of_ref = parts.get(ref)
                if of_ref is None:
                    of_ref = parts[ref] = values.compare_parts(_param(params, ref))
                args[slot] = of_ref[index]
            else:
                args[slot] = _bind_value(kind, ref, params)
        return args


def _bind_value(kind: str, value: Any, params: dict[str, Any]) -> Any:
    """One bind that reads the statement's parameters (see sqlgen's ``bind``)."""
    if kind == "array":
        return values.sql_array(_param(params, value))
    if kind == "param":
        return values.to_sql_param(_param(params, value))
    if kind == "blob":  # CAST(:p AS BLOB): bytes stay bytes (a SQLite blob)
        value = _param(params, value)
        return bytes(value) if isinstance(
            value, (bytes, bytearray, memoryview)) else values.to_sql_param(value)
    if kind == "jsondoc":  # a JSON value a path reads into
        return values.dumps(values.to_json(_param(params, value)))
    if kind == "jsontext":
        return _json_compared(_param(params, value))
    # "<part>:<source>", a part of an exact comparison (sqlgen)
    return _compare_part(kind, value, params)


def _compare_part(kind: str, ref: Any, params: dict[str, Any]) -> Any:
    part, _, source = kind.partition(":")
    if source == "items":  # an IN list's items: ((source, ref), ...)
        given = [v if k == "literal" else _param(params, v) for k, v in ref]
        return values.array_part(part, given)
    if source == "array":
        return values.array_part(part, _param(params, ref))
    return values.compare_part(part, ref if source == "literal" else _param(params, ref))


def _json_compared(value: Any) -> Any:
    """A parameter compared with a JSON element's text: an object or array as SQLAlchemy's
    default serializer (json.dumps) writes it, as SQLAlchemy binds a JSON-typed value, and so
    is None (``JSON.NULL``: the text ``null``); other values as they are (SQLAlchemy types
    them by their Python type)."""
    if value is None or isinstance(value, (dict, list)):
        return json_dumps(value)
    return values.to_sql_param(value)


def _param(params: dict[str, Any], name: str) -> Any:
    try:
        return params[name]
    except KeyError as exc:
        raise ProgrammingError(f"no value given for parameter {name!r}") from exc


# -------------------------------------------------------------------------- batch apply


#: the document a PATCH with computed fields leaves, given the stored one
Recomputer = Callable[[Patch, dict[str, Any]], dict[str, Any]]


#: One statement (inside the commit's write transaction) takes a batch's etags, one per
#: command, and reads the catalog version (which DDL of other processes increments).
_RESERVE_ETAGS = """UPDATE "@meta" SET value = value + ? WHERE key = 'etag'
RETURNING value, (SELECT value FROM "@meta" WHERE key = 'catalog')"""


#: the scope of every commit (one object: it keeps no state of a call)
_COMMITTING = store_errors("committing")


def _reserve_etags(conn: sqlite3.Connection, count: int) -> tuple[int, int]:
    """(the store's etag before the batch, the catalog version), the batch's ``count`` etags
    counted as used (a failed batch rolls the count back with its transaction)."""
    ((last, catalog),) = conn.execute(_RESERVE_ETAGS, (count,)).fetchall()
    return int(last) - count, int(catalog or 0)


def _apply(
    conn: sqlite3.Connection, store: EmbeddedStore, batch: Batch, want_results: bool,
    recompute: Recomputer, etag: int,
) -> list[dict[str, Any]]:
    """Apply the batch; ``etag`` is the store's etag before it (see ``_reserve_etags``),
    each command taking the next one."""
    modified = utc_now_text()
    results: list[dict[str, Any]] = []
    commands = batch.commands
    keys = NewKeys(conn)
    reserved = etag + len(commands)
    i = 0
    while i < len(commands):
        cmd = commands[i]
        if isinstance(cmd, Put) and cmd.expected == "":
            # A run of inserts goes in one executemany; a taken id fails the whole batch.
            run = _insert_run_at(commands, i, batch.creates_only)
            j = i + len(run)
            etag = _insert_run(conn, store, keys, run, etag, modified,
                               results if want_results else None)
            i = j
            continue
        if _plain_patch(cmd):
            # A run of PATCHes that set fields of distinct documents: the stored rows are
            # read together and written with one executemany, in command order.
            patches = _patch_run_at(commands, i)
            etag = _patch_run(conn, store, patches, etag, modified, results)
            i += len(patches)
            continue
        etag += 1
        if isinstance(cmd, CompareExchange):
            results.append(_apply_compare_exchange(conn, cmd, etag))
        elif isinstance(cmd, Absent):
            results.append(_check_absent(conn, store, cmd, batch.overlay))
        else:
            results.append(_apply_one(conn, store, keys, cmd, etag, modified, recompute))
        i += 1
    for created in batch.created:  # (after the commands: the runs follow them)
        if isinstance(created, PatchRun):
            etag = _patch_columns(conn, store, created, etag, modified, results)
        else:
            etag = _insert_created(conn, store, keys, created, etag, modified,
                                   results if want_results else None)
        reserved += len(created.ids)
    if etag != reserved:  # a change vector would be given twice: nothing is applied
        raise InternalError(f"the batch used etags up to {etag}, {reserved} were reserved")
    return results


def _keep_keys_agreeing(conn: sqlite3.Connection, store: EmbeddedStore, batch: Batch,
                        catalog: int) -> None:
    """``keys_agree`` (schema.CollectionSpec) cleared, in the batch's transaction, on each
    collection the batch writes in a way that may break it (``_disagreeing``), by the
    schemas as stored now (``catalog``, read in the transaction: none is stale)."""
    store.refresh_catalog(conn, catalog)
    agreeing = store.agreeing_specs()
    if agreeing:
        names = _disagreeing(batch, agreeing)
        if names:
            store.disagree(conn, names)


def _disagreeing(batch: Batch, agreeing: dict[str, CollectionSpec]) -> set[str]:
    """The collections of ``agreeing`` some write of ``batch`` may leave a document of whose
    key field is neither NULL nor its id's integer: a PUT or PATCH giving the key field
    another value, a PATCH computing it, a PATCH run setting it, a run creating documents
    under other ids; any command of another kind."""
    names: set[str] = set()
    for cmd in batch.commands:
        if isinstance(cmd, (Delete, Absent, CompareExchange)):
            continue
        spec = agreeing.get(cmd.collection)
        if spec is None or spec.name in names:
            continue
        key = spec.primary_key[0]
        if isinstance(cmd, Put):
            agrees = _key_agrees(cmd.id, spec.name, cmd.body.get(key))
        elif isinstance(cmd, Patch):
            agrees = (key not in cmd.set or _key_agrees(cmd.id, spec.name, cmd.set[key])) \
                and all(c.field != key for c in cmd.compute)
        else:
            agrees = False
        if not agrees:
            names.add(spec.name)
    for run in batch.created:
        spec = agreeing.get(run.collection)
        if spec is None:
            continue
        key = spec.primary_key[0]
        if isinstance(run, PatchRun):
            agrees = key not in run.fields
        else:
            keys = run.keys
            agrees = keys is not None and run.id_prefix == key_prefix(spec.name) and (
                not keys or 0 < (bounds := run.key_bounds or (min(keys), max(keys)))[0]
                and bounds[1] < OTHER_KEYS) and (
                run.key_field == key or [body.get(key) for body in run.bodies] == keys)
        if not agrees:
            names.add(spec.name)
    return names


def _key_agrees(doc_id: str, collection: str, value: Any) -> bool:
    """Whether a document of id ``doc_id`` whose key field holds ``value`` keeps
    ``keys_agree``: NULL, or the integer its row key is."""
    return value is None or (type(value) is int
                             and value == int_key(doc_id, key_prefix(collection)))


def _as_stored_put(put: Put, spec: CollectionSpec) -> Put:
    body = spec.stored_body(put.body)
    return put if body is put.body else replace(put, body=body, text=None)


def _insert_run_at(commands: list[Any], i: int, creates_only: bool = False) -> list[Put]:
    """The run of PUTs creating documents of one collection that starts at ``commands[i]``
    (one): the whole rest of the batch when it is one (a bulk load's batch, told by three
    passes in C, one if the batch is known to be all such PUTs: ``creates_only``), else
    found a command at a time."""
    collection = commands[i].collection
    rest = commands[i:] if i else commands
    if i == 0 and (creates_only or (set(map(type, rest)) == {Put}
                                    and set(map(_EXPECTED, rest)) == {""})) and set(
            map(_COLLECTION, rest)) == {collection}:
        return rest
    run: list[Put] = []
    for nxt in rest:
        if not (isinstance(nxt, Put) and nxt.collection == collection
                and nxt.expected == ""):
            break
        run.append(nxt)
    return run


_COLLECTION = attrgetter("collection")
_ID = attrgetter("id")
_TEXT = attrgetter("text")
_EXPECTED = attrgetter("expected")


class _StoredCvs(Sequence[Any]):
    """The change vectors of a column a query read, as stored, given as
    ``EmbeddedStore.change_vector`` gives them when looked at (PendingBatch.note_read: a
    read nobody looks back at converts none)."""

    __slots__ = ("store", "column")

    def __init__(self, store: EmbeddedStore, column: tuple[Any, ...]) -> None:
        self.store, self.column = store, column

    def __len__(self) -> int:
        return len(self.column)

    def __getitem__(self, n: Any) -> Any:
        if isinstance(n, slice):
            return list(map(self.store.change_vector, self.column[n]))
        return self.store.change_vector(self.column[n])

    def __iter__(self) -> Iterator[Any]:
        return map(self.store.change_vector, self.column)


def _insert_run(conn: sqlite3.Connection, store: EmbeddedStore, keys: NewKeys,
                puts: list[Put], etag: int, modified: str,
                results: list[dict[str, Any]] | None) -> int:
    collection = puts[0].collection
    table = _table(store, conn, collection)
    try:
        if len(puts) == 1:  # one row: one execute (executemany's set-up costs more)
            _insert_one(conn, store, keys, table, puts[0], etag + 1, modified, results)
        else:
            # rows are encoded a chunk at a time: no second copy of the run in memory
            _insert_chunks(conn, table, _insert_rows(store, keys, puts, etag, modified,
                                                     results))
    except sqlite3.IntegrityError as exc:
        raise _insert_refused(conn, store, collection, [p.id for p in puts], etag,
                              exc) from exc
    return etag + len(puts)


def _insert_refused(conn: sqlite3.Connection, store: EmbeddedStore,
                    collection: str, ids: list[str], etag: int,
                    exc: sqlite3.IntegrityError) -> IntegrityError:
    """The error of a run of inserts (taking the etags after ``etag``) SQLite refused: the
    first id a stored document holds, else the constraint SQLite names."""
    # the rows this run inserted before the failing one are still there: not taken
    written = set(range(etag + 1, etag + len(ids) + 1))  # (their etags, as stored)
    taken = _taken_ids(conn, collection, ids, written)
    if taken:
        return DuplicateKeyError(f"document {taken[0]!r} already exists in collection "
                                 f"{collection} (duplicate primary key)")
    return IntegrityError(f"unique constraint failed in collection {collection}: {exc}")


def _insert_created(conn: sqlite3.Connection, store: EmbeddedStore, keys: NewKeys,
                    run: CreateRun, etag: int, modified: str,
                    results: list[dict[str, Any]] | None = None) -> int:
    """``_insert_run`` of a run of PUTs kept as columns: one executemany, the rows made a
    chunk at a time (the change vectors; the JSON texts where the run has none)."""
    ids, count = run.ids, len(run.ids)
    if not count:
        return etag
    table = _table(store, conn, run.collection)

    def chunk(start: int) -> _RowsChunk:
        end = min(start + _ROWS_CHUNK, count)
        texts = (run.texts[start:end] if run.texts is not None
                 else values.dumps_each(run.bodies[start:end]))
        part = ids[start:end]
        given = run.keys[start:end] if run.keys is not None else None
        return _RowsChunk(keys.keys(run.collection, part, given, run.id_prefix,
                                    run.key_bounds), part, texts,
                          list(range(etag + start + 1, etag + end + 1)), modified)

    try:
        _insert_chunks(conn, table, map(chunk, range(0, count, _ROWS_CHUNK)))
    except sqlite3.IntegrityError as exc:
        raise _insert_refused(conn, store, run.collection, ids, etag, exc) from exc
    if results is not None:
        cvs = store.own_change_vectors(range(etag + 1, etag + count + 1))
        results.extend([{"Type": "PUT", "@id": doc_id, "@collection": run.collection,
                         "@change-vector": cv, "@last-modified": modified}
                        for doc_id, cv in zip(ids, cvs, strict=True)])
    return etag + count


def _document_count(batch: Batch) -> int:
    """The documents a batch writes: one per command, one per PUT of its runs."""
    created = batch.created
    return len(batch.commands) + (sum(len(run.ids) for run in created) if created else 0)


@lru_cache(maxsize=256)
def _insert_sql(table: str, rows: int = 1) -> str:
    """The INSERT of ``rows`` documents (one VALUES row each: row key, id, body, cv,
    modified). Of more than one row, each row takes four parameters (key, id, body, cv) and
    all share the last, ``?{4 * rows + 1}``, the batch's last-modified text: bound once, not
    per row."""
    if rows == 1:
        return f"INSERT INTO {table} (k, id, body, cv, modified) VALUES (?, ?, ?, ?, ?)"
    shared = 4 * rows + 1
    return (f"INSERT INTO {table} (k, id, body, cv, modified) VALUES "
            + ", ".join([f"(?{n}, ?{n + 1}, ?{n + 2}, ?{n + 3}, ?{shared})"
                         for n in range(1, shared, 4)]))


class _RowsChunk(NamedTuple):
    """Documents to insert, a column each (all the same length), and their last-modified."""

    keys: list[Key]  # (their row keys: NewKeys)
    ids: list[str]
    texts: list[str]
    cvs: list[int]  # (their etags: as stored, store.LAYOUT)
    modified: str


#: rows per INSERT statement of a run: one statement of many VALUES rows costs SQLite and
#: sqlite3 about a third fewer instructions than an executemany of one row per step (per
#: row: a reset, a step, the GIL released and taken); 401 parameters stay under the 999
#: older SQLite builds allow
_VALUES_ROWS = 100


def _insert_chunks(conn: sqlite3.Connection, table: str, chunks: Iterable[_RowsChunk]) -> None:
    """Insert every chunk's documents in order: ``_VALUES_ROWS`` rows per statement, the
    rest of a chunk by one executemany of one-row statements (a statement text per count
    would be prepared each time). A refused row fails the statement, which leaves no row."""
    many = _insert_sql(table, _VALUES_ROWS)
    width = 4 * _VALUES_ROWS
    for keys, ids, texts, cvs, modified in chunks:
        full = len(ids) - len(ids) % _VALUES_ROWS
        if full:
            # the rows' (key, id, body, cv) side by side, laid out by four slice assignments
            flat: list[Any] = [modified] * (4 * full)
            flat[0::4], flat[1::4] = keys[:full], ids[:full]
            flat[2::4], flat[3::4] = texts[:full], cvs[:full]
            shared = [modified]
            for start in range(0, len(flat), width):
                conn.execute(many, flat[start:start + width] + shared)
        if full < len(ids):
            conn.executemany(_insert_sql(table), zip(
                keys[full:], ids[full:], texts[full:], cvs[full:], itertools.repeat(modified)))


def _insert_one(conn: sqlite3.Connection, store: EmbeddedStore, keys: NewKeys, table: str,
                put: Put, etag: int, modified: str,
                results: list[dict[str, Any]] | None) -> None:
    """``_insert_rows`` of one PUT taking ``etag``, by one execute (same row, same result)."""
    conn.execute(_insert_sql(table), (keys.key(put.collection, put.id), put.id,
                                      put.text or values.dumps(put.body), etag, modified))
    if results is not None:
        results.append({"Type": "PUT", "@id": put.id, "@collection": put.collection,
                        "@change-vector": store.change_vector(etag), "@last-modified": modified})


_ROWS_CHUNK = 1000  # puts encoded at a time by _insert_rows_bulk: bounded extra memory


def _insert_rows(store: EmbeddedStore, keys: NewKeys, puts: list[Put], etag: int,
                 modified: str, results: list[dict[str, Any]] | None) -> Iterator[_RowsChunk]:
    """The INSERT rows of ``puts`` (taking etags after ``etag``), a chunk of puts at a time
    (bodies by ``values.dumps_each``, change vectors by one format); their results appended
    to ``results`` if given."""
    collection = puts[0].collection

    def chunk(start: int) -> _RowsChunk:
        part = puts[start:start + _ROWS_CHUNK]
        first = etag + start + 1
        ids = list(map(_ID, part))
        return _RowsChunk(keys.keys(collection, ids), ids, _texts(part),
                          list(range(first, first + len(part))), modified)

    if results is not None:
        cvs = store.own_change_vectors(range(etag + 1, etag + len(puts) + 1))
        results.extend([{"Type": "PUT", "@id": put.id, "@collection": put.collection,
                         "@change-vector": cv, "@last-modified": modified}
                        for put, cv in zip(puts, cvs, strict=True)])
    return map(chunk, range(0, len(puts), _ROWS_CHUNK))


def _texts(puts: list[Put]) -> list[str]:
    """The JSON text of each PUT's body: its own if its statement made it, else by
    ``values.dumps_each``."""
    texts: list[str | None] = list(map(_TEXT, puts))
    if None in texts:
        missing = [n for n, text in enumerate(texts) if text is None]
        for n, text in zip(missing, values.dumps_each([puts[n].body for n in missing]),
                           strict=True):
            texts[n] = text
    return cast(list[str], texts)


def _patch_run_at(commands: list[Any], i: int) -> list[Patch]:
    """The run of ``_plain_patch`` commands of one collection, of distinct documents, that
    starts at ``commands[i]`` (one)."""
    collection = commands[i].collection
    ids: set[str] = set()
    end = i
    for nxt in itertools.islice(commands, i, None):
        # (_plain_patch, inline)
        if not (type(nxt) is Patch and not nxt.compute and (nxt.set or nxt.unset)
                and nxt.collection == collection and nxt.id not in ids):
            break
        ids.add(nxt.id)
        end += 1
    return commands[i:end]


def _plain_patch(cmd: Any) -> TypeGuard[Patch]:
    """A PATCH that sets or removes fields, nothing computed (see _patch_run)."""
    return isinstance(cmd, Patch) and not cmd.compute and bool(cmd.set or cmd.unset)


def _patch_run(conn: sqlite3.Connection, store: EmbeddedStore, patches: list[Patch],
               etag: int, modified: str, results: list[dict[str, Any]]) -> int:
    """``_apply_one`` of each PATCH (of one collection, distinct documents, in order), with
    one read of the stored rows and one executemany of the writes per 500 documents."""
    table = _table(store, conn, patches[0].collection)
    for start in range(0, len(patches), 500):  # a chunk's rows at a time: bounded memory
        chunk = patches[start:start + 500]
        etag = _patch_chunk(conn, store, table, chunk, etag, modified, results)
    return etag


def _patch_chunk(conn: sqlite3.Connection, store: EmbeddedStore, table: str,
                 patches: list[Patch], etag: int, modified: str,
                 results: list[dict[str, Any]]) -> int:
    names = {key for p in patches for key in p.set}  # (each field name tested once)
    names.update(key for p in patches for key in p.unset)
    if all(map(_plain_key, names)):
        return _patch_chunk_in_sqlite(conn, store, table, patches, etag, modified, results)
    stored: dict[str, tuple[str, str, int]] = {
        doc_id: (text, cv, key) for doc_id, text, cv, key in _by_ids(
            conn, patches[0].collection, [p.id for p in patches], _stored_rows_sql)}
    rows = []
    loads, dumps = values.loads, values.dumps
    for cmd in patches:
        etag += 1
        row = stored.get(cmd.id)
        _check_expected(cmd, row, store)
        assert row is not None  # a PATCH of a missing document failed the check
        body = loads(row[0])
        body.update(cmd.set)
        for key in cmd.unset:
            body.pop(key, None)
        rows.append((dumps(body), etag, modified, row[2]))
        results.append({"Id": cmd.id, "ChangeVector": store.change_vector(etag),
                        "LastModified": modified, "Type": "PATCH", "PatchStatus": "Patched"})
    conn.executemany(f"UPDATE {table} SET body = ?, cv = ?, modified = ? WHERE k = ?", rows)
    return etag


def _patch_chunk_in_sqlite(conn: sqlite3.Connection, store: EmbeddedStore, table: str,
                           patches: list[Patch], etag: int, modified: str,
                           results: list[dict[str, Any]]) -> int:
    """``_patch_chunk`` with the stored bodies changed by SQLite's json_set / json_remove
    (only the values set are encoded in Python; the rest of each document's text stays as
    stored), each UPDATE checking the change vector the PATCH expects. If a document is
    missing or changed, the chunk's updates are taken back and ``_check_expected`` of the
    PATCHes in order says which one fails."""
    etags = range(etag + 1, etag + len(patches) + 1)  # (each PATCH's change vector, stored)
    set_values = [value for cmd in patches for value in cmd.set.values()]
    shape = _one_shape(patches)
    targets, others = _targets(patches[0].collection, [cmd.id for cmd in patches])
    by_shape: dict[tuple[int, int, bool, bool], list[Sequence[Any]]]
    if shape is not None and _strings(set_values):
        # every value set is a string: bound as it is, json_set writes it as the JSON string
        # values.dumps writes (no text made in Python and parsed again by SQLite)
        by_shape = {(*shape, True): _shape_rows(store, patches, set_values, etags, modified,
                                                shape[2], targets)}
    else:
        # the values set, encoded in one pass (values.dumps of each: same texts, same errors)
        texts = values.dumps_each(set_values)
        if shape is not None:  # the common case: every PATCH sets the same fields
            by_shape = {(*shape, False): _shape_rows(store, patches, texts, etags, modified,
                                                     shape[2], targets)}
        else:
            by_shape = {(*key, False): rows for key, rows in _rows_by_shape(
                store, patches, texts, etags, modified, targets).items()}
    results += [{"Id": cmd.id, "ChangeVector": cv, "LastModified": modified, "Type": "PATCH",
                 "PatchStatus": "Patched"}
                for cmd, cv in zip(patches, store.own_change_vectors(etags), strict=True)]
    changes = conn.total_changes
    conn.execute("SAVEPOINT patch_chunk")
    for (n_set, n_unset, checked, raw), rows in by_shape.items():  # distinct documents: any
        for other, part in _by_kind(rows, others, checked):  # order
            conn.executemany(_patch_sql(table, n_set, n_unset, checked, raw, other), part)
    if conn.total_changes - changes != len(patches):  # one row per PATCH, or a failed check
        conn.execute("ROLLBACK TO patch_chunk")
        _refuse_patches(conn, store, table, patches)
    conn.execute("RELEASE patch_chunk")
    return etag + len(patches)


def _patch_columns(conn: sqlite3.Connection, store: EmbeddedStore, run: PatchRun, etag: int,
                   modified: str, results: list[dict[str, Any]]) -> int:
    """``_patch_run`` of the PATCHes of a run kept as columns, no PATCH made: one
    executemany of ``_patch_sql``'s UPDATE over the run, its rows made as SQLite takes them
    (json_set of each field; the values set bound as they are when all are strings, else as
    their JSON texts), each checking the change vector expected if every PATCH expects one.
    If a document is missing or changed, the run's updates are taken back and
    ``_refuse_patches`` of its PATCHes says which one fails first. A run of another shape
    (a field name json_set's path can't name, some PATCHes checked and others not) is made
    into PATCHes (``_patch_run``)."""
    ids, count = run.ids, len(run.ids)
    fields = run.fields
    unchecked = run.expected.count(None)
    if not count or not fields or not all(map(_plain_key, fields)) or (
            unchecked not in (0, count)):
        return _patch_run(conn, store, run.patches(), etag, modified, results) if count \
            else etag
    table = _table(store, conn, run.collection)
    etags = range(etag + 1, etag + count + 1)  # (each PATCH's change vector, stored)
    flat = (list(map(itemgetter(0), run.values)) if len(fields) == 1
            else list(itertools.chain.from_iterable(run.values)))
    raw = _strings(flat)
    texts = flat if raw else values.dumps_each(flat)  # (values.dumps of each, one pass)
    width = len(fields)
    columns: list[Any] = []
    for n, name in enumerate(fields):
        columns += (itertools.repeat(_key_path(name)), texts if width == 1 else texts[n::width])
    targets, others = _targets(run.collection, ids)
    columns += (etags, itertools.repeat(modified), targets)
    if not unchecked:
        columns.append([store.stored_change_vector(cv) for cv in cast(list[str], run.expected)])
    changes = conn.total_changes
    conn.execute("SAVEPOINT patch_run")
    # (the rows made as SQLite binds them: the repeated columns never end, ``ids`` does)
    rows = zip(*columns, strict=False)
    for other, part in _by_kind(rows, others, not unchecked):
        conn.executemany(_patch_sql(table, len(fields), 0, not unchecked, raw, other), part)
    if conn.total_changes - changes != count:  # one row per PATCH, or a failed check
        conn.execute("ROLLBACK TO patch_run")
        patches = run.patches()
        for start in range(0, count, 500):
            _refuse_patches(conn, store, table, patches[start:start + 500],
                            last=start + 500 >= count)
    conn.execute("RELEASE patch_run")
    results += [{"Id": doc_id, "ChangeVector": cv, "LastModified": modified, "Type": "PATCH",
                 "PatchStatus": "Patched"}
                for doc_id, cv in zip(ids, store.own_change_vectors(etags), strict=True)]
    return etag + count


def _one_shape(patches: list[Patch]) -> tuple[int, int, bool] | None:
    """The shape of the UPDATE of every PATCH (``_patch_sql``'s arguments) when they all
    set the same fields in the same order, remove none, and all or none check a change
    vector; else None."""
    first = patches[0]
    keys = tuple(first.set)
    checked = first.expected is not None
    if first.unset or not keys:
        return None
    for cmd in patches:
        if cmd.unset or (cmd.expected is not None) is not checked or tuple(cmd.set) != keys:
            return None
    return len(keys), 0, checked


def _shape_rows(store: EmbeddedStore, patches: list[Patch], texts: list[str],
                etags: Iterable[int], modified: str, checked: bool,
                targets: list[Any]) -> list[Sequence[Any]]:
    """The UPDATE arguments of PATCHes of one shape (``_one_shape``), a column at a time:
    those ``_rows_by_shape`` gives."""
    keys = tuple(patches[0].set)
    columns: list[Any] = []
    for n, key in enumerate(keys):
        columns += (itertools.repeat(_key_path(key)), texts[n::len(keys)])
    columns += (etags, itertools.repeat(modified), targets)
    if checked:
        columns.append([store.stored_change_vector(cast(str, cmd.expected)) for cmd in patches])
    return list(zip(*columns, strict=False))  # (the repeated columns never end)


def _rows_by_shape(store: EmbeddedStore, patches: list[Patch], texts: list[str],
                   etags: Iterable[int], modified: str,
                   targets: list[Any]) -> dict[tuple[int, int, bool], list[Sequence[Any]]]:
    """The UPDATE arguments of each PATCH, by the shape of its UPDATE (rows in the order of
    ``patches`` within a shape)."""
    by_shape: dict[tuple[int, int, bool], list[Sequence[Any]]] = {}
    key_path = _key_path
    values_set = iter(texts)
    for cmd, cv, target in zip(patches, etags, targets, strict=True):
        args: list[Any] = []
        for key in cmd.set:
            args += (key_path(key), next(values_set))
        if cmd.unset:
            args += [key_path(key) for key in cmd.unset]
        checked = cmd.expected is not None
        args += (cv, modified, target) if not checked else (
            cv, modified, target, store.stored_change_vector(cast(str, cmd.expected)))
        by_shape.setdefault((len(cmd.set), len(cmd.unset), checked), []).append(args)
    return by_shape


def _refuse_patches(conn: sqlite3.Connection, store: EmbeddedStore, table: str,
                    patches: list[Patch], last: bool = True) -> None:
    """The error of the first PATCH whose document is missing or not the version expected
    (``last``: if none is, an InternalError; else none is raised: later PATCHes are)."""
    stored = dict(_by_ids(conn, patches[0].collection, [p.id for p in patches], _ids_cvs_sql))
    for cmd in patches:
        found = stored.get(cmd.id)
        _check_expected(cmd, None if found is None else (None, found), store)
    if last:
        raise InternalError(f"a PATCH of {table} changed no row, yet every check passes")


def _plain_key(key: str) -> bool:
    """A field name SQLite's JSON path ``$."key"`` finds as the store wrote it: no quote,
    backslash or control character (those the JSON text holds escaped)."""
    return '"' not in key and "\\" not in key and key.isprintable()


@lru_cache(maxsize=1024)
def _key_path(key: str) -> str:
    return f'$."{key}"'


def _strings(set_values: list[Any]) -> bool:
    """Whether every value is a string values.dumps writes as json_set does a bound string
    (not one it refuses: NUL, a lone surrogate)."""
    if not set_values or set(map(type, set_values)) != {str}:
        return False
    joined = "".join(set_values)
    return "\x00" not in joined and (joined.isascii() or not values.SURROGATE.search(joined))


@lru_cache(maxsize=256)
def _patch_sql(table: str, n_set: int, n_unset: int, checked: bool, raw: bool = False,
               other: bool = False) -> str:
    """The UPDATE of a PATCH shape; ``checked``: only if the stored change vector is the one
    the PATCH expects (else any stored version: no comparison per row); ``raw``: the values
    set are strings bound as they are (else their JSON texts); ``other``: the document is
    named by its id, not its row key (keys.where_one)."""
    body = "body"
    if n_set:
        body = f"json_set({body}{(', ?, ?' if raw else ', ?, json(?)') * n_set})"
    if n_unset:
        body = f"json_remove({body}{', ?' * n_unset})"
    return (f"UPDATE {table} SET body = {body}, cv = ?, modified = ? "
            f"WHERE {where_one(other)}{' AND cv = ?' if checked else ''}")


def _taken_ids(conn: sqlite3.Connection, collection: str, ids: list[str],
               written: set[int]) -> list[str]:
    """The ids given twice, or held by a stored document (not one of those the failed run
    itself wrote, the stored change vectors ``written``)."""
    taken = []
    seen: set[str] = set()
    for doc_id in ids:
        if doc_id in seen:
            taken.append(doc_id)
        seen.add(doc_id)
    for start in range(0, len(ids), 500):  # (in each 500 given, in id order)
        chunk = ids[start:start + 500]
        taken += sorted(r[0] for r in _by_ids(conn, collection, chunk, _ids_cvs_sql)
                        if r[1] not in written)
    return taken


def _targets(collection: str, ids: list[str]) -> tuple[list[Any], bool]:
    """What UPDATEs name the documents of ``ids`` by: their keys' texts when all have one
    (keys.key_texts), else the key of each (an int) or its id (a str) where it has none;
    and whether any is an id."""
    prefix = key_prefix(collection)
    texts = key_texts(ids, prefix)
    if texts is not None:
        return texts, False
    keys = [int_key(doc_id, prefix) for doc_id in ids]
    if None not in keys:
        return keys, False
    return [doc_id if key is None else key for doc_id, key in zip(ids, keys, strict=True)], True


def _by_kind(rows: Iterable[Sequence[Any]], others: bool,
             checked: bool) -> list[tuple[bool, Iterable[Sequence[Any]]]]:
    """``_patch_sql`` UPDATE rows as (other, rows): all by row key unless ``others``, else
    split by what names each row's document (its last argument, or the one before the
    change vector expected if ``checked``: a str is an id)."""
    if not others:
        return [(False, rows)]
    at = -2 if checked else -1
    listed = list(rows)
    out: list[tuple[bool, Iterable[Sequence[Any]]]] = []
    for other in (False, True):
        part = [row for row in listed if (type(row[at]) is str) is other]
        if part:
            out.append((other, part))
    return out


def _table(store: EmbeddedStore, conn: sqlite3.Connection, collection: str) -> str:
    store.spec(collection, conn)
    return collection_table(collection)


def _apply_one(conn: sqlite3.Connection, store: EmbeddedStore, keys: NewKeys,
               cmd: Put | Patch | Delete, etag: int, modified: str,
               recompute: Recomputer) -> dict[str, Any]:
    """One command taking ``etag``; the stored row is read first (by row key, or by id for
    an id of the other kind) and written by its key."""
    table = _table(store, conn, cmd.collection)
    row_key = int_key(cmd.id, key_prefix(cmd.collection))
    row = conn.execute(_stored_one_sql(table, row_key is None),
                       (cmd.id if row_key is None else row_key,)).fetchone()
    _check_expected(cmd, row, store)
    cv = store.change_vector(etag)
    if isinstance(cmd, Put):
        if row is None:
            conn.execute(_insert_sql(table), (keys.key(cmd.collection, cmd.id), cmd.id,
                                              values.dumps(cmd.body), etag, modified))
        else:
            conn.execute(f"UPDATE {table} SET body = ?, cv = ?, modified = ? WHERE k = ?",
                         (values.dumps(cmd.body), etag, modified, row[2]))
        return {"Type": "PUT", "@id": cmd.id, "@collection": cmd.collection,
                "@change-vector": cv, "@last-modified": modified}
    if isinstance(cmd, Patch):
        if not (cmd.set or cmd.unset or cmd.compute):
            # a version check only (FOR UPDATE's guard): as RavenDB, nothing is written
            return {"Id": cmd.id, "ChangeVector": store.change_vector(row[1]), "Type": "PATCH",
                    "PatchStatus": "NotModified"}
        body = values.loads(row[0])
        if cmd.compute:
            body = recompute(cmd, body)
        else:
            body.update(cmd.set)
        for key in cmd.unset:
            body.pop(key, None)
        conn.execute(f"UPDATE {table} SET body = ?, cv = ?, modified = ? WHERE k = ?",
                     (values.dumps(body), etag, modified, row[2]))
        return {"Id": cmd.id, "ChangeVector": cv, "LastModified": modified, "Type": "PATCH",
                "PatchStatus": "Patched"}
    deleted = row is not None
    if deleted:
        conn.execute(f"DELETE FROM {table} WHERE k = ?", (row[2],))
    return {"Id": cmd.id, "Type": "DELETE", "Deleted": deleted}


@lru_cache(maxsize=256)
def _stored_one_sql(table: str, other: bool) -> str:
    """The stored row (body, cv, k) of one document, by row key or (``other``) by id."""
    return f"SELECT body, cv, k FROM {table} WHERE {where_one(other)}"


def _check_absent(conn: sqlite3.Connection, store: EmbeddedStore, cmd: Absent,
                  overlay: dict[str, dict[str, Any]] | None) -> dict[str, Any]:
    """Inside the commit's write transaction: no stored document the batch does not write
    holds ``cmd.values`` in ``cmd.fields`` (the batch's own writes were checked by their
    statements), else the batch fails (IntegrityError) and nothing is applied."""
    if not store.has_collection(cmd.collection, conn):
        return {"Type": "Absent"}  # (dropped meanwhile: no row refers to anything)
    table = collection_table(cmd.collection)
    where = " AND ".join(f"{field_index_sql(f)} = ?" for f in cmd.fields)
    own = (overlay or {}).get(cmd.collection) or {}
    for (doc_id,) in conn.execute(f"SELECT id FROM {table} WHERE {where}", cmd.values):
        if doc_id not in own:
            raise IntegrityError(cmd.refusal(doc_id))
    return {"Type": "Absent"}


def _apply_compare_exchange(conn: sqlite3.Connection, cmd: CompareExchange,
                            etag: int) -> dict[str, Any]:
    row = conn.execute("""SELECT idx FROM "@cmpxchg" WHERE key = ?""", (cmd.key,)).fetchone()
    current = row[0] if row else 0
    if current != cmd.index:
        raise ConcurrencyError(
            f"Concurrency check failed for {'deleting' if cmd.delete else 'putting'} the key "
            f"'{cmd.key}'. Requested index: {cmd.index}, actual index: {current}", (cmd.key,)
        )
    if cmd.delete:
        conn.execute("""DELETE FROM "@cmpxchg" WHERE key = ?""", (cmd.key,))
        return {"Type": "CompareExchangeDELETE", "Key": cmd.key, "Index": etag}
    conn.execute(
        """INSERT INTO "@cmpxchg" (key, value, idx) VALUES (?, ?, ?) ON CONFLICT(key)
           DO UPDATE SET value = excluded.value, idx = excluded.idx""",
        (cmd.key, values.dumps({"Object": cmd.value}), etag),
    )
    return {"Type": "CompareExchangePUT", "Key": cmd.key, "Index": etag}


def _check_expected(cmd: Put | Patch | Delete, row: Any, store: EmbeddedStore) -> None:
    """That ``cmd`` may be applied to the stored row (body, change vector as stored, ...)
    or None."""
    must_exist = isinstance(cmd, Patch) or (isinstance(cmd, Delete) and cmd.must_exist)
    if row is None:
        if must_exist or (cmd.expected not in (None, "")):
            raise ConcurrencyError(
                f"document {cmd.id!r} was deleted by another transaction", (cmd.id,)
            )
        return
    if cmd.expected == "":
        raise DuplicateKeyError(f"document {cmd.id!r} already exists (duplicate primary key)")
    if cmd.expected is not None and cmd.expected != (found := store.change_vector(row[1])):
        raise ConcurrencyError(
            f"document {cmd.id!r} was changed by another transaction "
            f"(expected change vector {cmd.expected}, found {found})",
            (cmd.id,),
        )


def _raise_hilo(conn: sqlite3.Connection, explicit: dict[str, int]) -> None:
    """In the commit's transaction: each tag's stored HiLo state raised to the largest
    explicit id the batch wrote under it, so another process's next range starts above it
    (SQLite gives a new row max(rowid) + 1); a state already above it stays."""
    for tag, used in explicit.items():
        conn.execute(
            """INSERT INTO "@hilo" (tag, max, last_range_at, last_size) VALUES (?, ?, NULL, 0)
               ON CONFLICT(tag) DO UPDATE SET max = max(max, excluded.max)""", (tag, used))


# ------------------------------------------------------------------------ result rows

def _notes(pending: PendingBatch | None) -> bool:
    """Whether a query reads each document's id and change vector beside its body and notes
    the documents in the transaction (PendingBatch.note_read): when something will use them
    (``PendingBatch.note_reads``: a session's change vectors, SELECT ... FOR UPDATE's
    guards) or the transaction has written (it may well write what it reads: an UPDATE by
    key then takes the body read, and a query of its pending documents finds them by id,
    ``_run_aside``). Otherwise the bodies alone: a later write by key loads its document."""
    return pending is not None and (pending.note_reads or bool(pending))


#: rows read from SQLite and shaped at a time: SQLite's tuples (and the documents parsed from
#: them) die with their chunk, so a large result leaves about one object per row alive (its
#: result tuple), as reading sqlite3 directly does, and the garbage collector (which counts
#: objects allocated and not yet freed) runs about as often. 1,000 rather than 100: a tenth
#: of the calls per row (fetchmany, the parse, the picking, noting the reads), the same parse
#: speed (a chunk's texts, some 100 kB, stay in the CPU's cache)
_SHAPE_CHUNK = 1000


def _chunks(plan: SqlPlan, cursor: sqlite3.Cursor, reader: sqlite3.Connection,
            size: int, store: EmbeddedStore) -> Iterator[list[tuple[Any, ...]]]:
    """Result tuples ``size`` rows at a time; the reader closes when they run out or the
    consumer stops (``close()`` of the generator)."""
    try:
        while True:
            chunk: list[tuple[Any, ...]] = []
            with store_errors(f"reading the rows of {plan.sql}"):
                while len(chunk) < size and (
                        rows := cursor.fetchmany(min(_SHAPE_CHUNK, size - len(chunk)))):
                    chunk += build_rows(plan, rows, None, store)
            if not chunk:
                return
            yield chunk
    finally:
        reader.close()


#: rows from which a chunk is shaped a column at a time (fewer: a row at a time, which costs
#: less per call)
_COLUMNS_FROM = 8


def build_rows(plan: SqlPlan, rows: list[tuple[Any, ...]],
               pending: PendingBatch | None, store: EmbeddedStore) -> list[tuple[Any, ...]]:
    """Result tuples; the stored documents read are noted in ``pending`` (see
    PendingBatch.note_read), their change vectors as ``store`` gives them
    (``EmbeddedStore.change_vector``). A chunk is shaped a column at a time (each document
    slot's texts parsed in one call); if that fails anywhere, a row at a time
    (``_rows_each``), which raises the error of the first failing row, as a chunk of a few
    rows is."""
    columns = plan.columns
    if not rows:
        return []
    kinds = {c.kind for c in columns}
    if kinds == {"field"} and len(plan.documents) == 1:
        return _field_rows(plan, rows, pending, store)
    if kinds == {"value"}:
        return rows
    if len(rows) < _COLUMNS_FROM:
        return _rows_each(plan, rows, pending, store)
    try:
        texts = {slot: list(map(itemgetter(slot), rows)) for slot, _, _ in plan.documents}
        docs = {slot: values.loads_each(slot_texts) for slot, slot_texts in texts.items()}
        out = list(zip(*[_column(c, rows, docs) for c in columns], strict=True))
    except Exception:  # (the same error again, from the row it is in)
        return _rows_each(plan, rows, pending, store)
    if len(out) != len(rows):  # (no columns: zip gives no rows)
        return _rows_each(plan, rows, pending, store)
    if pending is not None:
        for slot, id_slot, cv_slot in plan.documents:
            pending.note_read(tuple(map(itemgetter(id_slot), rows)), tuple(texts[slot]),
                              _StoredCvs(store, tuple(map(itemgetter(cv_slot), rows))))
    return out


def _column(col: OutColumn, rows: list[tuple[Any, ...]],
            docs: dict[int, list[Any]]) -> list[Any]:
    """The values of one result column for every row of a chunk (``_getter``'s, a column at
    a time)."""
    if col.kind == "field":
        slot_docs = docs[col.slot]
        try:
            return list(map(itemgetter(col.name), slot_docs))
        except (KeyError, TypeError):  # a field a document lacks, or no document: None
            name = col.name
            return [None if doc is None else doc.get(name) for doc in slot_docs]
    if col.kind == "doc":
        return docs[col.slot]
    if col.kind == "json":
        return list(map(_json_value, map(itemgetter(col.slot), rows)))
    return list(map(itemgetter(col.slot), rows))


def _rows_each(plan: SqlPlan, rows: list[tuple[Any, ...]],
               pending: PendingBatch | None, store: EmbeddedStore) -> list[tuple[Any, ...]]:
    """``build_rows`` a row at a time; documents read are remembered in ``pending.seen``
    (id -> (body, cv))."""
    seen = pending.seen if pending is not None else None
    loads = values.loads
    getters = [_getter(c) for c in plan.columns]
    result = []
    for row in rows:
        docs = {}
        for slot, id_slot, cv_slot in plan.documents:
            text = row[slot]
            docs[slot] = doc = None if text is None else loads(text)
            if seen is not None and doc is not None and row[cv_slot]:
                seen[row[id_slot]] = (doc, store.change_vector(row[cv_slot]))
        result.append(tuple([g(row, docs) for g in getters]))
    return result


def _field_rows(plan: SqlPlan, rows: list[tuple[Any, ...]],
                pending: PendingBatch | None, store: EmbeddedStore) -> list[tuple[Any, ...]]:
    """Rows of fields of one document each. The documents read are noted in ``pending`` (see
    PendingBatch.note_read) as their JSON texts, so the parsed bodies die young; in a
    transaction that has written, which may well write what it reads (an UPDATE by key
    takes the body read), as the parsed bodies when none of them holds an object or array
    (a body the garbage collector does not track: nothing in it is shared with the rows
    given out, which a caller may change). In tuples, which the garbage collector stops
    tracking on its first pass (lists of the same strings would be traversed again by every
    collection of their generation)."""
    slot, id_slot, cv_slot = plan.documents[0]
    names = tuple(c.name for c in plan.columns)
    texts = list(map(itemgetter(slot), rows))
    if not pending and rows:  # (no parsed body to keep: picked as parsed, no dict kept)
        out = values.picked_all(texts, names)
        if out is not None:
            if pending is not None:
                pending.note_read(tuple(map(itemgetter(id_slot), rows)), tuple(texts),
                                  _StoredCvs(store, tuple(map(itemgetter(cv_slot), rows))))
            return out
    docs = values.loads_all(texts) if rows else None
    out = _picked(names, docs) if rows else []
    if out is None:
        out = _picked_each(names, texts)
    if pending is not None and rows:
        kept: list[Any] = texts
        if pending and docs is not None and not any(map(gc.is_tracked, docs)):
            kept = docs  # (parsed once: each a dict of plain values, in no row given out)
        # stored documents only, not pending ones (no change vector; see rows_for_write)
        pending.note_read(tuple(map(itemgetter(id_slot), rows)), tuple(kept),
                          _StoredCvs(store, tuple(map(itemgetter(cv_slot), rows))))
    return out


def _picked(names: tuple[str, ...], docs: list[Any] | None) -> list[tuple[Any, ...]] | None:
    """The fields ``names`` of every document, by C loops (``map``); None where that can't
    be (no documents parsed, one lacks a field or is no object): ``_picked_each``."""
    if docs is None:
        return None
    pick = itemgetter(*names)
    try:
        if len(names) == 1:
            return list(zip(map(pick, docs)))
        result: list[tuple[Any, ...]] = list(map(pick, docs))
    except (KeyError, TypeError):
        return None
    return result


def _picked_each(names: tuple[str, ...], texts: list[str | None]) -> list[tuple[Any, ...]]:
    """``_picked`` a document at a time: a missing field (or document) reads as None."""
    pick = itemgetter(*names)
    single = len(names) == 1
    empty = (None,) * len(names)
    loads = values.loads
    out: list[tuple[Any, ...]] = []
    append = out.append
    for text in texts:
        if text is None:
            append(empty)
            continue
        doc = loads(text)
        try:
            append((pick(doc),) if single else pick(doc))
        except (KeyError, TypeError):  # a field the document lacks (or no object): None
            append(tuple([doc.get(n) for n in names]))
    return out


def _getter(col: OutColumn) -> Any:
    slot, name = col.slot, col.name
    if col.kind == "field":
        return lambda row, docs: None if docs[slot] is None else docs[slot].get(name)
    if col.kind == "doc":
        return lambda row, docs: docs[slot]
    if col.kind == "json":
        return lambda row, docs: _json_value(row[slot])
    return lambda row, docs: row[slot]


def _json_value(text: str | None) -> Any:
    """A value SQLite computed as JSON text (NULL: a missing JSON element). SQLite writes a
    number beyond a double's range as ``Inf``, which is no JSON: that value can't be given back
    exactly."""
    if text is None or type(text) is not str:  # (a number: SQLite's value of a JSON column)
        return text
    try:
        return values.loads(text)
    except ValueError as exc:
        raise DataError(f"a stored value can't be read back exactly (SQLite gave {text[:40]!r})"
                        ) from exc


@store_errors("copying pending writes to the overlay")
def _with_pending(rows: list[tuple[Any, ...]], document: tuple[int, int, int],
                  docs: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Stored rows with the body of each document ``docs`` holds (the pending states) in
    place of the stored one, as its JSON text, and no change vector (``_run_aside``)."""
    body_slot, id_slot, cv_slot = document
    ids = list(map(itemgetter(id_slot), rows))
    if docs.keys().isdisjoint(ids):
        return rows
    states: list[Any] = list(map(docs.get, ids))
    out = list(rows)
    # (the rows of pending documents, found in C loops: the others are most of them)
    for n in itertools.compress(range(len(ids)), map(is_not, states, itertools.repeat(None))):
        cells = list(rows[n])
        cells[body_slot] = values.dumps(body_of(states[n]))
        cells[cv_slot] = None
        out[n] = tuple(cells)
    return out


# ----------------------------------------------------------------------- tree helpers

def _arrays(prep: Prepared, params: dict[str, Any]) -> frozenset[str]:
    """The lone IN parameters given a whole array (a plan is made for each such shape)."""
    if not prep.single_in:
        return frozenset()
    return frozenset(name for name in prep.single_in
                     if isinstance(params.get(name), (list, tuple)))
