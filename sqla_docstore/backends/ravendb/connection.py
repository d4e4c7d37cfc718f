"""A connection to a RavenDB database over HTTP, with the same contract as the embedded one.

Loads are ``GET /docs``, commits one ``POST /bulk_docs``, HiLo ranges ``/hilo/next``. A query
RavenDB answers exactly as SQL would (see rql.py) is sent as RQL; anything else (joins,
aggregates, LIKE, string ordering, or a transaction's pending writes to overlay) runs on the
client: the needed documents are fetched (with the exactly-answerable filters pushed down)
into a private in-memory embedded store, where the statement runs with the pending batch
overlaid. Collection schemas live in documents of the ``SqlaDocstoreSchemas`` collection.

The fields a write has put a value of the other kind into (a string into an INTEGER, REAL or
NUMERIC field, a number into a date field), which RavenDB's ranges do not match (see rql.py),
are recorded in one document, ``MIXED_ID``, by lower-cased collection name: a batch storing
such a value for the first time patches it (in the same batch when it is a single-node one,
so a committed value is never unrecorded; just before a cluster-wide one, which takes no
PATCH: a failed batch then leaves a harmless mark). Each transaction reads it with the
catalog (one conditional GET of both documents).
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any

from ... import errors, values
from ...commands import Absent, Batch, CompareExchange, Delete, Patch, Put, Recompute
from ...inference import SAMPLE_SIZE, infer_spec
from ...pending import PendingBatch, split_pending
from ...schema import CollectionSpec, plain_fields
from ...statements import ast
from ...statements.prepared import prepared
from ..alter import plan_alter
from ..base import Document
from ..embedded.connection import EmbeddedConnection
from ..embedded.hilo import RAISES_UP_TO
from ..embedded.store import EmbeddedStore, NewKeys, collection_table, transaction
from .cluster_batch import (
    cluster_commands,
    needs_cluster,
    unique_keys,
    unique_value_text,
)
from .errors import MISSING_MARKER
from .http import Cluster, HttpSession, OutcomeUnknownError
from .http import decode_reply as http_decode
from .patch_script import (
    json_patch,
    numbers_only,
    patch_json,
    refuse_inexact,
    split_script_values,
    translatable,
)
from .replies import Reply, located
from .rql import (
    NUMBER_TYPES,
    RqlQuery,
    other_kind_fields,
    pushdown,
    quote_collection,
    translate,
)

_log = logging.getLogger(__name__)

SCHEMA_COLLECTION = "SqlaDocstoreSchemas"
#: One document every schema change rewrites, in the change's own batch: its change vector is
#: the catalog's version, which each transaction checks once (a conditional GET, mostly 304).
CATALOG_COLLECTION = "SqlaDocstoreCatalog"
CATALOG_ID = "sqla_docstore/catalog"
#: lower-cased collection name -> the fields its writes put a value of the other kind into
#: (monotone, until the collection is dropped); read with the catalog
MIXED_ID = "sqla_docstore/mixed_fields"
_UNREAD = "?"
#: how long a query after this connection's own write waits for the indexes (RavenDB's
#: WaitForNonStaleResultsTimeout, a C# TimeSpan)
_NON_STALE_TIMEOUT = "00:00:15"
_PAGE = 1024
_RESULTS_OPEN = re.compile(rb'\{\s*"Results"\s*:\s*\[')
_META_KEYS = ("@id", "@change-vector", "@last-modified", "@flags", "@index-score",
              "@projection", "@nested-object-types")


def schema_id(collection: str) -> str:
    return f"sqla_docstore/collections/{collection}"


class RavenConnection:
    """inherits the docstring from backends.base.BackendConnection"""

    def __init__(self, cluster: Cluster, *, budget: Callable[[str], None] | None = None,
                 json_serializer: Callable[[Any], str] | None = None) -> None:
        self.cluster = cluster
        self.http = HttpSession(cluster)
        self.counts: Counter[str] = Counter()
        # Shared by the engine's connections, so one connection's DDL is seen by the others.
        self._specs: dict[str, CollectionSpec] = cluster.specs
        self._scratch = EmbeddedConnection(EmbeddedStore(None), json_serializer=json_serializer)
        self._scratch_specs: dict[str, CollectionSpec] = {}
        self.before_request = budget
        self._prepared: Batch | None = None
        self._catalog_fresh = False  # the catalog was checked in this transaction
        #: the largest explicit integer id this transaction wrote per HiLo tag above what the
        #: server reserved for this process: after the commit, the server's HiLo state is
        #: raised above it (``_raise_hilo``)
        self._explicit_ids: dict[str, int] = {}
        self._epoch = 0  # moved by each transaction (see schema_token)
        #: collections this connection wrote whose indexes have not answered non-stale since
        self._unindexed: set[str] = set()
        #: the version of each schema record this transaction read rows by (lower-cased
        #: name -> change vector; None: no record): its commit expects it unchanged
        self._used_versions: dict[str, str | None] = {}
        cluster.connection_opened()

    def _count(self, kind: str) -> None:
        if self.before_request is not None:
            self.before_request(kind)
        self.counts[kind] += 1

    # -- schemas ---------------------------------------------------------------------------
    def end_transaction(self) -> None:
        self._explicit_ids.clear()
        self._catalog_fresh = False
        self._epoch += 1
        self._used_versions.clear()

    def schema_token(self) -> object | None:
        """(this connection's transaction epoch, the engine's schema version) once the
        catalog was checked in this transaction: the version moves with every change of the
        schemas the engine's connections share (a connection's DDL, a catalog check that
        found another client's change, a schema read or inferred anew, a mapping assumed),
        the epoch with each transaction."""
        if not self._catalog_fresh:
            return None
        return (self._epoch, self.cluster.schema_version)

    def _schemas_moved(self) -> None:
        """The cached schemas changed (see schema_token)."""
        with self.cluster.lock:
            self.cluster.schema_version += 1

    def _check_catalog(self) -> None:
        """Once per transaction: if another client changed a schema, forget the cached ones
        (and this engine's HiLo ranges: a collection may have started its ids over)."""
        if self._catalog_fresh:
            return
        cv, mixed = self._catalog_version()
        cluster = self.cluster
        with cluster.lock:
            if mixed != cluster.mixed:
                cluster.mixed = mixed
                cluster.schema_version += 1
            changed = cv != cluster.catalog_cv
            if changed:
                self._specs.clear()
                cluster.spec_versions.clear()
                cluster.inferred.clear()
                cluster.unrecorded.clear()
                cluster.catalog_cv = cv
                cluster.schema_version += 1
        if changed:
            cluster.hilo.forget_all()
        self._catalog_fresh = True

    def _catalog_version(self) -> tuple[str | None, dict[str, frozenset[str]]]:
        """The catalog's change vector (None: no schema change yet) and the recorded fields
        holding values of the other kind (``MIXED_ID``), with one conditional GET of both."""
        # Not counted in ``counts``: the check is the client's own upkeep, as topology
        # requests are, and stays out of a session's request budget.
        resp = self.http.request("GET", "docs", params=[("id", CATALOG_ID), ("id", MIXED_ID)],
                                 read=True, cacheable=True)
        if resp.status == 404:
            return None, {}
        reply = resp.reply("catalog load")
        results = reply.field(reply.object(), "Results", list)
        doc = results[0] if results else None
        mixed = _recorded_fields(reply, results[1] if len(results) > 1 else None)
        if doc is None:
            return None, mixed  # no schema change yet
        meta = doc.get("@metadata") if isinstance(doc, dict) else None
        cv = meta.get("@change-vector") if isinstance(meta, dict) else None
        if not isinstance(cv, str):
            raise reply.bad("the catalog document has no change vector")
        return cv, mixed

    def mixed_of(self, collection: str) -> frozenset[str]:
        """The fields of a collection a write put a value of the other kind into (a string
        into a numeric field, a number into a date field), as of this transaction's catalog
        check."""
        return self.cluster.mixed.get(collection.lower(), frozenset())

    def spec(self, collection: str) -> CollectionSpec:
        self._check_catalog()
        spec = self._specs.get(collection)
        if spec is None:
            try:
                spec = self._read_spec(collection)
            finally:
                self._schemas_moved()
        folded = collection.lower()
        if folded not in self._used_versions:
            self._used_versions[folded] = self.cluster.spec_versions.get(folded)
        return spec

    def _read_spec(self, collection: str) -> CollectionSpec:
        """A schema not cached yet: its record, else the one assumed or inferred."""
        cluster = self.cluster
        if collection not in cluster.unrecorded:
            spec = self._schema_record(collection)
            if spec is not None:
                self._specs[collection] = spec
                return spec
            cluster.unrecorded.add(collection)
        spec = cluster.assumed.get(collection) or cluster.inferred.get(collection)
        if spec is None:
            spec = cluster.inferred[collection] = self._inferred(collection)
        return spec

    def _schema_record(self, collection: str) -> CollectionSpec | None:
        """The schema CREATE COLLECTION recorded, or None."""
        self._count("schema")
        resp = self.http.request("GET", "docs", params=[("id", schema_id(collection))],
                                 read=True)
        if resp.status == 404:
            return None
        reply = resp.reply("schema load")
        results = reply.objects(reply.object(), "Results")
        if not results:
            raise reply.bad("'Results' is empty")
        spec_json = reply.field(results[0], "spec", dict)
        try:
            spec = CollectionSpec.from_json(collection, spec_json)
        except errors.ProgrammingError as exc:
            raise reply.bad(str(exc)) from exc
        meta = results[0].get("@metadata")
        cv = meta.get("@change-vector") if isinstance(meta, dict) else None
        if isinstance(cv, str):
            self.cluster.spec_versions[collection.lower()] = cv
        return spec

    def _inferred(self, collection: str) -> CollectionSpec:
        """The schema of a collection other clients wrote, from a sample of its documents;
        OperationalError if it has none (RavenDB has no empty collections)."""
        rql = RqlQuery(f"from {quote_collection(collection)} limit $skip, $take")
        docs = self._query(rql, {}, "schema", page=False,
                           args={"skip": 0, "take": SAMPLE_SIZE})
        if not docs:
            raise errors.OperationalError(f"no such collection: {collection}")
        return infer_spec(collection, ({k: v for k, v in d.items() if k != "@metadata"}
                                       for d in docs))

    def exists(self, collection: str) -> bool:
        self._check_catalog()
        if collection in self._specs or collection in self.cluster.inferred:
            return True
        try:
            return self._read_exists(collection)
        finally:
            self._schemas_moved()

    def _read_exists(self, collection: str) -> bool:
        spec = self._schema_record(collection)
        if spec is not None:
            self._specs[collection] = spec
            return True
        self.cluster.unrecorded.add(collection)
        try:
            self.cluster.inferred[collection] = self._inferred(collection)
        except errors.OperationalError:
            return False
        return True

    def assume(self, spec: CollectionSpec) -> None:
        # Nothing is written: a collection comes with its first document, and its schema
        # record only with CREATE COLLECTION (create_all), as for other processes to read.
        if self.cluster.assumed.get(spec.name) is not spec:
            self.cluster.assumed[spec.name] = spec
            self._schemas_moved()

    def collection_names(self) -> list[str]:
        body = self._query(RqlQuery(f"from '{SCHEMA_COLLECTION}'"), {}, "schema")
        names = [d.get("name") for d in body]
        if not all(isinstance(n, str) for n in names):
            raise errors.OperationalError(
                f"RavenDB sent a {SCHEMA_COLLECTION} document without a string 'name'")
        declared = {str(n) for n in names}
        folded = {n.lower() for n in declared}
        stored = [n for n in self._collection_stats()
                  if n.lower() not in folded and not _internal_collection(n)]
        return sorted(declared | set(stored))

    def _collection_stats(self) -> list[str]:
        """The names of the database's collections, as RavenDB's collection statistics list
        them (every collection that holds a document)."""
        self._count("schema")
        resp = self.http.request("GET", "collections/stats", read=True)
        reply = resp.reply("collection statistics")
        collections = reply.field(reply.object(), "Collections", dict)
        return [str(name) for name in collections]

    # -- reads -----------------------------------------------------------------------------
    def get_documents(self, collection: str, ids: list[str],
                      pending: PendingBatch | None) -> dict[str, Document]:
        found, missing, as_stored = split_pending(pending, collection, ids)
        if as_stored and not missing:
            self._count("load")  # what a real commit would have sent to the store
        if missing:
            self._count("load")
            spec = self.spec(collection)
            # Results are positional; keyed by the id asked for, since RavenDB finds ids
            # case-insensitively and answers with the stored spelling ("Tags/Go" for "tags/Go")
            for wanted, doc in zip(missing, self._load(missing), strict=False):  # 404: []
                if doc is not None:
                    doc_id, body, cv = _split(doc, spec)
                    found[wanted] = (doc_id, body, cv)
                    if pending is not None:
                        pending.seen[wanted] = (body, cv)
        return found

    def get_document(self, spec: CollectionSpec, doc_id: str,
                     pending: PendingBatch | None, key: int | None = None) -> Document | None:
        return self.get_documents(spec.name, [doc_id], pending).get(doc_id)

    def _load(self, ids: list[str]) -> list[Any]:
        if sum(len(i) for i in ids) < 1024:
            resp = self.http.request("GET", "docs", params=[("id", i) for i in ids],
                                     read=True, cacheable=True)
        else:  # long id lists go in the body, as the official client does
            resp = self.http.request("POST", "docs", body={"Ids": ids}, read=True)
        if resp.status == 404:
            return []
        reply = resp.reply("load")
        results = reply.field(reply.object(), "Results", list)
        return [None if r is None else reply.expect(r, dict, "an item of 'Results'")
                for r in results]

    def _query(self, rql: RqlQuery, params: dict[str, Any], kind: str = "query",
               page: bool = True, args: dict[str, Any] | None = None,
               collection: str | None = None) -> list[dict[str, Any]]:
        """All results of an RQL query (paged), or the raw reply for a count."""
        args = {**{name: _rql_value(k, v, params) for name, (k, v) in rql.binds.items()},
                **(args or {})}
        results: list[dict[str, Any]] = []
        start = 0
        while True:
            text = rql.text + (" limit $page_skip, $page_take" if page else "")
            query_params = dict(args, page_skip=start, page_take=_PAGE) if page else args
            self._count(kind)
            reply = self._post_query(text, query_params, collection)
            batch = reply.objects(reply.object(), "Results")
            results += batch
            if not page or len(batch) < _PAGE:
                return results
            start += _PAGE

    def _post_query(self, text: str, query_params: dict[str, Any],
                    collection: str | None) -> Reply:
        """POST /queries; after this connection wrote to ``collection``, waiting for the
        results to be non-stale (cleared once a reply is)."""
        body = self._query_body(text, query_params, collection)
        wait = "WaitForNonStaleResults" in body
        reply = self.http.request("POST", "queries", body=body, read=True,
                                  cacheable=not wait).reply("query")
        if wait and reply.optional(reply.object(), "IsStale", bool, False) is False:
            self._unindexed.discard(collection)
        return reply

    def _query_body(self, text: str, query_params: dict[str, Any],
                    collection: str | None) -> dict[str, Any]:
        """A query's JSON body: after this connection wrote to ``collection``, asking for
        non-stale results (RavenDB indexes a batch after applying it)."""
        body: dict[str, Any] = {"Query": text, "QueryParameters": query_params}
        if collection is not None and collection in self._unindexed:
            body["WaitForNonStaleResults"] = True
            body["WaitForNonStaleResultsTimeout"] = _NON_STALE_TIMEOUT
        return body

    def query(self, stmt: ast.SelectLike, params: dict[str, Any],
              pending: PendingBatch | None) -> tuple[list[str], list[tuple[Any, ...]]]:
        colls = prepared(stmt).tables
        overlaid = pending is not None and any(pending.touches(c) for c in colls)
        planned = None if overlaid else translate(stmt, self.spec, params, self.mixed_of)
        if planned is not None:
            return self._server_query(stmt, planned, params, pending)
        return self._client_query(stmt, params, pending, colls)

    def _server_query(self, stmt: ast.SelectLike, planned: Any, params: dict[str, Any],
                      pending: PendingBatch | None) -> tuple[list[str], list[tuple[Any, ...]]]:
        rql, projection, is_count = planned
        assert isinstance(stmt, ast.Select) and isinstance(stmt.from_[0], ast.TableRef)
        spec = self.spec(stmt.from_[0].name)
        args = {name: _rql_value(k, v, params) for name, (k, v) in rql.binds.items()}
        self._count("query")
        reply = self._post_query(rql.text, args, spec.name)
        body = reply.object()
        if is_count:
            label = stmt.columns[0].alias or "count"
            return [label], [(reply.optional(body, "TotalResults", int, 0),)]
        rows = []
        for doc in reply.objects(body, "Results"):
            doc_id, fields, cv = _split(doc, spec)
            if pending is not None:
                pending.seen[doc_id] = (fields, cv)
            rows.append(tuple(fields.get(name) for _, name in projection))
        return [label for label, _ in projection], rows

    def _client_query(self, stmt: ast.SelectLike, params: dict[str, Any],
                      pending: PendingBatch | None,
                      colls: tuple[str, ...]) -> tuple[list[str], list[tuple[Any, ...]]]:
        single = len(colls) == 1 and _single_source(stmt)
        for collection in colls:
            where = stmt.where if single and isinstance(stmt, ast.Select) else None
            ref = stmt.from_[0].ref if single else collection  # type: ignore[union-attr]
            self._fill_scratch(collection, pushdown(where, self.spec(collection), ref, params,
                                                    self.mixed_of(collection)), params)
        return self._scratch.query(stmt, params, pending)

    def _fill_scratch(self, collection: str, rql: RqlQuery, params: dict[str, Any]) -> None:
        spec = self.spec(collection)
        store = self._scratch.store
        if self._scratch_specs.get(collection) is not spec:
            # RavenDB's names ignore case: a copy under another case is another table's
            # (a collection dropped on the server, then another created as "employee")
            for copied in [n for n in self._scratch_specs if n.lower() == collection.lower()]:
                store.drop_collection(self._scratch._conn, copied)
                del self._scratch_specs[copied]
            store.create_collection(self._scratch._conn, replace(spec, unique=(), indexes={},
                                                               checks=()))
            self._scratch_specs[collection] = spec
        conn = self._scratch._conn
        insert = (f"INSERT OR REPLACE INTO {collection_table(collection)} "
                  "(k, id, body, cv, modified) VALUES (?, ?, ?, ?, ?)")
        with store.lock, transaction(conn):
            conn.execute(f"DELETE FROM {collection_table(collection)}")
            keys = NewKeys(conn)
            for chunk in self._stream(rql, params, collection):
                rows = []
                for doc in chunk:
                    doc_id, body, cv = _split(doc, spec)
                    rows.append((doc_id, values.dumps(body), cv or "", ""))
                row_keys = keys.keys(collection, [row[0] for row in rows])
                conn.executemany(insert, [(k, *row) for k, row in zip(row_keys, rows,
                                                                      strict=True)])

    def _stream(self, rql: RqlQuery, params: dict[str, Any],
                collection: str) -> Iterator[list[dict[str, Any]]]:
        """The documents of a query for client-side evaluation, in chunks as they arrive:
        one streaming request (RavenDB's ``/streams/queries``, counted once), never more than
        ``max_client_side_documents`` (the local copy is bounded; a query that needs more
        fails, naming the limit, rather than exhaust memory)."""
        args = {name: _rql_value(k, v, params) for name, (k, v) in rql.binds.items()}
        self._count("query")
        lines = self.http.stream("streams/queries", self._query_body(rql.text, args, collection))
        limit = self.cluster.max_client_side_documents
        chunk: list[dict[str, Any]] = []
        count = 0
        for line in lines:
            if not isinstance(line, dict):
                raise errors.OperationalError(f"RavenDB sent a stream line that is not an "
                                              f"object: {str(line)[:200]}")
            stats = line.get("Stats")
            if isinstance(stats, dict):
                if stats.get("IsStale") is False:
                    self._unindexed.discard(collection)
                continue
            doc = line.get("Item", line)
            if not isinstance(doc, dict):
                raise errors.OperationalError("RavenDB sent a stream item that is not a "
                                              f"document: {str(doc)[:200]}")
            count += 1
            if count > limit:
                close = getattr(lines, "close", None)
                if close is not None:
                    close()
                raise errors.NotSupportedError(
                    f"this statement needs client-side evaluation over more than {limit} "
                    f"documents of {collection} (max_client_side_documents): add a filter "
                    "RavenDB can answer exactly (see rql.py), or raise the limit")
            chunk.append(doc)
            if len(chunk) >= 1000:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def rows_for_write(self, table: str, alias: str | None, where: ast.Expr | None,
                       exprs: tuple[ast.Expr, ...], params: dict[str, Any],
                       pending: PendingBatch | None) -> list[tuple[Any, ...]]:
        colls = {table, *prepared(where).tables}
        for collection in colls | set(prepared(exprs).tables):  # SET subqueries read them too
            own = collection == table and len(colls) == 1
            rql = pushdown(where if own else None, self.spec(collection),
                           alias or table if own else collection, params,
                           self.mixed_of(collection))
            self._fill_scratch(collection, rql, params)
        return self._scratch.rows_for_write(table, alias, where, exprs, params, pending)

    def evaluate(self, exprs: tuple[ast.Expr, ...], params: dict[str, Any],
                 pending: PendingBatch | None = None) -> tuple[Any, ...]:
        for collection in prepared(exprs).tables:  # subqueries read what is stored now
            self._fill_scratch(collection,
                               pushdown(None, self.spec(collection), collection, params),
                               params)
        return self._scratch.evaluate(exprs, params, pending)

    @staticmethod
    def unique_value_key(values: tuple[Any, ...]) -> str:
        """When two documents' values of a unique constraint are one value (the text of the
        compare-exchange key they reserve at commit; see dbapi.unique_check)."""
        return unique_value_text(values)

    def can_recompute(self, spec: CollectionSpec, compute: tuple[Recompute, ...]) -> bool:
        # A cluster-wide batch (unique constraints) takes no PATCH: guarded PUTs there.
        return not spec.unique_sets and translatable(spec, compute)

    def check_recompute(self, spec: CollectionSpec, compute: tuple[Recompute, ...],
                        body: dict[str, Any], args: dict[str, Any]) -> bool:
        """False for a document the commit's patch script would refuse for a value that is
        no number (a text SQL's affinity kept in a numeric column): SQL's answer is written
        instead, guarded. DataError now for one it would refuse otherwise (a wide number)."""
        if not numbers_only(compute, body, args):
            return False
        refuse_inexact(spec, compute, body, args)
        return True

    # -- writes ----------------------------------------------------------------------------
    def submit(self, batch: Batch, *, results: bool = True) -> list[dict[str, Any]]:
        if not batch.commands:
            return []
        params = None
        batch = self._checked_absent(batch)
        schemas = self._schema_guards(batch)
        mixed = self._new_mixed(batch)
        try:
            if needs_cluster(batch, self.spec):
                batch, metadata = self._checked_guards(batch, schemas)
                if mixed:  # (a cluster-wide batch takes no PATCH: recorded just before)
                    self._count("batch")
                    self._write([_mixed_patch(mixed)])
                commands = cluster_commands(batch, self.spec, self.get_compare_exchange_values,
                                            self._current_unique_keys, self._existing_ids,
                                            metadata)
                body: dict[str, Any] = {"Commands": commands, "TransactionMode": "ClusterWide"}
                params = {"disableAtomicDocumentWrites": str(not batch.atomic_guards).lower()}
                deduplicated = True
            else:
                body = {"Commands": _commands_json([*batch.commands, *schemas], self.spec)}
                if mixed:
                    body["Commands"].append(_mixed_patch(mixed))
                deduplicated = False
            self._count("batch")
            resp = self.http.request("POST", "bulk_docs", params=params, body=body,
                                     idempotent=False, deduplicated=deduplicated,
                                     parse=results)
        except errors.ConcurrencyError as exc:
            self._refuse_changed_schemas(schemas, exc)
            raise
        try:
            if results:
                reply = resp.reply("batch")
                out = reply.field(reply.object(), "Results", list)
            else:  # nobody reads the per-document results: not parsed (10,000 objects)
                _check_batch_reply(resp)
                out = []
        except errors.OperationalError as exc:
            # The server said it applied the batch: no plain failure (a retry applies it
            # twice), even if its reply can't be read.
            if not 200 <= resp.status < 300:
                raise
            raise located(OutcomeUnknownError(
                f"{exc}; the server answered HTTP {resp.status}, so the batch was most likely "
                "applied: check the data before retrying"), exc.status, exc.url) from exc
        # Read your writes: queries of these collections wait for non-stale results until
        # the indexes have caught up (RavenDB indexes documents after the batch is applied).
        self._unindexed.update({c.collection for c in batch.commands
                                if isinstance(c, (Put, Patch, Delete))})
        if mixed:
            self._recorded(mixed)
        if self._explicit_ids:
            self._raise_hilo()
        return out

    def _new_mixed(self, batch: Batch) -> dict[str, frozenset[str]]:
        """The fields the batch puts a value of the other kind into that are not recorded
        yet, by lower-cased collection name (see the module docstring)."""
        fields: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}  # numeric, dates
        found: dict[str, set[str]] = {}
        for cmd in batch.commands:
            if type(cmd) is Put:
                written = cmd.body
            elif type(cmd) is Patch:
                written = cmd.set
            else:
                continue
            name = cmd.collection
            checks = fields.get(name)
            if checks is None:
                checks = fields[name] = ((), ()) if _internal_collection(name) else (
                    self._unrecorded(name))
            numeric, dates = checks  # (plain loops: this runs per document of a bulk insert)
            hit = False
            for f in numeric:
                if type(written.get(f)) is str:
                    found.setdefault(name.lower(), set()).add(f)
                    hit = True
            for f in dates:
                if type(written.get(f)) in NUMBER_TYPES:
                    found.setdefault(name.lower(), set()).add(f)
                    hit = True
            if hit:  # (found ones are not looked for again)
                done = found[name.lower()]
                fields[name] = (tuple(f for f in numeric if f not in done),
                                tuple(f for f in dates if f not in done))
        return {name: frozenset(fields) for name, fields in found.items()}

    def _unrecorded(self, collection: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The collection's numeric and date fields not recorded as holding values of the
        other kind."""
        known = self.mixed_of(collection)
        numeric, dates = other_kind_fields(self.spec(collection))
        return (tuple(sorted(numeric - known)), tuple(sorted(dates - known)))

    def _recorded(self, mixed: dict[str, frozenset[str]]) -> None:
        """Recorded fields this connection wrote: known to the engine at once."""
        cluster = self.cluster
        with cluster.lock:
            merged = dict(cluster.mixed)
            for name, fields in mixed.items():
                merged[name] = merged.get(name, frozenset()) | fields
            cluster.mixed = merged
            cluster.schema_version += 1

    def _checked_absent(self, batch: Batch) -> Batch:
        """The batch without its ``Absent`` checks (foreign keys' referring rows), made
        first: one query each, waiting for RavenDB's indexes to be non-stale (a reference
        committed just now counts). RavenDB's batches have no such check: a reference another
        transaction adds between the query and the batch is not seen."""
        checks = [c for c in batch.commands if isinstance(c, Absent)]
        if not checks:
            return batch
        overlay = batch.overlay or {}
        for check in checks:
            try:
                spec = self.spec(check.collection)
            except errors.OperationalError:
                continue  # (dropped meanwhile: no row refers to anything)
            own = {doc_id.lower() for doc_id in overlay.get(check.collection) or {}}
            where: ast.Expr | None = None
            params: dict[str, Any] = {}
            for n, field_name in enumerate(check.fields):
                term = ast.Binary("=", ast.Column(None, field_name), ast.Param(f"fk{n}"))
                where = term if where is None else ast.Binary("and", where, term)
                params[f"fk{n}"] = check.values[n]
            self._unindexed.add(check.collection)  # (asks for non-stale results)
            rql = pushdown(where, spec, check.collection, params,
                           self.mixed_of(check.collection))
            for doc in self._query(rql, params, collection=check.collection):
                doc_id, body, _ = _split(doc, spec)
                if doc_id.lower() not in own and body is not None and tuple(
                        body.get(f) for f in check.fields) == check.values:
                    raise errors.IntegrityError(check.refusal(doc_id))
        return replace(batch, commands=[c for c in batch.commands if not isinstance(c, Absent)])

    def _schema_guards(self, batch: Batch) -> list[Patch]:
        """A guard of each schema record the batch's rows were checked by (in this
        transaction), at the version read: another client's schema change since (a column
        added with its default, renamed, dropped; the table dropped) fails the commit
        instead of storing rows of the old shape (see _refuse_changed_schemas)."""
        used = self._used_versions
        names = {c.collection for c in batch.commands if isinstance(c, (Put, Patch, Delete))}
        return [Patch(SCHEMA_COLLECTION, schema_id(name), {}, cv, seen=cv)
                for name in names if (cv := used.get(name.lower()))]

    def _refuse_changed_schemas(self, guards: list[Patch], exc: Exception) -> None:
        """After a commit failed on a conflict: if a schema record it guarded changed, the
        error says so (OperationalError, as on the embedded store)."""
        if not guards:
            return
        self._count("load")
        found = self._load([g.id for g in guards])
        for guard, doc in zip(guards, [*found, *[None] * len(guards)], strict=False):
            meta = doc.get("@metadata") if isinstance(doc, dict) else None
            if not isinstance(meta, dict) or meta.get("@change-vector") != guard.expected:
                name = guard.id.rsplit("/", 1)[-1]
                raise errors.OperationalError(
                    f"table {name} was changed by another connection during this transaction "
                    "(its columns, key or constraints); nothing was committed") from exc

    def _checked_guards(self, batch: Batch, schemas: Sequence[Patch] = ()
                        ) -> tuple[Batch, dict[str, dict[str, Any]]]:
        """For a cluster-wide batch, which takes no PATCH and checks a document only by its
        atomic guard (which a single-node write never moves): the batch without its guards
        (PATCHes that change nothing: ``FOR UPDATE``'s, foreign keys'), and the metadata of
        the documents it updates (their PUTs keep it, as a PATCH does; they dropped what
        other clients keep there, such as ``Raven-Python-Type``), by lower-cased id.

        A guarded document the batch also writes is guarded by that write; any other, and
        every document of a collection without unique constraints (written single-node
        elsewhere) that the batch updates or deletes, is checked by the one load made just
        before the batch is sent. A document changed or deleted since it was read fails the
        commit (ConcurrencyError) with nothing sent. A change between that load and the
        batch is not seen: the window is one request's time (it was the whole transaction's:
        the batch's PUT of the document as this transaction left it overwrote the other
        commit, silently)."""
        guards = [c for c in batch.commands if isinstance(c, Patch)
                  and not (c.set or c.unset or c.compute)]
        skipped = set(map(id, guards))
        written = {(c.collection, c.id.lower()) for c in batch.commands
                   if isinstance(c, (Put, Patch, Delete)) and id(c) not in skipped}
        checks: dict[str, str | None] = {}  # id -> the version read (None: must exist)
        loads: dict[str, str] = {}  # id -> collection, of every document loaded
        for guard in [*guards, *schemas]:
            if (guard.collection, guard.id.lower()) not in written:
                checks.setdefault(guard.id, guard.expected)
                loads[guard.id] = guard.collection
        for cmd in batch.commands:
            if not isinstance(cmd, (Patch, Delete)) or id(cmd) in skipped:
                continue
            cv = cmd.expected or cmd.seen
            if isinstance(cmd, Patch) and cv:
                loads[cmd.id] = cmd.collection  # (its metadata)
            if cv and (isinstance(cmd, Patch) or cmd.must_exist) and not self.spec(
                    cmd.collection).unique_sets:
                checks.setdefault(cmd.id, cv)
                loads[cmd.id] = cmd.collection
        metadata: dict[str, dict[str, Any]] = {}
        if loads:
            self._count("load")
            for doc_id, doc in zip(loads, self._load(list(loads)), strict=False):
                meta = doc.get("@metadata") if isinstance(doc, dict) else None
                if not isinstance(meta, dict):
                    continue
                cv = meta.get("@change-vector")
                metadata[doc_id.lower()] = {k: v for k, v in meta.items() if k not in _META_KEYS}
                if checks.get(doc_id) and checks[doc_id] != cv:
                    raise errors.ConcurrencyError(
                        f"document {doc_id!r} was changed by another transaction after this "
                        "one read it", (doc_id,))
            for doc_id in checks:
                if doc_id.lower() not in metadata:
                    raise errors.ConcurrencyError(
                        f"document {doc_id!r} was deleted by another transaction after this "
                        "one read it", (doc_id,))
        if guards:
            batch = replace(batch, commands=[c for c in batch.commands if id(c) not in skipped])
        return batch, metadata

    def _existing_ids(self, collection: str, ids: list[str]) -> set[str]:
        return {doc_id.lower() for doc_id in self.get_documents(collection, ids, None)}

    def _current_unique_keys(self, collection: str, doc_id: str) -> list[str] | None:
        spec = self.spec(collection)
        found = self.get_documents(collection, [doc_id], None)
        doc = found.get(doc_id)
        return None if doc is None or doc[1] is None else unique_keys(spec, doc[1])

    def prepare(self, batch: Batch) -> None:
        """Check the batch's preconditions now: change vectors of the documents it expects,
        absence of the ids it creates, free unique values. RavenDB cannot hold a batch or a
        lock between two requests, so this narrows the window, it does not close it: a write
        by someone else after prepare still fails this database's commit (all of its batch,
        never part), possibly after another database of the transaction committed."""
        batch = self._checked_absent(batch)
        expected: dict[tuple[str, str], str] = {}
        for cmd in batch.commands:
            if isinstance(cmd, (Put, Patch, Delete)):
                cv = cmd.expected if cmd.expected is not None else (
                    cmd.seen if isinstance(cmd, (Patch, Delete)) else None)
                if cv is not None:
                    expected.setdefault((cmd.collection, cmd.id), cv)
        for (collection, doc_id), cv in expected.items():
            doc = self.get_documents(collection, [doc_id], None).get(doc_id)
            if cv == "" and doc is not None:
                raise errors.DuplicateKeyError(f"document {doc_id!r} already exists")
            if cv and (doc is None or doc[2] != cv):
                raise errors.ConcurrencyError(
                    f"document {doc_id!r} changed or was deleted after it was read", (doc_id,))
        if needs_cluster(batch, self.spec):  # raises if an id or a unique value is taken
            cluster_commands(self._checked_guards(batch)[0], self.spec,
                             self.get_compare_exchange_values,
                             self._current_unique_keys, self._existing_ids)
        self._prepared = batch

    def end_prepared(self, commit: bool) -> None:
        batch, self._prepared = self._prepared, None
        if batch is None:
            raise errors.ProgrammingError("no prepared transaction")
        if commit:
            self.submit(batch, results=False)

    def get_compare_exchange_values(self, keys: list[str]) -> dict[str, tuple[Any, int]]:
        out: dict[str, tuple[Any, int]] = {}
        for chunk in _url_sized(keys):  # keys go in the URL: a long list takes several calls
            self._count("load")
            resp = self.http.request("GET", "cmpxchg", params=[("key", k) for k in chunk],
                                     read=True)
            if resp.status == 404:
                continue
            reply = resp.reply("compare-exchange")
            for item in reply.objects(reply.object(), "Results"):
                value = item.get("Value")
                index = reply.optional(item, "Index", int, 0)
                if isinstance(value, dict) and index > 0:
                    out[reply.field(item, "Key", str)] = (value.get("Object"), index)
        return out

    def next_ids(self, tag: str, count: int, *, claimed: bool = False) -> list[int]:
        return self.cluster.hilo.next_ids(tag, count, self._fetch_range, claimed=claimed)

    def observe_id(self, tag: str, used: int) -> None:
        if max(self.cluster.hilo.reserved(tag), self._explicit_ids.get(tag, 0)) < used <= \
                RAISES_UP_TO:
            self._explicit_ids[tag] = used
        self.cluster.hilo.observe(tag, used)

    def _raise_hilo(self) -> None:
        """After a commit that wrote explicit integer ids above the ranges the server reserved
        for this process: a range above them, so another client's next generated id starts
        above them (SQLite: max(rowid) + 1). One HiLo request per such tag, made after the
        batch (RavenDB's batch can't raise a HiLo document atomically: a crash in between
        leaves another client's generated id to fail its commit as taken, never to
        overwrite)."""
        explicit, self._explicit_ids = self._explicit_ids, {}
        for tag, used in explicit.items():
            if used > self.cluster.hilo.reserved(tag):
                try:
                    self.cluster.hilo.reserve_above(tag, used, self._fetch_range)
                except errors.Error as exc:  # (the batch is applied: the commit stands)
                    _log.warning("could not raise the HiLo state of %s above %d after a "
                                 "commit: %s", tag, used, exc)

    def claim_fresh_ids(self, tag: str, values: list[int]) -> list[bool]:
        return self.cluster.hilo.claim_many(tag, values)

    def _fetch_range(self, tag: str, capacity: int, at_least: int) -> tuple[int, int]:
        self.counts["hilo"] += 1  # HiLo calls are not part of a session's request budget
        resp = self.http.request("GET", "hilo/next", params={
            "tag": tag, "lastBatchSize": capacity, "lastRangeAt": "",
            "identityPartsSeparator": "/", "lastMax": at_least - 1,
        })
        reply = resp.reply("hilo")
        body = reply.object()
        low, high = reply.field(body, "Low", int), reply.field(body, "High", int)
        if not 0 < low <= high:
            raise reply.bad(f"'Low'..'High' is no range of ids: {low}..{high}")
        return low, high

    def execute_schema(self, stmt: ast.Statement) -> None:
        self._count("schema")
        self._check_catalog()
        try:
            self._execute_schema(stmt)
        finally:
            self._schemas_moved()  # (also after a failed change: it may have read schemas)

    def _execute_schema(self, stmt: ast.Statement) -> None:
        if isinstance(stmt, ast.CreateCollection):
            if self._schema_exists(stmt.name):
                raise errors.OperationalError(f"collection {stmt.name} already exists")
            spec = CollectionSpec.from_json(stmt.name, stmt.spec)
            for fields in spec.unique_sets:  # other clients may have stored documents
                self._reserve_stored_values(spec, fields)
            self._put_spec(spec, "")
        elif isinstance(stmt, ast.DropCollection):
            spec = self.spec(stmt.name)
            self._delete_all(stmt.name)
            # As DROP TABLE does, start integer keys over: forget the HiLo state too.
            self._write_schema([Delete(SCHEMA_COLLECTION, schema_id(stmt.name)),
                                Delete("@hilo", f"Raven/Hilo/{spec.prefix}",
                                       must_exist=False),
                                _mixed_patch({}, dropped=stmt.name.lower())])
            self.cluster.hilo.forget(spec.prefix)
            self._forget_spec(stmt.name)
            self._scratch.drop_overlay(stmt.name)
        elif isinstance(stmt, ast.CreateIndex):
            spec = self.spec(stmt.collection)
            if spec.indexes.get(stmt.name) == (stmt.fields, stmt.unique):
                return  # declared with the collection (see the embedded store's create_index)
            holder = next((name for name in self.collection_names()
                           if stmt.name in self.spec(name).indexes), None)
            if holder is not None:
                if stmt.if_not_exists:
                    return
                raise errors.OperationalError(f"index {stmt.name} already exists on {holder}")
            indexes = dict(spec.indexes)
            indexes[stmt.name] = (stmt.fields, stmt.unique)
            if stmt.unique:
                self._reserve_stored_values(spec, plain_fields(stmt.fields))
            self._put_spec(replace(spec, indexes=indexes), None)
        elif isinstance(stmt, ast.DropIndex):
            for name in self.collection_names():
                spec = self.spec(name)
                if stmt.name in spec.indexes:
                    indexes = {k: v for k, v in spec.indexes.items() if k != stmt.name}
                    self._put_spec(replace(spec, indexes=indexes), None)
        elif isinstance(stmt, ast.AlterCollection):
            self._alter(stmt)
        else:
            raise errors.NotSupportedError(f"not a schema statement: {type(stmt).__name__}")

    def _reserve_stored_values(self, spec: CollectionSpec, fields: tuple[str, ...]) -> None:
        """Unique values over stored documents: refused if two documents hold one (as SQLite
        refuses the index), else each is reserved for its document before the schema says
        unique, so a later writer finds it taken. Documents written meanwhile by a client
        that has not seen the new schema yet (its next transaction will) are not covered."""
        only = replace(spec, unique=(fields,), indexes={})
        owners: dict[str, str] = {}
        for doc in self._query(RqlQuery(f"from {quote_collection(spec.name)}"), {}):
            doc_id, body, _ = _split(doc, spec)
            for key in unique_keys(only, body):
                if owners.setdefault(key, doc_id) != doc_id:
                    raise errors.IntegrityError(
                        f"UNIQUE constraint on {spec.name}({', '.join(fields)}) can't be "
                        f"created: documents {owners[key]!r} and {doc_id!r} hold one value")
        held = self.get_compare_exchange_values(list(owners)) if owners else {}
        commands = [CompareExchange(key, doc_id, held[key][1] if key in held else 0).to_json()
                    for key, doc_id in owners.items()
                    if key not in held or held[key][0] != doc_id]  # else stale: taken over
        if commands:
            self._count("batch")
            self.http.request("POST", "bulk_docs", idempotent=False, deduplicated=True,
                              body={"Commands": commands, "TransactionMode": "ClusterWide"})

    def stored_documents(self, collection: str) -> list[tuple[str, dict[str, Any]]]:
        """Every stored document of a collection as (id, body): what a schema change checks."""
        spec = self.spec(collection)
        return [_split(d, spec)[:2]
                for d in self._query(RqlQuery(f"from {quote_collection(spec.name)}"), {})]

    def _alter(self, stmt: ast.AlterCollection) -> None:
        """Plan the change over every stored document, then send the rewritten documents and
        the new schema in one batch (RavenDB applies a batch whole): a refused change, or a
        failed batch, leaves both as they were."""
        spec = self.spec(stmt.name)
        docs = self.stored_documents(stmt.name)
        plan = plan_alter(spec, stmt.action, stmt.spec, docs)
        new = plan.spec
        commands: list[Any] = []
        if new.name != spec.name:
            if self._schema_exists(new.name):
                raise errors.OperationalError(f"there is already another table named {new.name}")
            # A document changes collection (and id) by being deleted and put again.
            for doc_id, body in docs:
                commands += [Delete(spec.name, doc_id, must_exist=False),
                             Put(new.name, plan.ids.get(doc_id, doc_id),
                                 plan.bodies.get(doc_id, body))]
            commands.append(Delete(SCHEMA_COLLECTION, schema_id(spec.name)))
        else:
            commands += [Put(spec.name, i, b) for i, b in plan.bodies.items()]
        commands.append(Put(SCHEMA_COLLECTION, schema_id(new.name),
                            {"name": new.name, "spec": new.to_json()}))
        mixed = _stored_mixed(new, [plan.bodies.get(i, b) for i, b in docs])
        if mixed or new.name != spec.name:
            commands.append(_mixed_patch({new.name.lower(): mixed} if mixed else {},
                                         dropped=spec.name.lower() if (
                                             new.name.lower() != spec.name.lower()) else None))
        self._write_schema(commands)
        if mixed:
            self._recorded({new.name.lower(): mixed})
        self._forget_spec(spec.name)
        self._specs[new.name] = new
        if new.name != spec.name:
            self._scratch.drop_overlay(spec.name)
        if new.prefix != spec.prefix and plan.max_key:
            # The server's HiLo for the new prefix goes on above every key in use.
            self.cluster.hilo.reserve_above(new.prefix, plan.max_key, self._fetch_range)
        if new.name != spec.name or plan.bodies or new.unique_sets != spec.unique_sets:
            # Reservation keys name the collection, the fields and the values: take the new
            # ones (the plan checked they are unique).
            for fields in new.unique_sets:
                self._reserve_stored_values(new, fields)

    def _delete_all(self, collection: str) -> None:
        """Delete by query, waiting for the server's operation to finish."""
        resp = self.http.request("DELETE", "queries", params={"allowStale": "false"},
                                 body={"Query": f"from {quote_collection(collection)}"})
        self._wait(_operation_id(resp.reply("delete by query")), collection)

    def _wait(self, op: int | str, collection: str) -> None:
        """Wait for a server operation (delete or patch by query) to finish."""
        for _ in range(600):
            state_reply = self.http.request("GET", "operations/state",
                                            params={"id": op}).reply("operation state")
            state = state_reply.object()
            status = state_reply.field(state, "Status", str)
            if status == "Completed":
                return
            if status in ("Faulted", "Canceled"):
                raise errors.OperationalError(f"changing collection {collection}: {state}")
            time.sleep(0.05)
        raise errors.OperationalError(f"changing collection {collection} did not finish")

    def _forget_spec(self, name: str) -> None:
        """Drop the cached schema under every spelling: RavenDB ids (the schema document's
        too) ignore case, so ``spec("users")`` may have cached the schema of "Users"."""
        folded = name.lower()
        for key in [k for k in self._specs if k.lower() == folded]:
            self._specs.pop(key, None)
        self.cluster.spec_versions.pop(folded, None)
        self._used_versions.pop(folded, None)  # (this connection's own change)

    def _schema_exists(self, name: str) -> bool:
        self._forget_spec(name)
        self.cluster.unrecorded.discard(name)
        return self._schema_record(name) is not None

    def _put_spec(self, spec: CollectionSpec, expected: str | None) -> None:
        body = {"name": spec.name, "spec": spec.to_json()}
        results = self._write_schema(
            [Put(SCHEMA_COLLECTION, schema_id(spec.name), body, expected)])
        self._forget_spec(spec.name)
        self._specs[spec.name] = spec
        cv = results[0].get("@change-vector") if results else None
        if isinstance(cv, str):
            self.cluster.spec_versions[spec.name.lower()] = cv

    def _write_schema(self, commands: list[Any]) -> list[Any]:
        """A schema change with a new version of the catalog document, in one batch. The
        catalog write expects the version this client saw last: then nobody else changed the
        catalog meanwhile and the cached schemas stay current. Else the batch goes again
        unguarded, and the next transaction reloads what it uses."""
        known = self.cluster.catalog_cv
        if known != _UNREAD:
            try:
                results = self._write([*commands, _catalog_put("" if known is None else known)])
            except (errors.ConcurrencyError, errors.IntegrityError):
                pass  # the catalog (or the schema itself: raised again below) changed
            else:
                cv = results[-1].get("@change-vector") if results else None
                self.cluster.catalog_cv = cv if isinstance(cv, str) else _UNREAD
                return results
        results = self._write([*commands, _catalog_put(None)])
        self.cluster.catalog_cv = _UNREAD
        return results

    def _write(self, commands: list[Any]) -> list[Any]:
        # Schema changes: their collections' schemas are the ones known (or being made).
        body = {"Commands": [c if isinstance(c, dict) else _command_json(c, self._specs.get)
                             for c in commands]}
        resp = self.http.request("POST", "bulk_docs", body=body, idempotent=False)
        reply = resp.reply("batch")
        return [r for r in reply.field(reply.object(), "Results", list) if isinstance(r, dict)]

    def reset_overlay(self) -> None:
        self._scratch.reset_overlay()

    def close(self) -> None:
        self._scratch.close()
        self._scratch.store.close()
        if self.cluster.connection_closed():
            self._return_hilo_ranges()
        self.http.close()

    def _return_hilo_ranges(self) -> None:
        """The engine's last connection closes: hand unused HiLo ranges back, as RavenDB's
        DocumentStore does on close, so the ids are not lost (best effort)."""
        for tag, end, last in self.cluster.hilo.take_unused():
            try:
                self.http.request("PUT", "hilo/return",
                                  params={"tag": tag, "end": end, "last": last})
            except errors.Error:
                pass  # the server keeps the range reserved: ids skip, nothing breaks


