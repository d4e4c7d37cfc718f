"""SQLite's column affinity applied to a value written to a column or compared with one (no
SQLAlchemy here).

SQLite converts a value written to a declared column by the column's affinity ("Datatypes In
SQLite", section 3: ``'5'`` in an INTEGER column is 5, ``2.0`` is 2, ``5`` in a TEXT column
is ``'5'``), and a value with no affinity (a bound parameter, a literal) by the affinity of
the column it is compared with (section 4.2: ``id = '2'`` with an INTEGER ``id`` compares
2, ``code = 2`` with a TEXT ``code`` compares ``'2'``). The DB-API's writes (``WRITTEN``)
and comparisons (``dbapi.compared``) use these rules; the dialect binds values as given, as
SQLAlchemy's SQLite dialect does. Values of no SQLite type (Decimal, dates, bytes) are left
as given, and so are integers a double does not hold exactly in a REAL column (the exact
numbers the store keeps).
"""

from __future__ import annotations

import decimal
import json
import re
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from .schema import CollectionSpec, ColumnAffinity, ValueAffinity, column_affinity
from .values import JSON_NULL, JsonNull, column_types


def sqlite_text(value: int | float) -> str:
    """The text SQLite's TEXT affinity makes of a number (``2.0`` is ``'2.0'``, ``1e300``
    ``'1.0e+300'``)."""
    if isinstance(value, int):
        return str(value)
    text = f"{value + 0.0:.15g}"  # + 0.0: -0.0 is '0.0', as SQLite writes it
    mantissa, e, exponent = text.partition("e")
    if "." not in mantissa and mantissa.lstrip("-").isdigit():
        mantissa += ".0"
    return mantissa + (e + exponent if e else "")


#: SQLite's numeric literals (sqlite3AtoF): no hex, no underscores, its own white space,
#: ASCII digits only (re.ASCII: the Arabic-Indic digit '\u0663' is no 3 to SQLite)
NUMBER_TEXT = re.compile(r"[ \t\n\v\f\r]*[+-]?(?:(\d+)|\d+\.\d*(?:[eE][+-]?\d+)?|"
                         r"\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)[ \t\n\v\f\r]*", re.ASCII)
_INT64 = 2**63
_EXACT_FLOAT = 2**53
_SPACE = " \t\n\v\f\r"


def numeric_text(text: str) -> int | float | None:
    """The number SQLite's INTEGER or NUMERIC affinity makes of ``text``: an integer if it is
    one (within 64 bits) or a real literal without a fraction, else a float; None: no number."""
    m = NUMBER_TEXT.fullmatch(text)
    if m is None:
        return None
    if m.group(1) is not None:
        whole = int(text)
        return whole if -_INT64 <= whole < _INT64 else float(whole)
    return integral_float(float(text))


def integral_float(value: float) -> int | float:
    """A real as SQLite's INTEGER and NUMERIC affinities store it: an integer if it is one
    strictly within 64 bits (sqlite3VdbeIntegerAffinity: -2**63 stays real), else itself."""
    return int(value) if value.is_integer() and -_INT64 < value < _INT64 else value


def exact_numeric_text(text: str) -> int | float | decimal.Decimal | None:
    """``numeric_text`` for a NUMERIC / DECIMAL column, which keeps a number's digits: a real
    whose shortest text is not the number written (more digits than a double holds) is the
    Decimal of the text, as the store keeps Decimals (None: no number). That holds for a
    real a double makes integral too (``'12345678901234567.891'``, SQLite's integer
    12345678901234568): an integer is returned only when it is the number written."""
    number = numeric_text(text)
    if number is None:
        return None
    exact = decimal.Decimal(text.strip(_SPACE))
    if type(number) is int and number == exact:
        return number
    real = float(number)
    if real - real == 0.0 and decimal.Decimal(repr(real)) != exact:
        return exact
    return number


def integer_affinity(value: Any) -> Any:
    """``value`` as SQLite's INTEGER affinity converts it (``"7"`` and ``7.0`` are 7)."""
    kind = type(value)
    if kind is int or value is None:
        return value
    if kind is bool:
        return int(value)
    if kind is str:
        number = numeric_text(value)
        return value if number is None else number
    if kind is float and value.is_integer() and -_INT64 <= value < _INT64:
        return int(value)
    return value


