"""Differential property test: random schemas, NULL-heavy rows, big numbers and odd names, run
through SQLAlchemy Core on SQLite (the oracle) and on ``docstore://`` / ``ravendb://``, compared
exactly.

Each example makes one table with a random odd name (spaces, quotes, backslash, mixed case) and
2-5 nullable columns (Integer, BigInteger, Float, Numeric, String, Boolean, Date), then runs a
random program in one connection: INSERT (single and executemany), UPDATE with literal and
``col = col + :d`` SET clauses, executemany UPDATE / DELETE (one row may come twice), DELETE,
SAVEPOINT / ROLLBACK TO / RELEASE, COMMIT, ROLLBACK, and queries: rows under a random predicate
(=, !=, <, <=, IS [NOT] NULL, IS [NOT] TRUE/FALSE, IS [NOT] DISTINCT FROM, NOT, AND, OR, IN,
NOT IN, BETWEEN, LIKE), with a total ORDER BY (compared as lists) or none (compared as
multisets), and aggregates (count, min, max, sum). Every rowcount, every result and the
committed table at the end must equal SQLite's.

Where SQLite is lossy the oracle is exact Python: on SQLite, BigInteger (beyond 2**63) and
Numeric columns are stored as order-preserving strings (:class:`ExactInt`, :class:`ExactDecimal`),
so =, <, BETWEEN, IN, ORDER BY, min and max are exact there, and ``col = col + :d`` on them is
computed in Python from the old value. SQLite runs with ``case_sensitive_like`` (SQL's LIKE is
case-sensitive) and SQLAlchemy's pysqlite savepoint recipe.

A statement the target refuses with a PEP 249 ``NotSupportedError`` ends the example as "not
supported" (counted, not a failure), and so does a ``DataError`` on a statement naming a BigInteger
or Numeric column, or on the COMMIT after one (a value the backend cannot hold or compute exactly,
refused clearly); any other error, or any difference, fails. The run is
reproducible: ``derandomize=True`` and no example database, unless ``DIFFERENTIAL_SEED`` is set.
Each program runs about 20 compared statements. By default 500 programs run on ``docstore://``
(about 10,000 statements) and 250 on ``ravendb://`` (about 5,300 statements: HTTP round trips);
each takes ~25 s on an idle 2-core machine, ~60 s on a loaded one, most of it generating
programs. ``DIFFERENTIAL_EXAMPLES=N`` sets both; ``pytest -s`` prints the counts. The
concurrent-writer tests check that threads incrementing one row end at exactly the number of
increments (Python's arithmetic is the oracle).
"""

from __future__ import annotations

import contextlib
import datetime
import decimal
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    Engine,
    Float,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    and_,
    bindparam,
    create_engine,
    delete,
    event,
    exc,
    func,
    insert,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.types import TypeDecorator

from sqla_docstore import errors

# ----------------------------------------------------------------------------- exact oracle types

SCALE = 10  # Numeric(60, 10): every generated Decimal has at most 10 places
#: Exact Decimal arithmetic for the oracle (the default context rounds to 28 digits).
EXACT = decimal.Context(prec=200, traps=[decimal.Inexact, decimal.InvalidOperation])


_COMPLEMENT = str.maketrans("0123456789", "9876543210")


def _encode_int(n: int) -> str:
    """An order-preserving text form of any int: 'n'/'p', a length, the digits (9s-complemented
    when negative), so SQLite's text comparison orders it as the number."""
    digits = str(abs(n))
    if n >= 0:
        return f"p{len(digits):04d}{digits}"
    return f"n{9999 - len(digits):04d}" + digits.translate(_COMPLEMENT)


def _decode_int(text: str) -> int:
    digits = text[5:]
    if text[0] == "p":
        return int(digits)
    return -int(digits.translate(_COMPLEMENT))


class ExactInt(TypeDecorator[int]):
    """An unbounded integer on SQLite, exact under comparison and ORDER BY."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else _encode_int(int(value))

    def process_result_value(self, value: Any, dialect: Any) -> int | None:
        return None if value is None else _decode_int(value)


class ExactDecimal(TypeDecorator[Decimal]):
    """A Decimal with at most SCALE places on SQLite, exact under comparison and ORDER BY."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        return _encode_int(int(EXACT.scaleb(Decimal(value), SCALE)))

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        return None if value is None else EXACT.scaleb(Decimal(_decode_int(value)), -SCALE)


# --------------------------------------------------------------------------------- the domain


