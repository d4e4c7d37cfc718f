"""Compilers: SQLAlchemy constructs to the DB-API's statement language (bound parameters only).

Queries and DML render as the SQL subset the DB-API parses; a table's DDL renders as SQL's
``CREATE TABLE`` when that text says all its collection schema says, else as the collection
command ``CREATE COLLECTION name {spec}`` whose JSON spec the store keeps as the schema
(``DocstoreDDLCompiler.visit_create_table``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import exc, literal, schema
from sqlalchemy.sql import compiler, operators, sqltypes
from sqlalchemy.sql.elements import (
    BinaryExpression,
    BindParameter,
    ClauseElement,
    TextClause,
    UnaryExpression,
)

from ..errors import Error
from ..schema import CollectionSpec, qualified
from ..statements import ast
from ..statements.parser import CLAUSE_WORDS, parse
from . import types


class _EscapeAny(dict[str, str]):
    """A bind-name character outside ``[A-Za-z0-9_$\\@]`` becomes ``_xHH_``: the statement
    lexer ends a ``:name`` at quotes, spaces and operators, so a column named ``it's``
    needs another bind name (the hex code keeps distinct names distinct)."""

    def __missing__(self, char: str) -> str:
        return f"_x{ord(char):x}_"


#: EXTRACT fields and their strftime() codes (as SQLite computes them).
_EXTRACT_FIELDS = {"year": "%Y", "month": "%m", "day": "%d", "hour": "%H", "minute": "%M",
                   "second": "%S", "doy": "%j", "dow": "%w", "week": "%W", "epoch": "%s"}


class DocstoreIdentifierPreparer(compiler.IdentifierPreparer):
    # The statement language's clause words too (a table named "values" is quoted).
    reserved_words = compiler.RESERVED_WORDS | CLAUSE_WORDS


_COMPARED = frozenset({operators.eq, operators.ne, operators.lt, operators.le, operators.gt,
                       operators.ge, operators.is_distinct_from, operators.is_not_distinct_from})


def _json_typed(element: Any) -> bool:
    return getattr(element.type, "_type_affinity", None) is sqltypes.JSON


def _compared_json(element: Any) -> Any:
    """A JSON-typed bound value (not JSON null, which is rendered as such) retyped so that
    it binds as its serializer's text; anything else as it is."""
    if isinstance(element, BindParameter) and _json_typed(element) and not (
            isinstance(element.type, types.JsonComparedValue)):
        return element._with_binary_element_type(types.JsonComparedValue())
    return element


