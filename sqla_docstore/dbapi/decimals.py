"""Result columns declared NUMERIC / DECIMAL give ``decimal.Decimal``, on every backend.

psycopg gives PostgreSQL's ``numeric`` as Decimal; so does this DB-API for a result column
whose type is NUMERIC or DECIMAL (with or without precision and scale): a field of a table or
view declared so, read directly, through ``*``, a derived table, a view or a join, or a
``CAST(... AS NUMERIC|DECIMAL)``; the same typing CREATE VIEW and CREATE TABLE ... AS record
(:func:`views.result_fields`). RETURNING of such a field of the written table does the same.
The Decimal has the digits stored (a float as the shortest text that reads back as it, which
is the JSON text stored for it); the DB-API does not round to the declared scale (the store
does not round when it writes). Other expressions over such a field (``val + 1``,
``sum(val)``) keep the value the store computes, an int or a float (a Decimal only where a
float could not hold it), as SQLite gives them; INTEGER, FLOAT, REAL and untyped fields are
unchanged.

The rule is applied here, to the rows the store made, so the embedded store and RavenDB (whose
rows come from JSON) share it. The columns are found once per statement and schema (kept on
the statement's Prepared).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .. import values
from ..backends.base import BackendConnection
from ..schema import DECIMAL_TYPES, CollectionSpec
from ..statements import ast
from ..statements.prepared import prepared
from . import executor, views

Rows = list[tuple[Any, ...]]
#: (position, label) of each NUMERIC / DECIMAL column of a result
Positions = tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class _DecimalColumns:
    """Where a statement's result has NUMERIC / DECIMAL columns, for the schemas it read."""

    specs: tuple[CollectionSpec, ...]  # the schemas the answer holds for
    width: int  # the number of result columns typed
    #: (position, label) of each NUMERIC / DECIMAL column: the rows are converted only when
    #: the store's labels agree (a ``*`` over a collection without declared columns does not)
    at: tuple[tuple[int, str], ...]

    def applies(self, columns: list[str]) -> bool:
        if not self.at or len(columns) != self.width:
            return False
        for i, label in self.at:
            if columns[i] != label:
                return False
        return True

    def holds(self, backend: BackendConnection) -> bool:
        """Whether the schemas read are still the store's (a loop: run on every statement)."""
        for spec in self.specs:
            if backend.spec(spec.name) is not spec:
                return False
        return True


def _is_decimal(type_name: str) -> bool:
    return type_name.split("(", 1)[0].strip().upper() in DECIMAL_TYPES


def _analyse(backend: BackendConnection, stmt: Any) -> _DecimalColumns:
    specs = tuple(backend.spec(name) for name in prepared(stmt).tables)
    if isinstance(stmt, (ast.Select, ast.Compound)):
        fields = views.result_fields(backend, stmt)
        return _DecimalColumns(specs, len(fields), tuple(
            (i, f["name"]) for i, f in enumerate(fields) if _is_decimal(f["type"])))
    plan = executor.returning_plan(backend, stmt)
    decimal = plan.spec.decimal_fields
    return _DecimalColumns(specs, len(plan.labels), tuple(
        (i, plan.labels[i]) for i, f in enumerate(plan.fields)
        if f in decimal and i not in plan.matched_at))


def _columns(backend: BackendConnection, stmt: Any) -> _DecimalColumns:
    return prepared(stmt).analysis(
        "decimal_columns", lambda: _analyse(backend, stmt), lambda hit: hit.holds(backend))


def convert(backend: BackendConnection, stmt: Any, columns: list[str], rows: Rows) -> Rows:
    """``rows`` of ``stmt`` (a query, or a write's RETURNING) with the NUMERIC / DECIMAL
    columns' numbers as Decimal."""
    return convert_at(rows, positions(backend, stmt, columns)) if rows else rows


def positions(backend: BackendConnection, stmt: Any, columns: list[str]) -> Positions:
    """Where :func:`convert` makes Decimals in rows of ``stmt`` with these ``columns``, for
    the schemas the backend has now (a caller may keep it while they stand)."""
    found = _columns(backend, stmt)
    return found.at if found.applies(columns) else ()


def convert_at(rows: Rows, at: Positions) -> Rows:
    """:func:`convert` with the ``positions`` found for the statement."""
    return _converted(rows, at) if rows and at else rows


def convert_stream(backend: BackendConnection, stmt: Any, columns: list[str],
                   chunks: Iterator[Rows]) -> Iterator[Rows]:
    """:func:`convert` over a streamed result's chunks (closing them closes the store's)."""
    at = positions(backend, stmt, columns)
    return _converted_chunks(chunks, at) if at else chunks


def _converted(rows: Rows, at: tuple[tuple[int, str], ...]) -> Rows:
    as_decimal = values.declared_decimal
    positions = [i for i, _ in at]
    if len(positions) == 1:  # the common case: one NUMERIC column
        i = positions[0]
        return [row[:i] + (as_decimal(row[i]),) + row[i + 1:] for row in rows]
    out: Rows = []
    for row in rows:
        items = list(row)
        for i in positions:
            items[i] = as_decimal(items[i])
        out.append(tuple(items))
    return out


def _converted_chunks(chunks: Iterator[Rows],
                      at: tuple[tuple[int, str], ...]) -> Iterator[Rows]:
    try:
        for chunk in chunks:
            yield _converted(chunk, at)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
