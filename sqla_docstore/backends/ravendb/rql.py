"""Statement trees to RQL, for what RavenDB can answer exactly as SQL would (pure planning).

RavenDB's meaning differs from SQL's at the edges, and the client must assume RavenDB's:

- a missing field is not ``null``: ``x = null`` matches only documents holding null;
- ``x != v`` and ``not P`` match every document ``x = v`` / ``P`` does not match, including
  those where ``x`` is null or missing (SQL's three-valued logic leaves those out);
- strings compare case-insensitively (``exact()`` turns that off) and order by its collation;
- numbers are compared as 64-bit longs or doubles, so a value beyond 2**53, or a decimal with
  more digits than a double keeps, is compared approximately.

So each predicate is translated twice: the RQL matching the rows where SQL says TRUE, and the
RQL matching those where SQL says FALSE (``not P`` is TRUE where ``P`` is FALSE; ``x != v``
is FALSE-of-``x = v``: present, not null, and not equal). ``_EXACTNESS`` declares, per field
kind and operator, whether RavenDB's answer is exactly SQL's or only a superset of it; values
are checked at run time (a null, a number beyond 2**53 or a value of another type is not sent).
A whole query goes to the server only when its translation is exact; otherwise the documents
are fetched with a superset filter and the statement runs on the client.

A field may hold values of the other kind than its comparisons: a text (or a blob, stored as
base64 text) in an INTEGER, REAL or NUMERIC column, which SQL keeps where it does not look like
a number, is greater than every number in SQL; a number in a date column (NUMERIC affinity in
SQL) is less than every text. RavenDB's numeric ranges never match a string, nor its string
ranges a number. So the fields a write has put such a value into (``mixed``, recorded on the
server with the write: see connection.py) are compared differently: ``n > v`` is sent as
``present and not n <= v`` (``n >= v`` as ``... not n < v``; for a date ``d < v`` as ``...
not d >= v``), which keeps those values, and the FALSE set of ``n > v`` is the range
``n <= v``, which leaves them out; such a field is not ordered by on the server. Other fields
keep the plain ranges.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ...schema import CollectionSpec
from ...statements import ast
from ...statements.parser import CLAUSE_WORDS


class Kind(enum.Enum):
    """How RavenDB indexes and compares a declared field's values."""

    INTEGER = "integer"
    FLOAT = "float"
    DECIMAL = "decimal"  # exact decimals in the document; RavenDB compares them as doubles
    BOOLEAN = "boolean"
    TEXT = "text"  # exact() comparisons only: RavenDB ignores case otherwise
    DATE = "date"  # fixed-width ISO text, naive values only


class Exactness(enum.Enum):
    EXACT = "exact"  # RavenDB matches exactly the documents SQL's predicate is TRUE for
    SUPERSET = "superset"  # at least those (a pushdown filter; the client checks each row)


