"""RQL evaluated with RavenDB's meaning, over the documents themselves (not through SQL).

The store only hands over the documents of a collection; matching, ordering, projecting and
grouping happen here, as RavenDB's auto indexes answer them:

- strings compare and order ignoring case (beyond ASCII too) unless wrapped in ``exact()``;
- a comparison sees only values of its own kind: numbers with numbers (as longs, or doubles),
  strings with strings, booleans with booleans; a string "12" is not greater than 1000;
- ``=``, ``in``, ranges, ``startsWith`` and ``endsWith`` on an array field match when any
  element does; ``x = null`` matches a stored null, not a missing field;
- ``!=`` and ``not`` match every document the positive form does not (missing or null too);
- on the left of a comparison a quoted name (``'order' = $p``) is a field;
- ``from '@all_docs'`` reads every collection, an unknown collection has no documents;
- ``order by random('seed')`` shuffles the same way for the same seed;
- ``select key(), count(), sum(x)`` with ``group by``: the key is named after its field,
  ``count()`` is ``Count`` and ``sum(x)`` is ``x``;
- paths: ``a.b`` reads a nested object, ``lines[].product`` the product of every element of
  ``lines`` (a path through an array without ``[]`` answers 501); ``x all in (...)`` matches
  when the array holds every value (ignoring case).

What it does not implement answers 501 naming the construct.
"""

from __future__ import annotations

import decimal
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ... import values
from ...statements import ast
from . import errors
from .database import StoredDoc

ALL_DOCS = "@all_docs"
#: what query.py rewrites ``x all in (a, b)`` to before parsing (the parser has no ``all in``)
ALL_IN = "__rql_all_in"
ARRAY = "[]"
MISSING: Any = object()
_NUMBER = (int, float, decimal.Decimal)
_ORDER_OPS = {"<": lambda c: c < 0, "<=": lambda c: c <= 0, ">": lambda c: c > 0,
              ">=": lambda c: c >= 0}
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "!=": "!="}
#: RQL functions of features the server does not have (static indexes, full-text search...).
_UNIMPLEMENTED = {"search", "regex", "lucene", "boost", "fuzzy", "proximity", "intersect",
                  "spatial.within", "within", "contains", "morelikethis", "score",
                  "highlight", "facet", "counter", "counters", "cmpxchg", "load", "include",
                  "timeseries", "distance", "spatial.point", "spatial.circle"}


def unsupported(what: str) -> errors.RavenError:
    return errors.not_supported(f"{what} is not supported by the sqla_docstore server")


@dataclass(frozen=True)
class Doc:
    row: StoredDoc  # (collection, id, body, cv, modified, meta)
    body: dict[str, Any]

    @property
    def id(self) -> str:
        return self.row[1]


def is_number(value: Any) -> bool:
    return isinstance(value, _NUMBER) and not isinstance(value, bool)


#: Python's lower() differs from .NET's per-character ToLowerInvariant (simple case mapping)
#: in two places: 'İ' lowers to two characters, and a final 'Σ' to 'ς'. Mapping those first
#: leaves lower() one character for one.
_SIMPLE_LOWER = str.maketrans({"\u0130": "i", "\u03a3": "\u03c3"})


def fold(text: str) -> str:
    """RavenDB's case-insensitive form of a string: .NET's ToLowerInvariant, one character
    for one (RavenDB's indexes lower-case terms so)."""
    if text.isascii():
        return text.lower()
    return text.translate(_SIMPLE_LOWER).lower()


def _number_cmp(a: Any, b: Any) -> int:
    if isinstance(a, int) and isinstance(b, int):
        return (a > b) - (a < b)
    x, y = float(a), float(b)  # RavenDB compares other numbers as doubles
    return (x > y) - (x < y)


def compare(a: Any, b: Any, exact: bool) -> int | None:
    """-1/0/1 for two values of the same kind, None for values RavenDB does not compare."""
    if is_number(a) and is_number(b):
        return _number_cmp(a, b)
    if isinstance(a, str) and isinstance(b, str):
        x, y = (a, b) if exact else (fold(a), fold(b))
        return (x > y) - (x < y)
    if isinstance(a, bool) and isinstance(b, bool):
        return (a > b) - (a < b)
    return None


def _elements(value: Any) -> list[Any]:
    """An array field matches when any element does (nested arrays flattened)."""
    if isinstance(value, list):
        out: list[Any] = []
        for item in value:
            out.extend(_elements(item))
        return out
    return [value]


def equals(stored: Any, wanted: Any, exact: bool) -> bool:
    if stored is MISSING:
        return False
    if wanted is None:  # = null: a stored null (also as an array element)
        return any(v is None for v in _elements(stored))
    return any(compare(v, wanted, exact) == 0 for v in _elements(stored))


# -- paths ------------------------------------------------------------------------------------

