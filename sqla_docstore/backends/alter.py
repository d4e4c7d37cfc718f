"""ALTER COLLECTION: a schema change and the documents it rewrites, planned before anything is
applied (shared by both backends).

A plan validates the change against every stored document first: a NOT NULL over existing
nulls, a value a new type cannot hold, or a name in use refuses the whole statement with
nothing changed. The backend then writes the rewritten documents and the new schema together
(one SQLite transaction; one RavenDB batch).
"""

from __future__ import annotations

import decimal
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from ..errors import IntegrityError, NotSupportedError, OperationalError, ProgrammingError
from ..schema import UNTYPED, CollectionSpec, FieldSpec, ForeignKeySpec, IndexElement, IndexKey

Documents = Iterable[tuple[str, dict[str, Any]]]


class Action(Enum):
    ADD_COLUMN = "add_column"
    DROP_COLUMN = "drop_column"
    ALTER_COLUMN = "alter_column"
    RENAME_TABLE = "rename_table"
    ADD_FOREIGN_KEY = "add_foreign_key"
    DROP_FOREIGN_KEY = "drop_foreign_key"
    RENAME_REFERENCES = "rename_references"  # foreign keys follow a renamed table / column
    RESTORE = "restore"  # put back a schema as it was (undoing a migration that failed)


class Affinity(Enum):
    """What values a column type holds after a type change (SQLite's affinity rules)."""

    INTEGER = "integer"
    REAL = "real"
    TEXT = "text"
    BOOLEAN = "boolean"
    ANY = "any"


@dataclass(frozen=True)
class AlterPlan:
    spec: CollectionSpec  # the collection's schema afterwards (its new name after a rename)
    bodies: dict[str, dict[str, Any]]  # id -> new body, for the documents that change
    #: a renamed collection's documents take ids under its new prefix: old id -> new id
    ids: dict[str, str] = field(default_factory=dict)
    #: the highest integer key in use, which the new prefix's HiLo range must start above
    max_key: int = 0


def plan_alter(spec: CollectionSpec, action: str, data: dict[str, Any],
               documents: Documents) -> AlterPlan:
    try:
        kind = Action(action)
    except ValueError:
        raise NotSupportedError(f"ALTER COLLECTION {action} is not supported") from None
    docs = list(documents)
    plan = _plan(spec, kind, data, docs)
    _check_unique(plan, docs)
    return plan


def _plan(spec: CollectionSpec, kind: Action, data: dict[str, Any],
          docs: list[tuple[str, dict[str, Any]]]) -> AlterPlan:
    if kind is Action.ADD_COLUMN:
        return _add_column(spec, data, docs)
    if kind is Action.DROP_COLUMN:
        return _drop_column(spec, data["name"], docs)
    if kind is Action.ALTER_COLUMN:
        return _alter_column(spec, data, docs)
    if kind is Action.RENAME_TABLE:
        return _rename_table(spec, data["new_name"], docs)
    if kind is Action.RENAME_REFERENCES:
        return AlterPlan(_renamed_references(spec, data), {})
    if kind is Action.RESTORE:
        return AlterPlan(CollectionSpec.from_json(spec.name, data["spec"]), {})
    if kind is Action.ADD_FOREIGN_KEY:
        return AlterPlan(_add_foreign_key(spec, ForeignKeySpec.from_json(data)), {})
    return AlterPlan(_drop_foreign_key(spec, data["name"]), {})


def _check_unique(plan: AlterPlan, docs: list[tuple[str, dict[str, Any]]]) -> None:
    """Converted or moved values must still be unique where the schema says so."""
    for fields in plan.spec.unique_sets:
        owners: dict[str, str] = {}
        for doc_id, stored in docs:
            body = plan.bodies.get(doc_id, stored)
            values = [body.get(f) for f in fields]
            if any(v is None for v in values):
                continue
            key = repr([(type(v).__name__, v) for v in values])
            other = owners.setdefault(key, doc_id)
            if other != doc_id:
                raise IntegrityError(
                    f"UNIQUE constraint failed: {plan.spec.name}({', '.join(fields)}): documents "
                    f"{other!r} and {doc_id!r} would hold one value; nothing was changed")


