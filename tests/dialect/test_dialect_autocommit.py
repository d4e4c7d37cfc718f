"""The AUTOCOMMIT isolation level: each statement is committed as it ends, as on SQLite
(SQLAlchemy's examples/asyncio/gather_orm_statements.py runs its sessions so)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

metadata = sa.MetaData()
items = sa.Table("items", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("name", sa.String(20)))


def _autocommit_story(engine: Engine, other: Engine) -> dict[str, Any]:
    """What an AUTOCOMMIT connection leaves, read through ``other`` (the same store)."""
    metadata.create_all(engine)
    seen: dict[str, Any] = {}
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(items.insert(), {"id": 1, "name": "one"})
        conn.rollback()  # nothing to roll back: the insert was committed
        conn.execute(items.insert(), [{"id": 2, "name": "two"}, {"id": 3, "name": "three"}])
        conn.execute(items.update().where(items.c.id == 3).values(name="THREE"))
        with other.connect() as reader:
            seen["while open"] = reader.execute(
                sa.select(items.c.id, items.c.name).order_by(items.c.id)).all()
        nested = conn.begin_nested()  # a SAVEPOINT begins a transaction, as in SQLite
        conn.execute(items.insert(), {"id": 4, "name": "four"})
        nested.commit()  # its release commits it
        nested = conn.begin_nested()
        conn.execute(items.insert(), {"id": 5, "name": "five"})
        nested.rollback()  # the savepoint stays: the transaction it began is still open
        conn.execute(items.insert(), {"id": 6, "name": "six"})
    with engine.connect() as conn:
        seen["rows"] = conn.execute(
            sa.select(items.c.id, items.c.name).order_by(items.c.id)).all()
    return seen


def test_autocommit_commits_each_statement_as_sqlite_does(tmp_path: Any,
                                                         ravendb_url: str) -> None:
    want = _autocommit_story(*[sa.create_engine(f"sqlite:///{tmp_path / 'oracle.db'}")] * 2)
    assert want["while open"] == [(1, "one"), (2, "two"), (3, "THREE")]
    assert want["rows"] == [(1, "one"), (2, "two"), (3, "THREE"), (4, "four")]
    for url in (f"docstore:///{tmp_path / 'store.db'}", ravendb_url):
        engine = sa.create_engine(url)
        try:
            assert _autocommit_story(engine, engine) == want, url
        finally:
            engine.dispose()


def test_the_level_is_set_per_connection_and_reset_when_it_returns_to_the_pool() -> None:
    engine = sa.create_engine("docstore://")
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            assert conn.get_isolation_level() == "AUTOCOMMIT"
            assert conn.connection.dbapi_connection.autocommit is True
        with engine.connect() as conn:
            assert conn.get_isolation_level() == "READ COMMITTED"
            assert conn.connection.dbapi_connection.autocommit is False
    finally:
        engine.dispose()


def test_an_unknown_isolation_level_is_refused_by_name() -> None:
    engine = sa.create_engine("docstore://")
    try:
        with engine.connect() as conn:
            try:
                conn.execution_options(isolation_level="SERIALIZABLE").execute(sa.text("SELECT 1"))
            except sa.exc.ArgumentError as exc:
                assert "SERIALIZABLE" in str(exc)
            else:
                raise AssertionError("SERIALIZABLE was accepted")
    finally:
        engine.dispose()