def text_affinity(value: Any) -> Any:
    """``value`` as SQLite's TEXT affinity converts it (``7`` is ``'7'``, ``2.0`` ``'2.0'``)."""
    kind = type(value)
    if kind is str or value is None:
        return value
    if kind is bool:
        return "1" if value else "0"
    if kind is int or kind is float:
        return sqlite_text(value)
    return value


# ------------------------------------------------------------------ values written


def stored_numeric(value: Any) -> Any:
    """``value`` written to an INTEGER or NUMERIC column, as SQLite stores it (``'5'`` and
    ``5.0`` are 5, ``'2.5'`` 2.5, ``True`` 1, ``'abc'`` stays text)."""
    kind = type(value)
    if kind is str:
        number = numeric_text(value)
        return value if number is None else number
    if kind is float:
        return integral_float(value)
    if kind is bool:
        return int(value)
    return value


def stored_boolean(value: Any) -> Any:
    """``stored_numeric`` for a BOOLEAN column (NUMERIC affinity), which keeps booleans."""
    return value if type(value) is bool else stored_numeric(value)


def stored_decimal(value: Any) -> Any:
    """``stored_numeric`` for a NUMERIC / DECIMAL column (``exact_numeric_text``)."""
    if type(value) is str:
        number = exact_numeric_text(value)
        return value if number is None else number
    return stored_numeric(value)


def stored_real(value: Any) -> Any:
    """``value`` written to a REAL column, as SQLite stores it (``7`` and ``'7'`` are 7.0);
    an integer a double does not hold exactly (``2**53 + 1``) stays exact."""
    kind = type(value)
    if kind is float:
        return value + 0.0  # (-0.0 is 0.0: SQLite stores a real that is an integer so)
    if kind is str:
        number = numeric_text(value)
        return value if number is None else float(number)
    if kind is int:
        if -_EXACT_FLOAT <= value <= _EXACT_FLOAT:
            return float(value)
        return _exact_float(value)
    if kind is bool:
        return float(value)
    return value


def _exact_float(value: int) -> int | float:
    """The float equal to a wide integer (2**62 is one), else the integer, exact."""
    try:
        real = float(value)
    except OverflowError:
        return value
    return real if int(real) == value else value


def stored_blob(value: Any) -> Any:
    """A boolean written to (or compared with) a BLOB column: sqlite3's 1 or 0 (SQLite has no
    booleans); anything else as given."""
    return int(value) if type(value) is bool else value


# --------------------------------------------------------------- values compared


def compared_numeric(value: Any) -> Any:
    """A value (of no affinity) compared with an INTEGER, REAL or NUMERIC column: SQLite's
    NUMERIC affinity applied to it (``'3'`` is 3, ``'2.5'`` 2.5, ``True`` 1): as stored, but
    a real stays a real (2.0 compares equal to 2 as it is)."""
    return value if type(value) is float else stored_numeric(value)


def compared_boolean(value: Any) -> Any:
    """``compared_numeric`` for a BOOLEAN column (booleans kept)."""
    return value if type(value) is bool else compared_numeric(value)


def compared_decimal(value: Any) -> Any:
    """``compared_numeric`` for a NUMERIC / DECIMAL column (``exact_numeric_text``)."""
    return stored_decimal(value) if type(value) is str else compared_numeric(value)


def compared_json(value: Any) -> Any:
    """A value (of no affinity) compared with a whole JSON column, which SQLite holds as
    ``sqlite_json`` of its value: NUMERIC affinity (``'5'`` is 5, ``True`` 1); an object or
    array as SQLAlchemy's SQLite dialect binds a JSON-typed one (json.dumps' text), JSON null
    the text ``'null'``."""
    kind = type(value)
    if kind is dict or kind is list:
        return json.dumps(value)
    if kind is str or kind is bool:
        return compared_numeric(value)
    return "null" if value is JSON_NULL else value


#: the store's SQL function giving a JSON field's value in SQL as SQLite holds it
#: (``docstore_json(json_text)``; backends.embedded.sqlgen)
SQL_JSON = "docstore_json"


