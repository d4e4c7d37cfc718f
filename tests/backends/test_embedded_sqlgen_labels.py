"""A result label with the name of a table's column: SQLite reads the label in ORDER BY only
when the term is that bare name; in GROUP BY, HAVING and within expressions the name is the
column. (The label came first everywhere: rows were grouped, filtered or ordered by the wrong
value with no error, and labels naming each other's columns recursed.) SQLite's rows on both
backends."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, insert

metadata = MetaData()
Table("shadow", metadata, Column("id", Integer, primary_key=True), Column("g", String(5)),
      Column("n", Integer))

ROWS = [{"id": i, "g": "xy"[i % 3 % 2], "n": (7 * i) % 11} for i in range(1, 13)]

QUERIES = [
    "SELECT n % 2 AS n, count(*) FROM shadow GROUP BY n ORDER BY 1, 2",
    "SELECT g AS n, count(*) FROM shadow GROUP BY n ORDER BY 1, 2",
    "SELECT -n AS n FROM shadow ORDER BY n + 0 LIMIT 3",
    "SELECT -n AS n FROM shadow ORDER BY n LIMIT 3",
    "SELECT n * 2 AS n FROM shadow GROUP BY n HAVING n > 5 ORDER BY n",
    "SELECT g AS n, n AS g FROM shadow ORDER BY n, g LIMIT 4",
    "SELECT g AS h, count(*) AS c FROM shadow GROUP BY h ORDER BY c, h",
    "SELECT n + 1 AS m FROM shadow ORDER BY m DESC LIMIT 3",
]


@pytest.mark.parametrize("sql", QUERIES)
def test_a_label_shadowing_a_column_reads_as_in_sqlite(
        pair: tuple[Engine, Engine], sql_rows: Any, sql: str) -> None:
    target, oracle = pair
    for eng in pair:
        with eng.begin() as conn:
            conn.execute(insert(metadata.tables["shadow"]), ROWS)
    assert sql_rows(target, sql) == sql_rows(oracle, sql)
