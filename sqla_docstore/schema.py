"""Collection schemas: the declared fields, key and constraints a SQL table maps onto."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from functools import cached_property
from typing import Any

from .errors import ProgrammingError

#: declared types of exact numbers (SQLite holds values beyond 2**53 only approximately)
EXACT_NUMBER_TYPES = frozenset({"INTEGER", "INT", "BIGINT", "SMALLINT", "NUMERIC", "DECIMAL"})
#: declared types of exact decimals: their numbers are read as decimal.Decimal (dbapi.decimals)
DECIMAL_TYPES = frozenset({"NUMERIC", "DECIMAL"})


class ColumnAffinity(Enum):
    """SQLite's type affinity of a declared column type (its rules, in order)."""

    INTEGER = "integer"
    TEXT = "text"
    BLOB = "blob"
    REAL = "real"
    NUMERIC = "numeric"


def column_affinity(declared: str) -> ColumnAffinity:
    """The affinity SQLite gives a column declared with this type ("" when none)."""
    base = declared.split("(", 1)[0].upper()
    if "INT" in base:
        return ColumnAffinity.INTEGER
    if any(word in base for word in ("CHAR", "CLOB", "TEXT")):
        return ColumnAffinity.TEXT
    if not base or "BLOB" in base:
        return ColumnAffinity.BLOB
    if any(word in base for word in ("REAL", "FLOA", "DOUB")):
        return ColumnAffinity.REAL
    return ColumnAffinity.NUMERIC


#: The type of a column declared without one in SQL text (``CREATE TABLE t (a, b)``): any
#: value, as "JSON" holds any value, but a field that is no JSON column (``json_fields``:
#: null there is NULL). (Its affinity is NUMERIC, as "JSON"'s.)
UNTYPED = "ANY"


class ValueAffinity(Enum):
    """What a declared column makes of a value written to it or compared with it: SQLite's
    affinity (``column_affinity``), with the dialect's own types kept apart (a JSON or untyped
    column holds values as given, a BOOLEAN one keeps booleans, a NUMERIC / DECIMAL one keeps
    the digits of a number text a double would round)."""

    NONE = "none"  # untyped: values as given (SQLite's BLOB affinity: "no affinity")
    #: JSON: native JSON values in the document, written as given; in SQL a value is the
    #: JSON text SQLite holds for it, under the type name's NUMERIC affinity
    #: (``affinity.sqlite_json``), and values compared with it are converted so
    JSON = "json"
    BLOB = "blob"  # declared BLOB: values as given, but a boolean is sqlite3's 1 or 0
    INTEGER = "integer"
    REAL = "real"
    NUMERIC = "numeric"
    DECIMAL = "decimal"  # NUMERIC / DECIMAL
    BOOLEAN = "boolean"  # NUMERIC affinity keeping booleans (the dialect's Boolean)
    TEXT = "text"


_KEPT_TYPES = {"JSON": ValueAffinity.JSON, UNTYPED: ValueAffinity.NONE,
               "BOOLEAN": ValueAffinity.BOOLEAN,
               "NUMERIC": ValueAffinity.DECIMAL, "DECIMAL": ValueAffinity.DECIMAL}


def value_affinity(declared: str) -> ValueAffinity:
    """The ``ValueAffinity`` of a column declared with this type ("" or JSON: none)."""
    kept = _KEPT_TYPES.get(declared.split("(", 1)[0].strip().upper())
    if kept is not None:
        return kept
    affinity = column_affinity(declared)
    if affinity is ColumnAffinity.BLOB:
        return ValueAffinity.BLOB if declared.strip() else ValueAffinity.NONE
    return ValueAffinity(affinity.value)


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str = UNTYPED  # (a field given no type holds any value; "JSON" marks a JSON column)
    nullable: bool = True
    default: Any = None  # a constant default applied when an insert omits the field
    #: a SQL expression (SQLite's syntax and semantics, no field references) evaluated when
    #: an insert omits the field, e.g. ``CURRENT_TIMESTAMP``; ``default`` is then unused
    default_sql: str | None = None
    #: a generated column: SQL over the document's other fields, stored on every write
    #: (as SQLite's STORED generated columns are); writes may not set it themselves
    computed: str | None = None

    @property
    def base_type(self) -> str:
        """The declared type without its length or precision: ``NUMERIC(10, 2)`` -> NUMERIC."""
        return self.type.split("(", 1)[0].strip().upper()


