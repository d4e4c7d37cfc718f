"""Queries through the DB-API: the SQL forms the dialect renders and raw RQL queries."""

from __future__ import annotations

from typing import Any

import pytest

from sqla_docstore import dbapi

PEOPLE = [
    # name, age, team
    ("ann", 31, 1),
    ("bob", 25, 1),
    ("cid", None, 2),
    ("dee", 42, 2),
    ("eve", 25, None),
]


@pytest.fixture
def people(conn: dbapi.Connection) -> dbapi.Connection:
    cur = conn.cursor()
    cur.executemany("INSERT INTO teams (id, title) VALUES (:id, :title)",
                    [{"id": 1, "title": "red"}, {"id": 2, "title": "blue"},
                     {"id": 3, "title": "empty"}])
    cur.executemany("INSERT INTO users (name, age, team) VALUES (:n, :a, :t)",
                    [{"n": n, "a": a, "t": t} for n, a, t in PEOPLE])
    conn.commit()
    return conn


def q(conn: dbapi.Connection, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    cur = conn.cursor()
    cur.execute(sql, params)
    return cur.fetchall()


# ---------------------------------------------------------------------- SQL


def test_comparisons_and_boolean_logic(people: dbapi.Connection) -> None:
    assert q(people, "SELECT users.name FROM users WHERE users.age > :a AND NOT "
                     "(users.name = :n OR users.team IS NULL) ORDER BY users.name",
             a=24, n="ann") == [("bob",), ("dee",)]
    assert q(people, "SELECT users.name FROM users WHERE users.age != :a ORDER BY users.name",
             a=25) == [("ann",), ("dee",)]


def test_null_tests(people: dbapi.Connection) -> None:
    assert q(people, "SELECT users.name FROM users WHERE users.age IS NULL") == [("cid",)]
    assert q(people, "SELECT count(*) FROM users WHERE users.team IS NOT NULL") == [(4,)]


def test_in_not_in_between(people: dbapi.Connection) -> None:
    assert q(people, "SELECT users.name FROM users WHERE users.name IN (:a, :b) "
                     "ORDER BY users.name", a="eve", b="ann") == [("ann",), ("eve",)]
    assert q(people, "SELECT users.name FROM users WHERE users.age NOT IN (:a) "
                     "ORDER BY users.name", a=25) == [("ann",), ("dee",)]
    assert q(people, "SELECT users.name FROM users WHERE users.age BETWEEN :lo AND :hi "
                     "ORDER BY users.name", lo=25, hi=31) == [("ann",), ("bob",), ("eve",)]


def test_like_forms_are_case_sensitive(people: dbapi.Connection) -> None:
    assert q(people, "SELECT users.name FROM users WHERE users.name LIKE :p || '%'",
             p="a") == [("ann",)]
    assert q(people, "SELECT users.name FROM users WHERE users.name LIKE :p", p="A%") == []
    assert q(people, "SELECT users.name FROM users WHERE lower(users.name) LIKE lower(:p)",
             p="A%") == [("ann",)]
    assert q(people, "SELECT users.name FROM users WHERE users.name LIKE '%' || :p || '%' "
                     "ORDER BY users.name", p="e") == [("dee",), ("eve",)]


def test_order_by_nulls_and_limit_offset(people: dbapi.Connection) -> None:
    assert q(people, "SELECT users.name FROM users ORDER BY users.age DESC NULLS LAST, "
                     "users.name LIMIT :l OFFSET :o", l=3, o=1) == [("ann",), ("bob",), ("eve",)]
    assert q(people, "SELECT users.name FROM users ORDER BY users.age NULLS FIRST, users.name "
                     "LIMIT :l", l=2) == [("cid",), ("bob",)]
    assert q(people, "SELECT users.name FROM users ORDER BY users.name LIMIT -1 OFFSET :o",
             o=3) == [("dee",), ("eve",)]


def test_distinct_group_by_having(people: dbapi.Connection) -> None:
    assert q(people, "SELECT DISTINCT users.age FROM users WHERE users.age IS NOT NULL "
                     "ORDER BY users.age") == [(25,), (31,), (42,)]
    assert q(people, "SELECT users.age, count(*) AS n FROM users GROUP BY users.age "
                     "HAVING count(*) > :m", m=1) == [(25, 2)]


def test_case_cast_and_arithmetic(people: dbapi.Connection) -> None:
    got = q(people, "SELECT users.name, CASE WHEN (users.age > :a) THEN :old ELSE :young END "
                    "AS kind, CAST(users.age AS VARCHAR) AS txt, users.age * 2 + 1 AS calc "
                    "FROM users WHERE users.name IN (:x, :y) ORDER BY users.name",
            a=30, old="old", young="young", x="ann", y="bob")
    assert got == [("ann", "old", "31", 63), ("bob", "young", "25", 51)]


def test_exists_and_in_subquery(people: dbapi.Connection) -> None:
    with_members = ("SELECT teams.title FROM teams WHERE EXISTS (SELECT * FROM users "
                    "WHERE users.team = teams.id) ORDER BY teams.title")
    assert q(people, with_members) == [("blue",), ("red",)]
    assert q(people, "SELECT teams.title FROM teams WHERE teams.id NOT IN "
                     "(SELECT users.team FROM users WHERE users.team IS NOT NULL)") == [
        ("empty",)
    ]


def test_scalar_subquery_and_derived_table(people: dbapi.Connection) -> None:
    got = q(people, "SELECT teams.title, (SELECT count(users.id) FROM users "
                    "WHERE users.team = teams.id) AS n FROM teams ORDER BY teams.id")
    assert got == [("red", 2), ("blue", 2), ("empty", 0)]
    got = q(people, "SELECT anon_1.name FROM (SELECT users.name AS name, users.age AS age "
                    "FROM users WHERE users.age > :a) AS anon_1 ORDER BY anon_1.name", a=30)
    assert got == [("ann",), ("dee",)]


def test_union_and_union_all(people: dbapi.Connection) -> None:
    assert q(people, "SELECT users.name FROM users WHERE users.age = :a UNION "
                     "SELECT teams.title FROM teams WHERE teams.id = :t ORDER BY name",
             a=25, t=1) == [("bob",), ("eve",), ("red",)]
    assert q(people, "SELECT users.age FROM users WHERE users.age = :a UNION ALL "
                     "SELECT users.age FROM users WHERE users.age = :a", a=25) == [(25,)] * 4


def test_joins_inner_and_left(people: dbapi.Connection) -> None:
    assert q(people, "SELECT users.name, teams.title FROM users JOIN teams "
                     "ON teams.id = users.team WHERE teams.title = :t ORDER BY users.name",
             t="blue") == [("cid", "blue"), ("dee", "blue")]
    got = q(people, "SELECT teams.title, users.name FROM teams LEFT OUTER JOIN users "
                    "ON users.team = teams.id ORDER BY teams.id, users.name")
    assert got == [("red", "ann"), ("red", "bob"), ("blue", "cid"), ("blue", "dee"),
                   ("empty", None)]
    u = q(people, "SELECT u.name, t.title FROM users AS u JOIN teams AS t ON t.id = u.team "
                  "WHERE u.age = :a", a=42)
    assert u == [("dee", "blue")]


def test_nested_join_in_parentheses(people: dbapi.Connection) -> None:
    # The form joinedload() of a many-to-many relationship renders.
    got = q(people, "SELECT teams.title, u.name FROM teams LEFT OUTER JOIN "
                    "(users AS u JOIN teams AS t2 ON t2.id = u.team) ON u.team = teams.id "
                    "WHERE teams.id = :id ORDER BY u.name", id=1)
    assert got == [("red", "ann"), ("red", "bob")]


def test_aggregates(people: dbapi.Connection) -> None:
    assert q(people, "SELECT count(users.age), sum(users.age), min(users.age), "
                     "max(users.age), avg(users.age) FROM users") == [(4, 123, 25, 42, 30.75)]
    assert q(people, "SELECT count(DISTINCT users.age) FROM users") == [(3,)]


def test_select_star_of_a_collection(people: dbapi.Connection) -> None:
    cur = people.cursor()
    cur.execute("SELECT * FROM teams WHERE teams.id = :id", {"id": 2})
    assert [d[0] for d in cur.description or []] == ["id", "title"]
    assert cur.fetchall() == [(2, "blue")]


def test_values_are_bound_not_interpolated(people: dbapi.Connection) -> None:
    evil = "x' OR '1'='1"
    assert q(people, "SELECT users.name FROM users WHERE users.name = :n", n=evil) == []
    people.cursor().execute("INSERT INTO tags (code, label) VALUES (:c, :l)",
                            {"c": "q", "l": evil})
    assert q(people, "SELECT tags.label FROM tags") == [(evil,)]


# ---------------------------------------------------------------------- RQL


def test_rql_where_order_select_skip_take(people: dbapi.Connection) -> None:
    cur = people.cursor()
    cur.execute("from users where age >= $min order by age desc, name select name, age "
                "limit $skip, $take", {"min": 25, "skip": 1, "take": 2})
    assert [d[0] for d in cur.description or []] == ["name", "age"]
    assert cur.fetchall() == [("ann", 31), ("bob", 25)]


def test_rql_whole_documents(people: dbapi.Connection) -> None:
    cur = people.cursor()
    cur.execute("from teams where title = $t", {"t": "red"})
    assert [d[0] for d in cur.description or []] == ["id", "title"]
    assert cur.fetchall() == [(1, "red")]


def test_rql_in_with_a_list_parameter(people: dbapi.Connection) -> None:
    assert q(people, "from users where name in ($names) order by name select name",
             names=["eve", "bob", "nobody"]) == [("bob",), ("eve",)]
    assert q(people, "from users where name in ($names) select name", names=[]) == []


def test_rql_in_with_a_single_value(people: dbapi.Connection) -> None:
    assert q(people, "from users where name in ($n) select name", n="dee") == [("dee",)]


def test_rql_starts_with_ends_with(people: dbapi.Connection) -> None:
    assert q(people, "from users where startsWith(name, $p) select name", p="d") == [("dee",)]
    assert q(people, "from users where endsWith(name, $p) order by name select name",
             p="e") == [("dee",), ("eve",)]


def test_rql_id_function_and_alias(people: dbapi.Connection) -> None:
    assert q(people, "from teams as t where t.id = $id select id() as docid, t.title",
             id=3) == [("teams/3", "empty")]


def test_rql_group_by_count(people: dbapi.Connection) -> None:
    assert q(people, "from users where team >= 1 group by team order by team "
                     "select team, count() as n") == [(1, 2), (2, 2)]


def test_rql_null_comparisons_mean_is_null(people: dbapi.Connection) -> None:
    # RQL has no IS NULL: ``where x = null`` / ``where x != null`` are its null tests.
    assert q(people, "from users where age = null select name") == [("cid",)]
    assert q(people, "from users where team != null order by name select name") == [
        ("ann",), ("bob",), ("cid",), ("dee",)
    ]


def test_rql_sees_pending_writes(people: dbapi.Connection) -> None:
    people.cursor().execute("INSERT INTO users (name, age) VALUES (:n, :a)", {"n": "fay", "a": 1})
    assert q(people, "from users where age < $a select name", a=2) == [("fay",)]
