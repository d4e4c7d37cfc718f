"""Values the store computes on a write: SQL server defaults and generated (computed) columns.

A field's ``default_sql`` (``CURRENT_TIMESTAMP``, ``lower('X')``, ``1 + 1``) is evaluated when an
INSERT omits the field; a ``computed`` field is evaluated from the document's other fields on
every INSERT and on every UPDATE, and stored, as SQLite's STORED generated columns are. Both
follow SQLite's semantics (the embedded store evaluates them in SQLite; the RavenDB backend in
its local scratch store), and what SQLite refuses at CREATE TABLE is refused here too.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any

from . import rowexpr, values
from .commands import Recompute
from .errors import OperationalError, ProgrammingError
from .schema import CollectionSpec, value_affinity
from .statements import ast
from .statements.parser import parse_expression

#: Bare SQL words that are values, not field names.
BARE_KEYWORDS = frozenset({"current_timestamp", "current_date", "current_time"})
# SQLite refuses these in generated columns: their value is not a function of the row.
_NON_DETERMINISTIC = frozenset({"random", "randomblob", "now", "localtimestamp",
                                "changes", "last_insert_rowid", "total_changes"})
_FIELD = rowexpr.FIELD


def field_params(node: Any) -> Any:
    """The expression with every field reference made a ``field:<name>`` parameter."""
    if isinstance(node, ast.Column):
        if node.table is None and node.name.lower() in BARE_KEYWORDS:
            return node
        return ast.Param(_FIELD + node.name)
    if isinstance(node, tuple):
        return tuple(field_params(n) for n in node)
    if hasattr(node, "__dataclass_fields__"):
        changes = {k: field_params(getattr(node, k)) for k in node.__dataclass_fields__}
        return type(node)(**changes)
    return node


def _parse(sql: str, what: str) -> ast.Expr:
    try:
        return parse_expression(sql)
    except ProgrammingError as exc:
        raise ProgrammingError(f"{what}: cannot parse {sql!r}: {exc}") from exc


def _fields_read(expr: ast.Expr) -> set[str]:
    return {n.name for n in ast.walk(expr) if isinstance(n, ast.Column)
            and not (n.table is None and n.name.lower() in BARE_KEYWORDS)}


def _has_subquery(expr: ast.Expr) -> bool:
    return any(isinstance(n, (ast.ScalarSubquery, ast.Exists, ast.InSelect))
               for n in ast.walk(expr))


#: column types whose values are numbers: a key of one is no document id text
_NUMBER_TYPES = frozenset({"INTEGER", "INT", "BIGINT", "SMALLINT", "TINYINT", "NUMERIC",
                           "DECIMAL", "FLOAT", "REAL", "DOUBLE", "BOOLEAN"})


def _check_key_is_id(spec: CollectionSpec) -> None:
    """A key that is the whole document id (``key_is_id``) is text: a number key would be
    stored under ``prefix/N`` and read back as that id, and found by no key lookup."""
    if not spec.key_is_id:
        return
    key = spec.primary_key[0]
    type_ = next((f.type for f in spec.fields if f.name == key), "")
    if type_.split("(")[0].strip().upper() in _NUMBER_TYPES:
        raise ProgrammingError(f"collection {spec.name}: 'key_is_id' needs a string key (the "
                               f"document id), not {key} {type_}")


def check_schema(spec: CollectionSpec, evaluate: rowexpr.Evaluate) -> None:
    """Refuse at CREATE what SQLite refuses at CREATE TABLE: a default that reads fields or a
    subquery; a generated column over unknown fields, itself in a cycle, a subquery or a
    non-deterministic function; a generated key or a default on a generated column. What the
    store cannot evaluate (an unsupported function) is refused here too, not at every write."""
    _check_key_is_id(spec)
    names = set(spec.field_names)
    for f in spec.fields:
        if f.default_sql is not None:
            expr = _parse(f.default_sql, f"default of {spec.name}.{f.name}")
            if _fields_read(expr) or _has_subquery(expr):
                raise ProgrammingError(f"default value of column {spec.name}.{f.name} is not "
                                       f"constant: {f.default_sql}")
        if f.computed is None:
            continue
        what = f"generated column {spec.name}.{f.name}"
        expr = _parse(f.computed, what)
        unknown = _fields_read(expr) - names
        if unknown:
            raise ProgrammingError(f"{what}: no such column: {sorted(unknown)[0]}")
        bad = [n.name for n in ast.walk(expr) if isinstance(n, ast.Func)
               and n.name in _NON_DETERMINISTIC] + [
            n.name for n in ast.walk(expr) if isinstance(n, ast.Column) and n.table is None
            and n.name.lower() in BARE_KEYWORDS]
        if bad or _has_subquery(expr):
            raise ProgrammingError(f"{what}: non-deterministic functions and subqueries are "
                                   f"not allowed in generated columns ({f.computed})")
        if f.name in spec.primary_key:
            raise ProgrammingError(f"{what}: a generated column cannot be part of the key")
        if f.default is not None or f.default_sql is not None:
            raise ProgrammingError(f"{what} cannot have a default value")
    defaults = tuple(default_expr(f.default_sql) for f in spec.fields if f.default_sql)
    if defaults:
        evaluate(defaults, {})
    computed = spec.computed_fields
    if computed:
        _, exprs = _generated(tuple((f.name, f.computed or "") for f in computed))  # loops
        evaluate(exprs, {_FIELD + name: None for name in spec.field_names})


@lru_cache(maxsize=256)
def _generated(pairs: tuple[tuple[str, str], ...]) -> tuple[tuple[str, ...], tuple[ast.Expr, ...]]:
    """Generated fields and their expressions over stored fields only: a reference to another
    generated field is replaced by that field's expression."""
    raw = {name: field_params(_parse(sql, f"generated column {name}")) for name, sql in pairs}
    done: dict[str, ast.Expr] = {}

    def resolve(name: str, path: tuple[str, ...]) -> ast.Expr:
        if name in path:
            raise ProgrammingError(f"generated column loop on {name!r}: {' -> '.join(path)}")
        if name not in done:
            done[name] = _inline(raw[name], raw, lambda n: resolve(n, (*path, name)))
        return done[name]

    return tuple(raw), tuple(resolve(name, ()) for name in raw)


