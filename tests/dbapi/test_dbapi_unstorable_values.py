"""Values a document can't hold are refused by the statement that writes them, with a DataError
naming the value, and the transaction keeps going: a NaN or infinite float or decimal (JSON has no
number for them; SQLite would store NaN as NULL) and an INTEGER key beyond SQLite's 64-bit
integers (SQLite refuses it too). Before, the statement took them and the commit, or every later
read of the collection, failed. On both backends."""

from __future__ import annotations

import decimal
import math
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Column,
    Engine,
    Float,
    Integer,
    MetaData,
    Numeric,
    Table,
    exc,
    insert,
    select,
    update,
)

from sqla_docstore.errors import DataError

metadata = MetaData()
items = Table("items", metadata, Column("id", Integer, primary_key=True), Column("x", Float),
              Column("amount", Numeric(12, 2, asdecimal=True)), Column("doc", JSON))

NON_FINITE = [math.nan, math.inf, -math.inf]


@pytest.fixture
def eng(engine: Engine) -> Engine:
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(items), [{"id": i, "x": i / 2} for i in range(1, 4)])
    return engine


def _stored(eng: Engine) -> list[tuple[Any, ...]]:
    with eng.connect() as conn:
        return [tuple(r) for r in conn.execute(select(items.c.id, items.c.x).order_by(items.c.id))]


def _refused_then_commits(eng: Engine, statement: Any, params: Any, match: str) -> None:
    """The statement fails alone: the transaction's earlier write commits, nothing of it does."""
    with eng.begin() as conn:
        conn.execute(insert(items), {"id": 50, "x": 5.0})
        with pytest.raises(exc.DataError, match=match) as caught:
            conn.execute(statement, params)
        assert isinstance(caught.value.orig, DataError)
    assert _stored(eng) == [(1, 0.5), (2, 1.0), (3, 1.5), (50, 5.0)]


@pytest.mark.parametrize("value", NON_FINITE, ids=repr)
def test_non_finite_float_insert_refused(eng: Engine, value: float) -> None:
    _refused_then_commits(eng, insert(items), {"id": 10, "x": value}, "can't store the float")


@pytest.mark.parametrize("value", NON_FINITE, ids=repr)
def test_non_finite_float_in_executemany_refuses_the_statement(eng: Engine, value: float) -> None:
    rows = [{"id": 10 + i, "x": float(i)} for i in range(30)]
    rows[17]["x"] = value
    _refused_then_commits(eng, insert(items), rows, "can't store the float")


@pytest.mark.parametrize("value", NON_FINITE, ids=repr)
def test_non_finite_float_update_refused(eng: Engine, value: float) -> None:
    _refused_then_commits(eng, update(items).where(items.c.id == 2), {"x": value},
                          "can't store the float")


def test_non_finite_float_update_of_many_refused(eng: Engine) -> None:
    _refused_then_commits(eng, update(items).where(items.c.id >= 1), {"x": math.nan},
                          "can't store the float")


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "sNaN"])
def test_non_finite_decimal_refused(eng: Engine, value: str) -> None:
    rows = [{"id": 10 + i, "amount": decimal.Decimal(i)} for i in range(12)]
    rows[5]["amount"] = decimal.Decimal(value)
    _refused_then_commits(eng, insert(items), rows, "non-finite decimal")


def test_non_finite_float_nested_in_json_refused(eng: Engine) -> None:
    _refused_then_commits(eng, insert(items), {"id": 10, "doc": {"a": [1.0, math.inf]}},
                          "can't store value")


@pytest.mark.parametrize("key", [2**63, -(2**63) - 1, 10**400], ids=["2**63", "-2**63-1", "1e400"])
def test_integer_key_beyond_64_bits_refused(eng: Engine, key: int) -> None:
    _refused_then_commits(eng, insert(items), {"id": key, "x": 1.0}, "beyond SQLite's 64-bit")


def test_integer_key_beyond_64_bits_refused_in_executemany(eng: Engine) -> None:
    rows = [{"id": 10 + i, "x": 1.0} for i in range(30)] + [{"id": 2**64, "x": 1.0}]
    _refused_then_commits(eng, insert(items), rows, "beyond SQLite's 64-bit")


def test_keys_at_the_64_bit_limits_are_kept(eng: Engine) -> None:
    with eng.begin() as conn:
        conn.execute(insert(items), [{"id": 2**63 - 1, "x": 1.0}, {"id": -(2**63), "x": 2.0}])
    with eng.connect() as conn:
        keys = conn.scalars(select(items.c.id).order_by(items.c.id)).all()
    assert keys == [-(2**63), 1, 2, 3, 2**63 - 1]


pairs = Table("pairs", metadata, Column("a", Integer, primary_key=True, autoincrement=True),
              Column("b", Integer, primary_key=True), Column("x", Float))


@pytest.mark.parametrize("key", [2**64, -(2**63) - 1], ids=["2**64", "-2**63-1"])
def test_autoincrement_key_of_a_composite_key_beyond_64_bits_refused(eng: Engine,
                                                                       key: int) -> None:
    # (it was taken, and HiLo could then give no key: every later INSERT without one failed)
    with eng.begin() as conn:
        conn.execute(insert(pairs), {"b": 1, "x": 1.0})
        with pytest.raises(exc.DataError, match="beyond SQLite's 64-bit") as caught:
            conn.execute(insert(pairs), [{"a": 7, "b": 2, "x": 2.0}, {"a": key, "b": 3, "x": 3.0}])
        assert isinstance(caught.value.orig, DataError)
        conn.execute(insert(pairs), {"b": 4, "x": 4.0})
    with eng.connect() as conn:
        rows = conn.execute(select(pairs.c.b, pairs.c.x).order_by(pairs.c.b)).all()
    assert [tuple(r) for r in rows] == [(1, 1.0), (4, 4.0)]
