"""SQLite's upsert: ``INSERT ... ON CONFLICT ... DO NOTHING | DO UPDATE SET ... [WHERE ...]``,
and ``INSERT OR IGNORE`` / ``INSERT OR REPLACE`` (``REPLACE INTO``).

Each proposed row is taken in turn (the parameter sets of an executemany in order, the VALUES
rows of each in order), so a row sees the rows before it, as SQLite's do. Its conflicts are
the document its primary key names and a document holding each of its unique values, as the
transaction sees the collection (the pending writes overlaid; see ``upsert_lookup``, which
finds them for all the rows at once where that is exact). The first clause whose conflict
target has a conflict applies (a clause without a target: any conflict, the primary key's
first): the row is skipped (DO NOTHING, or DO UPDATE whose WHERE is not true) or the document
updated by ``_update_one`` guarded by the change vector it was read with, so a document
another transaction changed or deleted meanwhile fails the commit instead of being
overwritten. A row without conflict is inserted by ``run_insert``: a PUT that must not find
its document at commit, its unique values reserved at commit. A conflict no clause handles
raises IntegrityError, as SQLite's ABORT does, or is resolved by the INSERT's OR IGNORE (the
row skipped) or OR REPLACE (the documents in the way deleted, guarded as an update is).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .. import rowexpr
from ..backends.base import BackendConnection
from ..commands import Delete
from ..errors import DuplicateKeyError, IntegrityError, OperationalError, ProgrammingError
from ..generated import default_expr, generated_values, stored_form
from ..pending import PendingBatch
from ..schema import CollectionSpec
from ..statements import ast
from . import executor
from .executor import ForeignKeyRules, Match, Outcome, RowChange
from .upsert_lookup import Lookup, conflicts_of

#: parameter names of the proposed row's values (``excluded.c``; a ``:name`` parameter never
#: holds a colon)
EXCLUDED = "excluded:"


def run_insert(
    backend: BackendConnection, stmt: ast.Insert, param_sets: Sequence[dict[str, Any]],
    pending: PendingBatch, fks: ForeignKeyRules | None = None,
) -> Outcome:
    """``executor.run_insert``, or an upsert when the INSERT has ON CONFLICT clauses or a
    conflict resolution (``INSERT OR IGNORE`` / ``OR REPLACE``)."""
    if not stmt.on_conflict and stmt.resolution is None:
        return executor.run_insert(backend, stmt, param_sets, pending, fks)
    return run_upsert(backend, stmt, param_sets, pending, fks)


@dataclass(frozen=True)
class _Clause:
    #: the position in ``_UpsertPlan.constraints`` of the constraint the target names; None
    #: for a clause without a target (any constraint)
    constraint: int | None
    #: DO UPDATE as an UPDATE of the conflicting row (``excluded.c`` as EXCLUDED parameters);
    #: None for DO NOTHING
    update: ast.Update | None
    #: the DO UPDATE's WHERE as 1 or 0 with the row's fields as ``field:`` parameters
    where: ast.Expr | None
    where_reads: tuple[str, ...] = ()


@dataclass(frozen=True)
class _UpsertPlan:
    spec: CollectionSpec
    #: the uniqueness constraints a row may conflict on, in the order SQLite checks them:
    #: the primary key (if any), then each unique constraint and unique index
    constraints: tuple[tuple[str, ...], ...]
    has_key: bool  # constraints[0] is the primary key
    clauses: tuple[_Clause, ...]
    #: the INSERT of a proposed row, by the fields it holds
    inserts: dict[tuple[str, ...], ast.Insert] = field(default_factory=dict, compare=False)


def _analyse_upsert(backend: BackendConnection, stmt: ast.Insert) -> _UpsertPlan:
    spec = backend.spec(stmt.table)
    if spec.view is not None:
        raise ProgrammingError(f"cannot modify {spec.name} because it is a view")
    has_key = bool(spec.primary_key)
    constraints = ((tuple(spec.primary_key),) if has_key else ()) + spec.unique_sets
    clauses = tuple(_clause(backend, spec, stmt, clause, constraints)
                    for clause in stmt.on_conflict)
    return _UpsertPlan(spec, constraints, has_key, clauses)


upsert_plan = executor._schema_analysis("upsert_plan", _analyse_upsert)


def _clause(backend: BackendConnection, spec: CollectionSpec, stmt: ast.Insert,
            clause: ast.OnConflict, constraints: tuple[tuple[str, ...], ...]) -> _Clause:
    constraint = None
    if clause.target:
        unknown = [c for c in clause.target if spec.fields and c not in spec.field_names]
        if unknown:
            raise OperationalError(f"no such column: {unknown[0]}")
        wanted = set(clause.target)
        constraint = next((n for n, c in enumerate(constraints) if set(c) == wanted), None)
        if constraint is None:
            raise OperationalError(
                f"ON CONFLICT ({', '.join(clause.target)}) on {spec.name}: ON CONFLICT clause "
                "does not match any PRIMARY KEY or UNIQUE constraint")
    if clause.assignments is None:
        return _Clause(constraint, None, None)
    own = frozenset({None, stmt.table})
    unknown = [n for n, _ in clause.assignments if spec.fields and n not in spec.field_names]
    if unknown:  # (SQLite's error: the statement does not compile)
        raise OperationalError(f"ON CONFLICT DO UPDATE of {spec.name}: no such column: "
                               f"{unknown[0]}")
    assignments = tuple((name, _excluded(spec, expr)) for name, expr in clause.assignments)
    update = ast.Update(stmt.table, None, assignments, None, stmt.returning)
    executor.update_plan(backend, update)  # (refuses unknown and generated columns now)
    where = None
    reads: tuple[str, ...] = ()
    if clause.where is not None:
        # SQL's truth of the WHERE, as the store computes it
        truth = ast.Case(None, ((_excluded(spec, clause.where), ast.Literal(1)),),
                         ast.Literal(0))
        where = rowexpr.fields_to_params(truth, own)
        reads = rowexpr.field_params((where,))
    return _Clause(constraint, update, where, reads)


def _excluded(spec: CollectionSpec, node: Any) -> Any:
    """``node`` with each ``excluded.c`` made the parameter of the proposed row's ``c``."""
    if isinstance(node, ast.Column) and node.table is not None and (
            node.table.lower() == "excluded"):
        if spec.fields and node.name not in spec.field_names:
            raise OperationalError(f"no such column: excluded.{node.name}")
        return ast.Param(EXCLUDED + node.name)
    if isinstance(node, tuple):
        return tuple(_excluded(spec, n) for n in node)
    if hasattr(node, "__dataclass_fields__"):
        return type(node)(**{k: _excluded(spec, getattr(node, k))
                             for k in node.__dataclass_fields__})
    return node


