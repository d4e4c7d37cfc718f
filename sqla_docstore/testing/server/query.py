"""``/queries``: RQL over the embedded store with RavenDB's meaning, and delete/patch by query."""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from ... import values
from ...backends.embedded.store import utc_now_text
from ...errors import DatabaseError, NotSupportedError
from ...statements import ast
from ...statements.parser import parse_rql
from . import errors
from .batch import write_patched
from .database import Database, StoredDoc
from .script import patch_error, run_script
from .writes import Writer, document_dict, document_text

_UPDATE = re.compile(r"\A(.*?)\bupdate\s*\{(.*)\}\s*\Z", re.IGNORECASE | re.DOTALL)
_NO_LIMIT = 2**31 - 1
_RQL_ONLY = {"search", "regex", "lucene", "boost", "fuzzy", "proximity", "intersect",
             "spatial.within", "within", "contains", "moreLikeThis", "morelikethis",
             "score", "highlight", "facet", "counter", "counters", "cmpxchg", "load", "include",
             "timeseries", "array", "distance"}
_COUNT_STAR = ast.ResultColumn(ast.Func("count", (), star=True), "count")
_ID_LABEL = "@@id"  # not a field name: RavenDB reserves names starting with @


@dataclass(frozen=True)
class Prepared:
    """A query rewritten for the store: ``mode`` is "documents", "projection" or "aggregate"."""

    select: ast.Select
    mode: str
    count: ast.Select | None  # the TotalResults query; None when no limit applies
    index_name: str


def split_update(text: str) -> tuple[str, str | None]:
    """``from X where ... update { script }`` -> (query, script)."""
    m = _UPDATE.match(text)
    return (m.group(1), m.group(2)) if m else (text, None)


def _param_value(expr: ast.Expr | None, params: dict[str, Any]) -> Any:
    if expr is None:
        return None
    if isinstance(expr, ast.Param):
        if expr.name not in params:
            raise errors.invalid_query(f"Query parameter ${expr.name} was not given a value")
        return params[expr.name]
    if isinstance(expr, ast.Literal):
        return expr.value
    raise errors.invalid_query("limit takes numbers or parameters")


def page(stmt: ast.Select, params: dict[str, Any], body: dict[str, Any]) -> tuple[int, int | None]:
    """(skip, take) from ``limit`` or the request's Start / PageSize; take None = all."""
    if stmt.limit is not None or stmt.offset is not None:
        skip, take = _param_value(stmt.offset, params), _param_value(stmt.limit, params)
    else:
        skip, take = body.get("Start"), body.get("PageSize")
    if take is not None and int(take) >= _NO_LIMIT:
        take = None
    return int(skip or 0), (None if take is None else int(take))


def parse(text: str) -> ast.Select:
    try:
        stmt = parse_rql(text)
    except DatabaseError as exc:
        # The parser reads a subset of RQL: what it cannot read may well be valid RavenDB RQL
        raise errors.not_supported(
            f"{exc} (the sqla_docstore server implements a subset of RQL)") from exc
    if not isinstance(stmt, ast.Select) or not text.lstrip().lower().startswith("from"):
        raise errors.invalid_query(f"Only RQL 'from <collection>' queries are supported: {text!r}")
    if len(stmt.from_) != 1 or not isinstance(stmt.from_[0], ast.TableRef):
        raise errors.invalid_query(f"An RQL query reads one collection: {text!r}")
    return stmt


