"""Alembic ``add_column`` on a collection with documents: existing documents get the new
column's default, as existing rows do in SQL, on the embedded store and on RavenDB alike."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import Column, Integer, MetaData, String, Table, exc, func, insert, select, text
from sqlalchemy.engine import Engine


def _people(engine: Engine) -> Table:
    meta = MetaData()
    people = Table("people", meta, Column("id", Integer, primary_key=True),
                   Column("name", String(10)))
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(people), [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}])
    return people


def _add_column(engine: Engine, column: Column[Any]) -> None:
    with engine.begin() as conn:
        Operations(MigrationContext.configure(conn)).add_column("people", column)


def test_add_column_with_default_fills_existing_documents(engine: Engine) -> None:
    _people(engine)
    _add_column(engine, Column("level", Integer, nullable=False, server_default="3"))
    _add_column(engine, Column("tag", String(5), server_default=text("'new'")))
    meta = MetaData()
    people = Table("people", meta, autoload_with=engine)
    with engine.begin() as conn:
        conn.execute(insert(people).values(id=3, name="c"))
        rows = conn.execute(select(people.c.id, people.c.level, people.c.tag)
                            .order_by(people.c.id)).all()
        filtered = conn.scalars(select(people.c.id).where(people.c.level == 3)
                                .order_by(people.c.id)).all()
    assert rows == [(1, 3, "new"), (2, 3, "new"), (3, 3, "new")]
    assert filtered == [1, 2, 3]


def test_add_column_with_a_non_constant_default_is_refused(engine: Engine) -> None:
    # SQLite: "Cannot add a column with non-constant default"
    _people(engine)
    with pytest.raises(exc.CompileError, match="constant default"):
        _add_column(engine, Column("at", String(30), server_default=func.now()))
