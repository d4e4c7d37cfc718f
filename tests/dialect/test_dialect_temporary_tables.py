"""``Table(..., prefixes=["TEMPORARY"])``: a collection that ends with its connection."""

from __future__ import annotations

from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, insert, inspect, select


def _temporary(metadata: MetaData) -> Table:
    return Table("scratch", metadata, Column("id", Integer, primary_key=True),
                 Column("name", String(20)), prefixes=["TEMPORARY"])


def test_a_temporary_table_is_dropped_when_its_connection_closes(engine: Engine) -> None:
    metadata = MetaData()
    scratch = _temporary(metadata)
    Table("kept", metadata, Column("id", Integer, primary_key=True))
    with engine.connect() as conn:
        metadata.create_all(conn)
        conn.execute(insert(scratch), [{"name": "a"}, {"name": "b"}])
        conn.commit()
        assert conn.execute(select(scratch.c.name).order_by(scratch.c.id)).scalars().all() == [
            "a", "b"]
        inspector = inspect(conn)
        # listed apart from the tables (as SQLite lists temporary tables), reflected by name
        assert inspector.get_table_names() == ["kept"]
        assert [c["name"] for c in inspector.get_columns("scratch")] == ["id", "name"]
        conn.connection.dbapi_connection.close()  # type: ignore[union-attr]
        conn.invalidate()
    with engine.connect() as conn:
        assert not inspect(conn).has_table("scratch")
        assert inspect(conn).has_table("kept")


def test_a_temporary_table_dropped_by_the_application_is_not_dropped_again(
        engine: Engine) -> None:
    scratch = _temporary(MetaData())
    with engine.connect() as conn:
        scratch.create(conn)
        scratch.drop(conn)
        dbapi_conn = conn.connection.dbapi_connection
        assert dbapi_conn is not None
        dbapi_conn.close()  # no error: the drop at close skips it
        conn.invalidate()
