"""Plans a statement-tree query as SQLite SQL over JSON documents (pure: no I/O).

Collections are tables ``(id, body, cv, ...)``; a field is ``json_extract(body, '$."f"')``, the
same text the store's expression indexes use, so a selective filter is an index search. Values
are always bound parameters. Plain fields of the top-level SELECT are read from the document body
in Python (one JSON parse per row instead of one SQLite call per cell).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from ...affinity import SQL_COMPARED, SQL_JSON, SQL_JSON_STORED, SQL_JSON_TEXT
from ...errors import NotSupportedError, ProgrammingError
from ...schema import CollectionSpec, IndexKey
from ...statements import ast
from ...statements.parser import parse_expression


class Catalog(Protocol):
    def table_name(self, collection: str) -> str:
        """The quoted SQLite table of a collection; OperationalError if it doesn't exist."""

    def columns(self, collection: str) -> tuple[str, ...] | None:
        """The declared fields of a collection, or None if it has no schema."""

    def exact_fields(self, collection: str, decimal_only: bool = False) -> frozenset[str]:
        """Fields declared with an exact number type (integers, NUMERIC/DECIMAL; only the
        latter with ``decimal_only``)."""

    def key_field(self, collection: str) -> str | None:
        """The field holding the whole document id (a schema's ``key_is_id``), or None."""

    def keys_agree(self, collection: str) -> str | None:
        """The key field of a collection whose documents hold in it NULL or their row key
        ``k`` (``CollectionSpec.keys_agree``), else None."""

    def binary_fields(self, collection: str) -> frozenset[str]:
        """Fields declared with a binary type (their values are base64 text)."""

    def json_fields(self, collection: str) -> frozenset[str]:
        """Fields declared JSON: ``null`` there is JSON null, a value
        (``SqlGenerator._json_value``)."""


# SQLite functions that mean the same on JSON values as in SQL, by name.
_FUNCTIONS = {
    "count", "sum", "total", "avg", "min", "max", "lower", "upper", "length", "abs", "coalesce",
    "ifnull", "nullif", "round", "substr", "substring", "replace", "trim", "ltrim", "rtrim",
    "instr", "group_concat", "random", "typeof", "hex", "unicode", "char", "date", "time",
    "datetime", "julianday", "strftime", "sign", "iif",
}
_AGGREGATES = {"count", "sum", "total", "avg", "min", "max", "group_concat", "string_agg"}
#: functions that exist only with OVER (SQLite's built-in window functions)
_WINDOW_FUNCTIONS = {"row_number", "rank", "dense_rank", "percent_rank", "cume_dist", "ntile",
                     "lag", "lead", "first_value", "last_value", "nth_value"}
_SUBQUERIES_AND_WINDOWS = (ast.Exists, ast.ScalarSubquery, ast.InSelect, ast.Window)
_RENAMED = {"char_length": "length", "character_length": "length", "substring": "substr",
            "string_agg": "group_concat", "aggregate_strings": "group_concat"}
_BARE_KEYWORDS = {"current_timestamp", "current_date", "current_time"}
_CASTS = {
    "INTEGER": "INTEGER", "INT": "INTEGER", "BIGINT": "INTEGER", "SMALLINT": "INTEGER",
    "BOOLEAN": "NUMERIC", "FLOAT": "REAL", "REAL": "REAL", "DOUBLE": "REAL",
    "DOUBLE PRECISION": "REAL", "NUMERIC": "NUMERIC", "DECIMAL": "NUMERIC", "VARCHAR": "TEXT",
    "CHAR": "TEXT", "TEXT": "TEXT", "STRING": "TEXT", "NVARCHAR": "TEXT", "CLOB": "TEXT",
    "NCHAR": "TEXT", "UUID": "TEXT",  # UUIDs are stored as their text
    # (INTERVAL is refused: intervals are stored as TimeSpan text, which SQLite's CAST would
    # not read as such; BLOB is _x_Cast's own case: binaries are stored as base64 text)
    "DATE": "TEXT", "DATETIME": "TEXT", "TIMESTAMP": "TEXT", "TIME": "TEXT", "JSON": "TEXT",
}


_JOINS = {"inner": "JOIN", "left": "LEFT OUTER JOIN", "right": "RIGHT OUTER JOIN",
          "full": "FULL OUTER JOIN"}
_COMPARISONS = {"=", "!=", "<>", "<", "<=", ">", ">="}
#: the comparisons a range of values answers (``SqlGenerator._key_range``), and each one's
#: meaning with its operands swapped
_RANGES = {"=", "<", "<=", ">", ">="}
_FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}
_FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}
_NON_STRICT = {"<": "<=", "<=": "<=", ">": ">=", ">=": ">="}
_STRICT = {"<": "<", "<=": "<", ">": ">", ">=": ">", "!=": "!="}
# Aggregates that pick or compare values (sum/avg compute in doubles anyway, as SQL does).
_INEXACT_AGGREGATES = {"min", "max", "group_concat", "count"}
#: aggregates SQLite computes in doubles: refused over a wide value of an exact-typed field
_SUMS = {"sum", "avg", "total"}
_WIDE = "9007199254740992.0"  # 2**53: doubles beyond hold integers only approximately


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def json_path(name: str) -> str:
    """The SQL literal of a field's JSON path (field names are identifiers, never values).

    The label is written as the key appears in the stored JSON text (backslashes and control
    characters escaped as ``values.dumps`` writes them), which is what SQLite matches."""
    if '"' in name:
        raise NotSupportedError(f"field names containing '\"' are not supported: {name!r}")
    label = json.dumps(name, ensure_ascii=False)
    return "'$." + label.replace("'", "''") + "'"


def field_sql(alias: str, name: str) -> str:
    return f"json_extract({quote(alias)}.body, {json_path(name)})"


def json_raw_sql(alias: str, name: str) -> str:
    """A field's JSON text as stored (NULL: missing; JSON null ``'null'``)."""
    return f"({quote(alias)}.body -> {json_path(name)})"


@dataclass(frozen=True)
class OutColumn:
    """How one result column is produced: ``kind`` is "field" (from body ``slot`` by ``name``),
    "value" (SQL value at ``slot``), "json" (JSON text at ``slot``), or "doc" (whole body)."""

    label: str
    kind: str
    slot: int
    name: str = ""


@dataclass
class SqlPlan:
    sql: str
    #: sqlite parameter name -> ("param", statement param name) or ("literal", value)
    binds: dict[str, tuple[str, Any]]
    columns: list[OutColumn]
    #: (collection, field) pairs the query filters, joins or sorts on: index candidates.
    index_fields: set[tuple[str, str]] = field(default_factory=set)
    array_params: frozenset[str] = frozenset()
    #: (body slot, id slot, change-vector slot) of every document the rows are read from;
    #: the id and change-vector slots are -1 in a plan that reads bodies only (``notes``)
    documents: list[tuple[int, int, int]] = field(default_factory=list)
    #: how the binds are computed from a statement's parameters (made on the first run,
    #: by the connection: ``_Binder``)
    binder: Any = field(default=None, compare=False, repr=False)


@dataclass
class _Source:
    kind: str  # "collection" | "derived"
    collection: str | None
    columns: tuple[str, ...] | None
    #: a derived table's columns that hold a JSON element as JSON text (json_text)
    json_columns: frozenset[str] = frozenset()


@dataclass
class _Scope:
    sources: dict[str, _Source]
    parent: _Scope | None = None
    #: result labels ORDER BY may name: None if the label is a SQL output column, else the
    #: expression to order by (fields read from the body in Python have no SQL column).
    labels: dict[str, ast.Expr | None] = field(default_factory=dict)
    #: ORDER BY terms (a label's SQL) that read a field as its JSON text, where NULL is the
    #: text 'null': the field's SQL value, for NULLS FIRST / LAST to see its NULL
    null_texts: dict[str, str] = field(default_factory=dict)
    #: ORDER BY terms (a label's SQL) naming a result column that is an exact sum or average
    exact_sums: set[str] = field(default_factory=set)


#: the SQL of an exact sum or average (values.ExactSum)
_EXACT_AGGREGATES = ("docstore_dsum(", "docstore_davg(")

#: SQLite folds the case of identifiers' ASCII letters only
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _label_in_any_case(name: str, labels: dict[str, Any]) -> str | None:
    """The result label ``name`` names as SQLite compares identifiers (ASCII letters in any
    case), if exactly one does."""
    folded = name.translate(_ASCII_LOWER)
    found = [label for label in labels if label.translate(_ASCII_LOWER) == folded]
    return found[0] if len(found) == 1 else None


def _refuse_other_case(col: ast.Column, columns: tuple[str, ...]) -> None:
    """A qualified name of a declared column in another case is refused, as an unqualified
    one is: read as a field it would be a missing one (NULL), where SQLite finds the column.
    A name no column has in any case reads a field the documents may hold."""
    folded = col.name.translate(_ASCII_LOWER)
    declared = [c for c in columns if c.translate(_ASCII_LOWER) == folded]
    if declared:
        raise ProgrammingError(f"no such column: {col.table}.{col.name} (the column is "
                               f"{declared[0]!r}: names of columns compare exactly here)")


