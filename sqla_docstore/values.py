"""Python values to and from their JSON document form (RavenDB's date and span formats)."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import enum
import json
import re
import secrets
import uuid
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


def to_json(value: Any) -> Any:
    """A parameter value in the form stored in documents (Decimal stays Decimal, see dumps)."""
    if value is None or isinstance(value, (str, bool, int, float, decimal.Decimal)):
        return value
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
    value = to_json(value)
    if isinstance(value, decimal.Decimal):
        value = int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        return float(value)  # SQLite integers are 64-bit; JSON numbers beyond compare as REAL
    if isinstance(value, (dict, list)):
        return dumps(value)
    return value


def _refuse(obj: Any) -> Any:
    raise TypeError


_plain_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_refuse,
                                  allow_nan=False)


def dumps(document: Any) -> str:
    """Compact JSON; Decimal values are written as exact JSON numbers."""
    try:
        return _plain_encoder.encode(document)  # the common case: JSON types only
    except (TypeError, ValueError):
        pass
    marks: list[str] = []

    def default(obj: Any) -> Any:
        if isinstance(obj, decimal.Decimal):
            if not obj.is_finite():
                raise DataError(f"can't store a non-finite decimal: {obj}")
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
    return text


def _parse_float(text: str) -> float | decimal.Decimal:
    number = float(text)
    if len(text) <= 15 or repr(number) == text:
        return number
    return decimal.Decimal(text)  # more digits than a float keeps: stay exact


_decoder = json.JSONDecoder(parse_float=_parse_float)
loads = _decoder.decode
