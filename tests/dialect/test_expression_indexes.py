"""Indexes on expressions (JSON paths, functions) and in descending order: created by
``create_all``, kept in the collection schema, reflected, dropped; on the embedded store a real
SQLite index that the planner uses for a WHERE on the same expression."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Column,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    exc,
    func,
    inspect,
    select,
)
from sqlalchemy.schema import CreateIndex

from sqla_docstore.dbapi import params
from sqla_docstore.statements.prepared import prepare


def _table(metadata: MetaData) -> Table:
    t = Table("items", metadata,
              Column("id", Integer, primary_key=True),
              Column("name", String(30)),
              Column("data", JSON))
    Index("ix_items_ab", t.c.data["a"]["b"].as_string())
    Index("ix_items_lower", func.lower(t.c.name))
    Index("ix_items_name_desc", t.c.name.desc(), t.c.id)
    return t


def _plan(engine: Engine, stmt: Any) -> list[str]:
    compiled = stmt.compile(engine)
    prep = prepare(str(compiled))  # the values by the names the DB-API gives ? parameters
    values = tuple(compiled.params[name] for name in compiled.positiontup or ())
    raw = engine.raw_connection()
    try:
        return raw.dbapi_connection.backend.query_plan(  # type: ignore[union-attr]
            prep.stmt, params.bind(prep, values))
    finally:
        raw.close()


EXPECTED_INDEXES = [
    {"name": "ix_items_ab", "column_names": [None], "unique": False, "dialect_options": {},
     "expressions": ["CAST(data -> 'a' ->> 'b' AS VARCHAR)"]},
    {"name": "ix_items_lower", "column_names": [None], "unique": False, "dialect_options": {},
     "expressions": ["lower(name)"]},
    {"name": "ix_items_name_desc", "column_names": ["name", "id"], "unique": False,
     "dialect_options": {}, "column_sorting": {"name": ("desc",)}},
]


def test_create_all_records_and_reflects_expression_indexes(engine: Engine) -> None:
    metadata = MetaData()
    _table(metadata)
    metadata.create_all(engine)
    indexes = sorted(inspect(engine).get_indexes("items"), key=lambda ix: ix["name"])
    assert indexes == EXPECTED_INDEXES


def test_reflected_indexes_create_the_same_indexes_elsewhere(engine: Engine) -> None:
    metadata = MetaData()
    _table(metadata)
    metadata.create_all(engine)
    reflected = MetaData()
    Table("items", reflected, autoload_with=engine)
    other = create_engine("docstore://")
    reflected.create_all(other)
    assert sorted(inspect(other).get_indexes("items"), key=lambda ix: ix["name"]) == (
        EXPECTED_INDEXES)


def test_queries_on_indexed_expressions_match_sqlite(engine: Engine) -> None:
    oracle = create_engine("sqlite://")
    rows = [{"id": i, "name": f"Name{i % 5}", "data": {"a": {"b": str(i % 7)}} if i % 3 else
             {"a": i}} for i in range(1, 60)]
    results = []
    for eng in (engine, oracle):
        metadata = MetaData()
        t = _table(metadata)
        metadata.create_all(eng)
        with eng.begin() as conn:
            conn.execute(t.insert(), rows)
            results.append([
                conn.execute(select(t.c.id).where(t.c.data["a"]["b"].as_string() == "3")
                             .order_by(t.c.id)).all(),
                conn.execute(select(t.c.id).where(func.lower(t.c.name) == "name2")
                             .order_by(t.c.id)).all(),
                conn.execute(select(t.c.id).order_by(t.c.name.desc(), t.c.id)).all(),
            ])
    assert results[0] == results[1]
    assert len(results[0][0]) == 6


def test_embedded_planner_uses_the_index_on_a_path() -> None:
    engine = create_engine("docstore://")
    metadata = MetaData()
    t = _table(metadata)
    metadata.create_all(engine)
    by_path = select(t.c.id).where(t.c.data["a"]["b"].as_string() == "x")
    by_tuple = select(t.c.id).where(t.c.data[("a", "b")].as_string() > "x")
    by_function = select(t.c.id).where(func.lower(t.c.name) == "x")
    assert _plan(engine, by_path) == ["SEARCH items USING INDEX ix:ix_items_ab (<expr>=?)"]
    assert _plan(engine, by_tuple) == ["SEARCH items USING INDEX ix:ix_items_ab (<expr>>?)"]
    assert _plan(engine, by_function) == [
        "SEARCH items USING INDEX ix:ix_items_lower (<expr>=?)"]
    other_path = select(t.c.id).where(t.c.data["a"]["c"].as_string() == "x")
    assert not any("ix_items_ab" in line for line in _plan(engine, other_path))


def test_index_created_later_is_used_and_drop_index_works() -> None:
    engine = create_engine("docstore://")
    metadata = MetaData()
    t = Table("later", metadata, Column("id", Integer, primary_key=True), Column("data", JSON))
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(t.insert(), [{"id": i, "data": {"k": [i, i * 2]}} for i in range(10)])
    index = Index("ix_later_k1", t.c.data[("k", 1)].as_integer())
    index.create(engine)
    query = select(t.c.id).where(t.c.data["k"][1].as_integer() == 6)
    assert _plan(engine, query) == ["SEARCH later USING INDEX ix:ix_later_k1 (<expr>=?)"]
    with engine.connect() as conn:
        assert conn.execute(query).all() == [(3,)]
    index.drop(engine)
    assert inspect(engine).get_indexes("later") == []
    assert not any("ix_later_k1" in line for line in _plan(engine, query))


def test_index_on_a_path_is_dropped_on_ravendb_too(engine: Engine) -> None:
    metadata = MetaData()
    t = _table(metadata)
    metadata.create_all(engine)
    Index("ix_items_lower", func.lower(t.c.name)).drop(engine)
    names = [ix["name"] for ix in inspect(engine).get_indexes("items")]
    assert sorted(names) == ["ix_items_ab", "ix_items_name_desc"]


def test_unique_index_on_an_expression_is_refused() -> None:
    metadata = MetaData()
    t = Table("u", metadata, Column("id", Integer, primary_key=True), Column("data", JSON))
    index = Index("ix_u", t.c.data["a"].as_string(), unique=True)
    with pytest.raises(exc.CompileError, match="UNIQUE index on an expression"):
        CreateIndex(index).compile(dialect=create_engine("docstore://").dialect)


def test_alembic_autogenerate_sees_expression_indexes_as_unchanged(engine: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    metadata = MetaData()
    _table(metadata)
    metadata.create_all(engine)
    changed = MetaData()
    t = Table("items", changed, Column("id", Integer, primary_key=True),
              Column("name", String(30)), Column("data", JSON))
    Index("ix_items_ab", t.c.data["a"]["b"].as_integer())  # was as_string()
    Index("ix_items_lower", func.lower(t.c.name))
    Index("ix_items_name_desc", t.c.name.desc(), t.c.id)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn)
        fresh = MetaData()
        _table(fresh)
        assert compare_metadata(context, fresh) == []
        diff = compare_metadata(context, changed)
    assert [(op, ix.name) for op, ix in diff] == [("remove_index", "ix_items_ab"),
                                                  ("add_index", "ix_items_ab")]


def test_alembic_drop_of_an_expression_index_is_undone_with_its_migration(
        engine: Engine) -> None:
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    metadata = MetaData()
    _table(metadata)
    metadata.create_all(engine)
    with pytest.raises(RuntimeError, match="stop"), engine.connect() as conn:
        context = MigrationContext.configure(conn)
        with context.begin_transaction(_per_migration=True):
            Operations(context).drop_index("ix_items_ab", table_name="items")
            raise RuntimeError("stop")
    indexes = sorted(inspect(engine).get_indexes("items"), key=lambda ix: ix["name"])
    assert indexes == EXPECTED_INDEXES


def test_create_index_compiles_to_sql_text() -> None:
    metadata = MetaData()
    t = _table(metadata)
    dialect = create_engine("docstore://").dialect
    texts = sorted(str(CreateIndex(ix).compile(dialect=dialect)) for ix in t.indexes)
    assert texts == [
        "CREATE INDEX ix_items_ab ON items (CAST(data -> 'a' ->> 'b' AS VARCHAR))",
        "CREATE INDEX ix_items_lower ON items (lower(name))",
        "CREATE INDEX ix_items_name_desc ON items (name DESC, id)",
    ]


def test_raw_sql_create_index_makes_the_indexes_create_all_makes(engine: Engine) -> None:
    metadata = MetaData()
    t = _table(metadata)
    indexes = list(t.indexes)
    t.indexes.clear()
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE INDEX ix_items_ab ON items "
                             "(CAST(data -> 'a' ->> 'b' AS VARCHAR))")
        conn.exec_driver_sql('create index "ix_items_lower" on "items" (lower(name))')
        conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_items_name_desc ON items "
                             "(name DESC, id ASC)")
    assert sorted(inspect(engine).get_indexes("items"), key=lambda ix: ix["name"]) == (
        EXPECTED_INDEXES)
    with engine.begin() as conn:  # as create_all declares them: the same again is a no-op
        for ix in indexes:
            conn.execute(CreateIndex(ix))


def test_create_index_of_a_taken_name_fails_unless_if_not_exists(engine: Engine) -> None:
    metadata = MetaData()
    _table(metadata)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_items_lower ON items (id)")
    with pytest.raises(exc.OperationalError, match="index ix_items_lower already exists"):
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE INDEX ix_items_lower ON items (id)")
    lower = [ix for ix in inspect(engine).get_indexes("items") if ix["name"] == "ix_items_lower"]
    assert lower[0]["expressions"] == ["lower(name)"]


@pytest.mark.parametrize(("sql", "error"), [
    ("CREATE UNIQUE INDEX ux ON items (lower(name))", "UNIQUE index on an expression"),
    ("CREATE INDEX ix ON items (name) WHERE id > 1", "partial index"),
    ("CREATE INDEX a.ix ON b.items (name)", "different schemas"),
    ("CREATE INDEX ix ON items ()", "expected an expression"),
])
def test_raw_create_index_refusals_name_the_construct(sql: str, error: str) -> None:
    engine = create_engine("docstore://")
    metadata = MetaData()
    _table(metadata)
    metadata.create_all(engine)
    with pytest.raises(exc.DBAPIError, match=error), engine.begin() as conn:
        conn.exec_driver_sql(sql)
    assert len(inspect(engine).get_indexes("items")) == 3