@lru_cache(maxsize=1024)
def prepare(text: str, collection: str, nulls: frozenset[str], paged: tuple[bool, bool],
            ) -> Prepared:
    """Rewrite a parsed query for ``collection`` (the store's name for it); cached.

    RavenDB's meaning: comparisons ignore case unless wrapped in ``exact()``, ``= $p`` with a
    null parameter tests for null, ``key()`` / ``count()`` in grouped selects, ``limit $skip,
    $take`` with a null take meaning "all". Constructs the store cannot run give an error
    naming them.
    """
    stmt = parse(text)
    source = stmt.from_[0]
    assert isinstance(source, ast.TableRef)
    refs = {source.ref, source.name}
    where = None if stmt.where is None else _rewrite(stmt.where, False, nulls, refs)
    order = tuple(replace(o, expr=_check(o.expr, refs)) for o in stmt.order_by)
    has_skip, has_take = paged
    grouped = bool(stmt.group_by)
    star = len(stmt.columns) == 1 and isinstance(stmt.columns[0].expr, ast.Star)
    group_by: tuple[ast.Expr, ...] = ()
    if star and not grouped:
        mode, columns = "documents", stmt.columns
    elif grouped:
        mode = "aggregate"
        columns = tuple(_aggregate_column(c, stmt.group_by, refs) for c in stmt.columns
                        if not isinstance(c.expr, ast.Star))
        group_by = tuple(_check(g, refs) for g in stmt.group_by)
    else:
        mode = "projection"
        columns = tuple(replace(c, expr=_check(c.expr, refs)) for c in stmt.columns)
        if not stmt.distinct:
            columns += (ast.ResultColumn(ast.Func("id", ()), _ID_LABEL),)
    # Fields qualified: the core resolves a bare name aliased to itself inside a subquery (the
    # TotalResults count below) to the label, not the field
    # (see tests/testing/server/test_core_bugs.py).
    columns = tuple(replace(c, expr=_qualify(c.expr, source.ref)) for c in columns)
    group_by = tuple(_qualify(g, source.ref) for g in group_by)
    select = ast.Select(
        columns, (ast.TableRef(collection, source.alias),), where, group_by, None, order,
        ast.Param("__take") if has_take else None, ast.Param("__skip") if has_skip else None,
        stmt.distinct)
    count = None
    if has_skip or has_take:
        if mode == "documents" or (mode == "projection" and not stmt.distinct):
            count = ast.Select((_COUNT_STAR,), select.from_, where)
        else:
            inner = replace(select, order_by=(), limit=None, offset=None)
            count = ast.Select((_COUNT_STAR,), (ast.SubqueryRef(inner, "q"),))
    fields = sorted({n.name for n in ast.walk(where) if isinstance(n, ast.Column)})
    index = f"Auto/{source.name}/By" + "And".join(fields) if fields else f"collection/{source.name}"
    return Prepared(select, mode, count, index)


def _check(expr: ast.Expr, refs: set[str]) -> ast.Expr:
    for node in ast.walk(expr):
        if isinstance(node, ast.Column) and node.table is not None and node.table not in refs:
            raise errors.not_supported(
                f"Nested field paths ({node.table}.{node.name}) are not supported by the "
                "sqla_docstore server")
        if isinstance(node, ast.Func) and node.name in _RQL_ONLY:
            raise errors.not_supported(
                f"RQL {node.name}() is not supported by the sqla_docstore server")
    return expr


def _qualify(expr: ast.Expr, ref: str) -> ast.Expr:
    if isinstance(expr, ast.Column) and expr.table is None:
        return ast.Column(ref, expr.name)
    if isinstance(expr, ast.Func):
        return replace(expr, args=tuple(_qualify(a, ref) for a in expr.args))
    return expr


def _nocase(expr: ast.Expr) -> ast.Expr:
    return ast.Func("nocase", (expr,))


def _unmatched(expr: ast.Expr) -> ast.Expr:
    """RavenDB's ``not``/``!=``: every document the query does not match, including those
    where the field is null or missing (SQL's NOT would leave out the unknown ones)."""
    return ast.IsBool(expr, True, negated=True)


def _explicit_null(field: ast.Expr, negated: bool) -> ast.Expr:
    """RavenDB's ``= null`` matches a stored null, not a missing field; ``!= null`` the rest."""
    stored_null = ast.Binary("and", ast.Func("exists", (field,)), ast.IsNull(field))
    return _unmatched(stored_null) if negated else stored_null


