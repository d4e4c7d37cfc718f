"""``/queries``: RQL with RavenDB's meaning (rql.py) over the stored documents, and
delete/patch by query."""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import re
import time
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import Any

from ... import values
from ...backends.embedded.store import collection_table, utc_now_text
from ...errors import DatabaseError
from ...statements import ast
from ...statements.parser import parse_rql
from . import documents, errors, rql
from .batch import write_patched
from .database import Database, StoredDoc
from .documents import etag_number
from .script import patch_error, run_script
from .writes import Writer, document_dict, document_text

_UPDATE = re.compile(r"\A(.*?)\bupdate\s*\{(.*)\}\s*\Z", re.IGNORECASE | re.DOTALL)
_NO_LIMIT = 2**31 - 1


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


def sql_literals(text: str) -> str:
    """RQL's string literals (single- or double-quoted, with ``\\'`` ``\\"`` ``\\\\`` escapes)
    as the statement parser's single-quoted ones (``''`` inside); ``''`` stays a quote."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch not in "'\"":
            out.append(ch)
            i += 1
            continue
        quote, i, chars = ch, i + 1, []
        while i < n:
            c = text[i]
            if c == "\\" and i + 1 < n:
                chars.append(text[i + 1])
                i += 2
            elif c == quote and text[i + 1:i + 2] == quote:
                chars.append(quote)
                i += 2
            elif c == quote:
                i += 1
                break
            else:
                chars.append(c)
                i += 1
        else:
            raise errors.invalid_query(f"Unterminated string literal in {text!r}")
        out.append("'" + "".join(chars).replace("'", "''") + "'")
    return "".join(out)


_INCLUDE = re.compile(r"\binclude\b", re.IGNORECASE)
_LIMIT = re.compile(r"\blimit\b", re.IGNORECASE)
_CMPXCHG = re.compile(r"\Acmpxchg\s*\(\s*'((?:[^']|'')*)'\s*\)\Z", re.IGNORECASE)


@dataclass(frozen=True)
class Includes:
    documents: tuple[str, ...] = ()
    compare_exchange: tuple[str, ...] = ()


def _masked(text: str) -> str:
    """``text`` (single-quoted literals) with the literals' insides blanked."""
    return re.sub(r"'(?:[^']|'')*'", lambda m: "'" + " " * (len(m.group()) - 2) + "'", text)


def _split_items(text: str) -> list[str]:
    items, depth, start = [], 0, 0
    masked = _masked(text)
    for i, ch in enumerate(masked):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            items.append(text[start:i].strip())
            start = i + 1
    items.append(text[start:].strip())
    return [i for i in items if i]


def split_include(text: str) -> tuple[str, Includes]:
    """RQL's ``include`` clause (document paths and ``cmpxchg('path')``) taken out of
    ``text``; other includes (timings, counters, time series...) answer 501."""
    masked = _masked(text)
    found = _INCLUDE.search(masked)
    if found is None:
        return text, Includes()
    end = _LIMIT.search(masked, found.end())
    stop = end.start() if end else len(text)
    paths, keys = [], []
    for item in _split_items(text[found.end():stop]):
        value = _CMPXCHG.match(item)
        if value:
            keys.append(value.group(1).replace("''", "'"))
        elif item.startswith("'") and item.endswith("'"):
            paths.append(item[1:-1].replace("''", "'"))
        elif re.fullmatch(r"[\w@$.\[\]]+", item):
            paths.append(item)
        else:
            raise rql.unsupported(f"RQL include {item}")
    return text[:found.start()] + " " + text[stop:], Includes(tuple(paths), tuple(keys))


#: an identifier path holding ``[]`` (``lines[].product``, ``o.lines[].product``), not a call
_NAME = r"[A-Za-z_@][\w@]*(?:\[\])?"
_ARRAY_PATH = re.compile(rf"(?<![\w@$.\]\"'])({_NAME}(?:\.{_NAME})*)(?!\s*\()")
_KEYWORDS = frozenset({"where", "and", "or", "not"})
_ALL_IN = re.compile(r"(\"[^\"]*\"|'(?:[^']|'')*'|[\w@$.]+)\s+all\s+in\s*\(", re.IGNORECASE)


