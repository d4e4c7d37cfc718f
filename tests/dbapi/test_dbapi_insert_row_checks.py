"""executemany INSERT tests NUL, NOT NULL and exactness a field at a time over all its rows
(rowexpr.rows_may_fail) and only then row by row: the rows and errors (class, message, which
row) are those of testing every row in turn, on both backends."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import CheckConstraint, Column, Engine, Float, Integer, MetaData, String, Table

from sqla_docstore import rowexpr
from sqla_docstore.dbapi import executor

metadata = MetaData()
Table("checked", metadata, Column("id", Integer, primary_key=True),
      Column("name", String(40), nullable=False), Column("qty", Integer), Column("x", Float),
      CheckConstraint("qty IS NULL OR qty >= 0", name="qty_not_negative"))

INSERT = "INSERT INTO checked (id, name, qty, x) VALUES (:id, :name, :qty, :x)"
INSERT_AUTO = "INSERT INTO checked (name, qty) VALUES (:name, :qty)"


def _rows(n: int, first: int = 1, **changes: dict[str, Any]) -> list[dict[str, Any]]:
    """n good rows (keys from ``first``), with ``changes`` (row number -> fields) applied."""
    rows = [{"id": first + i, "name": f"n{i}", "qty": i, "x": i / 3} for i in range(n)]
    for at, fields in changes.items():
        rows[int(at[1:])].update(fields)
    return rows


BATCHES = {
    "clean": _rows(40, r3={"x": 2.0**60, "name": "é\u2028\"q\\"}),
    "duplicate before NUL": _rows(12, r5={"id": 3}, r8={"name": "a\x00b"}),
    "NUL before NOT NULL": _rows(12, r3={"name": "\x00"}, r6={"name": None}),
    "NOT NULL before NUL": _rows(12, r4={"name": None}, r7={"name": "a\x00"}),
    "inexact before NOT NULL": _rows(12, r2={"qty": 1e20}, r5={"name": None}),
    # (floats beyond 64 bits: an integral float within them is the integer, as in SQLite)
    "inexact after NaN": _rows(12, r1={"qty": float("nan")}, r2={"qty": 2.0**70}),
    "inexact among integers": _rows(12, r9={"qty": -(2.0**64)}),
    "CHECK before NUL": _rows(12, r3={"qty": -1}, r6={"name": "\x00"}),
    "NUL after CHECK passes": _rows(12, r10={"name": "x\x00"}),
    # the key is generated, as for no key (the given keys clear of the generated ones)
    "a NULL key": _rows(12, first=10**6, r4={"id": None}),
    "an object": _rows(12, r2={"name": {"k": "\x00"}}),
}
AUTO_BATCHES = {
    "generated keys": [{"name": f"g{i}", "qty": i} for i in range(30)],
    "generated keys, NOT NULL": [{"name": f"g{i}", "qty": i} for i in range(5)]
    + [{"name": None, "qty": 1}],
}

# the error of the first failing row (None: the batch is inserted)
EXPECTED = {"duplicate before NUL": "DuplicateKeyError", "NUL before NOT NULL": "DataError",
            "NOT NULL before NUL": "IntegrityError", "inexact before NOT NULL": "DataError",
            "inexact after NaN": "DataError", "inexact among integers": "DataError",
            "CHECK before NUL": "IntegrityError", "NUL after CHECK passes": "DataError",
            "an object": "DataError", "generated keys, NOT NULL": "IntegrityError"}


def _outcome(eng: Engine, sql: str, rows: list[dict[str, Any]]) -> tuple[Any, ...]:
    raw = eng.raw_connection()
    try:
        cur = raw.cursor()
        error: tuple[str, str] | None = None
        try:
            cur.executemany(sql, rows)
        except Exception as exc:  # noqa: BLE001 - the error is the outcome compared
            error = (type(exc).__name__, str(exc))
        cur.execute("SELECT name, qty, x FROM checked ORDER BY name")
        seen = cur.fetchall()
        raw.rollback()
        return error, [tuple(r) for r in seen]
    finally:
        raw.close()


@pytest.mark.parametrize(("sql", "name"), [(INSERT, n) for n in BATCHES]
                         + [(INSERT_AUTO, n) for n in AUTO_BATCHES])
def test_insert_row_checks_match_testing_each_row(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, sql: str, name: str
) -> None:
    metadata.create_all(engine)
    rows = {**BATCHES, **AUTO_BATCHES}[name]
    fast = _outcome(engine, sql, [dict(r) for r in rows])
    monkeypatch.setattr(rowexpr, "rows_may_fail", lambda *args: True)  # every row in turn
    each = _outcome(engine, sql, [dict(r) for r in rows])
    assert fast == each
    error = fast[0]
    assert (error and error[0]) == EXPECTED.get(name), error


def _generated(eng: Engine, returning: bool) -> tuple[Any, ...]:
    """An executemany of rows that all take generated keys, beside the transaction's own
    writes: what it returns, and the rows (keys counted from the statement's first)."""
    raw = eng.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(INSERT, {"id": 10**6, "name": "pending", "qty": 1, "x": None})
        sql = INSERT_AUTO + (" RETURNING id, name, qty" if returning else "")
        cur.executemany(sql, [{"name": f"g{i}", "qty": i} for i in range(25)])
        got = [tuple(r) for r in cur.fetchall()] if returning else []
        last = cur.lastrowid
        cur.execute("SELECT id, name, qty FROM checked WHERE name <> 'pending' ORDER BY id")
        rows = [tuple(r) for r in cur.fetchall()]
        raw.commit()
        first = rows[0][0]
        assert [r[0] for r in rows] == list(range(first, first + 25))
        assert got == (rows if returning else [])
        return [(k - first, *rest) for k, *rest in rows], last - first
    finally:
        raw.close()


@pytest.mark.parametrize("returning", [False, True])
def test_generated_keys_without_row_tests_match_testing_each_row(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, returning: bool
) -> None:
    metadata.create_all(engine)
    fast = _generated(engine, returning)
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM checked")
    monkeypatch.setattr(executor, "_keyed_puts", lambda *args: None)  # the loop, row by row
    each = _generated(engine, returning)
    assert fast == each
    assert fast[1] == 24  # lastrowid: the last row's key