class DocstoreCompiler(compiler.SQLCompiler):
    def __init__(self, *args: Any, **kw: Any) -> None:
        #: the Tables the statement renders (its FROMs, joins, subqueries, CTEs, a DML
        #: target), in order: the schemas ``dialect.mapping`` hands the DB-API, found as the
        #: statement compiles rather than by searching it again per execution
        self.tables_used: dict[Any, None] = {}
        super().__init__(*args, **kw)

    def visit_binary(self, binary: Any, override_operator: Any = None,
                     eager_grouping: Any = False, from_linter: Any = None,
                     lateral_from_linter: Any = None, **kw: Any) -> str:
        """A JSON-typed bound value compared with a JSON column or element is bound as
        SQLAlchemy's SQLite dialect binds it, as its serializer's text (``'"x"'``, ``'5'``,
        ``'{"a": 1}'``: ``types.JsonComparedValue``), not as the value stored."""
        if binary.operator in _COMPARED and (
                _json_typed(binary.left) or _json_typed(binary.right)):
            left, right = _compared_json(binary.left), _compared_json(binary.right)
            if left is not binary.left or right is not binary.right:
                binary = BinaryExpression(left, right, binary.operator, type_=binary.type,
                                          negate=binary.negate, modifiers=binary.modifiers)
        return str(super().visit_binary(
            binary, override_operator=override_operator, eager_grouping=eager_grouping,
            from_linter=from_linter, lateral_from_linter=lateral_from_linter, **kw))

    def visit_table(self, table: Any, *args: Any, **kw: Any) -> str:
        self.tables_used[table] = None
        return super().visit_table(table, *args, **kw)

    def visit_textual_select(self, taf: Any, *args: Any, **kw: Any) -> str:
        # text(...).columns(t.c.x) (the ORM's from_statement): the Tables of the columns it
        # says it returns, as a search of the statement finds them (its text is not visited)
        for column in taf.column_args:
            table = getattr(column, "table", None)
            if isinstance(table, schema.Table):
                self.tables_used[table] = None
        return super().visit_textual_select(taf, *args, **kw)

    def visit_insert(self, insert_stmt: Any, *args: Any, **kw: Any) -> str:
        self.tables_used[insert_stmt.table] = None  # (rendered by name, not visited)
        return super().visit_insert(insert_stmt, *args, **kw)

    def visit_update(self, update_stmt: Any, *args: Any, **kw: Any) -> str:
        self.tables_used[update_stmt.table] = None
        return super().visit_update(update_stmt, *args, **kw)

    def visit_delete(self, delete_stmt: Any, *args: Any, **kw: Any) -> str:
        self.tables_used[delete_stmt.table] = None
        return super().visit_delete(delete_stmt, *args, **kw)

    # SQLite's upsert (sqlite.insert(...).on_conflict_do_nothing() / _do_update(); also
    # PostgreSQL's constructs, which have the same shape): the DB-API runs it as SQLite does.
    def visit_on_conflict_do_nothing(self, on_conflict: Any, **kw: Any) -> str:
        return f"ON CONFLICT {self._conflict_target(on_conflict, **kw)}DO NOTHING"

    def visit_on_conflict_do_update(self, on_conflict: Any, **kw: Any) -> str:
        target = self._conflict_target(on_conflict, **kw)
        insert: Any = self.stack[-1]["selectable"]
        table = insert.table
        to_set = dict(on_conflict.update_values_to_set)
        set_kw = dict(kw, use_schema=False, is_upsert_set=True)
        assignments = []
        for column in table.c:  # (in the table's column order, as SQLite's dialect does)
            if column.key in to_set:
                value = to_set.pop(column.key)
            elif column in to_set:
                value = to_set.pop(column)
            else:
                continue
            if not isinstance(value, ClauseElement):  # (SQLAlchemy 2.0 keeps plain values)
                value = literal(value, type_=column.type)
            if isinstance(value, BindParameter) and value.type._isnull:
                value = value._with_binary_element_type(column.type)  # (the column's type)
            assignments.append(f"{self.preparer.quote(column.name)} = "
                               f"{self.process(value.self_group(), **set_kw)}")
        if to_set:
            raise exc.CompileError(
                f"ON CONFLICT DO UPDATE of {table.name}: set_ names "
                f"{', '.join(str(k) for k in to_set)}, which are not its columns")
        text = f"ON CONFLICT {target}DO UPDATE SET {', '.join(assignments)}"
        if on_conflict.update_whereclause is not None:
            where_kw = dict(kw, include_table=True, use_schema=False)
            text += f" WHERE {self.process(on_conflict.update_whereclause, **where_kw)}"
        return text

    def _conflict_target(self, on_conflict: Any, **kw: Any) -> str:
        """``(col, ...) [WHERE ...] `` of an ON CONFLICT clause, or "" for none."""
        if getattr(on_conflict, "constraint_target", None) is not None:
            raise exc.CompileError(
                f"ON CONFLICT ON CONSTRAINT {on_conflict.constraint_target} is not supported "
                "by sqla_docstore (SQLite has no such form): give index_elements instead")
        elements = on_conflict.inferred_target_elements
        if elements is None:
            return ""
        names = ", ".join(self.preparer.quote(c) if isinstance(c, str) else self.process(
            c, include_table=False, use_schema=False) for c in elements)
        where = on_conflict.inferred_target_whereclause
        if where is None:
            return f"({names}) "
        where_kw = dict(kw, include_table=False, use_schema=False)
        return f"({names}) WHERE {self.process(where, **where_kw)} "

    # Bind names come from column names: every character that could end a :name
    # parameter in the statement language is escaped (see _EscapeAny).
    @classmethod
    def _init_bind_translate(cls) -> None:
        cls._bind_translate_re = re.compile(r"[^A-Za-z0-9_$\\@]")
        cls._bind_translate_chars = _EscapeAny()

    def for_update_clause(self, select: Any, *args: Any, **kw: Any) -> str:
        # No document is locked: the DB-API guards the documents read by their change
        # vectors, so another transaction's change of one fails this one's commit.
        clause = " FOR SHARE" if select._for_update_arg.read else " FOR UPDATE"
        if select._for_update_arg.nowait:
            clause += " NOWAIT"
        elif select._for_update_arg.skip_locked:
            clause += " SKIP LOCKED"
        return clause

    def update_from_clause(self, update_stmt: Any, from_table: Any, extra_froms: Any,
                           from_hints: Any, **kw: Any) -> str:
        # UPDATE ... FROM as SQLite renders it (the DB-API's parser gives SQLite's meaning)
        kw["asfrom"] = True
        return "FROM " + ", ".join(t._compiler_dispatch(self, fromhints=from_hints, **kw)
                                   for t in extra_froms)

    def delete_extra_from_clause(self, delete_stmt: Any, from_table: Any, extra_froms: Any,
                                 from_hints: Any, **kw: Any) -> str:
        kw["asfrom"] = True
        return "USING " + ", ".join(t._compiler_dispatch(self, fromhints=from_hints, **kw)
                                    for t in extra_froms)

    def visit_now_func(self, fn: Any, **kw: Any) -> str:
        return "CURRENT_TIMESTAMP"  # as SQLite renders it (the store's clock, UTC)

    def visit_sequence(self, sequence: Any, *args: Any, **kw: Any) -> str:
        raise exc.CompileError("sequences are not supported by sqla_docstore (ids come from HiLo)")

    def visit_truediv_binary(self, binary: Any, operator: Any, **kw: Any) -> str:
        # SQL "/" on two integers is integer division; Python's "/" asks for true division.
        right = self.process(binary.right, **kw)
        if binary.right.type._type_affinity in (sqltypes.Integer,):
            right = f"({right} + 0.0)"
        return f"{self.process(binary.left, **kw)} / {right}"

    def visit_floordiv_binary(self, binary: Any, operator: Any, **kw: Any) -> str:
        left, right = self.process(binary.left, **kw), self.process(binary.right, **kw)
        if binary.right.type._type_affinity in (sqltypes.Integer,) and (
            binary.left.type._type_affinity in (sqltypes.Integer,)
        ):
            return f"{left} / {right}"
        return f"CAST(({left} / {right}) AS INTEGER)"

    def visit_bitwise_xor_op_binary(self, binary: Any, operator: Any, **kw: Any) -> str:
        # SQL has no XOR operator (SQLite's dialect neither): a ^ b is (a | b) & ~(a & b)
        left = self.process(binary.left, eager_grouping=True, **kw)
        right = self.process(binary.right, eager_grouping=True, **kw)
        return f"(({left} | {right}) & ~({left} & {right}))"

    def visit_empty_set_expr(self, element_types: Any, *args: Any, **kw: Any) -> str:
        raise exc.CompileError("an empty IN list of tuples is not supported by sqla_docstore")

    def visit_regexp_match_op_binary(self, binary: Any, operator: Any, **kw: Any) -> str:
        raise exc.CompileError("regular expression matching is not supported by sqla_docstore")

    def visit_not_regexp_match_op_binary(self, binary: Any, operator: Any, **kw: Any) -> str:
        return self.visit_regexp_match_op_binary(binary, operator, **kw)

    def visit_extract(self, extract: Any, *args: Any, **kw: Any) -> str:
        # As SQLite's dialect renders it: a strftime() field of the stored ISO text.
        code = _EXTRACT_FIELDS.get(extract.field)
        if code is None:
            raise exc.CompileError(f"EXTRACT({extract.field}) is not supported by sqla_docstore")
        return f"CAST(strftime('{code}', {self.process(extract.expr, **kw)}) AS INTEGER)"



    def visit_lateral(self, lateral_: Any, *args: Any, **kw: Any) -> str:
        raise exc.CompileError("LATERAL is not supported by sqla_docstore")

    def visit_values(self, element: Any, *args: Any, **kw: Any) -> str:
        raise exc.CompileError("VALUES constructs are not supported by sqla_docstore")

    def visit_json_getitem_op_binary(self, binary: Any, operator: Any, **kw: Any) -> str:
        """``col["a"][0]`` / ``col[("a", 0)]`` as the statement language's path operators.

        As SQLAlchemy's SQLite dialect renders them: a JSON-typed element is
        ``JSON_QUOTE(JSON_EXTRACT(col, path))`` there, ``JSON_QUOTE(col -> 'a' -> 0)`` here;
        ``.as_string()`` and the other typed forms are ``CAST(JSON_EXTRACT(...) AS type)``
        there, ``CAST(col -> 'a' ->> 0 AS type)`` here. Keys stay bound parameters."""
        base, steps = _json_chain(binary)
        parts = [part for step in steps for part in self._json_steps(step, **kw)]
        text = self.process(base, **kw)
        if binary.type._type_affinity is sqltypes.JSON:
            return f"JSON_QUOTE({text} -> {' -> '.join(parts)})"
        text += "".join(f" -> {p}" for p in parts[:-1]) + f" ->> {parts[-1]}"
        type_name = self.dialect.type_compiler_instance.process(binary.type)
        return f"CAST({text} AS {type_name})"

    visit_json_path_getitem_op_binary = visit_json_getitem_op_binary

    def _json_steps(self, step: Any, **kw: Any) -> list[str]:
        # A path tuple in DDL (an index on an expression) is rendered step by step: its type
        # has no literal form.
        value = getattr(step, "value", None)
        if kw.get("literal_binds") and isinstance(value, (list, tuple)):
            return [self.render_literal_value(
                v, sqltypes.Integer() if isinstance(v, int) else sqltypes.String())
                for v in value]
        return [str(self.process(step, **kw))]


