"""SQLite's upsert constructs through SQLAlchemy (``sqlite.insert(t).on_conflict_do_update()``
/ ``on_conflict_do_nothing()``, and PostgreSQL's, which have the same shape), in Core and the
ORM (``session.execute(insert(User).on_conflict_do_update(...))``, with RETURNING of ORM
objects and as an ORM bulk insert): the rows, rowcounts and returned values SQLite gives, on
both backends."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    exc,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

metadata = MetaData()
items = Table("items", metadata, Column("id", Integer, primary_key=True),
              Column("sku", String(20), unique=True), Column("qty", Integer, nullable=False),
              Column("seen", DateTime), Column("note", String(40), server_default="new"))


class Base(DeclarativeBase):
    metadata = metadata


class Player(Base):
    __tablename__ = "players"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(30), unique=True)
    score: Mapped[int]
    team_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"))


T0 = dt.datetime(2024, 5, 6, 7, 8, 9, 123456)


def _core(eng: Engine, insert: Any) -> list[Any]:
    out: list[Any] = []
    with eng.connect() as conn:
        conn.execute(items.insert(), [{"id": 1, "sku": "a", "qty": 1},
                                      {"id": 2, "sku": "b", "qty": 2}])
        stmt = insert(items).values([{"id": 1, "sku": "a2", "qty": 10, "seen": None},
                                     {"id": 3, "sku": "c", "qty": 3, "seen": T0}])
        stmt = stmt.on_conflict_do_update(
            index_elements=[items.c.id],
            set_={"qty": items.c.qty + stmt.excluded.qty, "sku": stmt.excluded.sku,
                  "seen": T0 + dt.timedelta(days=1)},
            where=stmt.excluded.qty > items.c.qty)
        result = conn.execute(stmt.returning(items.c.id, items.c.qty, items.c.seen))
        out.append(sorted(tuple(r) for r in result))
        conn.commit()
        nothing = insert(items).values(id=2, sku="zz", qty=5).on_conflict_do_nothing(
            index_elements=["id"])
        out.append(conn.execute(nothing).rowcount)
        out.append(conn.execute(insert(items).values(id=9, sku="b", qty=5)
                                .on_conflict_do_nothing()).rowcount)
        by_sku = insert(items)
        by_sku = by_sku.on_conflict_do_update(
            index_elements=["sku"],
            set_={"qty": by_sku.excluded.qty, "note": "sku:" + by_sku.excluded.sku})
        result = conn.execute(by_sku, [{"id": 20, "sku": "b", "qty": 7},
                                       {"id": 21, "sku": "d", "qty": 8},
                                       {"id": 22, "sku": "d", "qty": 9}])
        out.append(result.rowcount)
        # (SQLite's dialect renders index_where's values inline: not with executemany)
        where = insert(items).values(id=30, sku="c", qty=4)
        where = where.on_conflict_do_update(index_elements=["sku"], index_where=items.c.qty > 0,
                                            set_={"qty": where.excluded.qty * 2})
        out.append(conn.execute(where).rowcount)
        out.append([tuple(r) for r in conn.execute(select(items).order_by(items.c.id))])
        conn.commit()
    return out


@pytest.mark.parametrize("insert", [sqlite.insert, postgresql.insert],
                         ids=["sqlite", "postgresql"])
def test_core_upserts_match_sqlite(pair: tuple[Engine, Engine], insert: Any) -> None:
    eng, oracle = pair
    got = _core(eng, insert)
    assert got == _core(oracle, sqlite.insert)
    assert got[0] == [(1, 11, T0 + dt.timedelta(days=1)), (3, 3, T0)]


def test_upserts_compile_to_sqlites_syntax(engine: Engine) -> None:
    stmt = sqlite.insert(items).values(id=1, sku="a", qty=1)
    update = stmt.on_conflict_do_update(index_elements=["id"],
                                        set_={"qty": items.c.qty + stmt.excluded.qty},
                                        where=items.c.qty < 5)
    assert str(update.compile(engine)) == (
        "INSERT INTO items (id, sku, qty) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
        "qty = (items.qty + excluded.qty) WHERE items.qty < ?")
    nothing = stmt.on_conflict_do_nothing(index_elements=[items.c.sku],
                                          index_where=items.c.qty > 0)
    assert str(nothing.compile(engine)) == (
        "INSERT INTO items (id, sku, qty) VALUES (?, ?, ?) ON CONFLICT (sku) WHERE qty > ? "
        "DO NOTHING")
    assert str(stmt.on_conflict_do_nothing().compile(engine)).endswith(
        "VALUES (?, ?, ?) ON CONFLICT DO NOTHING")


def test_refused_upsert_forms_name_themselves(engine: Engine) -> None:
    stmt = postgresql.insert(items).values(id=1, sku="a", qty=1)
    with pytest.raises(exc.CompileError, match="ON CONFLICT ON CONSTRAINT items_pkey"):
        stmt.on_conflict_do_nothing(constraint="items_pkey").compile(engine)
    with pytest.raises(exc.CompileError, match="not its columns"):
        sqlite.insert(items).on_conflict_do_update(
            index_elements=["id"], set_={"nope": 1}).compile(engine)


def _orm(eng: Engine) -> list[Any]:
    out: list[Any] = []
    with Session(eng) as session:
        session.add_all([Player(id=1, name="ann", score=1), Player(id=2, name="bob", score=2)])
        session.flush()
        session.add(Player(id=3, name="cid", score=3))  # pending: flushed by the upsert
        stmt = sqlite.insert(Player).values([{"id": 4, "name": "ann", "score": 10},
                                             {"id": 5, "name": "cid", "score": 30},
                                             {"id": 6, "name": "dan", "score": 6}])
        stmt = stmt.on_conflict_do_update(
            index_elements=[Player.name], set_={"score": Player.score + stmt.excluded.score})
        players = session.scalars(stmt.returning(Player), execution_options={
            "populate_existing": True}).all()
        out.append(sorted((p.id, p.name, p.score) for p in players))
        session.commit()
        rows = [{"id": 7, "name": "bob", "score": 1}, {"id": 8, "name": "eve", "score": 8},
                {"id": 9, "name": "eve", "score": 9}]
        session.execute(sqlite.insert(Player).on_conflict_do_nothing(), rows)  # (ORM bulk)
        session.commit()
        out.append(sorted((p.id, p.name, p.score) for p in session.scalars(select(Player))))
    return out


def test_orm_upserts_match_sqlite(pair: tuple[Engine, Engine]) -> None:
    eng, oracle = pair
    got = _orm(eng)
    assert got == _orm(oracle)
    assert (1, "ann", 11) in got[0]
