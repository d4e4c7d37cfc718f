"""INSERT ... SELECT, multi-row VALUES and RETURNING of any expression, compared with SQLite.

Each property draws rows (NULL-heavy small integers and short strings), runs one statement on
SQLite (the oracle) and on ``docstore://`` / ``ravendb://``, and compares what the statement
returned, its rowcount and the tables afterwards, exactly.
"""

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
    func,
    insert,
    literal_column,
    select,
    update,
)

from sqla_docstore import errors

metadata = MetaData()
src = Table("src", metadata, Column("id", Integer, primary_key=True), Column("n", Integer),
            Column("s", String(10)))
dst = Table("dst", metadata, Column("id", Integer, primary_key=True), Column("n", Integer),
            Column("s", String(10), server_default="dflt"))

values_ = st.fixed_dictionaries({
    "n": st.one_of(st.none(), st.integers(-50, 50)),
    "s": st.one_of(st.none(), st.text("ab%_ ", max_size=4)),
})
rows_ = st.lists(values_, min_size=0, max_size=6)
SETTINGS = settings(max_examples=15, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def _reset(*engines: Engine) -> None:
    for eng in engines:
        with eng.begin() as conn:
            conn.execute(src.delete())
            conn.execute(dst.delete())


def _run(eng: Engine, rows: list[dict[str, Any]], stmt: Any, skip: int) -> tuple[Any, ...]:
    with eng.begin() as conn:
        if rows:
            conn.execute(insert(src), rows)
        result = conn.execute(stmt)
        returned = sorted((r[skip:] for r in result.all()), key=repr) if (
            result.returns_rows) else None
        # (SQLite's rowcount is not kept for a statement with RETURNING)
        count = result.rowcount if returned is None else len(returned)
    with eng.connect() as conn:
        tables = [conn.execute(select(t.c.n, t.c.s).order_by(t.c.id)).all() for t in (src, dst)]
    return returned, count, tables


def _same(pair: tuple[Engine, Engine], rows: list[dict[str, Any]], stmt: Any,
          skip: int = 0) -> None:
    """The same outcome on both; ``skip`` leading returned columns (ids: HiLo hands out other
    numbers than SQLite's max + 1) are not compared."""
    target, oracle = pair
    _reset(target, oracle)
    assert _run(target, rows, stmt, skip) == _run(oracle, rows, stmt, skip)


@given(rows=rows_, low=st.integers(-60, 60))
@SETTINGS
def test_insert_from_select_inserts_what_the_select_returns(
        pair: tuple[Engine, Engine], rows: list[dict[str, Any]], low: int) -> None:
    query = select(src.c.n * 2, func.upper(src.c.s)).where(src.c.n > low).order_by(src.c.id)
    _same(pair, rows, insert(dst).from_select(["n", "s"], query))


@given(rows=rows_)
@SETTINGS
def test_insert_from_select_fills_omitted_columns_with_their_defaults(
        pair: tuple[Engine, Engine], rows: list[dict[str, Any]]) -> None:
    query = select(src.c.n).order_by(src.c.id)
    _same(pair, rows, insert(dst).from_select(["n"], query).returning(dst.c.n, dst.c.s))


@given(rows=rows_)
@SETTINGS
def test_insert_from_select_of_its_own_table_reads_before_inserting(
        pair: tuple[Engine, Engine], rows: list[dict[str, Any]]) -> None:
    query = select(src.c.n + 100, src.c.s).order_by(src.c.id)
    _same(pair, rows, insert(src).from_select(["n", "s"], query))


@given(rows=rows_, more=st.lists(values_, min_size=1, max_size=5))
@SETTINGS
def test_multi_row_values_insert_every_row(
        pair: tuple[Engine, Engine], rows: list[dict[str, Any]],
        more: list[dict[str, Any]]) -> None:
    _same(pair, rows, insert(dst).values(more).returning(dst.c.id, dst.c.n, dst.c.s), skip=1)


@given(rows=rows_, add=st.integers(-5, 5))
@SETTINGS
def test_returning_expressions_and_functions_of_the_written_row(
        pair: tuple[Engine, Engine], rows: list[dict[str, Any]], add: int) -> None:
    stmt = (update(src).values(n=src.c.n + add)
            .returning((src.c.n * 3).label("triple"), func.coalesce(src.c.s, "none"),
                       func.length(src.c.s), src.c.s + "!"))
    _same(pair, rows, stmt)


@given(rows=rows_)
@SETTINGS
def test_returning_star_and_expressions_of_deleted_rows(
        pair: tuple[Engine, Engine], rows: list[dict[str, Any]]) -> None:
    stmt = src.delete().where(src.c.n > 0).returning(literal_column("*"), src.c.n - 1)
    _same(pair, rows, stmt, skip=1)


def test_returning_a_subquery_is_refused_naming_it(engine: Engine) -> None:
    metadata.create_all(engine)
    with engine.connect() as conn:
        stmt = insert(dst).values(n=1).returning(select(func.count()).select_from(src)
                                                 .scalar_subquery())
        with pytest.raises(Exception) as info:
            conn.execute(stmt)
        assert isinstance(info.value.orig, errors.NotSupportedError)  # type: ignore[attr-defined]
        assert "RETURNING of a subquery" in str(info.value)


@given(rows=rows_, more=st.lists(values_, max_size=6), low=st.integers(-60, 60))
@SETTINGS
def test_update_from_takes_values_from_a_matching_row(
        pair: tuple[Engine, Engine], rows: list[dict[str, Any]], more: list[dict[str, Any]],
        low: int) -> None:
    target, oracle = pair
    _reset(target, oracle)
    for eng in pair:  # dst rows whose n matches src rows (by n) give them their s
        with eng.begin() as conn:
            if more:
                conn.execute(insert(dst), more)
    # (several matching dst rows would let SQLite pick any: the dst values are made unique)
    first = dst.alias("first")
    stmt = (update(src).values(s=dst.c.s + "+", n=src.c.n + dst.c.id * 0)
            .where(src.c.n == dst.c.n).where(dst.c.n > low)
            .where(dst.c.id == select(func.min(first.c.id)).where(first.c.n == src.c.n)
                   .scalar_subquery()))
    assert _run(target, rows, stmt, 0) == _run(oracle, rows, stmt, 0)


@given(rows=rows_, more=st.lists(values_, max_size=6))
@SETTINGS
def test_delete_using_deletes_the_rows_with_a_match(
        pair: tuple[Engine, Engine], rows: list[dict[str, Any]],
        more: list[dict[str, Any]]) -> None:
    target, oracle = pair
    _reset(target, oracle)
    for eng in pair:
        with eng.begin() as conn:
            if more:
                conn.execute(insert(dst), more)
    # SQLite has no DELETE ... USING: its oracle is the same condition as EXISTS
    using = src.delete().where(src.c.n == dst.c.n)
    exists = src.delete().where(select(dst.c.id).where(src.c.n == dst.c.n).exists())
    assert _run(target, rows, using, 0) == _run(oracle, rows, exists, 0)


@pytest.mark.parametrize("text, construct", [
    ("UPDATE src SET n = n FROM dst WHERE src.id = dst.id", "unqualified column n"),
    ("DELETE FROM src USING dst WHERE id = dst.id", "unqualified column id"),
])
def test_multi_table_writes_refuse_unqualified_columns(engine: Engine, text: str,
                                                       construct: str) -> None:
    from sqlalchemy import text as sql

    metadata.create_all(engine)
    with engine.connect() as conn, pytest.raises(Exception) as info:
        conn.execute(sql(text))
    assert isinstance(info.value.orig, errors.NotSupportedError)  # type: ignore[attr-defined]
    assert construct in str(info.value)