class Kind(Enum):
    INTEGER = "integer"
    BIGINT = "bigint"
    FLOAT = "float"
    NUMERIC = "numeric"
    STRING = "string"
    BOOLEAN = "boolean"
    DATE = "date"

    @property
    def exact_on_sqlite(self) -> bool:
        return self not in (Kind.BIGINT, Kind.NUMERIC)

    @property
    def additive(self) -> bool:
        return self in (Kind.INTEGER, Kind.BIGINT, Kind.FLOAT, Kind.NUMERIC)

    @property
    def ordered(self) -> bool:
        return self is not Kind.BOOLEAN


SAMPLES: dict[Kind, list[Any]] = {
    Kind.INTEGER: [0, 1, -1, 2, 7, -5, 2**31 - 1, -(2**31)],
    Kind.BIGINT: [0, 1, -1, 2**53 + 1, 2**63 - 1, 2**63, 2**63 + 1, 2**63 + 2, -(2**63),
                  -(2**63) - 1, 2**64 + 1, 10**30, -(10**30) - 1],
    # Sums of these stay exact (< 2**50 in quarters), whatever order a backend adds them in.
    Kind.FLOAT: [0.0, -0.0, 0.5, -2.25, 1.0, 3.75, -1e6, 2.0**40],
    Kind.NUMERIC: [Decimal("0"), Decimal("0.1"), Decimal("-2.5"), Decimal("1E+30"),
                   Decimal("1000000000000000000000000000000.0000000001"),
                   Decimal("12345678901234567890.1234567890"), Decimal("-0.0000000001"),
                   Decimal("9007199254740993")],
    # Letters after the NUL are not in any LIKE pattern: SQLite's LIKE stops at a NUL.
    Kind.STRING: ["", "a", "A", "ab", "aB", "b", "a%b", "a_b", "it's", 'say "hi"', "back\\slash",
                  "é", "😀", " ", "nul\x00byte", "z" * 40],
    Kind.BOOLEAN: [True, False],
    Kind.DATE: [datetime.date(1, 1, 1), datetime.date(2024, 2, 29), datetime.date(1999, 12, 31),
                datetime.date(9999, 12, 31), datetime.date(2000, 1, 1)],
}
DELTAS: dict[Kind, list[Any]] = {
    Kind.INTEGER: [1, -1, 3],
    Kind.BIGINT: [1, -1, 2**64, -(2**63)],
    Kind.FLOAT: [0.5, -1.0, 2.0**30],
    Kind.NUMERIC: [Decimal("0.0000000001"), Decimal("-1"), Decimal("1E+20")],
}
LIKE_PATTERNS = ["a%", "A%", "%", "_", "a_", "%\\%", "%a%", "it%", "%é", "_%b", "a\\%", "%%"]
ODD_NAMES = ["Odd Name", 'q"uote', "it's", "back\\slash", "MiXeD", "per%cent", "dot.ted",
             "sp ace ", "ünï", "select", "x:y", "col(1)"]


def _type_of(kind: Kind, oracle: bool) -> Any:
    if oracle and kind is Kind.BIGINT:
        return ExactInt()
    if oracle and kind is Kind.NUMERIC:
        return ExactDecimal()
    return {
        Kind.INTEGER: Integer(), Kind.BIGINT: BigInteger(), Kind.FLOAT: Float(),
        Kind.NUMERIC: Numeric(60, SCALE), Kind.STRING: String(60), Kind.BOOLEAN: Boolean(),
        Kind.DATE: Date(),
    }[kind]


@dataclass(frozen=True)
class Schema:
    table: str
    key: str
    columns: tuple[tuple[str, Kind], ...]

    def make(self, oracle: bool) -> Table:
        return Table(
            self.table, MetaData(),
            Column(self.key, Integer, primary_key=True, autoincrement=False),
            *[Column(name, _type_of(kind, oracle), nullable=True) for name, kind in self.columns],
        )

    def kind(self, name: str) -> Kind:
        return dict(self.columns)[name]


@st.composite
def schemas(draw: st.DrawFn) -> Schema:
    names = draw(st.lists(st.sampled_from(ODD_NAMES), min_size=3, max_size=6,
                          unique_by=str.lower))
    kinds = draw(st.lists(st.sampled_from(list(Kind)), min_size=len(names) - 1,
                          max_size=len(names) - 1))
    table = draw(st.sampled_from(ODD_NAMES))
    return Schema(f"{table} {draw(st.integers(0, 10**6))}", names[0],
                  tuple(zip(names[1:], kinds, strict=True)))