def _inline(node: Any, raw: dict[str, Any], resolve: Any) -> Any:
    if isinstance(node, ast.Param) and node.name.startswith(_FIELD) and (
        node.name[len(_FIELD):] in raw
    ):
        return resolve(node.name[len(_FIELD):])
    if isinstance(node, tuple):
        return tuple(_inline(n, raw, resolve) for n in node)
    if hasattr(node, "__dataclass_fields__"):
        return type(node)(**{k: _inline(getattr(node, k), raw, resolve)
                             for k in node.__dataclass_fields__})
    return node


def generated_values(spec: CollectionSpec, body: dict[str, Any],
                     evaluate: rowexpr.Evaluate) -> dict[str, Any]:
    """The generated fields of a document, computed from its stored fields."""
    computed = spec.computed_fields
    if not computed:
        return {}
    names, exprs = _generated(tuple((f.name, f.computed or "") for f in computed))
    params = {_FIELD + name: body.get(name) for name in spec.field_names}
    for name in spec.json_fields & body.keys():  # (its value in SQL: SQLite's JSON text)
        params[_FIELD + name] = rowexpr.json_held(body[name])
    types = {f.name: f.type for f in computed}
    return {name: stored_form(types[name], value)
            for name, value in zip(names, evaluate(exprs, params), strict=True)}


def stored_generated(spec: CollectionSpec, body: dict[str, Any]) -> dict[str, Any]:
    """The generated fields of ``body`` in their stored form (after a store evaluated them)."""
    return {f.name: stored_form(f.type, body.get(f.name)) for f in spec.computed_fields}


def affected_generated(spec: CollectionSpec, assigned: Any) -> frozenset[str]:
    """The generated fields that read (directly or through another) an assigned field."""
    computed = spec.computed_fields
    if not computed:
        return frozenset()
    names, exprs = _generated(tuple((f.name, f.computed or "") for f in computed))
    wanted = set(assigned)
    return frozenset(name for name, expr in zip(names, exprs, strict=True)
                     if wanted & set(rowexpr.field_params((expr,))))


