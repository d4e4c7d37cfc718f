"""A transaction that writes one document more than once (an insert then an update, two
updates, an executemany UPDATE by key naming a key twice) commits what SQLite commits.

On RavenDB a table with a unique column is written by a cluster-wide batch, a PUT of each
whole document guarded by its atomic guard: two PUTs of one document in one batch failed the
commit (the second PUT's guard no longer matched after the first), so the transaction was
lost with a ConcurrencyError where SQLite commits it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, insert, text

metadata = MetaData()
items = Table("items", metadata, Column("id", Integer, primary_key=True, autoincrement=False),
              Column("u", Integer, unique=True), Column("v", String(20)))
plain = Table("plain", metadata, Column("id", Integer, primary_key=True, autoincrement=False),
              Column("u", Integer), Column("v", String(20)))

Step = tuple[str, Any]

CASES: dict[str, list[Step]] = {
    "update-twice-unique": [("UPDATE {t} SET u = 50 WHERE id = 1", None),
                            ("UPDATE {t} SET u = 51 WHERE id = 1", None)],
    "update-unique-then-other": [("UPDATE {t} SET u = 60 WHERE id = 2", None),
                                 ("UPDATE {t} SET v = 'b' WHERE id = 2", None)],
    "insert-then-update": [("INSERT INTO {t} (id, u, v) VALUES (9, 90, 'n')", None),
                           ("UPDATE {t} SET u = 91 WHERE id = 9", None)],
    "insert-update-frees-value": [("INSERT INTO {t} (id, u, v) VALUES (9, 90, 'n')", None),
                                  ("UPDATE {t} SET u = 91 WHERE id = 9", None),
                                  ("INSERT INTO {t} (id, u, v) VALUES (10, 90, 'm')", None)],
    "executemany-repeated-key": [("UPDATE {t} SET u = :u WHERE id = :k",
                                  [{"u": 70, "k": 3}, {"u": 71, "k": 3}, {"u": 70, "k": 4}])],
    "delete-insert-update": [("DELETE FROM {t} WHERE id = 4", None),
                             ("INSERT INTO {t} (id, u, v) VALUES (4, 80, 'r')", None),
                             ("UPDATE {t} SET v = 'rr' WHERE id = 4", None)],
    "insert-delete-insert": [("INSERT INTO {t} (id, u, v) VALUES (12, 120, 'a')", None),
                             ("DELETE FROM {t} WHERE id = 12", None),
                             ("INSERT INTO {t} (id, u, v) VALUES (12, 121, 'b')", None)],
}


def _committed(eng: Engine, table: Table, steps: list[Step]) -> list[tuple[Any, ...]]:
    with eng.begin() as conn:
        conn.execute(insert(table), [{"id": n, "u": n + 4, "v": "s"} for n in range(1, 6)])
    with eng.begin() as conn:
        for sql, params in steps:
            conn.execute(text(sql.format(t=table.name)), params)
    with eng.connect() as conn:
        return [tuple(r) for r in conn.execute(text(f"SELECT id, u, v FROM {table.name} "
                                                    "ORDER BY id"))]


@pytest.mark.parametrize("table", [items, plain], ids=["unique", "no-unique"])
@pytest.mark.parametrize("case", list(CASES))
def test_a_document_written_twice_commits_what_sqlite_commits(
        pair: tuple[Engine, Engine], table: Table, case: str) -> None:
    store, oracle = pair
    expected = _committed(oracle, table, CASES[case])
    assert _committed(store, table, CASES[case]) == expected
