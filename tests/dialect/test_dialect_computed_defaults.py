"""SQL server defaults, generated (Computed) columns and per-dialect constraints, with SQLite as
the oracle: each test runs the same statements on ``sqlite://`` and on the engine under test."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    Date,
    DateTime,
    Enum,
    Integer,
    MetaData,
    String,
    Table,
    exc,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import exc as orm_exc


def _both(engine: Engine, oracle: Engine, build: Callable[[MetaData], Table],
          run: Callable[[Any, Table], Any]) -> tuple[Any, Any]:
    """(result on the engine under test, result on SQLite) of ``run`` over a fresh table."""
    out = []
    for eng in (engine, oracle):
        meta = MetaData()
        table = build(meta)
        meta.create_all(eng)
        with eng.connect() as conn:
            out.append(run(conn, table))
            conn.commit()
    return out[0], out[1]


def _defaults_table(meta: MetaData) -> Table:
    return Table(
        "defaults", meta,
        Column("id", Integer, primary_key=True),
        Column("ts_text", String(30), server_default=text("CURRENT_TIMESTAMP")),
        Column("ts_now", DateTime, server_default=func.now()),
        Column("ts_func", DateTime, server_default=func.current_timestamp()),
        Column("day", Date, server_default=text("CURRENT_DATE")),
        Column("clock", String(10), server_default=text("CURRENT_TIME")),
        Column("lowered", String(5), server_default=func.lower("X")),
        Column("two", Integer, server_default=text("1 + 1")),
        Column("as_text", String(5), server_default=text("6 * 7")),
        Column("word", String(5), server_default=text("abc")),
        Column("quoted", String(5), server_default=text("'it''s'")),
        Column("given", String(5), server_default=text("CURRENT_TIMESTAMP")),
    )


def test_sql_function_server_defaults_are_evaluated_at_insert(engine: Engine,
                                                               oracle: Engine) -> None:
    before = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)

    def run(conn: Any, t: Table) -> Any:
        conn.execute(insert(t).values(given="mine"))
        return conn.execute(select(t)).one()

    got, want = _both(engine, oracle, _defaults_table, run)
    after = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    # SQLite's text forms: 'YYYY-MM-DD HH:MM:SS' in UTC, 'HH:MM:SS'
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", got.ts_text)
    assert re.fullmatch(r"\d\d:\d\d:\d\d", got.clock)
    for row in (got, want):
        assert before <= row.ts_now <= after and before <= row.ts_func <= after
        assert row.ts_now.microsecond == 0
        assert row.day in (before.date(), after.date())
    constant = ("id", "lowered", "two", "as_text", "word", "quoted", "given")
    assert [got._mapping[c] for c in constant] == [want._mapping[c] for c in constant]
    assert got.lowered == "x" and got.two == 2 and got.as_text == "42" and got.given == "mine"


def test_timestamp_default_compares_with_bound_datetimes(engine: Engine,
                                                         oracle: Engine) -> None:
    midnight = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, hour=0, minute=0,
                                                          second=0, microsecond=0)

    def run(conn: Any, t: Table) -> Any:
        conn.execute(insert(t))
        return (conn.scalar(select(func.count()).where(t.c.ts_now >= midnight)),
                conn.scalar(select(func.count()).where(t.c.ts_now < midnight)))

    got, want = _both(engine, oracle, _defaults_table, run)
    assert got == want == (1, 0)


def test_sql_server_defaults_are_reflected_as_sqlite_reflects_them(engine: Engine,
                                                                    oracle: Engine) -> None:
    got, want = _both(engine, oracle, _defaults_table, lambda conn, t: {
        c["name"]: c["default"] for c in inspect(conn).get_columns("defaults")})
    # SQLite keeps the DDL's spelling of an unquoted word; the store keeps the string it means
    assert (got.pop("word"), want.pop("word")) == ("'abc'", "abc")
    assert got == want


def _generated_table(meta: MetaData) -> Table:
    return Table(
        "gen", meta,
        Column("id", Integer, primary_key=True),
        Column("a", Integer),
        Column("s", String(10)),
        Column("double", Integer, Computed("a * 2")),
        Column("plus_one", Integer, Computed("double + 1")),  # reads another generated column
        Column("shout", String(10), Computed(func.upper(text("s")))),
        Column("big", Boolean, Computed("a > 5")),
        Column("label", String(20), Computed("id || ':' || coalesce(s, '-')")),
    )


def test_computed_columns_are_stored_on_insert_and_update(engine: Engine,
                                                          oracle: Engine) -> None:
    def run(conn: Any, t: Table) -> Any:
        conn.execute(insert(t), [{"id": 1, "a": 3, "s": "ab"}, {"id": 2, "a": None, "s": None},
                                 {"id": 3, "a": 7, "s": "x"}])
        inserted = conn.execute(insert(t).values(id=4, a=1).returning(t.c.double)).all()
        updated = conn.execute(update(t).where(t.c.id == 1).values(a=t.c.a + 10, s="cd")
                               .returning(t.c.double, t.c.plus_one, t.c.shout)).all()
        conn.execute(update(t).where(t.c.id == 2).values(a=4))
        conn.execute(update(t).where(t.c.id == 3).values(a=t.c.a * 2))  # no RETURNING
        conn.execute(update(t).where(t.c.id == 4).values(a=t.c.a - 1, s=t.c.s + "!"))
        rows = conn.execute(select(t).order_by(t.c.id)).all()
        filtered = conn.scalars(select(t.c.id).where(t.c.plus_one > 8).order_by(t.c.id)).all()
        return inserted, updated, rows, filtered

    got, want = _both(engine, oracle, _generated_table, run)
    assert got == want
    assert got[2][0].double == 26 and got[2][2].double == 28 and got[3] == [1, 2, 3]


def _mixed(meta: MetaData) -> Table:
    return Table(
        "mixed", meta,
        Column("id", Integer, primary_key=True),
        Column("a", Integer),
        Column("s", String(10)),
        Column("double", Integer, Computed("a * 2")),
        Column("mix", Integer, Computed("a + length(s)")),
    )


@pytest.mark.parametrize("first", [
    update(_mixed(MetaData())).where(text("id = 1")).values(a=text("a + 1")),
    update(_mixed(MetaData())).where(text("id = 1")).values(s="yyy"),
], ids=["increment", "blind-write"])
def test_computed_columns_stay_consistent_with_a_concurrent_commit(engine: Engine,
                                                                    first: Any) -> None:
    meta = MetaData()
    t = _mixed(meta)
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(t).values(id=1, a=1, s="x"))
    with engine.connect() as mine, engine.connect() as theirs:
        mine.execute(select(t)).all()  # reads the document, then writes it
        mine.execute(first)
        theirs.execute(update(t).where(t.c.id == 1).values(a=t.c.a + 100))
        theirs.commit()
        try:
            mine.commit()
            committed = True
        except (exc.OperationalError, exc.DBAPIError, orm_exc.StaleDataError):
            committed = False  # refused, never a stale generated value
    with engine.connect() as conn:
        row = conn.execute(select(t)).one()
    assert row.double == 2 * row.a and row.mix == row.a + len(row.s)
    if committed:
        assert (row.a, row.s) in ((102, "x"), (101, "yyy"))


def test_computed_columns_are_recomputed_on_committed_documents(engine: Engine,
                                                               oracle: Engine) -> None:
    def run(conn: Any, t: Table) -> Any:
        conn.execute(insert(t), [{"id": 1, "a": 3, "s": "q"}])
        conn.commit()
        conn.execute(update(t).values(s="z"))  # a change to an input of one generated column
        conn.commit()
        return conn.execute(select(t.c.double, t.c.shout, t.c.label)
                            .where(t.c.shout == "Z")).all()

    got, want = _both(engine, oracle, _generated_table, run)
    assert got == want == [(6, "Z", "1:z")]


@pytest.mark.parametrize("verb", ["insert", "update"])
def test_writing_a_computed_column_is_refused(engine: Engine, oracle: Engine, verb: str) -> None:
    def run(conn: Any, t: Table) -> Any:
        conn.execute(insert(t).values(id=1, a=1))
        stmt = insert(t).values(id=2, double=5) if verb == "insert" else (
            update(t).values(double=5))
        with pytest.raises(exc.OperationalError, match="generated column"):
            conn.execute(stmt)
        return True

    assert _both(engine, oracle, _generated_table, run) == (True, True)


def test_computed_columns_are_reflected(engine: Engine) -> None:
    meta = MetaData()
    _generated_table(meta)
    meta.create_all(engine)
    found = {c["name"]: c.get("computed") for c in inspect(engine).get_columns("gen")}
    assert found["double"] == {"sqltext": "a * 2", "persisted": True}
    assert found["shout"] == {"sqltext": "upper(s)", "persisted": True}
    assert found["a"] is None


@pytest.mark.parametrize("columns", [
    [Column("g", Integer, Computed("random()"))],
    [Column("g", String(30), Computed("CURRENT_TIMESTAMP"))],
    [Column("g", Integer, Computed("nosuch + 1"))],
], ids=["random", "current_timestamp", "unknown-column"])
def test_generated_columns_sqlite_refuses_are_refused_at_create(
        engine: Engine, oracle: Engine, columns: list[Column[Any]]) -> None:
    for eng in (oracle, engine):
        meta = MetaData()
        Table("bad", meta, Column("id", Integer, primary_key=True),
              *[c._copy() for c in columns])
        with pytest.raises(exc.DBAPIError):
            meta.create_all(eng)
    assert not inspect(engine).has_table("bad")


def test_generated_column_loop_is_refused_at_create(engine: Engine) -> None:
    # SQLite accepts the table and fails every write ("generated column loop"); refused earlier
    meta = MetaData()
    Table("bad", meta, Column("id", Integer, primary_key=True),
          Column("g", Integer, Computed("h + 1")), Column("h", Integer, Computed("g + 1")))
    with pytest.raises(exc.ProgrammingError, match="generated column loop"):
        meta.create_all(engine)


def test_default_reading_a_column_is_refused_at_create(engine: Engine, oracle: Engine) -> None:
    for eng in (oracle, engine):
        meta = MetaData()
        Table("bad", meta, Column("id", Integer, primary_key=True),
              Column("g", Integer, server_default=text("(id + 1)")))
        with pytest.raises(exc.DBAPIError, match="not constant"):
            meta.create_all(eng)


def _variant_table(meta: MetaData) -> Table:
    return Table(
        "variants", meta,
        Column("id", Integer, primary_key=True),
        # a CHECK only PostgreSQL gets (its ENUM), a plain string elsewhere
        Column("pg_only", String(10).with_variant(
            Enum("a", "b", name="pg_e", create_constraint=True), "postgresql")),
        # an ENUM's CHECK everywhere except where a variant replaces the type
        Column("not_here", Enum("a", "b", name="e2", create_constraint=True).with_variant(
            String(10), "sqlite", "docstore", "ravendb")),
        Column("everywhere", Enum("a", "b", name="e3", create_constraint=True)),
        CheckConstraint("id < 100", name="pg_small").ddl_if(dialect="postgresql"),
    )


def test_constraints_meant_for_other_dialects_are_not_enforced(engine: Engine,
                                                               oracle: Engine) -> None:
    def run(conn: Any, t: Table) -> Any:
        conn.execute(insert(t).values(id=500, pg_only="zz", not_here="zz", everywhere="a"))
        with pytest.raises(exc.IntegrityError):
            conn.execute(insert(t).values(id=2, everywhere="zz"))
        return conn.execute(select(t)).all()

    got, want = _both(engine, oracle, _variant_table, run)
    assert got == want == [(500, "zz", "zz", "a")]


def test_quoted_json_server_defaults_read_as_their_json_values(engine: Engine,
                                                               oracle: Engine) -> None:
    # (a JSON column's text("'[]'") was stored as the string '[]' and read back as that text,
    # where SQLite stores the text and the JSON type reads back the list)
    def build(meta: MetaData) -> Table:
        return Table("json_defaults", meta, Column("id", Integer, primary_key=True),
                     Column("empty", JSON, server_default=text("'[]'")),
                     Column("obj", JSON, server_default=text("'{\"a\": [1, \"it''s\"]}'")),
                     Column("num", JSON, server_default=text("'5'")),
                     Column("word", JSON, server_default=text("'\"w\"'")))

    def run(conn: Any, t: Table) -> Any:
        conn.execute(insert(t).values(id=1))
        return tuple(conn.execute(select(t)).one())

    got, want = _both(engine, oracle, build, run)
    assert got == want == (1, [], {"a": [1, "it's"]}, 5, "w")


def test_a_non_finite_json_server_default_is_refused(engine: Engine) -> None:
    meta = MetaData()
    Table("json_nan", meta, Column("id", Integer, primary_key=True),
          Column("x", JSON, server_default=text("'NaN'")))
    with pytest.raises(exc.CompileError, match="NaN"):
        meta.create_all(engine)