class _Changes:
    """Collects the rows each part of the statement wrote, for one foreign-key check of the
    whole statement at its end (as SQLite checks immediate constraints); the actions of the
    rows REPLACE deletes are taken at once (``ForeignKeys.act_now``)."""

    def __init__(self, fks: ForeignKeyRules) -> None:
        self.changes: list[RowChange] = []
        self.fks = fks
        self.checks: Any = None  # what the actions taken at once leave to check

    def after_statement(self, spec: CollectionSpec, changes: list[RowChange],
                        pending: PendingBatch, checks: Any = None) -> None:
        self.changes += changes

    def act_now(self, spec: CollectionSpec, deleted: dict[str, Any], pending: PendingBatch,
                checks: Any) -> Any:
        self.checks = self.fks.act_now(spec, deleted, pending, checks or self.checks)
        return self.checks


def run_upsert(
    backend: BackendConnection, stmt: ast.Insert, param_sets: Sequence[dict[str, Any]],
    pending: PendingBatch, fks: ForeignKeyRules | None = None,
) -> Outcome:
    plan: _UpsertPlan = upsert_plan(backend, stmt)
    out = Outcome(rowcount=0)
    if stmt.returning:
        out.columns = list(executor.returning_plan(backend, stmt).labels)
    run = _Run(backend, plan, pending, out, _Changes(fks) if fks is not None else None)
    if stmt.select is not None or executor.insert_plan(backend, stmt).reads_tables:
        # each row's values are computed after the rows before it are written (they read
        # the table), and each is looked up alone
        for params in param_sets:
            for row_stmt, row_params in _proposed(backend, stmt, params, pending):
                run.row(row_stmt, row_params, _proposed_body(
                    backend, plan.spec, row_stmt, row_params, pending, stmt.resolution))
                run.flush()
    else:
        rows = [row for params in param_sets
                for row in _proposed(backend, stmt, params, pending)]
        bodies = [_proposed_body(backend, plan.spec, s, p, pending, stmt.resolution)
                  for s, p in rows]
        run.lookup = Lookup(backend, plan.spec, plan.constraints, plan.has_key, pending,
                            bodies)
        for n, ((row_stmt, row_params), body) in enumerate(zip(rows, bodies, strict=True)):
            run.row(row_stmt, row_params, body, n)
        run.flush()
    if fks is not None and run.changes is not None and (
            run.changes.changes or run.changes.checks is not None):
        fks.after_statement(plan.spec, run.changes.changes, pending, run.changes.checks)
    out.inserted_none = not run.inserted
    return out


