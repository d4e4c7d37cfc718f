"""Alembic support: migrations change collection schemas (fields, indexes), not tables."""

from __future__ import annotations

import json
from typing import Any

from alembic.ddl.impl import DefaultImpl
from sqlalchemy import Column, ForeignKeyConstraint, Index, UniqueConstraint, exc
from sqlalchemy.schema import CreateIndex, DropIndex
from sqlalchemy.sql import sqltypes

from .compiler import _constant_default, _field_spec, _type_name, foreign_key_json


class DocstoreImpl(DefaultImpl):
    __dialect__ = "docstore"
    # Schema changes apply at once, outside the write batch (as collection changes in RavenDB).
    transactional_ddl = False

    def _alter(self, table_name: str, action: str, spec: dict[str, Any]) -> None:
        quoted = self.dialect.identifier_preparer.quote(table_name)
        stmt = f"ALTER COLLECTION {quoted} {json.dumps({'action': action, **spec})}"
        if self.as_sql:
            self.static_output(stmt + self.command_terminator)
        else:
            assert self.connection is not None
            self.connection.exec_driver_sql(stmt)

    def add_column(self, table_name: str, column: Any, *args: Any, **kw: Any) -> None:
        self._alter(table_name, "add_column", {
            "name": column.name,
            "type": _type_name(column.type, self.dialect.type_compiler_instance),
            "nullable": bool(column.nullable),
            "default": _constant_default(column),
        })

    def drop_column(self, table_name: str, column: Any, *args: Any, **kw: Any) -> None:
        self._alter(table_name, "drop_column", {"name": column.name})

    def alter_column(self, table_name: str, column_name: str, *args: Any, **kw: Any) -> None:
        """One ALTER COLLECTION for a rename, a type, a nullability and a default change: the
        store checks every stored document first (NOT NULL over nulls, values the new type
        cannot hold) and changes nothing when one fails."""
        if kw.get("comment") not in (None, False):
            raise exc.CompileError("alter_column(comment=...) is not supported by sqla_docstore")
        spec: dict[str, Any] = {"name": column_name}
        if kw.get("nullable") is not None:
            spec["nullable"] = bool(kw["nullable"])
        if kw.get("type_") is not None:
            spec["type"] = _type_name(sqltypes.to_instance(kw["type_"]),
                                      self.dialect.type_compiler_instance)
        if kw.get("name") is not None and kw["name"] != column_name:
            spec["new_name"] = kw["name"]
        if kw.get("server_default", False) is not False:
            spec.update(self._default_spec(column_name, kw))
        self._alter(table_name, "alter_column", spec)

    def _default_spec(self, column_name: str, kw: dict[str, Any]) -> dict[str, Any]:
        default = kw["server_default"]
        if default is None:
            return {"default": None, "default_sql": None}
        type_ = kw.get("type_") or kw.get("existing_type") or sqltypes.NullType()
        col = Column(column_name, type_, server_default=default)
        field = _field_spec(col, self.dialect)
        return {"default": field["default"], "default_sql": field.get("default_sql")}

    def rename_table(self, old_table_name: str, new_table_name: Any,
                     schema: Any = None) -> None:
        self._alter(old_table_name, "rename_table", {"new_name": str(new_table_name)})

    def add_constraint(self, const: Any, **kw: Any) -> None:
        if isinstance(const, ForeignKeyConstraint):
            self._alter(const.parent.name, "add_foreign_key", foreign_key_json(const))
        elif isinstance(const, UniqueConstraint):
            # A named unique index: the store refuses it over duplicate stored values.
            self._exec(CreateIndex(_unique_index(const)))
        else:
            raise exc.CompileError(
                f"adding a {type(const).__name__} to an existing table is not supported by "
                "sqla_docstore")

    def drop_constraint(self, const: Any, **kw: Any) -> None:
        if isinstance(const, ForeignKeyConstraint):
            self._alter(const.parent.name, "drop_foreign_key", {"name": const.name})
        elif isinstance(const, UniqueConstraint):
            self._exec(DropIndex(_unique_index(const)))
        else:
            raise exc.CompileError(
                f"dropping a {type(const).__name__} is not supported by sqla_docstore")


def _unique_index(const: UniqueConstraint) -> Index:
    if not isinstance(const.name, str):
        raise exc.CompileError("a unique constraint added or dropped by Alembic needs a name")
    return Index(const.name, *const.columns, unique=True)


class RavenDBImpl(DocstoreImpl):
    __dialect__ = "ravendb"
