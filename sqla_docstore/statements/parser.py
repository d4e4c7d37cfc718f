"""Recursive-descent parser: statement text (SQL subset or RQL query) to the statement tree.

The dialect renders SQL-shaped text with ``:name`` parameters; users may also send RQL queries
(``from Users where name = $name select name limit $skip, $take``). Both arrive at the same tree.
Anything outside the language raises NotSupportedError naming the construct.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from ..errors import NotSupportedError, OperationalError, ProgrammingError
from ..schema import (
    UNTYPED,
    CollectionSpec,
    ColumnAffinity,
    IndexElement,
    IndexKey,
    alter_problem,
    column_affinity,
    index_key_from_json,
    index_key_problem,
    plain_fields,
    qualified,
)
from . import ast
from .lexer import Token, tokenize

CLAUSE_WORDS = frozenset(
    """from where group having order limit offset union intersect except on join inner left
    right full cross outer natural using select returning set values as and or not is in between
    like ilike escape when then else end asc desc nulls update delete insert into window over
    filter collate glob match regexp load include for""".split()
)
_COMPARISONS = {"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">",
                ">=": ">="}
_EQUALITIES = frozenset({"=", "==", "!=", "<>"})
_ORDERINGS = frozenset({"<", "<=", ">", ">="})
_BITWISE = frozenset({"&", "|", "<<", ">>"})
_NAME_PART = r'(?:"(?:[^"]|"")*"|[\w@/-]+)'
_DDL = re.compile(
    r"\s*(CREATE|DROP|ALTER)\s+(COLLECTION|INDEX)\s+(?:(IF\s+(?:NOT\s+)?EXISTS)\s+)?"
    rf"({_NAME_PART}(?:\.{_NAME_PART})*)\s*(.*)\Z",
    re.IGNORECASE | re.DOTALL,
)
_PARTS = re.compile(rf"({_NAME_PART})(?:\.|\Z)")
#: Deepest nesting of parentheses, subqueries, NOT and signs the parser follows (each level
#: costs about a dozen Python frames), and the deepest statement tree it returns (code that
#: walks the tree recurses once per level). SQLAlchemy's statements stay far below both.
MAX_NESTING = 48
MAX_TREE_DEPTH = 160


def parse(text: str) -> ast.Statement:
    """Parse one statement (``prepared.prepare`` keeps the trees of the texts that repeat)."""
    ddl = _DDL.match(text)
    if ddl and not _sql_create_index(ddl):
        return _parse_ddl(*ddl.groups())
    return _checked_depth(_Parser(text).statement(), text)


@lru_cache(maxsize=1024)
def parse_rql(text: str) -> ast.Statement:
    """Parse an RQL query keeping ``exact(...)`` as a call, so a RavenDB-compatible server can
    tell exact comparisons from RavenDB's default case-insensitive ones."""
    return _checked_depth(_Parser(text, keep_exact=True).statement(), text)


@lru_cache(maxsize=256)
def parse_expression(text: str) -> ast.Expr:
    """Parse a lone expression, such as the text of a CHECK constraint."""
    parser = _Parser(text)
    expr = parser.expr()
    if parser.tok.kind != "eof":
        parser.error("unexpected text after the expression")
    return _checked_depth(expr, text)


def _too_deep(text: str) -> ProgrammingError:
    return ProgrammingError(
        f"statement is nested too deeply (more than {MAX_NESTING} levels of parentheses, "
        f"subqueries or operators, or a tree deeper than {MAX_TREE_DEPTH}): {text[:200]!r}"
    )


_CHILDREN: dict[type, tuple[str, ...]] = {}


def _children(node: Any) -> tuple[Any, ...]:
    if isinstance(node, tuple):
        return node
    names = _CHILDREN.get(type(node))
    if names is None:
        names = _CHILDREN[type(node)] = tuple(getattr(node, "__dataclass_fields__", ()))
    return tuple(getattr(node, name) for name in names)


def _checked_depth(tree: Any, text: str) -> Any:
    """``tree`` if no path in it is longer than MAX_TREE_DEPTH (walked without recursion)."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_TREE_DEPTH:
            raise _too_deep(text)
        stack.extend((child, depth + 1) for child in _children(node)
                     if isinstance(child, tuple) or hasattr(child, "__dataclass_fields__"))
    return tree


def _unquote(name: str) -> str:
    """A DDL statement's name: quoted parts unquoted, joined by dots (``schema.table``)."""
    return ".".join(part[1:-1].replace('""', '"') if part.startswith('"') else part
                    for part in _PARTS.findall(name))


def _ddl_spec(verb: str, what: str, name: str, rest: str) -> dict[str, Any]:
    """The JSON object after a DDL statement's name (``{}`` if there is none)."""
    if not rest.strip():
        return {}
    try:
        spec = json.loads(rest)
    except (ValueError, RecursionError) as exc:
        raise ProgrammingError(
            f"{verb} {what} {name}: the specification is not valid JSON ({exc})"
        ) from exc
    if not isinstance(spec, dict):
        raise ProgrammingError(f"{verb} {what} {name}: the specification must be a JSON object, "
                               f"not {type(spec).__name__}")
    return spec


def _sql_create_index(ddl: re.Match[str]) -> bool:
    """``CREATE INDEX name ON table (...)`` (SQL), not the JSON form ``CREATE INDEX name {...}``:
    the parser reads it."""
    verb, what, _, _, rest = ddl.groups()
    return verb.upper() == "CREATE" and what.upper() == "INDEX" and not rest.startswith("{")


def _ddl_text(spec: dict[str, Any], key: str, statement: str) -> str:
    value = spec.get(key)
    if not isinstance(value, str) or not value:
        raise ProgrammingError(f"{statement}: {key!r} must be a non-empty string, not {value!r}")
    return value


def _parse_ddl(verb: str, what: str, condition: str | None, name: str,
               rest: str) -> ast.Statement:
    verb, what, name = verb.upper(), what.upper(), _unquote(name)
    spec = _ddl_spec(verb, what, name, rest)
    statement = f"{verb} {what} {name}"
    conditional = condition is not None
    expected = {"CREATE": "IF NOT EXISTS", "DROP": "IF EXISTS"}.get(verb)
    if condition is not None and " ".join(condition.upper().split()) != expected:
        takes = f"takes {expected}" if expected else "takes no condition"
        raise ProgrammingError(f"{statement}: {verb} {takes}, not {condition.upper()}")
    if what == "COLLECTION":
        if verb == "CREATE":
            CollectionSpec.from_json(name, spec)  # refuses a malformed one now, naming it
            return ast.CreateCollection(name, spec, conditional)
        if verb == "DROP":
            return ast.DropCollection(name, conditional)
        action = _ddl_text(spec, "action", statement)
        problem = alter_problem(action, {k: v for k, v in spec.items() if k != "action"})
        if problem:
            raise ProgrammingError(f"{statement}: {problem}")
        return ast.AlterCollection(name, action, {k: v for k, v in spec.items() if k != "action"})
    if verb == "CREATE":
        fields = spec.get("fields")
        if not isinstance(fields, list) or not fields:
            raise ProgrammingError(f"{statement}: 'fields' must be a list of index elements "
                                   f"(field names, or expressions), not {fields!r}")
        problem = next(filter(None, map(index_key_problem, fields)), None)
        if problem:
            raise ProgrammingError(f"{statement}: 'fields' must be a list of index elements: "
                                   f"{problem}")
        elements = tuple(index_key_from_json(f) for f in fields)
        if spec.get("unique"):
            plain_fields(elements)  # refuses a unique index on expressions
        return ast.CreateIndex(_ddl_text(spec, "collection", statement), name, elements,
                               bool(spec.get("unique")), conditional)
    if verb == "DROP":
        return ast.DropIndex(name, conditional)
    raise NotSupportedError(f"ALTER INDEX is not supported: {name}")


def _balanced(op: str, terms: list[ast.Expr]) -> ast.Expr:
    """``a op b op c ...`` for an associative ``op`` (AND, OR) as a balanced tree, so a long
    ``or_(*many)`` stays shallow; two or three terms keep the left-deep shape."""
    if len(terms) == 1:
        return terms[0]
    mid = (len(terms) + 1) // 2
    return ast.Binary(op, _balanced(op, terms[:mid]), _balanced(op, terms[mid:]))


def _rql_nulls(expr: ast.Expr) -> ast.Expr:
    """In RQL ``x = null`` / ``x != null`` test for null (SQL would match nothing)."""
    if isinstance(expr, ast.Binary):
        if expr.op in ("=", "!=") and isinstance(expr.right, ast.Literal) and (
            expr.right.value is None
        ):
            return ast.IsNull(expr.left, negated=expr.op == "!=")
        if expr.op in ("and", "or"):
            return ast.Binary(expr.op, _rql_nulls(expr.left), _rql_nulls(expr.right))
    if isinstance(expr, ast.Unary) and expr.op == "not":
        return ast.Unary("not", _rql_nulls(expr.operand))
    return expr


