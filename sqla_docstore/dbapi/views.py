"""Views and CREATE TABLE ... AS: stored queries, expanded when a statement names them.

A view is a collection whose schema holds the text of its SELECT (``CollectionSpec.view``) and
the names and types of its columns; it holds no documents. Before a statement runs, every
table reference naming a view becomes that SELECT as a derived table with the view's name as
its alias (views over views expand in turn), so both backends read it as any subquery, with the
transaction's pending writes overlaid. Writing to a view is refused.
"""

from __future__ import annotations

from typing import Any

from ..backends.base import BackendConnection
from ..errors import OperationalError, ProgrammingError
from ..pending import PendingBatch
from ..schema import DECIMAL_TYPES, UNTYPED, CollectionSpec
from ..statements import ast
from ..statements.prepared import prepare, prepared
from . import executor

#: views over views expand at most this deep (a view cannot name itself: it must exist first)
MAX_DEPTH = 16
_WRITES = (ast.Insert, ast.Update, ast.Delete)


def _view_of(backend: BackendConnection, name: str) -> str | None:
    try:
        return backend.spec(name).view
    except OperationalError:
        return None  # no such collection: the statement itself says so


def expand(backend: BackendConnection, stmt: Any) -> Any:
    """``stmt`` with every view it reads replaced by the view's query; writing to a view
    raises OperationalError (as SQLite does)."""
    if isinstance(stmt, _WRITES) and _view_of(backend, stmt.table) is not None:
        raise OperationalError(f"cannot modify {stmt.table} because it is a view")
    for _ in range(MAX_DEPTH):
        found = {name: text for name in _table_names(stmt)
                 if (text := _view_of(backend, name)) is not None}
        if not found:
            return stmt
        stmt = _expanded(stmt, tuple(found.items()))
    raise ProgrammingError(f"views nested more than {MAX_DEPTH} deep")


def _table_names(stmt: Any) -> tuple[str, ...]:
    """The tables a statement names, sorted (found once, by its Prepared)."""
    return prepared(stmt).tables


def _expanded(stmt: Any, views: tuple[tuple[str, str], ...]) -> Any:
    """The statement with these views expanded: one tree per set of views, kept on the
    statement's Prepared, so the analyses of the expanded tree are made once too."""
    return prepared(stmt).derived(("views", views), lambda: _expand_now(stmt, views))


def _expand_now(stmt: Any, views: tuple[tuple[str, str], ...]) -> Any:
    queries: dict[str, ast.SelectLike] = {}
    for name, text in views:
        query = prepare(text).stmt
        if not isinstance(query, (ast.Select, ast.Compound)):
            raise ProgrammingError(f"view {name} is not a SELECT: {text!r}")
        queries[name] = query
    return _replace(stmt, queries)


def _replace(node: Any, queries: dict[str, ast.SelectLike]) -> Any:
    if isinstance(node, ast.TableRef) and node.name in queries:
        return ast.SubqueryRef(queries[node.name], node.ref)
    if isinstance(node, tuple):
        return tuple(_replace(n, queries) for n in node)
    if hasattr(node, "__dataclass_fields__") and not isinstance(node, ast.CreateCollection):
        changes = {k: _replace(getattr(node, k), queries) for k in node.__dataclass_fields__}
        return type(node)(**changes)
    return node


# ------------------------------------------------------------------- columns of a query


def query_fields(backend: BackendConnection, select: ast.SelectLike) -> list[dict[str, Any]]:
    """Field specs (name, type) of a query's result columns: a column of a collection keeps
    its declared type, a CAST its target type, anything else is untyped (``UNTYPED``: no
    affinity, as SQLite declares such a column of CREATE TABLE ... AS)."""
    fields = result_fields(backend, select, checked=True)
    names = [f["name"] for f in fields]
    if len(set(names)) != len(names):
        raise ProgrammingError(f"a view or table needs distinct column names, not {names}")
    return [{"name": f["name"], "type": f["type"], "nullable": True, "default": None}
            for f in fields]


