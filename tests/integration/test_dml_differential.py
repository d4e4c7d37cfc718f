"""Differential test of writes: random sequences of raw SQL statements on the DB-API
(``sqla_docstore.dbapi``, embedded store and RavenDB) against stdlib ``sqlite3``, compared
after every statement.

``test_query_shapes_differential.py`` fuzzes SELECTs and ``test_differential.py`` one table's
writes through SQLAlchemy Core; this one fuzzes what a write statement can be, as SQL text.
Three tables with every column affinity (INTEGER, TEXT, REAL, NUMERIC, BOOLEAN, none), NOT
NULL, CHECK, DEFAULT (literal and expression) and a foreign key with ``ON DELETE CASCADE``
(enforced: ``foreign_keys=True`` here, ``PRAGMA foreign_keys = ON`` on SQLite): ``p`` (an
integer key), ``c`` (a text key, referring to ``p``) and ``g`` (a log whose keys the stores
number: HiLo here, rowids on SQLite, so it is compared without them, README "Generated keys
are HiLo's"). The ``unique`` runs add unique constraints beyond the keys: ``p.e
INTEGER UNIQUE``, ``g.s TEXT UNIQUE`` and ``UNIQUE (pid, v)`` on ``c`` (SQLite gets them as
unique indexes: the same checks, and an index can be dropped for a moment, see below), with
values from small pools (``E_POOL``, ``S_POOL``, ``V_POOL``, NULLs among them: NULLs never
conflict) so that rows collide often; their writes are checked at each statement, as SQLite
does (README "Unique values at each statement"), and again at commit (on RavenDB the commit
is then a cluster-wide batch with compare-exchange reservations). Each sequence runs 10-30
statements in one connection:

- INSERT: several ``VALUES`` rows, ``executemany``, ``INSERT ... SELECT`` (with WHERE),
  ``DEFAULT VALUES``, columns left to their defaults, ``RETURNING``;
- UPDATE: SET of expressions of other columns (arithmetic, CASE, coalesce, string functions,
  ``||``, scalar and correlated subqueries), WHERE of comparisons, IN lists and subqueries,
  EXISTS, LIKE, BETWEEN, IS NULL, ``UPDATE ... FROM`` a grouped derived table, executemany,
  key changes (the foreign key's NO ACTION), ``RETURNING``;
- DELETE: WHERE with subqueries, correlated [NOT] EXISTS, executemany, ``RETURNING``;
- upserts: ``ON CONFLICT (key) DO NOTHING``, ``DO UPDATE SET ... excluded.x ... [WHERE]``,
  ``INSERT OR REPLACE``, ``REPLACE INTO``, ``INSERT OR IGNORE`` (of rows breaking NOT NULL
  and CHECK too); with unique constraints also ``ON CONFLICT (e)``, ``(pid, v)`` and ``(s)``
  targets, and ``OR REPLACE`` / ``OR IGNORE`` rows colliding on the key and a unique value
  at once or on a unique value only (REPLACE deletes every row it conflicts with);
- with unique constraints: UPDATEs moving unique values among rows (``e = e + 1``, swaps and
  chains by CASE, ``executemany`` setting one row twice or two rows one value, key changes
  of rows found by their unique value), upserts whose ``DO UPDATE`` rows move values among
  themselves (VALUES rows and ``executemany``), pairs of statements giving a value up
  (DELETE, SET NULL, a key change) then taking it again in the same transaction (INSERT,
  ``OR REPLACE``, UPDATE), two rows of ``c`` of one parent, one written again (UPDATE,
  ``OR REPLACE``, ``DO UPDATE``), then a chain moving their values, ``INSERT ... SELECT``
  copying or shifting ``p.e``;
- SAVEPOINT / ROLLBACK TO / RELEASE, ROLLBACK, COMMIT (the committed tables are then read
  from a new connection on each side: what was stored, not what the transaction sees).

Values: negative, zero, integers beyond 2**53 and near 2**63, floats, decimals and other
numbers as text (``'5'``, ``' 5'``, ``'5.0'``, ``'1e3'``, ``'1.10'``), empty strings, NULLs,
unicode, as bound parameters (``?``) and as literals. After each statement the rowcount
(sqlite3's, read after RETURNING rows are fetched), the RETURNING rows (a multiset), whether
it raised (IntegrityError on SQLite must be IntegrityError here; any other SQLite error any
PEP 249 error of ``sqla_docstore.errors``) and the three tables' rows (ordered by key) must be
SQLite's: a statement that raised has applied nothing.

Accepted, as the README documents them (the comparator allows exactly these):

- "What still differs": a ``BOOLEAN`` column keeps booleans where SQLite stores 1 or 0 (True is
  compared equal to 1 there, in that column only); a ``NUMERIC`` column reads as ``Decimal``
  ("NUMERIC / DECIMAL results are decimal.Decimal"): it is compared by value with SQLite's
  integer or real (the decimal the real prints as), as is RETURNING of the bare column;
- "Exact numbers": arithmetic reading a wide number (beyond 2**53) and a real beyond 2**53
  into an INTEGER or NUMERIC column raise ``DataError`` where SQLite computes or stores a
  double; so a ``DataError`` is accepted when a wide number is in the statement or the tables
  (then the statement is undone on SQLite, through a savepoint, and the sequence goes on);
- a statement refused with ``NotSupportedError`` is counted and undone on SQLite the same way;
- "Unique values at each statement": on RavenDB an UPDATE's (and an upsert's ``DO UPDATE``)
  unique values are checked on the rows it leaves ("the statement's final state is checked:
  ``k = k + 1`` passes"), where SQLite checks each row as it visits it. So on ``ravendb://``
  an UPDATE or ``ON CONFLICT (key) DO UPDATE`` (or executemany of one) that SQLite refuses
  with "UNIQUE constraint failed" and the target takes is run again on SQLite with that
  table's unique indexes dropped, which are then made again: its outcome must be the
  target's and the indexes must take the rows (each value held once), else the test fails;
- the same section: docstore:// checks an UPDATE's rows in turn as SQLite does, in key order
  for a table with an INTEGER PRIMARY KEY, but in the store's order for one without (``c``),
  which differs from SQLite's rowid order once the transaction has written some of its rows.
  So on ``docstore://`` an UPDATE of ``c`` (not executemany) that one side refuses for a
  unique value and the other takes is accepted only if, run on SQLite without the unique
  indexes, a row of it takes a value another of its rows held before (a chain, where the
  order decides), and if the target took it, its outcome is that run's and the indexes take
  the rows again. Nothing else about unique values is accepted;
- not generated: unique constraints on an untyped, NUMERIC or BOOLEAN column (RavenDB
  compares unique values by their JSON text, README "Unique values at each statement": 1
  and 1.0 differ there), NULL keys ("A primary-key column is NOT NULL"), keys of ``g``
  (HiLo), an untyped column compared with a numeric one, booleans into columns other than
  ``b``, ``UPDATE ... FROM`` with several FROM rows per target row (SQLite takes any one of
  them), rows without ORDER BY (every read is ordered by key; RETURNING is a multiset);
- SQLite quirk not to copy: RETURNING of a ``REAL`` column given an integer (``INSERT ... (w)
  VALUES (-42) RETURNING w``, also in an expression) gives SQLite's integer where its SELECT
  gives the float -42.0, as here, and a CASE reading one gives a float for an integer branch
  in some plans (``INSERT OR REPLACE ... RETURNING CASE WHEN r <> 7 THEN 1 ... END`` is 1.0):
  a number RETURNING gives of an expression reading a REAL column is compared by value.

The run is reproducible: sequence ``n`` uses ``random.Random(DML_DIFFERENTIAL_SEED + n)``
(seed 0 unless set). ``DML_DIFFERENTIAL_EXAMPLES=N`` sets the number of sequences: by default
130 without and 220 with unique constraints on ``docstore://`` (about 6,200 statements) and on
``ravendb://`` (HTTP round trips) 30 with single-node batches (no unique constraint), 30 with
every commit a cluster-wide batch (``cluster_wide=True``: PUTs and DELETEs under atomic
guards, which the bundled server checks as RavenDB does, all against the state before the
batch) and 45 with unique constraints (cluster-wide batches with compare-exchange
reservations, as the tables have unique constraints); ``DML_DIFFERENTIAL_EXAMPLES`` sets
every run's count. ``pytest -s`` prints the counts, the errors both raised (``IntegrityError
(unique value)``: a unique constraint's, not a key's) and what was accepted. A failure prints
the seed and every statement run so far, a script to replay.
"""