def _json_step(left: ast.Expr, step: ast.Expr, result: ast.JsonResult) -> ast.JsonPath:
    """``left -> step`` / ``left ->> step``; a ``->`` chain grows into one path."""
    if isinstance(left, ast.JsonPath) and left.result is ast.JsonResult.JSON:
        return ast.JsonPath(left.base, left.steps + (step,), result)
    return ast.JsonPath(left, (step,), result)


def _with_ctes(node: Any, ctes: dict[str, ast.SelectLike | ast.RecursiveCte]) -> Any:
    """``node`` with each table reference naming a CTE replaced by the CTE's query."""
    if not ctes:
        return node
    if isinstance(node, ast.TableRef) and node.name in ctes:
        cte = ctes[node.name]
        if isinstance(cte, ast.RecursiveCte):
            return ast.CteRef(cte, node.ref)
        return ast.SubqueryRef(cte, node.ref)
    if isinstance(node, tuple):
        return tuple(_with_ctes(n, ctes) for n in node)
    if hasattr(node, "__dataclass_fields__") and not isinstance(node, ast.CreateCollection):
        return type(node)(**{k: _with_ctes(getattr(node, k), ctes)
                             for k in node.__dataclass_fields__})
    return node


def _self_refs(node: Any, name: str, columns: tuple[str, ...]) -> Any:
    """A recursive CTE's step with its references to the CTE made :class:`ast.CteSelf`."""
    if isinstance(node, ast.TableRef) and node.name == name:
        return ast.CteSelf(name, columns, node.ref)
    if isinstance(node, tuple):
        return tuple(_self_refs(n, name, columns) for n in node)
    if hasattr(node, "__dataclass_fields__"):
        return type(node)(**{k: _self_refs(getattr(node, k), name, columns)
                             for k in node.__dataclass_fields__})
    return node


def _result_labels(select: ast.SelectLike) -> list[str | None]:
    while isinstance(select, ast.Compound):
        select = select.selects[0]
    return [c.alias or (c.expr.name if isinstance(c.expr, ast.Column) else None)
            for c in select.columns]


def _renamed(select: ast.SelectLike, names: tuple[str, ...]) -> ast.SelectLike | None:
    """The query with its result columns named ``names`` (None if it has a ``*``)."""
    if isinstance(select, ast.Compound):
        first = _renamed(select.selects[0], names)
        return None if first is None else replace(select, selects=(first, *select.selects[1:]))
    if len(names) != len(select.columns) or any(
            isinstance(c.expr, ast.Star) for c in select.columns):
        return None
    return replace(select, columns=tuple(ast.ResultColumn(c.expr, n)
                                         for c, n in zip(select.columns, names, strict=True)))


def _ordinal(term: ast.Expr, columns: tuple[ast.ResultColumn, ...], clause: str,
             as_label: bool) -> ast.Expr:
    """A term of ORDER BY or GROUP BY: an integer constant K stands for the K-th result
    column, as in SQLite (else the whole clause would order or group by a constant). ORDER BY
    names an aliased column by its alias (``as_label``); otherwise the column's expression
    is used, unless one of its names is also a result alias (labels name things in those
    clauses here, fields in SQLite) or the column comes from a ``*``: NotSupportedError."""
    if not (isinstance(term, ast.Literal) and type(term.value) is int):
        return term
    k = term.value
    if k >= 1 and any(isinstance(c.expr, ast.Star) for c in columns[:k]):
        raise NotSupportedError(f"{clause} {k} with a * in the select list is not supported "
                                "by sqla_docstore: name the column")
    if not 1 <= k <= len(columns):
        raise ProgrammingError(f"{clause} term {k} out of range - should be between 1 and "
                               f"{len(columns)}")
    col = columns[k - 1]
    aliases = [c.alias for c in columns if c.alias is not None]
    if as_label and col.alias is not None and aliases.count(col.alias) == 1:
        return ast.Column(None, col.alias)
    if any(isinstance(n, ast.Column) and n.table is None and n.name in aliases
           for n in ast.walk(col.expr)):
        raise NotSupportedError(f"{clause} {k}: its column reads a name that is also a "
                                "result alias; write the expression instead")
    return col.expr


def _ordinals(select: ast.Select) -> ast.Select:
    """``select`` with the integer constants of ORDER BY read as result column positions
    (see ``_ordinal``; GROUP BY's are read so by ``select_core``)."""
    order_by = tuple(replace(item, expr=_ordinal(item.expr, select.columns, "ORDER BY", True))
                     for item in select.order_by)
    return select if order_by == select.order_by else replace(select, order_by=order_by)


def _aggregates(expr: ast.Expr) -> bool:
    subqueries = (ast.Exists, ast.ScalarSubquery, ast.InSelect, ast.Window)
    return any(isinstance(n, ast.Func) and n.name in _AGGREGATE_NAMES
               for n in ast.walk(expr, subqueries))


_AGGREGATE_NAMES = frozenset({"count", "sum", "total", "avg", "min", "max", "group_concat",
                              "string_agg", "aggregate_strings"})


def _one_row_of(from_: tuple[ast.FromItem, ...], where: ast.Expr | None) -> ast.Select:
    return ast.Select((ast.ResultColumn(ast.Literal(1)),), from_, where, limit=ast.Literal(1))


def _update_from(stmt: ast.Update, from_: tuple[ast.FromItem, ...]) -> ast.Update:
    """``UPDATE t SET a = u.b FROM u WHERE c`` as SQLite runs it: each row of ``t`` with a
    matching row of the FROM tables takes its values from one matching row. Rewritten as
    ``SET a = (SELECT u.b FROM u WHERE c LIMIT 1) WHERE EXISTS (SELECT 1 FROM u WHERE c)``:
    every SET subquery scans the same FROM in the same order, so they read the same row."""
    others = _from_names(from_)
    assignments = tuple(
        (name, ast.ScalarSubquery(replace(_one_row_of(from_, stmt.where),
                                          columns=(ast.ResultColumn(expr),)))
         if _reads_names(expr, others) else expr)
        for name, expr in stmt.assignments)
    where = ast.Exists(_one_row_of(from_, stmt.where))
    return replace(stmt, assignments=assignments, where=where, from_=from_,
                   from_where=stmt.where)


def _from_names(items: tuple[ast.FromItem, ...]) -> frozenset[str]:
    names: set[str] = set()
    for item in items:
        for node in ast.walk(item, (ast.SubqueryRef,)):
            if isinstance(node, ast.TableRef):
                names.add(node.ref)
            elif isinstance(node, ast.SubqueryRef):
                names.add(node.alias)
    return frozenset(names)


def _reads_names(expr: ast.Expr, names: frozenset[str]) -> bool:
    """Whether ``expr`` reads a column qualified by one of ``names`` (or by nothing)."""
    return any(isinstance(n, ast.Column) and (n.table is None or n.table in names)
               for n in ast.walk(expr))


_INTEGER_TEXT = re.compile(r"^[+-]?\d+$")
#: words that end a column's type name in CREATE TABLE (its constraints begin)
_COLUMN_CONSTRAINT_WORDS = ("constraint", "primary", "not", "null", "unique", "check",
                            "default", "collate", "references", "generated", "as", "on")


_NUMBER_TEXT = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")


def _number(text: str, affinity: ColumnAffinity) -> int | float:
    """A well-formed number's value as a column of that numeric affinity stores it: an
    integer when it is one (``2.0`` is 2 but in a REAL column), else a real number."""
    if _INTEGER_TEXT.match(text.strip()) and affinity is not ColumnAffinity.REAL:
        return int(text)
    value = float(text)
    if affinity is ColumnAffinity.REAL or not value.is_integer() or abs(value) >= 2 ** 63:
        return value
    return int(value)


def _quoted_default(declared: str, text: str) -> Any:
    """``DEFAULT 'text'`` as SQLite stores it by the column's affinity: a number's text is
    the number in an INTEGER, REAL or NUMERIC column (``'5'`` is 5), any other text stays
    text (``'[1,2]'``, ``'true'``), and text stays text in a TEXT column or one without a
    type; in a column declared JSON, JSON text is its value (``'{"k": 1}'`` an object), as
    the dialect's JSON type keeps values, not their text."""
    if declared.split("(", 1)[0] == "JSON":  # the dialect's JSON: a field holds the value
        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            return text
    affinity = column_affinity(declared)
    if affinity in (ColumnAffinity.TEXT, ColumnAffinity.BLOB) or not _NUMBER_TEXT.match(text):
        return text
    return _number(text, affinity)


def _number_default(declared: str, text: str) -> Any:
    """``DEFAULT -1.5``: the number as the column's affinity stores it; in a TEXT column an
    integer's text (``+007`` is ``7``, as SQLite stores it) and a real number, which stores
    as SQLite's text of it on insert; as written in a column without a type."""
    affinity = column_affinity(declared)
    if affinity is ColumnAffinity.TEXT:
        return str(int(text)) if _INTEGER_TEXT.match(text) else float(text)
    if affinity is ColumnAffinity.BLOB:
        return int(text) if _INTEGER_TEXT.match(text) else float(text)
    return _number(text, affinity)