def sqlite_json(text: str | None, serializer: int | None = None) -> Any:
    """``docstore_json(json_text[, serializer])``: the SQL value SQLite's JSON column holds
    for the JSON value of ``text`` (NULL: SQL NULL): SQLAlchemy's serializer's text (json.dumps
    unless ``serializer`` names one: ``json_serializer_id``; json.dumps writes ``'"x"'``,
    ``'{"a": 1}'``, ``'null'``, non-ASCII escaped) under the column's NUMERIC affinity (a
    number's text is the number: ``1.0`` is 1, an integer beyond 64 bits a real)."""
    if text is None:
        return None
    value = _json_loads(text)
    if serializer is not None:
        return stored_numeric(_SERIALIZERS[serializer](value))
    kind = type(value)
    if kind is float:  # (its text, repr, reads as itself)
        return integral_float(value)
    if kind is int:
        return value if -_INT64 <= value < _INT64 else float(value)
    return _JSON_WORDS[value] if kind is bool or value is None else _json_dumps(value)


_json_loads = json.JSONDecoder().decode
_json_dumps = json.JSONEncoder().encode  # (json.dumps' text: its default settings)
_JSON_WORDS = {True: "true", False: "false", None: "null"}


#: the JSON serializers connections were given (``json_serializer_id``), by number
_SERIALIZERS: dict[int, Callable[[Any], str]] = {}
_SERIALIZER_IDS: dict[Callable[[Any], str], int] = {}


def json_serializer_id(serializer: Callable[[Any], str] | None) -> int | None:
    """The number ``docstore_json`` knows ``serializer`` by (None: json.dumps). Serializers
    are kept for the process's life (an engine's one, given to each of its connections)."""
    if serializer is None or serializer is json.dumps:
        return None
    found = _SERIALIZER_IDS.get(serializer)
    if found is None:
        found = _SERIALIZER_IDS[serializer] = len(_SERIALIZERS) + 1
        _SERIALIZERS[found] = serializer
    return found


#: the store's SQL function giving a JSON-typed expression's value as JSON text, as
#: SQLAlchemy's SQLite dialect reads it back (``docstore_json_text(value)``)
SQL_JSON_TEXT = "docstore_json_text"


def sqlite_json_text(value: Any) -> Any:
    """``docstore_json_text(value)``: a value computed from a JSON column as the JSON text
    SQLAlchemy's SQLite dialect deserializes (a text as it is, a number as its text)."""
    if type(value) is float:
        return repr(value)
    return str(value) if type(value) is int else value


#: the store's SQL function giving the JSON value a JSON column holds of a value SQL
#: computed for it (``docstore_json_stored(value)``: UPDATE ... SET j = expr)
SQL_JSON_STORED = "docstore_json_stored"


def sqlite_json_stored(value: Any) -> Any:
    """``docstore_json_stored(value)``: the value SQLite's JSON column holds of a value SQL
    computed (NUMERIC affinity: ``'5'`` is 5), as the JSON text SQLAlchemy's SQLite dialect
    reads it as (``'[1, 2]'`` is that array); a text that is no JSON, which SQLite's dialect
    fails to read, is kept as a JSON string. Numbers and NULL are given back as they are."""
    value = stored_numeric(value) if type(value) is str else value
    if type(value) is not str:
        return value
    try:
        json.loads(value, parse_constant=_no_constant)
    except ValueError:
        return json.dumps(value)
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(name)  # (NaN and infinities: no JSON a document holds)


#: the store's SQL function applying an affinity to a compared value of no affinity, or of
#: TEXT affinity facing a numeric one (``docstore_affinity(value, kind)``; dbapi.compared)
SQL_COMPARED = "docstore_affinity"


def sql_compared(value: Any, kind: str) -> Any:
    """``docstore_affinity(value, 'numeric' | 'text')``: SQLite's NUMERIC or TEXT affinity
    applied to a value SQL compares with a column of that affinity."""
    return compared_numeric(value) if kind == "numeric" else text_affinity(value)


