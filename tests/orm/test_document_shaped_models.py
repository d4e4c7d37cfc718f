"""Document-shaped models: an aggregate (an order with its address and lines) is one document.

The README's recipes, checked on both backends: nested objects in JSON columns whose in-place
edits are tracked (``MutableDict`` / ``MutableList``, or a dataclass type), and ``composite()``
for value objects kept as fields of the document.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.mutable import MutableDict, MutableList
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, composite, mapped_column


@dataclasses.dataclass
class Money:
    amount: int
    currency: str


@dataclasses.dataclass
class Line:
    product: str
    qty: int


class LinesType(sa.types.TypeDecorator[list[Line]]):
    """A list of dataclasses stored as a JSON array of objects."""

    impl = sa.JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        return None if value is None else [dataclasses.asdict(v) for v in value]

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        return None if value is None else [Line(**v) for v in value]


class Base(DeclarativeBase):
    pass


class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    ship_to: Mapped[dict[str, Any]] = mapped_column(MutableDict.as_mutable(sa.JSON))
    tags: Mapped[list[str]] = mapped_column(MutableList.as_mutable(sa.JSON), default=list)
    lines: Mapped[list[Line]] = mapped_column(LinesType, default=list)
    total: Mapped[Money] = composite(mapped_column("total_amount"),
                                     mapped_column("total_currency"))


def _stored(engine: sa.Engine, order_id: int) -> dict[str, Any]:
    with Session(engine) as session:
        order = session.get(Order, order_id)
        assert order is not None
        return {"ship_to": order.ship_to, "tags": list(order.tags), "lines": order.lines,
                "total": order.total}


def test_an_aggregate_is_one_document_written_in_one_batch(engine: sa.Engine) -> None:
    with Session(engine) as session:
        order = Order(ship_to={"city": "Oslo", "zip": "0150"}, tags=["gift"],
                      lines=[Line("pen", 2), Line("ink", 1)], total=Money(12, "NOK"))
        session.add(order)
        session.commit()
        order_id = order.id
        with engine.connect() as conn:  # the raw document: nested, not spread over tables
            body = conn.exec_driver_sql(
                "SELECT ship_to, lines, total_amount FROM orders WHERE id = :i",
                {"i": order_id}).one()
        assert tuple(body) == ({"city": "Oslo", "zip": "0150"},
                               [{"product": "pen", "qty": 2}, {"product": "ink", "qty": 1}], 12)


def test_in_place_edits_of_nested_parts_are_tracked(engine: sa.Engine) -> None:
    with Session(engine) as session:
        order = Order(ship_to={"city": "Oslo"}, tags=[], lines=[Line("pen", 1)],
                      total=Money(5, "EUR"))
        session.add(order)
        session.commit()
        order_id = order.id
    with Session(engine) as session:
        order = session.get(Order, order_id)
        assert order is not None
        order.ship_to["city"] = "Bergen"  # MutableDict: an in-place edit marks the field
        order.tags.append("rush")  # MutableList too
        order.lines = [*order.lines, Line("ink", 3)]  # a dataclass list: assign a new one
        order.total = Money(9, "EUR")  # composite: assign a new value object
        assert session.dirty
        session.commit()
    assert _stored(engine, order_id) == {
        "ship_to": {"city": "Bergen"}, "tags": ["rush"],
        "lines": [Line("pen", 1), Line("ink", 3)], "total": Money(9, "EUR")}


def test_untouched_nested_parts_are_not_rewritten(engine: sa.Engine) -> None:
    with Session(engine) as session:
        order = Order(ship_to={"city": "Oslo"}, tags=["a"], lines=[], total=Money(1, "EUR"))
        session.add(order)
        session.commit()
        order.tags.append("b")
        statements: list[str] = []

        def record(*args: Any) -> None:
            statements.append(args[2])

        sa.event.listen(engine, "before_cursor_execute", record)
        session.commit()
        sa.event.remove(engine, "before_cursor_execute", record)
    updates = [s for s in statements if s.startswith("UPDATE")]
    assert len(updates) == 1 and "tags" in updates[0] and "ship_to" not in updates[0]