def _boolean_default(declared: str, word: str) -> Any:
    """``DEFAULT TRUE``: SQLite's 1 or 0 (``'1'`` in a TEXT column)."""
    value = int(word.lower() == "true")
    return str(value) if column_affinity(declared) is ColumnAffinity.TEXT else value


def _no_parameters(node: Any, where: str) -> None:
    """Refuses a parameter kept in a schema object's text: it would be bound by whatever
    statement later reads the object (SQLite refuses them too)."""
    for item in ast.walk(node):
        if isinstance(item, ast.Param):
            raise ProgrammingError(f"parameters are not allowed {where}: {item.name}")


def _named_last(item: tuple[str | None, Any]) -> tuple[bool, str]:
    """Constraints in the order the spec keeps them: unnamed first, then by name."""
    return bool(item[0]), item[0] or ""


@dataclass
class _TableParts:
    """What the definitions of CREATE TABLE declared so far (see _Parser.table_definition)."""

    fields: list[dict[str, Any]] = field(default_factory=list)
    key: list[str] = field(default_factory=list)
    unique: list[tuple[str | None, list[str]]] = field(default_factory=list)
    checks: list[tuple[str, str]] = field(default_factory=list)  # table constraints
    column_checks: list[tuple[str, str]] = field(default_factory=list)
    foreign_keys: list[dict[str, Any]] = field(default_factory=list)
    #: the column declared PRIMARY KEY AUTOINCREMENT
    autoincrement_keyword: str | None = None

    def set_key(self, columns: list[str]) -> None:
        if self.key:
            raise ProgrammingError("a table has one PRIMARY KEY (it is declared twice)")
        self.key = columns

    def spec(self, schema: str | None, temporary: bool) -> dict[str, Any]:
        """The collection spec (ValueError naming a column the definitions do not have)."""
        self._check_names()
        types = {f["name"]: f["type"] for f in self.fields}
        auto = self.key[0] if len(self.key) == 1 and types[self.key[0]] == "INTEGER" else None
        if self.autoincrement_keyword is not None and self.autoincrement_keyword != auto:
            raise ValueError("AUTOINCREMENT is only allowed on an INTEGER PRIMARY KEY")
        unique = sorted(self.unique, key=_named_last)
        foreign_keys = sorted(self.foreign_keys, key=lambda fk: _named_last((fk["name"], fk)))
        checks = sorted(self.checks, key=_named_last) + self.column_checks
        spec: dict[str, Any] = {
            "fields": self.fields, "primary_key": self.key, "autoincrement": auto,
            "unique": [columns for _, columns in unique],
            "unique_names": [name for name, _ in unique],
            "checks": [[name, sql] for name, sql in checks],
            "foreign_keys": foreign_keys,
        }
        if schema is not None:
            spec["schema"] = schema
        if temporary:
            spec["temporary"] = True
        return spec

    def _check_names(self) -> None:
        names = [f["name"] for f in self.fields]
        duplicate = next((n for i, n in enumerate(names) if n in names[:i]), None)
        if duplicate is not None:
            raise ValueError(f"duplicate column name: {duplicate}")
        used = [*self.key, *(c for _, cols in self.unique for c in cols),
                *(c for fk in self.foreign_keys for c in fk["columns"])]
        unknown = next((c for c in used if c not in names), None)
        if unknown is not None:
            raise ValueError(f"no such column: {unknown}")


