"""SQL functions for documents: array membership.

``array_contains(array, value)`` is true when ``array`` (a JSON column, or a JSON element such
as ``Model.data["tags"]``) is a JSON array with an element equal to ``value`` (SQL equality on
the element's value: a number, a string, a boolean as 1/0); false otherwise (a missing or null
array, another JSON type, a NULL value), never NULL. On SQLite it renders as
``json_type(a) = 'array' AND EXISTS (SELECT 1 FROM json_each(a) WHERE value = :v)``, so the
same application runs on both, and that expression is its reference meaning.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import exc
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import functions, sqltypes
from sqlalchemy.sql.compiler import SQLCompiler, StrSQLCompiler


class array_contains(functions.FunctionElement[bool]):  # noqa: N801 - a SQL function's name
    """``array_contains(Model.data["tags"], "red")``: the JSON array holds the value."""

    type = sqltypes.Boolean()
    name = "array_contains"
    inherit_cache = True

    def __init__(self, array: Any, value: Any) -> None:
        if isinstance(value, (dict, list, tuple)):
            raise exc.ArgumentError(
                "array_contains() compares an element with a scalar value (str, int, float, "
                f"bool), not {type(value).__name__}")
        super().__init__(array, value)


@compiles(array_contains)
def _refused(element: array_contains, compiler: SQLCompiler, **kw: Any) -> str:
    if isinstance(compiler, StrSQLCompiler):  # str(statement)
        return _docstore(element, compiler, **kw)
    raise exc.CompileError(
        f"array_contains() is available on docstore://, ravendb:// and sqlite://, not on "
        f"{compiler.dialect.name}")


@compiles(array_contains, "docstore")
@compiles(array_contains, "ravendb")
def _docstore(element: array_contains, compiler: SQLCompiler, **kw: Any) -> str:
    array, value = element.clauses
    return f"array_contains({compiler.process(array, **kw)}, {compiler.process(value, **kw)})"


@compiles(array_contains, "sqlite")
def _sqlite(element: array_contains, compiler: SQLCompiler, **kw: Any) -> str:
    array, value = (compiler.process(c, **kw) for c in element.clauses)
    return (f"(json_type({array}) = 'array' AND EXISTS (SELECT 1 FROM json_each({array}) "
            f"WHERE value = {value}))")