_KINDS = {
    "INTEGER": Kind.INTEGER, "BIGINT": Kind.INTEGER, "SMALLINT": Kind.INTEGER,
    "FLOAT": Kind.FLOAT, "REAL": Kind.FLOAT, "DOUBLE": Kind.FLOAT,
    "DOUBLE PRECISION": Kind.FLOAT, "NUMERIC": Kind.DECIMAL, "DECIMAL": Kind.DECIMAL,
    "BOOLEAN": Kind.BOOLEAN, "DATETIME": Kind.DATE, "TIMESTAMP": Kind.DATE, "DATE": Kind.DATE,
    "TIME": Kind.DATE, "VARCHAR": Kind.TEXT, "CHAR": Kind.TEXT, "TEXT": Kind.TEXT,
    "NVARCHAR": Kind.TEXT, "NCHAR": Kind.TEXT, "CLOB": Kind.TEXT, "STRING": Kind.TEXT,
    "UUID": Kind.TEXT, "ENUM": Kind.TEXT,
}
_ORDER_OPS = ("=", "<", "<=", ">", ">=")
_E, _S = Exactness.EXACT, Exactness.SUPERSET
#: ``field <op> value`` per field kind; absent = not sent. ``!=`` is the FALSE set of ``=``.
#: Decimals: a stored value with more digits than a double rounds onto its neighbours, so
#: ``=`` and the non-strict form of ``<``/``>`` find a superset (rounding keeps order).
_EXACTNESS: dict[Kind, dict[str, Exactness]] = {
    Kind.INTEGER: dict.fromkeys(_ORDER_OPS, _E),
    Kind.FLOAT: dict.fromkeys(_ORDER_OPS, _E),
    Kind.DECIMAL: dict.fromkeys(_ORDER_OPS, _S),
    Kind.DATE: dict.fromkeys(_ORDER_OPS, _E),
    # A flag may hold a number (raw SQL's 1 or 0 is stored as given) that SQL reads as TRUE or
    # FALSE and ``flag = true`` misses: only the rows surely not asked for are left out
    Kind.BOOLEAN: {"=": _S},
    Kind.TEXT: {"=": _E},
}
_NON_STRICT = {"<": "<=", ">": ">="}
#: On a field holding values of the other kind (see the module docstring): the operators whose
#: TRUE set holds those values, each with its complement range, left out (``not``) for the TRUE
#: set and sent as the FALSE set. Strings are above numbers, numbers below date texts.
_ABOVE_NUMBERS = {">": "<=", ">=": "<"}
_ABOVE_NUMBERS_KINDS = (Kind.INTEGER, Kind.FLOAT, Kind.DECIMAL)
_OTHER_SIDE: dict[Kind, dict[str, str]] = {
    Kind.INTEGER: _ABOVE_NUMBERS, Kind.FLOAT: _ABOVE_NUMBERS, Kind.DECIMAL: _ABOVE_NUMBERS,
    Kind.DATE: {"<": ">=", "<=": ">"},
}
_SAFE_INT = 2**53  # every integer below is a double too: long and double compare alike
_COMPARE = {"=", "!=", "<", "<=", ">", ">="}
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}
# RQL words a bare field name must not be (such fields are filtered on the client instead).
_KEYWORDS = {"from", "where", "and", "or", "not", "in", "between", "order", "by", "select",
             "as", "limit", "offset", "group", "load", "include", "update", "with", "declare",
             "function", "asc", "desc", "true", "false", "null", "exists", "distinct", "index",
             "all", "when", "then", "else", "case", "match", "filter", "filter_limit",
             "timeseries", "explanations", "highlight", "facet"} | {
    # and the SQL clause words (left, join, on, having...), which a parser of both languages
    # (the bundled server's) reads as keywords: such a field is filtered on the client
    word.lower() for word in CLAUSE_WORDS}
_MISSING = object()


@dataclass
class RqlQuery:
    text: str
    #: RQL parameter -> ("param", statement param name) or ("literal", value)
    binds: dict[str, tuple[str, Any]] = field(default_factory=dict)


def _base_type(spec: CollectionSpec, name: str) -> str | None:
    for f in spec.fields:
        if f.name == name:
            return f.base_type
    return None