def _operation_id(reply: Reply) -> int | str:
    return reply.field(reply.object(), "OperationId", (int, str))


def _catalog_put(expected: str | None) -> Put:
    return Put(CATALOG_COLLECTION, CATALOG_ID, {"changed": time.time()}, expected)


def _recorded_fields(reply: Reply, doc: Any) -> dict[str, frozenset[str]]:
    """The fields the ``MIXED_ID`` document records, by collection (None: none yet)."""
    if doc is None:
        return {}
    doc = reply.expect(doc, dict, "the record of fields holding values of the other kind")
    out: dict[str, frozenset[str]] = {}
    for name, fields in doc.items():
        if name == "@metadata":
            continue
        if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
            raise reply.bad(f"the recorded fields of {name!r} are not a list of names")
        out[name] = frozenset(fields)
    return out


def _mixed_patch(mixed: dict[str, frozenset[str]], dropped: str | None = None
                 ) -> dict[str, Any]:
    """The PATCH of the ``MIXED_ID`` document adding ``mixed`` (lower-cased collection ->
    fields) and forgetting the collection ``dropped``; it creates the document if missing.
    Names travel as the script's values, never in its text."""
    lines: list[str] = []
    values: dict[str, Any] = {}
    if dropped is not None:
        values["dropped"] = dropped
        lines.append("delete this[args.dropped];")
    for i, (name, fields) in enumerate(sorted(mixed.items())):
        values[f"c{i}"] = name
        lines.append(f"if (!this[args.c{i}]) {{ this[args.c{i}] = []; }}")
        for j, field_name in enumerate(sorted(fields)):
            values[f"f{i}_{j}"] = field_name
            lines.append(f"if (this[args.c{i}].indexOf(args.f{i}_{j}) < 0) "
                         f"{{ this[args.c{i}].push(args.f{i}_{j}); }}")
    script = "\n".join(lines)
    # (a missing document starts as RavenDB makes it: {"@metadata": {}}; the collection is
    # the one its metadata names)
    created = f"this['@metadata']['@collection'] = args.catalog;\n{script}"
    return {"Id": MIXED_ID, "ChangeVector": None, "Type": "PATCH",
            "Patch": {"Script": script, "Values": values},
            "PatchIfMissing": {"Script": created,
                               "Values": {**values, "catalog": CATALOG_COLLECTION}}}


