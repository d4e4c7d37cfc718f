"""Schemas: a schema is a namespace of collections (table ``t`` of schema ``s`` is the
collection ``s.t``), compared with SQLite's attached databases on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    Column,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    exc,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.schema import CreateSchema

metadata = MetaData()
plain = Table("same", metadata, Column("id", Integer, primary_key=True), Column("n", Integer),
              Index("ix_n", "n"))
other = Table("same", metadata, Column("id", Integer, primary_key=True),
              Column("plain_id", ForeignKey("same.id")), Column("s", String(10)),
              Index("ix_n", "s"), schema="other")
rows_ = st.lists(st.integers(-5, 5), max_size=6)


@pytest.fixture
def oracle() -> Iterator[Engine]:
    """SQLite with the schema ``other`` attached, as SQLAlchemy's own tests set it up."""
    eng = create_engine("sqlite://")

    @event.listens_for(eng, "connect")
    def attach(dbapi_conn: Any, record: Any) -> None:
        dbapi_conn.execute("ATTACH DATABASE ':memory:' AS other")

    yield eng
    eng.dispose()


def _run(eng: Engine, ns: list[int], ss: list[int]) -> list[Any]:
    with eng.begin() as conn:
        conn.execute(other.delete())
        conn.execute(plain.delete())
        if ns:
            conn.execute(insert(plain), [{"id": i, "n": n} for i, n in enumerate(ns, 1)])
        if ss:
            conn.execute(insert(other), [{"id": i, "plain_id": (i % max(len(ns), 1)) + 1,
                                          "s": str(v)} for i, v in enumerate(ss, 1)])
        conn.execute(update(other).where(other.c.id > 2).values(s=other.c.s + "!"))
        return [
            conn.execute(select(plain.c.n, other.c.s).join_from(other, plain)
                         .order_by(other.c.id)).all(),
            conn.execute(select(other).where(other.c.s != "0").order_by(other.c.id)).all(),
            conn.execute(select(plain).order_by(plain.c.id)).all(),
        ]


@given(ns=rows_, ss=rows_)
@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_same_named_tables_in_two_schemas_are_two_tables(pair: tuple[Engine, Engine],
                                                         ns: list[int], ss: list[int]) -> None:
    target, oracle = pair
    assert _run(target, ns, ss) == _run(oracle, ns, ss)


def test_reflection_by_schema(engine: Engine) -> None:
    metadata.create_all(engine)
    insp = inspect(engine)
    assert "other" in insp.get_schema_names()
    assert insp.get_table_names("other") == ["same"] and "same" in insp.get_table_names()
    assert insp.has_table("same", schema="other") and not insp.has_table("same", "nowhere")
    assert [c["name"] for c in insp.get_columns("same", schema="other")] == [
        "id", "plain_id", "s"]
    assert [(ix["name"], ix["column_names"]) for ix in insp.get_indexes("same", "other")] == [
        ("ix_n", ["s"])]
    assert [(ix["name"], ix["column_names"]) for ix in insp.get_indexes("same")] == [
        ("ix_n", ["n"])]
    (fk,) = insp.get_foreign_keys("same", schema="other")
    assert (fk["referred_schema"], fk["referred_table"]) == (None, "same")
    metadata.drop_all(engine)
    assert "other" not in inspect(engine).get_schema_names()


def test_a_dotted_table_name_without_a_schema_stays_in_the_default_schema(
        engine: Engine) -> None:
    dotted = Table("a.b", MetaData(), Column("id", Integer, primary_key=True))
    dotted.create(engine)
    insp = inspect(engine)
    assert "a.b" in insp.get_table_names() and "a" not in insp.get_schema_names()
    # the collection name is taken: table b of schema a would be the same collection
    in_schema = Table("b", MetaData(), Column("id", Integer, primary_key=True), schema="a")
    with pytest.raises(exc.OperationalError, match="already exists"):
        in_schema.create(engine, checkfirst=False)


def test_create_schema_is_refused_with_the_reason(engine: Engine) -> None:
    with engine.connect() as conn, pytest.raises(exc.NotSupportedError, match="namespace"):
        conn.execute(CreateSchema("other"))


def _translated_story(eng: Engine) -> list[Any]:
    """Tables of the default schema created, written and read through
    ``schema_translate_map={None: "other"}`` (SQLAlchemy's examples/sharding/
    separate_schema_translates.py), then reflected by schema."""
    meta = MetaData()
    parent = Table("parent", meta, Column("id", Integer, primary_key=True),
                   Column("n", Integer), Index("ix_parent_n", "n"))
    child = Table("child", meta, Column("id", Integer, primary_key=True),
                  Column("parent_id", ForeignKey("parent.id")), Index("ix_child_p", "parent_id"))
    translated = eng.execution_options(schema_translate_map={None: "other"})
    meta.create_all(translated)
    with translated.begin() as conn:
        conn.execute(insert(parent), [{"id": 1, "n": 10}, {"id": 2, "n": 20}])
        conn.execute(insert(child), [{"id": 1, "parent_id": 2}])
        rows = conn.execute(select(parent.c.n, child.c.id).join_from(child, parent)).all()
    insp = inspect(eng)
    fks = insp.get_foreign_keys("child", schema="other")
    return [
        rows,
        [name for name in insp.get_table_names() if name in ("parent", "child")]
        + [name for name in insp.get_table_names() if "." in name],
        sorted(insp.get_table_names(schema="other")),
        [(ix["name"], ix["column_names"]) for ix in insp.get_indexes("parent", "other")],
        [(fk["referred_schema"], fk["referred_table"], fk["referred_columns"]) for fk in fks],
    ]


def test_schema_translate_map_puts_the_tables_in_the_schema_it_names(
        engine: Engine, oracle: Engine) -> None:
    """The tables are created in schema ``other`` (they were the default schema's collections
    ``other.parent``, and a write made the untranslated ``parent`` too, whose index name then
    clashed: 'index ix_parent_n already exists')."""
    want = _translated_story(oracle)
    assert want[0] == [(20, 1)] and want[2] == ["child", "parent"]
    assert _translated_story(engine) == want