def _short_number(value: Any) -> bool:
    """A number RavenDB's longs and doubles hold exactly (and in order with any other)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -_SAFE_INT < value < _SAFE_INT
    if isinstance(value, float):
        return math.isfinite(value) and -_SAFE_INT < value < _SAFE_INT
    if isinstance(value, decimal.Decimal):
        return (value.is_finite() and len(value.normalize().as_tuple().digits) <= 15
                and -_SAFE_INT < value < _SAFE_INT)
    return False


def _naive_time(value: Any) -> bool:
    return isinstance(value, (dt.date, dt.time)) and getattr(value, "tzinfo", None) is None


_ACCEPTS: dict[Kind, Callable[[Any], bool]] = {
    Kind.INTEGER: _short_number,
    Kind.FLOAT: _short_number,
    Kind.DECIMAL: _short_number,
    Kind.BOOLEAN: lambda v: isinstance(v, bool),
    Kind.TEXT: lambda v: isinstance(v, str),
    Kind.DATE: _naive_time,
}


class _Translator:
    """RQL for the TRUE set (``truth``) and the FALSE set (``falsity``) of SQL predicates over
    one collection; None where RavenDB can't give it (with the exactness asked for)."""

    def __init__(self, spec: CollectionSpec, ref: str, params: dict[str, Any],
                 mixed: frozenset[str] = frozenset()) -> None:
        self.spec = spec
        self.ref = ref
        self.params = params
        self.mixed = mixed  # fields holding values of the other kind (module docstring)
        self.binds: dict[str, tuple[str, Any]] = {}

    def bind(self, kind: str, value: Any) -> str:
        name = f"p{len(self.binds)}"
        self.binds[name] = (kind, value)
        return "$" + name

    def value(self, e: ast.Expr) -> str | None:
        """A limit/offset value (sent as given)."""
        if isinstance(e, ast.Param):
            return self.bind("param", e.name)
        if isinstance(e, ast.Literal) and e.value is not None:
            return self.bind("literal", e.value)
        return None

    def operand(self, e: ast.Expr, kind: Kind) -> str | None:
        """A compared value, if RavenDB compares it with this kind of field as SQL does."""
        if isinstance(e, ast.Param):
            current = self.params.get(e.name, _MISSING)
            if current is _MISSING or not _ACCEPTS[kind](current):
                return None
            return self.bind("param", e.name)
        if isinstance(e, ast.Literal) and _ACCEPTS[kind](e.value):
            return self.bind("literal", e.value)
        return None

    def field(self, e: ast.Expr) -> tuple[str, Kind | None] | None:
        """(RQL path, kind) of a declared field of this collection (kind None: not compared)."""
        if not isinstance(e, ast.Column) or e.table not in (None, self.ref):
            return None
        stored = _base_type(self.spec, e.name)
        if stored is None or not (e.name.isascii() and e.name.isidentifier()) or (
                e.name.lower() in _KEYWORDS):
            return None
        kind = _KINDS.get(stored)
        if self.spec.primary_key == (e.name,) and self.spec.autoincrement is None and (
            kind is Kind.TEXT
        ):
            return None  # a string key may live only in the document id
        return e.name, kind

    # -- the two sets ------------------------------------------------------------------------
    def truth(self, e: ast.Expr, mode: Exactness) -> str | None:
        if isinstance(e, ast.Binary) and e.op in ("and", "or"):
            left, right = self.truth(e.left, mode), self.truth(e.right, mode)
            if e.op == "and" and mode is _S and (left is None or right is None):
                return left or right  # one side alone still finds every TRUE row
            return None if left is None or right is None else f"({left} {e.op} {right})"
        if isinstance(e, ast.Unary) and e.op == "not":
            return self.falsity(e.operand, mode)
        if isinstance(e, ast.IsNull):
            return self._null(e.expr, not e.negated)
        if isinstance(e, ast.Binary) and e.op in _COMPARE:
            return self._compare(e, mode, want=True)
        if isinstance(e, ast.InList) and not e.negated:
            return self._in(e, mode)
        if isinstance(e, ast.InList):
            return self.falsity(ast.InList(e.expr, e.items), mode)
        if isinstance(e, ast.IsDistinct):
            return self._distinct(e, mode, want=True)
        if isinstance(e, ast.IsBool):
            return self._distinct(_is_bool(e), mode, want=True)
        if isinstance(e, ast.Column):  # WHERE flag
            return self._compare(ast.Binary("=", e, ast.Literal(True)), mode, want=True)
        return None

    def falsity(self, e: ast.Expr, mode: Exactness) -> str | None:
        if isinstance(e, ast.Binary) and e.op in ("and", "or"):
            left, right = self.falsity(e.left, mode), self.falsity(e.right, mode)
            if e.op == "or" and mode is _S and (left is None or right is None):
                return left or right  # FALSE needs both sides FALSE
            joiner = "or" if e.op == "and" else "and"
            return None if left is None or right is None else f"({left} {joiner} {right})"
        if isinstance(e, ast.Unary) and e.op == "not":
            return self.truth(e.operand, mode)
        if isinstance(e, ast.IsNull):
            return self._null(e.expr, e.negated)
        if isinstance(e, ast.Binary) and e.op in _COMPARE:
            return self._compare(e, mode, want=False)
        if isinstance(e, ast.InList) and not e.negated:
            return self._negate(e.expr, self._in(e, _E), mode)
        if isinstance(e, ast.InList):
            return self.truth(ast.InList(e.expr, e.items), mode)
        if isinstance(e, ast.IsDistinct):
            return self._distinct(e, mode, want=False)
        if isinstance(e, ast.IsBool):
            return self._distinct(_is_bool(e), mode, want=False)
        if isinstance(e, ast.Column):
            return self._compare(ast.Binary("=", e, ast.Literal(False)), mode, want=True)
        return None

    # -- predicates --------------------------------------------------------------------------
    def _null(self, e: ast.Expr, is_null: bool) -> str | None:
        """``IS NULL`` (a missing field is null in SQL) or ``IS NOT NULL``: never unknown."""
        target = self.field(e)
        if target is None:
            return None
        path = target[0]
        if path in self.spec.json_fields:  # null there is JSON null, a value: SQL NULL is absence
            return f"(true and not exists({path}))" if is_null else f"exists({path})"
        if is_null:
            return f"({path} = null or (true and not exists({path})))"
        return f"(exists({path}) and {path} != null)"

    def _negate(self, e: ast.Expr, exact_truth: str | None, mode: Exactness) -> str | None:
        """The FALSE set of a predicate on field ``e`` that is NULL exactly when ``e`` is:
        present, not null, and not TRUE (needs the exact TRUE set)."""
        target = self.field(e)
        if target is None:
            return None
        present = self._null(e, False)
        if exact_truth is not None:
            return f"({present} and (true and not {exact_truth}))"
        return present if mode is _S else None

    def _compare(self, e: ast.Binary, mode: Exactness, want: bool) -> str | None:
        left, right, op = e.left, e.right, e.op
        if isinstance(left, (ast.Param, ast.Literal)):
            left, right, op = right, left, _FLIP.get(op, op)
        if op == "!=":  # TRUE where ``=`` is FALSE and the other way round
            eq = ast.Binary("=", left, right)
            return self._compare(eq, mode, not want)
        if want:
            return self._truth_of(left, op, right, mode)
        complement = self._complement(left, op)
        if complement is not None:  # (the values of the other kind are in the TRUE set)
            return self._truth_of(left, complement, right, mode)
        return self._negate(left, self._truth_of(left, op, right, _E), mode)

    def _complement(self, e: ast.Expr, op: str) -> str | None:
        """The complement range of ``e <op> v`` on a field holding values of the other kind
        whose TRUE set those values are in (None: any other case)."""
        target = self.field(e)
        if target is None or target[1] is None or target[0] not in self.mixed:
            return None
        return _OTHER_SIDE.get(target[1], {}).get(op)

    def _truth_of(self, left: ast.Expr, op: str, right: ast.Expr,
                  mode: Exactness) -> str | None:
        target = self.field(left)
        if target is None or target[1] is None:
            return None
        path, kind = target[0], target[1]
        exactness = _EXACTNESS[kind].get(op)
        if exactness is None or (exactness is _S and mode is _E):
            return None
        if kind is Kind.BOOLEAN:  # not the other boolean (a number stays in)
            flag = _boolean_operand(right, self.params)
            if flag is None:
                return None
            return f"(true and not {path} = {self.bind('literal', not flag)})"
        value = self.operand(right, kind)
        if value is None:
            return None
        if exactness is _S:
            op = _NON_STRICT.get(op, op)
        complement = _OTHER_SIDE.get(kind, {}).get(op) if path in self.mixed else None
        if complement is not None:  # keeps the values of the other kind
            present = self._null(left, False)
            return f"({present} and (true and not {path} {complement} {value}))"
        text = f"{path} {op} {value}"
        return f"exact({text})" if kind is Kind.TEXT else text

    def _in(self, e: ast.InList, mode: Exactness) -> str | None:
        target = self.field(e.expr)
        if target is None or target[1] is None or not e.items:
            return None
        path, kind = target[0], target[1]
        exactness = _EXACTNESS[kind].get("=")
        if exactness is None or (exactness is _S and mode is _E):
            return None
        items = [self.operand(i, kind) for i in e.items]
        if any(i is None for i in items):
            return None
        text = f"{path} in ({', '.join(items)})"  # type: ignore[arg-type]
        return f"exact({text})" if kind is Kind.TEXT else text

    def _distinct(self, e: ast.IsDistinct, mode: Exactness, want: bool) -> str | None:
        """``IS [NOT] DISTINCT FROM``: never unknown; the two sets are complements."""
        left, right = e.left, e.right
        if isinstance(left, (ast.Param, ast.Literal)):
            left, right = right, left
        if isinstance(right, ast.Literal) and right.value is None:
            return self._null(left, want == e.negated)
        equal = self._truth_of(left, "=", right, _E)
        if equal is None:
            return None
        same = want == e.negated  # the set asked for is where the two are equal
        return equal if same else f"(true and not {equal})"