def _stored_mixed(spec: CollectionSpec, bodies: list[dict[str, Any]]) -> frozenset[str]:
    """The fields of ``spec`` some of ``bodies`` hold a value of the other kind in."""
    numeric, dates = other_kind_fields(spec)
    return frozenset({f for f in numeric if any(type(b.get(f)) is str for b in bodies)} | {
        f for f in dates if any(type(b.get(f)) in NUMBER_TYPES for b in bodies)})


def _single_source(stmt: ast.SelectLike) -> bool:
    refs = [n for n in ast.walk(stmt) if isinstance(n, ast.TableRef)]
    return isinstance(stmt, ast.Select) and len(refs) == 1 and len(stmt.from_) == 1 and (
        isinstance(stmt.from_[0], ast.TableRef)
    )


def _split(doc: dict[str, Any], spec: CollectionSpec) -> tuple[str, dict[str, Any], str | None]:
    """(id, body without metadata, change vector) of a document as RavenDB returns it."""
    meta = doc.get("@metadata") if isinstance(doc, dict) else None
    doc_id = meta.get("@id") if isinstance(meta, dict) else None
    if not isinstance(doc_id, str):
        raise errors.OperationalError(
            f"RavenDB sent a document without @metadata.@id: {str(doc)[:200]}")
    cv = meta.get("@change-vector") if isinstance(meta, dict) else None
    if cv is not None and not isinstance(cv, str):
        raise errors.OperationalError(f"RavenDB sent document {doc_id!r} with a change vector "
                                      f"that is not a string: {cv!r}")
    body = {k: v for k, v in doc.items() if k != "@metadata"}
    _fill_key(body, doc_id, spec)
    return doc_id, body, cv


