"""RIGHT and FULL OUTER JOIN, compared with SQLite (3.39+) on both backends."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    func,
    insert,
    select,
    text,
)

metadata = MetaData()
left = Table("lefts", metadata, Column("id", Integer, primary_key=True), Column("k", Integer),
             Column("s", String(5)))
right = Table("rights", metadata, Column("id", Integer, primary_key=True), Column("k", Integer),
              Column("t", String(5)))
keys = st.lists(st.one_of(st.none(), st.integers(0, 4)), max_size=6)


def _run(eng: Engine, lks: list[int | None], rks: list[int | None]) -> list[Any]:
    with eng.connect() as conn:
        conn.execute(left.delete())
        conn.execute(right.delete())
        if lks:
            conn.execute(insert(left), [{"id": i, "k": k, "s": f"l{i}"} for i, k in
                                        enumerate(lks, 1)])
        conn.commit()
        if rks:  # pending rows join too
            conn.execute(insert(right), [{"id": i, "k": k, "t": f"r{i}"} for i, k in
                                         enumerate(rks, 1)])
        full = left.outerjoin(right, left.c.k == right.c.k, full=True)
        out = [
            conn.execute(select(left, right).select_from(full)
                         .order_by(left.c.id, right.c.id)).all(),
            conn.execute(select(left.c.s, right.c.t).select_from(
                right.outerjoin(left, left.c.k == right.c.k))
                .order_by(right.c.id, left.c.id)).all(),
            conn.execute(select(func.count(), func.count(left.c.id), func.count(right.c.id))
                         .select_from(full)).all(),
            # a join group led by a subquery, as SQLAlchemy nests eager joins
            conn.execute(text(
                "SELECT lefts.id, r2.t FROM lefts LEFT OUTER JOIN ((SELECT lefts.id AS lid, "
                "rights.id AS rid FROM lefts JOIN rights ON lefts.k = rights.k) AS pairs "
                "JOIN rights AS r2 ON r2.id = pairs.rid) ON lefts.id = pairs.lid "
                "ORDER BY lefts.id, r2.id")).all(),
        ]
        conn.rollback()
        return out


@given(lks=keys, rks=keys)
@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_outer_joins_give_sqlites_rows(pair: tuple[Engine, Engine], lks: list[int | None],
                                       rks: list[int | None]) -> None:
    target, oracle = pair
    assert _run(target, lks, rks) == _run(oracle, lks, rks)
