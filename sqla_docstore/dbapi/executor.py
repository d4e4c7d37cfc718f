"""Turns parsed statements into reads and pending batch commands (the unit of work's core).

Writes never reach the store here: INSERT, UPDATE and DELETE resolve, at execute time, to PUT,
PATCH and DELETE commands in the connection's pending batch, so ``rowcount`` is exact and reads
in the same transaction see them.
"""

from __future__ import annotations

import collections
import copy
import decimal
import functools
import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from operator import itemgetter
from typing import Any, NamedTuple, Protocol

from .. import rowexpr, values
from ..affinity import (
    SQL_JSON_STORED,
    Conversion,
    compared_field,
    compared_with,
    integer_affinity,
    text_affinity,
    written,
)
from ..backends.base import BackendConnection
from ..commands import CreateRun, Delete, LazyBodies, Patch, PatchRun, Put, Recompute
from ..errors import (
    ConcurrencyError,
    DataError,
    DuplicateKeyError,
    IntegrityError,
    NotSupportedError,
    ProgrammingError,
)
from ..generated import (
    affected_generated,
    default_expr,
    generated_recomputes,
    generated_values,
    refuse_generated,
    stored_computed,
    stored_form,
)
from ..pending import PendingBatch, is_gone
from ..schema import CollectionSpec
from ..statements import ast
from ..statements.prepared import prepared
from ..values import JSON_NULL
from . import insert_columns
from .params import Positional


@dataclass
class Outcome:
    columns: list[str] = field(default_factory=list)
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    rowcount: int = -1
    lastrowid: int | None = None
    #: an upsert inserted no row (it skipped or updated them): sqlite3's lastrowid is then
    #: the rowid the connection inserted last
    inserted_none: bool = False


def _value(expr: ast.Expr, params: dict[str, Any],
           convert: Callable[[Any], Any] | None = None) -> Any:
    """The value of a parameter or literal in its stored form; ``convert``: first made what a
    column's affinity stores of it (``Conversion.apply``)."""
    if isinstance(expr, ast.Param):
        try:
            value = params[expr.name]
        except KeyError as exc:
            raise ProgrammingError(f"no value given for parameter {expr.name!r}") from exc
        if convert is not None:
            value = convert(value)
        return value if value is JSON_NULL else values.to_json(value)  # (settled_changes)
    assert isinstance(expr, ast.Literal)
    return expr.value if convert is None else convert(expr.value)


def _is_plain(expr: ast.Expr) -> bool:
    return isinstance(expr, (ast.Param, ast.Literal))


#: the types of the values ``values.to_json`` gives back as they are
_AS_GIVEN = frozenset({str, int, float, bool, type(None), decimal.Decimal})


def _plain_columns(exprs: tuple[ast.Expr, ...] | list[ast.Expr],
                   param_sets: list[dict[str, Any]]) -> list[list[Any]] | None:
    """``_value`` of each expression over the parameter sets, a list per expression, when
    every value is given and stored as given (strings, numbers, ...: one pass per
    expression); None when a value is missing, converted or refused, or an expression is
    not a parameter or literal: then ``_value`` of each, set by set, gives the values or
    the error."""
    out = []
    for expr in exprs:
        if isinstance(expr, ast.Literal):
            out.append([expr.value] * len(param_sets))
            continue
        if not isinstance(expr, ast.Param):
            return None
        name = expr.name
        try:
            column = [params[name] for params in param_sets]
        except KeyError:
            return None
        if not set(map(type, column)) <= _AS_GIVEN:
            return None
        out.append(column)
    return out


# ------------------------------------------------------------------------------ reads


def run_select(
    backend: BackendConnection, stmt: ast.SelectLike, params: dict[str, Any],
    pending: PendingBatch,
) -> Outcome:
    if isinstance(stmt, ast.Select) and stmt.for_update:
        return _run_guarded(backend, stmt, params, pending)
    return _run_select(backend, stmt, params, pending)


def _run_guarded(backend: BackendConnection, stmt: ast.Select, params: dict[str, Any],
                 pending: PendingBatch) -> Outcome:
    """SELECT ... FOR UPDATE on a store without locks: every stored document the rows are
    read from is guarded by the change vector it was read with (a PATCH that changes
    nothing, checked in the commit's batch), so if another transaction changes or deletes
    one before this one commits, this commit fails whole (a StaleDataError in SQLAlchemy).
    Documents this transaction wrote already are its own and need no guard."""
    outer, pending.seen = pending.seen, {}
    noting, pending.note_reads = pending.note_reads, True  # (with their change vectors)
    try:
        out = _run_select(backend, stmt, params, pending)
    finally:
        pending.note_reads = noting
        read, pending.seen = pending.seen, outer
        outer.update(read)
    prefixes = sorted(((backend.spec(t.name).prefix.lower() + "/", t.name)
                       for t in ast.walk(stmt.from_, (ast.SubqueryRef,))
                       if isinstance(t, ast.TableRef)), reverse=True)
    versionless: dict[str, list[str]] = {}
    for doc_id, (_, cv) in read.items():
        collection = next((name for head, name in prefixes
                           if doc_id[:len(head)].lower() == head), None)
        if collection is None:
            raise NotSupportedError(f"FOR UPDATE: document {doc_id!r} belongs to no table "
                                    "of the FROM clause")
        if pending.get(collection, doc_id) is not None:
            continue  # written by this transaction: its own write is checked at commit
        if cv:
            pending.add_guard(Patch(collection, doc_id, {}, cv, seen=cv))
        else:  # read without its version (a projection): guard the version stored now
            versionless.setdefault(collection, []).append(doc_id)
    for collection, ids in versionless.items():
        found = backend.get_documents(collection, ids, None)
        for doc_id in ids:
            doc = found.get(doc_id)
            if doc is None or not doc[2]:
                raise ConcurrencyError(f"document {doc_id!r}, read FOR UPDATE, was deleted by "
                                       "another transaction", (doc_id,))
            pending.add_guard(Patch(collection, doc_id, {}, doc[2], seen=doc[2]))
    return out


def _run_select(
    backend: BackendConnection, stmt: ast.SelectLike, params: dict[str, Any],
    pending: PendingBatch,
) -> Outcome:
    point = point_lookup(backend, stmt)
    if point is not None:
        loaded = run_point(backend, point, params, pending)
        if loaded is not None:
            return loaded
    columns, rows = backend.query(stmt, params, pending)
    return Outcome(columns, rows, -1)


def warm_point(backend: BackendConnection, stmt: ast.SelectLike) -> PointLookup | None:
    """The load by key a query is (as ``run_select`` runs it), or None: what the DB-API
    keeps for a statement text while the backend's schema token stands."""
    if isinstance(stmt, ast.Select) and stmt.for_update:
        return None  # read with guards (run_select)
    result: PointLookup | None = point_lookup(backend, stmt)
    return result


def point_rows(backend: BackendConnection, point: PointLookup, params: dict[str, Any],
               pending: PendingBatch) -> list[tuple[Any, ...]] | None:
    """``run_point``'s rows alone (its columns are ``point.labels``)."""
    keys = point.keys
    if len(keys) == 1 and len(keys[0]) == 1:
        return key_rows(backend, point, _value(keys[0][0], params), pending)
    outcome = run_point(backend, point, params, pending)
    return None if outcome is None else outcome.rows


def key_param(point: PointLookup) -> str | None:
    """The name of the parameter that is a point's one key value (``t.id = ?``), if it is
    one: its value, as ``to_json`` makes it, is all ``key_rows`` needs."""
    keys = point.keys
    if len(keys) == 1 and len(keys[0]) == 1 and isinstance(keys[0][0], ast.Param):
        return keys[0][0].name
    return None


def stream_select(
    backend: BackendConnection, stmt: ast.SelectLike, params: dict[str, Any],
    pending: PendingBatch, size: int,
) -> tuple[list[str], Iterator[list[tuple[Any, ...]]]] | None:
    """The query's rows in chunks of ``size`` as the store produces them (bounded memory),
    or None where this backend cannot stream this query (the caller reads it whole)."""
    stream = getattr(backend, "query_stream", None)
    if stream is None or point_lookup(backend, stmt) is not None:
        return None
    result: tuple[list[str], Iterator[list[tuple[Any, ...]]]] | None = stream(
        stmt, params, pending, size)
    return result


@dataclass(frozen=True)
class PointLookup:
    spec: CollectionSpec
    keys: tuple[tuple[ast.Expr, ...], ...]  # each in primary-key order (several: pk IN (...))
    labels: tuple[str, ...]
    fields: tuple[str, ...]

    @cached_property
    def int_prefix(self) -> str | None:
        """The id prefix an integer key value follows (``{prefix}/{value}``), if it does."""
        spec = self.spec
        return spec.prefix if len(spec.primary_key) == 1 and not spec.key_is_id else None

    @cached_property
    def int_key(self) -> bool:
        """Whether an integer compared with the (first) key field is compared as it is."""
        return compared_field(self.spec, self.spec.primary_key[0], 1) == 1

    @cached_property
    def _pick(self) -> Any:
        return itemgetter(*self.fields) if len(self.fields) > 1 else None

    def row(self, body: dict[str, Any]) -> tuple[Any, ...]:
        """The result row of a document: its fields, None for one it lacks."""
        pick = self._pick
        if pick is not None:
            try:
                row: tuple[Any, ...] = pick(body)
                return row
            except KeyError:
                pass
        return tuple([body.get(f) for f in self.fields])

    @cached_property
    def read_key(self) -> KeyReader:
        """``key_rows`` of this point (one value of a one-field key), with what the point
        says about its key and fields looked up once: a warm statement's whole read."""
        return _key_reader(self)


#: (backend, key value in ``to_json``'s form, pending batch) -> the rows, or None: the value
#: names no id its SQL-equal stored keys have (a Decimal): the query finds those
KeyReader = Callable[[BackendConnection, Any, PendingBatch], "list[tuple[Any, ...]] | None"]


def _key_reader(point: PointLookup) -> KeyReader:
    spec = point.spec
    key = spec.primary_key[0]
    prefix = point.int_prefix
    int_key = point.int_key
    pick = point._pick
    row_of = point.row
    containers = _CONTAINERS

    def read(backend: BackendConnection, value: Any,
             pending: PendingBatch) -> list[tuple[Any, ...]] | None:
        if type(value) is not int or not int_key:
            value = compared_field(spec, key, value)
        number: int | None = None  # (the integer the id ends in)
        if type(value) is int and prefix is not None:
            doc_id = f"{prefix}/{value}"  # (spec.document_id's text of an int)
            number = value
        elif isinstance(value, decimal.Decimal):
            return None
        elif value is None:
            return []  # NULL = x is never true
        else:
            doc_id = spec.document_id((value,))
        doc = backend.get_document(spec, doc_id, pending, number)
        if doc is None:
            return []
        body = doc[1]
        if body is None:
            return []
        # Different key values share an id text (1 and "1"); SQL equality is on the values.
        stored = body.get(key)
        if not (stored == value or type(stored) is str and (
                compared_field(spec, key, stored) == value)):  # (as SQLite stores it)
            return []
        row: tuple[Any, ...]
        if pick is None:
            row = row_of(body)
        else:
            try:
                row = pick(body)
            except KeyError:
                row = row_of(body)
        # (``_unshared``: no value is a JSON object or array, the common case, told in C)
        return [row if containers.isdisjoint(map(type, row)) else _unshared(row)]

    return read


_NOT_KEPT: Any = object()


def _schema_analysis(name: str, build: Any) -> Any:
    """An analysis of a statement that reads its collection's schema (``.spec``), kept on the
    statement's Prepared: valid while the store keeps that schema object, redone after any
    schema change (an analysis that found nothing to plan, None, is kept)."""

    def holds(backend: BackendConnection, hit: Any) -> bool:
        return hit is None or backend.spec(hit.spec.name) is hit.spec

    def lookup(backend: BackendConnection, stmt: Any) -> Any:
        prep = prepared(stmt)
        hit = prep.kept(name, _NOT_KEPT)  # (a warm statement: no closures made)
        if hit is not _NOT_KEPT and holds(backend, hit):
            return hit
        return prep.analysis(name, lambda: build(backend, stmt), lambda hit: holds(backend, hit))

    lookup.__name__ = name
    return lookup