class SqlGenerator:
    """One generator per plan: collects binds and index candidates while rendering."""

    def __init__(
        self,
        catalog: Catalog,
        overlays: dict[str, str] | None = None,
        array_params: Iterable[str] = (),
        path_values: dict[str, Any] | None = None,
        inline_literals: bool = False,
    ) -> None:
        self.catalog = catalog
        self.overlays = overlays or {}
        self.array_params = frozenset(array_params)
        #: values of the parameters that are JSON path steps: a path is SQL text (a JSON path
        #: literal, as a field name is), so SQLite matches it with an index on that path
        self.path_values = path_values or {}
        #: constants as SQL literals (an index expression: CREATE INDEX takes no parameters)
        self.inline_literals = inline_literals
        self.binds: dict[str, tuple[str, Any]] = {}
        self._param_slots: dict[str, str] = {}
        self.index_fields: set[tuple[str, str]] = set()
        self._used_overlays: dict[str, str] = {}
        #: recursive CTEs the statement reads, in the order met (rendered in WITH RECURSIVE)
        self._ctes: dict[str, ast.RecursiveCte] = {}
        #: rendering an ORDER BY term that is a bare name: a result label comes first
        self._bare_term = False
        #: the JSON texts a grouped select reads its fields as, and each field's SQL value
        self._quoted_fields: dict[str, str] = {}
        #: the top select's result column that is an exact sum or average itself (values.
        #: ExactSum): the one place its exact text (a sum no double holds) may come out as is
        self._result_sum: ast.Expr | None = None
        #: the conditions a WHERE or ON is a conjunction of (by id): where FALSE and NULL
        #: both drop the row, so a range of the row key may be added to them (``_key_range``)
        self._filters: set[int] = set()

    # -- entry points --------------------------------------------------------------------
    def plan_query(self, stmt: ast.SelectLike, notes: bool = True) -> SqlPlan:
        """``notes``: each document's id and change vector are read beside its body, for the
        connection to note what the transaction read; False: bodies only (a read nobody notes,
        such as a stream's), unless the select list is grouped (DISTINCT over whole rows)."""
        documents: list[tuple[int, int, int]] = []
        if isinstance(stmt, ast.Select):
            sql, columns = self._top_select(stmt, documents, notes)
        else:
            sql = self.select(stmt, None, json_text=True)
            json_labels = self._json_text_labels(stmt)
            columns = [OutColumn(label, "json" if label in json_labels else "value", i)
                       for i, label in enumerate(_labels(stmt))]
        return SqlPlan(self._with_overlays(sql), self.binds, columns, self.index_fields,
                       self.array_params, documents)

    def plan_rows_for_write(
        self, table: str, alias: str | None, where: ast.Expr | None, exprs: tuple[ast.Expr, ...]
    ) -> SqlPlan:
        """id, body, cv and the given expressions of each document matching ``where``."""
        _refuse_aggregates(exprs, "UPDATE ... SET")
        ref = alias or table
        scope = _Scope({ref: self._source(table)})
        cols = [f"{quote(ref)}.id", f"{quote(ref)}.body", f"{quote(ref)}.cv"]
        cols += [self.expr(e, scope) for e in exprs]
        sql = f"SELECT {', '.join(cols)} FROM {self._table(table, ref)}"
        if where is not None:
            sql += " WHERE " + self._condition(where, scope)
        return SqlPlan(self._with_overlays(sql), self.binds, [], self.index_fields)

    def plan_documents(self, stmt: ast.Select) -> SqlPlan:
        """Whole stored rows (id, body, cv, modified, meta) of a one-collection query."""
        if len(stmt.from_) != 1 or not isinstance(stmt.from_[0], ast.TableRef):
            raise NotSupportedError("a document query reads exactly one collection")
        ref = quote(stmt.from_[0].ref)
        scope = self._from_scope(stmt.from_, None)
        cols = [f"{ref}.{c}" for c in ("id", "body", "cv", "modified", "meta")]
        sql = self._select_tail(replace(stmt, distinct=False), scope, cols, {})
        return SqlPlan(sql, self.binds, [], self.index_fields, self.array_params)

    def plan_scalar(self, exprs: tuple[ast.Expr, ...]) -> SqlPlan:
        """Evaluate expressions without a FROM (for INSERT values that are not plain binds)."""
        _refuse_aggregates(exprs, "a value or CHECK expression")
        scope = _Scope({})
        sql = "SELECT " + ", ".join(self.expr(e, scope) for e in exprs)
        return SqlPlan(self._with_overlays(sql), self.binds, [])

    # -- selects -------------------------------------------------------------------------
    def _top_select(self, stmt: ast.Select, documents: list[tuple[int, int, int]],
                    notes: bool = True) -> tuple[str, list[OutColumn]]:
        scope = self._from_scope(stmt.from_, None)
        grouped = bool(stmt.distinct or stmt.group_by or stmt.having
                       or any(_has_aggregate(c.expr) for c in stmt.columns))
        sql_cols: list[str] = []
        # (label, kind, slot or body alias, field name): body columns come after the values
        planned: list[tuple[str, str, Any, str]] = []
        refs: dict[str, None] = {}  # aliases whose bodies are read, in order
        labels: dict[str, ast.Expr | None] = {}
        # a label of a field read as its JSON text (grouped selects) stands for the field's
        # value in HAVING: "HAVING m > 1" compares the number, not its text
        value_labels: dict[str, ast.Expr | None] = {}
        values: list[str] = []  # the SQL of each value column
        for col in stmt.columns:
            for label, kind, target in self._expand(col, scope, grouped):
                if col.alias:
                    labels[col.alias] = col.expr if kind == "field" else None
                    if kind == "json" and target in self._quoted_fields:
                        value_labels[col.alias] = col.expr
                    if kind == "json" and target in self._quoted_fields:
                        scope.null_texts[quote(col.alias)] = self._quoted_fields[target]
                    if kind == "value" and target.startswith(_EXACT_AGGREGATES):
                        scope.exact_sums.add(quote(col.alias))
                if kind in ("field", "doc"):
                    ref, name = target if kind == "field" else (target, "")
                    refs[ref] = None
                    planned.append((label, kind, ref, name))
                else:
                    planned.append((label, kind, len(sql_cols), ""))
                    sql_cols.append(f"{target} AS {quote(label)}")
                    values.append(target)
        body_slot: dict[str, int] = {}
        notes = notes or grouped  # (the id and change vector keep DISTINCT rows apart)
        for ref in refs:
            # The body, and the document's id and change vector: the connection remembers
            # what it read.
            body_slot[ref] = len(sql_cols)
            if not notes:
                documents.append((len(sql_cols), -1, -1))
                sql_cols.append(f"{quote(ref)}.body")
                continue
            documents.append((len(sql_cols), len(sql_cols) + 1, len(sql_cols) + 2))
            sql_cols += [f"{quote(ref)}.body", f"{quote(ref)}.id", f"{quote(ref)}.cv"]
        out = [
            OutColumn(label, kind, body_slot[where] if kind in ("field", "doc") else where, name)
            for label, kind, where, name in planned
        ]
        keys = [*values, *sql_cols[len(values):]]  # (then bodies, ids, change vectors)
        return self._select_tail(stmt, scope, sql_cols, labels, self._distinct_keys(
            stmt, keys), {**labels, **value_labels}), out

    def _distinct_keys(self, stmt: ast.Select, keys: list[str]) -> list[str] | None:
        """A plain SELECT DISTINCT's rows told apart by their SQL values, not by the JSON texts
        its fields are read as (2 and 2.0 are one row, as in SQL; the texts differ): the
        select list's values, each field's rather than its text; None for other selects."""
        if not stmt.distinct or stmt.group_by or stmt.having is not None or any(
                _has_aggregate(c.expr) or any(isinstance(n, ast.Window) for n in ast.walk(
                    c.expr, _SUBQUERIES_AND_WINDOWS[:-1])) for c in stmt.columns):
            return None
        return [self._quoted_fields.get(key, key) for key in keys]

    def _expand(
        self, col: ast.ResultColumn, scope: _Scope, grouped: bool
    ) -> list[tuple[str, str, Any]]:
        expr = col.expr
        if isinstance(expr, ast.Star):
            refs = [expr.table] if expr.table else list(scope.sources)
            items: list[tuple[str, str, Any]] = []
            for ref in refs:
                source = self._lookup_source(ref, scope)
                if source.columns is None:
                    if source.kind == "collection":
                        items.append(("id", "value", f"{quote(ref)}.id"))
                        items.append(("@document", "doc", ref))
                        continue
                    raise NotSupportedError(f"SELECT * from a subquery without columns: {ref}")
                for name in source.columns:
                    items += self._expand(ast.ResultColumn(ast.Column(ref, name)), scope, grouped)
            return items
        label = col.alias or _default_label(expr)
        if json_text(expr):  # a JSON element comes back as its value (dict, list, str ...)
            return [(label, "json", self.expr(expr, scope))]
        if _json_valued(expr):  # SQLite's JSON text or number, read back as JSON
            return [(label, "json", f"{SQL_JSON_TEXT}({self.expr(expr, scope)})")]
        if isinstance(expr, ast.Column):
            resolved = self._resolve(expr, scope)
            if resolved is not None and resolved[0] == "column" and (
                    expr.name in self._lookup_source(resolved[1], scope).json_columns):
                return [(label, "json", self.expr(expr, scope))]
            if resolved is not None and resolved[0] == "field" and resolved[1] in scope.sources:
                if grouped:
                    # its JSON text as stored, told apart and ordered by its SQL value
                    # (DISTINCT, ORDER BY its label): 2 and 2.0 are one (values.sql_order).
                    # Not json_quote of the value: it writes a real with 15 digits
                    raw = self._column(expr, scope, False)
                    stored = f"{quote(resolved[1])}.body -> {json_path(expr.name)}"
                    quoted = f"ifnull({stored}, 'null') COLLATE docstore_sql_order"
                    self._quoted_fields[quoted] = raw
                    return [(label, "json", quoted)]
                return [(label, "field", (resolved[1], expr.name))]
        self._result_sum = expr
        try:
            return [(label, "value", self.expr(expr, scope))]
        finally:
            self._result_sum = None

    def select(self, stmt: ast.SelectLike, parent: _Scope | None,
               json_text: bool = False) -> str:
        """A nested SELECT rendered with SQL values (subqueries, compound members);
        ``json_text``: its JSON-typed fields as their JSON text (a derived table's or a
        compound's rows, read back as values: ``_json_text_labels``)."""
        if isinstance(stmt, ast.Compound):
            joiner = f" {stmt.op.upper()} "
            # members of a set operation that removes duplicates are DISTINCT already (so
            # their fields get the wide-number check of SELECT DISTINCT)
            members = [replace(s, distinct=True) if isinstance(s, ast.Select) and (
                stmt.op != "union all") else s for s in stmt.selects]
            parts = [f"SELECT * FROM ({self.select(s, parent, json_text)})" for s in members]
            sql = joiner.join(parts)
            scope = _Scope({}, parent, dict.fromkeys(_labels(stmt)))
            return sql + self._order_limit(stmt.order_by, stmt.limit, stmt.offset, scope,
                                           positions=True)
        scope = self._from_scope(stmt.from_, parent)
        cols: list[str] = []
        for col, label in zip(stmt.columns, _labels(stmt), strict=True):
            if isinstance(col.expr, ast.Star):
                cols += self._star_values(col.expr, scope, json_text)
                continue
            text = self._json_field_text(col.expr, scope) if json_text else None
            cols.append(f"{text or self.expr(col.expr, scope)} AS {quote(label)}")
        return self._select_tail(stmt, scope, cols,
                                 {c.alias: None for c in stmt.columns if c.alias})

    def _star_values(self, star: ast.Star, scope: _Scope, json_text: bool = False) -> list[str]:
        refs = [star.table] if star.table else list(scope.sources)
        cols = []
        for ref in refs:
            source = self._lookup_source(ref, scope)
            if source.kind == "derived":
                cols.append(f"{quote(ref)}.*")
            elif source.columns is None:
                raise NotSupportedError(f"SELECT * in a subquery over schemaless {ref}")
            else:
                cols += [f"{self._star_field(ref, n, source.collection, json_text)} AS "
                         f"{quote(n)}" for n in source.columns]
        return cols

    def _star_field(self, ref: str, name: str, collection: str | None, json_text: bool) -> str:
        if json_text and collection is not None and name in self.catalog.json_fields(
                collection):
            return self._json_value(ref, name)
        return self._field_value(ref, name, collection)

    def _json_text_labels(self, stmt: ast.SelectLike) -> frozenset[str]:
        """The labels of a derived table's or compound's columns that hold JSON text: JSON
        elements, and JSON-typed fields (``select(..., json_text=True)``) read directly or
        from a derived table."""
        while isinstance(stmt, ast.Compound):
            stmt = stmt.selects[0]
        out = set(_json_labels(stmt))
        scope = self._from_scope(stmt.from_, None)
        for col in stmt.columns:
            if isinstance(col.expr, ast.Star):
                for ref in [col.expr.table] if col.expr.table else list(scope.sources):
                    source = self._lookup_source(ref, scope)
                    if source.collection is not None:
                        out.update(self.catalog.json_fields(source.collection))
                    out.update(source.json_columns)
                continue
            if not isinstance(col.expr, ast.Column):
                continue
            resolved = self._resolve(col.expr, scope)
            if resolved is None or resolved[0] not in ("field", "column"):
                continue
            source = self._lookup_source(resolved[1], scope)
            if col.expr.name in source.json_columns or (
                    source.collection is not None and resolved[0] == "field"
                    and col.expr.name in self.catalog.json_fields(source.collection)):
                out.add(col.alias or col.expr.name)
        return frozenset(out)

    def _select_tail(self, stmt: ast.Select, scope: _Scope, cols: list[str],
                     labels: dict[str, ast.Expr | None],
                     distinct_keys: list[str] | None = None,
                     having_labels: dict[str, ast.Expr | None] | None = None) -> str:
        distinct = "DISTINCT " if stmt.distinct and distinct_keys is None else ""
        sql = "SELECT " + distinct + ", ".join(cols or ["NULL"])
        if stmt.from_:
            sql += " FROM " + ", ".join(self._from_item(f, scope) for f in stmt.from_)
        where = [] if stmt.where is None else [self._condition(stmt.where, scope)]
        where += self._inexact_guards(stmt, scope, labels)
        if where:
            sql += " WHERE " + " AND ".join(where)
        # Result labels name things in GROUP BY, HAVING and ORDER BY only (as in SQL); in the
        # select list and WHERE a name is a field, even when a label has the same name.
        scope.labels = labels
        if stmt.group_by:
            sql += " GROUP BY " + ", ".join(self.expr(e, scope, index=True) for e in stmt.group_by)
        elif distinct_keys:
            sql += " GROUP BY " + ", ".join(distinct_keys)
        if stmt.having is not None:
            scope.labels = labels if having_labels is None else having_labels
            sql += " HAVING " + self.expr(stmt.having, scope)
            scope.labels = labels
        return sql + self._order_limit(stmt.order_by, stmt.limit, stmt.offset, scope)

    def _order_limit(
        self, order_by: tuple[ast.OrderItem, ...], limit: ast.Expr | None,
        offset: ast.Expr | None, scope: _Scope, positions: bool = False,
    ) -> str:
        sql = ""
        if order_by:
            parts = []
            for item in order_by:
                self._bare_term = isinstance(item.expr, ast.Column) and item.expr.table is None
                try:
                    if positions and isinstance(item.expr, ast.Literal) and (
                            type(item.expr.value) is int):
                        # a compound's ORDER BY K names its K-th result column, as SQLite
                        # reads it (a statement's constant, not a value: a bound K is an
                        # expression, which a compound's ORDER BY refuses)
                        part = str(item.expr.value)
                    else:
                        part = self.expr(item.expr, scope, index=True)
                finally:
                    self._bare_term = False
                if part in scope.exact_sums:
                    part = self._exact_value(part, "ORDER BY")
                if item.nulls and part in scope.null_texts:
                    # NULL is the text 'null' there, which NULLS FIRST / LAST does not see
                    is_null = f"({scope.null_texts[part]} IS NULL)"
                    parts.append(is_null + (" DESC" if item.nulls == "first" else ""))
                part += " DESC" if item.desc else ""
                if item.nulls:
                    part += f" NULLS {item.nulls.upper()}"
                parts.append(part)
            sql += " ORDER BY " + ", ".join(parts)
        if limit is not None or offset is not None:
            sql += " LIMIT " + (self.expr(limit, scope) if limit is not None else "-1")
            if offset is not None:
                sql += " OFFSET " + self.expr(offset, scope)
        return sql

    # -- FROM ----------------------------------------------------------------------------
    def _source(self, collection: str) -> _Source:
        self.catalog.table_name(collection)  # raises for an unknown collection
        return _Source("collection", collection, self.catalog.columns(collection))

    def _from_scope(self, items: tuple[ast.FromItem, ...], parent: _Scope | None) -> _Scope:
        scope = _Scope({}, parent)
        for item in items:
            self._collect_sources(item, scope)
        return scope

    def _collect_sources(self, item: ast.FromItem, scope: _Scope) -> None:
        if isinstance(item, ast.TableRef):
            scope.sources[item.ref] = self._source(item.name)
        elif isinstance(item, ast.SubqueryRef):
            scope.sources[item.alias] = _Source("derived", None,
                                                self._derived_columns(item.select),
                                                self._json_text_labels(item.select))
        elif isinstance(item, ast.CteRef):
            scope.sources[item.alias] = _Source("derived", None, item.cte.columns)
        elif isinstance(item, ast.CteSelf):
            scope.sources[item.alias] = _Source("derived", None, item.columns)
        else:
            self._collect_sources(item.left, scope)
            self._collect_sources(item.right, scope)

    def _derived_columns(self, stmt: ast.SelectLike) -> tuple[str, ...] | None:
        """The column names of a derived table, ``*`` expanded (None if one is unknown: a
        ``*`` over a collection without declared columns)."""
        while isinstance(stmt, ast.Compound):
            stmt = stmt.selects[0]
        if not any(isinstance(c.expr, ast.Star) for c in stmt.columns):
            return tuple(_labels(stmt))
        inner = self._from_scope(stmt.from_, None)
        names: list[str] = []
        for col in stmt.columns:
            if not isinstance(col.expr, ast.Star):
                names.append(col.alias or _default_label(col.expr))
                continue
            for ref in [col.expr.table] if col.expr.table else list(inner.sources):
                columns = self._lookup_source(ref, inner).columns
                if columns is None:
                    return None
                names += columns
        return tuple(names)

    def _table(self, collection: str, ref: str) -> str:
        if collection in self.overlays:
            self._used_overlays[collection] = self.overlays[collection]
            table, extra = quote("overlay:" + collection), ""
        else:
            table, extra = self.catalog.table_name(collection), ", modified, meta"
        key = self.catalog.key_field(collection)
        if key is not None:  # the key is the document id, not kept in the body
            table = (f"(SELECT id, json_set(body, {json_path(key)}, id) AS body, cv{extra} "
                     f"FROM {table})")
        return f"{table} AS {quote(ref)}"

    def _from_item(self, item: ast.FromItem, scope: _Scope) -> str:
        if isinstance(item, ast.TableRef):
            return self._table(item.name, item.ref)
        if isinstance(item, ast.SubqueryRef):
            return (f"({self.select(item.select, scope.parent, json_text=True)}) AS "
                    f"{quote(item.alias)}")
        if isinstance(item, ast.CteRef):
            if self._ctes.setdefault(item.cte.name, item.cte) is not item.cte:
                raise NotSupportedError(f"two recursive CTEs named {item.cte.name}")
            return f"{quote('cte:' + item.cte.name)} AS {quote(item.alias)}"
        if isinstance(item, ast.CteSelf):
            return f"{quote('cte:' + item.name)} AS {quote(item.alias)}"
        left = self._from_item(item.left, scope)
        right = self._from_item(item.right, scope)
        if isinstance(item.right, ast.Join):  # a nested join keeps its own grouping
            right = f"({right})"
        if item.kind == "cross":
            return f"{left} CROSS JOIN {right}"
        keyword = _JOINS[item.kind]
        if item.kind in ("right", "full") and sqlite3.sqlite_version_info < (3, 39):
            raise NotSupportedError(f"{item.kind.upper()} JOIN needs SQLite 3.39 or later "
                                    f"(this Python has {sqlite3.sqlite_version})")
        assert item.on is not None
        return f"{left} {keyword} {right} ON {self._condition(item.on, scope)}"

    def _recursive_ctes(self) -> list[str]:
        """``"cte:name"(columns) AS (anchor UNION [ALL] step)`` for each recursive CTE read,
        the ones a CTE reads before it (rendering a body may meet more)."""
        done: dict[str, str] = {}
        while len(done) < len(self._ctes):
            name, cte = next((n, c) for n, c in self._ctes.items() if n not in done)
            done[name] = ""
            joiner = f" {cte.select.op.upper()} "
            body = joiner.join(self.select(member, None) for member in cte.select.selects)
            cols = ", ".join(quote(c) for c in cte.columns)
            done[name] = f"{quote('cte:' + name)}({cols}) AS ({body})"
        return list(reversed(done.values()))

    def _with_overlays(self, sql: str) -> str:
        recursive = self._recursive_ctes() if self._ctes else []
        if not self._used_overlays and not recursive:
            return sql
        ctes = []
        for collection, temp in self._used_overlays.items():
            base = self.catalog.table_name(collection)
            # The pending documents' cv is a NULL of the stored cv's affinity (BLOB): with
            # every column's affinity alike in both arms, SQLite flattens the CTE into a
            # query that reads it once (the WHERE pushed into each arm, each using its
            # indexes) instead of filtering the CTE's rows again in a co-routine.
            ctes.append(
                f"{quote('overlay:' + collection)} AS ("
                f"SELECT id, body, cv FROM {base} WHERE id NOT IN (SELECT id FROM {temp}) "
                f"UNION ALL SELECT id, body, CAST(NULL AS BLOB) FROM {temp} "
                "WHERE body IS NOT NULL)"
            )
        keyword = "WITH RECURSIVE " if recursive else "WITH "
        return keyword + ", ".join(ctes + recursive) + " " + sql

    # -- names ---------------------------------------------------------------------------
    def _lookup_source(self, ref: str, scope: _Scope | None) -> _Source:
        while scope is not None:
            if ref in scope.sources:
                return scope.sources[ref]
            scope = scope.parent
        raise ProgrammingError(f"no such table or alias: {ref}")

    @staticmethod
    def _label_target(name: str, scope: _Scope | None) -> ast.Expr | None:
        while scope is not None:
            if name in scope.labels:
                return scope.labels[name]
            scope = scope.parent
        return None

    def _resolve(self, col: ast.Column, scope: _Scope) -> tuple[str, str] | None:
        """("field", ref) for a document field, ("column", ref) for a subquery column,
        ("label", name) for a result label, None for a bare SQL keyword."""
        if col.table is not None:
            s: _Scope | None = scope
            while s is not None:
                source = s.sources.get(col.table)
                if source is not None:
                    if source.kind != "collection":
                        return "column", col.table
                    if source.columns is not None and col.name not in source.columns:
                        _refuse_other_case(col, source.columns)
                    return "field", col.table
                s = s.parent
            raise ProgrammingError(f"no such table or alias: {col.table}")
        if col.name.lower() in _BARE_KEYWORDS:
            return None
        s = scope
        while s is not None:
            found = self._resolve_here(col.name, s)
            if found is not None:
                return found
            s = s.parent
        raise ProgrammingError(f"no such column: {col.name}")

    def _resolve_here(self, name: str, scope: _Scope) -> tuple[str, str] | None:
        known = [ref for ref, src in scope.sources.items()
                 if src.columns is not None and name in src.columns]
        # As in SQLite, a result label names a column in ORDER BY when the term is that bare
        # name (in any case); in GROUP BY, HAVING and within expressions a table's column of
        # the same name comes first.
        label = name if name in scope.labels else _label_in_any_case(name, scope.labels)
        if label is not None and (self._bare_term or not known):
            return "label", label
        if len(known) > 1:
            raise ProgrammingError(f"ambiguous column name: {name}")
        if known:
            ref = known[0]
        else:
            open_refs = [ref for ref, src in scope.sources.items() if src.columns is None]
            if len(open_refs) != 1:
                return None
            ref = open_refs[0]
        kind = "field" if scope.sources[ref].kind == "collection" else "column"
        return kind, ref

    def _column(self, col: ast.Column, scope: _Scope, index: bool) -> str:
        resolved = self._resolve(col, scope)
        if resolved is None:
            return col.name.upper()
        kind, ref = resolved
        if kind == "label":
            target = self._label_target(ref, scope)
            self._bare_term = False  # (the label's expression reads the tables' columns)
            return quote(ref) if target is None else self.expr(target, scope, index)
        if kind == "column":
            return f"{quote(ref)}.{quote(col.name)}"
        source = self._lookup_source(ref, scope)
        if index and source.collection is not None:
            self.index_fields.add((source.collection, col.name))
        return self._field_value(ref, col.name, source.collection)

    def _field_value(self, ref: str, name: str, collection: str | None) -> str:
        """The SQL value of field ``name`` of the collection's document ``ref``."""
        if collection is not None and name in self.catalog.json_fields(collection):
            return self._json_value(ref, name)
        return field_sql(ref, name)

    def _json_value(self, ref: str, name: str) -> str:
        """A JSON-typed field's SQL value: the value SQLite's JSON column holds for it
        (``affinity.sqlite_json`` of its JSON text: SQLAlchemy's serializer's text under
        NUMERIC affinity, ``'"x"'``, 5, ``'{"a": 1}'``, JSON null ``'null'``), NULL for a
        missing field: compared, grouped, ordered and given to functions as on SQLite."""
        serializer = getattr(self.catalog, "json_serializer", None)
        if serializer is not None:
            return f"{SQL_JSON}({json_raw_sql(ref, name)}, {self.bind('literal', serializer)})"
        # json.dumps' text, in SQL where SQLite writes the same: a 64-bit integer, a string
        # of printable ASCII (json_quote escapes " and \ as json.dumps does), true, false,
        # null; in Python (docstore_json) for reals, objects, arrays and other strings
        value, slow = field_sql(ref, name), f"{SQL_JSON}({json_raw_sql(ref, name)})"
        return (f"(CASE json_type({quote(ref)}.body, {json_path(name)}) "
                f"WHEN 'integer' THEN CASE WHEN typeof({value}) = 'integer' THEN {value} "
                f"ELSE {slow} END "
                f"WHEN 'text' THEN CASE WHEN {value} GLOB '*[^ -~]*' THEN {slow} "
                f"ELSE json_quote({value}) END "
                "WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' WHEN 'null' THEN 'null' "
                f"ELSE {slow} END)")

    # -- expressions ---------------------------------------------------------------------
    def _condition(self, e: ast.Expr, scope: _Scope) -> str:
        """A WHERE or ON condition (its conjuncts noted in ``_filters``)."""
        stack = [e]
        while stack:
            term = stack.pop()
            if isinstance(term, ast.Binary) and term.op == "and":
                stack += (term.left, term.right)
            else:
                self._filters.add(id(term))
        return self.expr(e, scope, index=True)

    def _key_range(self, e: ast.Expr, col: ast.Expr, low: ast.Expr | None,
                   high: ast.Expr | None, scope: _Scope) -> str | None:
        """``"ref".k BETWEEN lo AND hi AND `` to put before condition ``e``, a conjunct of a
        WHERE or ON (``_filters``) comparing field ``col`` with parameters ``low``/``high``
        (None: no bound), when ``col`` is the key field of a stored collection whose keys
        agree (``Catalog.keys_agree``): the documents ``e`` holds for then have that row key,
        which SQLite finds by its INTEGER PRIMARY KEY, with no expression index on the field
        (every update would maintain it). Exact while it is so: a bound is the parameter
        only if it is a number and the collection's stored schema says the keys agree when
        the statement runs (a write breaking that clears it in its own transaction), else
        the whole range; the condition itself is kept. None: no range (another condition,
        an overlaid or derived source, a bound that is not a parameter)."""
        if id(e) not in self._filters or not isinstance(col, ast.Column) or not all(
                b is None or isinstance(b, ast.Param) for b in (low, high)):
            return None
        resolved = self._resolve(col, scope)
        if resolved is None or resolved[0] != "field":
            return None
        source = self._lookup_source(resolved[1], scope)
        collection = source.collection
        if (source.kind != "collection" or collection is None or collection in self.overlays
                or self.catalog.keys_agree(collection) != col.name):
            return None
        agree = (f"(SELECT json_extract(spec, '$.keys_agree') FROM \"@collections\" "
                 f"WHERE name = {self.bind('literal', collection)})")

        def bound(b: ast.Expr | None, default: str) -> str:
            if b is None:
                return default
            value = self.expr(b, scope)
            return (f"CASE WHEN {agree} IS 1 AND typeof({value}) IN ('integer', 'real') "
                    f"THEN {value} ELSE {default} END")

        return (f"{quote(resolved[1])}.k BETWEEN {bound(low, str(-2**63))} "
                f"AND {bound(high, str(2**63 - 1))} AND ")

    def bind(self, kind: str, value: Any) -> str:
        if kind == "param":
            slot = self._param_slots.get(value)
            if slot is None:
                slot = self._param_slots[value] = f"p{len(self.binds)}"
                self.binds[slot] = ("param", value)
            return ":" + slot
        slot = f"p{len(self.binds)}"
        self.binds[slot] = (kind, value)  # "literal" value, or "array" parameter name
        return ":" + slot

    def expr(self, e: ast.Expr, scope: _Scope, index: bool = False) -> str:
        method: Callable[[Any, _Scope, bool], str] = getattr(self, "_x_" + type(e).__name__)
        return method(e, scope, index)

    def _x_Literal(self, e: ast.Literal, scope: _Scope, index: bool) -> str:
        if self.inline_literals and isinstance(e.value, (str, int, float)):
            if isinstance(e.value, str):
                return sql_string(e.value)
            return str(int(e.value)) if isinstance(e.value, bool) else repr(e.value)
        return "NULL" if e.value is None else self.bind("literal", e.value)

    def _x_Param(self, e: ast.Param, scope: _Scope, index: bool) -> str:
        return self.bind("param", e.name)

    def _x_Column(self, e: ast.Column, scope: _Scope, index: bool) -> str:
        return self._column(e, scope, index)

    def _x_Star(self, e: ast.Star, scope: _Scope, index: bool) -> str:
        raise NotSupportedError("'*' outside of count(*) and the select list")

    def _x_Unary(self, e: ast.Unary, scope: _Scope, index: bool) -> str:
        if e.op == "~":  # a wide number would be complemented as its approximation
            return f"(~{self._operand(e.operand, scope, e.op)})"
        op = "NOT " if e.op == "not" else e.op  # (negation is exact: no wide-number guard)
        return f"({op}{self.expr(e.operand, scope, index)})"

    def _x_Binary(self, e: ast.Binary, scope: _Scope, index: bool) -> str:
        keys = self._compared_key(e, scope) if e.op in _RANGES and id(e) in self._filters \
            else None
        if keys is not None:
            self._filters.discard(id(e))  # (the condition itself, rendered once more)
            return f"({keys}{self._x_Binary(e, scope, False)})"
        if e.op in _COMPARISONS:
            if _affined(e.left) or _affined(e.right):
                return f"({self._facing_affined(e.left, scope)} {e.op} " \
                       f"{self._facing_affined(e.right, scope)})"
            exact = self._exact_compare(e, scope, index)
            if exact is not None:
                return exact
        op = e.op.upper() if e.op in ("and", "or") else e.op
        if e.op == "/":  # SQL integer division stays integer in SQLite too
            op = "/"
        if e.op in _ARITHMETIC:
            left, right = self._operand(e.left, scope, e.op), self._operand(e.right, scope, e.op)
        elif e.op in _COMPARISONS and (json_text(e.left) or json_text(e.right)):
            left, right = self._json_operand(e.left, scope), self._json_operand(e.right, scope)
        else:
            left, right = self.expr(e.left, scope, index), self.expr(e.right, scope, index)
        return f"({left} {op} {right})"

    def _compared_key(self, e: ast.Binary, scope: _Scope) -> str | None:
        """``_key_range`` of a comparison of a field with a parameter, either way round."""
        col, op, other = e.left, e.op, e.right
        if isinstance(col, ast.Param):
            col, other, op = other, col, _FLIPPED.get(op, op)
        low = other if op in ("=", ">", ">=") else None
        high = other if op in ("=", "<", "<=") else None
        return self._key_range(e, col, low, high, scope)

    def _facing_affined(self, e: ast.Expr, scope: _Scope) -> str:
        """An operand compared with a value an affinity converts (``docstore_affinity``,
        dbapi.compared), which SQLite compares as a double: a field holding a wide number
        makes the statement fail with DataError rather than match approximately."""
        if _affined(e):
            return self.expr(e, scope)
        return self._operand(e, scope, "", "a comparison with a converted value of")

    def _operand(self, e: ast.Expr, scope: _Scope, op: str,
                 construct: str | None = None) -> str:
        """An arithmetic operand; a field holding a wide number (values.py) makes the statement
        fail with DataError rather than compute with its approximation."""
        sql = self.expr(e, scope)
        target = self._field_ref(e, scope)
        if target is None:
            return sql
        raw, wide = self._raw_and_wide(target)
        what = self.bind("literal", f"{construct or f'arithmetic ({op}) on'} {target[1]}")
        return f"(CASE WHEN {wide} THEN docstore_check_exact({raw}, {what}) * 0 + {sql} " \
               f"ELSE {sql} END)"

    def _json_operand(self, e: ast.Expr, scope: _Scope) -> str:
        """A value compared with a JSON element's text: a parameter holding an object or
        array as SQLAlchemy's SQLite dialect binds it (connection._json_compared)."""
        if isinstance(e, ast.Param):
            return self.bind("jsontext", e.name)
        return self.expr(e, scope)

    # -- JSON paths ----------------------------------------------------------------------
    def _x_JsonPath(self, e: ast.JsonPath, scope: _Scope, index: bool) -> str:
        return self._json_path_sql(e, scope, index, e.result is ast.JsonResult.VALUE)

    def _json_path_sql(self, e: ast.JsonPath, scope: _Scope, index: bool,
                       extract: bool) -> str:
        """``json_extract(doc, path)`` (``extract``) or ``doc -> path``."""
        base, path = self._json_location(e.base, self._json_steps(e), scope, index)
        return f"json_extract({base}, {path})" if extract else f"({base} -> {path})"

    def _json_location(self, base: ast.Expr, steps: list[str | int], scope: _Scope,
                       index: bool) -> tuple[str, str]:
        """(JSON value, path literal) of ``base`` at ``steps``: a path into a field is one
        path from the document body (the text an index on that path has)."""
        if isinstance(base, ast.Column):
            resolved = self._resolve(base, scope)
            if resolved is not None and resolved[0] == "field":
                return f"{quote(resolved[1])}.body", sql_string(_path_text([base.name, *steps]))
        if isinstance(base, ast.Param):  # a document's field (rowexpr): bound as JSON text
            return self.bind("jsondoc", base.name), sql_string(_path_text(steps))
        return self.expr(base, scope, index), sql_string(_path_text(steps))

    def _array_contains(self, e: ast.Func, scope: _Scope) -> str:
        """``array_contains(array, value)``: the JSON array has an element equal to value
        (dialect/functions.py); never NULL."""
        if len(e.args) != 2:
            raise ProgrammingError("array_contains() takes an array and a value")
        array, value = e.args
        if isinstance(array, ast.Func) and array.name == "json_quote" and len(array.args) == 1:
            array = array.args[0]
        if isinstance(array, ast.JsonPath):
            where = self._json_location(array.base, self._json_steps(array), scope, False)
        elif isinstance(array, ast.Column):
            where = self._json_location(array, [], scope, False)
        else:
            raise NotSupportedError("array_contains() takes a JSON field or element")
        doc = ", ".join(where) if where[1] != "'$'" else where[0]
        return (f"(json_type({doc}) = 'array' AND EXISTS (SELECT 1 FROM json_each({doc}) "
                f"WHERE value = {self.expr(value, scope)}))")

    def _json_steps(self, e: ast.JsonPath) -> list[str | int]:
        out: list[str | int] = []
        for step in e.steps:
            if isinstance(step, ast.Literal):
                value = step.value
            elif isinstance(step, ast.Param):
                if step.name not in self.path_values:
                    raise ProgrammingError(f"no value given for parameter {step.name!r}")
                value = self.path_values[step.name]
            else:
                raise NotSupportedError("a JSON path step must be a key or an index (a "
                                        "parameter or a constant), not an expression")
            out += list(value) if isinstance(value, (list, tuple)) else [value]
        if not out:
            raise ProgrammingError("a JSON path needs at least one step")
        return out

    def _json_quoted(self, arg: ast.Expr, scope: _Scope) -> str:
        """``json_quote(x -> path)``: SQLAlchemy's JSON-typed element, rendered as its SQLite
        dialect renders it (``JSON_QUOTE(JSON_EXTRACT(...))``: numbers as SQLite prints a
        double, a missing element as JSON null)."""
        if isinstance(arg, ast.JsonPath):
            return f"json_quote({self._json_path_sql(arg, scope, False, True)})"
        raw = self._json_field_raw(arg, scope)
        if raw is not None:  # a JSON field's JSON text is its stored text (SET j = k)
            return raw
        return f"json_quote({self.expr(arg, scope)})"

    def _x_Like(self, e: ast.Like, scope: _Scope, index: bool) -> str:
        left, pattern = self.expr(e.expr, scope, index), self.expr(e.pattern, scope)
        if e.ilike:
            left, pattern = f"lower({left})", f"lower({pattern})"
        sql = f"({left} {'NOT ' if e.negated else ''}LIKE {pattern}"
        if e.escape is not None:
            sql += f" ESCAPE {self.expr(e.escape, scope)}"
        return sql + ")"

    def _x_InList(self, e: ast.InList, scope: _Scope, index: bool) -> str:
        left = self._facing_affined(e.expr, scope) if any(map(_affined, e.items)) else (
            self.expr(e.expr, scope, index))
        neg = "NOT " if e.negated else ""
        items = e.items
        if len(items) == 1 and isinstance(items[0], ast.Param) and (
            items[0].name in self.array_params
        ):
            array = self.bind("array", items[0].name)
            listed = f"IN (SELECT value FROM json_each({array}))"
            texts = self.bind("text:array", items[0].name)
            wide = self.bind("wide:array", items[0].name) + " = 1"
            return self._exact_in(e, scope, left, listed, texts, wide)
        if not items:
            return "(1 = 1)" if e.negated else "(1 = 0)"
        if json_text(e.expr):
            listed = f"IN ({', '.join(self._json_operand(i, scope) for i in items)})"
            return f"({left} {neg}{listed})"
        listed = f"IN ({', '.join(self.expr(i, scope) for i in items)})"
        plain = f"({left} {neg}{listed})"
        sources = tuple(("param", i.name) if isinstance(i, ast.Param) else ("literal", i.value)
                        for i in items if isinstance(i, (ast.Param, ast.Literal)))
        if len(sources) != len(items):
            return plain
        texts = self.bind("text:items", sources)
        wide = self.bind("wide:items", sources) + " = 1"
        return self._exact_in(e, scope, left, listed, texts, wide)

    def _exact_in(self, e: ast.InList, scope: _Scope, left: str, listed: str, texts: str,
                  wide_items: str) -> str:
        """IN over numbers decided on their exact text when one side is wide (values.py)."""
        positive = f"({left} {listed})"
        plain = f"({left} NOT {listed})" if e.negated else positive
        target = self._field_ref(e.expr, scope)
        if target is None:
            return plain
        raw, wide = self._raw_and_wide(target)
        found = f"docstore_numin({raw}, {texts})"  # -1: the field holds no number
        if not e.negated:
            return f"({plain} AND CASE WHEN {wide_items} OR {wide} THEN {found} IN (1, -1) " \
                   "ELSE 1 END)"
        # as in _exact_terms: only a double equal to an item needs the exact text
        return (f"(CASE WHEN ({wide_items} OR ({positive} AND {wide})) AND {found} != -1 "
                f"THEN NOT {found} ELSE {plain} END)")

    def _x_InSelect(self, e: ast.InSelect, scope: _Scope, index: bool) -> str:
        neg = "NOT " if e.negated else ""
        # SQLite matches the subquery's values as doubles: a wide number on either side
        # raises DataError (IN only asks whether a value is there: DISTINCT changes nothing)
        select = replace(e.select, distinct=True) if isinstance(e.select, ast.Select) else (
            e.select)
        sql = f"({self.expr(e.expr, scope, index)} {neg}IN ({self.select(select, scope)}))"
        target = self._field_ref(e.expr, scope)
        if target is None:
            return sql
        raw, wide = self._raw_and_wide(target)
        what = self.bind("literal", f"IN (SELECT ...) {target[1]}")
        return f"({sql} AND CASE WHEN {wide} THEN docstore_check_exact({raw}, {what}) ELSE 1 END)"

    def _x_Between(self, e: ast.Between, scope: _Scope, index: bool) -> str:
        neg = "NOT " if e.negated else ""
        if self._field_ref(e.expr, scope) is not None:  # two exact comparisons
            keys = None if e.negated else self._key_range(e, e.expr, e.low, e.high, scope)
            index = index and keys is None
            low = self._x_Binary(ast.Binary(">=", e.expr, e.low), scope, index)
            high = self._x_Binary(ast.Binary("<=", e.expr, e.high), scope, index)
            return f"({neg}({keys or ''}{low} AND {high}))"
        return (f"({self.expr(e.expr, scope, index)} {neg}BETWEEN {self.expr(e.low, scope)} "
                f"AND {self.expr(e.high, scope)})")

    def _x_IsNull(self, e: ast.IsNull, scope: _Scope, index: bool) -> str:
        raw = self._json_field_raw(e.expr, scope)  # (SQL NULL: the field is missing)
        value = self.expr(e.expr, scope, index) if raw is None else raw
        return f"({value} IS {'NOT ' if e.negated else ''}NULL)"

    def _x_IsDistinct(self, e: ast.IsDistinct, scope: _Scope, index: bool) -> str:
        op = "IS" if e.negated else "IS NOT"
        if _affined(e.left) or _affined(e.right):
            return f"({self._facing_affined(e.left, scope)} {op} " \
                   f"{self._facing_affined(e.right, scope)})"
        plain = f"({self.expr(e.left, scope, index)} {op} {self.expr(e.right, scope, index)})"
        exact = self._exact_terms(e.left, e.right, scope, index)
        if exact is None:
            return plain
        wide, cmp, _ = exact
        test = f"{cmp} {'=' if e.negated else '!='} 0"
        return f"(CASE WHEN {wide} THEN coalesce({test}, {plain}) ELSE {plain} END)"

    # -- exact numbers (values.py: wide numbers are compared on their exact text) ----------
    def _inexact_guards(self, stmt: ast.Select, scope: _Scope,
                        labels: dict[str, ast.Expr | None]) -> list[str]:
        """Conditions raising DataError (``docstore_check_exact``) on a row whose field SQLite
        would order, group or aggregate by an approximate value (a wide number)."""
        uses: dict[tuple[str, str], tuple[str, bool]] = {}
        subqueries = (ast.Exists, ast.ScalarSubquery, ast.InSelect)
        aggregated = [n for c in stmt.columns for n in ast.walk(c.expr, subqueries)]
        aggregated += list(ast.walk(stmt.having, subqueries)) if stmt.having else []
        for node in aggregated:
            if isinstance(node, ast.Func) and node.name in _INEXACT_AGGREGATES and (
                node.name != "count" or node.distinct
            ):
                for arg in node.args:
                    self._guard_use(arg, scope, f"{node.name}()", uses)
            elif isinstance(node, ast.Func) and node.name in _SUMS:
                for arg in node.args:
                    if self._exact_typed(arg, scope):
                        self._guard_use(arg, scope, f"{node.name}()", uses)
        for node in aggregated:
            if isinstance(node, ast.Window):  # a window orders and partitions by values
                for expr in (*node.partition_by, *(o.expr for o in node.order_by)):
                    self._guard_use(expr, scope, "OVER (...)", uses)
        for item in stmt.order_by:
            ordered = labels.get(item.expr.name) if isinstance(item.expr, ast.Column) and (
                item.expr.table is None and item.expr.name in labels) else item.expr
            if ordered is not None:
                self._guard_use(ordered, scope, "ORDER BY", uses)
        for expr in stmt.group_by:
            self._guard_use(expr, scope, "GROUP BY", uses)
        if stmt.distinct:
            for col in stmt.columns:
                self._guard_use(col.expr, scope, "SELECT DISTINCT", uses)
        guards = []
        for field_ref, (construct, integer) in uses.items():
            raw, wide = self._raw_and_wide(field_ref)
            what = self.bind("literal", f"{construct} {field_ref[1]}")
            check = "docstore_check_exact_int" if integer else "docstore_check_exact"
            guards.append(f"(CASE WHEN {wide} THEN {check}({raw}, {what}) ELSE 1 END)")
        return guards

    def _decimal_typed(self, e: ast.Expr, scope: _Scope) -> bool:
        """Whether ``e`` is a field declared NUMERIC / DECIMAL (integers sum exactly)."""
        return self._exact_typed(e, scope, decimal_only=True)

    def _exact_typed(self, e: ast.Expr, scope: _Scope, decimal_only: bool = False) -> bool:
        """Whether ``e`` is a field declared with an exact number type."""
        field = self._stored_field(e, scope)
        return field is not None and field[1] in self.catalog.exact_fields(field[0],
                                                                            decimal_only)

    def _stored_field(self, e: ast.Expr, scope: _Scope) -> tuple[str, str] | None:
        """(collection, field) when ``e`` is a field of a stored collection (not of a
        subquery or a CTE), else None."""
        try:
            target = self._field_ref(e, scope)
        except ProgrammingError:
            return None
        s: _Scope | None = scope
        while target is not None and s is not None:
            source = s.sources.get(target[0])
            if source is not None:
                return (str(source.collection), target[1]) if source.collection else None
            s = s.parent
        return None

    def _guard_use(self, e: ast.Expr, scope: _Scope, construct: str,
                   uses: dict[tuple[str, str], tuple[str, bool]]) -> None:
        try:
            target = self._field_ref(e, scope)
        except ProgrammingError:
            return  # a label or unknown name: reported where it is rendered
        if target is not None:
            integer = self._exact_typed(e, scope) and not self._decimal_typed(e, scope)
            uses.setdefault(target, (construct, integer))

    def _field_ref(self, e: ast.Expr, scope: _Scope) -> tuple[str, str] | None:
        """(alias, field name) when ``e`` is a field of a document."""
        if not isinstance(e, ast.Column):
            return None
        resolved = self._resolve(e, scope)
        if resolved is None or resolved[0] != "field" or self._json_field(resolved[1], e.name,
                                                                          scope):
            return None  # (a JSON field's SQL value is SQLite's, exact: _json_value)
        return resolved[1], e.name

    def _json_field(self, ref: str, name: str, scope: _Scope) -> bool:
        """Whether field ``name`` of the document ``ref`` is a JSON-typed field."""
        collection = self._lookup_source(ref, scope).collection
        return collection is not None and name in self.catalog.json_fields(collection)

    def _json_column(self, e: ast.Expr, scope: _Scope) -> tuple[str, str] | None:
        """(document ref, field) when ``e`` is a JSON-typed field, None for any other
        expression."""
        if not isinstance(e, ast.Column):
            return None
        resolved = self._resolve(e, scope)
        if resolved is None or resolved[0] != "field" or not self._json_field(
                resolved[1], e.name, scope):
            return None
        return resolved[1], e.name

    def _json_field_raw(self, e: ast.Expr, scope: _Scope) -> str | None:
        """A JSON-typed field's JSON text as stored (``json_raw_sql``), None for others."""
        found = self._json_column(e, scope)
        return None if found is None else json_raw_sql(*found)

    @staticmethod
    def _raw_and_wide(target: tuple[str, str]) -> tuple[str, str]:
        """The field's JSON text, and whether SQLite reads it approximately (a double that is
        huge, tiny or has more than 15 characters: decided on the text then)."""
        value = field_sql(*target)
        raw = f"({quote(target[0])}.body -> {json_path(target[1])})"
        wide = (f"(typeof({value}) = 'real' AND ({value} >= {_WIDE} OR {value} <= -{_WIDE} "
                f"OR abs({value}) < 1e-300 OR length({raw}) > 15))")
        return raw, wide

    def _value_parts(self, e: ast.Expr) -> dict[str, str] | None:
        """Binds of a compared parameter or literal: value, low, high, text, wide."""
        if isinstance(e, ast.Param):
            source, ref = "param", e.name
        elif isinstance(e, ast.Literal) and e.value is not None:
            source, ref = "literal", e.value
        else:
            return None
        return {part: self.bind(f"{part}:{source}", ref)
                for part in ("value", "low", "high", "text", "wide")}

    def _exact_terms(self, left: ast.Expr, right: ast.Expr, scope: _Scope,
                     index: bool) -> tuple[str, str, dict[str, str] | None] | None:
        """(any side wide, exact comparison -1/0/1, the value's binds) for a field compared
        with a value or another field; None for other comparisons."""
        target = self._field_ref(left, scope)
        if target is None:
            return None
        raw, wide = self._raw_and_wide(target)
        other = self._field_ref(right, scope)
        if other is not None:
            raw2, wide2 = self._raw_and_wide(other)
            return f"({wide} OR {wide2})", f"docstore_numcmp({raw}, {raw2})", None
        parts = self._value_parts(right)
        if parts is None:
            return None
        # A field's double that differs from a (non-wide) value orders as its exact value
        # does (rounding keeps order): only a double equal to the value needs the exact text.
        value = field_sql(*target)
        return (f"({parts['wide']} IS NOT NULL OR ({value} = {parts['value']} AND {wide}))",
                f"docstore_numcmp({raw}, {parts['text']})", parts)

    def _exact_compare(self, e: ast.Binary, scope: _Scope, index: bool) -> str | None:
        left, right, op = e.left, e.right, "!=" if e.op == "<>" else e.op
        if self._field_ref(left, scope) is None:
            left, right, op = right, left, _FLIPPED.get(op, op)
        exact = self._exact_terms(left, right, scope, index)
        if exact is None:
            return None
        wide, cmp, parts = exact
        a = self.expr(left, scope, index)
        b = parts["value"] if parts is not None else self.expr(right, scope, index)
        plain = f"{a} {op} {b}"
        decided = f"CASE WHEN {wide} THEN coalesce({cmp} {op} 0, {plain}) ELSE {plain} END"
        if parts is not None and op != "=":
            # a strict order (or !=) between a double and a value that is not wide holds
            # exactly too (rounding keeps order): the common case costs one comparison
            strict = f"{a} {_STRICT[op]} {b}"
            decided = f"CASE WHEN {parts['wide']} IS NULL AND {strict} THEN 1 " + decided[5:]
        if op == "!=":
            return f"({decided})"
        # an indexable superset first: rounding to doubles keeps order
        if parts is None:
            narrow = f"{a} {_NON_STRICT.get(op, op)} {b}"
        elif op == "=":
            narrow = f"{a} BETWEEN {parts['low']} AND {parts['high']}"
        else:
            narrow = f"{a} {_NON_STRICT[op]} {parts['high' if op[0] == '<' else 'low']}"
        return f"({narrow} AND {decided})"

    def _x_IsBool(self, e: ast.IsBool, scope: _Scope, index: bool) -> str:
        test = f"IS {'NOT ' if e.negated else ''}{'TRUE' if e.value else 'FALSE'}"
        return f"({self.expr(e.expr, scope, index)} {test})"

    def _x_Func(self, e: ast.Func, scope: _Scope, index: bool) -> str:
        name = _RENAMED.get(e.name, e.name)
        if name == "exists" and len(e.args) == 1 and isinstance(e.args[0], ast.Column):
            # RQL exists(field): the field is present in the document (null counts).
            resolved = self._resolve(e.args[0], scope)
            if resolved is not None and resolved[0] == "field":
                self._column(e.args[0], scope, index)  # (notes the field for an index)
                return (f"(json_type({quote(resolved[1])}.body, {json_path(e.args[0].name)}) "
                        "IS NOT NULL)")
            field = self._column(e.args[0], scope, index)
            return field.replace("json_extract(", "(json_type(", 1) + " IS NOT NULL)"
        if name == "id" and not e.args:
            refs = list(scope.sources)
            if len(refs) != 1:
                raise ProgrammingError("id() needs exactly one collection in FROM")
            return f"{quote(refs[0])}.id"
        if name in ("startswith", "endswith"):
            if len(e.args) != 2:
                raise ProgrammingError(f"{name}() takes two arguments")
            value, part = (self.expr(a, scope, index) for a in e.args)
            start = "1" if name == "startswith" else f"-length({part})"
            return f"(substr({value}, {start}, length({part})) = {part})"
        if name == "nocase" and len(e.args) == 1:  # RavenDB's case-insensitive comparisons
            return f"({self.expr(e.args[0], scope, index)} COLLATE NOCASE)"
        if name == "concat":
            return "(" + " || ".join(f"coalesce({self.expr(a, scope)}, '')" for a in e.args) + ")"
        if name in ("now", "localtimestamp"):
            return "CURRENT_TIMESTAMP"
        if name == "json_quote" and len(e.args) == 1:
            return self._json_quoted(e.args[0], scope)
        if name == SQL_JSON_STORED and len(e.args) == 1:  # (executor._json_text)
            return f"{SQL_JSON_STORED}({self.expr(e.args[0], scope, index)})"
        if _json_valued(e):  # (the value itself inside an expression)
            return self.expr(e.args[0], scope, index)
        if name == "array_contains":
            return self._array_contains(e, scope)
        if name == SQL_COMPARED and len(e.args) == 2 and isinstance(e.args[1], ast.Literal):
            # an affinity applied to a compared value (dbapi.compared)
            return f"{SQL_COMPARED}({self.expr(e.args[0], scope)}, " \
                   f"{sql_string(str(e.args[1].value))})"
        if name in _WINDOW_FUNCTIONS:
            raise NotSupportedError(f"window function {e.name}() without OVER")
        if name not in _FUNCTIONS and name not in _AGGREGATES:
            raise NotSupportedError(f"SQL function {e.name}() is not supported by sqla_docstore")
        return self._call(e, name, scope, index) + self._filter(e, scope)

    def _filter(self, e: ast.Func, scope: _Scope) -> str:
        if e.filter is None:
            return ""
        if e.name not in _AGGREGATES:
            raise ProgrammingError(f"FILTER on {e.name}(), which is not an aggregate")
        return f" FILTER (WHERE {self.expr(e.filter, scope)})"

    def _call(self, e: ast.Func, name: str, scope: _Scope, index: bool) -> str:
        if e.star:
            return f"{name}(*)"
        if name in ("sum", "avg") and len(e.args) == 1 and not e.distinct and (
                self._decimal_typed(e.args[0], scope)):
            # SQLite sums decimals in doubles; these sum the exact JSON texts (values.py)
            target = self._field_ref(e.args[0], scope)
            assert target is not None
            raw = f"({quote(target[0])}.body -> {json_path(target[1])})"
            if e is self._result_sum:
                return f"docstore_d{name}({raw})"
            return self._exact_value(f"docstore_d{name}({raw})", f"{name}({target[1]})")
        if name == "count" and len(e.args) == 1 and not e.distinct and (
                present := self._json_field_raw(e.args[0], scope)) is not None:
            return f"count({present})"  # (what is counted is present: no value needed)
        args = ", ".join(self.expr(a, scope) for a in e.args)
        return f"{name}({'DISTINCT ' if e.distinct else ''}{args})"

    def _exact_value(self, sql: str, construct: str) -> str:
        """An exact sum or average used as a value: its number, or DataError for a sum no
        double holds (its exact text would compare as a text, sort after every number)."""
        what = self.bind("literal", f"{construct} in an expression")
        return f"docstore_exact_value({sql}, {what})"

    def _x_Window(self, e: ast.Window, scope: _Scope, index: bool) -> str:
        f = e.func
        name = _RENAMED.get(f.name, f.name)
        if name not in _WINDOW_FUNCTIONS and name not in _AGGREGATES:
            raise NotSupportedError(f"{f.name}() OVER (...) is not supported by sqla_docstore")
        if name in _SUMS and any(self._decimal_typed(a, scope) for a in f.args):
            # the exact decimal sum is an aggregate SQLite can't run over a window
            raise NotSupportedError(f"{f.name}() OVER (...) of a NUMERIC column (SQLite "
                                    "would compute it in doubles)")
        args = "*" if f.star else ", ".join(self.expr(a, scope) for a in f.args)
        call = f"{name}({'DISTINCT ' if f.distinct else ''}{args}){self._filter(f, scope)}"
        parts = []
        if e.partition_by:
            parts.append("PARTITION BY " + ", ".join(self.expr(x, scope) for x in e.partition_by))
        if e.order_by:
            parts.append(self._order_limit(e.order_by, None, None, scope).strip())
        if e.unit is not None and e.start is not None:
            start = self._bound(e.start, scope)
            parts.append(f"{e.unit} BETWEEN {start} AND {self._bound(e.end, scope)}"
                         if e.end is not None else f"{e.unit} {start}")
        return f"{call} OVER ({' '.join(parts)})"

    def _bound(self, bound: ast.FrameBound, scope: _Scope) -> str:
        if bound.offset is None:
            return bound.kind.value
        return f"{self.expr(bound.offset, scope)} {bound.kind.value}"

    def _x_Cast(self, e: ast.Cast, scope: _Scope, index: bool) -> str:
        if "BLOB" in e.type_name.split("(")[0].upper():  # SQLite's BLOB affinity
            return self._cast_blob(e.expr, scope, index)
        target = _CASTS.get(e.type_name.split("(")[0].strip())
        if target is None:
            raise NotSupportedError(f"CAST to {e.type_name} is not supported by sqla_docstore")
        return f"CAST({self.expr(e.expr, scope)} AS {target})"

    def _json_field_text(self, e: ast.Expr, scope: _Scope) -> str | None:
        """A JSON-typed field's SQL value (``_json_value``: SQLite's JSON text or number,
        which the outer query reads back as JSON), None for any other expression."""
        found = self._json_column(e, scope)
        return None if found is None else self._json_value(*found)

    def _cast_blob(self, e: ast.Expr, scope: _Scope, index: bool) -> str:
        """SQLite's CAST(x AS BLOB) (a blob stays, any other value becomes the bytes of its
        text), in the form binaries are stored: base64 text (``docstore_blob``). A binary
        field holds that form already; a bytes parameter is bound as a blob."""
        if self._binary_typed(e, scope):
            return self.expr(e, scope, index)
        if isinstance(e, ast.Param):
            return f"docstore_blob({self.bind('blob', e.name)})"
        return f"docstore_blob({self.expr(e, scope, index)})"

    def _binary_typed(self, e: ast.Expr, scope: _Scope) -> bool:
        field = self._stored_field(e, scope)
        return field is not None and field[1] in self.catalog.binary_fields(field[0])

    def _x_Case(self, e: ast.Case, scope: _Scope, index: bool) -> str:
        sql = "CASE"
        if e.base is not None:
            sql += " " + self.expr(e.base, scope)
        for cond, result in e.whens:
            sql += f" WHEN {self.expr(cond, scope)} THEN {self.expr(result, scope)}"
        if e.else_ is not None:
            sql += f" ELSE {self.expr(e.else_, scope)}"
        return sql + " END"

    def _x_Exists(self, e: ast.Exists, scope: _Scope, index: bool) -> str:
        return f"EXISTS ({self.select(e.select, scope)})"

    def _x_ScalarSubquery(self, e: ast.ScalarSubquery, scope: _Scope, index: bool) -> str:
        return f"({self.select(e.select, scope)})"

    def _x_TupleExpr(self, e: ast.TupleExpr, scope: _Scope, index: bool) -> str:
        return "(" + ", ".join(self.expr(i, scope, index) for i in e.items) + ")"


