"""The test-suite provisioning hooks (``sqla_docstore.dialect.provision``)."""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, Table, create_engine, func, select

from sqla_docstore.dialect.provision import share_memory_store

metadata = MetaData()
things = Table("things", metadata, Column("id", Integer, primary_key=True))


def _count(engine: object) -> int:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        return int(conn.scalar(select(func.count()).select_from(things)))


def test_a_shared_engine_sees_the_main_engines_memory_store() -> None:
    main = create_engine("docstore://")
    metadata.create_all(main)
    with main.begin() as conn:
        conn.execute(things.insert(), [{"id": 1}, {"id": 2}])
    shared, private = create_engine("docstore://"), create_engine("docstore://")
    share_memory_store(shared, main)
    try:
        assert _count(shared) == 2
        with shared.begin() as conn:
            conn.execute(things.insert(), {"id": 3})
        assert _count(main) == 3
        assert _count(private) == 0  # every other docstore:// engine keeps its own store
    finally:
        for eng in (main, shared, private):
            eng.dispose()
