"""A value written through SQLAlchemy to a typed column is stored as SQLite's affinity stores
it (``"7"`` in an ``Integer`` is 7, ``5`` in a ``String`` is ``'5'``, ``5`` in a ``Float`` is
5.0): SQLAlchemy sends such a value as it is given and SQLite converts it, so the rows read
back, and the comparisons made later, are SQLite's. Both backends, INSERT and UPDATE."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Float,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    bindparam,
    literal_column,
    select,
)

metadata = MetaData()
t = Table("t", metadata, Column("id", Integer, primary_key=True), Column("n", Integer),
          Column("big", BigInteger), Column("s", String(20)), Column("f", Float))

#: values of other kinds than the column's, one row each
WRITTEN: list[dict[str, Any]] = [
    {"n": "7", "big": " 8 ", "s": 5, "f": 5},
    {"n": "7.0", "big": "1e3", "s": 2.5, "f": "2.5"},
    {"n": "7.5", "big": "abc", "s": True, "f": "-1e2"},
    {"n": 7.0, "big": "+9", "s": 1e300, "f": " 3 "},
    {"n": True, "big": "0x10", "s": -0.5, "f": True},
]


def _typed(rows: list[Any]) -> list[tuple[Any, ...]]:
    return [tuple((type(v).__name__, v) for v in row) for row in rows]


def _written(eng: Engine) -> list[Any]:
    # typeof() as SQL sees the stored value, the value as the DB-API reads it (no processing)
    raw = select(t.c.id, literal_column("n"), literal_column("big"), literal_column("s"),
                 literal_column("f")).select_from(t).order_by(t.c.id)
    with eng.connect() as conn:
        conn.execute(t.insert(), [dict(row, id=i) for i, row in enumerate(WRITTEN, start=1)])
        conn.execute(t.update().where(t.c.id == bindparam("k")).values(
            n=bindparam("v"), s=bindparam("w")), [{"k": 1, "v": "12", "w": 12},
                                                  {"k": 2, "v": " -3 ", "w": 0.25}])
        before = conn.execute(raw).all()
        conn.commit()
        return [_typed(before), _typed(conn.execute(raw).all()),
                conn.execute(select(t.c.id).where(t.c.n > 7).order_by(t.c.id)).all(),
                conn.execute(select(t.c.id).where(t.c.f < 4).order_by(t.c.id)).all()]


@pytest.fixture
def tables(pair: tuple[Engine, Engine]) -> tuple[Engine, Engine]:
    return pair


def test_values_of_other_kinds_are_stored_as_sqlites_affinity_stores_them(
        tables: tuple[Engine, Engine]) -> None:
    docstore, sqlite = (_written(eng) for eng in tables)
    assert docstore == sqlite
    assert ("int", 12) in sqlite[1][0] and ("str", "5") not in sqlite[1][0]


numbers = Table("numbers", metadata, Column("id", Integer, primary_key=True),
                Column("d", Numeric(10, 2)), Column("s", String(20)))

#: a NUMERIC column given numeric texts; a text column given a negative zero
NUMBER_ROWS: list[dict[str, Any]] = [
    {"id": 1, "d": "5", "s": -0.0}, {"id": 2, "d": " 20 ", "s": 0.0},
    {"id": 3, "d": "2.5", "s": "x"}, {"id": 4, "d": None, "s": None},
]


def _numbers(eng: Engine) -> list[Any]:
    d, s = numbers.c.d, numbers.c.s
    with eng.begin() as conn:
        conn.execute(numbers.insert(), NUMBER_ROWS)
        return [conn.execute(select(numbers.c.id).where(where).order_by(numbers.c.id)).all()
                for where in (d < 10, d > 4, d == "5", d == 20, s == "0.0", s == "-0.0")] + [
            conn.execute(select(numbers.c.id).order_by(d, numbers.c.id)).all(),
            conn.execute(select(s).order_by(numbers.c.id)).all()]


def test_numeric_texts_and_negative_zero_are_stored_as_sqlite_stores_them(
        tables: tuple[Engine, Engine]) -> None:
    docstore, sqlite = (_numbers(eng) for eng in tables)
    assert docstore == sqlite
    assert sqlite[0] == [(1,), (3,)] and sqlite[4] == [(1,), (2,)]