class _IndexCatalog:
    """The one collection an index expression reads (sqlgen.Catalog)."""

    def __init__(self, spec: CollectionSpec) -> None:
        self.spec = spec

    def table_name(self, collection: str) -> str:
        return quote(collection)

    def columns(self, collection: str) -> tuple[str, ...] | None:
        return self.spec.field_names or None

    def exact_fields(self, collection: str, decimal_only: bool = False) -> frozenset[str]:
        return self.spec.decimal_fields if decimal_only else self.spec.exact_fields

    def key_field(self, collection: str) -> str | None:
        return None  # an index reads the stored body (a key kept in the id is not in it)

    def keys_agree(self, collection: str) -> str | None:
        return None  # (an index's expression is the field's)

    def binary_fields(self, collection: str) -> frozenset[str]:
        return self.spec.binary_fields

    def json_fields(self, collection: str) -> frozenset[str]:
        return frozenset()  # (an index reads the field as field_index_sql does)


def field_index_sql(name: str) -> str:
    """The SQLite text indexing field ``name`` of a table's ``body`` (``field_sql``'s, without
    the table qualifier)."""
    return field_sql("@", name).replace(f"{quote('@')}.", "")


def index_element_sql(element: IndexKey, spec: CollectionSpec) -> str:
    """The SQLite text of one index element over a collection table's ``body``: the same
    text (up to the table qualifier, which SQLite's matching ignores) the planner gives the
    expression in a query, so SQLite uses the index for it."""
    if isinstance(element, str):
        return field_index_sql(element)
    if element.field is not None:
        sql = field_sql("@", element.field)
    else:
        gen = SqlGenerator(_IndexCatalog(spec), inline_literals=True)
        scope = _Scope({"@": _Source("collection", spec.name, spec.field_names or None)})
        sql = gen.expr(parse_expression(str(element.sql)), scope)
        if gen.binds:
            raise NotSupportedError(
                f"index expression {element.sql!r} on {spec.name}: this expression can't be "
                "indexed by sqla_docstore (it compares values that need an exact check)")
    return sql.replace(f"{quote('@')}.", "") + (" DESC" if element.desc else "")


