"""Every error the DB-API raises is a PEP 249 one (sqla_docstore.errors) with its cause kept:
100,000 mutated statements, odd and positional parameters, nesting beyond the parser's limits."""

from __future__ import annotations

import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import mutants  # tests/dbapi/mutants.py
import pytest
import requests

from sqla_docstore import dbapi, errors
from sqla_docstore.backends.embedded.store import EmbeddedStore
from sqla_docstore.dbapi import executor
from sqla_docstore.statements.parser import MAX_NESTING, MAX_TREE_DEPTH

#: The acceptance bar: at least 100,000 fuzzed statements on the embedded store.
EMBEDDED_CASES = 100_000
RAVEN_CASES = 2_000


@dataclass(frozen=True)
class Escape:
    """A fuzz case whose error was not a deliberate PEP 249 one."""

    text: str
    params: str
    error: str

    def __str__(self) -> str:
        return f"{self.error}\n  statement: {self.text[:300]!r}\n  params: {self.params[:300]}"


def _problem(exc: BaseException) -> str | None:
    """Why ``exc`` is not what a DB-API user may see, or None."""
    if not isinstance(exc, errors.Error):
        return "not PEP 249: " + "".join(traceback.format_exception(exc))[-1500:]
    if type(exc) is errors.InternalError:  # the DB-API's net for defects: the fuzz must not hit it
        return "unexpected error behind InternalError: " + "".join(
            traceback.format_exception(exc))[-1500:]
    context = exc.__context__
    if context is not None and not isinstance(context, errors.Error) and exc.__cause__ is None:
        return f"cause dropped: {exc!r} raised while handling {context!r}"
    return None


def _seeded(conn: dbapi.Connection) -> None:
    cur = conn.cursor()
    for text in mutants.schema_statements():
        cur.execute(text)
    cur.execute("INSERT INTO users (name, age, score) VALUES (:n, :a, :s)",
                {"n": "ann", "a": 3, "s": 2.5})
    cur.execute("INSERT INTO users (name, age, flag) VALUES (:n, :a, :f)",
                {"n": "bob", "a": None, "f": True})
    cur.execute("INSERT INTO addresses (user_id, email) VALUES (:u, :e)", {"u": 1, "e": "e@x"})
    cur.execute("INSERT INTO tags (code, label) VALUES (:c, :l)", {"c": "a", "l": "A"})
    conn.commit()


def fuzz(open_connection: Callable[[], dbapi.Connection], seed: int, count: int,
         fresh_every: int) -> tuple[list[Escape], dict[str, int]]:
    """Run ``count`` mutants (every 20th as an executemany of two parameter sets); every 100
    cases the transaction ends, alternately by commit and rollback; a fresh seeded store every
    ``fresh_every`` cases (mutated DDL drops and alters collections)."""
    escapes: list[Escape] = []
    outcomes: dict[str, int] = {}
    conn = open_connection()
    for n, (text, params) in enumerate(mutants.cases(seed, count), 1):
        many = n % 20 == 0 and isinstance(params, dict)
        kind = _attempt(escapes, text, params, partial(_execute, conn, text, params, many))
        outcomes[kind] = outcomes.get(kind, 0) + 1
        if n % 100 == 0:
            end = conn.commit if n % 200 else conn.rollback
            kind = _attempt(escapes, f"<{end.__name__} after> {text}", params, end)
            outcomes[f"{end.__name__}: {kind}"] = outcomes.get(f"{end.__name__}: {kind}", 0) + 1
        if n % fresh_every == 0:
            conn.close()
            conn = open_connection()
    conn.close()
    return escapes, outcomes


def _execute(conn: dbapi.Connection, text: str, params: Any, many: bool) -> None:
    if many:
        conn.cursor().executemany(text, [params, params])
    else:
        conn.cursor().execute(text, params)


def _attempt(escapes: list[Escape], text: str, params: Any, action: Callable[[], Any]) -> str:
    """Run ``action``; the name of its outcome ("ok" or the error class)."""
    try:
        action()
    except Exception as exc:  # noqa: BLE001 - classifying every exception is the test
        problem = _problem(exc)
        if problem:
            escapes.append(Escape(text, repr(params), problem))
        return type(exc).__name__
    return "ok"


