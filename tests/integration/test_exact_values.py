"""Exact values on both backends: big integers and long decimals round-trip and compare exactly
(exact Python arithmetic is the oracle: SQLite itself compares them as doubles), what can't be
done exactly raises DataError; NUL in strings, odd column names, times with offsets."""

from __future__ import annotations

import datetime as dt
import decimal
import operator
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from sqla_docstore.commands import Batch, Put

D = decimal.Decimal
WIDE_AND_NOT: list[Any] = [
    0, 1, -1, 2**53 - 1, 2**53, 2**53 + 1, 2**63 - 1, 2**63, 2**63 + 1, 2**63 + 2, -(2**63) - 1,
    2**64, 10**30, 10**30 + 1, D("0.1"), D("0.10000000000000000000001"),
    D("0.09999999999999999999999"), D("1E+1000"), D("-1E+1000"), D("1E-400"),
    D("123456789012345.678901234"), D("1.5"), D("9007199254740993.0000000001"),
]
PROBES: list[Any] = WIDE_AND_NOT + [0.1, 2.0**63, 1e300, D("1E+999"), 2**63 + 3]
OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge,
}

metadata = sa.MetaData()
nums = sa.Table(
    "nums", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("d", sa.Numeric(asdecimal=True)),
    sa.Column("other", sa.Numeric(asdecimal=True)),
)


def _exact(value: Any) -> D:
    """The oracle's value: floats are the decimal they print as (as PostgreSQL compares)."""
    return D(repr(value)) if isinstance(value, float) else D(value)


@pytest.fixture
def loaded(engine: Engine) -> Engine:
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(nums.insert(), [{"id": i, "d": v, "other": WIDE_AND_NOT[-1 - i]}
                                     for i, v in enumerate(WIDE_AND_NOT)])
        conn.execute(nums.insert(), [{"id": 100, "d": None, "other": None}])
    raw = engine.raw_connection()  # a document without the fields at all
    try:
        raw.driver_connection.backend.submit(  # type: ignore[union-attr]
            Batch([Put("nums", "nums/101", {"id": 101})]))
    finally:
        raw.close()
    return engine


def _ids(engine: Engine, where: Any) -> list[int]:
    with engine.connect() as conn:
        return sorted(i for i, in conn.execute(sa.select(nums.c.id).where(where)))


def test_numbers_round_trip_exactly(loaded: Engine) -> None:
    with loaded.connect() as conn:
        stored = dict(conn.execute(sa.select(nums.c.id, nums.c.d).where(nums.c.id < 100)).all())
    for i, value in enumerate(WIDE_AND_NOT):
        assert stored[i] == value and str(stored[i]) != "Infinity", (i, value, stored[i])
        assert isinstance(stored[i], D)


@pytest.mark.parametrize("op", list(OPS))
def test_comparisons_follow_exact_arithmetic(loaded: Engine, op: str) -> None:
    wrong = []
    for probe in PROBES:
        expected = [i for i, v in enumerate(WIDE_AND_NOT) if OPS[op](_exact(v), _exact(probe))]
        got = _ids(loaded, nums.c.d.op(op)(sa.bindparam("p", probe)))
        if got != expected:
            wrong.append((op, probe, expected, got))
    assert not wrong, wrong[:3]


def test_in_between_and_distinct_follow_exact_arithmetic(loaded: Engine) -> None:
    values = [_exact(v) for v in WIDE_AND_NOT]
    for probe in PROBES:
        p = _exact(probe)
        pair = [probe, 2**63 + 1]
        assert _ids(loaded, nums.c.d.in_(pair)) == [
            i for i, v in enumerate(values) if v in (p, 2**63 + 1)]
        assert _ids(loaded, nums.c.d.not_in(pair)) == [
            i for i, v in enumerate(values) if v not in (p, 2**63 + 1)]
        assert _ids(loaded, nums.c.d.between(probe, 10**30)) == [
            i for i, v in enumerate(values) if p <= v <= 10**30]
        assert _ids(loaded, nums.c.d.is_distinct_from(probe)) == [
            i for i, v in enumerate(values) if v != p] + [100, 101]
        assert _ids(loaded, nums.c.d.is_not_distinct_from(probe)) == [
            i for i, v in enumerate(values) if v == p]


