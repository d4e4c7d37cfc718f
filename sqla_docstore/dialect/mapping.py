"""The mapping is the schema: the Tables a statement uses, as collection schemas for the DB-API.

A document store needs no DDL: a collection comes with its first document. So each compiled
statement carries the schemas of the Tables it reads or writes (those its compilation
rendered; computed once per compiled statement, and once per Table), and the execution
context hands them to the DB-API (``Connection.assume_collections``) before the statement
runs. A collection with a declared schema (``create_all``, a migration) keeps it; a missing
one is created from the Table on the embedded store, and read and written through it on
RavenDB; one other clients made (no schema) is read and written through the Table.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import exc, schema
from sqlalchemy.sql.util import find_tables

from ..schema import CollectionSpec, qualified
from .compiler import is_temporary, translated_schema

#: Table -> ((columns, indexes) counted when computed, its spec): a Table that gained a
#: column or an index (Alembic, tests) gets its spec again
_BY_TABLE: weakref.WeakKeyDictionary[
    schema.Table, tuple[tuple[int, int], CollectionSpec | None]] = weakref.WeakKeyDictionary()


#: the tuples of specs given out, by the ids of their specs (the tuple keeps them alive, so
#: an id names the same spec while its entry stands): Tables that map to the same specs as
#: a statement compiled before give the same tuple
_INTERNED: dict[tuple[int, ...], tuple[CollectionSpec, ...]] = {}


def mapped_specs(compiled: Any) -> tuple[CollectionSpec, ...]:
    """The schemas of the Tables a compiled statement uses (cached on the compiled object):
    the Tables the compiler rendered (``DocstoreCompiler.tables_used``), else those a search
    of the statement finds."""
    specs: tuple[CollectionSpec, ...] | None = getattr(compiled, "_docstore_mapped", None)
    if specs is None:
        specs = compiled._docstore_mapped = _interned(_specs(_used(compiled),
                                                             compiled.dialect))
    return specs


def translated_specs(compiled: Any, translate: Mapping[str | None, str | None]
                     ) -> tuple[CollectionSpec, ...]:
    """``mapped_specs`` of a statement executed with a ``schema_translate_map``: each Table
    in the schema the statement's text names it in (a compiled statement serves every map;
    cached on it per map)."""
    key = tuple(sorted(translate.items(), key=repr))
    cache: dict[Any, tuple[CollectionSpec, ...]] | None = getattr(
        compiled, "_docstore_translated", None)
    if cache is None:
        cache = compiled._docstore_translated = {}
    specs = cache.get(key)
    if specs is None:
        if len(cache) >= 100:
            cache.clear()
        specs = cache[key] = _specs(_used(compiled), compiled.dialect, translate)
    return specs


def _used(compiled: Any) -> Iterable[Any]:
    used = getattr(compiled, "tables_used", None)
    if used is None:  # (another compiler's: its statement searched)
        statement = getattr(compiled, "statement", None)
        used = () if statement is None else _tables(statement)
    return used


def _interned(specs: tuple[CollectionSpec, ...]) -> tuple[CollectionSpec, ...]:
    """One tuple per list of specs: ``assume_collections`` then knows a statement compiled
    again (no compiled cache) by one identity check."""
    key = tuple(map(id, specs))
    hit = _INTERNED.get(key)
    if hit is None:
        if len(_INTERNED) >= 1000:
            _INTERNED.clear()
        hit = _INTERNED[key] = specs
    return hit


def _tables(statement: Any) -> tuple[schema.Table, ...]:
    found = find_tables(statement, include_crud=True, include_joins=True, include_aliases=True)
    return tuple({id(t): t for t in found if isinstance(t, schema.Table)}.values())


def _specs(tables: Iterable[Any], dialect: Any,
           translate: Mapping[str | None, str | None] | None = None
           ) -> tuple[CollectionSpec, ...]:
    """The specs of the Tables among ``tables`` (a loop: run per compilation)."""
    specs = []
    for table in tables:
        if isinstance(table, schema.Table):
            spec = (table_spec(table, dialect) if not translate
                    else _translated_spec(table, dialect, translate))
            if spec is not None:
                specs.append(spec)
    return tuple(specs)


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


def _translated_spec(table: schema.Table, dialect: Any,
                     translate: Mapping[str | None, str | None]) -> CollectionSpec | None:
    """``table_spec`` with the schemas ``translate`` maps (the Table's, its foreign keys')."""
    if not table.columns or is_temporary(table):
        return None
    try:
        ddl = dialect.ddl_compiler(dialect, None, schema_translate_map=dict(translate))
        return CollectionSpec.from_json(
            qualified(translated_schema(table.schema, translate), table.name),
            ddl.table_spec(table))
    except (exc.CompileError, exc.UnsupportedCompilationError):
        return None