from __future__ import annotations

import os
import random
import re
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

import pytest

from sqla_docstore import dbapi, errors
from sqla_docstore.backends.embedded.store import EmbeddedStore

# ------------------------------------------------------------------------------- the schema

def schema(uniques: bool, indexes: bool = False) -> list[str]:
    """The tables; with ``uniques`` a single-column UNIQUE on ``p.e`` and ``g.s`` and a
    composite ``UNIQUE (pid, v)`` on ``c``: as constraints in the tables (the target), or with
    ``indexes`` as unique indexes (SQLite, the oracle: same semantics, and an index can be
    dropped for a moment, see ``Pair.final_rows_unique``)."""
    column, composite = (" UNIQUE", ", UNIQUE (pid, v)") if uniques and not indexes else ("", "")
    tables = [
        "CREATE TABLE p (id INTEGER PRIMARY KEY, i INTEGER NOT NULL DEFAULT 0, t TEXT DEFAULT"
        f" 'x', r REAL CHECK (r IS NULL OR r > -1000), n NUMERIC, b BOOLEAN, u, e INTEGER{column})",
        "CREATE TABLE c (k TEXT PRIMARY KEY, pid INTEGER REFERENCES p (id) ON DELETE CASCADE,"
        " v TEXT NOT NULL DEFAULT '', w REAL DEFAULT 1.5, m NUMERIC CHECK (m IS NULL OR"
        f" m < 100000){composite})",
        "CREATE TABLE g (id INTEGER PRIMARY KEY, x INTEGER DEFAULT 7, y TEXT DEFAULT 'd',"
        f" z DEFAULT (1 + 1), s TEXT{column})",
    ]
    if uniques and indexes:
        tables += [f"CREATE UNIQUE INDEX {name} ON {table} ({cols})"
                   for name, table, cols in UNIQUE_INDEXES]
    return tables


#: the oracle's unique indexes: (name, table, columns)
UNIQUE_INDEXES = [("p_e", "p", "e"), ("c_pid_v", "c", "pid, v"), ("g_s", "g", "s")]
UNIQUE_COLUMNS = {"p": ("e",), "c": ("pid", "v"), "g": ("s",)}


class Aff(Enum):
    INT = "integer"
    TEXT = "text"
    REAL = "real"
    NUM = "numeric"
    BOOL = "boolean"
    NONE = "none"


@dataclass(frozen=True)
class Table:
    name: str
    key: str | None  # None: keys the store numbers (compared without them)
    columns: dict[str, Aff]
    #: small pools of values for the columns of unique constraints (collisions are common)
    pools: dict[str, list[Any]] = field(default_factory=dict)


E_POOL = [1, 2, 3, 4, "2", 2.0, -1, None]
V_POOL = ["", "a", "b", "B", "é"]
S_POOL = ["s1", "s2", "s3", "S1", None]
P = Table("p", "id", {"id": Aff.INT, "i": Aff.INT, "t": Aff.TEXT, "r": Aff.REAL, "n": Aff.NUM,
                      "b": Aff.BOOL, "u": Aff.NONE, "e": Aff.INT}, {"e": E_POOL})
C = Table("c", "k", {"k": Aff.TEXT, "pid": Aff.INT, "v": Aff.TEXT, "w": Aff.REAL, "m": Aff.NUM},
          {"v": V_POOL})
G = Table("g", None, {"x": Aff.INT, "y": Aff.TEXT, "z": Aff.NONE, "s": Aff.TEXT}, {"s": S_POOL})
TABLES = [P, C, G]

WIDE = 2**53
INTS = [0, 1, -1, 2, 3, 7, -42, 100, 2**53 + 1, 2**62, -(2**63), 2**63 - 1]
FLOATS = [0.0, 0.5, -2.25, 1.5, 3.75, 1e20, -0.0, 2.0]
TEXTS = ["", "a", "ab", "B", "é", "Äß", "😀x", "5", " 5", "5.0", "1e3", "1.10", "-0", "0x10",
         "abc", "x y", "it's"]
NUMERIC_TEXTS = ["5", " 5", "5.0", "1e3", "1.10", "-0.5", "3", "0"]
KEYS = list(range(1, 9))
CKEYS = ["a", "b", "c1", "d", "e", "5", "é"]


# ------------------------------------------------------------------------------- generating


@dataclass
class Statement:
    sql: str
    table: Table
    params: Any = ()
    many: bool = False

    def script(self) -> str:
        call = "executemany" if self.many else "execute"
        return f"cur.{call}({self.sql!r}, {self.params!r})"