@dataclass
class _Run:
    """One upsert statement's rows in order. Consecutive rows to insert are queued and
    written by one ``run_insert``, before anything else is written or a row is looked up
    alone (which must see them)."""

    backend: BackendConnection
    plan: _UpsertPlan
    pending: PendingBatch
    out: Outcome
    changes: _Changes | None
    lookup: Lookup | None = None
    queued: list[dict[str, Any]] = field(default_factory=list)
    #: the statement's own parameters of each queued row (what its RETURNING may name)
    queued_params: list[dict[str, Any]] = field(default_factory=list)
    queued_fields: tuple[str, ...] = ()
    queued_stmt: ast.Insert | None = None
    inserted: int = 0  # rows inserted

    def conflicts(self, body: dict[str, Any], index: int | None) -> list[Match | None]:
        if self.lookup is not None and index is not None:
            known = self.lookup.conflicts(index, body)
            if known is not None:
                return known
        self.flush()  # (the rows before it, seen by its lookup)
        return conflicts_of(self.backend, self.plan.spec, self.plan.constraints,
                            self.plan.has_key, body, self.pending)

    def wrote(self, doc_id: str | None, *bodies: dict[str, Any] | None) -> None:
        if self.lookup is not None:
            self.lookup.wrote(doc_id, *bodies)

    def insert(self, stmt: ast.Insert, body: dict[str, Any], params: dict[str, Any]) -> None:
        computed = {f.name for f in self.plan.spec.computed_fields}
        fields = tuple(name for name in body if name not in computed)
        if self.queued and fields != self.queued_fields:
            self.flush()
        self.queued.append(body)
        self.queued_params.append(params if stmt.returning else {})
        self.queued_fields, self.queued_stmt = fields, stmt
        self.wrote(None, body)

    def flush(self) -> None:
        """INSERT the queued rows as they are (their defaults are not evaluated again)."""
        if not self.queued:
            return
        bodies, fields, stmt = self.queued, self.queued_fields, self.queued_stmt
        given = self.queued_params
        assert stmt is not None
        self.queued, self.queued_params = [], []
        plan = self.plan
        insert = plan.inserts.get(fields)
        if insert is None:
            insert = plan.inserts[fields] = ast.Insert(
                stmt.table, fields, tuple(ast.Param(EXCLUDED + name) for name in fields),
                stmt.returning)
        done = executor.run_insert(self.backend, insert, [
            {**params, **{EXCLUDED + name: body[name] for name in fields}}
            for body, params in zip(bodies, given, strict=True)],
            self.pending, self.changes, looked_up=True)
        self.out.rowcount += done.rowcount
        self.inserted += done.rowcount
        self.out.rows += done.rows
        if done.lastrowid is not None:
            self.out.lastrowid = done.lastrowid

    def row(self, stmt: ast.Insert, params: dict[str, Any], body: dict[str, Any],
            index: int | None = None) -> None:
        _upsert_row(self, stmt, params, body, index)


