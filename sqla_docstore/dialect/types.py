"""SQLAlchemy types as documents store them: ISO dates, TimeSpan intervals, native JSON."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import uuid
from typing import Any

from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.sql import func, operators, sqltypes, type_api
from sqlalchemy.sql.elements import (
    BinaryExpression,
    BindParameter,
    ColumnClause,
    ColumnElement,
    Label,
    Null,
)
from sqlalchemy.types import TypeEngine

from .. import values
from ..values import JSON_NULL

# Bind values need no conversion here: the DB-API stores datetime, Decimal, UUID, bytes and
# timedelta itself (sqla_docstore.values), and converts a value written to or compared with a
# declared column by the column's affinity as SQLite does (sqla_docstore.affinity): Integer,
# Float, String and Numeric have no bind processor, as on SQLite. Results come back in their
# JSON form.


def _parse_time(text: str) -> dt.time:
    head, sep, rest = text.partition(".")
    if sep:  # at most 6 fraction digits, then the offset as written ("+02:00")
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = head + "." + rest[:digits][:6].ljust(6, "0") + rest[digits:]
    return dt.time.fromisoformat(text.replace("Z", "+00:00"))


class DocstoreDateTime(sqltypes.DateTime):
    def bind_processor(self, dialect: Dialect) -> Any:
        return None

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        def process(value: Any) -> Any:
            return values.parse_datetime(value) if isinstance(value, str) else value

        return process


class DocstoreDate(sqltypes.Date):
    def bind_processor(self, dialect: Dialect) -> Any:
        return None

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        def process(value: Any) -> Any:
            if isinstance(value, str):
                return dt.date.fromisoformat(value[:10])
            return value

        return process


class DocstoreTime(sqltypes.Time):
    def bind_processor(self, dialect: Dialect) -> Any:
        return None

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        def process(value: Any) -> Any:
            return _parse_time(value) if isinstance(value, str) else value

        return process


class DocstoreInterval(
    type_api.NativeForEmulated, sqltypes._AbstractInterval
):
    __visit_name__ = "interval"
    native = True

    @classmethod
    def adapt_emulated_to_native(cls, impl: Any, **kw: Any) -> DocstoreInterval:
        return cls()

    @classmethod
    def adapt_native_to_emulated(cls, impl: Any, **kw: Any) -> Any:
        # Interval(native=False): the emulated type itself, so SQLAlchemy adapts its DateTime
        # (epoch + interval) to this dialect's, which reads the stored text back, as on SQLite
        return impl

    def bind_processor(self, dialect: Dialect) -> Any:
        return None

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        def process(value: Any) -> Any:
            return values.parse_timespan(value) if isinstance(value, str) else value

        return process

    @property
    def python_type(self) -> type:
        return dt.timedelta


class DocstoreNumeric(sqltypes.Numeric):
    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        if self.asdecimal:
            scale = self.scale

            def to_decimal(value: Any) -> Any:
                if value is None:
                    return value
                if isinstance(value, decimal.Decimal):
                    result = value  # the DB-API's answer for a NUMERIC column (dbapi.decimals)
                else:
                    # repr() is the shortest text that round-trips: the number as written
                    result = decimal.Decimal(repr(value) if isinstance(value, float)
                                             else str(value))
                if scale is not None and result.is_finite():
                    # at the column's scale, as PostgreSQL gives NUMERIC(p, s) (the store
                    # keeps the digits written); enough digits for the number at that scale
                    # (the default context's 28 would fail on 1E+30 at scale 10)
                    digits = max(result.adjusted(), 0) + scale + 2
                    result = result.quantize(decimal.Decimal(1).scaleb(-scale),
                                             context=decimal.Context(prec=max(28, digits)))
                return result

            return to_decimal

        def to_float(value: Any) -> Any:
            return None if value is None else float(value)

        return to_float


class DocstoreFloat(sqltypes.Float):
    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        if self.asdecimal:
            return DocstoreNumeric(asdecimal=True).result_processor(dialect, coltype)

        def to_float(value: Any) -> Any:
            return None if value is None else float(value)

        return to_float


class DocstoreBoolean(sqltypes.Boolean):
    def bind_processor(self, dialect: Dialect) -> Any:
        return None

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        def process(value: Any) -> Any:
            return None if value is None else bool(value)

        return process


class DocstoreLargeBinary(sqltypes.LargeBinary):
    def bind_processor(self, dialect: Dialect) -> Any:
        return None

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        def process(value: Any) -> Any:
            return base64.b64decode(value) if isinstance(value, str) else value

        return process


class DocstoreUuid(sqltypes.Uuid):
    def bind_processor(self, dialect: Dialect) -> Any:
        def process(value: Any) -> Any:
            if value is None or isinstance(value, uuid.UUID):
                return value
            return str(uuid.UUID(str(value)))  # normalise the text form

        return process

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        if self.as_uuid:
            return lambda v: uuid.UUID(v) if isinstance(v, str) else v
        return lambda v: str(uuid.UUID(v)) if isinstance(v, str) else v

    def literal_processor(self, dialect: Dialect) -> Any:
        return lambda v: "'" + str(v) + "'"


_JSON_ELEMENT = (operators.json_getitem_op, operators.json_path_getitem_op)


class DocstoreJSON(sqltypes.JSON):
    """JSON values stay nested JSON inside the document, never a string. JSON null
    (``JSON.NULL``, and None unless ``none_as_null``) is bound as the DB-API's ``JSON_NULL``,
    SQL NULL (``null()``, None with ``none_as_null``) as None: the document holds ``null``
    for the one and leaves the field out for the other, as SQLite holds ``'null'`` and NULL.
    A ``json_serializer`` / ``json_deserializer`` given to ``create_engine`` is used: the
    serializer's text is stored as the JSON value it reads as, the deserializer reads the
    stored value's JSON text."""

    def bind_processor(self, dialect: Dialect) -> Any:
        none_as_null = self.none_as_null
        json_null = self.NULL
        serializer = getattr(dialect, "_json_serializer", None)

        def process(value: Any) -> Any:
            if value is json_null:
                return JSON_NULL
            if isinstance(value, Null) or (value is None and none_as_null):
                return None
            if value is None:
                return JSON_NULL
            if serializer is not None:
                return JSON_NULL if (stored := values.loads(serializer(value))) is None else (
                    stored)
            return value

        return process

    def column_expression(self, colexpr: ColumnElement[Any]) -> ColumnElement[Any]:
        """A JSON-typed expression in the select list that is no column or JSON element
        (``coalesce(data, ...)``, ``max(data)``, ``CASE``) computes SQLite's value of the
        JSON column (its JSON text, or a number), which SQLAlchemy's SQLite dialect reads
        back as JSON: ``DOCSTORE_JSON_VALUE(expr)`` tells the store to read it so."""
        inner = colexpr.element if isinstance(colexpr, Label) else colexpr
        if isinstance(inner, (ColumnClause, BindParameter, Null)) or (
                isinstance(inner, BinaryExpression) and inner.operator in _JSON_ELEMENT):
            return colexpr
        wrapped = func.docstore_json_value(inner, type_=self)
        return wrapped.label(colexpr.name) if isinstance(colexpr, Label) else wrapped

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        deserializer = getattr(dialect, "_json_deserializer", None)
        if deserializer is None:
            return None
        return lambda value: None if value is None else deserializer(_json_text(value))


