"""A SELECT by the whole primary key is a load by document id (no query): for every key value
it finds what the same condition finds as a query, pending writes and reads included."""

from __future__ import annotations

import decimal
from collections.abc import Callable
from typing import Any

import pytest

from sqla_docstore import dbapi
from sqla_docstore.affinity import integer_affinity

D = decimal.Decimal

KEYS: list[Any] = [1, 2, 0, -7, 2**53 + 1, 2**63 + 1]
PROBES: list[Any] = [
    1, "1", 1.0, 1.5, True, False, 0, D("1"), D("1.0"), D("1.5"), None, 2**53 + 1,
    float(2**53 + 1), 2**63 + 1, str(2**63 + 1), -7, "-7", "abc", "", 3,
]
POINT = "SELECT t.id, t.name FROM t WHERE t.id = :x"
QUERY = "SELECT t.id, t.name FROM t WHERE (t.id = :x OR 1 = 0)"  # the same, not by key


@pytest.fixture
def filled(conn: dbapi.Connection,
           create_collection: Callable[[dbapi.Connection, str, dict[str, Any]], None]
           ) -> dbapi.Connection:
    create_collection(conn, "t", {"fields": [{"name": "id", "type": "INTEGER"},
                                             {"name": "name", "type": "VARCHAR"}],
                                  "primary_key": ["id"]})
    conn.cursor().executemany("INSERT INTO t (id, name) VALUES (:id, :name)",
                              [{"id": k, "name": f"n{k}"} for k in KEYS])
    conn.commit()
    return conn


def _rows(conn: dbapi.Connection, sql: str, probe: Any) -> list[Any]:
    cur = conn.cursor()
    cur.execute(sql, {"x": probe})
    return [tuple(row) for row in cur.fetchall()]


def test_a_load_by_key_finds_what_the_query_finds(filled: dbapi.Connection) -> None:
    # (the query is given the value SQLite compares with the INTEGER key: "1" is 1)
    for probe in PROBES:
        assert _rows(filled, POINT, probe) == _rows(
            filled, QUERY, integer_affinity(probe)), probe
    assert _rows(filled, POINT, 2) == [(2, "n2")]
    assert _rows(filled, POINT, "2") == [(2, "n2")]  # SQLite compares "2" as 2
    assert _rows(filled, POINT, "2a") == []
    assert _rows(filled, POINT, None) == []


def test_a_load_by_key_sees_the_transactions_writes(filled: dbapi.Connection) -> None:
    cur = filled.cursor()
    cur.execute("INSERT INTO t (id, name) VALUES (:id, :name)", {"id": 5, "name": "new"})
    cur.execute("DELETE FROM t WHERE t.id = :x", {"x": 1})
    cur.execute("UPDATE t SET name = :n WHERE t.id = :x", {"n": "changed", "x": 2})
    for probe in (5, 1, 2, 5.0, "5"):
        assert _rows(filled, POINT, probe) == _rows(
            filled, QUERY, integer_affinity(probe)), probe
    assert _rows(filled, POINT, 5) == [(5, "new")]
    assert _rows(filled, POINT, 1) == []
    assert _rows(filled, POINT, 2) == [(2, "changed")]
    filled.rollback()
    assert _rows(filled, POINT, 1) == [(1, "n1")] and _rows(filled, POINT, 5) == []


def test_a_load_by_key_records_the_version_read(filled: dbapi.Connection) -> None:
    _rows(filled, POINT, 2)
    assert filled.change_vectors.get("t/2") is not None
    filled.rollback()


def test_sql_equal_decimal_keys_name_one_document(filled: dbapi.Connection) -> None:
    # 10 and Decimal("10.0") are one key in SQL: the second INSERT is a duplicate, and a
    # load by either value finds the row the first stored.
    cur = filled.cursor()
    cur.execute("INSERT INTO t (id, name) VALUES (:id, :name)", {"id": D("10.0"), "name": "ten"})
    filled.commit()
    with pytest.raises(dbapi.IntegrityError):
        cur.execute("INSERT INTO t (id, name) VALUES (:id, :name)", {"id": 10, "name": "again"})
        filled.commit()
    filled.rollback()
    for probe in (10, D("10"), 10.0):
        assert [row[1] for row in _rows(filled, POINT, probe)] == ["ten"], probe
        assert _rows(filled, POINT, probe) == _rows(filled, QUERY, probe), probe


@pytest.mark.parametrize(("order_by", "error"), [
    ("nosuch", dbapi.ProgrammingError),
    ("u.id", dbapi.ProgrammingError),
    ("(SELECT nosuch FROM t)", dbapi.ProgrammingError),
    ("abs(1, 2)", dbapi.OperationalError),
])
def test_a_load_by_key_with_an_order_by_sql_refuses_is_refused(
        filled: dbapi.Connection, order_by: str, error: type[Exception]) -> None:
    # (the load by key ignored its ORDER BY: the row came back where SQLite says no such column)
    for _ in range(2):  # cold, then warm
        with pytest.raises(error):
            _rows(filled, f"{POINT} ORDER BY {order_by}", 2)


@pytest.mark.parametrize("order_by", ["t.name", "name DESC", "id", "1", "2 DESC"])
def test_a_load_by_key_ordered_by_its_fields_finds_the_row(filled: dbapi.Connection,
                                                           order_by: str) -> None:
    for _ in range(2):
        assert _rows(filled, f"{POINT} ORDER BY {order_by}", 2) == [(2, "n2")]
