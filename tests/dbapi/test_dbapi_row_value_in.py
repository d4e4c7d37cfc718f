"""Row values in IN lists, as SQLAlchemy renders ``tuple_(a, b).in_(...)`` for SQLite
(``(a, b) IN (VALUES (?, ?), ...)``) and as the ORM's ``selectinload`` loads a relationship
over a composite key: the same rows as SQLite, on both backends, over committed and pending
rows alike."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import (
    Column,
    Engine,
    ForeignKeyConstraint,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    insert,
    select,
    tuple_,
)
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
    selectinload,
)

metadata = MetaData()
items = Table("items", metadata, Column("id", Integer, primary_key=True),
              Column("a", Integer), Column("b", String))
_ROWS = [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}, {"a": None, "b": "z"}, {"a": 2, "b": None}]


@pytest.mark.parametrize("sql, params", [
    ("SELECT id FROM items WHERE (a, b) IN (VALUES (?, ?), (?, ?)) ORDER BY id", (1, "x", 2, "z")),
    ("SELECT id FROM items WHERE (a, b) NOT IN (VALUES (?, ?)) ORDER BY id", (1, "x")),
    ("SELECT id FROM items WHERE (a, b) NOT IN (VALUES (?, ?), (?, ?)) ORDER BY id",
     (2, "q", 5, "y")),
    ("SELECT id FROM items WHERE a IN (VALUES (?), (?)) ORDER BY id", (2, 7)),
    ("SELECT id FROM items WHERE (a, b) IN ((?, ?), (?, ?)) ORDER BY id", (1, "x", 2, "y")),
])
@pytest.mark.parametrize("pending", [False, True], ids=["committed", "pending"])
def test_a_row_value_in_a_values_list_finds_the_rows_sqlite_finds(
        engine: Engine, oracle: Engine, sql: str, params: tuple[Any, ...],
        pending: bool) -> None:
    found = []
    for eng in (engine, oracle):
        metadata.create_all(eng)
        with eng.connect() as conn:
            conn.execute(insert(items), _ROWS)
            if not pending:
                conn.commit()
            found.append(conn.exec_driver_sql(sql, params).all())
            conn.rollback()
    assert found[0] == found[1]


def test_tuple_in_through_sqlalchemy_matches_sqlite(pair: tuple[Engine, Engine]) -> None:
    query = (select(items.c.id)
             .where(tuple_(items.c.a, items.c.b).in_([(1, "x"), (2, "y"), (3, None)]))
             .order_by(items.c.id))
    found = []
    for eng in pair:
        with eng.begin() as conn:
            conn.execute(insert(items), _ROWS)
            found.append(conn.execute(query).all())
    assert found[0] == found[1] == [(1,), (2,)]


class Base(DeclarativeBase):
    pass


class Order(Base):
    __tablename__ = "orders"
    region: Mapped[str] = mapped_column(String, primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    lines: Mapped[list[Line]] = relationship(back_populates="order", order_by="Line.id")


class Line(Base):
    __tablename__ = "lines"
    __table_args__ = (ForeignKeyConstraint(["region", "number"],
                                           ["orders.region", "orders.number"]),)
    id: Mapped[int] = mapped_column(primary_key=True)
    region: Mapped[str] = mapped_column(String)
    number: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(String)
    order: Mapped[Order] = relationship(back_populates="lines")


def _orders_with_lines(eng: Engine) -> list[tuple[str, int, list[str]]]:
    Base.metadata.create_all(eng)
    with Session(eng) as session:
        for region, number, skus in [("eu", 1, ["a", "b"]), ("us", 1, ["c"]), ("eu", 2, [])]:
            session.add(Order(region=region, number=number,
                              lines=[Line(sku=sku) for sku in skus]))
        session.commit()
    with Session(eng) as session:
        found = session.scalars(select(Order).options(selectinload(Order.lines))
                                .order_by(Order.region, Order.number)).all()
        return [(o.region, o.number, [line.sku for line in o.lines]) for o in found]


def test_selectinload_over_a_composite_key_loads_each_parents_children(engine: Engine) -> None:
    assert _orders_with_lines(engine) == _orders_with_lines(create_engine("sqlite://"))