def _rename_table(spec: CollectionSpec, new_name: str,
                  docs: list[tuple[str, dict[str, Any]]]) -> AlterPlan:
    """Documents follow the collection's name into their ids (``users/1`` -> ``people/1``), so
    the old name is free again, as in SQL (RavenDB ids are unique across collections); an
    explicit ``id_prefix`` stays."""
    renamed = replace(spec, name=new_name)
    if spec.id_prefix:
        return AlterPlan(renamed, {})
    old = spec.prefix + "/"
    new = renamed.prefix + "/"
    ids = {doc_id: new + doc_id[len(old):] for doc_id, _ in docs
           if doc_id[:len(old)].lower() == old.lower()}
    keys = [body.get(spec.autoincrement) for _, body in docs] if spec.autoincrement else []
    ints = [k for k in keys if isinstance(k, int) and not isinstance(k, bool)]
    return AlterPlan(renamed, {}, ids, max(ints, default=0))


def _field(spec: CollectionSpec, name: str) -> FieldSpec:
    for f in spec.fields:
        if f.name == name:
            return f
    raise OperationalError(f"no such column: {spec.name}.{name}")


def _no_field(spec: CollectionSpec, name: str) -> None:
    if any(f.name == name for f in spec.fields):
        raise OperationalError(f"duplicate column name: {spec.name}.{name}")


def _nulls(docs: list[tuple[str, dict[str, Any]]], name: str) -> list[str]:
    return [doc_id for doc_id, body in docs if body.get(name) is None]


def _refuse_nulls(spec: CollectionSpec, name: str, nulls: list[str], what: str) -> None:
    if nulls:
        shown = ", ".join(repr(i) for i in nulls[:3]) + (" ..." if len(nulls) > 3 else "")
        raise IntegrityError(
            f"NOT NULL constraint failed: {spec.name}.{name}: {what}: {len(nulls)} stored "
            f"document(s) have no value ({shown}); nothing was changed")


def _add_column(spec: CollectionSpec, data: dict[str, Any],
                docs: list[tuple[str, dict[str, Any]]]) -> AlterPlan:
    name, default = data["name"], data.get("default")
    _no_field(spec, name)
    nulls = _nulls(docs, name)
    if default is None and not data.get("nullable", True):
        _refuse_nulls(spec, name, nulls, "adding a NOT NULL column without a default")
    new = FieldSpec(name, data.get("type", UNTYPED), data.get("nullable", True), default)
    bodies = {} if default is None else {
        doc_id: {**body, name: default} for doc_id, body in docs if body.get(name) is None}
    return AlterPlan(replace(spec, fields=(*spec.fields, new)), bodies)


def _drop_column(spec: CollectionSpec, name: str,
                 docs: list[tuple[str, dict[str, Any]]]) -> AlterPlan:
    _field(spec, name)
    uses = _uses(spec, name)
    if uses:
        raise OperationalError(f"cannot drop column {spec.name}.{name}: used by {uses}")
    fields = tuple(f for f in spec.fields if f.name != name)
    bodies = {doc_id: {k: v for k, v in body.items() if k != name}
              for doc_id, body in docs if name in body}
    return AlterPlan(replace(spec, fields=fields), bodies)


def _uses(spec: CollectionSpec, name: str) -> str | None:
    """What refers to a column by name, as SQLite refuses to drop one such column."""
    if name in spec.primary_key:
        return "the primary key"
    for fields in spec.unique:
        if name in fields:
            return "a unique constraint"
    word = re.compile(rf"\b{re.escape(name)}\b", re.IGNORECASE)
    for index, (elements, _) in spec.indexes.items():
        if any(_index_reads(e, name, word) for e in elements):
            return f"index {index}"
    for fk in spec.foreign_keys:
        if name in fk.columns:
            return f"foreign key {fk.name or ''}".strip()
    for check_name, sql in spec.checks:
        if word.search(sql):
            return f"CHECK constraint {check_name}".strip()
    for f in spec.fields:
        if f.computed is not None and word.search(f.computed):
            return f"generated column {f.name}"
    return None


