"""The Tables whose schemas a compiled statement hands the DB-API are the ones its compilation
rendered (``DocstoreCompiler.tables_used``): every Table a search of the statement finds, in
any clause (joins, subqueries, CTEs, set operations, DML targets and their FROM / USING), and
a joined eager load's table the ORM adds at compile time too."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import (
    Column,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.orm import DeclarativeBase, Session, joinedload, relationship

from sqla_docstore.dialect import mapping

md = MetaData()
a = Table("a", md, Column("id", Integer, primary_key=True), Column("name", String(20)))
b = Table("b", md, Column("id", Integer, primary_key=True),
          Column("a_id", Integer, ForeignKey("a.id")), Column("v", Integer))
c = Table("c", md, Column("id", Integer, primary_key=True), Column("v", Integer),
          schema="s")


def _statements() -> dict[str, Any]:
    sub = select(b.c.a_id, func.count().label("n")).group_by(b.c.a_id).subquery()
    cte = select(c.c.id).where(c.c.v > 1).cte("big")
    return {
        "join": select(a.c.name, b.c.v).join_from(a, b),
        "scalar subquery": select(a.c.id, select(func.max(b.c.v)).where(
            b.c.a_id == a.c.id).scalar_subquery()),
        "subquery": select(a.c.name, sub.c.n).join(sub, sub.c.a_id == a.c.id),
        "alias": select(a.alias("x").c.id),
        "cte": select(a.c.id).where(a.c.id.in_(select(cte.c.id))),
        "union": union_all(select(a.c.id), select(c.c.id)),
        "exists": select(a.c.id).where(exists().where(b.c.a_id == a.c.id)),
        "insert": insert(a).values(id=1, name="x"),
        "insert from select": insert(c).from_select(["id", "v"], select(b.c.id, b.c.v)),
        "update": update(a).where(a.c.id.in_(select(b.c.a_id))).values(name="y"),
        "update from": update(b).where(b.c.a_id == a.c.id).values(v=a.c.id),
        "delete using": delete(b).where(b.c.a_id == a.c.id),
        "delete": delete(c).where(c.c.v == 2),
        "no table": select(literal(1)),
        "text": text("SELECT 1"),
    }


#: the Tables each statement reads or writes
EXPECTED = {
    "join": ["a", "b"], "scalar subquery": ["a", "b"], "subquery": ["a", "b"], "alias": ["a"],
    "cte": ["a", "s.c"], "union": ["a", "s.c"], "exists": ["a", "b"], "insert": ["a"],
    "insert from select": ["b", "s.c"], "update": ["a", "b"],
    "update from": ["a", "b"], "delete using": ["a", "b"],  # (a search misses the FROM's a)
    "delete": ["s.c"], "no table": [], "text": [],
}


@pytest.mark.parametrize("name", list(_statements()))
def test_a_compilation_maps_the_tables_a_search_of_the_statement_finds(name: str) -> None:
    engine = create_engine("docstore://")
    stmt = _statements()[name]
    compiled = stmt.compile(engine)
    searched = {s.name for s in mapping._specs(mapping._tables(stmt), engine.dialect)}
    mapped = mapping.mapped_specs(compiled)
    assert sorted(s.name for s in mapped) == EXPECTED[name]
    assert searched <= {s.name for s in mapped}
    assert len(set(map(id, mapped))) == len(mapped)  # each Table once


def test_a_joined_eager_load_maps_the_table_it_joins() -> None:
    class Base(DeclarativeBase):
        pass

    class Parent(Base):
        __tablename__ = "parent"
        id = Column(Integer, primary_key=True)
        children = relationship("Child")

    class Child(Base):
        __tablename__ = "child"
        id = Column(Integer, primary_key=True)
        parent_id = Column(Integer, ForeignKey("parent.id"))

    engine = create_engine("docstore://")
    stmt = select(Parent).options(joinedload(Parent.children))
    assert [s.name for s in mapping._specs(mapping._tables(stmt), engine.dialect)] == [
        "parent"]  # (the search sees the statement only)
    compiled = stmt.compile(engine)
    assert sorted(s.name for s in mapping.mapped_specs(compiled)) == ["child", "parent"]


def test_statements_of_the_same_tables_hand_over_one_tuple() -> None:
    engine = create_engine("docstore://")
    first = mapping.mapped_specs(select(a.c.id).where(a.c.id == 1).compile(engine))
    other = mapping.mapped_specs(select(a.c.name).where(a.c.id == 2).compile(engine))
    assert other is first and [s.name for s in first] == ["a"]


def test_a_from_statement_maps_the_table_of_its_columns(engine: Any) -> None:
    # (the search of the statement finds the entity's table; the compilation rendered none,
    # so on a store without the collection the query failed with "no such collection")
    class Base(DeclarativeBase):
        pass

    class Item(Base):
        __tablename__ = "fs_item"
        id = Column(Integer, primary_key=True)
        v = Column(Integer, server_default="4")

    stmt = select(Item).from_statement(
        text("SELECT id, v FROM fs_item ORDER BY id").columns(Item.id, Item.v))
    assert [s.name for s in mapping.mapped_specs(stmt.compile(engine))] == ["fs_item"]
    with Session(engine) as session:
        assert session.scalars(stmt).all() == []  # (a collection not created first)
        session.execute(insert(Item), [{"id": 2}, {"id": 1, "v": 3}])
        assert [(i.id, i.v) for i in session.scalars(stmt)] == [(1, 3), (2, 4)]


def test_textual_columns_map_their_tables() -> None:
    engine = create_engine("docstore://")
    stmt = text("SELECT id, v FROM b").columns(b.c.id, b.c.v)
    assert [s.name for s in mapping.mapped_specs(stmt.compile(engine))] == ["b"]
