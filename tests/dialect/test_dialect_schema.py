"""DDL and reflection: create_all / drop_all, has_table, inspect(), constraints from the DDL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    create_engine,
    exc,
    func,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Engine


def _tables(engine: Engine | None = None) -> tuple[MetaData, Table, Table]:
    unique = [UniqueConstraint("code")]
    meta = MetaData()
    parent = Table(
        "parent", meta,
        Column("id", Integer, primary_key=True),
        Column("name", String(30), nullable=False, index=True),
        Column("code", String(10)),
        *unique,
    )
    child = Table(
        "child", meta,
        Column("id", Integer, primary_key=True),
        Column("parent_id", ForeignKey("parent.id")),
        Column("qty", Integer, nullable=False),
        CheckConstraint("qty >= 0", name="qty_nonneg"),
    )
    return meta, parent, child


def test_create_all_has_table_get_table_names_drop_all(engine: Engine) -> None:
    meta, parent, child = _tables(engine)
    with engine.connect() as conn:
        assert not engine.dialect.has_table(conn, "parent")
    meta.create_all(engine)
    insp = inspect(engine)
    assert sorted(insp.get_table_names()) == ["child", "parent"]
    assert insp.has_table("parent") and insp.has_table("child")
    assert not insp.has_table("nope")
    meta.create_all(engine)  # checkfirst: a second create_all is a no-op
    meta.drop_all(engine)
    assert inspect(engine).get_table_names() == []
    assert not inspect(engine).has_table("parent")


def test_create_existing_table_without_checkfirst_fails(engine: Engine) -> None:
    meta, parent, _ = _tables(engine)
    parent.create(engine)
    with pytest.raises(exc.OperationalError, match="already exists"):
        parent.create(engine, checkfirst=False)


def test_reflection(engine: Engine) -> None:
    meta, parent, child = _tables(engine)
    meta.create_all(engine)
    insp = inspect(engine)
    cols = {c["name"]: c for c in insp.get_columns("parent")}
    assert list(cols) == ["id", "name", "code"]
    assert isinstance(cols["id"]["type"], Integer) and cols["id"]["autoincrement"] is True
    assert isinstance(cols["name"]["type"], String) and cols["name"]["nullable"] is False
    assert cols["code"]["nullable"] is True
    assert insp.get_pk_constraint("parent")["constrained_columns"] == ["id"]
    assert [i["column_names"] for i in insp.get_indexes("parent")] == [["name"]]
    assert [u["column_names"] for u in insp.get_unique_constraints("parent")] == [["code"]]
    with pytest.raises(exc.NoSuchTableError):
        insp.get_columns("nope")


def test_a_primary_key_column_declared_nullable_is_not_null(engine: Engine) -> None:
    # Column(primary_key=True, nullable=True): SQL's PRIMARY KEY still implies NOT NULL (as on
    # PostgreSQL; SQLite alone accepts the NULL); the INSERT fails, not the commit
    meta = MetaData()
    graphs = Table("graphs", meta, Column("id", Integer, primary_key=True),
                   Column("version_id", Integer, primary_key=True, nullable=True),
                   Column("name", String(30)))
    meta.create_all(engine)
    cols = {c["name"]: c for c in inspect(engine).get_columns("graphs")}
    assert (cols["id"]["nullable"], cols["version_id"]["nullable"], cols["name"]["nullable"]) \
        == (False, False, True)
    with engine.connect() as conn:
        conn.execute(insert(graphs).values(id=1, version_id=1, name="kept"))
        with pytest.raises(exc.IntegrityError, match=r"graphs\.version_id \(a primary-key"):
            conn.execute(insert(graphs).values(id=2, version_id=None))
        conn.commit()
        assert conn.execute(select(graphs.c.id, graphs.c.version_id)).all() == [(1, 1)]


def test_reflect_table_into_metadata(engine: Engine) -> None:
    meta, _, _ = _tables(engine)
    meta.create_all(engine)
    reflected = MetaData()
    reflected.reflect(engine)
    assert set(reflected.tables) == {"parent", "child"}
    assert [c.name for c in reflected.tables["child"].primary_key] == ["id"]


def test_create_and_drop_index(engine: Engine) -> None:
    meta, parent, _ = _tables(engine)
    meta.create_all(engine)
    ix = Index("ix_parent_code", parent.c.code)
    ix.create(engine)
    assert {i["name"] for i in inspect(engine).get_indexes("parent")} == {
        "ix_parent_name", "ix_parent_code"
    }
    ix.drop(engine)
    assert {i["name"] for i in inspect(engine).get_indexes("parent")} == {"ix_parent_name"}


def test_table_check_constraint_is_enforced(engine: Engine) -> None:
    meta, parent, child = _tables(engine)
    meta.create_all(engine)
    with pytest.raises(exc.IntegrityError, match="qty_nonneg"), engine.begin() as conn:
        conn.execute(insert(child), {"qty": -1})


def test_column_check_constraint_is_enforced(engine: Engine) -> None:
    meta = MetaData()
    t = Table("col_check", meta, Column("id", Integer, primary_key=True),
              Column("x", Integer, CheckConstraint("x > 0")))
    meta.create_all(engine)
    with pytest.raises(exc.IntegrityError), engine.begin() as conn:
        conn.execute(insert(t), {"x": -1})


def test_unique_constraint_is_enforced_at_commit(engine: Engine) -> None:
    meta, parent, _ = _tables()
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(parent), {"name": "a", "code": "X"})
    with pytest.raises(exc.IntegrityError), engine.begin() as conn:
        conn.execute(insert(parent), {"name": "b", "code": "X"})
    with engine.connect() as conn:
        assert conn.scalar(select(parent.c.name).where(parent.c.code == "X")) == "a"


def test_server_defaults_are_typed(engine: Engine) -> None:
    meta = MetaData()
    t = Table(
        "defaults", meta, Column("id", Integer, primary_key=True),
        Column("n", Integer, server_default="5"),
        Column("m", Integer, server_default=text("7")),
        Column("s", String(5), server_default="abc"),
    )
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(t), {})
        row = conn.execute(select(t.c.n, t.c.m, t.c.s)).one()
    # As on SQLite: an INTEGER column's default '5' is stored as the number 5.
    assert row == (5, 7, "abc")
    assert type(row[0]) is int


def test_server_default_the_store_cannot_evaluate_is_refused_at_create(engine: Engine) -> None:
    meta = MetaData()
    Table("bad_default", meta, Column("id", Integer, primary_key=True),
          Column("at", String(40), server_default=func.gen_random_uuid()))
    with pytest.raises(exc.NotSupportedError, match="gen_random_uuid"):
        meta.create_all(engine)
    assert not inspect(engine).has_table("bad_default")


def test_file_store_schema_persists(db_path: Path) -> None:
    meta, _, _ = _tables()
    first = create_engine(f"docstore:///{db_path}")
    meta.create_all(first)
    first.dispose()
    second = create_engine(f"docstore:///{db_path}")
    try:
        assert sorted(inspect(second).get_table_names()) == ["child", "parent"]
    finally:
        second.dispose()


@pytest.mark.parametrize("use_alter_on", ["constraint", "column"])
def test_cyclic_foreign_keys_with_use_alter_create_reflect_and_drop(
        engine: Engine, use_alter_on: str) -> None:
    """The cycle SQLAlchemy's ConstraintGenTest builds (a.bid -> b.id, b.aid -> a.id, one side
    ``use_alter``): without ALTER TABLE, both constraints are created with their tables."""
    meta = MetaData()
    Table("a", meta, Column("id", Integer, primary_key=True), Column("bid", Integer),
          ForeignKeyConstraint(["bid"], ["b.id"]))
    if use_alter_on == "constraint":
        Table("b", meta, Column("id", Integer, primary_key=True), Column("aid", Integer),
              ForeignKeyConstraint(["aid"], ["a.id"], use_alter=True, name="bfk"))
    else:
        Table("b", meta, Column("id", Integer, primary_key=True),
              Column("aid", Integer, ForeignKey("a.id", name="bfk", use_alter=True)))
    meta.create_all(engine)
    reflected = {name: [(fk["name"], fk["constrained_columns"], fk["referred_table"],
                         fk["referred_columns"]) for fk in inspect(engine).get_foreign_keys(name)]
                 for name in ("a", "b")}
    assert reflected == {"a": [(None, ["bid"], "b", ["id"])],
                         "b": [("bfk", ["aid"], "a", ["id"])]}
    meta.drop_all(engine)
    assert not inspect(engine).has_table("a") and not inspect(engine).has_table("b")