class JsonComparedValue(sqltypes.TypeEngine[Any]):
    """A JSON-typed value compared with a JSON column or element: bound as the serializer's
    text (the engine's ``json_serializer``, else json.dumps), as SQLAlchemy's SQLite dialect
    binds it; JSON null is ``'null'``."""

    cache_ok = True
    _type_affinity = sqltypes.JSON

    def bind_processor(self, dialect: Dialect) -> Any:
        serializer = getattr(dialect, "_json_serializer", None) or json.dumps
        json_null = sqltypes.JSON.NULL

        def process(value: Any) -> Any:
            if value is None:
                return None
            return "null" if value is json_null else serializer(value)

        return process


colspecs: dict[type[TypeEngine[Any]], type[TypeEngine[Any]]] = {
    sqltypes.DateTime: DocstoreDateTime,
    sqltypes.Date: DocstoreDate,
    sqltypes.Time: DocstoreTime,
    sqltypes.Interval: DocstoreInterval,
    sqltypes.Numeric: DocstoreNumeric,
    sqltypes.Float: DocstoreFloat,
    sqltypes.Boolean: DocstoreBoolean,
    sqltypes.LargeBinary: DocstoreLargeBinary,
    sqltypes.Uuid: DocstoreUuid,
    sqltypes.JSON: DocstoreJSON,
}

#: Stored type names (from the DDL) back to SQLAlchemy types, for reflection.
reflected_types: dict[str, type[TypeEngine[Any]]] = {
    "INTEGER": sqltypes.INTEGER, "BIGINT": sqltypes.BIGINT, "SMALLINT": sqltypes.SMALLINT,
    "VARCHAR": sqltypes.VARCHAR, "CHAR": sqltypes.CHAR, "TEXT": sqltypes.TEXT,
    "NVARCHAR": sqltypes.NVARCHAR, "NCHAR": sqltypes.NCHAR, "FLOAT": sqltypes.Float,
    "REAL": sqltypes.REAL,
    "DOUBLE": sqltypes.Double, "DOUBLE PRECISION": sqltypes.DOUBLE_PRECISION,
    "NUMERIC": sqltypes.Numeric, "DECIMAL": sqltypes.DECIMAL, "BOOLEAN": sqltypes.Boolean,
    "DATETIME": sqltypes.DateTime, "TIMESTAMP": sqltypes.TIMESTAMP, "DATE": sqltypes.Date,
    "TIME": sqltypes.Time, "INTERVAL": sqltypes.Interval, "JSON": sqltypes.JSON,
    "BLOB": sqltypes.LargeBinary, "UUID": sqltypes.Uuid, "CLOB": sqltypes.Text,
}


def reflected_type(stored: str) -> TypeEngine[Any]:
    """``VARCHAR(52)`` / ``NUMERIC(18, 5)`` as kept in the collection schema, as a type."""
    name, _, args = stored.partition("(")
    cls = reflected_types.get(name.strip(), sqltypes.JSON)
    numbers = [int(a) for a in args.rstrip(")").split(",") if a.strip().isdigit()]
    try:
        return cls(*numbers)
    except TypeError:
        return cls()


def _json_text(value: Any) -> str:
    """A JSON value as the text a custom ``json_deserializer`` reads: ``json.dumps``'s, as
    SQLAlchemy's default serializer wrote it (exact numbers: the store's own text)."""
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return values.dumps(value)
