"""Collection schemas: the declared fields, key and constraints a SQL table maps onto."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str = "JSON"
    nullable: bool = True
    default: Any = None  # a constant default applied when an insert omits the field
    #: a SQL expression (SQLite's syntax and semantics, no field references) evaluated when
    #: an insert omits the field, e.g. ``CURRENT_TIMESTAMP``; ``default`` is then unused
    default_sql: str | None = None
    #: a generated column: SQL over the document's other fields, stored on every write
    #: (as SQLite's STORED generated columns are); writes may not set it themselves
    computed: str | None = None


@dataclass(frozen=True)
class CollectionSpec:
    name: str
    fields: tuple[FieldSpec, ...] = ()
    primary_key: tuple[str, ...] = ()
    autoincrement: str | None = None  # the integer key field filled from HiLo
    unique: tuple[tuple[str, ...], ...] = ()
    indexes: dict[str, tuple[tuple[str, ...], bool]] = field(default_factory=dict, hash=False)
    id_prefix: str = ""
    checks: tuple[tuple[str, str], ...] = ()  # (name, SQL expression) enforced on every write

    @property
    def prefix(self) -> str:
        return self.id_prefix or self.name.lower()

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def to_json(self) -> dict[str, Any]:
        return {
            "fields": [_field_json(f) for f in self.fields],
            "primary_key": list(self.primary_key),
            "autoincrement": self.autoincrement,
            "unique": [list(u) for u in self.unique],
            "indexes": {k: [list(v[0]), v[1]] for k, v in self.indexes.items()},
            "id_prefix": self.id_prefix,
            "checks": [list(c) for c in self.checks],
        }

    @classmethod
    def from_json(cls, name: str, data: dict[str, Any]) -> CollectionSpec:
        return cls(
            name=name,
            fields=tuple(
                FieldSpec(f["name"], f.get("type", "JSON"), f.get("nullable", True),
                          f.get("default"), f.get("default_sql"), f.get("computed"))
                for f in data.get("fields", ())
            ),
            primary_key=tuple(data.get("primary_key", ())),
            autoincrement=data.get("autoincrement"),
            unique=tuple(tuple(u) for u in data.get("unique", ())),
            indexes={k: (tuple(v[0]), bool(v[1])) for k, v in data.get("indexes", {}).items()},
            id_prefix=data.get("id_prefix", ""),
            checks=tuple((c[0], c[1]) for c in data.get("checks", ())),
        )

    @cached_property
    def computed_fields(self) -> tuple[FieldSpec, ...]:
        return tuple(f for f in self.fields if f.computed is not None)

    def document_id(self, key: tuple[Any, ...]) -> str:
        """RavenDB-shaped id: ``{prefix}/{key}`` (composite keys joined by '/')."""
        return self.prefix + "/" + "/".join(_key_text(k) for k in key)


def _field_json(f: FieldSpec) -> dict[str, Any]:
    out = {"name": f.name, "type": f.type, "nullable": f.nullable, "default": f.default}
    if f.default_sql is not None:
        out["default_sql"] = f.default_sql
    if f.computed is not None:
        out["computed"] = f.computed
    return out


def _key_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