def rewrite_rql(text: str) -> str:
    """What the statement parser cannot read, as what it can (``text`` has single-quoted
    literals only): ``lines[].product`` becomes the quoted identifier ``"lines[].product"``
    (rql.path_segments splits it again) and ``x all in (a, b)`` the call
    ``__rql_all_in(x, a, b)``."""
    def paths(masked: str, source: str) -> str:
        out, last = [], 0
        for m in _ARRAY_PATH.finditer(masked):
            if rql.ARRAY in m.group(1):
                out += [source[last:m.start(1)], '"', m.group(1), '"']
                last = m.end(1)
        return "".join(out) + source[last:]
    text = _where_before_group_by(paths(_masked(text), text))
    out, last = [], 0
    masked = _masked(text)
    for m in _ALL_IN.finditer(masked):
        if m.group(1).lower() in _KEYWORDS:  # ``where all in (...)``: a field named all
            continue
        out += [text[last:m.start()], f"{rql.ALL_IN}(", text[m.start(1):m.end(1)], ", "]
        last = m.end()
    return "".join(out) + text[last:]


_GROUP_BY = re.compile(r"\bgroup\s+by\b", re.IGNORECASE)
_WHERE = re.compile(r"\bwhere\b", re.IGNORECASE)
_WHERE_END = re.compile(r"\b(?:order\s+by|select|limit|offset|load|include)\b", re.IGNORECASE)


def _where_before_group_by(text: str) -> str:
    """RQL's ``group by ... where ...`` in the statement parser's order (where first)."""
    masked = _masked(text)
    group = _GROUP_BY.search(masked)
    where = _WHERE.search(masked, group.end()) if group else None
    if group is None or where is None:
        return text
    end = _WHERE_END.search(masked, where.end())
    stop = end.start() if end else len(text)
    return (text[:group.start()] + text[where.start():stop].rstrip() + " "
            + text[group.start():where.start()] + text[stop:])


def parse(text: str) -> ast.Select:
    return _parse(rewrite_rql(split_include(sql_literals(text))[0]), text)


def _parse(sql_text: str, text: str) -> ast.Select:
    try:
        stmt = parse_rql(sql_text)
    except DatabaseError as exc:
        # The parser reads a subset of RQL: what it cannot read may well be valid RavenDB RQL
        raise errors.not_supported(
            f"{exc} (the sqla_docstore server implements a subset of RQL)") from exc
    if not isinstance(stmt, ast.Select) or not text.lstrip().lower().startswith("from"):
        raise errors.invalid_query(f"Only RQL 'from <collection>' queries are supported: {text!r}")
    if len(stmt.from_) != 1 or not isinstance(stmt.from_[0], ast.TableRef):
        raise errors.invalid_query(f"An RQL query reads one collection: {text!r}")
    return stmt


class Mode(Enum):
    DOCUMENTS = "documents"
    PROJECTION = "projection"
    AGGREGATE = "aggregate"


@dataclass(frozen=True)
class Plan:
    """A parsed query checked for what the server implements (cached by its text)."""

    stmt: ast.Select
    mode: Mode
    source: str  # the collection as the query names it
    refs: frozenset[str]
    index_name: str
    fields: tuple[str, ...]  # the fields its where reads (an auto index's map fields)
    includes: Includes
    order_types: tuple[str | None, ...]  # ``as long`` ... of each order by item


