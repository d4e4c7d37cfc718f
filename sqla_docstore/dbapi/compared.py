"""Values compared with a declared column, converted as SQLite's affinity converts them.

SQLite compares a value of no affinity (a literal, a bound parameter) with a column by the
column's affinity ("Datatypes In SQLite", section 4.2): ``n < '3'`` over an INTEGER ``n``
compares 3, ``s = 5`` over a TEXT ``s`` compares ``'5'``; ``x IN (...)`` converts the list's
values by ``x``'s affinity, ``x BETWEEN a AND b`` both bounds, ``CASE x WHEN v`` each ``v``.
A column of a derived table, a view or a CTE has the affinity of the column it selects (a
CAST its type's), a scalar subquery that of its one column; an expression has none.

The store compares values as given, so before a statement runs (on both backends) its
literals so compared are converted, and its parameters so compared are converted as they are
bound: in place when the parameter is used only in such comparisons by one affinity, else
read under a name of its own (NUL, the conversion, the name) where it is compared. A column
whose affinity is not known here (a compound SELECT's whose arms have different affinities)
compared with a value some affinity would convert is refused with NotSupportedError.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from enum import Enum
from operator import itemgetter
from typing import Any

from ..affinity import COMPARED, NUMBER_TEXT, SQL_COMPARED, Conversion
from ..backends.base import BackendConnection
from ..errors import NotSupportedError, OperationalError
from ..schema import CollectionSpec, ValueAffinity, value_affinity
from ..statements import ast
from ..statements.prepared import StatementKind, prepared


class _Unknown(Enum):
    UNKNOWN = "unknown"


_UNKNOWN = _Unknown.UNKNOWN
#: a column's affinity: None for no affinity (an expression), UNKNOWN if not known here
Kind = ValueAffinity | _Unknown | None
#: a row value's affinities, one per element (``(a, b) = (?, ?)``, ``(a, b) IN (...)``)
Kinds = Kind | tuple[Kind, ...]
#: the columns of a FROM item by name (None: a collection without declared columns)
Columns = dict[str, Kind] | None
Frame = dict[str, Columns]

_COMPARISONS = frozenset({"=", "==", "!=", "<>", "<", "<=", ">", ">=", "is", "is not"})
#: (a JSON column is NUMERIC in SQLite, holding SQLAlchemy's JSON text: its SQL value here
#: is SQLite's, ``affinity.sqlite_json``)
_NUMERIC_KINDS = frozenset({ValueAffinity.INTEGER, ValueAffinity.REAL, ValueAffinity.NUMERIC,
                            ValueAffinity.DECIMAL, ValueAffinity.BOOLEAN, ValueAffinity.JSON})
#: columns holding values as given, which a compared literal or parameter is not converted for
_AS_GIVEN = frozenset({ValueAffinity.NONE})
#: the column affinities SQLite applies NUMERIC affinity to facing a numeric column: TEXT and
#: BLOB (a column of no declared type too)
_NUMERIC_APPLIED = frozenset({ValueAffinity.TEXT, ValueAffinity.BLOB, ValueAffinity.NONE})
#: the statements whose comparisons are converted
KINDS = frozenset({StatementKind.QUERY, StatementKind.INSERT, StatementKind.UPDATE,
                   StatementKind.DELETE, StatementKind.CREATE_TABLE_AS})


@dataclass(frozen=True)
class Binding:
    """A parameter compared with a column: the value given for ``given`` is read as
    ``read``, converted by ``conversion`` (None: refused if some affinity converts it)."""

    given: str
    read: str
    conversion: Conversion | None
    construct: str  # what the refusal names


@dataclass(frozen=True)
class Compared:
    """A statement with the values it compares with columns converted (``stmt``, the same
    object if no literal changed) and the parameters to convert as they are bound."""

    specs: tuple[CollectionSpec, ...]  # the schemas the answer holds for
    complete: bool  # every table named was found (else made again on each use)
    stmt: Any
    bindings: tuple[Binding, ...]

    def holds(self, backend: BackendConnection) -> bool:
        if not self.complete:
            return False
        for spec in self.specs:
            if backend.spec(spec.name) is not spec:
                return False
        return True

    def bind(self, param_sets: Sequence[dict[str, Any]]) -> Sequence[dict[str, Any]]:
        """The parameter sets with the compared parameters converted (a set changed is a
        copy: the caller's dicts are never changed)."""
        if not self.bindings:
            return param_sets
        if len(param_sets) > 1 and self._as_given(param_sets):
            return param_sets
        return [self._bound(params) for params in param_sets]

    def _as_given(self, param_sets: Sequence[dict[str, Any]]) -> bool:
        """Whether ``_bound`` leaves every set as it is, told a parameter at a time (C loops
        over the sets, as an executemany of thousands gives them): each is read under its
        own name, given in every set, and none of its values is of a type its conversion
        acts on. False: ``_bound`` of each set says what it makes of it."""
        for b in self.bindings:
            if b.conversion is None or b.read != b.given:
                return False
            try:
                kinds = set(map(type, map(itemgetter(b.given), param_sets)))
            except KeyError:  # (a set without it: ``_bound`` skips it there)
                return False
            if not b.conversion.acts_on.isdisjoint(kinds):
                return False
        return True

    def _bound(self, params: dict[str, Any]) -> dict[str, Any]:
        out = params
        for b in self.bindings:
            if b.given not in params:
                continue  # (the executor says no value was given)
            value = params[b.given]
            if b.conversion is None:
                if _convertible(value):
                    raise _refused(b.construct)
                continue
            if type(value) in b.conversion.acts_on:
                value = b.conversion.apply(value)
            elif b.read == b.given:
                continue
            if out is params:
                out = dict(params)
            out[b.read] = value
        return out


def converted(backend: BackendConnection, stmt: Any, param_sets: Sequence[dict[str, Any]]
              ) -> tuple[Any, Sequence[dict[str, Any]]]:
    """``stmt`` and ``param_sets`` with the values compared with columns converted (as they
    are when the statement compares nothing: told once per statement)."""
    prep = prepared(stmt)
    if not prep.derived(_COMPARES, lambda: _compares(stmt)):
        return stmt, param_sets
    found = compared(backend, stmt)
    return found.stmt, found.bind(param_sets)


def compared(backend: BackendConnection, stmt: Any) -> Compared:
    """The ``Compared`` of ``stmt`` for the backend's schemas (kept on its Prepared)."""
    return prepared(stmt).analysis("compared values", lambda: _analyse(backend, stmt),
                                   lambda hit: hit.holds(backend))


_COMPARES = "dbapi.compared: compares"


def _compares(stmt: Any) -> bool:
    """Whether the statement has a comparison a value could be converted in."""
    for node in ast.walk(stmt):
        if isinstance(node, (ast.Between, ast.InList, ast.InSelect, ast.IsDistinct)) or (
                isinstance(node, ast.Binary) and node.op in _COMPARISONS) or (
                isinstance(node, ast.Case) and node.base is not None):
            return True
    return False


def _convertible(value: Any) -> bool:
    kind = type(value)
    return kind is int or kind is float or kind is bool or (
        kind is str and NUMBER_TEXT.fullmatch(value) is not None)


def _refused(construct: str) -> NotSupportedError:
    return NotSupportedError(
        f"{construct}: the column's type affinity is not known here (a compound SELECT whose "
        "arms have different affinities), so a value SQLite would convert by it is refused; "
        "CAST the column or the value")


def _analyse(backend: BackendConnection, stmt: Any) -> Compared:
    first = _Rewriter(backend, None)
    first.statement(stmt)
    rename = frozenset(name for name, found in first.compared.items()
                       if len({c for c in found if c is not None}) > 1
                       or len(found) != first.uses[name])
    second = _Rewriter(backend, rename)
    new = second.statement(stmt)
    bindings: dict[tuple[str, str], Binding] = {}
    for name, found in first.compared.items():
        for conversion, construct in zip(found, first.constructs[name], strict=True):
            read = name if conversion is None or name not in rename else _renamed(
                name, conversion)
            bindings.setdefault((name, read), Binding(name, read, conversion, construct))
    return Compared(tuple(first.specs.values()), first.complete, new,
                    tuple(bindings.values()))


def _renamed(name: str, conversion: Conversion) -> str:
    return f"\x00compared {conversion.name}:{name}"  # (never a bind name, nor a position)


class _Rewriter:
    """One walk of a statement: the first (``rename`` None) finds the parameters compared
    with columns and every parameter's uses; the second converts the literals and renames
    the parameters in ``rename`` where they are compared."""

    def __init__(self, backend: BackendConnection, rename: frozenset[str] | None) -> None:
        self.backend = backend
        self.rename = rename
        self.specs: dict[str, CollectionSpec] = {}
        self.complete = True
        self.uses: collections.Counter[str] = collections.Counter()
        #: per parameter compared: the conversion of each comparison (None: unknown)
        self.compared: dict[str, list[Conversion | None]] = {}
        self.constructs: dict[str, list[str]] = {}
        #: the columns of each recursive CTE by name, for its step's own rows (CteSelf)
        self.ctes: dict[str, Columns] = {}

    # --------------------------------------------------------------------- statements

    def statement(self, stmt: Any) -> Any:
        if isinstance(stmt, (ast.Select, ast.Compound)):
            return self.expr(stmt, [])
        if isinstance(stmt, ast.Insert):
            columns = self.table_columns(stmt.table)
            scope = [{stmt.table: columns}]
            clauses = tuple(self.on_conflict(c, [{stmt.table: columns, "excluded": columns}])
                            for c in stmt.on_conflict)
            return _replaced(stmt, {
                "values": self.expr(stmt.values, []),
                "more_values": self.expr(stmt.more_values, []),
                "select": self.expr(stmt.select, []),
                "returning": self.expr(stmt.returning, scope),
                "on_conflict": stmt.on_conflict if all(
                    a is b for a, b in zip(clauses, stmt.on_conflict, strict=True)) else clauses})
        if isinstance(stmt, (ast.Update, ast.Delete)):
            frame: Frame = {stmt.alias or stmt.table: self.table_columns(stmt.table)}
            frame.update(self.frame(stmt.from_, []))
            scope = [frame]
            changes: dict[str, Any] = {
                "where": self.expr(stmt.where, scope),
                "from_where": self.expr(stmt.from_where, scope),
                "from_": self.from_items(stmt.from_, [], scope),
                "returning": self.expr(stmt.returning, scope)}
            if isinstance(stmt, ast.Update):
                changes["assignments"] = tuple(
                    (name, self.expr(e, scope)) for name, e in stmt.assignments)
            return _replaced(stmt, changes)
        if isinstance(stmt, ast.CreateTableAs):
            return _replaced(stmt, {"select": self.expr(stmt.select, [])})
        return stmt

    def on_conflict(self, clause: ast.OnConflict, scope: list[Frame]) -> ast.OnConflict:
        """An upsert clause: its WHEREs and DO UPDATE SET over the table and ``excluded``."""
        changes: dict[str, Any] = {"target_where": self.expr(clause.target_where, scope),
                                   "where": self.expr(clause.where, scope)}
        if clause.assignments is not None:
            assignments = tuple((name, self.expr(e, scope)) for name, e in clause.assignments)
            if any(a[1] is not b[1] for a, b in zip(assignments, clause.assignments,
                                                    strict=True)):
                changes["assignments"] = assignments
        return _replaced(clause, changes)

    def table_columns(self, name: str) -> Columns:
        spec = self.specs.get(name)
        if spec is None:
            try:
                spec = self.backend.spec(name)
            except OperationalError:
                self.complete = False  # (no such table: the statement says so)
                return None
            self.specs[name] = spec
        if not spec.fields:
            return None
        return dict(spec.value_affinities)

    # ----------------------------------------------------------------------- queries

    def select(self, sel: ast.Select, outer: list[Frame]) -> ast.Select:
        frame = self.frame(sel.from_, outer)
        scope = [*outer, frame]
        labels = {c.alias: c.expr for c in sel.columns if c.alias}
        changes = {
            "from_": self.from_items(sel.from_, outer, scope),
            "columns": self.expr(sel.columns, scope),
            "where": self.expr(sel.where, scope, labels),
            "group_by": self.expr(sel.group_by, scope, labels),
            "having": self.expr(sel.having, scope, labels),
            "order_by": self.expr(sel.order_by, scope, labels),
            "limit": self.expr(sel.limit, scope),
            "offset": self.expr(sel.offset, scope)}
        return _replaced(sel, changes)

    def frame(self, items: tuple[ast.FromItem, ...], outer: list[Frame]) -> Frame:
        """The columns of each FROM item by its name (alias)."""
        out: Frame = {}
        for item in items:
            if isinstance(item, ast.TableRef):
                out[item.ref] = self.table_columns(item.name)
            elif isinstance(item, ast.SubqueryRef):
                out[item.alias] = self.result_columns(item.select, outer)
            elif isinstance(item, ast.CteRef):
                out[item.alias] = self.cte_columns(item.cte, outer)
            elif isinstance(item, ast.CteSelf):
                out[item.alias] = self.ctes.get(item.name)
            elif isinstance(item, ast.Join):
                out.update(self.frame((item.left, item.right), outer))
        return out

    def from_items(self, items: tuple[ast.FromItem, ...], outer: list[Frame],
                   scope: list[Frame]) -> tuple[ast.FromItem, ...]:
        out = []
        for item in items:
            if isinstance(item, ast.SubqueryRef):
                item = _replaced(item, {"select": self.expr(item.select, outer)})
            elif isinstance(item, ast.CteRef):
                cte = item.cte
                self.ctes[cte.name] = self.cte_columns(cte, outer)
                item = _replaced(item, {"cte": _replaced(cte, {"select": self.expr(
                    cte.select, outer)})})
            elif isinstance(item, ast.Join):
                left, right = self.from_items((item.left, item.right), outer, scope)
                item = _replaced(item, {"left": left, "right": right,
                                        "on": self.expr(item.on, scope)})
            out.append(item)
        return items if all(a is b for a, b in zip(out, items, strict=True)) else tuple(out)

    def cte_columns(self, cte: ast.RecursiveCte, outer: list[Frame]) -> Columns:
        """A recursive CTE's columns: its anchor's affinities (as SQLite compares them)."""
        anchor = self.result_kinds(cte.select.selects[0], outer)
        if anchor is None:
            return None
        return {name: anchor[i][1] if i < len(anchor) else None
                for i, name in enumerate(cte.columns)}

    def result_columns(self, query: ast.SelectLike, outer: list[Frame]) -> Columns:
        """The affinity of each result column of a query, by its name."""
        if isinstance(query, ast.Compound):
            arms = [self.result_kinds(q, outer) for q in query.selects]
            if any(a is None for a in arms):
                return None
            first = arms[0]
            assert first is not None
            out: dict[str, Kind] = {}
            for i, (name, kind) in enumerate(first):
                agreed = all(i < len(a) and a[i][1] == kind for a in arms if a is not None)
                out.setdefault(name, kind if agreed else _UNKNOWN)
            return out
        kinds = self.result_kinds(query, outer)
        return None if kinds is None else dict(reversed(kinds))  # (the first of a name)

    def result_kinds(self, query: ast.SelectLike,
                     outer: list[Frame]) -> list[tuple[str, Kind]] | None:
        if isinstance(query, ast.Compound):
            columns = self.result_columns(query, outer)
            return None if columns is None else list(columns.items())
        frame = self.frame(query.from_, outer)
        scope = [*outer, frame]
        out: list[tuple[str, Kind]] = []
        for col in query.columns:
            expr = col.expr
            if isinstance(expr, ast.Star):
                for ref, columns in frame.items():
                    if expr.table in (None, ref):
                        if columns is None:
                            return None  # (columns not declared: no affinity known)
                        out += columns.items()
                continue
            name = col.alias or (expr.name if isinstance(expr, ast.Column) else "")
            out.append((name, self.one_kind(expr, scope)))
        return out

    # ------------------------------------------------------------------- expressions

    def kind(self, expr: Any, scope: list[Frame], labels: dict[str, Any] | None = None
             ) -> Kinds:
        """The affinity of an expression compared with a value (of a row value: of each
        element)."""
        if isinstance(expr, ast.TupleExpr):
            return tuple(self.one_kind(e, scope, labels) for e in expr.items)
        return self.one_kind(expr, scope, labels)

    def one_kind(self, expr: Any, scope: list[Frame], labels: dict[str, Any] | None = None
                 ) -> Kind:
        if isinstance(expr, ast.Column):
            return self.column_kind(expr, scope, labels)
        if isinstance(expr, ast.Cast):
            return value_affinity(expr.type_name)
        if isinstance(expr, ast.ScalarSubquery):
            kinds = self.result_kinds(expr.select, scope)
            return kinds[0][1] if kinds is not None and len(kinds) == 1 else None
        return None

    def column_kind(self, col: ast.Column, scope: list[Frame],
                    labels: dict[str, Any] | None) -> Kind:
        for frame in reversed(scope):
            if col.table is not None:
                columns = _by_ref(frame, col.table)
                if columns is _ABSENT:
                    continue
                return None if columns is None else columns.get(col.name)
            found = [c for c in frame.values() if c is None or col.name in c]
            declared = [c[col.name] for c in found if c is not None]
            if len(declared) == 1:
                return declared[0]
            if declared or found:
                return None  # (ambiguous, or not declared: the store says which)
        if col.table is None and labels and col.name in labels:
            return self.one_kind(labels[col.name], scope)  # a result column's label
        return None

    def expr(self, node: Any, scope: list[Frame], labels: dict[str, Any] | None = None
             ) -> Any:
        """``node`` with the values it compares with columns converted (the same object
        where nothing changed)."""
        if node is None or isinstance(node, (str, int, float, bool, ast.Literal, ast.Column,
                                             ast.Star)):
            return node
        if isinstance(node, tuple):
            items = tuple(self.expr(n, scope, labels) for n in node)
            return node if all(a is b for a, b in zip(items, node, strict=True)) else items
        if isinstance(node, ast.Param):
            self.uses[node.name] += 1
            return node
        if isinstance(node, ast.Select):
            return self.select(node, scope)
        if isinstance(node, ast.Compound):
            return _replaced(node, {"selects": self.expr(node.selects, scope)})
        node = self.children(node, scope, labels)
        return self.compare(node, scope, labels)

    def children(self, node: Any, scope: list[Frame], labels: dict[str, Any] | None) -> Any:
        names = getattr(node, "__dataclass_fields__", None)
        if names is None:
            return node
        changes = {}
        for f in fields(node):
            value = getattr(node, f.name)
            if isinstance(node, ast.JsonPath) and f.name == "steps":
                new = value  # (path steps: keys, never compared with a column)
                for step in value:
                    if isinstance(step, ast.Param):
                        self.uses[step.name] += 1
            else:
                new = self.expr(value, scope, labels)
            if new is not value:
                changes[f.name] = new
        return replace(node, **changes) if changes else node

    def compare(self, node: Any, scope: list[Frame], labels: dict[str, Any] | None) -> Any:
        if isinstance(node, (ast.Binary, ast.IsDistinct)) and (
                not isinstance(node, ast.Binary) or node.op in _COMPARISONS):
            op = node.op if isinstance(node, ast.Binary) else "IS DISTINCT FROM"
            left, right = node.left, node.right
            left_kind, right_kind = self.kind(left, scope, labels), self.kind(right, scope, labels)
            new_right = self.operand(self.value(right, left_kind, op), right_kind, left_kind)
            new_left = self.operand(self.value(left, right_kind, op), left_kind, right_kind)
            if new_left is not left or new_right is not right:
                return replace(node, left=new_left, right=new_right)
            return node
        if isinstance(node, ast.Between):
            kind = self.kind(node.expr, scope, labels)
            low, high = (self.operand(self.value(bound, kind, "BETWEEN"),
                                      self.kind(bound, scope, labels), kind)
                         for bound in (node.low, node.high))
            if low is not node.low or high is not node.high:
                return replace(node, low=low, high=high)
            return node
        if isinstance(node, ast.InSelect):
            # x IN (SELECT y ...) compares as x = y does
            kinds = self.result_kinds(node.select, scope)
            if kinds is not None and len(kinds) == 1:
                left = self.operand(node.expr, self.kind(node.expr, scope, labels), kinds[0][1])
                if left is not node.expr:
                    return replace(node, expr=left)
            return node
        if isinstance(node, ast.InList):
            kind = self.kind(node.expr, scope, labels)
            # the list's items have no affinity, columns too ("a = +x OR a = +y")
            items = tuple(self.operand(self.value(item, kind, "IN"), None, kind, True)
                          for item in node.items)
            if any(a is not b for a, b in zip(items, node.items, strict=True)):
                return replace(node, items=items)
            return node
        if isinstance(node, ast.Case) and node.base is not None:
            kind = self.kind(node.base, scope, labels)
            whens = tuple((self.value(when, kind, "CASE ... WHEN"), then)
                          for when, then in node.whens)
            if any(a[0] is not b[0] for a, b in zip(whens, node.whens, strict=True)):
                return replace(node, whens=whens)
        return node

    def operand(self, expr: Any, own: Kinds, other: Kinds, unaffined: bool = False) -> Any:
        """An operand that is no literal or parameter, of affinity ``own``, compared with one
        of affinity ``other``: SQLite applies NUMERIC affinity to a TEXT column or an
        expression (no affinity) facing a numeric column, TEXT affinity to an expression
        facing a TEXT column (``docstore_affinity``). Columns of no declared type (BLOB
        affinity) are compared as stored; ``unaffined``: an IN list's item, of no affinity
        even when it is a column."""
        if isinstance(expr, (ast.Literal, ast.Param, ast.TupleExpr)) or isinstance(
                own, tuple) or isinstance(other, tuple):
            return expr
        if isinstance(expr, ast.Func) and expr.name == SQL_COMPARED:
            return expr  # (converted in the first walk)
        plain = unaffined or (own is None and not isinstance(expr, ast.Column))
        if other in _NUMERIC_KINDS and (plain or own in _NUMERIC_APPLIED):
            kind = "numeric"
        elif other is ValueAffinity.TEXT and plain:
            kind = "text"
        else:
            return expr
        return ast.Func(SQL_COMPARED, (expr, ast.Literal(kind)))

    def value(self, expr: Any, kind: Kinds, op: str) -> Any:
        """A literal or parameter compared with an expression of affinity ``kind`` (a row
        value's elements each with its own)."""
        if isinstance(kind, tuple):
            if not (isinstance(expr, ast.TupleExpr) and len(expr.items) == len(kind)):
                return expr
            items = tuple(self.value(e, k, op) for e, k in zip(expr.items, kind, strict=True))
            changed = any(a is not b for a, b in zip(items, expr.items, strict=True))
            return replace(expr, items=items) if changed else expr
        if kind is None or kind in _AS_GIVEN or not isinstance(
                expr, (ast.Literal, ast.Param)):
            return expr
        conversion = None if kind is _UNKNOWN else COMPARED.get(kind)
        if kind is not _UNKNOWN and conversion is None:
            return expr
        construct = f"a comparison ({op}) with a column of a compound SELECT"
        if isinstance(expr, ast.Literal):
            if conversion is None:
                if _convertible(expr.value):
                    raise _refused(construct)
                return expr
            converted = conversion.apply(expr.value)
            same = converted is expr.value or (
                type(converted) is type(expr.value) and converted == expr.value)
            return expr if same else ast.Literal(converted)
        if self.rename is None:
            self.compared.setdefault(expr.name, []).append(conversion)
            self.constructs.setdefault(expr.name, []).append(construct)
            return expr
        if conversion is not None and expr.name in self.rename:
            return ast.Param(_renamed(expr.name, conversion))
        return expr


_ABSENT: Any = object()


def _by_ref(frame: Frame, ref: str) -> Columns:
    """The columns of the FROM item named ``ref`` (as written, else in another case);
    ``_ABSENT`` if the frame has none."""
    if ref in frame:
        return frame[ref]
    folded = ref.casefold()
    for name, columns in frame.items():
        if name.casefold() == folded:
            return columns
    return _ABSENT


def _replaced(node: Any, changes: dict[str, Any]) -> Any:
    """``node`` with the fields ``changes`` gives that differ from its own (itself if none)."""
    changed = {k: v for k, v in changes.items() if v is not getattr(node, k)}
    return replace(node, **changed) if changed else node