@dataclass(frozen=True)
class ForeignKeySpec:
    """A declared foreign key: recorded and reflected (for migrations), not enforced."""

    name: str | None
    columns: tuple[str, ...]
    referred_table: str
    referred_columns: tuple[str, ...]
    ondelete: str | None = None
    onupdate: str | None = None
    deferrable: bool | None = None
    initially: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "columns": list(self.columns),
                "referred_table": self.referred_table,
                "referred_columns": list(self.referred_columns),
                "ondelete": self.ondelete, "onupdate": self.onupdate,
                "deferrable": self.deferrable, "initially": self.initially}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ForeignKeySpec:
        return cls(data.get("name"), tuple(data["columns"]), data["referred_table"],
                   tuple(data["referred_columns"]), data.get("ondelete"), data.get("onupdate"),
                   data.get("deferrable"), data.get("initially"))

    @property
    def options(self) -> dict[str, Any]:
        """The options reflection reports, as PostgreSQL reports them: NO ACTION and INITIALLY
        IMMEDIATE are the defaults (not reported), INITIALLY DEFERRED implies DEFERRABLE."""
        initially = self.initially.upper() if self.initially else None
        deferred = initially == "DEFERRED"
        def action(value: str | None) -> str | None:  # NO ACTION is the default: unreported
            return None if value is None or value.upper() == "NO ACTION" else value

        pairs = (("ondelete", action(self.ondelete)), ("onupdate", action(self.onupdate)),
                 ("deferrable", True if deferred else self.deferrable),
                 ("initially", initially if deferred else None))
        return {k: v for k, v in pairs if v is not None}


@dataclass(frozen=True)
class IndexElement:
    """An index element other than a plain field in ascending order: a field in descending
    order (``field``), or an SQL expression over the document's fields (``sql``, in the
    statement language with unqualified field names, e.g. ``lower(name)`` or
    ``CAST(data -> 'a' ->> 'b' AS VARCHAR)``). JSON: ``{"field": ...}`` or ``{"sql": ...}``,
    with ``"desc": true``; a plain ascending field stays its name, as in older schemas."""

    field: str | None = None
    sql: str | None = None
    desc: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field} if self.field is not None else {
            "sql": self.sql}
        if self.desc:
            out["desc"] = True
        return out

    @property
    def text(self) -> str:
        """The element as reflection reports an expression: the SQL, or the field name."""
        return self.sql if self.sql is not None else str(self.field)


#: one element of an index: a field name (ascending), or an IndexElement
IndexKey = str | IndexElement


def plain_fields(elements: tuple[IndexKey, ...]) -> tuple[str, ...]:
    """The field names of an index whose elements are all plain fields."""
    names = tuple(e for e in elements if isinstance(e, str))
    if len(names) != len(elements):
        raise ProgrammingError("a UNIQUE index on an expression or in descending order is not "
                               "supported (unique values are kept per field)")
    return names


def index_key_json(key: IndexKey) -> Any:
    return key if isinstance(key, str) else key.to_json()


def index_key_from_json(data: Any) -> IndexKey:
    if isinstance(data, str):
        return data
    desc = bool(data.get("desc", False))
    if isinstance(data.get("field"), str):
        return IndexElement(field=data["field"], desc=desc)
    return IndexElement(sql=data["sql"], desc=desc)