@lru_cache(maxsize=1024)
def plan(text: str) -> Plan:
    body, includes = split_include(sql_literals(text))
    body = rewrite_rql(body)
    stmt = _parse(body, text)
    source = stmt.from_[0]
    assert isinstance(source, ast.TableRef)
    if stmt.having is not None:
        raise rql.unsupported("RQL 'having'")
    rql.check_functions(stmt)
    star = len(stmt.columns) == 1 and isinstance(stmt.columns[0].expr, ast.Star)
    if stmt.group_by:
        mode = Mode.AGGREGATE
    elif star:
        mode = Mode.DOCUMENTS
    elif any(isinstance(c.expr, ast.Star) for c in stmt.columns):
        raise rql.unsupported("'*' beside other projected fields")
    else:
        mode = Mode.PROJECTION
    refs = frozenset({source.ref, source.name})
    fields = sorted({rql.path_text(rql.path_segments(n, refs)) for n in ast.walk(stmt.where)
                     if isinstance(n, ast.Column)})
    index = f"Auto/{source.name}/By" + "And".join(fields) if fields else f"collection/{source.name}"
    return Plan(stmt, mode, source.name, refs, index,
                tuple(fields), includes, order_types(body, len(stmt.order_by)))


def _field_options() -> dict[str, Any]:
    return {"Storage": "No", "Indexing": "Default", "Aggregation": "None", "Spatial": None,
            "GroupByArrayBehavior": "NotApplicable", "Suggestions": False,
            "IsNameQuoted": False}


def _record_auto_index(db: Database, p: Plan) -> None:
    if not p.fields or p.index_name in db.auto_indexes or p.source.lower() == rql.ALL_DOCS:
        return
    db.auto_indexes[p.index_name] = {
        "Type": "AutoMap", "Name": p.index_name, "Priority": "Normal", "State": "Normal",
        "Collection": p.source, "MapFields": {f: _field_options() for f in p.fields},
        "GroupByFields": {}}


# -- running ---------------------------------------------------------------------------------

_SAFE = 2**53
_RANGE = {"=": "=", "<": "<=", "<=": "<=", ">": ">=", ">=": ">="}  # non-strict: a superset


def _conjuncts(e: ast.Expr | None) -> list[ast.Expr]:
    if isinstance(e, ast.Binary) and e.op == "and":
        return _conjuncts(e.left) + _conjuncts(e.right)
    return [] if e is None else [e]


def _prefilter(where: ast.Expr | None, params: dict[str, Any]) -> tuple[str, list[Any]]:
    """SQL keeping a superset of the documents ``where`` matches (the store's index does the
    selective part; rql.py decides): exact string and short-number comparisons of a
    top-level field, arrays always kept."""
    parts: list[str] = []
    args: list[Any] = []
    for e in _conjuncts(where):
        exact = isinstance(e, ast.Func) and e.name == "exact" and len(e.args) == 1
        if exact and isinstance(e, ast.Func):
            e = e.args[0]
        if not (isinstance(e, ast.Binary) and e.op in _RANGE and isinstance(e.left, ast.Column)
                and e.left.table is None and isinstance(e.right, ast.Param)):
            continue
        value: Any = params.get(e.right.name)
        short = rql.is_number(value) and -_SAFE < value < _SAFE
        if not (short or (exact and e.op == "=" and isinstance(value, str))):
            continue
        name = e.left.name
        if '"' in name or "\\" in name or "." in name or rql.ARRAY in name:
            continue
        path = f'$."{name}"'
        parts.append(f"(json_extract(body, ?) {_RANGE[e.op]} ? OR json_type(body, ?) = 'array')")
        args += [path, float(value) if isinstance(value, decimal.Decimal) else value, path]
    return " AND ".join(parts), args


