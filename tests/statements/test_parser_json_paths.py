"""The statement language's JSON element operators (``->``, ``->>``) and index elements."""

from __future__ import annotations

import pytest
from sqlalchemy import JSON, Column, Index, Integer, MetaData, String, Table, func, select
from sqlalchemy.schema import CreateIndex

from sqla_docstore.dialect import DocstoreDialect
from sqla_docstore.errors import ProgrammingError
from sqla_docstore.schema import CollectionSpec, IndexElement
from sqla_docstore.statements import ast
from sqla_docstore.statements.parser import parse, parse_expression

docs = Table("docs", MetaData(), Column("id", Integer, primary_key=True),
             Column("name", String(20)), Column("data", JSON))
DATA = ast.Column("docs", "data")


def _where(stmt: object) -> ast.Expr:
    named = DocstoreDialect(paramstyle="named")  # the trees name their parameters
    tree = parse(str(stmt.compile(dialect=named)))  # type: ignore[attr-defined]
    assert isinstance(tree, ast.Select) and tree.where is not None
    return tree.where


def test_arrow_chain_is_one_path() -> None:
    expr = parse_expression("data -> 'a' -> 0 ->> :k")
    assert expr == ast.JsonPath(ast.Column(None, "data"),
                                (ast.Literal("a"), ast.Literal(0), ast.Param("k")),
                                ast.JsonResult.VALUE)


def test_a_path_after_a_value_stays_nested() -> None:
    expr = parse_expression("(data ->> 'a') -> 'b'")
    inner = ast.JsonPath(ast.Column(None, "data"), (ast.Literal("a"),), ast.JsonResult.VALUE)
    assert expr == ast.JsonPath(inner, (ast.Literal("b"),), ast.JsonResult.JSON)


def test_arrow_binds_tighter_than_comparison_and_arithmetic() -> None:
    expr = parse_expression("data ->> 'n' + 1 > 2")
    path = ast.JsonPath(ast.Column(None, "data"), (ast.Literal("n"),), ast.JsonResult.VALUE)
    assert expr == ast.Binary(">", ast.Binary("+", path, ast.Literal(1)), ast.Literal(2))


def test_typed_accessor_renders_a_cast_of_the_value() -> None:
    where = _where(select(docs.c.id).where(docs.c.data["a"]["b"].as_integer() == 3))
    assert where == ast.Binary("=", ast.Cast(ast.JsonPath(
        DATA, (ast.Param("data_1"), ast.Param("param_1")), ast.JsonResult.VALUE), "INTEGER"),
        ast.Param("param_2"))


def test_json_element_renders_json_quote_of_the_element() -> None:
    where = _where(select(docs.c.id).where(docs.c.data[("a", 1)] == 5))
    assert where == ast.Binary("=", ast.Func("json_quote", (ast.JsonPath(
        DATA, (ast.Param("data_1"),), ast.JsonResult.JSON),)), ast.Param("param_1"))


def test_create_index_on_expressions_and_descending() -> None:
    t = Table("ix", MetaData(), Column("id", Integer, primary_key=True), Column("n", String),
              Column("data", JSON))
    index = Index("ix_all", t.c.data[("a", 0)].as_string(), func.lower(t.c.n), t.c.n.desc(),
                  t.c.id)
    tree = parse(str(CreateIndex(index).compile(dialect=DocstoreDialect())))
    assert isinstance(tree, ast.CreateIndex)
    assert tree.fields == (IndexElement(sql="CAST(data -> 'a' ->> 0 AS VARCHAR)"),
                           IndexElement(sql="lower(n)"), IndexElement(field="n", desc=True),
                           "id")


@pytest.mark.parametrize("fields", [[{"sql": ""}], [{"field": "a", "sql": "b"}], [3],
                                    [{"field": "a", "desc": "yes"}]])
def test_malformed_index_elements_are_refused(fields: list[object]) -> None:
    import json

    text = f"CREATE INDEX bad {json.dumps({'collection': 'c', 'fields': fields})}"
    with pytest.raises(ProgrammingError, match="index element"):
        parse(text)


def test_unique_index_on_an_expression_is_refused() -> None:
    with pytest.raises(ProgrammingError, match="UNIQUE index on an expression"):
        parse('CREATE INDEX u {"collection": "c", "fields": [{"sql": "lower(a)"}], '
              '"unique": true}')


def test_index_elements_round_trip_through_the_spec_json() -> None:
    spec = CollectionSpec("c", indexes={"ix": (("a", IndexElement(sql="lower(b)"),
                                                IndexElement(field="c", desc=True)), False)})
    data = spec.to_json()
    assert data["indexes"] == {"ix": [["a", {"sql": "lower(b)"}, {"field": "c", "desc": True}],
                                      False]}
    assert CollectionSpec.from_json("c", data).indexes == spec.indexes