def _proposed(backend: BackendConnection, stmt: ast.Insert, params: dict[str, Any],
              pending: PendingBatch) -> list[tuple[ast.Insert, dict[str, Any]]]:
    """The single-row INSERTs of one execution, in order, each with its parameters: the
    VALUES rows, or the rows of the SELECT (run whole first, as ``_insert_from_select``)."""
    if stmt.select is None:
        rows = executor._row_statements(stmt) if stmt.more_values else (stmt,)
        return [(row, params) for row in rows]
    columns = stmt.columns or backend.spec(stmt.table).field_names
    selected = executor.run_select(backend, stmt.select, params, pending)
    if selected.columns and len(selected.columns) != len(columns):
        raise ProgrammingError(f"INSERT INTO {stmt.table} names {len(columns)} columns but "
                               f"its SELECT returns {len(selected.columns)}")
    names = tuple(f"{executor._SELECTED}{i}" for i in range(len(columns)))
    as_values = executor._as_values(stmt, tuple(columns), names)
    return [(as_values, dict(params, **dict(zip(names, row, strict=True))))
            for row in selected.rows]


def _upsert_row(run: _Run, stmt: ast.Insert, params: dict[str, Any], body: dict[str, Any],
                index: int | None) -> None:
    plan, backend, pending = run.plan, run.backend, run.pending
    spec = plan.spec
    conflicts = run.conflicts(body, index)
    if stmt.resolution is None and any(match is not None for match in conflicts):
        # SQLite checks NOT NULL and CHECK before uniqueness: a row breaking one fails even
        # where its conflict would have it skipped (DO NOTHING) or update the row it meets
        run.flush()
        filled = spec.autoincrement  # (a key the store fills is not NULL)
        executor.check_constraints(backend, spec, body if filled is None or body.get(
            filled) is not None else {**body, filled: 0})
    for clause in plan.clauses:
        at = clause.constraint if clause.constraint is not None else next(
            (n for n, match in enumerate(conflicts) if match is not None), None)
        match = conflicts[at] if at is not None else None
        if match is None:
            continue
        if clause.update is not None:
            run.flush()
            after = _do_update(backend, spec, clause, params, body, match, pending,
                               run.changes, run.out)
            run.wrote(match.doc_id, match.body, after)
        return
    taken = next((n for n, match in enumerate(conflicts) if match is not None), None)
    resolution = stmt.resolution
    if taken is not None and resolution is not ast.ConflictResolution.REPLACE:
        if resolution is ast.ConflictResolution.IGNORE:
            return
        run.flush()  # (a row before it fails first, as in SQL)
        raise _conflict_error(spec, plan.constraints[taken], conflicts[taken])
    if resolution is None:
        run.insert(stmt, body, params)
        return
    run.flush()
    if resolution is ast.ConflictResolution.REPLACE:
        for match in _replace(backend, spec, conflicts, body, pending, run.changes):
            run.wrote(match.doc_id, match.body)
        run.insert(stmt, body, params)
    else:
        _insert_or_ignore(run, stmt, body, params)
    run.flush()


def _proposed_body(backend: BackendConnection, spec: CollectionSpec, stmt: ast.Insert,
                   params: dict[str, Any], pending: PendingBatch,
                   resolution: ast.ConflictResolution | None = None) -> dict[str, Any]:
    """The row the INSERT proposes, as ``run_insert`` would store it: defaults filled, the
    key stored by its affinity, generated columns computed (its ``excluded`` row); with
    ``OR REPLACE`` a NULL given to a NOT NULL column with a default takes the default, as
    SQLite's REPLACE does before it looks for the rows the row conflicts with."""
    insert = executor.insert_plan(backend, stmt)
    body = insert.body(backend, params, pending)
    if insert.int_key is not None:
        executor._keys_by_affinity(insert.int_key, [body], None)
    else:
        executor._text_keys_by_affinity(spec, [body], None)
    if resolution is ast.ConflictResolution.REPLACE:
        _defaults_for_nulls(backend, spec, body, pending)
    if spec.computed_fields:
        body.update(generated_values(spec, body, backend.evaluate))
    return body


