"""An ``Identity()`` integer column of a composite primary key takes its values from HiLo, as
GENERATED AS IDENTITY fills it (SQLite has no such column: no oracle here)."""

from __future__ import annotations

from sqlalchemy import Column, Engine, Identity, Integer, MetaData, String, Table, insert, select


def test_an_identity_column_in_a_composite_key_is_filled(engine: Engine) -> None:
    metadata = MetaData()
    parts = Table("parts", metadata,
                  Column("n", Integer, Identity(), primary_key=True),
                  Column("code", String(10), primary_key=True), Column("data", String(10)))
    metadata.create_all(engine)
    with engine.begin() as conn:
        returned = conn.execute(insert(parts).returning(parts.c.n, parts.c.code),
                                [{"code": f"c{i}", "data": "x"} for i in range(5)]).all()
        conn.execute(insert(parts), {"n": 100, "code": "given", "data": "y"})
    numbers = [n for n, _ in returned]
    assert [c for _, c in returned] == [f"c{i}" for i in range(5)]
    assert numbers == sorted(numbers) and len(set(numbers)) == 5 and None not in numbers
    with engine.connect() as conn:
        stored = conn.execute(select(parts.c.n, parts.c.code).order_by(parts.c.n)).all()
    assert stored == [*returned, (100, "given")]