def values_of(kind: Kind) -> st.SearchStrategy[Any]:
    """NULL-heavy: about a third of the values are NULL."""
    return st.one_of(st.none(), st.sampled_from(SAMPLES[kind]))


def rows_of(schema: Schema, ids: st.SearchStrategy[int]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {schema.key: ids, **{name: values_of(kind) for name, kind in schema.columns}})


# Predicates are small trees of tuples, turned into SQL by `predicate` below.


def predicates(schema: Schema) -> st.SearchStrategy[tuple[Any, ...]]:
    cols = st.sampled_from([name for name, _ in schema.columns])

    def leaf(draw: st.DrawFn) -> tuple[Any, ...]:
        name = draw(cols)
        kind = schema.kind(name)
        value = draw(st.sampled_from(SAMPLES[kind]))
        ops = ["eq", "ne", "is_null", "is_not_null", "distinct", "not_distinct", "in", "not_in"]
        if kind.ordered:
            ops += ["lt", "le", "between"]
        if kind is Kind.BOOLEAN:
            ops += ["is_true", "is_not_true", "is_false", "is_not_false", "bare"]
        if kind is Kind.STRING:
            ops += ["like", "not_like"]
        op = draw(st.sampled_from(ops))
        if op in ("in", "not_in"):
            return (op, name, draw(st.lists(st.one_of(st.none(), st.sampled_from(SAMPLES[kind])),
                                            min_size=1, max_size=3)))
        if op == "between":
            return (op, name, value, draw(st.sampled_from(SAMPLES[kind])))
        if op in ("like", "not_like"):
            return (op, name, draw(st.sampled_from(LIKE_PATTERNS)))
        if op in ("distinct", "not_distinct"):
            return (op, name, draw(st.one_of(st.none(), st.just(value))))
        return (op, name, value)

    leaves = st.composite(leaf)()
    return st.recursive(
        leaves,
        lambda sub: st.one_of(st.tuples(st.just("not"), sub),
                              st.tuples(st.sampled_from(["and", "or"]), sub, sub)),
        max_leaves=3,
    )


def predicate(table: Table, pred: tuple[Any, ...]) -> Any:
    op = pred[0]
    if op == "not":
        return not_(predicate(table, pred[1]))
    if op in ("and", "or"):
        return (and_ if op == "and" else or_)(predicate(table, pred[1]), predicate(table, pred[2]))
    col = table.c[pred[1]]
    arg = pred[2] if len(pred) > 2 else None
    simple: dict[str, Callable[[], Any]] = {
        "eq": lambda: col == arg, "ne": lambda: col != arg, "lt": lambda: col < arg,
        "le": lambda: col <= arg, "is_null": lambda: col.is_(None),
        "is_not_null": lambda: col.is_not(None), "distinct": lambda: col.is_distinct_from(arg),
        "not_distinct": lambda: col.is_not_distinct_from(arg), "in": lambda: col.in_(arg),
        "not_in": lambda: col.not_in(arg), "between": lambda: col.between(arg, pred[3]),
        "like": lambda: col.like(arg), "not_like": lambda: col.not_like(arg),
        "is_true": lambda: col.is_(True), "is_not_true": lambda: col.is_not(True),
        "is_false": lambda: col.is_(False), "is_not_false": lambda: col.is_not(False),
        "bare": lambda: col,
    }
    return simple[op]()


# --------------------------------------------------------------------------------- programs


def operations(schema: Schema) -> st.SearchStrategy[tuple[Any, ...]]:
    preds = st.none() | predicates(schema)
    ids = st.integers(1, 20)
    additive = [name for name, kind in schema.columns if kind.additive]
    names = [name for name, _ in schema.columns]

    @st.composite
    def set_value(draw: st.DrawFn) -> tuple[str, Any]:
        name = draw(st.sampled_from(names))
        return name, draw(values_of(schema.kind(name)))

    @st.composite
    def set_delta(draw: st.DrawFn) -> tuple[str, Any]:
        name = draw(st.sampled_from(additive))
        return name, draw(st.sampled_from(DELTAS[schema.kind(name)]))

    @st.composite
    def query(draw: st.DrawFn) -> tuple[Any, ...]:
        kind = draw(st.sampled_from(["rows", "ordered", "aggregate"]))
        pred = draw(preds)
        if kind == "rows":
            return ("rows", pred)
        if kind == "ordered":
            return ("ordered", pred, draw(st.sampled_from(names)), draw(st.booleans()))
        agg_col = draw(st.sampled_from(names))
        return ("aggregate", pred, agg_col)

    options = [
        st.tuples(st.just("insert"), rows_of(schema, ids)),
        st.tuples(st.just("insert_many"), st.lists(rows_of(schema, ids), min_size=2, max_size=4)),
        st.tuples(st.just("update_value"), preds, set_value()),
        st.tuples(st.just("delete"), preds),
        st.tuples(st.just("delete_many"), st.lists(ids, min_size=1, max_size=3)),
        st.tuples(st.just("query"), query()), st.tuples(st.just("query"), query()),
        st.sampled_from([("savepoint",), ("rollback_savepoint",), ("release_savepoint",),
                         ("commit",), ("rollback",)]),
    ]
    if additive:
        options += [
            st.tuples(st.just("update_delta"), preds, set_delta()),
            st.tuples(st.just("update_delta_many"), set_delta(),
                      st.lists(ids, min_size=1, max_size=3)),
        ]
    return st.one_of(*options)


