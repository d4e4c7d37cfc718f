"""sqlgen.picked_from: which fields a one-collection query's SQL reads (so a pending PATCH of
other fields leaves the documents it selects as they are stored)."""

from __future__ import annotations

import pytest

from sqla_docstore.backends.embedded.sqlgen import picked_from
from sqla_docstore.statements.parser import parse


@pytest.mark.parametrize(("sql", "reads"), [
    ("SELECT t.id, t.v FROM t WHERE t.k BETWEEN ? AND ?", {"k"}),
    ("SELECT * FROM t WHERE k = 1 ORDER BY w DESC LIMIT ?", {"k", "w"}),
    ("SELECT id AS i, v FROM t ORDER BY i", {"i", "id"}),
    ("SELECT v AS k FROM t WHERE k = 1", {"k", "v"}),
    ("SELECT id, upper(v) FROM t", {"v"}),
    ("SELECT id FROM t WHERE id IN (SELECT x FROM u WHERE u.v = 2)", {"id", "x", "v"}),
    ("SELECT id FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.x = t.w)", {"x", "w"}),
    ("SELECT k, count(*) FROM t GROUP BY k", {"k"}),
    ("SELECT DISTINCT v FROM t", {"v"}),
    ("SELECT count(*) FROM t", set()),
    ("SELECT id, v FROM t ORDER BY 2", {"v"}),  # (the parser names the column itself)
])
def test_fields_read_in_sql(sql: str, reads: set[str]) -> None:
    assert picked_from(parse(sql)) == ("t", frozenset(reads))


@pytest.mark.parametrize("sql", [
    "SELECT id FROM t WHERE EXISTS (SELECT * FROM u)",
    "SELECT DISTINCT * FROM t",
    "SELECT t.id FROM t JOIN u ON u.x = t.id",
    "SELECT a.id FROM (SELECT id FROM t) AS a",
    "SELECT id FROM t UNION SELECT id FROM u",
    "SELECT id FROM t FOR UPDATE",
])
def test_statements_whose_sql_may_read_any_field(sql: str) -> None:
    assert picked_from(parse(sql)) is None