def _documents(db: Database, name: str, where: ast.Expr | None,
               params: dict[str, Any], indexed_until: str | None = None) -> list[rql.Doc]:
    """The documents of a collection (none for an unknown one; every one for @all_docs) in
    the order they were last written (their etags: a table's rows are in the order of their
    keys, ``orders/5`` before ``orders/7`` whenever they were written), narrowed by a
    superset filter of ``where``; with ``indexed_until``, only those last modified by then
    (what a lagging index holds)."""
    condition, args = _prefilter(where, params)
    if indexed_until is not None:
        condition = " AND ".join(filter(None, [condition, "modified <= ?"]))
        args = [*args, indexed_until]
    tail = f" WHERE {condition}" if condition else ""
    with db.lock:
        if name.lower() == rql.ALL_DOCS:
            names = db.collections()
        else:
            found = db.resolve(name)
            names = [] if found is None else [found]
        cv = db.store.change_vector  # (the store keeps its own as their etags)
        rows: list[StoredDoc] = [
            (n, doc_id, body, cv(stored), *rest) for n in names
            for doc_id, body, stored, *rest in db.sql.execute(
                f"SELECT id, body, cv, modified, meta FROM {collection_table(n)}{tail}", args)]
    rows.sort(key=lambda row: etag_number(row[3]))
    return [rql.Doc(row, values.loads(row[2])) for row in rows]


def _matching(db: Database, p: Plan, ev: rql.Evaluator,
              indexed_until: str | None = None) -> list[rql.Doc]:
    docs = _documents(db, p.source, p.stmt.where, ev.params, indexed_until)
    where = p.stmt.where
    if where is not None:
        docs = [d for d in docs if ev.matches(where, d)]
    if p.mode is not Mode.AGGREGATE:
        docs = _ordered(docs, p.stmt.order_by, p.order_types, ev)
    return docs


def _ordered(docs: list[rql.Doc], items: tuple[ast.OrderItem, ...],
             types: tuple[str | None, ...], ev: rql.Evaluator) -> list[rql.Doc]:
    if not items:
        return docs
    first = items[0].expr
    if isinstance(first, ast.Func) and first.name == "random":
        seed = ev.value(first.args[0]) if first.args else None
        return rql.shuffled(docs, seed)
    keys = []
    for item, as_type in zip(items, types, strict=True):
        expr = item.expr
        if not (ev.is_field(expr) or (isinstance(expr, ast.Literal)
                                      and isinstance(expr.value, str))):
            raise rql.unsupported(f"Ordering by {type(expr).__name__}")
        keys.append((lambda d, expr=expr, t=as_type: rql.typed_sort_key(ev.field(expr, d), t),
                     item.desc))
    return rql.order(docs, keys)


_ORDER_BY = re.compile(r"\border\s+by\b", re.IGNORECASE)
_ORDER_END = re.compile(r"\b(?:select|limit|include|load|offset)\b", re.IGNORECASE)
_AS_TYPE = re.compile(r"\bas\s+(long|double|string|alphanumeric)\b", re.IGNORECASE)


def order_types(sql_text: str, count: int) -> tuple[str | None, ...]:
    """The ``as <type>`` of each ``order by`` item (the statement parser drops them)."""
    masked = _masked(sql_text)
    found = _ORDER_BY.search(masked)
    if found is None or count == 0:
        return (None,) * count
    end = _ORDER_END.search(masked, found.end())
    clause = sql_text[found.end():end.start() if end else len(sql_text)]
    items = _split_items(clause)
    if len(items) != count:
        raise rql.unsupported(f"The order by clause {clause.strip()!r}")
    types = []
    for item in items:
        typed = _AS_TYPE.search(_masked(item))
        types.append(typed.group(1).lower() if typed else None)
    return tuple(types)


def _paged(items: list[Any], skip: int, take: int | None) -> list[Any]:
    return items[skip:] if take is None else items[skip:skip + take]


def _projection(p: Plan, docs: list[rql.Doc], ev: rql.Evaluator) -> list[dict[str, Any]]:
    columns = []
    for col in p.stmt.columns:
        expr = col.expr
        if isinstance(expr, ast.Column):  # a path is named by its text: Address.City
            label = col.alias or rql.path_text(rql.path_segments(expr, p.refs))
        elif isinstance(expr, ast.Literal) and isinstance(expr.value, str):
            label = col.alias or expr.value
        elif isinstance(expr, ast.Func) and expr.name == "id" and not expr.args:
            label = col.alias or "id()"
        else:
            raise rql.unsupported(f"Projecting {type(expr).__name__} (only fields, paths and "
                                  "id())")
        columns.append((label, expr))
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for doc in docs:
        item = {label: ev.projected(expr, doc) for label, expr in columns}
        if p.stmt.distinct:
            key = values.dumps(item)
            if key in seen:
                continue
            seen.add(key)
            item["@metadata"] = {"@projection": True}
        else:
            item["@metadata"] = {"@projection": True, "@id": doc.id}
        out.append(item)
    return out


