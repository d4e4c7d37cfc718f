"""The mapping is the schema: the Tables a statement uses, as collection schemas for the DB-API.

A document store needs no DDL: a collection comes with its first document. So each compiled
statement carries the schemas of the Tables it reads or writes (computed once per compiled
statement, and once per Table), and the execution context hands them to the DB-API
(``Connection.assume_collections``) before the statement runs. A collection with a declared
schema (``create_all``, a migration) keeps it; a missing one is created from the Table on the
embedded store, and read and written through it on RavenDB; one other clients made (no schema)
is read and written through the Table.
"""

from __future__ import annotations

import weakref
from typing import Any

from sqlalchemy import exc, schema
from sqlalchemy.sql.util import find_tables

from ..schema import CollectionSpec, qualified
from .compiler import is_temporary

#: Table -> ((columns, indexes) counted when computed, its spec): a Table that gained a
#: column or an index (Alembic, tests) gets its spec again
_BY_TABLE: weakref.WeakKeyDictionary[
    schema.Table, tuple[tuple[int, int], CollectionSpec | None]] = weakref.WeakKeyDictionary()


def mapped_specs(compiled: Any) -> tuple[CollectionSpec, ...]:
    """The schemas of the Tables a compiled statement uses (cached on the compiled object)."""
    specs: tuple[CollectionSpec, ...] | None = getattr(compiled, "_docstore_mapped", None)
    if specs is None:
        statement = getattr(compiled, "statement", None)
        found = [] if statement is None else find_tables(
            statement, include_crud=True, include_joins=True, include_aliases=True)
        tables = {id(t): t for t in found if isinstance(t, schema.Table)}
        specs = tuple(s for s in (table_spec(t, compiled.dialect) for t in tables.values())
                      if s is not None)
        compiled._docstore_mapped = specs
    return specs


def table_spec(table: schema.Table, dialect: Any) -> CollectionSpec | None:
    """The schema ``create_all`` would give the Table, or None for one that only DDL can
    make (a temporary table, one whose schema DDL would refuse: create_all reports that)."""
    shape = (len(table.columns), len(table.indexes))
    hit = _BY_TABLE.get(table)
    if hit is not None and hit[0] == shape:
        return hit[1]
    spec = None
    if table.columns and not is_temporary(table):
        try:
            data = dialect.ddl_compiler(dialect, None).table_spec(table)
            spec = CollectionSpec.from_json(qualified(table.schema, table.name), data)
        except (exc.CompileError, exc.UnsupportedCompilationError):
            spec = None  # create_all reports it; the statement itself may still run
    _BY_TABLE[table] = (shape, spec)
    return spec
