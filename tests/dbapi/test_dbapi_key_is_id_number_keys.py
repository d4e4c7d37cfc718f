"""A key that is the whole document id (``key_is_id``) must be text: a number key was taken,
its rows stored as ``prefix/N`` and read back with that text as the key, and no UPDATE, DELETE
or lookup by key found them (nothing said so). CREATE refuses it, on both backends."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, Numeric, String, Table, exc

from sqla_docstore import dbapi


@pytest.mark.parametrize("type_", [Integer, Numeric(10, 2)])
def test_a_number_key_is_refused(engine: Engine, type_: type) -> None:
    metadata = MetaData()
    Table("by_number", metadata, Column("id", type_, primary_key=True),
          Column("v", String(10)), docstore_key_is_id=True)
    with pytest.raises(exc.ProgrammingError, match="'key_is_id' needs a string key"):
        metadata.create_all(engine)


def test_a_number_key_is_refused_by_create_collection(conn: dbapi.Connection) -> None:
    spec = {"fields": [{"name": "k", "type": "BIGINT", "nullable": False}],
            "primary_key": ["k"], "key_is_id": True}
    with pytest.raises(dbapi.ProgrammingError, match="'key_is_id' needs a string key"):
        conn.cursor().execute(f"CREATE COLLECTION nums {json.dumps(spec)}")


def test_a_string_key_is_kept(engine: Engine) -> None:
    metadata = MetaData()
    table = Table("by_text", metadata, Column("ref", String(20), primary_key=True),
                  Column("v", String(10)), docstore_key_is_id=True)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), [{"ref": "orders/1-A", "v": "a"}])
        assert conn.execute(table.update().where(table.c.ref == "orders/1-A").values(v="b")
                            ).rowcount == 1
    with engine.connect() as conn:
        assert conn.execute(table.select()).all() == [("orders/1-A", "b")]
