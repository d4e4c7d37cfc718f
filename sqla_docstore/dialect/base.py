"""The ``docstore://`` dialect: SQLAlchemy over the sqla_docstore DB-API and its embedded store.

URLs::

    docstore://                 a private in-memory store, shared by the engine's connections
    docstore:///relative.db     a durable SQLite file (WAL), shareable by threads and processes
    docstore:////abs/path.db    the same, absolute path
    docstore+embedded:///x.db   the same dialect, with the driver named

Query options: ``timeout`` (seconds to wait for the store's write lock, default 30),
``foreign_keys=on`` (enforce declared foreign keys and their actions, as SQLite's
``PRAGMA foreign_keys = ON``), ``unique_checks=commit`` (unique values checked at commit only,
not at each statement; see ``dbapi.unique_check``).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from sqlalchemy import exc, pool, schema
from sqlalchemy.engine import default, reflection
from sqlalchemy.engine.url import URL
from sqlalchemy.orm.exc import StaleDataError

from .. import _counts, errors  # _counts installs the Session listeners for request_counts()
from ..schema import qualified, split_qualified
from . import types
from .compiler import (
    DocstoreCompiler,
    DocstoreDDLCompiler,
    DocstoreIdentifierPreparer,
    DocstoreTypeCompiler,
)
from .mapping import mapped_specs, translated_specs


class DocumentConflictError(StaleDataError):
    """The commit's batch failed a change-vector or existence check: another transaction changed
    or deleted a document this one updates or deletes. Nothing of the batch was applied."""

    def __init__(self, orig: errors.ConcurrencyError) -> None:
        super().__init__(str(orig))
        self.orig = orig


def _flag(name: str, value: Any) -> bool:
    text = str(value).lower()
    if text in ("on", "true", "1", "yes"):
        return True
    if text in ("off", "false", "0", "no"):
        return False
    raise exc.ArgumentError(f"URL option {name} takes on or off, not {value!r}")


def _unique_checks(value: Any) -> str:
    text = str(value).lower()
    if text not in ("statement", "commit"):
        raise exc.ArgumentError(
            f"URL option unique_checks takes statement or commit, not {value!r}")
    return text


class DocstoreExecutionContext(default.DefaultExecutionContext):
    def pre_exec(self) -> None:
        # The mapping is the schema: the statement's Tables reach the DB-API (see mapping.py).
        if self.compiled is not None and not self.isddl:
            specs = mapped_specs(self.compiled)
            if specs and self.compiled.schema_translate_map:
                # (the text names each Table in the schema this execution's map gives it)
                translate = self.execution_options.get("schema_translate_map")
                if translate:
                    specs = translated_specs(self.compiled, translate)
            if specs:
                # (the pool's proxy passes an unknown attribute on by a Python __getattr__:
                # the DB-API connection itself is asked, as on every statement)
                proxy = self._dbapi_connection
                getattr(proxy, "dbapi_connection", proxy).assume_collections(specs)

    def create_server_side_cursor(self) -> Any:
        # stream_results / yield_per / AsyncSession.stream(): a DB-API cursor that reads the
        # store as rows are fetched (a chunk in memory at a time; see Connection.cursor).
        return self._dbapi_connection.cursor(stream=True)


#: the paramstyles the DB-API takes (SQLite's: ``?`` and ``:name``)
_PARAMSTYLES = ("qmark", "named")


class DocstoreDialect(default.DefaultDialect):
    name = "docstore"
    driver = "embedded"
    supports_statement_cache = True
    supports_server_side_cursors = True

    statement_compiler = DocstoreCompiler
    preparer = DocstoreIdentifierPreparer
    ddl_compiler = DocstoreDDLCompiler
    type_compiler_cls = DocstoreTypeCompiler
    execution_ctx_cls = DocstoreExecutionContext
    colspecs = types.colspecs

    #: the DB-API's paramstyle; "named" may be asked for (``create_engine(url,
    #: paramstyle="named")``), the DB-API taking both as sqlite3 does
    default_paramstyle = "qmark"
    supports_native_boolean = True
    supports_native_decimal = True
    supports_native_enum = False
    supports_native_uuid = True
    supports_native_json_serialization = True
    supports_native_json_deserialization = True
    supports_sane_rowcount = True
    supports_sane_multi_rowcount = True
    # New objects flush in one executemany whose rows carry the HiLo ids, in order.
    insert_returning = True
    insert_executemany_returning = True
    insert_executemany_returning_sort_by_parameter_order = True
    use_insertmanyvalues = False
    update_returning = True
    delete_returning = True
    update_returning_multifrom = True  # RETURNING of the target's columns after FROM / USING
    delete_returning_multifrom = True
    postfetch_lastrowid = True  # tables with implicit_returning=False read cursor.lastrowid
    supports_default_values = True
    supports_default_metavalue = False
    supports_empty_insert = False
    supports_multivalues_insert = True
    supports_schemas = True
    supports_views = True
    supports_alter = False
    supports_sequences = False
    supports_comments = False
    supports_is_distinct_from = True
    supports_simple_order_by_label = True
    tuple_in_values = True
    default_isolation_level = "READ COMMITTED"
    #: ``Table(..., docstore_key_is_id=True)``: the single string primary key holds the whole
    #: document id (``orders/1-A``), as RavenDB clients' ``Id`` does
    construct_arguments = [(schema.Table, {"key_is_id": False})]

    def __init__(self, json_serializer: Any = None, json_deserializer: Any = None,
                 **kw: Any) -> None:
        super().__init__(**kw)
        # (as SQLite's dialect takes them: the JSON type uses them, types.DocstoreJSON)
        self._json_serializer = json_serializer
        self._json_deserializer = json_deserializer
        if self.paramstyle not in _PARAMSTYLES:  # the DB-API reads ? and :name only
            raise exc.ArgumentError(
                "sqla_docstore takes paramstyle 'qmark' (the default: ?) or 'named' (:name), "
                f"not paramstyle={self.paramstyle!r}"
            )

    @classmethod
    def import_dbapi(cls) -> ModuleType:
        from .. import dbapi

        return dbapi

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        return pool.QueuePool

    @classmethod
    def get_async_dialect_cls(cls, url: URL) -> type[default.DefaultDialect]:
        """``create_async_engine`` takes the same URLs (see ``dialect.asyncio``)."""
        from .asyncio import AsyncDocstoreDialect

        return AsyncDocstoreDialect

    def create_connect_args(self, url: URL) -> tuple[list[Any], dict[str, Any]]:
        opts: dict[str, Any] = {}
        query = dict(url.query)
        if "foreign_keys" in query:
            opts["foreign_keys"] = _flag("foreign_keys", query.pop("foreign_keys"))
        if "unique_checks" in query:
            opts["unique_checks"] = _unique_checks(query.pop("unique_checks"))
        if "timeout" in query:
            opts["timeout"] = float(query.pop("timeout"))  # type: ignore[arg-type]
        if self._json_serializer is not None:  # (a JSON column's text in SQL, as SQLite's)
            opts["json_serializer"] = self._json_serializer
        if query:
            raise exc.ArgumentError(f"unknown docstore URL option(s): {', '.join(sorted(query))}")
        if url.host:
            raise exc.ArgumentError(
                f"docstore URLs name a file, not a host ({url.host!r}); use docstore:///path.db "
                "or ravendb://host:port/database"
            )
        database = url.database or ":memory:"
        if database == ":memory:":
            # One store per engine: every pooled connection must see the same documents.
            from ..dbapi import open_store

            opts["store"] = open_store(":memory:", timeout=opts.get("timeout", 30.0))
        else:
            opts["database"] = database
        return [], opts

    # -- transactions ------------------------------------------------------------------
    def do_commit(self, dbapi_connection: Any) -> None:
        try:
            dbapi_connection.commit()
        except errors.ConcurrencyError as err:
            raise DocumentConflictError(err) from err

    # Savepoints: SQLAlchemy's SAVEPOINT / RELEASE SAVEPOINT / ROLLBACK TO SAVEPOINT statements,
    # which the DB-API applies to the pending batch (the store is not involved).

    # Two-phase commit over the DB-API's prepare/commit_prepared (see the backends' prepare).
    def do_begin_twophase(self, connection: Any, xid: Any) -> None:
        pass

    def do_prepare_twophase(self, connection: Any, xid: Any) -> None:
        try:
            connection.connection.dbapi_connection.prepare()
        except errors.ConcurrencyError as err:
            raise DocumentConflictError(err) from err

    def do_rollback_twophase(self, connection: Any, xid: Any, is_prepared: bool = True,
                             recover: bool = False) -> None:
        dbapi_conn = connection.connection.dbapi_connection
        if is_prepared:
            dbapi_conn.rollback_prepared()
        else:
            dbapi_conn.rollback()

    def do_commit_twophase(self, connection: Any, xid: Any, is_prepared: bool = True,
                           recover: bool = False) -> None:
        dbapi_conn = connection.connection.dbapi_connection
        if is_prepared:
            dbapi_conn.commit_prepared()
        else:
            self.do_commit(dbapi_conn)

    def do_recover_twophase(self, connection: Any) -> list[Any]:
        return []  # a prepared batch does not outlive its connection

    def do_ping(self, dbapi_connection: Any) -> bool:
        return not dbapi_connection.closed

    def get_isolation_level(self, dbapi_connection: Any) -> Any:
        return "AUTOCOMMIT" if dbapi_connection.autocommit else "READ COMMITTED"

    def get_isolation_level_values(self, dbapi_conn: Any) -> Any:
        return ["AUTOCOMMIT", "READ COMMITTED"]

    def set_isolation_level(self, dbapi_connection: Any, level: Any) -> None:
        # AUTOCOMMIT: the DB-API commits each statement as it ends (Connection.autocommit).
        if level not in ("AUTOCOMMIT", "READ COMMITTED"):
            raise exc.ArgumentError(
                f"sqla_docstore supports READ COMMITTED and AUTOCOMMIT only, not {level}")
        dbapi_connection.autocommit = level == "AUTOCOMMIT"

    def _get_server_version_info(self, connection: Any) -> tuple[int, ...]:
        return (1, 0)

    def _get_default_schema_name(self, connection: Any) -> Any:
        return None

    # -- reflection --------------------------------------------------------------------
    @staticmethod
    def _backend(connection: Any) -> Any:
        return connection.connection.dbapi_connection.backend

    def _spec(self, connection: Any, table_name: str, schema: str | None = None) -> Any:
        try:
            return self._backend(connection).spec(qualified(schema, table_name))
        except errors.OperationalError:
            raise exc.NoSuchTableError(qualified(schema, table_name)) from None

    def _catalog(self, connection: Any) -> list[tuple[str, Any]]:
        """(collection name, spec) of every collection (a spec None: it is gone)."""
        backend = self._backend(connection)
        return [(name, _spec_or_none(backend, name)) for name in backend.collection_names()
                if not name.startswith("@")]

    def _collections(self, connection: Any, schema: str | None, kind: str) -> list[str]:
        """Names (without the schema) of the schema's collections of one kind."""
        return [split_qualified(name, schema)[1] for name, spec in self._catalog(connection)
                if spec is not None and spec.schema == schema and _kind(spec) == kind]

    @reflection.cache
    def get_schema_names(self, connection: Any, **kw: Any) -> list[str]:
        """The schemas holding a collection (a schema is a namespace of collections)."""
        return sorted({spec.schema for _, spec in self._catalog(connection)
                       if spec is not None and spec.schema is not None})

    @reflection.cache  # an Inspector answers from its cache until clear_cache(), as SQLite's
    def has_table(self, connection: Any, table_name: str, schema: str | None = None,
                  **kw: Any) -> bool:
        # Declared, or holding documents: a collection that is only mapped does not exist yet
        # (create_all then records its schema); one other clients' documents made does.
        self._ensure_has_table_connection(connection)
        return bool(self._backend(connection).exists(qualified(schema, table_name)))

    @reflection.cache
    def has_index(self, connection: Any, table_name: str, index_name: str,
                  schema: str | None = None, **kw: Any) -> bool:
        # cached per inspector, as the other reflection methods are
        return bool(super().has_index(connection, table_name, index_name, schema, **kw))

    @reflection.cache
    def get_table_names(self, connection: Any, schema: str | None = None,
                        **kw: Any) -> list[str]:
        # Temporary collections are not listed (as SQLite lists them apart); the reflection
        # of one by name works as for any collection.
        return self._collections(connection, schema, "table")

    @reflection.cache
    def get_view_names(self, connection: Any, schema: str | None = None, **kw: Any) -> list[str]:
        return self._collections(connection, schema, "view")

    @reflection.cache
    def get_view_definition(self, connection: Any, view_name: str,
                            schema: str | None = None, **kw: Any) -> str:
        spec = self._spec(connection, view_name, schema)
        if spec.view is None:
            raise exc.NoSuchTableError(view_name)
        name = self.identifier_preparer.quote(view_name)
        if schema is not None:
            name = f"{self.identifier_preparer.quote_schema(schema)}.{name}"
        return f"CREATE VIEW {name} AS {spec.view}"

    @reflection.cache
    def get_columns(self, connection: Any, table_name: str, schema: str | None = None,
                    **kw: Any) -> list[Any]:
        spec = self._spec(connection, table_name, schema)
        return [_reflected_column(f, spec.autoincrement, f.name in spec.not_null)
                for f in spec.fields]

    @reflection.cache
    def get_table_options(self, connection: Any, table_name: str, schema: str | None = None,
                          **kw: Any) -> dict[str, Any]:
        spec = self._spec(connection, table_name, schema)
        return {"docstore_key_is_id": True} if spec.key_is_id else {}

    @reflection.cache
    def get_pk_constraint(self, connection: Any, table_name: str, schema: str | None = None,
                          **kw: Any) -> Any:
        spec = self._spec(connection, table_name, schema)
        return {"constrained_columns": list(spec.primary_key), "name": None}

    @reflection.cache
    def get_foreign_keys(self, connection: Any, table_name: str, schema: str | None = None,
                         **kw: Any) -> list[Any]:
        spec = self._spec(connection, table_name, schema)
        out = []
        for fk in spec.foreign_keys:
            referred_schema, referred_table = self._referred(connection, fk.referred_table)
            out.append({"name": fk.name, "constrained_columns": list(fk.columns),
                        "referred_schema": referred_schema, "referred_table": referred_table,
                        "referred_columns": list(fk.referred_columns), "options": fk.options})
        return out

    def _referred(self, connection: Any, collection: str) -> tuple[str | None, str]:
        """(schema, table) of a referred collection (by its spec; a dropped one by its
        name's first dot)."""
        spec = _spec_or_none(self._backend(connection), collection)
        if spec is not None:
            return split_qualified(collection, spec.schema)
        schema, dot, table = collection.partition(".")
        return (schema, table) if dot else (None, collection)

    @reflection.cache
    def get_indexes(self, connection: Any, table_name: str, schema: str | None = None,
                    **kw: Any) -> list[Any]:
        spec = self._spec(connection, table_name, schema)
        return [  # a schema's index names are schema.name in the store
            _reflected_index(split_qualified(name, schema)[1], fields, unique)
            for name, (fields, unique) in spec.indexes.items()]

    @reflection.cache
    def get_unique_constraints(self, connection: Any, table_name: str,
                               schema: str | None = None, **kw: Any) -> list[Any]:
        spec = self._spec(connection, table_name, schema)
        names = list(spec.unique_names) + [None] * (len(spec.unique) - len(spec.unique_names))
        return [{"name": name, "column_names": list(u)}
                for name, u in zip(names, spec.unique, strict=False)]

    @reflection.cache
    def get_check_constraints(self, connection: Any, table_name: str,
                              schema: str | None = None, **kw: Any) -> list[Any]:
        self._spec(connection, table_name, schema)
        return []