class Conversion(NamedTuple):
    """What an affinity makes of a value: ``apply`` changes values of the types ``acts_on``
    only (others are returned as given)."""

    name: str
    acts_on: frozenset[type]
    apply: Callable[[Any], Any]
    #: ``apply`` also makes a float -0.0 0.0 (a REAL column: tested with ``0.0 in values``)
    zero: bool = False

    def column(self, values: Sequence[Any],
               types: Callable[[Sequence[Any]], frozenset[type]] = column_types,
               ) -> Sequence[Any]:
        """``apply`` of each of ``values`` (``values`` itself when none is of a type acted
        on, nor a zero where ``zero``: C passes; ``types``: ``values.column_types`` or a
        ``ColumnTypes``)."""
        if self.acts_on.isdisjoint(types(values)) and not (self.zero and 0.0 in values):
            return values
        return list(map(self.apply, values))


_NUMERIC_KINDS = frozenset({str, float, bool})
_NUMERIC = Conversion("numeric", _NUMERIC_KINDS, stored_numeric)
_TEXT = Conversion("text", frozenset({int, float, bool}), text_affinity)
#: what a column of each affinity stores of a value written to it (none: as given)
WRITTEN: dict[ValueAffinity, Conversion] = {
    ValueAffinity.INTEGER: _NUMERIC,
    ValueAffinity.NUMERIC: _NUMERIC,
    ValueAffinity.DECIMAL: Conversion("decimal", _NUMERIC_KINDS, stored_decimal),
    ValueAffinity.BOOLEAN: Conversion("boolean", frozenset({str, float}), stored_boolean),
    ValueAffinity.REAL: Conversion("real", frozenset({str, int, bool}), stored_real, True),
    ValueAffinity.TEXT: _TEXT,
    ValueAffinity.BLOB: Conversion("blob", frozenset({bool}), stored_blob),
}
_COMPARED_NUMERIC = Conversion("numeric", frozenset({str, bool}), compared_numeric)
#: what SQLite's comparison makes of a value of no affinity compared with a column of each
#: affinity (none: as given)
COMPARED: dict[ValueAffinity, Conversion] = {
    ValueAffinity.INTEGER: _COMPARED_NUMERIC,
    ValueAffinity.NUMERIC: _COMPARED_NUMERIC,
    ValueAffinity.REAL: _COMPARED_NUMERIC,
    ValueAffinity.DECIMAL: Conversion("decimal", frozenset({str, bool}), compared_decimal),
    ValueAffinity.BOOLEAN: Conversion("boolean", frozenset({str}), compared_boolean),
    ValueAffinity.TEXT: _TEXT,
    ValueAffinity.BLOB: WRITTEN[ValueAffinity.BLOB],
    ValueAffinity.JSON: Conversion("json", frozenset({str, bool, dict, list, JsonNull}),
                                     compared_json),
}


def written(spec: CollectionSpec, field: str) -> Conversion | None:
    """What the declared field ``field`` stores of a value written to it (None: as given)."""
    affinity = spec.value_affinities.get(field)
    return None if affinity is None else WRITTEN.get(affinity)


#: what SQLite's comparison makes of a key value (of no affinity) compared with a key column
#: (an INTEGER key's integral real is the integer: it names the document ``t/2``)
_KEY_COMPARED: dict[ValueAffinity, Callable[[Any], Any]] = {
    **{affinity: conversion.apply for affinity, conversion in COMPARED.items()},
    ValueAffinity.INTEGER: integer_affinity,
}
_COMPARED = {ColumnAffinity.INTEGER: integer_affinity, ColumnAffinity.TEXT: text_affinity}


def compared_with(type_name: str) -> Callable[[Any], Any] | None:
    """What SQLite's comparison makes of a value (of no affinity) compared with a column of
    the declared type ``type_name``, for INTEGER and TEXT affinity; None: left as given."""
    return _COMPARED.get(column_affinity(type_name))


def compared_field(spec: CollectionSpec, field: str, value: Any) -> Any:
    """``value`` as SQLite compares it with the declared field ``field`` (``COMPARED``; an
    INTEGER field's integral real is the integer; a field not declared: as given)."""
    affinity = spec.value_affinities.get(field)
    convert = _KEY_COMPARED.get(affinity) if affinity is not None else None
    return value if convert is None else convert(value)
