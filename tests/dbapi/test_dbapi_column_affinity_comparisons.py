"""A column compared with a column or an expression of another affinity, as SQLite compares
them ("Datatypes In SQLite" 4.2): NUMERIC affinity applied to a TEXT column or an expression
facing a numeric column, TEXT affinity to an expression facing a TEXT column; an IN list's
items have no affinity; ``x IN (SELECT y ...)`` compares as ``x = y``. A join of a TEXT
column holding '5' with an INTEGER column holding 5 found nothing; so did one of a column of
no declared type or a BLOB column (SQLite's BLOB affinity, which SQLite converts as a TEXT
column's). Both backends, over committed and pending rows."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, exc

from sqla_docstore.errors import DataError

_QUERIES = [
    "SELECT a.id, b.id FROM a JOIN b ON a.s = b.n ORDER BY 1, 2",
    "SELECT a.id, b.id FROM a JOIN b ON b.n = a.s ORDER BY 1, 2",
    "SELECT a.id, b.id FROM a JOIN b ON a.s < b.n ORDER BY 1, 2",
    "SELECT a.id, b.id FROM a JOIN b ON a.s IS b.n ORDER BY 1, 2",
    "SELECT a.id, b.id FROM a LEFT JOIN b ON a.s IS NOT DISTINCT FROM b.n ORDER BY 1, 2",
    "SELECT id FROM b WHERE n = (SELECT s FROM a WHERE id = 1) ORDER BY 1",
    "SELECT id FROM a WHERE s = 2 + 3 ORDER BY 1",
    "SELECT id FROM b WHERE n = '5' || '' ORDER BY 1",
    "SELECT id FROM a WHERE s IN (SELECT n FROM b) ORDER BY 1",
    "SELECT id FROM a WHERE s NOT IN (SELECT n FROM b WHERE n IS NOT NULL) ORDER BY 1",
    "SELECT a.id, b.id FROM a, b WHERE b.n IN (a.s) ORDER BY 1, 2",
    "SELECT a.id, b.id FROM a, b WHERE a.s IN (b.n, 99) ORDER BY 1, 2",
    "SELECT a.id, b.id FROM a, b WHERE a.r = b.n ORDER BY 1, 2",
    "SELECT a.id, b.id FROM a JOIN b ON a.s = b.n WHERE b.n > '4' ORDER BY 1, 2",
    "SELECT id FROM b WHERE n BETWEEN (SELECT s FROM a WHERE id = 1) AND 10 ORDER BY 1",
    "SELECT count(*) FROM a JOIN b ON a.s = b.n",
    "SELECT a.id, b.id FROM a JOIN b ON a.u = b.n ORDER BY 1, 2",
    "SELECT a.id, b.id FROM a JOIN b ON b.n >= a.u ORDER BY 1, 2",
    "SELECT a.id, b.id FROM a JOIN b ON a.bl = b.n ORDER BY 1, 2",
    "SELECT a.id, b.id FROM a JOIN b ON a.u = a.r ORDER BY 1, 2",
    "SELECT a.id, b.id FROM a JOIN b ON a.u = a.s ORDER BY 1, 2",
    "SELECT id FROM a WHERE u IN (SELECT n FROM b) ORDER BY 1",
    "SELECT id FROM a WHERE u = 5 OR bl = '5' ORDER BY 1",
]


@pytest.mark.parametrize("pending", [False, True], ids=["committed", "pending"])
def test_columns_of_different_affinity_compare_as_in_sqlite(
        engine: Engine, oracle: Engine, pending: bool) -> None:
    found = []
    for eng in (engine, oracle):
        with eng.connect() as conn:
            conn.exec_driver_sql(
                "CREATE TABLE a (id INTEGER PRIMARY KEY, s TEXT, r REAL, u, bl BLOB)")
            conn.exec_driver_sql("CREATE TABLE b (id INTEGER PRIMARY KEY, n INTEGER)")
            conn.commit()
            conn.exec_driver_sql(
                "INSERT INTO a (s, r, u, bl) VALUES ('5', 5, '5', '5'), (' 7', 7.5, 7, ' 7'), "
                "('abc', NULL, 'abc', 'abc'), (NULL, 2, NULL, 2), ('5.0', 5, '5.0', '5.0'), "
                "('1e0', 1, '1e0', 1.0)")
            conn.exec_driver_sql("INSERT INTO b (n) VALUES (5), (7), (NULL), (2), (1)")
            if not pending:
                conn.commit()
            found.append([conn.exec_driver_sql(sql).all() for sql in _QUERIES])
            conn.rollback()
    assert found[0] == found[1]


@pytest.mark.parametrize("sql", [
    "SELECT a.id, b.id FROM a JOIN b ON a.s = b.n",
    "SELECT a.id, b.id FROM a JOIN b ON b.n IN (a.s)",
    "SELECT a.id, b.id FROM a JOIN b ON a.s IS NOT b.n",
    "SELECT b.id FROM b WHERE n BETWEEN (SELECT s FROM a WHERE id = 1) AND 2e21",
    "SELECT a.id, b.id FROM a JOIN b ON a.u = b.n",
])
def test_a_wide_number_compared_with_a_converted_value_is_refused(engine: Engine,
                                                                  sql: str) -> None:
    # SQLite compares the converted text as a double: 2**70 + 1 would match '2**70'
    with engine.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE a (id INTEGER PRIMARY KEY, s TEXT, u)")
        conn.exec_driver_sql("CREATE TABLE b (id INTEGER PRIMARY KEY, n INTEGER)")
        conn.exec_driver_sql("INSERT INTO a (s, u) VALUES (?, ?)", (str(2**70),) * 2)
        conn.exec_driver_sql("INSERT INTO b (n) VALUES (?)", (2**70 + 1,))
        conn.commit()
        with pytest.raises(exc.DBAPIError) as caught:
            conn.exec_driver_sql(sql).all()
    assert isinstance(caught.value.orig, DataError)
    assert "n" in str(caught.value.orig)