def _sum(items: list[Any]) -> Any:
    numbers = [v for v in items if rql.is_number(v)]
    if all(isinstance(v, int) for v in numbers):
        return sum(numbers)
    return sum(float(v) for v in numbers)  # RavenDB sums doubles


class GroupKind(Enum):
    FIELD = "field"  # group by x, a.b: one key per document
    FAN_OUT = "fan-out"  # group by lines[].product: one entry per element of lines
    ARRAY = "array"  # group by array(lines[].product): the whole list is the key


@dataclass(frozen=True)
class GroupField:
    kind: GroupKind
    segments: tuple[str, ...]

    @property
    def text(self) -> str:
        return rql.path_text(self.segments)

    @property
    def array(self) -> tuple[str, ...]:
        """The array a fan-out field iterates (the path before its ``[]``)."""
        return self.segments[:self.segments.index(rql.ARRAY)]


@dataclass(frozen=True)
class Entry:
    """What one document (or one element of its array) gives a group."""

    doc: rql.Doc
    element: Any  # the element of the fanned-out array, or MISSING


def _group_fields(p: Plan) -> list[GroupField]:
    out = []
    for g in p.stmt.group_by:
        inner = g.args[0] if isinstance(g, ast.Func) and g.name == "array" and len(
            g.args) == 1 else g
        if not isinstance(inner, ast.Column):
            raise rql.unsupported(f"group by {rql.show(g)}")
        segments = rql.path_segments(inner, p.refs)
        arrays = segments.count(rql.ARRAY)
        if inner is not g:
            if arrays != 1:
                raise rql.unsupported("group by array() of a path without exactly one '[]'")
            out.append(GroupField(GroupKind.ARRAY, segments))
        elif arrays == 0:
            out.append(GroupField(GroupKind.FIELD, segments))
        elif arrays == 1:
            out.append(GroupField(GroupKind.FAN_OUT, segments))
        else:
            raise rql.unsupported("group by a path through nested arrays")
    if len({f.array for f in out if f.kind is GroupKind.FAN_OUT}) > 1:
        raise rql.unsupported("group by elements of two different arrays")
    return out


def _entries(doc: rql.Doc, fields: list[GroupField]) -> list[Entry]:
    fan = next((f for f in fields if f.kind is GroupKind.FAN_OUT), None)
    if fan is None:
        return [Entry(doc, rql.MISSING)]
    items = rql.resolve(doc.body, fan.array)
    return [Entry(doc, item) for item in items] if isinstance(items, list) else []


def _read(entry: Entry, segments: tuple[str, ...], fan: tuple[str, ...] | None) -> Any:
    """A path's value for one entry: below the fanned-out array, from the entry's element."""
    if fan is not None and segments[:len(fan) + 1] == (*fan, rql.ARRAY):
        value = rql.resolve(entry.element, segments[len(fan) + 1:])
    else:
        value = rql.resolve(entry.doc.body, segments)
    return None if value is rql.MISSING else value