def _boolean_operand(e: ast.Expr, params: dict[str, Any]) -> bool | None:
    """The boolean a parameter or literal holds, or None for any other operand."""
    value = params.get(e.name, _MISSING) if isinstance(e, ast.Param) else (
        e.value if isinstance(e, ast.Literal) else None)
    return value if isinstance(value, bool) else None


def _is_bool(e: ast.IsBool) -> ast.IsDistinct:
    """``x IS [NOT] TRUE`` as ``x IS [NOT] DISTINCT FROM true`` (on a boolean field)."""
    return ast.IsDistinct(e.expr, ast.Literal(e.value), negated=not e.negated)


def translate(
    stmt: ast.SelectLike, spec_of: Callable[[str], CollectionSpec], params: dict[str, Any],
    mixed_of: Callable[[str], frozenset[str]] = lambda name: frozenset(),
) -> tuple[RqlQuery, list[tuple[str, str]], bool] | None:
    """(RQL, [(label, field)], is_count) for a single-collection query RavenDB answers exactly
    (with these parameter values); ``mixed_of`` names a collection's fields holding values of
    the other kind (see the module docstring)."""
    if not isinstance(stmt, ast.Select) or len(stmt.from_) != 1 or stmt.distinct:
        return None
    source = stmt.from_[0]
    if not isinstance(source, ast.TableRef) or stmt.group_by or stmt.having:
        return None
    spec = spec_of(source.name)
    tr = _Translator(spec, source.ref, params, mixed_of(spec.name))
    projection = _projection(stmt, spec, source.ref)
    is_count = projection is None and _is_count(stmt)
    if projection is None and not is_count:
        return None
    text = f"from {quote_collection(source.name)}"
    if stmt.where is not None:
        where = tr.truth(stmt.where, Exactness.EXACT)
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
        if path in tr.mixed:
            return None  # SQL orders numbers before texts; RavenDB's typed order has no place

        if kind in (Kind.INTEGER, Kind.BOOLEAN):
            typed = f"{path} as long"
        elif kind is Kind.FLOAT:
            typed = f"{path} as double"
        elif kind is Kind.DATE:
            typed = path
        else:
            # RavenDB orders strings case-insensitively, SQL by code point; decimals with
            # more digits than a double would tie where SQL orders them.
            return None
        parts.append(typed + (" desc" if item.desc else ""))
    return ", ".join(parts)


