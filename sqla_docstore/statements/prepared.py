"""Prepared statements: one object per statement holding everything known about it.

A statement text is parsed once (the parser keeps its trees by text); the tree then gets one
:class:`Prepared`, found by :func:`prepared` for the tree object itself. It holds

- the facts that need no schema, computed when it is made: the statement's kind, the tables
  it names, its parameters' style (the names of its positional ones), its lone ``IN``
  parameters and its JSON-path parameters;
- the analyses that read a collection's schema (a load by key, an INSERT's plan, a
  RETURNING's columns, a statement with its views expanded...), each made on first use
  through :meth:`Prepared.analysis` and made again after that schema changes;
- statements derived from it (one row of a multi-row VALUES, INSERT ... SELECT as VALUES),
  each a tree with its own Prepared.

So a warm statement costs one dictionary lookup, and every layer (the DB-API, the executor,
each backend) reads the same object instead of keeping its own cache of the same analysis.
Pure: no I/O, no SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any, TypeVar

from . import ast
from .lexer import position, positional_name
from .parser import parse

T = TypeVar("T")
_MISSING: Any = object()


class StatementKind(Enum):
    QUERY = "query"
    INSERT = "insert"
    UPDATE = "update"
    DELETE = "delete"
    SCHEMA = "schema"  # CREATE/DROP/ALTER of collections and indexes
    SAVEPOINT = "savepoint"
    CREATE_TABLE_AS = "create table as"
    CREATE_VIEW = "create view"
    DROP_VIEW = "drop view"
    FRAGMENT = "fragment"  # a part of a statement (a WHERE, a tuple of expressions)


_KINDS: dict[type, StatementKind] = {
    ast.Select: StatementKind.QUERY,
    ast.Compound: StatementKind.QUERY,
    ast.Insert: StatementKind.INSERT,
    ast.Update: StatementKind.UPDATE,
    ast.Delete: StatementKind.DELETE,
    ast.CreateCollection: StatementKind.SCHEMA,
    ast.DropCollection: StatementKind.SCHEMA,
    ast.CreateIndex: StatementKind.SCHEMA,
    ast.DropIndex: StatementKind.SCHEMA,
    ast.AlterCollection: StatementKind.SCHEMA,
    ast.Savepoint: StatementKind.SAVEPOINT,
    ast.CreateTableAs: StatementKind.CREATE_TABLE_AS,
    ast.CreateView: StatementKind.CREATE_VIEW,
    ast.DropView: StatementKind.DROP_VIEW,
}


class Prepared:
    """A statement (or a fragment of one) and its analyses; see the module docstring."""

    __slots__ = ("stmt", "kind", "tables", "positional", "named", "single_in", "path_params",
                 "_analyses")

    def __init__(self, stmt: Any) -> None:
        self.stmt = stmt
        self.kind = _KINDS.get(type(stmt), StatementKind.FRAGMENT)
        tables: set[str] = set()
        single_in: set[str] = set()
        paths: set[str] = set()
        last = 0
        named = False
        for node in ast.walk(stmt):
            if isinstance(node, ast.TableRef):
                tables.add(node.name)
            elif isinstance(node, ast.Param):
                at = position(node.name)
                if at is None:
                    named = True
                else:
                    last = max(last, at)
            elif isinstance(node, ast.InList):
                if len(node.items) == 1 and isinstance(node.items[0], ast.Param):
                    single_in.add(node.items[0].name)  # may carry a whole array (RQL style)
            elif isinstance(node, ast.JsonPath):
                paths.update(s.name for s in node.steps if isinstance(s, ast.Param))
        #: every collection (or view) the statement names, sorted
        self.tables: tuple[str, ...] = tuple(sorted(tables))
        #: the names of positional parameters ``?1``..``?n``, n the largest number used (the
        #: count of values a statement with ``?`` takes, as SQLite counts them); () if none
        self.positional: tuple[str, ...] = tuple(positional_name(i) for i in range(1, last + 1))
        #: the statement has named parameters (``:name`` / ``$name``; never with ``?``)
        self.named = named
        #: parameters that stand alone in an IN list
        self.single_in: frozenset[str] = frozenset(single_in)
        #: parameters that are JSON path steps (a store plans each path value apart)
        self.path_params: tuple[str, ...] = tuple(sorted(paths))
        self._analyses: dict[Any, Any] = {}

    def analysis(self, name: Any, build: Callable[[], T], valid: Callable[[T], bool]) -> T:
        """The analysis ``name``, built on first use and again whenever ``valid`` says the
        one kept no longer holds (it read a schema that has changed since)."""
        hit = self._analyses.get(name, _MISSING)
        if hit is _MISSING or not valid(hit):
            hit = self._analyses[name] = build()
        result: T = hit
        return result

    def kept(self, name: Any, default: Any = None) -> Any:
        """The analysis ``name`` as kept, not checked (``default`` if none is): a caller
        that checks it itself, then builds it by ``analysis`` if it no longer holds."""
        return self._analyses.get(name, default)

    def derived(self, name: Any, build: Callable[[], T]) -> T:
        """A value made from the statement alone (no schema), such as a derived statement."""
        hit = self._analyses.get(name, _MISSING)
        if hit is _MISSING:
            hit = self._analyses[name] = build()
        result: T = hit
        return result

    def path_values(self, params: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
        """The values given for the JSON-path parameters (hashable)."""
        if not self.path_params:
            return ()  # most statements: no generator made per execution
        return tuple((name, _hashable(params[name])) for name in self.path_params
                     if name in params)


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


_LIMIT = 4000
_registry: dict[int, Prepared] = {}


def prepared(stmt: Any) -> Prepared:
    """The Prepared of a statement tree (or fragment), made on first use. The entry keeps the
    tree alive (``Prepared.stmt``), so its ``id`` stays its own while the entry exists."""
    hit = _registry.get(id(stmt))
    if hit is not None and hit.stmt is stmt:
        return hit
    if len(_registry) >= _LIMIT:
        _registry.clear()  # the statements kept by text stay (and stay the ones found)
        _registry.update((id(p.stmt), p) for p in _by_text.values())
    prep = _registry[id(stmt)] = Prepared(stmt)
    return prep


_by_text: dict[str, Prepared] = {}


def prepare(text: str) -> Prepared:
    """The Prepared of a statement text: parsed on first use, then one lookup by text."""
    hit = _by_text.get(text)
    if hit is None:
        if len(_by_text) >= _LIMIT // 2:
            _by_text.clear()
        hit = _by_text[text] = prepared(parse(text))
    return hit
