"""Differential property test for a whole JSON column in SQL: random JSON values (strings of
any printable or control character, quotes and backslashes, integers of any size, reals,
booleans, null, nested objects and arrays) compared, ordered, grouped and cast on
``docstore://`` / ``ravendb://`` and on SQLAlchemy's SQLite dialect (the oracle), which holds
json.dumps' text under NUMERIC affinity. ``JSON_COLUMN_EXAMPLES=N`` sets the number of
examples (default 40, 15 on ravendb://)."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    JSON,
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    cast,
    create_engine,
    delete,
    func,
    insert,
    select,
)

table = Table("jcol", MetaData(), Column("id", Integer, primary_key=True), Column("data", JSON))
D = table.c.data

TEXT = st.text(st.characters(blacklist_characters="\x00", max_codepoint=0x10FF), max_size=4)
SCALARS = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
           | st.integers(-(2**63), 2**63 - 1) | st.integers(-3, 10)
           | st.floats(allow_nan=False, allow_infinity=False, width=64).filter(
               lambda f: f == 0 or 1e-300 < abs(f) < 1e300)
           | st.sampled_from([1.0, -0.0, 1e20, 1e15, 2.5, 1e-7])
           | TEXT | st.sampled_from(["5", "1.0", "x", "", "true", "null", 'a"b', "\\", "é"]))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(TEXT, inner, max_size=3), max_leaves=6)


def _results(engine: Engine, docs: list[Any], probe: Any) -> list[Any]:
    with engine.begin() as conn:
        conn.execute(delete(table))
        conn.execute(insert(table), [{"id": i, "data": d} for i, d in enumerate(docs)])
        ids = select(table.c.id)
        return [
            conn.execute(select(table.c.id, func.typeof(D), cast(D, String), func.length(D))
                         .order_by(table.c.id)).all(),
            conn.execute(ids.order_by(D, table.c.id)).all(),
            conn.execute(select(func.count(), func.min(table.c.id)).group_by(D)
                         .order_by(func.min(table.c.id))).all(),
            conn.execute(ids.where(D == bindparam("v")).order_by(table.c.id),
                         {"v": probe}).all(),
            conn.execute(ids.where(D < bindparam("v")).order_by(table.c.id),
                         {"v": probe}).all(),
        ]


def _check(engine: Engine, examples: int) -> None:
    oracle = create_engine("sqlite://")
    for eng in (engine, oracle):
        table.create(eng)

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.lists(VALUES, min_size=1, max_size=8), st.data())
    def compare(docs: list[Any], data: st.DataObject) -> None:
        probe = data.draw(st.sampled_from([d for d in docs if not isinstance(d, (dict, list))]
                                          or [5]) | st.integers(-3, 10) | TEXT)
        if probe is None:
            probe = "null"
        assert _results(engine, docs, probe) == _results(oracle, docs, probe)

    compare()


def test_whole_json_column_matches_sqlite_on_random_values(engine: Engine) -> None:
    default = 40 if engine.dialect.name == "docstore" else 15
    _check(engine, int(os.environ.get("JSON_COLUMN_EXAMPLES", default)))
