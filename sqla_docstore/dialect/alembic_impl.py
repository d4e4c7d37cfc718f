"""Alembic support: migrations change collection schemas (fields, indexes), not tables."""

from __future__ import annotations

import json
from typing import Any

from alembic.ddl.impl import DefaultImpl
from sqlalchemy import exc

from .compiler import _constant_default, _type_name


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
        spec: dict[str, Any] = {"name": column_name}
        if kw.get("nullable") is not None:
            spec["nullable"] = bool(kw["nullable"])
        if kw.get("type_") is not None:
            spec["type"] = _type_name(kw["type_"], self.dialect.type_compiler_instance)
        unsupported = [k for k in ("name", "server_default", "comment") if kw.get(k) not in
                       (None, False)]
        if unsupported:
            raise exc.CompileError(
                f"alter_column({', '.join(unsupported)}=...) is not supported by sqla_docstore"
            )
        self._alter(table_name, "alter_column", spec)


class RavenDBImpl(DocstoreImpl):
    __dialect__ = "ravendb"