_JSON_GETITEM = (operators.json_getitem_op, operators.json_path_getitem_op)


def _json_chain(binary: Any) -> tuple[Any, list[Any]]:
    """The innermost JSON value of ``col["a"]["b"]...`` and the index steps, outermost last."""
    steps = [binary.right]
    base = binary.left
    while isinstance(base, BinaryExpression) and base.operator in _JSON_GETITEM and (
        base.type._type_affinity is sqltypes.JSON
    ):
        steps.insert(0, base.right)
        base = base.left
    return base, steps


class DocstoreDDLCompiler(compiler.DDLCompiler):
    def visit_create_table(self, create: Any, *args: Any, **kw: Any) -> str:
        """SQL's ``CREATE TABLE`` text (SQLAlchemy's, prefixes included) when it says all the
        collection spec says, else ``CREATE COLLECTION name {spec}``.

        The rule: the text is rendered and parsed by the DB-API's own parser here, and is
        used when the spec it gives is exactly the spec of the JSON form. So a table with
        indexes (created with it, in one step: see ``table_spec``), a ``key_is_id`` key, an
        integer key that is not HiLo-filled (``autoincrement=False``) or a HiLo key SQL can't
        say (``BIGINT``), a default typed otherwise than SQL text types it, or anything the
        parser refuses, is created by the JSON form. A table whose prefixes the spec can't
        hold (``VIRTUAL``, ``UNLOGGED``; TEMPORARY it holds) is rendered as SQL text, which
        the DB-API refuses naming the construct, as SQLite does: it is not created as an
        ordinary table.
        """
        table = create.element
        spec = self.table_spec(table)
        text = self._create_table_text(create, spec, **kw)
        if text is not None:
            return text
        condition = "IF NOT EXISTS " if create.if_not_exists else ""
        return (f"CREATE COLLECTION {condition}{self.preparer.format_table(table)} "
                f"{json.dumps(spec)}")

    def _create_table_text(self, create: Any, spec: dict[str, Any], **kw: Any) -> str | None:
        """SQL's CREATE TABLE for ``create`` if it gives the collection ``spec``, else None."""
        table = create.element
        try:
            text = str(super().visit_create_table(create, **kw))
        except exc.SQLAlchemyError:  # e.g. a type without DDL: the JSON form says JSON
            return None
        if any(not is_temporary_prefix(p) for p in table._prefixes):
            return text
        if spec["indexes"] or spec.get("key_is_id"):
            return None
        try:
            stmt = parse(text)
        except Error:
            return None
        name = qualified(self._schema_of(table), table.name)
        if not isinstance(stmt, ast.CreateCollection) or stmt.name != name:
            return None
        return text if _same_spec(name, stmt.spec, spec) else None

    def get_column_default_string(self, column: Any) -> str | None:
        """A server default as SQL text: an expression in parentheses, as SQLite requires
        (``DEFAULT (lower('X'))``, ``DEFAULT (false)``); a string, or a ``text()`` that is one
        literal (``'x'``, ``-1.5``, ``CURRENT_TIMESTAMP``), as is. So the text says what the
        spec says: a constant, or SQL evaluated per insert (``_field_spec``)."""
        text: str | None = super().get_column_default_string(column)
        if text is None:
            return None
        arg = column.server_default.arg
        if isinstance(arg, str) or (isinstance(arg, TextClause)
                                    and _LITERAL_DEFAULT.match(text.strip())):
            return text
        return f"({text})"

    def table_spec(self, table: schema.Table) -> dict[str, Any]:
        """The collection spec CREATE TABLE gives a Table, indexes included (they are created
        with it, in one step: a crash between CREATE TABLE and CREATE INDEX, which SQLAlchemy
        emits next and the store then takes as done, can't leave a unique index missing, and
        create_all converges when re-run). The mapping's schema too (mapping.py)."""
        spec = collection_spec(table, self.dialect, self)
        spec["indexes"] = {self._index_name(ix): [self._index_fields(ix), bool(ix.unique)]
                           for ix in sorted(table.indexes, key=lambda ix: str(ix.name))}
        return spec

    def _schema_of(self, table: Any) -> str | None:
        """The schema of ``table`` as this DDL names it (``schema_translate_map``)."""
        return translated_schema(table.schema if table is not None else None,
                                 self.schema_translate_map)

    def _index_name(self, index: Any) -> str:
        """The index name as the store keeps it (unquoted), as CREATE INDEX gives it: index
        names are one namespace, so an index of a schema's table is ``schema.name``."""
        name: str = self._prepared_index_name(index, include_schema=False)
        quote, end = self.preparer.initial_quote, self.preparer.final_quote
        if len(name) >= 2 and name.startswith(quote) and name.endswith(end):
            name = self.preparer._unescape_identifier(name[1:-1])
        return qualified(self._schema_of(index.table), name)

    def _index_ddl_name(self, index: Any) -> str:
        """The index name in CREATE / DROP INDEX text (quoted parts, schema first)."""
        name: str = self._prepared_index_name(index, include_schema=False)
        schema_name = self._schema_of(index.table)
        if schema_name is None:
            return name
        return f"{self.preparer.quote_schema(schema_name)}.{name}"

    def _index_fields(self, index: Any) -> list[Any]:
        """The index's elements as the collection spec keeps them (schema.IndexElement): a
        column's name, ``{"field": name, "desc": true}``, or ``{"sql": expression}`` for an
        expression (rendered as CHECK constraints are, columns unqualified)."""
        elements = [self._index_element(expr) for expr in index.expressions]
        if index.unique and any(not isinstance(e, str) for e in elements):
            raise exc.CompileError(
                f"index {index.name}: a UNIQUE index on an expression or in descending order "
                "is not supported by sqla_docstore (unique values are kept per field)")
        return elements

    def _index_element(self, expr: Any) -> Any:
        desc = False
        if isinstance(expr, UnaryExpression) and expr.modifier in (operators.desc_op,
                                                                   operators.asc_op):
            desc, expr = expr.modifier is operators.desc_op, expr.element
        if isinstance(expr, schema.Column):
            return {"field": expr.name, "desc": True} if desc else expr.name
        element = {"sql": sql_text(expr, self.dialect)}
        return {**element, "desc": True} if desc else element

    def visit_drop_table(self, drop: Any, *args: Any, **kw: Any) -> str:
        condition = "IF EXISTS " if drop.if_exists else ""
        return f"DROP COLLECTION {condition}{self.preparer.format_table(drop.element)}"

    def visit_create_index(self, create: Any, *args: Any, **kw: Any) -> str:
        # SQL's text (the DB-API parses it as SQLite does), checked as the spec's index is
        self._verify_index_table(create.element)
        self._index_fields(create.element)
        return str(super().visit_create_index(create, *args, **kw))

    def visit_drop_index(self, drop: Any, *args: Any, **kw: Any) -> str:
        condition = "IF EXISTS " if drop.if_exists else ""
        return f"DROP INDEX {condition}{self._index_ddl_name(drop.element)}"

    def visit_create_sequence(self, create: Any, *args: Any, **kw: Any) -> str:
        raise exc.CompileError("sequences are not supported by sqla_docstore (ids come from HiLo)")

    def visit_add_constraint(self, create: Any, *args: Any, **kw: Any) -> str:
        raise exc.CompileError("ALTER TABLE ADD CONSTRAINT is not supported by sqla_docstore")

    # CREATE VIEW / CREATE TABLE ... AS / DROP VIEW: SQLAlchemy's text, which the DB-API
    # parses (a view is a stored SELECT, see sqla_docstore.dbapi.views).

    # CREATE SCHEMA / DROP SCHEMA: SQLAlchemy's text, which the DB-API refuses (a schema is a
    # namespace of collections that exists while it holds one).