def _analyse_point(backend: BackendConnection, stmt: ast.SelectLike) -> PointLookup | None:
    """A SELECT of plain fields from one collection by its whole primary key: a load by id."""
    if not isinstance(stmt, ast.Select) or len(stmt.from_) != 1 or stmt.distinct:
        return None
    source = stmt.from_[0]
    if not isinstance(source, ast.TableRef) or stmt.group_by or stmt.having or stmt.offset:
        return None
    if stmt.where is None or stmt.limit is not None and not (
        isinstance(stmt.limit, (ast.Literal, ast.Param))
    ):
        return None
    spec = backend.spec(source.name)
    if not spec.primary_key:
        return None
    keys = _lookup_keys(stmt.where, source.ref, spec)
    if keys is None or stmt.order_by and isinstance(stmt.where, ast.InList):
        return None  # several documents in an asked order: the query orders them
    labels: list[str] = []
    fields: list[str] = []
    for col in stmt.columns:
        expr = col.expr
        if isinstance(expr, ast.Star) and expr.table in (None, source.ref) and spec.fields:
            labels += spec.field_names
            fields += spec.field_names
        elif isinstance(expr, ast.Column) and expr.table in (None, source.ref) and (
            expr.name in spec.field_names
        ):
            labels.append(col.alias or expr.name)
            fields.append(expr.name)
        else:
            return None
    if stmt.limit is not None:
        return None  # keep LIMIT semantics simple: only the ORM's plain get() is a load
    if any(not (_is_plain(item.expr) or isinstance(item.expr, ast.Column)
                and item.expr.table in (None, source.ref)
                and (item.expr.name in spec.field_names or item.expr.name in labels))
           for item in stmt.order_by):
        return None  # (the query says what another ORDER BY does: a name it lacks is an error)
    return PointLookup(spec, keys, tuple(labels), tuple(fields))


def _lookup_keys(where: ast.Expr | None, ref: str,
                 spec: CollectionSpec) -> tuple[tuple[ast.Expr, ...], ...] | None:
    """The keys a WHERE names by the whole primary key: ``pk = :v [AND ...]``, or for a
    one-field key ``pk IN (:a, :b, ...)`` (``session.load([...])``, ``selectinload``)."""
    equalities = key_equalities(where, ref)
    if equalities is not None:
        if set(equalities) != set(spec.primary_key):
            return None
        return (tuple(equalities[k] for k in spec.primary_key),)
    if not (isinstance(where, ast.InList) and not where.negated and where.items
            and len(spec.primary_key) == 1 and isinstance(where.expr, ast.Column)
            and where.expr.table in (None, ref) and where.expr.name == spec.primary_key[0]
            and all(_is_plain(item) for item in where.items)):
        return None
    return tuple((item,) for item in where.items)


point_lookup = _schema_analysis("point_lookup", _analyse_point)


def key_equalities(where: ast.Expr | None, ref: str) -> dict[str, ast.Expr] | None:
    """``{field: Param | Literal}`` if ``where`` is an AND of field = value terms, else None
    (found once per WHERE and table reference; the caller must not change the dict)."""
    if where is None:
        return None
    return prepared(where).derived(("key equalities", ref), lambda: _key_equalities(where, ref))


def _key_equalities(where: ast.Expr, ref: str) -> dict[str, ast.Expr] | None:
    terms: list[ast.Expr] = []
    _conjuncts(where, terms)
    out: dict[str, ast.Expr] = {}
    for term in terms:
        if not (isinstance(term, ast.Binary) and term.op == "="):
            return None
        left, right = term.left, term.right
        if isinstance(right, ast.Column) and _is_plain(left):
            left, right = right, left
        if not (isinstance(left, ast.Column) and left.table in (None, ref) and _is_plain(right)):
            return None
        if left.name in out:
            return None
        out[left.name] = right
    return out


def _conjuncts(expr: ast.Expr, out: list[ast.Expr]) -> None:
    if isinstance(expr, ast.Binary) and expr.op == "and":
        _conjuncts(expr.left, out)
        _conjuncts(expr.right, out)
    else:
        out.append(expr)


def run_point(
    backend: BackendConnection, point: PointLookup, params: dict[str, Any],
    pending: PendingBatch,
) -> Outcome | None:
    """The rows of a load by key (``point_lookup``, ``warm_point``); None for a key value
    whose document id text is not the one of the SQL-equal stored keys (a Decimal: ``1.0``
    names ``t/1.0``, an integer key 1 is ``t/1``): the query finds those."""
    spec = point.spec
    if len(point.keys) == 1 and len(point.keys[0]) == 1:
        rows = key_rows(backend, point, _value(point.keys[0][0], params), pending)
        return None if rows is None else Outcome(list(point.labels), rows, -1)
    wanted: dict[str, list[tuple[Any, ...]]] = {}
    for exprs in point.keys:
        key = tuple(compared_field(spec, f, _value(k, params))
                    for f, k in zip(spec.primary_key, exprs, strict=True))
        if any(isinstance(k, decimal.Decimal) for k in key):
            return None
        if not any(k is None for k in key):  # NULL = x is never true
            wanted.setdefault(spec.document_id(key), []).append(key)
    out = Outcome(list(point.labels), [], -1)
    if not wanted:
        return out
    found = backend.get_documents(spec.name, list(wanted), pending)
    for doc_id, keys in wanted.items():
        doc = found.get(doc_id)
        if doc is None or doc[1] is None:
            continue
        body = doc[1]
        # Different key values share an id text (1 and "1"); SQL equality is on the values.
        stored = tuple([compared_field(spec, f, body.get(f)) for f in spec.primary_key])
        if any(stored == key for key in keys):
            out.rows.append(_unshared(point.row(body)))
    return out


def key_rows(backend: BackendConnection, point: PointLookup, value: Any,
             pending: PendingBatch) -> list[tuple[Any, ...]] | None:
    """``point_rows`` of a point by one value (``value``, in ``to_json``'s form) of a
    one-field key: the common load by key (``session.get``), run without a dict of names
    (``PointLookup.read_key``)."""
    return point.read_key(backend, value, pending)