def _memory_connection() -> dbapi.Connection:
    conn = dbapi.connect(store=EmbeddedStore(None))
    _seeded(conn)
    return conn


def test_fuzzed_statements_raise_only_pep249_errors_on_the_embedded_store() -> None:
    started = time.perf_counter()
    escapes, outcomes = fuzz(_memory_connection, seed=20261129, count=EMBEDDED_CASES,
                             fresh_every=2_000)
    elapsed = time.perf_counter() - started
    assert sum(v for k, v in outcomes.items() if ":" not in k) == EMBEDDED_CASES
    print(f"\n{EMBEDDED_CASES} fuzzed statements in {elapsed:.1f} s: {outcomes}")
    assert not escapes, f"{len(escapes)} escapes; first ones:\n" + "\n".join(
        str(e) for e in escapes[:5])
    # The mix exercises more than the parser: statements run, and fail in the store too, and
    # commits of what they wrote succeed and fail.
    assert outcomes["ok"] > EMBEDDED_CASES // 50
    assert outcomes.get("DataError", 0) and outcomes.get("OperationalError", 0)
    assert outcomes["commit: ok"] and len([k for k in outcomes if k.startswith("commit")]) > 1


@pytest.fixture
def raven_database(raven_node: Any) -> str:
    name = f"f{uuid.uuid4().hex[:12]}"
    requests.put(f"{raven_node.url}/admin/databases", params={"name": name},
                 json={"DatabaseName": name}, timeout=30).raise_for_status()
    return name


def test_fuzzed_statements_raise_only_pep249_errors_over_ravendb(
    raven_node: Any, raven_database: str
) -> None:
    def open_connection() -> dbapi.Connection:
        conn = dbapi.connect(raven_database, urls=[raven_node.url])
        cur = conn.cursor()
        for text in mutants.schema_statements():
            try:
                cur.execute(text)
            except errors.OperationalError:
                cur.execute(f"DROP TABLE {text.split()[2]}")  # CREATE TABLE|COLLECTION name
                cur.execute(text)
        return conn

    escapes, outcomes = fuzz(open_connection, seed=7, count=RAVEN_CASES, fresh_every=500)
    print(f"\n{RAVEN_CASES} fuzzed statements over ravendb://: {outcomes}")
    assert not escapes, f"{len(escapes)} escapes; first ones:\n" + "\n".join(
        str(e) for e in escapes[:5])
    assert outcomes["ok"] > RAVEN_CASES // 50


def test_the_fuzz_reports_an_error_that_is_not_deliberate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: Any) -> Any:
        raise KeyError("planted")

    monkeypatch.setattr(executor, "run_select", broken)
    escapes, _ = fuzz(_memory_connection, seed=1, count=300, fresh_every=300)
    assert escapes and "KeyError: 'planted'" in escapes[0].error


# --------------------------------------------------------------- what the fuzz found


@pytest.fixture
def cur(conn: dbapi.Connection) -> dbapi.Cursor:
    return conn.cursor()