def collection_spec(table: schema.Table, dialect: Any,
                    ddl_compiler: compiler.DDLCompiler | None = None) -> dict[str, Any]:
    """The stored schema of a table: fields, key, HiLo field, unique constraints.

    Constraints follow SQLAlchemy's per-dialect DDL rules (``ddl_if``, and the create rules of
    ``Enum``/``Boolean`` constraints, which skip dialects a ``with_variant`` type replaces), as
    the CREATE TABLE of any other dialect does.
    """
    ddl = ddl_compiler if ddl_compiler is not None else dialect.ddl_compiler(dialect, None)
    translate = ddl.schema_translate_map
    fields = [_field_spec(col, dialect) for col in table.columns]
    # reflected in a stable order: unnamed ones first, then by name (as stores that name
    # every constraint list them), ties in declaration order
    constraints = sorted(table.constraints, key=lambda c: (
        isinstance(c.name, str), c.name if isinstance(c.name, str) else "", c._creation_order))
    for col in table.columns:  # Column(..., CheckConstraint(...)) stays on the column
        constraints += [c for c in col.constraints if c not in constraints]
    constraints = [c for c in constraints if c._should_create_for_compiler(ddl)]
    uniques = [cons for cons in constraints
               if isinstance(cons, schema.UniqueConstraint) and cons.columns]
    unique = [[c.name for c in cons.columns] for cons in uniques]
    checks = [
        [cons.name if isinstance(cons.name, str) else "", _check_sql(cons, dialect)]
        for cons in constraints
        if isinstance(cons, schema.CheckConstraint)
    ]
    # the HiLo-filled key: SQLAlchemy's autoincrement column, else an Identity() integer
    # column of the primary key (GENERATED AS IDENTITY fills it in a composite key too)
    auto = table._autoincrement_column
    if auto is None:
        auto = next((c for c in table.primary_key.columns
                     if c.identity is not None and c.type._type_affinity is sqltypes.Integer),
                    None)
    foreign_keys = [foreign_key_json(cons, translate) for cons in constraints
                    if isinstance(cons, schema.ForeignKeyConstraint)]
    return {
        "fields": fields,
        "primary_key": [c.name for c in table.primary_key.columns],
        "autoincrement": auto.name if auto is not None else None,
        "unique": unique,
        "indexes": {},
        "checks": checks,
        "foreign_keys": foreign_keys,
        "unique_names": [c.name if isinstance(c.name, str) else None for c in uniques],
        **({"key_is_id": True} if table.dialect_options["docstore"]["key_is_id"] else {}),
        **({"temporary": True} if is_temporary(table) else {}),
        **({"schema": schema_name}
           if (schema_name := translated_schema(table.schema, translate)) is not None else {}),
    }