def index_key_problem(data: Any) -> str | None:
    """What is wrong with one index element's JSON, or None."""
    if isinstance(data, str) and data:
        return None
    if isinstance(data, dict) and isinstance(data.get("desc", False), bool) and (
        (isinstance(data.get("field"), str) and data["field"] and "sql" not in data)
        or (isinstance(data.get("sql"), str) and data["sql"].strip() and "field" not in data)
    ):
        return None
    return (f"an index element must be a field name, or an object with a 'field' or an 'sql' "
            f"text and an optional boolean 'desc', not {data!r}")


@dataclass(frozen=True)
class CollectionSpec:
    name: str
    fields: tuple[FieldSpec, ...] = ()
    primary_key: tuple[str, ...] = ()
    autoincrement: str | None = None  # the integer key field filled from HiLo
    unique: tuple[tuple[str, ...], ...] = ()
    #: index name -> (elements, unique); an element is a field name or an IndexElement
    indexes: dict[str, tuple[tuple[IndexKey, ...], bool]] = field(default_factory=dict,
                                                                   hash=False)
    id_prefix: str = ""
    checks: tuple[tuple[str, str], ...] = ()  # (name, SQL expression) enforced on every write
    foreign_keys: tuple[ForeignKeySpec, ...] = ()  # recorded for reflection, not enforced
    #: the names of ``unique``'s constraints, in order (reflected; empty in older specs)
    unique_names: tuple[str | None, ...] = ()
    #: the single (string) primary-key field holds the whole document id (``orders/1-A``), as
    #: RavenDB clients' ``Id`` does, instead of the part after ``{prefix}/``; the id is then
    #: not stored in the body (documents other clients wrote have none there either)
    key_is_id: bool = False
    #: CREATE TEMPORARY TABLE: the connection that created it drops it when it closes (the
    #: dialect does not list it with the tables)
    temporary: bool = False
    #: a view: the SELECT (as the DB-API parses it) that queries naming it read instead; the
    #: collection holds no documents and takes no writes
    view: str | None = None
    #: the schema of a schema's table (the collection is then ``schema.table``); None for the
    #: default schema, whose table names may hold dots too
    schema: str | None = None
    #: every stored document's key field is NULL or its id's integer, the table's row key
    #: ``k`` (an INTEGER PRIMARY KEY whose ids are ``{name}/{integer}``): the embedded store
    #: sets it on a collection created empty by SQL and clears it, in the same transaction,
    #: with any write or schema change that may break it; a range of the key field is then
    #: searched on ``k`` (``sqlgen``) with no expression index to maintain on every update
    keys_agree: bool = False
    #: inferred from the documents of a collection nobody declared (``inference``): its
    #: fields' order is the documents', no declaration's (not kept in the JSON form)
    inferred: bool = field(default=False, compare=False)

    @cached_property
    def prefix(self) -> str:
        return self.id_prefix or self.name.lower()

    @cached_property
    def exact_fields(self) -> frozenset[str]:
        """Fields declared with an exact number type (integers, NUMERIC / DECIMAL)."""
        return frozenset(f.name for f in self.fields if f.base_type in EXACT_NUMBER_TYPES)

    @cached_property
    def binary_fields(self) -> frozenset[str]:
        """Fields declared with a binary type (stored as base64 text)."""
        return frozenset(f.name for f in self.fields if "BLOB" in f.base_type
                         or "BINARY" in f.base_type or f.base_type == "BYTEA")

    @cached_property
    def json_fields(self) -> frozenset[str]:
        """Fields declared JSON (stored ones): JSON null is ``null`` in the document there, SQL
        NULL the field left out (``values.JsonNull``)."""
        return frozenset(f.name for f in self.fields
                         if f.base_type == "JSON" and f.computed is None)

    @cached_property
    def decimal_fields(self) -> frozenset[str]:
        """Fields declared NUMERIC / DECIMAL."""
        return frozenset(f.name for f in self.fields if f.base_type in DECIMAL_TYPES)

    @property
    def unique_index_fields(self) -> list[tuple[str, ...]]:
        """The fields of each unique index (a unique index has plain fields only)."""
        return [plain_fields(elements) for elements, unique in self.indexes.values() if unique]

    @cached_property
    def unique_sets(self) -> tuple[tuple[str, ...], ...]:
        """The fields of each unique constraint and unique index (the primary key apart)."""
        return tuple(tuple(u) for u in (*self.unique, *self.unique_index_fields))

    @cached_property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @cached_property
    def rowid_key(self) -> bool:
        """Whether the key is an ``INTEGER PRIMARY KEY`` (SQLite's rowid: integers only)."""
        key = self.primary_key[0] if self.primary_key else None
        return any(f.name == key and f.type.split("(", 1)[0].upper() == "INTEGER"
                   for f in self.fields)

    @property
    def agreeable(self) -> bool:
        """Whether ``keys_agree`` can hold: a single INTEGER PRIMARY KEY kept in the body,
        ids ``{name}/{integer}`` (the table's key prefix), a table that holds documents."""
        return (self.rowid_key and len(self.primary_key) == 1 and not self.key_is_id
                and self.prefix == self.name.lower() and self.view is None)

    @cached_property
    def affinities(self) -> dict[str, ColumnAffinity]:
        """SQLite's affinity of each declared field."""
        return {f.name: column_affinity(f.type) for f in self.fields}

    @cached_property
    def value_affinities(self) -> dict[str, ValueAffinity]:
        """The ``ValueAffinity`` of each declared field."""
        return {f.name: value_affinity(f.type) for f in self.fields}

    @cached_property
    def required_fields(self) -> tuple[str, ...]:
        """The fields a written row must give a value, in field order: those declared NOT NULL
        and every primary-key field, as SQL's PRIMARY KEY implies NOT NULL (SQLite alone lets a
        key other than its INTEGER PRIMARY KEY hold NULL). An INSERT fills the HiLo key before
        the check, so NULL there still means "generate"."""
        return tuple(f.name for f in self.fields
                     if not f.nullable or f.name in self.primary_key)

    @cached_property
    def not_null(self) -> frozenset[str]:
        """``required_fields`` as a set: the fields that may not hold NULL."""
        return frozenset(self.required_fields)

    def to_json(self) -> dict[str, Any]:
        return {
            "fields": [_field_json(f) for f in self.fields],
            "primary_key": list(self.primary_key),
            "autoincrement": self.autoincrement,
            "unique": [list(u) for u in self.unique],
            "indexes": {k: [[index_key_json(e) for e in v[0]], v[1]]
                        for k, v in self.indexes.items()},
            "id_prefix": self.id_prefix,
            "checks": [list(c) for c in self.checks],
            "foreign_keys": [fk.to_json() for fk in self.foreign_keys],
            "unique_names": list(self.unique_names),
            **({"key_is_id": True} if self.key_is_id else {}),
            **({"temporary": True} if self.temporary else {}),
            **({"view": self.view} if self.view is not None else {}),
            **({"schema": self.schema} if self.schema is not None else {}),
            **({"keys_agree": True} if self.keys_agree else {}),
        }

    @classmethod
    def from_json(cls, name: str, data: dict[str, Any]) -> CollectionSpec:
        """The spec a CREATE COLLECTION statement (or the catalog) gives; a malformed one
        raises ProgrammingError naming what is wrong."""
        problem = _spec_problem(data)
        if problem:
            raise ProgrammingError(f"collection {name}: malformed specification: {problem}")
        return cls(
            name=name,
            fields=tuple(
                FieldSpec(f["name"], f.get("type", UNTYPED), f.get("nullable", True),
                          f.get("default"), f.get("default_sql"), f.get("computed"))
                for f in data.get("fields", ())
            ),
            primary_key=tuple(data.get("primary_key", ())),
            autoincrement=data.get("autoincrement"),
            unique=tuple(tuple(u) for u in data.get("unique", ())),
            indexes={k: (tuple(index_key_from_json(e) for e in v[0]), bool(v[1]))
                     for k, v in data.get("indexes", {}).items()},
            id_prefix=data.get("id_prefix", ""),
            checks=tuple((c[0], c[1]) for c in data.get("checks", ())),
            foreign_keys=tuple(ForeignKeySpec.from_json(fk)
                               for fk in data.get("foreign_keys", ())),
            unique_names=tuple(data.get("unique_names", ())),
            key_is_id=bool(data.get("key_is_id", False)),
            temporary=data.get("temporary", False),
            view=data.get("view"),
            schema=data.get("schema"),
            keys_agree=data.get("keys_agree") is True,
        )

    @cached_property
    def computed_fields(self) -> tuple[FieldSpec, ...]:
        return tuple(f for f in self.fields if f.computed is not None)

    @cached_property
    def declared(self) -> bool:
        """Whether the schema says anything: a collection that RavenDB (or the bundled
        server) created with its first document has no fields and no key recorded."""
        return bool(self.fields or self.primary_key)

    def document_id(self, key: tuple[Any, ...]) -> str:
        """RavenDB-shaped id: ``{prefix}/{key}`` (composite keys joined by '/'), or the key
        itself when it holds the whole id (``key_is_id``)."""
        if self.key_is_id:
            return _key_text(key[0])
        return self.prefix + "/" + "/".join(_key_text(k) for k in key)

    def stored_body(self, body: dict[str, Any]) -> dict[str, Any]:
        """The body as the store keeps it: without the key when the key is the id."""
        if self.key_is_id and self.primary_key[0] in body:
            return {k: v for k, v in body.items() if k != self.primary_key[0]}
        return body