class Gen:
    """Random statements over the schema; literals go into the text or are bound as ``?``."""

    def __init__(self, rng: random.Random, uniques: bool) -> None:
        self.rng = rng
        self.uniques = uniques  # the tables have unique constraints (or no unique columns)
        self.params: list[Any] = []

    def pick(self, options: list[Any]) -> Any:
        return self.rng.choice(options)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    # ---- values

    def raw_value(self, aff: Aff) -> Any:
        if self.chance(0.12):
            return None
        r = self.rng.random()
        if aff is Aff.BOOL:
            return self.pick([0, 1, True, False, "1", 2])
        if r < 0.45:
            base = {Aff.INT: INTS, Aff.REAL: FLOATS + INTS[:6], Aff.NUM: NUMERIC_TEXTS + INTS[:7],
                    Aff.TEXT: TEXTS, Aff.NONE: TEXTS[:8] + INTS[:6]}[aff]
            return self.pick(base)
        if r < 0.75:  # (not a wide integer into a REAL column: README "What still differs",
            # it stays exact there, and what reads it computes on the exact value)
            return self.pick(INTS[:8] if self.chance(0.9) or aff is Aff.REAL else INTS)
        if r < 0.85:
            return self.pick(FLOATS)
        return self.pick(NUMERIC_TEXTS + TEXTS)  # (texts that stay text in any column too)

    def lit(self, value: Any) -> str:
        """``value`` as a literal in the text, or a ``?`` bound to it."""
        if self.chance(0.5) or isinstance(value, bool):
            self.params.append(value)
            return "?"
        if value is None:
            return "NULL"
        if isinstance(value, str):
            return "'" + value.replace("'", "''") + "'"
        if isinstance(value, float):
            return repr(value) if value != int(value) or abs(value) >= 1e16 else f"{value:.1f}"
        return str(value)

    def value(self, aff: Aff) -> str:
        return self.lit(self.raw_value(aff))

    def raw_column_value(self, table: Table, name: str) -> Any:
        """A value for a column: mostly from its small pool if it has one (a unique one)."""
        pool = table.pools.get(name)
        if pool and self.chance(0.85):
            return self.pick(pool)
        return self.raw_value(table.columns[name])

    def column_value(self, table: Table, name: str) -> str:
        return self.lit(self.raw_column_value(table, name))

    # ---- expressions of a row of ``table`` (``q`` its qualifier)

    def column(self, table: Table, affs: tuple[Aff, ...] | None = None) -> str:
        names = [n for n, a in table.columns.items() if affs is None or a in affs]
        return self.pick(names)

    def num_expr(self, table: Table, q: str, depth: int = 1) -> str:
        leaf = lambda: (f"{q}.{self.column(table, (Aff.INT, Aff.REAL, Aff.NUM))}"  # noqa: E731
                        if self.chance(0.6) else self.lit(self.pick(INTS[:8] + FLOATS[:5])))
        if depth <= 0 or self.chance(0.3):
            return leaf()
        sub = lambda: self.num_expr(table, q, depth - 1)  # noqa: E731
        form = self.pick(["+", "-", "*", "/", "%", "abs", "coalesce", "case", "length", "neg",
                          "subq", "cast", "max"])
        if form in "+-*/%":
            return f"({sub()} {form} {sub()})"
        if form == "abs":
            return f"abs({sub()})"
        if form == "neg":
            return f"-({sub()})"
        if form == "coalesce":
            return f"coalesce({sub()}, {self.lit(self.pick(INTS[:6]))})"
        if form == "case":
            return f"CASE WHEN {self.predicate(table, q, 0)} THEN {sub()} ELSE {sub()} END"
        if form == "length":
            return f"length({self.text_expr(table, q, depth - 1)})"
        if form == "cast":
            return f"CAST({self.text_expr(table, q, 0)} AS {self.pick(['INTEGER', 'REAL'])})"
        if form == "max":
            return f"max({sub()}, {sub()})"
        return self.scalar_subquery(table, q, numeric=True)

    def text_expr(self, table: Table, q: str, depth: int = 1) -> str:
        leaf = lambda: (f"{q}.{self.column(table, (Aff.TEXT,))}"  # noqa: E731
                        if self.chance(0.6) else self.lit(self.pick(TEXTS)))
        if depth <= 0 or self.chance(0.3):
            return leaf()
        sub = lambda: self.text_expr(table, q, depth - 1)  # noqa: E731
        form = self.pick(["upper", "lower", "||", "substr", "replace", "trim", "coalesce",
                          "case", "cast", "subq"])
        if form in ("upper", "lower", "trim"):
            return f"{form}({sub()})"
        if form == "||":
            return f"({sub()} || {self.pick([sub(), self.num_expr(table, q, 0)])})"
        if form == "substr":
            return f"substr({sub()}, {self.lit(self.pick([1, 2, -1, 0]))}, 2)"
        if form == "replace":
            return f"replace({sub()}, {self.lit(self.pick(['a', '5', '']))}, {sub()})"
        if form == "coalesce":
            return f"coalesce({sub()}, {self.lit(self.pick(TEXTS))})"
        if form == "case":
            return f"CASE WHEN {self.predicate(table, q, 0)} THEN {sub()} END"
        if form == "cast":
            return f"CAST({self.num_expr(table, q, 0)} AS TEXT)"
        return self.scalar_subquery(table, q, numeric=False)

    def scalar_subquery(self, table: Table, q: str, numeric: bool) -> str:
        """A correlated or plain one-value subquery over another table."""
        if table is P:
            agg = self.pick(["max(w)", "count(*)", "min(m)", "sum(w)"]) if numeric else \
                self.pick(["max(v)", "min(k)"])
            where = f"c.pid = {q}.id" if self.chance(0.7) else f"c.w > {self.value(Aff.REAL)}"
            return f"(SELECT {agg} FROM c WHERE {where})"
        agg = self.pick(["max(i)", "count(*)", "min(r)"]) if numeric else \
            self.pick(["max(t)", "min(t)"])
        where = f"p.id = {q}.pid" if table is C else f"p.i > {self.value(Aff.INT)}"
        return f"(SELECT {agg} FROM p WHERE {where})"

    def expr_for(self, table: Table, q: str, aff: Aff) -> str:
        if self.chance(0.25):
            return self.value(aff)
        if aff in (Aff.TEXT,) or (aff is Aff.NONE and self.chance(0.5)):
            return self.text_expr(table, q)
        return self.num_expr(table, q)

    def predicate(self, table: Table, q: str, depth: int = 1) -> str:
        if depth > 0 and self.chance(0.3):
            op = self.pick(["AND", "OR"])
            a, b = self.predicate(table, q, depth - 1), self.predicate(table, q, depth - 1)
            return f"({a} {op} {b})" if self.chance(0.8) else f"NOT ({a} {op} {b})"
        form = self.pick(["cmp", "cmp", "null", "in", "between", "like", "insub", "exists",
                          "keyin", "textcmp"])
        typed = [n for n, a in table.columns.items() if a is not Aff.NONE]
        name = self.pick(typed)
        col = f"{q}.{name}"
        aff = table.columns[name]
        if form == "cmp":
            op = self.pick(["=", "<>", "<", "<=", ">", ">="])
            right = self.value(aff) if self.chance(0.6) else self.num_expr(table, q, 1)
            return f"{col} {op} {right}"
        if form == "textcmp":
            return f"{self.text_expr(table, q, 1)} {self.pick(['=', '<', '>='])} " \
                   f"{self.value(Aff.TEXT)}"
        if form == "null":
            return f"{col} IS {self.pick(['', 'NOT '])}NULL"
        if form == "in":
            items = ", ".join(self.value(aff) for _ in range(self.rng.randint(1, 4)))
            return f"{col} {self.pick(['IN', 'NOT IN'])} ({items})"
        if form == "between":
            return f"{col} BETWEEN {self.value(aff)} AND {self.value(aff)}"
        if form == "like":
            pattern = self.pick(["a%", "%5%", "_", "%", "5%", "é%"])
            return f"{q}.{self.column(table, (Aff.TEXT,))} LIKE {self.lit(pattern)}"
        if form == "keyin" and table.key:
            keys = KEYS if table is P else CKEYS
            items = ", ".join(self.lit(self.pick(keys)) for _ in range(self.rng.randint(1, 3)))
            return f"{q}.{table.key} IN ({items})"
        if form == "exists":
            neg = self.pick(["", "NOT "])
            if table is P:
                return f"{neg}EXISTS (SELECT 1 FROM c WHERE c.pid = {q}.id" \
                       f" AND c.w >= {self.value(Aff.REAL)})"
            return f"{neg}EXISTS (SELECT 1 FROM p WHERE p.i > {self.value(Aff.INT)})"
        if table is P:
            return f"{q}.id {self.pick(['IN', 'NOT IN'])} (SELECT pid FROM c" \
                   f" WHERE c.v <> {self.value(Aff.TEXT)})"
        if table is C:
            return f"{q}.pid IN (SELECT id FROM p WHERE p.i < {self.value(Aff.INT)})"
        return f"{q}.x IN (SELECT i FROM p)"

    # ---- rows

    def row_values(self, table: Table, names: list[str]) -> list[str]:
        out = []
        for name in names:
            if name == "id":
                out.append(self.lit(self.pick(KEYS)))
            elif name == "k":
                out.append(self.lit(self.pick(CKEYS)))
            elif name == "pid":
                out.append(self.lit(self.parent_key()))
            else:
                out.append(self.column_value(table, name))
        return out

    def parent_key(self) -> Any:
        """A value for ``c.pid``: with unique constraints often one of few (``(pid, v)``
        collides then)."""
        if self.uniques and self.chance(0.5):
            return self.pick(KEYS[:3])
        return self.pick(KEYS + [None, 99])

    def insert_columns(self, table: Table) -> list[str]:
        names = [n for n in table.columns if n != table.key]
        unique = UNIQUE_COLUMNS[table.name] if self.uniques else ()
        chosen = [n for n in names if self.chance(0.9 if n in unique else 0.7)] or [names[0]]
        return ([table.key] if table.key else []) + chosen