def translated_schema(name: str | None, translate: Mapping[str | None, str | None] | None
                      ) -> str | None:
    """The schema a statement executed with ``schema_translate_map`` gives a Table of schema
    ``name`` (SQLAlchemy renders it so in the statement's text)."""
    if translate and name in translate:
        return translate[name]
    return name


def index_elements(index: schema.Index, dialect: Any) -> list[Any]:
    """An index's elements as the collection spec keeps them (DocstoreDDLCompiler)."""
    ddl: Any = dialect.ddl_compiler(dialect, None)
    return list(ddl._index_fields(index))


def is_temporary(table: schema.Table) -> bool:
    """``Table(..., prefixes=["TEMPORARY"])`` (or TEMP), as SQLite's CREATE TEMPORARY TABLE."""
    return any(is_temporary_prefix(p) for p in table._prefixes)


def is_temporary_prefix(prefix: Any) -> bool:
    return str(prefix).upper() in ("TEMPORARY", "TEMP")


def _same_spec(name: str, parsed: dict[str, Any], declared: dict[str, Any]) -> bool:
    """Whether two collection specs are the same once read (JSON text compared, so that
    ``true`` and ``1`` or ``1`` and ``1.0`` differ)."""
    def text(spec: dict[str, Any]) -> str:
        return json.dumps(CollectionSpec.from_json(name, spec).to_json(), sort_keys=True)

    try:
        return text(parsed) == text(declared)
    except Error:
        return False