def _index_reads(element: IndexKey, name: str, word: re.Pattern[str]) -> bool:
    if isinstance(element, str):
        return element == name
    return element.field == name or (element.sql is not None and bool(word.search(element.sql)))


def _alter_column(spec: CollectionSpec, data: dict[str, Any],
                  docs: list[tuple[str, dict[str, Any]]]) -> AlterPlan:
    name = data["name"]
    old = _field(spec, name)
    new = old
    bodies: dict[str, dict[str, Any]] = {}
    if "type" in data and data["type"] != old.type:
        bodies = _converted(spec, name, data["type"], docs)
        new = replace(new, type=data["type"])
    if "default" in data:  # a new server default applies to later inserts, as in SQL
        new = replace(new, default=data["default"], default_sql=data.get("default_sql"))
    if data.get("nullable") is True and name in spec.primary_key:
        # as PostgreSQL: a key column stays NOT NULL (a NULL can't be part of a document id)
        raise ProgrammingError(f"making {spec.name}.{name} nullable: the column is in the "
                               "primary key")
    if data.get("nullable") is False and old.nullable:
        _refuse_nulls(spec, name, _nulls(docs, name), "making the column NOT NULL")
    if "nullable" in data:
        new = replace(new, nullable=bool(data["nullable"]))
    fields = tuple(new if f.name == name else f for f in spec.fields)
    out = replace(spec, fields=fields)
    new_name = data.get("new_name")
    if new_name and new_name != name:
        return _renamed(out, name, new_name, docs, bodies)
    return AlterPlan(out, bodies)


