"""Expressions over one document's own fields: CHECK constraints and UPDATE SET expressions
evaluated when a batch is applied (backend-neutral planning; no I/O here).

A field reference becomes the parameter ``field:<name>`` bound to the document's value, so a
store evaluates the expression with its scalar evaluator against the document as stored.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from operator import itemgetter
from typing import Any

from . import affinity, values
from .errors import DataError, IntegrityError
from .schema import CollectionSpec
from .statements import ast
from .statements.parser import parse_expression

FIELD = "field:"
_EXACT_FLOAT = 2.0**53
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
#: ``evaluate(exprs, params)``: the values of expressions that read no collection
Evaluate = Callable[[tuple[ast.Expr, ...], dict[str, Any]], tuple[Any, ...]]

_SUBQUERIES = (ast.ScalarSubquery, ast.Exists, ast.InSelect, ast.Select, ast.Compound)


def fields_to_params(node: Any, own: frozenset[str | None] | None = frozenset({None})) -> Any:
    """``node`` with every column of the document (unqualified, or qualified by a name in
    ``own``; any column if ``own`` is None) replaced by the parameter ``field:<name>``."""
    if isinstance(node, ast.Column) and (own is None or node.table in own):
        return ast.Param(FIELD + node.name)
    if isinstance(node, ast.Select) and own is not None:
        # a subquery's own columns are its tables': an unqualified one, or one qualified by a
        # name its FROM binds again (SELECT max(i) FROM p inside an upsert of p), is not the
        # document's (only a column qualified by the document's name reaches out to it)
        own = own - {None} - _bound_names(node.from_)
    if isinstance(node, tuple):
        return tuple(fields_to_params(n, own) for n in node)
    if hasattr(node, "__dataclass_fields__"):
        changes = {k: fields_to_params(getattr(node, k), own) for k in node.__dataclass_fields__}
        return type(node)(**changes)
    return node


def _bound_names(items: Any) -> frozenset[str | None]:
    """The names a FROM clause binds (tables, aliases, derived tables)."""
    names: set[str | None] = set()
    for item in items:
        if isinstance(item, ast.Join):
            names |= _bound_names((item.left, item.right))
        elif isinstance(item, ast.TableRef):
            names.add(item.ref)  # (FROM p AS p2 binds p2 only)
        elif isinstance(item, (ast.SubqueryRef, ast.CteRef, ast.CteSelf)):
            names.add(item.alias)
    return frozenset(names)


def own_row_only(expr: ast.Expr, own: frozenset[str | None]) -> bool:
    """Whether ``expr`` reads nothing but the document's own fields and parameters (no
    subquery, no other table): it can then be evaluated when the batch is applied."""
    for node in ast.walk(expr):
        if isinstance(node, _SUBQUERIES):
            return False
        if isinstance(node, ast.Column) and node.table not in own:
            return False
        if isinstance(node, (ast.Star,)):
            return False
    return True


def field_params(exprs: tuple[ast.Expr, ...]) -> tuple[str, ...]:
    """Names of the document fields that expressions made by :func:`fields_to_params` read."""
    names = {n.name[len(FIELD):] for n in ast.walk(exprs)
             if isinstance(n, ast.Param) and n.name.startswith(FIELD)}
    return tuple(sorted(names))


def bind_fields(params: dict[str, Any], body: dict[str, Any], names: tuple[str, ...],
                json_fields: frozenset[str] = frozenset()) -> dict[str, Any]:
    """``params`` plus ``field:<name>`` for each field read (None when the document lacks it).
    A number SQLite would only approximate (values.is_wide, but an integer within SQLite's 64
    bits, which it binds and computes with exactly) is refused: an expression over it would
    compute with the approximation. A field of ``json_fields`` is bound with its value in SQL
    (``values.JsonHeld``: SQLite's JSON text, JSON null the text 'null'), SQL NULL as None."""
    out = dict(params)
    for name in names:
        value = body.get(name)
        if name in json_fields and name in body:
            out[FIELD + name] = json_held(value)
            continue
        if type(value) is int and _INT64_MIN <= value <= _INT64_MAX:
            out[FIELD + name] = value
            continue
        number = values.exact_number(value) if type(value) is not str else None
        if number is not None and not isinstance(value, float) and values.is_wide(number):
            kind = ("an integer beyond SQLite's 64 bits" if type(value) is int
                    else "a number with more digits than a double holds")
            raise DataError(f"an expression reads {name} = {value}, {kind}: a number the "
                            "store only computes with approximately")
        if value is None and name in json_fields and name in body:
            value = values.JSON_NULL
        out[FIELD + name] = value
    return out


def json_held(value: Any) -> values.JsonHeld:
    """A JSON field's value (present: JSON null is None) bound for an expression over the
    document: in SQL it is SQLite's JSON text (json.dumps under NUMERIC affinity), a JSON
    path reads into the value."""
    return values.JsonHeld(value, affinity.sqlite_json(values.dumps(value)))


@lru_cache(maxsize=256)
def check_expr(sql: str) -> ast.Expr:
    # A CHECK reads its own row only: "t.x > 0" (as older stores kept it) is the field x.
    return fields_to_params(parse_expression(sql), None)


@lru_cache(maxsize=256)
def _check_reads(checks: tuple[tuple[str, str], ...]) -> frozenset[str]:
    """The fields a schema's CHECK expressions read."""
    return frozenset(field_params(_check_exprs(checks)))


@lru_cache(maxsize=256)
def _check_exprs(checks: tuple[tuple[str, str], ...]) -> tuple[ast.Expr, ...]:
    """The CHECK expressions of a schema, as one tuple per schema (a statement fragment the
    store plans once)."""
    return tuple(check_expr(sql) for _, sql in checks)


def check_constraints(spec: CollectionSpec, body: dict[str, Any], evaluate: Evaluate) -> None:
    """NOT NULL and CHECK constraints of ``spec`` on the document ``body``."""
    if _may_fail(spec, body):
        _check_fields(spec, body)
    if spec.checks:
        _check_checks(spec, body, evaluate)


def check_checks(spec: CollectionSpec, body: dict[str, Any], evaluate: Evaluate) -> None:
    """The CHECK constraints alone (``check_constraints`` of a body ``rows_may_fail`` has
    cleared)."""
    if spec.checks:
        _check_checks(spec, body, evaluate)


# Value types ``values.refuse_unstorable`` and ``_may_fail`` pass whatever the value
# (strings, floats and decimals aside: NUL, NaN and infinities are refused)
_PLAIN_TYPES = frozenset({int, float, bool, type(None), decimal.Decimal})


def rows_may_fail(spec: CollectionSpec, bodies: Sequence[dict[str, Any]], keys: Iterable[str],
                  filled: str | None,
                  columns: Mapping[str, Sequence[Any]] | None = None,
                  types_of: Callable[[Sequence[Any]], frozenset[type]] = values.column_types,
                  ) -> bool:
    """Whether ``values.refuse_unstorable`` or the NOT NULL / exactness test of ``_may_fail`` might
    refuse one of ``bodies`` (documents with exactly the fields ``keys``; ``filled``, if
    given, is set to an integer later where it is None), tested a field at a time over all
    the bodies (or over ``columns``, each field's values if known: a field's values or the
    one value every body has; ``types_of``: ``values.column_types`` or a ``ColumnTypes``
    knowing them). False: none of them can fail (only CHECK constraints remain to test)."""
    keys = set(keys)
    if any(name not in keys and name != filled for name in spec.required_fields):
        return True
    exact, required = spec.exact_fields, spec.not_null
    for name in keys:
        column = columns[name] if columns is not None else list(map(itemgetter(name), bodies))
        types = set(types_of(column))
        one_type = len(types) == 1  # (before str is set aside: a column of texts and floats)
        if str in types:
            joined = values.joined_strings(column, types_of) if len(types) == 1 else "".join(
                [v for v in column if type(v) is str])
            if "\x00" in joined or (not joined.isascii() and values.SURROGATE.search(joined)):
                return True
            types.discard(str)
        if not types <= _PLAIN_TYPES:
            return True  # objects, arrays, other types: tested body by body
        if type(None) in types and name in required and name != filled:
            return True
        if decimal.Decimal in types and not all(
                v.is_finite() for v in column if type(v) is decimal.Decimal):
            return True
        if float in types:
            floats = column if one_type else [v for v in column if type(v) is float]
            total = sum(floats)
            if total - total != 0.0:  # a NaN or infinity (or a sum beyond doubles)
                return True
            if name in exact and any(map(_EXACT_FLOAT.__le__, map(abs, floats))):
                return True
    return False


def _may_fail(spec: CollectionSpec, body: dict[str, Any]) -> bool:
    """Whether a field of ``body`` may break NOT NULL or exactness (the per-row fast test:
    only the fields that can fail are looked at; ``_check_fields`` then says which, in
    field order)."""
    for name in spec.required_fields:
        if body.get(name) is None:
            return True
    for name in spec.exact_fields:
        value = body.get(name)
        if type(value) is float and abs(value) >= _EXACT_FLOAT:
            return True
    return False


def _check_fields(spec: CollectionSpec, body: dict[str, Any]) -> None:
    not_null = spec.not_null
    for f in spec.fields:
        value = body.get(f.name)
        if value is None:
            if f.name in not_null and not (f.name in spec.json_fields and f.name in body):
                # (a JSON field holding null holds JSON null, which is no SQL NULL)
                raise IntegrityError(f"NOT NULL constraint failed: {spec.name}.{f.name}"
                                     + _key_note(spec, f.name))
        elif type(value) is float and abs(value) >= _EXACT_FLOAT and (
                f.name in spec.exact_fields):
            # an exact number computed in doubles (an integer beyond 64 bits, a decimal mixed
            # with a fraction): SQLite's result is an approximation of SQL's
            raise DataError(
                f"{spec.name}.{f.name}: computed value {value!r} is beyond what the store "
                "computes exactly; it would be stored rounded")


def _key_note(spec: CollectionSpec, name: str) -> str:
    """Why a field declared nullable is NOT NULL all the same: it is in the primary key (as in
    SQL; SQLite alone accepts NULL there, and the document id would be made of it)."""
    return " (a primary-key column)" if name in spec.primary_key else ""


def _check_checks(spec: CollectionSpec, body: dict[str, Any], evaluate: Evaluate) -> None:
    exprs = _check_exprs(spec.checks)
    json_read = spec.json_fields & _check_reads(spec.checks)
    params = {FIELD + k: json_held(v) if k in json_read else v for k, v in body.items()}
    for f in spec.fields:
        params.setdefault(FIELD + f.name, None)
    for (name, sql), ok in zip(spec.checks, evaluate(exprs, params), strict=False):
        if ok is not None and not ok:
            raise IntegrityError(f"CHECK constraint failed: {name or sql} on {spec.name}")