def path_segments(e: ast.Column, refs: set[str] | frozenset[str]) -> tuple[str, ...]:
    """``u.address.city`` -> (address, city) (the source alias dropped); ``lines[].product``
    -> (lines, [], product) (query.py quotes paths holding ``[]`` as one identifier)."""
    out: list[str] = []
    for part in [*(e.table.split(".") if e.table else []), e.name]:
        for piece in part.split(".") if ARRAY in part else [part]:
            out.extend([piece[:-2], ARRAY] if piece.endswith(ARRAY) else [piece])
    if len(out) > 1 and out[0] in refs:
        out = out[1:]
    return tuple(out)


def path_text(segments: tuple[str, ...]) -> str:
    return ".".join(segments).replace("." + ARRAY, ARRAY)


def resolve(value: Any, segments: tuple[str, ...]) -> Any:
    """The value at ``segments`` (MISSING when absent); after ``[]`` the list of what each
    element holds there (None for an element without it, as an index stores null)."""
    for i, segment in enumerate(segments):
        if segment == ARRAY:
            if not isinstance(value, list):
                return MISSING
            rest = segments[i + 1:]
            found = [resolve(item, rest) for item in value]
            return [None if v is MISSING else v for v in found]
        if isinstance(value, dict):
            value = value.get(segment, MISSING)
        elif isinstance(value, list):
            raise unsupported(f"The path {path_text(segments)} through an array without "
                              "'[]'")
        else:
            return MISSING
    return value


# -- expressions ------------------------------------------------------------------------------

class Evaluator:
    """Evaluates one query's expressions over documents; ``refs`` name the source."""

    def __init__(self, refs: set[str], params: dict[str, Any]) -> None:
        self.refs = refs
        self.params = params

    def value(self, e: ast.Expr) -> Any:
        if isinstance(e, ast.Param):
            if e.name not in self.params:
                raise errors.invalid_query(f"Query parameter ${e.name} was not given a value")
            return self.params[e.name]
        if isinstance(e, ast.Literal):
            return e.value
        if isinstance(e, ast.Unary) and e.op == "-" and isinstance(e.operand, ast.Literal) \
                and is_number(e.operand.value):
            return -e.operand.value
        raise unsupported(f"The value {show(e)} in a comparison")

    def field(self, e: ast.Expr, doc: Doc) -> Any:
        """A field's value in ``doc`` (MISSING when absent)."""
        if isinstance(e, ast.Func) and e.name == "id" and not e.args:
            return doc.id
        if isinstance(e, ast.Literal) and isinstance(e.value, str):
            return doc.body.get(e.value, MISSING)  # a quoted field name
        if isinstance(e, ast.Column):
            segments = path_segments(e, self.refs)
            if segments[0] == "@metadata":
                return resolve(values.loads(doc.row[5] or "{}"), segments[1:])
            return resolve(doc.body, segments)
        raise unsupported(f"{show(e)} as a field")

    def is_field(self, e: ast.Expr) -> bool:
        return isinstance(e, ast.Column) or (
            isinstance(e, ast.Func) and e.name == "id" and not e.args)

    # -- where --------------------------------------------------------------------------------
    def matches(self, e: ast.Expr, doc: Doc, exact: bool = False) -> bool:
        if isinstance(e, ast.Binary) and e.op == "and":
            return self.matches(e.left, doc, exact) and self.matches(e.right, doc, exact)
        if isinstance(e, ast.Binary) and e.op == "or":
            return self.matches(e.left, doc, exact) or self.matches(e.right, doc, exact)
        if isinstance(e, ast.Unary) and e.op == "not":
            return not self.matches(e.operand, doc, exact)
        if isinstance(e, ast.Literal) and isinstance(e.value, bool):
            return e.value  # ``true and not ...``
        if isinstance(e, ast.Func):
            return self._function(e, doc, exact)
        if isinstance(e, ast.Binary) and e.op in _FLIP:
            return self._comparison(e, doc, exact)
        if isinstance(e, ast.InList):
            found = self._in(e, doc, exact)
            return not found if e.negated else found
        if isinstance(e, ast.Between):
            stored = self.field(e.expr, doc)
            low, high = self.value(e.low), self.value(e.high)
            found = stored is not MISSING and any(
                _in_order(compare(v, low, exact), ">=") and _in_order(compare(v, high, exact),
                                                                      "<=")
                for v in _elements(stored))
            return not found if e.negated else found
        if isinstance(e, ast.IsNull):  # SQL spelling of ``= null``
            found = equals(self.field(e.expr, doc), None, exact)
            return not found if e.negated else found
        raise unsupported(f"The RQL condition {show(e)}")

    def _comparison(self, e: ast.Binary, doc: Doc, exact: bool) -> bool:
        left, right, op = e.left, e.right, e.op
        if isinstance(left, ast.Param) or (
                isinstance(left, ast.Literal) and self.is_field(right)):
            left, right, op = right, left, _FLIP[op]
        if self.is_field(right):
            raise unsupported("Comparing two fields")
        stored, wanted = self.field(left, doc), self.value(right)
        if op == "=":
            return equals(stored, wanted, exact)
        if op == "!=":
            return not equals(stored, wanted, exact)
        if stored is MISSING or wanted is None:
            return False
        return any(_in_order(compare(v, wanted, exact), op) for v in _elements(stored))

    def _in(self, e: ast.InList, doc: Doc, exact: bool) -> bool:
        stored = self.field(e.expr, doc)
        wanted: list[Any] = []
        for item in e.items:
            value = self.value(item)
            wanted.extend(value if isinstance(value, list) else [value])
        return any(equals(stored, w, exact) for w in wanted)

    def _all_in(self, e: ast.Func, doc: Doc, exact: bool) -> bool:
        """``x all in (a, b)``: x (an array, or one value) holds every listed value."""
        stored = self.field(e.args[0], doc)
        wanted: list[Any] = []
        for item in e.args[1:]:
            value = self.value(item)
            wanted.extend(value if isinstance(value, list) else [value])
        if not wanted:
            raise unsupported("'all in' with no values")
        return all(equals(stored, w, exact) for w in wanted)

    def _function(self, e: ast.Func, doc: Doc, exact: bool) -> bool:
        name = e.name
        if name == "exact" and len(e.args) == 1:
            return self.matches(e.args[0], doc, True)
        if name == ALL_IN and len(e.args) >= 2:
            return self._all_in(e, doc, exact)
        if name == "exists" and len(e.args) == 1:
            return self.field(e.args[0], doc) is not MISSING
        if name in ("startswith", "endswith") and len(e.args) == 2:
            stored, part = self.field(e.args[0], doc), self.value(e.args[1])
            if stored is MISSING or not isinstance(part, str):
                return False
            test = str.startswith if name == "startswith" else str.endswith
            return any(isinstance(v, str) and (test(v, part) if exact else
                                               test(fold(v), fold(part)))
                       for v in _elements(stored))
        raise unsupported(f"RQL {name}()")

    # -- projections ------------------------------------------------------------------------------
    def projected(self, e: ast.Expr, doc: Doc) -> Any:
        if isinstance(e, ast.Literal) and not isinstance(e.value, str):
            return e.value
        value = self.field(e, doc)
        return None if value is MISSING else value