def _returning(g: Gen, table: Table, qualified: bool = False) -> str:
    """A RETURNING clause or none (``qualified``: its columns name their table, as UPDATE ...
    FROM needs, README "SQL support")."""
    if not g.chance(0.35):
        return ""
    if table.key and g.chance(0.3) and not qualified:
        return " RETURNING *"
    q = table.name
    prefix = f"{q}." if qualified else ""
    items = [prefix + g.column(table) for _ in range(g.rng.randint(1, 3))]
    if g.chance(0.4):  # (not a subquery: refused by name, README "SQL support"; no CASE:
        # SQLite's RETURNING compares a TEXT column without its affinity, '1e3' > 7 is true
        # there and false in its SELECT, as here)
        expr = g.num_expr(table, q, 1) if g.chance(0.5) else g.text_expr(table, q, 1)
        if "SELECT" not in expr and "CASE" not in expr:
            items.append(expr)
    if table.key:
        items.insert(0, prefix + table.key)
    return " RETURNING " + ", ".join(items)


def insert_values(g: Gen) -> Statement:
    table = g.pick(TABLES)
    cols = g.insert_columns(table)
    rows = ", ".join("(" + ", ".join(g.row_values(table, cols)) + ")"
                     for _ in range(g.rng.randint(1, 3)))
    verb = g.pick(["INSERT", "INSERT", "INSERT", "INSERT OR IGNORE", "INSERT OR REPLACE",
                   "REPLACE"]) if table.key or g.uniques else "INSERT"
    upsert = ""
    if verb == "INSERT" and g.chance(0.3) and (table.key or g.uniques):
        upsert = _on_conflict(g, table, cols)
    return Statement(f"{verb} INTO {table.name} ({', '.join(cols)}) VALUES {rows}{upsert}"
                     f"{_returning(g, table)}", table, tuple(g.params))


#: the conflict targets of an upsert: the key and the unique constraints
TARGETS = {"p": ["id", "e", "e"], "c": ["k", "pid, v", "pid, v"], "g": ["s"]}


def _on_conflict(g: Gen, table: Table, cols: list[str]) -> str:
    target = g.pick(TARGETS[table.name] if g.uniques else [table.key])
    if g.chance(0.35):
        return f" ON CONFLICT ({target}) DO NOTHING" if g.chance(0.7) else \
            " ON CONFLICT DO NOTHING"
    sets = []
    for name in [n for n in table.columns if n not in (table.key, "pid")]:
        if g.chance(0.4):
            aff = table.columns[name]
            if name in cols and g.chance(0.5):
                source = f"excluded.{name}"
                if aff in (Aff.INT, Aff.REAL) and g.chance(0.5):
                    source = f"{table.name}.{name} + excluded.{name}"
                sets.append(f"{name} = {source}")
            else:
                sets.append(f"{name} = {g.expr_for(table, table.name, aff)}")
    if not sets:
        sets = [f"{cols[-1]} = excluded.{cols[-1]}"]
    where = f" WHERE {g.predicate(table, table.name, 0)}" if g.chance(0.3) else ""
    return f" ON CONFLICT ({target}) DO UPDATE SET {', '.join(sets)}{where}"


def insert_many(g: Gen) -> Statement:
    table = g.pick(TABLES)
    cols = g.insert_columns(table)
    rows = [tuple(_bound_row(g, table, cols)) for _ in range(g.rng.randint(1, 4))]
    verb = g.pick(["INSERT", "INSERT OR IGNORE", "INSERT OR REPLACE"]) \
        if table.key or g.uniques else "INSERT"
    marks = ", ".join("?" for _ in cols)
    return Statement(f"{verb} INTO {table.name} ({', '.join(cols)}) VALUES ({marks})", table,
                     rows, many=True)


def _bound_row(g: Gen, table: Table, cols: list[str]) -> list[Any]:
    out: list[Any] = []
    for name in cols:
        if name == "id":
            out.append(g.pick(KEYS))
        elif name == "k":
            out.append(g.pick(CKEYS))
        elif name == "pid":
            out.append(g.parent_key())
        else:
            out.append(g.raw_column_value(table, name))
    return out


def insert_select(g: Gen) -> Statement:
    form = g.pick(["g_from_p", "g_from_c", "c_from_p", "p_from_c", "p_from_p"])
    if form == "g_from_p":
        sql = (f"INSERT INTO g (x, y) SELECT {g.num_expr(P, 'p', 1)}, {g.text_expr(P, 'p', 1)}"
               f" FROM p WHERE {g.predicate(P, 'p')}")
    elif form == "g_from_c":
        sql = f"INSERT INTO g (y, z) SELECT v, m FROM c WHERE {g.predicate(C, 'c')}"
    elif form == "c_from_p":
        sql = (f"INSERT INTO c (k, pid, v, m) SELECT {g.lit(g.pick(['k', 'p', '']))} || p.id,"
               f" p.id, {g.text_expr(P, 'p', 1)}, p.n FROM p WHERE {g.predicate(P, 'p')}"
               " ORDER BY p.id")
    elif form == "p_from_c":
        sql = (f"INSERT INTO p (id, i, t) SELECT length(c.k) + {g.lit(g.pick([0, 2, 4]))},"
               f" coalesce(c.pid, 0), c.v FROM c WHERE {g.predicate(C, 'c')} ORDER BY c.k")
    else:
        e = g.pick(["", "", ", e", ", e + 1"])  # (the same unique value, or the next one)
        sql = (f"INSERT INTO p (id, i, t, r{e and ', e'}) SELECT p.id"
               f" + {g.lit(g.pick([1, 3, 10]))}, p.i, p.t, p.r{e and ', p.' + e[2:]} FROM p"
               f" WHERE {g.predicate(P, 'p')} ORDER BY p.id")
    # (not REPLACE into p from c: the rows it replaces delete rows of c by ON DELETE CASCADE,
    # which SQLite's SELECT, read as it inserts, then misses; here it "runs whole first",
    # README "SQL support")
    verbs = ["", "", " OR IGNORE"] + ([" OR REPLACE"] if form != "p_from_c" else [])
    verb = g.pick(verbs) if not form.startswith("g") else ""
    sql = sql.replace("INSERT", f"INSERT{verb}", 1)
    table = {"g": G, "c": C, "p": P}[form[0]]
    return Statement(sql + _returning(g, table), table, tuple(g.params))


