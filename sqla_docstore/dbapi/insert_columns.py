"""An INSERT without a column list (``INSERT INTO t VALUES (...)``, ``INSERT INTO t SELECT
...``): as in SQLite, its columns are the table's declared ones in declaration order, its
generated columns left out; another number of values is SQLite's OperationalError. An open
collection (no declared columns) has no such list: refused with NotSupportedError."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..backends.base import BackendConnection
from ..errors import NotSupportedError, OperationalError
from ..statements import ast
from ..statements.prepared import prepared


def with_columns(backend: BackendConnection, stmt: Any) -> Any:
    """``stmt`` naming the table's columns if it is an INSERT naming none (not DEFAULT
    VALUES); any other statement as it is."""
    if type(stmt) is not ast.Insert or stmt.columns or (
            not stmt.values and stmt.select is None):
        return stmt
    spec = backend.spec(stmt.table)
    if spec.inferred or not spec.fields:
        raise NotSupportedError(
            f"INSERT INTO {stmt.table} without a column list: {stmt.table} declares no "
            "columns (an open collection, its fields inferred from its documents in no "
            "declared order); name the columns")
    columns = tuple(f.name for f in spec.fields if f.computed is None)
    width = len(stmt.values) if stmt.select is None else _selected_width(stmt.select)
    if width is not None and width != len(columns):
        raise wrong_width(stmt.table, len(columns), width)
    return prepared(stmt).derived(("implicit columns", columns), lambda: replace(
        stmt, columns=columns, implicit_columns=True))


def wrong_width(table: str, columns: int, values: int) -> OperationalError:
    """SQLite's error for an INSERT without a column list given another number of values."""
    return OperationalError(
        f"table {table} has {columns} columns but {values} values were supplied")


def _selected_width(select: ast.SelectLike) -> int | None:
    """The number of columns a SELECT returns, if known without the schema (no ``*``)."""
    while isinstance(select, ast.Compound):
        select = select.selects[0]
    if any(isinstance(c.expr, ast.Star) for c in select.columns):
        return None
    return len(select.columns)