def result_fields(backend: BackendConnection, select: ast.SelectLike,
                  checked: bool = False) -> list[dict[str, Any]]:
    """(name, type) of each result column of a query, as :func:`query_fields` types them;
    ``checked``: the columns of its derived tables must have distinct names."""
    while isinstance(select, ast.Compound):
        select = select.selects[0]
    sources = _sources(backend, select.from_, checked)
    fields: list[dict[str, Any]] = []
    for col in select.columns:
        expr = col.expr
        if isinstance(expr, ast.Star):
            for ref, spec_fields in sources.items():
                if expr.table in (None, ref):
                    fields += spec_fields
            continue
        label = col.alias or _label(expr)
        fields.append({"name": label, "type": _type_of(expr, sources)})
    return fields


def _sources(backend: BackendConnection, items: tuple[ast.FromItem, ...],
             checked: bool) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    columns = query_fields if checked else result_fields
    for item in items:
        if isinstance(item, ast.TableRef):
            spec = backend.spec(item.name)
            out[item.ref] = [{"name": f.name, "type": f.type} for f in spec.fields]
        elif isinstance(item, ast.SubqueryRef):
            out[item.alias] = columns(backend, item.select)
        elif isinstance(item, ast.CteRef):
            out[item.alias] = columns(backend, item.cte.select)
        elif isinstance(item, ast.Join):
            out.update(_sources(backend, (item.left, item.right), checked))
    return out


def _type_of(expr: ast.Expr, sources: dict[str, list[dict[str, Any]]]) -> str:
    if isinstance(expr, ast.Cast):
        return expr.type_name
    if isinstance(expr, ast.Func) and expr.name in ("sum", "avg") and len(expr.args) == 1 and (
            not expr.distinct):
        # the store sums a NUMERIC / DECIMAL column exactly: a NUMERIC, as in PostgreSQL
        base = _type_of(expr.args[0], sources).split("(", 1)[0].strip().upper()
        return base if base in DECIMAL_TYPES else UNTYPED
    if isinstance(expr, ast.Column):
        for ref, fields in sources.items():
            if expr.table in (None, ref):
                for f in fields:
                    if f["name"] == expr.name:
                        return str(f["type"])
    return UNTYPED


def _label(expr: ast.Expr) -> str:
    if isinstance(expr, ast.Column):
        return expr.name
    return expr.name if isinstance(expr, ast.Func) else "?column?"


# ------------------------------------------------------------------------------ statements


def _exists(backend: BackendConnection, name: str) -> CollectionSpec | None:
    """The spec of an existing collection (declared or holding documents), else None."""
    if not backend.exists(name):
        return None
    try:
        return backend.spec(name)
    except OperationalError:
        return None


def create_view(backend: BackendConnection, stmt: ast.CreateView) -> None:
    if stmt.if_not_exists and _exists(backend, stmt.name) is not None:
        return
    expanded = expand(backend, stmt.select)  # checks the query reads what exists
    spec: dict[str, Any] = {"fields": query_fields(backend, expanded), "view": stmt.text}
    if stmt.schema is not None:
        spec["schema"] = stmt.schema
    backend.execute_schema(ast.CreateCollection(stmt.name, spec))


def drop_view(backend: BackendConnection, stmt: ast.DropView) -> None:
    spec = _exists(backend, stmt.name)
    if spec is None:
        if stmt.if_exists:
            return
        raise OperationalError(f"no such view: {stmt.name}")
    if spec.view is None:
        raise ProgrammingError(f"use DROP TABLE to delete table {stmt.name}")
    backend.execute_schema(ast.DropCollection(stmt.name))


def create_table_as(backend: BackendConnection, stmt: ast.CreateTableAs,
                    params: dict[str, Any], pending: PendingBatch,
                    fks: executor.ForeignKeyRules | None) -> executor.Outcome:
    """The collection is created at once (DDL is not transactional); its rows join the
    transaction's batch, as an INSERT ... SELECT would."""
    if stmt.if_not_exists and _exists(backend, stmt.name) is not None:
        return executor.Outcome()
    select = expand(backend, stmt.select)
    fields = query_fields(backend, select)
    spec: dict[str, Any] = {"fields": fields}
    if stmt.schema is not None:
        spec["schema"] = stmt.schema
    backend.execute_schema(ast.CreateCollection(stmt.name, spec))
    insert = ast.Insert(stmt.name, tuple(f["name"] for f in fields), (), select=select)
    return executor.run_insert(backend, insert, [params], pending, fks)
