"""EXTRACT(field FROM x), compiled as SQLite's dialect compiles it, compared with SQLite."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Date, DateTime, Engine, Integer, MetaData, Table, extract, select
from sqlalchemy.exc import CompileError

metadata = MetaData()
times = Table("times", metadata, Column("id", Integer, primary_key=True),
              Column("at", DateTime), Column("day", Date))
FIELDS = ("year", "month", "day", "hour", "minute", "second", "doy", "dow", "week", "epoch")


def _fields(eng: Engine, rows: list[dict[str, object]], field: str) -> list[tuple[object, ...]]:
    with eng.begin() as conn:
        conn.execute(times.delete())
        if rows:
            conn.execute(times.insert(), rows)
        query = select(extract(field, times.c.at), extract(field, times.c.day)).where(
            extract(field, times.c.at) >= 0).order_by(times.c.id)
        return list(conn.execute(query).all())


@given(rows=st.lists(st.fixed_dictionaries({
    "at": st.one_of(st.none(), st.datetimes(dt.datetime(1900, 1, 1), dt.datetime(2200, 1, 1))),
    "day": st.one_of(st.none(), st.dates(dt.date(1900, 1, 1), dt.date(2200, 1, 1))),
}), max_size=5), field=st.sampled_from(FIELDS))
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_extract_gives_sqlites_fields(pair: tuple[Engine, Engine],
                                      rows: list[dict[str, object]], field: str) -> None:
    target, oracle = pair
    assert _fields(target, rows, field) == _fields(oracle, rows, field)


def test_extract_of_a_field_sqlite_has_no_code_for_is_refused(engine: Engine) -> None:
    with pytest.raises(CompileError, match="EXTRACT\\(quarter\\)"):
        select(extract("quarter", times.c.at)).compile(engine)