def _aggregate(p: Plan, docs: list[rql.Doc], ev: rql.Evaluator) -> list[dict[str, Any]]:
    """``group by`` as RavenDB's auto map-reduce indexes answer it: plain fields and paths,
    ``lines[].product`` (an entry per element; fields below one array go together) and
    ``array(lines[].product)`` (the list is the key); count() counts entries."""
    fields = _group_fields(p)
    fan = next((f.array for f in fields if f.kind is GroupKind.FAN_OUT), None)
    groups: dict[str, tuple[list[Any], list[Entry]]] = {}
    for doc in docs:
        for entry in _entries(doc, fields):
            key_values = [_read(entry, f.segments, fan) for f in fields]
            groups.setdefault(values.dumps(key_values), (key_values, []))[1].append(entry)
    texts = [f.text for f in fields]

    def field_text(expr: ast.Expr) -> str | None:
        inner = expr.args[0] if isinstance(expr, ast.Func) and expr.name == "array" and len(
            expr.args) == 1 else expr
        if isinstance(inner, ast.Column):
            return rql.path_text(rql.path_segments(inner, p.refs))
        return None

    def aggregate(expr: ast.Expr, key_values: list[Any], members: list[Entry]) -> Any:
        if isinstance(expr, ast.Func) and expr.name == "count" and (expr.star or not expr.args):
            return len(members)
        if isinstance(expr, ast.Func) and expr.name == "sum" and len(expr.args) == 1 \
                and isinstance(expr.args[0], ast.Column):
            segments = rql.path_segments(expr.args[0], p.refs)
            return _sum([_read(m, segments, fan) for m in members])
        if isinstance(expr, ast.Func) and expr.name == "key" and not expr.args:
            if len(fields) != 1:
                raise rql.unsupported("key() of a multi-field group by")
            return key_values[0]
        text = field_text(expr)
        if text in texts:
            return key_values[texts.index(text)]
        raise rql.unsupported(f"{rql.show(expr)} in a grouped select (key(), count(), sum() "
                              "and the grouped fields are)")

    def label(col: ast.ResultColumn) -> str:
        expr = col.expr
        if col.alias:
            return col.alias
        if isinstance(expr, ast.Func) and expr.name == "count":
            return "Count"
        if isinstance(expr, ast.Func) and expr.name == "key":
            return texts[0] if texts else "Key"
        if isinstance(expr, ast.Func) and expr.args and isinstance(expr.args[0], ast.Column):
            return field_text(expr.args[0]) or rql.show(expr)  # sum(age) is named age
        return field_text(expr) or rql.show(expr)

    columns = [c for c in p.stmt.columns if not isinstance(c.expr, ast.Star)]
    rows = []
    for key_values, members in groups.values():
        row = {label(c): aggregate(c.expr, key_values, members) for c in columns}
        row["@metadata"] = {"@projection": True}
        rows.append((row, key_values, members))
    keys = []
    for item in p.stmt.order_by:
        expr = item.expr
        if isinstance(expr, ast.Column) and expr.table is None and any(
                label(c) == expr.name for c in columns):
            keys.append((lambda r, name=expr.name: rql.sort_key(r[0][name]), item.desc))
        else:
            keys.append((lambda r, expr=expr: rql.sort_key(aggregate(expr, r[1], r[2])),
                         item.desc))
    return [row for row, _, _ in rql.order(rows, keys)]


def result_etag(db: Database, request_body: bytes) -> str:
    """Changes whenever any document, compare-exchange value or the schema changes
    (conservative, cheap)."""
    with db.lock:
        version = db.sql.execute("PRAGMA schema_version").fetchone()[0]
        raft = db.sql.execute(  # compare-exchange writes (a query may include values)
            """SELECT value FROM "@meta" WHERE key = 'raft_index'""").fetchone()
        seed = f"{db.etag()}:{version}:{raft[0] if raft else 0}:".encode() + request_body
    return str(int.from_bytes(hashlib.md5(seed).digest()[:7], "big"))