def json_text(expr: ast.Expr) -> bool:
    """Whether ``expr`` is a JSON element as JSON text (``x -> k``, ``json_quote(x -> k)``)."""
    if isinstance(expr, ast.Func) and expr.name == "json_quote" and len(expr.args) == 1:
        expr = expr.args[0]
    return isinstance(expr, ast.JsonPath) and expr.result is ast.JsonResult.JSON


def sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _path_text(steps: Iterable[Any]) -> str:
    """The SQLite JSON path of keys and array indexes (``$."data"."tags"[0]``); keys are
    written as they appear in the stored JSON text (see json_path)."""
    out = "$"
    for step in steps:
        if isinstance(step, bool) or not isinstance(step, (str, int)):
            raise ProgrammingError(f"a JSON path step must be a key (str) or an index (int), "
                                   f"not {step!r}")
        if isinstance(step, int):
            out += f"[{step}]"
        elif '"' in step:
            raise NotSupportedError(f"JSON keys containing '\"' are not supported: {step!r}")
        else:
            out += "." + json.dumps(step, ensure_ascii=False)
    return out


def _default_label(expr: ast.Expr) -> str:
    if isinstance(expr, ast.Column):
        return expr.name
    if isinstance(expr, ast.Func):
        return expr.name
    return "?column?"