def test_an_unexpected_exception_is_an_internal_error_with_its_cause(
    cur: dbapi.Cursor, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> Any:
        raise KeyError("planted")

    monkeypatch.setattr(executor, "run_select", broken)
    with pytest.raises(errors.InternalError, match="unexpected KeyError") as caught:
        cur.execute("SELECT users.id FROM users")
    assert isinstance(caught.value.__cause__, KeyError)


@pytest.mark.parametrize("params", [(1,), [1], ("a", "b")], ids=["tuple", "list", "pair"])
def test_values_for_named_parameters_are_a_programming_error(cur: dbapi.Cursor,
                                                             params: Any) -> None:
    with pytest.raises(errors.ProgrammingError, match=r"named parameters \(:name.*not a"):
        cur.execute("SELECT users.id FROM users WHERE users.id = :id", params)


@pytest.mark.parametrize("params", ["ab", b"ab", 5, {1, 2}], ids=["str", "bytes", "int", "set"])
def test_parameters_neither_sequence_nor_mapping_are_a_programming_error(
        cur: dbapi.Cursor, params: Any) -> None:
    for sql in ("SELECT users.id FROM users WHERE users.id = :id",
                "SELECT users.id FROM users WHERE users.id = ?"):
        with pytest.raises(errors.ProgrammingError, match="sequence of values .* or a mapping"):
            cur.execute(sql, params)


@pytest.mark.parametrize("empty", [None, {}, (), []], ids=["None", "dict", "tuple", "list"])
def test_no_parameters_may_be_given_in_any_empty_container(cur: dbapi.Cursor,
                                                           empty: Any) -> None:
    cur.execute("SELECT users.id FROM users", empty)
    assert cur.fetchall() == []


def test_executemany_takes_a_style_per_statement(cur: dbapi.Cursor) -> None:
    with pytest.raises(errors.ProgrammingError, match="named parameters"):
        cur.executemany("INSERT INTO tags (code) VALUES (:code)", [("a",), ("b",)])
    with pytest.raises(errors.ProgrammingError, match="positional parameters"):
        cur.executemany("INSERT INTO tags (code) VALUES (?)", [{"code": "a"}])
    with pytest.raises(errors.ProgrammingError, match="sequence of parameter sets"):
        cur.executemany("INSERT INTO tags (code) VALUES (:code)", {"code": "a"})
    cur.executemany("INSERT INTO tags (code) VALUES (:code)", [{"code": "a"}, {"code": "b"}])
    assert cur.rowcount == 2
    cur.executemany("INSERT INTO tags (code) VALUES (?)", [("c",), ["d"]])
    assert cur.rowcount == 2


def test_format_placeholders_are_programming_errors(cur: dbapi.Cursor) -> None:
    with pytest.raises(errors.ProgrammingError, match="near '%'"):
        cur.execute("SELECT users.id FROM users WHERE users.id = %s", (1,))


def _nested(kind: str, depth: int) -> str:
    if kind == "parens":
        return "(" * depth + "users.id" + ")" * depth
    if kind == "not":
        return "NOT " * depth + "users.id = 1"
    if kind == "minus":
        return "- " * depth + "users.id"
    if kind == "subquery":
        return "(SELECT " * depth + "users.id" + ")" * depth
    return " + ".join(["users.id"] * depth)  # a flat chain that builds a deep tree


@pytest.mark.parametrize("kind", ["parens", "not", "minus", "subquery", "chain"])
def test_statements_nested_beyond_the_limit_are_programming_errors(cur: dbapi.Cursor,
                                                                   kind: str) -> None:
    depth = MAX_TREE_DEPTH * 3 if kind == "chain" else 1000
    with pytest.raises(errors.ProgrammingError, match="nested too deeply"):
        cur.execute(f"SELECT {_nested(kind, depth)} FROM users")


@pytest.mark.parametrize("kind", ["parens", "not", "minus", "chain"])
def test_statements_nested_within_the_limit_run(cur: dbapi.Cursor, kind: str) -> None:
    cur.execute("INSERT INTO users (name, age) VALUES ('a', 1)")
    depth = 20 if kind == "not" else min(MAX_NESTING - 8, 40)
    cur.execute(f"SELECT {_nested(kind, depth)} FROM users")
    assert len(cur.fetchall()) == 1


def test_a_long_or_chain_stays_shallow_and_is_answered(cur: dbapi.Cursor) -> None:
    cur.executemany("INSERT INTO users (name, age) VALUES (:n, :a)",
                    [{"n": f"u{i}", "a": i} for i in range(10)])
    terms = " OR ".join(f"users.age = :a{i}" for i in range(3000))
    cur.execute(f"SELECT users.age FROM users WHERE {terms} ORDER BY users.age",
                {f"a{i}": i * 2 for i in range(3000)})
    assert cur.fetchall() == [(0,), (2,), (4,), (6,), (8,)]


@pytest.mark.parametrize("ddl, problem", [
    ('CREATE COLLECTION x {"fields": [', "not valid JSON"),
    ('CREATE COLLECTION x [1, 2]', "must be a JSON object"),
    ('CREATE COLLECTION x {"fields": 3}', "'fields' must be a list"),
    ('CREATE COLLECTION x {"fields": [{"type": "INTEGER"}]}', "string 'name'"),
    ('CREATE COLLECTION x {"primary_key": "id"}', "'primary_key'"),
    ('CREATE COLLECTION x {"unique": [3]}', "'unique'"),
    ('CREATE COLLECTION x {"indexes": {"i": 1}}', "'indexes'"),
    ('CREATE COLLECTION x {"checks": [["c"]]}', "'checks'"),
    ('CREATE COLLECTION x ' + "[" * 100_000, "not valid JSON"),
    ('CREATE INDEX ix {"fields": ["a"]}', "'collection' must be a non-empty string"),
    ('CREATE INDEX ix {"collection": "users", "fields": ["a", 9]}', "'fields' must be a list"),
    ('ALTER COLLECTION users {"name": "x"}', "'action' must be a non-empty string"),
    ('ALTER COLLECTION users {"action": "add_column", "name": "x", "nullable": "no"}',
     "'nullable' a boolean"),
])
def test_malformed_ddl_is_a_programming_error_naming_the_problem(
    cur: dbapi.Cursor, ddl: str, problem: str
) -> None:
    with pytest.raises(errors.ProgrammingError) as caught:
        cur.execute(ddl)
    assert problem in str(caught.value)


@pytest.mark.parametrize("value", ["\ud800", "a\udfffb"])
def test_a_lone_surrogate_is_a_data_error(conn: dbapi.Connection, value: str) -> None:
    cur = conn.cursor()
    with pytest.raises(errors.DataError, match="lone surrogate") as caught:
        cur.execute("SELECT users.id FROM users WHERE users.name = :n", {"n": value})
    assert isinstance(caught.value.__cause__, UnicodeEncodeError)
    # refused by the statement (it was taken, then the commit failed and lost the transaction)
    with pytest.raises(errors.DataError, match="lone surrogate"):
        cur.execute("INSERT INTO tags (code, label) VALUES ('s', :v)", {"v": value})
    cur.execute("INSERT INTO tags (code, label) VALUES ('t', 'kept')")
    conn.commit()
    cur.execute("SELECT code, label FROM tags")
    assert cur.fetchall() == [("t", "kept")]


def test_numbers_beyond_a_double_compare_exactly(cur: dbapi.Cursor) -> None:
    # (was: a DataError) numbers beyond SQLite's range are compared on their exact text now
    import decimal

    cur.execute("INSERT INTO users (name, age) VALUES ('a', 1)")
    huge = decimal.Decimal("1E+1000")
    cur.execute("SELECT users.id FROM users WHERE users.age = :a", {"a": huge})
    assert cur.fetchall() == []
    cur.execute("SELECT users.name FROM users WHERE users.age < :a", {"a": huge})
    assert cur.fetchall() == [("a",)]
    cur.execute("SELECT users.name FROM users WHERE users.age > :a", {"a": -huge})
    assert cur.fetchall() == [("a",)]


@pytest.mark.parametrize("sql", [
    "UPDATE users SET age = count(users.age) WHERE users.id = :i",
    "UPDATE users SET age = sum(users.age) + 1",
    "INSERT INTO users (name, age) VALUES ('x', max(:i))",
])
def test_an_aggregate_where_each_row_gets_a_value_is_a_programming_error(
    cur: dbapi.Cursor, sql: str
) -> None:
    cur.execute("INSERT INTO users (name, age) VALUES ('a', 1)")
    with pytest.raises(errors.ProgrammingError, match="misuse of aggregate"):
        cur.execute(sql, {"i": 1})


def test_scalar_min_max_and_aggregates_in_subqueries_are_fine(cur: dbapi.Cursor) -> None:
    cur.execute("INSERT INTO users (name, age) VALUES ('a', 1)")
    cur.execute("INSERT INTO users (name, age) VALUES ('b', 5)")
    cur.execute("UPDATE users SET age = max(users.age, 3)")
    assert cur.rowcount == 2
    cur.execute("UPDATE users SET team = (SELECT count(*) FROM users)")
    cur.execute("SELECT users.age, users.team FROM users ORDER BY users.age")
    assert cur.fetchall() == [(3, 2), (5, 2)]


def test_missing_parameter_keeps_its_cause(cur: dbapi.Cursor) -> None:
    with pytest.raises(errors.ProgrammingError, match="no value given") as caught:
        cur.execute("SELECT users.id FROM users WHERE users.name = :n", {})
    assert isinstance(caught.value.__cause__, KeyError)