def generated_recomputes(
    spec: CollectionSpec, assignments: tuple[tuple[str, ast.Expr], ...],
    own: frozenset[str | None],
) -> tuple[Recompute, ...] | None:
    """The generated fields an UPDATE changes, as expressions over the document as stored
    (each assigned field replaced by what it is assigned), for a store to evaluate when it
    applies the batch; None if an assignment reads more than the document's own row."""
    computed = spec.computed_fields
    if not computed:
        return ()
    names, exprs = _generated(tuple((f.name, f.computed or "") for f in computed))
    assigned: dict[str, ast.Expr] = {}
    for name, expr in assignments:
        if not rowexpr.own_row_only(expr, own):
            return None
        assigned[name] = rowexpr.fields_to_params(expr, own)
    affected = affected_generated(spec, assigned)
    out = []
    for name, expr in zip(names, exprs, strict=True):
        if name not in affected:
            continue  # reads no assigned field: unchanged
        bound = _substitute(expr, assigned)
        out.append(Recompute(name, bound, rowexpr.field_params((bound,))))
    return tuple(out)


def _substitute(node: Any, assigned: dict[str, ast.Expr]) -> Any:
    if isinstance(node, ast.Param) and node.name.startswith(_FIELD) and (
        node.name[len(_FIELD):] in assigned
    ):
        return assigned[node.name[len(_FIELD):]]
    if isinstance(node, tuple):
        return tuple(_substitute(n, assigned) for n in node)
    if hasattr(node, "__dataclass_fields__"):
        return type(node)(**{k: _substitute(getattr(node, k), assigned)
                             for k in node.__dataclass_fields__})
    return node


def refuse_generated(spec: CollectionSpec, names: Any, verb: str) -> None:
    """An INSERT or UPDATE may not set a generated column (SQLite's error)."""
    computed = {f.name for f in spec.computed_fields}
    for name in names:
        if name in computed:
            raise OperationalError(f'cannot {verb} generated column "{name}" of {spec.name}')


@lru_cache(maxsize=512)
def default_expr(sql: str) -> ast.Expr:
    return _parse(sql, "default value")


# -------------------------------------------------------------------------- affinity

def stored_form(type_name: str, value: Any) -> Any:
    """A value SQL computed for a field, in the form the field's type stores, converted as
    SQLite's column affinity converts it (``affinity.WRITTEN``: an integer in a text column
    is stored as text, a real that is an integer in a NUMERIC one as the integer).
    Date-times the store keeps in one sortable form, so comparisons with bound values hold."""
    if value is None:
        return None
    base = type_name.split("(")[0].strip()
    if base in ("DATETIME", "TIMESTAMP") and isinstance(value, str):
        try:
            return values.format_datetime(values.parse_datetime(value))
        except ValueError:
            return value
    if base == "TIME" and isinstance(value, str):
        try:
            return values.format_time(dt.time.fromisoformat(value))
        except ValueError:
            return value
    conversion = _written(type_name)
    if conversion is not None:
        value = conversion.apply(value)  # (SQLite's affinity of the declared type)
    if base == "BOOLEAN" and type(value) is int and value in (0, 1):
        return bool(value)  # (the dialect's Boolean keeps booleans)
    return value


@lru_cache(maxsize=512)
def _written(type_name: str) -> Any:
    """``affinity.WRITTEN``'s conversion for a declared type (None: kept as given)."""
    from .affinity import WRITTEN  # (affinity imports this module)

    return WRITTEN.get(value_affinity(type_name))


def stored_computed(type_name: str, value: Any) -> Any:
    """``stored_form`` of a value an UPDATE computed for a field; a JSON field's value is
    computed as its JSON text (executor._json_texts) and is decoded (the text ``null`` is
    JSON null, ``values.JSON_NULL``: SQL NULL is no text)."""
    if type(value) is str and type_name.split("(")[0].strip().upper() == "JSON":
        decoded = values.loads(value)
        return values.JSON_NULL if decoded is None else decoded
    return stored_form(type_name, value)
