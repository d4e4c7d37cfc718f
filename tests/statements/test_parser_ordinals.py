"""ORDER BY K and GROUP BY K, K an integer constant, name the K-th result column, as in SQLite
(they were bound as constants, so the rows came unordered and ungrouped): SQLite's rows on
both backends; a K out of range, or one the statement can't say exactly, is an error."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, insert

from sqla_docstore import dbapi

metadata = MetaData()
Table("ords", metadata, Column("id", Integer, primary_key=True), Column("g", String(5)),
      Column("n", Integer))

ROWS = [{"id": i, "g": "xy"[i % 3 % 2], "n": (7 * i) % 11} for i in range(1, 13)]

QUERIES = [
    "SELECT g, n FROM ords ORDER BY 2, 1",
    "SELECT n, g FROM ords ORDER BY 1 DESC, id",
    "SELECT g, n + 1 FROM ords ORDER BY 2 LIMIT 4",
    "SELECT n + 1 AS m, g FROM ords ORDER BY 1 DESC LIMIT 5",
    "SELECT -n AS n, g FROM ords ORDER BY 1, 2",
    "SELECT g, id FROM ords ORDER BY 1, 2",
    "SELECT g, count(*), sum(n) FROM ords GROUP BY 1 ORDER BY 1",
    "SELECT g AS h, count(*) FROM ords GROUP BY 1 ORDER BY 2, 1",
    "SELECT id FROM ords WHERE n > (SELECT n FROM ords ORDER BY 1 DESC LIMIT 1) - 4 "
    "ORDER BY 1",
    "SELECT g, n FROM ords ORDER BY 1.0, id",  # not an integer: a constant, as in SQLite
]


@pytest.mark.parametrize("sql", QUERIES)
def test_integer_terms_name_result_columns_as_in_sqlite(
        pair: tuple[Engine, Engine], sql_rows: Any, sql: str) -> None:
    target, oracle = pair
    for eng in pair:
        with eng.begin() as conn:
            conn.execute(insert(metadata.tables["ords"]), ROWS)
    assert sql_rows(target, sql) == sql_rows(oracle, sql)


@pytest.mark.parametrize(("sql", "error"), [
    ("SELECT g, n FROM ords ORDER BY 3", dbapi.ProgrammingError),
    ("SELECT g, n FROM ords ORDER BY 0", dbapi.ProgrammingError),
    ("SELECT g, count(*) FROM ords GROUP BY 3", dbapi.ProgrammingError),
    ("SELECT * FROM ords ORDER BY 2", dbapi.NotSupportedError),
    ("SELECT n AS g, g FROM ords ORDER BY 2", dbapi.NotSupportedError),
])
def test_terms_it_cannot_resolve_are_errors(conn: dbapi.Connection, sql: str,
                                            error: type[Exception]) -> None:
    with pytest.raises(error, match="(ORDER|GROUP) BY"):
        conn.cursor().execute(sql.replace("ords", "users"))
