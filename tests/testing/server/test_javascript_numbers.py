"""A patch script leaves the numbers it does not change as they were stored (as RavenDB keeps
the values a script leaves alone): a float without a fraction stays a float, a decimal keeps
its digits, though JavaScript reads both as doubles (2.0 is 2 there)."""

from __future__ import annotations

import decimal
from typing import Any

from sqlalchemy import Column, Engine, Float, Integer, MetaData, Table, literal_column, select

from sqla_docstore.testing.server.javascript import run_patch

metadata = MetaData()
t = Table("t", metadata, Column("id", Integer, primary_key=True), Column("n", Integer),
          Column("f", Float))


def test_numbers_a_script_leaves_alone_keep_their_stored_form() -> None:
    doc: dict[str, Any] = {"f": 2.0, "d": decimal.Decimal("2.50"), "i": 7, "nested": [1.0, 2],
                           "n": 1}
    after = run_patch("this.n = args.v;", doc, {"v": 5})
    assert after == {"f": 2.0, "d": decimal.Decimal("2.50"), "i": 7, "nested": [1.0, 2],
                     "n": 5}
    assert [type(after[k]) for k in ("f", "d", "i")] == [float, decimal.Decimal, int]
    assert type(after["nested"][0]) is float


def test_a_large_double_a_script_leaves_alone_stays_that_double() -> None:
    """JavaScript prints 2.0**63 with an integer's digits (9223372036854776000), another
    number than the double: the stored double is kept (found by the DML differential test)."""
    doc: dict[str, Any] = {"b": 2.0**63, "c": -1e20, "n": 1}
    after = run_patch("this.n = this.n + args.v;", doc, {"v": 5})
    assert after == {"b": 2.0**63, "c": -1e20, "n": 6}
    assert [type(after[k]) for k in ("b", "c")] == [float, float]


def _after_update(eng: Engine) -> list[Any]:
    with eng.begin() as conn:
        conn.execute(t.insert(), [{"id": 1, "n": 1, "f": 5.0}])
    with eng.begin() as conn:
        conn.execute(t.update().where(t.c.id == 1).values(n=2))
    with eng.connect() as conn:  # (f / 2 divides integers if f were stored as 5)
        return [tuple(r) for r in conn.execute(
            select(literal_column("f"), literal_column("f / 2")).select_from(t))]


def test_an_update_of_another_field_keeps_a_floats_value(pair: tuple[Engine, Engine]) -> None:
    docstore, sqlite = (_after_update(eng) for eng in pair)
    assert [tuple(map(type, r)) for r in docstore] == [tuple(map(type, r)) for r in sqlite]
    assert docstore == sqlite == [(5.0, 2.5)]


def test_a_wide_number_a_script_sets_is_kept_though_its_double_is_the_old_ones() -> None:
    doc = {"n": 2**62, "m": 2**62}
    after = run_patch("this.n = args.v;", doc, {"v": 2**62 + 1})
    assert after == {"n": 2**62 + 1, "m": 2**62}


def _set_wide(eng: Engine) -> list[Any]:
    with eng.begin() as conn:
        conn.execute(t.insert(), [{"id": 1, "n": 2**62, "f": 0.5}])
    with eng.begin() as conn:  # (2**62 + 1 and 2**62 are one double)
        conn.execute(t.update().where(t.c.id == 1).values(n=2**62 + 1))
    with eng.connect() as conn:
        return [tuple(r) for r in conn.execute(select(t.c.n, t.c.f))]


def test_an_update_to_a_wide_number_near_the_old_one_is_kept(
        pair: tuple[Engine, Engine]) -> None:
    docstore, sqlite = (_set_wide(eng) for eng in pair)
    assert docstore == sqlite == [(2**62 + 1, 0.5)]


def test_a_number_set_where_a_double_was_is_a_double() -> None:
    doc = {"f": 1.5, "n": 1, "g": None}
    after = run_patch("this.f = this.f + 0.5; this.n = this.n * 2.0; this.g = 3.0;", doc, {})
    assert after == {"f": 2.0, "n": 2, "g": 3}
    assert [type(after[k]) for k in ("f", "n", "g")] == [float, int, int]


def _computed_float(eng: Engine) -> list[Any]:
    with eng.begin() as conn:
        conn.execute(t.insert(), [{"id": 1, "n": 1, "f": 1.5}])
    with eng.begin() as conn:  # (evaluated by the store at commit)
        conn.execute(t.update().values(f=t.c.f + 0.5))
    with eng.connect() as conn:
        return [tuple(r) for r in conn.execute(
            select(literal_column("f"), literal_column("f / 2")).select_from(t))]


def test_a_computed_float_without_a_fraction_stays_a_float(
        pair: tuple[Engine, Engine]) -> None:
    docstore, sqlite = (_computed_float(eng) for eng in pair)
    assert [tuple(map(type, r)) for r in docstore] == [tuple(map(type, r)) for r in sqlite]
    assert docstore == sqlite == [(2.0, 1.0)]
