"""DROP TABLE inside a transaction: the dropped collection's pending writes go with it.

DDL applies at once, not transactionally (as in RavenDB). A DROP discards the pending writes
to that collection in the dropping connection's transaction, as SQLite's DROP TABLE inside a
transaction drops the rows that transaction wrote: a table created again is empty, COMMIT
sends the other collections' writes, and savepoints taken before the DROP still work.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select
from sqlalchemy.engine import Engine


def _tables() -> tuple[MetaData, Table, Table]:
    meta = MetaData()
    dropped = Table("dropped", meta, Column("id", Integer, primary_key=True),
                    Column("name", String(10)))
    kept = Table("kept", meta, Column("id", Integer, primary_key=True), Column("name", String(10)))
    return meta, dropped, kept


def _drop_recreate(eng: Engine) -> list[Any]:
    meta, dropped, kept = _tables()
    meta.create_all(eng)
    with eng.begin() as conn:
        conn.execute(insert(dropped), [{"id": 1, "name": "old"}])
    with eng.begin() as conn:
        conn.execute(insert(kept), [{"id": 1, "name": "k"}])
        conn.execute(insert(dropped), [{"id": 2, "name": "pending"}])
        dropped.drop(conn)
        dropped.create(conn)
        seen_after_recreate = conn.execute(select(dropped)).all()
        conn.execute(insert(dropped), [{"id": 2, "name": "new"}])  # the same id again
    with eng.connect() as conn:
        return [seen_after_recreate, conn.execute(select(dropped)).all(),
                conn.execute(select(kept)).all()]


def test_recreated_table_does_not_show_the_dropped_tables_pending_rows(
        engine: Engine, oracle: Engine) -> None:
    want = _drop_recreate(oracle)
    assert want == [[], [(2, "new")], [(1, "k")]]
    assert _drop_recreate(engine) == want


def _insert_then_drop(eng: Engine) -> list[Any]:
    meta, dropped, kept = _tables()
    meta.create_all(eng)
    with eng.begin() as conn:
        conn.execute(insert(kept), [{"id": 1, "name": "a"}])
        conn.execute(insert(dropped), [{"id": 1, "name": "x"}])
        dropped.drop(conn)
    with eng.connect() as conn:
        return [conn.execute(select(kept)).all(), dropped.name in _names(conn)]


def _names(conn: Any) -> list[str]:
    from sqlalchemy import inspect

    return inspect(conn).get_table_names()


def test_insert_then_drop_commits_the_other_writes(engine: Engine, oracle: Engine) -> None:
    want = _insert_then_drop(oracle)
    assert want == [[(1, "a")], False]
    assert _insert_then_drop(engine) == want


def _savepoints_around_drop(eng: Engine) -> list[Any]:
    meta, dropped, kept = _tables()
    meta.create_all(eng)
    with eng.begin() as conn:
        conn.execute(insert(kept), [{"id": 1, "name": "before"}])
        conn.execute(insert(dropped), [{"id": 1, "name": "x"}])
        outer = conn.begin_nested()
        conn.execute(insert(kept), [{"id": 2, "name": "inside"}])
        conn.execute(insert(dropped), [{"id": 2, "name": "y"}])
        dropped.drop(conn)
        conn.execute(insert(kept), [{"id": 3, "name": "after"}])
        outer.rollback()  # undoes kept 2 and 3, not the DROP (DDL is not transactional here)
        conn.execute(insert(kept), [{"id": 4, "name": "last"}])
    with eng.connect() as conn:
        return conn.execute(select(kept).order_by(kept.c.id)).all()


def test_savepoint_taken_before_a_drop_still_rolls_back_exactly(engine: Engine) -> None:
    assert _savepoints_around_drop(engine) == [(1, "before"), (4, "last")]