def insert_defaults(g: Gen) -> Statement:
    if g.chance(0.5):
        return Statement("INSERT INTO g DEFAULT VALUES" + _returning(g, G), G)
    key = g.lit(g.pick(KEYS))
    return Statement(f"INSERT INTO p (id) VALUES ({key})" + _returning(g, P), P,
                     tuple(g.params))


def update(g: Gen) -> Statement:
    table = g.pick([P, P, C, G])
    q = table.name
    joined = table is P and g.chance(0.2)  # UPDATE ... FROM: one FROM row per target row
    names = [n for n in table.columns if n != table.key or g.chance(0.1)]
    chosen = [n for n in names if g.chance(0.35)] or [g.pick(names)]
    sets = []
    for name in chosen:
        if name == "id":
            sets.append(f"id = p.id + {g.lit(g.pick([1, 10, -1]))}")
        elif name == "k":
            sets.append(f"k = c.k || {g.lit(g.pick(['x', '']))}")
        elif name == "pid":
            sets.append(f"pid = {g.lit(g.pick(KEYS + [None]))}")
        elif joined and name == "t":
            sets.append(f"t = s.mv || {g.lit(g.pick(['', '-']))}")
        elif joined and name in ("i", "r"):
            sets.append(f"{name} = s.cn + p.{name}")
        else:
            sets.append(f"{name} = {g.expr_for(table, q, table.columns[name])}")
    sql = f"UPDATE {q} SET {', '.join(sets)}"
    if joined:
        sql += (" FROM (SELECT pid, max(v) AS mv, count(*) AS cn FROM c GROUP BY pid) AS s"
                " WHERE s.pid = p.id")
        if g.chance(0.5):
            sql += f" AND {g.predicate(P, 'p', 0)}"
    elif g.chance(0.85):
        sql += f" WHERE {g.predicate(table, q)}"
    return Statement(sql + _returning(g, table, joined), table, tuple(g.params))


def update_many(g: Gen) -> Statement:
    if g.chance(0.5):
        rows = [(g.pick(INTS[:7]), g.pick(KEYS)) for _ in range(g.rng.randint(1, 4))]
        return Statement("UPDATE p SET i = i + ? WHERE id = ?", P, rows, many=True)
    rows = [(g.pick(TEXTS), g.pick(CKEYS)) for _ in range(g.rng.randint(1, 4))]
    return Statement("UPDATE c SET v = v || ? WHERE k = ?", C, rows, many=True)


def delete(g: Gen) -> Statement:
    table = g.pick([P, C, C, G])
    if g.chance(0.15):
        keys = KEYS if table is P else CKEYS
        if table is not G:
            rows = [(g.pick(keys),) for _ in range(g.rng.randint(1, 3))]
            return Statement(f"DELETE FROM {table.name} WHERE {table.key} = ?", table, rows,
                             many=True)
    where = f" WHERE {g.predicate(table, table.name)}" if g.chance(0.9) else ""
    return Statement(f"DELETE FROM {table.name}{where}" + _returning(g, table), table,
                     tuple(g.params))


def unique_update(g: Gen) -> Statement:
    """An UPDATE moving unique values among rows: shifts, swaps, sets of one value, keys."""
    form = g.pick(["shift", "swap", "many", "c_many", "g_swap", "key", "pid", "chain",
                   "upsert", "upsert_many"])
    e = lambda: g.lit(g.pick(E_POOL[:5]))  # noqa: E731
    if form == "shift":
        where = f" WHERE {g.predicate(P, 'p', 0)}" if g.chance(0.4) else ""
        return Statement(f"UPDATE p SET e = e + {g.lit(g.pick([1, -1, 2]))}{where}"
                         + _returning(g, P), P, tuple(g.params))
    if form == "swap":
        sql = f"UPDATE p SET e = CASE e WHEN {e()} THEN {e()} WHEN {e()} THEN {e()} ELSE e END"
        return Statement(sql + _returning(g, P), P, tuple(g.params))
    if form == "many":
        rows = [(g.pick(E_POOL), g.pick(KEYS)) for _ in range(g.rng.randint(2, 4))]
        return Statement("UPDATE p SET e = ? WHERE id = ?", P, rows, many=True)
    if form == "c_many":
        rows = [(g.pick(V_POOL), g.pick(CKEYS)) for _ in range(g.rng.randint(2, 4))]
        return Statement("UPDATE c SET v = ? WHERE k = ?", C, rows, many=True)
    if form == "g_swap":
        a, b = g.rng.sample(S_POOL[:4], 2)
        sql = (f"UPDATE g SET s = CASE s WHEN {g.lit(a)} THEN {g.lit(b)} WHEN {g.lit(b)}"
               f" THEN {g.lit(a)} ELSE s || {g.lit(g.pick(['', 'x']))} END")
        return Statement(sql + _returning(g, G), G, tuple(g.params))
    if form == "upsert":  # (DO UPDATE rows moving values among themselves, in VALUES order)
        rows = [(g.pick(KEYS[:4]), g.pick(E_POOL[:5])) for _ in range(g.rng.randint(2, 3))]
        values = ", ".join(f"({g.lit(key)}, {g.lit(value)})" for key, value in rows)
        return Statement(f"INSERT INTO p (id, e) VALUES {values} ON CONFLICT (id) DO UPDATE SET"
                         f" e = excluded.e{_returning(g, P)}", P, tuple(g.params))
    if form == "upsert_many":
        rows = [(g.pick(KEYS[:4]), g.pick(E_POOL[:5])) for _ in range(g.rng.randint(2, 3))]
        return Statement("INSERT INTO p (id, e) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET"
                         " e = excluded.e", P, rows, many=True)
    if form == "chain":  # (a takes b while b's row takes c: passes if that row goes first)
        table, name, pool = g.pick([(P, "e", E_POOL[:5]), (C, "v", V_POOL), (G, "s", S_POOL[:4])])
        a, b, c = g.rng.sample(pool, 3)
        sql = (f"UPDATE {table.name} SET {name} = CASE {name} WHEN {g.lit(a)} THEN {g.lit(b)}"
               f" WHEN {g.lit(b)} THEN {g.lit(c)} ELSE {name} END")
        return Statement(sql + _returning(g, table), table, tuple(g.params))
    if form == "key":
        return Statement(f"UPDATE p SET id = id + {g.lit(g.pick([1, 10, -1]))} WHERE e"
                         f" {g.pick(['=', '>=', '<>'])} {e()}" + _returning(g, P), P,
                         tuple(g.params))
    pid, v = g.lit(g.pick(KEYS + [None])), g.lit(g.pick(V_POOL))
    return Statement(f"UPDATE c SET pid = {pid} WHERE v = {v}" + _returning(g, C), C,
                     tuple(g.params))


