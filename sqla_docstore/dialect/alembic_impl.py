"""Alembic support: migrations change collection schemas (fields, indexes), not tables."""

from __future__ import annotations

import json
from typing import Any

from alembic.ddl.impl import ComparisonResult, DefaultImpl
from alembic.util.sqla_compat import is_expression_index
from sqlalchemy import Column, ForeignKeyConstraint, Index, UniqueConstraint, event, exc
from sqlalchemy.schema import DropIndex
from sqlalchemy.sql import sqltypes

from .. import errors
from ..schema import index_key_json
from .compiler import (
    _constant_default,
    _field_spec,
    _type_name,
    foreign_key_json,
    index_elements,
)
from .migration_undo import UndoLog, run_ddl


class DocstoreImpl(DefaultImpl):
    """Each operation checks the stored documents before it changes anything; a migration that
    raises is undone as a whole when Alembic rolls its transaction back (see migration_undo)."""

    __dialect__ = "docstore"
    # Schema changes apply at once, outside the write batch (as collection changes in RavenDB);
    # the undo log makes each migration all-or-nothing instead.
    transactional_ddl = False

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._undo = UndoLog()
        if self.connection is not None and not self.as_sql:
            event.listen(self.connection, "commit", self._committed)
            event.listen(self.connection, "rollback", self._rolled_back)

    def _committed(self, conn: Any) -> None:
        self._undo.forget()

    def _rolled_back(self, conn: Any) -> None:
        self._undo.revert(self._dbapi())

    def _dbapi(self) -> Any:
        assert self.connection is not None
        return self.connection.connection.dbapi_connection

    def _before(self, *tables: str) -> None:
        """Before a schema change: send the migration's pending writes and keep (for undo)
        every collection they or the change touch."""
        if not self.as_sql:
            self._undo.before_change(self._dbapi(), tables)

    def _alter(self, table_name: str, action: str, spec: dict[str, Any]) -> None:
        stmt = self._alter_text(table_name, action, spec)
        if self.as_sql:
            self.static_output(stmt + self.command_terminator)
            return
        assert self.connection is not None
        if action == "rename_table":
            self._before(spec["new_name"])
            self.connection.exec_driver_sql(stmt)
            back = self._alter_text(spec["new_name"], action, {"new_name": table_name})
            self._undo.add(lambda c: run_ddl(c, back))
            self._rename_references(table_name, {"new_table": spec["new_name"]})
        else:
            self._before(table_name)
            self.connection.exec_driver_sql(stmt)
            if action == "alter_column" and spec.get("new_name"):
                self._rename_references(table_name, {"columns": {spec["name"]:
                                                                 spec["new_name"]}})

    def _rename_references(self, table_name: str, change: dict[str, Any]) -> None:
        """Foreign keys of every collection follow a renamed table or referred column."""
        backend = self._dbapi().backend
        for name in backend.collection_names():
            try:
                fks = backend.spec(name).foreign_keys
            except errors.OperationalError:
                continue
            if any(fk.referred_table == table_name for fk in fks):
                self._alter(name, "rename_references", {"table": table_name, **change})

    def _alter_text(self, table_name: str, action: str, spec: dict[str, Any]) -> str:
        quoted = self.dialect.identifier_preparer.quote(table_name)
        return f"ALTER COLLECTION {quoted} {json.dumps({'action': action, **spec})}"

    def create_table(self, table: Any, **kw: Any) -> None:
        self._before(table.name)
        super().create_table(table, **kw)

    def drop_table(self, table: Any, **kw: Any) -> None:
        self._before(table.name)
        super().drop_table(table, **kw)

    def create_index(self, index: Any, **kw: Any) -> None:
        self._before(index.table.name)
        super().create_index(index, **kw)
        if not self.as_sql:
            drop = self._ddl(DropIndex(index))
            self._undo.add(lambda c: run_ddl(c, drop))

    def drop_index(self, index: Any, **kw: Any) -> None:
        owner = self._index_owner(index)
        if owner is None:  # offline, or no such index: DROP INDEX says so
            super().drop_index(index, **kw)
            return
        self._before(owner)
        fields, unique = self._dbapi().backend.spec(owner).indexes[index.name]
        super().drop_index(index, **kw)
        spec = {"collection": owner, "fields": [index_key_json(f) for f in fields],
                "unique": unique}
        create = f"CREATE INDEX {self.dialect.identifier_preparer.quote(index.name)} " \
            f"{json.dumps(spec)}"
        self._undo.add(lambda c: run_ddl(c, create))

    def compare_indexes(self, metadata_index: Any, reflected_index: Any) -> Any:
        """An index on expressions (or in descending order) compares by the elements the
        collection's schema keeps: the text this dialect renders for the model's expressions
        against the stored text (Alembic's default compares column names only)."""
        if not (is_expression_index(metadata_index) or is_expression_index(reflected_index)):
            return super().compare_indexes(metadata_index, reflected_index)
        try:
            wanted = (index_elements(metadata_index, self.dialect), bool(metadata_index.unique))
            owner = self._index_owner(reflected_index)
            stored = self._dbapi().backend.spec(owner).indexes[reflected_index.name]
        except (exc.CompileError, errors.Error, KeyError):
            return super().compare_indexes(metadata_index, reflected_index)
        have = ([index_key_json(e) for e in stored[0]], stored[1])
        if wanted == have:
            return ComparisonResult.Equal()
        return ComparisonResult.Different([f"{have} to {wanted}"])

    def _ddl(self, element: Any) -> str:
        return str(element.compile(dialect=self.dialect))

    def _index_owner(self, index: Any) -> str | None:
        """The collection declaring an index (Alembic may name no table for drop_index)."""
        if self.as_sql:
            return None
        backend = self._dbapi().backend
        names = [index.table.name] if index.table is not None else backend.collection_names()
        for name in names:
            try:
                if index.name in backend.spec(name).indexes:
                    return str(name)
            except errors.OperationalError:
                continue
        return None

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

    def compare_server_default(self, inspector_column: Any, metadata_column: Any,
                               rendered_metadata_default: str | None,
                               rendered_inspector_default: str | None) -> bool:
        """Defaults compare as the values they stand for: ``x``, ``'x'`` and ``('x')`` are
        one default (reflection reports constants as SQL literals, as SQLite's does)."""
        return _default_text(rendered_inspector_default) != _default_text(
            rendered_metadata_default)

    def rename_table(self, old_table_name: str, new_table_name: Any,
                     schema: Any = None) -> None:
        self._alter(old_table_name, "rename_table", {"new_name": str(new_table_name)})

    def add_constraint(self, const: Any, **kw: Any) -> None:
        if isinstance(const, ForeignKeyConstraint):
            self._alter(const.parent.name, "add_foreign_key", foreign_key_json(const))
        elif isinstance(const, UniqueConstraint):
            # A named unique index: the store refuses it over duplicate stored values.
            self.create_index(_unique_index(const))
        else:
            raise exc.CompileError(
                f"adding a {type(const).__name__} to an existing table is not supported by "
                "sqla_docstore")

    def drop_constraint(self, const: Any, **kw: Any) -> None:
        if isinstance(const, ForeignKeyConstraint):
            self._alter(const.parent.name, "drop_foreign_key", {"name": const.name})
        elif isinstance(const, UniqueConstraint):
            self.drop_index(_unique_index(const))
        else:
            raise exc.CompileError(
                f"dropping a {type(const).__name__} is not supported by sqla_docstore")


def _default_text(text: str | None) -> str | None:
    if text is None:
        return None
    text = text.strip()
    if len(text) >= 2 and text[0] == "(" and text[-1] == ")":
        text = text[1:-1].strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        text = text[1:-1].replace("''", "'")
    return text


def _unique_index(const: UniqueConstraint) -> Index:
    if not isinstance(const.name, str):
        raise exc.CompileError("a unique constraint added or dropped by Alembic needs a name")
    return Index(const.name, *const.columns, unique=True)


class RavenDBImpl(DocstoreImpl):
    __dialect__ = "ravendb"