def _json_valued(expr: ast.Expr) -> bool:
    """Whether ``expr`` is ``docstore_json_value(x)``: a JSON-typed expression the dialect
    asks to be read back as JSON (``types.DocstoreJSON.column_expression``)."""
    return isinstance(expr, ast.Func) and expr.name == "docstore_json_value" and len(
        expr.args) == 1


def _json_labels(stmt: ast.SelectLike) -> frozenset[str]:
    """The result labels of a query whose values are JSON elements as JSON text."""
    while isinstance(stmt, ast.Compound):
        stmt = stmt.selects[0]
    return frozenset(c.alias or _default_label(c.expr) for c in stmt.columns
                     if json_text(c.expr))


def _affined(e: ast.Expr) -> bool:
    """An operand an affinity converts for a comparison (dbapi.compared)."""
    return isinstance(e, ast.Func) and e.name == SQL_COMPARED


def _labels(stmt: ast.SelectLike) -> list[str]:
    """The names of a query's result columns (its first member's, for a compound), a
    repeated name made unique as SQLite names a derived table's columns (``max``, ``max:1``),
    so ``SELECT * FROM (SELECT max(a), max(b) ...)`` reads both (a select list with ``*``
    keeps its names)."""
    while isinstance(stmt, ast.Compound):
        stmt = stmt.selects[0]
    names = [c.alias or _default_label(c.expr) for c in stmt.columns]
    if any(isinstance(c.expr, ast.Star) for c in stmt.columns) or len(set(names)) == len(names):
        return names
    taken = set(names)
    out: list[str] = []
    for name in names:
        if name in out:
            k = 1
            while f"{name}:{k}" in taken:
                k += 1
            name = f"{name}:{k}"
            taken.add(name)
        out.append(name)
    return out