def foreign_key_json(cons: schema.ForeignKeyConstraint,
                     translate: Mapping[str | None, str | None] | None = None) -> dict[str, Any]:
    """A foreign key as the collection spec records it (reflected, not enforced)."""
    targets = [_fk_target(el, translate) for el in cons.elements]
    tables = {t[0] for t in targets}
    if len(tables) != 1 or any(len(t) != 2 for t in targets):
        raise exc.CompileError(f"foreign key {cons.name}: one referred table is supported")
    return {
        "name": cons.name if isinstance(cons.name, str) else None,
        "columns": [el.parent.name for el in cons.elements],
        "referred_table": targets[0][0],
        "referred_columns": [t[1] for t in targets],
        "ondelete": cons.ondelete,
        "onupdate": cons.onupdate,
        "deferrable": cons.deferrable,
        "initially": cons.initially,
    }


def _field_spec(col: schema.Column[Any], dialect: Any) -> dict[str, Any]:
    out = {
        "name": col.name,
        "type": _type_name(col.type, dialect.type_compiler_instance),
        "nullable": bool(col.nullable),
        "default": None,
    }
    if col.computed is not None:
        out["computed"] = sql_text(col.computed.sqltext, dialect)
        return out
    default = col.server_default
    if isinstance(default, schema.DefaultClause):
        constant = _constant_text(default.arg, col)
        if constant is not _EXPRESSION:
            out["default"] = constant
        else:
            out["default_sql"] = sql_text(default.arg, dialect)
    return out


