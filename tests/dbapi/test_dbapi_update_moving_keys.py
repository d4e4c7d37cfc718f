"""An UPDATE that changes primary keys moves its rows one at a time in key order, as SQLite
does: a row moved onto a key another row still holds (one the statement has not moved yet)
fails the statement at once with IntegrityError and nothing applied; a key freed by a row
moved before it may be taken. Found by ``tests/integration/test_dml_differential.py``: the
rows were moved in the store's order and each new key checked only at commit, so ``SET id =
id - 1`` over keys 5, 4, 1 written in that order lost a row before the commit, and ``SET id =
id + 1`` over 1, 2 succeeded and failed the commit, all writes lost."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table

metadata = MetaData()
Table("p", metadata, Column("id", Integer, primary_key=True, autoincrement=False),
      Column("i", Integer))
Table("c", metadata, Column("k", String(5), primary_key=True), Column("i", Integer))

CASES = [
    ([1, 2], "UPDATE p SET id = id + 1"),  # 1 onto 2, which is not moved yet
    ([2, 1], "UPDATE p SET id = id + 1"),
    ([5, 4, 1], "UPDATE p SET id = id - 1"),  # 1 -> 0, 4 -> 3, 5 -> 4 (freed)
    ([5, 4, 1], "UPDATE p SET id = id - 1 WHERE i > 0"),
    ([1, 4, 5], "UPDATE p SET id = id - 1 RETURNING id, i"),
    ([1, 2, 3], "UPDATE p SET id = id + 10"),
    ([1, 2], "UPDATE p SET id = id - 1"),
    ([1, 2, 3], "UPDATE p SET id = 4 - id"),  # 1 -> 3, which 3 holds
    ([1, 2, 3], "UPDATE p SET id = 7 WHERE id > 1"),  # the second row onto the first's
]


def _run(eng: Engine, keys: list[int], sql: str, commit_first: bool) -> list[Any]:
    raw = eng.raw_connection()
    try:
        cur = raw.cursor()
        cur.executemany("INSERT INTO p (id, i) VALUES (?, ?)", [(k, k) for k in keys])
        if commit_first:
            raw.commit()
        try:
            cur.execute(sql)
            rows = sorted(cur.fetchall()) if cur.description else None
            outcome: Any = (cur.rowcount, rows)  # (sqlite3 counts RETURNING rows fetched)
        except Exception as exc:  # noqa: BLE001 - the error's class is the outcome compared
            outcome = "IntegrityError" if "IntegrityError" in [
                k.__name__ for k in type(exc).__mro__] else type(exc).__name__
        seen = [tuple(r) for r in cur.execute("SELECT id, i FROM p ORDER BY id").fetchall()]
        raw.commit()
        stored = [tuple(r) for r in cur.execute("SELECT id, i FROM p ORDER BY id").fetchall()]
        return [outcome, seen, stored]
    finally:
        raw.close()


@pytest.mark.parametrize("commit_first", [False, True], ids=["pending", "stored"])
@pytest.mark.parametrize(("keys", "sql"), CASES)
def test_rows_move_in_key_order_each_onto_a_free_key(
        pair: tuple[Engine, Engine], keys: list[int], sql: str, commit_first: bool) -> None:
    eng, oracle = pair
    got = _run(eng, keys, sql, commit_first)
    assert got == _run(oracle, keys, sql, commit_first)
    assert got[2], "rows to compare"


def test_a_text_key_moved_onto_a_held_one_fails_at_once(pair: tuple[Engine, Engine]) -> None:
    eng, oracle = pair
    for e in (eng, oracle):
        raw = e.raw_connection()
        cur = raw.cursor()
        cur.executemany("INSERT INTO c (k, i) VALUES (?, ?)", [("a", 1), ("ax", 2)])
        with pytest.raises(Exception) as caught:
            cur.execute("UPDATE c SET k = k || 'x' WHERE k = 'a'")
        assert "IntegrityError" in [k.__name__ for k in type(caught.value).__mro__]
        assert sorted(cur.execute("SELECT k, i FROM c").fetchall()) == [("a", 1), ("ax", 2)]
        raw.close()