def quote_collection(name: str) -> str:
    """A collection name as an RQL string literal: single-quoted, with RavenDB's backslash
    escapes for backslashes and quotes."""
    return "'" + name.replace("\\", "\\\\").replace("'", "\\'") + "'"


def pushdown(where: ast.Expr | None, spec: CollectionSpec, ref: str,
             params: dict[str, Any], mixed: frozenset[str] = frozenset()) -> RqlQuery:
    """RQL fetching a superset of the documents of one collection a statement can need:
    what of ``where`` RavenDB can filter without losing a row, or the whole collection
    (``mixed``: its fields holding values of the other kind)."""
    tr = _Translator(spec, ref, params, mixed)
    found = None if where is None else tr.truth(where, Exactness.SUPERSET)
    text = f"from {quote_collection(spec.name)}"
    if found is not None:
        text += " where " + found
    return RqlQuery(text, tr.binds)



class OtherKind(NamedTuple):
    """The fields whose comparisons miss values of the other kind (see the module
    docstring): numeric ones, where that is a string, and date ones, where it is a number."""

    numeric: frozenset[str]
    dates: frozenset[str]


#: the types of a stored number (a JSON boolean is 1 or 0 to SQL)
NUMBER_TYPES = frozenset({int, float, decimal.Decimal, bool})


def other_kind_fields(spec: CollectionSpec) -> OtherKind:
    kinds = {f.name: _KINDS.get(f.base_type) for f in spec.fields}
    return OtherKind(frozenset(n for n, k in kinds.items() if k in _ABOVE_NUMBERS_KINDS),
                     frozenset(n for n, k in kinds.items() if k is Kind.DATE))
