"""The statement parser: SQL as SQLAlchemy renders it, RQL queries, DDL, and what it refuses."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    case,
    cast,
    delete,
    exists,
    func,
    insert,
    select,
    union,
    union_all,
    update,
)
from sqlalchemy.schema import CreateIndex, CreateTable, DropTable

from sqla_docstore.dialect import DocstoreDialect
from sqla_docstore.errors import NotSupportedError, ProgrammingError
from sqla_docstore.statements import ast
from sqla_docstore.statements.lexer import tokenize
from sqla_docstore.statements.parser import parse, parse_expression

meta = MetaData()
users = Table(
    "users", meta,
    Column("id", Integer, primary_key=True),
    Column("name", String(30), nullable=False),
    Column("age", Integer),
)
addresses = Table(
    "addresses", meta,
    Column("id", Integer, primary_key=True),
    Column("user_id", ForeignKey("users.id")),
    Column("email", String(50)),
    UniqueConstraint("email"),
)
DIALECT = DocstoreDialect(paramstyle="named")  # the trees name their parameters


def rendered(stmt: Any) -> str:
    """The text the DB-API receives: expanding IN parameters already expanded."""
    return str(stmt.compile(dialect=DIALECT, compile_kwargs={"render_postcompile": True}))


def parsed(stmt: Any) -> Any:
    return parse(rendered(stmt))


def col(table: str | None, name: str) -> ast.Column:
    return ast.Column(table, name)


# ------------------------------------------------------------------------- lexer


def test_lexer_kinds_and_unquoting() -> None:
    toks = tokenize("""select "we""ird", 'it''s', :p1, $p2, 1.5e3, x <> 2 -- comment""")
    kinds = [(t.kind, t.value) for t in toks]
    assert kinds == [
        ("name", "select"), ("qname", 'we"ird'), ("op", ","), ("str", "it's"), ("op", ","),
        ("param", "p1"), ("op", ","), ("param", "p2"), ("op", ","), ("num", "1.5e3"),
        ("op", ","), ("name", "x"), ("op", "<>"), ("num", "2"), ("eof", ""),
    ]


def test_lexer_rejects_unknown_character() -> None:
    with pytest.raises(ProgrammingError, match="unexpected character"):
        tokenize("select ^ from users")


def test_parse_makes_a_new_tree_each_time() -> None:
    # the trees of texts that repeat are kept by statements.prepared, not by the parser
    text = "SELECT users.id FROM users WHERE users.id = :id"
    assert parse(text) == parse(text)
    assert parse(text) is not parse(text)


# ------------------------------------------------------------------ SQLAlchemy SQL


def test_select_where_order_limit_offset() -> None:
    stmt = parsed(
        select(users).where(users.c.name == "x").order_by(users.c.age.desc()).limit(5).offset(2)
    )
    assert isinstance(stmt, ast.Select)
    assert [c.expr for c in stmt.columns] == [col("users", "id"), col("users", "name"),
                                              col("users", "age")]
    assert stmt.from_ == (ast.TableRef("users"),)
    assert stmt.where == ast.Binary("=", col("users", "name"), ast.Param("name_1"))
    assert stmt.order_by == (ast.OrderItem(col("users", "age"), desc=True),)
    assert stmt.limit == ast.Param("param_1")
    assert stmt.offset == ast.Param("param_2")


def test_inner_join_group_by_count() -> None:
    stmt = parsed(
        select(users.c.name, func.count(addresses.c.id))
        .join(addresses, users.c.id == addresses.c.user_id)
        .group_by(users.c.name)
    )
    (join,) = stmt.from_
    assert isinstance(join, ast.Join) and join.kind == "inner"
    assert join.left == ast.TableRef("users") and join.right == ast.TableRef("addresses")
    assert join.on == ast.Binary("=", col("users", "id"), col("addresses", "user_id"))
    assert stmt.columns[1] == ast.ResultColumn(
        ast.Func("count", (col("addresses", "id"),)), "count_1"
    )
    assert stmt.group_by == (col("users", "name"),)


def test_left_outer_join_and_aliases() -> None:
    u = users.alias("u")
    stmt = parsed(select(u.c.id).outerjoin(addresses, u.c.id == addresses.c.user_id))
    (join,) = stmt.from_
    assert join.kind == "left"
    assert join.left == ast.TableRef("users", "u")
    assert join.left.ref == "u"


def test_right_and_full_joins() -> None:
    for text, kind in (("SELECT a.id FROM a RIGHT JOIN b ON a.id = b.id", "right"),
                       ("SELECT a.id FROM a FULL OUTER JOIN b ON a.id = b.id", "full")):
        stmt = parse(text)
        assert isinstance(stmt, ast.Select)
        assert stmt.from_ == (ast.Join(ast.TableRef("a"), ast.TableRef("b"), kind,
                                       ast.Binary("=", ast.Column("a", "id"),
                                                  ast.Column("b", "id"))),)


def test_a_join_group_led_by_a_subquery() -> None:
    stmt = parse("SELECT a.id FROM a LEFT JOIN ((SELECT b.id AS i FROM b) AS s "
                 "JOIN c ON c.id = s.i) ON a.id = s.i")
    assert isinstance(stmt, ast.Select)
    (join,) = stmt.from_
    assert isinstance(join, ast.Join) and join.kind == "left"
    assert isinstance(join.right, ast.Join)
    assert isinstance(join.right.left, ast.SubqueryRef) and join.right.left.alias == "s"
    assert join.right.right == ast.TableRef("c")

def test_join_using_is_not_supported() -> None:
    with pytest.raises(NotSupportedError, match="USING"):
        parse("SELECT a.id FROM a JOIN b USING (id)")


def test_subquery_in_from() -> None:
    sq = select(users.c.id).where(users.c.age > 3).subquery("sq")
    stmt = parsed(select(sq.c.id))
    (src,) = stmt.from_
    assert isinstance(src, ast.SubqueryRef) and src.alias == "sq"
    assert src.select.where == ast.Binary(">", col("users", "age"), ast.Param("age_1"))
    assert stmt.columns == (ast.ResultColumn(col("sq", "id")),)


def test_scalar_subquery_and_in_select() -> None:
    count = select(func.count(addresses.c.id)).where(
        addresses.c.user_id == users.c.id
    ).scalar_subquery()
    stmt = parsed(select(users.c.id, count.label("n")))
    assert isinstance(stmt.columns[1].expr, ast.ScalarSubquery)
    assert stmt.columns[1].alias == "n"
    stmt = parsed(select(users.c.id).where(users.c.id.in_(select(addresses.c.user_id))))
    assert isinstance(stmt.where, ast.InSelect) and not stmt.where.negated


@pytest.mark.parametrize("maker, op", [(union, "union"), (union_all, "union all")])
def test_union_with_order_and_limit(maker: Any, op: str) -> None:
    stmt = parsed(maker(select(users.c.name), select(addresses.c.email)).order_by("name").limit(3))
    assert isinstance(stmt, ast.Compound) and stmt.op == op
    assert len(stmt.selects) == 2
    assert stmt.order_by == (ast.OrderItem(col(None, "name")),)
    assert stmt.limit == ast.Param("param_1")


def test_mixed_set_operators_are_not_supported() -> None:
    with pytest.raises(NotSupportedError, match="mixing UNION and EXCEPT"):
        parse("SELECT a FROM t UNION SELECT a FROM u EXCEPT SELECT a FROM v")


def test_expanding_in_and_not_in() -> None:
    stmt = parsed(select(users.c.id).where(users.c.id.in_([1, 2, 3])))
    assert stmt.where == ast.InList(
        col("users", "id"), (ast.Param("id_1_1"), ast.Param("id_1_2"), ast.Param("id_1_3"))
    )
    stmt = parsed(select(users.c.id).where(users.c.id.not_in([1, 2])))
    assert isinstance(stmt.where, ast.InList) and stmt.where.negated


def test_empty_in_list() -> None:
    stmt = parse("SELECT t.a FROM t WHERE t.a IN ()")
    assert stmt.where == ast.InList(col("t", "a"), ())


def test_between_and_not_between() -> None:
    stmt = parsed(select(users.c.id).where(users.c.age.between(1, 5)))
    assert stmt.where == ast.Between(col("users", "age"), ast.Param("age_1"), ast.Param("age_2"))
    stmt = parse("SELECT t.a FROM t WHERE t.a NOT BETWEEN 1 AND 2")
    assert stmt.where == ast.Between(col("t", "a"), ast.Literal(1), ast.Literal(2), True)


def test_like_forms() -> None:
    stmt = parsed(select(users.c.id).where(users.c.name.startswith("a")))
    assert stmt.where == ast.Like(
        col("users", "name"), ast.Binary("||", ast.Param("name_1"), ast.Literal("%"))
    )
    stmt = parsed(select(users.c.id).where(users.c.name.ilike("A%")))
    assert isinstance(stmt.where, ast.Like)
    assert stmt.where.expr == ast.Func("lower", (col("users", "name"),))
    stmt = parse("SELECT t.a FROM t WHERE t.a NOT LIKE 'x!%' ESCAPE '!'")
    assert stmt.where == ast.Like(col("t", "a"), ast.Literal("x!%"), ast.Literal("!"), True)


def test_case_and_cast() -> None:
    stmt = parsed(select(case((users.c.age > 5, "old"), else_="young")))
    (rc,) = stmt.columns
    assert isinstance(rc.expr, ast.Case) and rc.expr.base is None
    assert rc.expr.whens == ((ast.Binary(">", col("users", "age"), ast.Param("age_1")),
                              ast.Param("param_1")),)
    assert rc.expr.else_ == ast.Param("param_2")
    stmt = parsed(select(cast(users.c.age, String(10))))
    assert stmt.columns[0].expr == ast.Cast(col("users", "age"), "VARCHAR")
    assert parse_expression("CAST(x AS DOUBLE PRECISION)") == ast.Cast(
        col(None, "x"), "DOUBLE PRECISION"
    )
    assert parse_expression("CASE x WHEN 1 THEN 'a' END") == ast.Case(
        col(None, "x"), ((ast.Literal(1), ast.Literal("a")),), None
    )


def test_exists() -> None:
    stmt = parsed(select(users.c.id).where(exists().where(addresses.c.user_id == users.c.id)))
    assert isinstance(stmt.where, ast.Exists)
    assert stmt.where.select.from_ == (ast.TableRef("addresses"),)


def test_is_null_distinct_and_boolean_literals() -> None:
    stmt = parsed(select(users).where(users.c.age.is_(None), users.c.name.is_not(None)).distinct())
    assert stmt.distinct
    assert stmt.where == ast.Binary(
        "and", ast.IsNull(col("users", "age")), ast.IsNull(col("users", "name"), True)
    )
    assert parse_expression("a IS NOT DISTINCT FROM b") == ast.IsDistinct(
        col(None, "a"), col(None, "b"), True
    )
    # a truth test, never NULL: NULL IS NOT TRUE holds (NOT (a = true) would be NULL)
    assert parse_expression("a IS true") == ast.IsBool(col(None, "a"), True)
    assert parse_expression("a IS NOT false") == ast.IsBool(col(None, "a"), False, True)
    assert parse_expression("NOT a") == ast.Unary("not", col(None, "a"))


def test_having_and_nulls_ordering() -> None:
    stmt = parsed(
        select(func.max(users.c.age)).group_by(users.c.name).having(func.count() > 1)
    )
    assert stmt.having == ast.Binary(">", ast.Func("count", (), star=True), ast.Param("count_1"))
    stmt = parsed(select(users.c.id).order_by(users.c.age.asc().nulls_last()))
    assert stmt.order_by == (ast.OrderItem(col("users", "age"), False, "last"),)


def test_operator_precedence() -> None:
    assert parse_expression("a OR b AND c") == ast.Binary(
        "or", col(None, "a"), ast.Binary("and", col(None, "b"), col(None, "c"))
    )
    assert parse_expression("1 + 2 * 3") == ast.Binary(
        "+", ast.Literal(1), ast.Binary("*", ast.Literal(2), ast.Literal(3))
    )
    assert parse_expression("-5") == ast.Literal(-5)
    assert parse_expression("x <> 1") == ast.Binary("!=", col(None, "x"), ast.Literal(1))


def test_insert_returning() -> None:
    stmt = parsed(insert(users).returning(users.c.id))
    assert stmt == ast.Insert(
        "users", ("id", "name", "age"),
        (ast.Param("id"), ast.Param("name"), ast.Param("age")),
        (ast.ResultColumn(col("users", "id")),),
    )
    assert parse("INSERT INTO t DEFAULT VALUES") == ast.Insert("t", (), ())


def test_schema_qualified_names_are_the_collection_schema_dot_table() -> None:
    stmt = parse('SELECT s.t.a, "s"."t".* FROM s.t JOIN "s"."u" AS x ON x.id = s.t.id')
    assert isinstance(stmt, ast.Select)
    assert [c.expr for c in stmt.columns] == [ast.Column("s.t", "a"), ast.Star("s.t")]
    assert stmt.from_ == (ast.Join(ast.TableRef("s.t"), ast.TableRef("s.u", "x"), "inner",
                                   ast.Binary("=", ast.Column("x", "id"),
                                              ast.Column("s.t", "id"))),)
    assert parse("DELETE FROM s.t").table == "s.t"  # type: ignore[union-attr]
    assert parse('CREATE COLLECTION "a b"."c""d" {}') == ast.CreateCollection('a b.c"d', {})


def test_insert_of_several_values_rows() -> None:
    stmt = parse("INSERT INTO t (a, b) VALUES (:a0, 1), (:a1, NULL) RETURNING a")
    assert stmt == ast.Insert("t", ("a", "b"), (ast.Param("a0"), ast.Literal(1)),
                              (ast.ResultColumn(ast.Column(None, "a")),),
                              ((ast.Param("a1"), ast.Literal(None)),))
    with pytest.raises(ProgrammingError, match="different number of columns"):
        parse("INSERT INTO t (a, b) VALUES (1, 2), (3)")


def test_insert_from_select() -> None:
    stmt = parse("INSERT INTO t (a) SELECT u.b FROM u WHERE u.b > :x")
    assert isinstance(stmt, ast.Insert) and stmt.values == () and stmt.columns == ("a",)
    assert stmt.select == ast.Select(
        (ast.ResultColumn(ast.Column("u", "b")),), (ast.TableRef("u"),),
        ast.Binary(">", ast.Column("u", "b"), ast.Param("x")))


def test_update_returning() -> None:
    stmt = parsed(update(users).where(users.c.id == 1).values(name="z").returning(users.c.name))
    assert stmt == ast.Update(
        "users", None, (("name", ast.Param("name")),),
        ast.Binary("=", col("users", "id"), ast.Param("id_1")),
        (ast.ResultColumn(col("users", "name")),),
    )


def test_update_with_expression() -> None:
    stmt = parsed(update(users).values(age=users.c.age + 1))
    assert stmt.assignments == (
        ("age", ast.Binary("+", col("users", "age"), ast.Param("age_1"))),
    )
    assert stmt.where is None


def test_delete_returning() -> None:
    stmt = parsed(delete(users).where(users.c.age < 3).returning(users.c.id))
    assert stmt == ast.Delete(
        "users", None, ast.Binary("<", col("users", "age"), ast.Param("age_1")),
        (ast.ResultColumn(col("users", "id")),),
    )


# --------------------------------------------------------------------------- DDL


def test_create_and_drop_collection_from_sqlalchemy_ddl() -> None:
    stmt = parse(str(CreateTable(addresses).compile(dialect=DIALECT)))
    assert isinstance(stmt, ast.CreateCollection) and stmt.name == "addresses"
    assert [f["name"] for f in stmt.spec["fields"]] == ["id", "user_id", "email"]
    assert stmt.spec["primary_key"] == ["id"]
    assert stmt.spec["autoincrement"] == "id"
    assert stmt.spec["unique"] == [["email"]]
    assert parse(str(DropTable(addresses).compile(dialect=DIALECT))) == ast.DropCollection(
        "addresses"
    )


def test_create_collection_text_and_indexes() -> None:
    stmt = parse('CREATE COLLECTION "odd name" {"primary_key": ["k"]}')
    assert stmt == ast.CreateCollection("odd name", {})
    assert stmt.spec == {"primary_key": ["k"]}
    assert parse("create collection plain") == ast.CreateCollection("plain", {})
    index = Index("ix_users_age", users.c.age)
    assert parse(str(CreateIndex(index).compile(dialect=DIALECT))) == ast.CreateIndex(
        "users", "ix_users_age", ("age",), False
    )
    assert parse("DROP INDEX ix_users_age") == ast.DropIndex("ix_users_age")
    with pytest.raises(NotSupportedError, match="ALTER INDEX"):
        parse("ALTER INDEX ix {}")


def test_alter_collection() -> None:
    stmt = parse('ALTER COLLECTION users {"action": "add_column", "name": "x"}')
    assert stmt == ast.AlterCollection("users", "add_column", {})
    assert stmt.spec == {"name": "x"}


# --------------------------------------------------------------------------- RQL


def test_rql_query_with_select_and_skip_take() -> None:
    stmt = parse("from users where name = $n order by age desc select name, age limit $skip, $take")
    assert isinstance(stmt, ast.Select)
    assert stmt.from_ == (ast.TableRef("users"),)
    assert stmt.where == ast.Binary("=", col(None, "name"), ast.Param("n"))
    assert stmt.order_by == (ast.OrderItem(col(None, "age"), desc=True),)
    assert stmt.columns == (ast.ResultColumn(col(None, "name")), ast.ResultColumn(col(None, "age")))
    assert stmt.offset == ast.Param("skip") and stmt.limit == ast.Param("take")


def test_rql_defaults_to_whole_documents() -> None:
    stmt = parse("from users")
    assert stmt.columns == (ast.ResultColumn(ast.Star(None)),)
    assert stmt.where is None and stmt.limit is None


def test_rql_in_array_parameter_and_starts_with() -> None:
    stmt = parse("from users where id in ($ids) and startsWith(name, $p)")
    assert stmt.where == ast.Binary(
        "and",
        ast.InList(col(None, "id"), (ast.Param("ids"),)),
        ast.Func("startswith", (col(None, "name"), ast.Param("p"))),
    )
    bare = parse("from users where id in $ids")
    assert bare.where == ast.InList(col(None, "id"), (ast.Param("ids"),))


def test_rql_typed_order_alias_and_exact() -> None:
    stmt = parse("from users as u where exact(u.name = $n) order by u.age as long")
    assert stmt.from_ == (ast.TableRef("users", "u"),)
    assert stmt.where == ast.Binary("=", col("u", "name"), ast.Param("n"))
    assert stmt.order_by == (ast.OrderItem(col("u", "age")),)


def test_rql_group_by_and_distinct() -> None:
    stmt = parse("from users group by team select team, count() as n")
    assert stmt.group_by == (col(None, "team"),)
    assert stmt.columns[1] == ast.ResultColumn(ast.Func("count", ()), "n")
    assert parse("from users select distinct team").distinct


def test_rql_unsupported_clauses() -> None:
    with pytest.raises(NotSupportedError, match="static index"):
        parse("from index 'Users/ByName'")
    with pytest.raises(NotSupportedError, match="load clause"):
        parse("from orders as o load o.company as c")
    with pytest.raises(NotSupportedError, match="include clause"):
        parse("from orders include company")


def test_upsert_clauses_parse_in_order() -> None:
    stmt = parse("INSERT INTO t (a, b) VALUES (?, 1) ON CONFLICT (a, b) WHERE b > 0 DO UPDATE "
                 "SET b = t.b + excluded.b WHERE excluded.b < 9 ON CONFLICT DO NOTHING "
                 "RETURNING a")
    assert isinstance(stmt, ast.Insert)
    first, last = stmt.on_conflict
    assert first.target == ("a", "b") and first.target_where is not None
    assert first.assignments == (("b", ast.Binary("+", ast.Column("t", "b"),
                                                  ast.Column("excluded", "b"))),)
    assert first.where == ast.Binary("<", ast.Column("excluded", "b"), ast.Literal(9))
    assert last == ast.OnConflict(())
    assert stmt.returning == (ast.ResultColumn(ast.Column(None, "a")),)


@pytest.mark.parametrize(("text", "resolution"), [
    ("INSERT OR IGNORE INTO t (a) VALUES (1)", ast.ConflictResolution.IGNORE),
    ("INSERT OR REPLACE INTO t (a) VALUES (1)", ast.ConflictResolution.REPLACE),
    ("REPLACE INTO t (a) VALUES (1)", ast.ConflictResolution.REPLACE),
    ("INSERT OR ABORT INTO t (a) VALUES (1)", None),
])
def test_insert_or_forms_parse_to_their_resolution(text: str, resolution: Any) -> None:
    stmt = parse(text)
    assert isinstance(stmt, ast.Insert) and stmt.resolution is resolution
    assert stmt.columns == ("a",)


# ----------------------------------------------------------- unsupported / errors


@pytest.mark.parametrize(
    "text, construct",
    [
        ("SELECT a FROM t WINDOW w AS (PARTITION BY a)", "WINDOW"),
        ("SELECT sum(a) OVER w FROM t", "OVER a named window"),
        ("SELECT sum(a) OVER (ROWS 1 PRECEDING EXCLUDE TIES) FROM t", "EXCLUDE"),
        ("INSERT OR FAIL INTO t (a) VALUES (1)", "INSERT OR FAIL"),
        ("INSERT OR ROLLBACK INTO t (a) VALUES (1)", "INSERT OR ROLLBACK"),
        ("INSERT INTO t (a) VALUES (1) ON CONFLICT (a COLLATE NOCASE) DO NOTHING", "COLLATE"),
        ("SELECT a FROM t WHERE a GLOB 'x*'", "GLOB"),
        ("SELECT a FROM t WHERE a REGEXP 'x'", "REGEXP"),
        ("SELECT a COLLATE NOCASE FROM t", "COLLATE"),
        ("SELECT a FROM t NATURAL JOIN u", "NATURAL JOIN"),
    ],
)
def test_unsupported_constructs_name_themselves(text: str, construct: str) -> None:
    with pytest.raises(NotSupportedError) as info:
        parse(text)
    assert construct in str(info.value)


@pytest.mark.parametrize(
    "text",
    [
        "SELEC a FROM t",
        "SELECT a FROM t WHERE",
        "SELECT a FROM t WHERE (a = 1",
        "SELECT a FROM t extra garbage here",
        "INSERT INTO t (a, b) VALUES (1)",
        "SELECT CASE END FROM t",
        "SELECT a FROM t ORDER BY a LIMIT 1 ORDER BY a",
        "",
        "UPDATE t a = 1",
        "SELECT a FROM t WHERE a = 'unterminated",
    ],
)
def test_syntax_errors_are_programming_errors(text: str) -> None:
    with pytest.raises(ProgrammingError):
        parse(text)


def test_not_supported_is_not_a_programming_error() -> None:
    # Callers tell "you wrote it wrong" from "the store can't do it" by the class.
    with pytest.raises(NotSupportedError) as info:
        parse("SELECT a FROM t WHERE a GLOB 'x*'")
    assert not isinstance(info.value, ProgrammingError)


def test_syntax_error_message_points_at_the_token() -> None:
    with pytest.raises(ProgrammingError, match="near '=' at position 26"):
        parse("SELECT a FROM t WHERE a = = 1")


def test_ordering_binds_tighter_than_equality_and_bitwise_between_them() -> None:
    # SQLite's precedence: "a = b < c" is a = (b < c); "a < b & c" is a < (b & c);
    # "a & b + c" is a & (b + c)
    stmt = parse("SELECT a = b < c, a < b & c, a & b + c, ~a + b FROM t")
    assert isinstance(stmt, ast.Select)
    eq, lt, band, neg = (item.expr for item in stmt.columns)
    assert eq.op == "=" and eq.right.op == "<"
    assert lt.op == "<" and lt.right.op == "&"
    assert band.op == "&" and band.right.op == "+"
    assert neg.op == "+" and neg.left == ast.Unary("~", ast.Column(None, "a"))


@pytest.mark.parametrize("text, message", [
    ("DROP COLLECTION IF NOT EXISTS x", "DROP takes IF EXISTS, not IF NOT EXISTS"),
    ("CREATE COLLECTION IF EXISTS x {}", "CREATE takes IF NOT EXISTS, not IF EXISTS"),
    ("ALTER COLLECTION IF EXISTS x {}", "ALTER takes no condition, not IF EXISTS"),
])
def test_a_ddl_condition_that_does_not_fit_its_verb_is_refused(text: str, message: str) -> None:
    with pytest.raises(ProgrammingError, match=message):
        parse(text)