def _reflected_index(name: str, elements: tuple[Any, ...], unique: bool) -> dict[str, Any]:
    """An index as reflection reports it (as PostgreSQL's dialect does): an expression's
    ``column_names`` entry is None and ``expressions`` has its SQL; a descending element is
    in ``column_sorting``."""
    out: dict[str, Any] = {
        "name": name,
        "column_names": [e if isinstance(e, str) else e.field for e in elements],
        "unique": unique,
        "dialect_options": {},
    }
    if any(not isinstance(e, str) and e.sql is not None for e in elements):
        out["expressions"] = [e if isinstance(e, str) else e.text for e in elements]
    sorting = {e.text: ("desc",) for e in elements if not isinstance(e, str) and e.desc}
    if sorting:
        out["column_sorting"] = sorting
    return out


def _spec_or_none(backend: Any, name: str) -> Any:
    try:
        return backend.spec(name)
    except errors.OperationalError:  # dropped meanwhile
        return None


def _kind(spec: Any) -> str:
    """"table", "view", or "temporary" (not listed) for a collection."""
    return "view" if spec.view is not None else "temporary" if spec.temporary else "table"


def _reflected_column(f: Any, autoincrement: str | None, not_null: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": f.name,
        "type": types.reflected_type(f.type),
        "nullable": not not_null,  # a primary-key column is NOT NULL, as in SQL
        "default": f.default_sql if f.default_sql is not None else _sql_literal(f.default),
        "autoincrement": f.name == autoincrement,
    }
    if f.computed is not None:
        out["computed"] = {"sqltext": f.computed, "persisted": True}  # stored on every write
    return out


def _sql_literal(value: Any) -> str | None:
    """A constant default as SQL text, the form reflection reports server defaults in."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(value)


dialect = DocstoreDialect
__all__ = ["DocstoreDialect", "DocumentConflictError", "_counts"]
