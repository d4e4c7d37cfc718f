"""Scalar subqueries inside INSERT VALUES and UPDATE SET read the transaction's own pending
writes, as every other read in the transaction does (SQLite is the oracle)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    Table,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine


def _tables(meta: MetaData) -> tuple[Table, Table]:
    src = Table("src", meta, Column("id", Integer, primary_key=True), Column("v", Integer))
    dst = Table("dst", meta, Column("id", Integer, primary_key=True), Column("v", Integer))
    return src, dst


def _run(eng: Engine) -> list[Any]:
    meta = MetaData()
    src, dst = _tables(meta)
    meta.create_all(eng)
    with eng.begin() as conn:
        conn.execute(insert(src), [{"id": 1, "v": 5}])  # committed before the transaction
    with eng.begin() as conn:
        conn.execute(insert(src), [{"id": 2, "v": 10}, {"id": 3, "v": 20}])  # pending
        conn.execute(update(src).where(src.c.id == 1).values(v=7))  # pending change
        conn.execute(insert(dst).values(id=1, v=select(func.max(src.c.v)).scalar_subquery()))
        conn.execute(insert(dst).values(id=2, v=select(func.count()).select_from(src)
                                        .scalar_subquery()))
        conn.execute(insert(dst).values(id=3, v=0))
        conn.execute(update(dst).where(dst.c.id == 3).values(
            v=select(func.sum(src.c.v)).scalar_subquery()))
        # correlated: each row reads the pending row of src with its id
        conn.execute(update(dst).where(dst.c.id < 3).values(
            v=dst.c.v + select(src.c.v).where(src.c.id == dst.c.id).scalar_subquery()))
        inside = conn.execute(select(dst).order_by(dst.c.id)).all()
    with eng.connect() as conn:
        return [inside, conn.execute(select(dst).order_by(dst.c.id)).all()]


def test_subqueries_in_insert_values_and_update_set_see_pending_rows(
        engine: Engine, oracle: Engine) -> None:
    want = _run(oracle)
    assert want[0] == [(1, 27), (2, 13), (3, 37)]
    assert _run(engine) == want


def _run_many(eng: Engine) -> list[Any]:
    meta = MetaData()
    src, _ = _tables(meta)
    meta.create_all(eng)
    total = select(func.sum(src.c.v)).scalar_subquery()
    with eng.begin() as conn:
        conn.execute(insert(src), [{"id": 1, "v": 1}])
        conn.execute(insert(src).values(v=total), [{"id": 2}, {"id": 3}])
        other = src.alias("other")
        conn.execute(update(src).where(src.c.id == bindparam("key")).values(
            v=select(func.sum(other.c.v)).scalar_subquery()), [{"key": 1}, {"key": 2}])
        return conn.execute(select(src).order_by(src.c.id)).all()


def test_executemany_subqueries_see_the_rows_earlier_sets_wrote(engine: Engine,
                                                                 oracle: Engine) -> None:
    want = _run_many(oracle)
    assert want == [(1, 4), (2, 7), (3, 2)]
    assert _run_many(engine) == want
