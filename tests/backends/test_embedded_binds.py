"""A statement's binds are prepared once per plan (literals converted once, the parts of an
exact comparison computed once per parameter): each run of the same statement must bind its
own values exactly as a statement planned afresh does, and as SQL compares them."""

from __future__ import annotations

import decimal
import math
from collections.abc import Callable
from typing import Any

import pytest

from sqla_docstore import dbapi

D = decimal.Decimal

STORED: list[Any] = [
    1, 2, -1, 0, 2**53 + 1, 2**63 + 1, 10**20, 0.1, 2.5, 1e20, True, False, "5", "5.0", "abc",
    "", None, D("0.1234567890123456789"),
]
PROBES: list[Any] = [
    1, 2, 0, -1, 2**53 + 1, 2**53, 2**63 + 1, 2**63, 10**20, 0.1, 2.5, 2.0, 1e20, True, False,
    "5", "5.0", "abc", "", "1", None, D("2.0"), D("2.5"), D("0.1"), D("0.1234567890123456789"),
    D("0.1234567890123456788"), D("1E+20"), 10**400,
]
OPS = ("=", "<", ">=", "<>")


def _sql_key(value: Any) -> tuple[int, Any]:
    """SQLite's order of values without affinity: numbers (exactly), then text."""
    if isinstance(value, str):
        return (1, value)
    if isinstance(value, float):
        return (0, D(repr(value)))
    return (0, D(int(value) if isinstance(value, bool) else value))


def _expected(op: str, probe: Any) -> list[int]:
    if probe is None:
        return []  # a comparison with NULL is never true
    out = []
    for i, stored in enumerate(STORED):
        if stored is None:
            continue
        a, b = _sql_key(stored), _sql_key(probe)
        if {"=": a == b, "<": a < b, ">=": a >= b, "<>": a != b}[op]:
            out.append(i)
    return out


@pytest.fixture
def filled(conn: dbapi.Connection,
           create_collection: Callable[[dbapi.Connection, str, dict[str, Any]], None]
           ) -> dbapi.Connection:
    # v: a column of no type, holding values as given (a JSON column's value in SQL is the
    # JSON text SQLite holds: README, Nested documents)
    create_collection(conn, "t", {"fields": [{"name": "id", "type": "INTEGER"},
                                             {"name": "v", "type": "ANY"}],
                                  "primary_key": ["id"]})
    cur = conn.cursor()
    cur.executemany("INSERT INTO t (id, v) VALUES (:id, :v)",
                    [{"id": i, "v": v} for i, v in enumerate(STORED)])
    conn.commit()
    return conn


def _ids(conn: dbapi.Connection, sql: str, probe: Any) -> list[int]:
    cur = conn.cursor()
    cur.execute(sql, {"x": probe})
    return sorted(row[0] for row in cur.fetchall())


@pytest.mark.parametrize("op", OPS)
def test_a_statement_run_again_compares_each_runs_value_exactly(
        filled: dbapi.Connection, op: str) -> None:
    warm = f"SELECT t.id FROM t WHERE t.v {op} :x"
    for n, probe in enumerate(PROBES):
        fresh = f"SELECT a{n}.id FROM t AS a{n} WHERE a{n}.v {op} :x"  # planned afresh
        got = _ids(filled, warm, probe)
        assert got == _ids(filled, fresh, probe), (op, probe)
        assert got == _expected(op, probe), (op, probe)


def test_a_statement_run_again_after_a_refused_value_binds_the_next_one(
        filled: dbapi.Connection) -> None:
    sql = "SELECT t.id FROM t WHERE t.v = :x"
    assert _ids(filled, sql, 2) == [1]
    with pytest.raises(dbapi.DataError):
        _ids(filled, sql, object())
    with pytest.raises(dbapi.ProgrammingError):
        filled.cursor().execute(sql, {})
    assert _ids(filled, sql, "abc") == [STORED.index("abc")]


def test_literals_and_parameters_of_one_statement_bind_apart(filled: dbapi.Connection) -> None:
    sql = "SELECT t.id FROM t WHERE t.v = :x OR t.v = 2.5 OR t.v = 9223372036854775809"
    for probe in (1, "abc", None, 2.5):
        want = sorted({*_expected("=", probe), STORED.index(2.5), STORED.index(2**63 + 1)})
        assert _ids(filled, sql, probe) == want


def test_nan_and_infinities_compare_as_a_fresh_plan_does(filled: dbapi.Connection) -> None:
    warm = "SELECT t.id FROM t WHERE t.v < :x"
    for n, probe in enumerate((math.inf, -math.inf, math.nan, 1)):
        fresh = f"SELECT b{n}.id FROM t AS b{n} WHERE b{n}.v < :x"
        assert _ids(filled, warm, probe) == _ids(filled, fresh, probe)
