"""SQLite's bitwise operators (``& | << >> ~``) and its operator precedence (``<`` binds
tighter than ``=``, the bitwise level sits between ``+ -`` and ``<``): the same values as
SQLite, on both backends, over committed and pending rows, in SELECT, WHERE and UPDATE."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Integer,
    MetaData,
    Table,
    exc,
    insert,
    literal,
    select,
    update,
)

from sqla_docstore.errors import DataError

metadata = MetaData()
bits = Table("bits", metadata, Column("id", Integer, primary_key=True),
             Column("a", Integer), Column("b", Integer))
_ROWS = [{"a": 5, "b": 3}, {"a": 12, "b": 1}, {"a": None, "b": 2}, {"a": -7, "b": 2},
         {"a": 2**63 - 1, "b": 1}, {"a": 6, "b": 70}]

_QUERIES = [
    "SELECT a & b, a | b, a << b, a >> b, ~a, ~a + 1, -~a FROM bits ORDER BY id",
    "SELECT a & b | a, a | b & a, 1 | 2 << 3, a + 1 << 2, a << -1, a >> -2 FROM bits ORDER BY id",
    "SELECT a << 64, a >> 64, -a >> 70, b & 'x', '12abc' & 15, 2.7 & 3, NULL & a FROM bits "
    "ORDER BY id",
    "SELECT id FROM bits WHERE a & 1 = 1 ORDER BY id",
    "SELECT id FROM bits WHERE a | 0 < 5 ORDER BY id",
    "SELECT id FROM bits WHERE b & 2 ORDER BY id",
    "SELECT 1 = 2 < 3, 2 < 3 = 1, 1 < 2 < 3, 3 = 3 = 1, 0 = 1 >= 0, 2 >= 1 = 1",
    "SELECT sum(a & 3), max(b | 8) FROM bits",
    "SELECT id FROM bits WHERE b IN (SELECT a & 3 FROM bits) ORDER BY id",
]


def _answers(eng: Engine, pending: bool) -> list[Any]:
    metadata.create_all(eng)
    found: list[Any] = []
    with eng.connect() as conn:
        conn.execute(insert(bits), _ROWS)
        if not pending:
            conn.commit()
        for sql in _QUERIES:
            found.append(conn.exec_driver_sql(sql).all())
        result = conn.exec_driver_sql("UPDATE bits SET a = a | 16, b = ~b WHERE b & 2 = 2")
        found.append(result.rowcount)
        found.append(conn.exec_driver_sql("SELECT id, a, b FROM bits ORDER BY id").all())
        conn.commit()
    with eng.connect() as conn:
        found.append(conn.exec_driver_sql("SELECT id, a, b FROM bits ORDER BY id").all())
    return found


@pytest.mark.parametrize("pending", [False, True], ids=["committed", "pending"])
def test_bitwise_operators_and_precedence_give_sqlites_values(
        engine: Engine, oracle: Engine, pending: bool) -> None:
    assert _answers(engine, pending) == _answers(oracle, pending)


def test_sqlalchemys_bitwise_operators_give_sqlites_values(
        pair: tuple[Engine, Engine]) -> None:
    query = select(bits.c.id, bits.c.a.bitwise_and(bits.c.b), bits.c.a.bitwise_or(6),
                   bits.c.a.bitwise_not(), bits.c.b.bitwise_lshift(2),
                   bits.c.a.bitwise_rshift(1)).order_by(bits.c.id)
    found = []
    for eng in pair:
        with eng.begin() as conn:
            conn.execute(insert(bits), _ROWS)
            conn.execute(update(bits).where(bits.c.b.bitwise_and(1) == 1)
                         .values(a=bits.c.a.bitwise_or(bits.c.b)))
            found.append(conn.execute(query).all())
    assert found[0] == found[1]


def test_bitwise_xor_is_pythons_xor(engine: Engine) -> None:
    # Python's ^ is the oracle: SQLAlchemy's SQLite dialect renders a ^ b as
    # "(a | b - a & b)", which SQLite groups as a | (b - a) & b (-6 ^ 3 gives 3, not -7)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(bits), _ROWS)
        conn.execute(update(bits).where(bits.c.id == 2).values(b=bits.c.b.bitwise_xor(7)))
        found = conn.execute(select(bits.c.a, bits.c.b, bits.c.a.bitwise_xor(bits.c.b),
                                    literal(-6).bitwise_xor(3)).order_by(bits.c.id)).all()
    stored = [(r["a"], r["b"] ^ 7 if i == 1 else r["b"]) for i, r in enumerate(_ROWS)]
    assert [row[:2] for row in found] == stored
    assert [row[2:] for row in found] == [
        (None if a is None else a ^ b, -6 ^ 3) for a, b in stored]


wide = Table("wide", metadata, Column("id", Integer, primary_key=True), Column("n", BigInteger))


def test_a_bitwise_operator_on_a_number_beyond_64_bits_is_refused(engine: Engine) -> None:
    # the store keeps 2**70 exactly; SQLite's operators would work on its approximation
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(wide), [{"n": 2**70}])
    for sql in ("SELECT n & 1 FROM wide", "SELECT ~n FROM wide", "SELECT n << 1 FROM wide"):
        with pytest.raises(exc.DBAPIError) as caught, engine.connect() as conn:
            conn.exec_driver_sql(sql).all()
        assert isinstance(caught.value.orig, DataError), sql
