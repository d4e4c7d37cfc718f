"""What is sent to RavenDB as RQL: only predicates whose RavenDB answer is exactly SQL's, under
RavenDB's semantics (``!=`` and ``not`` match null and missing fields; numbers are doubles)."""

from __future__ import annotations

import decimal
from typing import Any

import pytest

from sqla_docstore.backends.ravendb.rql import pushdown, translate
from sqla_docstore.schema import CollectionSpec, FieldSpec
from sqla_docstore.statements import ast
from sqla_docstore.statements.parser import parse_expression

SPEC = CollectionSpec(
    "items",
    (FieldSpec("id", "INTEGER", False), FieldSpec("n", "INTEGER"), FieldSpec("s", "VARCHAR"),
     FieldSpec("flag", "BOOLEAN"), FieldSpec("d", "NUMERIC(60, 10)")),
    ("id",), "id",
)


def _where(sql: str, params: dict[str, Any] | None = None) -> str | None:
    """The RQL where clause of a whole query sent to the server, or None (client-side)."""
    select = ast.Select((ast.ResultColumn(ast.Column(None, "id")),),
                        (ast.TableRef("items"),), parse_expression(sql))
    planned = translate(select, lambda name: SPEC, params or {})
    if planned is None:
        return None
    return planned[0].text.partition(" where ")[2]


def _pushed(sql: str, params: dict[str, Any] | None = None) -> str:
    return pushdown(parse_expression(sql), SPEC, "items", params or {}).text


def test_not_equal_excludes_null_and_missing_explicitly() -> None:
    assert _where("n != :v", {"v": 1}) == (
        "((exists(n) and n != null) and (true and not n = $p0))")


def test_not_of_a_comparison_excludes_unknown_rows() -> None:
    assert _where("NOT (n < :v)", {"v": 1}) == (
        "((exists(n) and n != null) and (true and not n < $p0))")
    # NOT (a AND b) is FALSE-of-a OR FALSE-of-b: no row where either is unknown slips in
    assert _where("NOT (n = 1 AND s = 'x')") == (
        "(((exists(n) and n != null) and (true and not n = $p0)) or "
        "((exists(s) and s != null) and (true and not exact(s = $p1))))")


def test_is_distinct_from_uses_ravens_inclusive_negation() -> None:
    assert _where("n IS DISTINCT FROM :v", {"v": 3}) == "(true and not n = $p0)"
    assert _where("n IS NOT DISTINCT FROM :v", {"v": 3}) == "n = $p0"


@pytest.mark.parametrize("sql", ["flag", "NOT flag", "flag = true", "flag = :v", "flag IS TRUE",
                                 "flag IS NOT TRUE", "NOT (n = 1 AND flag = true)"])
def test_boolean_predicates_stay_on_the_client(sql: str) -> None:
    # a BOOLEAN field may hold 1 or 0 (raw SQL stores them as given), which SQL reads as TRUE
    # or FALSE and RQL's flag = true does not match
    assert _where(sql, {"v": True}) is None


def test_boolean_predicates_fetch_all_but_the_other_boolean() -> None:
    query = pushdown(parse_expression("flag"), SPEC, "items", {})
    assert (query.text, query.binds) == (
        "from 'items' where (true and not flag = $p0)", {"p0": ("literal", False)})
    query = pushdown(parse_expression("NOT flag"), SPEC, "items", {})
    assert (query.text, query.binds) == (
        "from 'items' where (true and not flag = $p0)", {"p0": ("literal", True)})


def test_null_parameter_is_never_sent_as_a_comparison() -> None:
    # RQL "n = $v" with a null $v would match stored nulls; SQL's n = NULL matches nothing
    assert _where("n = :v", {"v": None}) is None
    assert _where("n IS DISTINCT FROM :v", {"v": None}) is None
    assert _pushed("n = :v AND s = 'x'", {"v": None}) == "from 'items' where exact(s = $p0)"


@pytest.mark.parametrize(
    "value", [2**53, 2**63 + 1, 1e300, decimal.Decimal("0.1000000000000000001"), True, "1"])
def test_numbers_ravendb_compares_approximately_stay_on_the_client(value: Any) -> None:
    assert _where("n = :v", {"v": value}) is None
    assert _where("n < :v", {"v": value}) is None


def test_decimal_fields_are_filtered_as_a_superset_only() -> None:
    # documents may hold decimals with more digits than a double: RavenDB's = and < are not
    # SQL's there, but the non-strict comparison finds every row SQL would
    assert _where("d < :v", {"v": decimal.Decimal("1.5")}) is None
    assert _pushed("d < :v", {"v": decimal.Decimal("1.5")}) == "from 'items' where d <= $p0"
    assert _pushed("NOT (d = :v)", {"v": decimal.Decimal("1.5")}) == (
        "from 'items' where (exists(d) and d != null)")


