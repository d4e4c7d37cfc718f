"""Column names and result labels in another case than declared: SQLite resolves them
without regard to case; the store either does the same or refuses the name, never reads a
field that is not there (a silent NULL, an ORDER BY that sorts nothing)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, exc, text

from sqla_docstore.errors import ProgrammingError

_SETUP = ["CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT, n INTEGER)",
          "INSERT INTO items (id, v, n) VALUES (1, 'v3', 30), (2, 'v1', 10), (3, 'v2', 20)"]


def _filled(eng: Engine) -> Engine:
    with eng.begin() as conn:
        for sql in _SETUP:
            conn.exec_driver_sql(sql)
    return eng


@pytest.mark.parametrize("sql", [
    "SELECT v AS K FROM items ORDER BY k",
    "SELECT v AS K FROM items ORDER BY k DESC",
    "SELECT n AS Total, id FROM items ORDER BY total, id",
])
def test_an_order_by_naming_a_label_in_another_case_sorts_by_that_label(
        engine: Engine, sql_rows: Callable[[Engine, str], list[tuple[Any, ...]]],
        sql: str) -> None:
    sqlite = _filled(create_engine("sqlite://"))
    assert sql_rows(_filled(engine), sql) == sql_rows(sqlite, sql)


@pytest.mark.parametrize("sql", [
    "SELECT id FROM items WHERE items.V LIKE 'v1%'",
    "SELECT id FROM items ORDER BY \"items\".\"V\"",
    "SELECT items.N FROM items",
    "SELECT i.V FROM items AS i",
])
def test_a_qualified_column_in_another_case_is_refused_by_name(
        engine: Engine, sql: str) -> None:
    # SQLite finds the column; a field read in another case would be a silent NULL here
    _filled(engine)
    with pytest.raises(exc.ProgrammingError) as caught, engine.connect() as conn:
        conn.execute(text(sql))
    assert isinstance(caught.value.orig, ProgrammingError)
    assert "no such column" in str(caught.value.orig)
