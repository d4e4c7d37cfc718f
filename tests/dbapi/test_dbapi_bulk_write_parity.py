"""executemany INSERT and UPDATE through their bulk paths (keys HiLo generates, explicit keys
checked together, plain UPDATEs by key, SQLite's json_set at commit) give SQLite's rows,
rowcounts and errors, on both backends."""

from __future__ import annotations

import decimal
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    bindparam,
    exc,
    select,
)

metadata = MetaData()
items = Table("items", metadata, Column("id", Integer, primary_key=True),
              Column("name", String(40), nullable=False), Column("qty", Integer),
              Column("price", Numeric(30, 20)))

EXACT = decimal.Decimal("1.25")  # SQLite keeps NUMERIC in doubles: a number they hold
UPDATE = items.update().where(items.c.id == bindparam("k")).values(
    name=bindparam("n"), qty=bindparam("q"), price=bindparam("p"))


def _writes(eng: Engine) -> list[Any]:
    seen: list[Any] = []
    with eng.connect() as conn:
        conn.execute(items.insert(), [{"name": f"g{i}", "qty": i, "price": EXACT}
                                      for i in range(150)])
        conn.execute(items.insert(), [{"id": 1000 + i, "name": f"e{i}", "qty": None,
                                       "price": None} for i in range(50)])
        ids = conn.scalars(select(items.c.id).order_by(items.c.id)).all()
        seen.append(len(ids))
        # (a failing executemany's earlier rows: PEP 249 leaves them undefined, SQLite keeps
        # them, the store applies none; so the failures here are of one row)
        with pytest.raises(exc.IntegrityError):  # a pending key, given explicitly
            conn.execute(items.insert(), [{"id": ids[3], "name": "dup"}])
        result = conn.execute(UPDATE, [
            {"k": ids[0], "n": "é\u2028\"q\\", "q": 2**62, "p": decimal.Decimal("-0.5")},
            {"k": 1001, "n": "x", "q": None, "p": EXACT},
            {"k": 99999, "n": "missing", "q": 1, "p": None},
        ])
        seen.append(result.rowcount)
        result = conn.execute(UPDATE, [{"k": 1002, "n": "first", "q": 1, "p": None},
                                       {"k": 1002, "n": "second", "q": 2, "p": None}])
        seen.append(result.rowcount)  # one key twice: applied in turn
        with pytest.raises(exc.IntegrityError):  # NOT NULL: the statement changes nothing
            conn.execute(UPDATE, [{"k": ids[2], "n": None, "q": 0, "p": None}])
        conn.commit()
        rows = conn.execute(select(items.c.name, items.c.qty, items.c.price)
                            .order_by(items.c.name)).all()
        seen.append([tuple(r) for r in rows])
    return seen


def test_bulk_inserts_and_updates_give_sqlites_rows(pair: tuple[Engine, Engine]) -> None:
    docstore, sqlite = (_writes(eng) for eng in pair)
    assert docstore == sqlite
    names = [r[0] for r in docstore[-1]]
    assert "é\u2028\"q\\" in names and "second" in names and "dup" not in names