def _fill_key(body: dict[str, Any], doc_id: str, spec: CollectionSpec) -> None:
    """Documents other clients stored keep their key only in the id (``users/1-A``)."""
    if spec.key_is_id:
        body[spec.primary_key[0]] = doc_id  # the id is the key (never kept in the body)
        return
    if len(spec.primary_key) != 1 or body.get(spec.primary_key[0]) is not None:
        return
    key = spec.primary_key[0]
    # The inverse of CollectionSpec.document_id ({prefix}/{key}), so session.get(Tag,
    # "rust") finds "tags/rust". Any other id has no key that maps back to it: reading the
    # document under a key would make a write by that key miss it or create another.
    prefix = spec.prefix + "/"
    tail = doc_id[len(prefix):] if doc_id[:len(prefix)].lower() == prefix.lower() else None
    integer = spec.autoincrement == key or any(
        f.name == key and f.base_type in ("INTEGER", "BIGINT", "SMALLINT", "INT")
        for f in spec.fields)
    if tail is not None and "/" not in tail and (tail.isdigit() or not integer):
        body[key] = int(tail) if integer else tail
        return
    raise errors.DataError(
        f"document {doc_id!r} of collection {spec.name} has no {key!r} field and its id is "
        f"not '{prefix}<{'integer' if integer else 'key'}>': map the key as a string column "
        "holding the whole document id (Table option docstore_key_is_id=True; reflected "
        "collections do so)")


