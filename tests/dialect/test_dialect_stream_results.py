"""``stream_results`` set on a Connection (SQLAlchemy applies it to every later statement) also
runs statements without rows: DML and DDL give their rowcount, as on a default cursor (SQLAlchemy
buffers a streaming cursor's first row, which a DB-API cursor without a result set refuses).
On both backends."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    insert,
    select,
    update,
)

metadata = MetaData()
t = Table("streamed", metadata, Column("id", Integer, primary_key=True), Column("s", String(10)))


def test_statements_without_rows_run_on_a_streaming_connection(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execution_options(stream_results=True)
        metadata.create_all(conn)
        assert conn.execute(insert(t), [{"s": "a"}, {"s": "b"}, {"s": "c"}]).rowcount == 3
        assert conn.execute(update(t).where(t.c.id >= 2).values(s="z")).rowcount == 2
        assert conn.exec_driver_sql("UPDATE streamed SET s = 'y' WHERE id = 1").rowcount == 1
        assert conn.execute(delete(t).where(t.c.id == 3)).rowcount == 1
        result = conn.execute(select(t).order_by(t.c.id))
        assert result.context._is_server_side  # a SELECT still streams
        assert result.all() == [(1, "y"), (2, "z")]
        inserted = conn.execute(insert(t).returning(t.c.id), {"s": "r"})
        assert inserted.all() == [(4,)]  # rows of DML, streamed
        conn.commit()
    with engine.connect() as conn:
        assert conn.execute(select(t.c.s).order_by(t.c.id)).scalars().all() == ["y", "z", "r"]
