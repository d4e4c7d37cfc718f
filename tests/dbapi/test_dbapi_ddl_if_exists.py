"""``CREATE TABLE / INDEX ... IF NOT EXISTS`` and ``DROP TABLE / INDEX ... IF EXISTS``, in
SQL text and through SQLAlchemy's ``CreateTable(if_not_exists=True)`` / ``DropTable(
if_exists=True)``: nothing happens when there is nothing to do, as in SQLite, on both
backends; without the condition, the same errors as SQLite."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Column, Engine, Index, Integer, MetaData, String, Table, exc, inspect
from sqlalchemy.schema import CreateIndex, CreateTable, DropIndex, DropTable

from sqla_docstore.errors import OperationalError

_STEPS = [
    "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)",
    "INSERT INTO t (v) VALUES ('kept')",
    "CREATE TABLE IF NOT EXISTS t (other INTEGER, columns TEXT)",
    "INSERT INTO t (v) VALUES ('still t')",
    "CREATE INDEX IF NOT EXISTS t_v ON t (v)",
    "CREATE INDEX IF NOT EXISTS t_v ON t (v)",
    "DROP INDEX IF EXISTS t_v",
    "DROP INDEX IF EXISTS t_v",
    "DROP TABLE IF EXISTS nowhere",
    "CREATE TABLE IF NOT EXISTS u (id INTEGER PRIMARY KEY, n INTEGER)",
    "INSERT INTO u (n) VALUES (1)",
    "DROP TABLE IF EXISTS u",
    "CREATE TABLE IF NOT EXISTS u (id INTEGER PRIMARY KEY, w TEXT)",
    "INSERT INTO u (w) VALUES ('new u')",
]
_ERRORS = ["DROP INDEX nowhere", "CREATE TABLE t (id INTEGER PRIMARY KEY)", "DROP TABLE nowhere"]


def _run(eng: Engine) -> list[Any]:
    seen: list[Any] = []
    with eng.connect() as conn:
        for sql in _STEPS:
            conn.exec_driver_sql(sql)
        seen.append(conn.exec_driver_sql("SELECT id, v FROM t ORDER BY id").all())
        seen.append(conn.exec_driver_sql("SELECT id, w FROM u ORDER BY id").all())
        conn.commit()
        for sql in _ERRORS:
            with pytest.raises(exc.OperationalError) as caught:
                conn.exec_driver_sql(sql)
            named = sql.split()[-1] if "(" not in sql else "t"
            seen.append((type(caught.value.orig).__name__, named in str(caught.value.orig)))
            conn.rollback()
    return seen


def test_conditional_ddl_in_sql_text_does_what_sqlite_does(engine: Engine,
                                                            oracle: Engine) -> None:
    assert _run(engine) == _run(oracle)


def test_a_drop_index_of_no_index_names_it(engine: Engine) -> None:
    with pytest.raises(exc.OperationalError) as caught, engine.connect() as conn:
        conn.exec_driver_sql("DROP INDEX nowhere")
    assert isinstance(caught.value.orig, OperationalError)
    assert str(caught.value.orig) == "no such index: nowhere"


def test_sqlalchemys_if_not_exists_and_if_exists_constructs(engine: Engine) -> None:
    metadata = MetaData()
    # a table with an index is created in the JSON form, a plain one as SQL text
    indexed = Table("indexed", metadata, Column("id", Integer, primary_key=True),
                    Column("v", String), Index("indexed_v", "v"))
    plain = Table("plain", metadata, Column("id", Integer, primary_key=True))
    extra = Index("plain_id", plain.c.id)
    with engine.begin() as conn:
        for table in (indexed, plain):
            conn.execute(CreateTable(table, if_not_exists=True))
        conn.execute(indexed.insert(), [{"v": "a"}])
        for table in (indexed, plain):
            conn.execute(CreateTable(table, if_not_exists=True))
        conn.execute(CreateIndex(extra, if_not_exists=True))
        conn.execute(CreateIndex(extra, if_not_exists=True))
        assert conn.execute(indexed.select()).all() == [(1, "a")]
        conn.execute(DropIndex(extra, if_exists=True))
        conn.execute(DropIndex(extra, if_exists=True))
        conn.execute(DropTable(plain, if_exists=True))
        conn.execute(DropTable(plain, if_exists=True))
    names = inspect(engine).get_table_names()
    assert "indexed" in names and "plain" not in names


def test_drop_table_if_exists_discards_the_tables_pending_writes(
        engine: Engine, oracle: Engine) -> None:
    seen = []
    for eng in (engine, oracle):
        with eng.connect() as conn:
            conn.exec_driver_sql("CREATE TABLE p (id INTEGER PRIMARY KEY, v TEXT)")
            conn.exec_driver_sql("CREATE TABLE q (id INTEGER PRIMARY KEY, v TEXT)")
            conn.commit()
            conn.exec_driver_sql("INSERT INTO p (v) VALUES ('gone')")
            conn.exec_driver_sql("INSERT INTO q (v) VALUES ('sent')")
            conn.exec_driver_sql("DROP TABLE IF EXISTS p")
            conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS p (id INTEGER PRIMARY KEY, v TEXT)")
            conn.commit()
            seen.append((conn.exec_driver_sql("SELECT v FROM p").all(),
                         conn.exec_driver_sql("SELECT v FROM q").all()))
    assert seen[0] == seen[1] == ([], [("sent",)])