def _unshared(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """``row`` with its JSON objects and arrays copied: a value handed out is the caller's
    own, as sqlite3's are (a pending document's, or one its body shares with other rows, such
    as a JSON column's default, would otherwise change with it, and go into the commit)."""
    if _CONTAINERS.isdisjoint(map(type, row)):  # (no value is one: C loops, a load's path)
        return row
    return tuple(copy.deepcopy(value) if type(value) in _CONTAINERS else value
                 for value in row)


_CONTAINERS = frozenset({dict, list})


def _unshared_column(column: list[Any]) -> list[Any]:
    """``_unshared`` of a column of rows' values: its JSON objects and arrays copied (no
    value is one, the common case: told by one C pass)."""
    if _CONTAINERS.isdisjoint(map(type, column)):
        return column
    return [copy.deepcopy(value) if type(value) in _CONTAINERS else value for value in column]


# ----------------------------------------------------------------------------- inserts


def run_insert(
    backend: BackendConnection, stmt: ast.Insert, param_sets: Sequence[dict[str, Any]],
    pending: PendingBatch, fks: ForeignKeyRules | None = None, *, looked_up: bool = False,
) -> Outcome:
    """``looked_up``: the caller found the rows' keys free (an upsert): not looked up again
    (their PUTs still fail the commit if the documents exist by then)."""
    if stmt.select is not None:
        return merged([_insert_from_select(backend, stmt, params, pending, fks)
                        for params in param_sets])
    if stmt.more_values:
        # one statement: its rows' references checked together at its end, as SQLite does
        # (a row may refer to a later row of the same VALUES)
        rows = _StatementRows(fks) if fks is not None else None
        out = merged([run_insert(backend, row, param_sets, pending, rows)
                       for row in _row_statements(stmt)])
        if rows is not None:
            rows.checked(pending)
        return out
    plan: _InsertPlan = insert_plan(backend, stmt)
    if len(param_sets) > 1 and plan.reads_tables:
        # VALUES subqueries: each parameter set sees the rows inserted before it, as in SQL
        return merged([run_insert(backend, stmt, [p], pending, fks) for p in param_sets])
    spec = plan.spec
    columns: dict[str, Sequence[Any]] | None = None
    # the types of each column of values, found once for the tests below (none changes one;
    # a few rows are tested row by row: no column is looked at twice)
    kept_types = values.ColumnTypes() if len(param_sets) >= _ROWS_TESTED_TOGETHER else None
    types = kept_types or values.column_types
    generated: list[int] = []
    auto = spec.autoincrement
    # a key HiLo generates for this statement is fresh: no stored document can hold it
    auto_key = auto is not None and spec.primary_key == (auto,)
    single_key = len(spec.primary_key) == 1
    if type(param_sets) is Positional and not plan.computed:
        # an integer key no row gives is generated as the bodies are made (``prefilled``)
        fill = (auto, lambda count: backend.next_ids(spec.prefix, count, claimed=auto_key)) if (
            auto is not None and auto == plan.int_key and not spec.computed_fields) else None
        bodies, columns, generated = plan.given_positional(param_sets, fill, types)
    else:
        bodies = plan.bodies(backend, param_sets, pending)
    uneven = False  # a JSON field left out of some bodies: they differ in their fields
    fields = plan.fields
    if spec.json_fields:
        columns = None  # (the bodies' JSON fields settled: read from them)
        uneven = settle_json_nulls(spec.json_fields, bodies)
        fields = tuple(bodies[0]) if bodies and not uneven else fields
    if plan.int_key is not None:
        columns = _keys_by_affinity(plan.int_key, bodies, columns, kept_types)
        if columns is None and spec.rowid_key:
            _refuse_mismatched_keys(spec, bodies)
    else:
        columns = _text_keys_by_affinity(spec, bodies, columns)
    prefilled = bool(generated)
    if auto is not None and not prefilled:
        need = _column(bodies, auto, columns).count(None)
        if need:
            generated = backend.next_ids(spec.prefix, need, claimed=auto_key)
    gen = iter(generated)
    out = Outcome(rowcount=len(bodies))
    returning = returning_plan(backend, stmt) if stmt.returning else None
    written = pending.overlay.get(spec.name, {})
    seen: set[str] = set()
    # ids a committed document may hold already, each with its integer key if it has one
    # (a key HiLo handed out and nobody used is fresh: no look at the store)
    stored_check: list[tuple[str, int | None]] = []
    puts: list[Put] = []
    prefix, int_key, computed = spec.prefix, plan.int_key, spec.computed_fields
    checks = bool(spec.checks)
    explicit: list[int] = []  # integer values given for the autoincrement field
    # bodies of one plan share their fields: NUL, NOT NULL and exactness tested per field over
    # all the rows at once; if any row might fail, each row is tested in order as before
    # (a few rows are tested in turn: cheaper than the set-up of the test per field)
    each_row = bool(computed or plan.computed) or uneven or len(bodies) < _ROWS_TESTED_TOGETHER or (
        rowexpr.rows_may_fail(spec, bodies, fields, auto, columns, types))
    # integer keys, nothing else can fail per row: the keys, ids and PUTs a column at a time
    keyed = _keyed_puts(spec, int_key, bodies, generated, written, columns,
                        getattr(backend, "stores_json_text", False), prefilled, types) if (
        int_key is not None and (auto is None or auto == int_key) and not each_row
        and not checks) else None
    replacing = False  # a PUT replaces a document deleted in this transaction
    if keyed is not None:
        stored_check = keyed.stored_check
        if auto is not None and keyed.given_max is not None:
            explicit.append(keyed.given_max)
        if returning is not None:
            known = dict(columns) if columns is not None else {}
            known[keyed.field] = keyed.keys
            out.rows.extend(returning.rows(backend, param_sets, bodies, known))
    else:
        for body, params in zip(bodies, param_sets, strict=True):
            fresh = False
            if auto is not None:
                if prefilled:  # (every row's key generated: one of ``generated``)
                    fresh = auto_key
                elif body.get(auto) is None:
                    body[auto] = next(gen)
                    fresh = auto_key
                elif isinstance(body[auto], int):
                    if not _INT64_MIN <= body[auto] <= _INT64_MAX:  # (also in a composite key)
                        raise _key_out_of_range(spec, auto, body[auto])
                    explicit.append(body[auto])
            if computed:
                body.update(generated_values(spec, body, backend.evaluate))
            if each_row:
                check_constraints(backend, spec, body)
            elif checks:
                rowexpr.check_checks(spec, body, backend.evaluate)
            if int_key is not None and type(key_int := body[int_key]) is int:
                try:
                    doc_id = f"{prefix}/{key_int}"  # the common case, without tuples
                except ValueError as exc:  # more digits than Python writes
                    raise _key_out_of_range(spec, int_key, key_int) from exc
            else:
                key = tuple(body.get(k) for k in spec.primary_key)
                doc_id = spec.document_id(key) if key else _anonymous_id(backend, spec)
            state = written.get(doc_id)
            if doc_id in seen or (state is not None and not is_gone(state)):
                raise _duplicate_key(spec, doc_id)
            seen.add(doc_id)
            if state is None and spec.primary_key and not fresh:
                key_value = body.get(spec.primary_key[0]) if single_key else None
                stored_check.append((doc_id, key_value if type(key_value) is int else None))
            replacing = replacing or state is not None
            # "" = must not exist yet; after a pending delete of the same id the PUT replaces it.
            puts.append(Put(spec.name, doc_id, body, "" if state is None else None))
            if returning is not None:
                out.rows.append(returning.row(backend, params, body))
    if explicit:  # HiLo must never hand them out (the largest says it for all)
        backend.observe_id(prefix, max(explicit))
    if stored_check and not looked_up:
        _refuse_stored_keys(backend, spec, _not_fresh(backend, prefix, stored_check))
    if keyed is not None:  # (each creates its document: no state in the transaction)
        run = CreateRun(spec.name, keyed.ids, bodies, keyed.texts, keyed.keys, f"{prefix}/",
                        keyed.bounds, keyed.field)
        if getattr(backend, "takes_create_runs", False) and not spec.key_is_id:
            pending.add_created(run)  # (kept as columns: no PUT made per row)
        else:
            pending.add_puts(spec.name, run.puts(), new=True, ids=keyed.ids, bodies=bodies)
    else:
        pending.add_puts(spec.name, puts, new=not replacing)
    if auto is not None and bodies:
        # (a run's keys are its bodies' ``auto`` field: read without making a body)
        out.lastrowid = keyed.keys[-1] if keyed is not None else bodies[-1][auto]
    if fks is not None:
        fks.after_statement(spec, [RowChange(None, body) for body in bodies], pending)
    if returning is not None:
        out.columns = list(returning.labels)
    return out


class _StatementRows:
    """The ``ForeignKeyRules`` of the parts of one INSERT (the rows of a multi-row VALUES):
    collects the rows they write, passed on in one call at the statement's end."""

    def __init__(self, fks: ForeignKeyRules) -> None:
        self.fks = fks
        self.written: list[tuple[CollectionSpec, list[RowChange]]] = []

    def after_statement(self, spec: CollectionSpec, changes: list[RowChange],
                        pending: PendingBatch, checks: Any = None) -> None:
        assert checks is None  # (inserts take no action amid the statement)
        if self.written and self.written[-1][0] is spec:
            self.written[-1][1].extend(changes)
        else:
            self.written.append((spec, list(changes)))

    def act_now(self, spec: CollectionSpec, deleted: dict[str, Any], pending: PendingBatch,
                checks: Any) -> Any:
        return self.fks.act_now(spec, deleted, pending, checks)

    def checked(self, pending: PendingBatch) -> None:
        for spec, changes in self.written:
            self.fks.after_statement(spec, changes, pending)


#: SQLite's integers: an autoincrement key beyond them is refused, as SQLite refuses it (HiLo
#: could not reserve keys after it); other integer keys keep any size, as fields do
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _key_out_of_range(spec: CollectionSpec, field: str, key: int) -> DataError:
    shown = str(key) if key.bit_length() < 256 else f"of {key.bit_length()} bits"
    return DataError(f"{spec.name}.{field}: integer key {shown} is beyond SQLite's 64-bit "
                     "integers")


#: fewer rows than this (an execute, a small executemany) are tested row by row
_ROWS_TESTED_TOGETHER = 8


def _keys_by_affinity(key: str, bodies: Sequence[dict[str, Any]],
                      columns: dict[str, Sequence[Any]] | None,
                      known: values.ColumnTypes | None = None,
                      ) -> dict[str, Sequence[Any]] | None:
    """The integer key ``key`` of ``bodies`` given as another kind stored as SQLite's
    INTEGER affinity stores it ('5', ' 5 ', 5.0 are 5), so its document id is the number's,
    as loads and writes by key look it up; ``columns``, or None once a key was changed.
    ``known``: the statement's ``ColumnTypes``, if it keeps them."""
    given = columns.get(key) if columns is not None else None
    if given is None:
        given = [body.get(key) for body in bodies]
    if _INT_OR_NONE.issuperset(map(type, given) if known is None else known(given)):
        return columns
    for body in bodies:
        if type(value := body.get(key)) is not int and value is not None:
            body[key] = integer_affinity(value)
    return None


_INT_OR_NONE = frozenset({int, type(None)})
_INT_ONLY = frozenset({int})


def _refuse_mismatched_keys(spec: CollectionSpec, bodies: Sequence[dict[str, Any]]) -> None:
    """An ``INTEGER PRIMARY KEY`` given a value its affinity leaves no integer ('abc', 2.5)
    is refused, as SQLite refuses it ("datatype mismatch"): the rowid holds integers only."""
    key = spec.primary_key[0]
    for body in bodies:
        value = body.get(key)
        if value is None or type(value) is int or (
                type(value) is decimal.Decimal and value.is_finite()
                and value == value.to_integral_value()):  # (10.0 is the key 10)
            continue
        raise IntegrityError(f"datatype mismatch: {spec.name}.{key} is an INTEGER PRIMARY "
                             f"KEY, which holds integers only, not {value!r}")


def _text_keys_by_affinity(spec: CollectionSpec, bodies: Sequence[dict[str, Any]],
                           columns: dict[str, Sequence[Any]] | None
                           ) -> dict[str, Sequence[Any]] | None:
    """The TEXT key fields of ``bodies`` given as numbers stored as SQLite's TEXT affinity
    stores them (5 is '5', 2.0 '2.0'), so loads and writes by key find them; ``columns``, or
    None once a key was changed."""
    for f in spec.fields:
        if f.name not in spec.primary_key or compared_with(f.type) is not text_affinity:
            continue
        field = f.name
        given = columns.get(field) if columns is not None else None
        if given is None:
            given = [body.get(field) for body in bodies]
        if _STR_OR_NONE.issuperset(map(type, given)):
            continue
        for body in bodies:
            if type(value := body.get(field)) is not str and value is not None:
                body[field] = text_affinity(value)
        columns = None
    return columns


_STR_OR_NONE = frozenset({str, type(None)})


def _column(bodies: Sequence[dict[str, Any]], name: str,
            columns: dict[str, Sequence[Any]] | None) -> list[Any]:
    """The values of field ``name`` in ``bodies`` (read from ``columns`` if it has them, where
    a field every row gives the same value has a column of that one value)."""
    column = columns.get(name) if columns is not None else None
    if column is None:
        return list(map(dict.get, bodies, itertools.repeat(name)))
    return list(column) * (len(bodies) if len(column) == 1 and len(bodies) != 1 else 1)


class _Keyed(NamedTuple):
    """``run_insert``'s PUTs of rows keyed by one integer field, made a column at a time."""

    texts: list[str] | None  # the bodies' JSON texts, if written
    stored_check: list[tuple[str, int | None]]  # the given keys' ids, as the loop lists them
    given_max: int | None  # the largest key given (not generated), if any
    ids: list[str]  # the PUTs' ids, in order
    field: str  # the key field
    keys: list[int]  # the bodies' keys, in order
    bounds: tuple[int, int]  # the least and the greatest of ``keys``


def _keyed_puts(spec: CollectionSpec, key: str, bodies: Sequence[dict[str, Any]],
                generated: list[int], written: dict[str, Any],
                columns: dict[str, Sequence[Any]] | None, texts: bool = False,
                prefilled: bool = False,
                types: Callable[[Sequence[Any]], frozenset[type]] = values.column_types,
                ) -> _Keyed | None:
    """The PUTs of ``bodies`` keyed by the integer field ``key`` (the document id is
    ``{prefix}/{key}``), the keys HiLo ``generated`` for them filled in, in order, where the
    key is None (as ``run_insert``'s loop does it; ``key`` is then the autoincrement field).
    None, nothing changed, if the loop must tell what happens: a key that is not an int,
    an id given twice or one the transaction has written already. ``texts``: each PUT
    carries its body's JSON text, written a column at a time (for a store keeping it).
    ``prefilled``: the bodies hold the ``generated`` keys already (one per body)."""
    given = _column(bodies, key, columns)
    if prefilled or len(generated) == len(given):
        keys = generated  # (None everywhere: the loop's case of new objects)
    elif generated:
        fill = iter(generated)
        keys = [next(fill) if k is None else k for k in given]
    else:
        keys = given
    fresh = keys is generated  # distinct: HiLo hands a key out once, in ascending order
    if types(keys) != {int}:
        return None
    # (HiLo's keys are SQLite integers: the loop tests the range of keys given only)
    bounds = (keys[0], keys[-1]) if fresh else (min(keys), max(keys))
    if not (fresh or (_INT64_MIN <= bounds[0] and bounds[1] <= _INT64_MAX)):
        return None  # the loop says what a key beyond SQLite's integers does
    try:  # an int's text is its JSON text: made once for the ids and the bodies' texts
        # (HiLo's keys, distinct and ascending, are a range where they span their count)
        key_texts = _range_texts(bounds[0], len(keys)) if fresh and (
            bounds[1] - bounds[0] == len(keys) - 1) else list(map(repr, keys))
    except ValueError:  # more digits than Python writes: the loop says where
        return None
    ids = _prefixed(f"{spec.prefix}/", key_texts)  # f"{prefix}/{key}"
    if (not fresh and len(set(ids)) != len(ids)) or (
            written and any(map(written.__contains__, ids))):
        return None
    if fresh:
        if not prefilled:
            _consume(map(dict.__setitem__, bodies, itertools.repeat(key), generated))
        return _Keyed(_texts(bodies, key, key_texts, columns, texts, types), [], None, ids, key,
                      keys, bounds)
    stored_check: list[tuple[str, int | None]]
    if generated:
        stored_check = []
        for body, k, n, doc_id in zip(bodies, given, keys, ids, strict=True):
            if k is None:
                body[key] = n  # fresh: HiLo handed it out now
            else:
                stored_check.append((doc_id, n))
        given_max = max(k for k in given if k is not None) if stored_check else None
    else:  # every key given
        stored_check = list(zip(ids, keys, strict=True))
        given_max = bounds[1]
    return _Keyed(_texts(bodies, key, key_texts, columns, texts, types), stored_check, given_max,
                  ids, key, keys, bounds)


def _range_texts(first: int, count: int) -> list[str]:
    """``[repr(n) for n in range(first, first + count)]`` (``first`` >= 0), made a hundred
    at a time: each hundred's leading digits written once, joined before each of the texts
    "00" to "99", the whole split again at newlines (half the instructions of writing each
    number)."""
    last = first + count - 1
    if first < 100:  # (no leading digits: written one by one)
        small = list(map(repr, range(first, min(last, 99) + 1)))
        return small if last < 100 else small + _range_texts(100, last - 99)
    low = first // 100
    made = "\n".join([f"{h}" + f"\n{h}".join(_HUNDRED) for h in range(low, last // 100 + 1)])
    skip = first - low * 100
    return made.split("\n")[skip:skip + count]


_HUNDRED = [f"{n:02d}" for n in range(100)]


def _prefixed(head: str, texts: list[str]) -> list[str]:
    """``[head + text for text in texts]`` of ``texts`` holding no newline (integers'
    texts): one join of them all, split again at the newlines between them (half the
    instructions of a concatenation each), unless ``head`` holds a newline."""
    if not texts or "\n" in head:
        return list(map(head.__add__, texts))
    return (head + ("\n" + head).join(texts)).split("\n")


def _consume(calls: Iterator[Any]) -> None:
    collections.deque(calls, maxlen=0)  # (runs each call, keeps nothing)


def _texts(bodies: Sequence[dict[str, Any]], key: str, key_texts: list[str],
           columns: dict[str, Sequence[Any]] | None, wanted: bool,
           types: Callable[[Sequence[Any]], frozenset[type]] = values.column_types,
           ) -> list[str] | None:
    """The JSON texts of ``bodies`` (all with the fields of the first, in its order; ``key``
    holding the integers written ``key_texts``), written a column at a time from ``columns``
    where given (see ``values.dumps_columns``); None if not ``wanted`` or not so written."""
    if not wanted or not bodies:
        return None
    # (a body made may have been changed since: its fields are then read from it)
    names = bodies.fields if type(bodies) is LazyBodies and not bodies.is_made else tuple(
        bodies[0])
    cols = [() if name == key else columns[name] if columns is not None else list(
        map(itemgetter(name), bodies)) for name in names]
    return values.dumps_columns(names, cols, len(bodies), {key: key_texts}, types)


def _duplicate_key(spec: CollectionSpec, doc_id: str) -> DuplicateKeyError:
    return DuplicateKeyError(f"UNIQUE constraint failed: {spec.name}."
                             f"{', '.join(spec.primary_key)} (document {doc_id!r} already "
                             "exists)")


def _not_fresh(backend: BackendConnection, prefix: str,
               ids: list[tuple[str, int | None]]) -> list[str]:
    """The ids, in order, but those whose integer key HiLo handed out in this process and
    nobody used (claimed now: no stored document can hold them)."""
    ints = [key for _, key in ids if key is not None]
    fresh = iter(backend.claim_fresh_ids(prefix, ints) if ints else ())
    return [doc_id for doc_id, key in ids if key is None or not next(fresh)]


def _refuse_stored_keys(backend: BackendConnection, spec: CollectionSpec,
                        doc_ids: list[str]) -> None:
    """An INSERT of a key a committed document holds fails at once, as in SQL (not only when
    the commit's batch is applied): one load of the ids the transaction has not written (none
    if the store holds no document of the collection, told by one look when they are many)."""
    holds_none = getattr(backend, "holds_no_documents", None)
    if holds_none is not None and len(doc_ids) >= _MANY_KEYS and holds_none(spec.name):
        return
    found = backend.get_documents(spec.name, doc_ids, None)
    taken = next((doc_id for doc_id in doc_ids if doc_id in found), None)
    if taken is not None:
        raise _duplicate_key(spec, taken)


#: as many ids to look for as this: first asked whether the collection holds any document
_MANY_KEYS = 32


def _row_statements(stmt: ast.Insert) -> tuple[ast.Insert, ...]:
    """A multi-row VALUES as one single-row INSERT per row, in order (each row sees the ones
    before it, as the rows of one SQL statement do for key checks)."""
    return prepared(stmt).derived("rows", lambda: tuple(
        replace(stmt, values=row, more_values=()) for row in (stmt.values, *stmt.more_values)))


_SELECTED = "\x00selected:"  # parameter names of the selected values (never a bind name)


def _insert_from_select(
    backend: BackendConnection, stmt: ast.Insert, params: dict[str, Any],
    pending: PendingBatch, fks: ForeignKeyRules | None,
) -> Outcome:
    """INSERT ... SELECT: the query runs first, whole (it sees the transaction's writes but
    not the rows it is inserting), then its rows are inserted as VALUES rows."""
    assert stmt.select is not None
    spec = backend.spec(stmt.table)
    columns = stmt.columns or spec.field_names
    query, json_at = _json_nulls_selected(stmt.select, columns, spec.json_fields)
    selected = run_select(backend, query, params, pending)
    if json_at:
        selected.rows = _with_json_nulls(selected.rows, json_at, len(columns))
        selected.columns = selected.columns[:len(columns)]
    if selected.columns and len(selected.columns) != len(columns):
        if stmt.implicit_columns:  # (its SELECT's width was not known before it ran)
            raise insert_columns.wrong_width(stmt.table, len(columns), len(selected.columns))
        raise ProgrammingError(f"INSERT INTO {stmt.table} names {len(columns)} columns but "
                               f"its SELECT returns {len(selected.columns)}")
    if not selected.rows:
        out = Outcome(rowcount=0)
        if stmt.returning:
            out.columns = list(returning_plan(backend, stmt).labels)
        return out
    names = tuple(f"{_SELECTED}{i}" for i in range(len(columns)))
    as_values = _as_values(stmt, tuple(columns), names)
    param_sets = [dict(params, **dict(zip(names, row, strict=True))) for row in selected.rows]
    return run_insert(backend, as_values, param_sets, pending, fks)


def _json_nulls_selected(select: ast.SelectLike, columns: Sequence[str],
                         json_fields: frozenset[str]) -> tuple[ast.SelectLike, list[int]]:
    """An INSERT's SELECT with, for each JSON column it fills, whether the selected value IS
    NULL (after the columns it selects): a JSON field's null is read as None, which the
    column would store as SQL NULL, where SQL's value is JSON null (``_with_json_nulls``).
    The positions of those columns; none (the SELECT as it is) for a compound or a ``*``."""
    at = [i for i, name in enumerate(columns) if name in json_fields]
    if not at or not isinstance(select, ast.Select) or len(select.columns) != len(columns) or (
            any(isinstance(c.expr, ast.Star) for c in select.columns)):
        return select, []
    tests = tuple(ast.ResultColumn(ast.IsNull(select.columns[i].expr)) for i in at)
    # each value selected for a JSON column as SQLite's JSON column holds it, as JSON text
    # (``_json_text``: a JSON column's value in SQL is its JSON text; decoded below)
    held = tuple(replace(c, expr=_json_text(c.expr)) if i in at else c
                 for i, c in enumerate(select.columns))
    return replace(select, columns=held + tests), at


def _with_json_nulls(rows: list[Any], json_at: list[int], width: int) -> list[Any]:
    """The rows of ``_json_nulls_selected``'s SELECT, their JSON columns' texts decoded, a
    None that is not NULL JSON null."""
    out = []
    for row in rows:
        values_ = list(row[:width])
        for i, is_null in zip(json_at, row[width:], strict=True):
            if type(values_[i]) is str:
                values_[i] = values.loads(values_[i])
            if values_[i] is None and not is_null:
                values_[i] = JSON_NULL
        out.append(tuple(values_))
    return out


def _as_values(stmt: ast.Insert, columns: tuple[str, ...],
               names: tuple[str, ...]) -> ast.Insert:
    return prepared(stmt).derived(("as values", columns), lambda: replace(
        stmt, columns=columns, values=tuple(ast.Param(n) for n in names), select=None))


def _reads_tables(node: Any) -> bool:
    return any(isinstance(n, ast.TableRef) for n in ast.walk(node))


def merged(outcomes: list[Outcome]) -> Outcome:
    """One outcome of parts run one after the other (an executemany's sets, a multi-row
    VALUES' rows): their rows and rowcounts, the rowid inserted last."""
    rowids = [o.lastrowid for o in outcomes if o.lastrowid is not None]
    return Outcome(outcomes[0].columns, [r for o in outcomes for r in o.rows],
                   sum(o.rowcount for o in outcomes), rowids[-1] if rowids else None,
                   all(o.inserted_none for o in outcomes))


def _anonymous_id(backend: BackendConnection, spec: CollectionSpec) -> str:
    return f"{spec.prefix}/{backend.next_ids(spec.prefix, 1)[0]}"


_JSON_SCALARS = (str, int, float, bool, type(None))


@dataclass(frozen=True)
class _InsertPlan:
    spec: CollectionSpec
    defaults: dict[str, Any]  # every declared field, with its default
    params: tuple[tuple[str, str], ...]  # (field, parameter name)
    literals: tuple[tuple[str, Any], ...]  # (field, constant)
    # (field, expression evaluated by the store, field type): VALUES expressions and the SQL
    # defaults of omitted fields
    computed: tuple[tuple[str, ast.Expr, str], ...]
    int_key: str | None  # the single integer key field, if any
    #: per ``params`` pair: what the field's affinity stores of the value (None: as given)
    conversions: tuple[Conversion | None, ...] = ()

    @cached_property
    def computed_exprs(self) -> tuple[ast.Expr, ...]:
        return tuple(e for _, e, _ in self.computed)

    @cached_property
    def fields(self) -> tuple[str, ...]:
        """The fields of every body ``bodies`` makes (when nothing is ``computed``)."""
        return tuple(dict.fromkeys([*self.defaults, *(n for n, _ in self.params),
                                    *(n for n, _ in self.literals)]))

    @cached_property
    def reads_tables(self) -> bool:
        return _reads_tables(self.computed_exprs)

    def bodies(self, backend: BackendConnection, param_sets: Sequence[dict[str, Any]],
               pending: PendingBatch | None = None) -> list[dict[str, Any]]:
        """``body`` of each parameter set."""
        if self.computed:
            return [self.body(backend, params, pending) for params in param_sets]
        return self._given(param_sets)

    def given_positional(
        self, sets: Positional,
        fill: tuple[str, Callable[[int], list[int]]] | None = None,
        types: Callable[[Sequence[Any]], frozenset[type]] = values.column_types,
    ) -> tuple[Sequence[dict[str, Any]], dict[str, Sequence[Any]] | None, list[int]]:
        """``_given`` of ``?`` parameter sets read by position, a column at a time: the
        bodies (equal dicts, keys in the same order; a ``LazyBodies``, made from the columns
        when one is read), each field's values (a field every
        row gives the same value, a default or a literal, has a column of that one value)
        and the keys generated. ``fill``: (a field, the function generating n integers):
        if no row gives the field (its default is None), the function's values are put in
        it, once every value given was read without error; else nothing is generated.
        ``types``: ``values.column_types``, or a ``ColumnTypes`` to know the columns by."""
        at = {name: i for i, name in enumerate(sets.names)}
        if not sets.rows or any(param not in at for _, param in self.params):
            return self._given(sets), None, []  # (which parameter has no value: by _given)
        # each field's source, as _given sets it: its default, else the last parameter or
        # literal naming it (a parameter: its index in the row; a constant: [value])
        source: dict[str, Any] = {name: [value] for name, value in self.defaults.items()}
        for name, param in self.params:
            source[name] = at[param]
        for name, value in self.literals:
            source[name] = [value]
        used = tuple(sorted({i for i in source.values() if type(i) is int}))
        converted = self._positional_conversions(source, used)
        if converted is None:  # a parameter stored by two affinities: row by row
            return self._given(sets), None, []
        given = sets.columns
        try:
            args = [_as_stored_values(given[i] if conversion is None else conversion.column(
                given[i], types), types) for i, conversion in zip(used, converted, strict=True)]
        except DataError:
            return self._given(sets), None, []  # the value refused first, row by row: _given
        generated: list[int] = []
        if fill is not None and source.get(fill[0]) == [None]:
            generated = fill[1](len(sets.rows))
            if type(types) is values.ColumnTypes:
                types.know(generated, _INT_ONLY)  # (HiLo's keys: ints, no column scanned)
            source[fill[0]] = len(sets.names)  # (the position after the given values)
            used += (len(sets.names),)
            args.append(generated)
        count = len(sets.rows)
        maker = self._maker(source, used)
        # (a few rows are made now: a statement of one row reads its body at once)
        bodies: Sequence[dict[str, Any]] = maker(count, *args) if (
            count < _ROWS_TESTED_TOGETHER) else LazyBodies(
                count, functools.partial(maker, count, *args), tuple(source))
        columns = {name: args[used.index(src)] if type(src) is int else src
                   for name, src in source.items()}
        return bodies, columns, generated

    def _positional_conversions(self, source: dict[str, Any], used: tuple[int, ...]
                                ) -> tuple[Conversion | None, ...] | None:
        """The conversion of each parameter at ``used`` by the affinity of the field it is
        stored in (``conversions``); None if one is stored in fields of two affinities."""
        if not any(self.conversions):
            return (None,) * len(used)
        by_index: dict[int, set[Conversion | None]] = {}
        for (name, _), conversion in zip(self.params, self.conversions, strict=True):
            src = source.get(name)
            if type(src) is int:
                by_index.setdefault(src, set()).add(conversion)
        if any(len(found) > 1 for found in by_index.values()):
            return None
        return tuple(next(iter(by_index[i])) if i in by_index else None for i in used)

    def _maker(self, source: dict[str, Any],
               used: tuple[int, ...]) -> Callable[..., list[dict[str, Any]]]:
        """The function making the bodies of ``n`` rows from the columns of the parameters at
        ``used`` (a ``_body_maker``), made once per statement and parameter layout."""
        key = (tuple((name, src if type(src) is int else None) for name, src in source.items()),
               used)
        hit = self._makers.get(key)
        if hit is None:
            hit = self._makers[key] = _body_maker(
                [(name, used.index(src), None) if type(src) is int else (name, None, src[0])
                 for name, src in source.items()], len(used))
        return hit

    @cached_property
    def _makers(self) -> dict[Any, Callable[..., list[dict[str, Any]]]]:
        return {}

    @cached_property
    def _converted_params(self) -> list[tuple[str, str, Callable[[Any], Any] | None]]:
        """(field, parameter, what the field's affinity makes of its value) of each pair."""
        return [(name, param, conversion.apply if conversion is not None else None)
                for (name, param), conversion in itertools.zip_longest(
                    self.params, self.conversions)]

    def _given(self, param_sets: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """The bodies of the values given (defaults, parameters, literals), one per set."""
        defaults, literals, pairs = self.defaults, self.literals, self._converted_params
        out = []
        try:
            for params in param_sets:
                body = defaults.copy()
                for name, param, convert in pairs:
                    value = params[param]
                    if convert is not None:  # (by the field's affinity, before to_json)
                        value = convert(value)
                    body[name] = value if type(value) in _JSON_SCALARS or (
                        value is JSON_NULL) else values.to_json(value)
                if literals:
                    body.update(literals)
                out.append(body)
        except KeyError as exc:
            raise ProgrammingError(f"no value given for parameter {exc.args[0]!r}") from exc
        return out

    def body(self, backend: BackendConnection, params: dict[str, Any],
             pending: PendingBatch | None = None) -> dict[str, Any]:
        (body,) = self._given([params])
        if self.computed:
            found = backend.evaluate(self.computed_exprs, params, pending)
            body.update((name, stored_form(type_, value)) for (name, _, type_), value in zip(
                self.computed, found, strict=True))
        return body


def settle_json_nulls(fields: frozenset[str], bodies: Sequence[dict[str, Any]]) -> bool:
    """The JSON-typed ``fields`` of ``bodies`` as documents hold them: SQL NULL (None) is the
    field left out, JSON null (``JSON_NULL``) is ``null``. True when the bodies no longer
    all have the same fields (a field left out of some only)."""
    first: list[str] | None = None
    uneven = False
    for body in bodies:
        left_out = []
        for name in fields:
            value = body.get(name, JSON_NULL)
            if value is None:
                del body[name]
                left_out.append(name)
            elif value is JSON_NULL and name in body:
                body[name] = None
        if first is None:
            first = left_out
        elif left_out != first:
            uneven = True
    return uneven


def settled_changes(spec: CollectionSpec,
                    changes: dict[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """An UPDATE's values as ``settle_json_nulls`` stores them: (the values set, the JSON
    fields set to SQL NULL, left out of the document)."""
    fields = spec.json_fields
    if not fields or fields.isdisjoint(changes):
        return changes, ()
    unset = tuple(k for k, v in changes.items() if v is None and k in fields)
    return {k: None if v is JSON_NULL else v for k, v in changes.items()
            if k not in unset}, unset


def _as_stored_values(column: Sequence[Any],
                      types: Callable[[Sequence[Any]], frozenset[type]] = values.column_types,
                      ) -> Sequence[Any]:
    """A parameter's values as ``_given`` stores them (JSON scalars as given, others by
    ``values.to_json``)."""
    if types(column) <= _JSON_SCALAR_TYPES:
        return column
    return [value if type(value) in _JSON_SCALARS or value is JSON_NULL
            else values.to_json(value) for value in column]


_JSON_SCALAR_TYPES = frozenset(_JSON_SCALARS)


def _body_maker(fields: list[tuple[str, int | None, Any]],
                count: int) -> Callable[..., list[dict[str, Any]]]:
    """A function of a row count ``n`` and ``count`` columns of values (each of ``n``) making
    the ``n`` dicts of ``fields`` in order: (name, the index of its column among the
    arguments, else None and its constant). One comprehension of a dict display, the
    cheapest way to make thousands of dicts (no call per dict); the code holds only names it
    made (the fields' names and constants are bound as variables, never written into it)."""
    scope: dict[str, Any] = {}
    items = []
    for n, (name, at, constant) in enumerate(fields):
        scope[f"k{n}"] = name
        if at is None:
            scope[f"c{n}"] = constant
            items.append(f"k{n}: c{n}")
        else:
            items.append(f"k{n}: _{at}")
    columns = [f"_c{i}" for i in range(count)]
    if count == 0:
        rows = "_ in range(_n)"
    elif count == 1:
        rows = "_0 in _c0"
    else:  # (the columns are of one length: ``n``)
        rows = f"{', '.join(f'_{i}' for i in range(count))} in zip({', '.join(columns)})"
    maker: Callable[..., list[dict[str, Any]]] = eval(  # noqa: S307 - our own names only
        f"lambda {', '.join(['_n', *columns])}: [{{{', '.join(items)}}} for {rows}]", scope)
    return maker


def _analyse_insert(backend: BackendConnection, stmt: ast.Insert) -> _InsertPlan:
    spec = backend.spec(stmt.table)
    unknown = [c for c in stmt.columns if spec.fields and c not in spec.field_names]
    if unknown:
        raise ProgrammingError(f"table {stmt.table} has no column named {unknown[0]}")
    refuse_generated(spec, stmt.columns, "INSERT into")
    pairs = list(zip(stmt.columns, stmt.values, strict=True))
    types = {f.name: f.type for f in spec.fields}
    sql_defaults = tuple((f.name, default_expr(f.default_sql), f.type) for f in spec.fields
                         if f.default_sql is not None and f.name not in stmt.columns)
    key_types = [f.type for f in spec.fields if f.name in spec.primary_key]
    int_key = spec.primary_key[0] if len(spec.primary_key) == 1 and key_types and (
        key_types[0] in ("INTEGER", "BIGINT", "SMALLINT")
    ) else None
    params = tuple((n, e.name) for n, e in pairs if isinstance(e, ast.Param))
    return _InsertPlan(
        spec,
        {f.name: stored_form(f.type, f.default) for f in spec.fields},
        params,
        tuple((n, stored_value(spec, n, e.value)) for n, e in pairs
              if isinstance(e, ast.Literal)),
        tuple((n, e, types.get(n, "JSON")) for n, e in pairs if not _is_plain(e))
        + sql_defaults,
        int_key,
        tuple(written(spec, n) for n, _ in params),
    )


def stored_value(spec: CollectionSpec, field: str, value: Any) -> Any:
    """``value`` (a parameter's, before ``values.to_json``, or a literal) as the declared
    field ``field`` stores it, by its affinity (SQLite's: '5' in an INTEGER column is 5)."""
    conversion = written(spec, field)
    return value if conversion is None else conversion.apply(value)


insert_plan = _schema_analysis("insert_plan", _analyse_insert)


def check_constraints(
    backend: BackendConnection, spec: CollectionSpec, body: dict[str, Any]
) -> None:
    """NOT NULL and CHECK constraints, enforced when the write is executed; and values the
    store cannot hold (NUL in strings) refused then."""
    values.refuse_unstorable(body)
    rowexpr.check_constraints(spec, body, backend.evaluate)


def _check_each(backend: BackendConnection, spec: CollectionSpec,
               bodies: list[dict[str, Any]]) -> None:
    """``check_constraints`` of each body in turn (the first failure raised): documents
    with the same fields are first tested a field at a time over them all
    (``rowexpr.rows_may_fail``); if none can fail there, only CHECK constraints remain."""
    if bodies:
        keys = bodies[0].keys()
        if all(map(keys.__eq__, map(dict.keys, bodies))) and not rowexpr.rows_may_fail(
                spec, bodies, keys, None):
            if spec.checks:
                for body in bodies:
                    rowexpr.check_checks(spec, body, backend.evaluate)
            return
    for body in bodies:
        check_constraints(backend, spec, body)


@dataclass(frozen=True)
class _ReturningPlan:
    """RETURNING of a write statement: each column is a field of the written row, or an
    expression over the row's own fields (as ``field:`` parameters) the store evaluates."""

    spec: CollectionSpec
    labels: tuple[str, ...]
    fields: tuple[str | None, ...]  # per column: the field read, or None for an expression
    exprs: tuple[ast.Expr, ...]  # the expressions, in column order
    reads: tuple[str, ...]  # the fields the expressions read
    #: columns of the FROM / USING tables' row (UPDATE ... FROM, DELETE ... USING): their
    #: positions, and the expressions the statement's match evaluates for them
    matched_at: frozenset[int] = frozenset()
    matched: tuple[ast.Expr, ...] = ()

    def rows(self, backend: BackendConnection, param_sets: Sequence[dict[str, Any]],
             bodies: list[dict[str, Any]],
             columns: dict[str, Sequence[Any]] | None = None) -> list[tuple[Any, ...]]:
        """``row`` of each body with its parameters; of fields alone, a column at a time
        (read from ``columns``, the bodies' values of some fields, where it has them: see
        ``_column``)."""
        if self.exprs or self.matched_at:
            return [self.row(backend, params, body)
                    for body, params in zip(bodies, param_sets, strict=True)]
        names = [name for name in self.fields if name is not None]  # (all: no expression)
        return list(zip(*[_unshared_column(_column(bodies, name, columns)) for name in names],
                        strict=True))

    def row(self, backend: BackendConnection, params: dict[str, Any],
            body: dict[str, Any], matched: tuple[Any, ...] = ()) -> tuple[Any, ...]:
        computed = iter(backend.evaluate(
            self.exprs, rowexpr.bind_fields(params, body, self.reads, self.spec.json_fields))
            if self.exprs else ())
        if not self.matched_at:
            return _unshared(tuple(body.get(f) if f is not None else next(computed)
                                   for f in self.fields))
        from_row = iter(matched)
        return _unshared(tuple(next(from_row) if n in self.matched_at else
                               body.get(f) if f is not None else next(computed)
                               for n, f in enumerate(self.fields)))


def _analyse_returning(backend: BackendConnection,
                       stmt: ast.Insert | ast.Update | ast.Delete) -> _ReturningPlan:
    spec = backend.spec(stmt.table)
    own = frozenset({None, stmt.table, getattr(stmt, "alias", None) or stmt.table})
    labels: list[str] = []
    fields: list[str | None] = []
    exprs: list[ast.Expr] = []
    matched: dict[int, ast.Expr] = {}
    for col in stmt.returning:
        expr = col.expr
        if isinstance(expr, ast.Star) and expr.table in own:
            if not spec.fields:
                raise NotSupportedError(f"RETURNING * from {spec.name}, a collection without "
                                        "declared columns")
            labels += spec.field_names
            fields += spec.field_names
            continue
        if not rowexpr.own_row_only(expr, own):
            matched[len(fields)] = _from_row_expr(stmt, expr, own)
            labels.append(col.alias or _label(expr))
            fields.append(None)
            continue
        labels.append(col.alias or _label(expr))
        if isinstance(expr, ast.Column):
            if spec.fields and expr.name not in spec.field_names:
                raise ProgrammingError(f"no such column: {expr.name}")
            fields.append(expr.name)
        else:
            fields.append(None)
            exprs.append(rowexpr.fields_to_params(expr, own))
    bound = tuple(exprs)
    return _ReturningPlan(spec, tuple(labels), tuple(fields), bound,
                          rowexpr.field_params(bound), frozenset(matched),
                          tuple(matched[n] for n in sorted(matched)))


def _from_row_expr(stmt: ast.Insert | ast.Update | ast.Delete, expr: ast.Expr,
                   own: frozenset[str | None]) -> ast.Expr:
    """A RETURNING expression over the FROM (USING) tables' row as SQLite computes it: from
    the row the target row was matched with, the one each SET subquery of the rewritten
    UPDATE reads (the first row of ``SELECT ... FROM <from> WHERE <where>``)."""
    from_ = getattr(stmt, "from_", ())
    if not from_ or any(isinstance(n, (ast.ScalarSubquery, ast.Exists, ast.InSelect,
                                       ast.Select, ast.Compound, ast.Star))
                        for n in ast.walk(expr)):
        raise NotSupportedError("RETURNING of a subquery or of another table's column")
    assigned = {name for name, _ in stmt.assignments} if isinstance(stmt, ast.Update) else ()
    for n in ast.walk(expr):
        if isinstance(n, ast.Column) and n.table in own and n.name in assigned:
            raise NotSupportedError(f"RETURNING of an expression over another table's column "
                                    f"and {n.name}, which the UPDATE sets")
    return ast.ScalarSubquery(ast.Select((ast.ResultColumn(expr),), from_,
                                         getattr(stmt, "from_where", None),
                                         limit=ast.Literal(1)))


returning_plan = _schema_analysis("returning_plan", _analyse_returning)


def _label(expr: ast.Expr) -> str:
    if isinstance(expr, ast.Column):
        return expr.name
    return expr.name if isinstance(expr, ast.Func) else "?column?"


# ----------------------------------------------------------------- updates and deletes


@dataclass(slots=True)  # (not frozen: a frozen dataclass is made 3 times slower, per row)
class RowChange:
    """One row a statement wrote: its document before (None: inserted) and after (None:
    deleted). Never changed once made."""

    before: dict[str, Any] | None
    after: dict[str, Any] | None


class ForeignKeyRules(Protocol):
    """What enforces foreign keys at the end of each statement (see dbapi.foreign_keys)."""

    def after_statement(self, spec: CollectionSpec, changes: list[RowChange],
                        pending: PendingBatch, checks: Any = None) -> None: ...

    def act_now(self, spec: CollectionSpec, deleted: dict[str, Any], pending: PendingBatch,
                checks: Any) -> Any: ...


@dataclass(slots=True)
class Match:
    doc_id: str
    body: dict[str, Any]
    cv: str | None
    computed: tuple[Any, ...] = ()


def _matches(
    backend: BackendConnection, spec: CollectionSpec, alias: str | None,
    where: ast.Expr | None, exprs: tuple[ast.Expr, ...], param_sets: list[dict[str, Any]],
    pending: PendingBatch,
) -> tuple[list[list[Match]], bool]:
    """Matching documents per parameter set, and whether the match is by key alone."""
    ref = alias or spec.name
    equalities = key_equalities(where, ref) if spec.primary_key else None
    by_key = equalities is not None and set(spec.primary_key) <= set(equalities)
    if by_key and not exprs:
        assert equalities is not None
        return _matches_by_key(backend, spec, equalities, param_sets, pending), (
            set(equalities) == set(spec.primary_key)
        )
    per_set = []
    param_sets = _keys_compared(spec, ref, where, exprs, param_sets)
    for params in param_sets:
        rows = backend.rows_for_write(spec.name, alias, where, exprs, params, pending)
        per_set.append([Match(r[0], r[1], r[2], tuple(r[3:])) for r in rows])
    return per_set, by_key and equalities is not None and set(equalities) == set(spec.primary_key)


def _keys_compared(spec: CollectionSpec, ref: str, where: ast.Expr | None,
                   exprs: tuple[ast.Expr, ...], param_sets: list[dict[str, Any]]
                   ) -> list[dict[str, Any]]:
    """The parameter sets with the value of each parameter the WHERE compares with a key
    field (=, <, IN ...) as SQLite compares it (the key's affinity: ``id = '5'`` or
    ``id IN ('5')`` with an INTEGER ``id`` is 5), for the match query, which compares the
    stored key with the value as given. A parameter used anywhere else is left as given."""
    fields = _key_params(spec, ref, where)
    if not fields:
        return param_sets
    uses: dict[str, int] = {}
    for node in ast.walk((where, exprs)):
        if isinstance(node, ast.Param):
            uses[node.name] = uses.get(node.name, 0) + 1
    names = {name: field for name, field in fields.items() if uses.get(name) == 1}
    if not names:
        return param_sets
    out = []
    for params in param_sets:
        converted = {name: compared_field(spec, field, _value(ast.Param(name), params))
                     for name, field in names.items()}
        out.append({**params, **converted} if any(
            converted[name] is not params[name] for name in converted) else params)
    return out


_KEY_COMPARISONS = frozenset({"=", "!=", "<>", "<", "<=", ">", ">=", "==", "is", "is not"})
_SUBQUERIES = (ast.Exists, ast.ScalarSubquery, ast.InSelect, ast.Select)


def _key_params(spec: CollectionSpec, ref: str, where: ast.Expr | None) -> dict[str, str]:
    """{parameter name: key field} of the parameters ``where`` compares with a key field."""
    out: dict[str, str] = {}

    def key_field(e: ast.Expr) -> str | None:
        return e.name if isinstance(e, ast.Column) and e.table in (None, ref) and (
            e.name in spec.primary_key) else None

    for node in ast.walk(where, _SUBQUERIES):  # (a subquery's id is another table's)
        if isinstance(node, ast.Binary) and node.op in _KEY_COMPARISONS:
            for column, value in ((node.left, node.right), (node.right, node.left)):
                if (field := key_field(column)) is not None and isinstance(value, ast.Param):
                    out[value.name] = field
        elif isinstance(node, ast.InList) and (field := key_field(node.expr)) is not None:
            out.update((item.name, field) for item in node.items
                       if isinstance(item, ast.Param))
    return out


def _matches_by_key(
    backend: BackendConnection, spec: CollectionSpec, equalities: dict[str, ast.Expr],
    param_sets: list[dict[str, Any]], pending: PendingBatch,
) -> list[list[Match]]:
    # A write by key alone needs no second load of a document this transaction already read
    # (RavenDB's session does not reload what it tracks). A WHERE on other fields, such as a
    # version_id_col check, is evaluated on a fresh read, so it fails at flush as in SQL.
    key_only = set(equalities) == set(spec.primary_key)
    if len(equalities) == 1 and len(spec.primary_key) == 1:  # the common case: an id of an
        field, expr = next(iter(equalities.items()))           # integer key
        columns = _plain_columns((expr,), param_sets)
        if columns is not None and set(map(type, columns[0])) == {int} and (
                compared_field(spec, field, 1) == 1):  # (a TEXT key compares '1')
            return _matches_by_int_key(backend, spec, field, columns[0], pending, key_only)
    wanted: list[tuple[dict[str, Any], str | None]] = []
    for params in param_sets:
        expect = {f: compared_field(spec, f, _value(e, params)) for f, e in equalities.items()}
        key = tuple(expect[k] for k in spec.primary_key)
        wanted.append((expect, None if None in key else spec.document_id(key)))
    docs = _documents_by_id(backend, spec, {d for _, d in wanted if d is not None}, pending,
                            key_only)
    out: list[list[Match]] = []
    for expect, doc_id in wanted:
        doc = docs.get(doc_id) if doc_id else None
        body = None if doc is None else doc[1]
        if doc is None or body is None:
            out.append([])
            continue
        for f, v in expect.items():
            if not _same(compared_field(spec, f, body.get(f)), v):
                out.append([])
                break
        else:
            out.append([Match(doc[0], body, doc[2])])
    return out


def _matches_by_int_key(backend: BackendConnection, spec: CollectionSpec, field: str,
                        keys: list[int], pending: PendingBatch,
                        key_only: bool) -> list[list[Match]]:
    """``_matches_by_key`` of the values ``keys`` of a one-field key (integers, each the
    ``_value`` of its parameter set)."""
    head = "" if spec.key_is_id else spec.prefix + "/"
    doc_ids = [f"{head}{key}" for key in keys]  # spec.document_id, with no tuples
    docs = _documents_by_id(backend, spec, set(doc_ids), pending, key_only)
    out: list[list[Match]] = []
    for key, doc_id in zip(keys, doc_ids, strict=True):
        doc = docs.get(doc_id)
        if doc is None or doc[1] is None:
            out.append([])
            continue
        body = doc[1]
        stored = body.get(field)
        # (``_same`` of an integer and a stored integer: equality)
        if (type(stored) is int and stored == key) or _same(stored, key) or (
                type(stored) is str and compared_field(spec, field, stored) == key):
            out.append([Match(doc[0], body, doc[2])])
        else:
            out.append([])
    return out


def _documents_by_id(backend: BackendConnection, spec: CollectionSpec, ids: set[str],
                     pending: PendingBatch, key_only: bool) -> dict[str, Any]:
    """The documents ``ids`` name, as the transaction sees them: ``(id, body, cv)`` by id. A
    write by key alone takes a stored document this transaction read (``pending.seen``, its
    JSON text parsed now) as it was read; the others are loaded (in id order)."""
    written = pending.overlay.get(spec.name)  # (pending.get)
    pending_ids = written.keys() & ids if written else set()
    rest = list(ids - pending_ids if pending_ids else ids)
    seen = pending.seen if key_only else {}
    known: list[Any] = list(map(seen.get, rest))
    to_load = list(pending_ids)
    if None in known:  # (a document this transaction did not read)
        to_load += [doc_id for doc_id, doc in zip(rest, known, strict=True) if doc is None]
        rest = [doc_id for doc_id, doc in zip(rest, known, strict=True) if doc is not None]
        known = [doc for doc in known if doc is not None]
    bodies = list(map(itemgetter(0), known))
    if set(map(type, bodies)) == {str}:  # bodies kept as their JSON texts (embedded reads)
        bodies = values.loads_each(bodies)
    elif str in set(map(type, bodies)):
        bodies = [values.loads(b) if type(b) is str else b for b in bodies]
    docs: dict[str, Any] = dict(zip(rest, zip(rest, bodies, map(itemgetter(1), known),
                                              strict=True), strict=True))
    if to_load:
        docs.update(backend.get_documents(spec.name, sorted(to_load), pending))
    return docs


def _same(stored: Any, given: Any) -> bool:
    if isinstance(given, float) or isinstance(stored, float):
        try:
            return float(stored) == float(given)
        except (TypeError, ValueError):
            return False
    if type(stored) is bool or type(given) is bool:
        return stored == given and (stored is None) == (given is None)
    return bool(stored == given)


@dataclass(frozen=True)
class _UpdatePlan:
    spec: CollectionSpec
    #: per assignment: None for a plain value, else the expression with the document's own
    #: fields as ``field:`` parameters when the store can evaluate it at commit
    deferred: tuple[Recompute | None, ...]
    complex_exprs: tuple[ast.Expr, ...]  # expressions the match query evaluates now
    assigns_key: bool
    generated: tuple[Recompute, ...] = ()  # generated columns the store evaluates at commit
    affected: frozenset[str] = frozenset()  # generated columns that read an assigned field
    #: the affected generated columns are computed now, from the document as read: it must
    #: still be that version at commit
    not_deferred: bool = True
    #: SET reads a table (a subquery): executemany sets then see each other's writes
    reads_tables: bool = False
    #: what the match query evaluates: ``complex_exprs``, then the RETURNING columns of the
    #: FROM tables' row (UPDATE ... FROM)
    match_exprs: tuple[ast.Expr, ...] = ()
    #: the document's fields ``complex_exprs`` read
    reads: tuple[str, ...] = ()
    #: the fields whose value is computed as its JSON text (``_json_texts``), to decode
    json_texts: frozenset[str] = frozenset()
    #: per assignment: what the field's affinity stores of a value set (None: as given)
    conversions: tuple[Conversion | None, ...] = ()
    #: SET names a column of a unique constraint: the rows are visited in SQLite's order,
    #: as their unique values are checked in turn (``unique_check``)
    sets_unique: bool = False

    def convert(self, at: int) -> Callable[[Any], Any] | None:
        """``Conversion.apply`` of the assignment at ``at`` (None: none)."""
        conversion = self.conversions[at] if self.conversions else None
        return None if conversion is None else conversion.apply

    def columns(self, columns: list[list[Any]], start: int = 0) -> list[Sequence[Any]]:
        """``_plain_columns`` of the assignments (from ``columns[start]`` on) converted by
        their fields' affinities."""
        out: list[Sequence[Any]] = list(columns)
        for i, conversion in enumerate(self.conversions):
            if conversion is not None:
                out[start + i] = conversion.column(out[start + i])
        return out


def _analyse_update(backend: BackendConnection, stmt: ast.Update) -> _UpdatePlan:
    spec = backend.spec(stmt.table)
    for name, _ in stmt.assignments:
        if spec.fields and name not in spec.field_names:
            raise ProgrammingError(f"table {spec.name} has no column named {name}")
    refuse_generated(spec, (name for name, _ in stmt.assignments), "UPDATE")
    own = frozenset({None, stmt.alias or stmt.table})
    deferred: list[Recompute | None] = []
    assignments = _json_texts(spec, stmt.assignments)
    for (name, expr), (_, given) in zip(assignments, stmt.assignments, strict=True):
        if _is_plain(expr) or stmt.returning or not rowexpr.own_row_only(expr, own) or (
                expr is not given):  # (a JSON field bound at commit is no JSON text)
            deferred.append(None)  # RETURNING must report what is stored: guarded instead
            continue
        bound = rowexpr.fields_to_params(expr, own)
        deferred.append(Recompute(name, bound, rowexpr.field_params((bound,))))
    planned = tuple(d for d in deferred if d is not None)
    names = [name for name, _ in stmt.assignments]
    # Generated columns reading an assigned field are evaluated at commit too, else guarded.
    generated = None if stmt.returning else generated_recomputes(spec, stmt.assignments, own)
    if (planned or generated) and (len(set(names)) != len(names) or not backend.can_recompute(
            spec, planned + (generated or ()))):
        deferred = [None] * len(deferred)
        generated = None
    complex_exprs = tuple(e for _, e in assignments if not _is_plain(e))
    return _UpdatePlan(
        spec, tuple(deferred),
        complex_exprs,
        any(name in spec.primary_key for name, _ in stmt.assignments),
        generated or (),
        affected_generated(spec, names),
        generated is None,
        _reads_tables(stmt.assignments),
        complex_exprs + (returning_plan(backend, stmt).matched if stmt.returning else ()),
        rowexpr.field_params(tuple(rowexpr.fields_to_params(e, own) for e in complex_exprs)),
        frozenset(name for (name, e), (_, given) in zip(assignments, stmt.assignments,
                                                         strict=True) if e is not given),
        tuple(written(spec, name) if _is_plain(e) else None for name, e in stmt.assignments),
        not {f for fields in spec.unique_sets for f in fields}.isdisjoint(names),
    )


update_plan = _schema_analysis("update_plan", _analyse_update)


def _json_texts(spec: CollectionSpec, assignments: Any) -> list[tuple[str, ast.Expr]]:
    """The assignments, an expression computing a JSON field's value made its JSON text
    (``json_quote``, which ``_stored`` decodes): SQL reads an object or array field as its
    JSON text, so SET j = k stored the array [1, 2] as the string '[1,2]'."""
    json_fields = {f.name for f in spec.fields if f.base_type == "JSON"}
    return [(name, _json_text(expr) if name in json_fields and not (
        _is_plain(expr) or _scalar(expr)) else expr) for name, expr in assignments]


def _json_text(expr: ast.Expr) -> ast.Expr:
    """The JSON value a JSON column holds of ``expr``'s SQL value, as JSON text (a number,
    NULL as it is): SQLite's, as SQLAlchemy reads it (``affinity.sqlite_json_stored``): a
    text is the JSON it holds (a JSON column's value in SQL is its JSON text)."""
    return ast.Func(SQL_JSON_STORED, (expr,))


def _scalar(expr: ast.Expr) -> bool:
    """Whether ``expr`` gives no JSON text (arithmetic, comparisons, ``||``, ``json_quote``):
    computed at commit as it is (SET a = a + 1 over a JSON column stays an increment)."""
    if isinstance(expr, ast.Binary):
        return expr.op not in ("->", "->>")
    return isinstance(expr, ast.Unary) or isinstance(expr, ast.Func) and (
        expr.name == "json_quote")


def _in_turn(
    spec: CollectionSpec, ref: str, where: ast.Expr | None, assigns_key: bool,
    param_sets: list[dict[str, Any]],
) -> list[list[dict[str, Any]]]:
    """executemany applies each parameter set in turn, as SQL does: sets are matched together
    only when each names a different document by its whole key and no key changes."""
    if len(param_sets) <= 1:
        return [param_sets]
    equalities = key_equalities(where, ref) if spec.primary_key else None
    one_by_one = [[p] for p in param_sets]
    if equalities is None or assigns_key or not set(spec.primary_key) <= set(equalities):
        return one_by_one
    if len(spec.primary_key) == 1:  # the key values themselves (no one-item tuples)
        expr = equalities[spec.primary_key[0]]
        columns = _plain_columns((expr,), param_sets)
        keys: list[Any] = (columns[0] if columns is not None
                           else [_value(expr, p) for p in param_sets])
        if set(map(type, keys)) != {int}:  # ('2' and 2 are one key of an INTEGER column)
            keys = [compared_field(spec, spec.primary_key[0], k) for k in keys]
    else:
        keys = [tuple(compared_field(spec, k, _value(equalities[k], p)) for k in spec.primary_key)
                for p in param_sets]
    try:
        distinct = len(set(keys)) == len(keys)
    except TypeError:  # unhashable key values: no shortcut
        distinct = False
    return [param_sets] if distinct else one_by_one


def sets_apart(backend: BackendConnection, stmt: ast.Update,
               param_sets: Sequence[dict[str, Any]]) -> bool:
    """Whether each parameter set of an UPDATE names another row by its whole key and no
    key changes (``_in_turn`` then runs them together)."""
    plan: _UpdatePlan = update_plan(backend, stmt)
    return len(_in_turn(plan.spec, stmt.alias or plan.spec.name, stmt.where,
                        plan.assigns_key or plan.reads_tables, list(param_sets))) == 1


def run_update(
    backend: BackendConnection, stmt: ast.Update, param_sets: list[dict[str, Any]],
    pending: PendingBatch, fks: ForeignKeyRules | None = None,
) -> Outcome:
    plan: _UpdatePlan = update_plan(backend, stmt)
    spec = plan.spec
    out = Outcome(rowcount=0)
    rows: list[RowChange] | None = [] if fks is not None else None
    plain = _plain_update(plan, stmt)
    by_key = _by_one_key(stmt, plan) if plain else None
    for group in _in_turn(spec, stmt.alias or spec.name, stmt.where,
                          plan.assigns_key or plan.reads_tables, param_sets):
        if by_key is not None and (done := _update_by_int_key(
                backend, stmt, plan, by_key, group, pending, rows)) is not None:
            out.rowcount += done
            continue
        per_set, key_only = _matches(backend, spec, stmt.alias, stmt.where, plan.match_exprs,
                                     group, pending)
        if plain:
            out.rowcount += _update_plain(backend, stmt, plan, group, per_set, key_only,
                                          pending, rows)
            continue
        for params, matches in zip(group, per_set, strict=False):
            # (rows whose key or unique values change are moved in turn, in SQLite's order:
            # each new key or value must be free when its row moves)
            ordered = stmt.returning or plan.assigns_key or plan.sets_unique
            for match in _visit_order(spec, matches) if ordered else matches:
                after = _update_one(backend, stmt, plan, params, match, key_only, pending, out)
                if rows is not None:
                    rows.append(RowChange(match.body, after))
    if fks is not None and rows:
        fks.after_statement(spec, rows, pending)
    if stmt.returning:
        out.columns = list(returning_plan(backend, stmt).labels)
    return out


def _plain_update(plan: _UpdatePlan, stmt: ast.Update) -> bool:
    """Whether ``_update_one`` of the statement comes down to ``_update_plain``: constant
    values (parameters, literals) by key, nothing computed, no key change, no RETURNING."""
    return not (plan.complex_exprs or plan.affected or plan.generated or plan.assigns_key
                or stmt.returning or any(d is not None for d in plan.deferred))


def _update_plain(backend: BackendConnection, stmt: ast.Update, plan: _UpdatePlan,
                  group: list[dict[str, Any]], per_set: list[list[Match]], key_only: bool,
                  pending: PendingBatch, rows: list[RowChange] | None) -> int:
    """``_update_one`` of each match of a ``_plain_update`` statement (the documents of a
    group are distinct: see ``_in_turn``); returns how many were updated. The values set
    are taken a column at a time and the documents checked together when that gives what
    ``_update_plain_each`` gives."""
    spec = plan.spec
    assignments = stmt.assignments
    matched = [(params, matches) for params, matches in zip(group, per_set, strict=False)
               if matches]
    found = _plain_columns(tuple(e for _, e in assignments), [p for p, _ in matched])
    if found is None or not assignments or _sets_json(spec, assignments):
        # values converted, or an error to raise in turn; JSON fields settled in turn
        return _update_plain_each(backend, stmt, plan, group, per_set, key_only, pending,
                                  rows)
    columns = plan.columns(found)
    names = [name for name, _ in assignments]
    name = names[0] if len(names) == 1 else None
    expected_of = pending.expected.get if pending.expected else None
    commands: list[Patch] = []
    bodies: list[dict[str, Any]] = []
    for (_, matches), set_values in zip(matched, zip(*columns, strict=True), strict=True):
        for match in matches:
            changes = ({name: set_values[0]} if name is not None
                       else dict(zip(names, set_values, strict=True)))
            body = {**match.body, **changes}
            # values computed from nothing the transaction read: a write by key is blind,
            # as in SQL
            expected = (expected_of is not None and expected_of(match.doc_id)) or (
                None if key_only else match.cv)
            commands.append(Patch(spec.name, match.doc_id, changes, expected, (), match.cv))
            bodies.append(body)
    _check_each(backend, spec, bodies)
    if rows is not None:
        rows += [RowChange(match.body, body) for match, body in zip(
            (m for _, matches in matched for m in matches), bodies, strict=True)]
    pending.add_each(commands, bodies, patched=names)
    return len(commands)


def _by_one_key(stmt: ast.Update, plan: _UpdatePlan) -> tuple[str, ast.Expr] | None:
    """(the key field, the expression it equals) of a ``_plain_update`` statement whose WHERE
    is the equality of a one-field key and nothing else, with values to set; else None."""
    spec = plan.spec
    if len(spec.primary_key) != 1 or not stmt.assignments or plan.match_exprs:
        return None
    equalities = key_equalities(stmt.where, stmt.alias or spec.name)
    if equalities is None or set(equalities) != set(spec.primary_key):
        return None
    return next(iter(equalities.items()))


def _update_by_int_key(backend: BackendConnection, stmt: ast.Update, plan: _UpdatePlan,
                       by_key: tuple[str, ast.Expr], group: list[dict[str, Any]],
                       pending: PendingBatch, rows: list[RowChange] | None) -> int | None:
    """``_matches`` then ``_update_plain`` of a ``_plain_update`` statement by a one-field
    key (``_by_one_key``) whose values are integers, the values set given as stored (the
    ORM's flush of changed objects), in one pass over the documents (no ``Match`` per row);
    returns how many were updated. None when a value is not such: the general path."""
    spec = plan.spec
    field, expr = by_key
    found = _plain_columns((expr, *(e for _, e in stmt.assignments)), group)
    if found is None or _sets_json(spec, stmt.assignments) or set(
            map(type, found[0])) != {int} or (
            compared_field(spec, field, 1) != 1):  # (a TEXT key compares '1')
        return None
    columns = plan.columns(found, 1)
    keys = columns[0]
    head = "" if spec.key_is_id else spec.prefix + "/"
    doc_ids = [f"{head}{key}" for key in keys]  # (spec.document_id, with no tuples)
    docs = _documents_by_id(backend, spec, set(doc_ids), pending, True)
    names = tuple(name for name, _ in stmt.assignments)
    expected_of = pending.expected.get if pending.expected else None
    stored_docs = list(map(docs.get, doc_ids))
    made = _patch_columns(spec, field, keys, stored_docs, names, columns[1:], expected_of)
    if made is None:  # (a document missing, or its key stored as another kind)
        made = _patch_rows(spec, field, keys, doc_ids, docs, names, columns[1:], expected_of)
    run, before = made
    bodies = _patched_bodies(before, names, run.values)
    _check_each(backend, spec, bodies)
    if rows is not None:
        rows += map(RowChange, before, bodies)
    pending.add_patch_run(run, bodies, names)
    return len(run.ids)


_BODY = itemgetter(1)


def _patch_columns(spec: CollectionSpec, field: str, keys: Sequence[Any], found: list[Any],
                   names: tuple[str, ...], columns: Sequence[Sequence[Any]],
                   expected_of: Callable[[str], str | None] | None
                   ) -> tuple[PatchRun, list[dict[str, Any]]] | None:
    """The PATCHes of ``_update_by_int_key`` a column at a time, and the documents they
    update, when every key's document (``found``: ``(id, body, cv)`` or None, by key) is
    there and holds its key as that integer: each is then updated (what ``_patch_rows``
    gives). None otherwise."""
    if None in found:
        return None
    before = list(map(_BODY, found))
    if None in before:
        return None
    stored = list(map(dict.get, before, itertools.repeat(field)))
    if set(map(type, stored)) != {int} or stored != list(keys):
        return None
    ids = list(map(itemgetter(0), found))
    # a write by key alone of values computed from nothing the transaction read: blind,
    # as in SQL (unless a session expects the version it loaded)
    expected: list[str | None] = ([None] * len(ids) if expected_of is None
                else [expected_of(doc_id) or None for doc_id in ids])
    return PatchRun(spec.name, ids, names, list(zip(*columns, strict=True)), expected,
                    list(map(itemgetter(2), found))), before


def _patch_rows(spec: CollectionSpec, field: str, keys: Sequence[Any], doc_ids: list[str],
                docs: dict[str, Any], names: tuple[str, ...], columns: Sequence[Sequence[Any]],
                expected_of: Callable[[str], str | None] | None
                ) -> tuple[PatchRun, list[dict[str, Any]]]:
    """The PATCHes of ``_update_by_int_key``, a key at a time, and the documents they
    update: each key's document that is there and holds the key (compared as SQLite
    compares it)."""
    run = PatchRun(spec.name, [], names, [], [], [])  # (a Patch of each made at the commit)
    ids, sets, expects, seens = run.ids, run.values, run.expected, run.seen
    before: list[dict[str, Any]] = []
    for doc_id, key, set_values in zip(doc_ids, keys, zip(*columns, strict=True),
                                       strict=True):
        doc = docs.get(doc_id)
        if doc is None or doc[1] is None:
            continue
        stored = doc[1].get(field)
        # (``_same`` of an integer and a stored integer: equality)
        if not ((type(stored) is int and stored == key) or _same(stored, key) or (
                type(stored) is str and compared_field(spec, field, stored) == key)):
            continue
        # a write by key alone of values computed from nothing the transaction read: blind,
        # as in SQL (unless a session expects the version it loaded)
        expects.append((expected_of(doc[0]) if expected_of is not None else None) or None)
        ids.append(doc[0])
        sets.append(set_values)
        seens.append(doc[2])
        before.append(doc[1])
    return run, before


def _patched_bodies(before: list[dict[str, Any]], names: tuple[str, ...],
                    set_values: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """Each document of ``before`` with the fields ``names`` set to its values."""
    if len(names) == 1:
        name = names[0]
        return [{**body, name: value} for body, (value,) in zip(before, set_values,
                                                                 strict=True)]
    return [{**body, **dict(zip(names, row, strict=True))}
            for body, row in zip(before, set_values, strict=True)]


def _update_plain_each(backend: BackendConnection, stmt: ast.Update, plan: _UpdatePlan,
                       group: list[dict[str, Any]], per_set: list[list[Match]],
                       key_only: bool, pending: PendingBatch,
                       rows: list[RowChange] | None) -> int:
    """``_update_plain``, a document at a time."""
    spec = plan.spec
    assignments = stmt.assignments
    expected_of = pending.expected.get
    commands: list[Patch] = []
    bodies: list[dict[str, Any]] = []
    for params, matches in zip(group, per_set, strict=False):
        for match in matches:
            changes, unset = settled_changes(
                spec, {name: _value(e, params, plan.convert(i))
                       for i, (name, e) in enumerate(assignments)})
            body = _changed(match.body, changes, unset)
            check_constraints(backend, spec, body)
            # values computed from nothing the transaction read: a write by key is blind,
            # as in SQL
            expected = expected_of(match.doc_id) or (None if key_only else match.cv)
            commands.append(Patch(spec.name, match.doc_id, changes, expected, unset,
                                  seen=match.cv))
            bodies.append(body)
            if rows is not None:
                rows.append(RowChange(match.body, body))
    pending.add_each(commands, bodies, patched=[name for name, _ in assignments])
    return len(commands)


def _sets_json(spec: CollectionSpec, assignments: Any) -> bool:
    """Whether an UPDATE sets a JSON-typed field (``settled_changes``)."""
    return bool(spec.json_fields) and any(name in spec.json_fields for name, _ in assignments)


def _changed(body: dict[str, Any], changes: dict[str, Any],
             unset: tuple[str, ...]) -> dict[str, Any]:
    """A copy of ``body`` with ``changes`` set and the fields ``unset`` left out."""
    out = {**body, **changes}
    for name in unset:
        out.pop(name, None)
    return out


def _update_one(
    backend: BackendConnection, stmt: ast.Update, plan: _UpdatePlan, params: dict[str, Any],
    match: Match, key_only: bool, pending: PendingBatch, out: Outcome,
) -> dict[str, Any]:
    """Write one matched document; returns it as the update leaves it."""
    spec = plan.spec
    for name in plan.reads:  # (SQL read it as a float: refused, as the commit would)
        if type(value := match.body.get(name)) is int and not (
                _INT64_MIN <= value <= _INT64_MAX):
            raise DataError(f"UPDATE {spec.name}: an expression reads {name} = {value}, an "
                            "integer beyond SQLite's 64 bits: a number the store only "
                            "computes with approximately")
    computed = iter(match.computed)
    new_values = [_value(e, params, plan.convert(i)) if _is_plain(e) else _stored(
        spec, name, next(computed), name in plan.json_texts)
        for i, (name, e) in enumerate(stmt.assignments)]
    changes = dict(zip((name for name, _ in stmt.assignments), new_values, strict=True))
    if plan.assigns_key:  # a key stored by its column's affinity ('8' is 8), as INSERT does
        changes.update((k, compared_field(spec, k, changes[k])) for k in spec.primary_key
                       if k in changes)
    changes, unset = settled_changes(spec, changes)
    body = _changed(match.body, changes, unset)
    if plan.affected:  # generated columns follow the fields they read
        generated = generated_values(spec, body, backend.evaluate)
        changes.update((k, v) for k, v in generated.items() if k in plan.affected)
        body.update(changes)
    check_constraints(backend, spec, body)
    if plan.assigns_key and type(new_key := body.get(spec.autoincrement or "")) is int and (
            spec.autoincrement in changes):
        # a key set by UPDATE is one HiLo must not hand out later, as one an INSERT gives
        if not _INT64_MIN <= new_key <= _INT64_MAX:
            raise _key_out_of_range(spec, spec.autoincrement, new_key)
        backend.observe_id(spec.prefix, new_key)
    if plan.assigns_key:
        _refuse_taken_key(backend, spec, match.doc_id, body, pending)
    deferred = () if plan.assigns_key else tuple(d for d in plan.deferred if d is not None)
    # A value computed now from what this transaction read is exact only if the document is
    # still that version at commit: a change meanwhile fails the commit (StaleDataError).
    # Expressions the store evaluates at commit need no such guard; nor do plain values
    # written by key (a blind write, as in SQL).
    guarded = not key_only or len(deferred) < len(plan.complex_exprs) or bool(
        plan.affected and plan.not_deferred)
    if not plan.assigns_key:
        deferred += plan.generated
    expected = pending.expected.get(match.doc_id) or (match.cv if guarded else None)
    args: dict[str, Any] = {}
    if deferred:
        args = {k: values.to_json(v) for k, v in params.items()}
        check = getattr(backend, "check_recompute", None)  # (the commit's evaluation would
        if check is not None and not check(spec, deferred, match.body, args):  # refuse)
            # a field read holds what the store's evaluation does not compute with (a text
            # in a numeric column): the value computed now, guarded by the version read
            deferred = ()
            expected = pending.expected.get(match.doc_id) or match.cv
    if deferred:
        plain: dict[str, Any] = {}
        for (name, _), recompute, value in zip(stmt.assignments, plan.deferred, new_values,
                                               strict=True):
            if recompute is None and name not in unset:
                plain[name] = None if value is JSON_NULL else value
            else:
                plain.pop(name, None)
        pending.add(Patch(spec.name, match.doc_id, plain, expected, unset, seen=match.cv,
                          compute=deferred, args=args), body)
    else:
        write_update(spec, match, body, changes, expected, pending, unset)
    out.rowcount += 1
    if stmt.returning:
        out.rows.append(returning_plan(backend, stmt).row(backend, params, body,
                                                          tuple(computed)))
    return body


def _stored(spec: CollectionSpec, name: str, value: Any, json_text: bool) -> Any:
    """A value SQL computed for the field ``name`` as the field's type stores it (SQLite's
    column affinity: SET s = n + 1 stores '6' in a text column, SET n = f * 2 stores 3 in
    an integer one), as an INSERT's computed values are; ``json_text``: computed as its JSON
    text (``_json_texts``), decoded (a text computed otherwise, SET j = a || '', stays)."""
    for f in spec.fields:
        if f.name == name:
            return (stored_computed if json_text else stored_form)(f.type, value)
    return value


def _visit_order(spec: CollectionSpec, matches: list[Match]) -> list[Match]:
    """The matched rows in the order SQLite visits a table's rows when it scans it, which is
    the order of its RETURNING rows: a table with an INTEGER PRIMARY KEY is kept in key
    (rowid) order. Other keys are left in the store's order."""
    if len(matches) < 2 or len(spec.primary_key) != 1:
        return matches
    key = spec.primary_key[0]
    if not all(type(m.body.get(key)) is int for m in matches):
        return matches
    return sorted(matches, key=lambda m: int(m.body[key]))


def _refuse_taken_key(backend: BackendConnection, spec: CollectionSpec, doc_id: str,
                      body: dict[str, Any], pending: PendingBatch) -> None:
    """An UPDATE moving a row to a key another row holds now (a row of the transaction, a
    stored one, or one the same statement has not moved yet) fails at once, as in SQLite,
    which checks each row as it changes it."""
    new_id = spec.document_id(tuple(body.get(k) for k in spec.primary_key))
    if new_id == doc_id:
        return
    state = pending.get(spec.name, new_id)
    if state is None:
        if new_id in backend.get_documents(spec.name, [new_id], None):
            raise _duplicate_key(spec, new_id)
    elif not is_gone(state):
        raise _duplicate_key(spec, new_id)


def write_update(
    spec: CollectionSpec, match: Match, body: dict[str, Any], changes: dict[str, Any],
    expected: str | None, pending: PendingBatch, unset: tuple[str, ...] = (),
) -> None:
    if spec.primary_key and any(k in changes for k in spec.primary_key):
        new_id = spec.document_id(tuple(body.get(k) for k in spec.primary_key))
        if new_id != match.doc_id:
            # A key change moves the document: delete the old id, create the new one.
            pending.add(Delete(spec.name, match.doc_id, expected, True, match.cv), None)
            pending.add(Put(spec.name, new_id, body, ""), body)
            return
    pending.add(Patch(spec.name, match.doc_id, changes, expected, unset, seen=match.cv), body)


def run_delete(
    backend: BackendConnection, stmt: ast.Delete, param_sets: list[dict[str, Any]],
    pending: PendingBatch, fks: ForeignKeyRules | None = None,
) -> Outcome:
    spec = backend.spec(stmt.table)
    out = Outcome(rowcount=0)
    rows: list[RowChange] = []
    from_row = returning_plan(backend, stmt).matched if stmt.returning else ()
    for group in _in_turn(spec, stmt.alias or spec.name, stmt.where, False, param_sets):
        per_set, key_only = _matches(backend, spec, stmt.alias, stmt.where, from_row, group,
                                     pending)
        for params, matches in zip(group, per_set, strict=False):
            for match in _visit_order(spec, matches) if stmt.returning else matches:
                expected = pending.expected.get(match.doc_id) or (
                    None if key_only else match.cv)
                pending.add(Delete(spec.name, match.doc_id, expected, True, match.cv), None)
                out.rowcount += 1
                if fks is not None:
                    rows.append(RowChange(match.body, None))
                if stmt.returning:
                    out.rows.append(returning_plan(backend, stmt).row(
                        backend, params, match.body, match.computed))
    if fks is not None and rows:
        fks.after_statement(spec, rows, pending)
    if stmt.returning:
        out.columns = list(returning_plan(backend, stmt).labels)
    return out