def _conflict_error(spec: CollectionSpec, fields: tuple[str, ...],
                    match: Match | None) -> DuplicateKeyError:
    names = ", ".join(f"{spec.name}.{f}" for f in fields)
    held = f" (document {match.doc_id!r} holds the value)" if match is not None else ""
    return DuplicateKeyError(f"UNIQUE constraint failed: {names}{held}")


#: a pending savepoint around one row of INSERT OR IGNORE (no name a statement can give)
_ROW = "\x00insert or ignore row"
#: the checks INSERT OR IGNORE skips a row for (SQLite's IGNORE: not foreign keys, not a
#: datatype mismatch)
_IGNORED = ("NOT NULL constraint failed", "CHECK constraint failed")


def _insert_or_ignore(run: _Run, stmt: ast.Insert, body: dict[str, Any],
                      params: dict[str, Any]) -> None:
    """INSERT the row, or skip it if it breaks a NOT NULL or CHECK constraint."""
    pending = run.pending
    pending.savepoint(_ROW)
    try:
        run.insert(stmt, body, params)
        run.flush()
    except IntegrityError as exc:
        if not str(exc).startswith(_IGNORED):
            pending.release(_ROW)
            raise
        pending.rollback_to(_ROW)
    pending.release(_ROW)


def _replace(backend: BackendConnection, spec: CollectionSpec, conflicts: list[Match | None],
             body: dict[str, Any], pending: PendingBatch, changes: _Changes | None) -> list[Match]:
    """INSERT OR REPLACE before its insert: each document the row conflicts with is deleted
    (guarded by the change vector it was read with). (The row's NULLs in NOT NULL columns
    with a default took the default already: ``_proposed_body``.)"""
    done: set[str] = set()
    deleted: list[Match] = []
    for match in conflicts:
        if match is None or match.doc_id in done:
            continue
        done.add(match.doc_id)
        deleted.append(match)
        expected = pending.expected.get(match.doc_id) or match.cv
        pending.add(Delete(spec.name, match.doc_id, expected, True, match.cv), None)
        if changes is not None:
            changes.act_now(spec, match.body, pending, None)
    return deleted


def _defaults_for_nulls(backend: BackendConnection, spec: CollectionSpec,
                        body: dict[str, Any], pending: PendingBatch) -> None:
    """A NULL given to a NOT NULL column with a default takes the default (SQLite's REPLACE
    resolution of a NOT NULL constraint)."""
    for f in spec.fields:
        if body.get(f.name) is None and f.name in spec.not_null and f.computed is None:
            if f.default_sql is not None:
                (value,) = backend.evaluate((default_expr(f.default_sql),), {}, pending)
                body[f.name] = stored_form(f.type, value)
            elif f.default is not None:
                body[f.name] = stored_form(f.type, f.default)


def _do_update(backend: BackendConnection, spec: CollectionSpec, clause: _Clause,
               params: dict[str, Any], body: dict[str, Any], match: Match,
               pending: PendingBatch, changes: _Changes | None,
               out: Outcome) -> dict[str, Any] | None:
    """DO UPDATE of the conflicting document ``match``, if the clause's WHERE is true of it
    and the proposed row: written guarded by the change vector ``match`` was read with.
    Returns the document as updated (None: not updated)."""
    assert clause.update is not None
    auto = spec.autoincrement
    if auto is not None and body.get(auto) is None:  # SQLite's excluded row has its new key
        body = {**body, auto: backend.next_ids(spec.prefix, 1)[0]}
    given = dict(params)
    given.update((EXCLUDED + name, value) for name, value in body.items())
    if clause.where is not None:
        (true,) = backend.evaluate((clause.where,), rowexpr.bind_fields(
            given, match.body, clause.where_reads), pending)
        if not true:
            return None
    plan = executor.update_plan(backend, clause.update)
    if plan.complex_exprs:
        own = frozenset({None, clause.update.table})
        exprs = tuple(rowexpr.fields_to_params(e, own) for e in plan.complex_exprs)
        match = replace(match, computed=tuple(backend.evaluate(
            exprs, rowexpr.bind_fields(given, match.body, plan.reads), pending)))
    after = executor._update_one(backend, clause.update, plan, given, match, False, pending,
                                 out)
    if changes is not None:
        changes.changes.append(RowChange(match.body, after))
    return after

