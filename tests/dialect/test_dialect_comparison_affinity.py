"""A column compared with a value of another kind finds what SQLite finds: SQLite converts the
value by the column's affinity (``Integer == "5"`` is ``= 5``, ``String == 5`` is ``= '5'``),
and SQLAlchemy binds the value as its own kind, leaving that to SQLite. Both backends."""

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
    select,
    text,
    tuple_,
)

metadata = MetaData()
t = Table("t", metadata, Column("id", Integer, primary_key=True), Column("n", Integer),
          Column("big", BigInteger), Column("s", String(10)), Column("f", Float),
          Column("d", Numeric(10, 2)))

ROWS = [{"id": i, "n": i, "big": i * 10**12, "s": str(i), "f": i / 2, "d": i / 4}
        for i in range(1, 12)]
# (column, operator, value): values of another kind than the column's
CASES: list[tuple[str, str, Any]] = [
    ("n", "<", "3"), ("n", "==", "5"), ("n", "==", " 5 "), ("n", "==", "5.0"),
    ("n", ">=", "1e1"), ("n", "==", "abc"), ("n", "<", "abc"), ("n", "!=", "4"),
    ("n", "in", ["2", "3", "x"]), ("n", "not_in", ["2", "3"]), ("n", "==", 5.0),
    ("n", "==", True), ("id", "==", "7"), ("id", "in", ["7", "8"]), ("big", ">", "9e12"),
    ("s", "==", 5), ("s", "in", [1, 2, 11]), ("s", ">", 5), ("s", "==", 0.5),
    ("f", ">", "4"), ("f", "==", "2.5"), ("f", "<", "x"), ("f", "==", 3),
    ("d", "==", "0.75"), ("d", "in", ["1.5", 2, "x"]), ("d", ">", " 2 "), ("d", "<", "x"),
    ("n", "between", ("2", "5")), ("n", "not_between", ("2", " 5")), ("s", "between", (1, 5)),
    ("f", "between", ("1", 3)), ("big", "between", ("1e12", "3e12")),
]


def _where(name: str, op: str, value: Any) -> Any:
    column = t.c[name]
    if op == "in":
        return column.in_(value)
    if op == "not_in":
        return column.not_in(value)
    if op == "between":
        return column.between(*value)
    if op == "not_between":
        return ~column.between(*value)
    compare = {"<": column.__lt__, "==": column.__eq__, ">=": column.__ge__,
               "!=": column.__ne__, ">": column.__gt__}[op]
    return compare(value)


def _ids(eng: Engine, where: Any) -> list[int]:
    with eng.connect() as conn:
        return list(conn.scalars(select(t.c.id).where(where).order_by(t.c.id)))


@pytest.fixture
def filled(pair: tuple[Engine, Engine]) -> tuple[Engine, Engine]:
    for eng in pair:
        with eng.begin() as conn:
            conn.execute(t.insert(), ROWS)
    return pair


@pytest.mark.parametrize(("name", "op", "value"), CASES)
def test_a_value_of_another_kind_is_compared_under_the_columns_affinity(
        filled: tuple[Engine, Engine], name: str, op: str, value: Any) -> None:
    docstore, sqlite = (_ids(eng, _where(name, op, value)) for eng in filled)
    assert docstore == sqlite


def test_pending_rows_and_tuples_compare_under_affinity_too(
        filled: tuple[Engine, Engine]) -> None:
    seen = []
    for eng in filled:
        with eng.connect() as conn:
            conn.execute(t.insert(), [{"id": 20, "n": 20, "s": "20"}])
            seen.append(list(conn.scalars(select(t.c.id).where(
                (t.c.n == "20") | (t.c.s == 3) | (tuple_(t.c.n, t.c.s) == ("4", "4")))
                .order_by(t.c.id))))
            conn.rollback()
    assert seen[0] == seen[1] == [3, 4, 20]


LITERAL_CASES = [("s", ">", 5), ("s", "==", 0.5), ("s", "in", [1, 2, 11]), ("s", "between", (1, 5)),
                 ("n", "==", "5"), ("n", "in", ["2", "3"]), ("f", "==", 3)]


@pytest.mark.parametrize(("name", "op", "value"), LITERAL_CASES)
def test_a_value_of_another_kind_rendered_inline_is_compared_under_the_affinity_too(
        filled: tuple[Engine, Engine], name: str, op: str, value: Any) -> None:
    """literal_binds: ``String > 5`` failed to compile (a number given String's literal
    rendering) once values compared with a column were bound as its type."""
    seen = []
    for eng in filled:
        stmt = select(t.c.id).where(_where(name, op, value)).order_by(t.c.id)
        sql = str(stmt.compile(eng, compile_kwargs={"literal_binds": True}))
        with eng.connect() as conn:
            seen.append(list(conn.scalars(text(sql))))
    assert seen[0] == seen[1]
