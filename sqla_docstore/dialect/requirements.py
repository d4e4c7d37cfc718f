"""Requirements for SQLAlchemy's compliance suite: what the docstore dialect truly lacks.

Every closed requirement says why. Requirements not listed keep SuiteRequirements' default,
most of which read the dialect's own flags.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.testing import exclusions
from sqlalchemy.testing.requirements import SuiteRequirements


class Requirements(SuiteRequirements):
    # -- schema objects: a document store has collections, not relational schema --------
    @property
    def foreign_key_constraint_option_reflection_ondelete(self) -> Any:
        # References between documents are not enforced (as in RavenDB), but foreign keys are
        # recorded in the collection's schema with their options, and reflected.
        return exclusions.open()

    @property
    def foreign_key_constraint_option_reflection_onupdate(self) -> Any:
        return exclusions.open()

    @property
    def named_constraints(self) -> Any:
        # Foreign key and unique constraint names are kept (primary key names are not).
        return exclusions.open()

    # -- SQL the store answers as SQLite does (SuiteRequirements closes these by default) --
    @property
    def except_(self) -> Any:
        return exclusions.open()

    @property
    def intersect(self) -> Any:
        return exclusions.open()

    @property
    def nullsordering(self) -> Any:
        return exclusions.open()

    @property
    def window_range(self) -> Any:
        # RANGE frames with numeric offsets; over dates SQLite refuses them too
        return exclusions.open()

    @property
    def window_range_numeric(self) -> Any:
        return exclusions.open()

    @property
    def boolean_col_expressions(self) -> Any:
        return exclusions.open()

    @property
    def mod_operator_as_percent_sign(self) -> Any:
        return exclusions.open()

    @property
    def order_by_label_with_expression(self) -> Any:
        return exclusions.open()

    @property
    def ctes_on_dml(self) -> Any:
        return exclusions.open()

    @property
    def server_defaults(self) -> Any:
        return exclusions.open()

    @property
    def expression_server_defaults(self) -> Any:
        return exclusions.open()

    @property
    def empty_inserts(self) -> Any:
        # INSERT ... DEFAULT VALUES
        return exclusions.open()

    @property
    def empty_inserts_executemany(self) -> Any:
        return exclusions.open()

    @property
    def dbapi_lastrowid(self) -> Any:
        return exclusions.open()

    @property
    def unicode_ddl(self) -> Any:
        return exclusions.open()

    @property
    def percent_schema_names(self) -> Any:
        return exclusions.open()

    @property
    def uuid_data_type(self) -> Any:
        return exclusions.open()

    @property
    def date_historic(self) -> Any:
        return exclusions.open()

    @property
    def datetime_historic(self) -> Any:
        return exclusions.open()

    @property
    def timestamp_microseconds(self) -> Any:
        return exclusions.open()

    @property
    def timestamp_microseconds_implicit_bound(self) -> Any:
        return exclusions.open()

    @property
    def precision_numerics_enotation_small(self) -> Any:
        return exclusions.open()

    @property
    def precision_numerics_retains_significant_digits(self) -> Any:
        return exclusions.open()

    @property
    def supports_bitwise_and(self) -> Any:
        return exclusions.open()

    @property
    def supports_bitwise_or(self) -> Any:
        return exclusions.open()

    @property
    def supports_bitwise_not(self) -> Any:
        return exclusions.open()

    @property
    def supports_bitwise_xor(self) -> Any:
        # rendered (a | b) & ~(a & b): SQL has no XOR
        return exclusions.open()

    @property
    def supports_bitwise_shift(self) -> Any:
        return exclusions.open()

    @property
    def table_ddl_if_exists(self) -> Any:
        return exclusions.open()

    # index_ddl_if_exists stays closed though CREATE INDEX IF NOT EXISTS works: its tests
    # expect CreateTable to leave the table's indexes out, and the store creates a table's
    # indexes with it, in one step (DocstoreDDLCompiler.table_spec).

    # precision_numerics_many_significant_digits stays closed: a numeric literal in SQL text
    # is read as SQLite reads it (a double), so 5.02797279921331664759 / 0.71828182845904523537
    # gives SQLite's 7.000000000000001, not 7.

    @property
    def tuple_in(self) -> Any:
        # Row values in IN lists, as SQLite's (a, b) IN (VALUES (?, ?), ...).
        return exclusions.open()

    @property
    def tuple_in_w_empty(self) -> Any:
        return exclusions.open()

    @property
    def implicitly_named_constraints(self) -> Any:
        return exclusions.closed()

    @property
    def check_constraint_reflection(self) -> Any:
        # CHECK constraints are refused at DDL time.
        return exclusions.closed()

    @property
    def computed_columns(self) -> Any:
        # Generated columns are computed from the document on every write and stored.
        return exclusions.open()

    @property
    def computed_columns_stored(self) -> Any:
        return exclusions.open()

    @property
    def computed_columns_default_persisted(self) -> Any:
        return exclusions.open()

    @property
    def computed_columns_reflect_persisted(self) -> Any:
        # Reflection says persisted=True: every generated column is stored (a VIRTUAL one too,
        # which is why computed_columns_virtual stays closed).
        return exclusions.open()

    @property
    def foreign_key_constraint_reflection(self) -> Any:
        return exclusions.open()

    # Temporary tables: collections dropped when their connection closes (visible to other
    # connections meanwhile); reflected by name but not listed, so temp_table_names stays
    # closed (SuiteRequirements' default).

    @property
    def temporary_views(self) -> Any:
        return exclusions.closed()

    @property
    def views(self) -> Any:
        # A view is a stored SELECT, read as a derived table (sqla_docstore.dbapi.views).
        return exclusions.open()

    @property
    def create_table_as(self) -> Any:
        return exclusions.open()

    @property
    def schemas(self) -> Any:
        # A schema is a namespace of collections: table t of schema s is the collection
        # "s.t"; the default schema is the names without a dot.
        return exclusions.open()

    @property
    def comment_reflection(self) -> Any:
        return exclusions.closed()

    @property
    def reflects_pk_names(self) -> Any:
        return exclusions.closed()

    @property
    def reflect_table_options(self) -> Any:
        """``get_table_options`` reports ``docstore_key_is_id`` (empty for most tables)."""
        return exclusions.open()

    @property
    def index_reflection(self) -> Any:
        # Declared indexes are reflected (auto-indexes are internal), with expressions and
        # descending elements as PostgreSQL's dialect reports them.
        return exclusions.open()

    @property
    def indexes_with_expressions(self) -> Any:
        return exclusions.open()

    @property
    def reflect_indexes_with_expressions(self) -> Any:
        return exclusions.open()

    @property
    def indexes_check_column_order(self) -> Any:
        return exclusions.open()

    @property
    def unique_constraint_reflection(self) -> Any:
        # Unique constraints reflect with their names.
        return exclusions.open()

    # -- SQL the store's query language has no form for ---------------------------------
    @property
    def update_from(self) -> Any:
        # UPDATE ... FROM as SQLite renders it (rewritten into correlated subqueries)
        return exclusions.open()

    @property
    def delete_from(self) -> Any:
        # DELETE ... USING (the rows with a match in the USING tables)
        return exclusions.open()

    @property
    def ctes(self) -> Any:
        # A common table expression is read where the statement names it, as a derived
        # table; WITH RECURSIVE is refused (CompileError).
        return exclusions.open()

    @property
    def ctes_with_update_delete(self) -> Any:
        return exclusions.open()

    @property
    def window_functions(self) -> Any:
        # OVER (PARTITION BY / ORDER BY / frames) as SQLite computes it; a sum or avg over a
        # window of a NUMERIC column is refused (SQLite would compute it in doubles)
        return exclusions.open()

    @property
    def sequences(self) -> Any:
        # Integer ids come from HiLo ranges, not sequences.
        return exclusions.closed()

    @property
    def table_value_constructor(self) -> Any:
        return exclusions.closed()

    @property
    def regexp_match(self) -> Any:
        return exclusions.closed()

    @property
    def regexp_replace(self) -> Any:
        return exclusions.closed()

    @property
    def json_type(self) -> Any:
        # JSON columns hold nested JSON; element access and typed accessors compile as
        # SQLite's; JSON null (null in the document) is told from SQL NULL (the field left
        # out), and create_engine takes json_serializer / json_deserializer.
        return exclusions.open()

    # -- transactions and connections ---------------------------------------------------
    @property
    def two_phase_transactions(self) -> Any:
        # prepare() / commit_prepared() (README: two-phase commit over several databases)
        return exclusions.open()

    @property
    def isolation_level(self) -> Any:
        # One level of isolation: READ COMMITTED with the transaction's own writes visible
        # (AUTOCOMMIT, the other accepted level, is the autocommit requirement's).
        return exclusions.closed()

    @property
    def autocommit(self) -> Any:
        # AUTOCOMMIT: the DB-API commits each statement as it ends (Connection.autocommit).
        return exclusions.open()

    @property
    def independent_connections(self) -> Any:
        # A second engine on a file URL opens the same store; on ``docstore://`` every engine
        # has its own private in-memory store, so tests that open a second engine to see the
        # first one's tables do not apply there.
        return exclusions.skip_if(lambda config: not config.db.url.database,
                                  "each in-memory engine has a private store")

    @property
    def independent_readonly_connections(self) -> Any:
        return self.independent_connections

    @property
    def savepoints(self) -> Any:
        return exclusions.open()

    @property
    def server_side_cursors(self) -> Any:
        return exclusions.closed()