def unique_pair(g: Gen) -> list[Statement]:
    """Two statements: a unique value given up (deleted, set NULL, its row's key moved), then
    taken by another row in the same transaction."""
    form = g.pick(["delete", "null", "key", "c_delete", "c_chain"])
    value, key = g.pick(E_POOL[:5]), g.pick(KEYS)
    if form == "c_chain":  # (two rows of one parent, one of them written again, then a chain
        # moving their values: the order the UPDATE visits them in decides)
        pid, (a, b, c), (k1, k2) = g.parent_key(), g.rng.sample(V_POOL, 3), g.rng.sample(CKEYS, 2)
        again = g.pick([Statement("UPDATE c SET w = ? WHERE k = ?", C, (g.pick(FLOATS), k1)),
                        Statement("INSERT OR REPLACE INTO c (k, pid, v) VALUES (?, ?, ?)", C,
                                  (k1, pid, a)),
                        Statement("INSERT INTO c (k, pid, v) VALUES (?, ?, ?) ON CONFLICT (k)"
                                  " DO UPDATE SET w = 0", C, (k1, pid, a))])
        chain = Statement("UPDATE c SET v = CASE v WHEN ? THEN ? WHEN ? THEN ? ELSE v END",
                          C, (a, b, b, c))
        return [Statement("INSERT INTO c (k, pid, v) VALUES (?, ?, ?), (?, ?, ?)", C,
                          (k1, pid, a, k2, pid, b)), again, chain]
    if form == "c_delete":
        pid, v = g.pick(KEYS), g.pick(V_POOL)
        return [Statement("DELETE FROM c WHERE pid = ? AND v = ?", C, (pid, v)),
                Statement("INSERT INTO c (k, pid, v) VALUES (?, ?, ?)", C,
                          (g.pick(CKEYS), pid, v))]
    first = {"delete": Statement("DELETE FROM p WHERE e = ?", P, (value,)),
             "null": Statement("UPDATE p SET e = NULL WHERE e = ?", P, (value,)),
             "key": Statement("UPDATE p SET id = ? WHERE e = ?", P, (g.pick(KEYS), value))}[form]
    verb = g.pick(["INSERT", "INSERT", "INSERT OR REPLACE", "UPDATE"])
    if verb == "UPDATE":
        return [first, Statement("UPDATE p SET e = ? WHERE id = ?", P, (value, key))]
    return [first, Statement(f"{verb} INTO p (id, e, t) VALUES (?, ?, ?)", P,
                             (key, value, g.pick(TEXTS)))]


Maker = Callable[[Gen], Statement | list[Statement]]
WRITES: list[tuple[Maker, int]] = [
    (insert_values, 6), (insert_many, 2), (insert_select, 2), (insert_defaults, 1), (update, 6),
    (update_many, 1), (delete, 3)]
#: more, in the sequences of the tables with unique constraints
UNIQUE_WRITES: list[tuple[Maker, int]] = [(unique_update, 3), (unique_pair, 2)]


class Control(Enum):
    SAVEPOINT = "savepoint"
    ROLLBACK_TO = "rollback to"
    RELEASE = "release"
    COMMIT = "commit"
    ROLLBACK = "rollback"


Step = Statement | tuple[Control, str]


def sequence(rng: random.Random, uniques: bool) -> Iterator[Step]:
    """A random program; savepoint names are kept so ROLLBACK TO / RELEASE name open ones."""
    open_savepoints: list[str] = []
    count = 0
    for _ in range(rng.randint(10, 30)):
        r = rng.random()
        if r < 0.06:
            count += 1
            open_savepoints.append(f"s{count}")
            yield (Control.SAVEPOINT, open_savepoints[-1])
        elif r < 0.1 and open_savepoints:
            name = rng.choice(open_savepoints)
            action = rng.choice([Control.ROLLBACK_TO, Control.RELEASE])
            # (ROLLBACK TO keeps its savepoint and ends the later ones, RELEASE ends both)
            keep = open_savepoints.index(name) + (action is Control.ROLLBACK_TO)
            del open_savepoints[keep:]
            yield (action, name)
        elif r < 0.15:
            open_savepoints.clear()
            yield (rng.choice([Control.COMMIT, Control.COMMIT, Control.ROLLBACK]), "")
        else:
            g = Gen(rng, uniques)
            makers, weights = zip(*WRITES, *(UNIQUE_WRITES if uniques else []), strict=True)
            made = rng.choices(makers, weights)[0](g)
            yield from made if isinstance(made, list) else [made]
    yield (Control.COMMIT, "")


# ------------------------------------------------------------------------------- comparing


def _shape(value: Any, aff: Aff | None, returning: bool = False) -> Any:
    """A value with its type, as compared; ``aff`` is the column's when it is one."""
    if isinstance(value, float) and value == 0:
        value = 0.0
    if aff is Aff.BOOL and isinstance(value, bool):
        value = int(value)  # README "What still differs": a BOOLEAN column keeps booleans
    if aff is Aff.NUM and isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        # README "NUMERIC / DECIMAL results are decimal.Decimal": compared by value
        return ("number", Decimal(repr(value)) if isinstance(value, float) else Decimal(value))
    if returning and aff is Aff.REAL and isinstance(value, (int, float)) and not isinstance(
            value, bool):
        return ("real", float(value))  # a SQLite quirk: see the module's docstring
    if aff is Aff.REAL and isinstance(value, int) and abs(value) > WIDE:
        # README "What still differs": an integer a double does not hold stays exact in a
        # REAL column (SQLite's is the double)
        return ("float", float(value))
    return (type(value).__name__, value)


def _dump(conn: Any) -> dict[str, Any]:
    cur = conn.cursor()
    out: dict[str, Any] = {}
    for table in TABLES:
        names = list(table.columns)
        cur.execute(f"SELECT {', '.join(names)} FROM {table.name}"
                    + (f" ORDER BY {table.key}" if table.key else ""))
        rows = [tuple(_shape(v, table.columns[n]) for n, v in zip(names, row, strict=True))
                for row in cur.fetchall()]
        out[table.name] = rows if table.key else Counter(rows)
    return out


def _returned(step: Statement, rows: list[tuple[Any, ...]], description: Any) -> Counter[Any]:
    table = step.table
    names = [d[0] for d in description]
    items = _returning_items(step.sql)
    if "*" not in items and len(items) == len(names):  # (a column named by its table too)
        names = [item.removeprefix(f"{table.name}.") for item in items]
    reads_real = [_READS_REAL.search(name) is not None for name in names]
    affs = [table.columns.get(n) or (Aff.REAL if real else None)
            for n, real in zip(names, reads_real, strict=False)]
    if table.key is None:  # keys of g are the store's own numbering: left out
        keep = [n for n, name in enumerate(names) if name != "id"]
        rows = [tuple(row[n] for n in keep) for row in rows]
        affs = [affs[n] for n in keep]
    return Counter(tuple(_shape(v, aff, returning=True) for aff, v in zip(affs, row, strict=True))
                   for row in rows)


