"""Python values to and from their JSON document form (RavenDB's date and span formats)."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import decimal
import enum
import functools
import itertools
import json
import math
import operator
import re
import secrets
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from .errors import DataError


def format_datetime(value: dt.datetime) -> str:
    # RavenDB writes 7 fractional digits; a fixed width keeps string order = time order.
    # Not strftime: it writes year 1 as "1", which no ISO parser reads back.
    text = (f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:"
            f"{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}0")
    offset = value.utcoffset()
    if offset is not None:
        text += "Z" if not offset else _format_offset(offset)
    return text


def _format_offset(offset: dt.timedelta) -> str:
    sign = "-" if offset < dt.timedelta(0) else "+"
    seconds = abs(int(offset.total_seconds()))
    text = f"{sign}{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"
    return text + (f":{seconds % 60:02d}" if seconds % 60 else "")


def format_time(value: dt.time) -> str:
    text = f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}"
    offset = value.utcoffset()
    return text + (_format_offset(offset) if offset is not None else "")


def format_timespan(value: dt.timedelta) -> str:
    """C# TimeSpan text, as RavenDB stores it: ``[-][d.]hh:mm:ss[.fffffff]``."""
    sign = "-" if value < dt.timedelta(0) else ""
    value = abs(value)
    hours, rest = divmod(value.seconds, 3600)
    text = f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
    if value.days:
        text = f"{value.days}.{text}"
    if value.microseconds:
        text += f".{value.microseconds:06d}0"
    return sign + text


_TIMESPAN = re.compile(r"(-)?(?:(\d+)\.)?(\d+):(\d\d):(\d\d)(?:\.(\d{1,7}))?\Z")


def parse_timespan(text: str) -> dt.timedelta:
    m = _TIMESPAN.match(text)
    if m is None:
        raise DataError(f"not a time span: {text!r}")
    neg, days, hours, minutes, seconds, frac = m.groups()
    micro = int((frac or "0").ljust(7, "0")[:6])
    span = dt.timedelta(int(days or 0), int(hours) * 3600 + int(minutes) * 60 + int(seconds), micro)
    return -span if neg else span


def parse_datetime(text: str) -> dt.datetime:
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    head, sep, rest = text.partition(".")
    if sep:  # Python < 3.11 accepts at most 6 fractional digits
        digits = re.match(r"\d*", rest)
        assert digits is not None
        frac = digits.group(0)
        text = f"{head}.{frac[:6].ljust(6, '0')}{rest[len(frac):]}"
    return dt.datetime.fromisoformat(text)


class JsonNull(enum.Enum):
    """JSON's ``null`` as a parameter value, apart from SQL NULL (None), as SQLite tells the
    text ``'null'`` in a JSON column from NULL. A JSON-typed field given it holds ``null``
    in the document; given None it is left out of the document (a missing field is NULL).
    Compared with a value, it is the JSON text ``null``."""

    JSON_NULL = "null"


#: JSON's ``null`` (``dbapi.JSON_NULL``): see ``JsonNull``
JSON_NULL = JsonNull.JSON_NULL


@dataclasses.dataclass(frozen=True)
class JsonHeld:
    """A JSON field's value bound for an expression over the document (rowexpr): ``held``
    is its value in SQL (the JSON text SQLite holds: ``affinity.sqlite_json``), ``value``
    what a JSON path reads into."""

    value: Any
    held: Any


