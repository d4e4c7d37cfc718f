"""Window functions (OVER with partitions, orderings and frames) and aggregate FILTER,
compared with SQLite on both backends."""

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
    Numeric,
    String,
    Table,
    exc,
    func,
    insert,
    select,
)

metadata = MetaData()
scores = Table("scores", metadata, Column("id", Integer, primary_key=True),
               Column("team", String(3)), Column("points", Integer), Column("share", Numeric(8, 2)))
rows_ = st.lists(st.fixed_dictionaries({
    "team": st.one_of(st.none(), st.sampled_from(["a", "b"])),
    "points": st.one_of(st.none(), st.integers(-5, 5)),
}), max_size=8)


def _queries(low: int, span: int) -> list[Any]:
    c = scores.c
    return [
        select(c.id, func.row_number().over(partition_by=c.team, order_by=(c.points, c.id)),
               func.rank().over(order_by=c.points), func.dense_rank().over(order_by=c.points),
               func.lag(c.points, 1).over(order_by=c.id), func.lead(c.points).over(
                   order_by=c.id)).order_by(c.id),
        select(c.id, func.sum(c.points).over(order_by=c.id, rows=(-span, 0)),
               func.count(c.points).over(partition_by=c.team),
               func.max(c.points).over(partition_by=c.team, order_by=c.id, rows=(None, None)),
               func.avg(c.points).over(order_by=c.points, range_=(-span, span)),
               func.first_value(c.points).over(partition_by=c.team, order_by=c.id),
               func.ntile(2).over(order_by=c.id)).order_by(c.id),
        select(c.team, func.count(c.id).filter(c.points > low),
               func.sum(c.points).filter(c.points < low)).group_by(c.team).order_by(c.team),
        select(c.id, func.count().filter(c.points > low).over(partition_by=c.team))
        .order_by(c.id),
    ]


def _run(eng: Engine, rows: list[dict[str, Any]], low: int, span: int) -> list[Any]:
    with eng.begin() as conn:
        conn.execute(scores.delete())
        if rows:
            conn.execute(insert(scores), [dict(r, id=i) for i, r in enumerate(rows, 1)])
        return [conn.execute(q).all() for q in _queries(low, span)]


@given(rows=rows_, low=st.integers(-5, 5), span=st.integers(0, 3))
@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_window_functions_give_sqlites_values(pair: tuple[Engine, Engine],
                                              rows: list[dict[str, Any]], low: int,
                                              span: int) -> None:
    target, oracle = pair
    assert _run(target, rows, low, span) == _run(oracle, rows, low, span)


def test_a_sum_over_a_window_of_a_numeric_column_is_refused(engine: Engine) -> None:
    # SQLite would sum the decimals in doubles; the exact sum is an aggregate, not a window
    metadata.create_all(engine)
    with engine.connect() as conn, pytest.raises(exc.NotSupportedError, match="NUMERIC"):
        conn.execute(select(func.sum(scores.c.share).over(order_by=scores.c.id)))


def test_a_window_function_without_over_is_refused(engine: Engine) -> None:
    metadata.create_all(engine)
    with engine.connect() as conn, pytest.raises(exc.NotSupportedError, match="without OVER"):
        conn.execute(select(func.row_number()))