def _returning_items(sql: str) -> list[str]:
    """The items of a statement's RETURNING clause (split at its top-level commas)."""
    clause = sql.rsplit(" RETURNING ", 1)[-1]
    items, depth, start = [], 0, 0
    for n, char in enumerate(clause):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0 and clause[start:n].count("CASE") == clause[
                start:n].count(" END"):
            items.append(clause[start:n].strip())
            start = n + 1
    return [*items, clause[start:].strip()]


#: a RETURNING expression reading a REAL column (SQLite's quirk: see the module's docstring)
_READS_REAL = re.compile(r"\b(?:c\.w|p\.r)\b")


@dataclass(frozen=True)
class Outcome:
    error: str | None  # "IntegrityError", "other" or None
    rowcount: int | None
    returned: Counter[Any] | None
    message: str = field(default="", compare=False)


#: an UPDATE, or an upsert updating the rows its key names (README "Unique values at each
#: statement": on RavenDB both are checked on the rows they leave)
_UPDATES = re.compile(r"UPDATE |INSERT INTO \w+ .* ON CONFLICT \((id|k)\) DO UPDATE ")
#: SQLite's message for a unique value (not a key) taken twice
_UNIQUE_VALUE = re.compile(r"UNIQUE constraint failed: (p\.e|c\.pid, c\.v|g\.s)\b")


def _unique_failure(outcome: Outcome) -> bool:
    """Whether ``outcome`` is an IntegrityError for a unique value (SQLite's message)."""
    return outcome.error == "IntegrityError" and re.match(
        r"\w+\(['\"]UNIQUE constraint failed", outcome.message) is not None


@dataclass
class Stats:
    sequences: int = 0
    statements: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    accepted: Counter[str] = field(default_factory=Counter)
    commits: int = 0


def _run(conn: Any, step: Statement) -> Outcome:
    cur = conn.cursor()
    try:
        (cur.executemany if step.many else cur.execute)(step.sql, step.params)
        rows = cur.fetchall() if cur.description else None
    except (sqlite3.IntegrityError, errors.IntegrityError) as error:
        return Outcome("IntegrityError", None, None, repr(error))
    except (sqlite3.Error, errors.Error) as error:
        if isinstance(error, errors.NotSupportedError | errors.DataError):
            raise
        return Outcome("other", None, None, repr(error))
    returned = _returned(step, rows, cur.description) if rows is not None else None
    return Outcome(None, cur.rowcount, returned)


def _has_wide(step: Statement, state: dict[str, Any]) -> bool:
    """Whether a number beyond 2**53 is in the statement or the tables (README "Exact
    numbers": arithmetic reading one, or a real beyond 2**53 into an INTEGER or NUMERIC
    column, raises DataError where SQLite computes or stores a double), also as a text
    (``CAST(t AS REAL)`` of the text '1.0e+20' a TEXT column stores of the float 1e20)."""
    def wide(v: Any) -> bool:
        if isinstance(v, (tuple, list)):
            return any(wide(x) for x in v)
        if isinstance(v, Decimal):
            return abs(v) >= WIDE
        if isinstance(v, str):
            try:
                return abs(float(v)) >= WIDE
            except ValueError:
                return False
        return isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) >= WIDE
    in_text = re.search(r"\d{16}|e\+?\d\d", step.sql) is not None
    tables = [x for rows in state.values() for row in rows for x in row]
    return in_text or wide(step.params) or wide(tables)


class Pair:
    """The oracle's and the target's connections, compared statement by statement."""

    def __init__(self, oracle: Callable[[], sqlite3.Connection],
                 target: Callable[[], Any], stats: Stats, uniques: bool,
                 final_rows_unique: bool = False, store_order: bool = False) -> None:
        self.new_oracle, self.new_target = oracle, target
        self.oracle, self.target = oracle(), target()
        self.stats = stats
        self.uniques = uniques
        #: RavenDB: an UPDATE's unique values are checked on the rows it leaves (README
        #: "Unique values at each statement"), not row by row as SQLite visits them
        self.final_rows_unique = final_rows_unique
        #: docstore: an UPDATE of a table without an INTEGER PRIMARY KEY (``c``) visits its
        #: rows in the store's order, not SQLite's rowid order (README "Unique values at each
        #: statement")
        self.store_order = store_order
        self.log: list[str] = []

    def reset(self) -> None:
        for conn in (self.oracle, self.target):
            cur = conn.cursor()
            for name in ("c", "p", "g"):
                cur.execute(f"DELETE FROM {name}")
            conn.commit()
        self.oracle.execute("BEGIN")

    def fail(self, message: str) -> None:
        raise AssertionError("\n".join([*self.log, "", message]))

    def step(self, step: Step) -> None:
        self.log.append(step.script() if isinstance(step, Statement) else f"# {step}")
        try:
            if isinstance(step, Statement):
                self.statement(step)
            else:
                self.control(*step)
        except AssertionError:
            raise
        except Exception as error:  # any other error fails, with the script
            raise AssertionError("\n".join([*self.log, "", f"raised {error!r}"])) from error
        expected, got = _dump(self.oracle), _dump(self.target)
        if got != expected:
            self.fail(f"tables differ\ntarget {got}\noracle {expected}")

    def statement(self, step: Statement) -> None:
        self.stats.statements += 1
        before = _dump(self.oracle)
        self.oracle.execute("SAVEPOINT dml_oracle")
        expected = _run(self.oracle, step)
        try:
            got = _run(self.target, step)
        except (errors.NotSupportedError, errors.DataError) as error:
            if isinstance(error, errors.DataError) and not _has_wide(step, before):
                self.fail(f"DataError without a wide number: {error!r}; oracle {expected}")
            self.stats.accepted[f"{type(error).__name__}: {str(error)[:70]}"] += 1
            self.oracle.execute("ROLLBACK TO dml_oracle")
            self.oracle.execute("RELEASE dml_oracle")
            return
        if self.visited_in_store_order(step, expected, got):
            self.oracle.execute("ROLLBACK TO dml_oracle")
            expected = self.store_order_outcome(step, got)
        elif expected.error:  # sqlite3's executemany keeps the sets before the failing one;
            # here the call applies none (README "A failing write statement applies none of
            # its rows"), as SQLite's own statement does
            self.oracle.execute("ROLLBACK TO dml_oracle")
            if self.moved_unique_values(step, expected, got):
                expected = self.final_rows_unique_outcome(step)
            else:
                unique = _UNIQUE_VALUE.search(expected.message) is not None
                self.stats.errors[expected.error + (" (unique value)" if unique else "")] += 1
        self.oracle.execute("RELEASE dml_oracle")
        if expected != got:
            self.fail(f"outcome differs\ntarget {got}\noracle {expected}")

    def moved_unique_values(self, step: Statement, expected: Outcome, got: Outcome) -> bool:
        """An UPDATE SQLite refuses at a row it visits while the rows it leaves hold each
        unique value once, which RavenDB takes (README "Unique values at each statement": "On
        RavenDB, whose commit reserves the final values, the statement's final state is
        checked: ``k = k + 1`` passes")."""
        return (self.final_rows_unique and got.error is None and _unique_failure(expected)
                and _UPDATES.match(step.sql) is not None)

    def visited_in_store_order(self, step: Statement, expected: Outcome, got: Outcome) -> bool:
        """An UPDATE of ``c`` that one side refuses for a unique value and the other takes,
        on docstore:// (README "Unique values at each statement": a table without an
        INTEGER PRIMARY KEY is visited in the store's order)."""
        return (self.store_order and step.table is C and not step.many
                and step.sql.startswith("UPDATE ")
                and (expected.error is None and _unique_failure(got)
                     or got.error is None and _unique_failure(expected)))

    def store_order_outcome(self, step: Statement, got: Outcome) -> Outcome:
        """SQLite's outcome of ``step`` (undone: in the oracle's savepoint) when the rows it
        visits in another order are why the outcomes differ: with the unique indexes dropped
        a row of the statement takes a value another of its rows held before (a chain:
        ``v`` 'a' -> 'b' while 'b' -> 'c'), so the order decides; and if the target took the
        statement, its outcome is SQLite's without the indexes, which take the rows again."""
        held = "SELECT rowid, pid, v FROM c"
        before = {r[0]: r[1:] for r in self.oracle.execute(held)}
        outcome = self.final_rows_unique_outcome(step, count=False)
        after = {r[0]: r[1:] for r in self.oracle.execute(held)}
        moved = {row: value for row, value in after.items()
                 if None not in value and before.get(row) != value}
        if not any(before.get(other) == value and other != row
                   for row, value in moved.items() for other in moved):
            self.fail("the outcomes differ on a unique value, and no row of the UPDATE takes"
                      " a value another of its rows held: not a matter of order")
        self.stats.accepted["UPDATE of c visiting its rows in the store's order"] += 1
        if got.error:  # (the target refused it: SQLite's writes are undone)
            self.oracle.execute("ROLLBACK TO dml_oracle")
            return got
        return outcome

    def final_rows_unique_outcome(self, step: Statement, count: bool = True) -> Outcome:
        """SQLite's outcome of ``step`` with its table's unique values checked on the rows
        it leaves: the unique indexes dropped for the statement and made again after it (in
        the oracle's savepoint); an index that can't be made again means the rows hold a
        value twice, and the target should have refused the statement."""
        indexes = [(name, cols) for name, table, cols in UNIQUE_INDEXES
                   if table == step.table.name]
        for name, _ in indexes:
            self.oracle.execute(f"DROP INDEX {name}")
        outcome = _run(self.oracle, step)
        try:
            for name, cols in indexes:
                self.oracle.execute(f"CREATE UNIQUE INDEX {name} ON {step.table.name} ({cols})")
        except sqlite3.IntegrityError as error:
            self.fail(f"the target took an UPDATE leaving a unique value twice: {error!r}")
        if count:
            self.stats.accepted["UPDATE / DO UPDATE checked on the rows it leaves (RavenDB)"] += 1
        return outcome

    def control(self, action: Control, name: str) -> None:
        if action is Control.COMMIT or action is Control.ROLLBACK:
            for conn in (self.oracle, self.target):
                getattr(conn, action.value)()
            self.oracle.execute("BEGIN")
            if action is Control.COMMIT:
                self.stats.commits += 1
                self.compare_stored()
            return
        sql = {Control.SAVEPOINT: "SAVEPOINT {}", Control.ROLLBACK_TO: "ROLLBACK TO {}",
               Control.RELEASE: "RELEASE {}"}[action].format(name)
        for conn in (self.oracle, self.target):
            conn.cursor().execute(sql)

    def compare_stored(self) -> None:
        """What was committed, read by a new connection on each side."""
        oracle, target = self.new_oracle(), self.new_target()
        try:
            expected, got = _dump(oracle), _dump(target)
        finally:
            oracle.close()
            target.close()
        if got != expected:
            self.fail(f"committed tables differ\ntarget {got}\noracle {expected}")

    def close(self) -> None:
        self.oracle.close()
        self.target.close()


