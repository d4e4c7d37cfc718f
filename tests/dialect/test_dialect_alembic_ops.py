"""Alembic operations over collections with documents, on the embedded store and on RavenDB:
foreign keys recorded and reflected, renames that move the data, type changes that convert or
refuse, NOT NULL over existing nulls refused before anything changes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import (
    Column,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    exc,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Engine


def _setup(engine: Engine) -> None:
    meta = MetaData()
    Table("users", meta, Column("id", Integer, primary_key=True), Column("name", String(20)),
          Column("age", String(10)))
    Table("posts", meta, Column("id", Integer, primary_key=True),
          Column("user_id", ForeignKey("users.id", ondelete="CASCADE", name="fk_posts_user")))
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(meta.tables["users"]),
                     [{"id": 1, "name": "a", "age": "30"}, {"id": 2, "name": None, "age": "41"}])


def _op(engine: Engine, action: Callable[[Operations], Any]) -> None:
    with engine.begin() as conn:
        action(Operations(MigrationContext.configure(conn)))


def _rows(engine: Engine, table: str, *cols: str) -> list[Any]:
    t = Table(table, MetaData(), autoload_with=engine)
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            select(*(t.c[c] for c in cols)).order_by(t.c.id)).all()]


def test_foreign_keys_are_stored_and_reflected(engine: Engine) -> None:
    _setup(engine)
    fks = inspect(engine).get_foreign_keys("posts")
    assert fks == [{"name": "fk_posts_user", "constrained_columns": ["user_id"],
                    "referred_schema": None, "referred_table": "users",
                    "referred_columns": ["id"], "options": {"ondelete": "CASCADE"}}]


def test_create_and_drop_foreign_key_are_recorded(engine: Engine) -> None:
    _setup(engine)
    _op(engine, lambda op: op.add_column("users", Column("boss_id", Integer)))
    _op(engine, lambda op: op.create_foreign_key("fk_boss", "users", "users", ["boss_id"],
                                                 ["id"]))
    fks = inspect(engine).get_foreign_keys("users")
    assert [(f["name"], f["constrained_columns"], f["referred_table"]) for f in fks] == [
        ("fk_boss", ["boss_id"], "users")]
    _op(engine, lambda op: op.drop_constraint("fk_boss", "users", type_="foreignkey"))
    assert inspect(engine).get_foreign_keys("users") == []


def test_rename_table_keeps_documents_and_ids(engine: Engine) -> None:
    _setup(engine)
    _op(engine, lambda op: op.rename_table("users", "people"))
    assert "users" not in inspect(engine).get_table_names()
    assert _rows(engine, "people", "id", "name") == [(1, "a"), (2, None)]
    people = Table("people", MetaData(), autoload_with=engine)
    with engine.begin() as conn:
        conn.execute(insert(people).values(name="c"))  # the key sequence goes on
    assert _rows(engine, "people", "id", "name") == [(1, "a"), (2, None), (3, "c")]


def test_rename_column_moves_the_values(engine: Engine) -> None:
    _setup(engine)
    _op(engine, lambda op: op.alter_column("users", "name", new_column_name="full_name"))
    cols = [c["name"] for c in inspect(engine).get_columns("users")]
    assert cols == ["id", "full_name", "age"]
    assert _rows(engine, "users", "id", "full_name") == [(1, "a"), (2, None)]


def test_type_change_converts_stored_values(engine: Engine) -> None:
    _setup(engine)
    _op(engine, lambda op: op.alter_column("users", "age", type_=Integer,
                                           existing_type=String(10)))
    assert _rows(engine, "users", "id", "age") == [(1, 30), (2, 41)]
    t = Table("users", MetaData(), autoload_with=engine)
    with engine.connect() as conn:
        assert conn.scalars(select(t.c.id).where(t.c.age > 35)).all() == [2]


def test_type_change_to_text_converts_numbers(engine: Engine) -> None:
    _setup(engine)
    _op(engine, lambda op: op.alter_column("users", "age", type_=Integer))
    _op(engine, lambda op: op.alter_column("users", "age", type_=String(10)))
    assert _rows(engine, "users", "id", "age") == [(1, "30"), (2, "41")]


def test_rename_column_follows_into_indexes_and_unique_constraints(engine: Engine) -> None:
    _setup(engine)
    _op(engine, lambda op: op.create_index("ix_users_age", "users", ["age"]))
    _op(engine, lambda op: op.create_unique_constraint("uq_users_name", "users", ["name"]))
    _op(engine, lambda op: op.alter_column("users", "name", new_column_name="nick"))
    _op(engine, lambda op: op.alter_column("users", "age", new_column_name="years"))
    insp = inspect(engine)
    assert {i["name"]: i["column_names"] for i in insp.get_indexes("users")} == {
        "ix_users_age": ["years"], "uq_users_name": ["nick"]}
    t = Table("users", MetaData(), autoload_with=engine)
    with pytest.raises(exc.IntegrityError), engine.begin() as conn:
        conn.execute(insert(t).values(id=3, nick="a"))
    with engine.connect() as conn:
        assert conn.scalars(select(t.c.id).where(t.c.years == "41")).all() == [2]


def test_type_change_refused_when_a_value_does_not_fit(engine: Engine) -> None:
    _setup(engine)
    with pytest.raises(exc.OperationalError, match=r"users\.name to INTEGER.*'a'"):
        _op(engine, lambda op: op.alter_column("users", "name", type_=Integer))
    assert inspect(engine).get_columns("users")[1]["type"].python_type is str
    assert _rows(engine, "users", "id", "name") == [(1, "a"), (2, None)]


def test_not_null_over_existing_nulls_is_refused_and_changes_nothing(engine: Engine) -> None:
    _setup(engine)
    with pytest.raises(exc.IntegrityError, match=r"NOT NULL constraint failed: users\.name"):
        _op(engine, lambda op: op.alter_column("users", "name", nullable=False,
                                               new_column_name="nm"))
    cols = {c["name"]: c["nullable"] for c in inspect(engine).get_columns("users")}
    assert cols == {"id": False, "name": True, "age": True}
    assert _rows(engine, "users", "id", "name") == [(1, "a"), (2, None)]


def test_a_key_column_made_nullable_is_refused_and_changes_nothing(engine: Engine) -> None:
    _setup(engine)
    with pytest.raises(exc.ProgrammingError, match=r"users\.id nullable: the column is in the "
                       r"primary key"):
        _op(engine, lambda op: op.alter_column("users", "id", nullable=True))
    cols = {c["name"]: c["nullable"] for c in inspect(engine).get_columns("users")}
    assert cols == {"id": False, "name": True, "age": True}
    assert _rows(engine, "users", "id", "name") == [(1, "a"), (2, None)]


def test_add_not_null_column_without_default_is_refused_on_documents(engine: Engine) -> None:
    _setup(engine)
    with pytest.raises(exc.IntegrityError, match=r"NOT NULL constraint failed: users\.level"):
        _op(engine, lambda op: op.add_column("users", Column("level", Integer,
                                                             nullable=False)))
    assert [c["name"] for c in inspect(engine).get_columns("users")] == ["id", "name", "age"]
    t = Table("users", MetaData(), autoload_with=engine)
    with engine.begin() as conn:  # later, unrelated writes still work
        conn.execute(insert(t).values(id=3, name="c"))
    assert _rows(engine, "users", "id", "name") == [(1, "a"), (2, None), (3, "c")]


def test_add_not_null_column_on_an_empty_collection_is_accepted(engine: Engine) -> None:
    _setup(engine)
    _op(engine, lambda op: op.add_column("posts", Column("title", String(9), nullable=False)))
    assert inspect(engine).get_columns("posts")[-1]["nullable"] is False


def test_not_null_after_filling_the_nulls_is_accepted(engine: Engine) -> None:
    _setup(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE users SET name = 'b' WHERE id = 2"))
    _op(engine, lambda op: op.alter_column("users", "name", nullable=False,
                                           server_default="x"))
    col = inspect(engine).get_columns("users")[1]
    assert (col["nullable"], col["default"]) == (False, "'x'")
    t = Table("users", MetaData(), autoload_with=engine)
    with engine.begin() as conn:
        conn.execute(insert(t).values(id=3))
    assert _rows(engine, "users", "id", "name") == [(1, "a"), (2, "b"), (3, "x")]


def test_drop_column_removes_the_values(engine: Engine) -> None:
    _setup(engine)
    _op(engine, lambda op: op.drop_column("users", "age"))
    _op(engine, lambda op: op.add_column("users", Column("age", String(10))))
    assert _rows(engine, "users", "id", "age") == [(1, None), (2, None)]


def test_drop_column_in_a_foreign_key_is_refused(engine: Engine) -> None:
    _setup(engine)
    with pytest.raises(exc.OperationalError, match="posts.user_id: used by foreign key"):
        _op(engine, lambda op: op.drop_column("posts", "user_id"))


def test_create_unique_constraint_is_reflected_and_dropped(engine: Engine) -> None:
    _setup(engine)
    _op(engine, lambda op: op.create_unique_constraint("uq_users_name", "users", ["name"]))
    t = Table("users", MetaData(), autoload_with=engine)
    with pytest.raises(exc.IntegrityError), engine.begin() as conn:
        conn.execute(insert(t).values(id=3, name="a"))
    _op(engine, lambda op: op.drop_constraint("uq_users_name", "users", type_="unique"))
    with engine.begin() as conn:
        conn.execute(insert(t).values(id=3, name="a"))
    assert _rows(engine, "users", "id", "name") == [(1, "a"), (2, None), (3, "a")]


def test_create_unique_constraint_over_duplicates_is_refused(engine: Engine) -> None:
    _setup(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE users SET age = '30' WHERE id = 2"))
    with pytest.raises(exc.IntegrityError):
        _op(engine, lambda op: op.create_unique_constraint("uq_age", "users", ["age"]))
    assert inspect(engine).get_indexes("users") == []


def _failing_migration(op: Operations) -> None:
    op.rename_table("posts", "articles")
    op.alter_column("users", "age", type_=Integer, existing_type=String(10))
    op.alter_column("users", "name", new_column_name="full_name")
    op.create_index("ix_users_age", "users", ["age"])
    op.drop_constraint("fk_posts_user", "articles", type_="foreignkey")
    op.execute(text("UPDATE users SET age = 99 WHERE id = 1"))
    op.bulk_insert(Table("users", MetaData(), Column("id", Integer), Column("age", Integer)),
                   [{"id": 7, "age": 1}])
    op.drop_table("articles")
    op.add_column("users", Column("level", Integer, nullable=False))  # NULLs: refused


def _state(engine: Engine) -> list[Any]:
    insp = inspect(engine)
    tables = sorted(insp.get_table_names())
    def columns(t: str) -> list[Any]:
        return [(c["name"], str(c["type"]), c["nullable"], c["default"])
                for c in insp.get_columns(t)]

    return [tables] + [(t, columns(t), insp.get_indexes(t), insp.get_foreign_keys(t),
                        _rows(engine, t, *[c["name"] for c in insp.get_columns(t)]))
                       for t in tables]


def test_a_migration_that_cannot_complete_changes_nothing(engine: Engine) -> None:
    _setup(engine)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO posts (id, user_id) VALUES (1, 2)"))
    before = _state(engine)
    with pytest.raises(exc.IntegrityError, match=r"NOT NULL constraint failed: users\.level"):
        with engine.connect() as conn:
            context = MigrationContext.configure(conn)
            with context.begin_transaction(_per_migration=True):
                _failing_migration(Operations(context))
    assert _state(engine) == before
    with engine.begin() as conn:  # the store is usable: keys go on, the index name is free
        conn.execute(text("INSERT INTO users (name) VALUES ('z')"))
    _op(engine, lambda op: op.create_index("ix_users_age", "users", ["age"]))
    rows = _rows(engine, "users", "id", "name")
    # HiLo ids skip what the undone migration used (as a sequence does), never collide
    assert rows[:2] == [(1, "a"), (2, None)] and rows[2][0] > 2 and rows[2][1] == "z"


def test_a_completed_migration_is_kept(engine: Engine) -> None:
    _setup(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn)
        with context.begin_transaction(_per_migration=True):
            op = Operations(context)
            op.rename_table("posts", "articles")
            op.execute(text("UPDATE users SET name = 'b' WHERE id = 2"))
            op.alter_column("users", "name", nullable=False)
    assert sorted(inspect(engine).get_table_names()) == ["articles", "users"]
    assert _rows(engine, "users", "id", "name") == [(1, "a"), (2, "b")]


def test_type_change_that_would_repeat_a_unique_value_is_refused(engine: Engine) -> None:
    meta = MetaData()
    codes = Table("codes", meta, Column("id", Integer, primary_key=True),
                  Column("code", String(5), unique=True))
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(codes), [{"id": 1, "code": "7"}, {"id": 2, "code": "07"}])
    with pytest.raises(exc.IntegrityError, match=r"UNIQUE constraint failed: codes\(code\)"):
        _op(engine, lambda op: op.alter_column("codes", "code", type_=Integer))
    assert _rows(engine, "codes", "id", "code") == [(1, "7"), (2, "07")]


def test_a_renamed_table_keeps_its_unique_constraint_and_frees_its_name(engine: Engine) -> None:
    meta = MetaData()
    Table("codes", meta, Column("id", Integer, primary_key=True),
          Column("code", String(5), unique=True))
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO codes (id, code) VALUES (1, 'a')"))
    _op(engine, lambda op: op.rename_table("codes", "labels"))
    with pytest.raises(exc.IntegrityError), engine.begin() as conn:
        conn.execute(text("INSERT INTO labels (id, code) VALUES (2, 'a')"))
    meta.create_all(engine)  # "codes" again, with its own unique constraint
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO codes (id, code) VALUES (1, 'a')"))
    with pytest.raises(exc.IntegrityError), engine.begin() as conn:
        conn.execute(text("INSERT INTO codes (id, code) VALUES (2, 'a')"))
    assert _rows(engine, "labels", "id", "code") == [(1, "a")]


def test_autogenerate_finds_nothing_right_after_create_all(engine: Engine) -> None:
    """``alembic check`` is clean after ``upgrade head``: every type, default, key, index,
    unique constraint and foreign key reflects as declared (defaults compared too)."""
    from alembic.autogenerate import compare_metadata
    from sqlalchemy import (
        JSON,
        BigInteger,
        Boolean,
        CheckConstraint,
        Computed,
        Date,
        DateTime,
        Float,
        ForeignKeyConstraint,
        Index,
        LargeBinary,
        Numeric,
        Text,
        UniqueConstraint,
        Uuid,
        func,
    )

    meta = MetaData()
    Table("t", meta, Column("id", Integer, primary_key=True), Column("b", Boolean),
          Column("dt", DateTime), Column("d", Date), Column("n", Numeric(10, 2)),
          Column("f", Float), Column("tx", Text), Column("j", JSON), Column("u", Uuid),
          Column("bi", BigInteger), Column("lb", LargeBinary),
          Column("s", String(20), server_default="x"),
          Column("ts", DateTime, server_default=func.now()),
          Column("c", Integer, Computed("id + 1")),
          CheckConstraint("bi > 0", name="ck_bi"), UniqueConstraint("s", name="uq_s"),
          Index("ix_tx", "tx"))
    Table("t2", meta, Column("id", Integer, primary_key=True),
          Column("t_id", ForeignKey("t.id")), Column("other", Integer),
          ForeignKeyConstraint(["other"], ["t.id"], name="fk_other", onupdate="CASCADE"))
    meta.create_all(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True})
        assert compare_metadata(context, meta) == []


def test_batch_alter_table_and_add_column_with_a_foreign_key(engine: Engine) -> None:
    # No table copy is needed (requires_recreate_in_batch is False): each op is done in place.
    _setup(engine)

    def migrate(op: Operations) -> None:
        with op.batch_alter_table("posts") as batch:
            batch.add_column(Column("editor_id", ForeignKey("users.id", name="fk_editor")))
            batch.alter_column("user_id", new_column_name="author_id")

    _op(engine, migrate)
    fks = inspect(engine).get_foreign_keys("posts")
    assert sorted((f["name"], f["constrained_columns"][0]) for f in fks) == [
        ("fk_editor", "editor_id"), ("fk_posts_user", "author_id")]


def test_foreign_keys_follow_a_renamed_table_and_column(engine: Engine) -> None:
    # As SQLite's ALTER TABLE ... RENAME rewrites the references to the table and column.
    _setup(engine)
    _op(engine, lambda op: op.alter_column("users", "id", new_column_name="uid"))
    _op(engine, lambda op: op.rename_table("users", "people"))
    fks = inspect(engine).get_foreign_keys("posts")
    assert [(f["referred_table"], f["referred_columns"]) for f in fks] == [("people", ["uid"])]