class _Parser:
    def __init__(self, text: str, keep_exact: bool = False) -> None:
        self.text = text
        self.keep_exact = keep_exact
        self.tokens = tokenize(text)
        self.i = 0
        self.nesting = 0
        self.unnamed = 0  # derived tables without an alias so far

    # -- token helpers -------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, n: int = 1) -> Token:
        return self.tokens[min(self.i + n, len(self.tokens) - 1)]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def accept_kw(self, *words: str) -> bool:
        if self.tok.is_kw(*words):
            self.i += 1
            return True
        return False

    def expect_kw(self, *words: str) -> None:
        if not self.accept_kw(*words):
            self.error(f"expected {' or '.join(w.upper() for w in words)}")

    def accept_op(self, *ops: str) -> bool:
        if self.tok.kind == "op" and self.tok.value in ops:
            self.i += 1
            return True
        return False

    def expect_op(self, op: str) -> None:
        if not self.accept_op(op):
            self.error(f"expected {op!r}")

    def error(self, message: str) -> None:
        tok = self.tok
        found = tok.value or "end of statement"
        raise ProgrammingError(f"{message} near {found!r} at position {tok.pos}: {self.text!r}")

    def nest(self) -> None:
        """Enter one level of nesting; refuse a statement nested deeper than MAX_NESTING."""
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise _too_deep(self.text)

    def unsupported(self, construct: str) -> None:
        raise NotSupportedError(f"{construct} is not supported by sqla_docstore: {self.text!r}")

    def table_name(self) -> str:
        """``name`` or ``schema.name``: a schema's table is the collection ``schema.name``."""
        return self.schema_and_table()[1]

    def schema_and_table(self) -> tuple[str | None, str]:
        """(schema or None, collection name) of ``name`` or ``schema.name``."""
        name = self.ident()
        if self.tok.kind == "op" and self.tok.value == "." and self.peek().kind in (
                "name", "qname"):
            self.i += 1
            return name, qualified(name, self.ident())
        return None, name

    def ident(self) -> str:
        tok = self.tok
        if tok.kind == "qname" or (tok.kind == "name" and tok.value.lower() not in CLAUSE_WORDS):
            self.i += 1
            return tok.value
        self.error("expected a name")
        raise AssertionError  # unreachable

    # -- statements ----------------------------------------------------------------------
    def statement(self) -> ast.Statement:
        tok = self.tok
        stmt: ast.Statement
        if tok.is_kw("select") or (tok.kind == "op" and tok.value == "("):
            stmt = self.select_stmt()
        elif tok.is_kw("from"):
            stmt = self.rql_query()
        elif tok.is_kw("insert") or (tok.is_kw("replace") and self.peek().is_kw("into")):
            stmt = self.insert()
        elif tok.is_kw("update"):
            stmt = self.update()
        elif tok.is_kw("delete"):
            stmt = self.delete()
        elif tok.is_kw("savepoint", "release") or (
                tok.is_kw("rollback") and self.peek(1).is_kw("to")):
            stmt = self.savepoint()
        elif tok.is_kw("create", "drop") and self.peek().is_kw("schema"):
            self.unsupported(f"{tok.value.upper()} SCHEMA (a schema is a namespace of "
                             "collections, schema.table, that exists while it holds one; "
                             "create its tables with Table(..., schema=...))")
            raise AssertionError
        elif tok.is_kw("create") or (tok.is_kw("drop") and self.peek().is_kw("view")):
            stmt = self.create() if tok.is_kw("create") else self.drop_view()
        elif tok.is_kw("drop") and self.peek().is_kw("table"):
            self.i += 2
            if_exists = self.accept_kw("if")
            if if_exists:
                self.expect_kw("exists")
            stmt = ast.DropCollection(self.table_name(), if_exists)
        elif tok.is_kw("with"):
            stmt = self.with_statement()
        else:
            self.error("expected SELECT, FROM, INSERT, UPDATE, DELETE, SAVEPOINT, RELEASE or "
                       "ROLLBACK TO")
            raise AssertionError
        self.accept_op(";")
        if self.tok.kind != "eof":
            self.error("unexpected text after the statement")
        return stmt

    def create(self) -> ast.CreateView | ast.CreateTableAs | ast.CreateCollection | (
            ast.CreateIndex):
        """``CREATE VIEW [IF NOT EXISTS] name AS select``, ``CREATE TABLE ... AS select``,
        ``CREATE [TEMPORARY] TABLE name (column definitions)`` (a temporary table is dropped
        when the connection that created it closes)."""
        self.expect_kw("create")
        if self.tok.is_kw("unique", "index"):
            return self.create_index()
        temporary = self.accept_kw("temporary", "temp")
        for words, construct in ((("view",) if temporary else (), "CREATE TEMPORARY VIEW"),
                                 (("or",), "CREATE OR REPLACE"),
                                 (("materialized",), "MATERIALIZED VIEW")):
            if self.tok.is_kw(*words):
                self.unsupported(construct)
        if not self.tok.is_kw("view", "table"):
            what = [self.tok.value.upper()] + (["TABLE"] if self.peek().is_kw("table") else [])
            self.unsupported(" ".join(["CREATE", *(["TEMPORARY"] if temporary else []), *what]))
        view = self.advance().value.lower() == "view"
        if_not_exists = self.accept_kw("if")
        if if_not_exists:
            self.expect_kw("not")
            self.expect_kw("exists")
        schema, name = self.schema_and_table()
        if not view and self.tok.value == "(" and self.tok.kind == "op":
            return self.table_definition(name, schema, temporary, if_not_exists)
        if temporary:
            self.unsupported("CREATE TEMPORARY TABLE ... AS")
        self.expect_kw("as")
        start = self.tok.pos
        select = self.select_stmt()
        if view:
            _no_parameters(select, "in a view")  # as SQLite: a view is read without them
            text = self.text[start:self.tok.pos].strip().rstrip(";").strip()
            return ast.CreateView(name, select, text, if_not_exists, schema)
        return ast.CreateTableAs(name, select, if_not_exists, schema)

    def create_index(self) -> ast.CreateIndex:
        """``CREATE [UNIQUE] INDEX [IF NOT EXISTS] [schema.]name ON [schema.]table (element
        [ASC | DESC], ...)`` as SQLite reads it: an element is a column, or an expression kept
        as its SQL text (the store evaluates it per document, as for an Index on an expression);
        a schema's index is named ``schema.name``, in the schema of its table."""
        unique = self.accept_kw("unique")
        self.expect_kw("index")
        if_not_exists = self.accept_kw("if")
        if if_not_exists:
            self.expect_kw("not")
            self.expect_kw("exists")
        schema, name = self.schema_and_table()
        self.expect_kw("on")
        table_schema, collection = self.schema_and_table()
        if schema is not None and table_schema is not None and schema != table_schema:
            self.error(f"index {name} and its table {collection} are in different schemas")
        if schema is not None and table_schema is None:
            collection = qualified(schema, collection)
        elif table_schema is not None:
            name = qualified(table_schema, name)
        self.expect_op("(")
        elements = [self.index_element()]
        while self.accept_op(","):
            elements.append(self.index_element())
        self.expect_op(")")
        if self.tok.is_kw("where"):
            self.unsupported("a partial index (CREATE INDEX ... WHERE)")
        if unique:
            plain_fields(tuple(elements))  # refuses a unique index on expressions
        return ast.CreateIndex(collection, name, tuple(elements), unique, if_not_exists)

    def index_element(self) -> IndexKey:
        """A column of CREATE INDEX (its name), or an expression (its SQL text)."""
        start = self.tok.pos
        expr = self.expr()
        end = self.tok.pos
        if self.tok.is_kw("collate"):
            self.unsupported("COLLATE in an index element")
        desc = self.accept_kw("desc")
        if not desc:
            self.accept_kw("asc")
        if isinstance(expr, ast.Column) and expr.table is None:
            return IndexElement(field=expr.name, desc=True) if desc else expr.name
        return IndexElement(sql=self.text[start:end].strip(), desc=desc)

    def table_definition(self, name: str, schema: str | None, temporary: bool = False,
                         if_not_exists: bool = False) -> ast.CreateCollection:
        """``CREATE [TEMPORARY] TABLE [IF NOT EXISTS] [schema.]name (column-def |
        table-constraint, ...)`` as SQLite reads it, and as SQLAlchemy's DDL compiler renders
        it:

        * column-def: ``name [type] [CONSTRAINT name] constraint ...`` with ``NOT NULL``,
          ``NULL``, ``PRIMARY KEY [ASC] [AUTOINCREMENT]``, ``UNIQUE``, ``CHECK (expr)``,
          ``DEFAULT literal | (expr) | CURRENT_TIMESTAMP ...``, ``REFERENCES ...`` and
          ``[GENERATED ALWAYS] AS (expr) [STORED | VIRTUAL]``;
        * table-constraint: ``[CONSTRAINT name]`` ``PRIMARY KEY (cols)``, ``UNIQUE (cols)``,
          ``CHECK (expr)`` or ``FOREIGN KEY (cols) REFERENCES [schema.]t (cols) [ON DELETE
          action] [ON UPDATE action] [MATCH name] [[NOT] DEFERRABLE] [INITIALLY ...]``.

        An INTEGER PRIMARY KEY alone takes ids from HiLo, as SQLite's rowid alias numbers rows.
        The spec is the one the dialect's JSON form gives an equivalent Table (constraints in
        its order: unnamed first, then by name; column CHECKs last). Anything else (COLLATE,
        ON CONFLICT, table options, ...) raises NotSupportedError naming it."""
        self.expect_op("(")
        parts = _TableParts()
        while True:
            if self.tok.is_kw("constraint", "primary", "unique", "check", "foreign"):
                self.table_constraint(parts)
            else:
                self.column_definition(parts)
            if not self.accept_op(","):
                break
        if not (self.tok.kind == "op" and self.tok.value == ")"):
            self.unsupported(f"{self.words_here()} in CREATE TABLE")
        self.expect_op(")")
        if self.tok.kind == "name":
            self.unsupported(f"the table options {self.text[self.tok.pos:].strip()!r} of "
                             "CREATE TABLE")
        try:
            spec = parts.spec(schema, temporary)
        except ValueError as exc:
            raise ProgrammingError(f"CREATE TABLE {name}: {exc}") from exc
        return ast.CreateCollection(name, spec, if_not_exists)

    def words_here(self) -> str:
        """The construct at the current token, for a refusal (``ON CONFLICT``, ``COLLATE``)."""
        words = self.tok.value.upper() or "end of statement"
        return f"{words} {self.peek().value.upper()}" if self.tok.is_kw("on") else words

    def constraint_name(self) -> str | None:
        """The name of ``CONSTRAINT name ...``, or None."""
        return self.ident() if self.accept_kw("constraint") else None

    def name_list(self) -> list[str]:
        """``(name, ...)``."""
        self.expect_op("(")
        names = [self.ident()]
        while self.accept_op(","):
            names.append(self.ident())
        self.expect_op(")")
        return names

    def parenthesized_text(self) -> str:
        """``(expression)``: the expression's text as written (a CHECK, a DEFAULT, a generated
        column), parsed here so a construct the store can't evaluate is refused now."""
        self.expect_op("(")
        start = self.tok.pos
        _no_parameters(self.expr(), "in CREATE TABLE (a CHECK, DEFAULT or generated column)")
        end = self.tok.pos
        self.expect_op(")")
        return self.text[start:end].strip()

    def table_constraint(self, parts: _TableParts) -> None:
        name = self.constraint_name()
        if self.accept_kw("primary"):
            self.expect_kw("key")
            parts.set_key(self.name_list())
        elif self.accept_kw("unique"):
            parts.unique.append((name, self.name_list()))
        elif self.accept_kw("check"):
            parts.checks.append((name or "", self.parenthesized_text()))
        elif self.accept_kw("foreign"):
            self.expect_kw("key")
            columns = self.name_list()
            self.expect_kw("references")
            parts.foreign_keys.append(self.references(name, columns))
        else:
            self.unsupported(f"table constraint {self.tok.value.upper()} in CREATE TABLE")

    def column_definition(self, parts: _TableParts) -> None:
        column = self.ident()
        declared = self.type_name()
        definition: dict[str, Any] = {"name": column, "type": declared or UNTYPED,
                                      "nullable": True, "default": None}
        while not (self.tok.kind == "op" and self.tok.value in (",", ")")):
            self.column_constraint(parts, definition, self.constraint_name(), declared)
        parts.fields.append(definition)

    def type_name(self) -> str:
        """``name ... [(number [, number])]`` uppercased (``NUMERIC(10, 2)``), as the
        dialect's type compiler renders it; "" when there is none (the field is then
        ``schema.UNTYPED``: any value)."""
        words = []
        while self.tok.kind == "name" and not self.tok.is_kw(*_COLUMN_CONSTRAINT_WORDS):
            words.append(self.advance().value.upper())
        if not words:
            return ""
        type_name = " ".join(words)
        if self.accept_op("("):  # VARCHAR(30), NUMERIC(10, 2)
            sizes = [self.signed_number()]
            while self.accept_op(","):
                sizes.append(self.signed_number())
            self.expect_op(")")
            type_name += "(" + ", ".join(sizes) + ")"
        return type_name

    def signed_number(self) -> str:
        sign = "-" if self.accept_op("-") else ""
        if not sign:
            self.accept_op("+")
        if self.tok.kind != "num":
            self.error("expected a number")
        return sign + self.advance().value

    def column_constraint(self, parts: _TableParts, definition: dict[str, Any],
                          name: str | None, declared: str) -> None:
        column = definition["name"]
        if self.accept_kw("not"):
            self.expect_kw("null")
            definition["nullable"] = False
        elif self.accept_kw("null"):
            pass
        elif self.accept_kw("primary"):
            self.expect_kw("key")
            if self.tok.is_kw("desc"):
                self.unsupported("PRIMARY KEY DESC")
            self.accept_kw("asc")
            parts.set_key([column])
            if self.accept_kw("autoincrement"):
                parts.autoincrement_keyword = column
        elif self.accept_kw("unique"):
            parts.unique.append((name, [column]))
        elif self.accept_kw("check"):
            parts.column_checks.append((name or "", self.parenthesized_text()))
        elif self.accept_kw("default"):
            definition.update(self.default_value(declared))
        elif self.accept_kw("references"):
            parts.foreign_keys.append(self.references(name, [column]))
        elif self.tok.is_kw("generated", "as"):
            if self.accept_kw("generated"):
                self.expect_kw("always")
            self.expect_kw("as")
            definition["computed"] = self.parenthesized_text()
            if not self.accept_kw("stored"):
                self.accept_kw("virtual")
        else:
            self.unsupported(f"column constraint {self.words_here()} in CREATE TABLE")

    def default_value(self, declared: str) -> dict[str, Any]:
        """``DEFAULT ...``: ``{"default": constant}`` or ``{"default_sql": expression}``, the
        constant as SQLite stores it in a column declared with that type (its affinity)."""
        tok = self.tok
        if tok.kind == "op" and tok.value == "(":
            return {"default_sql": self.parenthesized_text()}
        if tok.kind == "str":
            self.i += 1
            return {"default": _quoted_default(declared, tok.value)}
        if tok.kind == "num" or (tok.kind == "op" and tok.value in "+-"
                                 and self.peek().kind == "num"):
            return {"default": _number_default(declared, self.signed_number())}
        if tok.kind != "name":
            self.error("expected a DEFAULT value")
        self.i += 1
        word = tok.value.lower()
        if word in ("current_timestamp", "current_date", "current_time"):
            return {"default_sql": tok.value}
        if self.tok.kind == "op" and self.tok.value == "(":
            self.unsupported(f"DEFAULT {tok.value}(...) without parentheses around the call "
                             "(write DEFAULT (expression))")
        if word == "null":
            return {"default": None}
        if word in ("true", "false"):
            return {"default": _boolean_default(declared, word)}
        return {"default": tok.value}  # SQLite keeps another bare word as that text

    def references(self, name: str | None, columns: list[str]) -> dict[str, Any]:
        """``REFERENCES [schema.]table (columns) [ON DELETE | ON UPDATE action] [MATCH name]
        [[NOT] DEFERRABLE] [INITIALLY DEFERRED | IMMEDIATE]`` as the spec records it (MATCH is
        read and ignored, as SQLite does)."""
        _, table = self.schema_and_table()
        if not (self.tok.kind == "op" and self.tok.value == "("):
            self.unsupported(f"REFERENCES {table} without the referred columns (name them: "
                             f"REFERENCES {table} (column, ...))")
        referred = self.name_list()
        if len(referred) != len(columns):
            self.error(f"the foreign key to {table} names {len(columns)} columns and refers to "
                       f"{len(referred)}")
        fk: dict[str, Any] = {"name": name, "columns": columns, "referred_table": table,
                              "referred_columns": referred, "ondelete": None, "onupdate": None,
                              "deferrable": None, "initially": None}
        while True:
            if self.tok.is_kw("on") and self.peek().is_kw("delete", "update"):
                self.i += 1
                which = "ondelete" if self.advance().value.lower() == "delete" else "onupdate"
                fk[which] = self.foreign_key_action()
            elif self.accept_kw("match"):
                if self.tok.kind != "name":
                    self.error("expected MATCH SIMPLE, PARTIAL or FULL")
                self.i += 1
            elif self.tok.is_kw("not") and self.peek().is_kw("deferrable"):
                self.i += 2
                fk["deferrable"] = False
            elif self.accept_kw("deferrable"):
                fk["deferrable"] = True
            elif self.accept_kw("initially"):
                if not self.tok.is_kw("deferred", "immediate"):
                    self.error("expected DEFERRED or IMMEDIATE")
                fk["initially"] = self.advance().value
            else:
                return fk

    def foreign_key_action(self) -> str:
        """``SET NULL | SET DEFAULT | CASCADE | RESTRICT | NO ACTION``, as written."""
        first = self.tok
        if self.accept_kw("set"):
            if not self.tok.is_kw("null", "default"):
                self.error("expected SET NULL or SET DEFAULT")
            return f"{first.value} {self.advance().value}"
        if self.accept_kw("no"):
            if not self.tok.is_kw("action"):
                self.error("expected NO ACTION")
            return f"{first.value} {self.advance().value}"
        if not self.accept_kw("cascade", "restrict"):
            self.error("expected CASCADE, RESTRICT, SET NULL, SET DEFAULT or NO ACTION")
        return first.value

    def drop_view(self) -> ast.DropView:
        self.expect_kw("drop")
        self.expect_kw("view")
        if_exists = self.accept_kw("if")
        if if_exists:
            self.expect_kw("exists")
        return ast.DropView(self.table_name(), if_exists)

    def recursive_cte(self, name: str, columns: tuple[str, ...],
                      select: ast.SelectLike) -> ast.RecursiveCte:
        """The CTE ``anchor UNION [ALL] step``, the step reading the CTE's own rows."""
        if not isinstance(select, ast.Compound) or select.op not in ("union", "union all") or (
                len(select.selects) != 2 or select.order_by or select.limit or select.offset):
            self.unsupported(f"WITH RECURSIVE {name} other than 'anchor UNION [ALL] step'")
            raise AssertionError
        anchor, step = select.selects
        if any(isinstance(n, ast.TableRef) and n.name == name for n in ast.walk(anchor)):
            self.unsupported(f"WITH RECURSIVE {name} whose first SELECT reads itself")
        labels = list(columns) or _result_labels(anchor)
        if any(label is None for label in labels):
            self.unsupported(f"WITH RECURSIVE {name} without column names")
        names = tuple(str(label) for label in labels)
        return ast.RecursiveCte(name, names, replace(select, selects=(
            anchor, _self_refs(step, name, names))))

    def savepoint(self) -> ast.Savepoint:
        word = self.advance().value.lower()
        if word == "savepoint":
            return ast.Savepoint(ast.SavepointAction.SAVEPOINT, self.ident())
        if word == "rollback":
            self.expect_kw("to")
            action = ast.SavepointAction.ROLLBACK_TO
        else:
            action = ast.SavepointAction.RELEASE
        self.accept_kw("savepoint")
        return ast.Savepoint(action, self.ident())

    def select_stmt(self) -> ast.SelectLike:
        self.nest()
        if self.tok.is_kw("with"):
            ctes = self.with_clause()
            stmt = _with_ctes(self._select_stmt(), ctes)
        else:
            stmt = self._select_stmt()
        self.nesting -= 1
        return stmt

    def with_statement(self) -> ast.Statement:
        """``WITH ... SELECT | INSERT | UPDATE | DELETE``: each common table expression is
        read where the statement names it, as a derived table (the same rows: a CTE that
        reads no table twice differently). A CTE that reads itself (WITH RECURSIVE) is
        refused."""
        ctes = self.with_clause()
        inner: ast.Statement
        if self.tok.is_kw("insert"):
            inner = self.insert()
        elif self.tok.is_kw("update"):
            inner = self.update()
        elif self.tok.is_kw("delete"):
            inner = self.delete()
        else:
            self.nest()
            inner = self._select_stmt()
            self.nesting -= 1
        return _with_ctes(inner, ctes)

    def with_clause(self) -> dict[str, ast.SelectLike | ast.RecursiveCte]:
        self.expect_kw("with")
        recursive = self.accept_kw("recursive")
        ctes: dict[str, ast.SelectLike | ast.RecursiveCte] = {}
        while True:
            name = self.ident()
            columns: list[str] = []
            if self.accept_op("("):
                columns.append(self.ident())
                while self.accept_op(","):
                    columns.append(self.ident())
                self.expect_op(")")
            self.expect_kw("as")
            if self.accept_kw("not"):
                self.expect_kw("materialized")
            else:
                self.accept_kw("materialized")
            self.expect_op("(")
            select = self.select_stmt()
            self.expect_op(")")
            select = _with_ctes(select, ctes)  # the CTEs before it
            if any(isinstance(n, ast.TableRef) and n.name == name for n in ast.walk(select)):
                if not recursive:
                    self.error(f"no such table: {name} (a CTE reading itself needs RECURSIVE)")
                ctes[name] = self.recursive_cte(name, tuple(columns), select)
                if not self.accept_op(","):
                    return ctes
                continue
            if columns:
                renamed = _renamed(select, tuple(columns))
                if renamed is None:
                    self.unsupported(f"WITH {name}(columns) over SELECT *")
                    raise AssertionError
                select = renamed
            ctes[name] = select
            if not self.accept_op(","):
                return ctes

    def _select_stmt(self) -> ast.SelectLike:
        first = self.select_term()
        selects: list[ast.SelectLike] = [first]
        op: str | None = None
        while self.tok.is_kw("union", "intersect", "except"):
            this = self.advance().value.lower()
            if this == "union" and self.accept_kw("all"):
                this = "union all"
            if op is not None and op != this:
                self.unsupported(f"mixing {op.upper()} and {this.upper()}")
            op = this
            selects.append(self.select_term())
        order_by = self.order_by() if self.tok.is_kw("order") else ()
        limit, offset = self.limit_offset()
        if self.tok.is_kw("for"):
            if op is not None or not isinstance(first, ast.Select):
                self.unsupported(f"FOR UPDATE with {(op or 'a compound query').upper()}")
            self.locking_clause()
            assert isinstance(first, ast.Select)
            if first.group_by or first.having is not None or first.distinct or any(
                    _aggregates(c.expr) for c in first.columns):
                self.unsupported("FOR UPDATE with GROUP BY, DISTINCT or aggregate functions")
            first = replace(first, for_update=True)
        if op is None:
            if isinstance(first, ast.Select):
                if (order_by and first.order_by) or (
                    (limit or offset) and (first.limit or first.offset)
                ):
                    self.error("ORDER BY / LIMIT given twice")
                return _ordinals(ast.Select(
                    first.columns, first.from_, first.where, first.group_by, first.having,
                    order_by or first.order_by, limit or first.limit, offset or first.offset,
                    first.distinct, first.for_update,
                ))
            return ast.Compound(first.op, first.selects, order_by or first.order_by,
                                limit or first.limit, offset or first.offset)
        return ast.Compound(op, tuple(selects), order_by, limit, offset)

    def locking_clause(self) -> None:
        """``FOR UPDATE | FOR NO KEY UPDATE | FOR SHARE | FOR KEY SHARE [OF names]
        [NOWAIT | SKIP LOCKED]``: all mean the same on a document store (no row is locked,
        the rows read are guarded; nothing waits, so NOWAIT and SKIP LOCKED change nothing)."""
        self.expect_kw("for")
        self.accept_kw("no", "key")
        self.accept_kw("key")
        self.expect_kw("update", "share")
        if self.accept_kw("of"):
            self.ident()
            while self.accept_op(",") or self.accept_op("."):
                self.ident()
        if not self.accept_kw("nowait") and self.accept_kw("skip"):
            self.expect_kw("locked")

    def select_term(self) -> ast.SelectLike:
        if self.accept_op("("):
            inner = self.select_stmt()
            self.expect_op(")")
            return inner
        return self.select_core()

    def select_core(self) -> ast.Select:
        self.expect_kw("select")
        distinct = self.accept_kw("distinct")
        if not distinct:
            self.accept_kw("all")
        columns = self.result_columns()
        from_: tuple[ast.FromItem, ...] = ()
        if self.accept_kw("from"):
            from_ = self.from_list()
        where = self.expr() if self.accept_kw("where") else None
        group_by: tuple[ast.Expr, ...] = ()
        if self.accept_kw("group"):
            self.expect_kw("by")
            group_by = self.expr_list()
        having = self.expr() if self.accept_kw("having") else None
        if self.tok.is_kw("window"):
            self.unsupported("WINDOW clauses")
        return ast.Select(columns, from_, where,
                          tuple(_ordinal(e, columns, "GROUP BY", False) for e in group_by),
                          having, distinct=distinct)

    def result_columns(self) -> tuple[ast.ResultColumn, ...]:
        cols = [self.result_column()]
        while self.accept_op(","):
            cols.append(self.result_column())
        return tuple(cols)

    def result_column(self) -> ast.ResultColumn:
        expr = self.expr()
        return ast.ResultColumn(expr, self.optional_alias())

    def optional_alias(self) -> str | None:
        """``AS name``, or a bare name that is not a clause keyword."""
        if self.accept_kw("as"):
            if self.tok.kind == "str":  # RQL: select name as 'Name'
                return self.advance().value
            return self.ident()
        if self.tok.kind == "qname" or (
            self.tok.kind == "name" and self.tok.value.lower() not in CLAUSE_WORDS
        ):
            return self.ident()
        return None

    def from_list(self) -> tuple[ast.FromItem, ...]:
        items = [self.join_chain()]
        while self.accept_op(","):
            items.append(self.join_chain())
        return tuple(items)

    def join_chain(self) -> ast.FromItem:
        left = self.from_item()
        while True:
            if self.accept_kw("join") or self.accept_kw("inner") and self._join_kw():
                kind = "inner"
            elif self.accept_kw("left"):
                self.accept_kw("outer")
                self._join_kw()
                kind = "left"
            elif self.accept_kw("cross"):
                self._join_kw()
                kind = "cross"
            elif self.tok.is_kw("right", "full"):
                kind = self.advance().value.lower()
                self.accept_kw("outer")
                self._join_kw()
            elif self.tok.is_kw("natural"):
                self.unsupported("NATURAL JOIN")
                raise AssertionError
            else:
                return left
            right = self.from_item()
            on = None
            if kind != "cross":
                if self.tok.is_kw("using"):
                    self.unsupported("JOIN ... USING")
                self.expect_kw("on")
                on = self.expr()
            left = ast.Join(left, right, kind, on)

    def _join_kw(self) -> bool:
        self.expect_kw("join")
        return True

    def from_item(self) -> ast.FromItem:
        if self.accept_op("("):
            if self.tok.is_kw("select", "with") or self.tok.value == "(":
                start, nesting = self.i, self.nesting
                select = self.select_stmt()
                if self.accept_op(")"):
                    alias = self.optional_alias()
                    if alias is None:  # SQLite's name for it (named only quoted)
                        self.unnamed += 1
                        alias = f"(subquery-{self.unnamed})"
                    return ast.SubqueryRef(select, alias)
                # "((SELECT ...) AS x JOIN y ON ...)": a join group led by a subquery
                self.i, self.nesting = start, nesting
            inner = self.join_chain()
            self.expect_op(")")
            return inner
        return ast.TableRef(self.table_name(), self.optional_alias())

    def order_by(self) -> tuple[ast.OrderItem, ...]:
        self.expect_kw("order")
        self.expect_kw("by")
        items = [self.order_item()]
        while self.accept_op(","):
            items.append(self.order_item())
        return tuple(items)

    def order_item(self) -> ast.OrderItem:
        expr = self.expr()
        if self.accept_kw("as"):  # RQL typed ordering: the store orders by the stored type
            self.ident()
        desc = False
        if self.accept_kw("desc"):
            desc = True
        else:
            self.accept_kw("asc")
        nulls = None
        if self.accept_kw("nulls"):
            nulls = "first" if self.accept_kw("first") else None
            if nulls is None:
                self.expect_kw("last")
                nulls = "last"
        return ast.OrderItem(expr, desc, nulls)

    def limit_offset(self) -> tuple[ast.Expr | None, ast.Expr | None]:
        limit = offset = None
        if self.accept_kw("limit"):
            first = self.expr()
            if self.accept_op(","):  # RQL / MySQL form: limit $skip, $take
                offset, limit = first, self.expr()
            else:
                limit = first
        if self.accept_kw("offset"):
            offset = self.expr()
        if isinstance(limit, ast.Unary) and limit.op == "-":  # LIMIT -1 means no limit
            limit = None
        if isinstance(limit, ast.Literal) and isinstance(limit.value, int) and limit.value < 0:
            limit = None
        return limit, offset

    def rql_query(self) -> ast.Select:
        self.expect_kw("from")
        if self.tok.is_kw("index"):
            self.unsupported("querying a static index (from index ...)")
        if self.tok.kind == "str":  # from 'Users', as the official RavenDB clients write it
            source: ast.FromItem = ast.TableRef(self.advance().value, self.optional_alias())
        else:
            source = self.from_item()
        where = _rql_nulls(self.expr()) if self.accept_kw("where") else None
        group_by: tuple[ast.Expr, ...] = ()
        if self.accept_kw("group"):
            self.expect_kw("by")
            group_by = self.expr_list()
        order_by = self.order_by() if self.tok.is_kw("order") else ()
        if self.tok.is_kw("load", "include"):
            self.unsupported(f"RQL {self.tok.value.lower()} clause")
        distinct = False
        columns: tuple[ast.ResultColumn, ...] = (ast.ResultColumn(ast.Star(None)),)
        if self.accept_kw("select"):
            distinct = self.accept_kw("distinct")
            columns = self.result_columns()
        limit, offset = self.limit_offset()
        return ast.Select(columns, (source,), where, group_by, None, order_by, limit, offset,
                          distinct)

    def insert(self) -> ast.Insert:
        resolution = self.insert_verb()
        stmt = self.insert_into()
        return replace(stmt, resolution=resolution) if resolution else stmt

    def insert_verb(self) -> ast.ConflictResolution | None:
        """``INSERT [OR IGNORE | OR REPLACE | OR ABORT] INTO`` or ``REPLACE INTO``: the
        conflict resolution (ABORT is an INSERT's own; FAIL and ROLLBACK are refused)."""
        if self.accept_kw("replace"):
            self.expect_kw("into")
            return ast.ConflictResolution.REPLACE
        self.expect_kw("insert")
        resolution = None
        if self.accept_kw("or"):
            word = self.tok.value.lower() if self.tok.kind == "name" else ""
            if word not in ("ignore", "replace", "abort"):
                self.unsupported(f"INSERT OR {self.tok.value.upper()}")
            self.i += 1
            resolution = None if word == "abort" else ast.ConflictResolution(word)
        self.expect_kw("into")
        return resolution

    def insert_into(self) -> ast.Insert:
        """An INSERT after ``INTO``: the table, columns, rows, upsert clauses, RETURNING."""
        table = self.table_name()
        if self.tok.is_kw("as"):
            self.unsupported("INSERT INTO table AS alias")
        columns: list[str] = []
        values: list[ast.Expr] = []
        if self.accept_kw("default"):
            self.expect_kw("values")
        else:
            if self.accept_op("("):
                columns.append(self.ident())
                while self.accept_op(","):
                    columns.append(self.ident())
                self.expect_op(")")
            if self.tok.is_kw("select") or (self.tok.value == "(" and self.tok.kind == "op"):
                select = self.select_stmt()
                upsert = self.upsert_clauses()
                return ast.Insert(table, tuple(columns), (), self.returning(), select=select,
                                  on_conflict=upsert)
            self.expect_kw("values")
            rows = [self.values_row(len(columns) or None)]
            while self.accept_op(","):
                # without a column list, the table's columns are resolved by the executor
                # (``dbapi.insert_columns``): the rows need only agree with the first
                rows.append(self.values_row(len(columns) or len(rows[0]), bool(columns)))
            values = list(rows[0])
            upsert = self.upsert_clauses()
            return ast.Insert(table, tuple(columns), tuple(values), self.returning(),
                              tuple(rows[1:]), on_conflict=upsert)
        if self.tok.is_kw("on") and self.peek().is_kw("conflict"):
            self.unsupported("ON CONFLICT with DEFAULT VALUES")  # (SQLite refuses it too)
        returning = self.returning()
        return ast.Insert(table, tuple(columns), tuple(values), returning)

    def upsert_clauses(self) -> tuple[ast.OnConflict, ...]:
        """SQLite's upsert clauses: ``ON CONFLICT [(cols) [WHERE expr]] DO NOTHING`` or
        ``DO UPDATE SET ... [WHERE expr]``, as many as given (SQLite 3.35+); only the last may
        omit its target."""
        clauses: list[ast.OnConflict] = []
        while self.tok.is_kw("on") and self.peek().is_kw("conflict"):
            if clauses and not clauses[-1].target:
                self.error("only the last ON CONFLICT clause may omit its conflict target")
            clauses.append(self.upsert_clause())
        return tuple(clauses)

    def upsert_clause(self) -> ast.OnConflict:
        self.i += 2  # ON CONFLICT
        target: list[str] = []
        target_where = None
        if self.accept_op("("):
            target.append(self.conflict_column())
            while self.accept_op(","):
                target.append(self.conflict_column())
            self.expect_op(")")
            target_where = self.expr() if self.accept_kw("where") else None
        self.expect_kw("do")
        if self.accept_kw("nothing"):
            return ast.OnConflict(tuple(target), target_where)
        self.expect_kw("update")
        self.expect_kw("set")
        if self.tok.kind == "op" and self.tok.value == "(":
            self.unsupported("a column-name list, SET (a, b) = (...), in ON CONFLICT DO UPDATE")
        assignments = [self.assignment()]
        while self.accept_op(","):
            assignments.append(self.assignment())
        where = self.expr() if self.accept_kw("where") else None
        return ast.OnConflict(tuple(target), target_where, tuple(assignments), where)

    def conflict_column(self) -> str:
        """A column of an ON CONFLICT target (a COLLATE or ASC / DESC after it is refused)."""
        name = self.ident()
        if self.tok.is_kw("collate", "asc", "desc"):
            self.unsupported(f"{self.tok.value.upper()} in an ON CONFLICT target")
        return name

    def values_row(self, width: int | None, named: bool = True) -> tuple[ast.Expr, ...]:
        """A row of VALUES of ``width`` values (None: any); ``named``: the INSERT names its
        columns (else a row of another width than the first is SQLite's error)."""
        self.expect_op("(")
        values = self.expr_list()
        self.expect_op(")")
        if width is not None and len(values) != width:
            if not named:
                raise OperationalError("all VALUES must have the same number of terms: "
                                       f"{self.text!r}")
            self.error("INSERT has a different number of columns and values")
        return values

    def update(self) -> ast.Update:
        self.expect_kw("update")
        table = self.table_name()
        alias = self.ident() if self.accept_kw("as") else None
        self.expect_kw("set")
        assignments = [self.assignment()]
        while self.accept_op(","):
            assignments.append(self.assignment())
        from_: tuple[ast.FromItem, ...] = ()
        if self.accept_kw("from"):
            from_ = self.from_list()
        where = self.expr() if self.accept_kw("where") else None
        returning = self.returning()
        if from_:
            self.refuse_unqualified("UPDATE ... FROM", (tuple(e for _, e in assignments), where,
                                                        returning))
            return _update_from(ast.Update(table, alias, tuple(assignments), where,
                                           returning), from_)
        return ast.Update(table, alias, tuple(assignments), where, returning)

    def assignment(self) -> tuple[str, ast.Expr]:
        name = self.ident()
        if self.accept_op("."):
            name = self.ident()
        self.expect_op("=")
        return name, self.expr()

    def delete(self) -> ast.Delete:
        self.expect_kw("delete")
        self.expect_kw("from")
        table = self.table_name()
        alias = self.ident() if self.accept_kw("as") else None
        using: tuple[ast.FromItem, ...] = ()
        if self.accept_kw("using"):
            using = self.from_list()
        where = self.expr() if self.accept_kw("where") else None
        returning = self.returning()
        if using:  # the rows with at least one matching row in the USING tables
            self.refuse_unqualified("DELETE ... USING", (where, returning))
            return ast.Delete(table, alias, ast.Exists(_one_row_of(using, where)), returning,
                              using, where)
        return ast.Delete(table, alias, where, returning)

    def refuse_unqualified(self, construct: str, node: Any) -> None:
        """Columns of a statement over several tables must name their table: which table an
        unqualified one belongs to takes the schema (SQLAlchemy always qualifies them)."""
        for n in ast.walk(node, (ast.Exists, ast.ScalarSubquery, ast.InSelect)):
            if isinstance(n, ast.Column) and n.table is None and (
                    n.name.lower() not in ("current_timestamp", "current_date", "current_time")):
                self.unsupported(f"unqualified column {n.name} in {construct}")

    def returning(self) -> tuple[ast.ResultColumn, ...]:
        if self.accept_kw("returning"):
            return self.result_columns()
        return ()

    # -- expressions ---------------------------------------------------------------------
    def expr_list(self) -> tuple[ast.Expr, ...]:
        items = [self.expr()]
        while self.accept_op(","):
            items.append(self.expr())
        return tuple(items)

    def expr(self) -> ast.Expr:
        self.nest()
        terms = [self.and_expr()]
        while self.accept_kw("or"):
            terms.append(self.and_expr())
        self.nesting -= 1
        return _balanced("or", terms)

    def and_expr(self) -> ast.Expr:
        terms = [self.not_expr()]
        while self.accept_kw("and"):
            terms.append(self.not_expr())
        return _balanced("and", terms)

    def not_expr(self) -> ast.Expr:
        if self.accept_kw("not"):
            self.nest()
            operand = self.not_expr()
            self.nesting -= 1
            return ast.Unary("not", operand)
        return self.predicate()

    def predicate(self) -> ast.Expr:
        """SQLite's equality level (``= != IS IN LIKE BETWEEN``) over relational terms."""
        left = self.relational()
        while True:
            tok = self.tok
            if tok.kind == "op" and tok.value in _EQUALITIES:
                self.i += 1
                left = ast.Binary(_COMPARISONS[tok.value], left, self.relational())
                continue
            if tok.is_kw("is"):
                self.i += 1
                negated = self.accept_kw("not")
                if self.accept_kw("null"):
                    left = ast.IsNull(left, negated)
                elif self.accept_kw("distinct"):
                    self.expect_kw("from")
                    left = ast.IsDistinct(left, self.relational(), negated)
                elif self.accept_kw("true", "false"):
                    value = self.tokens[self.i - 1].value.lower() == "true"
                    left = ast.IsBool(left, value, negated)
                else:
                    right = self.relational()  # SQLite's IS: null-safe equality
                    left = ast.IsDistinct(left, right, not negated)
                continue
            negated = False
            if tok.is_kw("not") and self.peek().is_kw("in", "between", "like", "ilike"):
                self.i += 1
                negated = True
            if self.accept_kw("in"):
                left = self.in_tail(left, negated)
            elif self.accept_kw("between"):
                low = self.relational()
                self.expect_kw("and")
                left = ast.Between(left, low, self.relational(), negated)
            elif self.tok.is_kw("like", "ilike"):
                ilike = self.advance().value.lower() == "ilike"
                pattern = self.relational()
                escape = self.relational() if self.accept_kw("escape") else None
                left = ast.Like(left, pattern, escape, negated, ilike)
            elif self.tok.is_kw("glob", "regexp", "match"):
                self.unsupported(self.tok.value.upper())
            else:
                return left

    def in_tail(self, left: ast.Expr, negated: bool) -> ast.Expr:
        if self.tok.kind == "param":  # RQL: in ($list) or in $list: one array parameter
            return ast.InList(left, (ast.Param(self.advance().value),), negated)
        self.expect_op("(")
        if self.tok.is_kw("select", "with"):
            select = self.select_stmt()
            self.expect_op(")")
            return ast.InSelect(left, select, negated)
        if self.accept_op(")"):
            return ast.InList(left, (), negated)
        items = self.values_rows() if self.accept_kw("values") else self.expr_list()
        self.expect_op(")")
        return ast.InList(left, items, negated)

    def values_rows(self) -> tuple[ast.Expr, ...]:
        """``IN (VALUES (a, b), (c, d))``, as SQLAlchemy's ``tuple_(...).in_()`` renders it:
        the rows of the list (a one-value row is its value)."""
        rows: list[ast.Expr] = []
        while True:
            self.expect_op("(")
            items = self.expr_list()
            self.expect_op(")")
            rows.append(items[0] if len(items) == 1 else ast.TupleExpr(items))
            if not self.accept_op(","):
                return tuple(rows)

    def relational(self) -> ast.Expr:
        """``< <= > >=``, binding tighter than ``=`` as in SQLite (``a = b < c`` is
        ``a = (b < c)``)."""
        left = self.bitwise()
        while self.tok.kind == "op" and self.tok.value in _ORDERINGS:
            op = self.advance().value
            left = ast.Binary(op, left, self.bitwise())
        return left

    def bitwise(self) -> ast.Expr:
        """``& | << >>``, one level, left to right, as in SQLite."""
        left = self.additive()
        while self.tok.kind == "op" and self.tok.value in _BITWISE:
            op = self.advance().value
            left = ast.Binary(op, left, self.additive())
        return left

    def additive(self) -> ast.Expr:
        left = self.multiplicative()
        while self.tok.kind == "op" and self.tok.value in ("+", "-"):
            op = self.advance().value
            left = ast.Binary(op, left, self.multiplicative())
        return left

    def multiplicative(self) -> ast.Expr:
        left = self.concat()
        while self.tok.kind == "op" and self.tok.value in ("*", "/", "%"):
            op = self.advance().value
            left = ast.Binary(op, left, self.concat())
        return left

    def concat(self) -> ast.Expr:
        left = self.unary()
        while self.tok.kind == "op" and self.tok.value in ("||", "->", "->>"):
            op = self.advance().value
            if op == "||":
                left = ast.Binary("||", left, self.unary())
            else:
                left = _json_step(left, self.unary(), ast.JsonResult(op))
        if self.tok.is_kw("collate"):
            self.unsupported("COLLATE")
        return left

    def unary(self) -> ast.Expr:
        if self.tok.kind == "op" and self.tok.value == "~":
            self.i += 1
            self.nest()
            operand = self.unary()
            self.nesting -= 1
            return ast.Unary("~", operand)
        if self.tok.kind == "op" and self.tok.value in ("-", "+"):
            self.nest()
            operand = self._signed()
            self.nesting -= 1
            return operand
        return self.primary()

    def _signed(self) -> ast.Expr:
        if self.accept_op("-"):
            operand = self.unary()
            if isinstance(operand, ast.Literal) and isinstance(operand.value, (int, float)):
                return ast.Literal(-operand.value)
            return ast.Unary("-", operand)
        self.expect_op("+")
        return self.unary()

    def primary(self) -> ast.Expr:
        tok = self.tok
        if tok.kind == "num":
            self.i += 1
            text = tok.value
            is_float = any(c in text for c in ".eE")
            return ast.Literal(float(text) if is_float else int(text))
        if tok.kind == "str":
            self.i += 1
            return ast.Literal(tok.value)
        if tok.kind == "param":
            self.i += 1
            return ast.Param(tok.value)
        if tok.kind == "op":
            return self.primary_op(tok)
        if tok.kind == "name":
            word = tok.value.lower()
            if word == "null":
                self.i += 1
                return ast.Literal(None)
            if word in ("true", "false"):
                self.i += 1
                return ast.Literal(word == "true")
            if word == "case":
                return self.case()
            if word == "cast":
                return self.cast()
            if word == "exists" and self.peek().value == "(" and (
                self.peek(2).is_kw("select", "with") or self.peek(2).value == "("
            ):
                self.i += 2
                select = self.select_stmt()
                self.expect_op(")")
                return ast.Exists(select)
        return self.name_or_call()

    def primary_op(self, tok: Token) -> ast.Expr:
        if tok.value == "*":
            self.i += 1
            return ast.Star(None)
        if tok.value == "(":
            self.i += 1
            if self.tok.is_kw("select", "with"):
                select = self.select_stmt()
                self.expect_op(")")
                return ast.ScalarSubquery(select)
            items = self.expr_list()
            self.expect_op(")")
            return items[0] if len(items) == 1 else ast.TupleExpr(items)
        self.error("expected an expression")
        raise AssertionError

    def name_or_call(self) -> ast.Expr:
        name = self.ident()
        if self.accept_op("("):
            return self.call(name)
        if self.accept_op("."):
            if self.accept_op("*"):
                return ast.Star(name)
            second = self.ident()
            if self.accept_op("."):  # schema.table.column
                table = qualified(name, second)
                return ast.Star(table) if self.accept_op("*") else ast.Column(table,
                                                                                self.ident())
            return ast.Column(name, second)
        return ast.Column(None, name)

    def call(self, name: str) -> ast.Expr:
        fname = name.lower()
        func = self.call_args(fname)
        if self.accept_kw("filter"):
            self.expect_op("(")
            self.expect_kw("where")
            func = replace(func, filter=self.expr())
            self.expect_op(")")
        if self.accept_kw("over"):
            return self.window(func)
        if fname == "exact" and len(func.args) == 1 and not self.keep_exact:
            # RQL: equality is already case-sensitive here
            return func.args[0]
        return func

    def window(self, func: ast.Func) -> ast.Window:
        """``OVER ([PARTITION BY ...] [ORDER BY ...] [ROWS|RANGE|GROUPS frame])``."""
        if not self.accept_op("("):
            self.unsupported("OVER a named window")
        partition: tuple[ast.Expr, ...] = ()
        if self.accept_kw("partition"):
            self.expect_kw("by")
            partition = self.expr_list()
        order = self.order_by() if self.tok.is_kw("order") else ()
        unit = start = end = None
        if self.tok.is_kw("rows", "range", "groups"):
            unit = self.advance().value.upper()
            if self.accept_kw("between"):
                start = self.frame_bound()
                self.expect_kw("and")
                end = self.frame_bound()
            else:
                start = self.frame_bound()
            if self.tok.is_kw("exclude"):
                self.unsupported("EXCLUDE in a window frame")
        self.expect_op(")")
        return ast.Window(func, partition, order, unit, start, end)

    def frame_bound(self) -> ast.FrameBound:
        kinds = ast.FrameBoundKind
        if self.accept_kw("unbounded"):
            if self.accept_kw("preceding"):
                return ast.FrameBound(kinds.UNBOUNDED_PRECEDING)
            self.expect_kw("following")
            return ast.FrameBound(kinds.UNBOUNDED_FOLLOWING)
        if self.accept_kw("current"):
            self.expect_kw("row")
            return ast.FrameBound(kinds.CURRENT_ROW)
        offset = self.additive()
        if self.accept_kw("preceding"):
            return ast.FrameBound(kinds.PRECEDING, offset)
        self.expect_kw("following")
        return ast.FrameBound(kinds.FOLLOWING, offset)

    def call_args(self, fname: str) -> ast.Func:
        if self.accept_op(")"):
            return ast.Func(fname, ())
        if self.accept_op("*"):
            self.expect_op(")")
            return ast.Func(fname, (), star=True)
        distinct = self.accept_kw("distinct")
        args = self.expr_list()
        self.expect_op(")")
        return ast.Func(fname, args, distinct)

    def case(self) -> ast.Expr:
        self.expect_kw("case")
        base = None if self.tok.is_kw("when") else self.expr()
        whens = []
        while self.accept_kw("when"):
            cond = self.expr()
            self.expect_kw("then")
            whens.append((cond, self.expr()))
        else_ = self.expr() if self.accept_kw("else") else None
        self.expect_kw("end")
        if not whens:
            self.error("CASE without WHEN")
        return ast.Case(base, tuple(whens), else_)

    def cast(self) -> ast.Expr:
        self.expect_kw("cast")
        self.expect_op("(")
        expr = self.expr()
        self.expect_kw("as")
        type_name = self.ident().upper()
        while self.tok.kind == "name" and self.tok.value.lower() not in CLAUSE_WORDS:
            type_name += " " + self.advance().value.upper()  # DOUBLE PRECISION
        if self.accept_op("("):  # VARCHAR(30), NUMERIC(10, 2): length is not enforced
            self.expr_list()
            self.expect_op(")")
        self.expect_op(")")
        return ast.Cast(expr, type_name)