def _internal_collection(name: str) -> bool:
    return name.startswith("@") or name in (SCHEMA_COLLECTION, CATALOG_COLLECTION)


def _url_sized(keys: list[str], limit: int = 4000) -> list[list[str]]:
    """``keys`` in runs whose query string stays well under servers' URL limits."""
    chunks: list[list[str]] = [[]]
    size = 0
    for key in keys:
        if chunks[-1] and size + len(key) > limit:
            chunks.append([])
            size = 0
        chunks[-1].append(key)
        size += len(key) + 5
    return chunks if chunks[0] else []


def _rql_value(kind: str, value: Any, params: dict[str, Any]) -> Any:
    if kind == "literal":
        return values.to_json(value)
    try:
        return values.to_json(params[value])
    except KeyError as exc:
        raise errors.ProgrammingError(f"no value given for parameter {value!r}") from exc


def _commands_json(commands: list[Any],
                   spec_of: Callable[[str], CollectionSpec]) -> list[dict[str, Any]]:
    """``[_command_json(c, spec_of) for c in commands]``, asking for each collection's schema
    once: a PUT to a collection whose key is not the id is ``Put.to_json`` as it stands."""
    plain: dict[str, bool] = {}  # collection -> its PUTs need nothing from the schema
    known: dict[str, CollectionSpec] = {}

    def memo(name: str) -> CollectionSpec:
        spec = known.get(name)
        if spec is None:
            spec = known[name] = spec_of(name)
        return spec

    out = []
    for cmd in commands:
        if type(cmd) is Put:
            name = cmd.collection
            fast = plain.get(name)
            if fast is None:
                fast = plain[name] = _internal_collection(name) or not memo(name).key_is_id
            if fast:
                out.append(cmd.to_json())
                continue
        moved: dict[str, Any] = {}
        if type(cmd) is Patch:  # values a script would store changed: as a JSON Patch after it
            cmd, moved = split_script_values(cmd)
        out.append(_command_json(cmd, memo))
        if moved:
            out.append(json_patch(cmd.id, moved))
    return out


