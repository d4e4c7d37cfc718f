"""Common table expressions, plain and recursive, compared with SQLite on both backends
(with the transaction's pending writes in the rows they read)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    exc,
    func,
    insert,
    literal,
    select,
    text,
    update,
)

metadata = MetaData()
nodes = Table("nodes", metadata, Column("id", Integer, primary_key=True),
              Column("parent", Integer), Column("tag", String(5)))
totals = Table("totals", metadata, Column("id", Integer, primary_key=True),
               Column("tag", String(5)), Column("n", Integer))

# a forest: each node's parent is a smaller id (or none), so every chain ends
forest = st.lists(st.tuples(st.integers(0, 20), st.sampled_from(["a", "b", "c", None])),
                  max_size=10).map(lambda specs: [
                      {"id": i, "parent": (p % i) or None if i > 1 else None, "tag": tag}
                      for i, (p, tag) in enumerate(specs, 1)])


def _queries() -> list[Any]:
    walk = select(nodes.c.id, nodes.c.tag, literal(0).label("depth")).where(
        nodes.c.parent.is_(None)).cte("walk", recursive=True)
    up = walk.alias("up")
    walk = walk.union_all(select(nodes.c.id, nodes.c.tag, up.c.depth + 1)
                          .join(up, nodes.c.parent == up.c.id))
    per_tag = select(nodes.c.tag, func.count().label("n")).group_by(nodes.c.tag).cte("per_tag")
    busy = select(per_tag.c.tag).where(per_tag.c.n > 1).cte("busy")
    return [
        select(walk).order_by(walk.c.depth, walk.c.id),
        select(func.max(walk.c.depth), func.count()).select_from(walk),
        select(nodes.c.id, per_tag.c.n).join(per_tag, per_tag.c.tag == nodes.c.tag)
        .where(nodes.c.tag.in_(select(busy.c.tag))).order_by(nodes.c.id),
        text("WITH RECURSIVE n(k) AS (SELECT 1 UNION SELECT k + 1 FROM n WHERE k < "
             "(SELECT count(*) FROM nodes)) SELECT k FROM n ORDER BY k"),
    ]


def _run(eng: Engine, rows: list[dict[str, Any]], cut: int) -> list[Any]:
    with eng.connect() as conn:
        conn.execute(nodes.delete())
        conn.execute(totals.delete())
        if rows[:cut]:
            conn.execute(insert(nodes), rows[:cut])
        conn.commit()
        if rows[cut:]:  # pending writes: the CTEs read them too
            conn.execute(insert(nodes), rows[cut:])
        out = [conn.execute(q).all() for q in _queries()]
        per_tag = select(nodes.c.tag, func.count()).group_by(nodes.c.tag).cte("per_tag")
        conn.execute(insert(totals).from_select(["tag", "n"], select(per_tag)))
        deep = select(nodes.c.id).where(nodes.c.parent.is_not(None)).cte("deep")
        conn.execute(update(nodes).where(nodes.c.id.in_(select(deep.c.id))).values(tag="z"))
        out.append(conn.execute(select(totals.c.tag, totals.c.n).order_by(totals.c.tag)).all())
        out.append(conn.execute(select(nodes).order_by(nodes.c.id)).all())
        conn.rollback()
        return out


@given(rows=forest, cut=st.integers(0, 10))
@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_ctes_give_sqlites_rows(pair: tuple[Engine, Engine], rows: list[dict[str, Any]],
                                cut: int) -> None:
    target, oracle = pair
    assert _run(target, rows, cut) == _run(oracle, rows, cut)


@pytest.mark.parametrize("statement, construct", [
    ("WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n UNION ALL SELECT 2) "
     "SELECT k FROM n", "anchor UNION [ALL] step"),
    ("WITH RECURSIVE n AS (SELECT k + 1 FROM n UNION ALL SELECT 1) SELECT 1",
     "first SELECT reads itself"),
    ("WITH c(a) AS (SELECT * FROM nodes) SELECT a FROM c", "over SELECT *"),
])
def test_cte_forms_outside_sqlites_recursive_shape_are_refused(
        engine: Engine, statement: str, construct: str) -> None:
    metadata.create_all(engine)
    with engine.connect() as conn, pytest.raises(exc.NotSupportedError) as info:
        conn.execute(text(statement))
    assert construct in str(info.value)
