"""A statement compiled again (no compiled cache) maps the schemas of its Tables as a first
compilation does, without searching the statement again, and follows a Table that changed."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    insert,
    select,
)

from sqla_docstore.dialect import mapping


def _table() -> Table:
    return Table("t", MetaData(), Column("id", Integer, primary_key=True),
                 Column("name", String(20)))


def test_a_statement_compiled_again_maps_the_same_schemas() -> None:
    engine = create_engine("docstore://")
    t = _table()
    stmt = select(t).where(t.c.id == bindparam("id"))
    first, again = stmt.compile(engine), stmt.compile(engine)
    assert first is not again
    specs = mapping.mapped_specs(first)
    assert mapping.mapped_specs(again) is specs  # one tuple: one identity check per execute
    assert specs == mapping._specs(mapping._tables(stmt), engine.dialect)  # a fresh search
    assert [s.name for s in specs] == ["t"]
    t.append_column(Column("extra", Integer))  # as a migration's Table gains a column
    changed = mapping.mapped_specs(stmt.compile(engine))
    assert changed is not specs and "extra" in changed[0].field_names


def test_statements_run_without_a_compiled_cache_read_and_write_as_with_one() -> None:
    engine = create_engine("docstore://")
    t = _table()
    stmt = select(t.c.name).where(t.c.id == bindparam("id"))
    add = insert(t)
    with engine.connect().execution_options(compiled_cache=None) as conn:
        for i in range(3):
            conn.execute(add, {"id": i, "name": f"n{i}"})
            assert conn.execute(stmt, {"id": i}).scalar_one() == f"n{i}"
        conn.commit()
    with engine.connect() as conn:
        assert conn.execute(select(t.c.id, t.c.name).order_by(t.c.id)).all() == [
            (0, "n0"), (1, "n1"), (2, "n2")]