def _renamed(spec: CollectionSpec, name: str, new_name: str,
             docs: list[tuple[str, dict[str, Any]]],
             bodies: dict[str, dict[str, Any]]) -> AlterPlan:
    """A column rename moves each document's value to the new field name."""
    _no_field(spec, new_name)
    word = re.compile(rf"\b{re.escape(name)}\b", re.IGNORECASE)
    for check_name, sql in spec.checks:
        if word.search(sql):
            raise NotSupportedError(f"renaming {spec.name}.{name}: CHECK constraint "
                                    f"{check_name} refers to it; drop it first")
    if any(f.computed is not None and word.search(f.computed) for f in spec.fields):
        raise NotSupportedError(f"renaming {spec.name}.{name}: a generated column refers to it")
    for index, (elements, _) in spec.indexes.items():
        if any(isinstance(e, IndexElement) and e.sql is not None and word.search(e.sql)
               for e in elements):
            raise NotSupportedError(f"renaming {spec.name}.{name}: the expression of index "
                                    f"{index} refers to it; drop the index first")

    def swap(names: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(new_name if n == name else replace(n, field=new_name) if (
            isinstance(n, IndexElement) and n.field == name) else n for n in names)

    out = replace(
        spec,
        fields=tuple(replace(f, name=new_name) if f.name == name else f for f in spec.fields),
        primary_key=swap(spec.primary_key),
        autoincrement=new_name if spec.autoincrement == name else spec.autoincrement,
        unique=tuple(swap(u) for u in spec.unique),
        indexes={k: (swap(v[0]), v[1]) for k, v in spec.indexes.items()},
        foreign_keys=tuple(replace(fk, columns=swap(fk.columns)) for fk in spec.foreign_keys),
    )
    moved: dict[str, dict[str, Any]] = {}
    for doc_id, stored in docs:
        body = bodies.get(doc_id, stored)
        if name in body:
            moved[doc_id] = {(new_name if k == name else k): v for k, v in body.items()}
    return AlterPlan(out, moved)


def affinity(type_name: str) -> Affinity:
    upper = type_name.upper()
    if "BOOL" in upper:
        return Affinity.BOOLEAN
    if "INT" in upper:
        return Affinity.INTEGER
    if any(t in upper for t in ("CHAR", "CLOB", "TEXT", "STRING")):
        return Affinity.TEXT
    if any(t in upper for t in ("REAL", "FLOA", "DOUB", "NUMERIC", "DECIMAL")):
        return Affinity.REAL
    return Affinity.ANY


def _converted(spec: CollectionSpec, name: str, type_name: str,
               docs: list[tuple[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    target = affinity(type_name)
    out: dict[str, dict[str, Any]] = {}
    for doc_id, body in docs:
        value = body.get(name)
        if value is None:
            continue
        new = _convert(value, target)
        if new is _UNFIT:
            raise OperationalError(
                f"changing {spec.name}.{name} to {type_name}: stored value {value!r} of "
                f"document {doc_id!r} does not convert; nothing was changed")
        if new is not value and (new != value or type(new) is not type(value)):
            out[doc_id] = {**body, name: new}
    return out


_UNFIT: Any = object()


def _convert(value: Any, target: Affinity) -> Any:
    """A stored value under a new column type: converted where SQLite's affinity would store
    the same value, else _UNFIT (documents keep typed values, so text in an INTEGER field would
    read back wrong)."""
    if target is Affinity.ANY or isinstance(value, (dict, list)):
        return value if target is Affinity.ANY else _UNFIT
    if target is Affinity.TEXT:
        if isinstance(value, bool):
            return "1" if value else "0"
        if isinstance(value, float) and value.is_integer():
            return repr(value)  # SQLite: 2.0 -> '2.0'
        return value if isinstance(value, str) else str(value)
    if target is Affinity.BOOLEAN:
        if isinstance(value, bool):
            return value
        return bool(value) if value in (0, 1) else _UNFIT
    number = _number(value)
    if number is _UNFIT:
        return _UNFIT
    if target is Affinity.INTEGER:
        if isinstance(number, bool):
            return int(number)
        if isinstance(number, int):
            return number
        return int(number) if number == int(number) else _UNFIT
    return number if not isinstance(number, bool) else int(number)


def _number(value: Any) -> Any:
    if isinstance(value, (int, float, decimal.Decimal)):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            return float(text)
        except ValueError:
            return _UNFIT
    return _UNFIT


def _renamed_references(spec: CollectionSpec, data: dict[str, Any]) -> CollectionSpec:
    """Foreign keys referring to ``table`` follow its new name and renamed columns, as SQLite's
    ALTER TABLE RENAME rewrites the references to a renamed table or column."""
    table, new_table = data["table"], data.get("new_table", data["table"])
    columns: dict[str, str] = data.get("columns", {})
    fks = tuple(
        replace(fk, referred_table=new_table,
                referred_columns=tuple(columns.get(c, c) for c in fk.referred_columns))
        if fk.referred_table == table else fk
        for fk in spec.foreign_keys)
    return replace(spec, foreign_keys=fks)


def _add_foreign_key(spec: CollectionSpec, fk: ForeignKeySpec) -> CollectionSpec:
    for col in fk.columns:
        _field(spec, col)
    if fk.name and any(f.name == fk.name for f in spec.foreign_keys):
        raise OperationalError(f"foreign key {fk.name} already exists on {spec.name}")
    return replace(spec, foreign_keys=(*spec.foreign_keys, fk))


def _drop_foreign_key(spec: CollectionSpec, name: str) -> CollectionSpec:
    kept = tuple(fk for fk in spec.foreign_keys if fk.name != name)
    if len(kept) == len(spec.foreign_keys):
        raise OperationalError(f"no such foreign key: {name} on {spec.name}")
    return replace(spec, foreign_keys=kept)