def to_json(value: Any) -> Any:
    """A parameter value in the form stored in documents (Decimal stays Decimal, see dumps;
    ``JSON_NULL`` is null)."""
    if value is None or isinstance(value, (str, bool, int, float, decimal.Decimal)):
        return value
    if value is JSON_NULL:
        return None
    if type(value) is JsonHeld:
        return to_json(value.value)
    if isinstance(value, dt.datetime):
        return format_datetime(value)
    if isinstance(value, dt.date):
        return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
    if isinstance(value, dt.time):
        return format_time(value)
    if isinstance(value, dt.timedelta):
        return format_timespan(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return to_json(value.value)
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    raise DataError(f"can't store a value of type {type(value).__name__}: {value!r}")


def to_sql_param(value: Any) -> Any:
    """A parameter value as SQLite should compare it with stored JSON values."""
    if type(value) is JsonHeld:
        return value.held
    if value is JSON_NULL:
        return "null"  # (the JSON text a JSON column holds for it, as in SQLite)
    value = to_json(value)
    if isinstance(value, decimal.Decimal):
        value = int(value) if _integral(value) else _to_float(value)
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        return _to_float(value)  # SQLite integers are 64-bit; JSON numbers beyond are REAL
    if isinstance(value, (dict, list)):
        return dumps(value)
    return value


# -- exact numbers -------------------------------------------------------------------------
#
# Numbers stay JSON numbers in documents, written with their exact text (an int of any size,
# a Decimal with all its digits), so they round-trip and other RavenDB clients read numbers.
# SQLite reads a JSON number as a 64-bit integer or a double: exact for integers below 2**53
# in magnitude (and up to 2**63 as integers), for doubles, and for decimals of at most 15
# significant digits (distinct ones stay distinct doubles, in order). Any other number is
# "wide": SQLite's value of it is approximate, so comparisons with it are decided on the exact
# decimal text instead (``numcmp`` below, a SQLite function of the store's connections); the
# approximate double only narrows the candidates (rounding keeps order: a <= b gives
# round(a) <= round(b)).

SAFE_INTEGER = 2**53
_TINY = decimal.Decimal("1E-300")


def _integral(value: decimal.Decimal) -> bool:
    return value.is_finite() and value == value.to_integral_value()


def _to_float(value: int | decimal.Decimal) -> float:
    try:
        return float(value)
    except OverflowError:  # an int beyond a double's range
        return math.inf if value > 0 else -math.inf


def exact_number(value: Any) -> decimal.Decimal | None:
    """The exact value of a number (a float as the decimal it prints as), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float, decimal.Decimal)):
        return None
    if isinstance(value, float):
        return decimal.Decimal(repr(value)) if math.isfinite(value) else None
    number = decimal.Decimal(value)
    return number if number.is_finite() else None


def is_wide(number: decimal.Decimal) -> bool:
    """SQLite can't hold this number exactly (see above)."""
    if not -SAFE_INTEGER < number < SAFE_INTEGER:
        return True
    if number == number.to_integral_value():
        return False
    return len(number.normalize().as_tuple().digits) > 15 or -_TINY < number < _TINY


_DECIMAL_TEXT = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*\Z", re.ASCII)


def declared_decimal(value: Any) -> Any:
    """A value read from a column declared NUMERIC / DECIMAL, as the DB-API gives it: a
    number as the Decimal of the digits stored (a float as the shortest text that reads back
    as it, the JSON text written for it), as psycopg gives PostgreSQL's numeric; so is a text
    that is a decimal number (an exact sum's, or one SQLite's NUMERIC affinity would have
    stored as a number). Other values (NULL, other texts, booleans, a non-finite float) are
    given as they are."""
    kind = type(value)
    if kind is int:
        return decimal.Decimal(value)
    if kind is float and math.isfinite(value):
        return decimal.Decimal(repr(value))
    if kind is str and _DECIMAL_TEXT.match(value):
        return decimal.Decimal(value.strip())
    return value


def compare_part(part: str, value: Any) -> Any:
    """What a compared parameter binds for one part of an exact comparison (sqlgen):
    ``value`` as SQLite compares it, ``low``/``high`` the doubles around a wide number (the
    value otherwise), ``text`` its exact decimal text, ``wide`` that text only when wide."""
    plain = to_sql_param(value)
    if part == "value":
        return plain
    number = exact_number(value)
    if part == "text":
        return None if number is None else str(number)
    wide = number is not None and not isinstance(value, float) and is_wide(number)
    if part == "wide":
        return str(number) if wide else None
    if not wide or number is None:
        return plain
    near = _to_float(number)
    return math.nextafter(near, -math.inf if part == "low" else math.inf)


#: the parts of an exact comparison, in the order ``compare_parts`` gives them
COMPARE_PARTS = ("value", "low", "high", "text", "wide")


def compare_parts(value: Any) -> tuple[Any, Any, Any, Any, Any]:
    """``compare_part`` of every part of one value at once (``COMPARE_PARTS`` order), the
    value converted once; plain ints in the exact range and plain strings take a short cut
    (a compared parameter is bound this way on every execution of a statement)."""
    kind = type(value)
    if kind is int and -SAFE_INTEGER < value < SAFE_INTEGER:
        return value, value, value, str(value), None
    if kind is str or value is None:
        return value, value, value, None, None
    plain = to_sql_param(value)
    number = exact_number(value)
    text = None if number is None else str(number)
    if number is None or isinstance(value, float) or not is_wide(number):
        return plain, plain, plain, text, None
    near = _to_float(number)
    return (plain, math.nextafter(near, -math.inf), math.nextafter(near, math.inf), text,
            text)


def sql_array(items: Any) -> str:
    """An expanding IN list as the JSON array SQLite reads with json_each."""
    # dumps refuses NUL (json_each would cut the string there); inf is written as 1e999
    return dumps([_finite_json(to_sql_param(v)) for v in items])


def _finite_json(value: Any) -> Any:
    if isinstance(value, float) and math.isinf(value):
        return decimal.Decimal("1e999") if value > 0 else decimal.Decimal("-1e999")
    return value


def array_part(part: str, items: Any) -> Any:
    """The parts of an expanding IN list: ``text`` a JSON array of each item's exact decimal
    text (null for others), ``wide`` 1 when any item is a wide number."""
    # (a string is no number: no parts, and no call per string of a long list)
    if part == "text":
        return json.dumps([None if type(v) is str else compare_part("text", v) for v in items])
    return int(any(type(v) is not str and compare_part("wide", v) is not None for v in items))


_refusals = threading.local()


def check_exact(raw: Any, construct: str) -> int:
    """SQLite function: 1 when the JSON number text ``raw`` is the double SQLite holds for it
    (as it prints: a float written by Python), else the statement fails with DataError
    (``take_refusal``): ORDER BY, GROUP BY or an aggregate would use an approximation."""
    if isinstance(raw, str) and raw[:1] in "-0123456789":
        try:
            if repr(float(raw)) == raw:
                return 1  # the common case: a float as Python writes it
        except ValueError:
            pass
    number = _exact_of(raw)
    if number is None:
        return 1
    try:
        near = float(number)
    except OverflowError:
        near = math.inf
    if math.isfinite(near) and decimal.Decimal(repr(near)) == number:
        return 1
    _refusals.error = DataError(
        f"{construct}: a number with more digits or range than a double (beyond 2**53, more "
        "than 15 significant digits) would be ordered, grouped or aggregated approximately; "
        "filter such values out or compare them with =, <, > instead")
    raise _refusals.error


def check_exact_integer(raw: Any, construct: str) -> int:
    """``check_exact`` for a field declared as an integer: SQLite reads one beyond 64 bits as
    a double, which would come back as a float, not the integer stored."""
    number = _exact_of(raw)
    if number is not None and _integral(number) and not -SAFE_INTEGER < number < SAFE_INTEGER:
        _refusals.error = DataError(
            f"{construct}: an integer beyond 2**53 would be ordered, grouped or aggregated as "
            "an approximate double; filter such values out or compare them with =, <, > "
            "instead")
        raise _refusals.error
    return check_exact(raw, construct)


def take_refusal() -> DataError | None:
    """The DataError a ``check_exact`` call in this thread's last failed statement raised."""
    error: DataError | None = getattr(_refusals, "error", None)
    _refusals.error = None
    return error


def numcmp(left: Any, right: Any) -> int | None:
    """-1, 0 or 1 comparing two numbers exactly, given as JSON or decimal text (or SQLite
    values); None when either is not a number (then SQL's own comparison stands)."""
    a, b = _exact_of(left), _exact_of(right)
    if a is None or b is None:
        return None
    return (a > b) - (a < b)


def sql_order(left: str, right: str) -> int:
    """SQLite collation ``docstore_sql_order``: two JSON texts of SQL values (a grouped
    select's fields, read as ``json_quote``) in the order of those values, as SQLite orders
    them: null, then numbers by value (2 and 2.0 are equal), then texts byte by byte (an
    object or array by its JSON text, as ``json_extract`` gives it). A text that is no JSON
    (a value compared with the column) is that text."""
    a, b = _sql_order_key(left), _sql_order_key(right)
    return (a > b) - (a < b)


@functools.lru_cache(maxsize=4096)
def _sql_order_key(text: str) -> tuple[int, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    if value is None:
        return (0, 0)
    kind = type(value)
    if kind is int or kind is float or kind is bool:
        return (1, value)
    return (2, (value if kind is str else text).encode("utf-8", "surrogatepass"))


def numin(left: Any, items_json: str | None) -> int | None:
    """1 when the number ``left`` equals one of the decimal texts in ``items_json``, 0 when
    none, None when a null item makes SQL's answer unknown; -1 when left is no number."""
    a = _exact_of(left)
    if a is None or items_json is None:
        return -1
    texts = json.loads(items_json)
    if any(t is not None and decimal.Decimal(t) == a for t in texts):
        return 1
    return None if None in texts else 0


def _exact_of(value: Any) -> decimal.Decimal | None:
    if value is None or isinstance(value, bytes):
        return None
    if isinstance(value, (int, float)):
        return exact_number(value)
    try:
        number = decimal.Decimal(value)  # JSON strings keep their quotes: not a number
    except (decimal.InvalidOperation, ValueError, TypeError):
        return None
    return number if number.is_finite() else None


def _refuse(obj: Any) -> Any:
    raise TypeError


_plain_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_refuse,
                                  allow_nan=False)
# The C encoder behind _plain_encoder, made once (JSONEncoder.encode makes one per call) and
# without a circular-reference memo: a circular value recurses until RecursionError, and is
# then encoded by the checking path, which refuses it as before. Same text as _plain_encoder.
_c_encoder: Any = getattr(json.encoder, "c_make_encoder", None)
_encode_c: Any = None if _c_encoder is None else _c_encoder(
    None, _refuse, json.encoder.encode_basestring, None, ":", ",", False, False, False)


def _encode_plain(document: Any) -> str:
    if _encode_c is None or type(document) is str:
        return _plain_encoder.encode(document)
    return "".join(_encode_c(document, 0))


# An escaped NUL character: \u0000 after an even number of backslashes.
_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def _refuse_nul(text: str) -> str:
    if "\\u0000" in text and _NUL.search(text):
        raise DataError("strings holding NUL (\\x00) are not supported: the store's JSON "
                        "functions end a string at NUL, so it would compare wrongly")
    return text


def refuse_unstorable(body: dict[str, Any]) -> None:
    """DataError if a document about to be written holds NUL or a lone surrogate in a string,
    or a NaN or infinite float, which JSON has no number for (checked when the write is
    executed, so the pending batch never holds a document it could not store)."""
    for value in body.values():
        if type(value) is str:
            if "\x00" in value:
                _refuse_nul("\\u0000")
            if not value.isascii():  # (an ASCII text holds no surrogate: no search)
                refuse_surrogates(value)
        elif type(value) is float:
            if value - value != 0.0:  # NaN or infinite (value - value is NaN)
                raise refuse_float(value)
        elif type(value) is decimal.Decimal:
            if not value.is_finite():
                raise refuse_decimal(value)
        elif isinstance(value, (dict, list)):
            refuse_surrogates(dumps(value))


#: a UTF-16 surrogate alone in a str (a pair is one character in Python): it has no UTF-8
SURROGATE = re.compile("[\ud800-\udfff]")


def refuse_surrogates(text: str) -> None:
    """DataError if ``text`` holds a lone surrogate: no store can hold it (SQLite's and
    RavenDB's text is UTF-8), so the commit, and every read of the pending write, would fail."""
    found = SURROGATE.search(text)
    if found is not None:
        raise DataError(f"text holding {found.group()!r} (a lone surrogate) can't be stored")


def refuse_decimal(value: decimal.Decimal) -> DataError:
    """The error for storing a NaN or infinite decimal."""
    return DataError(f"can't store a non-finite decimal: {value}")


def refuse_float(value: float) -> DataError:
    """The error for storing a NaN or infinite float."""
    return DataError(f"can't store the float {value!r}: JSON has no NaN or infinity (SQLite "
                     "would store NaN as NULL)")


def dumps(document: Any) -> str:
    """Compact JSON; Decimal values are written as exact JSON numbers. Strings holding NUL
    are refused (DataError)."""
    try:
        return _refuse_nul(_encode_plain(document))  # the common case: JSON types
    except (TypeError, ValueError, RecursionError):
        pass
    marks: list[str] = []

    def default(obj: Any) -> Any:
        if isinstance(obj, decimal.Decimal):
            if not obj.is_finite():
                raise refuse_decimal(obj)
            if not marks:
                marks.append(secrets.token_hex(8))
            return f"{marks[0]}{obj}{marks[0]}"
        return to_json(obj)

    try:
        text = json.dumps(document, separators=(",", ":"), ensure_ascii=False, default=default,
                          allow_nan=False)
    except ValueError as exc:
        raise DataError(f"can't store value: {exc}") from exc
    if marks:
        text = re.sub(f'"{marks[0]}([^"]*){marks[0]}"', r"\1", text)
    return _refuse_nul(text)


def dumps_each(documents: Sequence[Any]) -> list[str]:
    """``[dumps(d) for d in documents]``, the common case (JSON types only, no NUL) in one
    pass of the C encoder; else each document by ``dumps`` (same texts, same errors)."""
    if _encode_c is not None:
        try:
            texts = list(map("".join, map(_encode_c, documents, itertools.repeat(0))))
        except (TypeError, ValueError, RecursionError):
            pass
        else:
            if not any(map(operator.contains, texts, itertools.repeat("\\u0000"))):
                return texts
    return list(map(dumps, documents))


def column_types(column: Sequence[Any]) -> frozenset[type]:
    """The types of the values of ``column`` (one C pass)."""
    return frozenset(map(type, column))


class ColumnTypes:
    """``column_types`` of each column asked about, found once and kept: the columns of one
    statement, each looked at by several tests (affinity, NUL, NOT NULL, JSON texts), are
    each read once. Only for columns nobody changes while it is in use (each is held, so
    its ``id`` stays its own)."""

    __slots__ = ("_known", "_joined")

    def __init__(self) -> None:
        self._known: dict[int, tuple[Sequence[Any], frozenset[type]]] = {}
        self._joined: dict[int, tuple[Sequence[str], str]] = {}

    def __call__(self, column: Sequence[Any]) -> frozenset[type]:
        known = self._known.get(id(column))
        if known is not None:
            return known[1]
        types = frozenset(map(type, column))
        self._known[id(column)] = (column, types)
        return types

    def know(self, column: Sequence[Any], types: frozenset[type]) -> None:
        """Take ``types`` as those of ``column`` (its maker knows them: HiLo's keys)."""
        self._known[id(column)] = (column, types)

    def joined(self, column: Sequence[str]) -> str:
        """``"".join(column)`` of a column of strings, joined once and kept (the NUL and
        surrogate test and the JSON texts' test each read it)."""
        known = self._joined.get(id(column))
        if known is not None:
            return known[1]
        text = "".join(column)
        self._joined[id(column)] = (column, text)
        return text


def joined_strings(column: Sequence[str],
                   types: Callable[[Sequence[Any]], frozenset[type]] = column_types) -> str:
    """``"".join(column)``, kept by ``types`` if it is a ``ColumnTypes``."""
    return types.joined(column) if type(types) is ColumnTypes else "".join(column)


def dumps_columns(names: Sequence[str], columns: Sequence[Sequence[Any]], count: int,
                  written: Mapping[str, Sequence[str]] | None = None,
                  types: Callable[[Sequence[Any]], frozenset[type]] = column_types,
                  ) -> list[str] | None:
    """``dumps`` of each of ``count`` documents ``{names[0]: columns[0][i], ...}`` (keys in
    that order; a column of one value gives it to every document), written a column at a
    time: the same texts. None when a value is not one this writes as ``dumps`` does (a
    string holding NUL, a number JSON can't write, another type): then ``dumps`` each.
    ``written``: the JSON texts of some fields' values, by name (their columns unread).
    ``types``: ``column_types`` (or a ``ColumnTypes`` knowing the columns already)."""
    keys = [_encode_str(name) for name in names]
    if any("\\u0000" in key for key in keys):
        return None
    parts: list[Iterable[str]] = []
    text = "{"  # the text every document has next (constants and one-value columns' texts)
    for n, (key, column) in enumerate(zip(keys, columns, strict=True)):
        text += ("" if n == 0 else ",") + key + ":"
        texts = written.get(names[n]) if written else None
        if texts is None and len(column) != 1 and _plain_strings(column, types):
            texts, text = column, text + '"'  # (each value's JSON text: itself quoted)
            parts += (itertools.repeat(text), texts)
            text = '"'
            continue
        if texts is None:
            texts = _json_scalars(column, types)
            if texts is None:
                return None
            if len(column) == 1:
                text += texts[0]
                continue
        parts += (itertools.repeat(text), texts)
        text = ""
    if not parts:
        return [text + "}"] * count
    parts.append(itertools.repeat(text + "}"))
    return list(itertools.islice(map("".join, zip(*parts)), count))  # noqa: B905 - repeats


def _plain_strings(column: Sequence[Any],
                   types: Callable[[Sequence[Any]], frozenset[type]] = column_types) -> bool:
    """Whether ``column`` holds only strings whose JSON text is the string quoted: none holds
    a quote, a backslash or a control character (NUL included) the encoder escapes (one
    test of their joined text; a string of other characters that are not printable, as
    U+2028, is left to the encoder too)."""
    if types(column) != {str}:
        return False
    joined = joined_strings(column, types)
    if joined.isascii():  # (a flag of the str) one pass over its bytes, marking those
        return b"\0" not in joined.encode("ascii").translate(_ESCAPED_AS_NUL)
    return '"' not in joined and "\\" not in joined and joined.isprintable()


#: each ASCII byte as itself, but those the encoder escapes (control characters, quote,
#: backslash) as NUL
_ESCAPED_AS_NUL = bytes(0 if b < 32 or b in b'"\\' else b for b in range(256))


_encode_str: Any = json.encoder.encode_basestring  # (the encoder _encode_c writes with)
_JSON_BOOL = {True: "true", False: "false"}.__getitem__


def _json_scalars(column: Sequence[Any],
                  types_of: Callable[[Sequence[Any]], frozenset[type]] = column_types,
                  ) -> list[str] | None:
    """The JSON texts of a column of str, int, float, bool and None values, as the C encoder
    writes them; None if one is not (or is a string holding NUL, or a non-finite float)."""
    types = types_of(column)
    try:
        if types == {str}:
            if "\x00" in joined_strings(column, types_of):
                return None
            return list(map(_encode_str, column))
        if types == {int}:
            return list(map(int.__repr__, column))
        if not types <= _SCALAR_WRITERS.keys():
            return None
        if float in types and not all(
                math.isfinite(v) for v in column if type(v) is float):
            return None
        if str in types and "\x00" in "".join([v for v in column if type(v) is str]):
            return None
        return [_SCALAR_WRITERS[type(v)](v) for v in column]
    except ValueError:  # an int beyond the digits Python writes
        return None


_SCALAR_WRITERS: dict[type, Any] = {
    str: _encode_str, int: int.__repr__, float: float.__repr__, bool: _JSON_BOOL,
    type(None): lambda _: "null",
}


def _parse_float(text: str) -> float | decimal.Decimal:
    number = float(text)
    if repr(number) == text:
        return number
    exact = decimal.Decimal(text)
    if math.isfinite(number) and exact == decimal.Decimal(repr(number)):
        return number  # "1.50", "1E+3": the same number as the float
    return exact  # more digits or range than a float keeps (1E+1000 is not infinity): exact


_decoder = json.JSONDecoder(parse_float=_parse_float)
_scan_once: Any = getattr(_decoder, "scan_once")  # noqa: B009 - not in typeshed


def loads(text: str) -> Any:
    """A JSON text as Python values (numbers a float can't hold exactly stay Decimal)."""
    try:  # the common case, a document as the store writes it: no surrounding whitespace
        value, end = _scan_once(text, 0)
    except (StopIteration, json.JSONDecodeError, TypeError):
        return _decoder.decode(text)  # the error (or the whitespace) as json says it
    if end != len(text):
        return _decoder.decode(text)
    return value


def loads_all(texts: list[str | None]) -> list[Any] | None:
    """``[loads(t) for t in texts]`` for texts of one JSON value each (documents as the store
    writes them), parsed in one call (one C loop) as the elements of one JSON array; None
    when that can't give exactly that (a NULL text, a text that is not one JSON value: then
    parse them one by one, with the errors ``loads`` gives)."""
    if None in texts:
        return None
    try:
        docs: list[Any] = loads("[" + ",".join(texts) + "]")  # type: ignore[arg-type]
    except ValueError:
        return None
    return docs if len(docs) == len(texts) else None


def picked_all(texts: list[str], names: tuple[str, ...]) -> list[tuple[Any, ...]] | None:
    """``[operator.itemgetter(*names)(loads(t)) for t in texts]``: the fields ``names`` (two
    or more) of documents of plain values, each made into its tuple as it is parsed (one
    call for all the texts, no dict kept). None when that can't give exactly that (a NULL
    text, a text that is not one object, one with an object or a ``{`` inside, a missing
    field): ``loads_all`` then, and the picking after it, say what each text holds."""
    if len(names) < 2:  # (one name: itemgetter gives the value, not a tuple)
        return None
    try:
        joined = ",".join(texts)
    except TypeError:  # a NULL text (or not a text)
        return None
    if _orjson_loads is not None and names not in _NOT_FAST_PICKS:
        rows = _fast_picked(_orjson_loads, joined, len(texts), names)
        if rows is not None:
            return rows
        if len(_NOT_FAST_PICKS) >= 512:
            _NOT_FAST_PICKS.clear()
        _NOT_FAST_PICKS.add(names)  # (not again for these fields: see _fast_picked)
    # one "{" per text, and each text one object (a tuple below): no object inside one, so
    # the hook makes the documents, and only them, into tuples
    if joined.count("{") != len(texts):
        return None
    text = "[" + joined + "]"
    try:
        rows, end = _picking_scanner(names)(text, 0)
    except (StopIteration, ValueError, KeyError):  # (KeyError: the hook's missing field)
        return None
    if end != len(text) or len(rows) != len(texts) or set(map(type, rows)) != {tuple}:
        return None
    return rows


def _orjson() -> Callable[[str], Any] | None:
    """orjson's ``loads`` if the ``fast`` extra is installed (see ``_fast_picked``)."""
    try:
        import orjson
    except ImportError:
        return None
    return orjson.loads


_orjson_loads = _orjson()
#: The value types orjson gives exactly as ``json`` (with ``_parse_float``) does. A float is
#: not one: ``json`` keeps a number a float can't hold exactly as Decimal, and orjson gives a
#: float for an integer beyond 64 bits. A text orjson refuses (a lone surrogate, NaN, 1E400,
#: deep nesting) is parsed by ``json``, which says what it holds.
_FAST_EXACT = frozenset({str, int, bool, type(None)})
#: The fields whose picking ``_fast_picked`` could not give (floats, nested values, missing
#: fields): picked by ``json`` straight away after that, so documents with floats are not
#: parsed twice on every read (forgotten past 512 field lists).
_NOT_FAST_PICKS: set[tuple[str, ...]] = set()


def _fast_picked(fast_loads: Callable[[str], Any], joined: str, count: int,
                 names: tuple[str, ...]) -> list[tuple[Any, ...]] | None:
    """``picked_all`` by orjson (the ``fast`` extra, about twice ``json``'s speed): the texts
    (``joined`` by commas) parsed as one array, the fields picked from each document; None
    where that is not certainly ``json``'s answer (a text orjson refuses, not one document
    per text, a missing field, a picked value that is not a str, int, bool or None)."""
    try:
        docs = fast_loads("[" + joined + "]")
        if len(docs) != count:
            return None
        rows: list[tuple[Any, ...]] = list(map(operator.itemgetter(*names), docs))
    except (ValueError, KeyError, TypeError):
        return None
    return rows if set(map(type, itertools.chain.from_iterable(rows))) <= _FAST_EXACT else None


@functools.lru_cache(maxsize=256)
def _picking_scanner(names: tuple[str, ...]) -> Any:
    """The ``scan_once`` of ``loads``'s decoder that makes each object into the tuple of its
    fields ``names`` (``object_hook``: the dict dies as soon as it is parsed)."""
    decoder = json.JSONDecoder(parse_float=_parse_float, object_hook=operator.itemgetter(*names))
    return getattr(decoder, "scan_once")  # noqa: B009 - not in typeshed


def loads_each(texts: list[str | None]) -> list[Any]:
    """``loads`` of each text, None for a NULL one (an outer join's missing side): in one
    call when ``loads_all`` can, else one by one (with the errors ``loads`` gives)."""
    docs = loads_all(texts)
    if docs is None:
        docs = [None if text is None else loads(text) for text in texts]
    return docs


class ExactSum:
    """SQLite aggregate ``docstore_dsum(json_text)``: the exact sum of decimal numbers (SQLite
    sums REALs in doubles: 1E+30 + -5.0000000001 would lose the -5). The result is SQLite's
    number when that holds the exact sum (an integer when every value is one, as SUM gives, a
    REAL otherwise), so it compares and sorts as a number; else the exact decimal as text
    (the DB-API reads it back as that Decimal); NULL for no non-NULL value, as SUM gives."""

    def __init__(self) -> None:
        self.total: decimal.Decimal | None = None
        self.count = 0
        self.real = False  # a value SQLite reads as a REAL: its sum is a REAL

    def step(self, raw: Any) -> None:
        number = _exact_of(raw)
        if number is None:
            return
        with decimal.localcontext(_EXACT_CONTEXT):
            self.total = number if self.total is None else self.total + number
        self.count += 1
        self.real = self.real or isinstance(raw, float) or (
            isinstance(raw, str) and any(c in raw for c in ".eE"))

    def finalize(self) -> int | float | str | None:
        total = self.total
        if total is None:
            return None
        if not self.real and total == total.to_integral_value() and (
                -(2**63) <= total < 2**63):
            return int(total)
        if self.real and _double_exact(total):
            return float(total)
        return str(total)


class ExactAvg(ExactSum):
    """``docstore_davg(json_text)``: the sum divided by the count: SQLite's REAL when the
    sum is exactly a double (the quotient then rounds once, as SQLite's), else the exact
    quotient to 50 digits as text."""

    def finalize(self) -> int | float | str | None:
        total = self.total
        if total is None:
            return None
        if _double_exact(total):
            return float(total) / self.count
        with decimal.localcontext(decimal.Context(prec=50)):
            return str(total / self.count)


def exact_sum_value(value: Any, construct: str) -> Any:
    """SQLite function: an exact sum or average (``ExactSum``) used in an expression, in
    ORDER BY or HAVING: its number as is; the text of a sum no double holds fails the
    statement with DataError (it would compare as a text: after every number)."""
    if not isinstance(value, str):
        return value
    _refusals.error = DataError(
        f"{construct}: the exact sum or average of NUMERIC values has more digits than a "
        "double holds and would be compared or computed approximately; select it as a "
        "result column instead")
    raise _refusals.error


def _double_exact(number: decimal.Decimal) -> bool:
    as_float = float(number)
    return math.isfinite(as_float) and decimal.Decimal(as_float) == number


#: wide enough for sums of any stored decimal (exponents are bounded by JSON's doubles)
_EXACT_CONTEXT = decimal.Context(prec=1000, Emax=999999, Emin=-999999)
