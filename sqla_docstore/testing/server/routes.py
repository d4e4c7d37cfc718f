"""The REST endpoints: a parsed request in, a reply (status, JSON text, headers) out."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from ... import values
from ...backends.embedded.store import collection_table
from . import batch, cmpxchg, documents, errors, hilo, identities, query
from .database import Database

if TYPE_CHECKING:
    from .node import Cluster


@dataclass
class Request:
    method: str
    path: str
    query: str
    params: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    node: str  # the tag of the node answering
    cluster: Cluster
    _json: Any = field(default=None, repr=False)

    def arg(self, name: str, default: str | None = None) -> str | None:
        found = self.params.get(name)
        return found[-1] if found else default

    def int_arg(self, name: str, default: int = 0) -> int:
        text = self.arg(name)
        if text is None or text == "":
            return default
        try:
            return int(text)
        except ValueError:
            raise errors.bad_request(f"Query argument '{name}' must be a number: {text}") from None

    def json(self) -> Any:
        if self._json is None and self.body:
            try:
                self._json = values.loads(self.body.decode("utf-8"))
            except ValueError as exc:
                raise errors.bad_request(f"The request body is not valid JSON: {exc}") from exc
        return self._json

    def if_none_match(self) -> str | None:
        value = self.headers.get("if-none-match")
        return value.strip().strip('"') if value else None


@dataclass
class Reply:
    status: int
    text: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def json_reply(obj: Any, status: int = 200, etag: str | None = None) -> Reply:
    return text_reply(values.dumps(obj), status, etag)


def text_reply(text: str, status: int = 200, etag: str | None = None) -> Reply:
    return Reply(status, text, {"ETag": f'"{etag}"'} if etag is not None else {})


# -- server-level -----------------------------------------------------------------------------

def _topology(req: Request) -> Reply:
    name = req.arg("name")
    if name:
        db = req.cluster.databases.get(name)
        name = db.name
    nodes = [{"Url": req.cluster.url_of(tag), "ClusterTag": tag, "Database": name,
              "ServerRole": "Member"} for tag in req.cluster.tags]
    return json_reply({"Nodes": nodes, "Etag": req.cluster.topology_etag})


def _cluster_topology(req: Request) -> Reply:
    members = {tag: req.cluster.url_of(tag) for tag in req.cluster.tags}
    etag = req.cluster.topology_etag
    return json_reply({
        "Leader": req.cluster.tags[0], "NodeTag": req.node, "Etag": etag, "Status": {},
        "Topology": {"TopologyId": req.cluster.topology_id, "Etag": etag,
                     "LastNodeId": req.cluster.tags[-1], "Members": members,
                     "Promotables": {}, "Watchers": {}},
    })


def _build_version(req: Request) -> Reply:
    version = req.cluster.server_version
    return json_reply({"ProductVersion": version.rsplit(".", 1)[0], "BuildVersion": 72003,
                       "CommitHash": "sqla_docstore", "FullVersion": version})


def _create_database(req: Request) -> Reply:
    body = req.json() or {}
    name = req.arg("name") or body.get("DatabaseName")
    if not name:
        raise errors.bad_request("Database name is required")
    req.cluster.databases.create(name)
    return json_reply({"RaftCommandIndex": req.cluster.next_raft(), "Name": name,
                       "NodesAddedTo": [req.cluster.url_of(t) for t in req.cluster.tags]}, 201)


def _delete_databases(req: Request) -> Reply:
    body = req.json() or {}
    names = body.get("DatabaseNames") or ([req.arg("name")] if req.arg("name") else [])
    hard = bool(body.get("HardDelete", True))
    for name in names:
        req.cluster.databases.delete(name, hard=hard)
    return json_reply({"RaftCommandIndex": req.cluster.next_raft(), "PendingDeletes": []})


def _get_database_record(req: Request) -> Reply:
    name = req.arg("name") or ""
    db = req.cluster.databases.get(name)
    tags = req.cluster.tags
    return json_reply({"DatabaseName": db.name, "Disabled": False, "Etag": 1,
                       "LockMode": "Unlock", "AutoIndexes": dict(db.auto_indexes),
                       "Indexes": {},
                       "Topology": {"Members": list(tags), "Promotables": [], "Rehabs": [],
                                    "ReplicationFactor": len(tags)}})


def _database_names(req: Request) -> Reply:
    return json_reply({"Databases": req.cluster.databases.names()})


def _operation_state(req: Request) -> Reply:
    state = req.cluster.operations.get(req.int_arg("id"))
    if state is None:
        return Reply(404)
    return json_reply(state)


# -- database-level ---------------------------------------------------------------------------

def _docs_get(req: Request, db: Database) -> Reply:
    """Load by ids; without ids, by id prefix (ordered by id) or all documents newest first."""
    ids = list(req.params.get("id", []))
    if req.method == "POST":
        body = req.json() or {}
        ids += list(body.get("Ids") or [])
    includes = req.params.get("include", [])
    if not ids:
        start, size = req.int_arg("start"), req.int_arg("pageSize", 25)
        prefix = req.arg("startsWith")
        if prefix is None:
            if req.arg("matches") or req.arg("exclude"):
                raise errors.bad_request("'matches' and 'exclude' need 'startsWith'")
            found: list[Any] = list(documents.newest_first(db, start, size))
        else:
            found = list(documents.starting_with(db, prefix, start, size, req.arg("startAfter"),
                                                 req.arg("matches"), req.arg("exclude")))
    else:
        found = documents.load(db, ids)
        if len(ids) == 1 and found[0] is None:  # exactly one missing id: 404, cached as such
            if req.if_none_match() == "404 Response":
                return Reply(304)
            return Reply(404)
    included = documents.includes_of(db, found, includes)
    values_included = documents.compare_exchange_includes_of(
        db, found, req.params.get("cmpxchg", []))
    if len(ids) == 1 and not included and not values_included:
        etag = found[0][3]  # one document: its change vector (conditional loads send it)
    else:
        etag = documents.etag_of(found, {**included, **{
            "cmpxchg:" + k: values.dumps(v) for k, v in values_included.items()}})
    if req.if_none_match() == etag:
        return Reply(304)
    metadata_only = (req.arg("metadataOnly") or "").lower() == "true"
    return text_reply(documents.results_text(found, included, metadata_only, values_included),
                      etag=etag)


def _docs_head(req: Request, db: Database) -> Reply:
    doc = db.find_one(req.arg("id") or "")
    if doc is None:
        return Reply(404)
    if req.if_none_match() == doc[3]:
        return Reply(304)
    return Reply(200, None, {"ETag": f'"{doc[3]}"'})


def _docs_put(req: Request, db: Database) -> Reply:
    doc_id = req.arg("id")
    expected = req.headers.get("if-match", "").strip('"') or None
    result = batch.bulk_docs(db, req.node, {"Commands": [
        {"Id": doc_id, "ChangeVector": expected, "Document": req.json() or {}, "Type": "PUT"}]})
    put = result["Results"][0]
    return json_reply({"Id": put["@id"], "ChangeVector": put["@change-vector"]}, 201)


def _docs_delete(req: Request, db: Database) -> Reply:
    expected = req.headers.get("if-match", "").strip('"') or None
    batch.bulk_docs(db, req.node, {"Commands": [
        {"Id": req.arg("id"), "ChangeVector": expected, "Type": "DELETE"}]})
    return Reply(204)


def _docs_patch(req: Request, db: Database) -> Reply:
    body = req.json() or {}
    expected = req.headers.get("if-match", "").strip('"') or None
    command = {"Id": req.arg("id"), "ChangeVector": expected, "Patch": body.get("Patch"),
               "PatchIfMissing": body.get("PatchIfMissing"), "ReturnDocument": True,
               "Type": "PATCH"}
    if expected and req.arg("skipPatchIfChangeVectorMismatch") == "true":
        current = db.find_one(req.arg("id") or "")
        if current is not None and current[3] != expected:
            return json_reply({"Status": "Skipped"})
    result = batch.bulk_docs(db, req.node, {"Commands": [command]})["Results"][0]
    status = result["PatchStatus"]
    if status == "DocumentDoesNotExist":
        return Reply(404)
    reply = {"Status": status, "ChangeVector": result["ChangeVector"],
             "LastModified": result["LastModified"],
             "ModifiedDocument": result.get("ModifiedDocument")}
    if reply["ModifiedDocument"]:
        reply["Collection"] = reply["ModifiedDocument"]["@metadata"].get("@collection")
    return json_reply(reply)


def _request_id(req: Request) -> str | None:
    return req.headers.get("raft-request-id") or req.arg("raft-request-id")


def _atomic_writes(req: Request) -> bool:
    """Atomic guards unless disabled; clients older than 5.2 (or none) get none (RavenDB)."""
    flag = req.arg("disableAtomicDocumentWrites")
    if flag is not None:
        return flag.lower() != "true"
    version = req.headers.get("raven-client-version", "")
    try:
        major, minor = (int(p) for p in version.split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= (5, 2)


def _bulk_docs(req: Request, db: Database) -> Reply:
    if req.headers.get("content-type", "").lower().startswith("multipart/"):
        raise errors.not_supported("Attachments (a multipart bulk_docs body) are not supported "
                                   "by the sqla_docstore server")
    result = batch.bulk_docs(db, req.node, req.json(), request_id=_request_id(req),
                             atomic_writes=_atomic_writes(req))
    return json_reply(result, 201)


def _queries(req: Request, db: Database) -> Reply:
    if req.method == "GET":
        body: Any = {"Query": req.arg("query"), "QueryParameters": {}}
    else:
        body = req.json()
    if not isinstance(body, dict):
        raise errors.invalid_query("The query request must be a JSON object")
    for name in ("debug", "diagnostics"):
        if req.arg(name):
            raise errors.not_supported(f"Query option {name}={req.arg(name)} is not supported by "
                                       "the sqla_docstore server")
    etag = query.result_etag(db, req.body + req.query.encode())
    if not body.get("DisableCaching") and req.if_none_match() == etag:
        return Reply(304)
    return text_reply(query.run_query(db, req.node, body, etag), etag=etag)


def _stream_queries(req: Request, db: Database) -> Reply:
    """RavenDB's query streaming (``format=jsonl``): a ``{"Stats": ...}`` line, then one
    ``{"Item": document}`` line per result, all results at once (no paging)."""
    if (req.arg("format") or "jsonl") != "jsonl":
        raise errors.not_supported("query streams in a format other than jsonl")
    body = req.json() if req.method == "POST" else {"Query": req.arg("query"),
                                                     "QueryParameters": {}}
    if not isinstance(body, dict):
        raise errors.invalid_query("The query request must be a JSON object")
    etag = query.result_etag(db, req.body + req.query.encode())
    result = values.loads(query.run_query(db, req.node, body, etag))
    stats = {key: result.get(key) for key in ("ResultEtag", "IsStale", "IndexName",
                                              "TotalResults", "IndexTimestamp")}
    lines = [values.dumps({"Stats": stats})]
    lines += [values.dumps({"Item": doc}) for doc in result.get("Results") or []]
    return Reply(200, "\n".join(lines) + "\n", {"Content-Type": "application/jsonl"})


def _queries_bulk(req: Request, db: Database) -> Reply:
    body = req.json() or {}
    if req.method == "PATCH":
        result = query.patch_by_query(db, req.node, body.get("Query") or {})
    else:
        result = query.delete_by_query(db, req.node, body)
    op_id = req.cluster.operations.add({"Status": "Completed", "Result": result})
    return json_reply({"OperationId": op_id, "OperationNodeTag": req.node})


def _hilo_next(req: Request, db: Database) -> Reply:
    return json_reply(hilo.next_range(
        db, req.node, req.arg("tag"), req.int_arg("lastBatchSize"), req.arg("lastRangeAt"),
        req.arg("identityPartsSeparator") or "/", req.int_arg("lastMax")), 201)


def _hilo_return(req: Request, db: Database) -> Reply:
    hilo.return_range(db, req.node, req.arg("tag"), req.int_arg("end"), req.int_arg("last"))
    return Reply(204)


def _identity_next(req: Request, db: Database) -> Reply:
    return json_reply({"NewIdentityValue": identities.next_value(db, req.arg("name"))})


def _identity_seed(req: Request, db: Database) -> Reply:
    value = identities.seed(db, req.arg("name"), req.int_arg("value"),
                            (req.arg("force") or "").lower() == "true")
    return json_reply({"NewSeedValue": value})


def _identities(req: Request, db: Database) -> Reply:
    return json_reply(identities.listing(db))


def _cmpxchg_get(req: Request, db: Database) -> Reply:
    prefix = req.arg("startsWith")
    keys = req.params.get("key", [])
    result = cmpxchg.get_values(db, keys, prefix, req.int_arg("start"),
                                req.int_arg("pageSize", 1024))
    if result is None:
        if req.if_none_match() == "404 Response":
            return Reply(304)
        return Reply(404)
    etag = hashlib.md5(values.dumps(result).encode()).hexdigest()
    if req.if_none_match() == etag:
        return Reply(304)
    return json_reply(result, etag=etag)


def _cmpxchg_put(req: Request, db: Database) -> Reply:
    key = req.arg("key") or ""
    return json_reply(cmpxchg.put_value(db, req.node, key, req.int_arg("index"), req.json()))


def _cmpxchg_delete(req: Request, db: Database) -> Reply:
    key = req.arg("key") or ""
    return json_reply(cmpxchg.delete_value(db, req.node, key, req.int_arg("index")))


def _client_configuration(req: Request, db: Database) -> Reply:
    return json_reply({"Etag": 0, "Configuration": None})


def _size(size_in_bytes: int) -> dict[str, Any]:
    return {"SizeInBytes": size_in_bytes, "HumaneSize": f"{size_in_bytes / 1024:.2f} KBytes"}


def _detailed_stats(req: Request, db: Database) -> Reply:
    """``/stats/detailed``: the statistics plus identity and compare-exchange counts."""
    stats = values.loads(_stats(req, db).text or "{}")
    with db.lock:
        values_count = db.sql.execute(
            """SELECT count(*) FROM "@cmpxchg" WHERE key NOT LIKE 'rvn-atomic/%'""").fetchone()[0]
    stats.update({"CountOfIdentities": len(identities.listing(db)),
                  "CountOfCompareExchange": values_count,
                  "CountOfCompareExchangeTombstones": 0, "CountOfTimeSeriesDeletedRanges": 0})
    return json_reply(stats)


def _next_operation_id(req: Request, db: Database) -> Reply:
    return json_reply({"Id": req.cluster.operations.next_id(), "NodeTag": req.node})


def _stats(req: Request, db: Database) -> Reply:
    """RavenDB's DatabaseStatistics; what the server does not have (revisions, attachments,
    counters, time series, conflicts, static indexes) counts zero."""
    with db.lock:
        names = db.collections()
        count = sum(db.sql.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                    for t in map(collection_table, names))
        pages = db.sql.execute("PRAGMA page_count").fetchone()[0]
        page_size = db.sql.execute("PRAGMA page_size").fetchone()[0]
    etag = db.etag()
    zero = dict.fromkeys(("CountOfRevisionDocuments", "CountOfDocumentsConflicts",
                          "CountOfTombstones", "CountOfConflicts", "CountOfAttachments",
                          "CountOfUniqueAttachments", "CountOfCounterEntries",
                          "CountOfTimeSeriesSegments",
                          "NumberOfTransactionMergerQueueOperations"), 0)
    return json_reply({
        "CountOfDocuments": count, "CountOfIndexes": 0, "Indexes": [], **zero,
        "LastDocEtag": etag, "LastDatabaseEtag": etag,
        "DatabaseChangeVector": f"{req.node}:{etag}-{db.database_id}" if etag else "",
        "DatabaseId": db.database_id, "Is64Bit": True, "Pager": "sqlite3",
        "LastIndexingTime": None, "SizeOnDisk": _size(pages * page_size),
        "TempBuffersSizeOnDisk": _size(0)})


def _collection_stats(req: Request, db: Database) -> Reply:
    """RavenDB's collection statistics: every collection holding a document, with its count."""
    with db.lock:
        counts = {name: db.sql.execute(f"SELECT count(*) FROM {collection_table(name)}"
                                       ).fetchone()[0] for name in db.collections()}
    counts = {name: n for name, n in counts.items() if n}
    return json_reply({"CountOfDocuments": sum(counts.values()), "CountOfConflicts": 0,
                       "Collections": counts})