def _rewrite(expr: ast.Expr, exact: bool, nulls: frozenset[str], refs: set[str]) -> ast.Expr:
    """RavenDB's where semantics: case-insensitive unless exact(), ``= null`` tests a stored
    null, ``not`` and ``!=`` match the documents the positive form does not."""
    if isinstance(expr, ast.Func) and expr.name == "exact" and len(expr.args) == 1:
        return _rewrite(expr.args[0], True, nulls, refs)
    if isinstance(expr, ast.Binary) and expr.op in ("and", "or"):
        return ast.Binary(expr.op, _rewrite(expr.left, exact, nulls, refs),
                          _rewrite(expr.right, exact, nulls, refs))
    if isinstance(expr, ast.Unary) and expr.op == "not":
        return _unmatched(_rewrite(expr.operand, exact, nulls, refs))
    _check(expr, refs)
    if isinstance(expr, ast.IsNull) and isinstance(expr.expr, ast.Column):
        return _explicit_null(expr.expr, expr.negated)
    if isinstance(expr, ast.Binary) and expr.op in ("=", "!="):
        if isinstance(expr.right, ast.Param) and expr.right.name in nulls:
            return _explicit_null(expr.left, expr.op == "!=")
        left = expr.left if exact else _nocase(expr.left)
        if expr.op == "!=":
            return _unmatched(ast.Binary("=", left, expr.right))
        return ast.Binary("=", left, expr.right)
    if isinstance(expr, ast.InList) and not exact:
        return replace(expr, expr=_nocase(expr.expr))
    if isinstance(expr, ast.Func) and expr.name in ("startswith", "endswith"):
        if len(expr.args) != 2:
            raise errors.invalid_query(f"{expr.name}() takes a field and a value")
        if exact:
            return expr
        value, part = expr.args
        length = ast.Func("length", (part,))
        if expr.name == "startswith":
            piece: ast.Expr = ast.Func("substr", (value, ast.Literal(1), length))
            return ast.Binary("=", _nocase(piece), part)
        piece = ast.Func("substr", (value, ast.Unary("-", length), length))
        long_enough = ast.Binary(">=", ast.Func("length", (value,)), length)
        return ast.Binary("and", long_enough, ast.Binary("=", _nocase(piece), part))
    return expr


def _aggregate_column(col: ast.ResultColumn, group_by: tuple[ast.Expr, ...],
                      refs: set[str]) -> ast.ResultColumn:
    expr = col.expr
    if isinstance(expr, ast.Func) and expr.name == "key" and not expr.args:
        if len(group_by) != 1:
            raise errors.not_supported("key() of a multi-field group by is not supported by the "
                                       "sqla_docstore server; select the fields by name")
        key = group_by[0]
        label = col.alias or (key.name if isinstance(key, ast.Column) else "key")
        return ast.ResultColumn(_check(key, refs), label)
    if isinstance(expr, ast.Func) and expr.name == "count" and not expr.args:
        return ast.ResultColumn(ast.Func("count", (), star=True), col.alias or "Count")
    return replace(col, expr=_check(expr, refs))


def _store_error(exc: DatabaseError) -> errors.RavenError:
    if isinstance(exc, NotSupportedError):
        return errors.not_supported(f"{exc} (not implemented by the sqla_docstore server)")
    return errors.invalid_query(str(exc))


# -- running ---------------------------------------------------------------------------------

def _prepare_request(db: Database, text: str, params: dict[str, Any],
                     body: dict[str, Any]) -> tuple[Prepared | None, dict[str, Any]]:
    """None when the collection does not exist: RavenDB answers an empty result for it."""
    stmt = parse(text)
    source = stmt.from_[0]
    assert isinstance(source, ast.TableRef)
    skip, take = page(stmt, params, body)
    nulls = frozenset(k for k, v in params.items() if v is None)
    collection = db.resolve(source.name)
    prepared = prepare(text, collection or source.name, nulls, (skip > 0, take is not None))
    if collection is None:
        return None, params
    run_params = dict(params)
    run_params["__skip"], run_params["__take"] = skip, take
    return prepared, run_params


def result_etag(db: Database, request_body: bytes) -> str:
    """Changes whenever any document or the schema changes (conservative, cheap)."""
    with db.lock:
        version = db.sql.execute("PRAGMA schema_version").fetchone()[0]
        seed = f"{db.etag()}:{version}:".encode() + request_body
    return str(int.from_bytes(hashlib.md5(seed).digest()[:7], "big"))