def _field_json(f: FieldSpec) -> dict[str, Any]:
    out = {"name": f.name, "type": f.type, "nullable": f.nullable, "default": f.default}
    if f.default_sql is not None:
        out["default_sql"] = f.default_sql
    if f.computed is not None:
        out["computed"] = f.computed
    return out


def _names(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def field_problem(f: Any) -> str | None:
    """What is wrong with one field's JSON (``{"name": ..., "type": ..., ...}``), or None."""
    if not isinstance(f, dict) or not isinstance(f.get("name"), str):
        return f"a field must be an object with a string 'name', not {f!r}"
    if not isinstance(f.get("type", ""), str) or not isinstance(f.get("nullable", True), bool):
        return f"field {f['name']!r}: 'type' must be a string and 'nullable' a boolean"
    if not all(isinstance(f.get(k), (str, type(None))) for k in ("default_sql", "computed")):
        return f"field {f['name']!r}: 'default_sql' and 'computed' must be SQL text or null"
    return None


def foreign_key_problem(fk: Any) -> str | None:
    """What is wrong with one foreign key's JSON, or None."""
    if not isinstance(fk, dict) or not _names(fk.get("columns")) or not _names(
            fk.get("referred_columns")) or not isinstance(fk.get("referred_table"), str):
        return ("a foreign key must be an object with 'columns', 'referred_table' and "
                f"'referred_columns', not {fk!r}")
    if not all(isinstance(fk.get(k), (str, type(None))) for k in ("name", "ondelete",
                                                                  "onupdate", "initially")):
        return "a foreign key's 'name', 'ondelete', 'onupdate' and 'initially' must be text"
    return None


def alter_problem(action: str, data: dict[str, Any]) -> str | None:
    """What is wrong with an ALTER COLLECTION action's JSON, or None (unknown actions are
    refused when applied)."""
    if action in ("add_column", "drop_column", "alter_column"):
        problem = field_problem(data)
        if problem is None and not isinstance(data.get("new_name", ""), str):
            problem = "'new_name' must be a string"
        return problem
    if action == "rename_table":
        return None if isinstance(data.get("new_name"), str) and data["new_name"] else (
            "'new_name' must be a non-empty string")
    if action == "add_foreign_key":
        return foreign_key_problem(data)
    if action == "drop_foreign_key":
        return None if isinstance(data.get("name"), str) else "'name' must be a string"
    if action == "rename_references":
        ok = isinstance(data.get("table"), str) and isinstance(data.get("new_table", ""), str)
        columns = data.get("columns", {})
        if not ok or not isinstance(columns, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in columns.items()):
            return "'table', 'new_table' and 'columns' (old name -> new name) must be names"
        return None
    if action == "restore":
        return _spec_problem(data.get("spec"))
    return None


def _spec_problem(data: Any) -> str | None:  # noqa: PLR0911 - one answer per key
    """What is wrong with a collection specification's JSON, or None."""
    if not isinstance(data, dict):
        return f"expected a JSON object, not {type(data).__name__}"
    fields = data.get("fields", [])
    if not isinstance(fields, list):
        return "'fields' must be a list"
    for f in fields:
        problem = field_problem(f)
        if problem:
            return problem
    if not _names(data.get("primary_key", [])):
        return "'primary_key' must be a list of field names"
    if not isinstance(data.get("autoincrement"), (str, type(None))):
        return "'autoincrement' must be a field name or null"
    unique = data.get("unique", [])
    if not isinstance(unique, list) or not all(_names(u) for u in unique):
        return "'unique' must be a list of lists of field names"
    indexes = data.get("indexes", {})
    if not isinstance(indexes, dict) or not all(
        isinstance(v, list) and len(v) == 2 and isinstance(v[0], list) and v[0]
        for v in indexes.values()
    ):
        return "'indexes' must map index names to [elements, unique]"
    for elements, unique in indexes.values():
        problem = next(filter(None, map(index_key_problem, elements)), None)
        if problem:
            return problem
        if unique and not all(isinstance(e, str) for e in elements):
            return "a unique index has field names only"
    if not isinstance(data.get("id_prefix", ""), str):
        return "'id_prefix' must be a string"
    checks = data.get("checks", [])
    if not isinstance(checks, list) or not all(
        isinstance(c, list) and len(c) == 2 and isinstance(c[0], (str, type(None)))
        and isinstance(c[1], str) for c in checks
    ):
        return "'checks' must be a list of [name, SQL expression]"
    foreign_keys = data.get("foreign_keys", [])
    if not isinstance(foreign_keys, list):
        return "'foreign_keys' must be a list"
    for fk in foreign_keys:
        problem = foreign_key_problem(fk)
        if problem:
            return problem
    names = data.get("unique_names", [])
    if not isinstance(names, list) or not all(isinstance(n, (str, type(None))) for n in names):
        return "'unique_names' must be a list of names (or nulls)"
    if data.get("key_is_id") and len(data.get("primary_key", [])) != 1:
        return "'key_is_id' needs a primary key of one field"
    if not isinstance(data.get("temporary", False), bool):
        return "'temporary' must be true or false"
    if not isinstance(data.get("view"), (str, type(None))):
        return "'view' must be the text of a SELECT"
    if not isinstance(data.get("schema"), (str, type(None))):
        return "'schema' must be a schema name or null"
    return None


def qualified(schema: str | None, name: str) -> str:
    """The collection of table ``name`` in ``schema``. A schema is a namespace of collections:
    its tables are the collections ``schema.name`` (their specs name the schema); the default
    schema (None) is the names alone."""
    return name if schema is None else f"{schema}.{name}"


def split_qualified(collection: str, schema: str | None) -> tuple[str | None, str]:
    """(schema, table) of a collection of ``schema`` (its spec's): the inverse of
    :func:`qualified`."""
    if schema is None:
        return None, collection
    return schema, collection[len(schema) + 1:]


def _key_text(value: Any) -> str:
    """The id text of a key value: SQL-equal numbers get one text (1, 1.0, Decimal("1.00")
    are all "1"; 1.5 and Decimal("1.50") are "1.5"), so they name one document."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Decimal) and value.is_finite():
        if value == value.to_integral_value():
            return str(int(value))
        return format(value.normalize(), "f")
    return str(value)