def run_query(db: Database, node: str, body: dict[str, Any], etag: str) -> str:
    """The JSON text of a query result (§3.3 of the protocol notes)."""
    started = time.perf_counter()
    text = body.get("Query")
    if not isinstance(text, str):
        raise errors.invalid_query("The request has no 'Query' text")
    params = body.get("QueryParameters") or {}
    p = plan(text)
    skip, take = page(p.stmt, params, body)
    ev = rql.Evaluator(set(p.refs), params)
    indexed_until, stale = _index_state(db, p.source, body)
    docs = _matching(db, p, ev, indexed_until)
    with db.lock:
        _record_auto_index(db, p)
    included: dict[str, str] = {}
    values_included: dict[str, Any] = {}
    if p.mode is Mode.DOCUMENTS:
        total = len(docs)
        shown = [d.row for d in _paged(docs, skip, take)]
        results = [document_text(row) for row in shown]
        included = documents.includes_of(db, list(shown), list(p.includes.documents))
        values_included = documents.compare_exchange_includes_of(
            db, list(shown), list(p.includes.compare_exchange))
    elif p.includes != Includes():
        raise rql.unsupported("include with a projection")
    else:
        rows = _projection(p, docs, ev) if p.mode is Mode.PROJECTION else _aggregate(p, docs, ev)
        total = len(rows)
        results = [values.dumps(r) for r in _paged(rows, skip, take)]
    now = utc_now_text()
    head = {"TotalResults": total, "LongTotalResults": total, "CappedMaxResults": None,
            "SkippedResults": 0, "DurationInMs": int((time.perf_counter() - started) * 1000),
            "IncludedPaths": None, "IndexName": p.index_name}
    tail: dict[str, Any] = {"Includes": {k: values.loads(v) for k, v in included.items()},
                            "IndexTimestamp": now, "LastQueryTime": now, "IsStale": stale,
                            "ResultEtag": int(etag), "NodeTag": node}
    if values_included:
        tail["CompareExchangeValueIncludes"] = values_included
    return (values.dumps(head)[:-1] + ',"Results":[' + ",".join(results) + "],"
            + values.dumps(tail)[1:])


def _index_state(db: Database, source: str, body: dict[str, Any]) -> tuple[str | None, bool]:
    """(the newest write the collection's index holds, or None for all; whether the index is
    stale) under the database's simulated index lag. A query that asks
    WaitForNonStaleResults waits until the lag has passed its newest write (up to its
    timeout, then it answers stale, as RavenDB does after a wait timeout)."""
    if db.index_lag <= 0:
        return None, False
    def newest() -> str | None:
        with db.lock:
            names = db.collections() if source.lower() == rql.ALL_DOCS else [
                n for n in [db.resolve(source)] if n is not None]
            stamps = [db.sql.execute(f"SELECT max(modified) FROM {collection_table(n)}"
                                     ).fetchone()[0] for n in names]
        return max((s for s in stamps if s), default=None)
    def cutoff() -> str:
        moment = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=db.index_lag)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}0Z"
    if body.get("WaitForNonStaleResults"):
        deadline = time.monotonic() + _timespan(body.get("WaitForNonStaleResultsTimeout"))
        while time.monotonic() < deadline:
            latest = newest()
            if latest is None or latest <= cutoff():
                return None, False
            time.sleep(0.01)
    until = cutoff()
    latest = newest()
    return until, latest is not None and latest > until


def _timespan(text: Any, default: float = 15.0) -> float:
    """Seconds of a C# TimeSpan (``hh:mm:ss[.fff]``, RavenDB's wait timeouts)."""
    if not isinstance(text, str):
        return default
    try:
        hours, minutes, seconds = text.split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    except ValueError:
        return default


def matching_documents(db: Database, index_query: dict[str, Any]) -> list[StoredDoc]:
    """The documents a delete/patch-by-query selects (projections are refused)."""
    text = index_query.get("Query")
    if not isinstance(text, str):
        raise errors.invalid_query("The request has no 'Query' text")
    text, _ = split_update(text)
    params = index_query.get("QueryParameters") or {}
    p = plan(text)
    if p.mode is not Mode.DOCUMENTS:
        raise errors.invalid_query("Delete and patch by query take a query without select")
    skip, take = page(p.stmt, params, index_query)
    docs = _matching(db, p, rql.Evaluator(set(p.refs), params))
    return [d.row for d in _paged(docs, skip, take)]


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
