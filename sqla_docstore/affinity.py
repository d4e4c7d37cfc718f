"""SQLite's column affinity applied to a value compared with a column (no SQLAlchemy here).

SQLite converts a value with no affinity (a bound parameter, a literal) by the affinity of
the column it is compared with: ``id = '2'`` with an INTEGER ``id`` compares 2, ``code = 2``
with a TEXT ``code`` compares ``'2'``. The dialect's bind types (``dialect.types``) and the
DB-API's loads and writes by key use these rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .generated import sqlite_text
from .schema import CollectionSpec, ColumnAffinity, column_affinity

#: SQLite's numeric literals (sqlite3AtoF): no hex, no underscores, its own white space,
#: ASCII digits only (re.ASCII: the Arabic-Indic digit '\u0663' is no 3 to SQLite)
NUMBER_TEXT = re.compile(r"[ \t\n\v\f\r]*[+-]?(?:(\d+)|\d+\.\d*(?:[eE][+-]?\d+)?|"
                         r"\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)[ \t\n\v\f\r]*", re.ASCII)
_INT64 = 2**63


def numeric_text(text: str) -> int | float | None:
    """The number SQLite's INTEGER or NUMERIC affinity makes of ``text``: an integer if it is
    one (within 64 bits) or a real literal without a fraction, else a float; None: no number."""
    m = NUMBER_TEXT.fullmatch(text)
    if m is None:
        return None
    if m.group(1) is not None:
        whole = int(text)
        return whole if -_INT64 <= whole < _INT64 else float(whole)
    real = float(text)
    return int(real) if real.is_integer() and -_INT64 <= real < _INT64 else real


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


#: what SQLite's comparison makes of a value (of no affinity) compared with a column, for
#: INTEGER and TEXT affinity (others: left as given)
_COMPARED: dict[ColumnAffinity, Callable[[Any], Any]] = {
    ColumnAffinity.INTEGER: integer_affinity, ColumnAffinity.TEXT: text_affinity}


def compared_with(type_name: str) -> Callable[[Any], Any] | None:
    """What SQLite's comparison makes of a value (of no affinity) compared with a column of
    the declared type ``type_name``; None: left as given."""
    return _COMPARED.get(column_affinity(type_name))


def compared_field(spec: CollectionSpec, field: str, value: Any) -> Any:
    """``value`` as SQLite compares it with the declared field ``field`` (``compared_with``;
    a field not declared: as given)."""
    affinity = spec.affinities.get(field)
    convert = _COMPARED.get(affinity) if affinity is not None else None
    return value if convert is None else convert(value)
