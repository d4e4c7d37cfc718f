"""A raw SQL schema script (CREATE TABLE with DEFAULT, named and composite UNIQUE, CHECK,
FOREIGN KEY / REFERENCES with actions) run through ``exec_driver_sql``: inserts, updates and
deletes that satisfy or violate it end as SQLite's do (with ``PRAGMA foreign_keys = ON``), on
both backends."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from fk_steps import Step, foreign_keys_url, run_steps, sqlite_with_foreign_keys

SCRIPT = [
    """CREATE TABLE parent (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        code VARCHAR(10) NOT NULL,
        CONSTRAINT uq_parent_code UNIQUE (code)
    )""",
    """CREATE TABLE child (
        id INTEGER PRIMARY KEY,
        parent_id INTEGER REFERENCES parent (id) ON DELETE CASCADE,
        code VARCHAR(10),
        qty INTEGER DEFAULT 1 NOT NULL CHECK (qty > 0),
        price NUMERIC(10, 2) DEFAULT '0.50',
        status VARCHAR(10) DEFAULT 'new',
        label VARCHAR(20) DEFAULT (upper('x') || 'y'),
        flag BOOLEAN DEFAULT 0,
        created DATETIME DEFAULT CURRENT_TIMESTAMP,
        a INTEGER,
        b INTEGER,
        CONSTRAINT uq_ab UNIQUE (a, b),
        CONSTRAINT ck_a CHECK (a IS NULL OR a < 100),
        CONSTRAINT fk_code FOREIGN KEY (code) REFERENCES parent (code)
            ON UPDATE CASCADE ON DELETE SET NULL
    )""",
    """CREATE TABLE odd (
        id INTEGER PRIMARY KEY,
        t1 TEXT DEFAULT 1.50, t2 VARCHAR(5) DEFAULT +007, t3 TEXT DEFAULT TRUE,
        i1 INTEGER DEFAULT '5', i2 INTEGER DEFAULT FALSE, i3 INTEGER DEFAULT -3,
        r1 REAL DEFAULT 2, s1 VARCHAR(5) DEFAULT bare, n1 INTEGER DEFAULT NULL,
        i4 INTEGER DEFAULT '[1,2]', i5 INTEGER DEFAULT 'true', i6 INTEGER DEFAULT 2.0,
        x1 DEFAULT '5', bl BLOB DEFAULT '5', r2 REAL DEFAULT '2.50', n2 NUMERIC DEFAULT '3.0e2'
    )""",
]
COLUMNS = "id, parent_id, code, qty, price, status, label, flag, a, b"

def _sql(statement: str) -> Step:
    return lambda conn: conn.exec_driver_sql(statement)


def _seed(conn: sa.Connection) -> None:
    conn.exec_driver_sql("INSERT INTO odd (id) VALUES (1)")
    conn.exec_driver_sql("INSERT INTO parent (code) VALUES ('a'), ('b')")
    conn.exec_driver_sql("INSERT INTO child (id, parent_id, code) VALUES (10, 1, 'a')")
    conn.exec_driver_sql("INSERT INTO child (id, parent_id, code, a, b) VALUES (11, 2, 'b', 1, 1)")


SCENARIOS: dict[str, list[Step]] = {
    "defaults fill omitted columns": [_seed],
    "a missing parent": [_seed, _sql("INSERT INTO child (id, parent_id) VALUES (12, 9)")],
    "a missing parent code": [_seed, _sql("INSERT INTO child (id, code) VALUES (12, 'zz')")],
    "CHECK on a column": [_seed, _sql("INSERT INTO child (id, qty) VALUES (12, 0)")],
    "NOT NULL over a default": [_seed, _sql("INSERT INTO child (id, qty) VALUES (12, NULL)")],
    "a named table CHECK": [_seed, _sql("INSERT INTO child (id, a) VALUES (12, 200)")],
    "a composite UNIQUE": [_seed, _sql("INSERT INTO child (id, a, b) VALUES (12, 1, 1)")],
    "a composite UNIQUE with a NULL": [
        _seed, _sql("INSERT INTO child (id, a, b) VALUES (12, 1, NULL), (13, 1, NULL)")],
    "a named UNIQUE": [_seed, _sql("INSERT INTO parent (code) VALUES ('a')")],
    "ON UPDATE CASCADE": [_seed, _sql("UPDATE parent SET code = 'z' WHERE code = 'a'")],
    "ON DELETE CASCADE and SET NULL": [_seed, _sql("DELETE FROM parent WHERE id = 2")],
    "a satisfied insert": [
        _seed, _sql("INSERT INTO child (id, parent_id, code, qty, a, b) "
                    "VALUES (12, 2, 'b', 3, 99, 2)")],
}


def _scripted(engine: sa.Engine) -> sa.Engine:
    with engine.begin() as conn:
        for statement in SCRIPT:
            conn.exec_driver_sql(statement)
    return engine


@pytest.fixture
def oracle() -> Iterator[sa.Engine]:
    engine = _scripted(sqlite_with_foreign_keys())
    yield engine
    engine.dispose()


@pytest.fixture(params=["docstore", "ravendb"])
def target(request: pytest.FixtureRequest) -> Iterator[sa.Engine]:
    engine = _scripted(sa.create_engine(foreign_keys_url(request)))
    yield engine
    engine.dispose()


def _state(engine: sa.Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        return {
            "parent": [tuple(r) for r in conn.exec_driver_sql(
                "SELECT id, code FROM parent ORDER BY id")],
            "child": [tuple(r) for r in conn.exec_driver_sql(
                f"SELECT {COLUMNS} FROM child ORDER BY id")],
            "odd": [tuple(r) for r in conn.exec_driver_sql("SELECT * FROM odd")],
            "created is set": [r[0] for r in conn.exec_driver_sql(
                "SELECT created IS NOT NULL FROM child ORDER BY id")],
        }


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_same_outcome_and_rows_as_sqlite(name: str, oracle: sa.Engine,
                                         target: sa.Engine) -> None:
    steps = SCENARIOS[name]
    assert run_steps(target, steps) == run_steps(oracle, steps)
    assert _state(target) == _state(oracle)


def test_the_script_is_reflected_with_its_constraints(target: sa.Engine) -> None:
    insp = sa.inspect(target)
    assert insp.get_unique_constraints("child") == [
        {"name": "uq_ab", "column_names": ["a", "b"]}]
    with target.connect() as conn:  # CHECKs are kept (not reflected: the dialect reports none)
        spec = conn.connection.dbapi_connection.backend.spec("child")  # type: ignore[union-attr]
    assert spec.checks == (("ck_a", "a IS NULL OR a < 100"), ("", "qty > 0"))
    assert [(fk["name"], fk["constrained_columns"], fk["referred_table"],
             fk["referred_columns"], fk["options"]) for fk in insp.get_foreign_keys("child")] == [
        (None, ["parent_id"], "parent", ["id"], {"ondelete": "CASCADE"}),
        ("fk_code", ["code"], "parent", ["code"], {"ondelete": "SET NULL",
                                                   "onupdate": "CASCADE"})]
    defaults = {c["name"]: c["default"] for c in insp.get_columns("child")}
    assert (defaults["qty"], defaults["status"], defaults["created"]) == (
        "1", "'new'", "CURRENT_TIMESTAMP")