def _db_operation_state(req: Request, db: Database) -> Reply:
    return _operation_state(req)


def _multi_get(req: Request, db: Database) -> Reply:
    """Lazy operations: several GET-like requests in one, each answered as if sent alone."""
    results = []
    for sub in (req.json() or {}).get("Requests") or []:
        url = urlsplit(str(sub.get("Url") or ""))
        query = str(sub.get("Query") or "").lstrip("?")
        content = sub.get("Content")
        body = b"" if content is None else (
            content.encode() if isinstance(content, str) else values.dumps(content).encode())
        inner = Request(str(sub.get("Method") or "GET"), url.path, query,
                        parse_qs(query, keep_blank_values=True),
                        {k.lower(): str(v) for k, v in (sub.get("Headers") or {}).items()},
                        body, req.node, req.cluster)
        try:
            reply = dispatch(inner)
        except errors.RavenError as exc:
            reply = Reply(exc.status, values.dumps(exc.body(url.path)), dict(exc.headers))
        results.append({"Result": values.loads(reply.text) if reply.text else None,
                         "StatusCode": reply.status, "Headers": reply.headers})
    return json_reply({"Results": results})


ServerRoute = Callable[[Request], Reply]
DatabaseRoute = Callable[[Request, Database], Reply]

SERVER_ROUTES: dict[tuple[str, str], ServerRoute] = {
    ("GET", "/topology"): _topology,
    ("GET", "/cluster/topology"): _cluster_topology,
    ("GET", "/build/version"): _build_version,
    ("PUT", "/admin/databases"): _create_database,
    ("DELETE", "/admin/databases"): _delete_databases,
    ("GET", "/admin/databases"): _get_database_record,
    ("GET", "/databases"): _database_names,
    ("GET", "/operations/state"): _operation_state,
    ("GET", "/setup/alive"): lambda req: Reply(204),
}
DATABASE_ROUTES: dict[tuple[str, str], DatabaseRoute] = {
    ("GET", "docs"): _docs_get,
    ("POST", "docs"): _docs_get,
    ("HEAD", "docs"): _docs_head,
    ("PUT", "docs"): _docs_put,
    ("DELETE", "docs"): _docs_delete,
    ("PATCH", "docs"): _docs_patch,
    ("POST", "bulk_docs"): _bulk_docs,
    ("POST", "queries"): _queries,
    ("GET", "queries"): _queries,
    ("DELETE", "queries"): _queries_bulk,
    ("POST", "streams/queries"): _stream_queries,
    ("GET", "streams/queries"): _stream_queries,
    ("PATCH", "queries"): _queries_bulk,
    ("GET", "hilo/next"): _hilo_next,
    ("PUT", "hilo/return"): _hilo_return,
    ("POST", "identity/next"): _identity_next,
    ("POST", "identity/seed"): _identity_seed,
    ("GET", "debug/identities"): _identities,
    ("GET", "collections/stats"): _collection_stats,
    ("GET", "cmpxchg"): _cmpxchg_get,
    ("PUT", "cmpxchg"): _cmpxchg_put,
    ("DELETE", "cmpxchg"): _cmpxchg_delete,
    ("GET", "configuration/client"): _client_configuration,
    ("GET", "stats"): _stats,
    ("GET", "stats/detailed"): _detailed_stats,
    ("GET", "operations/next-operation-id"): _next_operation_id,
    ("GET", "operations/state"): _db_operation_state,
    ("POST", "multi_get"): _multi_get,
}


def dispatch(req: Request) -> Reply:
    """Route a request; RavenError and unknown routes become RavenDB-shaped error replies."""
    path = req.path.rstrip("/") or "/"
    if path.startswith("/databases/"):
        name, _, rest = path[len("/databases/"):].partition("/")
        db_route = DATABASE_ROUTES.get((req.method, rest))
        if db_route is None:
            raise _no_route(req, rest)
        return db_route(req, req.cluster.databases.get(unquote(name)))
    route = SERVER_ROUTES.get((req.method, path))
    if route is None:
        raise _no_route(req, path)
    return route(req)


def _no_route(req: Request, path: str) -> errors.RavenError:
    return errors.RavenError(
        501, "Raven.Server.Routing.RouteNotFoundException",
        f"There is no handler for path: {req.method} {req.path} (the sqla_docstore server "
        "implements a subset of RavenDB's REST API)")
