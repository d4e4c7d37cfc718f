"""HAVING naming a result label: the labelled value, as SQLite resolves it (a table's column
of the same name comes first), on both backends, over committed and pending rows. A label of
a plain column in a grouped select compared its JSON text, so ``HAVING m > 1`` kept every
group (a text is greater than any number)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

_QUERIES = [
    "SELECT i AS m, count(*) FROM t GROUP BY i HAVING m > 1 ORDER BY 1",
    "SELECT i AS m, count(*) AS c FROM t GROUP BY m HAVING m IS NOT NULL AND c >= 1 ORDER BY m",
    "SELECT i AS m, count(*) FROM t GROUP BY i HAVING m BETWEEN 2 AND 3 ORDER BY 1",
    "SELECT i AS m, count(*) FROM t GROUP BY i HAVING m IN (1, 3) ORDER BY 1",
    "SELECT s AS k, count(*) FROM t GROUP BY s HAVING k < 'b' ORDER BY 1",
    "SELECT i AS m, count(*) AS c FROM t GROUP BY i HAVING c > 1 ORDER BY 1",
    "SELECT i + 1 AS m, sum(j) AS s FROM t GROUP BY i HAVING s > m ORDER BY 1",
    "SELECT i AS j, count(*) FROM t GROUP BY i HAVING j > 1 ORDER BY 1",
]


@pytest.mark.parametrize("pending", [False, True], ids=["committed", "pending"])
def test_having_a_label_filters_on_the_labelled_value(engine: Engine, oracle: Engine,
                                                      pending: bool) -> None:
    found = []
    for eng in (engine, oracle):
        with eng.connect() as conn:
            conn.exec_driver_sql(
                "CREATE TABLE t (id INTEGER PRIMARY KEY, i INTEGER, j INTEGER, s TEXT)")
            conn.commit()
            conn.exec_driver_sql("INSERT INTO t (i, j, s) VALUES (1, 5, 'a'), (2, 1, 'b'), "
                                 "(2, 7, 'a'), (3, 0, NULL), (NULL, 9, 'c'), (NULL, 1, 'a')")
            if not pending:
                conn.commit()
            found.append([conn.exec_driver_sql(sql).all() for sql in _QUERIES])
            conn.rollback()
    assert found[0] == found[1]