def test_or_with_a_client_side_branch_is_not_pushed() -> None:
    assert _pushed("n = 1 OR s LIKE 'a%'") == "from 'items'"
    assert _pushed("n = 1 AND s LIKE 'a%'") == "from 'items' where n = $p0"


def test_json_paths_stay_on_the_client_and_plain_fields_of_the_and_are_pushed() -> None:
    # RavenDB's nested paths flatten arrays (data.a.b matches any element's b, where SQLite's
    # path is NULL), compare with RavenDB's types instead of SQLite's CAST, and the bundled
    # server has no nested paths: a JSON path is always evaluated on the client.
    path = "CAST(data -> :k ->> :k2 AS VARCHAR) = :v"
    params = {"k": "a", "k2": "b", "v": "x"}
    assert _where(path, params) is None
    assert _where("array_contains(data -> 'tags', :v)", params) is None
    assert _pushed(path, params) == "from 'items'"
    assert _pushed(f"n = 1 AND {path}", params) == "from 'items' where n = $p0"
    assert _pushed(f"n = 1 OR {path}", params) == "from 'items'"
    order = ast.Select((ast.ResultColumn(ast.Column(None, "id")),), (ast.TableRef("items"),),
                       order_by=(ast.OrderItem(parse_expression("data ->> 'a'")),))
    assert translate(order, lambda name: SPEC, {}) is None


def test_a_field_named_like_a_clause_word_is_filtered_on_the_client() -> None:
    # "left" is a field (SQLAlchemy's many-to-many tables name them so); RQL text naming it
    # bare would not parse on a server that reads SQL's clause words as keywords
    spec = CollectionSpec("links", (FieldSpec("left", "INTEGER"), FieldSpec("right", "INTEGER"),
                                    FieldSpec("n", "INTEGER")), ())
    where = ast.Binary("=", ast.Column(None, "left"), ast.Param("p"))
    assert pushdown(where, spec, "links", {"p": 1}).text == "from 'links'"
    kept = ast.Binary("and", where, ast.Binary("=", ast.Column(None, "n"), ast.Param("q")))
    assert " where " in pushdown(kept, spec, "links", {"p": 1, "q": 2}).text
    assert "left" not in pushdown(kept, spec, "links", {"p": 1, "q": 2}).text


JSON_SPEC = CollectionSpec("docs", (FieldSpec("id", "INTEGER", False), FieldSpec("data", "JSON"),
                                    FieldSpec("n", "INTEGER")), ("id",), "id")


@pytest.mark.parametrize("sql", ["data = :v", "data < :v", "data != :v", "data IN (:v, 5)",
                                 "data BETWEEN 1 AND :v", "data IS DISTINCT FROM :v",
                                 "NOT (data = :v)"])
def test_a_whole_json_column_compared_stays_on_the_client(sql: str) -> None:
    # SQL compares the JSON text SQLite holds ('"x"', '{"a": 1}', 5 for 5.0), not RavenDB's
    # value: never sent; IS NULL (the field absent) is exact and sent
    select = ast.Select((ast.ResultColumn(ast.Column(None, "id")),), (ast.TableRef("docs"),),
                        parse_expression(sql))
    assert translate(select, lambda name: JSON_SPEC, {"v": "x"}) is None
    # the fetch filters on n only (and, for != / NOT, on data being present: a superset)
    pushed = pushdown(parse_expression(f"n = 1 AND {sql}"), JSON_SPEC, "docs", {"v": "x"}).text
    assert pushed in ("from 'docs' where n = $p0",
                      "from 'docs' where (n = $p0 and exists(data))")
    is_null = ast.Select((ast.ResultColumn(ast.Column(None, "id")),), (ast.TableRef("docs"),),
                         parse_expression("data IS NULL"))
    planned = translate(is_null, lambda name: JSON_SPEC, {})
    assert planned is not None and "not exists(data)" in planned[0].text


@pytest.mark.parametrize("clause", ["order", "group", "distinct"])
def test_a_whole_json_column_ordered_grouped_or_distinct_stays_on_the_client(
        clause: str) -> None:
    column = ast.Column(None, "data")
    select = ast.Select((ast.ResultColumn(column),), (ast.TableRef("docs"),),
                        order_by=(ast.OrderItem(column),) if clause == "order" else (),
                        group_by=(column,) if clause == "group" else (),
                        distinct=clause == "distinct")
    assert translate(select, lambda name: JSON_SPEC, {}) is None