def _fk_target(el: schema.ForeignKey,
               translate: Mapping[str | None, str | None] | None = None) -> list[str]:
    """[table name, column name] a foreign key refers to (by name, not by column key)."""
    try:
        col = el.column
    except exc.InvalidRequestError:  # the referred table is not in this MetaData (Alembic ops)
        return el.target_fullname.rsplit(".", 1)  # [schema.]table, column
    return [qualified(translated_schema(col.table.schema, translate), col.table.name), col.name]


def sql_text(element: Any, dialect: Any) -> str:
    """SQL text of a schema expression (a default, a generated column), values inlined: it is
    schema, rendered once into the DDL like a column name, and evaluated by the store."""
    if isinstance(element, str):
        return element
    if isinstance(element, TextClause):
        return element.text.strip()
    compiled = dialect.statement_compiler(dialect, None)
    return str(compiled.process(element, include_table=False, literal_binds=True)).strip()


def _check_sql(cons: schema.CheckConstraint, dialect: Any) -> str:
    # Columns unqualified, as every dialect's CREATE TABLE renders a CHECK: the store reads
    # them as the document's own fields.
    return sql_text(cons.sqltext, dialect)


def _type_name(type_: Any, type_compiler: Any) -> str:
    try:
        text: str = type_compiler.process(type_)
    except exc.CompileError:
        return "JSON"
    return text.strip().upper()


