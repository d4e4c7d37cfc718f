"""Collection schemas: the declared fields, key and constraints a SQL table maps onto."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str = "JSON"
    nullable: bool = True
    default: Any = None  # a constant default applied when an insert omits the field


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
            "fields": [
                {"name": f.name, "type": f.type, "nullable": f.nullable, "default": f.default}
                for f in self.fields
            ],
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
                          f.get("default"))
                for f in data.get("fields", ())
            ),
            primary_key=tuple(data.get("primary_key", ())),
            autoincrement=data.get("autoincrement"),
            unique=tuple(tuple(u) for u in data.get("unique", ())),
            indexes={k: (tuple(v[0]), bool(v[1])) for k, v in data.get("indexes", {}).items()},
            id_prefix=data.get("id_prefix", ""),
            checks=tuple((c[0], c[1]) for c in data.get("checks", ())),
        )

    def document_id(self, key: tuple[Any, ...]) -> str:
        """RavenDB-shaped id: ``{prefix}/{key}`` (composite keys joined by '/')."""
        return self.prefix + "/" + "/".join(_key_text(k) for k in key)


def _key_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
