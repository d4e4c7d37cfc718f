"""Statement trees to RQL, for what RavenDB can answer exactly as SQL would (pure planning).

RavenDB compares strings case-insensitively and orders them by its own collation, and a
missing field is not ``null``; so only predicates whose RQL meaning equals the SQL meaning
are pushed to the server: ``exact()`` string equality and ``IN``, numeric and date
comparisons, ``IS [NOT] NULL`` written to cover missing fields, orders on non-null numeric,
date or key fields. Everything else is evaluated on the client.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...schema import CollectionSpec
from ...statements import ast

_NUMERIC = {"INTEGER", "BIGINT", "SMALLINT", "FLOAT", "REAL", "DOUBLE", "DOUBLE PRECISION",
            "NUMERIC", "DECIMAL", "BOOLEAN"}
_ORDERED_TEXT = {"DATETIME", "TIMESTAMP", "DATE", "TIME"}  # fixed-width ISO text: digits only
_TEXT = {"VARCHAR", "CHAR", "TEXT", "NVARCHAR", "NCHAR", "CLOB", "STRING", "UUID", "ENUM"}
_COMPARE = {"=", "!=", "<", "<=", ">", ">="}
# RQL words a bare field name must not be (such fields are filtered on the client instead).
_KEYWORDS = {"from", "where", "and", "or", "not", "in", "between", "order", "by", "select",
             "as", "limit", "offset", "group", "load", "include", "update", "with", "declare",
             "function", "asc", "desc", "true", "false", "null", "exists", "distinct", "index",
             "all", "when", "then", "else", "case", "match", "filter", "filter_limit",
             "timeseries", "explanations", "highlight", "facet"}


@dataclass
class RqlQuery:
    text: str
    #: RQL parameter -> ("param", statement param name) or ("literal", value)
    binds: dict[str, tuple[str, Any]] = field(default_factory=dict)


def _base_type(spec: CollectionSpec, name: str) -> str | None:
    for f in spec.fields:
        if f.name == name:
            return f.type.split("(")[0].strip()
    return None


class _Translator:
    def __init__(self, spec: CollectionSpec, ref: str) -> None:
        self.spec = spec
        self.ref = ref
        self.binds: dict[str, tuple[str, Any]] = {}

    def bind(self, kind: str, value: Any) -> str:
        name = f"p{len(self.binds)}"
        self.binds[name] = (kind, value)
        return "$" + name

    def value(self, e: ast.Expr) -> str | None:
        if isinstance(e, ast.Param):
            return self.bind("param", e.name)
        if isinstance(e, ast.Literal) and e.value is not None:
            return self.bind("literal", e.value)
        return None

    def field(self, e: ast.Expr) -> tuple[str, str] | None:
        """(RQL path, stored type) of a field of this collection."""
        if not isinstance(e, ast.Column) or e.table not in (None, self.ref):
            return None
        kind = _base_type(self.spec, e.name)
        if kind is None or not e.name.isidentifier() or e.name.lower() in _KEYWORDS:
            return None
        if self.spec.primary_key == (e.name,) and self.spec.autoincrement is None and (
            kind in _TEXT
        ):
            return None  # a string key may live only in the document id
        return e.name, kind

    def where(self, e: ast.Expr) -> str | None:
        if isinstance(e, ast.Binary) and e.op in ("and", "or"):
            left, right = self.where(e.left), self.where(e.right)
            if left is None or right is None:
                return None
            return f"({left} {e.op} {right})"
        if isinstance(e, ast.Unary) and e.op == "not":
            inner = self.where(e.operand)
            return None if inner is None else f"(true and not {inner})"
        if isinstance(e, ast.Binary) and e.op in _COMPARE:
            return self.compare(e)
        if isinstance(e, ast.IsNull):
            target = self.field(e.expr)
            if target is None:
                return None
            path = target[0]
            if e.negated:
                return f"(exists({path}) and {path} != null)"
            return f"({path} = null or (true and not exists({path})))"
        if isinstance(e, ast.InList) and not e.negated:
            target = self.field(e.expr)
            if target is None or not e.items or not (
                target[1] in _NUMERIC or target[1] in _TEXT or target[1] in _ORDERED_TEXT
            ):
                return None
            items = [self.value(i) for i in e.items]
            if any(i is None for i in items):
                return None
            op = f"{target[0]} in ({', '.join(items)})"  # type: ignore[arg-type]
            return f"exact({op})" if target[1] not in _NUMERIC else op
        return None

    def compare(self, e: ast.Binary) -> str | None:
        left, right, op = e.left, e.right, e.op
        if isinstance(left, (ast.Param, ast.Literal)):
            left, right = right, left
            op = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(op, op)
        target = self.field(left)
        value = self.value(right) if target is not None else None
        if target is None or value is None:
            return None
        path, kind = target
        if kind in _NUMERIC or kind in _ORDERED_TEXT:
            return f"{path} {op} {value}"
        if kind in _TEXT and op in ("=", "!="):
            return f"exact({path} {op} {value})"
        return None


def translate(
    stmt: ast.SelectLike, spec_of: Callable[[str], CollectionSpec]
) -> tuple[RqlQuery, list[tuple[str, str]], bool] | None:
    """(RQL, [(label, field)], is_count) for a single-collection query RavenDB answers exactly."""
    if not isinstance(stmt, ast.Select) or len(stmt.from_) != 1 or stmt.distinct:
        return None
    source = stmt.from_[0]
    if not isinstance(source, ast.TableRef) or stmt.group_by or stmt.having:
        return None
    spec = spec_of(source.name)
    tr = _Translator(spec, source.ref)
    projection = _projection(stmt, spec, source.ref)
    is_count = projection is None and _is_count(stmt)
    if projection is None and not is_count:
        return None
    text = f"from {quote_collection(source.name)}"
    if stmt.where is not None:
        where = tr.where(stmt.where)
        if where is None:
            return None
        text += f" where {where}"
    if stmt.order_by and not is_count:
        order = _order(tr, stmt.order_by)
        if order is None:
            return None
        text += f" order by {order}"
    if is_count:
        if stmt.limit is not None or stmt.offset is not None:
            return None
        text += f" limit {tr.bind('literal', 0)}, {tr.bind('literal', 0)}"
    elif stmt.limit is not None or stmt.offset is not None:
        skip = tr.value(stmt.offset) if stmt.offset is not None else tr.bind("literal", 0)
        take = tr.value(stmt.limit) if stmt.limit is not None else tr.bind("literal", None)
        if skip is None or take is None:
            return None
        text += f" limit {skip}, {take}"
    return RqlQuery(text, tr.binds), projection or [], is_count


def _projection(stmt: ast.Select, spec: CollectionSpec, ref: str) -> list[tuple[str, str]] | None:
    out: list[tuple[str, str]] = []
    for col in stmt.columns:
        e = col.expr
        if isinstance(e, ast.Star) and e.table in (None, ref) and spec.fields:
            out += [(n, n) for n in spec.field_names]
        elif isinstance(e, ast.Column) and e.table in (None, ref) and e.name in spec.field_names:
            out.append((col.alias or e.name, e.name))
        else:
            return None
    return out


def _is_count(stmt: ast.Select) -> bool:
    if len(stmt.columns) != 1:
        return False
    e = stmt.columns[0].expr
    return isinstance(e, ast.Func) and e.name == "count" and e.star and not e.distinct


def _order(tr: _Translator, items: tuple[ast.OrderItem, ...]) -> str | None:
    parts = []
    for item in items:
        target = tr.field(item.expr)
        if target is None:
            return None
        path, kind = target
        nullable = next((f.nullable for f in tr.spec.fields if f.name == path), True)
        if nullable and path not in tr.spec.primary_key:
            return None  # RavenDB's place for null/missing values differs from SQL's
        if kind in ("INTEGER", "BIGINT", "SMALLINT", "BOOLEAN"):
            typed = f"{path} as long"
        elif kind in _NUMERIC:
            typed = f"{path} as double"
        elif kind in _ORDERED_TEXT:
            typed = path
        else:
            return None  # RavenDB orders strings case-insensitively, SQL by code point
        parts.append(typed + (" desc" if item.desc else ""))
    return ", ".join(parts)


def quote_collection(name: str) -> str:
    """A collection name in RQL: single-quoted, or double-quoted when it holds a quote."""
    if "'" in name and '"' not in name:
        return '"' + name + '"'
    return "'" + name.replace("'", "''") + "'"


def pushdown(where: ast.Expr | None, spec: CollectionSpec, ref: str) -> RqlQuery:
    """RQL fetching a superset of the documents of one collection a statement can need:
    the conjuncts of ``where`` RavenDB answers exactly, or the whole collection."""
    tr = _Translator(spec, ref)
    conjuncts: list[ast.Expr] = []
    _split_and(where, conjuncts)
    parts = [p for p in (tr.where(c) for c in conjuncts) if p is not None]
    text = f"from {quote_collection(spec.name)}"
    if parts:
        text += " where " + " and ".join(parts)
    return RqlQuery(text, tr.binds)


def _split_and(e: ast.Expr | None, out: list[ast.Expr]) -> None:
    if e is None:
        return
    if isinstance(e, ast.Binary) and e.op == "and":
        _split_and(e.left, out)
        _split_and(e.right, out)
    else:
        out.append(e)