_EXPRESSION: Any = object()
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?)$")
_BAREWORD = re.compile(r"^[A-Za-z_][A-Za-z_0-9]*$")
#: a server default's SQL text that is one literal: a quoted string, a number, a bare word
_LITERAL_DEFAULT = re.compile(
    r"^('(?:[^']|'')*'|[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?)"
    r"|[A-Za-z_][A-Za-z_0-9]*)$")
# Bare words SQLite reads as values, not as the string SQLite makes of other bare words.
_SQL_WORDS = frozenset({"current_timestamp", "current_date", "current_time", "null", "true",
                        "false"})


def _constant_text(arg: Any, col: schema.Column[Any]) -> Any:
    """The constant a server default stands for, or _EXPRESSION for SQL to evaluate."""
    if isinstance(arg, str):
        return arg if isinstance(col.type, sqltypes.String) else _typed_default(col, arg)
    if not isinstance(arg, TextClause):
        return _EXPRESSION  # func.now(), func.lower("X"), literal(5) ...
    text = arg.text.strip()
    if len(text) >= 2 and text[0] == text[-1] == "'" and "'" not in text[1:-1].replace("''", ""):
        value = text[1:-1].replace("''", "'")
        return _json_text(value) if isinstance(col.type, sqltypes.JSON) else value
    lowered = text.lower()
    if _NUMBER.match(text) or lowered in ("true", "false"):
        return text if isinstance(col.type, sqltypes.String) else _typed_default(col, text)
    if lowered == "null":
        return None
    if _BAREWORD.match(text) and lowered not in _SQL_WORDS:
        return text  # SQLite stores an unquoted word as that string
    return _EXPRESSION


def _json_text(text: str) -> Any:
    """A JSON column's quoted default (``text("'[]'")``): SQLite stores that text, which the
    JSON type reads back as its value; text that is not JSON stays text."""
    try:
        return json.loads(text, parse_constant=_no_constant)
    except ValueError:
        return text


def _no_constant(name: str) -> Any:
    # NaN and infinities: Python's JSON reads them, a document can't hold them
    raise exc.CompileError(f"a JSON default of {name} can't be stored (JSON has no {name})")


def _constant_default(col: schema.Column[Any]) -> Any:
    """The default of a column added to existing documents: a constant, as SQLite requires
    of ALTER TABLE ADD COLUMN (every existing document gets it)."""
    if col.computed is not None:
        raise exc.CompileError(
            f"adding the generated column {col.name} to an existing collection is not "
            "supported by sqla_docstore")
    default = col.server_default
    if default is None or not isinstance(default, schema.DefaultClause):
        return None
    value = _constant_text(default.arg, col)
    if value is _EXPRESSION:
        raise exc.CompileError(
            f"server default of {col.name}: a column added to existing documents needs a "
            "constant default (as ALTER TABLE ADD COLUMN does in SQLite)")
    return value


def _typed_default(col: schema.Column[Any], text: str) -> Any:
    # A server default is SQL text; documents hold typed JSON values ("5" is 5 in an Integer).
    lowered = text.lower()
    if isinstance(col.type, sqltypes.Boolean) and lowered in ("true", "false", "1", "0"):
        return lowered in ("true", "1")
    try:
        value = json.loads(text)
    except ValueError:
        if isinstance(col.type, (sqltypes.Integer, sqltypes.Numeric)):
            raise exc.CompileError(
                f"server default {text!r} of {col.name}: only constant defaults are supported"
            ) from None
        return text
    return value


class DocstoreTypeCompiler(compiler.GenericTypeCompiler):
    def visit_JSON(self, type_: Any, *args: Any, **kw: Any) -> str:  # noqa: N802 - SQLAlchemy's naming
        return "JSON"

    def visit_uuid(self, type_: Any, *args: Any, **kw: Any) -> str:
        return "UUID"

    def visit_interval(self, type_: Any, *args: Any, **kw: Any) -> str:
        return "INTERVAL"

    def visit_large_binary(self, type_: Any, *args: Any, **kw: Any) -> str:
        return "BLOB"
