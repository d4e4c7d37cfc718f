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

COMPOUNDS = [
    "SELECT g, n FROM ords WHERE id < 6 UNION ALL SELECT g, id FROM ords ORDER BY 2, 1",
    "SELECT n FROM ords UNION SELECT id FROM ords ORDER BY 1 DESC",
    "SELECT n AS k, g FROM ords EXCEPT SELECT id, g FROM ords ORDER BY 2, 1 DESC LIMIT 4",
    "SELECT n + 1 FROM ords INTERSECT SELECT id FROM ords ORDER BY +1",
    "SELECT * FROM ords UNION ALL SELECT n, 'z', id FROM ords ORDER BY 2, 3 DESC, 1",
    "SELECT x.n FROM (SELECT n FROM ords UNION SELECT id FROM ords ORDER BY 1 DESC LIMIT 3)"
    " AS x ORDER BY x.n",
    "SELECT id FROM ords WHERE n IN (SELECT n FROM ords UNION SELECT 20 ORDER BY 1 LIMIT 3)"
    " ORDER BY id",
]


# (a compound's were bound as constants, which SQLite refuses in a compound's ORDER BY: every
# such query failed with "1st ORDER BY term does not match any column")
@pytest.mark.parametrize("sql", QUERIES + COMPOUNDS)
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



@pytest.mark.parametrize("k", ["0", "2", "-1"])
def test_a_compounds_integer_term_out_of_range_is_an_error(conn: dbapi.Connection,
                                                           k: str) -> None:
    with pytest.raises(dbapi.OperationalError, match="ORDER BY term out of range"):
        conn.cursor().execute(f"SELECT id FROM users UNION SELECT id FROM teams ORDER BY {k}")