_ARITHMETIC = frozenset({"+", "-", "*", "/", "%", "&", "|", "<<", ">>"})


def _refuse_aggregates(exprs: tuple[ast.Expr, ...], where: str) -> None:
    """An aggregate where each row gets its own value is SQL's "misuse of aggregate" (run as
    a SELECT it would collapse the rows into one)."""
    for node in ast.walk(exprs, _SUBQUERIES_AND_WINDOWS):
        if isinstance(node, ast.Func) and node.name in _AGGREGATES and not (
            node.name in ("min", "max") and len(node.args) > 1  # SQLite's scalar min/max
        ):
            raise ProgrammingError(f"misuse of aggregate function {node.name}() in {where}")


def _has_aggregate(expr: Any) -> bool:
    """An aggregate call in this SELECT's own expressions (not inside a subquery)."""
    return any(isinstance(n, ast.Func) and n.name in _AGGREGATES
               for n in ast.walk(expr, _SUBQUERIES_AND_WINDOWS))



def picked_from(stmt: ast.SelectLike) -> tuple[str, frozenset[str]] | None:
    """For a SELECT of one collection: the collection, and the names of the fields its SQL
    reads (filters, sorts, computed columns, subqueries, grouping: every column it names,
    except the plain result columns of a SELECT that is not grouped nor DISTINCT, which
    ``plan_query`` reads from the document bodies in Python, unless their label is named
    elsewhere). None for any other statement, or one whose SQL may read every field (a ``*``
    anywhere else than in such a select list, an ORDER BY by position)."""
    if not isinstance(stmt, ast.Select) or stmt.for_update:
        return None
    if len(stmt.from_) != 1 or not isinstance(stmt.from_[0], ast.TableRef):
        return None
    if any(isinstance(item.expr, ast.Literal) for item in stmt.order_by):
        return None
    grouped = bool(stmt.distinct or stmt.group_by or stmt.having is not None
                   or any(_has_aggregate(c.expr) for c in stmt.columns))
    picked = [] if grouped else [c for c in stmt.columns
                                 if isinstance(c.expr, ast.Column | ast.Star)]
    computed = tuple(c.expr for c in stmt.columns if not any(c is p for p in picked))
    names: set[str] = set()
    for node in ast.walk((computed, stmt.where, stmt.group_by, stmt.having, stmt.order_by,
                          stmt.limit, stmt.offset)):
        if isinstance(node, ast.Star):
            return None
        if isinstance(node, ast.Column):
            names.add(node.name)
    for col in picked:  # a label named elsewhere stands for its column's field
        if col.alias is not None and col.alias in names and isinstance(col.expr, ast.Column):
            names.add(col.expr.name)
    return stmt.from_[0].name, frozenset(names)
