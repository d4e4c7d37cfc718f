"""An UPDATE whose values the store computes at commit (``SET v = v || '!'``) on a collection
whose key is the document id (``key_is_id``, the key not kept in the stored body) gives SQL's
rows: the commit evaluated it over the stored body alone, so the key read as NULL and every
such commit failed with "NOT NULL constraint failed" (embedded store). On both backends,
against SQLite, with the key read by the expression too; the stored body still leaves the key
out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Engine, MetaData, String, Table, insert, select, text

metadata = MetaData()
Table("kid", metadata, Column("k", String(20), primary_key=True), Column("v", String(40)),
      docstore_key_is_id=True)

UPDATES = [
    "UPDATE kid SET v = v || '!' WHERE k = 'A'",
    "UPDATE kid SET v = upper(v) WHERE k IN ('A', 'B')",
    "UPDATE kid SET v = k || '-' || v WHERE v IS NOT NULL",
]


@pytest.mark.parametrize("count", [1, len(UPDATES)])
def test_computed_updates_by_key_give_sqls_rows(pair: tuple[Engine, Engine], sql_rows: Any,
                                                count: int) -> None:
    for eng in pair:
        with eng.begin() as conn:
            conn.execute(insert(metadata.tables["kid"]),
                         [{"k": "A", "v": "a"}, {"k": "B", "v": "b"}, {"k": "C", "v": None}])
        with eng.begin() as conn:
            for sql in UPDATES[:count]:
                conn.execute(text(sql))
    target, oracle = pair
    query = "SELECT k, v FROM kid ORDER BY k"
    assert sql_rows(target, query) == sql_rows(oracle, query)


def test_the_stored_body_keeps_no_key(file_engine: Engine, raw_bodies: Any,
                                      db_path: Path) -> None:
    metadata.create_all(file_engine)
    kid = metadata.tables["kid"]
    with file_engine.begin() as conn:
        conn.execute(insert(kid), {"k": "A", "v": "a"})
    with file_engine.begin() as conn:
        conn.execute(text("UPDATE kid SET v = v || '!' WHERE k = 'A'"))
    with file_engine.connect() as conn:
        assert conn.execute(select(kid.c.k, kid.c.v)).all() == [("A", "a!")]
    assert list(raw_bodies(db_path, "kid").values()) == [{"v": "a!"}]