def test_field_to_field_comparisons_are_exact(loaded: Engine) -> None:
    a, b = nums.alias("a"), nums.alias("b")
    values = [_exact(v) for v in WIDE_AND_NOT]
    with loaded.connect() as conn:
        pairs = conn.execute(sa.select(sa.func.count()).select_from(a.join(b, a.c.d == b.c.d)))
        assert pairs.scalar() == sum(1 for x in values for y in values if x == y)
    others = [_exact(WIDE_AND_NOT[-1 - i]) for i in range(len(values))]
    assert _ids(loaded, nums.c.d < nums.c.other) == [
        i for i, (x, y) in enumerate(zip(values, others, strict=True)) if x < y]


@pytest.mark.parametrize("query", [
    sa.select(nums.c.id).order_by(nums.c.d),
    sa.select(nums.c.d, sa.func.count()).group_by(nums.c.d),
    sa.select(sa.func.max(nums.c.d)),
    sa.select(nums.c.d).distinct(),
    sa.union(sa.select(nums.c.d), sa.select(nums.c.other)),
    sa.select(nums.c.id).where(nums.c.id.in_(sa.select(nums.c.d))),
    sa.select(nums.c.id).where(nums.c.d.in_(sa.select(nums.c.id))),
])
def test_approximate_orderings_raise_data_error(loaded: Engine, query: Any) -> None:
    with loaded.connect() as conn, pytest.raises(sa.exc.DataError, match="double"):
        conn.execute(query).all()


def test_ordering_without_wide_numbers_is_exact(loaded: Engine) -> None:
    small = [i for i, v in enumerate(WIDE_AND_NOT)
             if isinstance(v, int) and abs(v) < 2**53 or v in (D("0.1"), D("1.5"))]
    query = sa.select(nums.c.id).where(nums.c.id.in_(small)).order_by(nums.c.d, nums.c.id)
    with loaded.connect() as conn:
        got = [i for i, in conn.execute(query)]
    assert got == sorted(small, key=lambda i: (_exact(WIDE_AND_NOT[i]), i))


def test_a_string_holding_nul_is_refused_not_silently_unmatched(engine: Engine) -> None:
    table = sa.Table("texts", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("s", sa.String(20)))
    table.metadata.create_all(engine)
    with engine.connect() as conn:
        conn.execute(table.insert(), [{"id": 1, "s": "a"}])
        conn.commit()
        with pytest.raises(sa.exc.DataError, match="NUL"):
            conn.execute(table.insert(), [{"id": 2, "s": "a\x00b"}])
            conn.commit()
        conn.rollback()
        assert conn.execute(sa.select(table.c.id).where(table.c.s == "a")).all() == [(1,)]


ODD_NAMES = ["a\\b", "it's", "tab\there", "new\nline", "é ü", "dot.ted", "$x", "[0]", "\\\\",
             "ctl\x01", "per%cent", "a:b"]


def test_odd_column_names_match_in_where(engine: Engine) -> None:
    table = sa.Table("odd", sa.MetaData(),
                     sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                     *[sa.Column(n, sa.Integer) for n in ODD_NAMES])
    table.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), [{"id": k, **{n: i + 10 * k for i, n in enumerate(ODD_NAMES)}}
                                      for k in (1, 2)])
    with engine.connect() as conn:
        for i, name in enumerate(ODD_NAMES):
            column = table.c[name]
            assert conn.execute(sa.select(table.c.id, column).where(column == i + 10)).all() == [
                (1, i + 10)], name
            assert conn.execute(sa.select(table.c.id).where(column > i + 10)).all() == [(2,)]


def test_time_with_offset_round_trips(engine: Engine) -> None:
    table = sa.Table("times", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("t", sa.Time(timezone=True)))
    table.metadata.create_all(engine)
    values = [dt.time(1, 2, 3, tzinfo=dt.timezone(dt.timedelta(hours=2))),
              dt.time(23, 59, 59, 999999, tzinfo=dt.timezone(-dt.timedelta(hours=5, minutes=30))),
              dt.time(4, 5, 6), dt.time(0, 0, 0, 1, tzinfo=dt.timezone.utc)]
    with engine.begin() as conn:
        conn.execute(table.insert(), [{"id": i + 1, "t": v} for i, v in enumerate(values)])
    with engine.connect() as conn:
        got = [t for t, in conn.execute(sa.select(table.c.t).order_by(table.c.id))]
    assert got == values
    assert [t.utcoffset() for t in got] == [v.utcoffset() for v in values]


def test_rows_by_primary_key_list_come_in_the_order_asked(loaded: Engine) -> None:
    """``pk IN (...)`` is answered by document loads; an ORDER BY must still hold."""
    query = sa.select(nums.c.id).where(nums.c.id.in_([3, 2, 0, 1])).order_by(nums.c.d.desc())
    with loaded.connect() as conn:
        assert [i for i, in conn.execute(query)] == [3, 1, 0, 2]
