"""statements.prepared: one Prepared per statement, its facts found once, its analyses
remade when the schema they read changes."""

from __future__ import annotations

from sqla_docstore.statements import ast
from sqla_docstore.statements.parser import parse
from sqla_docstore.statements.prepared import StatementKind, prepare, prepared


def test_a_text_is_parsed_once_and_its_tree_has_one_prepared() -> None:
    text = "SELECT u.id FROM users AS u WHERE u.id = :id"
    first = prepare(text)
    assert prepare(text) is first
    assert prepared(first.stmt) is first
    assert first.kind is StatementKind.QUERY


def test_facts_are_found_when_prepared() -> None:
    prep = prepare("SELECT a.x FROM a JOIN b ON a.id = b.a_id "
                   "WHERE a.y IN (:many) AND a.z IN (SELECT c.z FROM c)")
    assert prep.tables == ("a", "b", "c")
    assert prep.single_in == frozenset({"many"})
    assert prep.path_params == ()


def test_kinds_of_statements() -> None:
    assert prepare("INSERT INTO t (a) VALUES (:a)").kind is StatementKind.INSERT
    assert prepare("UPDATE t SET a = :a").kind is StatementKind.UPDATE
    assert prepare("DELETE FROM t").kind is StatementKind.DELETE
    assert prepare("SAVEPOINT sp1").kind is StatementKind.SAVEPOINT
    assert prepared((ast.Param("x"),)).kind is StatementKind.FRAGMENT


def test_an_equal_tree_parsed_again_is_another_statement() -> None:
    text = "SELECT t.a FROM t"
    assert prepared(parse(text)) is not prepared(parse(text))


def test_analysis_is_remade_when_no_longer_valid() -> None:
    prep = prepare("SELECT t.a FROM t WHERE t.a = :a")
    built: list[int] = []
    version = [1]

    def build() -> int:
        built.append(version[0])
        return version[0]

    def valid(hit: int) -> bool:
        return hit == version[0]

    assert prep.analysis("n", build, valid) == 1
    assert prep.analysis("n", build, valid) == 1
    version[0] = 2
    assert prep.analysis("n", build, valid) == 2
    assert built == [1, 2]


def test_derived_values_are_made_once() -> None:
    prep = prepare("SELECT t.b FROM t")
    made = []
    for _ in range(3):
        prep.derived("x", lambda: made.append(1) or len(made))
    assert made == [1]


def test_path_values_are_hashable() -> None:
    prep = prepared(ast.JsonPath(ast.Column(None, "doc"), (ast.Param("p1"),),
                                 ast.JsonResult.JSON))
    assert prep.path_params == ("p1",)
    assert prep.path_values({"p1": ["a", 0]}) == (("p1", ("a", 0)),)


def test_statements_kept_by_text_survive_a_flood_of_fragments() -> None:
    from sqla_docstore.statements import prepared as module

    prep = prepare("SELECT t.flood FROM t")
    for _ in range(module._LIMIT + 10):  # fragments made anew per call (a tuple per row)
        prepared((ast.Param("x"),))
    assert prepare("SELECT t.flood FROM t") is prep
    assert prepared(prep.stmt) is prep
