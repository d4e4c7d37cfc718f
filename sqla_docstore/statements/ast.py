"""The statement tree: what a parsed statement means, independent of any backend."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ..schema import IndexKey


def walk(node: Any, prune: tuple[type, ...] = ()) -> Iterator[Any]:
    """Every node of a tree, depth first; the children of ``prune`` types are not visited."""
    if isinstance(node, tuple):
        for item in node:
            yield from walk(item, prune)
        return
    names = getattr(node, "__dataclass_fields__", None)
    if names is None:
        return
    yield node
    if not isinstance(node, prune):
        for name in names:
            yield from walk(getattr(node, name), prune)


# --------------------------------------------------------------------------- expressions


@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class Param:
    name: str


@dataclass(frozen=True)
class Column:
    """A field reference; ``table`` is the alias or collection it is qualified with, if any."""

    table: str | None
    name: str


@dataclass(frozen=True)
class Star:
    table: str | None = None


@dataclass(frozen=True)
class Unary:
    op: str  # "not", "-", "+"
    operand: Expr


@dataclass(frozen=True)
class Binary:
    op: str  # "and" "or" "=" "!=" "<" "<=" ">" ">=" "+" "-" "*" "/" "%" "||"
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Like:
    expr: Expr
    pattern: Expr
    escape: Expr | None = None
    negated: bool = False
    ilike: bool = False


@dataclass(frozen=True)
class InList:
    expr: Expr
    items: tuple[Expr, ...]
    negated: bool = False


@dataclass(frozen=True)
class InSelect:
    expr: Expr
    select: SelectLike
    negated: bool = False


@dataclass(frozen=True)
class Between:
    expr: Expr
    low: Expr
    high: Expr
    negated: bool = False


@dataclass(frozen=True)
class IsNull:
    expr: Expr
    negated: bool = False


@dataclass(frozen=True)
class IsDistinct:
    left: Expr
    right: Expr
    negated: bool = False  # IS NOT DISTINCT FROM


@dataclass(frozen=True)
class IsBool:
    """``expr IS [NOT] TRUE|FALSE``: a truth test that is never NULL (NULL IS NOT TRUE)."""

    expr: Expr
    value: bool
    negated: bool = False


@dataclass(frozen=True)
class Func:
    name: str  # lower-cased
    args: tuple[Expr, ...]
    distinct: bool = False
    star: bool = False  # count(*)
    filter: Expr | None = None  # aggregate FILTER (WHERE ...)


class FrameBoundKind(Enum):
    UNBOUNDED_PRECEDING = "UNBOUNDED PRECEDING"
    PRECEDING = "PRECEDING"
    CURRENT_ROW = "CURRENT ROW"
    FOLLOWING = "FOLLOWING"
    UNBOUNDED_FOLLOWING = "UNBOUNDED FOLLOWING"


@dataclass(frozen=True)
class FrameBound:
    kind: FrameBoundKind
    offset: Expr | None = None  # for PRECEDING / FOLLOWING


@dataclass(frozen=True)
class Window:
    """``func OVER (PARTITION BY ... ORDER BY ... frame)``; ``unit`` is ROWS, RANGE or GROUPS
    (None: the default frame), ``end`` None for a frame given by its start alone."""

    func: Func
    partition_by: tuple[Expr, ...] = ()
    order_by: tuple[OrderItem, ...] = ()
    unit: str | None = None
    start: FrameBound | None = None
    end: FrameBound | None = None


@dataclass(frozen=True)
class Cast:
    expr: Expr
    type_name: str  # upper-cased, without length: "INTEGER", "VARCHAR", ...


@dataclass(frozen=True)
class Case:
    base: Expr | None
    whens: tuple[tuple[Expr, Expr], ...]
    else_: Expr | None


@dataclass(frozen=True)
class Exists:
    select: SelectLike


@dataclass(frozen=True)
class ScalarSubquery:
    select: SelectLike


@dataclass(frozen=True)
class TupleExpr:
    items: tuple[Expr, ...]


class JsonResult(Enum):
    """What a JSON element access gives (SQLite's two operators)."""

    JSON = "->"  # the element as JSON text; NULL when the path is missing
    VALUE = "->>"  # the element as an SQL value (json_extract: objects and arrays as JSON text)


@dataclass(frozen=True)
class JsonPath:
    """``base -> step -> ... ->> step``: the element of a JSON value at a path of steps.

    A step is a Param or Literal holding a key (str, never a path expression) or an array
    index (int); a parameter may also hold a list of steps (SQLAlchemy's path tuples).
    ``->`` chains are one path (``(a -> 'x') -> 'y'`` is ``a`` at ``x.y``, as in SQLite)."""

    base: Expr
    steps: tuple[Expr, ...]
    result: JsonResult


Expr = (
    Literal
    | Param
    | Column
    | Star
    | Unary
    | Binary
    | Like
    | InList
    | InSelect
    | Between
    | IsNull
    | IsDistinct
    | IsBool
    | Func
    | Window
    | Cast
    | Case
    | Exists
    | ScalarSubquery
    | TupleExpr
    | JsonPath
)

# --------------------------------------------------------------------------- queries


@dataclass(frozen=True)
class TableRef:
    name: str
    alias: str | None = None

    @property
    def ref(self) -> str:
        return self.alias or self.name


@dataclass(frozen=True)
class SubqueryRef:
    select: SelectLike
    alias: str


@dataclass(frozen=True)
class RecursiveCte:
    """``WITH RECURSIVE name(columns) AS (anchor UNION [ALL] step)``: inside ``select`` the
    CTE's own rows are :class:`CteSelf` references."""

    name: str
    columns: tuple[str, ...]
    select: Compound


@dataclass(frozen=True)
class CteRef:
    """A recursive CTE read by a statement (under ``alias``)."""

    cte: RecursiveCte
    alias: str


@dataclass(frozen=True)
class CteSelf:
    """A recursive CTE reading its own rows (the rows of the previous step)."""

    name: str
    columns: tuple[str, ...]
    alias: str


@dataclass(frozen=True)
class Join:
    left: FromItem
    right: FromItem
    kind: str  # "inner", "left", "right", "full", "cross"
    on: Expr | None = None


FromItem = TableRef | SubqueryRef | Join | CteRef | CteSelf


@dataclass(frozen=True)
class ResultColumn:
    expr: Expr
    alias: str | None = None


@dataclass(frozen=True)
class OrderItem:
    expr: Expr
    desc: bool = False
    nulls: str | None = None  # "first" / "last"


@dataclass(frozen=True)
class Select:
    columns: tuple[ResultColumn, ...]
    from_: tuple[FromItem, ...] = ()
    where: Expr | None = None
    group_by: tuple[Expr, ...] = ()
    having: Expr | None = None
    order_by: tuple[OrderItem, ...] = ()
    limit: Expr | None = None
    offset: Expr | None = None
    distinct: bool = False
    #: FOR UPDATE / FOR SHARE: the documents read are guarded by their change vectors (a
    #: change by another transaction before this one commits fails the commit)
    for_update: bool = False


@dataclass(frozen=True)
class Compound:
    op: str  # "union", "union all", "intersect", "except"
    selects: tuple[SelectLike, ...]
    order_by: tuple[OrderItem, ...] = ()
    limit: Expr | None = None
    offset: Expr | None = None


SelectLike = Select | Compound

# --------------------------------------------------------------------------- writes


@dataclass(frozen=True)
class Insert:
    """``INSERT INTO table (columns) VALUES (values), (more_values)...`` or, with ``select``,
    ``INSERT INTO table (columns) SELECT ...`` (then ``values`` is empty)."""

    table: str
    columns: tuple[str, ...]
    values: tuple[Expr, ...]
    returning: tuple[ResultColumn, ...] = ()
    more_values: tuple[tuple[Expr, ...], ...] = ()  # the rows after the first
    select: SelectLike | None = None
    #: SQLite's upsert clauses, in order (``ON CONFLICT ... DO NOTHING | DO UPDATE ...``)
    on_conflict: tuple[OnConflict, ...] = ()
    #: ``INSERT OR IGNORE`` / ``INSERT OR REPLACE`` (``REPLACE INTO``); None: SQLite's ABORT
    resolution: ConflictResolution | None = None
    #: ``columns`` are the table's own, the INSERT named none (``dbapi.insert_columns``)
    implicit_columns: bool = False


class ConflictResolution(Enum):
    """SQLite's conflict resolution of ``INSERT OR ...`` for the constraints no ON CONFLICT
    clause handles."""

    IGNORE = "ignore"  # skip the row (a uniqueness, NOT NULL or CHECK violation)
    REPLACE = "replace"  # delete the rows it conflicts with (uniqueness), then insert it


@dataclass(frozen=True)
class OnConflict:
    """``ON CONFLICT [(target) [WHERE target_where]] DO NOTHING | DO UPDATE SET ... [WHERE]``:
    ``target`` () stands for any uniqueness constraint; ``assignments`` None is DO NOTHING.
    In ``assignments`` and ``where``, ``excluded.c`` is the column ``c`` of table
    ``excluded`` (the row the INSERT proposed)."""

    target: tuple[str, ...]
    target_where: Expr | None = None
    assignments: tuple[tuple[str, Expr], ...] | None = None
    where: Expr | None = None


@dataclass(frozen=True)
class Update:
    table: str
    alias: str | None
    assignments: tuple[tuple[str, Expr], ...]
    where: Expr | None = None
    returning: tuple[ResultColumn, ...] = ()
    #: ``UPDATE ... FROM``: the FROM tables and the WHERE as written (``where`` is then the
    #: rewritten one), for RETURNING columns of the FROM tables
    from_: tuple[FromItem, ...] = ()
    from_where: Expr | None = None


@dataclass(frozen=True)
class Delete:
    table: str
    alias: str | None
    where: Expr | None = None
    returning: tuple[ResultColumn, ...] = ()
    #: ``DELETE ... USING``: the USING tables and the WHERE as written (see Update.from_)
    from_: tuple[FromItem, ...] = ()
    from_where: Expr | None = None


# --------------------------------------------------------------------------- schema


@dataclass(frozen=True)
class CreateCollection:
    name: str
    spec: dict[str, Any] = field(hash=False, compare=False)
    if_not_exists: bool = False


@dataclass(frozen=True)
class DropCollection:
    name: str
    if_exists: bool = False


@dataclass(frozen=True)
class CreateIndex:
    collection: str
    name: str
    fields: tuple[IndexKey, ...]  # field names, or IndexElements (expressions, DESC)
    unique: bool = False
    if_not_exists: bool = False


@dataclass(frozen=True)
class DropIndex:
    name: str
    if_exists: bool = False


@dataclass(frozen=True)
class AlterCollection:
    """Schema change of one column (add / drop / alter), as Alembic issues them."""

    name: str
    action: str  # "add_column", "drop_column", "alter_column", "rename"
    spec: dict[str, Any] = field(hash=False, compare=False)


@dataclass(frozen=True)
class CreateView:
    """``CREATE VIEW name AS select``: ``text`` is the SELECT as written (its definition)."""

    name: str
    select: SelectLike
    text: str
    if_not_exists: bool = False
    schema: str | None = None  # the schema of ``name`` (schema.table), if it has one


@dataclass(frozen=True)
class DropView:
    name: str
    if_exists: bool = False


@dataclass(frozen=True)
class CreateTableAs:
    """``CREATE TABLE name AS select``: a collection with the query's columns and rows."""

    name: str
    select: SelectLike
    if_not_exists: bool = False
    schema: str | None = None


class SavepointAction(Enum):
    SAVEPOINT = "savepoint"
    RELEASE = "release"
    ROLLBACK_TO = "rollback to"


@dataclass(frozen=True)
class Savepoint:
    """``SAVEPOINT name``, ``RELEASE [SAVEPOINT] name``, ``ROLLBACK TO [SAVEPOINT] name``:
    savepoints of the connection's pending batch."""

    action: SavepointAction
    name: str


Statement = (
    Select
    | Compound
    | Insert
    | Update
    | Delete
    | CreateCollection
    | DropCollection
    | CreateIndex
    | DropIndex
    | AlterCollection
    | CreateView
    | DropView
    | CreateTableAs
    | Savepoint
)