def _in_order(cmp: int | None, op: str) -> bool:
    return cmp is not None and _ORDER_OPS[op](cmp)


def show(e: ast.Expr) -> str:
    if isinstance(e, ast.Column):
        return e.name if e.table is None else f"{e.table}.{e.name}"
    if isinstance(e, ast.Func) and e.name == ALL_IN:
        return "all in"
    if isinstance(e, ast.Func):
        return f"{e.name}()"
    return type(e).__name__


def check_functions(node: Any) -> None:
    """501 for functions of features the server does not have, anywhere in ``node``."""
    for item in ast.walk(node):
        if isinstance(item, ast.Func) and item.name in _UNIMPLEMENTED:
            raise unsupported(f"RQL {item.name}()")


# -- ordering -------------------------------------------------------------------------------

def sort_key(value: Any) -> tuple[Any, ...]:
    """Missing and null first, then booleans, numbers, strings (ignoring case), the rest."""
    if value is MISSING or value is None:
        return (0,)
    if isinstance(value, bool):
        return (1, value)
    if is_number(value):
        return (2, value if isinstance(value, int) else float(value))
    if isinstance(value, str):
        return (3, fold(value), value)
    return (4, values.dumps(value))


def typed_sort_key(value: Any, as_type: str | None) -> tuple[Any, ...]:
    """``order by x as long|double|string|alphanumeric``: long and double order the numbers
    (other values first, as missing), string orders text (numbers by their text) and
    alphanumeric orders digit runs by their value."""
    if as_type is None:
        return sort_key(value)
    if as_type in ("long", "double"):
        if not is_number(value):
            return sort_key(MISSING)
        return sort_key(int(value) if as_type == "long" else float(value))
    text = value if isinstance(value, str) else values.dumps(value) if is_number(value) else None
    if text is None:
        return sort_key(MISSING)
    if as_type == "string":
        return sort_key(text)
    chunks = tuple((0, int(part), "") if part.isdigit() else (1, 0, part)
                   for part in re.findall(r"\d+|\D+", fold(text)))
    return (3, chunks)


def order(items: list[Any], keys: Iterable[tuple[Callable[[Any], tuple[Any, ...]], bool]]
          ) -> list[Any]:
    """Stable sort by several keys (applied last to first); ``(sort key, desc)`` pairs."""
    out = list(items)
    for key, desc in reversed(list(keys)):
        out.sort(key=key, reverse=desc)
    return out


def shuffled(items: list[Any], seed: Any) -> list[Any]:
    out = list(items)
    random.Random(values.dumps(seed) if seed is not None else None).shuffle(out)
    return out