@st.composite
def programs(draw: st.DrawFn) -> tuple[Schema, list[tuple[Any, ...]]]:
    schema = draw(schemas())
    seed_rows = draw(st.lists(rows_of(schema, st.integers(1, 20)), min_size=3, max_size=10,
                              unique_by=lambda r: r[schema.key]))
    ops = draw(st.lists(operations(schema), min_size=10, max_size=30))
    return schema, _fresh_insert_ids(schema, [("insert_many", seed_rows), ("commit",), *ops])


def _fresh_insert_ids(schema: Schema, ops: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Number inserted rows 1, 2, 3... in program order, so no INSERT hits a taken key; a
    single-row INSERT leaves its NULL columns out (a missing field, not a stored null)."""
    next_id = 1
    out = []
    for op in ops:
        if op[0] in ("insert", "insert_many"):
            rows = [op[1]] if op[0] == "insert" else op[1]
            renumbered = []
            for row in rows:
                renumbered.append({**row, schema.key: next_id})
                next_id += 1
            if op[0] == "insert":  # NULL columns left out: the document lacks those fields
                op = (op[0], {k: v for k, v in renumbered[0].items() if v is not None})
            else:
                op = (op[0], renumbered)
        out.append(op)
    return out


# ---------------------------------------------------------------------------------- runners


class Outcome(Enum):
    DONE = "done"
    NOT_SUPPORTED = "not supported"


@dataclass
class Stats:
    programs: int = 0
    statements: int = 0
    not_supported: Counter[str] = field(default_factory=Counter)


class Side:
    """One engine's connection running the program, with its own Table object."""

    def __init__(self, engine: Engine, schema: Schema, oracle: bool) -> None:
        self.schema = schema
        self.oracle = oracle
        self.table = schema.make(oracle)
        self.table.create(engine)
        self.engine = engine
        self.conn: Connection = engine.connect()
        self.nested: list[Any] = []

    def close(self) -> None:
        self.conn.close()
        self.table.drop(self.engine)

    def where(self, stmt: Any, pred: tuple[Any, ...] | None) -> Any:
        return stmt if pred is None else stmt.where(predicate(self.table, pred))

    def execute(self, op: tuple[Any, ...]) -> Any:
        """Run one op; returns what must agree with the oracle (rows or rowcount), or None."""
        kind, t, key = op[0], self.table, self.schema.key
        c = self.conn
        if kind == "insert":
            c.execute(insert(t).values(op[1]))
            return None
        if kind == "insert_many":
            c.execute(insert(t), op[1])
            return None
        if kind == "update_value":
            return c.execute(self.where(update(t), op[1]).values({op[2][0]: op[2][1]})).rowcount
        if kind == "update_delta":
            return self._add(op[1], op[2][0], op[2][1])
        if kind == "update_delta_many":
            name, delta = op[1]
            if self.oracle and not self.schema.kind(name).exact_on_sqlite:
                return sum(self._add(("eq", key, i), name, delta) for i in op[2])
            stmt = update(t).where(t.c[key] == bindparam("k")).values(
                {name: t.c[name] + bindparam("d", type_=t.c[name].type)})
            return c.execute(stmt, [{"k": i, "d": delta} for i in op[2]]).rowcount
        if kind == "delete":
            return c.execute(self.where(delete(t), op[1])).rowcount
        if kind == "delete_many":
            stmt = delete(t).where(t.c[key] == bindparam("k"))
            return c.execute(stmt, [{"k": i} for i in op[1]]).rowcount
        if kind == "query":
            return self.query(op[1])
        self._transaction(kind)
        return None

    def _add(self, pred: Any, name: str, delta: Any) -> int:
        """``UPDATE t SET name = name + :delta WHERE pred``; on SQLite's lossy kinds, in Python."""
        t, c = self.table, self.conn
        if not (self.oracle and not self.schema.kind(name).exact_on_sqlite):
            stmt = self.where(update(t), pred).values(
                {name: t.c[name] + bindparam("delta", delta, type_=t.c[name].type)})
            return c.execute(stmt).rowcount
        key = t.c[self.schema.key]
        found = c.execute(self.where(select(key, t.c[name]), pred)).all()
        for row_id, old in found:
            with decimal.localcontext(EXACT):
                new = None if old is None else old + delta
            c.execute(update(t).where(key == row_id).values({name: new}))
        return len(found)

    def _transaction(self, kind: str) -> None:
        c = self.conn
        if kind == "savepoint":
            if len(self.nested) < 3:
                self.nested.append(c.begin_nested())
        elif kind == "rollback_savepoint":
            if self.nested:
                self.nested.pop().rollback()
        elif kind == "release_savepoint":
            if self.nested:
                self.nested.pop().commit()
        elif kind == "commit":
            self.nested.clear()
            c.commit()
        else:
            assert kind == "rollback", kind
            self.nested.clear()
            c.rollback()

    def query(self, spec: tuple[Any, ...]) -> Any:
        t, key = self.table, self.table.c[self.schema.key]
        if spec[0] == "rows":
            return Counter(tuple(r) for r in self.conn.execute(self.where(select(t), spec[1])))
        if spec[0] == "ordered":
            col = t.c[spec[2]]
            order = col.desc() if spec[3] else col.asc()
            stmt = self.where(select(t), spec[1]).order_by(order, key)
            return [tuple(r) for r in self.conn.execute(stmt)]
        col = t.c[spec[2]]
        kind = self.schema.kind(spec[2])
        aggs = [func.count(), func.count(col)]
        if kind.ordered:
            aggs += [func.min(col), func.max(col)]
        if kind.additive and kind.exact_on_sqlite:
            aggs.append(func.sum(col))
        row = tuple(self.conn.execute(self.where(select(*aggs), spec[1])).one())
        if kind.additive and not kind.exact_on_sqlite:
            if self.oracle:  # exact Python sum of what SQLite holds exactly
                values = self.conn.scalars(self.where(select(col), spec[1])).all()
                present = [v for v in values if v is not None]
                with decimal.localcontext(EXACT):
                    row += (sum(present) if present else None,)
            else:
                row += tuple(self.conn.execute(self.where(select(func.sum(col)), spec[1])).one())
        return row


def _not_supported(error: BaseException) -> bool:
    cause = getattr(error, "orig", error)
    return isinstance(cause, errors.NotSupportedError)


def _names_exact_column(schema: Schema, op: tuple[Any, ...]) -> bool:
    """Whether a statement names a BigInteger or Numeric column. A clear DataError from it, or
    from the COMMIT that applies it, is allowed: the backend cannot hold or compute that value
    exactly and says so, as SQL's "out of range" does."""
    exact = {name for name, kind in schema.columns if not kind.exact_on_sqlite}
    return bool(exact & _strings_in(op))


def _strings_in(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return set(value) | _strings_in(list(value.values()))
    if isinstance(value, (list, tuple)):
        return set().union(*(_strings_in(v) for v in value)) if value else set()
    return set()


def run_program(oracle_engine: Engine, target_engine: Engine, program: Any, stats: Stats) -> None:
    schema, ops = program
    oracle = Side(oracle_engine, schema, oracle=True)
    try:
        target = Side(target_engine, schema, oracle=False)
    except exc.DBAPIError as error:
        oracle.close()
        if _not_supported(error):
            stats.not_supported["create table"] += 1
            return
        raise
    stats.programs += 1
    exact_pending = False  # this transaction wrote a BigInteger/Numeric column
    try:
        for step, op in enumerate([*ops, ("commit",)]):
            exact_pending = exact_pending or _names_exact_column(schema, op)
            expected = oracle.execute(op)
            try:
                got = target.execute(op)
            except exc.DBAPIError as error:
                if _not_supported(error):
                    stats.not_supported[op[0]] += 1
                    return
                if isinstance(error.orig, errors.DataError) and (exact_pending or any(
                        word in str(error.orig) for word in ("exact", "approximat"))):
                    # a clear refusal of a number the store holds only approximately
                    stats.not_supported[f"{op[0]} (DataError)"] += 1
                    return
                if isinstance(error.orig, errors.DataError) and "NUL" in str(error.orig) and (
                        "\\x00" in repr(op)):
                    stats.not_supported[f"{op[0]} (NUL refused)"] += 1
                    return
                raise AssertionError(f"step {step}: {op!r} raised on the target") from error
            stats.statements += 1
            if op[0] in ("commit", "rollback"):
                exact_pending = False
            assert got == expected, (step, op, "target", got, "oracle", expected)
        final = ("ordered", None, schema.key, False)
        try:
            committed = target.query(final)
        except (exc.DBAPIError, errors.Error) as error:
            if not _not_supported(error):
                raise
            stats.not_supported["final query"] += 1
            return
        assert committed == oracle.query(final), "committed table"
    finally:
        for side in (oracle, target):
            side.conn.rollback()
            side.close()


# ---------------------------------------------------------------------------------- harness


def sqlite_oracle() -> Engine:
    """SQLite with case-sensitive LIKE (as SQL's) and SQLAlchemy's pysqlite savepoint recipe."""
    engine = create_engine("sqlite://")

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA case_sensitive_like = ON")

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine


EXAMPLES = os.environ.get("DIFFERENTIAL_EXAMPLES")
SEED = os.environ.get("DIFFERENTIAL_SEED")
#: Shrinking a failing program can take minutes; DIFFERENTIAL_SHRINK=1 turns it on.
PHASES = [Phase.explicit, Phase.reuse, Phase.generate] + (
    [Phase.shrink] if os.environ.get("DIFFERENTIAL_SHRINK") else [])


def _reproducible(examples: int) -> Callable[[Any], Any]:
    return lambda test: _settings(int(EXAMPLES or examples), test)


def _settings(examples: int, test: Any) -> Any:
    test = settings(max_examples=examples, deadline=None, database=None, derandomize=SEED is None,
                    suppress_health_check=list(HealthCheck), print_blob=True, phases=PHASES)(test)
    return seed(int(SEED))(test) if SEED is not None else test


@pytest.fixture
def oracle_engine() -> Iterator[Engine]:
    engine = sqlite_oracle()
    yield engine
    engine.dispose()


@pytest.fixture
def stats(request: pytest.FixtureRequest) -> Iterator[Stats]:
    counts = Stats()
    yield counts
    print(f"\n{request.node.name}: {counts.programs} programs, {counts.statements} statements "
          f"compared, not supported: {dict(counts.not_supported)}")


@pytest.fixture
def docstore_engine() -> Iterator[Engine]:
    engine = create_engine("docstore://")
    yield engine
    engine.dispose()


@pytest.fixture
def ravendb_engine(ravendb_url: str) -> Iterator[Engine]:
    engine = create_engine(ravendb_url)
    yield engine
    engine.dispose()


@_reproducible(500)
@given(program=programs())
def test_core_statements_on_docstore_match_sqlite(oracle_engine: Engine, docstore_engine: Engine,
                                                  stats: Stats, program: Any) -> None:
    run_program(oracle_engine, docstore_engine, program, stats)


@_reproducible(250)
@given(program=programs())
def test_core_statements_on_ravendb_match_sqlite(oracle_engine: Engine, ravendb_engine: Engine,
                                                 stats: Stats, program: Any) -> None:
    run_program(oracle_engine, ravendb_engine, program, stats)


# -------------------------------------------------------------------------- concurrent writers


@dataclass
class Increments:
    final: int
    committed: int
    refused: list[BaseException]


def _increment_from_threads(engine: Engine, threads: int, per_thread: int,
                            delta: int) -> Increments:
    meta = MetaData()
    counters = Table("diff counters", meta, Column("id", Integer, primary_key=True,
                                                   autoincrement=False),
                     Column("value", BigInteger, nullable=True))
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(counters).values(id=1, value=0))
    failures: list[BaseException] = []
    refused: list[BaseException] = []
    committed: list[int] = []

    def work() -> None:
        try:
            for _ in range(per_thread):
                try:
                    with engine.begin() as conn:
                        conn.execute(update(counters).where(counters.c.id == 1)
                                     .values(value=counters.c.value + delta))
                except exc.DataError as error:  # a clear refusal of an inexact value
                    refused.append(error)
                else:
                    committed.append(1)
        except BaseException as error:  # noqa: BLE001 - reported to the test thread
            failures.append(error)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not failures, failures
    with engine.connect() as conn:
        final = conn.scalar(select(counters.c.value).where(counters.c.id == 1))
    return Increments(final, len(committed), refused)


def test_concurrent_increments_are_not_lost(engine: Engine) -> None:
    """Python's arithmetic is the oracle: 4 threads x 25 commits of ``value = value + 1``."""
    done = _increment_from_threads(engine, 4, 25, 1)
    assert (done.final, done.committed, done.refused) == (100, 100, [])


def test_concurrent_big_increments_are_exact_or_refused(engine: Engine) -> None:
    """``value + 2**55`` 100 times stays below 2**63 but beyond a double's exact range: every
    increment is applied exactly, or refused with a clear DataError; none is lost."""
    delta = 2**55
    done = _increment_from_threads(engine, 4, 25, delta)
    assert done.committed + len(done.refused) == 100
    assert (type(done.final), done.final) == (int, delta * done.committed)


def test_concurrent_increments_on_a_file_store(tmp_path: Any) -> None:
    engine = create_engine(f"docstore:///{tmp_path / 'counters.db'}")
    try:
        done = _increment_from_threads(engine, 4, 25, 1)
        assert (done.final, done.committed, done.refused) == (100, 100, [])
    finally:
        engine.dispose()


# ------------------------------------------------------------------- one reproducer per defect
# Each class of defect the property test found on main, reduced to one statement (all fixed
# now; they were xfail(strict=True) reproducers while the fixes landed).

def _table(engine: Engine, *columns: Column[Any], name: str = "repro") -> Table:
    table = Table(name, MetaData(), Column("id", Integer, primary_key=True, autoincrement=False),
                  *columns)
    table.create(engine)
    return table


#: Exact numbers: the exact answer, or a clear DataError refusing the value (also correct).
exact_or_refused = contextlib.suppress(exc.DataError)


def _ids(conn: Connection, table: Table, where: Any) -> list[int]:
    return sorted(conn.scalars(select(table.c.id).where(where)))


def test_bigint_beyond_64_bits_compares_exactly(engine: Engine) -> None:
    t = _table(engine, Column("n", BigInteger))
    with exact_or_refused, engine.begin() as conn:
        conn.execute(insert(t), [{"id": 1, "n": 2**63}, {"id": 2, "n": 2**63 + 1}])
        assert _ids(conn, t, t.c.n == 2**63) == [1]


def test_bigint_beyond_64_bits_aggregates_exactly(engine: Engine) -> None:
    t = _table(engine, Column("n", BigInteger))
    with exact_or_refused, engine.begin() as conn:
        conn.execute(insert(t), [{"id": 1, "n": 2**63}, {"id": 2, "n": 2**63 + 1}])
        assert conn.execute(select(func.min(t.c.n), func.max(t.c.n))).one() == (2**63, 2**63 + 1)


def test_bigint_increment_past_64_bits_is_exact(engine: Engine) -> None:
    t = _table(engine, Column("n", BigInteger))
    with exact_or_refused, engine.begin() as conn:
        conn.execute(insert(t).values(id=1, n=2**63 - 1))
        conn.execute(update(t).values(n=t.c.n + 2))
        stored = conn.scalar(select(t.c.n))
        assert (type(stored), stored) == (int, 2**63 + 1)


def test_numeric_compares_exactly(engine: Engine) -> None:
    t = _table(engine, Column("d", Numeric(60, 10)))
    big = Decimal("1E+30")
    bigger = Decimal("1000000000000000000000000000000.0000000001")  # 28-digit arithmetic
    with exact_or_refused, engine.begin() as conn:  # would round big + 1E-10 to big
        conn.execute(insert(t), [{"id": 1, "d": big}, {"id": 2, "d": bigger}])
        assert _ids(conn, t, t.c.d == big) == [1]


def test_numeric_beyond_28_digits_reads_back(engine: Engine) -> None:
    """Reading Numeric(60, 10) 1E+30 raises a raw decimal.InvalidOperation (not PEP 249)."""
    t = _table(engine, Column("d", Numeric(60, 10)))
    with exact_or_refused, engine.begin() as conn:
        conn.execute(insert(t).values(id=1, d=Decimal("1E+30")))
        assert conn.scalar(select(t.c.d)) == Decimal("1E+30")


def test_string_with_nul_matches_in_where_or_is_refused(engine: Engine) -> None:
    t = _table(engine, Column("s", String(20)))
    with contextlib.suppress(exc.DataError), engine.begin() as conn:
        conn.execute(insert(t), [{"id": 1, "s": "nul\x00byte"}, {"id": 2, "s": "nul"}])
        assert _ids(conn, t, t.c.s == "nul\x00byte") == [1]


@pytest.mark.parametrize("where", ["is_not_true", "is_not_false", "not_is_true"])
def test_is_not_true_keeps_null_rows(engine: Engine, where: str) -> None:
    t = _table(engine, Column("b", Boolean))
    expr = {"is_not_true": t.c.b.is_not(True), "is_not_false": t.c.b.is_not(False),
            "not_is_true": not_(t.c.b.is_(True))}[where]
    with engine.begin() as conn:
        conn.execute(insert(t), [{"id": 1, "b": True}, {"id": 2, "b": False}, {"id": 3, "b": None}])
        assert _ids(conn, t, expr) == ([1, 3] if where == "is_not_false" else [2, 3])


def test_column_named_with_backslash_matches_in_where(engine: Engine) -> None:
    t = _table(engine, Column("back\\slash", Integer))
    with engine.begin() as conn:
        conn.execute(insert(t), [{"id": 1, "back\\slash": 5}, {"id": 2, "back\\slash": None}])
        assert _ids(conn, t, t.c["back\\slash"] == 5) == [1]


@pytest.mark.parametrize("name", ["it's", 'say "hi"'])
def test_column_named_with_a_quote_takes_values(engine: Engine, name: str) -> None:
    """The bound parameter SQLAlchemy names after the column (``:it's``) fails the lexer."""
    t = _table(engine, Column(name, Integer))
    with engine.begin() as conn:
        conn.execute(insert(t).values({"id": 1, name: 5}))
        assert conn.scalar(select(t.c[name])) == 5


def test_executemany_delete_of_one_row_twice_counts_once_and_commits(engine: Engine) -> None:
    t = _table(engine)
    with engine.begin() as conn:
        conn.execute(insert(t), [{"id": 1}, {"id": 2}])
    with engine.begin() as conn:
        stmt = delete(t).where(t.c.id == bindparam("k"))
        assert conn.execute(stmt, [{"k": 1}, {"k": 1}]).rowcount == 1
    with engine.connect() as conn:
        assert _ids(conn, t, t.c.id > 0) == [2]


def test_executemany_update_applies_each_parameter_set(engine: Engine) -> None:
    t = _table(engine, Column("n", Integer))
    with engine.begin() as conn:
        conn.execute(insert(t).values(id=1, n=0))
    with engine.begin() as conn:
        stmt = update(t).where(t.c.id == bindparam("k")).values(n=t.c.n + bindparam("d"))
        assert conn.execute(stmt, [{"k": 1, "d": 1}, {"k": 1, "d": 1}]).rowcount == 2
    with engine.connect() as conn:
        assert conn.scalar(select(t.c.n)) == 2


def test_non_ascii_column_name_is_queried_over_ravendb(ravendb_url: str) -> None:
    """The field name reaches RQL unquoted; the server rejects the character (HTTP 400)."""
    engine = create_engine(ravendb_url)
    try:
        t = _table(engine, Column("ünï", String(10)))
        with engine.begin() as conn:
            conn.execute(insert(t), [{"id": 1, "ünï": "x"}, {"id": 2, "ünï": None}])
            assert _ids(conn, t, t.c["ünï"].is_not(None)) == [1]
    finally:
        engine.dispose()


@pytest.mark.parametrize("statement", ["delete", "update"])
def test_rollback_to_savepoint_forgets_inserted_rows_it_updated(engine: Engine,
                                                                statement: str) -> None:
    """Rows inserted and then updated inside a savepoint that is rolled back are invisible to
    SELECT but still counted by a DELETE / UPDATE by key (and, embedded, COMMIT then fails with
    "document 'repro/2' was deleted by another transaction")."""
    t = _table(engine, Column("n", Integer))
    with engine.begin() as conn:
        conn.execute(insert(t).values(id=1, n=1))
    with engine.begin() as conn:
        savepoint = conn.begin_nested()
        conn.execute(insert(t).values(id=2, n=2))
        conn.execute(update(t).values(n=t.c.n + 1))
        savepoint.rollback()
        stmt = delete(t) if statement == "delete" else update(t).values(n=0)
        assert conn.execute(stmt.where(t.c.id == 2)).rowcount == 0
    with engine.connect() as conn:
        assert conn.execute(select(t.c.id, t.c.n)).all() == [(1, 1)]
