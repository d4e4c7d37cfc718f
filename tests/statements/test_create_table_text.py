"""SQL's CREATE TABLE read into a collection spec: defaults, named constraints, table UNIQUE,
CHECK and FOREIGN KEY, column REFERENCES, schema-qualified and temporary tables; what the
store can't hold is refused naming the construct."""

from __future__ import annotations

from typing import Any

import pytest

from sqla_docstore import errors
from sqla_docstore.statements import ast
from sqla_docstore.statements.parser import parse


def _spec(sql: str) -> dict[str, Any]:
    stmt = parse(sql)
    assert isinstance(stmt, ast.CreateCollection)
    return stmt.spec


def _field(sql: str, name: str) -> dict[str, Any]:
    return next(f for f in _spec(sql)["fields"] if f["name"] == name)


@pytest.mark.parametrize("column, default", [
    ("a VARCHAR(5) DEFAULT 'x''y'", {"default": "x'y"}),
    ("a VARCHAR(5) DEFAULT '5'", {"default": "5"}),
    ("a TEXT DEFAULT 1.50", {"default": 1.5}),  # stored as SQLite's text of it: '1.5'
    ("a TEXT DEFAULT +007", {"default": "7"}),
    ("a TEXT DEFAULT TRUE", {"default": "1"}),
    ("a INTEGER DEFAULT false", {"default": 0}),
    ("a INTEGER DEFAULT '5'", {"default": 5}),
    ("a INTEGER DEFAULT -5", {"default": -5}),
    ("a INTEGER DEFAULT 'abc'", {"default": "abc"}),
    ("a NUMERIC(10, 2) DEFAULT '1.50'", {"default": 1.5}),
    ("a FLOAT DEFAULT .5", {"default": 0.5}),
    ("a BOOLEAN DEFAULT 1", {"default": 1}),  # SQLite's: BOOLEAN is NUMERIC affinity
    ("a BOOLEAN DEFAULT 'false'", {"default": "false"}),
    ("a BOOLEAN DEFAULT TRUE", {"default": 1}),
    ("a INTEGER DEFAULT '[1,2]'", {"default": "[1,2]"}),
    ("a INTEGER DEFAULT 'true'", {"default": "true"}),
    ("a INTEGER DEFAULT '\"x\"'", {"default": '"x"'}),
    ("a DEFAULT '5'", {"default": "5"}),
    ("a BLOB DEFAULT '5'", {"default": "5"}),
    ("a INTEGER DEFAULT 2.0", {"default": 2}),
    ("a REAL DEFAULT 2", {"default": 2.0}),
    ("a REAL DEFAULT '2'", {"default": 2.0}),
    ("a NUMERIC DEFAULT '3.0e2'", {"default": 300}),
    ("a JSON DEFAULT '{\"k\": [1]}'", {"default": {"k": [1]}}),
    ("a INTEGER DEFAULT NULL", {"default": None}),
    ("a VARCHAR DEFAULT word", {"default": "word"}),
    ("a DATETIME DEFAULT CURRENT_TIMESTAMP", {"default": None,
                                              "default_sql": "CURRENT_TIMESTAMP"}),
    ("a VARCHAR DEFAULT (lower('X'))", {"default": None, "default_sql": "lower('X')"}),
    ("a INTEGER DEFAULT ((1 + 2))", {"default": None, "default_sql": "(1 + 2)"}),
])
def test_a_default_is_a_typed_constant_or_an_expression(column: str,
                                                        default: dict[str, Any]) -> None:
    field = _field(f"CREATE TABLE t ({column})", "a")
    assert {k: v for k, v in field.items() if k.startswith("default")} == default
    assert type(field["default"]) is type(default["default"])


def test_types_keep_their_words_and_sizes() -> None:
    spec = _spec("CREATE TABLE t (a DOUBLE PRECISION, b NUMERIC(10, -2) NOT NULL, c, "
                 "d varchar(30) NULL)")
    assert [(f["name"], f["type"], f["nullable"]) for f in spec["fields"]] == [
        ("a", "DOUBLE PRECISION", True), ("b", "NUMERIC(10, -2)", False), ("c", "ANY", True),
        ("d", "VARCHAR(30)", True)]


def test_constraints_are_kept_unnamed_first_then_by_name_column_checks_last() -> None:
    spec = _spec(
        'CREATE TABLE s.t (id INTEGER NOT NULL, a INTEGER CONSTRAINT "a pos" CHECK (a > 0), '
        "b VARCHAR(3) UNIQUE, c INTEGER REFERENCES p (id), "
        "PRIMARY KEY (id), CONSTRAINT z_uq UNIQUE (a, b), CONSTRAINT b_uq UNIQUE (c), "
        "CONSTRAINT z_ck CHECK (a < 10), CHECK (b <> 'x'), "
        "CONSTRAINT fk_b FOREIGN KEY(b, c) REFERENCES s.q (x, y) ON DELETE SET NULL "
        "ON UPDATE cascade MATCH FULL DEFERRABLE INITIALLY DEFERRED)")
    assert spec["schema"] == "s"
    assert (spec["primary_key"], spec["autoincrement"]) == (["id"], "id")
    assert (spec["unique"], spec["unique_names"]) == ([["b"], ["c"], ["a", "b"]],
                                                      [None, "b_uq", "z_uq"])
    assert spec["checks"] == [["", "b <> 'x'"], ["z_ck", "a < 10"], ["a pos", "a > 0"]]
    assert spec["foreign_keys"] == [
        {"name": None, "columns": ["c"], "referred_table": "p", "referred_columns": ["id"],
         "ondelete": None, "onupdate": None, "deferrable": None, "initially": None},
        {"name": "fk_b", "columns": ["b", "c"], "referred_table": "s.q",
         "referred_columns": ["x", "y"], "ondelete": "SET NULL", "onupdate": "cascade",
         "deferrable": True, "initially": "DEFERRED"}]
    assert parse("CREATE TABLE s.t (id INTEGER)").name == "s.t"  # type: ignore[union-attr]