def run_query(db: Database, node: str, body: dict[str, Any], etag: str) -> str:
    """The JSON text of a query result (§3.3 of the protocol notes)."""
    started = time.perf_counter()
    text = body.get("Query")
    if not isinstance(text, str):
        raise errors.invalid_query("The request has no 'Query' text")
    params = body.get("QueryParameters") or {}
    with db.lock:
        prepared, run_params = _prepare_request(db, text, params, body)
        results: list[str] = []
        total = 0
        source = parse(text).from_[0]
        index_name = f"collection/{source.name}"  # type: ignore[union-attr]
        if prepared is not None:
            index_name = prepared.index_name
            try:
                results = _results(db, prepared, run_params)
                if prepared.count is None:
                    total = len(results)
                else:
                    total = int(db.reader.query(prepared.count, run_params, None)[1][0][0])
            except DatabaseError as exc:
                raise _store_error(exc) from exc
    now = utc_now_text()
    head = {"TotalResults": total, "LongTotalResults": total, "CappedMaxResults": None,
            "SkippedResults": 0, "DurationInMs": int((time.perf_counter() - started) * 1000),
            "IncludedPaths": None, "IndexName": index_name}
    tail = {"Includes": {}, "IndexTimestamp": now, "LastQueryTime": now, "IsStale": False,
            "ResultEtag": int(etag), "NodeTag": node}
    return (values.dumps(head)[:-1] + ',"Results":[' + ",".join(results) + "],"
            + values.dumps(tail)[1:])


def _results(db: Database, prepared: Prepared, params: dict[str, Any]) -> list[str]:
    if prepared.mode == "documents":
        return [document_text((prepared.select.from_[0].name, *row))  # type: ignore[union-attr]
                for row in db.reader.documents(prepared.select, params)]
    labels, rows = db.reader.query(prepared.select, params, None)
    out = []
    for row in rows:
        item = dict(zip(labels, row, strict=True))
        meta: dict[str, Any] = {"@projection": True}
        doc_id = item.pop(_ID_LABEL, None)
        if doc_id is not None:
            meta["@id"] = doc_id
        item["@metadata"] = meta
        out.append(values.dumps(item))
    return out


def matching_documents(db: Database, index_query: dict[str, Any]) -> list[StoredDoc]:
    """The documents a delete/patch-by-query selects (projections are refused)."""
    text = index_query.get("Query")
    if not isinstance(text, str):
        raise errors.invalid_query("The request has no 'Query' text")
    text, _ = split_update(text)
    params = index_query.get("QueryParameters") or {}
    with db.lock:
        prepared, run_params = _prepare_request(db, text, params, index_query)
        if prepared is None:
            return []
        if prepared.mode != "documents":
            raise errors.invalid_query("Delete and patch by query take a query without select")
        name = prepared.select.from_[0].name  # type: ignore[union-attr]
        try:
            return [(name, *row) for row in db.reader.documents(prepared.select, run_params)]
        except DatabaseError as exc:
            raise _store_error(exc) from exc


def delete_by_query(db: Database, node: str, index_query: dict[str, Any]) -> dict[str, Any]:
    docs = matching_documents(db, index_query)
    with db.write():
        writer = Writer(db, node)
        for doc in docs:
            writer.delete(doc[1], None)
        writer.finish()
    return bulk_result(len(docs), str(index_query.get("Query")))


def patch_by_query(db: Database, node: str, index_query: dict[str, Any]) -> dict[str, Any]:
    text = str(index_query.get("Query"))
    _, script = split_update(text)
    if script is None:
        raise errors.invalid_query("Patch by query needs an 'update { ... }' clause")
    params = index_query.get("QueryParameters") or {}
    docs = matching_documents(db, index_query)
    processed = 0
    with db.write():
        writer = Writer(db, node)
        for doc in docs:
            current_row = writer.find(doc[1])
            if current_row is None:
                continue  # deleted meanwhile
            current = document_dict(current_row)
            try:
                patched = run_script(script, current, {}, params)
            except Exception as exc:
                raised = patch_error(exc)
                if raised is None:
                    raise
                raise raised from exc
            write_patched(writer, current_row, current, patched, "PATCH", False)
            processed += 1
        writer.finish()
    return bulk_result(processed, text)


def bulk_result(count: int, query: str) -> dict[str, Any]:
    return {"$type": "Raven.Client.Documents.Operations.BulkOperationResult, Raven.Client",
            "Total": count, "Message": f"Processed {count} items.", "Details": [],
            "Query": query, "DocumentsProcessed": count, "AttachmentsProcessed": 0,
            "CountersProcessed": 0, "TimeSeriesProcessed": 0}