def run_sequences(pair: Pair, count: int) -> None:
    for n in range(count):
        seed = SEED + n
        pair.reset()
        pair.log = [f"# seed {seed}"]
        pair.stats.sequences += 1
        for step in sequence(random.Random(seed), pair.uniques):
            pair.step(step)


# ---------------------------------------------------------------------------------- harness

EXAMPLES = os.environ.get("DML_DIFFERENTIAL_EXAMPLES")
SEED = int(os.environ.get("DML_DIFFERENTIAL_SEED", "0"))


def _oracle_factory(path: Path) -> Callable[[], sqlite3.Connection]:
    def make() -> sqlite3.Connection:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA case_sensitive_like = ON")  # SQL's LIKE (README: as PostgreSQL)
        return conn
    return make


def _oracle(path: Path, uniques: bool) -> Callable[[], sqlite3.Connection]:
    make = _oracle_factory(path)
    conn = make()
    for text in schema(uniques, indexes=True):
        conn.execute(text)
    conn.close()
    return make


@pytest.fixture
def stats(request: pytest.FixtureRequest) -> Iterator[Stats]:
    counts = Stats()
    yield counts
    print(f"\n{request.node.name}: {counts.sequences} sequences, {counts.statements} statements"
          f" ({dict(counts.errors)} raised on both), {counts.commits} commits compared;"
          f" accepted: {dict(counts.accepted)}")


def _with_schema(make: Callable[[], Any], uniques: bool) -> Callable[[], Any]:
    conn = make()
    for text in schema(uniques):
        conn.cursor().execute(text)
    conn.commit()
    conn.close()
    return make


#: (unique constraints, default number of sequences) of the runs on ``docstore://``
DOCSTORE_RUNS = {"plain": (False, 130), "unique": (True, 220)}
#: (cluster_wide=, unique constraints, default number of sequences) of the runs on RavenDB
RAVENDB_RUNS = {"single_node": (False, False, 30), "cluster_wide": (True, False, 30),
                "unique": (False, True, 45)}


@pytest.mark.parametrize("run", list(DOCSTORE_RUNS))
def test_dml_sequences_on_docstore_match_sqlite(tmp_path: Path, stats: Stats, run: str) -> None:
    uniques, count = DOCSTORE_RUNS[run]
    store = EmbeddedStore(None)
    target = _with_schema(lambda: dbapi.connect(store=store, foreign_keys=True), uniques)
    pair = Pair(_oracle(tmp_path / "oracle.db", uniques), target, stats, uniques,
                store_order=uniques)
    try:
        run_sequences(pair, int(EXAMPLES or count))
    finally:
        pair.close()
        store.close()


@pytest.mark.parametrize("run", list(RAVENDB_RUNS))
def test_dml_sequences_on_ravendb_match_sqlite(tmp_path: Path, ravendb_url: str, stats: Stats,
                                               run: str) -> None:
    cluster_wide, uniques, count = RAVENDB_RUNS[run]
    host, database = ravendb_url.removeprefix("ravendb://").split("/", 1)
    target = _with_schema(lambda: dbapi.connect(database, urls=[f"http://{host}"],
                                                foreign_keys=True, cluster_wide=cluster_wide),
                          uniques)
    pair = Pair(_oracle(tmp_path / "oracle.db", uniques), target, stats, uniques,
                final_rows_unique=uniques)
    try:
        run_sequences(pair, int(EXAMPLES or count))
    finally:
        pair.close()