@pytest.mark.parametrize("sql, key, auto", [
    ("CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT)", ["id"], "id"),
    ("CREATE TABLE t (id INTEGER, v TEXT, CONSTRAINT pk PRIMARY KEY (id))", ["id"], "id"),
    ("CREATE TABLE t (id BIGINT PRIMARY KEY)", ["id"], None),
    ("CREATE TABLE t (a INTEGER, b INTEGER, PRIMARY KEY (a, b))", ["a", "b"], None),
])
def test_an_integer_primary_key_alone_takes_hilo_ids(sql: str, key: list[str],
                                                     auto: str | None) -> None:
    spec = _spec(sql)
    assert (spec["primary_key"], spec["autoincrement"]) == (key, auto)


def test_temporary_and_generated_columns() -> None:
    spec = _spec("CREATE TEMP TABLE t (a INTEGER, b INTEGER GENERATED ALWAYS AS (a * 2) STORED, "
                 "c INTEGER AS (a + 1))")
    assert spec["temporary"] is True
    assert [f.get("computed") for f in spec["fields"]] == [None, "a * 2", "a + 1"]


@pytest.mark.parametrize("sql, construct", [
    ("CREATE TABLE t (a TEXT COLLATE NOCASE)", "COLLATE"),
    ("CREATE TABLE t (a INTEGER UNIQUE ON CONFLICT REPLACE)", "ON CONFLICT"),
    ("CREATE TABLE t (a INTEGER, UNIQUE (a) ON CONFLICT IGNORE)", "ON CONFLICT"),
    ("CREATE TABLE t (a INTEGER) WITHOUT ROWID", "WITHOUT ROWID"),
    ("CREATE TABLE t (a INTEGER) STRICT", "STRICT"),
    ("CREATE TABLE t (a INTEGER REFERENCES p)", "REFERENCES p without the referred columns"),
    ("CREATE TABLE t (a INTEGER PRIMARY KEY DESC)", "PRIMARY KEY DESC"),
    ("CREATE TABLE t (a INTEGER DEFAULT lower('x'))", "DEFAULT lower(...)"),
    ("CREATE VIRTUAL TABLE t (a INTEGER)", "CREATE VIRTUAL TABLE"),
    ("CREATE UNLOGGED TABLE t (a INTEGER)", "CREATE UNLOGGED TABLE"),
    ("CREATE TEMPORARY TABLE t AS SELECT 1", "CREATE TEMPORARY TABLE ... AS"),
    ("CREATE TEMPORARY VIEW v AS SELECT 1", "CREATE TEMPORARY VIEW"),
    ("CREATE TABLE t (a INTEGER, CONSTRAINT x EXCLUDE (a))", "table constraint EXCLUDE"),
])
def test_constructs_the_store_lacks_are_refused_by_name(sql: str, construct: str) -> None:
    with pytest.raises(errors.NotSupportedError) as info:
        parse(sql)
    assert construct in str(info.value)


@pytest.mark.parametrize("sql, message", [
    ("CREATE TABLE t (a INTEGER, PRIMARY KEY (b))", "no such column: b"),
    ("CREATE TABLE t (a INTEGER, UNIQUE (a, b))", "no such column: b"),
    ("CREATE TABLE t (a INTEGER, FOREIGN KEY (b) REFERENCES p (id))", "no such column: b"),
    ("CREATE TABLE t (a INTEGER, a TEXT)", "duplicate column name: a"),
    ("CREATE TABLE t (a INTEGER PRIMARY KEY, b INTEGER, PRIMARY KEY (b))", "one PRIMARY KEY"),
    ("CREATE TABLE t (a TEXT PRIMARY KEY AUTOINCREMENT)", "AUTOINCREMENT is only allowed"),
    ("CREATE TABLE t (a INTEGER, FOREIGN KEY (a) REFERENCES p (x, y))", "refers to 2"),
    ("CREATE TABLE t (a INTEGER REFERENCES p (id) ON DELETE EXPLODE)", "expected CASCADE"),
    ("CREATE TABLE t (a INTEGER CHECK (a >))", "near"),
    # a parameter kept in the table's text would be bound by each later INSERT (as SQLite)
    ("CREATE TABLE t (a INTEGER CHECK (a > ?))", "parameters are not allowed in CREATE TABLE"),
    ("CREATE TABLE t (a INTEGER, CHECK (a > :x))", "parameters are not allowed in CREATE TABLE"),
    ("CREATE TABLE t (a INTEGER DEFAULT (?))", "parameters are not allowed in CREATE TABLE"),
    ("CREATE TABLE t (a INTEGER, b AS (a + ?))", "parameters are not allowed in CREATE TABLE"),
    ("CREATE VIEW v AS SELECT a FROM t WHERE a = ?", "parameters are not allowed in a view"),
    ("CREATE VIEW v AS SELECT a FROM t WHERE a IN (SELECT b FROM u WHERE b = :x)",
     "parameters are not allowed in a view"),
])
def test_malformed_definitions_are_programming_errors(sql: str, message: str) -> None:
    with pytest.raises(errors.ProgrammingError) as info:
        parse(sql)
    assert not isinstance(info.value, errors.NotSupportedError)
    assert message in str(info.value)
