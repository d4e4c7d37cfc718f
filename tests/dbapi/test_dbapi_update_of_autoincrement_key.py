"""An UPDATE that sets an autoincrement key gives HiLo a key it must not hand out, as an INSERT
of that key does: later INSERTs without a key get SQLite's next keys (they got the key the
UPDATE had taken: a duplicate key error where SQL inserts). A key beyond SQLite's 64-bit
integers is refused (DataError), as by INSERT. On both backends, against SQLite."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, Table, exc, insert, select, update

metadata = MetaData()
keyed = Table("keyed", metadata, Column("id", Integer, primary_key=True), Column("v", Integer))


def _rows(eng: Engine) -> list[tuple[Any, ...]]:
    with eng.connect() as conn:
        return [tuple(r) for r in conn.execute(select(keyed).order_by(keyed.c.id))]


@pytest.mark.parametrize("same_transaction", [False, True])
def test_inserts_after_an_update_of_the_key_get_sqlites_keys(
        pair: tuple[Engine, Engine], same_transaction: bool) -> None:
    for eng in pair:
        with eng.begin() as conn:
            conn.execute(insert(keyed), [{"v": 1}, {"v": 2}])
        with eng.begin() as conn:
            conn.execute(update(keyed).where(keyed.c.id == 1).values(id=5))
            if same_transaction:
                conn.execute(insert(keyed), [{"v": 3}, {"v": 4}])
        for v in (5, 6):
            with eng.begin() as conn:
                conn.execute(insert(keyed), {"v": v})
    target, oracle = pair
    assert _rows(target) == _rows(oracle)


def test_an_update_to_a_key_beyond_64_bits_is_refused(pair: tuple[Engine, Engine]) -> None:
    target, _ = pair
    with target.begin() as conn:
        conn.execute(insert(keyed), [{"v": 1}, {"v": 2}])
        with pytest.raises(exc.DataError, match="beyond SQLite's 64-bit"):
            conn.execute(update(keyed).where(keyed.c.id == 2).values(id=2**64))
    with target.begin() as conn:
        conn.execute(insert(keyed), {"v": 3})
    assert _rows(target) == [(1, 1), (2, 2), (3, 3)]