def _check_batch_reply(resp: Any) -> None:
    """A batch reply whose per-document results nobody reads: one that opens and closes as
    the results array does (``{"Results":[ ... ]}``, as RavenDB writes it) is not parsed;
    any other is, and one of another shape is an error as when it is read."""
    content = resp.body
    if isinstance(content, bytes):
        text = content.strip()
        if _RESULTS_OPEN.match(text) and text.endswith(b"]}"):
            return
        resp = replace(resp, body=http_decode(resp.status, content))
    reply = resp.reply("batch")
    reply.field(reply.object(), "Results", list)


def _command_json(cmd: Any, spec_of: Callable[[str], CollectionSpec | None]) -> dict[str, Any]:
    spec = spec_of(cmd.collection) if isinstance(cmd, (Put, Patch)) and not (
        _internal_collection(cmd.collection)) else None
    if isinstance(cmd, Patch) and cmd.compute:
        assert spec is not None
        out = patch_json(cmd, spec)
    elif isinstance(cmd, Put) and spec is not None and spec.key_is_id:
        out = replace(cmd, body=spec.stored_body(cmd.body)).to_json()
    else:
        out = cmd.to_json()
    if isinstance(cmd, Delete) and cmd.must_exist and cmd.expected is None and cmd.seen:
        # RavenDB deletes a missing document silently; the version read makes a concurrent
        # delete (or change) abort the whole commit, as StaleDataError expects.
        out["ChangeVector"] = cmd.seen
    if isinstance(cmd, Patch):
        # A PATCH of a missing document is no error in RavenDB: make it one, inside the batch,
        # so a concurrent delete aborts the whole commit instead of losing the update.
        out["PatchIfMissing"] = {"Script": f"throw '{MISSING_MARKER}';", "Values": {}}
    return out
